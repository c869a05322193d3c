/* SPDX-License-Identifier: MIT */
/*
 * piasd's ring: groups map to k RAPs by consistent hashing over the live
 * proxies (paper section 2). Each proxy puts vnodes points on a 32-bit
 * circle; a key's RAPs are the first k distinct proxies clockwise from it.
 * A proxy joining or leaving adds or removes only its own points, so only
 * the keys whose first k distinct owners include it move.
 *
 * The dataplane does not walk the ring: the daemon fills the RAP table
 * (pias_rap_table, PIAS_RAP_SLOTS slots) with pias_ring_fill_table(), where
 * slot s stands for the fixed key pias_ring_slot_key(s). A TA's RAPs are then
 * table[pias_rap_slot_of(ta)], the same on both sides.
 *
 * Pure logic: no I/O, no BPF. Failing calls return a negative errno and fill
 * e (which may be NULL) with a message naming what was wrong.
 */
#ifndef PIAS_DAEMON_RING_H
#define PIAS_DAEMON_RING_H

#include <stddef.h>

#include <pias/maps.h>

#include "err.h"

#define PIAS_RING_SEED	     0x52494e47u /* "RING" */
#define PIAS_RING_VNODES     160	 /* default points per proxy */
#define PIAS_RING_MAX_VNODES 1024
#define PIAS_RING_DEFAULT_K  3 /* RAPs per group unless configured */

/* One point on the circle; sorted by (hash, id), a total order. */
struct pias_ring_point {
	__u32 hash;
	__u32 id;
};

struct pias_ring {
	struct pias_ring_point *points; /* npoints, sorted */
	size_t npoints;
	size_t nproxies;
	unsigned int vnodes;
	unsigned char *live; /* bitmap of ids on the ring, PIAS_MAX_PROXIES bits */
	/* malloc by default; tests replace it to inject allocation failure. */
	void *(*alloc)(size_t size);
};

/* An empty ring with vnodes points per proxy (0: PIAS_RING_VNODES). */
int pias_ring_init(struct pias_ring *r, unsigned int vnodes, struct pias_err *e);
void pias_ring_free(struct pias_ring *r);

/* The point of proxy id's vnode v. */
__u32 pias_ring_point_hash(__u32 id, __u32 v);

/*
 * Replace the ring's proxies with ids[n] (1..PIAS_MAX_PROXIES-1, no
 * duplicates, any order). On failure the ring is unchanged.
 */
int pias_ring_build(struct pias_ring *r, const __u32 *ids, size_t n, struct pias_err *e);

/* One proxy joins or leaves; same result as a rebuild, O(points). */
int pias_ring_add(struct pias_ring *r, __u32 id, struct pias_err *e);
int pias_ring_remove(struct pias_ring *r, __u32 id, struct pias_err *e);

/*
 * The first k distinct proxies clockwise from key (the first point with
 * hash >= key, wrapping), into out[k]. Returns how many: k, fewer if fewer
 * proxies are live (0 on an empty ring), or -EINVAL if k is 0 or more than
 * PIAS_RAP_REPLICAS.
 */
int pias_ring_raps(const struct pias_ring *r, __u32 key, unsigned int k, __u32 *out);

/* The key slot s stands for: the middle of its 1/PIAS_RAP_SLOTS arc. */
__u32 pias_ring_slot_key(__u32 slot);

/*
 * Fill table[PIAS_RAP_SLOTS]: slot s lists pias_ring_raps(slot key, k), then
 * zeros. An empty ring gives all-zero slots (no RAP: the IAP drops).
 */
int pias_ring_fill_table(const struct pias_ring *r, unsigned int k, struct pias_rap_slot *table,
			 struct pias_err *e);

/*
 * The slots where old and new differ, ascending, into changed (room for
 * PIAS_RAP_SLOTS); *n is their count. For batched map updates.
 */
int pias_ring_table_diff(const struct pias_rap_slot *old, const struct pias_rap_slot *new,
			 __u32 *changed, size_t *n);

/* The RAPs of ta as the dataplane sees them: its slot, copied to out. Returns their count. */
int pias_ring_raps_of_ta(const struct pias_rap_slot *table, const struct pias_ta *ta,
			 struct pias_rap_slot *out);

#endif
