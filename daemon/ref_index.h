/* SPDX-License-Identifier: MIT */
/*
 * An index of refs (a caller's small integers: target ids, array slots) by
 * a hash of a key the caller keeps: the JAP finds a target by its group
 * and endpoint with it, and an operator-drained endpoint by its TA and
 * endpoint, where it used to scan the group or the list. ta_index keeps
 * its keys itself; this one leaves them where they already are, and asks
 * the caller which of the refs with a matching hash is the one.
 *
 * Open addressing with linear probing and backward-shift deletion, at most
 * half full, as ta_index. All-or-nothing: pias_ref_index_reserve() makes
 * room, after which as many puts cannot fail.
 */
#ifndef PIAS_DAEMON_REF_INDEX_H
#define PIAS_DAEMON_REF_INDEX_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "err.h"

struct pias_ref_slot {
	__u32 hash;
	__u32 ref; /* ref + 1; 0: empty */
};

struct pias_ref_index {
	const char *who;	     /* names the owner in errors */
	struct pias_ref_slot *table; /* mask + 1 slots, or NULL */
	size_t mask;
	size_t n; /* refs in the index */
};

void pias_ref_index_init(struct pias_ref_index *x, const char *who);
void pias_ref_index_free(struct pias_ref_index *x);

/* Room for more puts that then cannot fail: -ENOMEM. */
int pias_ref_index_reserve(struct pias_ref_index *x, size_t more, struct pias_err *e);

/* ref under hash (not in the index yet). Needs a reservation. */
void pias_ref_index_put(struct pias_ref_index *x, __u32 hash, __u32 ref);

/* Is ref the one the caller looks for? */
typedef bool (*pias_ref_match_fn)(const void *ctx, __u32 ref);

/* The ref under hash that match accepts, or -1. */
long pias_ref_index_find(const struct pias_ref_index *x, __u32 hash, pias_ref_match_fn match,
			 const void *ctx);

/* Take ref, put under hash, out of the index (it must be in). */
void pias_ref_index_del(struct pias_ref_index *x, __u32 hash, __u32 ref);

#endif
