// SPDX-License-Identifier: MIT
/*
 * RAP registry. A group lives at its TA index handle in r->groups and is
 * changed in place: each call first makes room for everything it may need
 * (memory, and actions: one per group it touches, one per IAP it may tell),
 * then changes the groups, which can no longer fail. That is what keeps
 * every call all-or-nothing without copying a group that may hold 100,000
 * reports.
 *
 * A group's reports are in draw order, with a Fenwick tree of their draw
 * weights threaded through them (report i holds node i + 1), so that a
 * weight changes, and a point on the cumulative weights finds its JAP, in
 * O(log n).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pias/hash.h>

#include "rap_registry.h"
#include "registry.h"

#define NONE	  PIAS_RAP_NONE
#define REDRAW_NS PIAS_RAP_REPORT_PERIOD_NS /* a sample's lifetime */

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
	pias_ta_index_init(&r->idx, PIAS_RAP_MAX_GROUPS, "rap");
	pias_timers_init(&r->due, "rap");
	pias_key_index_init(&r->where, "rap");
	r->sent = calloc(PIAS_RAP_SENT_SETS * PIAS_RAP_SENT_WAYS, sizeof(*r->sent));
	if (!r->sent)
		return pias_err_set(e, -ENOMEM, "rap: no memory for the rate limiter");
	return 0;
}

static void reports_free(struct pias_rap_group *g)
{
	for (__u32 i = 0; i < g->nreports; i++)
		free(g->reports[i].scopes);
	free(g->reports);
}

void pias_rap_free(struct pias_rap *r)
{
	for (long h = pias_ta_index_next(&r->idx, -1); h >= 0; h = pias_ta_index_next(&r->idx, h))
		reports_free(&r->groups[h]);
	for (size_t j = 0; j < r->njaps; j++)
		free(r->japs[j].h);
	free(r->groups);
	free(r->japs);
	free(r->sent);
	pias_ta_index_free(&r->idx);
	pias_timers_free(&r->due);
	pias_key_index_free(&r->where);
	r->groups = NULL;
	r->japs = NULL;
	r->sent = NULL;
	r->gcap = r->njaps = 0;
}

/* ta's handle, or -1. */
static long group_find(const struct pias_rap *r, const struct pias_ta *ta)
{
	return pias_ta_index_find(&r->idx, ta);
}

const struct pias_rap_group *pias_rap_group(const struct pias_rap *r, const struct pias_ta *ta)
{
	long h = group_find(r, ta);

	return h >= 0 ? &r->groups[h] : NULL;
}

const struct pias_rap_group *pias_rap_next(const struct pias_rap *r,
					   const struct pias_rap_group *prev)
{
	long h = pias_ta_index_next(&r->idx, prev ? prev - r->groups : -1);

	return h >= 0 ? &r->groups[h] : NULL;
}

/* Where JAP jap_id's report for the group at handle h is (NULL: it has none). */
static __u32 *report_at(const struct pias_rap *r, __u32 h, __u32 jap_id)
{
	return pias_key_index_get(&r->where, pias_key_pair(h, jap_id));
}

/* --- the draw: a Fenwick tree of the reports' weights ----------------------- */

static void fen_add(struct pias_rap_group *g, __u32 i, __u64 delta)
{
	for (__u32 j = i + 1; j <= g->nreports; j += j & -j)
		g->reports[j - 1].fen += delta;
}

/* The weights of the first n reports, summed. */
static __u64 fen_prefix(const struct pias_rap_group *g, __u32 n)
{
	__u64 s = 0;

	for (__u32 j = n; j; j -= j & -j)
		s += g->reports[j - 1].fen;
	return s;
}

/* The report whose weight the point x (below g->total) falls on. */
static __u32 fen_find(const struct pias_rap_group *g, __u64 x)
{
	__u32 pos = 0, step = 1;

	while (step <= g->nreports / 2)
		step <<= 1;
	for (; step; step >>= 1)
		if (pos + step <= g->nreports && g->reports[pos + step - 1].fen <= x) {
			pos += step;
			x -= g->reports[pos - 1].fen;
		}
	return pos;
}

/* Every node from the weights, in O(n): after the eligible set changed wholesale. */
static void fen_rebuild(struct pias_rap_group *g)
{
	g->total = 0;
	g->neligible = 0;
	for (__u32 i = 0; i < g->nreports; i++) {
		g->reports[i].fen = g->reports[i].w;
		g->total += g->reports[i].w;
		g->neligible += g->reports[i].w > 0;
	}
	for (__u32 j = 1; j <= g->nreports; j++) {
		__u32 p = j + (j & -j);

		if (p <= g->nreports)
			g->reports[p - 1].fen += g->reports[j - 1].fen;
	}
}

static void set_w(struct pias_rap_group *g, __u32 i, __u32 w)
{
	struct pias_rap_report *rep = &g->reports[i];

	if (rep->w == w)
		return;
	fen_add(g, i, (__u64)w - rep->w);
	g->total += (__u64)w - rep->w;
	if (!rep->w)
		g->neligible++;
	else if (!w)
		g->neligible--;
	rep->w = w;
}

/* --- eligibility and the group's policy ------------------------------------ */

static bool live(const struct pias_rap_report *rep)
{
	return rep->count && rep->share;
}

/* Has rep the copies the group's replicate/k asks of a JAP? */
static bool full(const struct pias_rap_group *g, const struct pias_rap_report *rep)
{
	return live(rep) && g->policy.kind == PIAS_POLICY_REPLICATE &&
	       rep->count >= g->policy.copies;
}

/* A JAP's published weight: its count, scaled by its share, at least 1. */
static __u32 weight_of(const struct pias_rap_report *rep)
{
	__u64 w = (__u64)rep->count * rep->share / PIAS_RAP_SHARE_FULL;

	return rep->share >= PIAS_RAP_SHARE_FULL ? rep->count : w ? (__u32)w : 1;
}

