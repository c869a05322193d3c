// SPDX-License-Identifier: MIT
/*
 * RAP registry. As in jap.c, every input works on a copy of the affected
 * group; the actions are the diff between the old and the new published
 * group, and the copy is committed only when all the actions fit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pias/hash.h>

#include "rap_registry.h"

int pias_rap_init(struct pias_rap *r, const struct pias_rap_config *cfg, struct pias_err *e)
{
	struct pias_rap_config def = {
		.binding_ttl_ns = PIAS_RAP_BINDING_TTL_NS,
		.negative_ttl_ns = PIAS_RAP_NEGATIVE_TTL_NS,
		.report_expiry_ns = PIAS_RAP_REPORT_EXPIRY_NS,
		.bind_interval_ns = PIAS_RAP_BIND_INTERVAL_NS,
		.alpha = 0.0,
		.provisional_ttl_ns = PIAS_RAP_PROVISIONAL_TTL_NS,
	};

	if (!cfg)
		cfg = &def;
	if (!cfg->binding_ttl_ns || !cfg->negative_ttl_ns || !cfg->report_expiry_ns)
		return pias_err_set(e, -EINVAL, "rap: TTLs and report expiry must be positive");
	if (!(cfg->alpha >= 0.0 && cfg->alpha <= 1.0))
		return pias_err_set(e, -EINVAL, "rap: alpha %g is outside [0,1]", cfg->alpha);
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	if (!r->cfg.provisional_ttl_ns)
		r->cfg.provisional_ttl_ns = PIAS_RAP_PROVISIONAL_TTL_NS;
	r->sent = calloc(PIAS_RAP_SENT_SETS * PIAS_RAP_SENT_WAYS, sizeof(*r->sent));
	if (!r->sent)
		return pias_err_set(e, -ENOMEM, "rap: no memory for the rate limiter");
	return 0;
}

void pias_rap_free(struct pias_rap *r)
{
	free(r->groups);
	free(r->sent);
	r->groups = NULL;
	r->sent = NULL;
	r->ngroups = r->cap = 0;
}

static bool ta_eq(const struct pias_ta *a, const struct pias_ta *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static struct pias_rap_group *group_find(const struct pias_rap *r, const struct pias_ta *ta)
{
	for (size_t i = 0; i < r->ngroups; i++)
		if (ta_eq(&r->groups[i].ta, ta))
			return &r->groups[i];
	return NULL;
}

const struct pias_rap_group *pias_rap_group(const struct pias_rap *r, const struct pias_ta *ta)
{
	return group_find(r, ta);
}

static int check_ta(const struct pias_ta *ta, struct pias_err *e)
{
	if (ta->family != PIAS_AF_INET && ta->family != PIAS_AF_INET6)
		return pias_err_set(e, -EINVAL, "rap: TA family %u is neither 4 nor 6", ta->family);
	return 0;
}

static int report_cmp(const void *a, const void *b)
{
	const struct pias_rap_report *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->jap_id < y->jap_id ? -1 : x->jap_id > y->jap_id;
}

/* g's published group from its reports: count > 0, largest first, at most 16. */
static void group_publish(struct pias_rap_group *g)
{
	struct pias_rap_report s[PIAS_RAP_MAX_REPORTS];
	__u32 n = 0;

	for (__u32 i = 0; i < g->nreports; i++)
		if (g->reports[i].count)
			s[n++] = g->reports[i];
	qsort(s, n, sizeof(s[0]), report_cmp);
	memset(&g->g, 0, sizeof(g->g));
	g->omitted = n > PIAS_GROUP_MAX_JAPS ? n - PIAS_GROUP_MAX_JAPS : 0;
	for (__u32 i = 0; i < n && i < PIAS_GROUP_MAX_JAPS; i++)
		g->g.japs[g->g.count++] =
			(struct pias_group_jap){ .jap_id = s[i].jap_id, .weight = s[i].count };
}

static int group_index(const struct pias_group *g, __u32 jap_id)
{
	for (__u32 i = 0; i < g->count; i++)
		if (g->japs[i].jap_id == jap_id)
			return (int)i;
	return -1;
}

