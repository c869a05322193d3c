/* SPDX-License-Identifier: MIT */
/*
 * The IAP cache's records of the queries outstanding at an operator's
 * flush, whose answers are to be dropped (iap.h, Flush): each record drops
 * one answer, from the RAP asked, about its TA, within query_retry_ns of
 * the query; then, or once it counts as lost, it goes.
 *
 * Records are kept in a ring of at most max (the IAP's max_pending), in
 * the order the queries were sent: a flush adds its records sorted, and
 * every query outstanding at a flush was sent after the flush before it.
 * So the oldest is always in front, where records that count as lost are
 * forgotten and where a full ring makes room. A TA index finds a TA's
 * records (chained, oldest first), so an answer about a TA without one,
 * every answer but those just after a flush, costs one hash probe. The
 * memory goes back when the last record goes.
 *
 * Internal to iap.c; pure, no I/O.
 */
#ifndef PIAS_DAEMON_IAP_FLUSHED_H
#define PIAS_DAEMON_IAP_FLUSHED_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/addr.h>

#include "err.h"
#include "ta_index.h"

struct pias_iap_flushed_rec {
	__u32 th;     /* its TA's handle in tas */
	__u32 rap_id; /* the RAP asked */
	__u64 sent_ns;
	__u32 next; /* the TA's next record (a ring slot), or none */
	bool live;  /* false: answered, its slot not yet reused */
};

struct pias_iap_flushed {
	struct pias_ta_index tas;	   /* TAs with a live record */
	__u32 *first, *last;		   /* per TA handle: its oldest and newest record */
	size_t nth;			   /* entries of first and last */
	struct pias_iap_flushed_rec *ring; /* max slots, or NULL */
	size_t max, front, used;	   /* slots front.. (cyclic) hold records */
	size_t live;			   /* records not answered */
};

void pias_iap_flushed_init(struct pias_iap_flushed *f, size_t max);
void pias_iap_flushed_free(struct pias_iap_flushed *f);

/* Room to add n records: -ENOMEM. */
int pias_iap_flushed_reserve(struct pias_iap_flushed *f, size_t n, struct pias_err *e);

/* A record (reserved), sent no earlier than those before it; a full ring drops its oldest. */
void pias_iap_flushed_add(struct pias_iap_flushed *f, const struct pias_ta *ta, __u32 rap_id,
			  __u64 sent_ns);

/* Is this an answer to a recorded query (not yet lost at now)? Then its record goes. */
bool pias_iap_flushed_take(struct pias_iap_flushed *f, const struct pias_ta *ta, __u32 rap_id,
			   __u64 now, __u64 retry_ns);

/* Forget the records of queries lost by now (costs what it forgets). */
void pias_iap_flushed_expire(struct pias_iap_flushed *f, __u64 now, __u64 retry_ns);

static inline size_t pias_iap_flushed_count(const struct pias_iap_flushed *f)
{
	return f->live;
}

#endif