/* rep's weight in the draw: 0 unless eligible (see rap_registry.h). */
static __u32 draw_weight(const struct pias_rap_group *g, const struct pias_rap_report *rep)
{
	if (!live(rep) || (g->full_only && rep->count < g->policy.copies))
		return 0;
	return weight_of(rep);
}

/* Does a's policy win over b's: the higher serial, then the lower JAP id? */
static bool policy_above(const struct pias_rap_report *a, const struct pias_rap_report *b)
{
	return a->policy_serial > b->policy_serial ||
	       (a->policy_serial == b->policy_serial && a->jap_id < b->jap_id);
}

static void policy_rescan(struct pias_rap_group *g)
{
	g->policy_at = NONE;
	for (__u32 i = 0; i < g->nreports; i++)
		if (live(&g->reports[i]) &&
		    (g->policy_at == NONE ||
		     policy_above(&g->reports[i], &g->reports[g->policy_at])))
			g->policy_at = i;
}

/*
 * After report i changed (NONE: one was removed) and g->policy_at was set:
 * the group's policy and the draw weights, all of them again when the
 * policy or replicate's filter changed (rare: an owner's change), else
 * i's alone. Returns whether the policy changed.
 */
static bool weights_follow(struct pias_rap_group *g, __u32 i)
{
	struct pias_policy p = { 0 };
	bool changed, full_only;

	if (g->policy_at != NONE)
		p = g->reports[g->policy_at].policy;
	changed = memcmp(&p, &g->policy, sizeof(p)) != 0;
	if (changed) {
		g->policy = p;
		g->nfull = 0;
		for (__u32 k = 0; k < g->nreports; k++)
			g->nfull += full(g, &g->reports[k]);
	}
	full_only = p.kind == PIAS_POLICY_REPLICATE && g->nfull;
	if (changed || full_only != g->full_only) {
		g->full_only = full_only;
		for (__u32 k = 0; k < g->nreports; k++)
			g->reports[k].w = draw_weight(g, &g->reports[k]);
		fen_rebuild(g);
	} else if (i != NONE) {
		set_w(g, i, draw_weight(g, &g->reports[i]));
	}
	return changed;
}

/* --- per JAP: the groups it reports for ------------------------------------ */

static int jap_reserve(struct pias_rap *r, __u32 jap_id, struct pias_err *e)
{
	size_t n = r->njaps;
	struct pias_rap_jap *j;
	size_t cap;
	int err;

	if (jap_id >= r->njaps) {
		err = pias_grow((void **)&r->japs, &n, sizeof(*r->japs), (size_t)jap_id + 1, "rap",
				"JAPs", e);
		if (err)
			return err;
		memset(r->japs + r->njaps, 0, (n - r->njaps) * sizeof(*r->japs));
		r->njaps = n;
	}
	j = &r->japs[jap_id];
	cap = j->cap;
	err = pias_grow((void **)&j->h, &cap, sizeof(*j->h), (size_t)j->n + 1, "rap",
			"groups of a JAP", e);
	j->cap = (__u32)cap;
	return err;
}

static void jap_del(struct pias_rap *r, __u32 jap_id, __u32 pos)
{
	struct pias_rap_jap *j = &r->japs[jap_id];
	__u32 moved = j->h[--j->n];

	if (pos == j->n)
		return;
	j->h[pos] = moved;
	r->groups[moved].reports[*report_at(r, moved, jap_id)].jpos = pos;
}

/* --- reports ---------------------------------------------------------------- */

/* Room for need reports in *a (grown from 4: most groups have a few JAPs). */
static int reports_reserve(struct pias_rap_report **a, __u32 *cap, __u32 need, struct pias_err *e)
{
	size_t c = *cap;
	int err = pias_grow_from((void **)a, &c, sizeof(**a), need, 4, "rap", "reports of a TA", e);

	*cap = (__u32)c;
	return err;
}

/* A report of jap_id (room made) at the end of g: nothing yet, weight 0. */
static __u32 report_add(struct pias_rap *r, __u32 h, __u32 jap_id)
{
	struct pias_rap_group *g = &r->groups[h];
	__u32 i = g->nreports++, j = i + 1;
	struct pias_rap_jap *jl = &r->japs[jap_id];

	g->reports[i] = (struct pias_rap_report){ .jap_id = jap_id, .jpos = jl->n };
	/* node j covers (j - lowbit(j), j]: the others' sum, as this one adds 0 */
	g->reports[i].fen = fen_prefix(g, j - 1) - fen_prefix(g, j - (j & -j));
	jl->h[jl->n++] = h;
	pias_key_index_add(&r->where, pias_key_pair(h, jap_id), i, NULL);
	return i;
}

/*
 * Report i of the group at h takes in (scopes: its own copy of the
 * prefixes, or NULL). Returns whether the sample must be drawn again: the
 * policy changed, or a sampled JAP's weight did.
 */
static bool report_set(struct pias_rap *r, __u32 h, __u32 i, const struct pias_rap_report_in *in,
		       union pias_addr *scopes, __u64 now)
{
	struct pias_rap_group *g = &r->groups[h];
	struct pias_rap_report *rep = &g->reports[i];
	__u32 old_w = rep->w, old_serial = rep->policy_serial;
	bool held = g->policy_at == i, sampled = false;

	g->nlive -= live(rep);
	g->nfull -= full(g, rep);
	rep->count = in->count;
	rep->seq = in->seq;
	rep->last_report_ns = now;
	rep->share = in->share;
	rep->policy = in->policy;
	rep->policy_serial = in->policy_serial;
	free(rep->scopes);
	rep->scopes = scopes;
	rep->nscopes = scopes ? in->n_scopes : 0;
	g->nlive += live(rep);
	g->nfull += full(g, rep);
	if (live(rep) && (g->policy_at == NONE || policy_above(rep, &g->reports[g->policy_at])))
		g->policy_at = i;
	else if (held && (!live(rep) || rep->policy_serial < old_serial))
		policy_rescan(g);
	if (weights_follow(g, i))
		return true;
	for (__u32 k = 0; k < g->g.count && g->sampled; k++)
		sampled |= g->g.japs[k].jap_id == rep->jap_id;
	return sampled && rep->w != old_w;
}

