/* SPDX-License-Identifier: MIT */
/*
 * The TA index the JAP registry, the RAP registry and the IAP cache key
 * their groups by: a TA gets a handle, a small integer that indexes the
 * caller's own arrays of per-group state, and stays its handle until the
 * caller deletes it. Lookup by TA is a hash probe (pias_ta_hash, the
 * dataplane's own), so a message costs the same with ten groups or a
 * million, where the registries used to scan every group.
 *
 * Handles are dense: a deleted handle is given out again before a new one,
 * so the caller's arrays stay as large as the most groups held at once.
 * pias_ta_index_capacity() says how many entries they must have.
 *
 * The probe is ref_index.h's (open addressing with linear probing and
 * backward-shift deletion: no tombstones, so probes stay short however
 * much the groups churn; at most half full), over handles. All-or-nothing: pias_ta_index_reserve() makes
 * room, after which as many adds cannot fail, so that a registry can make
 * room before it commits a change.
 */
#ifndef PIAS_DAEMON_TA_INDEX_H
#define PIAS_DAEMON_TA_INDEX_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/addr.h>

#include "err.h"
#include "ref_index.h"

struct pias_ta_index {
	const char *who;	  /* names the owner in errors */
	size_t limit;		  /* handles at most */
	struct pias_ref_index ix; /* handles by their TA's hash */
	struct pias_ta *keys;	  /* per handle: its TA */
	__u32 *hashes;		  /* per handle: its hash */
	bool *used;		  /* per handle */
	size_t kcap;		  /* entries of keys, hashes, used */
	size_t hwm;		  /* handles 0..hwm-1 have been given out */
	__u32 *free;		  /* deleted handles, the last deleted last */
	size_t nfree;		  /* (room: kcap entries) */
	size_t n;		  /* handles in use */
};

/* An empty index of at most limit TAs; who names its owner in errors. */
void pias_ta_index_init(struct pias_ta_index *x, size_t limit, const char *who);
void pias_ta_index_free(struct pias_ta_index *x);

/* Room for more adds that then cannot fail: -ENOSPC (limit), -ENOMEM. */
int pias_ta_index_reserve(struct pias_ta_index *x, size_t more, struct pias_err *e);

/* The entries a caller's per-handle array must have for every handle given out. */
static inline size_t pias_ta_index_capacity(const struct pias_ta_index *x)
{
	return x->kcap;
}

/* ta's handle, or -1. */
long pias_ta_index_find(const struct pias_ta_index *x, const struct pias_ta *ta);

/*
 * A handle for ta, which must not be in the index. Fails (-ENOSPC,
 * -ENOMEM) only without a reservation.
 */
long pias_ta_index_add(struct pias_ta_index *x, const struct pias_ta *ta, struct pias_err *e);

/* Forget handle h (in use). */
void pias_ta_index_del(struct pias_ta_index *x, __u32 h);

static inline const struct pias_ta *pias_ta_index_ta(const struct pias_ta_index *x, __u32 h)
{
	return &x->keys[h];
}

static inline bool pias_ta_index_used(const struct pias_ta_index *x, __u32 h)
{
	return h < x->hwm && x->used[h];
}

/* The first handle in use after h (-1: from the start), or -1: for iteration. */
long pias_ta_index_next(const struct pias_ta_index *x, long h);

#define pias_ta_index_each(x, h)                                                                   \
	for (long h = pias_ta_index_next(x, -1); h >= 0; h = pias_ta_index_next(x, h))

#endif
