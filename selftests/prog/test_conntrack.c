// SPDX-License-Identifier: MIT
/*
 * Connection state (include/pias/conntrack.h, docs/design.md): what each
 * packet does to a JAP connection's state, in both directions; a TCP
 * segment with no connection; a SYN that reuses a finished connection's
 * 5-tuple; the timeout of every state, seen through lazy reclaim of an
 * expired connection's NAT port; NAT address pools; the IAP's flow
 * entries.
 */
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <pias/hash.h>

#include "jap_util.h"

#define SEC 1000000000ull

/* ---- transitions --------------------------------------------------------- */

enum {
	C,
	T
}; /* who sends a step: the client (via the tunnel) or the target */

struct step {
	int who; /* C or T; 0 flags ends the list */
	uint8_t flags;
	uint32_t state; /* the connection's state after the step */
	int later;	/* the step comes 3 s after the flow began (UDP: a stream) */
};

struct transition_row {
	const char *name;
	struct step steps[8];
};

#define SYN    PKT_TCP_SYN
#define ACK    PKT_TCP_ACK
#define FIN    (PKT_TCP_FIN | PKT_TCP_ACK)
#define SYNACK (PKT_TCP_SYN | PKT_TCP_ACK)
#define RST    PKT_TCP_RST
#define HANDSHAKE                                                                                  \
	{ C, SYN, PIAS_CT_SYN_SENT, 0 }, { T, SYNACK, PIAS_CT_SYN_RECV, 0 },                       \
	{                                                                                          \
		C, ACK, PIAS_CT_ESTABLISHED, 0                                                     \
	}

static const struct transition_row transitions[] = {
	{ "tcp: handshake", { HANDSHAKE } },
	{ "tcp: SYN retransmitted, same connection",
	  { { C, SYN, PIAS_CT_SYN_SENT, 0 }, { C, SYN, PIAS_CT_SYN_SENT, 0 } } },
	{ "tcp: data both ways",
	  { HANDSHAKE, { T, ACK, PIAS_CT_ESTABLISHED, 0 }, { C, ACK, PIAS_CT_ESTABLISHED, 0 } } },
	{ "tcp: client closes first",
	  { HANDSHAKE,
	    { C, FIN, PIAS_CT_FIN_WAIT, 0 },
	    { T, FIN, PIAS_CT_CLOSED, 0 },
	    { C, ACK, PIAS_CT_CLOSED, 0 } } },
	{ "tcp: target closes first (it holds TIME_WAIT)",
	  { HANDSHAKE,
	    { T, FIN, PIAS_CT_FIN_WAIT, 0 },
	    { C, FIN, PIAS_CT_TIME_WAIT, 0 },
	    { T, ACK, PIAS_CT_TIME_WAIT, 0 } } },
	{ "tcp: half closed, the target goes on sending",
	  { HANDSHAKE,
	    { C, FIN, PIAS_CT_FIN_WAIT, 0 },
	    { T, ACK, PIAS_CT_FIN_WAIT, 0 },
	    { C, ACK, PIAS_CT_FIN_WAIT, 0 } } },
	{ "tcp: the target refuses (RST to the SYN)",
	  { { C, SYN, PIAS_CT_SYN_SENT, 0 }, { T, RST | ACK, PIAS_CT_RESET, 0 } } },
	{ "tcp: the client resets", { HANDSHAKE, { C, RST, PIAS_CT_RESET, 0 } } },
	{ "tcp: the target resets", { HANDSHAKE, { T, RST, PIAS_CT_RESET, 0 } } },
	{ "udp: request, no answer", { { C, 1, PIAS_CT_UDP_UNREPLIED, 0 } } },
	{ "udp: request and answer",
	  { { C, 1, PIAS_CT_UDP_UNREPLIED, 0 }, { T, 1, PIAS_CT_UDP_REPLIED, 0 } } },
	{ "udp: request retried at once, then answered",
	  { { C, 1, PIAS_CT_UDP_UNREPLIED, 0 },
	    { C, 1, PIAS_CT_UDP_UNREPLIED, 0 },
	    { T, 1, PIAS_CT_UDP_REPLIED, 0 } } },
	{ "udp: the 5-tuple again at once (a new query): one short exchange",
	  { { C, 1, PIAS_CT_UDP_UNREPLIED, 0 },
	    { T, 1, PIAS_CT_UDP_REPLIED, 0 },
	    { C, 1, PIAS_CT_UDP_REPLIED, 0 },
	    { T, 1, PIAS_CT_UDP_REPLIED, 0 } } },
	{ "udp: traffic both ways past 2 s: a stream",
	  { { C, 1, PIAS_CT_UDP_UNREPLIED, 0 },
	    { T, 1, PIAS_CT_UDP_REPLIED, 0 },
	    { C, 1, PIAS_CT_UDP_STREAM, 1 },
	    { T, 1, PIAS_CT_UDP_STREAM, 0 } } },
	{ "udp: retried after 2 s, then answered",
	  { { C, 1, PIAS_CT_UDP_UNREPLIED, 0 },
	    { C, 1, PIAS_CT_UDP_UNREPLIED, 1 },
	    { T, 1, PIAS_CT_UDP_STREAM, 0 } } },
};

