/*
 * Each IAP remembered as bound to g's TA gets the binding its refresh would
 * get now (pias_rap_query's pick, with rnd drawn from its id), so that its
 * new flows follow the new shares at once rather than at its refresh. The
 * JAP remembered is not used: it may be a provisional one. The caller made
 * room for sent_count() actions.
 */
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

static __u32 weight_of(const struct pias_rap_report *rep);

/* Largest weight (count x share) first, then lower id. */
static int report_cmp(const void *a, const void *b)
{
	const struct pias_rap_report *x = a, *y = b;
	__u32 wx = weight_of(x), wy = weight_of(y);

	if (wx != wy)
		return wx > wy ? -1 : 1;
	return x->jap_id < y->jap_id ? -1 : x->jap_id > y->jap_id;
}

/* A JAP's published weight: its count, scaled by its share, at least 1. */
static __u32 weight_of(const struct pias_rap_report *rep)
{
	__u64 w = (__u64)rep->count * rep->share / PIAS_RAP_SHARE_FULL;

	return rep->share >= PIAS_RAP_SHARE_FULL ? rep->count : w ? (__u32)w : 1;
}

static int group_index(const struct pias_group *g, __u32 jap_id);

/*
 * A scoped group's published prefixes: each distinct prefix of its
 * published JAPs' rows (at most PIAS_GROUP_SCOPES, in row order) with the
 * bits of the JAPs that have it. Rows of a prefix of another length than
 * the group's scope (a JAP still on an older policy) are left out.
 */
static void publish_scopes(struct pias_rap_group *g)
{
	memset(g->g.scopes, 0, sizeof(g->g.scopes));
	g->g.nscopes = 0;
	if (g->g.policy.kind != PIAS_POLICY_SCOPED)
		return;
	for (__u32 i = 0; i < g->nrows; i++) {
		int j = group_index(&g->g, g->rows[i].jap_id);
		__u32 k;

		if (j < 0 ||
		    !pias_prefix_clean(g->rows[i].prefix.v6, g->g.policy.scope_len, g->ta.family))
			continue;
		for (k = 0; k < g->g.nscopes; k++)
			if (!memcmp(&g->g.scopes[k].prefix, &g->rows[i].prefix,
				    sizeof(g->rows[i].prefix)))
				break;
		if (k == g->g.nscopes) {
			if (k == PIAS_GROUP_SCOPES)
				continue;
			g->g.scopes[k].prefix = g->rows[i].prefix;
			g->g.nscopes++;
		}
		g->g.scopes[k].japs |= 1u << j;
	}
}

/* JAP jap_id's rows replaced by its n prefixes (as many as there is room for). */
static void rows_set(struct pias_rap_group *g, __u32 jap_id, const union pias_addr *scopes, __u32 n)
{
	__u32 k = 0;

	for (__u32 i = 0; i < g->nrows; i++)
		if (g->rows[i].jap_id != jap_id)
			g->rows[k++] = g->rows[i];
	g->nrows = k;
	for (__u32 i = 0; i < n && scopes && g->nrows < PIAS_RAP_SCOPE_ROWS; i++)
		g->rows[g->nrows++] =
			(struct pias_rap_scope_row){ .prefix = scopes[i], .jap_id = jap_id };
}

/*
 * g's published group from its reports: count and share above 0, largest
 * first, at most 16; the policy of the highest serial (the lowest JAP id
 * among equals).
 */
