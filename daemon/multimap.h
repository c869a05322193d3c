/* SPDX-License-Identifier: MIT */
/*
 * A many-to-many relation between keys (small integers below a limit:
 * proxy ids) and handles (dense small integers: a TA index's), so that a
 * registry finds the groups tied to one key without scanning them all:
 * the IAP's bindings to a JAP that membership declares dead.
 *
 * Links live in a pool with a free list. A key's links form a doubly
 * linked list, so that one is unlinked in O(1); a handle's a singly linked
 * one, walked to drop them all (a handle holds few keys: the JAPs of one
 * binding). Adding a link the handle has already does nothing, so each
 * handle counts once under a key.
 *
 * All-or-nothing: pias_multimap_reserve() makes room, after which adds
 * cannot fail. Memory: the largest key and handle used, and one link per
 * (key, handle) pair held.
 */
#ifndef PIAS_DAEMON_MULTIMAP_H
#define PIAS_DAEMON_MULTIMAP_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "err.h"

#define PIAS_MULTIMAP_NONE 0xffffffffu

struct pias_multimap_link {
	__u32 key, h;
	__u32 kprev, knext; /* the key's links (PIAS_MULTIMAP_NONE: none) */
	__u32 hnext;	    /* the handle's links; the free list's */
};

struct pias_multimap {
	const char *who; /* names the owner in errors */
	__u32 key_limit; /* keys below it */
	struct pias_multimap_link *links;
	size_t lcap, hwm; /* links[0..hwm) have been used */
	__u32 free;	  /* a free link, PIAS_MULTIMAP_NONE: none */
	size_t nfree;
	__u32 *key_head; /* per key: its first link */
	size_t nkeys;
	__u32 *h_head; /* per handle: its first link */
	size_t nh;
};

void pias_multimap_init(struct pias_multimap *m, __u32 key_limit, const char *who);
void pias_multimap_free(struct pias_multimap *m);

/*
 * Room for handles below nh, keys up to max_key and nlinks more links:
 * adds within it cannot fail. -EINVAL: max_key at or above the limit;
 * -ENOMEM.
 */
int pias_multimap_reserve(struct pias_multimap *m, size_t nh, __u32 max_key, size_t nlinks,
			  struct pias_err *e);

/* Link key and h (reserved); false if they were linked already. */
bool pias_multimap_add(struct pias_multimap *m, __u32 key, __u32 h);

/* Unlink h from every key. */
void pias_multimap_clear(struct pias_multimap *m, __u32 h);

/* A handle linked to key, or -1. */
long pias_multimap_first(const struct pias_multimap *m, __u32 key);

/* How many handles key is linked to (walks them). */
size_t pias_multimap_count(const struct pias_multimap *m, __u32 key);

#endif
