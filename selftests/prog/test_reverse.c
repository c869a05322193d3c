// SPDX-License-Identifier: MIT
/*
 * The reverse path (docs/protocol.md 3.3 step 5): a target's reply to the
 * NAT address goes back to the client with the TA as its source; the MSS of
 * a SYN-ACK is clamped on the way.
 */
#include <stdio.h>
#include <string.h>

#include "jap_util.h"

static void test_rev_translate(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = target_id(tc->cf, 0);
	struct pkt_spec c = jap_inner(tc, 44000);
	struct pias_ta ta = ta_of_spec(&c);
	uint16_t port = open_conn(tc, &c, tid);
	struct pkt_spec r = reply_of(&c, tid, port, PKT_TCP_ACK | PKT_TCP_PSH);
	struct pias_target_stats ts;
	struct pias_group_stats gs;
	struct pkt in, exp;
	struct pr_result res;
	uint64_t before = mono_coarse_ns();

	pkt_build(&in, &r);
	RUN(target_link(tid), &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	expect_to_client(&exp, &r, &c);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters("rx_packets=1 rev_translated=1 fwd_redirect=1");
	assert_nevents(0);
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	assert_int_equal(ts.rev_packets, 1);
	assert_int_equal(ts.rev_bytes, in.len - PKT_ETH_HLEN);
	/* the reply time the daemon's health check reads */
	assert_true(ts.last_reply_ns >= before && ts.last_reply_ns <= mono_ns());
	assert_ok(pr_group_stats(&g_pr, &ta, &gs));
	assert_int_equal(gs.rev_packets, 1);
	assert_int_equal(gs.rev_bytes, in.len - PKT_ETH_HLEN);
}

/* A target on the client's link: the reply goes back out the same link. */
static void test_rev_tx(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = tc->cf == PIAS_AF_INET ? 15 : 25;
	struct pkt_spec c = jap_inner(tc, 44001);
	uint16_t port = open_conn(tc, &c, tid);
	struct pkt_spec r = reply_of(&c, tid, port, PKT_TCP_ACK);
	struct pkt in, exp;
	struct pr_result res;

	pkt_build(&in, &r);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	expect_to_client(&exp, &r, &c);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 rev_translated=1 fwd_tx=1");
}

/* To the NAT address and range, but no connection knows it: the stack's. */
static void test_rev_unknown_passes(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = target_id(tc->cf, 0);
	struct pkt_spec c = jap_inner(tc, 44002);
	uint16_t port = open_conn(tc, &c, tid);
	/* another port of the range; the right port from another host; out of range */
	struct pkt_spec cases[3];
	const char *want[3] = { "rx_packets=1 pass_nat_miss=1", "rx_packets=1 pass_nat_miss=1",
				"rx_packets=1 pass_not_ours=1" };

	cases[0] = reply_of(&c, tid, port == NAT_MAX ? NAT_MIN : port + 1, PKT_TCP_ACK);
	cases[1] = reply_of(&c, target_id(tc->cf, 1), port, PKT_TCP_ACK);
	cases[2] = reply_of(&c, tid, NAT_MAX + 1, PKT_TCP_ACK);
	for (int i = 0; i < 3; i++) {
		struct pkt in;
		struct pr_result res;

		pkt_build(&in, &cases[i]);
		assert_ok(pr_zero_counters(&g_pr));
		RUN(1, &in, &res);
		assert_verdict(&res, XDP_PASS);
		assert_unchanged(&res, &in);
		assert_counters(want[i]);
	}
}

struct synack_case {
	const char *name;
	uint8_t family;
	uint16_t mss;
	unsigned at, len;
	uint16_t expect;
	size_t payload;
};

static const struct synack_case synack_cases[] = {
	{ "SYN-ACK clamp: v4 MSS first (even)", PIAS_AF_INET, 1460, 0, 4, MSS4, 0 },
	{ "SYN-ACK clamp: v4 MSS first, then data", PIAS_AF_INET, 1460, 0, 4, MSS4, 12 },
	{ "SYN-ACK clamp: v4 MSS last (even)", PIAS_AF_INET, 1460, 8, 12, MSS4, 0 },
	{ "SYN-ACK clamp: v4 after one NOP (odd)", PIAS_AF_INET, 1460, 1, 8, MSS4, 0 },
	{ "SYN-ACK clamp: v4 after three NOPs (odd)", PIAS_AF_INET, 8960, 3, 12, MSS4, 0 },
	{ "SYN-ACK clamp: v4 already small", PIAS_AF_INET, 536, 1, 8, 536, 0 },
	{ "SYN-ACK clamp: v6 MSS first (even)", PIAS_AF_INET6, 1440, 0, 4, MSS6, 0 },
	{ "SYN-ACK clamp: v6 after one NOP (odd)", PIAS_AF_INET6, 1440, 1, 8, MSS6, 0 },
	{ "SYN-ACK clamp: v6 after two NOPs (even)", PIAS_AF_INET6, 1440, 2, 8, MSS6, 0 },
	{ "SYN-ACK clamp: v6 already small", PIAS_AF_INET6, 1280, 0, 4, 1280, 0 },
};

static void test_rev_synack_mss_clamp(void **state)
{
	const struct synack_case *k = *state;
	struct tcase tc = { k->family, PIAS_AF_INET, PKT_PROTO_TCP };
	uint32_t tid = target_id(tc.cf, 0);
	struct pkt_spec c = jap_inner(&tc, 44100), r, e;
	uint16_t port;
	struct pkt in, exp;
	struct pr_result res;

	c.tcp_flags = PKT_TCP_SYN;
	c.payload_len = 0;
	port = open_conn(&tc, &c, tid);
	r = reply_of(&c, tid, port, PKT_TCP_SYN | PKT_TCP_ACK);
	pkt_tcp_mss_at(&r, k->mss, k->at, k->len);
	r.payload_len = k->payload;
	pkt_build(&in, &r);
	RUN(1, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	e = r;
	pkt_tcp_mss_at(&e, k->expect, k->at, k->len);
	expect_to_client(&exp, &e, &c);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters(k->expect != k->mss
				? "rx_packets=1 rev_translated=1 rev_mss_clamped=1 fwd_redirect=1"
				: "rx_packets=1 rev_translated=1 fwd_redirect=1");
}

/* A plain ACK with an MSS option (odd, but seen) is not a SYN: untouched. */
static void test_rev_ack_not_clamped(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP };
	uint32_t tid = 10;
	struct pkt_spec c = jap_inner(&tc, 44200);
	uint16_t port = open_conn(&tc, &c, tid);
	struct pkt_spec r = reply_of(&c, tid, port, PKT_TCP_ACK);
	struct pkt in, exp;
	struct pr_result res;

	(void)state;
	pkt_tcp_mss_at(&r, 1460, 0, 4);
	pkt_build(&in, &r);
	RUN(1, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	expect_to_client(&exp, &r, &c);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 rev_translated=1 fwd_redirect=1");
}

/*
 * A RST from the target (its server died, its kernel refuses the SYN) goes
 * back to the client, but is no sign of life: the reply time the daemon's
 * health check reads stays where it was.
 */
static void test_rev_rst_not_alive(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP };
	uint32_t tid = 10;
	struct pkt_spec c = jap_inner(&tc, 44250);
	uint16_t port = open_conn(&tc, &c, tid);
	struct pkt_spec r = reply_of(&c, tid, port, PKT_TCP_RST | PKT_TCP_ACK);
	struct pias_target_stats ts;
	struct pkt in, exp;
	struct pr_result res;

	(void)state;
	pkt_build(&in, &r);
	RUN(1, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	expect_to_client(&exp, &r, &c);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 rev_translated=1 fwd_redirect=1");
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	assert_int_equal(ts.rev_packets, 1);
	assert_int_equal(ts.last_reply_ns, 0);
}

/*
 * A FIN from the target (a dead server's kernel closing, and resending the
 * FIN with backoff, the connections it left) goes back to the client, but
 * is no sign of life either.
 */
static void test_rev_fin_not_alive(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP };
	uint32_t tid = 10;
	struct pkt_spec c = jap_inner(&tc, 44251);
	uint16_t port = open_conn(&tc, &c, tid);
	struct pkt_spec r = reply_of(&c, tid, port, PKT_TCP_FIN | PKT_TCP_ACK);
	struct pias_target_stats ts;
	struct pkt in;
	struct pr_result res;

	(void)state;
	pkt_build(&in, &r);
	RUN(1, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	assert_int_equal(ts.rev_packets, 1);
	assert_int_equal(ts.last_reply_ns, 0);
}

/* The ICMP port unreachable target r's host sends for the datagram the JAP sent it. */
static struct pkt_spec port_unreachable(const struct pkt_spec *r, struct pkt *quoted)
{
	struct pkt_spec q = *r, e = *r;
	bool v4 = r->family == PIAS_AF_INET;

	q.src = r->dst;
	q.dst = r->src;
	q.sport = r->dport;
	q.dport = r->sport;
	pkt_build_ip(quoted, &q);
	e.proto = v4 ? PKT_PROTO_ICMP : PKT_PROTO_ICMPV6;
	e.icmp_type = v4 ? 3 : 1;
	e.icmp_code = v4 ? 3 : 4;
	e.icmp_rest = 0;
	e.sport = e.dport = 0;
	e.payload = quoted->b;
	e.payload_len = quoted->len;
	return e;
}

/* pkt_spec s through the TC program, n times; each passes it on. */
static void run_tc(const struct pkt_spec *s, int n)
{
	struct pkt in;
	int verdict;

	pkt_build(&in, s);
	for (int i = 0; i < n; i++) {
		assert_ok(pr_run_tc(&g_pr, in.b, in.len, &verdict));
		assert_int_equal(verdict, 0 /* TC_ACT_OK */);
	}
}

/* pkt_spec r through the program from the target's link; its verdict. */
static void run_reply(uint32_t tid, const struct pkt_spec *r, int verdict)
{
	struct pkt in;
	struct pr_result res;

	pkt_build(&in, r);
	RUN(target_link(tid), &in, &res);
	assert_verdict(&res, verdict);
}

/*
 * How a target met new flows, for piasd's outlier detection: the first
 * packet back is an answer, or a RST to the SYN (refused); later packets
 * change nothing. An ICMP port unreachable for a UDP flow counts as
 * unreachable and goes to the stack; one for no flow only goes there.
 */
static void test_rev_first_reply_counted(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = target_id(tc->cf, 0);
	struct pkt_spec c1 = jap_inner(tc, 44400), c2 = jap_inner(tc, 44401);
	uint16_t p1 = open_conn(tc, &c1, tid), p2 = open_conn(tc, &c2, tid);
	bool tcp = tc->proto == PKT_PROTO_TCP;
	struct pias_target_stats ts;
	struct pkt_spec r, u;
	struct pkt quoted;

	/* flow 1: a RST to the SYN (TCP) or an answer (UDP), then more of the same */
	r = reply_of(&c1, tid, p1, tcp ? PKT_TCP_RST | PKT_TCP_ACK : 0);
	run_reply(tid, &r, XDP_REDIRECT);
	run_reply(tid, &r, XDP_REDIRECT);
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	assert_int_equal(ts.refused, tcp ? 1 : 0);
	assert_int_equal(ts.answered, tcp ? 0 : 1);
	/* flow 2: answered (a SYN-ACK), then data */
	r = reply_of(&c2, tid, p2, tcp ? PKT_TCP_SYN | PKT_TCP_ACK : 0);
	run_reply(tid, &r, XDP_REDIRECT);
	if (tcp)
		r.tcp_flags = PKT_TCP_ACK;
	run_reply(tid, &r, XDP_REDIRECT);
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	assert_int_equal(ts.answered, tcp ? 1 : 2);
	assert_int_equal(ts.unreachable, 0);
	if (tcp)
		return;
	/* UDP: the target's host has no server on the port; XDP passes, TC counts */
	u = port_unreachable(&r, &quoted);
	assert_ok(pr_zero_counters(&g_pr));
	run_reply(tid, &u, XDP_PASS);
	assert_counters("rx_packets=1 pass_not_ours=1");
	run_tc(&u, 1);
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	assert_int_equal(ts.unreachable, 1);
	assert_counters("rx_packets=1 pass_not_ours=1 rev_icmp_unreachable=1");
	/* one for a port no flow holds, and one not port unreachable: not counted */
	r = reply_of(&c2, tid, p2 == NAT_MAX ? NAT_MIN : p2 + 1, 0);
	u = port_unreachable(&r, &quoted);
	run_tc(&u, 1);
	r = reply_of(&c2, tid, p2, 0);
	u = port_unreachable(&r, &quoted);
	u.icmp_code = 1; /* host unreachable */
	run_tc(&u, 1);
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	assert_int_equal(ts.unreachable, 1);
}

/* A reply arriving with TTL 1 cannot be forwarded. */
static void test_rev_ttl_expired(void **state)
{
	struct tcase tc = { PIAS_AF_INET6, PIAS_AF_INET, PKT_PROTO_UDP };
	uint32_t tid = 20;
	struct pkt_spec c = jap_inner(&tc, 44300);
	uint16_t port = open_conn(&tc, &c, tid);
	struct pkt_spec r = reply_of(&c, tid, port, 0);
	struct pkt in;
	struct pr_result res;

	(void)state;
	r.ttl = 1;
	pkt_build(&in, &r);
	RUN(1, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 ttl_expired=1");
}

int run_reverse_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_rev_translate, W_ALL),
		WTEST(test_rev_tx, W_CLIENT),
		WTEST(test_rev_unknown_passes, W_CLIENT),
		WTEST(test_rev_ack_not_clamped, W_ONCE),
		WTEST(test_rev_ttl_expired, W_ONCE),
		WTEST(test_rev_rst_not_alive, W_ONCE),
		WTEST(test_rev_fin_not_alive, W_ONCE),
		WTEST(test_rev_first_reply_counted, W_CLIENT),
	};

	return run_world_group("reverse", tests, sizeof(tests) / sizeof(tests[0])) +
	       run_table_group("reverse-synack", test_rev_synack_mss_clamp, synack_cases,
			       sizeof(synack_cases[0]),
			       sizeof(synack_cases) / sizeof(synack_cases[0]), NULL);
}
