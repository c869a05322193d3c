// SPDX-License-Identifier: MIT
/* lib/ring: consistent hashing of groups to RAPs, the table it fills and its updates. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pias/hash.h>

#include "ring.h"
#include "unit.h"

#define K 3 /* the default RAPs per group */
/*
 * Slots moved by one join or leave, times k/N (or 1/N for first RAPs).
 * Measured worst over 100 proxies: 1.11 (sets), 1.22 (first RAP).
 */
#define MOVE_BOUND 1.6

/* splitmix64: a seeded PRNG, so every run draws the same groups and ids. */
static __u64 rnd_next(__u64 *s)
{
	__u64 z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static struct pias_rap_slot *table(void)
{
	struct pias_rap_slot *t = calloc(PIAS_RAP_SLOTS, sizeof(*t));

	assert_non_null(t);
	return t;
}

/* n distinct random ids in 1..PIAS_MAX_PROXIES-1. */
static __u32 *random_ids(size_t n, __u64 seed)
{
	unsigned char *seen = calloc(PIAS_MAX_PROXIES, 1);
	__u32 *ids = malloc(n * sizeof(*ids));
	size_t have = 0;

	assert_non_null(seen);
	assert_non_null(ids);
	while (have < n) {
		__u32 id = 1 + (__u32)(rnd_next(&seed) % (PIAS_MAX_PROXIES - 1));

		if (!seen[id]) {
			seen[id] = 1;
			ids[have++] = id;
		}
	}
	free(seen);
	return ids;
}

static void shuffle(__u32 *ids, size_t n, __u64 seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd_next(&seed) % i;
		__u32 t = ids[i - 1];

		ids[i - 1] = ids[j];
		ids[j] = t;
	}
}

static struct pias_ta random_ta(__u64 *s)
{
	__u64 r = rnd_next(s);
	struct pias_ta ta;

	memset(&ta, 0, sizeof(ta));
	ta.addr.v4 = (__u32)r;
	ta.port = (__u16)(r >> 32);
	ta.proto = (r >> 48) & 1 ? PIAS_PROTO_TCP : PIAS_PROTO_UDP;
	ta.family = PIAS_AF_INET;
	return ta;
}

static bool member(__u32 id, const __u32 *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static bool slot_has(const struct pias_rap_slot *s, __u32 id)
{
	return member(id, s->rap, PIAS_RAP_REPLICAS);
}

/* memcmp first: cmocka's byte-by-byte compare takes 30 ms over 16 MiB. */
static void assert_tables_equal(const struct pias_rap_slot *a, const struct pias_rap_slot *b)
{
	if (!memcmp(a, b, PIAS_RAP_SLOTS * sizeof(*a)))
		return;
	for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++)
		if (memcmp(&a[s], &b[s], sizeof(a[s])))
			fail_msg("slot %u: %u %u %u %u, not %u %u %u %u", s, a[s].rap[0],
				 a[s].rap[1], a[s].rap[2], a[s].rap[3], b[s].rap[0], b[s].rap[1],
				 b[s].rap[2], b[s].rap[3]);
}

static struct pias_slot_set *slot_set(void)
{
	struct pias_slot_set *set = calloc(1, sizeof(*set));

	assert_non_null(set);
	return set;
}

static struct pias_ring ring_of(const __u32 *ids, size_t n)
{
	struct pias_ring r;

