/* SPDX-License-Identifier: MIT */
/*
 * Inside the JAP registry: what jap.c (the calls) and jap_change.c (how a
 * call's changes are worked out, then committed or undone) share. Not an
 * interface: jap.h is the registry's.
 */
#ifndef PIAS_DAEMON_JAP_CHANGE_H
#define PIAS_DAEMON_JAP_CHANGE_H

#include <pias/hash.h>

#include "jap.h"

enum jap_change_kind {
	CH_REARM,  /* only the deadline moves (tick) */
	CH_MODIFY, /* the target changed in place */
	CH_ADD,	   /* a new target, appended to its group */
	CH_REMOVE, /* the target goes (marked UNUSED until the commit) */
};

/* One target a call changes. */
struct pias_jap_change {
	__u32 id;
	__u32 next; /* the next change of the same group + 1; 0: the last */
	enum jap_change_kind kind;
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

static inline bool jap_id_used(const struct pias_jap *j, __u32 id)
{
	return j->ids_used[id / 64] & (1ull << (id % 64));
}

static inline void jap_id_mark(struct pias_jap *j, __u32 id, bool used)
{
	if (used)
		j->ids_used[id / 64] |= 1ull << (id % 64);
	else
		j->ids_used[id / 64] &= ~(1ull << (id % 64));
}

static inline struct pias_jap_target *jap_target_at(const struct pias_jap *j, __u32 id)
{
	return &j->groups[j->where[id].g].targets[j->where[id].pos];
}

/* An endpoint's hash, salted with its group (or TA): the same server may serve two. */
static inline __u32 jap_ep_hash(__u32 salt, const union pias_addr *a, __u16 port, __u8 family)
{
	__u32 h = pias_addr_mix(PIAS_HASH_SEED ^ salt, a);

	return pias_final(pias_mix(h, ((__u32)port << 16) | family), 24);
}

static inline __u32 jap_ep_hash_of(__u32 g, const struct pias_target *t)
{
	return jap_ep_hash(g, &t->addr, t->port, t->family);
}

/* Takes new flows: ACTIVE and not ejected by outlier detection. */
static inline bool jap_takes_new(const struct pias_jap_target *t)
{
	return t->t.state == PIAS_TARGET_ACTIVE && !t->ejected;
}

static inline bool jap_is_up(const struct pias_jap_target *t)
{
	return t->t.state == PIAS_TARGET_ACTIVE;
}

/* In the dataplane's set: the ids it may use for the group. */
static inline bool jap_in_set(const struct pias_jap_target *t)
{
	return t->t.state == PIAS_TARGET_ACTIVE || t->t.state == PIAS_TARGET_DRAINING;
}

/*
 * When t's state next needs a look: its refresh timeout, its expiry as a
 * DOWN target, or the end of its drain. Refreshes move none of these: the
 * deadline pops and is set again from the last refresh (timers.h).
 */
static inline __u64 jap_deadline(const struct pias_jap *j, const struct pias_jap_target *t)
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

/* The scratch of a call: emptied, then room for more changes and groups touched. */
void jap_scratch_begin(struct pias_jap *j);
int jap_scratch_reserve(struct pias_jap *j, size_t changes, size_t groups, struct pias_err *e);

/* Group h's entry in the scratch (room reserved), made on its first touch. */
struct pias_jap_eval *jap_touch(struct pias_jap *j, __u32 h, bool created);

/* Change i goes last in ev's list. */
void jap_link_change(struct pias_jap *j, struct pias_jap_eval *ev, __u32 i);

/* A change of target id of group h (room reserved), with its old copy (NULL: none). */
struct pias_jap_change *jap_change(struct pias_jap *j, __u32 h, __u32 id, enum jap_change_kind kind,
				   const struct pias_jap_target *old);

/*
 * The end of every call: evaluate each group touched, then commit and
 * append if the actions fit, or undo (-ENOBUFS). what names the call.
 */
int jap_finish(struct pias_jap *j, __u64 now, struct pias_jap_actions *acts, const char *what,
	       struct pias_err *e);

/* Forget the groups touched (nothing tried yet). */
void jap_untouch(struct pias_jap *j);

/* t (in its group, where[] set) enters the indexes, set, lists and deadlines. */
void jap_target_link(struct pias_jap *j, __u32 h, struct pias_jap_target *t);

/* Group h goes (its deadline, arrays and index entry); release frees a group's arrays. */
void jap_group_delete(struct pias_jap *j, __u32 h);
void jap_group_release(struct pias_jap_group *g);

#endif
