// SPDX-License-Identifier: MIT
/*
 * JAP registry. A call works in three steps, so that nothing is
 * half-applied:
 *
 *   1. plan: find the targets it changes and make room for everything it
 *      may add (groups, ids, index entries, deadlines); nothing changes;
 *   2. try: change those targets in place (a target that goes is marked
 *      UNUSED, a new one appended), each change with the target's old
 *      copy; then look at each group touched (its set, policy, report) and
 *      count the actions;
 *   3. commit (everything fits: move targets in and out of the sets,
 *      indexes and deadlines, and append the actions) or undo (put the old
 *      copies back).
 *
 * Only the targets changed are looked at, and their groups' counters; a
 * group is read whole only for what depends on all of it (its policy when
 * the target holding it goes, a scoped group's prefixes, a budget).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pias/hash.h>

#include "jap.h"
#include "registry.h"

enum change_kind {
	CH_REARM,  /* only the deadline moves (tick) */
	CH_MODIFY, /* the target changed in place */
	CH_ADD,	   /* a new target, appended to its group */
	CH_REMOVE, /* the target goes (marked UNUSED until the commit) */
};

/* One target a call changes. */
struct pias_jap_change {
	__u32 id;
	__u32 next; /* the next change of the same group + 1; 0: the last */
	enum change_kind kind;
	__u8 to;		    /* tick, planned: the state it goes to (UNUSED: removed) */
	__u64 when;		    /* CH_REARM: its new deadline */
	struct pias_jap_target old; /* as it was (zero for CH_ADD) */
};

/* One group a call touches, and what it comes to. */
struct pias_jap_eval {
	__u32 g;
	__u32 first, last; /* its changes, in the order made: + 1 */
	__u32 nchanges;
	bool created; /* by this call: undone by deleting it */
	__u16 dial_old;
	/* the outcome */
	__u32 active, up, count, holder;
	bool set_changed, report;
	struct pias_policy policy;
	__u32 serial;
	__u16 share;
	__u32 peak;
	__u64 peak_ns;
	__u16 n_scopes;
	union pias_addr scopes[PIAS_GROUP_SCOPES];
};

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

static void group_release(struct pias_jap_group *g)
{
	free(g->targets);
	free(g->set);
	memset(g, 0, sizeof(*g));
}