static void test_transition(void **state)
{
	const struct transition_row *row = *state;
	int udp = !strncmp(row->name, "udp", 3);
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, udp ? PKT_PROTO_UDP : PKT_PROTO_TCP };
	uint32_t tid = target_id(tc.cf, 0);
	struct pkt_spec c = jap_inner(&tc, 44100);
	struct pias_flow f = pkt_spec_flow(&c);
	uint16_t port = 0;
	uint64_t before = mono_coarse_ns();

	jap_targets(&tc, &tid, NULL, 1);
	for (int i = 0; i < 8 && row->steps[i].flags; i++) {
		const struct step *st = &row->steps[i];
		struct pias_conn conn;
		struct pias_conn_rev rv;
		struct pkt in, exp;
		struct pr_result res;

		if (st->later) {
			assert_ok(pr_conn_get(&g_pr, &f, &conn));
			conn.created_ns -= 3 * SEC;
			assert_ok(pr_conn_set(&g_pr, &f, &conn));
		}
		if (st->who == C) {
			struct pkt_spec s = c;

			if (!udp) {
				s.tcp_flags = st->flags;
				s.ack = st->flags & ACK ? 1 : 0;
			}
			jap_tunnel(&in, &tc, &s, 0, 0);
			RUN(0, &in, &res);
			assert_verdict(&res, XDP_REDIRECT);
			if (!port)
				port = assert_conn(&c, tid, target_port(tc.proto));
			/* every client step keeps the connection and its port */
			assert_int_equal(assert_conn(&c, tid, target_port(tc.proto)), port);
			expect_nat(&exp, &s, tid, target_port(tc.proto), port);
			assert_frame(&res, &exp);
		} else {
			struct pkt_spec r = reply_of(&c, tid, port, st->flags);

			pkt_build(&in, &r);
			RUN(target_link(tid), &in, &res);
			assert_verdict(&res, XDP_REDIRECT);
			expect_to_client(&exp, &r, &c);
			assert_frame(&res, &exp);
			struct pias_flow rk = rev_key_of(&c, tid, target_port(tc.proto), port);

			assert_ok(pr_conn_rev_get(&g_pr, &rk, &rv));
			assert_true(rv.last_ns >= before && rv.last_ns <= mono_ns());
		}
		assert_ok(pr_conn_get(&g_pr, &f, &conn));
		if (pias_ct_state_of(tc.proto, conn.ct) != st->state) {
			fprintf(stderr, "step %d: state %u (flags 0x%02x), expected %u\n", i,
				pias_ct_state_of(tc.proto, conn.ct), conn.ct, st->state);
			fail();
		}
		assert_true(conn.last_ns >= before && conn.last_ns <= mono_ns());
	}
}

/* ---- a finished connection's 5-tuple used again -------------------------- */

static void test_syn_reopens(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP };
	uint32_t tid = target_id(tc.cf, 0);
	struct pkt_spec c = jap_inner(&tc, 44200), s = c;
	struct pias_flow f = pkt_spec_flow(&c), old_rev;
	uint16_t port = open_conn(&tc, &c, tid), nport;
	struct pias_conn conn;
	struct pias_conn_rev rv;
	struct pkt in;
	struct pr_result res;

	(void)state;
	/* the connection ends: FIN both ways */
	s.tcp_flags = FIN;
	s.ack = 1;
	jap_tunnel(&in, &tc, &s, 0, 0);
	RUN(0, &in, &res);
	struct pkt_spec r = reply_of(&c, tid, port, FIN);

	pkt_build(&in, &r);
	RUN(target_link(tid), &in, &res);
	assert_ok(pr_conn_get(&g_pr, &f, &conn));
	assert_int_equal(pias_ct_state_of(tc.proto, conn.ct), PIAS_CT_CLOSED);
	old_rev = rev_key_of(&c, tid, T_PORT_TCP, port);

	/* the client opens again from the same port */
	assert_ok(pr_zero_counters(&g_pr));
	jap_tunnel(&in, &tc, &c, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	assert_counters("rx_packets=1 jap_conn_reopen=1 jap_new_conn=1 fwd_redirect=1");
	nport = assert_conn(&c, tid, T_PORT_TCP);
	assert_ok(pr_conn_get(&g_pr, &f, &conn));
	assert_int_equal(conn.ct, PIAS_CT_SYN);
	if (nport != port)
		assert_int_equal(pr_conn_rev_get(&g_pr, &old_rev, &rv), -ENOENT);
	assert_int_equal(pr_count(&g_pr, pr_conns_rev_fd(&g_pr)), 1);
}

