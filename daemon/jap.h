/* SPDX-License-Identifier: MIT */
/*
 * piasd's JAP registry (paper section 2): targets register with the proxy
 * they reach by anycast, refresh, and leave. The JAP keeps, per group (TA),
 * its targets and their state, checks their liveness, writes the target
 * table and tells the group's RAPs its approximate target count.
 *
 * Pure state machine: every input carries the time (`now`, ns of the same
 * clock as the dataplane's last_reply_ns, CLOCK_MONOTONIC_COARSE); the
 * output is a list of actions for the caller to apply, in order, to the
 * maps (pias_targets, pias_tgt_sets) and to the RAPs. No I/O, no BPF, no
 * clock reads.
 *
 * Liveness: a target is alive while max(last refresh, last reply seen by
 * the dataplane) is at most refresh_timeout_ns old. pias_jap_tick() marks
 * it DOWN once that age exceeds the timeout, so a dead target is DOWN at
 * most refresh_timeout_ns + one tick interval after its last sign of life
 * (900 ms + 50 ms ticks: within 1 s, plus the coarse clock's few ms).
 * A DOWN target comes back ACTIVE when it refreshes or re-registers (a
 * reply alone does not revive it); one that stays silent for a further
 * down_expire_ns is removed. A target that leaves, or that the operator
 * drains, is DRAINING (keeps its flows, gets no new ones) and is removed
 * once its connections have ended (cfg.conns says how many are left), or
 * drain_timeout_ns after the drain began at the latest. A DOWN target that
 * leaves is removed at once.
 *
 * Cost: groups are found by TA hash (ta_index.h), a target by its id or
 * its endpoint (ref_index.h) in O(1), so a message does the same work with
 * ten groups or 65,536. Each target has one deadline in a heap (timers.h): its refresh
 * timeout, DOWN expiry or drain timeout. A refresh only notes the time;
 * the deadline pops one timeout after it was set, is checked against the
 * last refresh (and only then the dataplane's last reply) and set again:
 * one heap operation per target per timeout period, none per refresh. So
 * a tick costs what is due, not what is held. A change to one target
 * writes that target, and the group's set and report only when they
 * change; what needs the whole group (its policy when its holder goes,
 * its prefixes, its connection budget) is one pass over it.
 *
 * Target ids go round: a removed target's id is given out again only after
 * every other free id, so that a connection entry of the old target still
 * in the dataplane's tables cannot lead to the new one.
 *
 * Atomicity: every call either applies all of its changes and appends all
 * of their actions, or (on any error, including -ENOBUFS when the action
 * list has no room) changes nothing and appends nothing. Actions are
 * appended: several calls may share a list until the caller flushes it.
 * A call first works out everything it will do (changing the targets
 * concerned in place, each with its old copy kept), counts its actions,
 * and then commits, or puts the old copies back.
 *
 * Failing calls return a negative errno and fill e (may be NULL).
 */
#ifndef PIAS_DAEMON_JAP_H
#define PIAS_DAEMON_JAP_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/maps.h>

#include "err.h"
#include "ref_index.h"
#include "ta_index.h"
#include "timers.h"

#define PIAS_JAP_REFRESH_TIMEOUT_NS 900000000ull   /* 900 ms */
#define PIAS_JAP_DRAIN_TIMEOUT_NS   30000000000ull /* 30 s */
#define PIAS_JAP_DOWN_EXPIRE_NS	    30000000000ull /* 30 s DOWN, then removed */
#define PIAS_JAP_REPORT_FRACTION    0.25
#define PIAS_JAP_SHED_THRESHOLD	    0.25	    /* a quarter of the targets lost: shed */
#define PIAS_JAP_SHED_HOLD_NS	    300000000000ull /* 300 s: then the smaller size is the norm */
#define PIAS_JAP_SHARE_FULL	    1000	    /* per mille (PIAS_SHARE_FULL on the wire) */
#define PIAS_JAP_SHARE_STEP	    50		    /* shares move in 5% steps: no report storms */
/*
 * Targets a group may have here: what the dataplane's target set holds
 * (PIAS_TSET_MAX, include/pias/maps.h: 16,000). The one place that says
 * it: the registry itself takes any number (cfg.group_max_targets), so
 * once the dataplane holds more, this line follows it.
 */
#define PIAS_JAP_GROUP_MAX_TARGETS PIAS_TSET_MAX
/* Groups a JAP serves: one target set each in the dataplane (pias_tgt_sets). */
#define PIAS_JAP_MAX_GROUPS PIAS_MAX_GROUPS
/* With a connection budget, each tick looks again at this fraction of the groups. */
#define PIAS_JAP_BUDGET_TICKS 20