/* Take report i out of the group at h (the last one moves into its place). */
static void report_remove(struct pias_rap *r, __u32 h, __u32 i)
{
	struct pias_rap_group *g = &r->groups[h];
	struct pias_rap_report *rep = &g->reports[i];
	__u32 last = g->nreports - 1;
	bool held = g->policy_at == i;

	set_w(g, i, 0);
	g->nlive -= live(rep);
	g->nfull -= full(g, rep);
	jap_del(r, rep->jap_id, rep->jpos);
	pias_key_index_del(&r->where, pias_key_pair(h, rep->jap_id));
	free(rep->scopes);
	if (i != last) {
		__u32 w = g->reports[last].w;
		__u64 fen = rep->fen;

		set_w(g, last, 0);
		*rep = g->reports[last];
		rep->fen = fen;
		rep->w = 0;
		set_w(g, i, w);
		*report_at(r, h, rep->jap_id) = i;
		if (g->policy_at == last)
			g->policy_at = i;
	}
	g->nreports--;
	if (held)
		policy_rescan(g);
	weights_follow(g, NONE);
}

/* --- publishing --------------------------------------------------------------- */

/* splitmix64's finaliser: a well-spread value from x. */
static __u32 mix(__u64 x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (__u32)((x ^ (x >> 31)) >> 32);
}

/*
 * A new sample of g (more eligible JAPs than fit): report indices into idx,
 * weights into wt; returns how many. See rap_registry.h.
 */
static __u32 draw(struct pias_rap *r, const struct pias_rap_group *g, __u32 *idx, __u32 *wt)
{
	__u64 unit = g->total / PIAS_GROUP_MAX_JAPS, start = mix(r->cfg.seed + ++r->draws);
	__u32 n = 0, m[PIAS_GROUP_MAX_JAPS];

	if (unit > UINT32_MAX / PIAS_GROUP_MAX_JAPS)
		unit = UINT32_MAX / PIAS_GROUP_MAX_JAPS;
	for (__u64 k = 0; k < PIAS_GROUP_MAX_JAPS; k++) {
		/* (k + start / 2^32) / 16 of the total: points in order, all below it */
		__u64 x = (__u64)((((unsigned __int128)k << 32 | start) * g->total) >> 36);
		__u32 i = fen_find(g, x);

		if (n && idx[n - 1] == i) {
			m[n - 1]++;
		} else {
			idx[n] = i;
			m[n++] = 1;
		}
	}
	for (__u32 k = 0; k < n; k++)
		wt[k] = m[k] * (__u32)(unit ? unit : 1);
	return n;
}

/* The current sample, if every JAP in it is still eligible: into idx, wt. */
static bool sample_kept(const struct pias_rap *r, __u32 h, __u32 *idx, __u32 *wt)
{
	const struct pias_rap_group *g = &r->groups[h];

	for (__u32 k = 0; k < g->g.count; k++) {
		const __u32 *at = report_at(r, h, g->g.japs[k].jap_id);

		if (!at || !g->reports[*at].w)
			return false;
		idx[k] = *at;
		wt[k] = g->g.japs[k].weight;
	}
	return true;
}

/* The JAPs to publish: every eligible one, or a sample. Returns how many. */
static __u32 choose(struct pias_rap *r, __u32 h, bool redraw, __u64 now, __u32 *idx, __u32 *wt)
{
	struct pias_rap_group *g = &r->groups[h];
	__u32 n = 0;

	if (g->neligible <= PIAS_GROUP_MAX_JAPS) {
		/* each eligible report in turn: the next point past the last one's weight */
		for (__u64 x = 0; x < g->total; x += wt[n++]) {
			idx[n] = fen_find(g, x);
			wt[n] = g->reports[idx[n]].w;
		}
		g->sampled = false;
		return n;
	}
	if (!redraw && g->sampled && sample_kept(r, h, idx, wt))
		return g->g.count;
	g->sampled = true;
	g->redraw_at = now + REDRAW_NS;
	return draw(r, g, idx, wt);
}

/*
 * A scoped group's prefixes for the n JAPs at report indices idx (bit k:
 * the k-th): each distinct prefix (at most PIAS_GROUP_SCOPES, the first
 * met) with the bits of the JAPs that have it. Prefixes of another length
 * than the group's scope (a JAP still on an older policy) are left out.
 */
static void scopes_of(const struct pias_rap_group *g, const __u32 *idx, __u32 n,
		      struct pias_group *out)
{
	memset(out->scopes, 0, sizeof(out->scopes));
	out->nscopes = 0;
	if (g->policy.kind != PIAS_POLICY_SCOPED)
		return;
	for (__u32 j = 0; j < n; j++) {
		const struct pias_rap_report *rep = &g->reports[idx[j]];

		for (__u32 s = 0; s < rep->nscopes; s++) {
			const union pias_addr *p = &rep->scopes[s];
			__u32 k;

			if (!pias_prefix_clean(p->v6, g->policy.scope_len, g->ta.family))
				continue;
			for (k = 0; k < out->nscopes; k++)
				if (!memcmp(&out->scopes[k].prefix, p, sizeof(*p)))
					break;
			if (k == out->nscopes) {
				if (k == PIAS_GROUP_SCOPES)
					continue;
				out->scopes[k].prefix = *p;
				out->nscopes++;
			}
			out->scopes[k].japs |= 1u << j;
		}
	}
}