static bool same_set(const struct pias_group *a, const struct pias_group *b)
{
	if (a->count != b->count)
		return false;
	for (__u32 i = 0; i < a->count; i++)
		if (group_index(b, a->japs[i].jap_id) < 0)
			return false;
	return true;
}

/* Publish new and diff it against old (NULL: absent): 0 or 1 action into *out. */
static size_t group_diff(const struct pias_rap_group *old, struct pias_rap_group *new,
			 struct pias_rap_action *out)
{
	struct pias_group none = { 0 };
	const struct pias_group *og = old ? &old->g : &none;
	__u32 oomit = old ? old->omitted : 0;

	group_publish(new);
	if (!new->g.count && og->count) {
		*out = (struct pias_rap_action){ .kind = PIAS_RAP_GROUP_DEL, .ta = new->ta };
		return 1;
	}
	if (new->g.count && (memcmp(og, &new->g, sizeof(*og)) || oomit != new->omitted)) {
		*out = (struct pias_rap_action){ .kind = PIAS_RAP_GROUP_SET,
						 .ta = new->ta,
						 .omitted = new->omitted,
						 .group = new->g };
		return 1;
	}
	return 0;
}

/*
 * Replace *slot (NULL: a new group, room reserved) with new, published: a
 * new generation if its JAP set changed; a group without reports dropped.
 */
static void group_commit(struct pias_rap *r, struct pias_rap_group *slot,
			 struct pias_rap_group *new)
{
	struct pias_group none = { 0 };

	if (new->g.count && !same_set(slot ? &slot->g : &none, &new->g))
		new->generation = ++r->next_generation;
	if (!slot)
		slot = &r->groups[r->ngroups++];
	if (new->nreports) {
		*slot = *new;
	} else {
		*slot = r->groups[r->ngroups - 1];
		r->ngroups--;
	}
}

static int group_apply(struct pias_rap *r, struct pias_rap_group *slot, struct pias_rap_group *new,
		       struct pias_rap_actions *acts, struct pias_err *e)
{
	struct pias_rap_action out;
	size_t n = group_diff(slot, new, &out);

	if (n > acts->cap - acts->n)
		return pias_err_set(e, -ENOBUFS, "rap: %zu actions, room for %zu", n,
				    acts->cap - acts->n);
	if (n)
		acts->a[acts->n++] = out;
	group_commit(r, slot, new);
	return 0;
}

int pias_rap_report(struct pias_rap *r, const struct pias_ta *ta, __u32 jap_id, __u32 count,
		    __u64 seq, __u64 now, struct pias_rap_actions *acts, struct pias_err *e)
{
	struct pias_rap_group *slot, new;
	struct pias_rap_report *rep = NULL;
	int err = check_ta(ta, e);

	if (err)
		return err;
	if (!jap_id)
		return pias_err_set(e, -EINVAL, "rap: JAP id 0");
	slot = group_find(r, ta);
	if (slot)
		new = *slot;
	else
		new = (struct pias_rap_group){ .ta = *ta };
	for (__u32 i = 0; i < new.nreports && !rep; i++)
		if (new.reports[i].jap_id == jap_id)
			rep = &new.reports[i];
	if (rep && seq <= rep->seq)
		return 0; /* stale or duplicate */
	if (!rep) {
		if (new.nreports == PIAS_RAP_MAX_REPORTS) {
			if (!count)
				return 0; /* nothing to remove, no room to remember the seq */
			return pias_err_set(e, -ENOSPC, "rap: TA has %d JAPs already",
					    PIAS_RAP_MAX_REPORTS);
		}
		rep = &new.reports[new.nreports++];
		rep->jap_id = jap_id;
	}
	rep->count = count;
	rep->seq = seq;
	rep->last_report_ns = now;
	if (!slot && r->ngroups == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct pias_rap_group *g = realloc(r->groups, cap * sizeof(*g));

		if (!g)
			return pias_err_set(e, -ENOMEM, "rap: no memory for %zu groups", cap);
		r->groups = g;
		r->cap = cap;
	}
	return group_apply(r, slot, &new, acts, e);
}

static __u64 age(__u64 now, __u64 then)
{
	return now > then ? now - then : 0;
}

