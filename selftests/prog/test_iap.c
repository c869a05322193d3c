// SPDX-License-Identifier: MIT
/*
 * IAP (docs/protocol.md 3.1): client packets to an anycast TA. Flow table,
 * binding, RAP; MISS events; MSS clamp of SYNs; what is not ours passes.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "world.h"

/* The client packet as it must leave the IAP: one hop further. */
static struct pkt_spec hop(const struct pkt_spec *s)
{
	struct pkt_spec h = *s;

	h.ttl--;
	return h;
}

static struct tunhdr iap_hdr(uint8_t kind)
{
	struct tunhdr h = { .kind = kind, .hops = 1, .iap = SELF };

	return h;
}

static void test_iap_miss_to_rap(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = client_spec(tc, 40000);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t rap = rap_id(tc->uf);
	struct tunhdr h = iap_hdr(PIAS_KIND_IAP_TO_RAP);
	struct pias_group_stats gs;
	struct pias_flow_entry fe;
	struct pias_flow flow = pkt_spec_flow(&s);
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec out = hop(&s);

	assert_ok(pr_rap(&g_pr, &ta, &rap, 1));
	pkt_build(&in, &s);
	RUN(0, &in, &res);

	assert_verdict(&res, XDP_TX);
	expect_tunnel(&exp, &out, rap, &h);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters("rx_packets=1 iap_miss=1 fwd_tx=1 events_sent=1");
	assert_nevents(1);
	assert_event(0, PIAS_EV_MISS, SELF, rap, 0, &ta);
	/* a miss records no flow: the binding the daemon installs decides */
	assert_int_equal(pr_flow_get(&g_pr, &flow, &fe), -ENOENT);
	/* no role here holds the group, so it has no counters (no slot) */
	assert_int_equal(pr_group_stats(&g_pr, &ta, &gs), -1);

	/* the next packet of the group within the event interval: no second event */
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 iap_miss=1 fwd_tx=1 events_suppressed=1");
	assert_nevents(0);
}

static void test_iap_binding_hit(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = client_spec(tc, 40000), s2 = client_spec(tc, 40001);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t jap_b = jap_b_id(tc->uf), jap = jap_id(tc->uf);
	struct tunhdr h = iap_hdr(PIAS_KIND_IAP_TO_JAP);
	struct pias_flow flow = pkt_spec_flow(&s), flow2 = pkt_spec_flow(&s2);
	struct pias_flow_entry fe;
	struct pias_group_stats gs;
	struct pkt in, in2, exp;
	struct pr_result res;
	struct pkt_spec out = hop(&s), out2 = hop(&s2);

	assert_ok(pr_binding(&g_pr, &ta, jap_b, 7, mono_ns() + 60000000000ull, 0));
	pkt_build(&in, &s);
	RUN(0, &in, &res);

	assert_verdict(&res, XDP_REDIRECT);
	expect_tunnel(&exp, &out, jap_b, &h);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters("rx_packets=1 iap_binding_hit=1 fwd_redirect=1");
	assert_nevents(0);
	assert_ok(pr_flow_get(&g_pr, &flow, &fe));
	assert_int_equal(fe.jap_id, jap_b);
	assert_int_equal(fe.generation, 7);
	assert_ok(pr_group_stats(&g_pr, &ta, &gs));
	assert_int_equal(gs.iap_packets, 1);

	/* the binding moves to another JAP: the flow stays, a new flow follows */
	assert_ok(pr_binding(&g_pr, &ta, jap, 8, 0, 0));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 iap_flow_hit=1 fwd_redirect=1");
	assert_ok(pr_flow_get(&g_pr, &flow, &fe));
	assert_int_equal(fe.jap_id, jap_b);
	assert_int_equal(fe.generation, 7);

	assert_ok(pr_zero_counters(&g_pr));
	pkt_build(&in2, &s2);
	RUN(0, &in2, &res);
	assert_verdict(&res, XDP_TX);
	expect_tunnel(&exp, &out2, jap, &h);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 iap_binding_hit=1 fwd_tx=1");
	assert_ok(pr_flow_get(&g_pr, &flow2, &fe));
	assert_int_equal(fe.jap_id, jap);
	assert_int_equal(fe.generation, 8);
}

