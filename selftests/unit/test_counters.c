// SPDX-License-Identifier: MIT
/* lib/counters: the name tables generated from the X-macros. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "unit.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void sizes(void **state)
{
	(void)state;
	assert_int_equal(COUNT(pias_stat_info), PIAS_STAT_MAX);
	assert_int_equal(COUNT(pias_drop_info), PIAS_DROP_MAX);
	assert_int_equal(sizeof(struct pias_stats), PIAS_STAT_MAX * sizeof(__u64));
	assert_int_equal(sizeof(struct pias_drops), PIAS_DROP_MAX * sizeof(__u64));
}

static void check_names(const struct pias_counter_info *t, int n)
{
	for (int i = 0; i < n; i++) {
		assert_non_null(t[i].name);
		assert_true(t[i].name[0] != '\0');
		assert_true(t[i].desc && t[i].desc[0]);
		/* names go into JSON keys and shell scripts unquoted */
		for (const char *p = t[i].name; *p; p++)
			assert_true(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
				    *p == '_');
		assert_null(strchr(t[i].desc, '"'));
		assert_null(strchr(t[i].desc, '\\'));
	}
}

/* Unique within each table and across both: "name" means one counter. */
static void unique(void **state)
{
	(void)state;
	check_names(pias_stat_info, PIAS_STAT_MAX);
	check_names(pias_drop_info, PIAS_DROP_MAX);
	for (int i = 0; i < PIAS_STAT_MAX; i++) {
		assert_int_equal(
			pias_counter_find(pias_stat_info, PIAS_STAT_MAX, pias_stat_info[i].name),
			i);
		assert_int_equal(
			pias_counter_find(pias_drop_info, PIAS_DROP_MAX, pias_stat_info[i].name),
			-1);
	}
	for (int i = 0; i < PIAS_DROP_MAX; i++)
		assert_int_equal(
			pias_counter_find(pias_drop_info, PIAS_DROP_MAX, pias_drop_info[i].name),
			i);
}

/* The enum index, the struct field and the table entry are one counter. */
static void index_matches_field(void **state)
{
	(void)state;
	assert_string_equal(pias_stat_info[PIAS_STAT_iap_miss].name, "iap_miss");
	assert_int_equal(offsetof(struct pias_stats, iap_miss), PIAS_STAT_iap_miss * sizeof(__u64));
	assert_string_equal(pias_drop_info[PIAS_DROP_too_big].name, "too_big");
	assert_int_equal(offsetof(struct pias_drops, too_big), PIAS_DROP_too_big * sizeof(__u64));
	assert_int_equal(pias_counter_find(pias_stat_info, PIAS_STAT_MAX, "no_such_counter"), -1);
}

static char *print(const struct pias_stats *st, const struct pias_drops *dr, bool json)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	pias_counters_print(f, st, dr, json);
	fclose(f);
	return out;
}

static void printing(void **state)
{
	struct pias_stats st = { 0 };
	struct pias_drops dr = { 0 };
	char *text, *json;

	(void)state;
	st.iap_miss = 7;
	dr.fragment = 2;
	text = print(&st, &dr, false);
	assert_msg_has(text, "iap_miss");
	assert_msg_has(text, " 7  # IAP: no binding");
	assert_msg_has(text, "fragment");
	assert_null(strstr(text, "rx_packets")); /* zero: not shown */
	json = print(&st, &dr, true);
	assert_msg_has(json, "\"iap_miss\":7");
	assert_msg_has(json, "\"rx_packets\":0"); /* JSON: every counter */
	assert_msg_has(json, "\"fragment\":2");
	assert_msg_has(json, "{\"stats\":{");
	free(text);
	free(json);
}

int test_counters(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes),
		cmocka_unit_test(unique),
		cmocka_unit_test(index_matches_field),
		cmocka_unit_test(printing),
	};

	return cmocka_run_group_tests_name("counters", tests, NULL, NULL);
}
