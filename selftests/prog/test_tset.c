// SPDX-License-Identifier: MIT
/*
 * Large target sets (include/pias/maps.h, struct pias_tset) through the
 * real pias_xdp: a set of 10,000 targets of varied weights, some of which
 * may not take flows, written by lib/map_tset.c. For every one of 20,000
 * new flows the program picks exactly the target that include/pias/pick.h
 * computes from the set read back and the flow's hash, which is what lets
 * a simulator compute the dataplane's choices; the flows land in
 * proportion to the weights; a flow asked again lands on the same target;
 * a set shrunk to 10 never picks a removed target and leaves no chunk
 * behind; a scoped set of thousands keeps each client to its prefix;
 * target ids above 16 bits reach their connections whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <pias/pick.h>

#include "jap_util.h"

#define BIG	  10000
#define FLOWS	  20000
#define WEIGHTS	  13
#define SELF_ID	  4242 /* the target at the client's own address */
#define SPORT_LOW 10000

/* The targets as written, for the reference pick's check of each. */
struct tgt_table {
	struct pias_target t[BIG + 1];
	union pias_addr client;
	__u8 family;
	__u8 scope_len;
};

static struct tgt_table g_tt;

/* May target id take a flow of the client (include/pias/pick.h's take, in user space)? */
static int table_ok(void *arg, __u32 id, __u32 scoped)
{
	const struct tgt_table *tt = arg;
	const struct pias_target *t = id <= BIG ? &tt->t[id] : NULL;

	if (!t || t->state != PIAS_TARGET_ACTIVE || !t->weight || t->family != tt->family ||
	    !memcmp(&t->addr, &tt->client, sizeof(t->addr)))
		return 0;
	return !scoped || pias_prefix_match(&t->addr, &tt->client, tt->scope_len);
}

static __u32 weight_of(__u32 id)
{
	return 1 + (id * 7919u) % WEIGHTS;
}

/*
 * Targets 1..n of the IPv4 world, 198.51.100.16-255 (not the NAT
 * address, JAP B or the world's own targets), a port each; every 17th
 * draining, every 23rd down, SELF_ID at the client's address.
 */
static void write_targets(__u32 n, const char *client)
{
	struct pias_err e;

	memset(&g_tt, 0, sizeof(g_tt));
	g_tt.family = PIAS_AF_INET;
	g_tt.client = pkt_addr(client);
	for (__u32 id = 1; id <= n; id++) {
		struct pias_target *t = &g_tt.t[id];

		t->family = PIAS_AF_INET;
		t->addr.v4 = htonl(0xc6336410u + (id - 1) % 240);
		t->port = (__u16)(1000 + (id - 1) / 240);
		t->weight = weight_of(id);
		t->state = id % 17 == 0	  ? PIAS_TARGET_DRAINING
			   : id % 23 == 0 ? PIAS_TARGET_DOWN
					  : PIAS_TARGET_ACTIVE;
		if (id == SELF_ID)
			t->addr = g_tt.client;
		if (pias_target_set(&g_pr.maps, id, t, &e))
			fail_msg("target %u: %s", id, e.msg);
	}
}

/* Every target written gone again: later tests use ids of their own. */
static void clear_targets(__u32 n)
{
	struct pias_target zero = { 0 };

	for (__u32 id = 1; id <= n; id++)
		bpf_map_update_elem(g_pr.maps.fd[PIAS_M_TARGETS], &id, &zero, BPF_ANY);
}

static void write_set(const struct pias_ta *ta, const __u32 *ids, __u32 n,
		      const struct pias_policy *policy)
{
	__u32 *w = calloc(n, sizeof(*w));
	struct pias_err e;

	assert_non_null(w);
	for (__u32 i = 0; i < n; i++)
		w[i] = weight_of(ids[i]);
	if (pias_tset_write(&g_pr.maps, ta, ids, w, n, policy, &e))
		fail_msg("writing the set: %s", e.msg);
	free(w);
}

/* The set as the dataplane holds it, read back, for the reference pick. */
struct readback {
	struct pias_tset h;
	__u32 *ids;
	__u32 *cum;
};

