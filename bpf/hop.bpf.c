// SPDX-License-Identifier: GPL-2.0
/*
 * The hop benchmark's own programs (`make bench-hop`, bench/hop/, docs/bench.md):
 *
 *   hop_sink       the receiver: checks each frame against what the config
 *                  must emit and counts it; then turns it back into an
 *                  input frame and redirects it to the DUT again (struct
 *                  hop_loop), so that the DUT gets XDP frames as from a NIC;
 *   hop_pass       the DUT's program when the kernel forwards: counts, passes;
 *   hop_redirect   the DUT's XDP floor: new MACs, redirect out of hd1, no
 *                  parsing and no lookup;
 *   hop_min_proxy  the minimal XDP proxy PIAS is held against: parse, one
 *                  hash lookup by 5-tuple, IPIP encapsulation,
 *                  bpf_fib_lookup, redirect;
 *   hop_lwt_ipip   kernel IPIP without an ipip device: an lwt xmit program
 *                  on the route pushes the outer header (bpf_lwt_push_encap).
 *
 * (A generator run by BPF_PROG_TEST_RUN in live-frames mode would be
 * simpler; that mode is refused, EPERM, on the machines this runs on.)
 *
 * One object, so that every program shares hop_counts and the globals.
 */
#include "lib/csum.h"
#include "lib/defs.h"
#include "bench/hop/hop.h"

#define BPF_LWT_REROUTE_OK 128 /* BPF_LWT_REROUTE: vmlinux.h has no #defines */
#define IPPROTO_IPIP_HOP   4

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hop_counts);
} hop_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HOP_FLOWS_MAX);
	__type(key, struct hop_flow_key);
	__type(value, struct hop_tunnel);
} hop_flows SEC(".maps");

/* Written by pias-hop through the skeleton between configs. */
struct hop_loop loop;
struct hop_expect expect;
struct hop_seen last_bad;
struct hop_tunnel lwt_tunnel;
struct hop_redirect redirect_to;

static __always_inline struct hop_counts *counts(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&hop_counts, &zero);
}

SEC("xdp")
int hop_pass(struct xdp_md *ctx)
{
	struct hop_counts *c = counts();

	(void)ctx;
	if (c)
		c->dut_rx++;
	return XDP_PASS;
}

SEC("xdp")
int hop_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct hop_counts *c = counts();
	struct ethhdr *eth = data;

	if (!c)
		return XDP_ABORTED;
	c->dut_rx++;
	if ((void *)(eth + 1) > end) {
		c->dut_drop++;
		return XDP_DROP;
	}
	__builtin_memcpy(eth->h_dest, redirect_to.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, redirect_to.smac, ETH_ALEN);
	return bpf_redirect(redirect_to.ifindex, 0);
}

static __always_inline int min_proxy_drop(struct hop_counts *c)
{
	c->dut_drop++;
	return XDP_DROP;
}

/*
 * The minimal proxy; words: its outer header written as whole words with
 * the checksum summed in registers, as PIAS's encap does (min_xdp_w), not
 * field by field and read back (min_xdp, the baseline as written).
 */
