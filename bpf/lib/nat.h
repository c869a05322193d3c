/* SPDX-License-Identifier: MIT */
/*
 * Address and port translation of the plain packet, with incremental
 * checksum updates, and the TCP MSS clamp. Used in both directions by the
 * JAP: towards the target and back towards the client.
 */
#ifndef PIAS_BPF_NAT_H
#define PIAS_BPF_NAT_H

#include "l3.h"

/*
 * Rewrites source and destination (addresses and ports, host-order ports)
 * of the plain TCP/UDP packet described by c->pkt. The caller has checked
 * the headers (parse_l4). Returns a drop reason or -1.
 */
static __always_inline int nat_rewrite(struct pias_ctx *c, const union pias_addr *saddr,
				       const union pias_addr *daddr, __u16 sport, __u16 dport)
{
	__u8 family = c->pkt->flow.family, proto = c->pkt->flow.proto;
	__u32 l4 = L4_OFF(family);
	__u16 *ports, *l4sum, nsport = bpf_htons(sport), ndport = bpf_htons(dport);
	int fix_l4;

	/* separate branches: the verifier must see each header's own bound */
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = FRAME_PTR(c, l4, sizeof(*th));

		if (!th)
			return PIAS_DROP_truncated_l4;
		ports = (__u16 *)th;
		l4sum = &th->check;
	} else {
		struct udphdr *uh = FRAME_PTR(c, l4, sizeof(*uh));

		if (!uh)
			return PIAS_DROP_truncated_l4;
		ports = (__u16 *)uh;
		l4sum = &uh->check;
	}
	/* An IPv4 UDP datagram without checksum stays without. */
	fix_l4 = !(proto == IPPROTO_UDP && family == PIAS_AF_INET && *l4sum == 0);

	if (family == PIAS_AF_INET) {
		struct iphdr *h = FRAME_PTR(c, ETH_HLEN, sizeof(*h));

		if (!h)
			return PIAS_DROP_truncated_ip;
		if (fix_l4) {
			csum_replace4(l4sum, h->saddr, saddr->v4);
			csum_replace4(l4sum, h->daddr, daddr->v4);
		}
		csum_replace4(&h->check, h->saddr, saddr->v4);
		csum_replace4(&h->check, h->daddr, daddr->v4);
		h->saddr = saddr->v4;
		h->daddr = daddr->v4;
	} else {
		struct ipv6hdr *h6 = FRAME_PTR(c, ETH_HLEN, sizeof(*h6));

		if (!h6)
			return PIAS_DROP_truncated_ip;
		csum_replace16(l4sum, (__u32 *)&h6->saddr, saddr->v6);
		csum_replace16(l4sum, (__u32 *)&h6->daddr, daddr->v6);
		__builtin_memcpy(&h6->saddr, saddr, 16);
		__builtin_memcpy(&h6->daddr, daddr, 16);
	}
	if (fix_l4) {
		csum_replace2(l4sum, ports[0], nsport);
		csum_replace2(l4sum, ports[1], ndport);
		if (proto == IPPROTO_UDP && *l4sum == 0)
			*l4sum = 0xffff;
	}
	ports[0] = nsport;
	ports[1] = ndport;
	return -1;
}

struct mss_walk {
	__u8 opts[40]; /* the TCP options, copied out of the packet */
	__u32 len;     /* bytes of options */
	__u32 pos;     /* next option */
	__u32 found;   /* offset of the MSS option + 1, 0: none */
};

/* One option per call (bpf_loop): the walk is verified once, not unrolled. */
static long mss_walk_one(__u64 index, void *arg)
{
	struct mss_walk *w = arg;
	__u32 pos = w->pos;
	__u8 kind, len;

	(void)index;
	if (pos >= w->len || pos >= sizeof(w->opts))
		return 1;
	kind = w->opts[pos];
	if (kind == TCPOPT_EOL)
		return 1;
	if (kind == TCPOPT_NOP) {
		w->pos = pos + 1;
		return 0;
	}
	if (pos + 1 >= sizeof(w->opts) || pos + 1 >= w->len)
		return 1;
	len = w->opts[pos + 1];
	if (len < 2)
		return 1;
	if (kind == TCPOPT_MSS) {
		if (len == TCPOLEN_MSS && pos + TCPOLEN_MSS <= w->len)
			w->found = pos + 1;
		return 1;
	}
	w->pos = pos + len;
	return 0;
}

/*
 * Lowers the MSS option of a TCP SYN (or SYN-ACK) in the plain frame to at
 * most mss_max. Returns 1 if it changed the packet. A global subprogram: it
 * is verified once, not at every call site.
 */
__noinline int pias_clamp_mss(struct xdp_md *ctx, __u32 family, __u32 mss_max)
{
	struct pias_ctx cc = { .xdp = ctx }, *c = &cc;
	__u32 l4 = L4_OFF(family), off, rel, optlen;
	struct mss_walk w = {};
	struct tcphdr *th;
	__u16 mss, w0, w1;
	__u8 *o;

	th = FRAME_PTR(c, l4, sizeof(*th));
	if (!th || !mss_max || mss_max > 0xffff)
		return 0;
	optlen = (__u32)th->doff * 4;
	if (optlen <= sizeof(*th))
		return 0;
	optlen -= sizeof(*th);
	if (optlen > sizeof(w.opts))
		return 0;
	w.len = optlen;
	if (bpf_xdp_load_bytes(ctx, l4 + sizeof(*th), w.opts, optlen))
		return 0;
	bpf_loop(sizeof(w.opts), mss_walk_one, &w, 0);
	if (!w.found || w.found > sizeof(w.opts))
		return 0;

	off = l4 + sizeof(*th) + (w.found - 1);
	o = FRAME_PTR(c, off, TCPOLEN_MSS);
	th = FRAME_PTR(c, l4, sizeof(*th));
	if (!o || !th)
		return 0;
	mss = ((__u16)o[2] << 8) | o[3];
	if (mss <= mss_max)
		return 0;
	/*
	 * The checksum sums 16-bit words aligned to the TCP header; an MSS
	 * value at an odd offset straddles two of them, so update whichever
	 * aligned words cover its two bytes. (At an odd offset the option
	 * cannot end the header, which is a multiple of 4 bytes long, so the
	 * byte after it exists.)
	 */
	rel = off + 2 - l4;
	if (!(rel & 1)) {
		w0 = *(__u16 *)(o + 2);
		o[2] = mss_max >> 8;
		o[3] = mss_max & 0xff;
		csum_replace2(&th->check, w0, *(__u16 *)(o + 2));
	} else {
		o = FRAME_PTR(c, off, TCPOLEN_MSS + 1);
		th = FRAME_PTR(c, l4, sizeof(*th));
		if (!o || !th)
			return 0;
		w0 = *(__u16 *)(o + 1);
		w1 = *(__u16 *)(o + 3);
		o[2] = mss_max >> 8;
		o[3] = mss_max & 0xff;
		csum_replace2(&th->check, w0, *(__u16 *)(o + 1));
		csum_replace2(&th->check, w1, *(__u16 *)(o + 3));
	}
	return 1;
}

/* Clamps a SYN's MSS to the configured value for its family. */
static __always_inline int tcp_clamp_syn(struct pias_ctx *c)
{
	struct pias_pkt *p = c->pkt;

	if (p->flow.proto != IPPROTO_TCP || !(p->tcp_flags & TCP_FLAG_SYN))
		return 0;
	return pias_clamp_mss(c->xdp, p->flow.family,
			      p->flow.family == PIAS_AF_INET ? c->cfg->tcp_mss4 : c->cfg->tcp_mss6);
}

#endif