static void read_back(const struct pias_ta *ta, struct readback *rb)
{
	struct pias_err e;

	rb->ids = calloc(BIG, sizeof(__u32));
	rb->cum = calloc(BIG, sizeof(__u32));
	assert_true(rb->ids && rb->cum);
	if (pias_tset_read(&g_pr.maps, ta, &rb->h, rb->ids, rb->cum, BIG, &e))
		fail_msg("reading the set back: %s", e.msg);
}

static void readback_free(struct readback *rb)
{
	free(rb->ids);
	free(rb->cum);
}

/* What include/pias/pick.h picks for flow f (scope: the client's range, or NULL). */
static __u32 reference(const struct readback *rb, const struct pias_flow *f,
		       const struct pias_tset_range *scope)
{
	struct pias_pick_flat flat = {
		.ids = rb->ids, .cum = rb->cum, .count = rb->h.count, .ok = table_ok, .arg = &g_tt
	};
	__u32 why;

	return pias_pick_target_in(&rb->h, scope, pias_flow_hash(f), &flat, pias_pick_flat_draw,
				   pias_pick_flat_take, &why);
}

/* Sends flow s (a new one) through the JAP; the target its connection got, 0: none. */
static __u32 send_new(const struct tcase *tc, const struct pkt_spec *s)
{
	struct pias_flow f = pkt_spec_flow(s);
	struct pr_result res;
	struct pias_conn c;
	struct pkt in;

	jap_tunnel(&in, tc, s, 0, 0);
	RUN(0, &in, &res);
	return pr_conn_get(&g_pr, &f, &c) ? 0 : c.target_id;
}

static struct pkt_spec flow_spec(const struct tcase *tc, __u32 i)
{
	struct pkt_spec s = jap_inner(tc, (uint16_t)(SPORT_LOW + i % 50000));

	/* more flows than ports: the client's address moves too */
	s.src.v4 = htonl(ntohl(s.src.v4) + i / 50000);
	return s;
}

/* The tests' group: IPv4 UDP, from the world's client. */
static const struct tcase g_tc = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };

static __u32 ids_up_to(__u32 *ids, __u32 n)
{
	for (__u32 i = 0; i < n; i++)
		ids[i] = i + 1;
	return n;
}

/*
 * 10,000 targets, 20,000 new flows: each lands on the reference pick's
 * target, none on a target that may not take it, each weight class in
 * proportion (within 5 standard deviations); asked again, each of the
 * first 2,000 lands where it did.
 */
static void test_tset_big_weighted(void **state)
{
	const struct tcase *tc = &g_tc;
	struct pias_ta ta = make_ta(tc->cf, tc->proto);
	__u32 *ids = calloc(BIG, sizeof(*ids)), *got = calloc(FLOWS, sizeof(*got));
	double class_w[WEIGHTS + 1] = { 0 }, fit = 0;
	__u32 class_n[WEIGHTS + 1] = { 0 };
	struct readback rb;

	(void)state;
	assert_true(ids && got);
	write_targets(BIG, client_addr(PIAS_AF_INET));
	write_set(&ta, ids, ids_up_to(ids, BIG), NULL);
	read_back(&ta, &rb);
	assert_int_equal(rb.h.count, BIG);
	assert_int_equal(rb.h.nchunks, (BIG + PIAS_TSET_CHUNK - 1) / PIAS_TSET_CHUNK);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_TSET_CHUNKS]), rb.h.nchunks);
	for (__u32 id = 1; id <= BIG; id++)
		if (table_ok(&g_tt, id, 0)) {
			class_w[weight_of(id)] += weight_of(id);
			fit += weight_of(id);
		}
	for (__u32 i = 0; i < FLOWS; i++) {
		struct pkt_spec s = flow_spec(tc, i);
		struct pias_flow f = pkt_spec_flow(&s);
		__u32 want;

		g_tt.client = f.saddr;
		want = reference(&rb, &f, NULL);
		got[i] = send_new(tc, &s);
		if (got[i] != want)
			fail_msg("flow %u: the program picked %u, include/pias/pick.h %u", i,
				 got[i], want);
		assert_true(table_ok(&g_tt, got[i], 0));
		class_n[weight_of(got[i])]++;
	}
	for (__u32 w = 1; w <= WEIGHTS; w++) {
		double p = class_w[w] / fit, mean = FLOWS * p, off = class_n[w] - mean;

		fprintf(stderr, "  weight %2u: %5u flows, %7.1f expected\n", w, class_n[w], mean);
		/* within 5 standard deviations of the binomial */
		assert_true(off * off < 25 * FLOWS * p * (1 - p));
	}
	for (__u32 i = 0; i < 2000; i++) {
		struct pkt_spec s = flow_spec(tc, i);
		struct pias_flow f = pkt_spec_flow(&s);

		assert_ok(pr_conn_del(&g_pr, &f));
		assert_int_equal(send_new(tc, &s), got[i]);
	}
	readback_free(&rb);
	clear_targets(BIG);
	free(ids);
	free(got);
}

