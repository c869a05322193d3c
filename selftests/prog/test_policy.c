// SPDX-License-Identifier: MIT
/*
 * A group's selection policy at the JAP (include/pias/policy.h): which
 * target a new flow gets under weighted, random and scoped, byte for byte
 * the frame the JAP sends, IPv4 and IPv6 clients, TCP and UDP.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pias/replica.h>

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
	fprintf(stderr, "  random: %d of %d flows to the first target, %d redraws changed\n", count,
		flows, changed);
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

/*
 * replicate/k, XDP's half: a UDP datagram of a replicated group is handed
 * up, decapsulated, for the TC program to copy (no connection made here,
 * none picked); a TCP segment of such a group is dropped. The TC half,
 * which needs a real skb to clone, is tested end to end
 * (test_e2e_policy.sh).
 */
static void test_policy_replicate_up(void **state)
{
	const struct tcase *tc = *state;
	uint32_t ids[] = { target_id(tc->cf, 0), target_id(tc->cf, 1), target_id(tc->cf, 2) };
	struct pias_policy rep = { .kind = PIAS_POLICY_REPLICATE, .copies = 3 };
	struct pkt_spec s = jap_inner(tc, 31500);
	struct pr_result res;
	struct pkt in;

	if (tc->proto == PKT_PROTO_TCP)
		s.tcp_flags = PKT_TCP_SYN;
	policy_targets(tc, ids, NULL, 3, &rep);
	assert_ok(pr_zero_counters(&g_pr));
	jap_tunnel(&in, tc, &s, 0, 0);
	RUN(0, &in, &res);
	if (tc->proto == PKT_PROTO_TCP) {
		assert_verdict(&res, XDP_DROP);
		assert_counters("rx_packets=1 jap_replicate_tcp=1");
	} else {
		assert_verdict(&res, XDP_PASS);
		assert_counters("rx_packets=1 jap_replicate_up=1");
		const size_t ml = sizeof(struct pias_replica_meta);
		struct pias_replica_meta meta;
		struct pkt want;

		/*
		 * What goes up is the client's datagram as it left the IAP,
		 * behind the metadata (test runs give it back in front of the
		 * frame): the magic and the IAP of the tunnel header.
		 */
		pkt_build(&want, &s);
		assert_int_equal(res.len, ml + want.len);
		memcpy(&meta, res.out, ml);
		assert_int_equal(meta.magic, PIAS_REPLICA_MAGIC);
		assert_int_equal(meta.iap_id, IAP_FAR);
		assert_memory_equal(res.out + ml + PKT_ETH_HLEN, want.b + PKT_ETH_HLEN,
				    want.len - PKT_ETH_HLEN);
	}
	assert_int_equal(pr_count(&g_pr, pr_conns_fd(&g_pr)), 0);
}

/*
 * +quic (a UDP group speaking QUIC): a short header (first byte 0x40-0x7f)
 * with no connection at the JAP is mid-stream, a client that moved IAPs:
 * dropped, never given a target that would not know it, and said (CONN_MISS)
 * so that the JAP holding it can pin it; a long header (0xc0-0xff) opens a
 * connection, after which short headers follow it. Without +quic the same
 * bytes open a connection (a DNS query's ID may start with anything). For
 * a TCP group the flag changes nothing: a SYN opens a connection.
 */
