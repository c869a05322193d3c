/* SPDX-License-Identifier: MIT */
/*
 * One proxy's protocol: the glue between its state machines (membership,
 * ring and RAP table, JAP registry, RAP registry, IAP cache, invalidation
 * limiter) that turns each machine's actions into the others' inputs, into
 * messages and into dataplane writes. piasd links it (daemon/piasd/ is its
 * edge: sockets, bpf(), the clock), piasd-bench links it, and a simulator
 * can link thousands of them into one process.
 *
 * Pure, like the machines: every input carries the time (`now`, ns of the
 * dataplane's monotonic clock); the node reads no clock, no socket, no map,
 * and draws no random number itself. What it does to the world goes
 * through struct pias_node_io, a table of functions its owner supplies:
 * messages to a proxy id or to a peer's address, dataplane writes, and the
 * few dataplane readings the machines need. State lives in struct
 * pias_node: no statics, so nodes are independent.
 *
 * Calls go one way: the owner calls the node's inputs (pias_node_*), the
 * node calls its machines and then the io functions. An io function must
 * not call the node's inputs back (it may read the node: accessors below);
 * it may return an error, which the node logs and goes on from (a failed
 * RAP table write is tried again at the next tick).
 *
 * Messages to this node itself (its IAP asking its own RAP, its JAP
 * reporting to itself) never reach io: they go through a loopback queue,
 * drained at the end of the input that queued them, so that no machine is
 * re-entered while its action list is being applied. The queue grows as
 * needed: a JAP re-reporting every group after a ring change queues a
 * REPORT to itself for each group it is RAP of too (a REPORTS to itself
 * is queued as the REPORTs it holds: the queue's entries stay small).
 *
 * Errors: inputs return 0 or a negative errno and fill e (may be NULL).
 * An input that fails changes nothing (the machines are all-or-nothing);
 * the action lists grow on -ENOBUFS and the call is made again.
 */
#ifndef PIAS_DAEMON_NODE_H
#define PIAS_DAEMON_NODE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <pias/events.h>
#include <pias/maps.h>

#include "err.h"
#include "iap.h"
#include "jap.h"
#include "membership.h"
#include "msg.h"
#include "rap_registry.h"
#include "ring.h"

#define PIAS_NODE_JOIN_WAIT_NS 3000000000ull /* RAP table written without a full view after */

/* Log levels of io.log (piasd's, in the same order). */
enum {
	PIAS_NODE_LOG_ERR,
	PIAS_NODE_LOG_WARN,
	PIAS_NODE_LOG_INFO,
	PIAS_NODE_LOG_DEBUG,
};

/*
 * The node's counters: name, help. piasd's `show counters` and /metrics
 * print them beside piasd's own (daemon/piasd/piasd.h), as pias_piasd_*.
 */
#define PIAS_NODE_COUNTERS(X)                                                                      \
	X(reports_sent, "JAP: target-count reports sent to RAPs")                                  \
	X(report_msgs_sent, "JAP: messages those went in (a REPORTS packs several for one RAP)")   \
	X(reports_rcvd, "RAP: target-count reports received")                                      \
	X(bindings_sent, "RAP: bindings sent to IAPs (negative ones included)")                    \
	X(queries_sent, "IAP: binding queries sent to RAPs")                                       \
	X(bindings_installed, "IAP: bindings written to the map")                                  \
	X(invalidations_sent, "JAP: invalidations sent to IAPs")                                   \
	X(invalidations_limited, "JAP: invalidations suppressed by the rate limit")                \
	X(invalidations_rcvd, "IAP: invalidations received")                                       \
	X(ring_rebuilds, "RAP table rewrites after the live proxy set changed")                    \
	X(rap_slots_written, "RAP table slots written")                                            \
	X(loopback_msgs, "messages between roles of this proxy (no datagram)")                     \
	X(loopback_dropped, "messages to self dropped: the loopback queue was full")

enum pias_node_counter {
#define X(name, help) PIAS_NODE_C_##name,
	PIAS_NODE_COUNTERS(X)
#undef X
	PIAS_NODE_C_COUNT
};

extern const char *const pias_node_counter_names[PIAS_NODE_C_COUNT];
extern const char *const pias_node_counter_help[PIAS_NODE_C_COUNT];

