// SPDX-License-Identifier: MIT
/*
 * JAP registry. Every input works on a copy of the affected group; the
 * actions are the diff between the old and the new copy, and the copy is
 * committed only when all the actions fit. So nothing is half-applied.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jap.h"

int pias_jap_init(struct pias_jap *j, const struct pias_jap_config *cfg, struct pias_err *e)
{
	struct pias_jap_config def = {
		.refresh_timeout_ns = PIAS_JAP_REFRESH_TIMEOUT_NS,
		.drain_timeout_ns = PIAS_JAP_DRAIN_TIMEOUT_NS,
		.down_expire_ns = PIAS_JAP_DOWN_EXPIRE_NS,
		.report_fraction = PIAS_JAP_REPORT_FRACTION,
		.shed_threshold = PIAS_JAP_SHED_THRESHOLD,
		.shed_hold_ns = PIAS_JAP_SHED_HOLD_NS,
	};

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
	j->ids_used[0] = 1; /* id 0 is never a target */
	return 0;
}

void pias_jap_free(struct pias_jap *j)
{
	free(j->groups);
	j->groups = NULL;
	j->ngroups = j->cap = 0;
	free(j->drained);
	j->drained = NULL;
	j->ndrained = j->drained_cap = 0;
}

static void id_mark(struct pias_jap *j, __u32 id, bool used)
{
	if (used)
		j->ids_used[id / 64] |= 1ull << (id % 64);
	else
		j->ids_used[id / 64] &= ~(1ull << (id % 64));
}

/* The next free id from id_next on, round the id space; 0 if none. */
static __u32 id_next_free(const struct pias_jap *j)
{
	for (__u32 n = 0; n < PIAS_MAX_TARGETS; n++) {
		__u32 id = (j->id_next + n) % PIAS_MAX_TARGETS;

		if (!(j->ids_used[id / 64] & (1ull << (id % 64))))
			return id;
	}
	return 0;
}

