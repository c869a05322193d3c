// SPDX-License-Identifier: MIT
/* daemon/ring: consistent hashing of groups to RAPs and the table it fills. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pias/hash.h>

#include "ring.h"
#include "unit.h"

#define K 3 /* the default RAPs per group */

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
	assert_memory_equal(t, t2, PIAS_RAP_SLOTS * sizeof(*t));

	assert_int_equal(pias_ring_table_diff(t, NULL, out, &n), -EINVAL);
	assert_int_equal(pias_ring_raps_of_ta(NULL, &ta, t2), -EINVAL);
	pias_ring_free(&r);
	pias_ring_free(&r); /* twice is harmless */

	assert_int_equal(pias_ring_init(&r, PIAS_RING_MAX_VNODES + 1, &e), -EINVAL);
	assert_msg_has(e.msg, "vnodes");
	assert_int_equal(pias_ring_init(NULL, 0, &e), -EINVAL);
	pias_ring_free(&r);
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
		assert_memory_equal(t, t2, PIAS_RAP_SLOTS * sizeof(*t));
	}
	assert_int_equal(pias_ring_init(&r2, 0, NULL), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pias_ring_add(&r2, ids[i], NULL), 0);
	assert_int_equal(r2.npoints, r.npoints);
	assert_memory_equal(r2.points, r.points, r.npoints * sizeof(*r.points));
	assert_int_equal(pias_ring_fill_table(&r2, K, t2, NULL), 0);
	assert_memory_equal(t, t2, PIAS_RAP_SLOTS * sizeof(*t));

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

/*
 * Groups per proxy as first RAP, for 1e6 random TAs: max/mean. Also the
 * proxies that are first RAP of no slot at all.
 */
static double balance(size_t n, size_t *idle)
{
	const unsigned int groups = 1000000;
	__u32 *ids = random_ids(n, 100 + n);
	struct pias_rap_slot *t = table();
	struct pias_ring r = ring_of(ids, n);
	unsigned int *count = calloc(PIAS_MAX_PROXIES, sizeof(*count));
	unsigned int max = 0;
	__u64 seed = 42;

	assert_non_null(count);
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	for (unsigned int g = 0; g < groups; g++) {
		struct pias_ta ta = random_ta(&seed);

		count[t[pias_rap_slot_of(&ta)].rap[0]]++;
	}
	*idle = 0;
	for (size_t i = 0; i < n; i++) {
		if (count[ids[i]] > max)
			max = count[ids[i]];
		if (!count[ids[i]])
			(*idle)++;
	}
	assert_int_equal(count[0], 0);
	pias_ring_free(&r);
	free(count);
	free(ids);
	free(t);
	return max / ((double)groups / n);
}

/*
 * The spread comes from the arcs: with V points per proxy a proxy's share
 * has a relative deviation of about 1/sqrt(V) (8% at V = 160), plus the
 * slot quantization (655 slots per proxy at N = 100: 4%). The max of 100
 * such shares sits near +2.5 deviations, 1.2-1.25. Measured: 1.18 for the
 * seed here; 1.21 mean and 1.28 worst over 30 other seeds. The bound leaves
 * room for another seed. (10 proxies: 1.11 mean, 1.19 worst; 1000: 1.38
 * mean, 1.49 worst, where 65 slots per proxy make quantization dominate.)
 */
#define BALANCE_BOUND_100 1.40

static void balance_first_rap(void **state)
{
	static const size_t sizes[] = { 10, 100, 1000 };
	size_t idle;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double b = balance(sizes[i], &idle);

		print_message("ring balance: %zu proxies, %u vnodes, 1e6 groups: max/mean %.3f "
			      "(%zu proxies first RAP of nothing)\n",
			      sizes[i], PIAS_RING_VNODES, b, idle);
		if (sizes[i] == 100)
			assert_true(b <= BALANCE_BOUND_100);
		assert_int_equal(idle, 0);
	}
}

/*
 * Removing a proxy: only the slots listing it change, each to its list
 * without it plus the next proxy clockwise, so first RAPs move only where
 * it was first. Those slots are its share, k/N of the table on average.
 */
/* Times k/N (or 1/N). Measured worst over the 100 proxies: 1.11 (sets), 1.22 (first RAP). */
#define MOVE_BOUND 1.6