	assert_int_equal(pias_ring_init(&r, 0, NULL), 0);
	assert_int_equal(pias_ring_build(&r, ids, n, NULL), 0);
	return r;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Every slot lists min(k, n) distinct live ids, then zeros; equal to a ring walk. */
static void k_distinct_live(void **state)
{
	static const __u32 few[] = { 9, 5 };
	__u32 *ids = random_ids(10, 1);
	struct pias_rap_slot *t = table();
	struct pias_ring r = ring_of(ids, 10), r2 = ring_of(few, 2);

	(void)state;
	for (unsigned int k = 1; k <= PIAS_RAP_REPLICAS; k++) {
		assert_int_equal(pias_ring_fill_table(&r, k, t, NULL), 0);
		for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++) {
			__u32 walk[PIAS_RAP_REPLICAS];

			assert_int_equal(pias_ring_raps(&r, pias_ring_slot_key(s), k, walk), k);
			assert_memory_equal(walk, t[s].rap, k * sizeof(__u32));
			for (unsigned int i = 0; i < PIAS_RAP_REPLICAS; i++) {
				__u32 id = t[s].rap[i];

				if (i >= k) {
					assert_int_equal(id, 0);
					continue;
				}
				assert_true(member(id, ids, 10));
				assert_false(member(id, t[s].rap, i));
			}
		}
	}
	/* Fewer proxies than k: every slot lists both, then zeros. */
	assert_int_equal(pias_ring_fill_table(&r2, K, t, NULL), 0);
	for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++) {
		assert_true(slot_has(&t[s], 9) && slot_has(&t[s], 5));
		assert_int_not_equal(t[s].rap[0], t[s].rap[1]);
		assert_int_equal(t[s].rap[2], 0);
		assert_int_equal(t[s].rap[3], 0);
	}
	pias_ring_free(&r);
	pias_ring_free(&r2);
	free(ids);
	free(t);
}

/* No proxy: no RAP anywhere. One proxy: every slot is it. */
static void empty_and_single(void **state)
{
	struct pias_rap_slot *t = table();
	struct pias_ring r;
	__u32 out[PIAS_RAP_REPLICAS] = { 0 };
	__u32 one = 131071;

	(void)state;
	assert_int_equal(pias_ring_init(&r, 0, NULL), 0);
	memset(t, 0xff, PIAS_RAP_SLOTS * sizeof(*t));
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++)
		for (unsigned int i = 0; i < PIAS_RAP_REPLICAS; i++)
			assert_int_equal(t[s].rap[i], 0);
	assert_int_equal(pias_ring_raps(&r, 12345, K, out), 0);

	assert_int_equal(pias_ring_build(&r, &one, 1, NULL), 0);
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++) {
		assert_int_equal(t[s].rap[0], one);
		assert_int_equal(t[s].rap[1], 0);
	}
	/* Empty again, by removal. */
	assert_int_equal(pias_ring_remove(&r, one, NULL), 0);
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	assert_int_equal(t[777].rap[0], 0);
	pias_ring_free(&r);
	free(t);
}

static void *no_memory(size_t size)
{
	(void)size;
	return NULL;
}