static void test_iap_flow_hit(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = client_spec(tc, 40002);
	struct pias_flow flow = pkt_spec_flow(&s);
	uint32_t jap = jap_id(tc->uf);
	struct tunhdr h = iap_hdr(PIAS_KIND_IAP_TO_JAP);
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec out = hop(&s);

	/* no binding at all: the flow entry alone decides */
	assert_ok(pr_flow_set(&g_pr, &flow, jap, 3));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	expect_tunnel(&exp, &out, jap, &h);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters("rx_packets=1 iap_flow_hit=1 fwd_tx=1");
	assert_nevents(0);
}

/* A flow whose JAP went down falls back to the binding, and is re-recorded. */
static void test_iap_flow_jap_down(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pkt_spec s = client_spec(&tc, 40003);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_flow flow = pkt_spec_flow(&s);
	struct tunhdr h = iap_hdr(PIAS_KIND_IAP_TO_JAP);
	struct pias_flow_entry fe;
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec out = hop(&s);

	(void)state;
	assert_ok(pr_flow_set(&g_pr, &flow, 7 /* down */, 1));
	assert_ok(pr_binding(&g_pr, &ta, 4, 2, 0, 0));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	expect_tunnel(&exp, &out, 4, &h);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 iap_binding_hit=1 fwd_redirect=1");
	assert_ok(pr_flow_get(&g_pr, &flow, &fe));
	assert_int_equal(fe.jap_id, 4);
	assert_int_equal(fe.generation, 2);
}

/*
 * A JAP whose piasd is gone but whose dataplane answers (DP_ONLY): the
 * flows pinned to it go on there; a binding to it is not used for a new
 * flow, which goes to the RAP; nor is it a RAP.
 */
static void test_iap_jap_dp_only(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = client_spec(tc, 40020), n = client_spec(tc, 40021);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_flow flow = pkt_spec_flow(&s);
	uint32_t jap = jap_id(tc->uf), rap = rap_id(tc->uf);
	struct tunhdr h = iap_hdr(PIAS_KIND_IAP_TO_JAP), hr = iap_hdr(PIAS_KIND_IAP_TO_RAP);
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec out = hop(&s), nout = hop(&n);

	assert_ok(pr_flow_set(&g_pr, &flow, jap, 3));
	assert_ok(pr_binding(&g_pr, &ta, jap, 3, 0, 0));
	assert_ok(pr_rap(&g_pr, &ta, &rap, 1));
	assert_ok(pr_proxy_state(&g_pr, jap, PIAS_PROXY_DP_ONLY));

	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	expect_tunnel(&exp, &out, jap, &h);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 iap_flow_hit=1 fwd_tx=1");

	pkt_build(&in, &n);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	expect_tunnel(&exp, &nout, rap, &hr);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 iap_miss=1 fwd_tx=1 events_sent=1");

	/* the RAP itself in DP_ONLY: no RAP left for a new flow */
	assert_ok(pr_proxy_state(&g_pr, rap, PIAS_PROXY_DP_ONLY));
	assert_ok(pr_zero_counters(&g_pr));
	n.sport = 40022;
	pkt_build(&in, &n);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 no_rap=1");
}

/* Run the next packets on CPU cpu (the test process is pinned to one). */
static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
}

/*
 * A flow's entry written on one CPU holds on every other: a packet of the
 * flow that arrives on another CPU after the binding changed still goes to
 * the flow's JAP. (With a per-CPU table it followed the new binding.)
 */
static void test_iap_flow_across_cpus(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pkt_spec s = client_spec(&tc, 40013);
	struct pias_ta ta = ta_of_spec(&s);
	struct tunhdr h = iap_hdr(PIAS_KIND_IAP_TO_JAP);
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec out = hop(&s);
	int other = g_pr.cpu == 0 ? 1 : 0;

	(void)state;
	if (g_pr.ncpus < 2) {
		print_message("only one CPU: nothing to cross\n");
		return;
	}
	assert_ok(pr_binding(&g_pr, &ta, 4, 2, 0, 0));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	/* the binding moves to another JAP; the flow's next packet on another CPU */
	assert_ok(pr_binding(&g_pr, &ta, jap_id(PIAS_AF_INET), 3, 0, 0));
	assert_ok(pr_zero_counters(&g_pr));
	pin_cpu(other);
	RUN(0, &in, &res);
	pin_cpu(g_pr.cpu);
	assert_verdict(&res, XDP_REDIRECT);
	expect_tunnel(&exp, &out, 4, &h);
	assert_frame(&res, &exp);
	assert_counters("rx_packets=1 iap_flow_hit=1 fwd_redirect=1");
}

