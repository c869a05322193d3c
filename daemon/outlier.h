/* SPDX-License-Identifier: MIT */
/*
 * Passive outlier detection at a JAP (docs/design.md "A target's health"),
 * in the manner of Envoy's: a target that takes flows but does not serve
 * them is taken out of new flows for a while, whatever its agent says.
 *
 * The dataplane counts, per target, how it met each new flow at the first
 * packet it sent back (include/pias/counters.h): answered, refused (a RST
 * before any SYN-ACK: no server listens), or unreachable (an ICMP port
 * unreachable for the flow). piasd feeds the totals here every tick.
 *
 *   - consecutive failures: refused and unreachable flows with no answer
 *     among them, `consecutive` of them (default 5), eject the target;
 *   - no reply: `no_reply_flows` new flows (default 5) that began at least
 *     no_reply_ns ago (default 2 s), with no answer since they began,
 *     eject it too (a hung server: UDP datagrams go unanswered; a hung
 *     TCP server's kernel still answers SYNs, so only the agent's check
 *     sees that one). 0 flows: off, for a group that never answers.
 *
 * Totals come per tick, so "consecutive" is approximate: a tick's answers
 * are taken to come before its failures (the count starts again at the
 * tick's failures).
 *
 * An ejected target is out of new flows (its flows go on) for base_eject_ns
 * times the number of its ejections (30 s, 60 s, ...), at most
 * max_eject_ns; then it is back on probation: counted afresh, and ejected
 * for longer if it fails again. A target that stays in for max_eject_ns
 * starts again from one ejection. The caller keeps each group from
 * ejecting more than max_percent of its targets (and its last one).
 *
 * Pure: the caller brings the time and the counts, and applies decisions.
 */
#ifndef PIAS_DAEMON_OUTLIER_H
#define PIAS_DAEMON_OUTLIER_H

#include <stdbool.h>

#include <linux/types.h>

#define PIAS_OUTLIER_CONSECUTIVE     5
#define PIAS_OUTLIER_NO_REPLY_FLOWS  5
#define PIAS_OUTLIER_NO_REPLY_NS     2000000000ull   /* 2 s */
#define PIAS_OUTLIER_BASE_EJECT_NS   30000000000ull  /* 30 s */
#define PIAS_OUTLIER_MAX_EJECT_NS    300000000000ull /* 300 s */
#define PIAS_OUTLIER_MAX_PERCENT     50
#define PIAS_OUTLIER_SAMPLES	     64 /* new-flow totals kept: 3.2 s of 50 ms ticks */
#define PIAS_OUTLIER_NO_REPLY_MAX_NS 3000000000ull

struct pias_outlier_config {
	__u32 consecutive;    /* 0: this rule off */
	__u32 no_reply_flows; /* 0: this rule off */
	__u64 no_reply_ns;
	__u64 base_eject_ns;
	__u64 max_eject_ns;
	__u32 max_percent;
};

/* A target's totals as the dataplane counts them (pias_target_stats). */
struct pias_outlier_counts {
	__u64 new_flows;
	__u64 answered;
	__u64 refused;
	__u64 unreachable;
};

enum pias_outlier_reason {
	PIAS_OUTLIER_NONE = 0,
	PIAS_OUTLIER_FAILURES, /* consecutive refused or unreachable flows */
	PIAS_OUTLIER_NO_REPLY, /* new flows with no answer */
};

/* One target's state; zeroed (pias_outlier_reset) when its id is given out. */
struct pias_outlier {
	bool seen; /* last holds a sample */
	struct pias_outlier_counts last;
	__u32 failures;	  /* in a row */
	__u64 base_flows; /* new flows when the last answer came */
	struct {
		__u64 ns, flows;
	} samples[PIAS_OUTLIER_SAMPLES];
	__u32 next;
	bool ejected;
	__u64 until_ns;			 /* while ejected: back then */
	__u64 since_ns;			 /* when it was last ejected or readmitted */
	__u32 ejections;		 /* in the current run (sets the time out) */
	__u64 total;			 /* ejections ever, for metrics */
	enum pias_outlier_reason reason; /* of the last ejection */
};

/* cfg with every zero field but the two rules' set to its default. */
void pias_outlier_defaults(struct pias_outlier_config *cfg);

void pias_outlier_reset(struct pias_outlier *o);

/*
 * The target's totals at now. Returns why it should be ejected now, or
 * NONE (also while it is ejected). Totals that went down (the dataplane's
 * entry was cleared) start the counting again.
 */
enum pias_outlier_reason pias_outlier_observe(const struct pias_outlier_config *cfg,
					      struct pias_outlier *o,
					      const struct pias_outlier_counts *c, __u64 now);

/* The caller ejects it (for reason): until when. */
__u64 pias_outlier_eject(const struct pias_outlier_config *cfg, struct pias_outlier *o,
			 enum pias_outlier_reason reason, __u64 now);

/* Ejected, and its time is up. */
bool pias_outlier_due(const struct pias_outlier *o, __u64 now);

/* Back in, on probation: counted afresh from now. */
void pias_outlier_readmit(struct pias_outlier *o, __u64 now);

/* At most this many of a group's n targets may be out at once (n >= 2: at least 1). */
unsigned int pias_outlier_max_out(const struct pias_outlier_config *cfg, unsigned int n);

const char *pias_outlier_reason_name(enum pias_outlier_reason r);

#endif
