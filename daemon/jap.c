// SPDX-License-Identifier: MIT
/*
 * JAP registry: its calls (jap.h). Each finds what it changes in O(1),
 * tries the change in place and lets jap_change.c evaluate, commit or
 * undo it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pias/hash.h>

#include "jap_change.h"
#include "registry.h"

struct pias_jap_config pias_jap_default_config(void)
{
	return (struct pias_jap_config){
		.refresh_timeout_ns = PIAS_JAP_REFRESH_TIMEOUT_NS,
		.drain_timeout_ns = PIAS_JAP_DRAIN_TIMEOUT_NS,
		.down_expire_ns = PIAS_JAP_DOWN_EXPIRE_NS,
		.report_fraction = PIAS_JAP_REPORT_FRACTION,
		.shed_threshold = PIAS_JAP_SHED_THRESHOLD,
		.shed_hold_ns = PIAS_JAP_SHED_HOLD_NS,
	};
}

int pias_jap_init(struct pias_jap *j, const struct pias_jap_config *cfg, struct pias_err *e)
{
	struct pias_jap_config def = pias_jap_default_config();

	if (!cfg)
		cfg = &def;
	if (!cfg->refresh_timeout_ns || !cfg->drain_timeout_ns || !cfg->down_expire_ns)
		return pias_err_set(e, -EINVAL, "jap: timeouts must be positive");
	if (!(cfg->report_fraction >= 0.0))
		return pias_err_set(e, -EINVAL, "jap: report fraction %g must be >= 0",
				    cfg->report_fraction);
	if (!(cfg->shed_threshold >= 0.0 && cfg->shed_threshold < 1.0))
		return pias_err_set(e, -EINVAL, "jap: shed threshold %g is outside [0,1)",
				    cfg->shed_threshold);
	memset(j, 0, sizeof(*j));
	j->cfg = *cfg;
	j->group_max = cfg->group_max_targets ? cfg->group_max_targets : PIAS_JAP_GROUP_MAX_TARGETS;
	pias_ta_index_init(&j->index, PIAS_JAP_MAX_GROUPS, "jap");
	pias_ref_index_init(&j->eps, "jap");
	pias_ref_index_init(&j->drained_ix, "jap");
	pias_timers_init(&j->deadlines, "jap");
	pias_timers_init(&j->peaks, "jap");
	j->ids_used[0] = 1; /* id 0 is never a target */
	j->budget_cursor = -1;
	return 0;
}

void pias_jap_free(struct pias_jap *j)
{
	pias_ta_index_each(&j->index, h) jap_group_release(&j->groups[h]);
	free(j->groups);
	pias_ta_index_free(&j->index);
	free(j->where);
	pias_ref_index_free(&j->eps);
	pias_timers_free(&j->deadlines);
	pias_timers_free(&j->peaks);
	free(j->draining);
	free(j->drained);
	pias_ref_index_free(&j->drained_ix);
	free(j->ch);
	free(j->ev);
	memset(j, 0, sizeof(*j));
}

/* --- ids ------------------------------------------------------------------- */

/* The next free id from id_next on, round the id space, a word at a time; 0 if none. */
static __u32 id_next_free(const struct pias_jap *j)
{
	const __u32 words = PIAS_MAX_TARGETS / 64;
	__u32 w0 = j->id_next / 64;

	for (__u32 n = 0; n <= words; n++) {
		__u32 w = (w0 + n) % words;
		__u64 free_bits = ~j->ids_used[w];

		/* the first word is searched from id_next on, and again, whole, at the end */
		if (n == 0 && j->id_next % 64)
			free_bits &= ~0ull << (j->id_next % 64);
		if (free_bits)
			return w * 64 + (__u32)__builtin_ctzll(free_bits);
	}
	return 0;
}

/* --- lookups ---------------------------------------------------------------- */

const struct pias_jap_target *pias_jap_target(const struct pias_jap *j, __u32 id)
{
	return id && id < PIAS_MAX_TARGETS && jap_id_used(j, id) ? jap_target_at(j, id) : NULL;
}

const struct pias_jap_group *pias_jap_group_of(const struct pias_jap *j, __u32 id)
{
	return pias_jap_target(j, id) ? &j->groups[j->where[id].g] : NULL;
}