/*
 * Live connections of target id counted since 'since' (a complete count
 * that began then or later), or -1 if there is none yet.
 */
typedef long (*pias_jap_conns_fn)(void *ctx, __u32 id, __u64 since);

struct pias_jap_config {
	__u64 refresh_timeout_ns;
	__u64 drain_timeout_ns;
	__u64 down_expire_ns;
	double report_fraction;	 /* report when |active - reported| > this * reported */
	pias_jap_conns_fn conns; /* NULL: a drain lasts drain_timeout_ns, no budget */
	void *conns_ctx;
	/*
	 * Shedding (docs/design.md, "Choosing a target"): a group whose active
	 * targets fell below (1 - shed_threshold) of its peak takes only that
	 * fraction of the flows its RAPs would give it; the peak is the most
	 * targets it had within shed_hold_ns. 0: never shed by count. A group
	 * whose targets hold more than conn_budget connections each (0: no
	 * budget) takes budget / held of them too.
	 */
	double shed_threshold;
	__u64 shed_hold_ns;
	__u32 conn_budget;
	/*
	 * Targets per group (0: PIAS_JAP_GROUP_MAX_TARGETS). Tests set it
	 * lower, or above the dataplane's limit where no map is written.
	 */
	__u32 group_max_targets;
};

/* Where a target is reached (its unicast address and port, host order). */
struct pias_jap_endpoint {
	union pias_addr addr;
	__u16 port;
	__u8 family; /* PIAS_AF_*, must be the TA's */
	__u8 pad;
	__u32 flags; /* PIAS_TARGET_F_*: how the JAP reaches it (a refresh may change it) */
	__u64 tag;   /* tunnel mode: the tunnel tag of this registration */
	/* the group's policy as this target's owner says, and its serial:
	 * the group follows the highest serial among its targets */
	struct pias_policy policy;
	__u32 policy_serial;
};

struct pias_jap_target {
	__u32 id; /* 1..PIAS_MAX_TARGETS-1, index of pias_targets */
	struct pias_target t;
	__u64 last_refresh_ns; /* see pias_jap_refreshed_ns() */
	__u64 drain_start_ns;  /* valid while DRAINING */
	__u64 seq;	       /* registration order: the earlier wins a tie of policy serials */
	bool left;	       /* DRAINING by its own LEAVE (not restored so) */
	bool ejected;	       /* outlier detection: no new flows (daemon/outlier.h) */
	struct pias_policy policy; /* as its last REGISTER said */
	__u32 policy_serial;
	__u32 set_pos;	 /* internal: 1 + its index in its group's set[]; 0: not in it */
	__u32 drain_pos; /* internal: 1 + its index in the JAP's draining[]; 0: not DRAINING */
};

/*
 * One group served here; exists while it has at least one target. Its
 * targets are in no particular order (a removed one's place takes the
 * last): read them as targets[0..count).
 */
struct pias_jap_group {
	struct pias_ta ta;
	struct pias_jap_target *targets; /* count used of cap */
	__u32 count, cap;
	__u32 *set; /* ids of its ACTIVE and DRAINING targets, as the dataplane has them */
	__u32 nset, set_cap;
	__u32 set_gen;		   /* of its last SET_SET: see pias_jap_set_read */
	__u32 active;		   /* targets that take new flows: ACTIVE and not ejected */
	__u32 up;		   /* targets ACTIVE, ejected or not */
	__u32 holder;		   /* the target whose policy is the group's (0: none) */
	bool reported_valid;	   /* a REPORT went out for this TA */
	__u32 reported;		   /* the last reported count */
	__u16 dial;		   /* the operator's share of the flows, per mille */
	__u16 share;		   /* the last reported share: dial x shedding */
	__u32 peak;		   /* most active targets within shed_hold_ns */
	__u64 peak_ns;		   /* when the group last had peak targets */
	struct pias_policy policy; /* the last reported policy: the set's */
	__u32 policy_serial;
	__u16 n_scopes; /* the last reported prefixes */
	union pias_addr scopes[PIAS_GROUP_SCOPES];
	__u32 eval; /* internal: 1 + its entry in the call's scratch, 0: untouched */
};

/*
 * An endpoint the operator drained: its REGISTERs are refused (DRAINING)
 * until the operator undrains it, so that its agent cannot bring it back
 * once its connections have ended. Kept by piasd only: a restart forgets it.
 */
