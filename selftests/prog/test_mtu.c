// SPDX-License-Identifier: MIT
/*
 * Underlay MTU (docs/protocol.md 3.4): a client packet that would not fit
 * once encapsulated is answered with ICMP frag-needed / ICMPv6 packet-too-big
 * from the proxy's own address, rate-limited; elsewhere it is dropped.
 */
#include <stdio.h>
#include <string.h>

#include "world.h"

static int overhead(uint8_t uf)
{
	return uf == PIAS_AF_INET ? PIAS_ENCAP_OVERHEAD_V4 : PIAS_ENCAP_OVERHEAD_V6;
}

/* A UDP client packet of exactly ip_len bytes. */
static struct pkt_spec sized(const struct tcase *tc, uint16_t sport, size_t ip_len)
{
	struct pkt_spec s = client_spec(tc, sport);
	size_t hl = (tc->cf == PIAS_AF_INET ? 20 : 40) + 8;

	s.payload_len = ip_len - hl;
	return s;
}

/* The ICMP error for client packet s (as the IAP saw it, after its TTL step). */
static void expect_too_big(struct pkt *out, const struct pkt_spec *s, uint32_t mtu)
{
	struct pkt_spec q = *s;
	struct pkt quoted;
	union pias_addr self = pkt_addr(self_addr(s->family));
	uint8_t l3[256];
	size_t len;

	q.ttl--;
	pkt_build_ip(&quoted, &q);
	len = pkt_too_big(s->family, &self, quoted.b, quoted.len, mtu, l3, sizeof(l3));
	assert_true(len > 0);
	/* back where it came from: the MACs swap */
	out->len = pkt_eth(out->b, sizeof(out->b), s->eth_src, s->eth_dst,
			   s->family == PIAS_AF_INET ? PKT_ETH_P_IP : PKT_ETH_P_IPV6, l3, len);
}

static void test_mtu_too_big_icmp(void **state)
{
	const struct tcase *tc = *state;
	int oh = overhead(tc->uf);
	uint32_t jap = jap_id(tc->uf);
	struct pkt_spec fits = sized(tc, 45000, (size_t)(MTU - oh));
	struct pkt_spec big = sized(tc, 45001, (size_t)(MTU - oh + 1));
	struct pias_ta ta = ta_of_spec(&big);
	struct tunhdr h = { PIAS_KIND_IAP_TO_JAP, 0, 1, SELF, 0 };
	uint32_t mtu = (uint32_t)(MTU - oh);
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec out;

	assert_ok(pr_binding(&g_pr, &ta, jap, 1, 0, 0));

	/* exactly the underlay MTU once wrapped: sent */
	pkt_build(&in, &fits);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	out = fits;
	out.ttl--;
	expect_tunnel(&exp, &out, jap, &h);
	assert_frame(&res, &exp);
	assert_int_equal(res.len, PKT_ETH_HLEN + MTU);

	/* one byte more: ICMP back to the client on the link it came from */
	assert_ok(pr_zero_counters(&g_pr));
	pkt_build(&in, &big);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	if (tc->cf == PIAS_AF_INET6 && mtu < 1280)
		mtu = 1280;
	expect_too_big(&exp, &big, mtu);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters("rx_packets=1 iap_binding_hit=1 icmp_too_big_sent=1");
}

/* IPv4 without DF gets the same answer: proxies do not fragment. */
static void test_mtu_no_df_still_icmp(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pkt_spec big = sized(&tc, 45002, 1480);
	struct pias_ta ta = ta_of_spec(&big);
	struct pkt in, exp;
	struct pr_result res;

	(void)state;
	big.frag = 0;
	assert_ok(pr_binding(&g_pr, &ta, 3, 1, 0, 0));
	pkt_build(&in, &big);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	expect_too_big(&exp, &big, MTU - PIAS_ENCAP_OVERHEAD_V4);
	assert_frame(&res, &exp);
	assert_csums(&res);
}

/* Too big on the way to the RAP (a miss) is answered the same way. */
static void test_mtu_too_big_on_miss(void **state)
{
	struct tcase tc = { PIAS_AF_INET6, PIAS_AF_INET6, PKT_PROTO_TCP };
	struct pkt_spec big = client_spec(&tc, 45003);
	struct pias_ta ta = ta_of_spec(&big);
	uint32_t rap = rap_id(tc.uf);
	struct pkt in, exp;
	struct pr_result res;

	(void)state;
	big.payload_len = MTU - 40 - 20 - PIAS_ENCAP_OVERHEAD_V6 + 100;
	assert_ok(pr_rap(&g_pr, &ta, &rap, 1));
	pkt_build(&in, &big);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	expect_too_big(&exp, &big, MTU - PIAS_ENCAP_OVERHEAD_V6);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_int_equal(pr_counter(&g_pr, "icmp_too_big_sent"), 1);
	assert_int_equal(pr_counter(&g_pr, "fwd_tx"), 0);
}

/* At most icmp_rate answers per second; over the rate: dropped, too_big. */
static void test_mtu_icmp_rate_limited(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pias_config cfg = world_config();
	struct pkt_spec big = sized(&tc, 45004, 1500);
	struct pias_ta ta = ta_of_spec(&big);
	struct pkt in;
	struct pr_result res;

	(void)state;
	cfg.icmp_rate = 1;
	assert_ok(pr_config(&g_pr, &cfg));
	assert_ok(pr_binding(&g_pr, &ta, 3, 1, 0, 0));
	pkt_build(&in, &big);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	assert_int_equal(pr_counter(&g_pr, "icmp_too_big_sent"), 1);

	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	/* the first packet recorded the flow: the second is a flow hit */
	assert_counters("rx_packets=1 iap_flow_hit=1 too_big=1");
}

/* A RAP relaying to a JAP over a bigger underlay header cannot answer: drop. */
static void test_mtu_relay_too_big_drops(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	/* fits IPv4 underlay (1460 + 40), not IPv6 (1460 + 60) */
	struct pkt_spec s = sized(&tc, 45005, MTU - PIAS_ENCAP_OVERHEAD_V4);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_group_jap japs[] = { { 14, 1 } };
	struct tunhdr h = { PIAS_KIND_IAP_TO_RAP, 0, 1, 3, 0 };
	struct pkt in;
	struct pr_result res;

	(void)state;
	s.ttl = 63;
	assert_ok(pr_group(&g_pr, &ta, japs, 1));
	tunnel_from(&in, &s, 3, &h);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_int_equal(pr_counter(&g_pr, "too_big"), 1);
	assert_int_equal(pr_counter(&g_pr, "icmp_too_big_sent"), 0);
}

int run_mtu_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_mtu_too_big_icmp, W_FAMILIES),
		WTEST(test_mtu_no_df_still_icmp, W_ONCE),
		WTEST(test_mtu_too_big_on_miss, W_ONCE),
		WTEST(test_mtu_icmp_rate_limited, W_ONCE),
		WTEST(test_mtu_relay_too_big_drops, W_ONCE),
	};

	return run_world_group("mtu", tests, sizeof(tests) / sizeof(tests[0]));
}