const struct pias_jap_group *pias_jap_group(const struct pias_jap *j, const struct pias_ta *ta)
{
	long h = pias_ta_index_find(&j->index, ta);

	return h >= 0 ? &j->groups[h] : NULL;
}

long pias_jap_group_place(const struct pias_jap *j, const struct pias_jap_group *g)
{
	return g - j->groups; /* its handle */
}

const struct pias_jap_group *pias_jap_group_after(const struct pias_jap *j, long at)
{
	long h = pias_ta_index_next(&j->index, at);

	return h >= 0 ? &j->groups[h] : NULL;
}

const struct pias_jap_group *pias_jap_next_group(const struct pias_jap *j,
						 const struct pias_jap_group *g)
{
	return pias_jap_group_after(j, g ? pias_jap_group_place(j, g) : -1);
}

static bool ep_eq(const struct pias_target *t, const struct pias_jap_endpoint *ep)
{
	if (t->family != ep->family || t->port != ep->port)
		return false;
	if (ep->family == PIAS_AF_INET)
		return t->addr.v4 == ep->addr.v4;
	return !memcmp(t->addr.bytes, ep->addr.bytes, sizeof(t->addr.bytes));
}

struct ep_key {
	const struct pias_jap *j;
	__u32 g;
	const struct pias_jap_endpoint *ep;
};

static bool ep_match(const void *ctx, __u32 id)
{
	const struct ep_key *k = ctx;

	return k->j->where[id].g == k->g && ep_eq(&jap_target_at(k->j, id)->t, k->ep);
}

/* The id of ep in group h, or -1. */
static long ep_find(const struct pias_jap *j, __u32 h, const struct pias_jap_endpoint *ep)
{
	struct ep_key k = { .j = j, .g = h, .ep = ep };

	return pias_ref_index_find(&j->eps, jap_ep_hash(h, &ep->addr, ep->port, ep->family),
				   ep_match, &k);
}

int pias_jap_find(const struct pias_jap *j, const struct pias_ta *ta,
		  const struct pias_jap_endpoint *ep)
{
	long h = pias_ta_index_find(&j->index, ta), id = h >= 0 ? ep_find(j, (__u32)h, ep) : -1;

	return id > 0 ? (int)id : -ENOENT;
}

/* --- the operator's drained endpoints ---------------------------------------- */

static __u32 drained_hash(const struct pias_ta *ta, const union pias_addr *a, __u16 port,
			  __u8 family)
{
	return jap_ep_hash(pias_ta_hash(ta), a, port, family);
}

struct drained_key {
	const struct pias_jap *j;
	const struct pias_ta *ta;
	const struct pias_jap_endpoint *ep;
};

static bool drained_match(const void *ctx, __u32 i)
{
	const struct drained_key *k = ctx;
	const struct pias_jap_drained *d = &k->j->drained[i];
	struct pias_target t = { .addr = d->addr, .port = d->port, .family = d->family };

	return pias_ta_eq(&d->ta, k->ta) && ep_eq(&t, k->ep);
}

/* The index of ep of ta in the drained list, or -1. */
static long drained_find(const struct pias_jap *j, const struct pias_ta *ta,
			 const struct pias_jap_endpoint *ep)
{
	struct drained_key k = { .j = j, .ta = ta, .ep = ep };

	return pias_ref_index_find(&j->drained_ix,
				   drained_hash(ta, &ep->addr, ep->port, ep->family), drained_match,
				   &k);
}

bool pias_jap_is_drained(const struct pias_jap *j, const struct pias_ta *ta,
			 const struct pias_jap_endpoint *ep)
{
	return drained_find(j, ta, ep) >= 0;
}

static __u32 drained_hash_at(const struct pias_jap *j, size_t i)
{
	const struct pias_jap_drained *d = &j->drained[i];

	return drained_hash(&d->ta, &d->addr, d->port, d->family);
}

