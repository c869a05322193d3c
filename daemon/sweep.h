/* SPDX-License-Identifier: MIT */
/*
 * The end of connection state (include/pias/conntrack.h) in the
 * dataplane's tables: the JAP's connections (pias_conns and
 * pias_conns_rev) and the IAP's flow entries (pias_flows). The dataplane
 * itself takes over an expired connection's NAT port when a new flow
 * needs it; the sweep removes every other expired entry, so that memory
 * and NAT ports follow the live connections, not the history.
 *
 * The sweep also counts each target's live connections (= the NAT
 * addresses and ports it holds), per complete pass over the table: a
 * draining target is removed once a pass that began after its drain
 * found none, and a target whose ports pass a high-water mark is
 * reported.
 *
 * Pure: the caller reads entries (in batches, in the kernel's order), asks
 * what to do with each, and applies the answer. No I/O, no clock reads.
 */
#ifndef PIAS_DAEMON_SWEEP_H
#define PIAS_DAEMON_SWEEP_H

#include <stdbool.h>

#include <pias/maps.h>

#include "err.h"

enum pias_sweep_verdict {
	PIAS_SWEEP_KEEP,      /* alive (and counted) */
	PIAS_SWEEP_CHECK_REV, /* silent on the client's side: ask again with the reverse entry */
	PIAS_SWEEP_CHECK_FWD, /* a silent reverse entry: ask again with its forward one */
	PIAS_SWEEP_DELETE,    /* ended: delete (both entries of a connection) */
};

/* What the caller found for a reverse entry's client flow (pias_sweep_rev). */
enum pias_sweep_fwd {
	PIAS_SWEEP_FWD_UNREAD,
	PIAS_SWEEP_FWD_MINE, /* the forward entry names this target, NAT address and port */
	PIAS_SWEEP_FWD_NONE, /* none, or another connection's: this one is left over */
};

/* A reverse entry silent this long is looked at (its connection may be gone). */
#define PIAS_SWEEP_REV_IDLE_NS 2000000000ull

struct pias_sweep {
	struct pias_ct_timeouts to;
	__u32 *count; /* this pass: live connections per target id */
	__u32 *last;  /* the last complete pass */
	__u64 pass_start_ns;
	__u64 last_start_ns; /* of the last complete pass; 0: none yet */
	__u64 last_end_ns;
	__u64 passes;	       /* complete passes */
	__u64 live_last;       /* connections counted in the last complete pass */
	__u64 conns_ended;     /* connections deleted, since start */
	__u64 flows_ended;     /* IAP flow entries deleted, since start */
	__u64 leftovers_ended; /* reverse entries without a connection deleted */
};

int pias_sweep_init(struct pias_sweep *s, const struct pias_ct_timeouts *to, struct pias_err *e);
void pias_sweep_free(struct pias_sweep *s);

/* A pass over the connection table begins (its counts start from zero) or ends. */
void pias_sweep_pass_begin(struct pias_sweep *s, __u64 now);
void pias_sweep_pass_end(struct pias_sweep *s, __u64 now);

/*
 * What to do with JAP connection c (of protocol proto) at now. rv is its
 * reverse entry, or NULL when not read yet: CHECK_REV asks for it, so that
 * only connections the client side shows silent cost a lookup. A
 * connection whose target id is no longer in use (target_in_use false)
 * ends: its id may be given to another target. A connection kept is
 * counted for its target; DELETE is counted as ended.
 */
enum pias_sweep_verdict pias_sweep_conn(struct pias_sweep *s, __u8 proto, const struct pias_conn *c,
					const struct pias_conn_rev *rv, bool target_in_use,
					__u64 now);

/*
 * What to do with reverse entry rv at now. A connection's reverse entry
 * goes with its forward one (pias_sweep_conn); this finds those left
 * without one (the client reused the 5-tuple, an eviction): a silent
 * entry costs the caller a lookup of its forward entry (CHECK_FWD), and a
 * leftover is deleted once its target can no longer hold TIME_WAIT on the
 * NAT address and port.
 */
enum pias_sweep_verdict pias_sweep_rev(struct pias_sweep *s, const struct pias_conn_rev *rv,
				       enum pias_sweep_fwd fwd, __u64 now);

/* Has IAP flow entry fe (of protocol proto) ended at now? Counted if so. */
bool pias_sweep_flow(struct pias_sweep *s, __u8 proto, const struct pias_flow_entry *fe, __u64 now);

/*
 * Live connections of target id in the last complete pass, if that pass
 * began at or after since; -1 if there is no such pass yet.
 */
long pias_sweep_target_conns(const struct pias_sweep *s, __u32 id, __u64 since);

#endif