/* g's published group: largest weight first, then lower JAP id. */
static void publish(struct pias_rap *r, __u32 h, bool redraw, __u64 now)
{
	struct pias_rap_group *g = &r->groups[h];
	__u32 idx[PIAS_GROUP_MAX_JAPS], wt[PIAS_GROUP_MAX_JAPS];
	__u32 n = choose(r, h, redraw, now, idx, wt);

	for (__u32 a = 1; a < n; a++)
		for (__u32 b = a; b > 0; b--) {
			__u32 ja = g->reports[idx[b]].jap_id, jb = g->reports[idx[b - 1]].jap_id;
			__u32 t;

			if (wt[b] < wt[b - 1] || (wt[b] == wt[b - 1] && ja > jb))
				break;
			t = wt[b], wt[b] = wt[b - 1], wt[b - 1] = t;
			t = idx[b], idx[b] = idx[b - 1], idx[b - 1] = t;
		}
	memset(&g->g, 0, sizeof(g->g));
	memset(g->shares, 0, sizeof(g->shares));
	for (__u32 k = 0; k < n; k++) {
		g->g.japs[k] = (struct pias_group_jap){ .jap_id = g->reports[idx[k]].jap_id,
							.weight = wt[k] };
		g->shares[k] = g->reports[idx[k]].share;
	}
	g->g.count = n;
	g->g.policy = g->policy;
	g->omitted = g->neligible - n;
	scopes_of(g, idx, n, &g->g);
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

/* What a group published before a change: to diff against. */
struct pub {
	struct pias_group g;
	__u16 shares[PIAS_GROUP_MAX_JAPS];
	__u32 omitted;
};

static void pub_save(const struct pias_rap_group *g, struct pub *p)
{
	p->g = g->g;
	memcpy(p->shares, g->shares, sizeof(p->shares));
	p->omitted = g->omitted;
}

/* --- groups: life and deadlines ----------------------------------------------- */

/* Room for one more group: -ENOSPC (PIAS_RAP_MAX_GROUPS), -ENOMEM. */
static int group_reserve(struct pias_rap *r, struct pias_err *e)
{
	int err = pias_ta_index_reserve(&r->idx, 1, e);
	size_t cap = pias_ta_index_capacity(&r->idx);

	if (!err)
		err = pias_grow((void **)&r->groups, &r->gcap, sizeof(*r->groups), cap, "rap",
				"groups", e);
	if (!err)
		err = pias_timers_reserve(&r->due, (__u32)cap - 1, e);
	return err;
}

/* A new group for ta (room made) with the reports array a of cap entries. */
static __u32 group_add(struct pias_rap *r, const struct pias_ta *ta, struct pias_rap_report *a,
		       __u32 cap, __u64 now)
{
	__u32 h = (__u32)pias_ta_index_add(&r->idx, ta, NULL);
	struct pias_rap_group *g = &r->groups[h];

	*g = (struct pias_rap_group){ .ta = *ta,
				      .reports = a,
				      .rcap = cap,
				      .policy_at = NONE,
				      .expire_at = now + r->cfg.report_expiry_ns + 1 };
	pias_timers_set(&r->due, h, g->expire_at, NULL);
	return h;
}

static void sent_unlink(struct pias_rap *r, struct pias_rap_sent *s);

static void group_del(struct pias_rap *r, __u32 h)
{
	struct pias_rap_group *g = &r->groups[h];

	while (g->sent_head) {
		struct pias_rap_sent *s = &r->sent[g->sent_head - 1];

		sent_unlink(r, s);
		memset(s, 0, sizeof(*s));
	}
	reports_free(g);
	pias_timers_cancel(&r->due, h);
	pias_ta_index_del(&r->idx, h);
	memset(g, 0, sizeof(*g));
}

/*
 * The group at h is due again at its next report expiry or re-draw. A
 * deadline already earlier stays: popped early, the tick finds nothing to
 * do and sets the real one (a refresh does not move the heap).
 */
static void arm(struct pias_rap *r, __u32 h)
{
	const struct pias_rap_group *g = &r->groups[h];
	__u64 when = g->expire_at;

	if (g->sampled && g->redraw_at < when)
		when = g->redraw_at;
	if (when < pias_timers_when(&r->due, h))
		pias_timers_set(&r->due, h, when, NULL);
}

/*
 * The group at h changed: publish it (redraw: a new sample), append the
 * action that tells the dataplane (room made by the caller), a new
 * generation if its JAP set changed, gone with its last report. Returns
 * the actions appended.
 */
static size_t settle(struct pias_rap *r, __u32 h, const struct pub *old, bool redraw, __u64 now,
		     struct pias_rap_actions *acts)
{
	struct pias_rap_group *g = &r->groups[h];
	size_t n = 0;

	publish(r, h, redraw, now);
	if (!g->g.count && old->g.count) {
		acts->a[acts->n++] =
			(struct pias_rap_action){ .kind = PIAS_RAP_GROUP_DEL, .ta = g->ta };
		n = 1;
	} else if (g->g.count &&
		   (memcmp(&old->g, &g->g, sizeof(g->g)) || old->omitted != g->omitted)) {
		acts->a[acts->n++] = (struct pias_rap_action){ .kind = PIAS_RAP_GROUP_SET,
							       .ta = g->ta,
							       .omitted = g->omitted,
							       .group = g->g };
		n = 1;
	}
	if (g->g.count && !same_set(&old->g, &g->g))
		g->generation = ++r->next_generation;
	if (!g->nreports)
		group_del(r, h);
	else
		arm(r, h);
	return n;
}

static int room(const struct pias_rap_actions *acts, size_t need, struct pias_err *e)
{
	if (need > acts->cap - acts->n)
		return pias_err_set(e, -ENOBUFS, "rap: %zu actions, room for %zu", need,
				    acts->cap - acts->n);
	return 0;
}

/* --- the rate limiter's records, in a list per TA ------------------------------ */

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
		if (set[w].iap_id == iap_id && pias_ta_eq(&set[w].ta, ta))
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

static void sent_unlink(struct pias_rap *r, struct pias_rap_sent *s)
{
	struct pias_rap_group *g = &r->groups[s->group];

	if (s->prev)
		r->sent[s->prev - 1].next = s->next;
	else
		g->sent_head = s->next;
	if (s->next)
		r->sent[s->next - 1].prev = s->prev;
	g->nsent--;
	r->nsent--;
	s->prev = s->next = 0;
}

static void sent_link(struct pias_rap *r, struct pias_rap_sent *s, __u32 h)
{
	struct pias_rap_group *g = &r->groups[h];
	__u32 k = (__u32)(s - r->sent) + 1;

	s->group = h;
	s->prev = 0;
	s->next = g->sent_head;
	if (g->sent_head)
		r->sent[g->sent_head - 1].prev = k;
	g->sent_head = k;
	g->nsent++;
	r->nsent++;
}

/* --- bindings ----------------------------------------------------------------- */

/* Does a group published as pg, shares, bind some IAPs to sets? */
static bool sets_of(const struct pias_group *pg, const __u16 *shares)
{
	/* random and scoped: each flow at the IAP chooses among all the JAPs */
	if (pg->policy.kind == PIAS_POLICY_RANDOM || pg->policy.kind == PIAS_POLICY_SCOPED)
		return true;
	for (__u32 i = 0; i < pg->count; i++)
		if (shares[i] < PIAS_RAP_SHARE_FULL)
			return true;
	return false;
}

/*
 * The set an IAP whose chosen JAP is report i of the group at h draws from,
 * into set (count 0: the binding names that JAP alone). Random, scoped: it
 * and the published JAPs, by weight (at most 16: the smallest published
 * one goes when it is not among them). Otherwise, while the chosen JAP
 * takes its whole share, it alone; else its share of PIAS_RAP_SET_SCALE
 * and the rest over the other published JAPs by weight (none: it alone,
 * there is nowhere else to go).
 */
static void binding_set(const struct pias_rap *r, __u32 h, __u32 i, struct pias_group *set)
{
	const struct pias_rap_group *g = &r->groups[h];
	const struct pias_rap_report *rep = &g->reports[i];
	int p = group_index(&g->g, rep->jap_id);
	__u64 others = 0, rest;
	__u32 n = 0;

	memset(set, 0, sizeof(*set));
	set->policy = g->g.policy;
	if (g->g.policy.kind == PIAS_POLICY_RANDOM || g->g.policy.kind == PIAS_POLICY_SCOPED) {
		__u32 idx[PIAS_GROUP_MAX_JAPS];

		idx[n] = i;
		set->japs[n++] =
			(struct pias_group_jap){ .jap_id = rep->jap_id,
						 .weight = p >= 0 ? g->g.japs[p].weight : rep->w };
		for (__u32 k = 0; k < g->g.count && n < PIAS_GROUP_MAX_JAPS; k++)
			if ((int)k != p) {
				idx[n] = *report_at(r, h, g->g.japs[k].jap_id);
				set->japs[n++] = g->g.japs[k];
			}
		set->count = n;
		scopes_of(g, idx, n, set);
		return;
	}
	for (__u32 k = 0; k < g->g.count; k++)
		if ((int)k != p)
			others += g->g.japs[k].weight;
	if (rep->share >= PIAS_RAP_SHARE_FULL || !others)
		return;
	set->japs[n++] = (struct pias_group_jap){
		.jap_id = rep->jap_id,
		.weight = (__u32)((__u64)PIAS_RAP_SET_SCALE * rep->share / PIAS_RAP_SHARE_FULL),
	};
	rest = (__u64)PIAS_RAP_SET_SCALE - set->japs[0].weight;
	for (__u32 k = 0; k < g->g.count; k++) {
		__u64 w = rest * g->g.japs[k].weight / others;

		if ((int)k != p && w)
			set->japs[n++] = (struct pias_group_jap){ .jap_id = g->g.japs[k].jap_id,
								  .weight = (__u32)w };
	}
	set->count = n;
}

static int append(struct pias_rap_actions *acts, const struct pias_rap_action *a,
		  struct pias_err *e)
{
	int err = room(acts, 1, e);

	if (!err)
		acts->a[acts->n++] = *a;
	return err;
}

/*
 * SEND_BINDING iap_id: the group at h's TA -> its report i's JAP, or the
 * set around it (with_set: see binding_set; a set lives
 * PIAS_RAP_SET_TTL_NS at most); limited: subject to the rate limit.
 */
static int send_binding(struct pias_rap *r, __u32 h, __u32 iap_id, __u32 i, bool with_set,
			bool limited, __u64 lifetime_ns, __u64 now, struct pias_rap_actions *acts,
			struct pias_err *e)
{
	const struct pias_rap_group *g = &r->groups[h];
	struct pias_rap_sent *s = sent_find(r, iap_id, &g->ta);
	struct pias_rap_action a = { .kind = PIAS_RAP_SEND_BINDING,
				     .ta = g->ta,
				     .iap_id = iap_id,
				     .jap_id = g->reports[i].jap_id,
				     .generation = g->generation,
				     .lifetime_ns = lifetime_ns };
	int err;

	if (limited && s && s->jap_id == a.jap_id && s->generation == g->generation &&
	    pias_age(now, s->at_ns) < r->cfg.bind_interval_ns)
		return 0;
	if (with_set)
		binding_set(r, h, i, &a.group);
	if (a.group.count && a.lifetime_ns > PIAS_RAP_SET_TTL_NS)
		a.lifetime_ns = PIAS_RAP_SET_TTL_NS;
	err = append(acts, &a, e);
	if (err)
		return err;
	if (!s) {
		s = sent_victim(r, iap_id, &g->ta);
		if (s->iap_id)
			sent_unlink(r, s);
		s->ta = g->ta;
		s->iap_id = iap_id;
		sent_link(r, s, h);
	}
	s->jap_id = a.jap_id;
	s->generation = g->generation;
	s->at_ns = now;
	return 0;
}

/*
 * The eligible JAPs nearest to iap_id (report indices into out, at most
 * PIAS_GROUP_MAX_JAPS + 2) among the candidates: the published JAPs, the
 * IAP itself and extra (NONE: none), RTT 1 ns to itself. Returns how many
 * tie for the smallest known RTT; 0 if none is known.
 */
static __u32 nearest(const struct pias_rap *r, __u32 h, __u32 iap_id, pias_rap_rtt_fn rtt,
		     void *ctx, __u32 extra, __u32 *out)
{
	const struct pias_rap_group *g = &r->groups[h];
	__u32 cand[PIAS_GROUP_MAX_JAPS + 2], n = 0, nnear = 0;
	const __u32 *self = report_at(r, h, iap_id);
	__u64 rtts[PIAS_GROUP_MAX_JAPS + 2], rmin = 0;

	for (__u32 k = 0; k < g->g.count; k++)
		cand[n++] = *report_at(r, h, g->g.japs[k].jap_id);
	if (self && g->reports[*self].w && group_index(&g->g, iap_id) < 0)
		cand[n++] = *self;
	if (extra != NONE && group_index(&g->g, g->reports[extra].jap_id) < 0 &&
	    (!self || extra != *self))
		cand[n++] = extra;
	for (__u32 k = 0; k < n; k++) {
		__u32 jap = g->reports[cand[k]].jap_id;

		rtts[k] = jap == iap_id ? 1 : rtt(ctx, iap_id, jap);
		if (rtts[k] && (!rmin || rtts[k] < rmin))
			rmin = rtts[k];
	}
	for (__u32 k = 0; k < n && rmin; k++)
		if (rtts[k] == rmin)
			out[nnear++] = cand[k];
	return nnear;
}

/* The report index (of an eligible JAP of the group at h) selected by rnd; see rap_registry.h. */
static __u32 pick(const struct pias_rap *r, __u32 h, __u32 iap_id, pias_rap_rtt_fn rtt, void *ctx,
		  __u32 rnd)
{
	const struct pias_rap_group *g = &r->groups[h];
	double alpha = rtt ? r->cfg.alpha : 0.0, u = rnd / 4294967296.0;
	__u32 near[PIAS_GROUP_MAX_JAPS + 2], nnear = 0;
	__u64 x;

	if (alpha > 0)
		nnear = nearest(r, h, iap_id, rtt, ctx, NONE, near);
	if (!nnear)
		return fen_find(g, (__u64)(((unsigned __int128)rnd * g->total) >> 32));
	if (u < alpha) {
		__u32 k = (__u32)(u / alpha * nnear);

		return near[k < nnear ? k : nnear - 1];
	}
	x = (__u64)((u - alpha) / (1.0 - alpha) * (double)g->total);
	return fen_find(g, x < g->total ? x : g->total - 1);
}

/*
 * Each IAP remembered as bound to the group at h gets the binding its
 * refresh would get now (pick's choice, with rnd drawn from its id), so
 * that its new flows follow the new shares at once rather than at its
 * refresh. The JAP remembered is not used: it may be a provisional one. A
 * record older than a binding's lifetime names an IAP no longer bound: it
 * goes. The caller made room for nsent actions.
 */
static void push_sets(struct pias_rap *r, __u32 h, pias_rap_rtt_fn rtt, void *ctx, __u64 now,
		      struct pias_rap_actions *acts)
{
	for (__u32 k = r->groups[h].sent_head; k;) {
		struct pias_rap_sent *s = &r->sent[k - 1];

		k = s->next;
		if (pias_age(now, s->at_ns) > r->cfg.binding_ttl_ns) {
			sent_unlink(r, s);
			memset(s, 0, sizeof(*s));
			continue;
		}
		send_binding(r, h, s->iap_id, pick(r, h, s->iap_id, rtt, ctx, mix(s->iap_id)), true,
			     false, r->cfg.binding_ttl_ns, now, acts, NULL);
	}
}

/* --- inputs --------------------------------------------------------------------- */

int pias_rap_report(struct pias_rap *r, const struct pias_ta *ta, __u32 jap_id, __u32 count,
		    __u64 seq, __u64 now, struct pias_rap_actions *acts, struct pias_err *e)
{
	struct pias_rap_report_in in = { .count = count, .seq = seq, .share = PIAS_RAP_SHARE_FULL };

	return pias_rap_report_ex(r, ta, jap_id, &in, NULL, NULL, now, acts, e);
}

static int check_jap(__u32 jap_id, struct pias_err *e)
{
	if (!jap_id || jap_id >= PIAS_MAX_PROXIES)
		return pias_err_set(e, -EINVAL, "rap: JAP id %u", jap_id);
	return 0;
}

/* A copy of n prefixes (NULL for none) into *out: -ENOMEM. */
static int scopes_dup(const union pias_addr *scopes, __u32 n, union pias_addr **out,
		      struct pias_err *e)
{
	*out = NULL;
	if (!n || !scopes)
		return 0;
	*out = malloc(n * sizeof(*scopes));
	if (!*out)
		return pias_err_set(e, -ENOMEM, "rap: no memory for %u prefixes", n);
	memcpy(*out, scopes, n * sizeof(*scopes));
	return 0;
}

/*
 * Room for jap_id's report in the group at h (-1: a new group, whose
 * reports array is made into *fresh) and its prefixes (*scopes).
 */
static int report_room(struct pias_rap *r, long h, __u32 jap_id,
		       const struct pias_rap_report_in *in, struct pias_rap_report **fresh,
		       __u32 *fcap, union pias_addr **scopes, struct pias_err *e)
{
	int err = 0;

	*fresh = NULL;
	*fcap = 0;
	if (h < 0)
		err = group_reserve(r, e);
	if (!err && h < 0)
		err = reports_reserve(fresh, fcap, 1, e);
	else if (!err)
		err = reports_reserve(&r->groups[h].reports, &r->groups[h].rcap,
				      r->groups[h].nreports + 1, e);
	if (!err)
		err = pias_key_index_reserve(&r->where, 1, e);
	if (!err)
		err = jap_reserve(r, jap_id, e);
	if (!err)
		err = scopes_dup(in->scopes, in->count ? in->n_scopes : 0, scopes, e);
	if (err)
		free(*fresh);
	return err;
}

int pias_rap_report_ex(struct pias_rap *r, const struct pias_ta *ta, __u32 jap_id,
		       const struct pias_rap_report_in *in, pias_rap_rtt_fn rtt, void *ctx,
		       __u64 now, struct pias_rap_actions *acts, struct pias_err *e)
{
	struct pias_rap_report *fresh = NULL;
	union pias_addr *scopes = NULL;
	struct pias_rap_group *g;
	const __u32 *at = NULL;
	struct pub old;
	bool redraw, push;
	__u32 fcap = 0, i;
	size_t n;
	long h;
	int err = pias_registry_ta_check(ta, "rap", e);

	if (!err)
		err = check_jap(jap_id, e);
	if (err)
		return err;
	if (in->share > PIAS_RAP_SHARE_FULL)
		return pias_err_set(e, -EINVAL, "rap: share %u over %u per mille", in->share,
				    PIAS_RAP_SHARE_FULL);
	if (in->n_scopes > PIAS_GROUP_SCOPES)
		return pias_err_set(e, -EINVAL, "rap: %u prefixes, at most %u", in->n_scopes,
				    PIAS_GROUP_SCOPES);
	h = group_find(r, ta);
	if (h >= 0)
		at = report_at(r, (__u32)h, jap_id);
	if (at && in->seq <= r->groups[h].reports[*at].seq)
		return 0; /* stale or duplicate */
	/* the group's action, and telling every IAP bound to it (a retry after -ENOBUFS is not stale) */
	err = room(acts, 1 + (h >= 0 ? r->groups[h].nsent : 0), e);
	if (!err && !at)
		err = report_room(r, h, jap_id, in, &fresh, &fcap, &scopes, e);
	else if (!err)
		err = scopes_dup(in->scopes, in->count ? in->n_scopes : 0, &scopes, e);
	if (err)
		return err;
	if (h < 0)
		h = group_add(r, ta, fresh, fcap, now);
	g = &r->groups[h];
	pub_save(g, &old);
	i = at ? *at : report_add(r, (__u32)h, jap_id);
	redraw = report_set(r, (__u32)h, i, in, scopes, now);
	n = settle(r, (__u32)h, &old, redraw, now, acts);
	push = g->g.count && (sets_of(&old.g, old.shares) || sets_of(&g->g, g->shares)) &&
	       (memcmp(old.shares, g->shares, sizeof(g->shares)) ||
		memcmp(&old.g.policy, &g->g.policy, sizeof(g->g.policy)) ||
		memcmp(old.g.scopes, g->g.scopes, sizeof(g->g.scopes)) || n);
	if (push)
		push_sets(r, (__u32)h, rtt, ctx, now, acts);
	return 0;
}

int pias_rap_jap_dead(struct pias_rap *r, __u32 jap_id, __u64 now, struct pias_rap_actions *acts,
		      struct pias_err *e)
{
	struct pias_rap_jap *j;
	int err;

	if (!jap_id)
		return pias_err_set(e, -EINVAL, "rap: JAP id 0");
	if (jap_id >= r->njaps)
		return 0;
	j = &r->japs[jap_id];
	err = room(acts, j->n, e);
	if (err)
		return err;
	while (j->n) {
		__u32 h = j->h[j->n - 1];
		struct pub old;

		pub_save(&r->groups[h], &old);
		report_remove(r, h, *report_at(r, h, jap_id));
		settle(r, h, &old, false, now, acts);
	}
	return 0;
}

/* Drop the group at h's reports older than report_expiry_ns; note the next expiry. */
static void expire(struct pias_rap *r, __u32 h, __u64 now)
{
	struct pias_rap_group *g = &r->groups[h];
	__u64 first = PIAS_TIMERS_NEVER;

	for (__u32 i = 0; i < g->nreports;) {
		const struct pias_rap_report *rep = &g->reports[i];

		if (pias_age(now, rep->last_report_ns) > r->cfg.report_expiry_ns) {
			report_remove(r, h, i); /* the last moves into i */
			continue;
		}
		if (rep->last_report_ns < first)
			first = rep->last_report_ns;
		i++;
	}
	/* expired once older than the expiry: the first ns past it */
	g->expire_at = first == PIAS_TIMERS_NEVER ? first : first + r->cfg.report_expiry_ns + 1;
}

int pias_rap_tick(struct pias_rap *r, __u64 now, struct pias_rap_actions *acts, struct pias_err *e)
{
	int err = room(acts, pias_timers_due(&r->due, now, SIZE_MAX), e);
	__u32 h;

	if (err)
		return err;
	while (pias_timers_pop(&r->due, now, &h)) {
		struct pias_rap_group *g = &r->groups[h];
		struct pub old;

		pub_save(g, &old);
		if (now >= g->expire_at)
			expire(r, h, now);
		settle(r, h, &old, g->sampled && now >= g->redraw_at, now, acts);
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

int pias_rap_bound(struct pias_rap *r, __u32 iap_id, const struct pias_ta *ta, __u32 jap_id,
		   pias_rap_rtt_fn rtt, void *ctx, __u64 now, struct pias_rap_actions *acts,
		   struct pias_err *e)
{
	long h = group_find(r, ta);
	const __u32 *at = h >= 0 ? report_at(r, (__u32)h, jap_id) : NULL;
	__u64 ttl = r->cfg.binding_ttl_ns;
	__u32 near[PIAS_GROUP_MAX_JAPS + 2], nnear;
	const struct pias_rap_group *g;
	bool nearest_one = false;

	if (!at || !r->groups[h].reports[*at].w)
		return pias_err_set(e, -ENOENT, "rap: JAP %u is not in this TA's group", jap_id);
	g = &r->groups[h];
	if (rtt && r->cfg.alpha > 0) {
		nnear = nearest(r, (__u32)h, iap_id, rtt, ctx, *at, near);
		for (__u32 k = 0; k < nnear; k++)
			nearest_one |= near[k] == *at;
		if (nnear && !nearest_one && r->cfg.provisional_ttl_ns < ttl)
			ttl = r->cfg.provisional_ttl_ns;
	}
	/*
	 * A group bound by sets: the JAP the first packet went to, alone and
	 * provisionally, so that the flow it began pins it; the IAP's refresh
	 * gets the set (drawn by the flow's hash over other weights, the flow's
	 * next packet could meet another JAP than its first).
	 */
	if (sets_of(&g->g, g->shares) || g->reports[*at].share < PIAS_RAP_SHARE_FULL) {
		ttl = r->cfg.provisional_ttl_ns < ttl ? r->cfg.provisional_ttl_ns : ttl;
		return send_binding(r, (__u32)h, iap_id, *at, false, true, ttl, now, acts, e);
	}
	return send_binding(r, (__u32)h, iap_id, *at, true, true, ttl, now, acts, e);
}

int pias_rap_no_group(struct pias_rap *r, __u32 iap_id, const struct pias_ta *ta, __u64 now,
		      struct pias_rap_actions *acts, struct pias_err *e)
{
	long h = group_find(r, ta);
	const struct pias_rap_group *g = h >= 0 ? &r->groups[h] : NULL;

	if (!g || !g->g.count)
		return send_negative(r, g, ta, iap_id, now, acts, e);
	return send_binding(r, (__u32)h, iap_id, pick(r, (__u32)h, iap_id, NULL, NULL, mix(iap_id)),
			    true, true, r->cfg.binding_ttl_ns, now, acts, e);
}

int pias_rap_query(struct pias_rap *r, __u32 iap_id, const struct pias_ta *ta, pias_rap_rtt_fn rtt,
		   void *ctx, __u32 rnd, __u64 now, struct pias_rap_actions *acts,
		   struct pias_err *e)
{
	long h = group_find(r, ta);
	const struct pias_rap_group *g = h >= 0 ? &r->groups[h] : NULL;

	if (!g || !g->g.count)
		return send_negative(r, g, ta, iap_id, now, acts, e);
	return send_binding(r, (__u32)h, iap_id, pick(r, (__u32)h, iap_id, rtt, ctx, rnd), true,
			    false, r->cfg.binding_ttl_ns, now, acts, e);
}

/* Checks of a pinned group to restore: a JAP id at most once, some weight. */
static int restore_check(const struct pias_group *g, struct pias_err *e)
{
	__u64 total = 0;

	if (!g->count || g->count > PIAS_GROUP_MAX_JAPS)
		return pias_err_set(e, -EINVAL, "rap: group with %u JAPs", g->count);
	for (__u32 i = 0; i < g->count; i++) {
		__u32 id = g->japs[i].jap_id;

		if (!id || id >= PIAS_MAX_PROXIES)
			return pias_err_set(e, -EINVAL, "rap: JAP id %u in a group", id);
		for (__u32 j = 0; j < i; j++)
			if (g->japs[j].jap_id == id)
				return pias_err_set(e, -EINVAL, "rap: JAP %u twice in a group", id);
		total += g->japs[i].weight;
	}
	if (!total)
		return pias_err_set(e, -EINVAL, "rap: group with no JAP of weight above 0");
	return 0;
}

/* JAP i of a pinned group's prefixes (the scopes with its bit) into out; returns how many. */
static __u16 restored_scopes(const struct pias_group *g, __u32 i, union pias_addr *out)
{
	__u16 n = 0;

	for (__u32 k = 0; k < g->nscopes && k < PIAS_GROUP_SCOPES; k++)
		if (g->scopes[k].japs & (1u << i))
			out[n++] = g->scopes[k].prefix;
	return n;
}

int pias_rap_restore(struct pias_rap *r, const struct pias_ta *ta, const struct pias_group *g,
		     __u64 now, struct pias_err *e)
{
	union pias_addr *scopes[PIAS_GROUP_MAX_JAPS] = { 0 }, pfx[PIAS_GROUP_SCOPES];
	struct pias_rap_report_in in[PIAS_GROUP_MAX_JAPS];
	struct pias_rap_report *fresh = NULL;
	__u32 fcap = 0, h;
	int err = pias_registry_ta_check(ta, "rap", e);

	if (!err)
		err = restore_check(g, e);
	if (err)
		return err;
	if (group_find(r, ta) >= 0)
		return pias_err_set(e, -EEXIST, "rap: TA restored twice");
	err = group_reserve(r, e);
	if (!err)
		err = reports_reserve(&fresh, &fcap, g->count, e);
	if (!err)
		err = pias_key_index_reserve(&r->where, g->count, e);
	for (__u32 i = 0; i < g->count && !err; i++) {
		/* the weight stands for count and share until the JAP reports (seq 1 on) */
		in[i] = (struct pias_rap_report_in){ .count = g->japs[i].weight,
						     .share = PIAS_RAP_SHARE_FULL,
						     .policy = g->policy,
						     .n_scopes = restored_scopes(g, i, pfx) };
		err = jap_reserve(r, g->japs[i].jap_id, e);
		if (!err)
			err = scopes_dup(pfx, in[i].count ? in[i].n_scopes : 0, &scopes[i], e);
	}
	if (err) {
		for (__u32 i = 0; i < g->count; i++)
			free(scopes[i]);
		free(fresh);
		return err;
	}
	h = group_add(r, ta, fresh, fcap, now);
	for (__u32 i = 0; i < g->count; i++)
		report_set(r, h, report_add(r, h, g->japs[i].jap_id), &in[i], scopes[i], now);
	/* the registry's own form (sorted, weight-0 JAPs left out), not the map's */
	publish(r, h, false, now);
	r->groups[h].generation = ++r->next_generation;
	arm(r, h);
	return 0;
}
