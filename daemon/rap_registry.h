/* SPDX-License-Identifier: MIT */
/*
 * piasd's RAP registry (paper section 2, 2.1): a group's rendezvous proxy
 * keeps, per TA, the JAPs that serve it and their approximate target counts
 * as reported by the JAPs; writes the RAP group table (pias_groups); answers
 * the dataplane's BOUND and NO_GROUP events and the IAPs' explicit queries
 * with bindings (TA -> JAP, with a lifetime) or negative bindings.
 *
 * (lib/ring.h is the other RAP module: which proxies are a group's RAPs.)
 *
 * Pure state machine, in the style of daemon/jap.h: every input carries the
 * time (now, ns, CLOCK_MONOTONIC_COARSE); the output is a list of actions
 * the caller applies in order. No I/O, no BPF, no clock reads, no random
 * numbers (the caller supplies them).
 *
 * Reports: a JAP's report for a TA carries its seq, strictly increasing per
 * (JAP, TA); a report whose seq is not above the last one seen is stale or
 * a duplicate and is ignored. A count of 0 removes the JAP from the group
 * (its seq is remembered until report_expiry_ns, so a late older report
 * does not bring it back). A report older than report_expiry_ns is dropped
 * by pias_rap_tick(): JAPs must re-send their report at least every
 * PIAS_RAP_REPORT_PERIOD_NS (expiry is three periods).
 *
 * Group table: the TA's pias_group lists its JAPs with count > 0 and a
 * share above 0, weight = count x share (at least 1), largest count first
 * (ties: lower jap_id first), and the group's policy. At most
 * PIAS_GROUP_MAX_JAPS go in; the others are kept (and move in when a larger
 * one leaves) and GROUP_SET says how many were left out (omitted). A TA
 * keeps at most PIAS_RAP_MAX_REPORTS JAPs' reports.
 *
 * Generation: each time a TA's published JAP set (the ids in its
 * pias_group) changes, the TA gets a new generation from a counter shared by
 * all TAs, so it strictly increases per TA, even across deletion.
 *
 * Selection (pias_rap_query, and NO_GROUP when the TA turns out to be
 * known) is random, from a caller-supplied 32-bit value rnd, among the
 * published JAPs, with probability
 *
 *   P(j) = (1 - alpha) * count_j / sum(count)  +  alpha * near_j / n_near
 *
 * where near_j is 1 if j has the smallest known RTT from the IAP (n_near JAPs
 * tie for it) and 0 otherwise. alpha = 0: pure load balance (each JAP's
 * share in proportion to its count); alpha = 1: always the nearest JAP
 * (lowest jap_id among ties); in between, the nearest JAP gets alpha of the
 * new IAPs on top of its load share. Without RTTs (rtt NULL, or 0 =
 * unknown for all), pure load. The IAP itself, when it is one of the
 * group's JAPs, is nearest to itself (RTT taken as 1 ns, whatever the
 * coordinates say). rnd selects the point u = rnd / 2^32 on the
 * cumulative distribution, JAPs in group-table order.
 *
 * Binding sets: when the chosen JAP's share is below full, or the group is
 * random, the binding is a set (docs/design.md, "Choosing a target"): the
 * chosen JAP with its share of PIAS_RAP_SET_SCALE, the rest spread over
 * the other JAPs by weight (random: every JAP by weight), living
 * PIAS_RAP_SET_TTL_NS at most. A BOUND answers with the JAP the first
 * packet went to alone, provisionally, so that the flow it began pins that
 * JAP; the refresh gets the set.
 *
 * Rate limit: per (IAP, TA) at most one SEND_BINDING per bind_interval_ns
 * for the same (jap_id, generation): a repeated BOUND (or NO_GROUP answered
 * with a binding) within the interval emits nothing. An explicit query is
 * always answered (the IAP asked because it has no binding) and also counts
 * as a send. bind_interval_ns 0: no limit.
 *
 * Atomicity: every call either applies all of its changes and appends all
 * of its actions, or (on any error, including -ENOBUFS when the action list
 * has no room) changes nothing and appends nothing. Failing calls return a
 * negative errno and fill e (may be NULL).
 */