/* Drop reports of jap_id (non-zero), or, with jap_id 0, the expired ones. */
static void group_filter(const struct pias_rap *r, struct pias_rap_group *g, __u32 jap_id,
			 __u64 now)
{
	__u32 n = 0;

	for (__u32 i = 0; i < g->nreports; i++) {
		const struct pias_rap_report *rep = &g->reports[i];
		bool drop = jap_id ? rep->jap_id == jap_id
				   : age(now, rep->last_report_ns) > r->cfg.report_expiry_ns;

		if (!drop)
			g->reports[n++] = *rep;
	}
	g->nreports = n;
}

/* Filter every group; all actions or none. */
static int filter_all(struct pias_rap *r, __u32 jap_id, __u64 now, struct pias_rap_actions *acts,
		      struct pias_err *e)
{
	struct pias_rap_action out;
	size_t need = 0;

	for (size_t i = 0; i < r->ngroups; i++) {
		struct pias_rap_group new = r->groups[i];

		group_filter(r, &new, jap_id, now);
		need += group_diff(&r->groups[i], &new, &out);
	}
	if (need > acts->cap - acts->n)
		return pias_err_set(e, -ENOBUFS, "rap: %zu actions, room for %zu", need,
				    acts->cap - acts->n);
	/* A dropped group is replaced by the last: revisit i. */
	for (size_t i = 0; i < r->ngroups;) {
		struct pias_rap_group new = r->groups[i];
		size_t before = r->ngroups;

		group_filter(r, &new, jap_id, now);
		group_apply(r, &r->groups[i], &new, acts, NULL);
		if (r->ngroups == before)
			i++;
	}
	return 0;
}

int pias_rap_jap_dead(struct pias_rap *r, __u32 jap_id, __u64 now, struct pias_rap_actions *acts,
		      struct pias_err *e)
{
	if (!jap_id)
		return pias_err_set(e, -EINVAL, "rap: JAP id 0");
	return filter_all(r, jap_id, now, acts, e);
}

int pias_rap_tick(struct pias_rap *r, __u64 now, struct pias_rap_actions *acts, struct pias_err *e)
{
	/* rate-limit records need no sweeping: a stale one is only an old time */
	return filter_all(r, 0, now, acts, e);
}

/* The ways of (iap_id, ta)'s set in the rate limiter's table. */
static struct pias_rap_sent *sent_set(const struct pias_rap *r, __u32 iap_id,
				      const struct pias_ta *ta)
{
	__u32 h = pias_final(pias_mix(pias_ta_hash(ta), iap_id), 24);

	return &r->sent[(h & (PIAS_RAP_SENT_SETS - 1)) * PIAS_RAP_SENT_WAYS];
}

static struct pias_rap_sent *sent_find(const struct pias_rap *r, __u32 iap_id,
				       const struct pias_ta *ta)
{
	struct pias_rap_sent *set = sent_set(r, iap_id, ta);

	for (int w = 0; w < PIAS_RAP_SENT_WAYS; w++)
		if (set[w].iap_id == iap_id && ta_eq(&set[w].ta, ta))
			return &set[w];
	return NULL;
}

/*
 * Where to record (iap_id, ta): a free way, else the oldest. Evicting a
 * record costs at most one binding sent again sooner than the interval.
 */
static struct pias_rap_sent *sent_victim(const struct pias_rap *r, __u32 iap_id,
					 const struct pias_ta *ta)
{
	struct pias_rap_sent *set = sent_set(r, iap_id, ta), *old = &set[0];

	for (int w = 0; w < PIAS_RAP_SENT_WAYS; w++) {
		if (!set[w].iap_id)
			return &set[w];
		if (set[w].at_ns < old->at_ns)
			old = &set[w];
	}
	return old;
}

static int append(struct pias_rap_actions *acts, const struct pias_rap_action *a,
		  struct pias_err *e)
{
	if (acts->n >= acts->cap)
		return pias_err_set(e, -ENOBUFS, "rap: 1 action, room for 0");
	acts->a[acts->n++] = *a;
	return 0;
}