/*
 * What the node does to the world. Any function may be NULL: a write or a
 * message not made (a test, a benchmark row that needs only part of it), a
 * reading of 0 (last_reply), no count (conns: a drain lasts its timeout),
 * rand 0, no log. ctx is passed to each.
 *
 * Writes return 0 or a negative errno with e filled. A delete of what is
 * not there succeeds: the node deletes what may already be gone (a group's
 * target set goes when its last target goes down, and again when the group
 * goes).
 */
struct pias_node_io {
	void *ctx;
	/*
	 * A message for proxy id `to` (never this node): REPORT or REPORTS,
	 * QUERY, BINDING, INVALIDATE.
	 */
	void (*send)(void *ctx, __u32 to, struct pias_msg *m);
	/* A membership message to an address (a seed has no id yet). */
	void (*send_peer)(void *ctx, const struct pias_peer *to, struct pias_msg *m);

	/*
	 * The JAP's target table and target sets (pias_targets, pias_tgt_sets).
	 * A set comes whole, as the registry holds it (pias_jap_set_read):
	 * ids[n] with their weights (0: DRAINING or ejected, in the set for its
	 * flows, never drawn for a new one) and the group's policy; so a
	 * target's new weight reaches the dataplane as a new set, and the
	 * owner never reads its maps back to follow one. ids and weights are
	 * the node's scratch, good for the call only. A set's writer may read
	 * its targets' entries (a scoped set's addresses): an owner that
	 * queues target writes makes them before the set.
	 */
	int (*target_put)(void *ctx, __u32 id, const struct pias_target *t, struct pias_err *e);
	int (*target_del)(void *ctx, __u32 id, struct pias_err *e);
	int (*tgtset_put)(void *ctx, const struct pias_ta *ta, const __u32 *ids,
			  const __u32 *weights, size_t n, const struct pias_policy *policy,
			  struct pias_err *e);
	int (*tgtset_del)(void *ctx, const struct pias_ta *ta, struct pias_err *e);
	/* The RAP's group table (pias_groups). */
	int (*group_put)(void *ctx, const struct pias_ta *ta, const struct pias_group *g,
			 struct pias_err *e);
	int (*group_del)(void *ctx, const struct pias_ta *ta, struct pias_err *e);
	/* The IAP's bindings (pias_bindings, and a binding set's JAPs: set count 0 for none). */
	int (*binding_put)(void *ctx, const struct pias_ta *ta, const struct pias_binding *b,
			   const struct pias_group *set, struct pias_err *e);
	int (*binding_del)(void *ctx, const struct pias_ta *ta, struct pias_err *e);
	/*
	 * The end of an action list's writes: an owner that queues the writes
	 * above, to make them in batches, makes what it queued now (NULL:
	 * writes are made when asked). The node applies a JAP list in four
	 * passes (targets written, sets, targets deleted, reports), so that a
	 * tick that takes many targets down asks for their writes in a row.
	 * An owner that queues must make what it queued before a message goes
	 * out and before a reading, so that both see the writes before them.
	 */
	int (*flush)(void *ctx, struct pias_err *e);
	/* RAP table slots[i] = vals[i], n of them, in one batch. */
	int (*rap_slots_put)(void *ctx, const __u32 *slots, const struct pias_rap_slot *vals,
			     size_t n, struct pias_err *e);
	/*
	 * Membership's verdicts on another proxy: alive at `at` (new, back or
	 * moved), or gone (`at`: its last address; left: it said so). The node
	 * has moved it onto or off the ring; the proxy table is the owner's.
	 */
	void (*proxy_up)(void *ctx, __u32 id, const struct pias_peer *at);
	void (*proxy_down)(void *ctx, __u32 id, const struct pias_peer *at, bool left);

	/*
	 * The dataplane's last reply time of target id (0: none), read now:
	 * asked only about a target whose refreshes are late, at a tick.
	 */
	__u64 (*last_reply)(void *ctx, __u32 id);
	/* Target id's live connections in a complete count begun at or after since; -1: none yet. */
	long (*conns)(void *ctx, __u32 id, __u64 since);
	/* A uniformly random 32-bit value (RAP picks, membership's probe order). */
	__u32 (*rand)(void *ctx);
	/* A line of the log at level (PIAS_NODE_LOG_*); lines above log_level are not made. */
	void (*log)(void *ctx, int level, const char *line);
	int log_level;
};

