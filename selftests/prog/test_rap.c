// SPDX-License-Identifier: MIT
/*
 * RAP (docs/protocol.md 3.2): tunnel kinds 1 and 4. Relays to a JAP picked
 * by weight and flow hash, never to the excluded JAP of a bounced packet
 * (exactly the JAP include/pias/pick.h computes); BOUND and NO_GROUP
 * events.
 */
#include <stdio.h>
#include <string.h>

#include <pias/pick.h>

#include "world.h"

/* The IAP that sends first packets to us: proxy 3 or 13 by underlay. */
static uint32_t sender(uint8_t uf)
{
	return jap_id(uf);
}

/* A client packet as an IAP forwards it: TTL already decremented once. */
static struct pkt_spec inner_of(const struct tcase *tc, uint16_t sport)
{
	struct pkt_spec s = client_spec(tc, sport);

	s.ttl = 63;
	return s;
}

/*
 * The JAP include/pias/pick.h picks (pias_pick_jap_in, what the program
 * must pick too): by the flow's hash among the JAPs with weight that are
 * up (not in down) and not excluded.
 */
static uint32_t expected_jap(const struct pkt_spec *s, const struct pias_group_jap *japs, int n,
			     uint32_t excl, const uint32_t *down, int ndown)
{
	struct pias_flow f = pkt_spec_flow(s);
	struct pias_group g = { .count = (__u32)n };
	__u32 usable = 0;
	int at;

	for (int i = 0; i < n; i++) {
		int skip = !japs[i].weight || japs[i].jap_id == excl;

		for (int d = 0; d < ndown; d++)
			skip |= japs[i].jap_id == down[d];
		g.japs[i] = japs[i];
		usable |= skip ? 0 : 1u << i;
	}
	at = pias_pick_jap_in(&g, pias_flow_hash(&f), usable);
	return at < 0 ? 0 : japs[at].jap_id;
}

static void test_rap_relay(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = inner_of(tc, 42000);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t jap = jap_b_id(tc->uf), iap = sender(tc->uf);
	struct pias_group_jap japs[] = { { jap, 5 } };
	struct tunhdr in_h = { PIAS_KIND_IAP_TO_RAP, 0, 1, iap, 0 };
	struct tunhdr out_h = { PIAS_KIND_RAP_TO_JAP, 0, 2, iap, 0 };
	struct pias_group_stats gs;
	struct pkt in, exp;
	struct pr_result res;

	assert_ok(pr_group(&g_pr, &ta, japs, 1));
	tunnel_from(&in, &s, iap, &in_h);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	/* the inner packet crosses the RAP unchanged */
	expect_tunnel(&exp, &s, jap, &out_h);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters("rx_packets=1 rap_relayed=1 fwd_redirect=1 events_sent=1");
	assert_nevents(1);
	assert_event(0, PIAS_EV_BOUND, iap, SELF, jap, &ta);
	assert_ok(pr_group_stats(&g_pr, &ta, &gs));
	assert_int_equal(gs.rap_packets, 1);
	assert_int_equal(gs.iap_packets, 0);
}

/* Weighted, deterministic per flow, down and zero-weight JAPs skipped. */
static void test_rap_weighted_choice(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pias_group_jap japs[] = { { 7, 50 }, { 3, 1 }, { 9, 0 }, { 4, 3 } };
	uint32_t down[] = { 7 };
	struct pias_ta ta = make_ta(PIAS_AF_INET, PKT_PROTO_UDP);
	int per_jap[2] = { 0, 0 };
	const int flows = 400;

	(void)state;
	assert_ok(pr_group(&g_pr, &ta, japs, 4));
	for (int i = 0; i < flows; i++) {
		struct pkt_spec s = inner_of(&tc, (uint16_t)(10000 + i));
		uint32_t want = expected_jap(&s, japs, 4, 0, down, 1);
		struct tunhdr in_h = { PIAS_KIND_IAP_TO_RAP, 0, 1, 3, 0 };
		struct tunhdr out_h = { PIAS_KIND_RAP_TO_JAP, 0, 2, 3, 0 };
		struct pkt in, exp;
		struct pr_result res;

		tunnel_from(&in, &s, 3, &in_h);
		expect_tunnel(&exp, &s, want, &out_h);
		/* twice: the same flow must meet the same JAP */
		for (int k = 0; k < 2; k++) {
			RUN(0, &in, &res);
			assert_verdict(&res, want == 3 ? XDP_TX : XDP_REDIRECT);
			assert_frame(&res, &exp);
		}
		per_jap[want == 4]++;
	}
	/* weights 1:3 -> about a quarter of the flows to proxy 3 */
	fprintf(stderr, "  flows to JAP 3: %d, to JAP 4: %d\n", per_jap[0], per_jap[1]);
	assert_in_range(per_jap[0], flows / 4 - 40, flows / 4 + 40);
	assert_int_equal(pr_counter(&g_pr, "rap_relayed"), 2 * flows);
}

static void test_rap_unknown_group(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = inner_of(tc, 42001);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t iap = sender(tc->uf);
	struct tunhdr h = { PIAS_KIND_IAP_TO_RAP, 0, 1, iap, 0 };
	struct pkt in;
	struct pr_result res;

	tunnel_from(&in, &s, iap, &h);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 rap_no_group=1 events_sent=1");
	assert_nevents(1);
	assert_event(0, PIAS_EV_NO_GROUP, iap, SELF, 0, &ta);

	/* rate-limited: a flood for an unknown group costs one event */
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 rap_no_group=1 events_suppressed=1");
	assert_nevents(0);
}

