/* SPDX-License-Identifier: MIT */
/*
 * A hash map from 64-bit keys to 32-bit values, for the registries' indexes
 * of pairs: the RAP registry finds a JAP's report in a group by (group
 * handle, JAP id) with it, where it scanned the group's reports, so that a
 * report costs the same in a group of 4 JAPs as in one of 100,000.
 *
 * Open addressing with linear probing and backward-shift deletion, as in
 * daemon/ta_index.c (no tombstones); at most half full. All-or-nothing:
 * pias_key_index_reserve() makes room, after which as many adds cannot
 * fail.
 */
#ifndef PIAS_DAEMON_KEY_INDEX_H
#define PIAS_DAEMON_KEY_INDEX_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "err.h"

struct pias_key_slot {
	__u64 key;
	__u32 val;
	__u32 used;
};

struct pias_key_index {
	const char *who; /* names the owner in errors */
	struct pias_key_slot *table;
	size_t mask; /* slots - 1 (table non-NULL) */
	size_t n;    /* keys held */
};

void pias_key_index_init(struct pias_key_index *x, const char *who);
void pias_key_index_free(struct pias_key_index *x);

/* Room for more adds that then cannot fail: -ENOMEM. */
int pias_key_index_reserve(struct pias_key_index *x, size_t more, struct pias_err *e);

/* key's value, to read or change in place; NULL: key is not held. */
__u32 *pias_key_index_get(const struct pias_key_index *x, __u64 key);

/* key (not held) -> val. Fails (-ENOMEM) only without a reservation. */
int pias_key_index_add(struct pias_key_index *x, __u64 key, __u32 val, struct pias_err *e);

/* Forget key (if held). */
void pias_key_index_del(struct pias_key_index *x, __u64 key);

/* A key of two 32-bit halves: (a, b) -> a << 32 | b. */
static inline __u64 pias_key_pair(__u32 a, __u32 b)
{
	return (__u64)a << 32 | b;
}

#endif
