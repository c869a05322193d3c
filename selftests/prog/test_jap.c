// SPDX-License-Identifier: MIT
/*
 * JAP (docs/protocol.md 3.3, steps 1-4): decapsulation, target choice,
 * NAT, connection table, draining and down targets, bounces.
 */
#include <stdio.h>
#include <string.h>

#include "jap_util.h"

static void test_jap_new_conn_and_hit(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = target_id(tc->cf, 0);
	uint16_t tport = target_port(tc->proto), port;
	struct pkt_spec s = jap_inner(tc, 43000);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_target_stats ts;
	struct pias_group_stats gs;
	struct pkt in, exp;
	struct pr_result res;
	size_t ip_len;

	jap_targets(tc, &tid, NULL, 1);
	jap_tunnel(&in, tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	port = assert_conn(&s, tid, tport);
	expect_nat(&exp, &s, tid, tport, port);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters("rx_packets=1 jap_new_conn=1 fwd_redirect=1");
	assert_nevents(0);
	ip_len = exp.len - PKT_ETH_HLEN;
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	assert_int_equal(ts.packets, 1);
	assert_int_equal(ts.bytes, ip_len);
	assert_int_equal(ts.new_flows, 1);
	assert_ok(pr_group_stats(&g_pr, &ta, &gs));
	assert_int_equal(gs.jap_packets, 1);
	assert_int_equal(gs.jap_bytes, ip_len);

	/* the next packet of the flow, straight from the IAP (kind 3) */
	struct tunhdr h = { PIAS_KIND_IAP_TO_JAP, 0, 1, IAP_FAR, 0 };

	tunnel_from(&in, &s, rap_id(tc->uf), &h);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 jap_conn_hit=1 fwd_redirect=1");
	assert_int_equal(assert_conn(&s, tid, tport), port);
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	assert_int_equal(ts.packets, 2);
	assert_int_equal(ts.new_flows, 1);
	assert_int_equal(pr_count(&g_pr, pr_conns_fd(&g_pr)), 1);
	assert_int_equal(pr_count(&g_pr, pr_conns_rev_fd(&g_pr)), 1);
}

/* A target on the link the tunnel came in by: XDP_TX. */
static void test_jap_nat_tx(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = tc->cf == PIAS_AF_INET ? 15 : 25;
	uint16_t tport = target_port(tc->proto), port;
	struct pkt_spec s = jap_inner(tc, 43001);
	struct pkt in, exp;
	struct pr_result res;

	jap_targets(tc, &tid, NULL, 1);
	jap_tunnel(&in, tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	port = assert_conn(&s, tid, tport);
	expect_nat(&exp, &s, tid, tport, port);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 jap_new_conn=1 fwd_tx=1");
}

/* A target without a port of its own serves the TA's port. */
static void test_jap_target_port_zero(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP };
	uint32_t tid = 10;
	struct pkt_spec s = jap_inner(&tc, 43002);
	struct pias_ta ta = ta_of_spec(&s);
	struct pkt in, exp;
	struct pr_result res;
	uint16_t port;

	(void)state;
	assert_ok(pr_target(&g_pr, tid, target_addr(tid), 0, PIAS_TARGET_ACTIVE, 1));
	assert_ok(pr_target_set(&g_pr, &ta, &tid, 1));
	jap_tunnel(&in, &tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	port = assert_conn(&s, tid, s.dport);
	expect_nat(&exp, &s, tid, s.dport, port);
	assert_frame(&res, &exp);
}

/* An IPv4 UDP datagram without a checksum keeps none. */
static void test_jap_udp_no_checksum(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET6, PKT_PROTO_UDP };
	uint32_t tid = 11;
	struct pkt_spec s = jap_inner(&tc, 43003);
	struct pkt in, exp;
	struct pr_result res;
	uint16_t port;

	(void)state;
	s.udp_no_csum = 1;
	jap_targets(&tc, &tid, NULL, 1);
	jap_tunnel(&in, &tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	port = assert_conn(&s, tid, T_PORT_UDP);
	expect_nat(&exp, &s, tid, T_PORT_UDP, port);
	assert_frame(&res, &exp);
	assert_int_equal(res.out[PKT_ETH_HLEN + 26], 0);
	assert_int_equal(res.out[PKT_ETH_HLEN + 27], 0);
}

/*
 * A UDP checksum that comes out as 0 after NAT must be sent as 0xffff (0
 * means "none"). Find a payload for which it does, then check.
 */
static void test_jap_udp_checksum_never_zero(void **state)
{
	const uint8_t fams[] = { PIAS_AF_INET, PIAS_AF_INET6 };

	(void)state;
	for (size_t fi = 0; fi < 2; fi++) {
		struct tcase tc = { fams[fi], PIAS_AF_INET, PKT_PROTO_UDP };
		uint32_t tid = target_id(tc.cf, 0);
		struct pkt_spec s = jap_inner(&tc, 43004);
		struct pkt in, exp;
		struct pr_result res;
		uint8_t payload[2];
		uint16_t port;
		size_t csum_off = PKT_ETH_HLEN + (tc.cf == PIAS_AF_INET ? 20 : 40) + 6;
		int found = 0;

		jap_targets(&tc, &tid, NULL, 1);
		/* the NAT port depends only on the flow: learn it from a first packet */
		s.payload = payload;
		s.payload_len = 2;
		payload[0] = payload[1] = 0;
		jap_tunnel(&in, &tc, &s, 0, 0);
		RUN(0, &in, &res);
		assert_verdict(&res, XDP_REDIRECT);
		port = assert_conn(&s, tid, T_PORT_UDP);
		for (unsigned v = 0; v < 65536 && !found; v++) {
			payload[0] = (uint8_t)(v >> 8);
			payload[1] = (uint8_t)v;
			expect_nat(&exp, &s, tid, T_PORT_UDP, port);
			found = exp.b[csum_off] == 0xff && exp.b[csum_off + 1] == 0xff;
		}
		assert_true(found);
		jap_tunnel(&in, &tc, &s, 0, 0);
		RUN(0, &in, &res);
		assert_verdict(&res, XDP_REDIRECT);
		assert_frame(&res, &exp);
		assert_csums(&res);
	}
}

/* Weighted and deterministic: the same flow meets the same target again. */
static void test_jap_weighted_deterministic(void **state)
{
	const struct tcase *tc = *state;
	uint32_t ids[] = { target_id(tc->cf, 0), target_id(tc->cf, 1) };
	uint32_t weights[] = { 1, 3 };
	int count[2] = { 0, 0 };
	const int flows = 200;

	jap_targets(tc, ids, weights, 2);
	for (int i = 0; i < flows; i++) {
		struct pkt_spec s = jap_inner(tc, (uint16_t)(30000 + i));
		struct pias_flow f = pkt_spec_flow(&s);
		struct pr_result res;
		struct pkt in;
		uint32_t first, again;

		jap_tunnel(&in, tc, &s, 0, 0);
		RUN(0, &in, &res);
		assert_verdict(&res, XDP_REDIRECT);
		first = target_of_frame(&res);
		assert_true(first == ids[0] || first == ids[1]);
		assert_conn(&s, first, target_port(tc->proto));
		/* forget the connection: the choice itself must repeat */
		assert_ok(pr_conn_del(&g_pr, &f));
		RUN(0, &in, &res);
		again = target_of_frame(&res);
		assert_int_equal(again, first);
		count[first == ids[1]]++;
	}
	fprintf(stderr, "  flows to target %u (weight 1): %d, to %u (weight 3): %d\n", ids[0],
		count[0], ids[1], count[1]);
	assert_in_range(count[1], flows * 3 / 4 - 30, flows * 3 / 4 + 30);
}

/* DRAINING keeps its flows but gets no new ones; DOWN loses its flows. */
static void test_jap_draining_and_down(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP };
	uint32_t ids[] = { 10, 11 };
	uint16_t tport = T_PORT_TCP, port;
	struct pkt_spec s = jap_inner(&tc, 43005);
	struct pkt in, exp;
	struct pr_result res;
	uint32_t tid;

	(void)state;
	jap_targets(&tc, ids, NULL, 2);
	jap_tunnel(&in, &tc, &s, 0, 0);
	RUN(0, &in, &res);
	tid = target_of_frame(&res);
	assert_true(tid == 10 || tid == 11);
	port = assert_conn(&s, tid, tport);
	expect_nat(&exp, &s, tid, tport, port);

	/* draining: the connection stays where it is (its next segment, with ACK) */
	s.tcp_flags = PKT_TCP_ACK;
	s.ack = 1;
	jap_tunnel(&in, &tc, &s, 0, 0);
	expect_nat(&exp, &s, tid, tport, port);
	assert_ok(pr_target_state(&g_pr, tid, PIAS_TARGET_DRAINING));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 jap_conn_hit=1 fwd_redirect=1");

	/* ... and new flows all go to the other target */
	for (int i = 0; i < 32; i++) {
		struct pkt_spec n = jap_inner(&tc, (uint16_t)(31000 + i));
		struct pkt nin;

		jap_tunnel(&nin, &tc, &n, 0, 0);
		RUN(0, &nin, &res);
		assert_verdict(&res, XDP_REDIRECT);
		assert_int_equal(target_of_frame(&res), tid == 10 ? 11 : 10);
	}

	/*
	 * down: the flow moves to the other target, mid-stream (whose RST
	 * tells the client at once), and its old NAT port is freed
	 */
	struct pias_flow old_rev = rev_key_of(&s, tid, tport, port);
	struct pias_conn_rev rv;
	uint32_t other = tid == 10 ? 11 : 10;

	assert_ok(pr_target_state(&g_pr, tid, PIAS_TARGET_DOWN));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	assert_counters("rx_packets=1 jap_new_conn=1 fwd_redirect=1");
	port = assert_conn(&s, other, tport);
	expect_nat(&exp, &s, other, tport, port);
	assert_frame(&res, &exp);
	assert_int_equal(pr_conn_rev_get(&g_pr, &old_rev, &rv), -ENOENT);
}

/*
 * A UDP flow a draining target never answered moves on its next datagram
 * (an ejected target may be a dead one; a client reusing the 5-tuple would
 * be stuck with it); one it answered stays.
 */
static void test_jap_draining_udp_unanswered(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	uint32_t ids[] = { 10, 11 };
	struct pkt_spec s1 = jap_inner(&tc, 43010), s2 = jap_inner(&tc, 43011);
	struct pkt in1, in2;
	struct pr_result res;
	struct pias_flow f2 = pkt_spec_flow(&s2);
	struct pias_conn conn;
	uint32_t t1, t2;

	(void)state;
	jap_targets(&tc, ids, NULL, 2);
	jap_tunnel(&in1, &tc, &s1, 0, 0);
	jap_tunnel(&in2, &tc, &s2, 0, 0);
	/* two flows on one target: the first unanswered, the second answered */
	for (int i = 0; i < 64; i++) {
		RUN(0, &in1, &res);
		t1 = target_of_frame(&res);
		RUN(0, &in2, &res);
		t2 = target_of_frame(&res);
		if (t1 == t2)
			break;
		s2 = jap_inner(&tc, (uint16_t)(43100 + i));
		f2 = pkt_spec_flow(&s2);
		jap_tunnel(&in2, &tc, &s2, 0, 0);
	}
	assert_int_equal(t1, t2);
	assert_ok(pr_conn_get(&g_pr, &f2, &conn));
	conn.ct |= PIAS_CT_REPLIED;
	assert_ok(pr_conn_set(&g_pr, &f2, &conn));
	assert_ok(pr_target_state(&g_pr, t1, PIAS_TARGET_DRAINING));
	RUN(0, &in1, &res);
	assert_int_equal(target_of_frame(&res), t1 == 10 ? 11 : 10);
	RUN(0, &in2, &res);
	assert_int_equal(target_of_frame(&res), t1);
}

/*
 * A fresh SYN with a draining connection's 5-tuple is a new connection (the
 * client recycled its source port): it goes to another target and the old
 * NAT port is freed. A segment with ACK is the old connection: it stays.
 */
static void test_jap_draining_fresh_syn(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP };
	uint32_t ids[] = { 10, 11 };
	uint16_t tport = T_PORT_TCP, port;
	struct pkt_spec s = jap_inner(&tc, 43006), syn;
	struct pkt in, sin;
	struct pr_result res;
	struct pias_conn_rev rv;
	uint32_t tid, other;

	(void)state;
	jap_targets(&tc, ids, NULL, 2);
	jap_tunnel(&in, &tc, &s, 0, 0);
	RUN(0, &in, &res);
	tid = target_of_frame(&res);
	other = tid == 10 ? 11 : 10;
	port = assert_conn(&s, tid, tport);
	assert_ok(pr_target_state(&g_pr, tid, PIAS_TARGET_DRAINING));

	syn = s;
	syn.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK; /* a SYN-ACK is no fresh SYN */
	jap_tunnel(&sin, &tc, &syn, 0, 0);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &sin, &res);
	assert_int_equal(target_of_frame(&res), tid);
	assert_counters("rx_packets=1 jap_conn_hit=1 fwd_redirect=1");

	struct pias_flow old_rev = rev_key_of(&s, tid, tport, port);

	syn.tcp_flags = PKT_TCP_SYN;
	syn.ack = 0;
	jap_tunnel(&sin, &tc, &syn, 0, 0);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &sin, &res);
	assert_verdict(&res, XDP_REDIRECT);
	assert_counters("rx_packets=1 jap_new_conn=1 fwd_redirect=1");
	assert_int_equal(target_of_frame(&res), other);
	assert_conn(&s, other, tport);
	assert_int_equal(pr_conn_rev_get(&g_pr, &old_rev, &rv), -ENOENT);
}

