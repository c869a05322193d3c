/* SPDX-License-Identifier: MIT */
/*
 * The ring: groups map to k RAPs by consistent hashing over the live
 * proxies (paper section 2). Each proxy puts vnodes points on a 32-bit
 * circle; a key's RAPs are the first k distinct proxies clockwise from it.
 * A proxy joining or leaving adds or removes only its own points, so only
 * the keys whose first k distinct owners include it move.
 *
 * The dataplane does not walk the ring: the RAP table (pias_rap_table,
 * PIAS_RAP_SLOTS slots) holds it, slot s standing for the fixed key
 * pias_ring_slot_key(s). A TA's RAPs are table[pias_rap_slot_of(ta)], the
 * same for piasd, the dataplane and pias-maps, which all fill the table
 * from here: pias_ring_fill_table() at once; on a join or leave,
 * pias_ring_join()/pias_ring_leave() mark the slots that can change and
 * pias_ring_refill() recomputes only those, listing the ones that did.
 *
 * Pure logic: no I/O, no BPF. Failing calls return a negative errno and fill
 * e (which may be NULL) with a message naming what was wrong.
 */
#ifndef PIAS_LIB_RING_H
#define PIAS_LIB_RING_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/hash.h>
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
	struct pias_ring_point *points; /* npoints, sorted; room for cap */
	size_t npoints, cap;
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

/*
 * One proxy joins or leaves; same result as a rebuild. O(points): the
 * points after the new ones move up, or down over the gone ones (about
 * 40 ms at 1e5 proxies, the ring's array being 122 MiB).
 */
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
 * zeros. An empty ring gives all-zero slots (no RAP: the IAP drops). One
 * sweep of the slots and points together: O(slots + points). Each slot is
 * stored once, whole, so table may be the live (mapped) one.
 */
int pias_ring_fill_table(const struct pias_ring *r, unsigned int k, struct pias_rap_slot *table,
			 struct pias_err *e);

/*
 * A set of RAP table slots, one bit each (128 KiB at 2^20 slots): the slots
 * to recompute, or those that changed (a JAP re-reports the groups there).
 */
#define PIAS_SLOT_SET_WORDS (PIAS_RAP_SLOTS / 64)
struct pias_slot_set {
	__u64 w[PIAS_SLOT_SET_WORDS];
};

static inline bool pias_slot_set_has(const struct pias_slot_set *set, __u32 slot)
{
	return set->w[slot / 64] >> (slot % 64) & 1;
}

static inline void pias_slot_set_add(struct pias_slot_set *set, __u32 slot)
{
	set->w[slot / 64] |= 1ull << (slot % 64);
}

/* Slots first..end-1 (none if end <= first; end is capped at PIAS_RAP_SLOTS). */
void pias_slot_set_add_range(struct pias_slot_set *set, __u32 first, __u32 end);

/*
 * Add to set the slots whose first k distinct proxies include id, on ring
 * r with id on it: the slots a join of id changes (after adding it) or a
 * leave changes (before removing it). With k or fewer proxies that is every
 * slot. Each of id's points affects the keys from the point back to where
 * k other proxies (or another point of id) come first: a few points each,
 * so O(vnodes log points) plus the slots added. -EINVAL: bad k or no ring;
 * -ENOENT: id is not on the ring.
 */
int pias_ring_mark(const struct pias_ring *r, __u32 id, unsigned int k, struct pias_slot_set *set);

/*
 * pias_ring_add then pias_ring_mark; pias_ring_mark then pias_ring_remove.
 * The slots that may change go into dirty, which accumulates over several
 * joins and leaves until pias_ring_refill. On failure nothing changes.
 */
int pias_ring_join(struct pias_ring *r, __u32 id, unsigned int k, struct pias_slot_set *dirty,
		   struct pias_err *e);
int pias_ring_leave(struct pias_ring *r, __u32 id, unsigned int k, struct pias_slot_set *dirty,
		    struct pias_err *e);

/*
 * Recompute the slots in dirty on r: those whose RAPs differ from table,
 * ascending, into changed[] with their new values in vals[] (room for as
 * many slots as dirty holds, at most PIAS_RAP_SLOTS); *n is their count.
 * table itself is left alone, so that the caller applies vals once they
 * are written to the map. A table equal to a full fill before the changes
 * that marked dirty is equal to a full fill after them once vals applied.
 */
int pias_ring_refill(const struct pias_ring *r, unsigned int k, const struct pias_rap_slot *table,
		     const struct pias_slot_set *dirty, __u32 *changed, struct pias_rap_slot *vals,
		     size_t *n, struct pias_err *e);

/*
 * Whether ta's slot is in moved: its RAPs may have changed, so a JAP
 * holding the group re-reports it. NULL moved: every slot (a full refresh).
 */
static inline bool pias_ring_ta_moved(const struct pias_slot_set *moved, const struct pias_ta *ta)
{
	return !moved || pias_slot_set_has(moved, pias_rap_slot_of(ta));
}

/* The RAPs of ta as the dataplane sees them: its slot, copied to out. Returns their count. */
int pias_ring_raps_of_ta(const struct pias_rap_slot *table, const struct pias_ta *ta,
			 struct pias_rap_slot *out);

#endif