#ifndef PIAS_DAEMON_RAP_REGISTRY_H
#define PIAS_DAEMON_RAP_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/maps.h>

#include "err.h"

#define PIAS_RAP_BINDING_TTL_NS		300000000000ull /* 300 s */
#define PIAS_RAP_NEGATIVE_TTL_NS	30000000000ull	/* 30 s */
#define PIAS_RAP_REPORT_PERIOD_NS	10000000000ull	/* JAPs re-report every 10 s */
#define PIAS_RAP_REPORT_EXPIRY_NS	(3 * PIAS_RAP_REPORT_PERIOD_NS)
#define PIAS_RAP_BIND_INTERVAL_NS	100000000ull  /* 100 ms */
#define PIAS_RAP_PROVISIONAL_TTL_NS	2000000000ull /* 2 s: see pias_rap_bound */
#define PIAS_RAP_SETTLE_NEGATIVE_TTL_NS 250000000ull  /* 250 ms: see pias_rap_ring_changed */
#define PIAS_RAP_MAX_REPORTS		64	      /* JAP reports kept per TA */
#define PIAS_RAP_SENT_SETS		4096	      /* rate-limit records: sets ... */
#define PIAS_RAP_SENT_WAYS		4	      /* ... of this many (IAP, TA) pairs */

struct pias_rap_config {
	__u64 binding_ttl_ns;	  /* lifetime of a binding */
	__u64 negative_ttl_ns;	  /* lifetime of a negative binding */
	__u64 report_expiry_ns;	  /* a JAP report older than this is dropped */
	__u64 bind_interval_ns;	  /* per (IAP, TA) binding rate limit; 0: none */
	double alpha;		  /* proximity weight, 0 (pure load) .. 1 (nearest) */
	__u64 provisional_ttl_ns; /* a first binding to a JAP not the nearest; 0: default */
};

#define PIAS_RAP_SHARE_FULL 1000	   /* per mille: a JAP's whole share */
#define PIAS_RAP_SET_TTL_NS 30000000000ull /* 30 s: a binding set's lifetime */
#define PIAS_RAP_SET_SCALE  1000000u	   /* a binding set's shares sum to this */

#define PIAS_RAP_SCOPE_ROWS 32 /* (prefix, JAP) pairs kept per scoped TA */

/* What a JAP reports for a TA. */
struct pias_rap_report_in {
	__u32 count; /* approximate targets; 0: none left */
	__u64 seq;
	__u16 share; /* per mille of the flows it would get: dial x shedding */
	struct pias_policy policy;
	__u32 policy_serial;
	__u16 n_scopes;		       /* scoped: the prefixes of its targets ... */
	const union pias_addr *scopes; /* ... (NULL when none) */
};

/* A prefix one JAP has targets in (scoped groups). */
struct pias_rap_scope_row {
	union pias_addr prefix;
	__u32 jap_id;
};

/* One JAP's last report for a TA; count 0: removed (remembered for its seq). */
struct pias_rap_report {
	__u32 jap_id;
	__u32 count;
	__u64 seq;
	__u64 last_report_ns;
	__u16 share;
	struct pias_policy policy;
	__u32 policy_serial;
};

struct pias_rap_group {
	struct pias_ta ta;
	__u32 generation;		   /* of the published set; 0: never published */
	__u32 nreports;			   /* used entries of reports[] */
	struct pias_group g;		   /* as published (count 0: not in the table) */
	__u16 shares[PIAS_GROUP_MAX_JAPS]; /* each published JAP's share, per mille */
	__u32 omitted;			   /* JAPs with count > 0 left out of g */
	/* the JAPs' prefixes as reported; g.scopes holds those of published JAPs */
	__u32 nrows;
	struct pias_rap_scope_row rows[PIAS_RAP_SCOPE_ROWS];
	struct pias_rap_report reports[PIAS_RAP_MAX_REPORTS];
};