/*
 * The target closed first and holds TIME_WAIT on the NAT address and port:
 * the client reusing its 5-tuple gets a new connection on another port,
 * and the old port stays taken (its reverse entry left over) until the
 * TIME_WAIT timeout is over.
 */
static void test_syn_reopens_time_wait(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP };
	uint32_t tid = target_id(tc.cf, 0);
	struct pkt_spec c = jap_inner(&tc, 44210), s = c;
	struct pias_flow f = pkt_spec_flow(&c), old_rev;
	uint16_t port = open_conn(&tc, &c, tid);
	struct pias_conn conn;
	struct pias_conn_rev rv;
	struct pkt in;
	struct pr_result res;
	struct pkt_spec r = reply_of(&c, tid, port, FIN);

	(void)state;
	pkt_build(&in, &r);
	RUN(target_link(tid), &in, &res);
	s.tcp_flags = FIN;
	s.ack = 1;
	jap_tunnel(&in, &tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_ok(pr_conn_get(&g_pr, &f, &conn));
	assert_int_equal(pias_ct_state_of(tc.proto, conn.ct), PIAS_CT_TIME_WAIT);
	old_rev = rev_key_of(&c, tid, T_PORT_TCP, port);

	assert_ok(pr_zero_counters(&g_pr));
	jap_tunnel(&in, &tc, &c, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_REDIRECT);
	assert_counters("rx_packets=1 jap_conn_reopen=1 jap_new_conn=1 fwd_redirect=1");
	assert_int_not_equal(assert_conn(&c, tid, T_PORT_TCP), port);
	/* the old port: still taken, by the left over reverse entry */
	assert_ok(pr_conn_rev_get(&g_pr, &old_rev, &rv));
	assert_memory_equal(&rv.client, &f, sizeof(f));
	assert_true(rv.ct & PIAS_CT_T_FIRST);
	assert_int_equal(pr_count(&g_pr, pr_conns_rev_fd(&g_pr)), 2);
}

/*
 * A client that reuses one 5-tuple for connection after connection, each
 * closed by the target first: every old connection's port stays held for
 * the target's TIME_WAIT, and the new ones still find ports (candidates
 * start at random: from the flow's hash they would meet the held ports
 * again on every try).
 */
static void test_reuse_many_times(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP };
	struct pias_config cfg = world_config();
	uint32_t tid = target_id(tc.cf, 0);
	struct pkt_spec c = jap_inner(&tc, 44220), s = c;
	struct pias_flow f = pkt_spec_flow(&c);
	struct pias_conn conn;
	struct pias_stats st;
	struct pias_drops dr;
	struct pkt in;
	struct pr_result res;

	(void)state;
	cfg.nat_port_min = 20000;
	cfg.nat_port_max = 20063; /* 64 ports */
	assert_ok(pr_config(&g_pr, &cfg));
	jap_targets(&tc, &tid, NULL, 1);
	for (int i = 0; i < 40; i++) {
		jap_tunnel(&in, &tc, &c, 0, 0);
		RUN(0, &in, &res);
		assert_verdict(&res, XDP_REDIRECT);
		assert_ok(pr_conn_get(&g_pr, &f, &conn));
		struct pkt_spec r = reply_of(&c, tid, conn.nat_port, FIN);

		pkt_build(&in, &r);
		RUN(target_link(tid), &in, &res);
		s.tcp_flags = FIN;
		s.ack = 1;
		jap_tunnel(&in, &tc, &s, 0, 0);
		RUN(0, &in, &res);
	}
	assert_ok(pr_counters(&g_pr, &st, &dr));
	assert_int_equal(dr.nat_no_port, 0);
	assert_int_equal(st.jap_new_conn, 40);
	assert_int_equal(st.jap_conn_reopen, 39);
	/* 39 ports held by left over reverse entries, one by the live connection */
	assert_int_equal(pr_count(&g_pr, pr_conns_rev_fd(&g_pr)), 40);
}