static int drained_add(struct pias_jap *j, const struct pias_ta *ta,
		       const struct pias_jap_endpoint *ep, struct pias_err *e)
{
	int err = pias_grow((void **)&j->drained, &j->drained_cap, sizeof(*j->drained),
			    j->ndrained + 1, "jap", "drained endpoints", e);

	if (!err)
		err = pias_ref_index_reserve(&j->drained_ix, 1, e);
	if (err)
		return err;
	j->drained[j->ndrained] = (struct pias_jap_drained){
		.ta = *ta, .addr = ep->addr, .port = ep->port, .family = ep->family
	};
	pias_ref_index_put(&j->drained_ix, drained_hash_at(j, j->ndrained), (__u32)j->ndrained);
	j->ndrained++;
	return 0;
}

static void drained_del(struct pias_jap *j, size_t i)
{
	size_t last = j->ndrained - 1;

	pias_ref_index_del(&j->drained_ix, drained_hash_at(j, i), (__u32)i);
	if (i != last) {
		/* the last one takes the hole: its index entry follows (room: one was freed) */
		pias_ref_index_del(&j->drained_ix, drained_hash_at(j, last), (__u32)last);
		j->drained[i] = j->drained[last];
		pias_ref_index_put(&j->drained_ix, drained_hash_at(j, i), (__u32)i);
	}
	j->ndrained--;
}

__u64 pias_jap_refreshed_ns(const struct pias_jap *j, const struct pias_jap_target *t)
{
	/* pias_jap_hold counts every ACTIVE target as refreshed then */
	return jap_is_up(t) && j->held_ns > t->last_refresh_ns ? j->held_ns : t->last_refresh_ns;
}

/* --- the calls ------------------------------------------------------------------------ */

/*
 * g's arrays with room for need targets. A new group's start with room
 * for one and double from there: most groups are small, and 65,536 of
 * them at pias_grow's first 16 would hold 100 MiB of empty entries.
 */
static int group_grow(struct pias_jap_group *g, __u32 need, struct pias_err *e)
{
	size_t cap = g->cap, scap = g->set_cap;
	int err = 0;

	if (!g->cap) {
		g->targets = malloc(sizeof(*g->targets));
		g->set = malloc(sizeof(*g->set));
		if (!g->targets || !g->set)
			return pias_err_set(e, -ENOMEM, "jap: no memory for a group");
		cap = scap = 1;
	}
	err = pias_grow((void **)&g->targets, &cap, sizeof(*g->targets), need, "jap", "targets", e);
	g->cap = (__u32)cap;
	if (!err)
		err = pias_grow((void **)&g->set, &scap, sizeof(*g->set), need, "jap", "targets",
				e);
	g->set_cap = (__u32)scap;
	return err;
}

/* Room for target id in the JAP's lists, indexes and deadlines, and for one more group. */
static int reserve_target(struct pias_jap *j, __u32 id, bool new_group, struct pias_err *e)
{
	size_t wcap = j->where_cap, gcap = j->groups_cap;
	int err = pias_grow((void **)&j->where, &wcap, sizeof(*j->where), (size_t)id + 1, "jap",
			    "target ids", e);

	j->where_cap = wcap;
	if (!err && new_group)
		err = pias_ta_index_reserve(&j->index, 1, e);
	if (!err)
		err = pias_grow((void **)&j->groups, &gcap, sizeof(*j->groups),
				pias_ta_index_capacity(&j->index), "jap", "groups", e);
	if (!err) {
		memset(j->groups + j->groups_cap, 0, (gcap - j->groups_cap) * sizeof(*j->groups));
		j->groups_cap = gcap;
	}
	if (!err)
		err = pias_grow((void **)&j->draining, &j->draining_cap, sizeof(*j->draining),
				j->ntargets + 1, "jap", "targets", e);
	if (!err)
		err = pias_ref_index_reserve(&j->eps, 1, e);
	if (!err)
		err = pias_timers_reserve(&j->deadlines, id, e);
	/* every group may have its peak's deadline at once */
	if (!err)
		err = pias_timers_reserve_all(&j->peaks, (__u32)pias_ta_index_capacity(&j->index),
					      e);
	return err;
}

/*
 * Target id, new, appended to ta's group *h (< 0: made now, and *created),
 * blank but for its id and registration order; where[] finds it. Into *out;
 * nothing changes on failure (-ENOSPC, -ENOMEM).
 */