/* Bad k, ids, vnodes and failed allocations: a negative errno, a message, the ring unchanged. */
static void bad_input(void **state)
{
	static const __u32 ids[] = { 1, 2, 3 };
	__u32 bad[] = { 1, 0 };
	struct pias_rap_slot *t = table(), *t2 = table();
	struct pias_ring r = ring_of(ids, 3);
	struct pias_err e;
	__u32 out[PIAS_RAP_REPLICAS];
	struct pias_ta ta = { .family = PIAS_AF_INET };
	struct pias_slot_set *set = slot_set();
	__u32 changed[1];
	size_t n;

	(void)state;
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	assert_int_equal(pias_ring_fill_table(&r, 0, t2, &e), -EINVAL);
	assert_msg_has(e.msg, "replicas 0");
	assert_int_equal(pias_ring_fill_table(&r, PIAS_RAP_REPLICAS + 1, t2, &e), -EINVAL);
	assert_int_equal(pias_ring_fill_table(NULL, K, t2, &e), -EINVAL);
	assert_int_equal(pias_ring_fill_table(&r, K, NULL, &e), -EINVAL);
	assert_int_equal(pias_ring_raps(&r, 1, 0, out), -EINVAL);
	assert_int_equal(pias_ring_raps(&r, 1, PIAS_RAP_REPLICAS + 1, out), -EINVAL);
	assert_int_equal(pias_ring_raps(NULL, 1, K, out), -EINVAL);

	assert_int_equal(pias_ring_build(&r, bad, 2, &e), -EINVAL);
	assert_msg_has(e.msg, "proxy id 0");
	bad[1] = PIAS_MAX_PROXIES;
	assert_int_equal(pias_ring_build(&r, bad, 2, &e), -EINVAL);
	assert_msg_has(e.msg, "131072");
	bad[1] = 1;
	assert_int_equal(pias_ring_build(&r, bad, 2, &e), -EINVAL);
	assert_msg_has(e.msg, "listed twice");
	assert_int_equal(pias_ring_build(&r, NULL, 2, &e), -EINVAL);
	assert_int_equal(pias_ring_add(&r, 2, &e), -EEXIST);
	assert_msg_has(e.msg, "proxy id 2");
	assert_int_equal(pias_ring_add(&r, 0, &e), -EINVAL);
	assert_int_equal(pias_ring_remove(&r, 4, &e), -ENOENT);
	assert_int_equal(pias_ring_remove(&r, PIAS_MAX_PROXIES, &e), -EINVAL);

	/* Allocation failure while building or adding. */
	r.alloc = no_memory;
	assert_int_equal(pias_ring_build(&r, ids, 2, &e), -ENOMEM);
	assert_msg_has(e.msg, "out of memory");
	assert_int_equal(pias_ring_add(&r, 4, &e), -ENOMEM);
	r.alloc = malloc;

	/* None of the above changed the ring. */
	assert_int_equal(r.nproxies, 3);
	assert_int_equal(pias_ring_fill_table(&r, K, t2, NULL), 0);
	assert_tables_equal(t, t2);

	assert_int_equal(pias_ring_raps_of_ta(NULL, &ta, t2), -EINVAL);

	/* Incremental updates: bad k, no set, ids not (or already) on the ring. */
	assert_int_equal(pias_ring_join(&r, 4, 0, set, &e), -EINVAL);
	assert_msg_has(e.msg, "replicas 0");
	assert_int_equal(pias_ring_join(&r, 4, K, NULL, &e), -EINVAL);
	assert_int_equal(pias_ring_join(&r, 2, K, set, &e), -EEXIST);
	assert_int_equal(pias_ring_leave(&r, 4, K, set, &e), -ENOENT);
	assert_msg_has(e.msg, "proxy id 4 is not on the ring");
	assert_int_equal(pias_ring_leave(&r, 0, K, set, &e), -EINVAL);
	assert_int_equal(pias_ring_leave(&r, 2, PIAS_RAP_REPLICAS + 1, set, &e), -EINVAL);
	assert_int_equal(pias_ring_mark(&r, 4, K, set), -ENOENT);
	assert_int_equal(pias_ring_mark(&r, 2, 0, set), -EINVAL);
	assert_int_equal(pias_ring_mark(NULL, 2, K, set), -EINVAL);
	r.alloc = no_memory;
	assert_int_equal(pias_ring_join(&r, 4, K, set, &e), -ENOMEM);
	r.alloc = malloc;
	for (size_t w = 0; w < PIAS_SLOT_SET_WORDS; w++)
		assert_int_equal(set->w[w], 0);
	assert_int_equal(pias_ring_refill(&r, K, t, set, NULL, t2, &n, &e), -EINVAL);
	assert_int_equal(pias_ring_refill(&r, 0, t, set, changed, t2, &n, &e), -EINVAL);
	assert_int_equal(r.nproxies, 3);
	pias_ring_free(&r);
	pias_ring_free(&r); /* twice is harmless */

	assert_int_equal(pias_ring_init(&r, PIAS_RING_MAX_VNODES + 1, &e), -EINVAL);
	assert_msg_has(e.msg, "vnodes");
	assert_int_equal(pias_ring_init(NULL, 0, &e), -EINVAL);
	pias_ring_free(&r);
	free(set);
	free(t);
	free(t2);
}