/* An entry whose connection ended, not swept yet: UDP starts anew, TCP has no connection. */
static void test_ended_entry(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = target_id(tc->cf, 0);
	struct pkt_spec c = jap_inner(tc, 44230);
	struct pias_flow f = pkt_spec_flow(&c);
	uint16_t port = open_conn(tc, &c, tid);
	struct pias_conn conn;
	struct pias_conn_rev rv;
	struct pias_flow rk = rev_key_of(&c, tid, target_port(tc->proto), port);
	uint64_t old = mono_coarse_ns() - 40 * SEC;
	struct pkt in;
	struct pr_result res;

	if (mono_coarse_ns() < 60 * SEC) {
		fprintf(stderr, "SKIP: the machine is up for less than 60 s\n");
		skip();
	}
	/* answered, then silent for 40 s: past every UDP timeout but a stream's, and a SYN's */
	assert_ok(pr_conn_get(&g_pr, &f, &conn));
	conn.ct |= PIAS_CT_REPLIED;
	conn.last_ns = old;
	assert_ok(pr_conn_set(&g_pr, &f, &conn));
	assert_ok(pr_conn_rev_get(&g_pr, &rk, &rv));
	rv.ct = PIAS_CT_REPLIED;
	rv.last_ns = old;
	assert_ok(pr_conn_rev_set(&g_pr, &rk, &rv));
	if (tc->proto == PKT_PROTO_TCP) {
		c.tcp_flags = ACK;
		c.ack = 1;
	}
	jap_tunnel(&in, tc, &c, 0, 0);
	RUN(0, &in, &res);
	if (tc->proto == PKT_PROTO_TCP) {
		/* SYN_RECV past 10 s: ended; this segment has no connection */
		assert_verdict(&res, XDP_DROP);
		assert_counters("rx_packets=1 jap_conn_expired=1 jap_no_conn=1");
		return;
	}
	assert_verdict(&res, XDP_REDIRECT);
	assert_counters("rx_packets=1 jap_conn_expired=1 jap_new_conn=1 fwd_redirect=1");
	assert_ok(pr_conn_get(&g_pr, &f, &conn));
	assert_int_equal(conn.ct, 0); /* a new flow: one datagram, no answer yet */
	assert_true(conn.last_ns > old);
}

/* ---- segments of no connection ------------------------------------------- */

struct midstream_row {
	const char *name;
	uint8_t flags;
};

static const struct midstream_row midstream[] = {
	{ "tcp without connection: ACK", ACK },
	{ "tcp without connection: data", ACK | PKT_TCP_PSH },
	{ "tcp without connection: FIN", FIN },
	{ "tcp without connection: RST", RST },
	{ "tcp without connection: SYN-ACK", SYNACK },
};