static void group_publish(struct pias_rap_group *g)
{
	struct pias_rap_report s[PIAS_RAP_MAX_REPORTS];
	struct pias_policy policy = { 0 };
	__u32 n = 0, full = 0;

	for (__u32 i = 0; i < g->nreports; i++)
		if (g->reports[i].count && g->reports[i].share)
			s[n++] = g->reports[i];
	if (n) {
		__u32 best = 0;

		for (__u32 i = 1; i < n; i++)
			if (s[i].policy_serial > s[best].policy_serial ||
			    (s[i].policy_serial == s[best].policy_serial &&
			     s[i].jap_id < s[best].jap_id))
				best = i;
		policy = s[best].policy;
	}
	/*
	 * replicate/k: a JAP copies to its own targets only, so one with fewer
	 * than k would deliver fewer copies. While any JAP has k, only those
	 * are published: k copies come before proximity.
	 */
	if (policy.kind == PIAS_POLICY_REPLICATE) {
		for (__u32 i = 0; i < n; i++)
			if (s[i].count >= policy.copies)
				s[full++] = s[i];
		n = full ?: n;
	}
	qsort(s, n, sizeof(s[0]), report_cmp);
	memset(&g->g, 0, sizeof(g->g));
	memset(g->shares, 0, sizeof(g->shares));
	g->omitted = n > PIAS_GROUP_MAX_JAPS ? n - PIAS_GROUP_MAX_JAPS : 0;
	for (__u32 i = 0; i < n && i < PIAS_GROUP_MAX_JAPS; i++) {
		g->shares[g->g.count] = s[i].share;
		g->g.japs[g->g.count++] = (struct pias_group_jap){ .jap_id = s[i].jap_id,
								   .weight = weight_of(&s[i]) };
	}
	g->g.policy = policy;
	publish_scopes(g);
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
	struct pias_rap_report_in in = { .count = count, .seq = seq, .share = PIAS_RAP_SHARE_FULL };

	return pias_rap_report_ex(r, ta, jap_id, &in, NULL, NULL, now, acts, e);
}

/* Does g's binding to some of its JAPs name more than that JAP (a set)? */
static bool sets_of(const struct pias_rap_group *g)
{
	/* random and scoped: each flow at the IAP chooses among all the JAPs */
	if (g->g.policy.kind == PIAS_POLICY_RANDOM || g->g.policy.kind == PIAS_POLICY_SCOPED)
		return true;
	for (__u32 i = 0; i < g->g.count; i++)
		if (g->shares[i] < PIAS_RAP_SHARE_FULL)
			return true;
	return false;
}

static int push_sets(struct pias_rap *r, const struct pias_rap_group *g, pias_rap_rtt_fn rtt,
		     void *ctx, __u64 now, struct pias_rap_actions *acts, struct pias_err *e);
static size_t sent_count(const struct pias_rap *r, const struct pias_ta *ta);

