// SPDX-License-Identifier: MIT
/*
 * Local hops (the next proxy is this one: its role runs in place) and
 * forwarding (docs/protocol.md 3.5): XDP_TX, XDP_REDIRECT, and XDP_PASS
 * when the route lookup has no answer.
 */
#include <stdio.h>
#include <string.h>

#include <pias/hash.h>

#include "jap_util.h"

static struct pkt_spec hop(const struct pkt_spec *s)
{
	struct pkt_spec h = *s;

	h.ttl--;
	return h;
}

/* IAP and RAP here: MISS and BOUND from one packet, relayed to the JAP. */
static void test_local_iap_is_rap(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = client_spec(tc, 46000);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t self = SELF, jap = jap_b_id(tc->uf);
	struct pias_group_jap japs[] = { { jap, 1 } };
	/* one hop to ourselves, one to the JAP */
	struct tunhdr h = { PIAS_KIND_RAP_TO_JAP, 0, 2, SELF, 0 };
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec out = hop(&s);

	assert_ok(pr_rap(&g_pr, &ta, &self, 1));
	assert_ok(pr_group(&g_pr, &ta, japs, 1));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	expect_tunnel(&exp, &out, jap, &h);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 iap_miss=1 local_hop=1 rap_relayed=1 fwd_redirect=1 "
			"events_sent=2");
	assert_nevents(2);
	assert_event(0, PIAS_EV_MISS, SELF, SELF, 0, &ta);
	assert_event(1, PIAS_EV_BOUND, SELF, SELF, jap, &ta);
}

/* IAP bound to itself as JAP: NAT here, TTL down once per role. */
static void test_local_iap_is_jap(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = jap_inner(tc, 46001);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t tid = target_id(tc->cf, 0);
	uint16_t tport = target_port(tc->proto), port;
	struct pias_conn conn;
	struct pias_flow f = pkt_spec_flow(&s);
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec at_jap = hop(&s);

	jap_targets(tc, &tid, NULL, 1);
	assert_ok(pr_binding(&g_pr, &ta, SELF, 1, 0, 0));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	assert_counters("rx_packets=1 iap_binding_hit=1 local_hop=1 jap_new_conn=1 fwd_redirect=1");
	assert_ok(pr_conn_get(&g_pr, &f, &conn));
	assert_int_equal(conn.iap_id, SELF);
	assert_int_equal(conn.target_id, tid);
	port = conn.nat_port;
	assert_in_range(port, NAT_MIN, NAT_MAX);
	expect_nat(&exp, &at_jap, tid, tport, port);
	assert_frame(&res, &exp);
	assert_csums(&res);
}

/* IAP, RAP and JAP in one proxy. */
static void test_local_all_roles(void **state)
{
	struct tcase tc = { PIAS_AF_INET6, PIAS_AF_INET6, PKT_PROTO_UDP };
	struct pkt_spec s = client_spec(&tc, 46002);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t tid = 21, self = SELF;
	struct pias_group_jap japs[] = { { SELF, 1 } };
	struct pias_conn conn;
	struct pias_flow f = pkt_spec_flow(&s);
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec at_jap = hop(&s);

	(void)state;
	jap_targets(&tc, &tid, NULL, 1);
	assert_ok(pr_rap(&g_pr, &ta, &self, 1));
	assert_ok(pr_group(&g_pr, &ta, japs, 1));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	assert_counters("rx_packets=1 iap_miss=1 local_hop=2 rap_relayed=1 jap_new_conn=1 "
			"fwd_redirect=1 events_sent=2");
	assert_event(0, PIAS_EV_MISS, SELF, SELF, 0, &ta);
	assert_event(1, PIAS_EV_BOUND, SELF, SELF, SELF, &ta);
	assert_ok(pr_conn_get(&g_pr, &f, &conn));
	expect_nat(&exp, &at_jap, tid, T_PORT_UDP, conn.nat_port);
	assert_frame(&res, &exp);
}

/*
 * IAP, RAP and JAP here, no target: the bounce goes to the local RAP, which
 * must pick the other JAP and never this one again.
 */