static int target_new(struct pias_jap *j, const struct pias_ta *ta, long *h, __u32 id,
		      bool *created, struct pias_jap_target **out, struct pias_err *e)
{
	struct pias_jap_group *g;
	int err = reserve_target(j, id, *h < 0, e);

	*created = false;
	if (err)
		return err;
	if (*h < 0) {
		*h = pias_ta_index_add(&j->index, ta, e);
		j->groups[*h] = (struct pias_jap_group){ .ta = *ta, .dial = PIAS_JAP_SHARE_FULL };
		*created = true;
	}
	g = &j->groups[*h];
	err = group_grow(g, g->count + 1, e);
	if (err) {
		if (*created)
			jap_group_delete(j, (__u32)*h);
		return err;
	}
	*out = &g->targets[g->count];
	**out = (struct pias_jap_target){ .id = id, .seq = ++j->next_seq };
	j->where[id] = (struct pias_jap_where){ .g = (__u32)*h, .pos = g->count++ };
	return 0;
}

static int check_endpoint(const struct pias_ta *ta, const struct pias_jap_endpoint *ep,
			  __u32 weight, struct pias_err *e)
{
	const char *why;
	int err = pias_registry_ta_check(ta, "jap", e);

	if (err)
		return err;
	if (ep->family != ta->family)
		return pias_err_set(e, -EINVAL, "jap: target family %u differs from TA family %u",
				    ep->family, ta->family);
	if (!weight)
		return pias_err_set(e, -EINVAL, "jap: weight 0 (drain the target instead)");
	why = pias_policy_invalid(&ep->policy, ta->family);
	if (why)
		return pias_err_set(e, -EINVAL, "jap: policy: %s", why);
	/* k copies of a TCP segment would open k connections behind one client's */
	if (ep->policy.kind == PIAS_POLICY_REPLICATE && ta->proto != PIAS_PROTO_UDP)
		return pias_err_set(e, -EINVAL, "jap: replicate is for UDP groups only");
	/* the copies are NAT'd (bpf/lib/replica.h): a tunnel-mode target would get none */
	if (ep->policy.kind == PIAS_POLICY_REPLICATE && (ep->flags & PIAS_TARGET_F_TUNNEL))
		return pias_err_set(e, -EINVAL,
				    "jap: replicate copies go to NAT-mode targets; this one is in "
				    "tunnel mode");
	if ((ep->policy.flags & PIAS_POLICY_F_QUIC) && ta->proto != PIAS_PROTO_UDP)
		return pias_err_set(e, -EINVAL, "jap: +quic is for UDP groups only");
	return 0;
}

/* What a REGISTER says of a known target: nothing new but the time? */
static bool register_is_refresh(const struct pias_jap_target *t, const struct pias_jap_endpoint *ep,
				__u32 weight)
{
	return t->t.state == PIAS_TARGET_ACTIVE && t->t.weight == weight &&
	       t->t.flags == ep->flags && t->t.tag == ep->tag &&
	       t->policy_serial == ep->policy_serial &&
	       !memcmp(&t->policy, &ep->policy, sizeof(t->policy));
}

static void register_into(struct pias_jap_target *t, const struct pias_jap_endpoint *ep,
			  __u32 weight, __u64 now)
{
	/*
	 * back from DOWN (dead, or failing its agent's check): what ejected it
	 * is over, as Envoy lets a host back when its health check passes
	 */
	if (t->t.state == PIAS_TARGET_DOWN)
		t->ejected = false;
	t->t.state = PIAS_TARGET_ACTIVE;
	t->left = false;
	t->t.weight = weight;
	t->t.flags = ep->flags;
	t->t.tag = ep->tag;
	t->policy = ep->policy;
	t->policy_serial = ep->policy_serial;
	t->last_refresh_ns = now;
}

int pias_jap_register(struct pias_jap *j, const struct pias_ta *ta,
		      const struct pias_jap_endpoint *ep, __u32 weight, __u64 now,
		      struct pias_jap_actions *acts, struct pias_err *e)
{
	long h, id = -1;
	struct pias_jap_target *t = NULL;
	bool created;
	int err = check_endpoint(ta, ep, weight, e);

