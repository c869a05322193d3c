/* SPDX-License-Identifier: MIT */
/*
 * Sending a finished frame: route its (outer) destination with
 * bpf_fib_lookup, fill in the MACs, XDP_TX or XDP_REDIRECT. When the kernel
 * has no answer yet (no route, neighbour unresolved) the frame goes to the
 * stack as it is, which routes it and resolves the neighbour.
 *
 * The route lookup was a third of an IAP hit's cost (43 of 120 ns in
 * make bench): each CPU keeps its answers for a destination PIAS_NH_TTL_MS
 * (pias_nh_cache), so a change of route or neighbour is followed within
 * that time.
 */
#ifndef PIAS_BPF_FWD_H
#define PIAS_BPF_FWD_H

#include "context.h"

/* The cache slot of a destination (Fibonacci hashing of its words). */
static __always_inline __u32 nh_slot(const union pias_addr *dst)
{
	__u32 h = dst->v6[0] ^ dst->v6[1] ^ dst->v6[2] ^ dst->v6[3];

	return (h * 0x9e3779b1u) >> (32 - 10) & (PIAS_NH_SLOTS - 1);
}

static __always_inline struct pias_nh_entry *nh_entry(const union pias_addr *dst)
{
	__u32 slot = nh_slot(dst);

	return bpf_map_lookup_elem(&pias_nh_cache, &slot);
}

/* The cached next hop for dst from this ingress, if it is there and fresh. */
static __always_inline struct pias_nh_entry *nh_cached(struct pias_nh_entry *n,
						       const union pias_addr *dst, __u8 family,
						       __u32 ifindex_in, __u64 now)
{
	if (!n || n->expires_ns <= now || n->family != family || n->ifindex_in != ifindex_in ||
	    n->dst.v6[0] != dst->v6[0] || n->dst.v6[1] != dst->v6[1] ||
	    n->dst.v6[2] != dst->v6[2] || n->dst.v6[3] != dst->v6[3])
		return NULL;
	return n;
}

/* The frame's MACs, and the verdict for an egress interface. */
static __always_inline int fwd_out(struct pias_ctx *c, const __u8 *dmac, const __u8 *smac,
				   __u32 ifindex)
{
	struct ethhdr *eth = FRAME_PTR(c, 0, ETH_HLEN);

	if (!eth)
		return drop(c, PIAS_DROP_adjust_failed);
	__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, smac, ETH_ALEN);
	if (ifindex == c->xdp->ingress_ifindex) {
		stat_inc(c, PIAS_STAT_fwd_tx);
		return XDP_TX;
	}
	stat_inc(c, PIAS_STAT_fwd_redirect);
	return bpf_redirect(ifindex, 0);
}

static __always_inline int fwd_one(struct pias_ctx *c)
{
	struct bpf_fib_lookup f = {};
	struct ethhdr *eth = FRAME_PTR(c, 0, ETH_HLEN);
	__u32 in = c->xdp->ingress_ifindex;
	struct pias_nh_entry *n, *hit;
	union pias_addr dst = {};
	__u64 now;
	__u8 family;
	long rc;

	if (!eth)
		return drop(c, PIAS_DROP_adjust_failed);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *h = FRAME_PTR(c, ETH_HLEN, sizeof(*h));

		if (!h)
			return drop(c, PIAS_DROP_adjust_failed);
		family = PIAS_AF_INET;
		dst.v4 = h->daddr;
	} else {
		struct ipv6hdr *h6 = FRAME_PTR(c, ETH_HLEN, sizeof(*h6));

		if (!h6)
			return drop(c, PIAS_DROP_adjust_failed);
		family = PIAS_AF_INET6;
		/* a word at a time: clang's 16-byte copy from the packet confused the verifier */
		dst.v6[0] = h6->daddr.in6_u.u6_addr32[0];
		dst.v6[1] = h6->daddr.in6_u.u6_addr32[1];
		dst.v6[2] = h6->daddr.in6_u.u6_addr32[2];
		dst.v6[3] = h6->daddr.in6_u.u6_addr32[3];
	}
	now = bpf_ktime_get_coarse_ns();
	n = nh_entry(&dst);
	hit = nh_cached(n, &dst, family, in, now);
	if (hit) {
		stat_inc(c, PIAS_STAT_fwd_nh_cached);
		return fwd_out(c, hit->dmac, hit->smac, hit->ifindex_out);
	}

	if (family == PIAS_AF_INET) {
		struct iphdr *h = FRAME_PTR(c, ETH_HLEN, sizeof(*h));

		if (!h)
			return drop(c, PIAS_DROP_adjust_failed);
		f.family = AF_INET;
		f.tos = h->tos;
		f.l4_protocol = h->protocol;
		f.tot_len = bpf_ntohs(h->tot_len);
		f.ipv4_src = h->saddr;
		f.ipv4_dst = h->daddr;
	} else {
		struct ipv6hdr *h6 = FRAME_PTR(c, ETH_HLEN, sizeof(*h6));

		if (!h6)
			return drop(c, PIAS_DROP_adjust_failed);
		f.family = AF_INET6;
		f.flowinfo = *(__be32 *)h6 & bpf_htonl(0x0fffffff);
		f.l4_protocol = h6->nexthdr;
		f.tot_len = bpf_ntohs(h6->payload_len) + sizeof(*h6);
		__builtin_memcpy(f.ipv6_src, &h6->saddr, 16);
		__builtin_memcpy(f.ipv6_dst, &h6->daddr, 16);
	}
	f.ifindex = in;

	rc = bpf_fib_lookup(c->xdp, &f, sizeof(f), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		stat_inc(c, PIAS_STAT_fwd_fib_pass);
		return XDP_PASS;
	}
	if (n) {
		n->dst = dst;
		n->family = family;
		n->ifindex_in = in;
		n->ifindex_out = f.ifindex;
		__builtin_memcpy(n->dmac, f.dmac, ETH_ALEN);
		__builtin_memcpy(n->smac, f.smac, ETH_ALEN);
		n->expires_ns = now + PIAS_NH_TTL_MS * NSEC_PER_MSEC;
	}
	return fwd_out(c, f.dmac, f.smac, f.ifindex);
}

/*
 * Routes and sends the finished frame; returns the verdict. A global
 * subprogram so that its lookup parameters do not sit on the stack of
 * every caller (the verifier limits the stack of a call chain to 512 bytes).
 */
__noinline int pias_fwd(struct xdp_md *ctx)
{
	struct pias_ctx c = {
		.xdp = ctx,
		.stats = stats_here(),
		.drops = drops_here(),
	};

	return fwd_one(&c);
}

static __always_inline int fwd(struct pias_ctx *c)
{
	return pias_fwd(c->xdp);
}

#endif
