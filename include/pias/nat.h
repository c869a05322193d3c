/* SPDX-License-Identifier: MIT */
/*
 * The JAP's NAT pool and the reverse key of a connection, for the
 * dataplane (which builds them per new flow) and piasd (whose sweep
 * finds a connection's reverse entry): one definition for both.
 *
 * A family's pool is nat4 (nat6) and the addresses after it, counted up
 * in the last 32 bits: nat4_count (nat6_count) of them, 0 counting as 1.
 * No pool address set: the node's own tunnel address.
 */
#ifndef PIAS_NAT_H
#define PIAS_NAT_H

#include "maps.h"

static inline __u32 pias_be32_add(__be32 a, __u32 n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(__builtin_bswap32(a) + n);
#else
	return a + n;
#endif
}

static inline int pias_addr_zero(const union pias_addr *a)
{
	return !(a->v6[0] | a->v6[1] | a->v6[2] | a->v6[3]);
}

/* The first address of the family's pool (zero: none). */
static inline const union pias_addr *pias_nat_base(const struct pias_config *cfg, __u8 family)
{
	if (family == PIAS_AF_INET)
		return cfg->nat4.v4 ? &cfg->nat4 : &cfg->self4;
	return pias_addr_zero(&cfg->nat6) ? &cfg->self6 : &cfg->nat6;
}

static inline __u32 pias_nat_count(const struct pias_config *cfg, __u8 family)
{
	__u32 n = family == PIAS_AF_INET ? cfg->nat4_count : cfg->nat6_count;

	if (!n || (family == PIAS_AF_INET ? !cfg->nat4.v4 : pias_addr_zero(&cfg->nat6)))
		return 1; /* no pool: the node's own address */
	return n > PIAS_NAT_POOL_MAX ? PIAS_NAT_POOL_MAX : n;
}

/* Address i of the pool. */
static inline union pias_addr pias_nat_addr(const struct pias_config *cfg, __u8 family, __u32 i)
{
	union pias_addr a = *pias_nat_base(cfg, family);

	if (family == PIAS_AF_INET)
		a.v4 = pias_be32_add(a.v4, i);
	else
		a.v6[3] = pias_be32_add(a.v6[3], i);
	return a;
}

/* Index of address a in the family's pool, or -1. */
static inline int pias_nat_index(const struct pias_config *cfg, const union pias_addr *a,
				 __u8 family)
{
	const union pias_addr *base = pias_nat_base(cfg, family);
	__u32 i;

	if (family == PIAS_AF_INET) {
		if (!base->v4)
			return -1;
		i = pias_be32_to_cpu(a->v4) - pias_be32_to_cpu(base->v4);
	} else {
		if (pias_addr_zero(base) || a->v6[0] != base->v6[0] || a->v6[1] != base->v6[1] ||
		    a->v6[2] != base->v6[2])
			return -1;
		i = pias_be32_to_cpu(a->v6[3]) - pias_be32_to_cpu(base->v6[3]);
	}
	return i < pias_nat_count(cfg, family) ? (int)i : -1;
}

/* The NAT port range, the defaults if unset or inverted. */
static inline void pias_nat_ports(const struct pias_config *cfg, __u32 *lo, __u32 *hi)
{
	*lo = cfg->nat_port_min;
	*hi = cfg->nat_port_max;
	if (!*lo || *hi < *lo) {
		*lo = PIAS_DEFAULT_NAT_PORT_MIN;
		*hi = PIAS_DEFAULT_NAT_PORT_MAX;
	}
}

/* NAT addresses and ports one target can hold towards one family. */
static inline __u64 pias_nat_capacity(const struct pias_config *cfg, __u8 family)
{
	__u32 lo, hi;

	pias_nat_ports(cfg, &lo, &hi);
	return (__u64)(hi - lo + 1) * pias_nat_count(cfg, family);
}

/*
 * Key of a connection's reverse entry: target t's packets to NAT address
 * nat_index, port nat_port, for client flow f.
 */
static inline struct pias_flow pias_nat_rev_key(const struct pias_config *cfg,
						const struct pias_flow *f,
						const struct pias_target *t, __u32 nat_index,
						__u16 nat_port)
{
	struct pias_flow k = {
		.saddr = t->addr,
		.daddr = pias_nat_addr(cfg, f->family, nat_index),
		.sport = t->port ? t->port : f->dport,
		.dport = nat_port,
		.proto = f->proto,
		.family = f->family,
	};
	return k;
}

#endif
