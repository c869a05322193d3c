// SPDX-License-Identifier: MIT
/*
 * Connection state that ends: the states and default timeouts of
 * include/pias/conntrack.h, the NAT pool arithmetic of include/pias/nat.h,
 * and the sweep (daemon/sweep.c) driven over a table of entries with a
 * fake clock: what it keeps, what it asks about, what it deletes, and the
 * per-target counts a drain waits on.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <pias/nat.h>

#include "jap.h"
#include "sweep.h"
#include "unit.h"

#define S  1000000000ull
#define T0 (100000 * S) /* a machine up for a day: entries can date back */

static const struct pias_ct_timeouts defaults; /* all 0: every default */

static void ct_defaults(void **state)
{
	static const struct {
		__u8 proto, ct;
		__u32 state, timeout_s;
	} rows[] = {
		{ PIAS_PROTO_TCP, PIAS_CT_SYN, PIAS_CT_SYN_SENT, 10 },
		{ PIAS_PROTO_TCP, PIAS_CT_SYN | PIAS_CT_REPLIED, PIAS_CT_SYN_RECV, 10 },
		{ PIAS_PROTO_TCP, PIAS_CT_SYN | PIAS_CT_REPLIED | PIAS_CT_ACKED,
		  PIAS_CT_ESTABLISHED, 7875 },
		{ PIAS_PROTO_TCP, PIAS_CT_ACKED | PIAS_CT_FIN_T | PIAS_CT_T_FIRST, PIAS_CT_FIN_WAIT,
		  60 },
		{ PIAS_PROTO_TCP, PIAS_CT_ACKED | PIAS_CT_FIN_C | PIAS_CT_FIN_T, PIAS_CT_CLOSED,
		  10 },
		{ PIAS_PROTO_TCP, PIAS_CT_ACKED | PIAS_CT_FIN_C | PIAS_CT_FIN_T | PIAS_CT_T_FIRST,
		  PIAS_CT_TIME_WAIT, 65 },
		{ PIAS_PROTO_TCP, PIAS_CT_ACKED | PIAS_CT_FIN_C | PIAS_CT_RST, PIAS_CT_RESET, 10 },
		{ PIAS_PROTO_UDP, 0, PIAS_CT_UDP_UNREPLIED, 30 },
		{ PIAS_PROTO_UDP, PIAS_CT_MORE, PIAS_CT_UDP_UNREPLIED, 30 },
		{ PIAS_PROTO_UDP, PIAS_CT_REPLIED, PIAS_CT_UDP_REPLIED, 2 },
		{ PIAS_PROTO_UDP, PIAS_CT_REPLIED | PIAS_CT_MORE, PIAS_CT_UDP_STREAM, 120 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		__u32 st = pias_ct_state_of(rows[i].proto, rows[i].ct);

		assert_int_equal(st, rows[i].state);
		assert_int_equal(pias_ct_timeout_s(&defaults, st), rows[i].timeout_s);
		/* expired only past the timeout */
		assert_false(pias_ct_expired(&defaults, rows[i].proto, rows[i].ct, T0,
					     T0 + rows[i].timeout_s * S));
		assert_true(pias_ct_expired(&defaults, rows[i].proto, rows[i].ct, T0,
					    T0 + rows[i].timeout_s * S + 1));
	}
	/* a clock behind the entry (another CPU's coarse tick) is no age */
	assert_false(pias_ct_expired(&defaults, PIAS_PROTO_UDP, PIAS_CT_REPLIED, T0, T0 - S));
}

static void ct_flags(void **state)
{
	(void)state;
	/* who closed first is remembered */
	assert_int_equal(pias_ct_target(PIAS_CT_ACKED, PIAS_PROTO_TCP, PIAS_TCPF_FIN),
			 PIAS_CT_ACKED | PIAS_CT_REPLIED | PIAS_CT_FIN_T | PIAS_CT_T_FIRST);
	assert_int_equal(pias_ct_target(PIAS_CT_ACKED | PIAS_CT_FIN_C, PIAS_PROTO_TCP,
					PIAS_TCPF_FIN | PIAS_TCPF_ACK),
			 PIAS_CT_ACKED | PIAS_CT_FIN_C | PIAS_CT_REPLIED | PIAS_CT_FIN_T);
	/* a UDP reply is a reply, whatever its bytes */
	assert_int_equal(pias_ct_target(0, PIAS_PROTO_UDP, 0xff), PIAS_CT_REPLIED);
	assert_int_equal(pias_ct_client_tcp(PIAS_CT_SYN, PIAS_TCPF_SYN), PIAS_CT_SYN);
	assert_int_equal(pias_ct_client_tcp(PIAS_CT_SYN, PIAS_TCPF_ACK),
			 PIAS_CT_SYN | PIAS_CT_ACKED);
	assert_int_equal(pias_ct_client_tcp(0, PIAS_TCPF_RST), PIAS_CT_ACKED | PIAS_CT_RST);
	/* a bare SYN reopens anything past the opening, nothing before it */
	assert_false(pias_ct_syn_reopens(PIAS_CT_SYN, PIAS_TCPF_SYN));
	assert_false(pias_ct_syn_reopens(PIAS_CT_SYN | PIAS_CT_REPLIED, PIAS_TCPF_SYN));
	assert_true(pias_ct_syn_reopens(PIAS_CT_SYN | PIAS_CT_ACKED, PIAS_TCPF_SYN));
	assert_true(pias_ct_syn_reopens(PIAS_CT_SYN | PIAS_CT_RST, PIAS_TCPF_SYN));
	assert_false(
		pias_ct_syn_reopens(PIAS_CT_SYN | PIAS_CT_ACKED, PIAS_TCPF_SYN | PIAS_TCPF_ACK));
}

static void nat_pool(void **state)
{
	struct pias_config c;
	union pias_addr a;
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	memset(&c, 0, sizeof(c));
	inet_pton(AF_INET, "192.0.2.1", &c.self4.v4);
	/* no pool: the node's address, one of it */
	assert_int_equal(pias_nat_count(&c, PIAS_AF_INET), 1);
	assert_int_equal(pias_nat_capacity(&c, PIAS_AF_INET), 16384);
	assert_int_equal(pias_nat_index(&c, &c.self4, PIAS_AF_INET), 0);
	/* a pool that crosses a byte boundary */
	inet_pton(AF_INET, "198.51.100.254", &c.nat4.v4);
	c.nat4_count = 4;
	c.nat_port_min = 1024;
	c.nat_port_max = 65535;
	a = pias_nat_addr(&c, PIAS_AF_INET, 3);
	assert_string_equal(inet_ntop(AF_INET, &a.v4, buf, sizeof(buf)), "198.51.101.1");
	assert_int_equal(pias_nat_index(&c, &a, PIAS_AF_INET), 3);
	a = pias_nat_addr(&c, PIAS_AF_INET, 4);
	assert_int_equal(pias_nat_index(&c, &a, PIAS_AF_INET), -1);
	assert_int_equal(pias_nat_index(&c, &c.self4, PIAS_AF_INET), -1);
	assert_int_equal(pias_nat_capacity(&c, PIAS_AF_INET), 4ull * 64512);
	/* IPv6: the last 32 bits count, the rest must match */
	inet_pton(AF_INET6, "2001:db8::ffff:fffe", c.nat6.bytes);
	c.nat6_count = 2;
	a = pias_nat_addr(&c, PIAS_AF_INET6, 1);
	assert_string_equal(inet_ntop(AF_INET6, a.bytes, buf, sizeof(buf)), "2001:db8::ffff:ffff");
	assert_int_equal(pias_nat_index(&c, &a, PIAS_AF_INET6), 1);
	inet_pton(AF_INET6, "2001:db9::ffff:fffe", a.bytes);
	assert_int_equal(pias_nat_index(&c, &a, PIAS_AF_INET6), -1);
}

/* ---- the sweep ------------------------------------------------------------ */

static struct pias_conn conn(__u32 tid, __u8 ct, __u64 last)
{
	struct pias_conn c;

	memset(&c, 0, sizeof(c));
	c.target_id = tid;
	c.nat_port = 20000; /* NAT mode: it has a reverse entry */
	c.ct = ct;
	c.last_ns = last;
	return c;
}

static void sweep_verdicts(void **state)
{
	struct pias_sweep s;
	struct pias_conn c;
	struct pias_conn_rev rv;
	__u64 now = T0 + 100 * S;

	(void)state;
	assert_int_equal(pias_sweep_init(&s, &defaults, NULL), 0);
	pias_sweep_pass_begin(&s, now);

	/* alive on the client's side: kept, counted, no lookup */
	c = conn(5, PIAS_CT_REPLIED, now - 1 * S);
	assert_int_equal(pias_sweep_conn(&s, PIAS_PROTO_UDP, &c, NULL, true, now), PIAS_SWEEP_KEEP);
	/* silent on the client's side: the target's side decides */
	c = conn(5, PIAS_CT_SYN | PIAS_CT_REPLIED | PIAS_CT_ACKED, now - 8000 * S);
	assert_int_equal(pias_sweep_conn(&s, PIAS_PROTO_TCP, &c, NULL, true, now),
			 PIAS_SWEEP_CHECK_REV);
	memset(&rv, 0, sizeof(rv));
	rv.last_ns = now - 10 * S;
	assert_int_equal(pias_sweep_conn(&s, PIAS_PROTO_TCP, &c, &rv, true, now), PIAS_SWEEP_KEEP);
	rv.last_ns = now - 7876 * S;
	assert_int_equal(pias_sweep_conn(&s, PIAS_PROTO_TCP, &c, &rv, true, now),
			 PIAS_SWEEP_DELETE);
	/* a tunnel-mode target's connection (no NAT port) has no reverse entry:
	 * its replies keep the entry itself, which alone decides */
	c.nat_port = 0;
	assert_int_equal(pias_sweep_conn(&s, PIAS_PROTO_TCP, &c, NULL, true, now),
			 PIAS_SWEEP_DELETE);
	c.last_ns = now - 10 * S;
	assert_int_equal(pias_sweep_conn(&s, PIAS_PROTO_TCP, &c, NULL, true, now), PIAS_SWEEP_KEEP);
	/* the reply makes a UDP request short-lived: its state is in the reverse entry too */
	c = conn(6, 0, now - 3 * S);
	assert_int_equal(pias_sweep_conn(&s, PIAS_PROTO_UDP, &c, NULL, true, now),
			 PIAS_SWEEP_KEEP); /* unreplied as far as the client side knows: 30 s */
	/* a target id no longer in use: its entries end, whatever their state */
	c = conn(7, PIAS_CT_REPLIED, now);
	assert_int_equal(pias_sweep_conn(&s, PIAS_PROTO_UDP, &c, NULL, false, now),
			 PIAS_SWEEP_DELETE);
	assert_int_equal(s.conns_ended, 3);

	/* counts are per complete pass, for passes begun at or after 'since' */
	assert_int_equal(pias_sweep_target_conns(&s, 5, 0), -1);
	pias_sweep_pass_end(&s, now + S);
	assert_int_equal(pias_sweep_target_conns(&s, 5, 0), 3);
	assert_int_equal(pias_sweep_target_conns(&s, 6, now), 1);
	assert_int_equal(pias_sweep_target_conns(&s, 7, now), 0);
	assert_int_equal(pias_sweep_target_conns(&s, 5, now + 1), -1);
	assert_int_equal(s.live_last, 4);
	/* the next pass starts from zero */
	pias_sweep_pass_end(&s, now + 2 * S);
	assert_int_equal(pias_sweep_target_conns(&s, 5, now + 1), 0);
	pias_sweep_free(&s);
}

static void sweep_leftovers(void **state)
{
	struct pias_sweep s;
	struct pias_conn_rev rv;
	__u64 now = T0 + 100 * S;

	(void)state;
	assert_int_equal(pias_sweep_init(&s, &defaults, NULL), 0);
	memset(&rv, 0, sizeof(rv));
	/* recent: no lookup */
	rv.last_ns = now - 1 * S;
	assert_int_equal(pias_sweep_rev(&s, &rv, PIAS_SWEEP_FWD_UNREAD, now), PIAS_SWEEP_KEEP);
	/* silent: look at the forward entry; a connection's own is the other sweep's */
	rv.last_ns = now - 3 * S;
	assert_int_equal(pias_sweep_rev(&s, &rv, PIAS_SWEEP_FWD_UNREAD, now), PIAS_SWEEP_CHECK_FWD);
	assert_int_equal(pias_sweep_rev(&s, &rv, PIAS_SWEEP_FWD_MINE, now), PIAS_SWEEP_KEEP);
	/* left over, the target never closed: deleted */
	assert_int_equal(pias_sweep_rev(&s, &rv, PIAS_SWEEP_FWD_NONE, now), PIAS_SWEEP_DELETE);
	/* left over, the client closed first: the target holds no TIME_WAIT */
	rv.ct = PIAS_CT_REPLIED | PIAS_CT_FIN_T;
	assert_int_equal(pias_sweep_rev(&s, &rv, PIAS_SWEEP_FWD_NONE, now), PIAS_SWEEP_DELETE);
	/* left over, the target closed first: kept through its TIME_WAIT (65 s) */
	rv.ct = PIAS_CT_REPLIED | PIAS_CT_FIN_T | PIAS_CT_T_FIRST;
	rv.last_ns = now - 64 * S;
	assert_int_equal(pias_sweep_rev(&s, &rv, PIAS_SWEEP_FWD_NONE, now), PIAS_SWEEP_KEEP);
	rv.last_ns = now - 66 * S;
	assert_int_equal(pias_sweep_rev(&s, &rv, PIAS_SWEEP_FWD_NONE, now), PIAS_SWEEP_DELETE);
	assert_int_equal(s.leftovers_ended, 3);
	pias_sweep_free(&s);
}

static void sweep_flows(void **state)
{
	struct pias_sweep s;
	struct pias_flow_entry fe;
	__u64 now = T0 + 100 * S;

	(void)state;
	assert_int_equal(pias_sweep_init(&s, &defaults, NULL), 0);
	memset(&fe, 0, sizeof(fe));
	fe.last_ns = now - 29 * S; /* one UDP datagram: 30 s */
	assert_false(pias_sweep_flow(&s, PIAS_PROTO_UDP, &fe, now));
	fe.last_ns = now - 31 * S;
	assert_true(pias_sweep_flow(&s, PIAS_PROTO_UDP, &fe, now));
	fe.ct = PIAS_CT_SYN | PIAS_CT_ACKED | PIAS_CT_FIN_C; /* the client closed: 60 s */
	fe.last_ns = now - 61 * S;
	assert_true(pias_sweep_flow(&s, PIAS_PROTO_TCP, &fe, now));
	fe.ct = PIAS_CT_SYN | PIAS_CT_ACKED;
	assert_false(pias_sweep_flow(&s, PIAS_PROTO_TCP, &fe, now));
	assert_int_equal(s.flows_ended, 2);
	pias_sweep_free(&s);
}

/*
 * A table of 10,000 DNS-like connections over simulated time: the sweep
 * keeps what is live and deletes each within its timeout; port use
 * follows the live ones, not the history.
 */
static void sweep_follows_live(void **state)
{
	enum {
		N = 10000
	};
	struct pias_conn *tab = calloc(N, sizeof(*tab));
	bool *gone = calloc(N, sizeof(*gone));
	struct pias_sweep s;
	__u64 now = T0;
	size_t live;

	(void)state;
	assert_non_null(tab);
	assert_non_null(gone);
	assert_int_equal(pias_sweep_init(&s, &defaults, NULL), 0);
	/* 1,000 flows a second for 10 s, each answered */
	for (int i = 0; i < N; i++)
		/* the dataplane marks the forward entry at the first reply */
		tab[i] = conn(1, PIAS_CT_REPLIED, T0 + (__u64)(i / 1000) * S);
	for (now = T0 + 10 * S; now <= T0 + 15 * S; now += S) {
		pias_sweep_pass_begin(&s, now);
		for (int i = 0; i < N; i++) {
			if (gone[i])
				continue;
			struct pias_conn_rev rv = { .ct = PIAS_CT_REPLIED,
						    .last_ns = tab[i].last_ns };
			enum pias_sweep_verdict v =
				pias_sweep_conn(&s, PIAS_PROTO_UDP, &tab[i], NULL, true, now);

			if (v == PIAS_SWEEP_CHECK_REV)
				v = pias_sweep_conn(&s, PIAS_PROTO_UDP, &tab[i], &rv, true, now);
			gone[i] = v == PIAS_SWEEP_DELETE;
		}
		pias_sweep_pass_end(&s, now);
		live = 0;
		for (int i = 0; i < N; i++)
			live += !gone[i];
		/* what lives: the last 2 s of flows (the reply timeout), no more */
		assert_int_equal(live, s.live_last);
		assert_true(live <= 3000);
	}
	assert_int_equal(s.live_last, 0);
	assert_int_equal(s.conns_ended, N);
	pias_sweep_free(&s);
	free(tab);
	free(gone);
}

/* A drain ends when the target's connections do (JAP registry with the sweep's count). */
static long conns_left;
static __u64 conns_since;

static long fake_conns(void *ctx, __u32 id, __u64 since)
{
	(void)ctx;
	(void)id;
	conns_since = since;
	return conns_left;
}

static void drain_waits_for_conns(void **state)
{
	struct pias_jap_config jc = {
		.refresh_timeout_ns = 900000000ull,
		.drain_timeout_ns = 300 * S,
		.down_expire_ns = 30 * S,
		.report_fraction = 0.25,
		.conns = fake_conns,
	};
	struct pias_jap_endpoint ep = { .port = 53, .family = PIAS_AF_INET };
	struct pias_ta ta = { .port = 53, .proto = PIAS_PROTO_UDP, .family = PIAS_AF_INET };
	struct pias_jap_action a[64];
	struct pias_jap_actions acts = { a, 64, 0 };
	struct pias_jap j;

	(void)state;
	ta.addr.v4 = htonl(0xcb00710a);
	ep.addr.v4 = htonl(0xc6336402);
	assert_int_equal(pias_jap_init(&j, &jc, NULL), 0);
	assert_int_equal(pias_jap_register(&j, &ta, &ep, 1, T0, &acts, NULL), 1);
	assert_int_equal(pias_jap_drain(&j, &ta, 1, T0 + S, &acts, NULL), 0);
	/* unknown (no sweep since the drain) or connections left: it stays */
	for (conns_left = -1; conns_left <= 3; conns_left += 4) {
		acts.n = 0;
		assert_int_equal(pias_jap_tick(&j, T0 + 10 * S, NULL, NULL, &acts, NULL), 0);
		assert_non_null(pias_jap_group(&j, &ta));
		assert_int_equal(conns_since, T0 + S);
	}
	/* none left: removed long before the drain timeout */
	conns_left = 0;
	acts.n = 0;
	assert_int_equal(pias_jap_tick(&j, T0 + 11 * S, NULL, NULL, &acts, NULL), 0);
	assert_null(pias_jap_group(&j, &ta));
	pias_jap_free(&j);

	/* connections that never end: the drain timeout is the limit */
	conns_left = 5;
	assert_int_equal(pias_jap_init(&j, &jc, NULL), 0);
	assert_int_equal(pias_jap_register(&j, &ta, &ep, 1, T0, &acts, NULL), 1);
	assert_int_equal(pias_jap_drain(&j, &ta, 1, T0, &acts, NULL), 0);
	assert_int_equal(pias_jap_tick(&j, T0 + 299 * S, NULL, NULL, &acts, NULL), 0);
	assert_non_null(pias_jap_group(&j, &ta));
	assert_int_equal(pias_jap_tick(&j, T0 + 300 * S, NULL, NULL, &acts, NULL), 0);
	assert_null(pias_jap_group(&j, &ta));
	pias_jap_free(&j);
}

int test_sweep(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ct_defaults),	      cmocka_unit_test(ct_flags),
		cmocka_unit_test(nat_pool),	      cmocka_unit_test(sweep_verdicts),
		cmocka_unit_test(sweep_leftovers),    cmocka_unit_test(sweep_flows),
		cmocka_unit_test(sweep_follows_live), cmocka_unit_test(drain_waits_for_conns),
	};

	return cmocka_run_group_tests_name("sweep", tests, NULL, NULL);
}
