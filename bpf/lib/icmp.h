/* SPDX-License-Identifier: MIT */
/*
 * ICMP "fragmentation needed" / ICMPv6 "packet too big" for a client packet
 * that would not fit the underlay once encapsulated (docs/protocol.md 3.4).
 * The frame is turned into the answer in place and sent back out the
 * interface it came in on.
 */
#ifndef PIAS_BPF_ICMP_H
#define PIAS_BPF_ICMP_H

#include "csum.h"
#include "l3.h"

/* Bytes of the offending packet quoted: its IP header and 8 more. */
#define ICMP4_QUOTE (20 + 8)
#define ICMP6_QUOTE (40 + 8)
#define ICMP4_FRAME (ETH_HLEN + 20 + 8 + ICMP4_QUOTE)
#define ICMP6_FRAME (ETH_HLEN + 40 + 8 + ICMP6_QUOTE)

/* Token bucket per CPU: icmp_rate per second, bursts of up to one second. */
static __always_inline int icmp_rate_ok(struct pias_ctx *c, __u64 now)
{
	__u32 zero = 0;
	struct pias_rate_limit *rl = bpf_map_lookup_elem(&pias_icmp_rl, &zero);
	__u64 rate = c->cfg->icmp_rate, cap = rate * NSEC_PER_SEC, elapsed;

	if (!rl || !rate)
		return 0;
	elapsed = now - rl->last_ns;
	if (elapsed > NSEC_PER_SEC)
		elapsed = NSEC_PER_SEC;
	rl->last_ns = now;
	rl->tokens += elapsed * rate;
	if (rl->tokens > cap)
		rl->tokens = cap;
	if (rl->tokens < NSEC_PER_SEC)
		return 0;
	rl->tokens -= NSEC_PER_SEC;
	return 1;
}

static __always_inline void swap_macs(struct ethhdr *to, const struct ethhdr *from)
{
	__builtin_memcpy(to->h_dest, from->h_source, ETH_ALEN);
	__builtin_memcpy(to->h_source, from->h_dest, ETH_ALEN);
}

static __always_inline int icmp4_too_big(struct pias_ctx *c, __u16 mtu)
{
	struct ethhdr *eth, *oeth;
	struct iphdr *h, *oh;
	struct icmphdr *ic;
	__u32 len;

	if (bpf_xdp_adjust_head(c->xdp, -(20 + 8)))
		return -1;
	len = FRAME_END(c) - FRAME_START(c);
	if (bpf_xdp_adjust_tail(c->xdp, (int)ICMP4_FRAME - (int)len))
		return -1;
	eth = FRAME_PTR(c, 0, ICMP4_FRAME);
	if (!eth)
		return -1;
	oeth = (void *)eth + 28;
	h = (void *)(eth + 1);
	ic = (void *)(h + 1);
	oh = (void *)(ic + 1);

	swap_macs(eth, oeth);
	eth->h_proto = bpf_htons(ETH_P_IP);
	h->version = 4;
	h->ihl = 5;
	h->tos = 0;
	h->tot_len = bpf_htons(20 + 8 + ICMP4_QUOTE);
	h->id = 0;
	h->frag_off = 0;
	h->ttl = PIAS_OUTER_TTL;
	h->protocol = IPPROTO_ICMP;
	h->check = 0;
	h->saddr = c->cfg->self4.v4 ? c->cfg->self4.v4 : oh->daddr;
	h->daddr = oh->saddr;
	h->check = csum_ipv4_hdr(h);

	ic->type = ICMP_DEST_UNREACH;
	ic->code = ICMP_FRAG_NEEDED;
	ic->checksum = 0;
	ic->un.frag.__unused = 0;
	ic->un.frag.mtu = bpf_htons(mtu);
	ic->checksum = csum_fold(bpf_csum_diff(NULL, 0, (void *)ic, 8 + ICMP4_QUOTE, 0));
	return 0;
}

struct icmp6_pseudo {
	struct in6_addr saddr;
	struct in6_addr daddr;
	__be32 len;
	__be32 nexthdr;
};

static __always_inline int icmp6_too_big(struct pias_ctx *c, __u16 mtu)
{
	struct icmp6_pseudo ph = {};
	struct ethhdr *eth, *oeth;
	struct ipv6hdr *h, *oh;
	struct icmp6hdr *ic;
	__u32 len;
	__s64 sum;

	if (bpf_xdp_adjust_head(c->xdp, -(40 + 8)))
		return -1;
	len = FRAME_END(c) - FRAME_START(c);
	if (bpf_xdp_adjust_tail(c->xdp, (int)ICMP6_FRAME - (int)len))
		return -1;
	eth = FRAME_PTR(c, 0, ICMP6_FRAME);
	if (!eth)
		return -1;
	oeth = (void *)eth + 48;
	h = (void *)(eth + 1);
	ic = (void *)(h + 1);
	oh = (void *)(ic + 1);

	swap_macs(eth, oeth);
	eth->h_proto = bpf_htons(ETH_P_IPV6);
	*(__be32 *)h = bpf_htonl(0x60000000);
	h->payload_len = bpf_htons(8 + ICMP6_QUOTE);
	h->nexthdr = IPPROTO_ICMPV6;
	h->hop_limit = PIAS_OUTER_TTL;
	if (addr_is_zero(&c->cfg->self6))
		h->saddr = oh->daddr;
	else
		__builtin_memcpy(&h->saddr, &c->cfg->self6, 16);
	h->daddr = oh->saddr;

	ic->icmp6_type = ICMPV6_PKT_TOOBIG;
	ic->icmp6_code = 0;
	ic->icmp6_cksum = 0;
	ic->icmp6_dataun.un_data32[0] = bpf_htonl(mtu < IPV6_MIN_MTU ? IPV6_MIN_MTU : mtu);

	ph.saddr = h->saddr;
	ph.daddr = h->daddr;
	ph.len = bpf_htonl(8 + ICMP6_QUOTE);
	ph.nexthdr = bpf_htonl(IPPROTO_ICMPV6);
	sum = bpf_csum_diff(NULL, 0, (void *)&ph, sizeof(ph), 0);
	if (sum < 0)
		return -1;
	sum = bpf_csum_diff(NULL, 0, (void *)ic, 8 + ICMP6_QUOTE, sum);
	if (sum < 0)
		return -1;
	ic->icmp6_cksum = csum_fold(sum);
	return 0;
}

/*
 * Answers the plain client packet with "too big"; returns the verdict. mtu
 * is the largest inner packet that fits the underlay. A global subprogram:
 * the rarely taken ICMP path is verified once.
 */
__noinline int pias_too_big(struct xdp_md *ctx, __u32 family, __u32 mtu)
{
	struct pias_ctx cc = {
		.xdp = ctx,
		.cfg = config_here(),
		.stats = stats_here(),
		.drops = drops_here(),
	};
	struct pias_ctx *c = &cc;
	int rc;

	if (!c->cfg || !icmp_rate_ok(c, bpf_ktime_get_ns()))
		return drop(c, PIAS_DROP_too_big);
	if (family == PIAS_AF_INET)
		rc = icmp4_too_big(c, mtu);
	else
		rc = icmp6_too_big(c, mtu);
	if (rc)
		return drop(c, PIAS_DROP_adjust_failed);
	stat_inc(c, PIAS_STAT_icmp_too_big_sent);
	return XDP_TX;
}

#endif