/*
 * From 10,000 to 10: the flows after the shrink go to the 10 only, the
 * header holds them inline, and not one chunk of the old generation is
 * left; back to 10,000, the chunks are those of the new generation only.
 */
static void test_tset_shrink(void **state)
{
	const struct tcase *tc = &g_tc;
	struct pias_ta ta = make_ta(tc->cf, tc->proto);
	__u32 *ids = calloc(BIG, sizeof(*ids)), few[10];
	struct pias_tset h;
	struct pias_err e;

	(void)state;
	assert_non_null(ids);
	write_targets(BIG, client_addr(PIAS_AF_INET));
	write_set(&ta, ids, ids_up_to(ids, BIG), NULL);
	for (__u32 i = 0; i < 100; i++) {
		struct pkt_spec s = flow_spec(tc, i);

		assert_true(send_new(tc, &s) != 0);
	}
	/* ten targets that may take flows, from the middle of the old set */
	for (__u32 i = 0, id = 5001; i < 10; id++)
		if (table_ok(&g_tt, id, 0))
			few[i++] = id;
	write_set(&ta, few, 10, NULL);
	assert_ok(pias_tset_read(&g_pr.maps, &ta, &h, NULL, NULL, 0, &e));
	assert_int_equal(h.count, 10);
	assert_int_equal(h.nchunks, 0);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_TSET_CHUNKS]), 0);
	for (__u32 i = 1000; i < 3000; i++) {
		struct pkt_spec s = flow_spec(tc, i);
		__u32 tid = send_new(tc, &s);
		int in = 0;

		for (int k = 0; k < 10; k++)
			in |= tid == few[k];
		if (!in)
			fail_msg("flow %u went to target %u, not one of the set's ten", i, tid);
	}
	write_set(&ta, ids, BIG, NULL);
	assert_ok(pias_tset_read(&g_pr.maps, &ta, &h, NULL, NULL, 0, &e));
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_TSET_CHUNKS]), h.nchunks);
	assert_ok(pias_tgtset_del(&g_pr.maps, &ta, &e));
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_TSET_CHUNKS]), 0);
	clear_targets(BIG);
	free(ids);
}

/*
 * scoped/28 over 3,000 targets in 198.51.100.16-255 (15 prefixes): a
 * client in a prefix gets one of its targets, the reference pick's, and
 * the set keeps one range per prefix, replaced whole with the set.
 */