static void test_iap_negative_binding(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = client_spec(tc, 40004);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_flow flow = pkt_spec_flow(&s);
	struct pias_flow_entry fe;
	uint32_t rap = rap_id(tc->uf);
	struct pkt in;
	struct pr_result res;

	/* a RAP is there: the negative binding, not a missing RAP, drops it */
	assert_ok(pr_rap(&g_pr, &ta, &rap, 1));
	assert_ok(
		pr_binding(&g_pr, &ta, 0, 1, mono_ns() + 60000000000ull, PIAS_BINDING_F_NEGATIVE));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 negative_binding=1");
	assert_nevents(0);
	assert_int_equal(pr_flow_get(&g_pr, &flow, &fe), -ENOENT);
}

/*
 * A local binding (piasd's registration service): the packet goes up to this
 * proxy's stack, TTL decremented like any routed packet, no flow recorded.
 */
static void test_iap_local_binding(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = client_spec(tc, 40005);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_flow flow = pkt_spec_flow(&s);
	struct pias_flow_entry fe;
	uint32_t rap = rap_id(tc->uf);
	struct pkt in;
	struct pr_result res;

	assert_ok(pr_rap(&g_pr, &ta, &rap, 1));
	assert_ok(pr_binding(&g_pr, &ta, 0, 1, 0, PIAS_BINDING_F_LOCAL));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_PASS);
	assert_counters("rx_packets=1 iap_local=1");
	assert_nevents(0);
	assert_int_equal(pr_flow_get(&g_pr, &flow, &fe), -ENOENT);
}

/* Expired bindings, negative or not, and bindings to a down JAP: the RAP. */
static void test_iap_expired_binding_to_rap(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = client_spec(tc, 40005);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t rap = rap_id(tc->uf);
	struct tunhdr h = iap_hdr(PIAS_KIND_IAP_TO_RAP);
	const struct {
		uint32_t jap, flags;
		uint64_t expires;
	} cases[] = {
		{ jap_b_id(tc->uf), 0, 1 },			     /* expired long ago */
		{ 0, PIAS_BINDING_F_NEGATIVE, mono_ns() - 1000000 }, /* negative, expired */
		{ 7, 0, 0 },					     /* bound JAP is down */
	};
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec out = hop(&s);

	assert_ok(pr_rap(&g_pr, &ta, &rap, 1));
	pkt_build(&in, &s);
	expect_tunnel(&exp, &out, rap, &h);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_ok(
			pr_binding(&g_pr, &ta, cases[i].jap, 1, cases[i].expires, cases[i].flags));
		assert_ok(pr_zero_counters(&g_pr));
		RUN(0, &in, &res);
		assert_verdict(&res, XDP_TX);
		assert_frame(&res, &exp);
		/* one MISS per interval: only the first case emits one */
		assert_counters(i ? "rx_packets=1 iap_miss=1 fwd_tx=1 events_suppressed=1"
				  : "rx_packets=1 iap_miss=1 fwd_tx=1 events_sent=1");
		assert_nevents(i ? 0 : 1);
		if (!i)
			assert_event(0, PIAS_EV_MISS, SELF, rap, 0, &ta);
	}
}

/* The first RAP of the slot that is up; none up: no_rap. */
static void test_iap_rap_replicas(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP };
	struct pkt_spec s = client_spec(&tc, 40006);
	struct pias_ta ta = ta_of_spec(&s);
	uint32_t down_then_b[] = { 7, 4, 2 }, only_down[] = { 7 };
	struct tunhdr h = iap_hdr(PIAS_KIND_IAP_TO_RAP);
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec out = hop(&s);

	(void)state;
	pkt_build(&in, &s);
	assert_ok(pr_rap(&g_pr, &ta, down_then_b, 3));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	expect_tunnel(&exp, &out, 4, &h);
	assert_frame(&res, &exp);
	assert_event(0, PIAS_EV_MISS, SELF, 4, 0, &ta);

	assert_ok(pr_rap(&g_pr, &ta, only_down, 1));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 no_rap=1");

	assert_ok(pr_rap(&g_pr, &ta, NULL, 0));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 no_rap=1");
}

