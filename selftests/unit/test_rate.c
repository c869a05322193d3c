// SPDX-License-Identifier: MIT
/* daemon/rate.c: the limit on what outsiders can make piasd do. */
#include "unit.h"

#include "rate.h"

#define S 1000000000ull

/* A burst at once, then the rate; what is refused is counted and handed over. */
static void burst_then_rate(void **state)
{
	struct pias_rate r;
	__u64 t = 5 * S, was = 99;
	int ok = 0;

	(void)state;
	pias_rate_init(&r, 10, 20);
	for (int i = 0; i < 1000; i++)
		ok += pias_rate_take(&r, t, NULL);
	assert_int_equal(ok, 20);
	assert_int_equal(r.suppressed, 980);
	/* a tenth of a second later: one more, and the count of those refused */
	assert_true(pias_rate_take(&r, t + S / 10, &was));
	assert_int_equal(was, 980);
	assert_int_equal(r.suppressed, 0);
	assert_false(pias_rate_take(&r, t + S / 10, NULL));
	/* 10 s of 1,000 attempts a second: 10 a second get through */
	ok = 0;
	for (int ms = 0; ms < 10000; ms++)
		ok += pias_rate_take(&r, t + S + (__u64)ms * 1000000ull, NULL);
	assert_in_range(ok, 100, 110); /* and what is left of the burst */
	/* idle long enough: the whole burst again, no more */
	ok = 0;
	for (int i = 0; i < 100; i++)
		ok += pias_rate_take(&r, t + 100 * S, NULL);
	assert_int_equal(ok, 20);
}

/* A zero rate or burst counts as one. */
static void degenerate(void **state)
{
	struct pias_rate r;

	(void)state;
	pias_rate_init(&r, 0, 0);
	assert_true(pias_rate_take(&r, S, NULL));
	assert_false(pias_rate_take(&r, S, NULL));
	assert_true(pias_rate_take(&r, 2 * S, NULL));
}

int test_rate(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(burst_then_rate),
		cmocka_unit_test(degenerate),
	};

	return cmocka_run_group_tests_name("rate", tests, NULL, NULL);
}