static void test_policy_quic(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = target_id(tc->cf, 0);
	struct pias_policy quic = { .kind = PIAS_POLICY_WEIGHTED, .flags = PIAS_POLICY_F_QUIC };
	struct pias_policy plain = { .kind = PIAS_POLICY_WEIGHTED };
	static const uint8_t shorth[] = { 0x43, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3 };
	static const uint8_t longh[] = { 0xc3, 0, 0, 0, 1, 8, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3 };
	struct pias_config cfg = world_config();
	struct pkt_spec s = jap_inner(tc, 31600), empty = jap_inner(tc, 31601);
	struct pkt_spec other = jap_inner(tc, 31602);
	struct pias_ta ta = ta_of_spec(&s);
	struct pr_result res;
	struct pkt in;

	cfg.flags |= PIAS_CFG_F_AFFINITY;
	assert_ok(pr_config(&g_pr, &cfg));
	policy_targets(tc, &tid, NULL, 1, &quic);
	if (tc->proto == PKT_PROTO_TCP) {
		assert_int_equal(new_flow_target(tc, &s), tid);
		return;
	}
	s.payload = shorth;
	s.payload_len = sizeof(shorth);
	assert_ok(pr_zero_counters(&g_pr));
	jap_tunnel(&in, tc, &s, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 jap_no_conn=1 events_sent=1");
	assert_nevents(1);
	assert_event(0, PIAS_EV_CONN_MISS, IAP_FAR, 0, SELF, &ta);
	assert_memory_equal(&g_pr.ev[0].client, &s.src, sizeof(s.src));
	assert_int_equal(g_pr.ev[0].client_port, 31600);
	assert_int_equal(pr_count(&g_pr, pr_conns_fd(&g_pr)), 0);

	/* the handshake's long header opens it; short headers then follow it */
	s.payload = longh;
	s.payload_len = sizeof(longh);
	assert_int_equal(new_flow_target(tc, &s), tid);
	s.payload = shorth;
	s.payload_len = sizeof(shorth);
	assert_ok(pr_zero_counters(&g_pr));
	assert_int_equal(new_flow_target(tc, &s), tid);
	assert_counters("rx_packets=1 jap_conn_hit=1 fwd_redirect=1");

	/* an empty datagram has no header form: a new flow like any */
	empty.payload_len = 0;
	assert_int_equal(new_flow_target(tc, &empty), tid);

	/* without +quic, a first byte of 0x43 is just a first byte */
	policy_targets(tc, &tid, NULL, 1, &plain);
	other.payload = shorth;
	other.payload_len = sizeof(shorth);
	assert_int_equal(new_flow_target(tc, &other), tid);
}

/*
 * replicate/3 the whole way, live (BPF_F_TEST_XDP_LIVE_FRAMES, pias_tc at
 * the ingress link's TC ingress): the datagram XDP hands up reaches TC with
 * its metadata, and TC sends 3 copies out of the targets' link, each byte
 * for byte the frame a JAP sends a NAT-mode target for a flow of its own
 * (the client's flow with pad = copy + 1, its own NAT port), one to each
 * target; the original goes no further. Captured at the link's peer.
 */
static void test_policy_replicate_frames(void **state)
{
	const struct tcase *tc = *state;
	uint32_t ids[] = { target_id(tc->cf, 0), target_id(tc->cf, 1), target_id(tc->cf, 2) };
	struct pias_policy rep = { .kind = PIAS_POLICY_REPLICATE, .copies = 3 };
	struct pkt_spec s = jap_inner(tc, 31700);
	static struct pr_result got[8];
	int link = target_link(ids[0]), fd, n = 0, len;
	struct pias_conn c[3];
	struct pkt in, want;

	policy_targets(tc, ids, NULL, 3, &rep);
	pr_tc_detach(g_ns.ifindex[0]);
	assert_ok(pr_tc_attach(&g_pr, g_ns.ifindex[0]));
	fd = netns_capture_open(g_ns.peer_ifindex[link]);
	assert_true(fd >= 0);
	assert_ok(pr_zero_counters(&g_pr));
	jap_tunnel(&in, tc, &s, 0, 0);
	assert_ok(pr_run_live(&g_pr, g_ns.ifindex[0], in.b, in.len));
	/* the copies, and nothing else of ours (the peer's own ND and MLD aside) */
	while (n < 8 && (len = netns_capture_next(fd, got[n].out, sizeof(got[n].out), 500)) > 0) {
		got[n].len = (size_t)len;
		if (target_of_frame(&got[n]))
			n++;
	}
	close(fd);
	pr_tc_detach(g_ns.ifindex[0]);
	assert_counters("rx_packets=1 jap_replicate_up=1 jap_replica_sent=3");
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		struct pias_flow f = pkt_spec_flow(&s);

		f.pad = (__u8)(i + 1);
		assert_ok(pr_conn_get(&g_pr, &f, &c[i]));
		for (int j = 0; j < i; j++) {
			assert_int_not_equal(c[i].target_id, c[j].target_id);
			assert_int_not_equal(c[i].nat_port, c[j].nat_port);
		}
		expect_nat(&want, &s, c[i].target_id, T_PORT_UDP, c[i].nat_port);
		for (int k = 0; k < n; k++)
			if (target_of_frame(&got[k]) == c[i].target_id) {
				assert_frame(&got[k], &want);
				assert_csums(&got[k]);
			}
	}
	/* one copy to each of the three */
	assert_int_not_equal(target_of_frame(&got[0]), target_of_frame(&got[1]));
	assert_int_not_equal(target_of_frame(&got[0]), target_of_frame(&got[2]));
	assert_int_not_equal(target_of_frame(&got[1]), target_of_frame(&got[2]));
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

/* The IAP's client packet for flow sport; which of JAPs 3 (link 0) and 4 it went to. */
static uint32_t iap_sends_to(const struct tcase *tc, uint16_t sport, uint32_t gen)
{
	struct pkt_spec s = client_spec(tc, sport), out = s;
	struct tunhdr h = { .kind = PIAS_KIND_IAP_TO_JAP, .hops = 1, .iap = SELF };
	struct pias_flow_entry fe;
	struct pias_flow f = pkt_spec_flow(&s);
	struct pr_result res;
	struct pkt in, exp;
	uint32_t jap;

	pkt_build(&in, &s);
	RUN(0, &in, &res);
	jap = res.verdict == XDP_TX ? jap_id(tc->uf) : jap_b_id(tc->uf);
	out.ttl--;
	expect_tunnel(&exp, &out, jap, &h);
	assert_frame(&res, &exp);
	/* the draw is pinned: the flow's entry names the JAP */
	assert_ok(pr_flow_get(&g_pr, &f, &fe));
	assert_int_equal(fe.jap_id, jap);
	assert_int_equal(fe.generation, gen);
	return jap;
}

/*
 * A binding set (the RAP bound this IAP to two JAPs, shares 1:3): each new
 * flow draws by its hash, in that proportion, and keeps its draw; a JAP
 * that goes down is drawn no more; with none left, the first packet goes
 * to the RAP.
 */
static void test_policy_iap_set(void **state)
{
	const struct tcase *tc = *state;
	struct pias_ta ta = make_ta(tc->cf, tc->proto);
	uint32_t a = jap_id(tc->uf), b = jap_b_id(tc->uf);
	struct pias_group_jap japs[] = { { b, 3 }, { a, 1 } };
	struct pias_binding bind;
	const int flows = 400;
	int to_a = 0;

	assert_ok(pr_binding_set(&g_pr, &ta, japs, 2, NULL, 9));
	assert_ok(pr_binding_get(&g_pr, &ta, &bind));
	assert_int_equal(bind.flags, PIAS_BINDING_F_SET);
	assert_int_equal(bind.jap_id, b);
	for (int i = 0; i < flows; i++) {
		uint16_t sport = (uint16_t)(20000 + i);
		uint32_t jap = iap_sends_to(tc, sport, 9);

		/* the same flow again: its entry, the same JAP */
		assert_int_equal(iap_sends_to(tc, sport, 9), jap);
		to_a += jap == a;
	}
	fprintf(stderr, "  set 1:3: %d of %d flows to the JAP of share 1\n", to_a, flows);
	/* mean 100, sd 8.7 */
	assert_in_range(to_a, 100 - 52, 100 + 52);
	assert_int_equal(pr_counter(&g_pr, "iap_binding_hit"), flows);
	assert_int_equal(pr_counter(&g_pr, "iap_flow_hit"), flows);

	/* b goes down: new flows all draw a */
	assert_ok(pr_proxy_state(&g_pr, b, PIAS_PROXY_DOWN));
	for (int i = 0; i < 50; i++)
		assert_int_equal(iap_sends_to(tc, (uint16_t)(21000 + i), 9), a);
}

/* A binding of one JAP and no policy to draw by is the plain binding. */
static void test_policy_iap_set_of_one(void **state)
{
	struct pias_ta ta = make_ta(PIAS_AF_INET, PKT_PROTO_UDP);
	struct pias_group_jap one[] = { { 4, 7 } }, two[] = { { 4, 7 }, { 3, 1 } };
	struct pias_policy random = { .kind = PIAS_POLICY_RANDOM };
	struct pias_group g;
	struct pias_binding b;

	(void)state;
	assert_ok(pr_binding_set(&g_pr, &ta, two, 2, NULL, 1));
	assert_ok(pr_bind_set_get(&g_pr, &ta, &g));
	assert_int_equal(g.count, 2);
	/* back to one JAP: the plain binding, and the set is gone */
	assert_ok(pr_binding_set(&g_pr, &ta, one, 1, NULL, 2));
	assert_ok(pr_binding_get(&g_pr, &ta, &b));
	assert_int_equal(b.flags, 0);
	assert_int_equal(b.jap_id, 4);
	assert_int_equal(pr_bind_set_get(&g_pr, &ta, &g), -ENOENT);
	/* a random group draws even from one JAP's set (it may grow) */
	assert_ok(pr_binding_set(&g_pr, &ta, one, 1, &random, 3));
	assert_ok(pr_binding_get(&g_pr, &ta, &b));
	assert_int_equal(b.flags, PIAS_BINDING_F_SET);
	/* deleting the binding deletes its set */
	assert_ok(pr_binding_del(&g_pr, &ta));
	assert_int_equal(pr_bind_set_get(&g_pr, &ta, &g), -ENOENT);
}

/* A random set: the same flow draws afresh once its entry is gone. */
static void test_policy_iap_set_random(void **state)
{
	const struct tcase *tc = *state;
	struct pias_ta ta = make_ta(tc->cf, tc->proto);
	uint32_t a = jap_id(tc->uf), b = jap_b_id(tc->uf);
	struct pias_group_jap japs[] = { { a, 1 }, { b, 1 } };
	struct pias_policy random = { .kind = PIAS_POLICY_RANDOM };
	struct pkt_spec s = client_spec(tc, 22000);
	struct pias_flow f = pkt_spec_flow(&s);
	int to_a = 0;

	assert_ok(pr_binding_set(&g_pr, &ta, japs, 2, &random, 4));
	for (int i = 0; i < 400; i++) {
		to_a += iap_sends_to(tc, 22000, 4) == a;
		assert_ok(pr_flow_del(&g_pr, &f));
	}
	fprintf(stderr, "  random set: %d of 400 draws of one flow to the first JAP\n", to_a);
	assert_in_range(to_a, 200 - 60, 200 + 60);
}

/*
 * A scoped set: two JAPs, the client's prefix served by the second only,
 * another prefix by the first. Flows from the client's prefix draw the
 * second only; from the other prefix the first only; from a prefix of
 * neither, either (or, strict, none: dropped as iap_no_scope).
 */
static void scoped_set(const struct tcase *tc, struct pias_group *g, uint8_t flags)
{
	uint32_t a = jap_id(tc->uf), b = jap_b_id(tc->uf);
	int v4 = tc->cf == PIAS_AF_INET;

	memset(g, 0, sizeof(*g));
	g->count = 2;
	g->japs[0] = (struct pias_group_jap){ a, 1 };
	g->japs[1] = (struct pias_group_jap){ b, 1 };
	g->policy = (struct pias_policy){ .kind = PIAS_POLICY_SCOPED,
					  .scope_len = v4 ? 24 : 48,
					  .flags = flags };
	g->nscopes = 2;
	g->scopes[0].prefix = pkt_addr(v4 ? "203.0.113.0" : "2001:db8:c::");
	g->scopes[0].japs = 2; /* b */
	g->scopes[1].prefix = pkt_addr(v4 ? "198.51.100.0" : "2001:db8:2::");
	g->scopes[1].japs = 1; /* a */
}

/* Flow sport of the client at src: the JAP its frame went to (0: dropped). */
static uint32_t iap_scoped_to(const struct tcase *tc, uint16_t sport, const char *src)
{
	struct pkt_spec s = client_spec(tc, sport);
	struct pr_result res;
	struct pkt in;

	if (src)
		s.src = pkt_addr(src);
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	if (res.verdict == XDP_DROP)
		return 0;
	return res.verdict == XDP_TX ? jap_id(tc->uf) : jap_b_id(tc->uf);
}

static void test_policy_iap_set_scoped(void **state)
{
	const struct tcase *tc = *state;
	struct pias_ta ta = make_ta(tc->cf, tc->proto);
	uint32_t a = jap_id(tc->uf), b = jap_b_id(tc->uf);
	int v4 = tc->cf == PIAS_AF_INET, seen[3] = { 0 };
	const char *other = v4 ? "198.51.100.77" : "2001:db8:2::77";
	const char *none = v4 ? "192.0.2.77" : "2001:db8:1::77";
	struct pias_binding bind;
	struct pias_group g;

	scoped_set(tc, &g, 0);
	assert_ok(pr_bind_set_put(&g_pr, &ta, &g, 5));
	assert_ok(pr_binding_get(&g_pr, &ta, &bind));
	assert_int_equal(bind.flags, PIAS_BINDING_F_SET);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(iap_scoped_to(tc, (uint16_t)(24000 + i), NULL), b);
		assert_int_equal(iap_scoped_to(tc, (uint16_t)(24000 + i), other), a);
		seen[iap_scoped_to(tc, (uint16_t)(24000 + i), none) == a]++;
	}
	/* no prefix of the client's: any JAP, as weighted */
	assert_true(seen[0] > 20 && seen[1] > 20);
	/* strict: none */
	scoped_set(tc, &g, PIAS_POLICY_F_STRICT);
	assert_ok(pr_bind_set_put(&g_pr, &ta, &g, 6));
	assert_ok(pr_zero_counters(&g_pr));
	assert_int_equal(iap_scoped_to(tc, 25000, none), 0);
	assert_counters("rx_packets=1 iap_no_scope=1");
	assert_int_equal(iap_scoped_to(tc, 25001, NULL), b);
}