/* The last binding sent to an IAP for a TA (rate limit). */
struct pias_rap_sent {
	struct pias_ta ta;
	__u32 iap_id;
	__u32 jap_id;
	__u32 generation;
	__u64 at_ns;
};

struct pias_rap {
	struct pias_rap_config cfg;
	struct pias_rap_group *groups; /* ngroups used of cap; linear lookup */
	size_t ngroups, cap;
	/* rate limiter: PIAS_RAP_SENT_SETS sets of PIAS_RAP_SENT_WAYS, by (IAP, TA) */
	struct pias_rap_sent *sent;
	__u32 next_generation; /* last generation handed out */
	__u64 settle_until_ns; /* NO_GROUP answers are short-lived until then */
};

enum pias_rap_action_kind {
	PIAS_RAP_GROUP_SET = 1, /* write pias_groups[ta] = group */
	PIAS_RAP_GROUP_DEL,	/* delete pias_groups[ta]: no JAP left */
	PIAS_RAP_SEND_BINDING,	/* tell iap_id: ta -> jap_id, generation, lifetime */
	PIAS_RAP_SEND_NEGATIVE, /* tell iap_id: drop ta for lifetime */
};

struct pias_rap_action {
	enum pias_rap_action_kind kind;
	struct pias_ta ta;
	__u32 iap_id;	   /* SEND_* */
	__u32 jap_id;	   /* SEND_BINDING */
	__u32 generation;  /* SEND_*: the TA's generation (0: none yet) */
	__u64 lifetime_ns; /* SEND_*: binding_ttl_ns or negative_ttl_ns */
	__u32 omitted;	   /* GROUP_SET: JAPs left out (more than PIAS_GROUP_MAX_JAPS) */
	/*
	 * GROUP_SET: the group; SEND_BINDING: a binding set (count > 1, or a
	 * random group: each new flow at the IAP draws a JAP from it, japs[0]
	 * is jap_id), or count 0: the binding names jap_id alone.
	 */
	struct pias_group group;
};

/* A caller-provided action buffer: n used of cap. */
struct pias_rap_actions {
	struct pias_rap_action *a;
	size_t cap;
	size_t n;
};

/* RTT in ns from IAP iap_id to JAP jap_id; 0: unknown. */
typedef __u64 (*pias_rap_rtt_fn)(void *ctx, __u32 iap_id, __u32 jap_id);

/* cfg NULL: the defaults above, alpha 0. Zero TTLs or expiry, alpha outside [0,1]: -EINVAL. */
int pias_rap_init(struct pias_rap *r, const struct pias_rap_config *cfg, struct pias_err *e);
void pias_rap_free(struct pias_rap *r);

/*
 * JAP jap_id (non-zero) has count targets for ta (0: none). Stale or
 * duplicate seq: ignored (returns 0, no action). Emits GROUP_SET or
 * GROUP_DEL when the published group changes. -EINVAL, -ENOSPC (the TA
 * already has PIAS_RAP_MAX_REPORTS JAPs), -ENOMEM, -ENOBUFS.
 */
int pias_rap_report(struct pias_rap *r, const struct pias_ta *ta, __u32 jap_id, __u32 count,
		    __u64 seq, __u64 now, struct pias_rap_actions *acts, struct pias_err *e);

/*
 * The same with the whole report: the JAP's share (per mille; 0 takes it
 * out of the published group) and the group's policy as it holds it (the
 * highest policy serial among the JAPs is the group's). When a change of
 * shares or policy changes what the IAPs should draw from, every IAP
 * known to be bound to the TA (the rate limiter's records) is sent the
 * binding a query would get now (rtt as for pias_rap_query), so that new
 * flows move within a round trip.
 */
