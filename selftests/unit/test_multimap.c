// SPDX-License-Identifier: MIT
/* daemon/multimap.c: keys -> handles, against a plain matrix. */
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "multimap.h"

#define KEYS	40
#define HANDLES 300

/* Random adds and clears agree with a matrix; links are reused, not leaked. */
static void multimap_matches_model(void **state)
{
	static bool model[KEYS][HANDLES];
	struct pias_multimap m;
	size_t links = 0, peak = 0;

	(void)state;
	srand(5);
	memset(model, 0, sizeof(model));
	pias_multimap_init(&m, KEYS, "test");
	for (int step = 0; step < 100000; step++) {
		__u32 key = (__u32)rand() % KEYS, h = (__u32)rand() % HANDLES;

		if (rand() % 4) {
			assert_int_equal(pias_multimap_reserve(&m, HANDLES, key, 1, NULL), 0);
			assert_int_equal(pias_multimap_add(&m, key, h), !model[key][h]);
			links += !model[key][h];
			model[key][h] = true;
		} else {
			pias_multimap_clear(&m, h);
			for (int k = 0; k < KEYS; k++) {
				links -= model[k][h];
				model[k][h] = false;
			}
		}
		peak = links > peak ? links : peak;
		size_t n = 0;
		long first = pias_multimap_first(&m, key);

		for (int o = 0; o < HANDLES; o++)
			n += model[key][o];
		assert_int_equal(pias_multimap_count(&m, key), n);
		if (n)
			assert_true(first >= 0 && model[key][first]);
		else
			assert_int_equal(first, -1);
	}
	/* a freed link is used again before a new one */
	assert_true(m.hwm <= peak);
	/* emptying a key handle by handle, as pias_iap_jap_dead does */
	for (int k = 0; k < KEYS; k++) {
		long h;

		while ((h = pias_multimap_first(&m, (__u32)k)) >= 0) {
			assert_true(model[k][h]);
			pias_multimap_clear(&m, (__u32)h);
			for (int o = 0; o < KEYS; o++)
				model[o][h] = false;
		}
	}
	assert_int_equal(m.nfree, m.hwm);
	pias_multimap_free(&m);
}

/* Keys at or above the limit are refused; a reservation makes adds infallible. */
static void multimap_limits(void **state)
{
	struct pias_multimap m;
	struct pias_err e;

	(void)state;
	pias_multimap_init(&m, 100, "iap");
	assert_int_equal(pias_multimap_reserve(&m, 4, 100, 1, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "iap: id 100 out of range"));
	assert_int_equal(pias_multimap_count(&m, 7), 0);
	assert_int_equal(pias_multimap_first(&m, 7), -1);
	pias_multimap_clear(&m, 3); /* a handle never seen */
	assert_int_equal(pias_multimap_reserve(&m, 4, 99, 3, NULL), 0);
	assert_true(pias_multimap_add(&m, 99, 3));
	assert_true(pias_multimap_add(&m, 1, 3));
	assert_false(pias_multimap_add(&m, 99, 3));
	assert_true(pias_multimap_add(&m, 99, 0));
	assert_int_equal(pias_multimap_count(&m, 99), 2);
	pias_multimap_clear(&m, 3);
	assert_int_equal(pias_multimap_count(&m, 99), 1);
	assert_int_equal(pias_multimap_first(&m, 99), 0);
	assert_int_equal(pias_multimap_count(&m, 1), 0);
	pias_multimap_free(&m);
}

int test_multimap(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(multimap_matches_model),
		cmocka_unit_test(multimap_limits),
	};

	return cmocka_run_group_tests_name("multimap", tests, NULL, NULL);
}
