/* SPDX-License-Identifier: MIT */
/*
 * Deadlines of the registries (a target's refresh timeout, a report's
 * expiry, a binding's refresh): a min-heap of (when, ref), where ref is the
 * caller's small integer for what is due (a target id, a TA index handle),
 * each queued at most once. A tick pops only what is due, so it costs
 * nothing when nothing is, however many groups are held; setting, moving
 * and cancelling a deadline cost O(log n).
 *
 * A registry may also leave a deadline where it is when its real one moves
 * later (a refresh), and on popping it check the real one and set it again:
 * that costs one heap operation per timeout period instead of one per
 * refresh.
 *
 * All-or-nothing: pias_timers_reserve() makes room for ref, after which
 * pias_timers_set() for it cannot fail; pias_timers_reserve_all() for every
 * ref below a bound at once (a call that may queue many).
 */
#ifndef PIAS_DAEMON_TIMERS_H
#define PIAS_DAEMON_TIMERS_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "err.h"

#define PIAS_TIMERS_NEVER (~0ull)

struct pias_timer_node {
	__u64 when;
	__u32 ref;
	__u32 pad;
};

struct pias_timers {
	const char *who;	      /* names the owner in errors */
	struct pias_timer_node *heap; /* n used of cap */
	size_t n, cap;
	__u32 *pos;  /* per ref: its index in heap + 1; 0: not queued */
	size_t npos; /* entries of pos */
};

void pias_timers_init(struct pias_timers *t, const char *who);
void pias_timers_free(struct pias_timers *t);

/* Room to queue ref (and one more node): -ENOMEM. */
int pias_timers_reserve(struct pias_timers *t, __u32 ref, struct pias_err *e);

/*
 * Room to queue every ref below nrefs at once (-ENOMEM): after it, no
 * pias_timers_set() for them can fail, whatever else is queued, so a
 * registry that keeps a deadline per handle reserves once per new handle.
 */
int pias_timers_reserve_all(struct pias_timers *t, size_t nrefs, struct pias_err *e);

/* ref is due at when: queued, or moved if it was. Fails only without a reservation. */
int pias_timers_set(struct pias_timers *t, __u32 ref, __u64 when, struct pias_err *e);

/* ref is no longer due (if it was queued). */
void pias_timers_cancel(struct pias_timers *t, __u32 ref);

static inline bool pias_timers_queued(const struct pias_timers *t, __u32 ref)
{
	return ref < t->npos && t->pos[ref];
}

/* When ref is due (PIAS_TIMERS_NEVER: not queued). */
__u64 pias_timers_when(const struct pias_timers *t, __u32 ref);

/* The earliest deadline (PIAS_TIMERS_NEVER: none). */
static inline __u64 pias_timers_next(const struct pias_timers *t)
{
	return t->n ? t->heap[0].when : PIAS_TIMERS_NEVER;
}

/*
 * How many deadlines are at or before now, counting at most max of them:
 * costs what it counts (the heap is walked only below due nodes), so that
 * a tick can size its action list before it pops anything.
 */
size_t pias_timers_due(const struct pias_timers *t, __u64 now, size_t max);

/*
 * The ref with the earliest deadline if that is at or before now, taken
 * off the heap, into *ref; false if none is due.
 */
bool pias_timers_pop(struct pias_timers *t, __u64 now, __u32 *ref);

/*
 * Each ref due at or before now, with its deadline, left queued: a
 * registry that must know all it will do before it does any of it (all or
 * nothing) looks first and sets or cancels after. The due nodes are a
 * subtree at the top of the heap, so this costs O(due), in no particular
 * order. A non-zero return of fn stops the walk and is returned.
 */
typedef int (*pias_timers_due_fn)(void *ctx, __u32 ref, __u64 when);
int pias_timers_each_due(const struct pias_timers *t, __u64 now, pias_timers_due_fn fn, void *ctx);

#endif
