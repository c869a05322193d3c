// SPDX-License-Identifier: MIT
/* build/selftests/test_unit: every unit test group; exit status 1 if any failed. */
#include "unit.h"

/* argv[1]: run only the tests whose names match it (cmocka's * and ? globs) */
int main(int argc, char **argv)
{
	int failed = 0;

	if (argc > 1 && argv[1][0])
		cmocka_set_test_filter(argv[1]);
	failed += test_addr();
	failed += test_policy();
	failed += test_counters();
	failed += test_hash();
	failed += test_config();
	failed += test_events();
	failed += test_ring();
	failed += test_config_file();
	failed += test_jap_registry();
	failed += test_large_group();
	failed += test_iap_cache();
	failed += test_multimap();
	failed += test_iap_scale();
	failed += test_rap_registry();
	failed += test_msg();
	failed += test_keys();
	failed += test_replay();
	failed += test_rate();
	failed += test_dplive();
	failed += test_gone();
	failed += test_cookie();
	failed += test_ctl_line();
	failed += test_rate_table();
	failed += test_membership();
	failed += test_coords();
	failed += test_agent();
	failed += test_delay();
	failed += test_sweep();
	failed += test_health();
	failed += test_outlier();
	failed += test_cli();
	failed += test_ta_index();
	failed += test_node();
	failed += test_pick();
	return failed ? 1 : 0;
}