/* SEND_BINDING iap_id: g's ta -> jap_id; limited: subject to the rate limit. */
static int send_binding(struct pias_rap *r, const struct pias_rap_group *g, __u32 iap_id,
			__u32 jap_id, bool limited, __u64 lifetime_ns, __u64 now,
			struct pias_rap_actions *acts, struct pias_err *e)
{
	struct pias_rap_sent *s = sent_find(r, iap_id, &g->ta);
	struct pias_rap_action a = { .kind = PIAS_RAP_SEND_BINDING,
				     .ta = g->ta,
				     .iap_id = iap_id,
				     .jap_id = jap_id,
				     .generation = g->generation,
				     .lifetime_ns = lifetime_ns };
	int err;

	if (limited && s && s->jap_id == jap_id && s->generation == g->generation &&
	    age(now, s->at_ns) < r->cfg.bind_interval_ns)
		return 0;
	err = append(acts, &a, e);
	if (err)
		return err;
	if (!s)
		s = sent_victim(r, iap_id, &g->ta);
	*s = (struct pias_rap_sent){ .ta = g->ta,
				     .iap_id = iap_id,
				     .jap_id = jap_id,
				     .generation = g->generation,
				     .at_ns = now };
	return 0;
}

void pias_rap_ring_changed(struct pias_rap *r, __u64 now)
{
	r->settle_until_ns = now + PIAS_RAP_REPORT_PERIOD_NS;
}

static int send_negative(struct pias_rap *r, const struct pias_rap_group *g,
			 const struct pias_ta *ta, __u32 iap_id, __u64 now,
			 struct pias_rap_actions *acts, struct pias_err *e)
{
	struct pias_rap_action a = { .kind = PIAS_RAP_SEND_NEGATIVE,
				     .ta = *ta,
				     .iap_id = iap_id,
				     .generation = g ? g->generation : 0,
				     .lifetime_ns = r->cfg.negative_ttl_ns };

	if (now < r->settle_until_ns && a.lifetime_ns > PIAS_RAP_SETTLE_NEGATIVE_TTL_NS)
		a.lifetime_ns = PIAS_RAP_SETTLE_NEGATIVE_TTL_NS;
	return append(acts, &a, e);
}

/*
 * Each JAP's RTT from iap_id into rtts (0: unknown; the IAP itself 1 ns);
 * returns the smallest known, 0 if none is.
 */
static __u64 jap_rtts(const struct pias_rap_group *g, __u32 iap_id, pias_rap_rtt_fn rtt, void *ctx,
		      __u64 rtts[PIAS_GROUP_MAX_JAPS])
{
	__u64 rmin = 0;

	for (__u32 i = 0; i < g->g.count; i++) {
		__u32 jap = g->g.japs[i].jap_id;

		rtts[i] = jap == iap_id ? 1 : rtt(ctx, iap_id, jap);
		if (rtts[i] && (!rmin || rtts[i] < rmin))
			rmin = rtts[i];
	}
	return rmin;
}

int pias_rap_bound(struct pias_rap *r, __u32 iap_id, const struct pias_ta *ta, __u32 jap_id,
		   pias_rap_rtt_fn rtt, void *ctx, __u64 now, struct pias_rap_actions *acts,
		   struct pias_err *e)
{
	const struct pias_rap_group *g = group_find(r, ta);
	__u64 rtts[PIAS_GROUP_MAX_JAPS], rmin, ttl = r->cfg.binding_ttl_ns;
	int i;

	if (!g || (i = group_index(&g->g, jap_id)) < 0)
		return pias_err_set(e, -ENOENT, "rap: JAP %u is not in this TA's group", jap_id);
	if (rtt && r->cfg.alpha > 0) {
		rmin = jap_rtts(g, iap_id, rtt, ctx, rtts);
		if (rmin && rtts[i] != rmin && r->cfg.provisional_ttl_ns < ttl)
			ttl = r->cfg.provisional_ttl_ns;
	}
	return send_binding(r, g, iap_id, jap_id, true, ttl, now, acts, e);
}