struct pias_jap_drained {
	struct pias_ta ta;
	union pias_addr addr;
	__u16 port;
	__u8 family;
};

/* Where target id is: its group's handle and its index in targets[]. */
struct pias_jap_where {
	__u32 g;
	__u32 pos;
};

struct pias_jap_change; /* jap_change.h: a call's scratch */
struct pias_jap_eval;

struct pias_jap {
	struct pias_jap_config cfg;
	__u32 group_max;	       /* cfg.group_max_targets, or its default */
	struct pias_ta_index index;    /* groups by TA: a handle indexes groups[] */
	struct pias_jap_group *groups; /* per handle (groups_cap entries) */
	size_t groups_cap;
	size_t ntargets;
	struct pias_jap_where *where; /* per target id in use (where_cap entries) */
	size_t where_cap;
	struct pias_ref_index eps;    /* (group, endpoint) -> target id */
	struct pias_timers deadlines; /* per target id: refresh timeout, DOWN expiry, drain end */
	struct pias_timers peaks;     /* per group handle: when its shedding peak lapses */
	__u32 *draining;	      /* ids of the DRAINING targets: polled (cfg.conns) */
	size_t ndraining, draining_cap;
	struct pias_jap_drained *drained; /* ndrained used of drained_cap */
	size_t ndrained, drained_cap;
	struct pias_ref_index drained_ix; /* (TA, endpoint) -> index in drained[] */
	__u64 held_ns; /* pias_jap_hold: ACTIVE targets count as refreshed then */
	__u64 next_seq;
	__u32 set_gens;	    /* the last SET_SET's generation: one counter for all groups */
	long budget_cursor; /* the last group handle the budget pass looked at */
	__u64 ids_used[PIAS_MAX_TARGETS / 64]; /* bit i: target id i in use; bit 0 always */
	__u32 id_next;			       /* where the search for a free id starts */
	/* a call's scratch: the targets it changes, the groups it touches */
	struct pias_jap_change *ch;
	size_t nch, ch_cap;
	struct pias_jap_eval *ev;
	size_t nev, ev_cap;
};

enum pias_jap_action_kind {
	PIAS_JAP_TARGET_SET = 1, /* write pias_targets[id] = target */
	PIAS_JAP_TARGET_DEL,	 /* clear pias_targets[id] */
	PIAS_JAP_SET_SET,	 /* write pias_tgt_sets[ta]: pias_jap_set_read gives the set */
	PIAS_JAP_SET_DEL,	 /* delete pias_tgt_sets[ta]: the TA has no targets here */
	PIAS_JAP_REPORT, /* tell the TA's RAPs: count targets here (0: none), share, policy */
};

/* What a REPORT says (also what the JAP says again every report period). */
struct pias_jap_report {
	__u32 count;
	__u16 share; /* per mille of the flows the RAPs would give this JAP */
	struct pias_policy policy;
	__u32 policy_serial;
	/* scoped: the prefixes its active targets are in (the first ones) */
	__u16 n_scopes;
	union pias_addr scopes[PIAS_GROUP_SCOPES];
};

/*
 * What a SET_SET says of the set: how many targets and its policy. The
 * targets themselves, up to PIAS_JAP_GROUP_MAX_TARGETS of them, stay in
 * the registry, so that an action is a few dozen bytes however large the
 * group: the caller reads them with pias_jap_set_read when it applies the
 * action.
 */
struct pias_jap_set_ref {
	__u32 count; /* targets in the set; 0: every target is down, no set */
	__u32 gen;   /* which of the group's sets (pias_jap_set_read) */
	struct pias_policy policy;
};

struct pias_jap_action {
	enum pias_jap_action_kind kind;
	__u32 id; /* TARGET_SET, TARGET_DEL */
	struct pias_ta ta;
	union {
		struct pias_target target;     /* TARGET_SET */
		struct pias_jap_set_ref set;   /* SET_SET */
		struct pias_jap_report report; /* REPORT */
	};
};

/* A caller-provided action buffer: n used of cap. */
struct pias_jap_actions {
	struct pias_jap_action *a;
	size_t cap;
	size_t n;
};

/* The dataplane's last reply time of target id (0: none); see pias_jap_tick. */
typedef __u64 (*pias_jap_last_reply_fn)(void *ctx, __u32 id);

/* The defaults above: no connection count, no budget, the group limit of the dataplane. */
struct pias_jap_config pias_jap_default_config(void);