static void test_tset_big_scoped(void **state)
{
	const struct tcase *tc = &g_tc;
	struct pias_ta ta = make_ta(tc->cf, tc->proto);
	struct pias_policy scoped = { .kind = PIAS_POLICY_SCOPED, .scope_len = 28 };
	__u32 n = 3000, *ids = calloc(n, sizeof(*ids));
	struct pias_tset_scope_key k;
	struct readback rb;

	(void)state;
	assert_non_null(ids);
	write_targets(n, client_addr(PIAS_AF_INET));
	g_tt.scope_len = 28;
	write_set(&ta, ids, ids_up_to(ids, n), &scoped);
	read_back(&ta, &rb);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_TSET_SCOPES]), 15);
	memset(&k, 0, sizeof(k));
	k.ta = ta;
	k.gen = rb.h.gen;
	for (__u32 i = 0; i < 3000; i++) {
		struct pkt_spec s = flow_spec(tc, i);
		struct pias_tset_range r;
		struct pias_flow f;
		__u32 got, want;

		/* clients in 198.51.100.16-255, one prefix after another */
		s.src.v4 = htonl(0xc6336410u + (i * 37) % 240);
		f = pkt_spec_flow(&s);
		g_tt.client = f.saddr;
		k.prefix = pias_prefix_of(&f.saddr, 28);
		assert_ok(bpf_map_lookup_elem(g_pr.maps.fd[PIAS_M_TSET_SCOPES], &k, &r));
		want = reference(&rb, &f, &r);
		got = send_new(tc, &s);
		if (got != want)
			fail_msg("flow %u: the program picked %u, include/pias/pick.h %u", i, got,
				 want);
		assert_true(table_ok(&g_tt, got, 1));
	}
	/* replaced by a weighted set: the ranges go with the old generation */
	write_set(&ta, ids, n, NULL);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_TSET_SCOPES]), 0);
	readback_free(&rb);
	clear_targets(n);
	free(ids);
}

/*
 * Target ids above 16 bits (PIAS_MAX_TARGETS is 2^17): each flow's
 * connection names the id that was drawn, whole, and its group's counter
 * slot, the two packed in one word by the pick (a 16-bit id would send
 * target 65,537's flows to target 1).
 */
static void test_tset_high_ids(void **state)
{
	enum {
		N = 6,
		HFLOWS = 600
	};
	const __u32 ids[N] = { 1, 65535, 65536, 65537, 100000, PIAS_MAX_TARGETS - 1 };
	const struct tcase *tc = &g_tc;
	struct pias_ta ta = make_ta(tc->cf, tc->proto);
	__u32 hits[N] = { 0 }, sum = 0;
	struct pias_tset h;
	struct pias_err e;

	(void)state;
	for (int k = 0; k < N; k++)
		assert_ok(pr_target(&g_pr, ids[k], target_addr(target_id(tc->cf, k % 2)),
				    target_port(tc->proto), PIAS_TARGET_ACTIVE, 1));
	write_set(&ta, ids, N, NULL);
	assert_ok(pias_tset_read(&g_pr.maps, &ta, &h, NULL, NULL, 0, &e));
	assert_int_not_equal(h.slot, 0);
	for (__u32 i = 0; i < HFLOWS; i++) {
		struct pkt_spec s = flow_spec(tc, i);
		struct pias_flow f = pkt_spec_flow(&s);
		struct pias_conn c;
		int k;

		send_new(tc, &s);
		assert_ok(pr_conn_get(&g_pr, &f, &c));
		for (k = 0; k < N && ids[k] != c.target_id; k++)
			;
		if (k == N)
			fail_msg("flow %u went to target %u, which is not in the set", i,
				 c.target_id);
		assert_int_equal(c.slot, h.slot);
		hits[k]++;
	}
	for (int k = 0; k < N; k++)
		sum += weight_of(ids[k]);
	for (int k = 0; k < N; k++) {
		double p = (double)weight_of(ids[k]) / sum, mean = HFLOWS * p, off = hits[k] - mean;

		fprintf(stderr, "  target %6u, weight %2u: %3u flows, %5.1f expected\n", ids[k],
			weight_of(ids[k]), hits[k], mean);
		/* in proportion to its weight, within 5 standard deviations */
		assert_true(off * off < 25 * HFLOWS * p * (1 - p));
	}
	for (int k = 0; k < N; k++)
		bpf_map_delete_elem(g_pr.maps.fd[PIAS_M_TARGETS], &ids[k]);
}

int run_tset_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_tset_big_weighted, W_ONCE),
		WTEST(test_tset_shrink, W_ONCE),
		WTEST(test_tset_big_scoped, W_ONCE),
		WTEST(test_tset_high_ids, W_ONCE),
	};

	return run_world_group("tset", tests, sizeof(tests) / sizeof(tests[0]));
}