struct pias_node_config {
	__u32 id;	       /* this proxy, 1..PIAS_MAX_PROXIES-1 */
	struct pias_peer self; /* its overlay address and port */
	__u32 incarnation;     /* membership: above any used before (wall-clock seconds) */
	__u64 seq_base;	       /* report seqs and generations start above it (wall-clock ns) */
	unsigned int rap_k;    /* RAPs per group, 1..PIAS_RAP_REPLICAS */
	/*
	 * The RAP table as written (PIAS_RAP_SLOTS slots): the owner's, which
	 * io.rap_slots_put keeps (piasd: the dataplane's, mapped), compared
	 * slot by slot at the first write (after a restart only what moved is
	 * written); NULL: the node keeps its own, empty at first, and applies
	 * what io.rap_slots_put took.
	 */
	struct pias_rap_slot *rap_table;
	__u64 join_wait_ns;	    /* 0: PIAS_NODE_JOIN_WAIT_NS */
	__u64 report_period_ns;	    /* every group re-reported; 0: PIAS_RAP_REPORT_PERIOD_NS */
	__u64 inval_interval_ns;    /* per (IAP, TA); 0: PIAS_INVAL_INTERVAL_NS */
	struct pias_jap_config jap; /* conns: the node's (io.conns) */
	struct pias_rap_config rap; /* all zero: the registry's defaults */
	struct pias_iap_config iap; /* all zero: the cache's defaults */
	struct pias_members_config members; /* rand: io.rand, else its own from .seed */
};

/* A message to self: the kinds that go there (see node.c). */
struct pias_node_loop_msg;
/* A report waiting to go to its RAP in a REPORTS (see node_jap.c). */
struct pias_node_pending_report;

/* Action lists, grown when a call needs more room. */
struct pias_node_members_acts {
	struct pias_members_action *a;
	size_t cap;
	struct pias_msg *msgs;
	size_t msgs_cap;
};

/*
 * One proxy. Read-only outside node*.c: the owner reads the machines
 * (status, metrics, admission checks) and calls the inputs below.
 */
struct pias_node {
	struct pias_node_config cfg;
	struct pias_node_io io;

	/* overlay: who is alive, and which proxies are each group's RAPs */
	struct pias_members members;
	struct pias_ring ring;
	struct pias_rap_slot *rap_table; /* as last written (PIAS_RAP_SLOTS): cfg's or own */
	bool own_table;			 /* rap_table is the node's */
	/* slots joins and leaves may have changed (all at start): recomputed at the next tick */
	struct pias_slot_set *rap_dirty;
	bool ring_ready; /* the overlay's view is in: the table is ours to write */
	bool ring_dirty; /* rap_dirty has slots */
	__u64 started_ns;

	/* roles */
	struct pias_jap jap;
	struct pias_rap rap;
	struct pias_iap iap;
	struct pias_inval_limiter inval;
	__u64 report_seq;	/* JAP: REPORT seq */
	__u64 last_rereport_ns; /* JAP: the period of re-reporting every group began then */
	size_t rereport_done;	/* JAP: groups re-reported in that period so far */
	long rereport_at;	/* JAP: the last one's place (pias_jap_group_place); -1: none */
	/* JAP: reports waiting to go out per RAP, packed, and the REPORTS being filled */
	struct pias_node_pending_report *pack;
	size_t pack_n, pack_cap;
	struct pias_msg *pack_msg;
	/* JAP: a set being written (io.tgtset_put), read from the registry: grown to the largest */
	__u32 *set_ids, *set_weights;
	size_t set_cap;

	/* action lists */
	struct pias_jap_actions jap_acts;
	struct pias_rap_actions rap_acts;
	struct pias_iap_actions iap_acts;
	struct pias_node_members_acts mem_acts;

	/* messages to self, and the one being handled */
	struct pias_node_loop_msg *loop;
	size_t loop_n, loop_cap;
	struct pias_msg *loop_msg;

	__u64 counters[PIAS_NODE_C_COUNT];
};

/*
 * Sets the node up: its machines empty, itself alone on the ring, seeds[n]
 * to join through (addresses). io is copied. -EINVAL (a bad config field,
 * named), -ENOMEM. pias_node_free undoes it (also after a failed init).
 */
int pias_node_init(struct pias_node *n, const struct pias_node_config *cfg,
		   const struct pias_node_io *io, const struct pias_peer *seeds, size_t nseeds,
		   __u64 now, struct pias_err *e);
void pias_node_free(struct pias_node *n);

/*
 * Inputs.
 */