/* cfg NULL: the defaults. Zero timeouts or a negative fraction: -EINVAL. */
int pias_jap_init(struct pias_jap *j, const struct pias_jap_config *cfg, struct pias_err *e);
void pias_jap_free(struct pias_jap *j);

/*
 * A target registers (weight > 0). Returns its id. An endpoint already
 * registered for ta is a refresh (same id; weight and policy updated;
 * DOWN -> ACTIVE). The group's policy, in its target set, is that of the
 * live target with the highest policy serial (the earliest registered
 * among equals). -EINVAL: bad family, weight or policy (replicate for a
 * TCP group); -ENOSPC: the group's limit of targets (cfg.group_max_targets)
 * reached, PIAS_JAP_MAX_GROUPS groups held, or no free id; -EBUSY: the
 * endpoint is draining, or drained by the operator; -ENOMEM.
 */
int pias_jap_register(struct pias_jap *j, const struct pias_ta *ta,
		      const struct pias_jap_endpoint *ep, __u32 weight, __u64 now,
		      struct pias_jap_actions *acts, struct pias_err *e);

/* The id of ep in ta, or -ENOENT. */
int pias_jap_find(const struct pias_jap *j, const struct pias_ta *ta,
		  const struct pias_jap_endpoint *ep);

/*
 * Target id of ta refreshes: alive until now + refresh_timeout; DOWN ->
 * ACTIVE. A DRAINING target stays DRAINING. -ENOENT: unknown TA or id.
 * O(1) and no actions unless it was DOWN.
 */
int pias_jap_refresh(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		     struct pias_jap_actions *acts, struct pias_err *e);

/*
 * Target id leaves: DRAINING (a DOWN one is removed). Idempotent. -ENOENT.
 * Its next REGISTER (the caller checks that its seq is above the LEAVE's)
 * makes it ACTIVE again: an agent whose health check passes again.
 */
int pias_jap_leave(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		   struct pias_jap_actions *acts, struct pias_err *e);

/*
 * Outlier detection takes target id out of new flows (out) or lets it back
 * (daemon/outlier.h). It stays ACTIVE here, refreshes keep it alive, and
 * the dataplane sees it DRAINING: its flows go on. Not counted in the
 * group's reports while out. Idempotent. -ENOENT.
 */
int pias_jap_eject(struct pias_jap *j, const struct pias_ta *ta, __u32 id, bool out, __u64 now,
		   struct pias_jap_actions *acts, struct pias_err *e);

/*
 * Target id fails its agent's health check (a LEAVE with DOWN): DOWN at
 * once, as if it had died, so that its flows move too; back ACTIVE when it
 * registers again, expired as any DOWN target if it does not. Idempotent.
 * -ENOENT.
 */
int pias_jap_fail(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		  struct pias_jap_actions *acts, struct pias_err *e);

/*
 * The operator drains target id: the same transition as a leave, and its
 * endpoint's REGISTERs are refused (-EBUSY) until pias_jap_undrain, also
 * after the target is gone. -ENOENT, -ENOMEM.
 */
int pias_jap_drain(struct pias_jap *j, const struct pias_ta *ta, __u32 id, __u64 now,
		   struct pias_jap_actions *acts, struct pias_err *e);

/*
 * The operator undoes a drain of ep in ta: its REGISTERs are taken again,
 * and a target still DRAINING is ACTIVE again (refreshed now). -ENOENT: ep
 * was not drained here.
 */
int pias_jap_undrain(struct pias_jap *j, const struct pias_ta *ta,
		     const struct pias_jap_endpoint *ep, __u64 now, struct pias_jap_actions *acts,
		     struct pias_err *e);

/* Is ep of ta drained by the operator? */
bool pias_jap_is_drained(const struct pias_jap *j, const struct pias_ta *ta,
			 const struct pias_jap_endpoint *ep);

/*
 * This JAP cannot be reached at the registration address (it is not
 * serving: restarted and not yet announcing, withdrawn, cut off): its
 * targets' refreshes go elsewhere, so their silence means nothing. Every
 * ACTIVE target counts as refreshed now; the timeout runs again from the
 * first tick that does not hold. O(1): a time noted, read when a target's
 * deadline pops.
 */
void pias_jap_hold(struct pias_jap *j, __u64 now);