/* The RAP relays a scoped group's first packets to a JAP of the client's prefix. */
static void test_policy_rap_scoped(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pias_ta ta = make_ta(PIAS_AF_INET, PKT_PROTO_UDP);
	struct tunhdr in_h = { PIAS_KIND_IAP_TO_RAP, 0, 1, 3, 0 };
	struct pias_group g;

	(void)state;
	scoped_set(&tc, &g, PIAS_POLICY_F_STRICT);
	assert_ok(pr_group_put(&g_pr, &ta, &g));
	for (int i = 0; i < 50; i++) {
		struct pkt_spec s = client_spec(&tc, (uint16_t)(26000 + i));
		struct pr_result res;
		struct pkt in;

		s.ttl = 63;
		tunnel_from(&in, &s, 3, &in_h);
		RUN(0, &in, &res);
		/* the client's /24 is JAP 4's (link 1): redirected */
		assert_verdict(&res, XDP_REDIRECT);
	}
	/* a client of no prefix, strict: dropped at the RAP */
	struct pkt_spec s = client_spec(&tc, 26100);
	struct pr_result res;
	struct pkt in;

	s.ttl = 63;
	s.src = pkt_addr("192.0.2.77");
	tunnel_from(&in, &s, 3, &in_h);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	/* and asks piasd to send the IAP the group's set (as for NO_GROUP) */
	assert_counters("rx_packets=1 rap_no_scope=1 events_sent=1");
	assert_nevents(1);
	assert_event(0, PIAS_EV_NO_GROUP, 3, SELF, 0, &ta);
}