int pias_rap_report_ex(struct pias_rap *r, const struct pias_ta *ta, __u32 jap_id,
		       const struct pias_rap_report_in *in, pias_rap_rtt_fn rtt, void *ctx,
		       __u64 now, struct pias_rap_actions *acts, struct pias_err *e)
{
	struct pias_rap_group *slot, new;
	struct pias_rap_report *rep = NULL;
	__u32 count = in->count;
	__u64 seq = in->seq;
	struct pias_rap_action out;
	size_t n, need;
	bool push;
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
	if (in->share > PIAS_RAP_SHARE_FULL)
		return pias_err_set(e, -EINVAL, "rap: share %u over %u per mille", in->share,
				    PIAS_RAP_SHARE_FULL);
	rep->count = count;
	rep->seq = seq;
	rep->last_report_ns = now;
	rep->share = in->share;
	rep->policy = in->policy;
	rep->policy_serial = in->policy_serial;
	if (in->n_scopes > PIAS_GROUP_SCOPES)
		return pias_err_set(e, -EINVAL, "rap: %u prefixes, at most %u", in->n_scopes,
				    PIAS_GROUP_SCOPES);
	rows_set(&new, jap_id, count ? in->scopes : NULL, count ? in->n_scopes : 0);
	if (!slot && r->ngroups == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct pias_rap_group *g = realloc(r->groups, cap * sizeof(*g));

		if (!g)
			return pias_err_set(e, -ENOMEM, "rap: no memory for %zu groups", cap);
		r->groups = g;
		r->cap = cap;
	}
	/*
	 * Diff, then count what telling the bound IAPs takes, then commit: all
	 * or nothing (a retry after -ENOBUFS would find this seq stale).
	 */
	n = group_diff(slot, &new, &out);
	push = new.g.count && ((slot && sets_of(slot)) || sets_of(&new)) &&
	       (!slot || memcmp(slot->shares, new.shares, sizeof(new.shares)) ||
		memcmp(&slot->g.policy, &new.g.policy, sizeof(new.g.policy)) ||
		memcmp(slot->g.scopes, new.g.scopes, sizeof(new.g.scopes)) || n);
	need = n + (push ? sent_count(r, ta) : 0);
	if (need > acts->cap - acts->n)
		return pias_err_set(e, -ENOBUFS, "rap: %zu actions, room for %zu", need,
				    acts->cap - acts->n);
	if (n)
		acts->a[acts->n++] = out;
	group_commit(r, slot, &new);
	return push ? push_sets(r, group_find(r, ta), rtt, ctx, now, acts, e) : 0;
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
		else
			rows_set(g, rep->jap_id, NULL, 0);
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

/*
 * The set an IAP whose chosen JAP is g's JAP at index p draws from, into
 * set (count 0: the binding names that JAP alone). Random: every JAP by
 * weight. Otherwise, while the chosen JAP takes its whole share, it alone;
 * else its share of PIAS_RAP_SET_SCALE and the rest over the others by
 * weight (none: it alone, there is nowhere else to go).
 */
static void binding_set(const struct pias_rap_group *g, __u32 p, struct pias_group *set)
{
	__u64 others = 0, rest;
	__u32 n = 0;

	memset(set, 0, sizeof(*set));
	set->policy = g->g.policy;
	if (g->g.policy.kind == PIAS_POLICY_RANDOM || g->g.policy.kind == PIAS_POLICY_SCOPED) {
		__u32 at[PIAS_GROUP_MAX_JAPS]; /* group index -> set index */

		at[p] = n;
		set->japs[n++] = g->g.japs[p];
		for (__u32 i = 0; i < g->g.count; i++)
			if (i != p) {
				at[i] = n;
				set->japs[n++] = g->g.japs[i];
			}
		set->count = n;
		/* the prefixes' JAP bits, renumbered as the set lists them */
		set->nscopes = g->g.nscopes;
		for (__u32 k = 0; k < g->g.nscopes; k++) {
			set->scopes[k].prefix = g->g.scopes[k].prefix;
			for (__u32 i = 0; i < g->g.count; i++)
				if (g->g.scopes[k].japs & (1u << i))
					set->scopes[k].japs |= 1u << at[i];
		}
		return;
	}
	for (__u32 i = 0; i < g->g.count; i++)
		if (i != p)
			others += g->g.japs[i].weight;
	if (g->shares[p] >= PIAS_RAP_SHARE_FULL || !others)
		return;
	set->japs[n++] = (struct pias_group_jap){
		.jap_id = g->g.japs[p].jap_id,
		.weight = (__u32)((__u64)PIAS_RAP_SET_SCALE * g->shares[p] / PIAS_RAP_SHARE_FULL),
	};
	rest = (__u64)PIAS_RAP_SET_SCALE - set->japs[0].weight;
	for (__u32 i = 0; i < g->g.count; i++) {
		__u64 w = rest * g->g.japs[i].weight / others;

		if (i != p && w)
			set->japs[n++] = (struct pias_group_jap){ .jap_id = g->g.japs[i].jap_id,
								  .weight = (__u32)w };
	}
	set->count = n;
}

/*
 * SEND_BINDING iap_id: g's ta -> jap_id, or the set around it (with_set:
 * see binding_set; a set lives PIAS_RAP_SET_TTL_NS at most); limited:
 * subject to the rate limit.
 */
static int send_binding_set(struct pias_rap *r, const struct pias_rap_group *g, __u32 iap_id,
			    __u32 jap_id, bool with_set, bool limited, __u64 lifetime_ns, __u64 now,
			    struct pias_rap_actions *acts, struct pias_err *e)
{
	struct pias_rap_sent *s = sent_find(r, iap_id, &g->ta);
	struct pias_rap_action a = { .kind = PIAS_RAP_SEND_BINDING,
				     .ta = g->ta,
				     .iap_id = iap_id,
				     .jap_id = jap_id,
				     .generation = g->generation,
				     .lifetime_ns = lifetime_ns };
	int err, p = with_set ? group_index(&g->g, jap_id) : -1;

	if (p >= 0)
		binding_set(g, (__u32)p, &a.group);
	if (a.group.count && a.lifetime_ns > PIAS_RAP_SET_TTL_NS)
		a.lifetime_ns = PIAS_RAP_SET_TTL_NS;

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

static int send_binding(struct pias_rap *r, const struct pias_rap_group *g, __u32 iap_id,
			__u32 jap_id, bool limited, __u64 lifetime_ns, __u64 now,
			struct pias_rap_actions *acts, struct pias_err *e)
{
	return send_binding_set(r, g, iap_id, jap_id, true, limited, lifetime_ns, now, acts, e);
}

/* The IAPs the rate limiter remembers binding to ta. */
static size_t sent_count(const struct pias_rap *r, const struct pias_ta *ta)
{
	size_t n = 0;

	for (size_t k = 0; k < (size_t)PIAS_RAP_SENT_SETS * PIAS_RAP_SENT_WAYS; k++)
		n += r->sent[k].iap_id && ta_eq(&r->sent[k].ta, ta);
	return n;
}

static __u32 pick(const struct pias_rap *r, const struct pias_rap_group *g, __u32 iap_id,
		  pias_rap_rtt_fn rtt, void *ctx, __u32 rnd);
static __u32 mix(__u64 x);

/*
 * Each IAP remembered as bound to g's TA gets its binding again, around the
 * JAP it was bound to (another if that one left the group), so that its new
 * flows follow the new shares now rather than at its refresh. The caller
 * made room for sent_count() actions.
 */
static int push_sets(struct pias_rap *r, const struct pias_rap_group *g, pias_rap_rtt_fn rtt,
		     void *ctx, __u64 now, struct pias_rap_actions *acts, struct pias_err *e)
{
	for (size_t k = 0; k < (size_t)PIAS_RAP_SENT_SETS * PIAS_RAP_SENT_WAYS; k++) {
		const struct pias_rap_sent rec = r->sent[k];
		int err;

		__u32 jap;

		if (!rec.iap_id || !ta_eq(&rec.ta, &g->ta))
			continue;
		jap = g->g.japs[pick(r, g, rec.iap_id, rtt, ctx, mix(rec.iap_id))].jap_id;
		err = send_binding(r, g, rec.iap_id, jap, false, r->cfg.binding_ttl_ns, now, acts,
				   e);
		if (err)
			return err;
	}
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
	/*
	 * A group bound by sets: the JAP the first packet went to, alone and
	 * provisionally, so that the flow it began pins it; the IAP's refresh
	 * gets the set (drawn by the flow's hash over other weights, the flow's
	 * next packet could meet another JAP than its first).
	 */
	if (sets_of(g)) {
		ttl = r->cfg.provisional_ttl_ns < ttl ? r->cfg.provisional_ttl_ns : ttl;
		return send_binding_set(r, g, iap_id, jap_id, false, true, ttl, now, acts, e);
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
		/* the weight stands for count and share until the JAP reports */
		new.reports[new.nreports++] =
			(struct pias_rap_report){ .jap_id = id,
						  .count = g->japs[i].weight,
						  .share = PIAS_RAP_SHARE_FULL,
						  .policy = g->policy,
						  .last_report_ns = now };
	}
	/* a scoped group's prefixes stand for their JAPs' reports too */
	for (__u32 k = 0; k < g->nscopes && k < PIAS_GROUP_SCOPES; k++)
		for (__u32 i = 0; i < g->count; i++)
			if ((g->scopes[k].japs & (1u << i)) && new.nrows < PIAS_RAP_SCOPE_ROWS)
				new.rows[new.nrows++] =
					(struct pias_rap_scope_row){ .prefix = g->scopes[k].prefix,
								     .jap_id = g->japs[i].jap_id };
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