static void test_local_bounce_through_local_rap(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pias_group_jap japs[] = { { SELF, 1000 }, { 3, 1 } };
	uint32_t self = SELF;
	struct pias_ta ta = make_ta(tc.cf, tc.proto);
	struct pkt_spec s;
	struct pkt in, exp;
	struct pr_result res;
	int sport;

	(void)state;
	/* a flow the RAP sends to this proxy first, by the documented pick */
	for (sport = 47000; sport < 48000; sport++) {
		s = client_spec(&tc, (uint16_t)sport);
		struct pias_flow f = pkt_spec_flow(&s);

		if (pias_flow_hash(&f) % 1001 < 1000)
			break;
	}
	assert_ok(pr_rap(&g_pr, &ta, &self, 1));
	assert_ok(pr_group(&g_pr, &ta, japs, 2));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	/* IAP->RAP, RAP->JAP, JAP->RAP in place, then RAP->JAP 3 on the wire */
	struct tunhdr h = { PIAS_KIND_RAP_TO_JAP, PIAS_TUN_F_BOUNCED, 4, SELF, SELF };
	struct pkt_spec out = hop(&s);

	expect_tunnel(&exp, &out, 3, &h);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 iap_miss=1 local_hop=3 rap_relayed=1 jap_bounced=1 "
			"rap_bounce_relayed=1 fwd_tx=1 events_sent=3 events_suppressed=1");
	assert_nevents(3);
	assert_event(0, PIAS_EV_MISS, SELF, SELF, 0, &ta);
	assert_event(1, PIAS_EV_BOUND, SELF, SELF, SELF, &ta);
	assert_event(2, PIAS_EV_INVALIDATE, SELF, 0, SELF, &ta);

	/* only this JAP in the group: the local RAP has nothing left */
	assert_ok(pr_group(&g_pr, &ta, japs, 1));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_int_equal(pr_counter(&g_pr, "rap_no_jap_left"), 1);
	assert_int_equal(pr_counter(&g_pr, "fwd_tx") + pr_counter(&g_pr, "fwd_redirect"), 0);
}

/* No route to the next proxy: the rewritten frame goes to the stack. */
static void test_fwd_no_route_passes(void **state)
{
	const struct tcase *tc = *state;
	/* 8, 18: unrouted; 9: on-link without a neighbour entry */
	uint32_t jap = tc->uf == PIAS_AF_INET ? (tc->proto == PKT_PROTO_TCP ? 9 : 8) : 18;
	struct pkt_spec s = client_spec(tc, 46003);
	struct pias_ta ta = ta_of_spec(&s);
	struct tunhdr h = { PIAS_KIND_IAP_TO_JAP, 0, 1, SELF, 0 };
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec out = hop(&s);

	assert_ok(pr_binding(&g_pr, &ta, jap, 1, 0, 0));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_PASS);
	/*
	 * The stack is to route it, so it must still be addressed to this host:
	 * the Ethernet header is the one it arrived with (ethertype of the
	 * underlay), not whatever bytes were in front of the packet.
	 */
	assert_counters("rx_packets=1 iap_binding_hit=1 fwd_fib_pass=1");
	expect_tunnel(&exp, &out, jap, &h);
	assert_frame(&res, &exp);
	assert_csums(&res);
}

/* A reply whose client is unrouted: translated, then to the stack. */
static void test_fwd_reverse_no_route_passes(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	uint32_t tid = 10;
	struct pkt_spec c = jap_inner(&tc, 46004);
	struct pkt in;
	struct pr_result res;
	uint16_t port;

	(void)state;
	c.src = pkt_a4("192.0.2.200");
	jap_targets(&tc, &tid, NULL, 1);
	jap_tunnel(&in, &tc, &c, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	port = assert_conn(&c, tid, T_PORT_UDP);

	struct pkt_spec r = pkt_udp(target_addr(tid), T_PORT_UDP, nat_addr(PIAS_AF_INET), port, 8);
	struct pkt_spec e = r;
	struct pkt exp;
	uint8_t tmac[6];

	mac_of(target_addr(tid), tmac);
	pkt_set_macs(&r, g_ns.mac[1], tmac);
	pkt_build(&in, &r);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(1, &in, &res);
	assert_verdict(&res, XDP_PASS);
	e.src = c.dst;
	e.sport = c.dport;
	e.dst = c.src;
	e.dport = c.sport;
	e.ttl--;
	reframe(&exp, &e, g_ns.mac[1], tmac);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 rev_translated=1 fwd_fib_pass=1");
}

int run_local_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_local_iap_is_rap, W_FAMILIES),
		WTEST(test_local_iap_is_jap, W_ALL),
		WTEST(test_local_all_roles, W_ONCE),
		WTEST(test_local_bounce_through_local_rap, W_ONCE),
		WTEST(test_fwd_no_route_passes, W_ALL),
		WTEST(test_fwd_reverse_no_route_passes, W_ONCE),
	};

	return run_world_group("local", tests, sizeof(tests) / sizeof(tests[0]));
}