/* A target that is also a client of its group never gets its own packets. */
static void test_jap_target_is_client(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	uint32_t ids[] = { 10, 11 };
	uint32_t weights[] = { 1000, 1 };

	(void)state;
	/* weighted heavily towards 10, which is the client itself */
	jap_targets(&tc, ids, weights, 2);
	for (int i = 0; i < 32; i++) {
		struct pkt_spec s = jap_inner(&tc, (uint16_t)(32000 + i));
		struct pkt in;
		struct pr_result res;

		s.src = pkt_addr(target_addr(10));
		jap_tunnel(&in, &tc, &s, 0, 0);
		RUN(0, &in, &res);
		assert_verdict(&res, XDP_REDIRECT);
		assert_int_equal(target_of_frame(&res), 11);
	}

	/* it is the only target: no live target for this client, bounce */
	struct pkt_spec s = jap_inner(&tc, 32100);
	struct pkt in;
	struct pr_result res;

	s.src = pkt_addr(target_addr(10));
	jap_targets(&tc, ids, weights, 1);
	jap_tunnel(&in, &tc, &s, 0, 0);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	assert_int_equal(pr_counter(&g_pr, "jap_bounced"), 1);
}

/* No live target: INVALIDATE, and back to the RAP once, marked BOUNCED. */
static void test_jap_no_target_bounces(void **state)
{
	const struct tcase *tc = *state;
	uint32_t ids[] = { target_id(tc->cf, 0), target_id(tc->cf, 1) };
	struct pkt_spec s = jap_inner(tc, 43006);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t rap = rap_id(tc->uf);
	struct tunhdr out_h = { PIAS_KIND_JAP_TO_RAP, PIAS_TUN_F_BOUNCED, 3, IAP_FAR, SELF };
	struct pkt in, exp;
	struct pr_result res;

	/* one target down, one draining: neither takes a new flow */
	jap_targets(tc, ids, NULL, 2);
	assert_ok(pr_target_state(&g_pr, ids[0], PIAS_TARGET_DOWN));
	assert_ok(pr_target_state(&g_pr, ids[1], PIAS_TARGET_DRAINING));
	jap_tunnel(&in, tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	/* the inner packet goes back as it came: no NAT, no TTL change */
	expect_tunnel(&exp, &s, rap, &out_h);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters("rx_packets=1 jap_bounced=1 fwd_tx=1 events_sent=1");
	assert_nevents(1);
	assert_event(0, PIAS_EV_INVALIDATE, IAP_FAR, 0, SELF, &ta);
	assert_int_equal(pr_count(&g_pr, pr_conns_fd(&g_pr)), 0);
	assert_int_equal(pr_count(&g_pr, pr_conns_rev_fd(&g_pr)), 0);

	/* an empty target set bounces the same way; the event is rate-limited */
	assert_ok(pr_target_set(&g_pr, &ta, ids, 0));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 jap_bounced=1 fwd_tx=1 events_suppressed=1");
	assert_nevents(0);
}

/* No target set for the TA at all: a JAP that does not serve the group. */
static void test_jap_no_target_set_bounces(void **state)
{
	struct tcase tc = { PIAS_AF_INET6, PIAS_AF_INET6, PKT_PROTO_TCP };
	struct pkt_spec s = jap_inner(&tc, 43007);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t rap = rap_id(tc.uf);
	struct tunhdr out_h = { PIAS_KIND_JAP_TO_RAP, PIAS_TUN_F_BOUNCED, 3, IAP_FAR, SELF };
	struct pkt in, exp;
	struct pr_result res;

	(void)state;
	assert_ok(pr_rap(&g_pr, &ta, &rap, 1));
	jap_tunnel(&in, &tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	expect_tunnel(&exp, &s, rap, &out_h);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 jap_bounced=1 fwd_tx=1 events_sent=1");
	assert_event(0, PIAS_EV_INVALIDATE, IAP_FAR, 0, SELF, &ta);
}

/* A packet bounced once is never bounced again: dropped, still INVALIDATE. */
static void test_jap_bounced_no_target_drops(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = target_id(tc->cf, 0);
	struct pkt_spec s = jap_inner(tc, 43008);
	struct pias_ta ta = ta_of_spec(&s);
	struct pkt in;
	struct pr_result res;

	jap_targets(tc, &tid, NULL, 1);
	assert_ok(pr_target_state(&g_pr, tid, PIAS_TARGET_DOWN));
	/* the RAP relayed it to us after JAP 3 bounced it */
	jap_tunnel(&in, tc, &s, PIAS_TUN_F_BOUNCED, jap_id(tc->uf));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 jap_no_target=1 events_sent=1");
	assert_event(0, PIAS_EV_INVALIDATE, IAP_FAR, 0, SELF, &ta);
}

/* No live RAP to bounce to. */
static void test_jap_bounce_without_rap(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pkt_spec s = jap_inner(&tc, 43009);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t down = 7;
	struct pkt in;
	struct pr_result res;

	(void)state;
	assert_ok(pr_rap(&g_pr, &ta, &down, 1));
	jap_tunnel(&in, &tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 no_rap=1 events_sent=1");
}

/* Every candidate NAT port taken: nat_no_port, nothing recorded. */
static void test_jap_nat_no_port(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pias_config cfg = world_config();
	uint32_t tid = 10;
	struct pkt_spec s = jap_inner(&tc, 43010), other = jap_inner(&tc, 9);
	struct pias_flow key, f = pkt_spec_flow(&s), of = pkt_spec_flow(&other);
	struct pias_conn_rev rv;
	struct pias_conn c;
	struct pkt in;
	struct pr_result res;

	(void)state;
	/* a range of one port, already used by another client's connection */
	cfg.nat_port_min = cfg.nat_port_max = 20000;
	assert_ok(pr_config(&g_pr, &cfg));
	jap_targets(&tc, &tid, NULL, 1);
	key = rev_key_of(&s, tid, T_PORT_UDP, 20000);
	memset(&rv, 0, sizeof(rv));
	rv.client = of;
	rv.target_id = tid;
	assert_ok(pr_conn_rev_set(&g_pr, &key, &rv));
	/* live: both entries, seen just now */
	memset(&c, 0, sizeof(c));
	c.target_id = tid;
	c.nat_port = 20000;
	c.last_ns = mono_coarse_ns();
	assert_ok(pr_conn_set(&g_pr, &of, &c));

	jap_tunnel(&in, &tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 nat_no_port=1");
	assert_int_equal(pr_conn_get(&g_pr, &f, &c), -ENOENT);
	/* the other client's connection is untouched */
	assert_ok(pr_conn_rev_get(&g_pr, &key, &rv));
	assert_memory_equal(&rv.client, &of, sizeof(of));
}

/* Hop 4 is the last one allowed: a packet received with hops 4 is served. */
static void test_jap_hops_four_accepted(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	uint32_t tid = 10;
	struct pkt_spec s = jap_inner(&tc, 43011);
	struct tunhdr h = { PIAS_KIND_RAP_TO_JAP, PIAS_TUN_F_BOUNCED, 4, IAP_FAR, 3 };
	struct pkt in;
	struct pr_result res;

	(void)state;
	jap_targets(&tc, &tid, NULL, 1);
	tunnel_from(&in, &s, 2, &h);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	assert_counters("rx_packets=1 jap_new_conn=1 fwd_redirect=1");
}

int run_jap_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_jap_new_conn_and_hit, W_ALL),
		WTEST(test_jap_nat_tx, W_CLIENT),
		WTEST(test_jap_target_port_zero, W_ONCE),
		WTEST(test_jap_udp_no_checksum, W_ONCE),
		WTEST(test_jap_udp_checksum_never_zero, W_ONCE),
		WTEST(test_jap_weighted_deterministic, W_CLIENT),
		WTEST(test_jap_draining_and_down, W_ONCE),
		WTEST(test_jap_draining_fresh_syn, W_ONCE),
		WTEST(test_jap_draining_udp_unanswered, W_ONCE),
		WTEST(test_jap_target_is_client, W_ONCE),
		WTEST(test_jap_no_target_bounces, W_ALL),
		WTEST(test_jap_no_target_set_bounces, W_ONCE),
		WTEST(test_jap_bounced_no_target_drops, W_FAMILIES),
		WTEST(test_jap_bounce_without_rap, W_ONCE),
		WTEST(test_jap_nat_no_port, W_ONCE),
		WTEST(test_jap_hops_four_accepted, W_ONCE),
	};

	return run_world_group("jap", tests, sizeof(tests) / sizeof(tests[0]));
}
