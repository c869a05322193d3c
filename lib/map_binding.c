// SPDX-License-Identifier: MIT
/* IAP state: bindings (TA -> JAP) and the per-flow table behind them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <pias/hash.h>

#include "maps.h"

static __u64 expiry(__u32 ttl_s)
{
	return ttl_s ? pias_now_ns() + (__u64)ttl_s * 1000000000ull : 0;
}

int pias_binding_put(struct pias_maps *m, const struct pias_ta *ta, const struct pias_binding *b,
		     const struct pias_group *set, struct pias_err *e)
{
	struct pias_binding v = *b;
	struct pias_group g;
	int err = pias_ta_check(ta, e);

	if (err)
		return err;
	v.flags &= ~PIAS_BINDING_F_SET;
	if (set && set->count) {
		g = *set;
		err = pias_group_check(&g, ta->family, e);
		if (err)
			return err;
		/* the set before the binding that points at it */
		g.slot = pias_group_slot_take(m, ta);
		err = pias_map_update(m, PIAS_M_BIND_SETS, ta, &g, e);
		if (err)
			return err;
		v.flags |= PIAS_BINDING_F_SET;
	}
	v.slot = pias_group_slot_take(m, ta);
	err = pias_map_update(m, PIAS_M_BINDINGS, ta, &v, e);
	/* a set no binding points at any more: its memory back (none: fine) */
	if (!err && !(v.flags & PIAS_BINDING_F_SET))
		bpf_map_delete_elem(m->fd[PIAS_M_BIND_SETS], ta);
	return err;
}

int pias_bindings_put_many(struct pias_maps *m, const struct pias_ta *tas,
			   const struct pias_binding *b, const struct pias_group *sets, size_t n,
			   struct pias_err *e)
{
	struct pias_binding *v = n ? malloc(n * sizeof(*v)) : NULL;
	struct pias_group *g = n ? malloc(n * sizeof(*g)) : NULL;
	struct pias_ta *set_tas = n ? malloc(n * sizeof(*set_tas)) : NULL,
		       *bare_tas = n ? malloc(n * sizeof(*bare_tas)) : NULL;
	size_t nsets = 0, nbare = 0;
	int err = 0;

	if (n && !(v && g && set_tas && bare_tas))
		err = pias_err_set(e, -ENOMEM, "writing %zu bindings: out of memory", n);
	for (size_t i = 0; i < n && !err; i++) {
		v[i] = b[i];
		v[i].flags &= ~PIAS_BINDING_F_SET;
		err = pias_ta_check(&tas[i], e);
		if (err || !sets || !sets[i].count) {
			bare_tas[nbare++] = tas[i];
			continue;
		}
		g[nsets] = sets[i];
		set_tas[nsets] = tas[i];
		err = pias_group_check(&g[nsets++], tas[i].family, e);
		v[i].flags |= PIAS_BINDING_F_SET;
	}
	for (size_t i = 0; i < nsets && !err; i++)
		g[i].slot = pias_group_slot_take(m, &set_tas[i]);
	for (size_t i = 0; i < n && !err; i++)
		v[i].slot = pias_group_slot_take(m, &tas[i]);
	/* the sets before the bindings that point at them, as pias_binding_put */
	if (!err)
		err = pias_map_update_many(m, PIAS_M_BIND_SETS, set_tas, g, nsets, e);
	if (!err)
		err = pias_map_update_many(m, PIAS_M_BINDINGS, tas, v, n, e);
	if (!err)
		pias_map_delete_many(m, PIAS_M_BIND_SETS, bare_tas, nbare);
	free(v);
	free(g);
	free(set_tas);
	free(bare_tas);
	return err;
}

static int put(struct pias_maps *m, const struct pias_ta *ta, const struct pias_binding *b,
	       struct pias_err *e)
{
	return pias_binding_put(m, ta, b, NULL, e);
}

int pias_binding_set(struct pias_maps *m, const struct pias_ta *ta, __u32 jap_id, __u32 generation,
		     __u32 ttl_s, struct pias_err *e)
{
	struct pias_binding b;

	if (jap_id < 1 || jap_id >= PIAS_MAX_PROXIES)
		return pias_err_set(e, -EINVAL, "JAP id %u is out of range 1-%u", jap_id,
				    PIAS_MAX_PROXIES - 1);
	memset(&b, 0, sizeof(b));
	b.jap_id = jap_id;
	b.generation = generation;
	b.expires_ns = expiry(ttl_s);
	return put(m, ta, &b, e);
}