static void remove_one_moves_its_share(void **state)
{
	const size_t n = 100;
	__u32 *ids = random_ids(n, 5);
	struct pias_rap_slot *t = table(), *t2 = table();
	struct pias_ring r = ring_of(ids, n);
	__u32 *changed = malloc(PIAS_RAP_SLOTS * sizeof(*changed));
	double worst_any = 0, worst_first = 0, sum_any = 0;

	(void)state;
	assert_non_null(changed);
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	for (size_t x = 0; x < n; x++) {
		__u32 gone = ids[x];
		size_t nchanged, first = 0, listed = 0;

		assert_int_equal(pias_ring_remove(&r, gone, NULL), 0);
		assert_int_equal(pias_ring_fill_table(&r, K, t2, NULL), 0);
		assert_int_equal(pias_ring_table_diff(t, t2, changed, &nchanged), 0);
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
		assert_int_equal(nchanged, listed);
		for (size_t i = 1; i < nchanged; i++)
			assert_true(changed[i - 1] < changed[i]);
		sum_any += (double)listed / PIAS_RAP_SLOTS;
		if ((double)listed / PIAS_RAP_SLOTS > worst_any)
			worst_any = (double)listed / PIAS_RAP_SLOTS;
		if ((double)first / PIAS_RAP_SLOTS > worst_first)
			worst_first = (double)first / PIAS_RAP_SLOTS;
		assert_int_equal(pias_ring_add(&r, gone, NULL), 0);
	}
	print_message("ring remove 1 of %zu: replica sets changed mean %.4f worst %.4f (k/N %.4f); "
		      "first RAP moved worst %.4f (1/N %.4f)\n",
		      n, sum_any / n, worst_any, (double)K / n, worst_first, 1.0 / n);
	assert_true(worst_any <= MOVE_BOUND * K / n);
	assert_true(worst_first <= MOVE_BOUND / n);
	pias_ring_free(&r);
	free(changed);
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
	__u32 *changed = malloc(PIAS_RAP_SLOTS * sizeof(*changed));
	double worst_any = 0, worst_first = 0, sum_first = 0;

	(void)state;
	assert_non_null(changed);
	assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
	for (size_t x = n; x < n + tries; x++) {
		__u32 added = ids[x];
		size_t nchanged, first = 0, listed = 0;

		assert_int_equal(pias_ring_add(&r, added, NULL), 0);
		assert_int_equal(pias_ring_fill_table(&r, K, t2, NULL), 0);
		assert_int_equal(pias_ring_table_diff(t, t2, changed, &nchanged), 0);
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
		assert_int_equal(nchanged, listed);
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
	free(changed);
	free(ids);
	free(t);
	free(t2);
}

/*
 * Build and fill times at the paper's scales (printed, not asserted). With
 * PIAS_RAP_SLOTS = 65536 and 1e5 proxies there are fewer slots than proxies
 * times k: many proxies are first RAP of no slot, some are RAP of none at
 * all. The table, not the ring, then limits balance: PIAS_RAP_SLOTS would
 * have to grow (to 2^20, say) for 1e5 proxies to share the groups evenly.
 */
static void build_time(void **state)
{
	static const size_t sizes[] = { 10000, 100000 };
	struct pias_rap_slot *t = table();
	/* make test-asan: 100,000 proxies take minutes there, and add no check */
	size_t nsizes = getenv("PIAS_TEST_SANITIZERS") ? 1 : 2;

	(void)state;
	if (nsizes == 1)
		print_message(
			"ring build: 100,000 proxies left to the plain build (PIAS_TEST_SANITIZERS: "
			"minutes under sanitizers)\n");
	for (size_t i = 0; i < nsizes; i++) {
		size_t n = sizes[i], no_first = 0, no_slot = 0;
		__u32 *ids = random_ids(n, 7);
		unsigned char *first = calloc(PIAS_MAX_PROXIES, 1),
			      *any = calloc(PIAS_MAX_PROXIES, 1);
		struct pias_ring r;
		double t0, t1, t2;

		assert_non_null(first);
		assert_non_null(any);
		assert_int_equal(pias_ring_init(&r, 0, NULL), 0);
		t0 = now();
		assert_int_equal(pias_ring_build(&r, ids, n, NULL), 0);
		t1 = now();
		assert_int_equal(pias_ring_fill_table(&r, K, t, NULL), 0);
		t2 = now();
		for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++) {
			first[t[s].rap[0]] = 1;
			for (unsigned int j = 0; j < K; j++)
				any[t[s].rap[j]] = 1;
		}
		for (size_t j = 0; j < n; j++) {
			no_first += !first[ids[j]];
			no_slot += !any[ids[j]];
		}
		print_message(
			"ring build: %zu proxies x %u vnodes: build %.3f s, fill table %.3f s, "
			"%.0f MiB; %zu proxies first RAP of no slot, %zu in no slot\n",
			n, PIAS_RING_VNODES, t1 - t0, t2 - t1,
			r.npoints * sizeof(*r.points) / 1048576.0, no_first, no_slot);
		pias_ring_free(&r);
		free(first);
		free(any);
		free(ids);
	}
	free(t);
}

int test_ring(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(k_distinct_live),
		cmocka_unit_test(empty_and_single),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(deterministic),
		cmocka_unit_test(raps_of_ta),
		cmocka_unit_test(balance_first_rap),
		cmocka_unit_test(remove_one_moves_its_share),
		cmocka_unit_test(add_one_takes_its_share),
		cmocka_unit_test(build_time),
	};

	return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