static bool ta_eq(const struct pias_ta *a, const struct pias_ta *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static bool ep_eq(const struct pias_target *t, const struct pias_jap_endpoint *ep)
{
	if (t->family != ep->family || t->port != ep->port)
		return false;
	if (ep->family == PIAS_AF_INET)
		return t->addr.v4 == ep->addr.v4;
	return !memcmp(t->addr.bytes, ep->addr.bytes, sizeof(t->addr.bytes));
}

static struct pias_jap_group *group_find(const struct pias_jap *j, const struct pias_ta *ta)
{
	for (size_t i = 0; i < j->ngroups; i++)
		if (ta_eq(&j->groups[i].ta, ta))
			return &j->groups[i];
	return NULL;
}

/* The index of ep of ta in the drained list, or -1. */
static long drained_find(const struct pias_jap *j, const struct pias_ta *ta,
			 const struct pias_jap_endpoint *ep)
{
	for (size_t i = 0; i < j->ndrained; i++) {
		const struct pias_jap_drained *d = &j->drained[i];
		struct pias_target t = { .addr = d->addr, .port = d->port, .family = d->family };

		if (ta_eq(&d->ta, ta) && ep_eq(&t, ep))
			return (long)i;
	}
	return -1;
}

bool pias_jap_is_drained(const struct pias_jap *j, const struct pias_ta *ta,
			 const struct pias_jap_endpoint *ep)
{
	return drained_find(j, ta, ep) >= 0;
}

const struct pias_jap_group *pias_jap_group(const struct pias_jap *j, const struct pias_ta *ta)
{
	return group_find(j, ta);
}

static struct pias_jap_target *target_find(struct pias_jap_group *g, __u32 id)
{
	for (__u32 i = 0; i < g->count; i++)
		if (g->targets[i].id == id)
			return &g->targets[i];
	return NULL;
}

/* Takes new flows: ACTIVE and not ejected by outlier detection. */
static bool takes_new(const struct pias_jap_target *t)
{
	return t->t.state == PIAS_TARGET_ACTIVE && !t->ejected;
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

static void target_remove(struct pias_jap_group *g, struct pias_jap_target *t)
{
	size_t i = (size_t)(t - g->targets);

	memmove(&g->targets[i], &g->targets[i + 1], (g->count - i - 1) * sizeof(*t));
	g->count--;
}

/*
 * The group's policy: the highest serial among its ACTIVE targets (among
 * all of them when none is), the earliest registered among equals, so
 * that refreshes in any order never flip it.
 */
static const struct pias_jap_target *policy_holder(const struct pias_jap_group *g)
{
	const struct pias_jap_target *best = NULL;
	bool any_active = false;

	for (__u32 i = 0; i < g->count; i++)
		any_active |= g->targets[i].t.state == PIAS_TARGET_ACTIVE;
	for (__u32 i = 0; i < g->count; i++) {
		const struct pias_jap_target *t = &g->targets[i];

		if (any_active && t->t.state != PIAS_TARGET_ACTIVE)
			continue;
		if (!best || t->policy_serial > best->policy_serial)
			best = t;
	}
	return best;
}

static struct pias_policy group_policy(const struct pias_jap_group *g)
{
	const struct pias_jap_target *t = policy_holder(g);

	return t ? t->policy : (struct pias_policy){ 0 };
}

static __u32 group_policy_serial(const struct pias_jap_group *g)
{
	const struct pias_jap_target *t = policy_holder(g);

	return t ? t->policy_serial : 0;
}

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

/* The ids the dataplane may use for ta: ACTIVE and DRAINING, in order. */
static void group_set(const struct pias_jap_group *g, struct pias_target_set *s)
{
	memset(s, 0, sizeof(*s));
	for (__u32 i = 0; i < g->count; i++)
		if (g->targets[i].t.state == PIAS_TARGET_ACTIVE ||
		    g->targets[i].t.state == PIAS_TARGET_DRAINING)
			s->ids[s->count++] = g->targets[i].id;
	s->policy = group_policy(g);
}

static __u32 group_active(const struct pias_jap_group *g)
{
	__u32 n = 0;

	for (__u32 i = 0; i < g->count; i++)
		n += takes_new(&g->targets[i]);
	return n;
}

static __u64 age(__u64 now, __u64 then)
{
	return now > then ? now - then : 0;
}

/* Live connections of g's active targets, as the last complete count says. */
static __u64 group_conns(const struct pias_jap *j, const struct pias_jap_group *g)
{
	__u64 n = 0;

	for (__u32 i = 0; i < g->count; i++) {
		long c;

		if (g->targets[i].t.state != PIAS_TARGET_ACTIVE)
			continue;
		c = j->cfg.conns(j->cfg.conns_ctx, g->targets[i].id, 0);
		n += c > 0 ? (__u64)c : 0;
	}
	return n;
}

/*
 * g's share of its RAPs' flows now (per mille, in steps): the dial, times
 * what it keeps of its peak when it has lost more than the threshold, times
 * budget / held when its targets hold more connections than their budget.
 * Moves g's peak.
 */
static __u16 group_share(const struct pias_jap *j, struct pias_jap_group *g, __u32 active,
			 __u64 now)
{
	double share = g->dial / (double)PIAS_JAP_SHARE_FULL;
	__u32 q;

	if (active >= g->peak || age(now, g->peak_ns) > j->cfg.shed_hold_ns) {
		g->peak = active;
		g->peak_ns = now;
	}
	if (j->cfg.shed_threshold > 0 && active < g->peak * (1.0 - j->cfg.shed_threshold))
		share *= (double)active / g->peak;
	if (j->cfg.conn_budget && j->cfg.conns && active) {
		__u64 held = group_conns(j, g), budget = (__u64)j->cfg.conn_budget * active;

		if (held > budget)
			share *= (double)budget / held;
	}
	/* down to a step, so that a share wobbling about a step is not reported each tick */
	q = (__u32)(share * PIAS_JAP_SHARE_FULL);
	return (__u16)(q - q % PIAS_JAP_SHARE_STEP);
}

/*
 * A scoped group's prefixes: its active targets' addresses cut to the
 * scope, each once, at most PIAS_GROUP_SCOPES (the first ones, in target
 * order). Returns how many, into out.
 */
static __u16 group_scopes(const struct pias_jap_group *g, const struct pias_policy *policy,
			  union pias_addr out[PIAS_GROUP_SCOPES])
{
	__u16 n = 0;

	memset(out, 0, PIAS_GROUP_SCOPES * sizeof(out[0]));
	if (policy->kind != PIAS_POLICY_SCOPED)
		return 0;
	for (__u32 i = 0; i < g->count && n < PIAS_GROUP_SCOPES; i++) {
		union pias_addr a = g->targets[i].t.addr;
		bool seen = false;

		if (!takes_new(&g->targets[i]))
			continue;
		for (__u32 w = 0; w < 4; w++) {
			__u32 lo = 32 * w,
			      bits = policy->scope_len > lo ? policy->scope_len - lo : 0;

			a.v6[w] &= bits >= 32 ? ~0u : bits ? htonl(~0u << (32 - bits)) : 0;
		}
		for (__u16 k = 0; k < n && !seen; k++)
			seen = !memcmp(&out[k], &a, sizeof(a));
		if (!seen)
			out[n++] = a;
	}
	return n;
}

static bool report_due(const struct pias_jap *j, const struct pias_jap_group *g, __u32 active,
		       __u16 share, const struct pias_policy *policy, __u32 serial, __u16 n_scopes,
		       const union pias_addr *scopes)
{
	double delta;

	if (!g->reported_valid || (g->reported == 0) != (active == 0))
		return true;
	if (share != g->share || serial != g->policy_serial ||
	    memcmp(policy, &g->policy, sizeof(*policy)) || n_scopes != g->n_scopes ||
	    memcmp(scopes, g->scopes, sizeof(g->scopes)))
		return true;
	delta = active > g->reported ? active - g->reported : g->reported - active;
	return delta > j->cfg.report_fraction * g->reported;
}

/*
 * The actions that turn old into new (old->count == 0: the TA was absent;
 * new->count == 0: it goes), into out[PIAS_JAP_MAX_ACTIONS_PER_TA]; also
 * sets new's report state. Returns the number of actions. Order: targets
 * written, then the set, then targets deleted (no set refers to them any
 * more), then the report.
 */
static size_t group_diff(const struct pias_jap *j, struct pias_jap_group *old,
			 struct pias_jap_group *new, __u64 now, struct pias_jap_action *out)
{
	struct pias_target_set os, ns;
	__u32 active = group_active(new), serial = group_policy_serial(new);
	__u16 share = group_share(j, new, active, now), n_scopes;
	union pias_addr scopes[PIAS_GROUP_SCOPES];
	size_t n = 0;

	for (__u32 i = 0; i < new->count; i++) {
		struct pias_jap_target *nt = &new->targets[i], *ot = target_find(old, nt->id);
		struct pias_target nv = dataplane_view(nt), ov;

		if (ot) {
			ov = dataplane_view(ot);
			if (!memcmp(&ov, &nv, sizeof(nv)))
				continue;
		}
		out[n++] = (struct pias_jap_action){
			.kind = PIAS_JAP_TARGET_SET, .id = nt->id, .ta = new->ta, .target = nv
		};
	}
	group_set(old, &os);
	group_set(new, &ns);
	if (!new->count && old->count)
		out[n++] = (struct pias_jap_action){ .kind = PIAS_JAP_SET_DEL, .ta = old->ta };
	else if (new->count && (!old->count || memcmp(&os, &ns, sizeof(os))))
		out[n++] = (struct pias_jap_action){ .kind = PIAS_JAP_SET_SET,
						     .ta = new->ta,
						     .set = ns };
	for (__u32 i = 0; i < old->count; i++)
		if (!target_find(new, old->targets[i].id))
			out[n++] = (struct pias_jap_action){ .kind = PIAS_JAP_TARGET_DEL,
							     .id = old->targets[i].id,
							     .ta = old->ta };
	n_scopes = group_scopes(new, &ns.policy, scopes);
	if (report_due(j, new, active, share, &ns.policy, serial, n_scopes, scopes)) {
		new->reported_valid = true;
		new->reported = active;
		new->share = share;
		new->policy = ns.policy;
		new->policy_serial = serial;
		new->n_scopes = n_scopes;
		memcpy(new->scopes, scopes, sizeof(new->scopes));
		out[n++] = (struct pias_jap_action){ .kind = PIAS_JAP_REPORT,
						     .ta = new->ta,
						     .report = pias_jap_group_report(new) };
	}
	return n;
}

/*
 * Replace group *slot (NULL: a new group, room reserved) with new: ids of
 * removed targets freed, new ids marked, an emptied group dropped.
 */
static void group_commit(struct pias_jap *j, struct pias_jap_group *slot,
			 const struct pias_jap_group *new)
{
	if (slot) {
		for (__u32 i = 0; i < slot->count; i++)
			id_mark(j, slot->targets[i].id, false);
	} else {
		slot = &j->groups[j->ngroups++];
	}
	for (__u32 i = 0; i < new->count; i++)
		id_mark(j, new->targets[i].id, true);
	if (new->count) {
		*slot = *new;
	} else {
		*slot = j->groups[j->ngroups - 1];
		j->ngroups--;
	}
}

/* Diff slot (NULL: absent) against new; append and commit if it fits. */
static int group_apply(struct pias_jap *j, struct pias_jap_group *slot, struct pias_jap_group *new,
		       __u64 now, struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_action out[PIAS_JAP_MAX_ACTIONS_PER_TA];
	struct pias_jap_group empty = { .ta = new->ta };
	size_t n = group_diff(j, slot ? slot : &empty, new, now, out);

	if (n > acts->cap - acts->n)
		return pias_err_set(e, -ENOBUFS, "jap: %zu actions, room for %zu", n,
				    acts->cap - acts->n);
	/* n may be 0 while piasd's list is still unallocated (a NULL a) */
	if (n)
		memcpy(&acts->a[acts->n], out, n * sizeof(*out));
	acts->n += n;
	group_commit(j, slot, new);
	return 0;
}

static int check_ta(const struct pias_ta *ta, struct pias_err *e)
{
	if (ta->family != PIAS_AF_INET && ta->family != PIAS_AF_INET6)
		return pias_err_set(e, -EINVAL, "jap: TA family %u is neither 4 nor 6", ta->family);
	return 0;
}

int pias_jap_register(struct pias_jap *j, const struct pias_ta *ta,
		      const struct pias_jap_endpoint *ep, __u32 weight, __u64 now,
		      struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_group *slot, new;
	struct pias_jap_target *t = NULL;
	const char *why;
	bool fresh;
	int err = check_ta(ta, e);

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
	slot = group_find(j, ta);
	if (slot) {
		new = *slot;
		for (__u32 i = 0; i < new.count && !t; i++)
			if (ep_eq(&new.targets[i].t, ep))
				t = &new.targets[i];
	} else {
		if (j->ngroups == j->cap) {
			size_t cap = j->cap ? 2 * j->cap : 16;
			struct pias_jap_group *g = realloc(j->groups, cap * sizeof(*g));

			if (!g)
				return pias_err_set(e, -ENOMEM, "jap: no memory for %zu groups",
						    cap);
			j->groups = g;
			j->cap = cap;
		}
		new = (struct pias_jap_group){ .ta = *ta, .dial = PIAS_JAP_SHARE_FULL };
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
	if (drained_find(j, ta, ep) >= 0)
		return pias_err_set(e, -EBUSY,
				    "jap: the operator drained this endpoint (piasctl undrain)");
	fresh = !t;
	if (!t) {
		__u32 id = id_next_free(j);

		if (new.count == PIAS_SET_MAX_TARGETS)
			return pias_err_set(e, -ENOSPC, "jap: TA has %d targets already",
					    PIAS_SET_MAX_TARGETS);
		if (!id)
			return pias_err_set(e, -ENOSPC, "jap: all %d target ids in use",
					    PIAS_MAX_TARGETS - 1);
		t = &new.targets[new.count++];
		*t = (struct pias_jap_target){ .id = id };
		t->t.addr = ep->addr;
		t->t.port = ep->port;
		t->t.family = ep->family;
	}
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
	err = group_apply(j, slot, &new, now, acts, e);
	if (err)
		return err;
	if (fresh)
		j->id_next = (t->id + 1) % PIAS_MAX_TARGETS;
	return (int)t->id;
}

int pias_jap_find(const struct pias_jap *j, const struct pias_ta *ta,
		  const struct pias_jap_endpoint *ep)
{
	const struct pias_jap_group *g = group_find(j, ta);

	for (__u32 i = 0; g && i < g->count; i++)
		if (ep_eq(&g->targets[i].t, ep))
			return (int)g->targets[i].id;
	return -ENOENT;
}

/* The group of ta copied to new and its target id in the copy, or -ENOENT. */
static int lookup(struct pias_jap *j, const struct pias_ta *ta, __u32 id,
		  struct pias_jap_group **slot, struct pias_jap_group *new,
		  struct pias_jap_target **t, struct pias_err *e)
{
	*slot = group_find(j, ta);
	if (!*slot)
		return pias_err_set(e, -ENOENT, "jap: no targets for this TA");
	*new = **slot;
	*t = target_find(new, id);
	if (!*t)
		return pias_err_set(e, -ENOENT, "jap: no target %u in this TA", id);
	return 0;
}

int pias_jap_refresh(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		     struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_group *slot, new;
	struct pias_jap_target *t;
	int err = lookup(j, ta, id, &slot, &new, &t, e);

	if (err)
		return err;
	t->last_refresh_ns = now;
	if (t->t.state == PIAS_TARGET_DOWN)
		t->t.state = PIAS_TARGET_ACTIVE;
	return group_apply(j, slot, &new, now, acts, e);
}

int pias_jap_leave(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		   struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_group *slot, new;
	struct pias_jap_target *t;
	int err = lookup(j, ta, id, &slot, &new, &t, e);

	if (err)
		return err;
	if (t->t.state == PIAS_TARGET_DRAINING)
		return 0;
	if (t->t.state == PIAS_TARGET_DOWN) {
		target_remove(&new, t); /* its flows have moved already */
	} else {
		t->t.state = PIAS_TARGET_DRAINING;
		t->drain_start_ns = now;
		t->left = true;
	}
	return group_apply(j, slot, &new, now, acts, e);
}

int pias_jap_fail(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		  struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_group *slot, new;
	struct pias_jap_target *t;
	int err = lookup(j, ta, id, &slot, &new, &t, e);

	if (err)
		return err;
	if (t->t.state == PIAS_TARGET_DOWN)
		return 0;
	t->t.state = PIAS_TARGET_DOWN;
	return group_apply(j, slot, &new, now, acts, e);
}

int pias_jap_eject(struct pias_jap *j, const struct pias_ta *ta, __u32 id, bool out, __u64 now,
		   struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_group *slot, new;
	struct pias_jap_target *t;
	int err = lookup(j, ta, id, &slot, &new, &t, e);

	if (err)
		return err;
	if (t->ejected == out)
		return 0;
	t->ejected = out;
	return group_apply(j, slot, &new, now, acts, e);
}

int pias_jap_drain(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		   struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_group *slot, new;
	struct pias_jap_target *t;
	struct pias_jap_endpoint ep;
	int err = lookup(j, ta, id, &slot, &new, &t, e);

	if (err)
		return err;
	ep = (struct pias_jap_endpoint){ .addr = t->t.addr,
					 .port = t->t.port,
					 .family = t->t.family };
	if (drained_find(j, ta, &ep) < 0) {
		if (j->ndrained == j->drained_cap) {
			size_t cap = j->drained_cap ? 2 * j->drained_cap : 8;
			struct pias_jap_drained *d = realloc(j->drained, cap * sizeof(*d));

			if (!d)
				return pias_err_set(e, -ENOMEM, "jap: out of memory");
			j->drained = d;
			j->drained_cap = cap;
		}
		j->drained[j->ndrained++] = (struct pias_jap_drained){
			.ta = *ta, .addr = ep.addr, .port = ep.port, .family = ep.family
		};
	}
	err = pias_jap_leave(j, ta, id, now, acts, e);
	if (err)
		j->ndrained--; /* all or nothing: the list as it was */
	return err;
}

int pias_jap_undrain(struct pias_jap *j, const struct pias_ta *ta,
		     const struct pias_jap_endpoint *ep, __u64 now, struct pias_jap_actions *acts,
		     struct pias_err *e)
{
	long i = drained_find(j, ta, ep);
	struct pias_jap_group *slot = group_find(j, ta), new;
	struct pias_jap_target *t = NULL;

	if (i < 0)
		return pias_err_set(e, -ENOENT, "jap: that endpoint is not drained here");
	if (slot) {
		new = *slot;
		for (__u32 k = 0; k < new.count && !t; k++)
			if (ep_eq(&new.targets[k].t, ep))
				t = &new.targets[k];
	}
	if (t && t->t.state == PIAS_TARGET_DRAINING) {
		int err;

		t->t.state = PIAS_TARGET_ACTIVE;
		t->last_refresh_ns = now;
		err = group_apply(j, slot, &new, now, acts, e);
		if (err)
			return err;
	}
	j->drained[i] = j->drained[--j->ndrained];
	return 0;
}

int pias_jap_dial(struct pias_jap *j, const struct pias_ta *ta, __u32 permille, __u64 now,
		  struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_group *slot = group_find(j, ta), new;

	if (permille > PIAS_JAP_SHARE_FULL)
		return pias_err_set(e, -EINVAL, "jap: a dial is 0-100%%, not %u.%u%%",
				    permille / 10, permille % 10);
	if (!slot)
		return pias_err_set(e, -ENOENT, "jap: no targets for this TA here");
	new = *slot;
	new.dial = (__u16)permille;
	return group_apply(j, slot, &new, now, acts, e);
}

/* The group after the tick's transitions. */
static void group_tick(const struct pias_jap *j, struct pias_jap_group *g, __u64 now,
		       pias_jap_last_reply_fn last_reply, void *ctx)
{
	for (__u32 i = 0; i < g->count;) {
		struct pias_jap_target *t = &g->targets[i];
		__u64 last = t->last_refresh_ns;
		bool drop = false;

		if (last_reply) {
			__u64 r = last_reply(ctx, t->id);

			if (r > last)
				last = r;
		}
		switch (t->t.state) {
		case PIAS_TARGET_DRAINING:
			drop = age(now, t->drain_start_ns) >= j->cfg.drain_timeout_ns ||
			       (j->cfg.conns &&
				j->cfg.conns(j->cfg.conns_ctx, t->id, t->drain_start_ns) == 0);
			break;
		case PIAS_TARGET_ACTIVE:
			if (age(now, last) > j->cfg.refresh_timeout_ns)
				t->t.state = PIAS_TARGET_DOWN;
			break;
		default:
			drop = age(now, last) > j->cfg.refresh_timeout_ns + j->cfg.down_expire_ns;
			break;
		}
		if (drop)
			target_remove(g, t);
		else
			i++;
	}
}

void pias_jap_hold(struct pias_jap *j, __u64 now)
{
	for (size_t g = 0; g < j->ngroups; g++)
		for (__u32 i = 0; i < j->groups[g].count; i++) {
			struct pias_jap_target *t = &j->groups[g].targets[i];

			if (t->t.state == PIAS_TARGET_ACTIVE && t->last_refresh_ns < now)
				t->last_refresh_ns = now;
		}
}

int pias_jap_tick(struct pias_jap *j, __u64 now, pias_jap_last_reply_fn last_reply, void *ctx,
		  struct pias_jap_actions *acts, struct pias_err *e)
{
	struct pias_jap_action out[PIAS_JAP_MAX_ACTIONS_PER_TA];
	size_t need = 0;

	/* Pass 1: count, so that all or nothing is applied. */
	for (size_t i = 0; i < j->ngroups; i++) {
		struct pias_jap_group new = j->groups[i];

		group_tick(j, &new, now, last_reply, ctx);
		need += group_diff(j, &j->groups[i], &new, now, out);
	}
	if (need > acts->cap - acts->n)
		return pias_err_set(e, -ENOBUFS, "jap: tick needs %zu actions, room for %zu", need,
				    acts->cap - acts->n);
	/* Pass 2: apply; a dropped group is replaced by the last, so revisit i. */
	for (size_t i = 0; i < j->ngroups;) {
		struct pias_jap_group new = j->groups[i];
		size_t before = j->ngroups;

		group_tick(j, &new, now, last_reply, ctx);
		group_apply(j, &j->groups[i], &new, now, acts, NULL);
		if (j->ngroups == before)
			i++;
	}
	return 0;
}

int pias_jap_restore(struct pias_jap *j, const struct pias_ta *ta, __u32 id,
		     const struct pias_target *t, const struct pias_policy *policy, __u64 now,
		     struct pias_err *e)
{
	struct pias_jap_group *g;
	struct pias_jap_target *nt;
	int err = check_ta(ta, e);

	if (err)
		return err;
	if (!id || id >= PIAS_MAX_TARGETS)
		return pias_err_set(e, -EINVAL, "jap: target id %u out of range", id);
	if (j->ids_used[id / 64] & (1ull << (id % 64)))
		return pias_err_set(e, -EEXIST, "jap: target id %u restored twice", id);
	if (t->family != ta->family || !t->weight || t->state < PIAS_TARGET_ACTIVE ||
	    t->state > PIAS_TARGET_DOWN)
		return pias_err_set(e, -EINVAL, "jap: target %u is not a valid entry", id);
	g = group_find(j, ta);
	if (!g) {
		if (j->ngroups == j->cap) {
			size_t cap = j->cap ? 2 * j->cap : 16;
			struct pias_jap_group *ng = realloc(j->groups, cap * sizeof(*ng));

			if (!ng)
				return pias_err_set(e, -ENOMEM, "jap: no memory for %zu groups",
						    cap);
			j->groups = ng;
			j->cap = cap;
		}
		g = &j->groups[j->ngroups++];
		*g = (struct pias_jap_group){ .ta = *ta, .dial = PIAS_JAP_SHARE_FULL };
	}
	if (g->count == PIAS_SET_MAX_TARGETS)
		return pias_err_set(e, -ENOSPC, "jap: TA has %d targets already",
				    PIAS_SET_MAX_TARGETS);
	nt = &g->targets[g->count++];
	*nt = (struct pias_jap_target){ .id = id,
					.t = *t,
					.last_refresh_ns = now,
					.drain_start_ns = now,
					.policy = policy ? *policy : (struct pias_policy){ 0 } };
	id_mark(j, id, true);
	/* the RAPs heard of it before the restart; the daemon re-reports anyway */
	g->reported_valid = true;
	g->reported = group_active(g);
	g->share = PIAS_JAP_SHARE_FULL;
	g->peak = g->reported;
	g->peak_ns = now;
	g->policy = nt->policy;
	return 0;
}
