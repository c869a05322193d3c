/* SPDX-License-Identifier: MIT */
/* Router duties on the plain packet (IP header at ETH_HLEN): TTL, offsets. */
#ifndef PIAS_BPF_L3_H
#define PIAS_BPF_L3_H

#include "context.h"
#include "csum.h"

/* Transport header offset of a plain packet; options are refused earlier. */
#define L4_OFF(family) (ETH_HLEN + ((family) == PIAS_AF_INET ? 20 : 40))

/* Would forwarding expire the packet? Returns a drop reason or -1. */
static __always_inline int ip_ttl_check(struct pias_ctx *c, __u8 family)
{
	__u8 *ttl = FRAME_PTR(c, ETH_HLEN + (family == PIAS_AF_INET ? 8 : 7), 1);

	if (!ttl)
		return PIAS_DROP_truncated_ip;
	return *ttl <= 1 ? PIAS_DROP_ttl_expired : -1;
}

/* Decrements TTL / hop limit; returns a drop reason or -1. */
static __always_inline int ip_dec_ttl(struct pias_ctx *c, __u8 family)
{
	if (family == PIAS_AF_INET) {
		struct iphdr *h = FRAME_PTR(c, ETH_HLEN, sizeof(*h));
		__u16 old, new;

		if (!h)
			return PIAS_DROP_truncated_ip;
		if (h->ttl <= 1)
			return PIAS_DROP_ttl_expired;
		/*
		 * TTL and protocol as one word, the new one made in a register:
		 * a byte store read back as a word cannot be forwarded from
		 * the store buffer and stalls the load (seen in perf, the
		 * costliest instruction of the client path). In memory order
		 * TTL is the word's first byte, and it is >= 2: no borrow.
		 */
		old = *(__u16 *)&h->ttl;
		new = old - bpf_htons(0x0100);
		*(__u16 *)&h->ttl = new;
		csum_replace2(&h->check, old, new);
		return -1;
	}
	struct ipv6hdr *h6 = FRAME_PTR(c, ETH_HLEN, sizeof(*h6));

	if (!h6)
		return PIAS_DROP_truncated_ip;
	if (h6->hop_limit <= 1)
		return PIAS_DROP_ttl_expired;
	h6->hop_limit--;
	return -1;
}

#endif
