// SPDX-License-Identifier: MIT
/*
 * A group's selection policy at the JAP (include/pias/policy.h): which
 * target a new flow gets under weighted, random and scoped, byte for byte
 * the frame the JAP sends, IPv4 and IPv6 clients, TCP and UDP.
 */
#include <stdio.h>

#include "jap_util.h"

/* The set of tc's TA: ids (weights), under policy. */
static void policy_targets(const struct tcase *tc, const uint32_t *ids, const uint32_t *weights,
			   int n, const struct pias_policy *policy)
{
	struct pias_ta ta = make_ta(tc->cf, tc->proto);

	jap_targets(tc, ids, weights, n);
	assert_ok(pr_target_set_policy(&g_pr, &ta, ids, n, policy));
}

/* Sends s as a new flow; the target its frame went to, checked byte for byte. */
static uint32_t new_flow_target(const struct tcase *tc, const struct pkt_spec *s)
{
	struct pr_result res;
	struct pkt in, want;
	uint32_t tid;
	uint16_t port;

	jap_tunnel(&in, tc, s, 0, 0);
	RUN(0, &in, &res);
	tid = target_of_frame(&res);
	assert_true(tid != 0);
	port = assert_conn(s, tid, target_port(tc->proto));
	expect_nat(&want, s, tid, target_port(tc->proto), port);
	assert_frame(&res, &want);
	return tid;
}

/*
 * random: a fresh draw for the same flow once its connection is gone (a
 * fair coin between two targets of equal weight), and the connection
 * keeps its draw.
 */
static void test_policy_random(void **state)
{
	const struct tcase *tc = *state;
	uint32_t ids[] = { target_id(tc->cf, 0), target_id(tc->cf, 1) };
	uint32_t weights[] = { 5, 5 };
	struct pias_policy random = { .kind = PIAS_POLICY_RANDOM };
	const int flows = 400;
	int count = 0, changed = 0;

	policy_targets(tc, ids, weights, 2, &random);
	for (int i = 0; i < flows; i++) {
		struct pkt_spec s = jap_inner(tc, (uint16_t)(30000 + i));
		struct pias_flow f = pkt_spec_flow(&s);
		uint32_t first = new_flow_target(tc, &s), again;

		/* the connection keeps its draw */
		assert_int_equal(new_flow_target(tc, &s), first);
		assert_ok(pr_conn_del(&g_pr, &f));
		again = new_flow_target(tc, &s);
		changed += again != first;
		count += first == ids[0];
		assert_ok(pr_conn_del(&g_pr, &f));
	}
	fprintf(stderr, "  random: %d of %d flows to the first target, %d redraws changed\n",
		count, flows, changed);
	/* a fair coin: mean 200, sd 10; 6 sd either way fails once in 1e9 runs */
	assert_in_range(count, flows / 2 - 60, flows / 2 + 60);
	/* a redraw changes with probability 1/2: mean 200 */
	assert_in_range(changed, flows / 2 - 60, flows / 2 + 60);
}

/* random with weights 1 and 3: draws in that proportion. */
static void test_policy_random_weighted(void **state)
{
	const struct tcase *tc = *state;
	uint32_t ids[] = { target_id(tc->cf, 0), target_id(tc->cf, 1) };
	uint32_t weights[] = { 1, 3 };
	struct pias_policy random = { .kind = PIAS_POLICY_RANDOM };
	struct pkt_spec s = jap_inner(tc, 30500);
	struct pias_flow f = pkt_spec_flow(&s);
	const int draws = 400;
	int heavy = 0;

	policy_targets(tc, ids, weights, 2, &random);
	/* one flow drawn again and again: the flow hash decides nothing */
	for (int i = 0; i < draws; i++) {
		heavy += new_flow_target(tc, &s) == ids[1];
		assert_ok(pr_conn_del(&g_pr, &f));
	}
	fprintf(stderr, "  random 1:3: %d of %d draws to the heavier target\n", heavy, draws);
	/* mean 300, sd 8.7: 6 sd either way */
	assert_in_range(heavy, 300 - 52, 300 + 52);
}

/* Client addresses for the scoped tests: one per target prefix, one of none. */
static const char *scope_client(uint8_t family, int which)
{
	static const char *const v4[] = { "192.0.2.77", "198.51.100.200", "203.0.113.200" };
	static const char *const v6[] = { "2001:db8:1::77", "2001:db8:2::99", "2001:db8:c::200" };

	return family == PIAS_AF_INET ? v4[which] : v6[which];
}