/* Traffic that is not for an anycast prefix, the tunnel or NAT: untouched. */
static void test_iap_not_ours_passes(void **state)
{
	const char *dsts[] = { "192.0.2.77", "203.0.113.130", "2001:db8:b::53", "198.51.100.1",
			       "192.0.2.1" };
	struct pkt in;
	struct pr_result res;

	(void)state;
	for (size_t i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++) {
		const char *src = strchr(dsts[i], ':') ? "2001:db8:c::200" : "203.0.113.200";
		/* port 53: to our own addresses it is neither tunnel nor NAT range */
		struct pkt_spec s = pkt_udp(src, 40000, dsts[i], 53, 20);

		pkt_set_macs(&s, g_ns.mac[0], g_ns.mac[1]);
		pkt_build(&in, &s);
		assert_ok(pr_zero_counters(&g_pr));
		RUN(0, &in, &res);
		assert_verdict(&res, XDP_PASS);
		assert_unchanged(&res, &in);
		assert_counters("rx_packets=1 pass_not_ours=1");
	}
}

/* ICMP to an anycast address: the operator's stack may answer ping. */
static void test_iap_not_l4_passes(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = pkt_icmp_echo(client_addr(tc->cf), anycast_addr(tc->cf, tc->proto));
	struct pkt in;
	struct pr_result res;

	pkt_set_macs(&s, g_ns.mac[0], g_ns.mac[1]);
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_PASS);
	assert_unchanged(&res, &in);
	assert_counters("rx_packets=1 pass_not_l4=1");
}

/* Non-IP frames pass: ARP must keep working on a proxy's interfaces. */
static void test_iap_not_ip_passes(void **state)
{
	uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pkt in;
	struct pr_result res;

	(void)state;
	in.len = pkt_eth(in.b, sizeof(in.b), bcast, g_ns.mac[1], PKT_ETH_P_ARP, arp, sizeof(arp));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_PASS);
	assert_unchanged(&res, &in);
	assert_counters("rx_packets=1 pass_not_ip=1");
}

/* ---- MSS clamp of client SYNs ------------------------------------------- */

struct mss_case {
	const char *name;
	uint8_t family;
	uint16_t mss;	  /* in the SYN */
	unsigned at, len; /* MSS option position and options length */
	int realistic;	  /* timestamps before the MSS: walk past a long option */
	uint8_t flags;
	uint16_t expect; /* MSS leaving the IAP */
	size_t payload;	 /* 0: the options end the packet, as in most SYNs */
};

static void set_opts(struct pkt_spec *s, const struct mss_case *c, uint16_t mss)
{
	if (!c->realistic) {
		pkt_tcp_mss_at(s, mss, c->at, c->len);
		return;
	}
	/* NOP NOP TS(10) NOP MSS(4) EOL EOL EOL: MSS value at TCP offset 35, odd */
	const uint8_t o[20] = {
		1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 4, (uint8_t)(mss >> 8), (uint8_t)mss,
		0, 0, 0
	};

	memcpy(s->tcp_opts, o, sizeof(o));
	s->tcp_opts_len = sizeof(o);
}

static const struct mss_case mss_cases[] = {
	{ "MSS clamp: v4 MSS first (even)", PIAS_AF_INET, 1460, 0, 4, 0, PKT_TCP_SYN, MSS4, 0 },
	{ "MSS clamp: v4 MSS first, SYN with data", PIAS_AF_INET, 1460, 0, 4, 0, PKT_TCP_SYN, MSS4,
	  10 },
	{ "MSS clamp: v4 MSS last (even)", PIAS_AF_INET, 1460, 4, 8, 0, PKT_TCP_SYN, MSS4, 0 },
	{ "MSS clamp: v4 after one NOP (odd)", PIAS_AF_INET, 1460, 1, 8, 0, PKT_TCP_SYN, MSS4, 0 },
	{ "MSS clamp: v4 after two NOPs (even)", PIAS_AF_INET, 1460, 2, 8, 0, PKT_TCP_SYN, MSS4,
	  0 },
	{ "MSS clamp: v4 after three NOPs (odd)", PIAS_AF_INET, 65535, 3, 8, 0, PKT_TCP_SYN, MSS4,
	  0 },
	{ "MSS clamp: v4 after timestamps (odd)", PIAS_AF_INET, 1460, 0, 0, 1, PKT_TCP_SYN, MSS4,
	  0 },
	{ "MSS clamp: v4 already small", PIAS_AF_INET, 1200, 0, 4, 0, PKT_TCP_SYN, 1200, 0 },
	{ "MSS clamp: v4 exactly the clamp", PIAS_AF_INET, MSS4, 1, 8, 0, PKT_TCP_SYN, MSS4, 0 },
	{ "MSS clamp: v4 not a SYN", PIAS_AF_INET, 1460, 0, 4, 0, PKT_TCP_ACK, 1460, 0 },
	{ "MSS clamp: v6 MSS first (even)", PIAS_AF_INET6, 1440, 0, 4, 0, PKT_TCP_SYN, MSS6, 0 },
	{ "MSS clamp: v6 MSS last (even)", PIAS_AF_INET6, 1440, 4, 8, 0, PKT_TCP_SYN, MSS6, 0 },
	{ "MSS clamp: v6 after one NOP (odd)", PIAS_AF_INET6, 1440, 1, 8, 0, PKT_TCP_SYN, MSS6, 0 },
	{ "MSS clamp: v6 after timestamps (odd)", PIAS_AF_INET6, 9000, 0, 0, 1, PKT_TCP_SYN, MSS6,
	  0 },
	{ "MSS clamp: v6 already small", PIAS_AF_INET6, 1220, 3, 8, 0, PKT_TCP_SYN, 1220, 0 },
};