/* Same set in any order, or built one add at a time: the same table. */
static void deterministic(void **state)
{
	const size_t n = 100;
	__u32 *ids = random_ids(n, 2);
	struct pias_rap_slot *t = table(), *t2 = table();
	struct pias_ring r = ring_of(ids, n), r2;

	(void)state;
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	for (__u64 seed = 10; seed < 13; seed++) {
		shuffle(ids, n, seed);
		assert_int_equal(pias_ring_build(&r, ids, n, NULL), 0);
		assert_int_equal(pias_ring_fill_table(&r, K, t2, NULL), 0);
		assert_tables_equal(t, t2);
	}
	assert_int_equal(pias_ring_init(&r2, 0, NULL), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pias_ring_add(&r2, ids[i], NULL), 0);
	assert_int_equal(r2.npoints, r.npoints);
	assert_memory_equal(r2.points, r.points, r.npoints * sizeof(*r.points));
	assert_int_equal(pias_ring_fill_table(&r2, K, t2, NULL), 0);
	assert_tables_equal(t, t2);

	/* Removing = rebuilding without. */
	assert_int_equal(pias_ring_remove(&r2, ids[17], NULL), 0);
	assert_int_equal(pias_ring_build(&r, ids + 18, n - 18, NULL), 0);
	for (size_t i = 0; i < 17; i++)
		assert_int_equal(pias_ring_add(&r, ids[i], NULL), 0);
	assert_int_equal(r2.npoints, r.npoints);
	assert_memory_equal(r2.points, r.points, r.npoints * sizeof(*r.points));
	pias_ring_free(&r);
	pias_ring_free(&r2);
	free(ids);
	free(t);
	free(t2);
}

/* The table is what the dataplane reads: a TA's RAPs are its slot's. */
static void raps_of_ta(void **state)
{
	__u32 *ids = random_ids(50, 3);
	struct pias_rap_slot *t = table(), got;
	struct pias_ring r = ring_of(ids, 50);
	__u64 seed = 4;

	(void)state;
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	for (int i = 0; i < 1000; i++) {
		struct pias_ta ta = random_ta(&seed);
		__u32 walk[PIAS_RAP_REPLICAS] = { 0 };

		assert_int_equal(pias_ring_raps_of_ta(t, &ta, &got), K);
		assert_int_equal(
			pias_ring_raps(&r, pias_ring_slot_key(pias_rap_slot_of(&ta)), K, walk), K);
		assert_memory_equal(got.rap, walk, sizeof(walk));
	}
	pias_ring_free(&r);
	free(ids);
	free(t);
}

/* Scratch for pias_ring_refill: room for every slot. */
struct refill {
	__u32 *changed;
	struct pias_rap_slot *vals;
	size_t n;
};

static struct refill refill_new(void)
{
	struct refill f = { .changed = malloc(PIAS_RAP_SLOTS * sizeof(*f.changed)),
			    .vals = malloc(PIAS_RAP_SLOTS * sizeof(*f.vals)) };

	assert_non_null(f.changed);
	assert_non_null(f.vals);
	return f;
}

static void refill_free(struct refill *f)
{
	free(f->changed);
	free(f->vals);
}

/* Recompute dirty's slots into f, write them to t (as piasd writes the map), empty dirty. */
static void refill_apply(const struct pias_ring *r, unsigned int k, struct pias_rap_slot *t,
			 struct pias_slot_set *dirty, struct refill *f)
{
	assert_int_equal(pias_ring_refill(r, k, t, dirty, f->changed, f->vals, &f->n, NULL), 0);
	for (size_t i = 0; i < f->n; i++) {
		assert_true(pias_slot_set_has(dirty, f->changed[i]));
		if (i)
			assert_true(f->changed[i - 1] < f->changed[i]);
		t[f->changed[i]] = f->vals[i];
	}
	memset(dirty, 0, sizeof(*dirty));
}

static size_t set_count(const struct pias_slot_set *set)
{
	size_t n = 0;

	for (size_t w = 0; w < PIAS_SLOT_SET_WORDS; w++)
		n += (size_t)__builtin_popcountll(set->w[w]);
	return n;
}

/*
 * Random joins and leaves, one, two or three between two refills (piasd writes
 * the table once per tick, after all of a tick's membership changes): the
 * incrementally updated table equals a full fill every time. With one
 * change every slot marked changes (a join puts the proxy into exactly
 * those, a leave takes it out): the marks are not a loose superset.
 */
