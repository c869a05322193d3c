// SPDX-License-Identifier: MIT
/*
 * The JAP and a tunnel-mode target (docs/protocol.md 3.3): the client's
 * packet goes to the target wrapped as kind 5, unchanged but for the TTL;
 * the target's reply comes back wrapped as kind 6 and goes to the client
 * as it is. Only the target of the connection may send it.
 */
#include "jap_util.h"

#include <string.h>

#include "addr.h"

/* Target tid (alone in tc's set) in tunnel mode. */
static void tunnel_target(const struct tcase *tc, uint32_t tid)
{
	jap_targets(tc, &tid, NULL, 1);
	assert_ok(pr_target_flags(&g_pr, tid, PIAS_TARGET_F_TUNNEL));
}

/* The frame the JAP must send to tunnel-mode target tid for inner. */
static void expect_to_target(struct pkt *out, const struct pkt_spec *inner, uint32_t tid,
			     uint8_t hops)
{
	const char *taddr = target_addr(tid);
	struct pkt_spec s = *inner;
	struct pkt in;
	struct pkt_tun t;
	uint8_t dmac[6];

	s.ttl--;
	pkt_build_ip(&in, &s);
	memset(&t, 0, sizeof(t));
	t.family = family_of(taddr);
	t.src = pkt_addr(self_addr(t.family));
	t.dst = pkt_addr(taddr);
	t.dport = TUN_PORT;
	t.version = PIAS_TUN_VERSION;
	t.kind = PIAS_KIND_JAP_TO_TARGET;
	t.hops = hops;
	t.iap_id = IAP_FAR;
	t.tag = pr_target_tag(tid);
	mac_of(taddr, dmac);
	out->len = pkt_tunnel_frame(&t, dmac, g_ns.mac[target_link(tid)], in.b, in.len, out->b,
				    sizeof(out->b));
	if (!out->len)
		fail_msg("cannot build the frame to the target");
}

/* The server's reply r, wrapped by target 'from' (kind 6) as the JAP gets it. */
static void reply_wrapped(struct pkt *out, const struct pkt_spec *r, const char *from, uint8_t kind,
			  uint64_t tag)
{
	struct pkt in;
	struct pkt_tun t;
	uint8_t smac[6];

	pkt_build_ip(&in, r);
	memset(&t, 0, sizeof(t));
	t.family = family_of(from);
	t.src = pkt_addr(from);
	t.dst = pkt_addr(self_addr(t.family));
	t.dport = TUN_PORT;
	t.version = PIAS_TUN_VERSION;
	t.kind = kind;
	t.hops = 1;
	t.tag = tag;
	mac_of(from, smac);
	out->len = pkt_tunnel_frame(&t, g_ns.mac[0], smac, in.b, in.len, out->b, sizeof(out->b));
	if (!out->len)
		fail_msg("cannot build the target's frame");
}

/* The server's reply to client flow c: from the TA itself, to the client. */
static struct pkt_spec server_reply(const struct pkt_spec *c, uint8_t tcp_flags)
{
	char src[64], dst[64];
	struct pkt_spec r;

	pias_addr_str(&c->dst, c->family, src, sizeof(src));
	pias_addr_str(&c->src, c->family, dst, sizeof(dst));
	if (c->proto == PKT_PROTO_TCP)
		r = pkt_tcp(src, c->dport, dst, c->sport, tcp_flags);
	else
		r = pkt_udp(src, c->dport, dst, c->sport, 48);
	return r;
}

static uint32_t verdict_for(uint32_t tid)
{
	return target_link(tid) == 0 ? XDP_TX : XDP_REDIRECT;
}

static void test_tunnel_new_conn_reply_and_hit(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = target_id(tc->cf, 0);
	struct pkt_spec s = jap_inner(tc, 43100), r;
	struct pias_target_stats ts;
	struct pias_conn conn;
	struct pkt in, exp;
	struct pr_result res;

	tunnel_target(tc, tid);
	jap_tunnel(&in, tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, verdict_for(tid));
	expect_to_target(&exp, &s, tid, 3);
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters(verdict_for(tid) == XDP_TX
				? "rx_packets=1 jap_new_conn=1 jap_tunnel_sent=1 fwd_tx=1"
				: "rx_packets=1 jap_new_conn=1 jap_tunnel_sent=1 fwd_redirect=1");
	/* a connection with no NAT port and no reverse entry */
	struct pias_flow f = pkt_spec_flow(&s);

	assert_ok(pr_conn_get(&g_pr, &f, &conn));
	assert_int_equal(conn.target_id, tid);
	assert_int_equal(conn.nat_port, 0);
	assert_int_equal(conn.iap_id, IAP_FAR);
	assert_int_equal(pr_count(&g_pr, pr_conns_rev_fd(&g_pr)), 0);

	/* the server answers from the TA; the JAP hands it to the client as it is */
	r = server_reply(&s, PKT_TCP_SYN | PKT_TCP_ACK);
	reply_wrapped(&in, &r, target_addr(tid), PIAS_KIND_TARGET_TO_JAP, pr_target_tag(tid));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	expect_to_client(&exp, &r, &s);
	/* expect_to_client rewrites the reply's addresses: they are already the client's */
	assert_frame(&res, &exp);
	assert_csums(&res);
	assert_counters("rx_packets=1 jap_tunnel_reply=1 fwd_tx=1");
	assert_ok(pr_conn_get(&g_pr, &f, &conn));
	assert_true(conn.ct & PIAS_CT_REPLIED);
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	assert_int_equal(ts.rev_packets, 1);
	assert_true(ts.last_reply_ns > 0);

	/* the client's next packet, straight from the IAP: a connection hit */
	struct tunhdr h = { PIAS_KIND_IAP_TO_JAP, 0, 1, IAP_FAR, 0 };

	s.tcp_flags = PKT_TCP_ACK;
	tunnel_from(&in, &s, rap_id(tc->uf), &h);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, verdict_for(tid));
	expect_to_target(&exp, &s, tid, 2);
	assert_frame(&res, &exp);
	assert_counters(verdict_for(tid) == XDP_TX
				? "rx_packets=1 jap_conn_hit=1 jap_tunnel_sent=1 fwd_tx=1"
				: "rx_packets=1 jap_conn_hit=1 jap_tunnel_sent=1 fwd_redirect=1");
}