	if (err)
		return err;
	h = pias_ta_index_find(&j->index, ta);
	if (h >= 0) {
		id = ep_find(j, (__u32)h, ep);
		t = id > 0 ? jap_target_at(j, (__u32)id) : NULL;
	}
	/*
	 * A target that left and registers again (its health check passes
	 * again) is back at once: the caller let the REGISTER through only if
	 * its seq is above the LEAVE's, so no copy of an older one gets here.
	 * One the operator drained stays out until undrained, and one restored
	 * DRAINING after a restart until its flows end (its LEAVE's seq is
	 * not known any more).
	 */
	if (t && t->t.state == PIAS_TARGET_DRAINING && !t->left)
		return pias_err_set(e, -EBUSY, "jap: target %u is draining", t->id);
	if (j->ndrained && drained_find(j, ta, ep) >= 0)
		return pias_err_set(e, -EBUSY,
				    "jap: the operator drained this endpoint (piasctl undrain)");
	if (t && register_is_refresh(t, ep, weight)) {
		t->last_refresh_ns = now; /* its deadline finds it when it pops */
		return (int)t->id;
	}
	jap_scratch_begin(j);
	err = jap_scratch_reserve(j, 1, 1, e);
	if (err)
		return err;
	if (t) {
		struct pias_jap_target old = *t;

		register_into(t, ep, weight, now);
		jap_change(j, (__u32)h, t->id, CH_MODIFY, &old);
		return jap_finish(j, now, acts, "register", e) ?: (int)t->id;
	}
	if (h >= 0 && j->groups[h].count >= j->group_max)
		return pias_err_set(e, -ENOSPC, "jap: TA has %u targets already", j->group_max);
	id = id_next_free(j);
	if (!id)
		return pias_err_set(e, -ENOSPC, "jap: all %d target ids in use",
				    PIAS_MAX_TARGETS - 1);
	err = target_new(j, ta, &h, (__u32)id, &created, &t, e);
	if (err)
		return err;
	if (created)
		jap_touch(j, (__u32)h, true);
	t->t.addr = ep->addr;
	t->t.port = ep->port;
	t->t.family = ep->family;
	register_into(t, ep, weight, now);
	jap_change(j, (__u32)h, (__u32)id, CH_ADD, NULL);
	err = jap_finish(j, now, acts, "register", e);
	if (err)
		return err;
	j->id_next = (__u32)(id + 1) % PIAS_MAX_TARGETS;
	return (int)id;
}

/* Group handle and target of id in ta, or -ENOENT. */
static int lookup(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u32 *h,
		  struct pias_jap_target **t, struct pias_err *e)
{
	long x = pias_ta_index_find(&j->index, ta);

	if (x < 0)
		return pias_err_set(e, -ENOENT, "jap: no targets for this TA");
	if (!id || id >= PIAS_MAX_TARGETS || !jap_id_used(j, id) || j->where[id].g != (__u32)x)
		return pias_err_set(e, -ENOENT, "jap: no target %u in this TA", id);
	*h = (__u32)x;
	*t = jap_target_at(j, id);
	return 0;
}

/* One target changed in place from old (its copy): evaluate, commit or undo. */
static int one_change(struct pias_jap *j, __u32 h, struct pias_jap_target *t,
		      const struct pias_jap_target *old, enum jap_change_kind kind, __u64 now,
		      struct pias_jap_actions *acts, const char *what, struct pias_err *e)
{
	jap_scratch_begin(j);
	if (jap_scratch_reserve(j, 1, 1, e)) {
		*t = *old;
		return -ENOMEM;
	}
	jap_change(j, h, t->id, kind, old);
	return jap_finish(j, now, acts, what, e);
}

int pias_jap_refresh(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		     struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_target *t, old;
	__u32 h;
	int err = lookup(j, ta, id, &h, &t, e);

	if (err)
		return err;
	if (t->t.state != PIAS_TARGET_DOWN) {
		t->last_refresh_ns = now; /* nothing else changes: its deadline finds it */
		return 0;
	}
	old = *t;
	t->last_refresh_ns = now;
	t->t.state = PIAS_TARGET_ACTIVE;
	return one_change(j, h, t, &old, CH_MODIFY, now, acts, "refresh", e);
}