/* A group whose JAPs all have weight 0 has no JAP: same as unknown. */
static void test_rap_group_without_weight(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP };
	struct pkt_spec s = inner_of(&tc, 42002);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_group_jap japs[] = { { 3, 0 }, { 4, 0 } };
	struct tunhdr h = { PIAS_KIND_IAP_TO_RAP, 0, 1, 3, 0 };
	struct pkt in;
	struct pr_result res;

	(void)state;
	assert_ok(pr_group(&g_pr, &ta, japs, 2));
	tunnel_from(&in, &s, 3, &h);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 rap_no_group=1 events_sent=1");
	assert_event(0, PIAS_EV_NO_GROUP, 3, SELF, 0, &ta);

	/* an empty group (count 0) too */
	assert_ok(pr_group(&g_pr, &ta, japs, 0));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 rap_no_group=1 events_suppressed=1");
}

/* Every JAP down: nothing left to relay to. */
static void test_rap_all_japs_down(void **state)
{
	struct tcase tc = { PIAS_AF_INET6, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pkt_spec s = inner_of(&tc, 42003);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_group_jap japs[] = { { 7, 1 } };
	struct tunhdr h = { PIAS_KIND_IAP_TO_RAP, 0, 1, 3, 0 };
	struct pkt in;
	struct pr_result res;

	(void)state;
	assert_ok(pr_group(&g_pr, &ta, japs, 1));
	tunnel_from(&in, &s, 3, &h);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 rap_no_jap_left=1");
	assert_nevents(0);
}

/* A bounced packet never goes back to the JAP that bounced it. */
static void test_rap_bounced_excludes_jap(void **state)
{
	const struct tcase *tc = *state;
	uint32_t a = jap_id(tc->uf), b = jap_b_id(tc->uf);
	struct pias_group_jap japs[] = { { a, 100 }, { b, 1 } };
	struct pias_ta ta = make_ta(tc->cf, tc->proto);

	assert_ok(pr_group(&g_pr, &ta, japs, 2));
	for (int i = 0; i < 40; i++) {
		struct pkt_spec s = inner_of(tc, (uint16_t)(20000 + i));
		/* bounced by a, relayed by us: BOUNCED and excl kept, one hop more */
		struct tunhdr in_h = { PIAS_KIND_JAP_TO_RAP, PIAS_TUN_F_BOUNCED, 3, IAP_FAR, a };
		struct tunhdr out_h = { PIAS_KIND_RAP_TO_JAP, PIAS_TUN_F_BOUNCED, 4, IAP_FAR, a };
		struct pkt in, exp;
		struct pr_result res;

		tunnel_from(&in, &s, a, &in_h);
		assert_ok(pr_zero_counters(&g_pr));
		RUN(0, &in, &res);
		assert_verdict(&res, XDP_REDIRECT);
		expect_tunnel(&exp, &s, b, &out_h);
		assert_frame(&res, &exp);
		assert_counters(
			i ? "rx_packets=1 rap_bounce_relayed=1 fwd_redirect=1 "
			    "events_suppressed=1"
			  : "rx_packets=1 rap_bounce_relayed=1 fwd_redirect=1 events_sent=1");
		if (!i)
			assert_event(0, PIAS_EV_BOUND, IAP_FAR, SELF, b, &ta);
	}

	/* the bouncing JAP is the only one: nothing left */
	struct pkt_spec s = inner_of(tc, 21000);
	struct tunhdr in_h = { PIAS_KIND_JAP_TO_RAP, PIAS_TUN_F_BOUNCED, 3, IAP_FAR, a };
	struct pkt in;
	struct pr_result res;

	assert_ok(pr_group(&g_pr, &ta, japs, 1));
	tunnel_from(&in, &s, a, &in_h);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 rap_no_jap_left=1");
}

/* A kind 2 (RAP->JAP) or 3 tunnel packet reaches the JAP role, not the RAP. */
static void test_rap_kind_selects_role(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pkt_spec s = inner_of(&tc, 42004);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_group_jap japs[] = { { 4, 1 } };
	uint32_t rap = 2;
	struct tunhdr h = { PIAS_KIND_IAP_TO_JAP, 0, 1, 3, 0 };
	struct pkt in;
	struct pr_result res;

	(void)state;
	/* a group here but no targets: a JAP bounces, a RAP would relay */
	assert_ok(pr_group(&g_pr, &ta, japs, 1));
	assert_ok(pr_rap(&g_pr, &ta, &rap, 1));
	tunnel_from(&in, &s, 3, &h);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	assert_int_equal(pr_counter(&g_pr, "jap_bounced"), 1);
	assert_int_equal(pr_counter(&g_pr, "rap_relayed"), 0);
}

int run_rap_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_rap_relay, W_ALL),
		WTEST(test_rap_weighted_choice, W_ONCE),
		WTEST(test_rap_unknown_group, W_FAMILIES),
		WTEST(test_rap_group_without_weight, W_ONCE),
		WTEST(test_rap_all_japs_down, W_ONCE),
		WTEST(test_rap_bounced_excludes_jap, W_FAMILIES),
		WTEST(test_rap_kind_selects_role, W_ONCE),
	};

	return run_world_group("rap", tests, sizeof(tests) / sizeof(tests[0]));
}