static void random_ops(size_t n0, size_t pool, unsigned int k, size_t ops, __u64 seed)
{
	__u32 *ids = random_ids(pool, seed);
	unsigned char *on = calloc(pool, 1);
	struct pias_rap_slot *t = table(), *full = table();
	struct pias_slot_set *dirty = slot_set();
	struct refill f = refill_new();
	struct pias_ring r = ring_of(ids, n0);
	size_t done = 0, marked = 0, single = 0, batches = 0;

	assert_non_null(on);
	memset(on, 1, n0);
	assert_int_equal(pias_ring_fill_table(&r, k, t, NULL), 0);
	while (done < ops) {
		size_t batch = 1 + batches++ % 3;

		for (size_t b = 0; b < batch && done < ops; b++, done++) {
			size_t x = rnd_next(&seed) % pool;

			if (on[x])
				assert_int_equal(pias_ring_leave(&r, ids[x], k, dirty, NULL), 0);
			else
				assert_int_equal(pias_ring_join(&r, ids[x], k, dirty, NULL), 0);
			on[x] = !on[x];
		}
		marked = set_count(dirty);
		refill_apply(&r, k, t, dirty, &f);
		assert_int_equal(pias_ring_fill_table(&r, k, full, NULL), 0);
		assert_tables_equal(t, full);
		if (batch == 1) {
			assert_int_equal(f.n, marked);
			single++;
		}
	}
	assert_true(single > 0);
	pias_ring_free(&r);
	refill_free(&f);
	free(dirty);
	free(full);
	free(t);
	free(on);
	free(ids);
}

/* 200 joins and leaves on a ring of about 1,000 proxies. */
static void incremental_equals_full(void **state)
{
	(void)state;
	random_ops(1000, 1200, K, 200, 11);
}

/*
 * Rings of 0 to 5 proxies and every k, k above the proxy count included
 * (then every slot lists every proxy, and each change touches them all).
 */
static void incremental_small_rings(void **state)
{
	(void)state;
	for (unsigned int k = 1; k <= PIAS_RAP_REPLICAS; k++)
		random_ops(k % 2 ? 0 : 3, 5, k, 24, 20 + k);
}

/*
 * One proxy joins a ring of 1,000: the slots that moved are exactly the
 * slots whose RAPs differ between full fills before and after, and a JAP
 * holding 10,000 groups re-reports only the groups in them, about k/1001
 * of its groups instead of all.
 */
static void rereport_only_moved(void **state)
{
	const size_t n = 1000, groups = 10000;
	__u32 *ids = random_ids(n + 1, 8);
	struct pias_rap_slot *before = table(), *t = table(), *after = table();
	struct pias_slot_set *dirty = slot_set(), *moved = slot_set();
	struct refill f = refill_new();
	struct pias_ring r = ring_of(ids, n);
	size_t really = 0, rereported = 0, unmoved_same = 0;
	__u64 seed = 9;

	(void)state;
	assert_int_equal(pias_ring_fill_table(&r, K, before, NULL), 0);
	memcpy(t, before, PIAS_RAP_SLOTS * sizeof(*t));
	assert_int_equal(pias_ring_join(&r, ids[n], K, dirty, NULL), 0);
	refill_apply(&r, K, t, dirty, &f);
	for (size_t i = 0; i < f.n; i++)
		pias_slot_set_add(moved, f.changed[i]);
	assert_int_equal(pias_ring_fill_table(&r, K, after, NULL), 0);
	assert_tables_equal(t, after);
	for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++) {
		bool differ = memcmp(&before[s], &after[s], sizeof(before[s])) != 0;

		assert_int_equal(pias_slot_set_has(moved, s), differ);
		really += differ;
	}
	assert_int_equal(really, f.n);
	for (size_t g = 0; g < groups; g++) {
		struct pias_ta ta = random_ta(&seed);
		__u32 slot = pias_rap_slot_of(&ta);
		bool again = pias_ring_ta_moved(moved, &ta);

		/* re-reported exactly when its RAPs changed, and then the newcomer is one */
		assert_int_equal(again,
				 memcmp(&before[slot], &after[slot], sizeof(after[slot])) != 0);
		if (again)
			assert_true(slot_has(&after[slot], ids[n]));
		else
			unmoved_same++;
		assert_true(pias_ring_ta_moved(NULL, &ta)); /* the periodic refresh: all */
		rereported += again;
	}
	print_message("ring join 1 to %zu: %zu of %u slots moved (k/(N+1) %.4f: %.4f); a JAP with "
		      "%zu groups re-reports %zu of them\n",
		      n, f.n, PIAS_RAP_SLOTS, (double)K / (n + 1), (double)f.n / PIAS_RAP_SLOTS,
		      groups, rereported);
	assert_int_equal(rereported + unmoved_same, groups);
	assert_true(rereported > 0);
	assert_true(rereported <= MOVE_BOUND * K * groups / (n + 1));
	pias_ring_free(&r);
	refill_free(&f);
	free(dirty);
	free(moved);
	free(before);
	free(t);
	free(after);
	free(ids);
}