int pias_jap_leave(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		   struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_target *t, old;
	__u32 h;
	int err = lookup(j, ta, id, &h, &t, e);

	if (err)
		return err;
	if (t->t.state == PIAS_TARGET_DRAINING)
		return 0;
	old = *t;
	if (t->t.state == PIAS_TARGET_DOWN) {
		t->t.state = PIAS_TARGET_UNUSED; /* its flows have moved already: it goes */
		return one_change(j, h, t, &old, CH_REMOVE, now, acts, "leave", e);
	}
	t->t.state = PIAS_TARGET_DRAINING;
	t->drain_start_ns = now;
	t->left = true;
	return one_change(j, h, t, &old, CH_MODIFY, now, acts, "leave", e);
}

int pias_jap_fail(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		  struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_target *t, old;
	__u32 h;
	int err = lookup(j, ta, id, &h, &t, e);

	if (err)
		return err;
	if (t->t.state == PIAS_TARGET_DOWN)
		return 0;
	old = *t;
	t->last_refresh_ns = pias_jap_refreshed_ns(j, t); /* its expiry runs from there */
	t->t.state = PIAS_TARGET_DOWN;
	return one_change(j, h, t, &old, CH_MODIFY, now, acts, "fail", e);
}

int pias_jap_eject(struct pias_jap *j, const struct pias_ta *ta, __u32 id, bool out, __u64 now,
		   struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_target *t, old;
	__u32 h;
	int err = lookup(j, ta, id, &h, &t, e);

	if (err)
		return err;
	if (t->ejected == out)
		return 0;
	old = *t;
	t->ejected = out;
	return one_change(j, h, t, &old, CH_MODIFY, now, acts, "eject", e);
}

int pias_jap_drain(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		   struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_target *t;
	struct pias_jap_endpoint ep;
	bool added = false;
	__u32 h;
	int err = lookup(j, ta, id, &h, &t, e);

	if (err)
		return err;
	ep = (struct pias_jap_endpoint){ .addr = t->t.addr,
					 .port = t->t.port,
					 .family = t->t.family };
	if (drained_find(j, ta, &ep) < 0) {
		err = drained_add(j, ta, &ep, e);
		if (err)
			return err;
		added = true;
	}
	err = pias_jap_leave(j, ta, id, now, acts, e);
	if (err && added)
		drained_del(j, j->ndrained - 1); /* all or nothing: the list as it was */
	return err;
}

int pias_jap_undrain(struct pias_jap *j, const struct pias_ta *ta,
		     const struct pias_jap_endpoint *ep, __u64 now, struct pias_jap_actions *acts,
		     struct pias_err *e)
{
	long i = drained_find(j, ta, ep), h = pias_ta_index_find(&j->index, ta);
	long id = h >= 0 ? ep_find(j, (__u32)h, ep) : -1;

	if (i < 0)
		return pias_err_set(e, -ENOENT, "jap: that endpoint is not drained here");
	if (id > 0 && jap_target_at(j, (__u32)id)->t.state == PIAS_TARGET_DRAINING) {
		struct pias_jap_target *t = jap_target_at(j, (__u32)id), old = *t;
		int err;

		t->t.state = PIAS_TARGET_ACTIVE;
		t->last_refresh_ns = now;
		err = one_change(j, (__u32)h, t, &old, CH_MODIFY, now, acts, "undrain", e);
		if (err)
			return err;
	}
	drained_del(j, (size_t)i);
	return 0;
}

int pias_jap_dial(struct pias_jap *j, const struct pias_ta *ta, __u32 permille, __u64 now,
		  struct pias_jap_actions *acts, struct pias_err *e)
{
	long h = pias_ta_index_find(&j->index, ta);
	int err;

	if (permille > PIAS_JAP_SHARE_FULL)
		return pias_err_set(e, -EINVAL, "jap: a dial is 0-100%%, not %u.%u%%",
				    permille / 10, permille % 10);
	if (h < 0)
		return pias_err_set(e, -ENOENT, "jap: no targets for this TA here");
	jap_scratch_begin(j);
	err = jap_scratch_reserve(j, 0, 1, e);
	if (err)
		return err;
	jap_touch(j, (__u32)h, false);
	j->groups[h].dial = (__u16)permille;
	return jap_finish(j, now, acts, "dial", e);
}

void pias_jap_hold(struct pias_jap *j, __u64 now)
{
	if (now > j->held_ns)
		j->held_ns = now;
}

/* --- the tick ----------------------------------------------------------------------- */

