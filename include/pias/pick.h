/* SPDX-License-Identifier: MIT */
/*
 * The dataplane's choices that decide where a new flow goes, in plain C
 * for BPF and user space alike, as hash.h is: the JAP's target out of a
 * group's target set (struct pias_tset), and the RAP's (or an IAP's) JAP
 * out of a group's JAPs (struct pias_group). The BPF programs run these
 * very functions over their maps (bpf/lib/tset.h, bpf/lib/jap_set.h);
 * user space runs them over arrays, so that a simulator computes what the
 * dataplane would have done. selftests/unit/test_pick.c checks them
 * against the weights, selftests/prog/test_tset.c that the BPF program
 * picks what they compute.
 *
 * A target set is its targets in pick order with the running sums of
 * their weights (cum[i]: the weights of entries 0..i). A flow's hash,
 * modulo the total, falls in one entry's share; a binary search finds it.
 * Whether that target may take the flow (its state, family, not the
 * client itself) is the caller's check, take(): when it may not, the pick
 * draws again from the hash, PIAS_PICK_DRAWS times in all, then walks on
 * from the last draw to the first entry that may.
 */
#ifndef PIAS_PICK_H
#define PIAS_PICK_H

#include "hash.h"
#include "maps.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/*
 * Draws from the flow's hash before the walk, and the entries the walk
 * looks at after the last draw. A draw misses with the share of weight
 * whose targets may not take the flow (draining, down, the client
 * itself), and a flow goes on to the next draw only then: with a third of
 * the weight unfit, 1.5 draws on average, and eight miss one flow in
 * 6,600. Draws that hit are exactly in proportion to the fit targets'
 * weights; the walk is not (it favours the entries after unfit ones), so
 * it is only the last resort, and what makes a set of up to
 * PIAS_PICK_WALK entries exact: a target is found if any may take the
 * flow.
 */
#define PIAS_PICK_DRAWS 8
#define PIAS_PICK_WALK	32

/*
 * The search's first step over an array of n sums: a power of two, at
 * least n / 2, so that its halving steps reach entry n - 1 (the last one a
 * sum below the total can fall in). For a header's inline sums, a chunk's,
 * and a whole set's as one array.
 */
#define PIAS_PICK_TOP_INLINE	 16
#define PIAS_PICK_TOP_CHUNK	 256
#define PIAS_PICK_TOP_SET	 8192
#define PIAS_PICK_TOP_OK(top, n) ((top) <= (n) && (n) <= 2 * (top))
PIAS_STATIC_ASSERT(PIAS_PICK_TOP_OK(PIAS_PICK_TOP_INLINE, PIAS_TSET_INLINE), "inline top");
PIAS_STATIC_ASSERT(PIAS_PICK_TOP_OK(PIAS_PICK_TOP_CHUNK, PIAS_TSET_CHUNK), "chunk top");
PIAS_STATIC_ASSERT(PIAS_PICK_TOP_OK(PIAS_PICK_TOP_SET, PIAS_TSET_MAX), "set top");

/*
 * How many of the running sums cum[0..n) are at most r: the entry whose
 * share holds r (cum[i - 1] <= r < cum[i]) when r is below the total. top:
 * the PIAS_PICK_TOP_* of cum's size; n at most that size. A fixed sequence of
 * halving steps, so that BPF verifies it unrolled, without a loop.
 */
static __always_inline __u32 pias_pick_search(const __u32 *cum, __u32 n, __u32 r, __u32 top)
{
	__u32 lo = 0;

	for (__u32 step = top; step; step >>= 1)
		if (lo + step <= n && cum[lo + step - 1] <= r)
			lo += step;
	return lo;
}

/* The k-th draw from a flow's hash: the hash itself first. */
static __always_inline __u32 pias_pick_draw(__u32 hash, __u32 k)
{
	return k ? pias_final(pias_mix(hash, k), 4) : hash;
}

/*
 * How the caller reaches a set's entries. draw: the entry whose share
 * holds running sum r (pias_pick_search over the set's sums), as
 * PIAS_PICK_AT(its index, its target's id if it may take the flow, else
 * 0), or ~0 if the set changed under the pick; take: entry i's target id
 * if it may take the flow, else 0, and 0 for an entry of weight 0. May
 * take: the target is active, of the flow's family, not the client
 * itself, and, scoped, in the client's prefix.
 */
