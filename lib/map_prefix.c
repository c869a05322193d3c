// SPDX-License-Identifier: MIT
/* Anycast prefixes: the LPM maps that tell client traffic from the rest. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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

int pias_prefix_add(struct pias_maps *m, const struct pias_net *n, struct pias_err *e)
{
	struct pias_prefix4_key k4;
	struct pias_prefix6_key k6;
	struct pias_prefix val = {};
	const void *key = NULL;
	int idx = prefix_key(n, &k4, &k6, &key, e);

	if (idx < 0)
		return idx;
	return pias_map_update(m, idx, key, &val, e);
}

int pias_prefix_del(struct pias_maps *m, const struct pias_net *n, struct pias_err *e)
{
	char what[PIAS_ADDR_STRLEN + 16];
	struct pias_prefix4_key k4;
	struct pias_prefix6_key k6;
	const void *key = NULL;
	int idx = prefix_key(n, &k4, &k6, &key, e);

	if (idx < 0)
		return idx;
	snprintf(what, sizeof(what), "prefix ");
	pias_net_str(n, what + strlen(what), sizeof(what) - strlen(what));
	return pias_map_delete(m, idx, key, what, e);
}
