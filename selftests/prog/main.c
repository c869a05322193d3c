// SPDX-License-Identifier: MIT
/*
 * test_prog: every path of docs/protocol.md section 3 through the real
 * pias_xdp with BPF_PROG_TEST_RUN. Needs root (BPF, a network namespace);
 * exits 77, the automake "skipped" code, with a reason when it cannot run.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "world.h"

/* argv[1]: run only the tests whose names match it (cmocka's * and ? globs) */
int main(int argc, char **argv)
{
	int failed = 0;

	if (argc > 1 && argv[1][0])
		cmocka_set_test_filter(argv[1]);
	if (geteuid() != 0) {
		fprintf(stderr,
			"test_prog: SKIP: needs root (BPF programs, a network namespace)\n");
		return 77;
	}
	/* the namespace first: the program's route lookups happen in it */
	if (netns_setup(&g_ns)) {
		fprintf(stderr, "test_prog: SKIP: cannot build the test network namespace\n");
		return 77;
	}

	failed += run_load_tests();
	/* a filter may have left the load test out: the other groups need the program */
	if (!g_loaded && argc > 1 && argv[1][0] && pr_open(&g_pr) == 0)
		g_loaded = 1;
	failed += run_iap_tests();
	failed += run_rap_tests();
	failed += run_jap_tests();
	failed += run_policy_tests();
	failed += run_tset_tests();
	failed += run_jap_tunnel_tests();
	failed += run_reverse_tests();
	failed += run_slot_tests();
	failed += run_map_many_tests();
	failed += run_nh_cache_tests();
	failed += run_anycast_tests();
	failed += run_conntrack_tests();
	failed += run_mtu_tests();
	failed += run_local_tests();
	failed += run_echo_tests();
	failed += run_malformed_tests();
	failed += run_xdp_fuzz_tests();
	/* the tunnel-mode target's own object: runs whether or not pias_xdp loaded */
	failed += run_target_tests();

	if (g_loaded)
		pr_close(&g_pr);
	/* cmocka counts a failed group setup as one failure for the whole group */
	fprintf(stderr, "test_prog: %d failure(s)\n", failed);
	return failed ? 1 : 0;
}