static void test_midstream(void **state)
{
	const struct midstream_row *row = *state;
	struct tcase tc = { PIAS_AF_INET6, PIAS_AF_INET, PKT_PROTO_TCP };
	uint32_t tid = target_id(tc.cf, 0);
	struct pkt_spec c = jap_inner(&tc, 44300);
	struct pias_target_stats ts;
	struct pkt in;
	struct pr_result res;

	jap_targets(&tc, &tid, NULL, 1);
	c.tcp_flags = row->flags;
	c.ack = row->flags & ACK ? 1 : 0;
	jap_tunnel(&in, &tc, &c, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 jap_no_conn=1");
	assert_int_equal(pr_count(&g_pr, pr_conns_fd(&g_pr)), 0);
	assert_int_equal(pr_count(&g_pr, pr_conns_rev_fd(&g_pr)), 0);
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	assert_int_equal(ts.packets, 0);
}

/*
 * Affinity across IAPs: with the switch on, a mid-stream segment with no
 * connection is still dropped, and tells piasd who the client is and where
 * it entered (CONN_MISS); one per client and interval, so that a client's
 * many connections moving together cost one event. Off: none.
 */
static void test_midstream_affinity(void **state)
{
	struct tcase tc = *(const struct tcase *)*state;
	struct pias_config cfg = world_config();
	uint32_t tid;
	struct pkt_spec c, other;
	struct pias_ta ta;
	struct pkt in;
	struct pr_result res;
	const struct pias_event *ev;

	tc.proto = PKT_PROTO_TCP;
	tid = target_id(tc.cf, 0);
	c = jap_inner(&tc, 44310);
	other = jap_inner(&tc, 44311);
	ta = ta_of_spec(&c);
	jap_targets(&tc, &tid, NULL, 1);
	c.tcp_flags = other.tcp_flags = ACK;
	c.ack = other.ack = 1;

	/* off (the world's default): dropped, nothing said */
	jap_tunnel(&in, &tc, &c, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 jap_no_conn=1");
	assert_nevents(0);

	cfg.flags |= PIAS_CFG_F_AFFINITY;
	assert_ok(pr_config(&g_pr, &cfg));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 jap_no_conn=1 events_sent=1");
	assert_nevents(1);
	assert_event(0, PIAS_EV_CONN_MISS, IAP_FAR, 0, SELF, &ta);
	ev = &g_pr.ev[0];
	assert_memory_equal(&ev->client, &c.src, sizeof(ev->client));
	assert_int_equal(ev->client_port, 44310);
	assert_int_equal(pr_count(&g_pr, pr_conns_fd(&g_pr)), 0);

	/* the same client's other connection within the interval: no second event */
	jap_tunnel(&in, &tc, &other, 0, 0);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 jap_no_conn=1 events_suppressed=1");
	assert_nevents(0);
}

/*
 * The IAP's end of it: a flow the JAP holding it pinned here (lib's
 * pias_flow_pin, as piasd writes a FLOW_PIN) goes to that JAP, not to the
 * one the binding names, with the binding's counters.
 */
static void test_iap_flow_pinned(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = client_spec(tc, 47100);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_flow f = pkt_spec_flow(&s);
	struct pias_flow_entry fe;
	struct pias_binding b;
	struct pias_err e;
	struct pkt in;
	struct pr_result res;

	assert_ok(pr_binding(&g_pr, &ta, jap_id(tc->uf), 7, 0, 0));
	assert_ok(pias_flow_pin(&g_pr.maps, &f, jap_b_id(tc->uf), PIAS_CT_ACKED | PIAS_CT_REPLIED,
				&e));
	assert_ok(pr_flow_get(&g_pr, &f, &fe));
	assert_ok(bpf_map_lookup_elem(g_pr.maps.fd[PIAS_M_BINDINGS], &ta, &b) ? -errno : 0);
	assert_int_equal(fe.jap_id, jap_b_id(tc->uf));
	assert_int_equal(fe.generation, 7);
	assert_int_equal(fe.slot, b.slot);
	assert_int_equal(fe.tun_sport, pias_tun_sport(&f));
	if (tc->proto == PKT_PROTO_TCP)
		s.tcp_flags = ACK;
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_counters("rx_packets=1 iap_flow_hit=1 fwd_redirect=1");
	/* a bad JAP id or a flow not keyed as the dataplane keys it: refused */
	assert_int_equal(pias_flow_pin(&g_pr.maps, &f, 0, 0, &e), -EINVAL);
	f.pad = 1;
	assert_int_equal(pias_flow_pin(&g_pr.maps, &f, jap_id(tc->uf), 0, &e), -EINVAL);
}

/* ---- timeouts, through lazy reclaim -------------------------------------- */

/* Configured timeouts, all different, so that a state mapped to the wrong
 * timeout shows. (Their defaults are checked by the unit tests.) */
static const struct pias_ct_timeouts test_timeouts = {
	.tcp_syn = 11,
	.tcp_established = 23,
	.tcp_fin = 13,
	.tcp_close = 7,
	.tcp_time_wait = 17,
	.udp = 19,
	.udp_reply = 5,
	.udp_stream = 29,
};

struct expiry_row {
	const char *name;
	uint8_t proto;
	uint8_t ct;	 /* the old connection's state */
	int fwd_age;	 /* seconds since the client's last packet */
	int rev_age;	 /* seconds since the target's last packet; -1: none */
	int no_fwd;	 /* the forward entry is gone (left over reverse entry) */
	int reclaimable; /* the new flow may take the port */
	uint8_t rev_ct;	 /* the reverse entry's flags (default: REPLIED) */
};

#define EST (PIAS_CT_SYN | PIAS_CT_REPLIED | PIAS_CT_ACKED)
#define EXPIRY_ROW(nm, p, ct, age, ok)                                                             \
	{                                                                                          \
		nm, p, ct, age, -1, 0, ok, 0                                                       \
	}
#define EXPIRY_PAIR(nm, p, ct, t)                                                                  \
	EXPIRY_ROW(nm ": alive", p, ct, t - 1, 0), EXPIRY_ROW(nm ": expired", p, ct, t + 1, 1)

static const struct expiry_row expiry[] = {
	EXPIRY_PAIR("tcp syn sent", PKT_PROTO_TCP, PIAS_CT_SYN, 11),
	EXPIRY_PAIR("tcp syn received", PKT_PROTO_TCP, PIAS_CT_SYN | PIAS_CT_REPLIED, 11),
	EXPIRY_PAIR("tcp established", PKT_PROTO_TCP, EST, 23),
	EXPIRY_PAIR("tcp fin wait", PKT_PROTO_TCP, EST | PIAS_CT_FIN_C, 13),
	EXPIRY_PAIR("tcp closed", PKT_PROTO_TCP, EST | PIAS_CT_FIN_C | PIAS_CT_FIN_T, 7),
	EXPIRY_PAIR("tcp time wait", PKT_PROTO_TCP,
		    EST | PIAS_CT_FIN_C | PIAS_CT_FIN_T | PIAS_CT_T_FIRST, 17),
	EXPIRY_PAIR("tcp reset", PKT_PROTO_TCP, EST | PIAS_CT_RST, 7),
	EXPIRY_PAIR("udp unreplied", PKT_PROTO_UDP, 0, 19),
	EXPIRY_PAIR("udp replied", PKT_PROTO_UDP, PIAS_CT_REPLIED, 5),
	EXPIRY_PAIR("udp stream", PKT_PROTO_UDP, PIAS_CT_REPLIED | PIAS_CT_MORE, 29),
	{ "tcp established: the target's packets keep it alive", PKT_PROTO_TCP, EST, 30, 1, 0, 0,
	  0 },
	{ "tcp established: both sides silent", PKT_PROTO_TCP, EST, 30, 24, 0, 1, 0 },
	{ "udp replied: the reply is what counts", PKT_PROTO_UDP, PIAS_CT_REPLIED, 6, 4, 0, 0, 0 },
	{ "left over reverse entry, no connection", PKT_PROTO_UDP, 0, 0, 0, 1, 1, 0 },
	{ "left over reverse entry, the target closed: TIME_WAIT holds it", PKT_PROTO_TCP, 0, 0, 16,
	  1, 0, PIAS_CT_REPLIED | PIAS_CT_FIN_T | PIAS_CT_T_FIRST },
	{ "left over reverse entry, the target closed: TIME_WAIT over", PKT_PROTO_TCP, 0, 0, 18, 1,
	  1, PIAS_CT_REPLIED | PIAS_CT_FIN_T | PIAS_CT_T_FIRST },
};

static void test_expiry(void **state)
{
	const struct expiry_row *row = *state;
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, row->proto };
	struct pias_config cfg = world_config();
	uint32_t tid = 10;
	struct pkt_spec s = jap_inner(&tc, 43010), other = jap_inner(&tc, 9);
	struct pias_flow key, f = pkt_spec_flow(&s), of = pkt_spec_flow(&other);
	struct pias_target_stats ts;
	struct pias_conn_rev rv;
	struct pias_conn c;
	struct pkt in;
	struct pr_result res;
	uint64_t now = mono_coarse_ns();

	if (now < 60 * SEC) {
		fprintf(stderr,
			"SKIP %s: the machine is up for less than 60 s, too little to "
			"date entries back\n",
			row->name);
		skip();
	}
	/* one NAT port, held by another client's connection in the row's state */
	cfg.nat_port_min = cfg.nat_port_max = 20000;
	cfg.ct = test_timeouts;
	assert_ok(pr_config(&g_pr, &cfg));
	jap_targets(&tc, &tid, NULL, 1);
	key = rev_key_of(&s, tid, target_port(tc.proto), 20000);
	memset(&rv, 0, sizeof(rv));
	rv.client = of;
	rv.target_id = tid;
	if (row->rev_age >= 0) {
		rv.ct = row->rev_ct ? row->rev_ct : PIAS_CT_REPLIED;
		rv.last_ns = now - (uint64_t)row->rev_age * SEC;
	}
	assert_ok(pr_conn_rev_set(&g_pr, &key, &rv));
	memset(&c, 0, sizeof(c));
	c.target_id = tid;
	c.nat_port = 20000;
	c.ct = row->ct;
	c.last_ns = now - (uint64_t)row->fwd_age * SEC;
	if (!row->no_fwd)
		assert_ok(pr_conn_set(&g_pr, &of, &c));

	jap_tunnel(&in, &tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_ok(pr_target_stats(&g_pr, tid, &ts));
	if (!row->reclaimable) {
		assert_verdict(&res, XDP_DROP);
		assert_counters("rx_packets=1 nat_no_port=1");
		assert_int_equal(ts.nat_no_port, 1);
		assert_int_equal(pr_conn_get(&g_pr, &f, &c), -ENOENT);
		/* the other client's connection is untouched */
		assert_ok(pr_conn_rev_get(&g_pr, &key, &rv));
		assert_memory_equal(&rv.client, &of, sizeof(of));
		if (!row->no_fwd)
			assert_ok(pr_conn_get(&g_pr, &of, &c));
		return;
	}
	assert_verdict(&res, XDP_REDIRECT);
	assert_counters("rx_packets=1 jap_new_conn=1 nat_reclaimed=1 fwd_redirect=1");
	assert_int_equal(ts.nat_no_port, 0);
	assert_int_equal(assert_conn(&s, tid, target_port(tc.proto)), 20000);
	/* the expired connection is gone in both directions */
	assert_int_equal(pr_conn_get(&g_pr, &of, &c), -ENOENT);
	assert_ok(pr_conn_rev_get(&g_pr, &key, &rv));
	assert_memory_equal(&rv.client, &f, sizeof(f));
}

/* ---- NAT address pools --------------------------------------------------- */

static const char *pool_addr(uint8_t family, int i)
{
	static const char *const v4[] = { "198.51.100.1", "198.51.100.2", "198.51.100.3",
					  "198.51.100.4" };
	static const char *const v6[] = { "2001:db8:2::1", "2001:db8:2::2", "2001:db8:2::3",
					  "2001:db8:2::4" };

	return family == PIAS_AF_INET ? v4[i] : v6[i];
}

/*
 * Three addresses, one port each: three flows get the three addresses,
 * the fourth finds none; a reply to each address reaches its own client;
 * the address after the pool is not ours.
 */
static void test_nat_pool(void **state)
{
	const struct tcase *tc = *state;
	struct pias_config cfg = world_config();
	uint32_t tid = target_id(tc->cf, 0);
	struct pkt_spec cl[4];
	int used[3] = { 0 };
	struct pkt in, exp;
	struct pr_result res;

	cfg.nat_port_min = cfg.nat_port_max = 20000;
	cfg.nat4_count = cfg.nat6_count = 3;
	assert_ok(pr_config(&g_pr, &cfg));
	jap_targets(tc, &tid, NULL, 1);
	for (int i = 0; i < 4; i++) {
		struct pias_flow f;
		struct pias_conn c;

		cl[i] = jap_inner(tc, (uint16_t)(45000 + i));
		f = pkt_spec_flow(&cl[i]);
		jap_tunnel(&in, tc, &cl[i], 0, 0);
		assert_ok(pr_zero_counters(&g_pr));
		RUN(0, &in, &res);
		if (i == 3) {
			assert_verdict(&res, XDP_DROP);
			assert_counters("rx_packets=1 nat_no_port=1");
			break;
		}
		assert_verdict(&res, XDP_REDIRECT);
		assert_ok(pr_conn_get(&g_pr, &f, &c));
		assert_int_equal(c.nat_port, 20000);
		assert_in_range(c.nat_index, 0, 2);
		assert_false(used[c.nat_index]);
		used[c.nat_index] = 1;

		/* sent from that address */
		struct pkt_spec e = cl[i];
		uint8_t dmac[6];

		e.src = pkt_addr(pool_addr(tc->cf, c.nat_index));
		e.sport = 20000;
		e.dst = pkt_addr(target_addr(tid));
		e.dport = target_port(tc->proto);
		e.ttl--;
		mac_of(target_addr(tid), dmac);
		reframe(&exp, &e, dmac, g_ns.mac[target_link(tid)]);
		assert_frame(&res, &exp);

		/* and its reply, to that address, back to this client */
		struct pkt_spec r = reply_to(&cl[i], tid, pool_addr(tc->cf, c.nat_index), 20000,
					     PKT_TCP_SYN | PKT_TCP_ACK);

		pkt_build(&in, &r);
		RUN(target_link(tid), &in, &res);
		assert_verdict(&res, XDP_REDIRECT);
		expect_to_client(&exp, &r, &cl[i]);
		assert_frame(&res, &exp);
	}
	/* past the pool: not a NAT address */
	struct pkt_spec r = reply_to(&cl[0], tid, pool_addr(tc->cf, 3), 20000, PKT_TCP_ACK);

	pkt_build(&in, &r);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(target_link(tid), &in, &res);
	assert_verdict(&res, XDP_PASS);
	assert_counters("rx_packets=1 pass_not_ours=1");
}

/* ---- the IAP's flow entries ---------------------------------------------- */

static void test_iap_flow_state(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = client_spec(tc, 47000);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_flow f = pkt_spec_flow(&s);
	struct pias_flow_entry fe;
	uint64_t before = mono_coarse_ns();
	struct pkt in;
	struct pr_result res;

	if (tc->proto == PKT_PROTO_TCP)
		s.tcp_flags = SYN;
	assert_ok(pr_binding(&g_pr, &ta, jap_id(tc->uf), 1, 0, 0));
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_counters("rx_packets=1 iap_binding_hit=1 fwd_tx=1");
	assert_ok(pr_flow_get(&g_pr, &f, &fe));
	assert_true(fe.last_ns >= before && fe.last_ns <= mono_ns());
	assert_int_equal(pias_ct_state_of(tc->proto, fe.ct),
			 tc->proto == PKT_PROTO_TCP ? PIAS_CT_SYN_SENT : PIAS_CT_UDP_UNREPLIED);

	/* the next packets: established; a UDP flow sending at once is still short */
	s.tcp_flags = ACK;
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_ok(pr_flow_get(&g_pr, &f, &fe));
	assert_int_equal(pias_ct_state_of(tc->proto, fe.ct),
			 tc->proto == PKT_PROTO_TCP ? PIAS_CT_ESTABLISHED : PIAS_CT_UDP_UNREPLIED);
	if (tc->proto != PKT_PROTO_TCP) {
		/* ... and a stream once it still sends 2 s after it began */
		fe.created_ns -= 3 * SEC;
		assert_ok(bpf_map_update_elem(pr_flows_fd(&g_pr), &f, &fe, BPF_ANY) ? -errno : 0);
		RUN(0, &in, &res);
		assert_ok(pr_flow_get(&g_pr, &f, &fe));
		assert_int_equal(pias_ct_state_of(tc->proto, fe.ct), PIAS_CT_UDP_STREAM);
		return;
	}

	/* the client closes; a new SYN from the same port follows the binding of now */
	s.tcp_flags = FIN;
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_ok(pr_flow_get(&g_pr, &f, &fe));
	assert_int_equal(pias_ct_state_of(tc->proto, fe.ct), PIAS_CT_FIN_WAIT);
	assert_ok(pr_binding(&g_pr, &ta, jap_b_id(tc->uf), 2, 0, 0));
	s.tcp_flags = SYN;
	pkt_build(&in, &s);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_counters("rx_packets=1 iap_flow_reopen=1 iap_binding_hit=1 fwd_redirect=1");
	assert_ok(pr_flow_get(&g_pr, &f, &fe));
	assert_int_equal(fe.jap_id, jap_b_id(tc->uf));
	assert_int_equal(pias_ct_state_of(tc->proto, fe.ct), PIAS_CT_SYN_SENT);
}

/* An IAP flow entry that ended (not swept yet) does not pin the 5-tuple. */
static void test_iap_flow_ended(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pkt_spec s = client_spec(&tc, 47100);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_flow f = pkt_spec_flow(&s);
	struct pias_flow_entry fe;
	struct pkt in;
	struct pr_result res;

	(void)state;
	if (mono_coarse_ns() < 60 * SEC) {
		fprintf(stderr, "SKIP: the machine is up for less than 60 s\n");
		skip();
	}
	assert_ok(pr_binding(&g_pr, &ta, jap_b_id(tc.uf), 2, 0, 0));
	/* one datagram, 31 s ago (UDP: 30 s), pinned to the other JAP */
	assert_ok(pr_flow_set(&g_pr, &f, jap_id(tc.uf), 1));
	assert_ok(pr_flow_get(&g_pr, &f, &fe));
	fe.last_ns -= 31 * SEC;
	assert_ok(bpf_map_update_elem(pr_flows_fd(&g_pr), &f, &fe, BPF_ANY) ? -errno : 0);
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_counters("rx_packets=1 iap_flow_reopen=1 iap_binding_hit=1 fwd_redirect=1");
	assert_ok(pr_flow_get(&g_pr, &f, &fe));
	assert_int_equal(fe.jap_id, jap_b_id(tc.uf));
}

int run_conntrack_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_syn_reopens, W_ONCE),       WTEST(test_syn_reopens_time_wait, W_ONCE),
		WTEST(test_reuse_many_times, W_ONCE),  WTEST(test_ended_entry, W_CLIENT),
		WTEST(test_nat_pool, W_CLIENT),	       WTEST(test_iap_flow_state, W_CLIENT),
		WTEST(test_iap_flow_ended, W_ONCE),    WTEST(test_midstream_affinity, W_FAMILIES),
		WTEST(test_iap_flow_pinned, W_CLIENT),
	};
	int failed = 0;

	failed += run_table_group("conntrack-transitions", test_transition, transitions,
				  sizeof(transitions[0]),
				  sizeof(transitions) / sizeof(transitions[0]), NULL);
	failed += run_table_group("conntrack-midstream", test_midstream, midstream,
				  sizeof(midstream[0]), sizeof(midstream) / sizeof(midstream[0]),
				  NULL);
	failed += run_table_group("conntrack-expiry", test_expiry, expiry, sizeof(expiry[0]),
				  sizeof(expiry) / sizeof(expiry[0]), NULL);
	failed += run_world_group("conntrack", tests, sizeof(tests) / sizeof(tests[0]));
	return failed;
}