int pias_binding_set_japs(struct pias_maps *m, const struct pias_ta *ta,
			  const struct pias_group_jap *japs, size_t n,
			  const struct pias_policy *policy, __u32 generation, __u32 ttl_s,
			  struct pias_err *e)
{
	struct pias_binding b;
	struct pias_group g;
	int err = pias_ta_check(ta, e);

	if (!err)
		err = pias_group_fill(&g, japs, n, policy, ta->family, e);
	if (err)
		return err;
	memset(&b, 0, sizeof(b));
	b.jap_id = japs[0].jap_id;
	b.generation = generation;
	b.expires_ns = expiry(ttl_s);
	/* one JAP and nothing to draw: the plain binding, no set */
	return pias_binding_put(m, ta, &b,
				n == 1 && g.policy.kind != PIAS_POLICY_RANDOM ? NULL : &g, e);
}

int pias_binding_set_negative(struct pias_maps *m, const struct pias_ta *ta, __u32 ttl_s,
			      struct pias_err *e)
{
	struct pias_binding b;

	memset(&b, 0, sizeof(b));
	b.flags = PIAS_BINDING_F_NEGATIVE;
	b.expires_ns = expiry(ttl_s);
	return put(m, ta, &b, e);
}

int pias_binding_set_local(struct pias_maps *m, const struct pias_ta *ta, struct pias_err *e)
{
	struct pias_binding b;

	memset(&b, 0, sizeof(b));
	b.flags = PIAS_BINDING_F_LOCAL;
	return put(m, ta, &b, e);
}

int pias_binding_del(struct pias_maps *m, const struct pias_ta *ta, struct pias_err *e)
{
	char what[PIAS_ADDR_STRLEN + 16] = "binding for ";

	int err;

	pias_ta_str(ta, what + strlen(what), sizeof(what) - strlen(what));
	err = pias_map_delete(m, PIAS_M_BINDINGS, ta, what, e);
	if (!err) {
		bpf_map_delete_elem(m->fd[PIAS_M_BIND_SETS], ta);
		pias_group_slot_release(m, ta);
	}
	return err;
}

void pias_bindings_del_many(struct pias_maps *m, const struct pias_ta *tas, size_t n)
{
	pias_map_delete_many(m, PIAS_M_BINDINGS, tas, n);
	pias_map_delete_many(m, PIAS_M_BIND_SETS, tas, n);
	for (size_t i = 0; i < n; i++)
		pias_group_slot_release(m, &tas[i]);
}

int pias_flows_clear(struct pias_maps *m, struct pias_err *e)
{
	return pias_map_clear(m, PIAS_M_FLOWS, e);
}

int pias_flow_pin(struct pias_maps *m, const struct pias_flow *f, __u32 jap_id, __u8 ct,
		  struct pias_err *e)
{
	struct pias_ta ta = pias_flow_ta(f);
	struct pias_flow_entry fe;
	struct pias_binding b;
	struct timespec ts;
	int err = pias_ta_check(&ta, e);

	if (err)
		return err;
	if (jap_id < 1 || jap_id >= PIAS_MAX_PROXIES)
		return pias_err_set(e, -EINVAL, "JAP id %u is out of range 1-%u", jap_id,
				    PIAS_MAX_PROXIES - 1);
	if (f->pad)
		return pias_err_set(e, -EINVAL, "not a client's flow as the dataplane keys it");
	memset(&fe, 0, sizeof(fe));
	/* the group's counters and generation, as a flow the binding began */
	if (!bpf_map_lookup_elem(m->fd[PIAS_M_BINDINGS], &ta, &b)) {
		fe.generation = b.generation;
		fe.slot = b.slot;
	}
	/* the dataplane's clock for flow entries (bpf_ktime_get_coarse_ns) */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	fe.jap_id = jap_id;
	fe.tun_sport = pias_tun_sport(f);
	fe.ct = ct & PIAS_CT_KNOWN;
	fe.last_ns = fe.created_ns = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	return pias_map_update(m, PIAS_M_FLOWS, f, &fe, e);
}