struct tick_ctx {
	struct pias_jap *j;
	__u64 now;
	pias_jap_last_reply_fn last_reply;
	void *ctx;
	struct pias_err *e;
};

/* Plan a change of target id (applied later): the state it goes to, or a new deadline. */
static int plan(struct pias_jap *j, __u32 id, enum jap_change_kind kind, __u8 to, __u64 when,
		struct pias_err *e)
{
	int err = jap_scratch_reserve(j, 1, 0, e);

	if (err)
		return err;
	j->ch[j->nch++] =
		(struct pias_jap_change){ .id = id, .kind = kind, .to = to, .when = when };
	return 0;
}

/* Target id's deadline is due: still alive (set it again), DOWN, or gone. */
static int due_target(void *arg, __u32 id, __u64 when)
{
	struct tick_ctx *x = arg;
	struct pias_jap *j = x->j;
	const struct pias_jap_target *t = jap_target_at(j, id);
	__u64 alive = pias_jap_refreshed_ns(j, t), limit = j->cfg.refresh_timeout_ns;
	__u8 next = PIAS_TARGET_DOWN;

	(void)when;
	if (t->t.state == PIAS_TARGET_DRAINING) {
		if (pias_age(x->now, t->drain_start_ns) >= j->cfg.drain_timeout_ns)
			return plan(j, id, CH_REMOVE, PIAS_TARGET_UNUSED, 0, x->e);
		return plan(j, id, CH_REARM, 0, jap_deadline(j, t), x->e);
	}
	if (t->t.state == PIAS_TARGET_DOWN) {
		limit += j->cfg.down_expire_ns;
		next = PIAS_TARGET_UNUSED;
	}
	/* the dataplane's last reply counts only when the refreshes do not do */
	if (pias_age(x->now, alive) > limit && x->last_reply) {
		__u64 r = x->last_reply(x->ctx, id);

		alive = r > alive ? r : alive;
	}
	if (pias_age(x->now, alive) <= limit)
		return plan(j, id, CH_REARM, 0, alive + limit + 1, x->e);
	return plan(j, id, next == PIAS_TARGET_UNUSED ? CH_REMOVE : CH_MODIFY, next, 0, x->e);
}

/* A group whose shedding peak lapses: looked at again (no target changes). */
static int due_peak(void *arg, __u32 h, __u64 when)
{
	struct tick_ctx *x = arg;
	int err = jap_scratch_reserve(x->j, 0, 1, x->e);

	(void)when;
	if (!err)
		jap_touch(x->j, h, false);
	return err;
}

/* DRAINING targets whose connections have ended (their drain timeout not due yet). */
static int poll_draining(struct tick_ctx *x)
{
	struct pias_jap *j = x->j;

	if (!j->cfg.conns)
		return 0;
	for (size_t i = 0; i < j->ndraining; i++) {
		__u32 id = j->draining[i];
		const struct pias_jap_target *t = jap_target_at(j, id);
		int err;

		if (pias_timers_when(&j->deadlines, id) <= x->now ||
		    j->cfg.conns(j->cfg.conns_ctx, id, t->drain_start_ns) != 0)
			continue;
		err = plan(j, id, CH_REMOVE, PIAS_TARGET_UNUSED, 0, x->e);
		if (err)
			return err;
	}
	return 0;
}

/* With a connection budget: the next 1/PIAS_JAP_BUDGET_TICKS of the groups, looked at again. */
static int budget_pass(struct tick_ctx *x, long *cursor)
{
	struct pias_jap *j = x->j;
	size_t n = (pias_jap_ngroups(j) + PIAS_JAP_BUDGET_TICKS - 1) / PIAS_JAP_BUDGET_TICKS;
	int err;

	*cursor = j->budget_cursor;
	if (!j->cfg.conn_budget || !j->cfg.conns || !n)
		return 0;
	err = jap_scratch_reserve(j, 0, n, x->e);
	if (err)
		return err;
	while (n--) {
		*cursor = pias_ta_index_next(&j->index, *cursor);
		if (*cursor < 0)
			*cursor = pias_ta_index_next(&j->index, -1);
		jap_touch(j, (__u32)*cursor, false);
	}
	return 0;
}