/* The RAP of a random group relays the same flow's first packet anywhere. */
static void test_policy_rap_random(void **state)
{
	struct tcase tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };
	struct pias_ta ta = make_ta(PIAS_AF_INET, PKT_PROTO_UDP);
	struct pias_group_jap japs[] = { { 3, 1 }, { 4, 1 } };
	struct pias_policy random = { .kind = PIAS_POLICY_RANDOM };
	struct pkt_spec s = client_spec(&tc, 23000);
	struct tunhdr in_h = { PIAS_KIND_IAP_TO_RAP, 0, 1, 3, 0 };
	struct pkt in;
	int to3 = 0;

	(void)state;
	s.ttl = 63;
	assert_ok(pr_group_policy(&g_pr, &ta, japs, 2, &random));
	tunnel_from(&in, &s, 3, &in_h);
	for (int i = 0; i < 400; i++) {
		struct pr_result res;

		RUN(0, &in, &res);
		to3 += res.verdict == XDP_TX;
	}
	fprintf(stderr, "  random RAP: %d of 400 relays of one flow to JAP 3\n", to3);
	assert_in_range(to3, 200 - 60, 200 + 60);
}

int run_policy_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_policy_random, W_CLIENT),
		WTEST(test_policy_random_weighted, W_CLIENT),
		WTEST(test_policy_scoped, W_CLIENT),
		WTEST(test_policy_scoped_strict, W_CLIENT),
		WTEST(test_policy_scoped_zero, W_CLIENT),
		WTEST(test_policy_replicate_up, W_CLIENT),
		WTEST(test_policy_quic, W_CLIENT),
		WTEST(test_policy_replicate_frames, W_FAMILIES),
		WTEST(test_policy_iap_set, W_ALL),
		WTEST(test_policy_iap_set_of_one, W_ONCE),
		WTEST(test_policy_iap_set_random, W_FAMILIES),
		WTEST(test_policy_rap_random, W_ONCE),
		WTEST(test_policy_iap_set_scoped, W_ALL),
		WTEST(test_policy_rap_scoped, W_ONCE),
	};

	return run_world_group("policy", tests, sizeof(tests) / sizeof(tests[0]));
}
