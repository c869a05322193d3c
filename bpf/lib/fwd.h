/* SPDX-License-Identifier: MIT */
/*
 * Sending a finished frame: route its (outer) destination with
 * bpf_fib_lookup, fill in the MACs, XDP_TX or XDP_REDIRECT. When the kernel
 * has no answer yet (no route, neighbour unresolved) the frame goes to the
 * stack as it is, which routes it and resolves the neighbour.
 */
#ifndef PIAS_BPF_FWD_H
#define PIAS_BPF_FWD_H

#include "context.h"

static __always_inline int fwd_one(struct pias_ctx *c)
{
	struct bpf_fib_lookup f = {};
	struct ethhdr *eth = FRAME_PTR(c, 0, ETH_HLEN);
	long rc;

	if (!eth)
		return drop(c, PIAS_DROP_adjust_failed);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
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
	f.ifindex = c->xdp->ingress_ifindex;

	rc = bpf_fib_lookup(c->xdp, &f, sizeof(f), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		stat_inc(c, PIAS_STAT_fwd_fib_pass);
		return XDP_PASS;
	}
	eth = FRAME_PTR(c, 0, ETH_HLEN);
	if (!eth)
		return drop(c, PIAS_DROP_adjust_failed);
	__builtin_memcpy(eth->h_dest, f.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, f.smac, ETH_ALEN);
	if (f.ifindex == c->xdp->ingress_ifindex) {
		stat_inc(c, PIAS_STAT_fwd_tx);
		return XDP_TX;
	}
	stat_inc(c, PIAS_STAT_fwd_redirect);
	return bpf_redirect(f.ifindex, 0);
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
