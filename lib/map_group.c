// SPDX-License-Identifier: MIT
/* RAP state: each group's JAPs with their approximate target counts, and
 * its policy. pias_group_fill also checks an IAP's binding set. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"

int pias_group_check(const struct pias_group *g, __u8 family, struct pias_err *e)
{
	const char *why = pias_policy_invalid(&g->policy, family);

	if (why)
		return pias_err_set(e, -EINVAL, "policy: %s", why);
	if (g->count < 1 || g->count > PIAS_GROUP_MAX_JAPS)
		return pias_err_set(e, -EINVAL,
				    "a group has 1-%u JAPs, not %u (to remove a group: group del)",
				    PIAS_GROUP_MAX_JAPS, g->count);
	for (__u32 i = 0; i < g->count; i++) {
		__u32 id = g->japs[i].jap_id;

		if (id < 1 || id >= PIAS_MAX_PROXIES)
			return pias_err_set(e, -EINVAL, "JAP id %u is out of range 1-%u", id,
					    PIAS_MAX_PROXIES - 1);
		/* A repeated JAP would just get more weight, silently: say so instead. */
		for (__u32 j = 0; j < i; j++)
			if (g->japs[j].jap_id == id)
				return pias_err_set(e, -EINVAL, "JAP id %u is listed twice", id);
	}
	if (g->nscopes > PIAS_GROUP_SCOPES || (g->nscopes && g->policy.kind != PIAS_POLICY_SCOPED))
		return pias_err_set(e, -EINVAL, "%u prefixes: a scoped group has at most %u",
				    g->nscopes, PIAS_GROUP_SCOPES);
	for (__u32 i = 0; i < g->nscopes; i++) {
		const struct pias_group_scope *sc = &g->scopes[i];

		if (!sc->japs || (g->count < 32 && sc->japs >> g->count))
			return pias_err_set(e, -EINVAL, "prefix %u names JAPs 0x%x of %u", i,
					    sc->japs, g->count);
		if (!pias_prefix_clean(sc->prefix.v6, g->policy.scope_len, family))
			return pias_err_set(e, -EINVAL,
					    "prefix %u is not a /%u with host bits zero", i,
					    g->policy.scope_len);
	}
	return 0;
}

int pias_group_fill(struct pias_group *g, const struct pias_group_jap *japs, size_t n,
		    const struct pias_policy *policy, __u8 family, struct pias_err *e)
{
	memset(g, 0, sizeof(*g));
	if (n > PIAS_GROUP_MAX_JAPS)
		return pias_err_set(e, -EINVAL, "a group has 1-%u JAPs, not %zu",
				    PIAS_GROUP_MAX_JAPS, n);
	memcpy(g->japs, japs, n * sizeof(*japs));
	g->count = (__u32)n;
	if (policy)
		g->policy = *policy;
	return pias_group_check(g, family, e);
}

int pias_group_put(struct pias_maps *m, const struct pias_ta *ta, const struct pias_group *g,
		   struct pias_err *e)
{
	struct pias_group v = *g;
	int err = pias_ta_check(ta, e);

	if (!err)
		err = pias_group_check(&v, ta->family, e);
	if (err)
		return err;
	v.slot = pias_group_slot_take(m, ta);
	return pias_map_update(m, PIAS_M_GROUPS, ta, &v, e);
}

int pias_groups_put_many(struct pias_maps *m, const struct pias_ta *tas, const struct pias_group *g,
			 size_t n, struct pias_err *e)
{
	struct pias_group *v = n ? malloc(n * sizeof(*v)) : NULL;
	int err = 0;

	if (n && !v)
		return pias_err_set(e, -ENOMEM, "writing %zu groups: out of memory", n);
	for (size_t i = 0; i < n && !err; i++) {
		v[i] = g[i];
		err = pias_ta_check(&tas[i], e);
		if (!err)
			err = pias_group_check(&v[i], tas[i].family, e);
	}
	/* slots only once all are checked: a bad group takes none */
	for (size_t i = 0; i < n && !err; i++)
		v[i].slot = pias_group_slot_take(m, &tas[i]);
	if (!err)
		err = pias_map_update_many(m, PIAS_M_GROUPS, tas, v, n, e);
	free(v);
	return err;
}

int pias_group_set(struct pias_maps *m, const struct pias_ta *ta, const struct pias_group_jap *japs,
		   size_t n, struct pias_err *e)
{
	return pias_group_set_policy(m, ta, japs, n, NULL, e);
}

int pias_group_set_policy(struct pias_maps *m, const struct pias_ta *ta,
			  const struct pias_group_jap *japs, size_t n,
			  const struct pias_policy *policy, struct pias_err *e)
{
	struct pias_group g;
	int err = pias_ta_check(ta, e);

	if (!err)
		err = pias_group_fill(&g, japs, n, policy, ta->family, e);
	return err ? err : pias_group_put(m, ta, &g, e);
}

int pias_group_del(struct pias_maps *m, const struct pias_ta *ta, struct pias_err *e)
{
	char what[PIAS_ADDR_STRLEN + 16] = "group ";

	int err;

	pias_ta_str(ta, what + strlen(what), sizeof(what) - strlen(what));
	err = pias_map_delete(m, PIAS_M_GROUPS, ta, what, e);
	if (!err)
		pias_group_slot_release(m, ta);
	return err;
}

void pias_groups_del_many(struct pias_maps *m, const struct pias_ta *tas, size_t n)
{
	pias_map_delete_many(m, PIAS_M_GROUPS, tas, n);
	for (size_t i = 0; i < n; i++)
		pias_group_slot_release(m, &tas[i]);
}
