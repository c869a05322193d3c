// SPDX-License-Identifier: MIT
/*
 * daemon/gone.c: a registration's LEAVE is remembered for a REGISTER's
 * freshness window, per (TA, endpoint), in a table of fixed size.
 */
#include <string.h>

#include "unit.h"

#include "gone.h"

#define S 1000000000ull

static const __u8 hkey[32] = "a hash key of thirty-two bytes!";

static struct pias_ta ta_of(__u16 port)
{
	struct pias_ta ta;

	memset(&ta, 0, sizeof(ta));
	ta.family = PIAS_AF_INET;
	ta.proto = 17;
	ta.port = port;
	ta.addr.v4 = 0x0a7100cb; /* 203.0.113.10 */
	return ta;
}

static void remembered_for_the_window(void **state)
{
	struct pias_gone g;
	struct pias_ta ta = ta_of(53), other = ta_of(54);
	union pias_addr a = { .v4 = 0x010200c0 }, b = { .v4 = 0x020200c0 };
	__u64 t = 100 * S;

	(void)state;
	assert_int_equal(pias_gone_init(&g, 64, 30 * S, hkey), 0);
	assert_int_equal(pias_gone_seq(&g, &ta, &a, PIAS_AF_INET, 5353, t), 0);
	pias_gone_note(&g, &ta, &a, PIAS_AF_INET, 5353, 777, t);
	assert_int_equal(pias_gone_seq(&g, &ta, &a, PIAS_AF_INET, 5353, t + 30 * S), 777);
	assert_int_equal(pias_gone_seq(&g, &ta, &a, PIAS_AF_INET, 5353, t + 30 * S + 1), 0);
	/* another endpoint, port, family or TA is another registration */
	assert_int_equal(pias_gone_seq(&g, &ta, &b, PIAS_AF_INET, 5353, t), 0);
	assert_int_equal(pias_gone_seq(&g, &ta, &a, PIAS_AF_INET, 5354, t), 0);
	assert_int_equal(pias_gone_seq(&g, &ta, &a, PIAS_AF_INET6, 5353, t), 0);
	assert_int_equal(pias_gone_seq(&g, &other, &a, PIAS_AF_INET, 5353, t), 0);
	/* a later LEAVE raises it, an older one (reordered) does not lower it */
	pias_gone_note(&g, &ta, &a, PIAS_AF_INET, 5353, 900, t + S);
	pias_gone_note(&g, &ta, &a, PIAS_AF_INET, 5353, 800, t + 2 * S);
	assert_int_equal(pias_gone_seq(&g, &ta, &a, PIAS_AF_INET, 5353, t + 2 * S), 900);
	pias_gone_free(&g);
}

/* 10,000 leaves into 64 slots: bounded, the latest kept, nothing mixed up. */
static void fixed_size(void **state)
{
	struct pias_gone g;
	struct pias_ta ta = ta_of(53);
	union pias_addr a = { .v4 = 0 };
	int kept = 0;

	(void)state;
	assert_int_equal(pias_gone_init(&g, 64, 30 * S, hkey), 0);
	for (__u32 i = 0; i < 10000; i++) {
		a.v4 = i;
		pias_gone_note(&g, &ta, &a, PIAS_AF_INET, 5353, 1000 + i, S + i);
	}
	for (__u32 i = 0; i < 10000; i++) {
		__u64 seq;

		a.v4 = i;
		seq = pias_gone_seq(&g, &ta, &a, PIAS_AF_INET, 5353, S + 10000);
		assert_true(seq == 0 || seq == 1000 + i);
		kept += seq != 0;
	}
	assert_in_range(kept, 40, 64);
	a.v4 = 9999; /* the last one noted is always there */
	assert_int_equal(pias_gone_seq(&g, &ta, &a, PIAS_AF_INET, 5353, S + 10000), 10999);
	pias_gone_free(&g);
}

int test_gone(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(remembered_for_the_window),
		cmocka_unit_test(fixed_size),
	};

	return cmocka_run_group_tests_name("gone", tests, NULL, NULL);
}
