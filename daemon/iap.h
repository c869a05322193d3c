/* SPDX-License-Identifier: MIT */
/*
 * piasd's IAP binding cache (paper section 2): the IAP caches, per TA, the
 * JAP the RAP chose (a binding) or the RAP's word that the TA is no group
 * (a negative binding), in the map pias_bindings. It asks the RAP on a
 * dataplane MISS, refreshes positive bindings before they expire, and drops
 * a binding when its JAP invalidates it or when membership declares that
 * JAP dead, so that the next packet misses and goes to the RAP.
 *
 * Also the JAP's side of invalidation: pias_inval_limiter, at most one
 * invalidation per (IAP, TA) per interval.
 *
 * Pure state machine, in the style of daemon/jap.h: every input carries the
 * time (`now`, ns of the dataplane's clock, the one of expires_ns); the
 * output is a list of actions for the caller to apply, in order, to the map
 * pias_bindings and to the RAPs. No I/O, no BPF, no clock reads.
 *
 * Queries: at most one per TA is outstanding; a query is lost (and may be
 * sent again) query_retry_ns after it went out. At most max_pending queries
 * are outstanding at once; lost ones are forgotten by pias_iap_tick().
 *
 * Refresh: pias_iap_tick() queries the TA's RAP again for a positive binding
 * whose remaining life is below refresh_before_ns (0: a fifth of the
 * lifetime it was installed with), and deletes a binding past its expiry
 * (the dataplane already treats it as a miss). Negative bindings are not
 * refreshed: they expire, and the next packet asks again.
 *
 * Flush: the operator's flush deletes every binding and forgets the
 * outstanding queries, but not their answers: the next answer for the TA
 * from the RAP asked, within query_retry_ns of the query, is dropped (a
 * BINDING names no query). Otherwise a refresh in flight would install,
 * after the flush, the binding the flush was to remove, and the next new
 * flow would hit it instead of going to the RAP. A BINDING the RAP sends
 * after relaying a client's packet answers no query and is taken: that
 * flow needs the JAP it names. The records live apart from the entries
 * (iap_flushed.h), so a flushed cache shows empty.
 *
 * Generations come from the RAP, per TA, and are compared as serial numbers
 * (wrap-around safe). A binding older than the installed, unexpired positive
 * binding is ignored; an invalidation older than the installed binding is
 * stale and ignored.
 *
 * Atomicity: every call either applies all of its changes and appends all
 * of their actions, or (on any error, including -ENOBUFS when the action
 * list has no room) changes nothing and appends nothing. Actions are
 * appended: several calls may share a list until the caller flushes it.
 *
 * Cost (issue 13): entries are keyed by the shared TA index (ta_index.h),
 * so a message costs a hash probe and O(log n) deadline work, however many
 * TAs are cached. Each entry has two deadlines (timers.h): the first of its
 * lost query and its expiry, and its refresh point; a tick pops only those
 * due, so with nothing due it costs the same with ten TAs or 65,536.
 * Refreshes wait in their own heap, in the order they came due, while
 * max_pending queries are outstanding, at no cost per tick. The TAs bound
 * to each JAP are indexed (multimap.h), so pias_iap_jap_dead() costs the
 * bindings it drops. Flush is a pass over every entry (an operator's act).
 *
 * Failing calls return a negative errno and fill e (may be NULL).
 */
#ifndef PIAS_DAEMON_IAP_H
#define PIAS_DAEMON_IAP_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/maps.h>

#include "err.h"
#include "iap_flushed.h"
#include "multimap.h"
#include "ta_index.h"
#include "timers.h"

#define PIAS_IAP_QUERY_RETRY_NS 500000000ull /* 500 ms */
#define PIAS_IAP_MAX_PENDING	4096

struct pias_iap_config {
	__u64 refresh_before_ns; /* refresh when less life is left; 0: lifetime / 5 */
	__u64 query_retry_ns;	 /* a query unanswered this long is lost */
	__u32 max_pending;	 /* outstanding queries at most */
};

/*
 * What the IAP knows of one TA; exists while bound or a query is pending.
 * Two cache lines: a binding set, rare, lives apart (pias_iap_set).
 */
struct pias_iap_entry {
	struct pias_ta ta;
	bool bound;		/* b is installed in the map */
	bool pending;		/* a query is outstanding */
	struct pias_binding b;	/* jap_id, generation, expires_ns, flags */
	struct pias_group *set; /* a binding set's JAPs and shares, or NULL */
	__u64 lifetime_ns;	/* b's lifetime when installed */
	__u32 rap_id;		/* the pending query's RAP */
	__u64 sent_ns;		/* ... sent then */
	__u64 retry_at_ns;	/* no refresh before (no RAP was known); 0: none */
	__u64 due_q, refresh_q; /* where its deadlines are queued (PIAS_TIMERS_NEVER: not) */
};

/*
 * The cache. Read it through the functions below (pias_iap_count,
 * pias_iap_each, pias_iap_entry): the layout is the module's own.
 */
