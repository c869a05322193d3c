// SPDX-License-Identifier: MIT
/*
 * Anycast prefixes: the LPM maps that tell client traffic from the rest,
 * and pias_anycast, the same as masks while they are few (maps.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>

#include "maps.h"

/* Fill the family's LPM key; returns the map to use. */
static int prefix_key(const struct pias_net *n, struct pias_prefix4_key *k4,
		      struct pias_prefix6_key *k6, const void **key, struct pias_err *e)
{
	if (n->family == PIAS_AF_INET && n->plen <= 32) {
		memset(k4, 0, sizeof(*k4));
		k4->prefixlen = n->plen;
		k4->addr = n->addr.v4;
		*key = k4;
		return PIAS_M_PREFIX4;
	}
	if (n->family == PIAS_AF_INET6 && n->plen <= 128) {
		memset(k6, 0, sizeof(*k6));
		k6->prefixlen = n->plen;
		memcpy(k6->addr, n->addr.bytes, 16);
		*key = k6;
		return PIAS_M_PREFIX6;
	}
	return pias_err_set(e, -EINVAL, "prefix of family %u, length %u is not valid", n->family,
			    n->plen);
}

static __be32 mask_word(unsigned int plen, unsigned int word)
{
	unsigned int bits = plen > word * 32 ? plen - word * 32 : 0;

	if (bits >= 32)
		return 0xffffffffu;
	return bits ? htonl(~0u << (32 - bits)) : 0;
}

/* Rebuilds pias_anycast from the LPM maps (read back: they are the truth). */
int pias_anycast_sync(struct pias_maps *m, struct pias_err *e)
{
	struct pias_prefix4_key k4, n4;
	struct pias_prefix6_key k6, n6;
	struct pias_anycast a;
	const __u32 zero = 0;
	bool first = true;

	memset(&a, 0, sizeof(a));
	while (!bpf_map_get_next_key(m->fd[PIAS_M_PREFIX4], first ? NULL : &k4, &n4)) {
		first = false;
		k4 = n4;
		if (a.n4 >= PIAS_ANYCAST_INLINE) {
			a.n4 = PIAS_ANYCAST_MANY;
			break;
		}
		a.v4[a.n4].mask = mask_word(k4.prefixlen, 0);
		a.v4[a.n4].addr = k4.addr & a.v4[a.n4].mask;
		a.n4++;
	}
	first = true;
	while (!bpf_map_get_next_key(m->fd[PIAS_M_PREFIX6], first ? NULL : &k6, &n6)) {
		first = false;
		k6 = n6;
		if (a.n6 >= PIAS_ANYCAST_INLINE) {
			a.n6 = PIAS_ANYCAST_MANY;
			break;
		}
		for (unsigned int w = 0; w < 4; w++) {
			__be32 word;

			memcpy(&word, k6.addr + 4 * w, 4);
			a.v6[a.n6].mask[w] = mask_word(k6.prefixlen, w);
			a.v6[a.n6].addr[w] = word & a.v6[a.n6].mask[w];
		}
		a.n6++;
	}
	return pias_map_update(m, PIAS_M_ANYCAST, &zero, &a, e);
}

int pias_prefix_add(struct pias_maps *m, const struct pias_net *n, struct pias_err *e)
{
	struct pias_prefix4_key k4;
	struct pias_prefix6_key k6;
	struct pias_prefix val = {};
	const void *key = NULL;
	int idx = prefix_key(n, &k4, &k6, &key, e);

	int err;

	if (idx < 0)
		return idx;
	err = pias_map_update(m, idx, key, &val, e);
	return err ? err : pias_anycast_sync(m, e);
}

int pias_prefix_del(struct pias_maps *m, const struct pias_net *n, struct pias_err *e)
{
	char what[PIAS_ADDR_STRLEN + 16];
	struct pias_prefix4_key k4;
	struct pias_prefix6_key k6;
	const void *key = NULL;
	int idx = prefix_key(n, &k4, &k6, &key, e), err;

	if (idx < 0)
		return idx;
	snprintf(what, sizeof(what), "prefix ");
	pias_net_str(n, what + strlen(what), sizeof(what) - strlen(what));
	err = pias_map_delete(m, idx, key, what, e);
	return err ? err : pias_anycast_sync(m, e);
}