void pias_jap_free(struct pias_jap *j)
{
	pias_ta_index_each(&j->index, h) group_release(&j->groups[h]);
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

static bool id_used(const struct pias_jap *j, __u32 id)
{
	return j->ids_used[id / 64] & (1ull << (id % 64));
}

static void id_mark(struct pias_jap *j, __u32 id, bool used)
{
	if (used)
		j->ids_used[id / 64] |= 1ull << (id % 64);
	else
		j->ids_used[id / 64] &= ~(1ull << (id % 64));
}

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

static struct pias_jap_target *target_at(const struct pias_jap *j, __u32 id)
{
	return &j->groups[j->where[id].g].targets[j->where[id].pos];
}

const struct pias_jap_target *pias_jap_target(const struct pias_jap *j, __u32 id)
{
	return id && id < PIAS_MAX_TARGETS && id_used(j, id) ? target_at(j, id) : NULL;
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

const struct pias_jap_group *pias_jap_next_group(const struct pias_jap *j,
						 const struct pias_jap_group *g)
{
	long h = pias_ta_index_next(&j->index, g ? g - j->groups : -1);

	return h >= 0 ? &j->groups[h] : NULL;
}

static bool ep_eq(const struct pias_target *t, const struct pias_jap_endpoint *ep)
{
	if (t->family != ep->family || t->port != ep->port)
		return false;
	if (ep->family == PIAS_AF_INET)
		return t->addr.v4 == ep->addr.v4;
	return !memcmp(t->addr.bytes, ep->addr.bytes, sizeof(t->addr.bytes));
}

/* An endpoint's hash, salted with its group (or TA): the same server may serve two. */
static __u32 ep_hash(__u32 salt, const union pias_addr *a, __u16 port, __u8 family)
{
	__u32 h = pias_addr_mix(PIAS_HASH_SEED ^ salt, a);

	return pias_final(pias_mix(h, ((__u32)port << 16) | family), 24);
}

static __u32 ep_hash_of(__u32 g, const struct pias_target *t)
{
	return ep_hash(g, &t->addr, t->port, t->family);
}

struct ep_key {
	const struct pias_jap *j;
	__u32 g;
	const struct pias_jap_endpoint *ep;
};

static bool ep_match(const void *ctx, __u32 id)
{
	const struct ep_key *k = ctx;

	return k->j->where[id].g == k->g && ep_eq(&target_at(k->j, id)->t, k->ep);
}

/* The id of ep in group h, or -1. */
static long ep_find(const struct pias_jap *j, __u32 h, const struct pias_jap_endpoint *ep)
{
	struct ep_key k = { .j = j, .g = h, .ep = ep };

	return pias_ref_index_find(&j->eps, ep_hash(h, &ep->addr, ep->port, ep->family), ep_match,
				   &k);
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
	return ep_hash(pias_ta_hash(ta), a, port, family);
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

/* --- a target's state ---------------------------------------------------------- */

/* Takes new flows: ACTIVE and not ejected by outlier detection. */
static bool takes_new(const struct pias_jap_target *t)
{
	return t->t.state == PIAS_TARGET_ACTIVE && !t->ejected;
}

static bool is_up(const struct pias_jap_target *t)
{
	return t->t.state == PIAS_TARGET_ACTIVE;
}

/* In the dataplane's set: the ids it may use for the group. */
static bool in_set(const struct pias_jap_target *t)
{
	return t->t.state == PIAS_TARGET_ACTIVE || t->t.state == PIAS_TARGET_DRAINING;
}

/*
 * The target as the dataplane gets it: an ejected one is DRAINING there
 * (its flows go on, it gets no new ones) while it stays ACTIVE here, so
 * that its agent's refreshes keep it and its readmission needs no REGISTER.
 */
static struct pias_target dataplane_view(const struct pias_jap_target *t)
{
	struct pias_target v = t->t;

	if (t->ejected && v.state == PIAS_TARGET_ACTIVE)
		v.state = PIAS_TARGET_DRAINING;
	return v;
}

__u64 pias_jap_refreshed_ns(const struct pias_jap *j, const struct pias_jap_target *t)
{
	/* pias_jap_hold counts every ACTIVE target as refreshed then */
	return is_up(t) && j->held_ns > t->last_refresh_ns ? j->held_ns : t->last_refresh_ns;
}

/*
 * When t's state next needs a look: its refresh timeout, its expiry as a
 * DOWN target, or the end of its drain. Refreshes move none of these: the
 * deadline pops and is set again from the last refresh (timers.h).
 */
static __u64 deadline_of(const struct pias_jap *j, const struct pias_jap_target *t)
{
	switch (t->t.state) {
	case PIAS_TARGET_ACTIVE:
		return t->last_refresh_ns + j->cfg.refresh_timeout_ns + 1;
	case PIAS_TARGET_DOWN:
		return t->last_refresh_ns + j->cfg.refresh_timeout_ns + j->cfg.down_expire_ns + 1;
	default:
		return t->drain_start_ns + j->cfg.drain_timeout_ns;
	}
}

/* a is the group's policy rather than b: the higher serial, the earlier registered. */
static bool holds_over(const struct pias_jap_target *a, const struct pias_jap_target *b)
{
	return a->policy_serial > b->policy_serial ||
	       (a->policy_serial == b->policy_serial && a->seq < b->seq);
}

/* --- a call's scratch ------------------------------------------------------------ */

static void scratch_begin(struct pias_jap *j)
{
	j->nch = j->nev = 0;
}

/* Room for more changes and groups touched, before anything changes. */
static int scratch_reserve(struct pias_jap *j, size_t changes, size_t groups, struct pias_err *e)
{
	int err = pias_grow((void **)&j->ch, &j->ch_cap, sizeof(*j->ch), j->nch + changes, "jap",
			    "changes", e);

	return err ? err
		   : pias_grow((void **)&j->ev, &j->ev_cap, sizeof(*j->ev), j->nev + groups, "jap",
			       "groups touched", e);
}

/* Group h's entry in the scratch (room reserved), made on its first touch. */
static struct pias_jap_eval *touch(struct pias_jap *j, __u32 h, bool created)
{
	struct pias_jap_group *g = &j->groups[h];
	struct pias_jap_eval *ev;

	if (g->eval)
		return &j->ev[g->eval - 1];
	ev = &j->ev[j->nev++];
	*ev = (struct pias_jap_eval){ .g = h, .created = created, .dial_old = g->dial };
	g->eval = (__u32)j->nev;
	return ev;
}

/* Change i goes last in ev's list. */
static void link_change(struct pias_jap *j, struct pias_jap_eval *ev, __u32 i)
{
	j->ch[i].next = 0;
	if (ev->last)
		j->ch[ev->last - 1].next = i + 1;
	else
		ev->first = i + 1;
	ev->last = i + 1;
	ev->nchanges++;
}

/* A change of target id of group h (room reserved), with its old copy taken now. */
static struct pias_jap_change *change(struct pias_jap *j, __u32 h, __u32 id, enum change_kind kind,
				      const struct pias_jap_target *old)
{
	struct pias_jap_eval *ev = touch(j, h, false);
	struct pias_jap_change *c = &j->ch[j->nch++];

	*c = (struct pias_jap_change){ .id = id, .kind = kind };
	if (old)
		c->old = *old;
	link_change(j, ev, (__u32)j->nch - 1);
	return c;
}

/* The target of change c as it is now (tried, not committed). */
static struct pias_jap_target *changed(const struct pias_jap *j, const struct pias_jap_change *c)
{
	return target_at(j, c->id);
}

#define each_change(j, ev, c)                                                                      \
	for (struct pias_jap_change *c = (ev)->first ? &(j)->ch[(ev)->first - 1] : NULL; c;        \
	     c = c->next ? &(j)->ch[c->next - 1] : NULL)

/* --- a group's policy, prefixes and share ------------------------------------------ */

struct pias_jap_report pias_jap_group_report(const struct pias_jap_group *g)
{
	struct pias_jap_report r = { .count = g->reported,
				     .share = g->share,
				     .policy = g->policy,
				     .policy_serial = g->policy_serial,
				     .n_scopes = g->n_scopes };

	memcpy(r.scopes, g->scopes, sizeof(r.scopes));
	return r;
}

/*
 * The group's policy holder, looked for afresh: the highest serial among
 * its ACTIVE targets (among all of them when none is), the earliest
 * registered among equals, so that refreshes in any order never flip it.
 */
static __u32 holder_scan(const struct pias_jap_group *g, bool any_up)
{
	const struct pias_jap_target *best = NULL;

	for (__u32 i = 0; i < g->count; i++) {
		const struct pias_jap_target *t = &g->targets[i];

		if (t->t.state == PIAS_TARGET_UNUSED || (any_up && !is_up(t)))
			continue;
		if (!best || holds_over(t, best))
			best = t;
	}
	return best ? best->id : 0;
}

/*
 * The holder after ev's changes. One change among ACTIVE targets is
 * settled against the holder alone; the holder going, its serial going
 * down, the first target coming up or the last going down need a scan.
 */
static __u32 holder_after(const struct pias_jap *j, const struct pias_jap_group *g,
			  struct pias_jap_eval *ev)
{
	bool touched = false;

	each_change(j, ev, c)
	{
		const struct pias_jap_target *t = changed(j, c);

		touched |= c->kind != CH_MODIFY || is_up(t) != is_up(&c->old) ||
			   t->policy_serial != c->old.policy_serial ||
			   memcmp(&t->policy, &c->old.policy, sizeof(t->policy));
	}
	if (!touched)
		return g->holder;
	if (ev->nchanges == 1 && g->up && ev->up && g->holder) {
		const struct pias_jap_change *c = &j->ch[ev->first - 1];
		const struct pias_jap_target *t = changed(j, c);

		if (c->id == g->holder) {
			if (is_up(t) && t->policy_serial >= c->old.policy_serial)
				return g->holder;
		} else {
			return is_up(t) && holds_over(t, target_at(j, g->holder)) ? c->id
										  : g->holder;
		}
	}
	return holder_scan(g, ev->up > 0);
}

/* a cut to the first len bits */
static union pias_addr addr_prefix(union pias_addr a, __u8 len)
{
	for (__u32 w = 0; w < 4; w++) {
		__u32 lo = 32 * w, bits = len > lo ? len - lo : 0;

		a.v6[w] &= bits >= 32 ? ~0u : bits ? htonl(~0u << (32 - bits)) : 0;
	}
	return a;
}

static bool scope_in(const union pias_addr *s, __u16 n, const union pias_addr *a)
{
	for (__u16 k = 0; k < n; k++)
		if (!memcmp(&s[k], a, sizeof(*a)))
			return true;
	return false;
}

/*
 * A scoped group's prefixes: its active targets' addresses cut to the
 * scope, each once, at most PIAS_GROUP_SCOPES. Returns how many, into out.
 */
static __u16 group_scopes(const struct pias_jap_group *g, const struct pias_policy *policy,
			  union pias_addr out[PIAS_GROUP_SCOPES])
{
	__u16 n = 0;

	memset(out, 0, PIAS_GROUP_SCOPES * sizeof(out[0]));
	if (policy->kind != PIAS_POLICY_SCOPED)
		return 0;
	for (__u32 i = 0; i < g->count && n < PIAS_GROUP_SCOPES; i++) {
		union pias_addr a;

		if (!takes_new(&g->targets[i]))
			continue;
		a = addr_prefix(g->targets[i].t.addr, policy->scope_len);
		if (!scope_in(out, n, &a))
			out[n++] = a;
	}
	return n;
}

/* ev's prefixes: the last reported ones while the same (targets have no order to keep). */
static void scopes_after(const struct pias_jap *j, const struct pias_jap_group *g,
			 struct pias_jap_eval *ev, bool active_moved)
{
	bool same_policy = !memcmp(&ev->policy, &g->policy, sizeof(ev->policy));

	if (ev->policy.kind != PIAS_POLICY_SCOPED) {
		ev->n_scopes = 0;
		memset(ev->scopes, 0, sizeof(ev->scopes));
		return;
	}
	ev->n_scopes = g->n_scopes;
	memcpy(ev->scopes, g->scopes, sizeof(ev->scopes));
	if (same_policy && !active_moved && !ev->created)
		return;
	{
		union pias_addr s[PIAS_GROUP_SCOPES];
		__u16 n = group_scopes(g, &ev->policy, s);
		bool same = n == g->n_scopes;

		for (__u16 k = 0; k < n && same; k++)
			same = scope_in(g->scopes, g->n_scopes, &s[k]);
		if (!same) {
			ev->n_scopes = n;
			memcpy(ev->scopes, s, sizeof(s));
		}
	}
	(void)j;
}

/* Live connections of g's ACTIVE targets, as the last complete count says. */
static __u64 group_conns(const struct pias_jap *j, const struct pias_jap_group *g)
{
	__u64 n = 0;

	for (__u32 i = 0; i < g->count; i++) {
		long c;

		if (!is_up(&g->targets[i]))
			continue;
		c = j->cfg.conns(j->cfg.conns_ctx, g->targets[i].id, 0);
		n += c > 0 ? (__u64)c : 0;
	}
	return n;
}

/*
 * g's share of its RAPs' flows after ev (per mille, in steps): the dial,
 * times what it keeps of its peak when it has lost more than the
 * threshold, times budget / held when its targets hold more connections
 * than their budget. The peak is the most active targets within
 * shed_hold_ns: a group at its peak until now is at it now too, and a
 * peak older than the hold gives way (a deadline comes back for it).
 */
static void share_after(const struct pias_jap *j, const struct pias_jap_group *g,
			struct pias_jap_eval *ev, __u64 now)
{
	double share = g->dial / (double)PIAS_JAP_SHARE_FULL;
	__u32 q;

	ev->peak = g->peak;
	ev->peak_ns = g->active >= g->peak ? now : g->peak_ns;
	if (ev->active >= ev->peak || pias_age(now, ev->peak_ns) > j->cfg.shed_hold_ns) {
		ev->peak = ev->active;
		ev->peak_ns = now;
	}
	if (j->cfg.shed_threshold > 0 && ev->active < ev->peak * (1.0 - j->cfg.shed_threshold))
		share *= (double)ev->active / ev->peak;
	if (j->cfg.conn_budget && j->cfg.conns && ev->active) {
		__u64 held = group_conns(j, g), budget = (__u64)j->cfg.conn_budget * ev->active;

		if (held > budget)
			share *= (double)budget / held;
	}
	/* down to a step, so that a share wobbling about a step is not reported each tick */
	q = (__u32)(share * PIAS_JAP_SHARE_FULL);
	ev->share = (__u16)(q - q % PIAS_JAP_SHARE_STEP);
}

static bool report_due(const struct pias_jap *j, const struct pias_jap_group *g,
		       const struct pias_jap_eval *ev)
{
	double delta;

	if (!g->reported_valid || (g->reported == 0) != (ev->active == 0))
		return true;
	if (ev->share != g->share || ev->serial != g->policy_serial ||
	    memcmp(&ev->policy, &g->policy, sizeof(ev->policy)) || ev->n_scopes != g->n_scopes ||
	    memcmp(ev->scopes, g->scopes, sizeof(g->scopes)))
		return true;
	delta = ev->active > g->reported ? ev->active - g->reported : g->reported - ev->active;
	return delta > j->cfg.report_fraction * g->reported;
}

/*
 * What group ev->g comes to with its changes tried: counters, set, policy,
 * report. Returns the actions it will take.
 */
static size_t evaluate(const struct pias_jap *j, struct pias_jap_eval *ev, __u64 now)
{
	const struct pias_jap_group *g = &j->groups[ev->g];
	bool set_moved = false, active_moved = false;
	size_t n = 0;
	long active = g->active, up = g->up;
	__u32 removed = 0;

	each_change(j, ev, c)
	{
		const struct pias_jap_target *t = changed(j, c);

		active += takes_new(t) - takes_new(&c->old);
		up += is_up(t) - is_up(&c->old);
		set_moved |= in_set(t) != in_set(&c->old);
		active_moved |= takes_new(t) != takes_new(&c->old);
		if (c->kind == CH_REMOVE) {
			removed++;
			n++;
		} else if (c->kind == CH_ADD) {
			n++;
		} else {
			struct pias_target ov = dataplane_view(&c->old), nv = dataplane_view(t);

			n += memcmp(&ov, &nv, sizeof(nv)) != 0;
		}
	}
	ev->active = (__u32)active;
	ev->up = (__u32)up;
	ev->count = g->count - removed;
	ev->holder = ev->count ? holder_after(j, g, ev) : 0;
	if (ev->holder) {
		const struct pias_jap_target *h = target_at(j, ev->holder);

		ev->policy = h->policy;
		ev->serial = h->policy_serial;
	} else {
		ev->policy = (struct pias_policy){ 0 };
		ev->serial = 0;
	}
	ev->set_changed = ev->created || !ev->count || set_moved ||
			  memcmp(&ev->policy, &g->policy, sizeof(ev->policy));
	n += ev->set_changed;
	scopes_after(j, g, ev, active_moved);
	share_after(j, g, ev, now);
	ev->report = report_due(j, g, ev);
	return n + ev->report;
}

/* --- commit and undo ---------------------------------------------------------------- */

static void set_add(struct pias_jap_group *g, struct pias_jap_target *t)
{
	g->set[g->nset++] = t->id;
	t->set_pos = g->nset;
}

static void set_del(struct pias_jap *j, struct pias_jap_group *g, struct pias_jap_target *t)
{
	__u32 i = t->set_pos - 1, last = g->set[--g->nset];

	/* the last id takes the hole: the dataplane's order is any */
	g->set[i] = last;
	target_at(j, last)->set_pos = i + 1;
	t->set_pos = 0;
}

static void draining_add(struct pias_jap *j, struct pias_jap_target *t)
{
	j->draining[j->ndraining++] = t->id;
	t->drain_pos = (__u32)j->ndraining;
}

static void draining_del(struct pias_jap *j, struct pias_jap_target *t)
{
	__u32 i = t->drain_pos - 1, last = j->draining[--j->ndraining];

	j->draining[i] = last;
	target_at(j, last)->drain_pos = i + 1;
	t->drain_pos = 0;
}

/* t (in its group, where[] set) enters the indexes, set, lists and deadlines. */
static void target_link(struct pias_jap *j, __u32 h, struct pias_jap_target *t)
{
	pias_ref_index_put(&j->eps, ep_hash_of(h, &t->t), t->id);
	id_mark(j, t->id, true);
	j->ntargets++;
	t->set_pos = t->drain_pos = 0;
	if (in_set(t))
		set_add(&j->groups[h], t);
	if (t->t.state == PIAS_TARGET_DRAINING)
		draining_add(j, t);
	pias_timers_set(&j->deadlines, t->id, deadline_of(j, t), NULL);
}

/* t, removed as it was (old), leaves them all and its group's array. */
static void target_unlink(struct pias_jap *j, __u32 h, const struct pias_jap_target *old)
{
	struct pias_jap_group *g = &j->groups[h];
	__u32 pos = j->where[old->id].pos;
	struct pias_jap_target *t = &g->targets[pos];

	if (t->set_pos)
		set_del(j, g, t);
	if (t->drain_pos)
		draining_del(j, t);
	pias_ref_index_del(&j->eps, ep_hash_of(h, &old->t), old->id);
	id_mark(j, old->id, false);
	pias_timers_cancel(&j->deadlines, old->id);
	j->ntargets--;
	if (pos != --g->count) {
		g->targets[pos] = g->targets[g->count];
		j->where[g->targets[pos].id].pos = pos;
	}
}

/* Modified target t follows its new state into or out of the set, list and deadline. */
static void target_relink(struct pias_jap *j, struct pias_jap_group *g, struct pias_jap_target *t,
			  const struct pias_jap_target *old)
{
	if (in_set(t) && !t->set_pos)
		set_add(g, t);
	else if (!in_set(t) && t->set_pos)
		set_del(j, g, t);
	if (t->t.state == PIAS_TARGET_DRAINING && !t->drain_pos)
		draining_add(j, t);
	else if (t->t.state != PIAS_TARGET_DRAINING && t->drain_pos)
		draining_del(j, t);
	if (t->t.state != old->t.state)
		pias_timers_set(&j->deadlines, t->id, deadline_of(j, t), NULL);
}

static void group_delete(struct pias_jap *j, __u32 h)
{
	pias_timers_cancel(&j->peaks, h);
	group_release(&j->groups[h]);
	pias_ta_index_del(&j->index, h);
}

static void append(struct pias_jap_actions *acts, struct pias_jap_action a)
{
	acts->a[acts->n++] = a;
}

/* The set action of g as it stands (committed), with policy. */
static struct pias_jap_action set_action(const struct pias_jap_group *g,
					 const struct pias_policy *policy)
{
	struct pias_jap_action a = { .kind = PIAS_JAP_SET_SET, .ta = g->ta, .members = g->nset };
	__u32 n = g->nset < PIAS_SET_MAX_TARGETS ? g->nset : PIAS_SET_MAX_TARGETS;

	a.set.count = (__u16)n;
	memcpy(a.set.ids, g->set, n * sizeof(g->set[0]));
	a.set.policy = *policy;
	return a;
}

/*
 * Commit ev and append its actions, in the order the maps need them:
 * targets written, then the set, then targets deleted (no set refers to
 * them any more), then the report.
 */
static void commit_group(struct pias_jap *j, struct pias_jap_eval *ev,
			 struct pias_jap_actions *acts)
{
	struct pias_jap_group *g = &j->groups[ev->g];
	struct pias_ta ta = g->ta;

	g->eval = 0;
	each_change(j, ev, c)
	{
		struct pias_jap_target *t = changed(j, c);
		struct pias_target ov = dataplane_view(&c->old), nv = dataplane_view(t);

		if (c->kind == CH_ADD || (c->kind == CH_MODIFY && memcmp(&ov, &nv, sizeof(nv))))
			append(acts, (struct pias_jap_action){ .kind = PIAS_JAP_TARGET_SET,
							       .id = c->id,
							       .ta = ta,
							       .target = nv });
	}
	each_change(j, ev, c)
	{
		if (c->kind == CH_ADD)
			target_link(j, ev->g, changed(j, c));
		else if (c->kind == CH_MODIFY)
			target_relink(j, g, changed(j, c), &c->old);
		else
			target_unlink(j, ev->g, &c->old);
	}
	g->active = ev->active;
	g->up = ev->up;
	g->holder = ev->holder;
	g->peak = ev->peak;
	g->peak_ns = ev->peak_ns;
	if (ev->set_changed)
		append(acts,
		       ev->count ? set_action(g, &ev->policy)
				 : (struct pias_jap_action){ .kind = PIAS_JAP_SET_DEL, .ta = ta });
	each_change(j, ev, c)
	{
		if (c->kind == CH_REMOVE)
			append(acts, (struct pias_jap_action){
					     .kind = PIAS_JAP_TARGET_DEL, .id = c->id, .ta = ta });
	}
	if (ev->report) {
		g->reported_valid = true;
		g->reported = ev->active;
		g->share = ev->share;
		g->policy = ev->policy;
		g->policy_serial = ev->serial;
		g->n_scopes = ev->n_scopes;
		memcpy(g->scopes, ev->scopes, sizeof(g->scopes));
		append(acts, (struct pias_jap_action){ .kind = PIAS_JAP_REPORT,
						       .ta = ta,
						       .report = pias_jap_group_report(g) });
	}
	if (!ev->count) {
		group_delete(j, ev->g);
		return;
	}
	/* a lost peak can lift the share when it lapses: look again then */
	if (j->cfg.shed_threshold > 0 && g->active < g->peak)
		pias_timers_set(&j->peaks, ev->g, g->peak_ns + j->cfg.shed_hold_ns + 1, NULL);
	else
		pias_timers_cancel(&j->peaks, ev->g);
}

/* Forget the groups touched (nothing tried yet). */
static void untouch(struct pias_jap *j)
{
	for (size_t i = 0; i < j->nev; i++)
		j->groups[j->ev[i].g].eval = 0;
}

/* Put back every change tried (in reverse), and delete the groups made for them. */
static void undo(struct pias_jap *j)
{
	for (size_t i = j->nch; i-- > 0;) {
		const struct pias_jap_change *c = &j->ch[i];
		struct pias_jap_group *g = &j->groups[j->where[c->id].g];

		if (c->kind == CH_ADD)
			g->count--; /* the last appended */
		else if (c->kind != CH_REARM)
			*changed(j, c) = c->old;
	}
	for (size_t i = 0; i < j->nev; i++) {
		struct pias_jap_eval *ev = &j->ev[i];

		j->groups[ev->g].eval = 0;
		j->groups[ev->g].dial = ev->dial_old;
		if (ev->created)
			group_delete(j, ev->g);
	}
}

/*
 * The end of every call: evaluate each group touched, then commit and
 * append if the actions fit, or undo. what names the call in the error.
 */
static int finish(struct pias_jap *j, __u64 now, struct pias_jap_actions *acts, const char *what,
		  struct pias_err *e)
{
	size_t need = 0;

	for (size_t i = 0; i < j->nev; i++)
		need += evaluate(j, &j->ev[i], now);
	if (need > acts->cap - acts->n) {
		undo(j);
		return pias_err_set(e, -ENOBUFS, "jap: %s needs %zu actions, room for %zu", what,
				    need, acts->cap - acts->n);
	}
	for (size_t i = 0; i < j->nch; i++)
		if (j->ch[i].kind == CH_REARM)
			pias_timers_set(&j->deadlines, j->ch[i].id, j->ch[i].when, NULL);
	for (size_t i = 0; i < j->nev; i++)
		commit_group(j, &j->ev[i], acts);
	return 0;
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
			group_delete(j, (__u32)*h);
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
		t = id > 0 ? target_at(j, (__u32)id) : NULL;
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
	scratch_begin(j);
	err = scratch_reserve(j, 1, 1, e);
	if (err)
		return err;
	if (t) {
		struct pias_jap_target old = *t;

		register_into(t, ep, weight, now);
		change(j, (__u32)h, t->id, CH_MODIFY, &old);
		return finish(j, now, acts, "register", e) ?: (int)t->id;
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
		touch(j, (__u32)h, true);
	t->t.addr = ep->addr;
	t->t.port = ep->port;
	t->t.family = ep->family;
	register_into(t, ep, weight, now);
	change(j, (__u32)h, (__u32)id, CH_ADD, NULL);
	err = finish(j, now, acts, "register", e);
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
	if (!id || id >= PIAS_MAX_TARGETS || !id_used(j, id) || j->where[id].g != (__u32)x)
		return pias_err_set(e, -ENOENT, "jap: no target %u in this TA", id);
	*h = (__u32)x;
	*t = target_at(j, id);
	return 0;
}

/* One target changed in place from old (its copy): evaluate, commit or undo. */
static int one_change(struct pias_jap *j, __u32 h, struct pias_jap_target *t,
		      const struct pias_jap_target *old, enum change_kind kind, __u64 now,
		      struct pias_jap_actions *acts, const char *what, struct pias_err *e)
{
	scratch_begin(j);
	if (scratch_reserve(j, 1, 1, e)) {
		*t = *old;
		return -ENOMEM;
	}
	change(j, h, t->id, kind, old);
	return finish(j, now, acts, what, e);
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
	if (id > 0 && target_at(j, (__u32)id)->t.state == PIAS_TARGET_DRAINING) {
		struct pias_jap_target *t = target_at(j, (__u32)id), old = *t;
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
	scratch_begin(j);
	err = scratch_reserve(j, 0, 1, e);
	if (err)
		return err;
	touch(j, (__u32)h, false);
	j->groups[h].dial = (__u16)permille;
	return finish(j, now, acts, "dial", e);
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
static int plan(struct pias_jap *j, __u32 id, enum change_kind kind, __u8 to, __u64 when,
		struct pias_err *e)
{
	int err = scratch_reserve(j, 1, 0, e);

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
	const struct pias_jap_target *t = target_at(j, id);
	__u64 alive = pias_jap_refreshed_ns(j, t), limit = j->cfg.refresh_timeout_ns;
	__u8 next = PIAS_TARGET_DOWN;

	(void)when;
	if (t->t.state == PIAS_TARGET_DRAINING) {
		if (pias_age(x->now, t->drain_start_ns) >= j->cfg.drain_timeout_ns)
			return plan(j, id, CH_REMOVE, PIAS_TARGET_UNUSED, 0, x->e);
		return plan(j, id, CH_REARM, 0, deadline_of(j, t), x->e);
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
	int err = scratch_reserve(x->j, 0, 1, x->e);

	(void)when;
	if (!err)
		touch(x->j, h, false);
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
		const struct pias_jap_target *t = target_at(j, id);
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
	err = scratch_reserve(j, 0, n, x->e);
	if (err)
		return err;
	while (n--) {
		*cursor = pias_ta_index_next(&j->index, *cursor);
		if (*cursor < 0)
			*cursor = pias_ta_index_next(&j->index, -1);
		touch(j, (__u32)*cursor, false);
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
		t = target_at(j, c->id);
		c->old = *t;
		if (c->to == PIAS_TARGET_DOWN)
			t->last_refresh_ns =
				pias_jap_refreshed_ns(j, t); /* expiry runs from there */
		t->t.state = c->to;
		ev = touch(j, j->where[c->id].g, false);
		link_change(j, ev, (__u32)i);
	}
}

int pias_jap_tick(struct pias_jap *j, __u64 now, pias_jap_last_reply_fn last_reply, void *ctx,
		  struct pias_jap_actions *acts, struct pias_err *e)
{
	struct tick_ctx x = { .j = j, .now = now, .last_reply = last_reply, .ctx = ctx, .e = e };
	long cursor;
	int err;

	scratch_begin(j);
	/* plan: nothing changes until everything is known */
	err = pias_timers_each_due(&j->deadlines, now, due_target, &x);
	if (!err)
		err = poll_draining(&x);
	if (!err)
		err = scratch_reserve(j, 0, j->nch, e);
	if (!err)
		err = pias_timers_each_due(&j->peaks, now, due_peak, &x);
	if (!err)
		err = budget_pass(&x, &cursor);
	if (err) {
		untouch(j); /* nothing tried yet */
		return err;
	}
	try_planned(j);
	err = finish(j, now, acts, "tick", e);
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
	if (id_used(j, id))
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
	target_link(j, (__u32)h, nt);
	g->active += takes_new(nt);
	/* all serials 0: the first up one holds, or the first of all while none is up */
	if (!g->holder || (is_up(nt) && !g->up))
		g->holder = id;
	g->up += is_up(nt);
	/* the RAPs heard of it before the restart; the daemon re-reports anyway */
	g->reported_valid = true;
	g->reported = g->active;
	g->share = PIAS_JAP_SHARE_FULL;
	g->peak = g->reported;
	g->peak_ns = now;
	g->policy = nt->policy;
	return 0;
}