static __always_inline int min_proxy(struct xdp_md *ctx, bool words)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct hop_counts *c = counts();
	struct bpf_fib_lookup f = {};
	struct hop_flow_key k = {};
	struct ethhdr *eth = data;
	struct hop_tunnel *t;
	struct iphdr *ip, *outer;
	struct udphdr *uh;
	__u16 inner_len;

	if (!c)
		return XDP_ABORTED;
	c->dut_rx++;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP)
		return min_proxy_drop(c);
	uh = (void *)(ip + 1);
	if ((void *)(uh + 1) > end)
		return min_proxy_drop(c);
	k.saddr = ip->saddr;
	k.daddr = ip->daddr;
	k.sport = uh->source;
	k.dport = uh->dest;
	k.proto = ip->protocol;
	t = bpf_map_lookup_elem(&hop_flows, &k);
	if (!t)
		return min_proxy_drop(c);
	inner_len = bpf_ntohs(ip->tot_len);
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
		return min_proxy_drop(c);
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	outer = (void *)(eth + 1);
	if ((void *)(outer + 1) > end)
		return min_proxy_drop(c);
	eth->h_proto = bpf_htons(ETH_P_IP);
	if (words) {
		__u32 w[5] = {
			bpf_htonl(0x45000000 | (__u32)(inner_len + sizeof(struct iphdr))),
			bpf_htonl(IP_DF),
			bpf_htonl((PIAS_OUTER_TTL << 24) | (IPPROTO_IPIP_HOP << 16)),
			t->src,
			t->dst,
		};

		ipv4_hdr_put(outer, w);
	} else {
		outer->version = 4;
		outer->ihl = 5;
		outer->tos = 0;
		outer->tot_len = bpf_htons(inner_len + sizeof(struct iphdr));
		outer->id = 0;
		outer->frag_off = bpf_htons(IP_DF);
		outer->ttl = PIAS_OUTER_TTL;
		outer->protocol = IPPROTO_IPIP_HOP;
		outer->check = 0;
		outer->saddr = t->src;
		outer->daddr = t->dst;
		outer->check = csum_ipv4_hdr(outer);
	}

	f.family = AF_INET;
	f.l4_protocol = IPPROTO_IPIP_HOP;
	f.tot_len = inner_len + sizeof(struct iphdr);
	f.ipv4_src = t->src;
	f.ipv4_dst = t->dst;
	f.ifindex = ctx->ingress_ifindex;
	if (bpf_fib_lookup(ctx, &f, sizeof(f), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return min_proxy_drop(c);
	__builtin_memcpy(eth->h_dest, f.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, f.smac, ETH_ALEN);
	return bpf_redirect(f.ifindex, 0);
}

SEC("xdp")
int hop_min_proxy(struct xdp_md *ctx)
{
	return min_proxy(ctx, false);
}

SEC("xdp")
int hop_min_proxy_w(struct xdp_md *ctx)
{
	return min_proxy(ctx, true);
}

SEC("lwt_xmit")
int hop_lwt_ipip(struct __sk_buff *skb)
{
	struct hop_counts *c = counts();
	struct iphdr h = {
		.version = 4,
		.ihl = 5,
		.frag_off = bpf_htons(IP_DF),
		.ttl = PIAS_OUTER_TTL,
		.protocol = IPPROTO_IPIP_HOP,
	};

	h.tot_len = bpf_htons(skb->len + sizeof(h));
	h.saddr = lwt_tunnel.src;
	h.daddr = lwt_tunnel.dst;
	h.check = csum_ipv4_hdr(&h);
	if (bpf_lwt_push_encap(skb, BPF_LWT_ENCAP_IP, &h, sizeof(h)))
		return BPF_DROP;
	if (c)
		c->lwt_encap++;
	return BPF_LWT_REROUTE_OK;
}

/* The frame back into the template, the next flow's port in it, and off to the DUT. */
static __always_inline int recirculate(struct xdp_md *ctx, struct hop_counts *c)
{
	__u32 len = loop.len, n = loop.nflows, off = loop.port_off, i;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__be16 *port;

	if (!loop.recirculate || len < ETH_HLEN || len > HOP_FRAME_MAX)
		return XDP_DROP;
	if (bpf_xdp_adjust_head(ctx, (int)(end - data) - (int)len))
		return XDP_DROP;
	if (bpf_xdp_store_bytes(ctx, 0, loop.frame, len))
		return XDP_DROP;
	if (n > 1 && n <= HOP_FLOWS_MAX && off <= HOP_FRAME_MAX - 2) {
		i = (__u32)(c->recirculated % n);
		/* hide the bound from clang, so that the mask stays for the verifier */
		asm volatile("" : "+r"(i));
		i &= HOP_FLOWS_MAX - 1;
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		port = data + off;
		if ((void *)(port + 1) > end)
			return XDP_DROP;
		*port = loop.vary[i];
	}
	c->recirculated++;
	return bpf_redirect(loop.gen_if, 0);
}

SEC("xdp")
int hop_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct hop_counts *c = counts();
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 len = end - data;

	if (!c)
		return XDP_DROP;
	if ((void *)(ip + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IP) && len == expect.len &&
	    ip->protocol == expect.proto && ip->daddr == expect.daddr) {
		c->sink_ok++;
		return recirculate(ctx, c);
	}
	c->sink_bad++;
	last_bad.len = len;
	if ((void *)(ip + 1) <= end) {
		last_bad.ethertype = bpf_ntohs(eth->h_proto);
		last_bad.proto = ip->protocol;
		last_bad.daddr = ip->daddr;
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