struct pias_iap {
	struct pias_iap_config cfg;
	struct pias_ta_index tas;	/* TA -> handle */
	struct pias_iap_entry *entries; /* per handle; capacity of tas */
	size_t ecap;
	struct pias_timers due;	    /* per handle: lost query or expiry, the first */
	struct pias_timers refresh; /* per handle: refresh point */
	struct pias_multimap japs;  /* JAP id -> handles bound to it */
	__u32 npending;		    /* entries with pending set */
	struct pias_iap_flushed flushed;
};

enum pias_iap_action_kind {
	PIAS_IAP_SEND_QUERY = 1, /* ask RAP rap_id for ta's binding */
	PIAS_IAP_BINDING_SET,	 /* write pias_bindings[ta] = binding */
	PIAS_IAP_BINDING_DEL,	 /* delete pias_bindings[ta] */
};

struct pias_iap_action {
	enum pias_iap_action_kind kind;
	__u32 rap_id; /* SEND_QUERY */
	struct pias_ta ta;
	struct pias_binding binding; /* BINDING_SET */
	struct pias_group set; /* BINDING_SET: the JAPs each new flow draws from (count 0: none) */
};

/* A caller-provided action buffer: n used of cap. */
struct pias_iap_actions {
	struct pias_iap_action *a;
	size_t cap;
	size_t n;
};

/* The RAP to ask about ta now (0: none known); see pias_iap_tick. */
typedef __u32 (*pias_iap_rap_of_fn)(void *ctx, const struct pias_ta *ta);

/* cfg NULL: the defaults above. A zero query_retry_ns or max_pending: -EINVAL. */
int pias_iap_init(struct pias_iap *i, const struct pias_iap_config *cfg, struct pias_err *e);
void pias_iap_free(struct pias_iap *i);

/*
 * The dataplane missed ta and sent the packet to rap_id: SEND_QUERY(rap_id,
 * ta) unless a query for ta is outstanding and younger than query_retry_ns
 * (then nothing). -EINVAL: bad TA family or rap_id 0; -EAGAIN: max_pending
 * queries outstanding; -ENOSPC: PIAS_MAX_BINDINGS TAs cached; -ENOMEM.
 */
int pias_iap_miss(struct pias_iap *i, const struct pias_ta *ta, __u32 rap_id, __u64 now,
		  struct pias_iap_actions *acts, struct pias_err *e);

/*
 * RAP from_rap binds ta to jap_id: BINDING_SET(ta, {jap_id, generation,
 * now + lifetime_ns}) and the pending query is answered. A generation older
 * than the installed, unexpired positive binding's is ignored (returns 0,
 * no action), and so is the answer to a query outstanding at a flush (see
 * Flush). -EINVAL: bad TA family, from_rap or lifetime 0, jap_id 0 or not
 * below PIAS_MAX_PROXIES; -ENOSPC; -ENOMEM.
 */
int pias_iap_binding(struct pias_iap *i, __u32 from_rap, const struct pias_ta *ta, __u32 jap_id,
		     __u32 generation, __u64 lifetime_ns, __u64 now, struct pias_iap_actions *acts,
		     struct pias_err *e);

/*
 * The same for a binding set (set NULL or count 0: jap_id alone): the
 * binding names set->japs[0] and new flows draw from the set. An
 * INVALIDATE from any JAP of the set drops it, as one from its JAP drops a
 * binding (the JAP lost its targets: what the IAP draws from is stale).
 * -EINVAL also for a set JAP id not below PIAS_MAX_PROXIES.
 */
int pias_iap_binding_set(struct pias_iap *i, __u32 from_rap, const struct pias_ta *ta, __u32 jap_id,
			 const struct pias_group *set, __u32 generation, __u64 lifetime_ns,
			 __u64 now, struct pias_iap_actions *acts, struct pias_err *e);

/*
 * RAP from_rap says ta is no group: BINDING_SET(ta, NEGATIVE, expiring at
 * now + lifetime_ns); the pending query is answered. Ignored (0, no
 * action, the query still outstanding) while an unexpired positive
 * binding is installed: only its JAP's INVALIDATE or its expiry ends it.
 * The answer to a query outstanding at a flush is dropped, as above.
 * Errors as above.
 */
int pias_iap_negative(struct pias_iap *i, __u32 from_rap, const struct pias_ta *ta,
		      __u64 lifetime_ns, __u64 now, struct pias_iap_actions *acts,
		      struct pias_err *e);

/*
 * JAP from_jap invalidates ta's binding of generation: BINDING_DEL(ta) if the
 * installed binding is positive, points at from_jap and generation is its
 * own or newer; otherwise (another JAP's, stale, negative or none) ignored:
 * returns 0, no action. -EINVAL: bad TA family.
 */
int pias_iap_invalidate(struct pias_iap *i, __u32 from_jap, const struct pias_ta *ta,
			__u32 generation, __u64 now, struct pias_iap_actions *acts,
			struct pias_err *e);

