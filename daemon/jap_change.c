// SPDX-License-Identifier: MIT
/*
 * How a JAP registry call (jap.c) changes the registry, so that nothing is
 * half-applied. A call works in three steps:
 *
 *   1. plan: find the targets it changes and make room for everything it
 *      may add (groups, ids, index entries, deadlines); nothing changes;
 *   2. try: change those targets in place (a target that goes is marked
 *      UNUSED, a new one appended), each change with the target's old
 *      copy; then look at each group touched (its set, policy, report) and
 *      count the actions (this file: evaluate);
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

#include "jap_change.h"
#include "registry.h"

void jap_group_release(struct pias_jap_group *g)
{
	free(g->targets);
	free(g->set);
	memset(g, 0, sizeof(*g));
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

/* a is the group's policy rather than b: the higher serial, the earlier registered. */
static bool holds_over(const struct pias_jap_target *a, const struct pias_jap_target *b)
{
	return a->policy_serial > b->policy_serial ||
	       (a->policy_serial == b->policy_serial && a->seq < b->seq);
}

/* --- a call's scratch ------------------------------------------------------------ */

void jap_scratch_begin(struct pias_jap *j)
{
	j->nch = j->nev = 0;
}

/* Room for more changes and groups touched, before anything changes. */
int jap_scratch_reserve(struct pias_jap *j, size_t changes, size_t groups, struct pias_err *e)
{
	int err = pias_grow((void **)&j->ch, &j->ch_cap, sizeof(*j->ch), j->nch + changes, "jap",
			    "changes", e);

	return err ? err
		   : pias_grow((void **)&j->ev, &j->ev_cap, sizeof(*j->ev), j->nev + groups, "jap",
			       "groups touched", e);
}

/* Group h's entry in the scratch (room reserved), made on its first touch. */
struct pias_jap_eval *jap_touch(struct pias_jap *j, __u32 h, bool created)
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
void jap_link_change(struct pias_jap *j, struct pias_jap_eval *ev, __u32 i)
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
struct pias_jap_change *jap_change(struct pias_jap *j, __u32 h, __u32 id, enum jap_change_kind kind,
				   const struct pias_jap_target *old)
{
	struct pias_jap_eval *ev = jap_touch(j, h, false);
	struct pias_jap_change *c = &j->ch[j->nch++];

	*c = (struct pias_jap_change){ .id = id, .kind = kind };
	if (old)
		c->old = *old;
	jap_link_change(j, ev, (__u32)j->nch - 1);
	return c;
}

/* The target of change c as it is now (tried, not committed). */
static struct pias_jap_target *changed(const struct pias_jap *j, const struct pias_jap_change *c)
{
	return jap_target_at(j, c->id);
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

		if (t->t.state == PIAS_TARGET_UNUSED || (any_up && !jap_is_up(t)))
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

		touched |= c->kind != CH_MODIFY || jap_is_up(t) != jap_is_up(&c->old) ||
			   t->policy_serial != c->old.policy_serial ||
			   memcmp(&t->policy, &c->old.policy, sizeof(t->policy));
	}
	if (!touched)
		return g->holder;
	if (ev->nchanges == 1 && g->up && ev->up && g->holder) {
		const struct pias_jap_change *c = &j->ch[ev->first - 1];
		const struct pias_jap_target *t = changed(j, c);

		if (c->id == g->holder) {
			if (jap_is_up(t) && t->policy_serial >= c->old.policy_serial)
				return g->holder;
		} else {
			return jap_is_up(t) && holds_over(t, jap_target_at(j, g->holder))
				       ? c->id
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

		if (!jap_takes_new(&g->targets[i]))
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

		if (!jap_is_up(&g->targets[i]))
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

		active += jap_takes_new(t) - jap_takes_new(&c->old);
		up += jap_is_up(t) - jap_is_up(&c->old);
		set_moved |= jap_in_set(t) != jap_in_set(&c->old);
		active_moved |= jap_takes_new(t) != jap_takes_new(&c->old);
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
		const struct pias_jap_target *h = jap_target_at(j, ev->holder);

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
	jap_target_at(j, last)->set_pos = i + 1;
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
	jap_target_at(j, last)->drain_pos = i + 1;
	t->drain_pos = 0;
}

/* t (in its group, where[] set) enters the indexes, set, lists and deadlines. */
void jap_target_link(struct pias_jap *j, __u32 h, struct pias_jap_target *t)
{
	pias_ref_index_put(&j->eps, jap_ep_hash_of(h, &t->t), t->id);
	jap_id_mark(j, t->id, true);
	j->ntargets++;
	t->set_pos = t->drain_pos = 0;
	if (jap_in_set(t))
		set_add(&j->groups[h], t);
	if (t->t.state == PIAS_TARGET_DRAINING)
		draining_add(j, t);
	pias_timers_set(&j->deadlines, t->id, jap_deadline(j, t), NULL);
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
	pias_ref_index_del(&j->eps, jap_ep_hash_of(h, &old->t), old->id);
	jap_id_mark(j, old->id, false);
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
	if (jap_in_set(t) && !t->set_pos)
		set_add(g, t);
	else if (!jap_in_set(t) && t->set_pos)
		set_del(j, g, t);
	if (t->t.state == PIAS_TARGET_DRAINING && !t->drain_pos)
		draining_add(j, t);
	else if (t->t.state != PIAS_TARGET_DRAINING && t->drain_pos)
		draining_del(j, t);
	if (t->t.state != old->t.state)
		pias_timers_set(&j->deadlines, t->id, jap_deadline(j, t), NULL);
}

void jap_group_delete(struct pias_jap *j, __u32 h)
{
	pias_timers_cancel(&j->peaks, h);
	jap_group_release(&j->groups[h]);
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
			jap_target_link(j, ev->g, changed(j, c));
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
		jap_group_delete(j, ev->g);
		return;
	}
	/* a lost peak can lift the share when it lapses: look again then */
	if (j->cfg.shed_threshold > 0 && g->active < g->peak)
		pias_timers_set(&j->peaks, ev->g, g->peak_ns + j->cfg.shed_hold_ns + 1, NULL);
	else
		pias_timers_cancel(&j->peaks, ev->g);
}

/* Forget the groups touched (nothing tried yet). */
void jap_untouch(struct pias_jap *j)
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
			jap_group_delete(j, ev->g);
	}
}

/*
 * The end of every call: evaluate each group touched, then commit and
 * append if the actions fit, or undo. what names the call in the error.
 */
int jap_finish(struct pias_jap *j, __u64 now, struct pias_jap_actions *acts, const char *what,
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
