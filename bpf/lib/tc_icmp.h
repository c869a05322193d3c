/* SPDX-License-Identifier: GPL-2.0 */
/*
 * JAP, the TC half of outlier detection (docs/design.md "A target's
 * health"): an ICMP port unreachable that a target's host sends to the NAT
 * address says it has no server on a flow's port. The XDP program passes
 * such packets to the stack (not TCP or UDP: pass_not_ours) and keeps its
 * own stack for the forwarding paths; here, at TC ingress of the same
 * interface, the error is counted against the flow's target, and goes on
 * to the stack, which has no socket for it and drops it.
 *
 * The error quotes the datagram the JAP sent (NAT address and port to the
 * target), so its addresses and ports swapped are the flow's reverse key.
 * Only errors without IPv4 options or IPv6 extension headers, outer or
 * quoted, are read: what a host's stack sends.
 */
#ifndef PIAS_BPF_TC_ICMP_H
#define PIAS_BPF_TC_ICMP_H

#include "jap.h"

#define TI_IP	 ETH_HLEN
#define TI_ICMP4 (TI_IP + 20)
#define TI_ICMP6 (TI_IP + 40)

/* The quoted datagram's reverse key, from an error of family at offset icmp. */
static __always_inline int ti_quoted(struct __sk_buff *skb, __u8 family, __u32 icmp,
				     struct pias_flow *k)
{
	__u8 h[48]; /* ICMP header, the quoted IP header, its UDP ports */
	__u32 ports;

	if (family == PIAS_AF_INET) {
		struct iphdr *in = (void *)(h + 8);

		if (bpf_skb_load_bytes(skb, icmp, h, 8 + 20 + 4) || h[0] != ICMP_DEST_UNREACH ||
		    h[1] != ICMP_PORT_UNREACH || in->ihl != 5 || in->protocol != IPPROTO_UDP)
			return -1;
		k->saddr.v4 = in->daddr;
		k->daddr.v4 = in->saddr;
		__builtin_memcpy(&ports, h + 8 + 20, 4);
	} else {
		struct ipv6hdr in;

		if (bpf_skb_load_bytes(skb, icmp, h, 8) || h[0] != ICMPV6_DEST_UNREACH ||
		    h[1] != ICMPV6_PORT_UNREACH ||
		    bpf_skb_load_bytes(skb, icmp + 8, &in, sizeof(in)) ||
		    in.nexthdr != IPPROTO_UDP ||
		    bpf_skb_load_bytes(skb, icmp + 8 + sizeof(in), &ports, 4))
			return -1;
		__builtin_memcpy(&k->saddr, &in.daddr, 16);
		__builtin_memcpy(&k->daddr, &in.saddr, 16);
	}
	/* quoted: source port (the NAT port), then destination (the target's) */
	k->dport = bpf_ntohs((__u16)ports);
	k->sport = bpf_ntohs((__u16)(ports >> 16));
	k->proto = IPPROTO_UDP;
	k->family = family;
	return 0;
}

/*
 * skb, when it is a target's port unreachable for a flow: counted. Never
 * drops. A function of its own: its buffers stay off the stack of the
 * replication path, whose call chain is near the 512 bytes.
 */
static __noinline int pias_tc_icmp(struct __sk_buff *skb, const struct pias_config *cfg)
{
	struct pias_flow k = {};
	union pias_addr dst = {};
	struct pias_conn_rev *rv;
	__u8 family, proto;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		family = PIAS_AF_INET;
		if (bpf_skb_load_bytes(skb, TI_IP + 9, &proto, 1) || proto != IPPROTO_ICMP ||
		    bpf_skb_load_bytes(skb, TI_IP + 16, &dst.v4, 4) ||
		    pias_nat_index(cfg, &dst, family) < 0 || ti_quoted(skb, family, TI_ICMP4, &k))
			return 0;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		family = PIAS_AF_INET6;
		if (bpf_skb_load_bytes(skb, TI_IP + 6, &proto, 1) || proto != IPPROTO_ICMPV6 ||
		    bpf_skb_load_bytes(skb, TI_IP + 24, &dst, 16) ||
		    pias_nat_index(cfg, &dst, family) < 0 || ti_quoted(skb, family, TI_ICMP6, &k))
			return 0;
	} else {
		return 0;
	}
	rv = bpf_map_lookup_elem(&pias_conns_rev, &k);
	if (rv) {
		struct pias_target_stats *ts = target_stats(rv->target_id);
		struct pias_stats *st = stats_here();

		if (ts)
			ts->unreachable++;
		if (st)
			st->rev_icmp_unreachable++;
	}
	return 0;
}

#endif