/* Only the connection's own target may speak for it. */
static void test_tunnel_reply_forged(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = target_id(tc->cf, 0), other = target_id(tc->cf, 1);
	struct pkt_spec s = jap_inner(tc, 43200), r, u;
	struct pkt in;
	struct pr_result res;

	tunnel_target(tc, tid);
	assert_ok(pr_target(&g_pr, other, target_addr(other), 0, PIAS_TARGET_ACTIVE, 1));
	assert_ok(pr_target_flags(&g_pr, other, PIAS_TARGET_F_TUNNEL));
	jap_tunnel(&in, tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, verdict_for(tid));
	r = server_reply(&s, PKT_TCP_SYN | PKT_TCP_ACK);

	/* another target, tunnel mode too, for this connection */
	reply_wrapped(&in, &r, target_addr(other), PIAS_KIND_TARGET_TO_JAP, pr_target_tag(other));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 tunnel_not_target=1");

	/* the right target, for a connection the JAP does not have */
	u = s;
	u.sport = 43201;
	r = server_reply(&u, PKT_TCP_SYN | PKT_TCP_ACK);
	reply_wrapped(&in, &r, target_addr(tid), PIAS_KIND_TARGET_TO_JAP, pr_target_tag(tid));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 tunnel_not_target=1");

	/*
	 * the connection's own target's address, but not its tag (anyone may
	 * send from that address): none, another target's, one bit off
	 */
	r = server_reply(&s, PKT_TCP_SYN | PKT_TCP_ACK);
	const uint64_t forged[] = { 0, pr_target_tag(other), pr_target_tag(tid) ^ 0x100 };

	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		reply_wrapped(&in, &r, target_addr(tid), PIAS_KIND_TARGET_TO_JAP, forged[i]);
		assert_ok(pr_zero_counters(&g_pr));
		RUN(0, &in, &res);
		assert_verdict(&res, XDP_DROP);
		assert_counters("rx_packets=1 tunnel_bad_tag=1");
	}

	/* the target with a proxy's kind: it is no proxy */
	r = server_reply(&s, PKT_TCP_ACK);
	reply_wrapped(&in, &r, target_addr(tid), PIAS_KIND_IAP_TO_JAP, pr_target_tag(tid));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 tunnel_not_proxy=1");

	/* a proxy with the target's kind 5 or 6: not for a proxy to send */
	struct tunhdr h5 = { PIAS_KIND_JAP_TO_TARGET, 0, 1, IAP_FAR, 0 };
	struct tunhdr h6 = { PIAS_KIND_TARGET_TO_JAP, 0, 1, IAP_FAR, 0 };

	tunnel_from(&in, &s, rap_id(tc->uf), &h5);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 tunnel_bad_kind=1");
	tunnel_from(&in, &s, rap_id(tc->uf), &h6);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 tunnel_bad_kind=1");
}

/* A target that re-registers in the other mode: its connections move. */
static void test_tunnel_mode_change_moves(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = target_id(tc->cf, 0);
	struct pkt_spec s = jap_inner(tc, 43300);
	struct pias_conn conn;
	struct pias_flow f = pkt_spec_flow(&s);
	struct pkt in;
	struct pr_result res;

	open_conn(tc, &s, tid); /* NAT mode */
	assert_ok(pr_target_flags(&g_pr, tid, PIAS_TARGET_F_TUNNEL));
	s.tcp_flags = PKT_TCP_SYN;
	jap_tunnel(&in, tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, verdict_for(tid));
	assert_ok(pr_conn_get(&g_pr, &f, &conn));
	assert_int_equal(conn.nat_port, 0);
	assert_int_equal(pr_count(&g_pr, pr_conns_rev_fd(&g_pr)), 0);
}

int run_jap_tunnel_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_tunnel_new_conn_reply_and_hit, W_ALL),
		WTEST(test_tunnel_reply_forged, W_CLIENT),
		WTEST(test_tunnel_mode_change_moves, W_CLIENT),
	};

	return run_world_group("jap_tunnel", tests, sizeof(tests) / sizeof(tests[0]));
}