/*
 * Periodic liveness check (call every tick interval). last_reply (may be
 * NULL) gives the dataplane's last reply time of a target, same clock as
 * now; it is asked, once, only about a target whose deadline is due and
 * whose last refresh is too old. ACTIVE -> DOWN when max(last refresh,
 * last reply) is more than refresh_timeout_ns before now; DOWN removed
 * after a further down_expire_ns; DRAINING removed when cfg.conns finds
 * none left (asked of the DRAINING targets only), or drain_timeout_ns
 * after it began. A group whose shedding peak lapses is looked at again;
 * with a connection budget, 1/PIAS_JAP_BUDGET_TICKS of the groups are, in
 * turn. Costs what is due: microseconds when nothing is.
 */
int pias_jap_tick(struct pias_jap *j, __u64 now, pias_jap_last_reply_fn last_reply, void *ctx,
		  struct pias_jap_actions *acts, struct pias_err *e);

/*
 * Restart: target id of ta, as found in the pinned maps, taken over with
 * its state and its group's policy (serial 0: the next REGISTER says the
 * real one), alive from now (a live target refreshes, a dead one times
 * out as usual). No actions: the maps hold it already. -EEXIST: id
 * restored before, or its endpoint is in ta under another id; -EINVAL:
 * not a valid entry; -ENOSPC, -ENOMEM.
 */
int pias_jap_restore(struct pias_jap *j, const struct pias_ta *ta, __u32 id,
		     const struct pias_target *t, const struct pias_policy *policy, __u64 now,
		     struct pias_err *e);

/*
 * The operator dials this JAP's share of ta's flows to permille (0-1000):
 * reported to the RAPs at once. -ENOENT: no targets for ta here; -EINVAL.
 */
int pias_jap_dial(struct pias_jap *j, const struct pias_ta *ta, __u32 permille, __u64 now,
		  struct pias_jap_actions *acts, struct pias_err *e);

/*
 * The set SET_SET action a names, as the dataplane is to hold it: its
 * targets' ids and weights (the target's weight if it takes new flows, 0
 * if it is DRAINING or ejected: in the set for its flows, never drawn for
 * a new one), into ids and weights (room for cap >= a->set.count).
 * Returns a->set.count. Read it when the action is applied: the registry
 * keeps the set of the group's last SET_SET only, so an earlier SET_SET
 * of a list that holds a later one for the same TA gets -ESTALE, and one
 * whose group is gone -ENOENT: the later action writes the set (or
 * deletes it), so the caller skips this one. A list applied after each
 * call, as piasd's, never meets either. -ENOSPC: cap too small.
 */
long pias_jap_set_read(const struct pias_jap *j, const struct pias_jap_action *a, __u32 *ids,
		       __u32 *weights, size_t cap);

/* What g's reports say now (the periodic report repeats it). */
struct pias_jap_report pias_jap_group_report(const struct pias_jap_group *g);

/* The group of ta, or NULL (read-only view, valid until the next call that changes j). */
const struct pias_jap_group *pias_jap_group(const struct pias_jap *j, const struct pias_ta *ta);

/* Groups held, targets registered. */
static inline size_t pias_jap_ngroups(const struct pias_jap *j)
{
	return j->index.n;
}

static inline size_t pias_jap_ntargets(const struct pias_jap *j)
{
	return j->ntargets;
}

/* The group after g (NULL: the first), or NULL: see pias_jap_each_group. */
const struct pias_jap_group *pias_jap_next_group(const struct pias_jap *j,
						 const struct pias_jap_group *g);

/*
 * A walk of the groups that stops and goes on later (piasd's re-report,
 * spread over its period): g's place in pias_jap_each_group's order, which
 * it keeps while it is held, whatever other groups come and go; and the
 * first group after place at (-1: the first of all), or NULL. A place
 * whose group is gone still finds the groups after it.
 */
long pias_jap_group_place(const struct pias_jap *j, const struct pias_jap_group *g);
const struct pias_jap_group *pias_jap_group_after(const struct pias_jap *j, long at);

/* Every group held, in no particular order; its targets are g->targets[0..g->count). */
#define pias_jap_each_group(j, g)                                                                  \
	for (const struct pias_jap_group *g = pias_jap_next_group(j, NULL); g;                     \
	     g = pias_jap_next_group(j, g))

/* Target id, or NULL if it is not in use; and its group. */
const struct pias_jap_target *pias_jap_target(const struct pias_jap *j, __u32 id);
const struct pias_jap_group *pias_jap_group_of(const struct pias_jap *j, __u32 id);

/* t's last sign of life from its agent: its last refresh, or the last hold if later. */
__u64 pias_jap_refreshed_ns(const struct pias_jap *j, const struct pias_jap_target *t);

#endif