int pias_rap_report_ex(struct pias_rap *r, const struct pias_ta *ta, __u32 jap_id,
		       const struct pias_rap_report_in *in, pias_rap_rtt_fn rtt, void *ctx,
		       __u64 now, struct pias_rap_actions *acts, struct pias_err *e);

/* Membership says JAP jap_id died: forget it (and its seqs) in every TA. */
int pias_rap_jap_dead(struct pias_rap *r, __u32 jap_id, __u64 now, struct pias_rap_actions *acts,
		      struct pias_err *e);

/*
 * The dataplane relayed a packet from iap_id for ta to jap_id: SEND_BINDING
 * to that JAP (subject to the rate limit), so that the flow whose packet it
 * was goes on to the JAP that holds its connection. The dataplane picked
 * jap_id by load alone (a hash of the flow over the weights); when alpha >
 * 0, rtt is given and jap_id is not among the nearest JAPs to iap_id, the
 * binding is provisional: it lives provisional_ttl_ns, long enough for the
 * IAP to pin the flow in its flow table, and the IAP's refresh (a QUERY,
 * proximity-aware) then binds it for good. -ENOENT if jap_id is not in
 * ta's published group (a stale event; nothing sent).
 */
int pias_rap_bound(struct pias_rap *r, __u32 iap_id, const struct pias_ta *ta, __u32 jap_id,
		   pias_rap_rtt_fn rtt, void *ctx, __u64 now, struct pias_rap_actions *acts,
		   struct pias_err *e);

/*
 * The dataplane found no group for ta: SEND_NEGATIVE if the RAP has no JAP
 * for ta; if it has (the table lagged), SEND_BINDING to a JAP picked with
 * rnd derived from iap_id (rate-limited like BOUND).
 */
int pias_rap_no_group(struct pias_rap *r, __u32 iap_id, const struct pias_ta *ta, __u64 now,
		      struct pias_rap_actions *acts, struct pias_err *e);

/*
 * IAP iap_id asks for ta: SEND_BINDING to the JAP selected by rnd (see
 * above; rtt may be NULL), or SEND_NEGATIVE if there is none.
 */
int pias_rap_query(struct pias_rap *r, __u32 iap_id, const struct pias_ta *ta, pias_rap_rtt_fn rtt,
		   void *ctx, __u32 rnd, __u64 now, struct pias_rap_actions *acts,
		   struct pias_err *e);

/*
 * The RAP table changed at now: this proxy may have become a RAP of groups
 * whose JAPs have not reported to it yet (they re-report as soon as they
 * see the change, and every PIAS_RAP_REPORT_PERIOD_NS anyway). Until a
 * report period has passed, a TA it knows no group of is answered with a
 * negative binding of PIAS_RAP_SETTLE_NEGATIVE_TTL_NS, not negative_ttl_ns,
 * so that an IAP that asked too early is not cut off from the group for
 * the full negative lifetime: each new flow in that time is lost, so it
 * is short (a JAP that learns of the ring change a gossip round late
 * reports that much later).
 */
void pias_rap_ring_changed(struct pias_rap *r, __u64 now);

/* Drop reports older than report_expiry_ns (GROUP_SET/DEL) and old rate-limit records. */
int pias_rap_tick(struct pias_rap *r, __u64 now, struct pias_rap_actions *acts, struct pias_err *e);

/*
 * Restart: ta's group as found in the pinned map. Each JAP's weight stands
 * for its report (seq 0, so its next report replaces it; expires like any
 * report unless renewed). No actions. -EEXIST, -EINVAL, -ENOMEM.
 */
int pias_rap_restore(struct pias_rap *r, const struct pias_ta *ta, const struct pias_group *g,
		     __u64 now, struct pias_err *e);

/* The state of ta, or NULL (read-only view, for status and tests). */
const struct pias_rap_group *pias_rap_group(const struct pias_rap *r, const struct pias_ta *ta);

#endif
