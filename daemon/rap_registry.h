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
 * numbers of its own (the caller supplies them: rnd, and cfg.seed for the
 * samples below).
 *
 * Cost: a TA's group is found by a hash probe (daemon/ta_index.h), a JAP's
 * report in it by another (daemon/key_index.h), and JAPs are drawn from a
 * Fenwick tree of their weights, so a report, query or BOUND does the
 * same work with 10 groups or a million (it only meets more cache misses
 * as the state outgrows the caches), and O(log n) in a group of n JAPs. A
 * group's next deadline (its earliest report expiry, or its sample's
 * re-draw) is in a heap (daemon/timers.h), so a tick costs what is due,
 * not what is held. A JAP's death visits its own groups only.
 *
 * Reports: a JAP's report for a TA carries its seq, strictly increasing per
 * (JAP, TA); a report whose seq is not above the last one seen is stale or
 * a duplicate and is ignored. A count of 0 removes the JAP from the group
 * (its seq is remembered until report_expiry_ns, so a late older report
 * does not bring it back). A report older than report_expiry_ns is dropped
 * by pias_rap_tick(): JAPs must re-send their report at least every
 * PIAS_RAP_REPORT_PERIOD_NS (expiry is three periods). A TA keeps as many
 * JAPs' reports as report to it (JAP ids are below PIAS_MAX_PROXIES).
 *
 * A JAP is live with count and share above 0; its weight is count x share
 * (at least 1). The group's policy is that of the highest serial among its
 * live JAPs (the lowest JAP id among equals). Eligible JAPs are the live
 * ones, or, replicate/k while some live JAP has k targets, those with k
 * (a JAP copies to its own targets only).
 *
 * Group table: the TA's pias_group holds at most PIAS_GROUP_MAX_JAPS JAPs.
 *  - Up to that many eligible JAPs: all of them, with their weights.
 *  - More: a weighted sample of them (sampled): 16 points spaced 1/16 of
 *    the total weight apart from a random start on the JAPs' cumulative
 *    weights (systematic sampling), each point worth a 16th of the total;
 *    a JAP hit by m points is published with weight m x total / 16. So a
 *    JAP's expected published weight is its weight, exactly, and one with
 *    more than a 16th of the total is always in. The sample is drawn again
 *    every PIAS_RAP_REPORT_PERIOD_NS, and at once when a JAP in it changes
 *    its weight or leaves, or the policy changes: over time every JAP
 *    gets its share of the first packets the dataplane relays.
 * Largest weight first (ties: lower jap_id first), and the group's policy.
 * GROUP_SET says how many eligible JAPs were left out (omitted).
 *
 * Generation: each time a TA's published JAP set (the ids in its
 * pias_group) changes, the TA gets a new generation from a counter shared by
 * all TAs, so it strictly increases per TA, even across deletion.
 *
 * Selection (pias_rap_query, and NO_GROUP when the TA turns out to be
 * known) is random, from a caller-supplied 32-bit value rnd, among all the
 * eligible JAPs (published or not), with probability
 *
 *   P(j) = (1 - alpha) * weight_j / sum(weight)  +  alpha * near_j / n_near
 *
 * where near_j is 1 if j has the smallest known RTT from the IAP (n_near JAPs
 * tie for it) and 0 otherwise. The nearest are sought among the published
 * JAPs and the IAP itself (an RTT per candidate: at most 17 per query, not
 * one per JAP of a large group). alpha = 0: pure load balance (each JAP's
 * share in proportion to its weight); alpha = 1: always a nearest JAP; in
 * between, the nearest JAP gets alpha of the new IAPs on top of its load
 * share. Without RTTs (rtt NULL, or 0 = unknown for all), pure load. The
 * IAP itself, when it is one of the group's eligible JAPs, is nearest to
 * itself (RTT taken as 1 ns, whatever the coordinates say). rnd gives
 * u = rnd / 2^32: below alpha it picks among the nearest, in candidate
 * order; else the rest of u is a point on the cumulative weights, JAPs in
 * the order they first reported (with gaps filled as JAPs leave).
 *
 * Binding sets: when the chosen JAP's share is below full, or the group is
 * random or scoped, the binding is a set (docs/design.md, "Choosing a
 * target"): the chosen JAP with its share of PIAS_RAP_SET_SCALE, the rest
 * spread over the other published JAPs by weight (random, scoped: the
 * chosen JAP and the published ones by weight, at most 16), living
 * PIAS_RAP_SET_TTL_NS at most. A BOUND answers with the JAP the first
 * packet went to alone, provisionally, so that the flow it began pins that
 * JAP; the refresh gets the set.
 *
 * Rate limit: per (IAP, TA) at most one SEND_BINDING per bind_interval_ns
 * for the same (jap_id, generation): a repeated BOUND (or NO_GROUP answered
 * with a binding) within the interval emits nothing. An explicit query is
 * always answered (the IAP asked because it has no binding) and also counts
 * as a send. bind_interval_ns 0: no limit. The records, a fixed table, are
 * also the IAPs known to be bound to a TA (a list per TA); one older than
 * binding_ttl_ns names an IAP whose binding has lapsed, and is dropped when
 * met, never by a sweep.
 *
 * Atomicity: every call either applies all of its changes and appends all
 * of its actions, or (on any error) changes nothing and appends nothing.
 * -ENOBUFS: the action list has less room than the call may need, which is
 * one action per group it touches plus, for a report, one per IAP bound to
 * the TA (so it may ask for more room than it then uses); the caller grows
 * the list and calls again. Failing calls return a negative errno and fill
 * e (may be NULL).
 */
#ifndef PIAS_DAEMON_RAP_REGISTRY_H
#define PIAS_DAEMON_RAP_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/maps.h>

#include "err.h"
#include "key_index.h"
#include "ta_index.h"
#include "timers.h"

#define PIAS_RAP_BINDING_TTL_NS		300000000000ull /* 300 s */
#define PIAS_RAP_NEGATIVE_TTL_NS	30000000000ull	/* 30 s */
#define PIAS_RAP_REPORT_PERIOD_NS	10000000000ull	/* JAPs re-report every 10 s */
#define PIAS_RAP_REPORT_EXPIRY_NS	(3 * PIAS_RAP_REPORT_PERIOD_NS)
#define PIAS_RAP_BIND_INTERVAL_NS	100000000ull  /* 100 ms */
#define PIAS_RAP_PROVISIONAL_TTL_NS	2000000000ull /* 2 s: see pias_rap_bound */
#define PIAS_RAP_SETTLE_NEGATIVE_TTL_NS 250000000ull  /* 250 ms: see pias_rap_ring_changed */
#define PIAS_RAP_SENT_SETS		4096	      /* rate-limit records: sets ... */
#define PIAS_RAP_SENT_WAYS		4	      /* ... of this many (IAP, TA) pairs */
#define PIAS_RAP_MAX_GROUPS		(1u << 22)    /* TAs held at most: a bound on memory */

struct pias_rap_config {
	__u64 binding_ttl_ns;	  /* lifetime of a binding */
	__u64 negative_ttl_ns;	  /* lifetime of a negative binding */
	__u64 report_expiry_ns;	  /* a JAP report older than this is dropped */
	__u64 bind_interval_ns;	  /* per (IAP, TA) binding rate limit; 0: none */
	double alpha;		  /* proximity weight, 0 (pure load) .. 1 (nearest) */
	__u64 provisional_ttl_ns; /* a first binding to a JAP not the nearest; 0: default */
	__u64 seed;		  /* random start of the samples' draws (any value) */
};

#define PIAS_RAP_SHARE_FULL 1000	   /* per mille: a JAP's whole share */
#define PIAS_RAP_SET_TTL_NS 30000000000ull /* 30 s: a binding set's lifetime */
#define PIAS_RAP_SET_SCALE  1000000u	   /* a binding set's shares sum to this */

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

/* One JAP's last report for a TA; count 0: removed (remembered for its seq). */
struct pias_rap_report {
	__u32 jap_id;
	__u32 count;
	__u64 seq;
	__u64 last_report_ns;
	__u16 share;
	__u16 nscopes; /* entries of scopes: its targets' prefixes (scoped) */
	__u32 policy_serial;
	struct pias_policy policy;
	/* the registry's own */
	__u32 w;		 /* weight in the draw: above 0 iff eligible */
	__u32 jpos;		 /* place in its JAP's list of groups */
	__u64 fen;		 /* Fenwick tree node of the group's draw weights */
	union pias_addr *scopes; /* NULL when none */
};

struct pias_rap_group {
	struct pias_ta ta;
	__u32 generation;		 /* of the published set; 0: never published */
	__u32 nreports, rcap;		 /* reports: nreports used of rcap, grown on demand */
	struct pias_rap_report *reports; /* in draw order */
	/* the registry's own (first: what a query reads, on the TA's first cache lines) */
	__u64 total;		   /* the sum of the reports' w ... */
	__u32 neligible;	   /* ... and how many are above 0 */
	__u32 sent_head;	   /* the rate limiter's records of this TA (index + 1) */
	__u32 nsent;		   /* ... and how many */
	struct pias_policy policy; /* of the highest serial among the live reports */
	__u32 policy_at;	   /* the report it comes from; PIAS_RAP_NONE: no live one */
	__u32 nlive;		   /* reports with count and share above 0 */
	__u32 nfull;		   /* of those, with count >= policy.copies (replicate) */
	bool full_only;		   /* replicate/k and nfull: only those are eligible */
	bool sampled;		   /* g is a sample (more eligible JAPs than fit) */
	__u64 expire_at;	   /* no report expires before this */
	__u64 redraw_at;	   /* sampled: when the sample is drawn again */
	__u32 omitted;		   /* eligible JAPs left out of g */
	struct pias_group g;	   /* as published (count 0: not in the table) */
	__u16 shares[PIAS_GROUP_MAX_JAPS]; /* each published JAP's share, per mille */
};

#define PIAS_RAP_NONE (~0u)

/* The last binding sent to an IAP for a TA (rate limit), in its TA's list. */
struct pias_rap_sent {
	struct pias_ta ta;
	__u32 iap_id; /* 0: free */
	__u32 jap_id;
	__u32 generation;
	__u64 at_ns;
	__u32 group;	  /* its TA's group handle */
	__u32 prev, next; /* in the group's list: record index + 1, 0: none */
};

/* The JAP id's groups (handles), for pias_rap_jap_dead. */
struct pias_rap_jap {
	__u32 *h;
	__u32 n, cap;
};

struct pias_rap {
	struct pias_rap_config cfg;
	struct pias_ta_index idx;      /* TA -> group handle */
	struct pias_rap_group *groups; /* per handle; gcap entries */
	size_t gcap;
	struct pias_timers due;	     /* per handle: next report expiry or re-draw */
	struct pias_key_index where; /* (handle, JAP id) -> its report's index */
	struct pias_rap_jap *japs;   /* per JAP id: its groups; njaps entries */
	size_t njaps;
	/* rate limiter: PIAS_RAP_SENT_SETS sets of PIAS_RAP_SENT_WAYS, by (IAP, TA) */
	struct pias_rap_sent *sent;
	size_t nsent;	       /* records in use */
	__u32 next_generation; /* last generation handed out */
	__u64 settle_until_ns; /* NO_GROUP answers are short-lived until then */
	__u64 draws;	       /* samples drawn (their random start: cfg.seed and this) */
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
 * JAP jap_id (1..PIAS_MAX_PROXIES - 1) has count targets for ta (0: none).
 * Stale or duplicate seq: ignored (returns 0, no action). Emits GROUP_SET
 * or GROUP_DEL when the published group changes. -EINVAL, -ENOSPC (already
 * PIAS_RAP_MAX_GROUPS TAs), -ENOMEM, -ENOBUFS.
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

/* Membership says JAP jap_id died: forget it (and its seqs) in every TA (its own: O(its groups)). */
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
 * proximity-aware) then binds it for good. -ENOENT if jap_id is not an
 * eligible JAP of ta (a stale event; nothing sent): one left out of the
 * published sample since the relay is still taken.
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

/*
 * Drop reports older than report_expiry_ns and re-draw samples that are
 * due (GROUP_SET/DEL): only groups whose deadline has come are visited.
 */
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

/* TAs held (groups, published or not). */
static inline size_t pias_rap_ngroups(const struct pias_rap *r)
{
	return r->idx.n;
}

/*
 * The group held after prev (NULL: the first), or NULL: to iterate, read
 * only, with no call into the registry meanwhile:
 *   for (g = pias_rap_next(r, NULL); g; g = pias_rap_next(r, g))
 */
const struct pias_rap_group *pias_rap_next(const struct pias_rap *r,
					   const struct pias_rap_group *prev);

#endif