typedef __u32 (*pias_pick_draw_fn)(void *ctx, __u32 r, __u32 scoped);
typedef __u32 (*pias_pick_take_fn)(void *ctx, __u32 i, __u32 scoped);
#define PIAS_PICK_ID_BITS   17
#define PIAS_PICK_ID_MASK   ((1u << PIAS_PICK_ID_BITS) - 1)
#define PIAS_PICK_AT(i, id) ((__u32)(i) << PIAS_PICK_ID_BITS | (id))
/* the index in 14 bits, so that ~0 names no index of a set */
PIAS_STATIC_ASSERT(PIAS_TSET_MAX < 1u << (31 - PIAS_PICK_ID_BITS) &&
			   PIAS_MAX_TARGETS <= 1u << PIAS_PICK_ID_BITS,
		   "PIAS_PICK_AT");

/*
 * A target among entries [lo, hi) of a set, whose running sums are cum_lo
 * before lo and cum_hi at hi - 1, for the flow with hash (policy random: a
 * fresh random number instead): its id, or 0 if the draws and the walk
 * found none that takes it.
 */
static __always_inline __u32 pias_pick_in(__u32 lo, __u32 hi, __u32 cum_lo, __u32 cum_hi,
					  __u32 hash, __u32 scoped, void *ctx,
					  pias_pick_draw_fn draw, pias_pick_take_fn take)
{
	__u32 total, span, i = lo, at, id;

	if (hi <= lo || cum_hi <= cum_lo)
		return 0;
	total = cum_hi - cum_lo;
	span = hi - lo;
	for (__u32 k = 0; k < PIAS_PICK_DRAWS; k++) {
		at = draw(ctx, cum_lo + pias_pick_draw(hash, k) % total, scoped);
		i = at >> PIAS_PICK_ID_BITS;
		if (i < lo || i >= hi)
			return 0; /* the set changed under the pick */
		if (at & PIAS_PICK_ID_MASK)
			return at & PIAS_PICK_ID_MASK;
	}
	for (__u32 s = 1; s < PIAS_PICK_WALK && s < span; s++) {
		__u32 j = i + s;

		if (j >= hi)
			j -= span;
		id = take(ctx, j, scoped);
		if (id)
			return id;
	}
	return 0;
}

/* pias_pick_target's word on a scoped pick that found none in the client's prefix. */
#define PIAS_PICK_F_FALLBACK 0x1 /* not strict: one of all the targets instead */
#define PIAS_PICK_F_NO_SCOPE 0x2 /* strict: none */

/*
 * The JAP's target for a new flow of set h (weighted, random, scoped; a
 * replicated group's copies are pias_pick_replicas'): its id, or 0.
 * scope: the client's prefix's entries (pias_tset_scope_key), NULL if the
 * set has none for it; only read for a scoped set. A scoped pick takes
 * from those; if none may take the flow, any target (*why gets
 * PIAS_PICK_F_FALLBACK), or with strict none (PIAS_PICK_F_NO_SCOPE).
 */
static __always_inline __u32 pias_pick_target_in(const struct pias_tset *h,
						 const struct pias_tset_range *scope, __u32 hash,
						 void *ctx, pias_pick_draw_fn draw,
						 pias_pick_take_fn take, __u32 *why)
{
	__u32 id;

	*why = 0;
	if (h->policy.kind == PIAS_POLICY_SCOPED) {
		id = scope ? pias_pick_in(scope->lo, scope->hi, scope->cum_lo, scope->cum_hi, hash,
					  1, ctx, draw, take)
			   : 0;
		if (id)
			return id;
		if (h->policy.flags & PIAS_POLICY_F_STRICT) {
			*why = PIAS_PICK_F_NO_SCOPE;
			return 0;
		}
		*why = PIAS_PICK_F_FALLBACK;
	}
	return pias_pick_in(0, h->count, 0, h->total, hash, 0, ctx, draw, take);
}

/*
 * replicate/k: up to k targets that take the flow into out, from entry
 * hash % count on, with at most PIAS_PICK_WALK entries looked at (a set
 * of up to that many: all of them). Returns how many.
 */