struct balance {
	double first; /* max/mean groups per proxy as first RAP */
	double all;   /* max/mean groups per proxy as any of its k RAPs */
	size_t idle;  /* proxies first RAP of no group */
};

/*
 * 1e6 random TAs through their slots to their RAPs, n proxies. Timed on
 * the way (printed, not asserted; piasd-bench has rows for it): building
 * the ring and filling the table, as at start-up, then one proxy leaving
 * and joining again, as incremental updates.
 */
static struct balance balance(size_t n)
{
	const unsigned int groups = 1000000;
	__u32 *ids = random_ids(n, 100 + n);
	struct pias_rap_slot *t = table();
	struct pias_slot_set *dirty = slot_set();
	struct refill f = refill_new();
	unsigned int *first = calloc(PIAS_MAX_PROXIES, sizeof(*first)),
		     *all = calloc(PIAS_MAX_PROXIES, sizeof(*all));
	unsigned int max_first = 0, max_all = 0;
	struct balance b = { 0 };
	struct pias_ring r;
	double t0, t1, t2, t3;
	size_t left;
	__u64 seed = 42;

	assert_non_null(first);
	assert_non_null(all);
	assert_int_equal(pias_ring_init(&r, 0, NULL), 0);
	t0 = now();
	assert_int_equal(pias_ring_build(&r, ids, n, NULL), 0);
	t1 = now();
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	t2 = now();
	assert_int_equal(pias_ring_leave(&r, ids[0], K, dirty, NULL), 0);
	refill_apply(&r, K, t, dirty, &f);
	left = f.n;
	t3 = now();
	assert_int_equal(pias_ring_join(&r, ids[0], K, dirty, NULL), 0);
	refill_apply(&r, K, t, dirty, &f);
	assert_int_equal(f.n, left);
	print_message("ring: %zu proxies x %u vnodes: build %.3f s, fill table %.3f s, %.0f MiB; "
		      "one leaves: %zu slots in %.1f ms, joins: %.1f ms\n",
		      n, PIAS_RING_VNODES, t1 - t0, t2 - t1,
		      r.npoints * sizeof(*r.points) / 1048576.0, left, (t3 - t2) * 1e3,
		      (now() - t3) * 1e3);
	for (unsigned int g = 0; g < groups; g++) {
		struct pias_ta ta = random_ta(&seed);
		const struct pias_rap_slot *s = &t[pias_rap_slot_of(&ta)];

		first[s->rap[0]]++;
		for (unsigned int i = 0; i < K; i++)
			all[s->rap[i]]++;
	}
	for (size_t i = 0; i < n; i++) {
		if (first[ids[i]] > max_first)
			max_first = first[ids[i]];
		if (all[ids[i]] > max_all)
			max_all = all[ids[i]];
		b.idle += !first[ids[i]];
	}
	assert_int_equal(first[0], 0);
	assert_int_equal(all[0], 0);
	b.first = max_first / ((double)groups / n);
	b.all = max_all / ((double)groups * K / n);
	pias_ring_free(&r);
	refill_free(&f);
	free(dirty);
	free(first);
	free(all);
	free(ids);
	free(t);
	return b;
}

