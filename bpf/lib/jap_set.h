/* SPDX-License-Identifier: MIT */
/*
 * A JAP for a new flow, out of a weighted set of a group's JAPs: the RAP's
 * group (pias_groups, for a first packet it relays) or an IAP's binding
 * set (pias_bind_sets, when the RAP bound it to several JAPs: a random
 * group, or a JAP whose share is dialled or shed; docs/design.md).
 */
#ifndef PIAS_BPF_JAP_SET_H
#define PIAS_BPF_JAP_SET_H

#include "context.h"
#include <pias/pick.h>

enum {
	PIAS_SET_RAP = 0,
	PIAS_SET_IAP = 1
};

#define PICK_NO_GROUP	  (-1)
#define PICK_SET_NO_SCOPE (-2) /* scoped strict: no JAP has a target in the client's prefix */

static __always_inline int rap_jap_ok(const struct pias_group_jap *j, __u32 excl)
{
	return j->weight && j->jap_id != excl && proxy_up(j->jap_id);
}

/* Which of a group's JAPs may take a new flow (bpf_loop). */
struct jap_usable {
	const struct pias_group *g;
	__u32 excl;
	__u32 weighted; /* JAPs with weight, usable or not */
	__u32 usable;	/* bit i: japs[i] is up, has weight and is not excluded */
	__u32 pad;
};

/* One JAP per call; a bpf_loop callback so the verifier checks it once. */
static long jap_usable_one(__u64 i, void *arg)
{
	struct jap_usable *u = arg;
	const struct pias_group_jap *j;

	if (i >= PIAS_GROUP_MAX_JAPS || i >= u->g->count)
		return 1;
	j = &u->g->japs[i];
	if (j->weight)
		u->weighted++;
	if (rap_jap_ok(j, u->excl))
		u->usable |= 1u << i;
	return 0;
}

/* State of the search for the client's prefix among a group's (bpf_loop). */
struct scope_scan {
	const struct pias_group *g;
	const union pias_addr *client;
	__u32 japs; /* the prefix found: its JAPs; 0: none */
	__u32 pad;
};

static long scope_scan_one(__u64 i, void *arg)
{
	struct scope_scan *s = arg;
	const struct pias_group_scope *sc;

	if (i >= PIAS_GROUP_SCOPES || i >= s->g->nscopes)
		return 1;
	sc = &s->g->scopes[i];
	if (!pias_prefix_match(s->client, &sc->prefix, s->g->policy.scope_len))
		return 0;
	s->japs = sc->japs;
	return 1;
}

/*
 * The JAP for this flow of group ta, from the RAP's group (PIAS_SET_RAP) or
 * the IAP's binding set (PIAS_SET_IAP): its id, 0 if no JAP is left (down
 * or excluded), PICK_NO_GROUP (unknown, or no JAP with weight > 0), or
 * PICK_SET_NO_SCOPE. Weighted by the flow's hash, so a flow's packets
 * agree (pias_pick_jap_in, include/pias/pick.h); random draws afresh;
 * scoped, among the JAPs with a target in the client's prefix (none: any,
 * or none when strict). A global subprogram, verified once.
 */
__noinline int pias_pick_jap(const struct pias_ta *ta, __u32 hash, __u32 excl, __u32 which,
			     const union pias_addr *client)
{
	struct jap_usable u = {};
	__u32 japs = ~0u;
	int i;

	if (!ta || !client)
		return 0;
	u.g = bpf_map_lookup_elem(
		which == PIAS_SET_IAP ? (void *)&pias_bind_sets : (void *)&pias_groups, ta);
	if (!u.g || !u.g->count)
		return PICK_NO_GROUP;
	/* random: a fresh draw per flow, not the flow's hash */
	if (u.g->policy.kind == PIAS_POLICY_RANDOM)
		hash = bpf_get_prandom_u32();
	if (u.g->policy.kind == PIAS_POLICY_SCOPED && u.g->nscopes) {
		struct scope_scan sc = { .g = u.g, .client = client };

		bpf_loop(PIAS_GROUP_SCOPES, scope_scan_one, &sc, 0);
		if (sc.japs)
			japs = sc.japs;
		else if (u.g->policy.flags & PIAS_POLICY_F_STRICT)
			return PICK_SET_NO_SCOPE;
	}
	u.excl = excl;
	bpf_loop(PIAS_GROUP_MAX_JAPS, jap_usable_one, &u, 0);
	if (!u.weighted)
		return PICK_NO_GROUP; /* no JAP reports a target: no group here */
	i = pias_pick_jap_in(u.g, hash, u.usable & japs);
	if (i < 0 || i >= PIAS_GROUP_MAX_JAPS)
		return 0;
	return u.g->japs[i].jap_id;
}

#endif
