// SPDX-License-Identifier: MIT
/*
 * The object loads and passes the verifier, with every map private to this
 * process. Runs first: the other groups use the program loaded here.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pias.skel.h"
#include "world.h"

static void test_load_and_verify(void **state)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int rc, n = 0;

	(void)state;
	rc = pr_open(&g_pr);
	if (rc) {
		fprintf(stderr, "pias.bpf.o failed to load: %s (verifier log above)\n",
			strerror(-rc));
		fail();
	}
	g_loaded = 1;

	bpf_object__for_each_program(prog, g_pr.skel->obj)
	{
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		assert_true(bpf_program__fd(prog) >= 0);
		assert_int_equal(bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len), 0);
		fprintf(stderr, "  program %s: section %s, type %s, %u xlated bytes\n",
			bpf_program__name(prog), bpf_program__section_name(prog),
			libbpf_bpf_prog_type_str(bpf_program__type(prog)), info.xlated_prog_len);
		n++;
	}
	/* one entry per attach point: the XDP program, and at TC the copies of replication */
	assert_int_equal(n, 2);
	assert_string_equal(bpf_program__name(g_pr.skel->progs.pias_xdp), "pias_xdp");
	assert_int_equal(bpf_program__type(g_pr.skel->progs.pias_xdp), BPF_PROG_TYPE_XDP);
	assert_string_equal(bpf_program__name(g_pr.skel->progs.pias_tc), "pias_tc");
	assert_int_equal(bpf_program__type(g_pr.skel->progs.pias_tc), BPF_PROG_TYPE_SCHED_CLS);

	bpf_object__for_each_map(map, g_pr.skel->obj)
	{
		/* a test must never share state with a proxy running on this host */
		if (bpf_map__is_pinned(map) || bpf_map__pin_path(map)) {
			fprintf(stderr, "map %s is pinned at %s\n", bpf_map__name(map),
				bpf_map__pin_path(map) ?: "?");
			fail();
		}
	}
}

/* An unconfigured proxy (self_id 0) is a plain host: everything passes. */
static void test_unconfigured_passes(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pkt_spec s;
	struct pr_result res;
	struct pkt in;

	(void)state;
	if (!g_loaded)
		fail_msg("not loaded");
	assert_ok(pr_reset(&g_pr));
	assert_ok(pr_prefix(&g_pr, "203.0.113.0/25"));
	s = client_spec(&tc, 40000);
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_PASS);
	assert_unchanged(&res, &in);
	assert_counters("rx_packets=1");
}

/*
 * Every BPF object the build makes (each .bpf.o in build/bpf: the dataplane, the
 * benchmark wrapper, the pass program) loads and passes the verifier, its
 * maps private to this process.
 */
static void test_every_object_verifies(void **state)
{
	char exe[PATH_MAX], pattern[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int loaded = 0;
	glob_t g;

	(void)state;
	assert_true(n > 0);
	exe[n] = 0;
	/* the binary is BUILD/selftests/test_prog; the objects are in BUILD/bpf */
	snprintf(pattern, sizeof(pattern), "%s/../bpf/*.bpf.o", dirname(exe));
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct bpf_object *obj = bpf_object__open_file(g.gl_pathv[i], NULL);
		struct bpf_map *map;
		int rc;

		assert_non_null(obj);
		bpf_object__for_each_map(map, obj) bpf_map__set_pin_path(map, NULL);
		rc = bpf_object__load(obj);
		fprintf(stderr, "  %s: %s\n", g.gl_pathv[i], rc ? strerror(-rc) : "verified");
		bpf_object__close(obj);
		assert_int_equal(rc, 0);
		loaded++;
	}
	globfree(&g);
	/* pias, bench and xdp_pass at least */
	assert_true(loaded >= 3);
}

int run_load_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_and_verify),
		cmocka_unit_test(test_unconfigured_passes),
		cmocka_unit_test(test_every_object_verifies),
	};

	return cmocka_run_group_tests_name("load", tests, NULL, NULL);
}