/*
 * Groups per proxy, max/mean, 1e6 random groups: as first RAP (where IAPs
 * send a group's first packets; the figures count this way) and as
 * any of the k (the groups whose reports a RAP keeps). Three sources of
 * spread add up: the groups themselves (1e6 over N proxies is Poisson:
 * with perfect hashing of each group the first-RAP max/mean is 1.38 at
 * 1e4 proxies, 2.7 at 1e5), the slots (2^20 of them: each proxy's are a
 * binomial draw, 10.5 first-RAP slots at 1e5, which the table size alone
 * decides) and the arcs (1/sqrt(160) per proxy). Measured for these seeds
 * and, in brackets, over 8-10 other id sets (docs/design.md, "Ring and
 * RAP table"):
 *
 *   proxies  first RAP           all k
 *   1e3      1.28                1.16
 *   1e4      1.67 (1.54-1.74)    1.32 (1.28-1.37)
 *   1e5      3.60 (3.3-3.9)      2.17 (2.13-2.33)
 *
 * The first-RAP bound at 1e4 cannot be 1.3: perfect hashing gives 1.38.
 * At 1e5 the bound is the 3.6, met here with no room to spare: it
 * is the median over other id sets. A change to the hashes or seeds may
 * land above it with the table as balanced as before; judge it by the
 * spread over several id sets, not this one figure.
 */
#define BALANCE_BOUND_100 1.40 /* first RAP, 100 proxies (measured 1.18) */
#define BALANCE_FIRST_1E4 1.80
#define BALANCE_ALL_1E4	  1.40
#define BALANCE_FIRST_1E5 3.60
#define BALANCE_ALL_1E5	  2.50

static void balance_first_rap(void **state)
{
	static const size_t sizes[] = { 100, 1000, 10000, 100000 };
	/* make test-asan: 100,000 proxies take minutes there, and add no check */
	size_t nsizes = getenv("PIAS_TEST_SANITIZERS") ? 3 : 4;

	(void)state;
	for (size_t i = 0; i < nsizes; i++) {
		size_t n = sizes[i];
		struct balance b = balance(n);

		print_message("ring balance: %zu proxies, 1e6 groups: max/mean %.3f as first RAP, "
			      "%.3f as any of %d (%zu proxies first RAP of nothing)\n",
			      n, b.first, b.all, K, b.idle);
		if (n == 100)
			assert_true(b.first <= BALANCE_BOUND_100);
		if (n == 10000) {
			assert_true(b.first <= BALANCE_FIRST_1E4);
			assert_true(b.all <= BALANCE_ALL_1E4);
		}
		if (n == 100000) {
			assert_true(b.first <= BALANCE_FIRST_1E5);
			assert_true(b.all <= BALANCE_ALL_1E5);
		}
		if (n <= 10000)
			assert_int_equal(b.idle, 0);
	}
	if (nsizes < 4)
		print_message("ring balance: 100,000 proxies left to the plain build "
			      "(PIAS_TEST_SANITIZERS)\n");
}

/*
 * Removing a proxy: only the slots listing it change, each to its list
 * without it plus the next proxy clockwise, so first RAPs move only where
 * it was first. Those slots are its share, k/N of the table on average.
 */
