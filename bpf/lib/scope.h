/* SPDX-License-Identifier: MIT */
/*
 * Prefixes of the scoped policy (include/pias/policy.h): does an address
 * share its first len bits with another? Used by the JAP (its targets) and
 * by the RAP and the IAP (a scoped group's prefixes and their JAPs).
 */
#ifndef PIAS_BPF_SCOPE_H
#define PIAS_BPF_SCOPE_H

#include <pias/addr.h>

#include "defs.h"

/* Word i (0-3) of the mask of a prefix of len bits, in network order. */
static __always_inline __be32 scope_word(__u32 len, __u32 i)
{
	__u32 lo = 32 * i, bits = len > lo ? len - lo : 0;

	if (bits > 32)
		bits = 32;
	/* the top bits of the low word: 0 bits shifts all of them out */
	return bpf_htonl((__u32)(0xffffffff00000000ull >> bits));
}

/* Do a and b agree in their first len bits? (An IPv4 address's last three
 * words are zero on both sides.) */
static __always_inline int addr_in_prefix(const union pias_addr *a, const union pias_addr *b,
					  __u32 len)
{
	for (__u32 i = 0; i < 4; i++)
		if ((a->v6[i] ^ b->v6[i]) & scope_word(len, i))
			return 0;
	return 1;
}

#endif
