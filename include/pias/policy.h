/* SPDX-License-Identifier: MIT */
/*
 * A group's selection policy (paper section 2.1; docs/design.md, "Choosing
 * a target"): how a JAP picks among its targets for a new flow. The
 * group's owner sets it in each target's REGISTER; the JAP writes it into
 * the group's target set, where the dataplane reads it.
 */
#ifndef PIAS_POLICY_H
#define PIAS_POLICY_H

#include "addr.h"

enum pias_policy_kind {
	PIAS_POLICY_WEIGHTED = 0,  /* the flow hash into the targets' weights */
	PIAS_POLICY_RANDOM = 1,	   /* a fresh draw per flow, every target alike */
	PIAS_POLICY_SCOPED = 2,	   /* targets sharing scope_len bits with the client */
	PIAS_POLICY_REPLICATE = 3, /* every packet to `copies` targets */
	PIAS_POLICY_KINDS
};

/* scoped: no target in the client's prefix means no target (drop), not any */
#define PIAS_POLICY_F_STRICT 0x1
/*
 * A UDP group whose datagrams take QUIC's header forms (RFC 8999, 9000):
 * a short header (the first byte's top bit clear) is only ever sent inside
 * a connection, so at a JAP with no connection for its flow it marks a
 * moved flow, as a TCP segment other than a SYN does: dropped and asked
 * about (affinity), never handed to a target that would not know it.
 * Any selection but replicate.
 */
#define PIAS_POLICY_F_QUIC  0x2
#define PIAS_POLICY_F_KNOWN (PIAS_POLICY_F_STRICT | PIAS_POLICY_F_QUIC)

#define PIAS_REPLICATE_MIN  2
#define PIAS_REPLICATE_MAX  4

struct pias_policy {
	__u8 kind;	/* enum pias_policy_kind */
	__u8 scope_len; /* scoped: prefix length in bits (at most 32 / 128); else 0 */
	__u8 copies;	/* replicate: PIAS_REPLICATE_MIN..MAX; else 0 */
	__u8 flags;	/* PIAS_POLICY_F_*, only with scoped */
};
PIAS_STATIC_ASSERT(sizeof(struct pias_policy) == 4, "pias_policy layout");

/*
 * 0 if p is a policy a group of family (PIAS_AF_*) may have, else a short
 * reason. The one check of a policy: the message decoder, the agent's
 * parser and the map writer all use it.
 */
static inline const char *pias_policy_invalid(const struct pias_policy *p, __u8 family)
{
	switch (p->kind) {
	case PIAS_POLICY_WEIGHTED:
	case PIAS_POLICY_RANDOM:
		return p->scope_len || p->copies || (p->flags & ~PIAS_POLICY_F_QUIC)
			       ? "options on a policy that takes none"
			       : 0;
	case PIAS_POLICY_SCOPED:
		if (p->copies || (p->flags & ~PIAS_POLICY_F_KNOWN))
			return "scoped takes a prefix length, strict and +quic only";
		if (p->scope_len > (family == 4 ? 32 : 128))
			return "scope longer than the family's addresses";
		return 0;
	case PIAS_POLICY_REPLICATE:
		if (p->scope_len || p->flags)
			return "replicate takes a number of copies only (and no +quic)";
		return p->copies < PIAS_REPLICATE_MIN || p->copies > PIAS_REPLICATE_MAX
			       ? "replicate takes 2-4 copies"
			       : 0;
	default:
		return "unknown policy";
	}
}

/* Word i (0-3) of the mask of a prefix of len bits, in network order. */
static inline __be32 pias_prefix_mask(__u32 len, __u32 i)
{
	__u32 lo = 32 * i, bits = len > lo ? len - lo : 0;

	if (bits > 32)
		bits = 32;
	/* the top bits of the low word: 0 bits shifts all of them out; the
	 * byte swap goes either way */
	return pias_be32_to_cpu((__u32)(0xffffffff00000000ull >> bits));
}

/*
 * Do a and b agree in their first len bits? (An IPv4 address's last three
 * words are zero on both sides.) The scoped policy's test of a target or a
 * group's prefix against a client, in BPF and user space.
 */
static inline int pias_prefix_match(const union pias_addr *a, const union pias_addr *b, __u32 len)
{
	for (__u32 i = 0; i < 4; i++)
		if ((a->v6[i] ^ b->v6[i]) & pias_prefix_mask(len, i))
			return 0;
	return 1;
}

/* a's first len bits, the rest zero: the prefix a scoped set is keyed by. */
static inline union pias_addr pias_prefix_of(const union pias_addr *a, __u32 len)
{
	union pias_addr p;

	for (__u32 i = 0; i < 4; i++)
		p.v6[i] = a->v6[i] & pias_prefix_mask(len, i);
	return p;
}

/*
 * Is words[4] a prefix of len bits with its host bits zero (family 4: in
 * the first word, the others zero)? The form a scoped group's prefixes
 * take in REPORTs, bindings and the maps.
 */
static inline int pias_prefix_clean(const __u32 words[4], __u32 len, __u8 family)
{
	for (__u32 i = 0; i < 4; i++) {
		__u32 lo = 32 * i, bits = len > lo ? len - lo : 0;
		__u32 host = bits >= 32 ? 0 : ~0u >> bits;

		if ((family == 4 && i && words[i]) || (pias_be32_to_cpu(words[i]) & host))
			return 0;
	}
	return 1;
}

#endif
