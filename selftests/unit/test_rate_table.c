// SPDX-License-Identifier: MIT
/* daemon/rate_table: a GCRA limit per key in a table of fixed size. */
#include <string.h>

#include "rate_table.h"
#include "unit.h"

#define MS 1000000ull
#define S  (1000 * MS)

static const __u8 hkey[16] = { 1, 2, 3 };

/* Each key has its own burst and rate; one key's flood leaves others alone. */
static void per_key(void **state)
{
	struct pias_rate_table t;
	struct pias_rate_key a = pias_rate_key_id(7), b = pias_rate_key_id(8);
	int ok = 0;

	(void)state;
	assert_int_equal(pias_rate_table_init(&t, 64, 10, 5, hkey), 0);
	for (int i = 0; i < 100; i++)
		ok += pias_rate_table_take(&t, &a, S);
	assert_int_equal(ok, 5);
	assert_int_equal(t.limited, 95);
	assert_true(pias_rate_table_take(&t, &b, S));
	/* 10 a second: one more after 100 ms */
	assert_false(pias_rate_table_take(&t, &a, S + 99 * MS));
	assert_true(pias_rate_table_take(&t, &a, S + 200 * MS));
	pias_rate_table_free(&t);
}

/* Addresses of either family are keys; IPv4 and IPv6 never collide. */
static void address_keys(void **state)
{
	union pias_addr x = { 0 };
	struct pias_rate_key k4, k6;

	(void)state;
	x.bytes[0] = 192;
	k4 = pias_rate_key_addr(&x, PIAS_AF_INET);
	k6 = pias_rate_key_addr(&x, PIAS_AF_INET6);
	assert_memory_not_equal(&k4, &k6, sizeof(k4));
}

/*
 * A table of one set: a ninth key evicts the one used longest ago, which
 * comes back with a fresh burst; the busy one keeps its state.
 */
static void eviction(void **state)
{
	struct pias_rate_table t;
	struct pias_rate_key busy = pias_rate_key_id(1000);

	(void)state;
	assert_int_equal(pias_rate_table_init(&t, PIAS_RATE_WAYS, 1, 2, hkey), 0);
	assert_true(pias_rate_table_take(&t, &busy, S));
	assert_true(pias_rate_table_take(&t, &busy, S));
	assert_false(pias_rate_table_take(&t, &busy, S));
	for (__u32 i = 1; i <= 20; i++) {
		struct pias_rate_key k = pias_rate_key_id(i);

		assert_true(pias_rate_table_take(&t, &k, S + i * MS));
		/* the busy key stays the most recently used */
		assert_false(pias_rate_table_take(&t, &busy, S + i * MS));
	}
	assert_int_equal(t.evicted, 20 - (PIAS_RATE_WAYS - 1));
	pias_rate_table_free(&t);
}

int test_rate_table(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(per_key),
		cmocka_unit_test(address_keys),
		cmocka_unit_test(eviction),
	};

	return cmocka_run_group_tests_name("rate_table", tests, NULL, NULL);
}
