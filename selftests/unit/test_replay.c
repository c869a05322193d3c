// SPDX-License-Identifier: MIT
/* daemon/replay: per-sender sliding windows and timestamp freshness. */
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "unit.h"

#define SEC  1000000000ull
#define BOOT (1700000000ull * SEC) /* a sender's first seq: CLOCK_REALTIME in ns */

static int setup(void **state)
{
	struct pias_replay *r = malloc(sizeof(*r));

	assert_non_null(r);
	pias_replay_init(r);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct pias_replay *r = *state;

	pias_replay_free(r);
	free(r);
	return 0;
}

static bool check(struct pias_replay *r, __u32 id, __u64 seq)
{
	return pias_replay_check_and_record(r, id, seq);
}

static void test_in_order(void **state)
{
	struct pias_replay *r = *state;
	__u64 i;

	assert_false(pias_replay_known(r, 5));
	for (i = 0; i < 1000; i++)
		assert_true(check(r, 5, BOOT + i));
	assert_true(pias_replay_known(r, 5));
	assert_true(pias_replay_top(r, 5) == BOOT + 999);
	assert_int_equal(r->stats.fresh, 1000);
	assert_int_equal(r->n_senders, 1);
	/* Gaps (lost messages) are fine. */
	assert_true(check(r, 5, BOOT + 1010));
	assert_true(check(r, 5, BOOT + 5000));
}

static void test_duplicate(void **state)
{
	struct pias_replay *r = *state;

	assert_true(check(r, 7, BOOT));
	assert_false(check(r, 7, BOOT));
	assert_true(check(r, 7, BOOT + 1));
	assert_false(check(r, 7, BOOT + 1));
	assert_false(check(r, 7, BOOT));
	assert_int_equal(r->stats.duplicate, 3);
	/* Another sender's seqs are its own. */
	assert_true(check(r, 8, BOOT));
}

static void test_reordered(void **state)
{
	struct pias_replay *r = *state;
	__u64 i;

	assert_true(check(r, 1, BOOT + 100));
	/* Every seq 37..99 arrives late, in reverse: each accepted once. */
	for (i = 99; i >= 37; i--)
		assert_true(check(r, 1, BOOT + i));
	for (i = 37; i <= 100; i++)
		assert_false(check(r, 1, BOOT + i));
	assert_true(pias_replay_top(r, 1) == BOOT + 100);
	/* 36 is 64 below top: outside the window. */
	assert_false(check(r, 1, BOOT + 36));
	assert_int_equal(r->stats.too_old, 1);
	/* A jump keeps the overlapping part of the window. */
	assert_true(check(r, 1, BOOT + 110));
	assert_false(check(r, 1, BOOT + 100)); /* still remembered, 10 below */
	assert_false(check(r, 1, BOOT + 47));  /* 63 below: remembered */
	assert_false(check(r, 1, BOOT + 46));  /* 64 below: too old */
	assert_true(check(r, 1, BOOT + 105));  /* never seen, inside */
	/* A jump of the window size or more empties it. */
	assert_true(check(r, 1, BOOT + 110 + 64));
	assert_true(check(r, 1, BOOT + 111));
	assert_false(check(r, 1, BOOT + 110));
}

static void test_too_old(void **state)
{
	struct pias_replay *r = *state;

	assert_true(check(r, 3, BOOT + 1000));
	assert_false(check(r, 3, BOOT + 1000 - PIAS_REPLAY_WINDOW));
	assert_false(check(r, 3, BOOT));
	assert_false(check(r, 3, 1));
	assert_true(check(r, 3, BOOT + 1000 - PIAS_REPLAY_WINDOW + 1));
	assert_int_equal(r->stats.too_old, 3);
	/* Far above: accepted, and the old top is now far too old. */
	assert_true(check(r, 3, UINT64_MAX));
	assert_false(check(r, 3, BOOT + 1001));
	assert_false(check(r, 3, UINT64_MAX));
	assert_true(check(r, 3, UINT64_MAX - 63));
	assert_false(check(r, 3, UINT64_MAX - 64));
}