/* The index in g->g (count > 0) selected by rnd; see rap_registry.h. */
static __u32 pick(const struct pias_rap *r, const struct pias_rap_group *g, __u32 iap_id,
		  pias_rap_rtt_fn rtt, void *ctx, __u32 rnd)
{
	__u64 rtts[PIAS_GROUP_MAX_JAPS] = { 0 }, rmin = 0;
	double total = 0, alpha = rtt ? r->cfg.alpha : 0.0, u = rnd / 4294967296.0, acc = 0;
	__u32 nnear = 0, last = 0;

	for (__u32 i = 0; i < g->g.count; i++)
		total += g->g.japs[i].weight;
	if (alpha > 0)
		rmin = jap_rtts(g, iap_id, rtt, ctx, rtts);
	for (__u32 i = 0; i < g->g.count; i++)
		nnear += rmin && rtts[i] == rmin;
	if (!nnear)
		alpha = 0.0;
	if (total <= 0)
		return 0; /* not reached: published groups hold weights above 0 */
	for (__u32 i = 0; i < g->g.count; i++) {
		double p = (1.0 - alpha) * g->g.japs[i].weight / total;

		if (nnear && rtts[i] == rmin)
			p += alpha / nnear;
		if (p <= 0)
			continue;
		acc += p;
		last = i;
		if (u < acc)
			return i;
	}
	return last; /* rounding: u beyond the sum */
}

/* splitmix64's finaliser: a well-spread value from iap_id. */
static __u32 mix(__u64 x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (__u32)((x ^ (x >> 31)) >> 32);
}

int pias_rap_no_group(struct pias_rap *r, __u32 iap_id, const struct pias_ta *ta, __u64 now,
		      struct pias_rap_actions *acts, struct pias_err *e)
{
	const struct pias_rap_group *g = group_find(r, ta);

	if (!g || !g->g.count)
		return send_negative(r, g, ta, iap_id, now, acts, e);
	return send_binding(r, g, iap_id,
			    g->g.japs[pick(r, g, iap_id, NULL, NULL, mix(iap_id))].jap_id, true,
			    r->cfg.binding_ttl_ns, now, acts, e);
}

int pias_rap_query(struct pias_rap *r, __u32 iap_id, const struct pias_ta *ta, pias_rap_rtt_fn rtt,
		   void *ctx, __u32 rnd, __u64 now, struct pias_rap_actions *acts,
		   struct pias_err *e)
{
	const struct pias_rap_group *g = group_find(r, ta);

	if (!g || !g->g.count)
		return send_negative(r, g, ta, iap_id, now, acts, e);
	return send_binding(r, g, iap_id, g->g.japs[pick(r, g, iap_id, rtt, ctx, rnd)].jap_id,
			    false, r->cfg.binding_ttl_ns, now, acts, e);
}

int pias_rap_restore(struct pias_rap *r, const struct pias_ta *ta, const struct pias_group *g,
		     __u64 now, struct pias_err *e)
{
	struct pias_rap_group new = { .ta = *ta };
	int err = check_ta(ta, e);

	if (err)
		return err;
	if (!g->count || g->count > PIAS_GROUP_MAX_JAPS)
		return pias_err_set(e, -EINVAL, "rap: group with %u JAPs", g->count);
	if (group_find(r, ta))
		return pias_err_set(e, -EEXIST, "rap: TA restored twice");
	/* seq 0: the JAP's next report (seq >= 1) replaces the weight */
	for (__u32 i = 0; i < g->count; i++) {
		__u32 id = g->japs[i].jap_id;

		if (!id || id >= PIAS_MAX_PROXIES)
			return pias_err_set(e, -EINVAL, "rap: JAP id %u in a group", id);
		for (__u32 j = 0; j < i; j++)
			if (g->japs[j].jap_id == id)
				return pias_err_set(e, -EINVAL, "rap: JAP %u twice in a group", id);
		new.reports[new.nreports++] = (struct pias_rap_report){ .jap_id = id,
									.count = g->japs[i].weight,
									.last_report_ns = now };
	}
	/* the registry's own form (sorted, weight-0 JAPs left out), not the map's */
	group_publish(&new);
	if (!new.g.count)
		return pias_err_set(e, -EINVAL, "rap: group with no JAP of weight above 0");
	if (r->ngroups == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct pias_rap_group *ng = realloc(r->groups, cap * sizeof(*ng));

		if (!ng)
			return pias_err_set(e, -ENOMEM, "rap: no memory for %zu groups", cap);
		r->groups = ng;
		r->cap = cap;
	}
	new.generation = ++r->next_generation;
	r->groups[r->ngroups++] = new;
	return 0;
}