/*
 * A decoded, authenticated message from another proxy (from: where it came
 * from; membership replies there): membership's PING, ACK, PING_REQ,
 * VIEW_REQ, VIEW; REPORT, REPORTS, QUERY, BINDING, INVALIDATE. -EPROTO: a
 * type not the node's (the owner handles it, or drops it). A REPORTS is
 * taken entry by entry, each as a REPORT: one refused does not stop the
 * others (the first refusal is returned).
 */
int pias_node_recv(struct pias_node *n, const struct pias_msg *m, const struct pias_peer *from,
		   __u64 now, struct pias_err *e);

/*
 * A dataplane event: BOUND, NO_GROUP (this RAP), INVALIDATE (this JAP),
 * MISS (nothing: see node_rap.c). -EPROTO: a type not the node's.
 */
int pias_node_dp_event(struct pias_node *n, const struct pias_event *ev, __u64 now,
		       struct pias_err *e);

/*
 * Every tick (piasd: 50 ms; it bounds every timer's lateness): membership
 * when due, the RAP table, target liveness, report expiry, binding
 * refresh, the periodic re-report (spread over its period: node_jap.c).
 */
void pias_node_tick(struct pias_node *n, __u64 now);

/*
 * This JAP cannot be reached at the registration address (not serving):
 * its targets' silence means nothing now (pias_jap_hold). Call before the
 * tick, at every tick while so.
 */
void pias_node_jap_hold(struct pias_node *n, __u64 now);

/*
 * A target's REGISTER or LEAVE, admitted by the owner (authentication,
 * replay, cookies, rates are the edge's): pias_jap_register's id, or
 * -errno; a leave with down: its health check fails (pias_jap_fail). A
 * REG_BATCH's entry is a REGISTER of the registration as held (the edge
 * checks the entry and builds the endpoint from pias_jap_target): for an
 * ACTIVE target nothing but the time changes, no action.
 */
int pias_node_register(struct pias_node *n, const struct pias_ta *ta,
		       const struct pias_jap_endpoint *ep, __u32 weight, __u64 now,
		       struct pias_err *e);
int pias_node_target_leave(struct pias_node *n, const struct pias_ta *ta, __u32 id, bool down,
			   __u64 now, struct pias_err *e);

/* The operator's commands (piasctl), and outlier detection's ejections. */
int pias_node_dial(struct pias_node *n, const struct pias_ta *ta, __u32 permille, __u64 now,
		   struct pias_err *e);
int pias_node_drain(struct pias_node *n, const struct pias_ta *ta,
		    const struct pias_jap_endpoint *ep, __u64 now, struct pias_err *e);
int pias_node_undrain(struct pias_node *n, const struct pias_ta *ta,
		      const struct pias_jap_endpoint *ep, __u64 now, struct pias_err *e);
int pias_node_eject(struct pias_node *n, const struct pias_ta *ta, __u32 id, bool out, __u64 now,
		    struct pias_err *e);
int pias_node_flush_bindings(struct pias_node *n, struct pias_err *e);
/* Withdraw: leave the overlay (membership says LEFT) and the ring. */
int pias_node_leave(struct pias_node *n, __u64 now, struct pias_err *e);

/*
 * Restart: what the dataplane's maps hold, taken over without writing it
 * back (daemon/piasd/restore.c). Call after init, before any input. (The
 * RAP table is cfg.rap_table.)
 */
int pias_node_restore_target(struct pias_node *n, const struct pias_ta *ta, __u32 id,
			     const struct pias_target *t, const struct pias_policy *policy,
			     __u64 now, struct pias_err *e);
int pias_node_restore_group(struct pias_node *n, const struct pias_ta *ta,
			    const struct pias_group *g, __u64 now, struct pias_err *e);
int pias_node_restore_binding(struct pias_node *n, const struct pias_ta *ta,
			      const struct pias_binding *b, const struct pias_group *set,
			      __u64 lifetime_ns, struct pias_err *e);

/*
 * Readings.
 */

/* The overlay's view is in (or the wait for it is over): ring and table are ours. */
bool pias_node_ready(const struct pias_node *n);
/* Proxy id's overlay address; -ENOENT if not known. */
int pias_node_peer(const struct pias_node *n, __u32 id, struct pias_peer *out);
/* The RAPs of ta as the dataplane sees them (the table as written); returns how many. */
int pias_node_raps_of(const struct pias_node *n, const struct pias_ta *ta,
		      __u32 out[PIAS_RAP_REPLICAS]);
/* Predicted RTT between proxies a and b in ns; 0: unknown. */
__u64 pias_node_rtt_ns(const struct pias_node *n, __u32 a, __u32 b);

#endif