static void remove_one_moves_its_share(void **state)
{
	const size_t n = 100, tries = 25;
	__u32 *ids = random_ids(n, 5);
	struct pias_rap_slot *t = table(), *t2 = table();
	struct pias_ring r = ring_of(ids, n);
	double worst_any = 0, worst_first = 0, sum_any = 0;

	(void)state;
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	for (size_t x = 0; x < tries; x++) {
		__u32 gone = ids[x];
		size_t first = 0, listed = 0;

		assert_int_equal(pias_ring_remove(&r, gone, NULL), 0);
		assert_int_equal(pias_ring_fill_table(&r, K, t2, NULL), 0);
		for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++) {
			const __u32 *o = t[s].rap, *w = t2[s].rap;

			assert_false(slot_has(&t2[s], gone));
			if (!slot_has(&t[s], gone)) {
				assert_memory_equal(o, w, sizeof(t[s].rap));
				continue;
			}
			listed++;
			first += o[0] == gone;
			/* The old list without gone is a prefix of the new one. */
			for (unsigned int i = 0, j = 0; i < K; i++)
				if (o[i] != gone)
					assert_int_equal(w[j++], o[i]);
		}
		sum_any += (double)listed / PIAS_RAP_SLOTS;
		if ((double)listed / PIAS_RAP_SLOTS > worst_any)
			worst_any = (double)listed / PIAS_RAP_SLOTS;
		if ((double)first / PIAS_RAP_SLOTS > worst_first)
			worst_first = (double)first / PIAS_RAP_SLOTS;
		assert_int_equal(pias_ring_add(&r, gone, NULL), 0);
	}
	print_message("ring remove 1 of %zu (%zu tries): replica sets changed mean %.4f worst %.4f "
		      "(k/N %.4f); first RAP moved worst %.4f (1/N %.4f)\n",
		      n, tries, sum_any / tries, worst_any, (double)K / n, worst_first, 1.0 / n);
	assert_true(worst_any <= MOVE_BOUND * K / n);
	assert_true(worst_first <= MOVE_BOUND / n);
	pias_ring_free(&r);
	free(ids);
	free(t);
	free(t2);
}

/* Adding a proxy: only slots that now list it change; it takes about 1/(N+1). */
static void add_one_takes_its_share(void **state)
{
	const size_t n = 100, tries = 20;
	__u32 *ids = random_ids(n + tries, 6);
	struct pias_rap_slot *t = table(), *t2 = table();
	struct pias_ring r = ring_of(ids, n);
	double worst_any = 0, worst_first = 0, sum_first = 0;

	(void)state;
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	for (size_t x = n; x < n + tries; x++) {
		__u32 added = ids[x];
		size_t first = 0, listed = 0;

		assert_int_equal(pias_ring_add(&r, added, NULL), 0);
		assert_int_equal(pias_ring_fill_table(&r, K, t2, NULL), 0);
		for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++) {
			if (!slot_has(&t2[s], added)) {
				assert_memory_equal(t[s].rap, t2[s].rap, sizeof(t[s].rap));
				continue;
			}
			listed++;
			if (t2[s].rap[0] == added)
				first++;
			else
				assert_int_equal(t2[s].rap[0], t[s].rap[0]);
		}
		sum_first += (double)first / PIAS_RAP_SLOTS;
		if ((double)listed / PIAS_RAP_SLOTS > worst_any)
			worst_any = (double)listed / PIAS_RAP_SLOTS;
		if ((double)first / PIAS_RAP_SLOTS > worst_first)
			worst_first = (double)first / PIAS_RAP_SLOTS;
		assert_int_equal(pias_ring_remove(&r, added, NULL), 0);
	}
	print_message("ring add 1 to %zu (%zu tries): first RAP moved mean %.4f worst %.4f "
		      "(1/(N+1) %.4f); replica sets changed worst %.4f\n",
		      n, tries, sum_first / tries, worst_first, 1.0 / (n + 1), worst_any);
	assert_true(worst_first <= MOVE_BOUND / (n + 1));
	assert_true(worst_any <= MOVE_BOUND * K / (n + 1));
	pias_ring_free(&r);
	free(ids);
	free(t);
	free(t2);
}

int test_ring(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(k_distinct_live),
		cmocka_unit_test(empty_and_single),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(deterministic),
		cmocka_unit_test(raps_of_ta),
		cmocka_unit_test(incremental_equals_full),
		cmocka_unit_test(incremental_small_rings),
		cmocka_unit_test(rereport_only_moved),
		cmocka_unit_test(balance_first_rap),
		cmocka_unit_test(remove_one_moves_its_share),
		cmocka_unit_test(add_one_takes_its_share),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