/*
 * scoped/24 (/48): targets 10, 11 (198.51.100.0/24) and 15 (192.0.2.0/24).
 * A client in 192.0.2.0/24 gets 15 only, one in 198.51.100.0/24 gets 10 or
 * 11, one in neither any of the three (counted as a fallback).
 */
static void test_policy_scoped(void **state)
{
	const struct tcase *tc = *state;
	uint32_t ids[] = { target_id(tc->cf, 0), target_id(tc->cf, 1), target_id(tc->cf, 5) };
	struct pias_policy scoped = { .kind = PIAS_POLICY_SCOPED,
				      .scope_len = tc->cf == PIAS_AF_INET ? 24 : 48 };
	int seen[3][3] = { { 0 } };

	policy_targets(tc, ids, NULL, 3, &scoped);
	for (int which = 0; which < 3; which++) {
		assert_ok(pr_zero_counters(&g_pr));
		for (int i = 0; i < 60; i++) {
			struct pkt_spec s = jap_inner(tc, (uint16_t)(31000 + 100 * which + i));
			uint32_t tid;

			s.src = pkt_addr(scope_client(tc->cf, which));
			tid = new_flow_target(tc, &s);
			for (int k = 0; k < 3; k++)
				seen[which][k] += tid == ids[k];
		}
		assert_int_equal(pr_counter(&g_pr, "jap_scope_fallback"), which == 2 ? 60 : 0);
	}
	assert_int_equal(seen[0][2], 60);
	assert_int_equal(seen[1][0] + seen[1][1], 60);
	assert_true(seen[1][0] > 0 && seen[1][1] > 0);
	for (int k = 0; k < 3; k++)
		assert_true(seen[2][k] > 0);
}

/* scoped strict: no target in the client's prefix, no target at all. */
static void test_policy_scoped_strict(void **state)
{
	const struct tcase *tc = *state;
	uint32_t ids[] = { target_id(tc->cf, 0), target_id(tc->cf, 5) };
	struct pias_policy strict = { .kind = PIAS_POLICY_SCOPED,
				      .scope_len = tc->cf == PIAS_AF_INET ? 24 : 48,
				      .flags = PIAS_POLICY_F_STRICT };
	struct pkt_spec s = jap_inner(tc, 32500);
	struct pias_conn conn;
	struct pias_flow f;
	struct pr_result res;
	struct pkt in;

	policy_targets(tc, ids, NULL, 2, &strict);
	s.src = pkt_addr(scope_client(tc->cf, 2));
	f = pkt_spec_flow(&s);
	jap_tunnel(&in, tc, &s, 0, 0);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 jap_no_scope=1");
	/* dropped before any state: no connection, no NAT port */
	assert_int_equal(pr_conn_get(&g_pr, &f, &conn), -ENOENT);
	/* a client in a target's prefix still gets it */
	s.src = pkt_addr(scope_client(tc->cf, 0));
	assert_int_equal(new_flow_target(tc, &s), ids[1]);
}

/* scoped/0: every client is in scope; the weights decide, as weighted. */
static void test_policy_scoped_zero(void **state)
{
	const struct tcase *tc = *state;
	uint32_t ids[] = { target_id(tc->cf, 0), target_id(tc->cf, 1) };
	uint32_t weights[] = { 1, 3 };
	struct pias_policy scoped = { .kind = PIAS_POLICY_SCOPED, .scope_len = 0 };
	struct pias_policy weighted = { 0 };

	for (int i = 0; i < 100; i++) {
		struct pkt_spec s = jap_inner(tc, (uint16_t)(33000 + i));
		struct pias_flow f = pkt_spec_flow(&s);
		uint32_t a, b;

		policy_targets(tc, ids, weights, 2, &scoped);
		a = new_flow_target(tc, &s);
		assert_ok(pr_conn_del(&g_pr, &f));
		policy_targets(tc, ids, weights, 2, &weighted);
		b = new_flow_target(tc, &s);
		assert_ok(pr_conn_del(&g_pr, &f));
		assert_int_equal(a, b);
	}
	assert_int_equal(pr_counter(&g_pr, "jap_scope_fallback"), 0);
}

int run_policy_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_policy_random, W_CLIENT),
		WTEST(test_policy_random_weighted, W_CLIENT),
		WTEST(test_policy_scoped, W_CLIENT),
		WTEST(test_policy_scoped_strict, W_CLIENT),
		WTEST(test_policy_scoped_zero, W_CLIENT),
	};

	return run_world_group("policy", tests, sizeof(tests) / sizeof(tests[0]));
}
