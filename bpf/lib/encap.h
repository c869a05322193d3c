/* SPDX-License-Identifier: MIT */
/*
 * The proxy-to-proxy tunnel (docs/protocol.md section 1): wrap the plain
 * frame's IP packet in outer IP + UDP + pias_tunhdr, and unwrap it.
 */
#ifndef PIAS_BPF_ENCAP_H
#define PIAS_BPF_ENCAP_H

#include "csum.h"
#include "context.h"
#include <pias/hash.h>

static __always_inline int encap_overhead(__u8 family)
{
	return family == PIAS_AF_INET6 ? PIAS_ENCAP_OVERHEAD_V6 : PIAS_ENCAP_OVERHEAD_V4;
}

/*
 * The frame's MACs move with its start, so that a frame the route lookup
 * cannot place still reaches the stack addressed to this host.
 */
static __always_inline void keep_macs(struct ethhdr *to, const struct ethhdr *from)
{
	__builtin_memcpy(to->h_dest, from->h_dest, ETH_ALEN);
	__builtin_memcpy(to->h_source, from->h_source, ETH_ALEN);
}

/*
 * Wraps c->pkt (plain: Ethernet | IP) for proxy 'to'. hdr is the tunnel
 * header to write. Returns a drop reason or -1.
 */
static __always_inline int encap(struct pias_ctx *c, const struct pias_proxy *to,
				 const struct pias_tunhdr *hdr)
{
	__u16 inner_len = c->pkt->ip_len;
	__u16 sport = c->pkt->tun_sport ? c->pkt->tun_sport : pias_tun_sport(&c->pkt->flow);
	struct pias_config *cfg = c->cfg;
	struct udphdr *uh;
	struct ethhdr *eth;

	if (to->family == PIAS_AF_INET6) {
		struct ipv6hdr *h6;

		if (addr_is_zero(&cfg->self6))
			return PIAS_DROP_unknown_proxy;
		if (bpf_xdp_adjust_head(c->xdp, -PIAS_ENCAP_OVERHEAD_V6))
			return PIAS_DROP_adjust_failed;
		eth = FRAME_PTR(c, 0, ETH_HLEN + PIAS_ENCAP_OVERHEAD_V6);
		if (!eth)
			return PIAS_DROP_adjust_failed;
		keep_macs(eth, (void *)eth + PIAS_ENCAP_OVERHEAD_V6);
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		h6 = (void *)(eth + 1);
		/* flow label from the flow hash, so underlay ECMP keeps flows together */
		*(__be32 *)h6 = bpf_htonl(0x60000000 | (sport & 0xfffff));
		h6->payload_len = bpf_htons(inner_len + PIAS_UDP_HLEN + PIAS_TUN_HLEN);
		h6->nexthdr = IPPROTO_UDP;
		h6->hop_limit = PIAS_OUTER_TTL;
		__builtin_memcpy(&h6->saddr, &cfg->self6, 16);
		__builtin_memcpy(&h6->daddr, &to->addr, 16);
		uh = (void *)(h6 + 1);
	} else {
		struct iphdr *h;

		if (!cfg->self4.v4)
			return PIAS_DROP_unknown_proxy;
		if (bpf_xdp_adjust_head(c->xdp, -PIAS_ENCAP_OVERHEAD_V4))
			return PIAS_DROP_adjust_failed;
		eth = FRAME_PTR(c, 0, ETH_HLEN + PIAS_ENCAP_OVERHEAD_V4);
		if (!eth)
			return PIAS_DROP_adjust_failed;
		keep_macs(eth, (void *)eth + PIAS_ENCAP_OVERHEAD_V4);
		eth->h_proto = bpf_htons(ETH_P_IP);
		h = (void *)(eth + 1);
		/*
		 * Whole words, made and summed in registers: the headroom's
		 * line is cold, and fields stored a byte at a time then read
		 * back for the checksum stalled on it (the hottest instruction
		 * of the IAP hop before).
		 */
		__u32 w[5] = {
			bpf_htonl(0x45000000 | (__u32)(inner_len + PIAS_ENCAP_OVERHEAD_V4)),
			bpf_htonl(IP_DF),					 /* id 0 */
			bpf_htonl((PIAS_OUTER_TTL << 24) | (IPPROTO_UDP << 16)), /* check 0 */
			cfg->self4.v4,
			to->addr.v4,
		};

		ipv4_hdr_put(h, w);
		uh = (void *)(h + 1);
	}
	uh->source = bpf_htons(sport);
	uh->dest = bpf_htons(cfg->tunnel_port);
	uh->len = bpf_htons(inner_len + PIAS_UDP_HLEN + PIAS_TUN_HLEN);
	uh->check = 0;
	__builtin_memcpy(uh + 1, hdr, sizeof(*hdr));
	return -1;
}

/*
 * Removes outer_len bytes of outer IP + UDP + tunnel header behind the
 * Ethernet header. Returns a drop reason or -1.
 */
static __always_inline int decap(struct pias_ctx *c, __u32 outer_len, __u8 inner_family)
{
	struct ethhdr *eth, *neth;

	if (outer_len != PIAS_ENCAP_OVERHEAD_V4 && outer_len != PIAS_ENCAP_OVERHEAD_V6)
		return PIAS_DROP_adjust_failed;
	eth = FRAME_PTR(c, 0, ETH_HLEN);
	neth = FRAME_PTR(c, outer_len, ETH_HLEN);
	if (!eth || !neth)
		return PIAS_DROP_adjust_failed;
	keep_macs(neth, eth);
	neth->h_proto = bpf_htons(inner_family == PIAS_AF_INET6 ? ETH_P_IPV6 : ETH_P_IP);
	if (bpf_xdp_adjust_head(c->xdp, outer_len))
		return PIAS_DROP_adjust_failed;
	return -1;
}

#endif