/* A restarted sender begins at its new CLOCK_REALTIME, above what it sent. */
static void test_restarted_sender(void **state)
{
	struct pias_replay *r = *state;
	__u64 i;

	for (i = 0; i < 100; i++)
		assert_true(check(r, 9, BOOT + i));
	assert_true(check(r, 9, BOOT + 30 * SEC));
	assert_true(check(r, 9, BOOT + 30 * SEC + 1));
	/* Its pre-restart messages replayed: rejected. */
	assert_false(check(r, 9, BOOT + 99));
	/* A sender whose clock went back: rejected until forgotten. */
	assert_false(check(r, 9, BOOT - 10 * SEC));
	pias_replay_forget(r, 9);
	assert_false(pias_replay_known(r, 9));
	assert_int_equal(r->n_senders, 0);
	assert_true(check(r, 9, BOOT - 10 * SEC));
	assert_false(check(r, 9, BOOT - 10 * SEC));
	assert_int_equal(r->n_senders, 1);
	/* Forgetting unknown or invalid ids is harmless. */
	pias_replay_forget(r, 10);
	pias_replay_forget(r, 100000);
	pias_replay_forget(r, 0);
	pias_replay_forget(r, UINT32_MAX);
	assert_int_equal(r->n_senders, 1);
}

static void test_bad_input(void **state)
{
	struct pias_replay *r = *state;

	assert_false(check(r, 0, BOOT));
	assert_false(check(r, PIAS_MAX_PROXIES, BOOT));
	assert_false(check(r, UINT32_MAX, BOOT));
	assert_false(check(r, 1, 0));
	assert_int_equal(r->stats.bad_sender, 4);
	assert_int_equal(r->n_chunks, 0);
	assert_true(pias_replay_top(r, 0) == 0);
	assert_true(pias_replay_top(r, UINT32_MAX) == 0);
	assert_true(pias_replay_top(r, 12345) == 0);
	/* The extremes of the id range work. */
	assert_true(check(r, 1, BOOT));
	assert_true(check(r, PIAS_MAX_PROXIES - 1, BOOT));
	assert_false(check(r, PIAS_MAX_PROXIES - 1, BOOT));
}

/* Memory follows the ids in use: chunks of 256 slots, allocated on first use. */
static void test_many_senders(void **state)
{
	struct pias_replay *r = *state;
	__u32 id;

	for (id = 1; id <= 300; id++)
		assert_true(check(r, id, BOOT + id));
	assert_int_equal(r->n_senders, 300);
	assert_int_equal(r->n_chunks, 2);
	for (id = 1; id <= 300; id++) {
		assert_false(check(r, id, BOOT + id));
		assert_true(check(r, id, BOOT + id + 1));
		assert_true(pias_replay_top(r, id) == BOOT + id + 1);
	}
	/* Scattered ids: one chunk each. */
	assert_true(check(r, 100000, BOOT));
	assert_true(check(r, 131071, BOOT));
	assert_int_equal(r->n_chunks, 4);
	/* Every possible sender: the whole table, still independent windows. */
	for (id = 1; id < PIAS_MAX_PROXIES; id++)
		check(r, id, BOOT + 1000000 + id);
	assert_int_equal(r->n_chunks, PIAS_REPLAY_CHUNKS);
	assert_int_equal(r->n_senders, PIAS_MAX_PROXIES - 1);
	for (id = 1; id < PIAS_MAX_PROXIES; id += 997)
		assert_false(check(r, id, BOOT + 1000000 + id));
}

static void test_fresh_timestamp(void **state)
{
	const __u64 now = BOOT + 500 * SEC;

	(void)state;
	assert_true(pias_fresh_timestamp(now, now, 0));
	assert_true(pias_fresh_timestamp(now - 30 * SEC, now, 0));
	assert_true(pias_fresh_timestamp(now + 30 * SEC, now, 0));
	assert_false(pias_fresh_timestamp(now - 30 * SEC - 1, now, 0));
	assert_false(pias_fresh_timestamp(now + 30 * SEC + 1, now, 0));
	assert_true(pias_fresh_timestamp(now - 5 * SEC, now, 5 * SEC));
	assert_false(pias_fresh_timestamp(now - 5 * SEC - 1, now, 5 * SEC));
	/* No wrap-around at the ends of the range. */
	assert_false(pias_fresh_timestamp(0, now, 0));
	assert_false(pias_fresh_timestamp(UINT64_MAX, now, 0));
	assert_true(pias_fresh_timestamp(0, 10, 0));
	assert_true(pias_fresh_timestamp(UINT64_MAX, UINT64_MAX - 1, 0));
	assert_false(pias_fresh_timestamp(UINT64_MAX, 0, UINT64_MAX - 1));
	assert_true(pias_fresh_timestamp(UINT64_MAX, 0, UINT64_MAX));
}

int test_replay(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reordered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restarted_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_senders, setup, teardown),
		cmocka_unit_test(test_fresh_timestamp),
	};

	return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
