// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark programs for `make bench` (bench/pias-bench.c, docs/bench.md).
 *
 * BPF_PROG_TEST_RUN with repeat > 1 runs the program again and again on one
 * buffer, so a program that encapsulates or decapsulates would meet its own
 * output from the second repetition on. Every program here is therefore a
 * wrapper: it puts the template frame back (length and bytes), varies the
 * flow, runs the path under test and counts the verdict.
 * The floors go through the same wrapper, so ratios compare like with like,
 * and bench_reset_only runs the wrapper around an empty path to show its own
 * cost.
 *
 * The exception is bench_tc_floor, the floor of the tunnel-mode target's
 * TC rows, which run one packet per call and need no wrapper.
 *
 * This object has its own instance of every PIAS map (from pias_main.h);
 * user space loads it unpinned and seeds it per scenario.
 */
#include "lib/pias_main.h"
#include "bench/bench.h"

/* linux/pkt_cls.h: vmlinux.h has no #defines */
#define BENCH_TC_ACT_OK	  0
#define BENCH_TC_ACT_SHOT 2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_cfg);
} bench_cfg SEC(".maps");

/* Packets seen, per CPU: picks the flow of the next one. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_count SEC(".maps");

/* Verdicts returned by the path under test, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BENCH_VERDICTS);
	__type(key, __u32);
	__type(value, __u64);
} bench_verdicts SEC(".maps");

/* Floor (b): client 5-tuple -> address of the host to tunnel it to. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct pias_flow);
	__type(value, __be32);
} bench_backends SEC(".maps");

/* Writes one varied field pair into the frame; out of bounds: untouched. */
static __always_inline void vary_one(struct xdp_md *ctx, const struct bench_vary *v, __u64 cnt)
{
	__u32 i = ((__u32)cnt * v->mult) & v->mask, bits = v->port_bits & 31;
	void *data = xdp_data(ctx), *end = xdp_data_end(ctx);
	__u32 off;

	/* masked: the verifier needs a small bound on a variable packet offset */
	off = v->addr_off & (BENCH_FRAME_MAX - 1);
	if (off) {
		__be32 *a = data + off;

		if ((void *)(a + 1) <= end)
			*a = bpf_htonl(v->addr_base + (i >> bits));
	}
	off = v->port_off & (BENCH_FRAME_MAX - 1);
	if (off) {
		__be16 *p = data + off;

		if ((void *)(p + 1) <= end)
			*p = bpf_htons(v->port_base + (i & ((1u << bits) - 1)));
	}
}

/*
 * Puts the template back: first the frame's length (the path may have grown
 * or shrunk it at the head), then its bytes; then varies the flow. Returns 0
 * or -1 if the frame could not be restored. A subprogram of its own, so that
 * its stack is not added to the path's (the verifier allows 512 bytes for a
 * chain of calls, and pias_process uses most of them).
 */
static __noinline int bench_reset(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct bench_cfg *cfg = bpf_map_lookup_elem(&bench_cfg, &zero);
	__u64 *cnt = bpf_map_lookup_elem(&bench_count, &zero);
	__u32 len;
	int delta;

	if (!cfg || !cnt)
		return -1;
	len = cfg->len;
	if (len < ETH_HLEN || len > BENCH_FRAME_MAX)
		return -1;
	delta = (int)(xdp_data_end(ctx) - xdp_data(ctx)) - (int)len;
	if (delta && bpf_xdp_adjust_head(ctx, delta))
		return -1;
	if (bpf_xdp_store_bytes(ctx, 0, cfg->frame, len))
		return -1;
	vary_one(ctx, &cfg->vary[0], *cnt);
	vary_one(ctx, &cfg->vary[1], *cnt);
	(*cnt)++;
	return 0;
}

static __always_inline void count_verdict(int verdict)
{
	__u32 k = verdict >= 0 && verdict < BENCH_VERDICTS - 1 ? verdict : BENCH_VERDICTS - 1;
	__u64 *n = bpf_map_lookup_elem(&bench_verdicts, &k);

	if (n)
		(*n)++;
}

/*
 * Every benchmark program: reset the frame, run the path, count the verdict.
 * The path is inlined into the program, as pias_process is into pias_xdp.
 */
#define BENCH_PROG(name, path)                                                                     \
	SEC("xdp")                                                                                 \
	int name(struct xdp_md *ctx)                                                               \
	{                                                                                          \
		int verdict;                                                                       \
                                                                                                   \
		if (bench_reset(ctx))                                                              \
			verdict = XDP_ABORTED;                                                     \
		else                                                                               \
			verdict = path(ctx);                                                       \
		count_verdict(verdict);                                                            \
		return verdict;                                                                    \
	}