static void test_iap_mss_clamp(void **state)
{
	const struct mss_case *c = *state;
	struct tcase tc = { c->family, PIAS_AF_INET, PKT_PROTO_TCP };
	struct pkt_spec s = client_spec(&tc, 41000), out;
	struct pias_ta ta = ta_of_spec(&s);
	struct tunhdr h = iap_hdr(PIAS_KIND_IAP_TO_JAP);
	int clamped = c->expect != c->mss;
	struct pkt in, exp;
	struct pr_result res;

	s.tcp_flags = c->flags;
	s.payload_len = c->payload;
	set_opts(&s, c, c->mss);
	out = hop(&s);
	set_opts(&out, c, c->expect);
	assert_ok(pr_binding(&g_pr, &ta, 3, 1, 0, 0));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	expect_tunnel(&exp, &out, 3, &h);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters(clamped ? "rx_packets=1 iap_binding_hit=1 iap_mss_clamped=1 fwd_tx=1"
				: "rx_packets=1 iap_binding_hit=1 fwd_tx=1");
}

/* Ethernet padding behind a short IP packet is not carried into the tunnel. */
static void test_iap_trims_padding(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pkt_spec s = client_spec(&tc, 40007);
	struct pias_ta ta = ta_of_spec(&s);
	struct tunhdr h = iap_hdr(PIAS_KIND_IAP_TO_JAP);
	struct pkt in, exp;
	struct pr_result res;
	struct pkt_spec out;

	(void)state;
	s.payload_len = 4; /* 14 + 20 + 8 + 4 = 46 bytes: a 60-byte frame pads 14 */
	out = hop(&s);
	assert_ok(pr_binding(&g_pr, &ta, 3, 1, 0, 0));
	pkt_build(&in, &s);
	memset(in.b + in.len, 0, 60 - in.len);
	in.len = 60;
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	expect_tunnel(&exp, &out, 3, &h);
	assert_frame(&res, &exp);
	assert_csums(&res);
}

int run_iap_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_iap_miss_to_rap, W_ALL),
		WTEST(test_iap_binding_hit, W_ALL),
		WTEST(test_iap_flow_hit, W_ALL),
		WTEST(test_iap_flow_jap_down, W_ONCE),
		WTEST(test_iap_jap_dp_only, W_FAMILIES),
		WTEST(test_iap_flow_across_cpus, W_ONCE),
		WTEST(test_iap_negative_binding, W_CLIENT),
		WTEST(test_iap_local_binding, W_CLIENT),
		WTEST(test_iap_expired_binding_to_rap, W_FAMILIES),
		WTEST(test_iap_rap_replicas, W_ONCE),
		WTEST(test_iap_not_ours_passes, W_ONCE),
		WTEST(test_iap_not_l4_passes, W_CLIENT),
		WTEST(test_iap_not_ip_passes, W_ONCE),
		WTEST(test_iap_trims_padding, W_ONCE),
	};

	return run_world_group("iap", tests, sizeof(tests) / sizeof(tests[0])) +
	       run_table_group("iap-mss", test_iap_mss_clamp, mss_cases, sizeof(mss_cases[0]),
			       sizeof(mss_cases) / sizeof(mss_cases[0]), NULL);
}
