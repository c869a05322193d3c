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
 * (900 ms + 100 ms ticks: within 1 s, plus the coarse clock's few ms).
 * A DOWN target comes back ACTIVE when it refreshes or re-registers (a
 * reply alone does not revive it); one that stays silent for a further
 * down_expire_ns is removed. A target that leaves, or that the operator
 * drains, is DRAINING (keeps its flows, gets no new ones) and is removed
 * once its connections have ended (cfg.conns says how many are left), or
 * drain_timeout_ns after the drain began at the latest. A DOWN target that
 * leaves is removed at once.
 *
 * Target ids go round: a removed target's id is given out again only after
 * every other free id, so that a connection entry of the old target still
 * in the dataplane's tables cannot lead to the new one.
 *
 * Atomicity: every call either applies all of its changes and appends all
 * of their actions, or (on any error, including -ENOBUFS when the action
 * list has no room) changes nothing and appends nothing. Actions are
 * appended: several calls may share a list until the caller flushes it.
 *
 * Failing calls return a negative errno and fill e (may be NULL).
 */
#ifndef PIAS_DAEMON_JAP_H
#define PIAS_DAEMON_JAP_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/maps.h>

#include "err.h"

#define PIAS_JAP_REFRESH_TIMEOUT_NS 900000000ull   /* 900 ms */
#define PIAS_JAP_DRAIN_TIMEOUT_NS   30000000000ull /* 30 s */
#define PIAS_JAP_DOWN_EXPIRE_NS	    30000000000ull /* 30 s DOWN, then removed */
#define PIAS_JAP_REPORT_FRACTION    0.25
#define PIAS_JAP_SHED_THRESHOLD	    0.25	    /* a quarter of the targets lost: shed */
#define PIAS_JAP_SHED_HOLD_NS	    300000000000ull /* 300 s: then the smaller size is the norm */
#define PIAS_JAP_SHARE_FULL	    1000	    /* per mille (PIAS_SHARE_FULL on the wire) */
#define PIAS_JAP_SHARE_STEP	    50		    /* shares move in 5% steps: no report storms */
#define PIAS_JAP_MAX_ACTIONS_PER_TA (2 * PIAS_SET_MAX_TARGETS + 2)

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
	__u64 last_refresh_ns;
	__u64 drain_start_ns;	   /* valid while DRAINING */
	bool left;		   /* DRAINING by its own LEAVE (not restored so) */
	bool ejected;		   /* outlier detection: no new flows (daemon/outlier.h) */
	struct pias_policy policy; /* as its last REGISTER said */
	__u32 policy_serial;
};

/* One group served here; exists while it has at least one target. */
struct pias_jap_group {
	struct pias_ta ta;
	__u32 count; /* used entries of targets[] */
	struct pias_jap_target targets[PIAS_SET_MAX_TARGETS];
	bool reported_valid;	   /* a REPORT went out for this TA */
	__u32 reported;		   /* the last reported count */
	__u16 dial;		   /* the operator's share of the flows, per mille */
	__u16 share;		   /* the last reported share: dial x shedding */
	__u32 peak;		   /* most active targets within shed_hold_ns */
	__u64 peak_ns;		   /* when the group last had peak targets */
	struct pias_policy policy; /* the last reported policy */
	__u32 policy_serial;
	__u16 n_scopes; /* the last reported prefixes */
	union pias_addr scopes[PIAS_GROUP_SCOPES];
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

struct pias_jap {
	struct pias_jap_config cfg;
	struct pias_jap_group *groups; /* ngroups used of cap; linear lookup */
	size_t ngroups, cap;
	struct pias_jap_drained *drained; /* ndrained used of drained_cap */
	size_t ndrained, drained_cap;
	__u64 ids_used[PIAS_MAX_TARGETS / 64]; /* bit i: target id i in use; bit 0 always */
	__u32 id_next;			       /* where the search for a free id starts */
};

enum pias_jap_action_kind {
	PIAS_JAP_TARGET_SET = 1, /* write pias_targets[id] = target */
	PIAS_JAP_TARGET_DEL,	 /* clear pias_targets[id] */
	PIAS_JAP_SET_SET,	 /* write pias_tgt_sets[ta] = set (ACTIVE + DRAINING ids) */
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

struct pias_jap_action {
	enum pias_jap_action_kind kind;
	__u32 id; /* TARGET_SET, TARGET_DEL */
	struct pias_ta ta;
	union {
		struct pias_target target;     /* TARGET_SET */
		struct pias_target_set set;    /* SET_SET */
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

/* cfg NULL: the defaults above. Zero timeouts or a negative fraction: -EINVAL. */
int pias_jap_init(struct pias_jap *j, const struct pias_jap_config *cfg, struct pias_err *e);
void pias_jap_free(struct pias_jap *j);

/*
 * A target registers (weight > 0). Returns its id. An endpoint already
 * registered for ta is a refresh (same id; weight and policy updated;
 * DOWN -> ACTIVE). The group's policy, in its target set, is that of the
 * live target with the highest policy serial (the earliest registered
 * among equals). -EINVAL: bad family, weight or policy (replicate for a
 * TCP group); -ENOSPC: PIAS_SET_MAX_TARGETS
 * targets in the TA, or no free id; -EBUSY: the endpoint is draining, or
 * drained by the operator;
 * -ENOMEM.
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
 * first tick that does not hold.
 */
void pias_jap_hold(struct pias_jap *j, __u64 now);

/*
 * Periodic liveness check (call every tick interval). last_reply (may be
 * NULL) gives the dataplane's last reply time of a target, same clock as
 * now. ACTIVE -> DOWN when max(last refresh, last reply) is more than
 * refresh_timeout_ns before now; DOWN removed after a further
 * down_expire_ns; DRAINING removed when cfg.conns finds none left, or
 * drain_timeout_ns after it began.
 * last_reply is called twice per target (count, then apply) and must
 * return the same value both times: read a snapshot, not the live map.
 */
int pias_jap_tick(struct pias_jap *j, __u64 now, pias_jap_last_reply_fn last_reply, void *ctx,
		  struct pias_jap_actions *acts, struct pias_err *e);

/*
 * Restart: target id of ta, as found in the pinned maps, taken over with
 * its state and its group's policy (serial 0: the next REGISTER says the
 * real one), alive from now (a live target refreshes, a dead one times
 * out as usual). No actions: the maps hold it already. -EEXIST: id
 * restored before; -EINVAL: not a valid entry; -ENOSPC, -ENOMEM.
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

/* What g's reports say now (the periodic report repeats it). */
struct pias_jap_report pias_jap_group_report(const struct pias_jap_group *g);

/* The group of ta, or NULL (read-only view, for status and tests). */
const struct pias_jap_group *pias_jap_group(const struct pias_jap *j, const struct pias_ta *ta);

#endif