/* The whole PIAS dataplane, exactly as bpf/pias.bpf.c runs it. */
static __always_inline int path_pias(struct xdp_md *ctx)
{
	return pias_process(ctx);
}

/* Nothing: what the wrapper costs by itself. */
static __always_inline int path_nothing(struct xdp_md *ctx)
{
	return ctx ? XDP_TX : XDP_ABORTED;
}

/* Parses Ethernet, IPv4 and TCP/UDP with the dataplane's own parser. */
static __always_inline int floor_parse(struct pias_ctx *c, struct pias_pkt *p)
{
	struct ethhdr *eth = FRAME_PTR(c, 0, ETH_HLEN);
	struct ip_info ip = {};

	if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	if (parse_ip(c, ETH_HLEN, PIAS_AF_INET, &ip) >= 0 || !is_l4(ip.proto))
		return -1;
	if (parse_l4(c, &ip, ETH_HLEN, p) >= 0)
		return -1;
	return 0;
}

static __always_inline void swap_mac_addrs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/* Floor (a): parse, swap the MACs, send back. */
static __always_inline int path_floor_a(struct xdp_md *ctx)
{
	struct pias_pkt pkt = {};
	struct pias_ctx c = { .xdp = ctx, .pkt = &pkt };
	struct ethhdr *eth;

	if (floor_parse(&c, &pkt))
		return XDP_DROP;
	eth = FRAME_PTR(&c, 0, ETH_HLEN);
	if (!eth)
		return XDP_DROP;
	swap_mac_addrs(eth);
	return XDP_TX;
}

/*
 * Floor (b): parse, one hash lookup by 5-tuple, IPIP encapsulation with the
 * outer header's checksum, MACs swapped, send back: the least any
 * tunnelling load balancer does per packet.
 */
static __always_inline int path_floor_b(struct xdp_md *ctx)
{
	struct pias_pkt pkt = {};
	struct pias_ctx c = { .xdp = ctx, .pkt = &pkt };
	struct ethhdr *eth, *old;
	struct iphdr *outer, *inner;
	__be32 *dst;

	if (floor_parse(&c, &pkt))
		return XDP_DROP;
	dst = bpf_map_lookup_elem(&bench_backends, &pkt.flow);
	if (!dst)
		return XDP_DROP;
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
		return XDP_DROP;
	eth = FRAME_PTR(&c, 0, ETH_HLEN + 2 * sizeof(struct iphdr));
	if (!eth)
		return XDP_DROP;
	old = (void *)eth + sizeof(struct iphdr);
	outer = (void *)(eth + 1);
	inner = (void *)outer + sizeof(struct iphdr);
	__builtin_memcpy(eth->h_dest, old->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, old->h_dest, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	outer->version = 4;
	outer->ihl = 5;
	outer->tos = 0;
	outer->tot_len = bpf_htons(pkt.ip_len + sizeof(struct iphdr));
	outer->id = 0;
	outer->frag_off = bpf_htons(IP_DF);
	outer->ttl = PIAS_OUTER_TTL;
	outer->protocol = IPPROTO_IPIP;
	outer->check = 0;
	outer->saddr = inner->daddr;
	outer->daddr = *dst;
	outer->check = csum_ipv4_hdr(outer);
	return XDP_TX;
}

/*
 * The JAP's target pick alone (pias_pick_target), for a client frame's
 * flow as if it had come tunnelled: its cost against the set's size,
 * without the NAT port search and connection entries of a new flow.
 */
static __always_inline int path_pick(struct xdp_md *ctx)
{
	struct pias_pkt pkt = {};
	struct pias_ctx c = { .xdp = ctx, .pkt = &pkt };

	if (floor_parse(&c, &pkt))
		return XDP_DROP;
	return pias_pick_target(&pkt.flow, pias_flow_hash(&pkt.flow), 0) ? XDP_TX : XDP_DROP;
}

BENCH_PROG(bench_reset_only, path_nothing)
BENCH_PROG(bench_floor_a, path_floor_a)
BENCH_PROG(bench_floor_b, path_floor_b)
BENCH_PROG(bench_pias, path_pias)
BENCH_PROG(bench_pick, path_pick)

/*
 * The floor of the tunnel-mode target's rows (bpf/target.bpf.c, TC): those
 * run one packet per BPF_PROG_TEST_RUN (see bench/pias-bench.c), so what
 * the kernel reports includes its own per-call timing around the program;
 * this program measured the same way is that part, to subtract. Nothing
 * else: no wrapper, no map.
 */
SEC("tc")
int bench_tc_floor(struct __sk_buff *skb)
{
	return skb ? BENCH_TC_ACT_OK : BENCH_TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
