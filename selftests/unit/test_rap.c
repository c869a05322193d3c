// SPDX-License-Identifier: MIT
/* lib/rap: the rendezvous-hashed RAP table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rap.h"
#include "unit.h"

static struct pias_rap_slot *table(void)
{
	struct pias_rap_slot *t = calloc(PIAS_RAP_SLOTS, sizeof(*t));

	assert_non_null(t);
	return t;
}

static bool member(__u32 id, const __u32 *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Every slot lists k distinct live ids, best score first, then zeros. */
static void k_distinct_live(void **state)
{
	static const __u32 ids[] = { 3, 7, 11, 20, 42, 131071 };
	const size_t n = sizeof(ids) / sizeof(ids[0]);
	struct pias_rap_slot *t = table();

	(void)state;
	for (unsigned int k = 1; k <= PIAS_RAP_REPLICAS; k++) {
		assert_int_equal(pias_rap_compute(ids, n, k, t, NULL), 0);
		for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++) {
			for (unsigned int i = 0; i < PIAS_RAP_REPLICAS; i++) {
				__u32 id = t[s].rap[i];

				if (i >= k) {
					assert_int_equal(id, 0);
					continue;
				}
				assert_true(member(id, ids, n));
				for (unsigned int j = 0; j < i; j++)
					assert_int_not_equal(t[s].rap[j], id);
				if (i)
					assert_true(pias_rap_score(s, t[s].rap[i - 1]) >=
						    pias_rap_score(s, id));
			}
		}
	}
	free(t);
}

/* Fewer ids than replicas: every slot lists all of them. */
static void fewer_than_k(void **state)
{
	static const __u32 ids[] = { 9, 5 };
	struct pias_rap_slot *t = table();

	(void)state;
	assert_int_equal(pias_rap_compute(ids, 2, PIAS_RAP_REPLICAS, t, NULL), 0);
	for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++) {
		assert_true(member(t[s].rap[0], ids, 2));
		assert_true(member(t[s].rap[1], ids, 2));
		assert_int_not_equal(t[s].rap[0], t[s].rap[1]);
		assert_int_equal(t[s].rap[2], 0);
		assert_int_equal(t[s].rap[3], 0);
	}
	assert_int_equal(pias_rap_compute(ids, 0, 2, t, NULL), 0);
	for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++)
		assert_int_equal(t[s].rap[0], 0);
	free(t);
}

static void bad_input(void **state)
{
	static const __u32 dup[] = { 1, 2, 1 }, zero[] = { 0 }, big[] = { PIAS_MAX_PROXIES };
	struct pias_rap_slot *t = table();
	struct pias_err e;

	(void)state;
	assert_int_equal(pias_rap_compute(dup, 3, 2, t, &e), -EINVAL);
	assert_msg_has(e.msg, "proxy id 1 is listed twice");
	assert_int_equal(pias_rap_compute(zero, 1, 2, t, &e), -EINVAL);
	assert_msg_has(e.msg, "proxy id 0 is out of range 1-131071");
	assert_int_equal(pias_rap_compute(big, 1, 2, t, &e), -EINVAL);
	assert_msg_has(e.msg, "proxy id 131072 is out of range");
	assert_int_equal(pias_rap_compute(dup, 2, 0, t, &e), -EINVAL);
	assert_msg_has(e.msg, "replicas 0 is out of range 1-4");
	assert_int_equal(pias_rap_compute(dup, 2, 5, t, &e), -EINVAL);
	free(t);
}

/* The order of the id list does not matter: every proxy gets the same table. */
static void order_independent(void **state)
{
	static const __u32 a[] = { 1, 2, 3, 4, 5, 6, 7 }, b[] = { 7, 3, 5, 1, 6, 2, 4 };
	struct pias_rap_slot *ta = table(), *tb = table();

	(void)state;
	assert_int_equal(pias_rap_compute(a, 7, 3, ta, NULL), 0);
	assert_int_equal(pias_rap_compute(b, 7, 3, tb, NULL), 0);
	assert_memory_equal(ta, tb, PIAS_RAP_SLOTS * sizeof(*ta));
	free(ta);
	free(tb);
}

#define N 10

/*
 * Removing one proxy of N moves the first choice of only the slots it had
 * (about 1/N of them): every other slot keeps its RAP, so every other
 * group keeps its bindings.
 */
static void remove_one_moves_its_share(void **state)
{
	__u32 ids[N], fewer[N - 1], gone = 4;
	struct pias_rap_slot *before = table(), *after = table();
	unsigned int moved = 0, owned = 0, share[N + 1] = { 0 };
	const unsigned int fair = PIAS_RAP_SLOTS / N;

	(void)state;
	for (__u32 i = 0; i < N; i++)
		ids[i] = i + 1;
	for (__u32 i = 0, j = 0; i < N; i++)
		if (ids[i] != gone)
			fewer[j++] = ids[i];
	assert_int_equal(pias_rap_compute(ids, N, 2, before, NULL), 0);
	assert_int_equal(pias_rap_compute(fewer, N - 1, 2, after, NULL), 0);
	for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++) {
		share[before[s].rap[0]]++;
		if (before[s].rap[0] == gone) {
			owned++;
			/* its replica takes over: the next choice was already known */
			assert_int_equal(after[s].rap[0], before[s].rap[1]);
		}
		if (before[s].rap[0] != after[s].rap[0]) {
			moved++;
			assert_int_equal(before[s].rap[0], gone);
		}
	}
	assert_int_equal(moved, owned);
	/* about 1/N: within 15% of a fair share (65536 slots keep the noise small) */
	assert_in_range(moved, fair * 85 / 100, fair * 115 / 100);
	for (__u32 i = 1; i <= N; i++)
		assert_in_range(share[i], fair * 85 / 100, fair * 115 / 100);
	free(before);
	free(after);
}

/* A proxy joining takes about 1/(N+1) of the slots and moves nothing else. */
static void add_one_takes_its_share(void **state)
{
	__u32 ids[N + 1];
	struct pias_rap_slot *before = table(), *after = table();
	unsigned int moved = 0;
	const unsigned int fair = PIAS_RAP_SLOTS / (N + 1);

	(void)state;
	for (__u32 i = 0; i <= N; i++)
		ids[i] = 100 + i;
	assert_int_equal(pias_rap_compute(ids, N, 1, before, NULL), 0);
	assert_int_equal(pias_rap_compute(ids, N + 1, 1, after, NULL), 0);
	for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++)
		if (before[s].rap[0] != after[s].rap[0]) {
			moved++;
			assert_int_equal(after[s].rap[0], ids[N]);
		}
	assert_in_range(moved, fair * 85 / 100, fair * 115 / 100);
	free(before);
	free(after);
}

int test_rap(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(k_distinct_live),
		cmocka_unit_test(fewer_than_k),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(order_independent),
		cmocka_unit_test(remove_one_moves_its_share),
		cmocka_unit_test(add_one_takes_its_share),
	};

	return cmocka_run_group_tests_name("rap", tests, NULL, NULL);
}