/* Membership declares jap_id dead: BINDING_DEL for every TA bound to it (or to a set with it). */
int pias_iap_jap_dead(struct pias_iap *i, __u32 jap_id, __u64 now, struct pias_iap_actions *acts,
		      struct pias_err *e);

/*
 * Periodic (call more often than query_retry_ns and refresh_before_ns):
 * forgets lost queries (those outstanding at a flush too); BINDING_DEL for
 * bindings past expiry; SEND_QUERY(rap_of(ctx, ta), ta) for positive
 * bindings due for refresh, the earliest due first, while fewer than
 * max_pending queries are outstanding (the rest wait for a later tick).
 * rap_of is called once per refresh sent; returning 0 (no RAP known)
 * skips the TA until query_retry_ns later, as does rap_of NULL.
 *
 * The list must have room for what the tick may do (each due entry one
 * action, queries at most max_pending): -ENOBUFS otherwise, before
 * anything changes, even when fewer would have been appended.
 */
int pias_iap_tick(struct pias_iap *i, __u64 now, pias_iap_rap_of_fn rap_of, void *ctx,
		  struct pias_iap_actions *acts, struct pias_err *e);

/*
 * Restart: a binding found in the pinned map (positive or negative), taken
 * over so that it is refreshed before expiry as if installed with
 * lifetime_ns; a binding to a set (PIAS_BINDING_F_SET) with its set, from
 * pias_bind_sets. No actions. -EEXIST: ta restored before; -EINVAL.
 */
int pias_iap_restore(struct pias_iap *i, const struct pias_ta *ta, const struct pias_binding *b,
		     const struct pias_group *set, __u64 lifetime_ns, struct pias_err *e);

/*
 * The operator flushes the cache: BINDING_DEL for every binding; pending
 * queries forgotten (a miss asks again at once), their answers to be
 * dropped (see Flush). -ENOMEM: no room to remember them; nothing changed.
 */
int pias_iap_flush(struct pias_iap *i, struct pias_iap_actions *acts, struct pias_err *e);

/* The entry of ta, or NULL (read-only view, for status and tests). */
const struct pias_iap_entry *pias_iap_entry(const struct pias_iap *i, const struct pias_ta *ta);

/* en's binding set (count 0: a binding to b.jap_id alone). */
const struct pias_group *pias_iap_set(const struct pias_iap_entry *en);

/* TAs cached: bound, or with a query outstanding. */
static inline size_t pias_iap_count(const struct pias_iap *i)
{
	return i->tas.n;
}

/* Queries outstanding at a flush whose answers are still to be dropped. */
static inline size_t pias_iap_flushed_queries(const struct pias_iap *i)
{
	return pias_iap_flushed_count(&i->flushed);
}

/* The earliest deadline of the tick (PIAS_TIMERS_NEVER: none): when it next has work. */
__u64 pias_iap_next_due(const struct pias_iap *i);

/* The entry after prev (NULL: the first), or NULL: for iteration, in no set order. */
const struct pias_iap_entry *pias_iap_next(const struct pias_iap *i,
					   const struct pias_iap_entry *prev);

#define pias_iap_each(i, en)                                                                       \
	for (const struct pias_iap_entry *en = pias_iap_next(i, NULL); en;                         \
	     en = pias_iap_next(i, en))

/*
 * The JAP's invalidation rate limiter: allows at most one invalidation per
 * (IAP, TA) per interval_ns (0 at init: 100 ms).
 *
 * Bounded memory: a fixed table of PIAS_INVAL_LIMITER_SETS sets of
 * PIAS_INVAL_LIMITER_WAYS entries, the set chosen by a hash of (IAP, TA).
 * A new key takes a free way, or one whose interval is over, or else the
 * least recently allowed one of its set (LRU-ish). Evicting a key whose
 * interval is not over can only let one extra invalidation through early,
 * never suppress one for longer than interval_ns. No allocation, no errors.
 */
#define PIAS_INVAL_INTERVAL_NS	100000000ull /* 100 ms */
#define PIAS_INVAL_LIMITER_SETS 256
#define PIAS_INVAL_LIMITER_WAYS 4

struct pias_inval_slot {
	struct pias_ta ta;
	__u32 iap_id;
	__u32 used;    /* 0: free */
	__u64 last_ns; /* last allowed */
};

struct pias_inval_limiter {
	__u64 interval_ns;
	struct pias_inval_slot slots[PIAS_INVAL_LIMITER_SETS][PIAS_INVAL_LIMITER_WAYS];
};

void pias_inval_limiter_init(struct pias_inval_limiter *l, __u64 interval_ns);

/* May the JAP send iap_id an invalidation for ta now? true records it. */
bool pias_inval_limiter(struct pias_inval_limiter *l, __u32 iap_id, const struct pias_ta *ta,
			__u64 now);

#endif