/* The planned changes made in place (each with its old copy), into their groups' lists. */
static void try_planned(struct pias_jap *j)
{
	size_t n = j->nch;

	for (size_t i = 0; i < n; i++) {
		struct pias_jap_change *c = &j->ch[i];
		struct pias_jap_eval *ev;
		struct pias_jap_target *t;

		if (c->kind == CH_REARM)
			continue;
		t = jap_target_at(j, c->id);
		c->old = *t;
		if (c->to == PIAS_TARGET_DOWN)
			t->last_refresh_ns =
				pias_jap_refreshed_ns(j, t); /* expiry runs from there */
		t->t.state = c->to;
		ev = jap_touch(j, j->where[c->id].g, false);
		jap_link_change(j, ev, (__u32)i);
	}
}

int pias_jap_tick(struct pias_jap *j, __u64 now, pias_jap_last_reply_fn last_reply, void *ctx,
		  struct pias_jap_actions *acts, struct pias_err *e)
{
	struct tick_ctx x = { .j = j, .now = now, .last_reply = last_reply, .ctx = ctx, .e = e };
	long cursor;
	int err;

	jap_scratch_begin(j);
	/* plan: nothing changes until everything is known */
	err = pias_timers_each_due(&j->deadlines, now, due_target, &x);
	if (!err)
		err = poll_draining(&x);
	if (!err)
		err = pias_timers_each_due(&j->peaks, now, due_peak, &x);
	if (!err)
		err = budget_pass(&x, &cursor);
	/* each change planned may touch a group more: room for them after those touched */
	if (!err)
		err = jap_scratch_reserve(j, 0, j->nch, e);
	if (err) {
		jap_untouch(j); /* nothing tried yet */
		return err;
	}
	try_planned(j);
	err = jap_finish(j, now, acts, "tick", e);
	if (!err)
		j->budget_cursor = cursor;
	return err;
}

/* --- restart ---------------------------------------------------------------------------- */

int pias_jap_restore(struct pias_jap *j, const struct pias_ta *ta, __u32 id,
		     const struct pias_target *t, const struct pias_policy *policy, __u64 now,
		     struct pias_err *e)
{
	struct pias_jap_endpoint ep = { .addr = t->addr, .port = t->port, .family = t->family };
	struct pias_jap_group *g;
	struct pias_jap_target *nt;
	bool created;
	long h;
	int err = pias_registry_ta_check(ta, "jap", e);

	if (err)
		return err;
	if (!id || id >= PIAS_MAX_TARGETS)
		return pias_err_set(e, -EINVAL, "jap: target id %u out of range", id);
	if (jap_id_used(j, id))
		return pias_err_set(e, -EEXIST, "jap: target id %u restored twice", id);
	if (t->family != ta->family || !t->weight || t->state < PIAS_TARGET_ACTIVE ||
	    t->state > PIAS_TARGET_DOWN)
		return pias_err_set(e, -EINVAL, "jap: target %u is not a valid entry", id);
	h = pias_ta_index_find(&j->index, ta);
	if (h >= 0 && j->groups[h].count >= j->group_max)
		return pias_err_set(e, -ENOSPC, "jap: TA has %u targets already", j->group_max);
	if (h >= 0 && ep_find(j, (__u32)h, &ep) >= 0)
		return pias_err_set(e, -EEXIST, "jap: target %u's endpoint is in the TA already",
				    id);
	err = target_new(j, ta, &h, id, &created, &nt, e);
	if (err)
		return err;
	nt->t = *t;
	nt->last_refresh_ns = nt->drain_start_ns = now;
	nt->policy = policy ? *policy : (struct pias_policy){ 0 };
	g = &j->groups[h];
	jap_target_link(j, (__u32)h, nt);
	g->active += jap_takes_new(nt);
	/* all serials 0: the first up one holds, or the first of all while none is up */
	if (!g->holder || (jap_is_up(nt) && !g->up))
		g->holder = id;
	g->up += jap_is_up(nt);
	/* the RAPs heard of it before the restart; the daemon re-reports anyway */
	g->reported_valid = true;
	g->reported = g->active;
	g->share = PIAS_JAP_SHARE_FULL;
	g->peak = g->reported;
	g->peak_ns = now;
	g->policy = nt->policy;
	return 0;
}