static __always_inline __u32 pias_pick_replicas(__u32 count, __u32 hash, __u32 k, void *ctx,
						pias_pick_take_fn take,
						__u32 out[PIAS_REPLICATE_MAX])
{
	__u32 n = 0, start;

	if (!count)
		return 0;
	if (k > PIAS_REPLICATE_MAX)
		k = PIAS_REPLICATE_MAX;
	start = hash % count;
	for (__u32 s = 0; s < PIAS_PICK_WALK && s < count && n < k; s++) {
		/* from start, not a counter that wraps to 0: BPF's verifier
		 * would tell every place it wrapped at apart */
		__u32 i = start + s, id;

		if (i >= count)
			i -= count;
		id = take(ctx, i, 0);
		if (id)
			out[n++ & (PIAS_REPLICATE_MAX - 1)] = id;
	}
	return n;
}

/*
 * The running sums of n weights into cum, as a set holds them; returns the
 * total. A total past 2^32 - 1 does not fit: then every weight is halved,
 * rounded up (a weight above 0 stays above 0), until it does. The writer
 * (lib/map_tset.c) and a simulator both use this, so that they agree.
 */
static inline __u32 pias_pick_sums(const __u32 *weights, __u32 n, __u32 *cum)
{
	__u32 shift = 0;
	__u64 sum;

	for (;; shift++) {
		sum = 0;
		for (__u32 i = 0; i < n; i++)
			sum += ((__u64)weights[i] + (1ull << shift) - 1) >> shift;
		if (sum <= 0xffffffffu)
			break;
	}
	sum = 0;
	for (__u32 i = 0; i < n; i++) {
		sum += ((__u64)weights[i] + (1ull << shift) - 1) >> shift;
		cum[i] = (__u32)sum;
	}
	return (__u32)sum;
}

/*
 * A set as arrays, for user space (a simulator, the tests): its entries in
 * pick order and their running sums, as pias_tset_read gives them, and
 * the caller's answer to whether target id may take the flow (active, the
 * flow's family, not the client; scoped: in the client's prefix). Passed
 * as ctx with pias_pick_flat_draw and pias_pick_flat_take.
 */
struct pias_pick_flat {
	const __u32 *ids;
	const __u32 *cum;
	__u32 count;
	int (*ok)(void *arg, __u32 id, __u32 scoped);
	void *arg;
};

static inline __u32 pias_pick_flat_take(void *ctx, __u32 i, __u32 scoped)
{
	const struct pias_pick_flat *f = (const struct pias_pick_flat *)ctx;

	if (i >= f->count || f->cum[i] == (i ? f->cum[i - 1] : 0))
		return 0;
	return f->ok(f->arg, f->ids[i], scoped) ? f->ids[i] : 0;
}

static inline __u32 pias_pick_flat_draw(void *ctx, __u32 r, __u32 scoped)
{
	const struct pias_pick_flat *f = (const struct pias_pick_flat *)ctx;
	__u32 i = pias_pick_search(f->cum, f->count, r, PIAS_PICK_TOP_SET);

	return PIAS_PICK_AT(i, pias_pick_flat_take(ctx, i, scoped));
}

/*
 * The RAP's JAP for a new flow of group g (a RAP's group, or an IAP's
 * binding set): the index into g->japs of the one whose share of the
 * weights the flow's hash falls in, among those usable allows (bit i:
 * japs[i], up, not excluded, in the client's scope); -1 if their weights
 * sum to 0.
 */
static __always_inline int pias_pick_jap_in(const struct pias_group *g, __u32 hash, __u32 usable)
{
	__u64 total = 0, r;

	for (__u32 i = 0; i < PIAS_GROUP_MAX_JAPS; i++)
		if (i < g->count && (usable & (1u << i)))
			total += g->japs[i].weight;
	if (!total)
		return -1;
	r = hash % total;
	for (__u32 i = 0; i < PIAS_GROUP_MAX_JAPS; i++) {
		__u32 w;

		if (i >= g->count || !(usable & (1u << i)))
			continue;
		w = g->japs[i].weight;
		if (r < w)
			return (int)i;
		r -= w;
	}
	return -1;
}

#endif
