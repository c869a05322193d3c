// SPDX-License-Identifier: MIT
/* daemon/rap: the RAP's group registry, bindings and JAP selection (fake time). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rap_registry.h"
#include "unit.h"

#define MS  1000000ull
#define SEC (1000 * MS)
#define T0  (1000 * MS) /* fake time starts here */

struct fx {
	struct pias_rap r;
	struct pias_rap_action buf[64];
	struct pias_rap_actions acts;
	struct pias_err e;
	struct pias_ta ta, ta2;
};

static int setup_cfg(void **state, const struct pias_rap_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(pias_rap_init(&f->r, cfg, &f->e), 0);
	f->acts = (struct pias_rap_actions){ .a = f->buf, .cap = 64 };
	f->ta.family = PIAS_AF_INET;
	f->ta.addr.v4 = 0x0a000001;
	f->ta.port = 80;
	f->ta.proto = 6;
	f->ta2 = f->ta;
	f->ta2.port = 443;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_cfg(state, NULL);
}

static int setup_alpha1(void **state)
{
	struct pias_rap_config c = { .binding_ttl_ns = 300 * SEC,
				     .negative_ttl_ns = 30 * SEC,
				     .report_expiry_ns = 30 * SEC,
				     .bind_interval_ns = 100 * MS,
				     .alpha = 1.0 };

	return setup_cfg(state, &c);
}

static int setup_alpha_half(void **state)
{
	struct pias_rap_config c = { .binding_ttl_ns = 300 * SEC,
				     .negative_ttl_ns = 30 * SEC,
				     .report_expiry_ns = 30 * SEC,
				     .bind_interval_ns = 100 * MS,
				     .alpha = 0.5 };

	return setup_cfg(state, &c);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pias_rap_free(&f->r);
	free(f);
	return 0;
}

static void report(struct fx *f, const struct pias_ta *ta, __u32 jap, __u32 count, __u64 seq,
		   __u64 now)
{
	assert_int_equal(pias_rap_report(&f->r, ta, jap, count, seq, now, &f->acts, &f->e), 0);
}

static const struct pias_rap_action *last(struct fx *f)
{
	assert_true(f->acts.n > 0);
	return &f->acts.a[f->acts.n - 1];
}

static void test_report_group_set(void **state)
{
	struct fx *f = *state;
	const struct pias_rap_action *a;

	report(f, &f->ta, 7, 5, 1, T0);
	assert_int_equal(f->acts.n, 1);
	a = last(f);
	assert_int_equal(a->kind, PIAS_RAP_GROUP_SET);
	assert_memory_equal(&a->ta, &f->ta, sizeof(f->ta));
	assert_int_equal(a->group.count, 1);
	assert_int_equal(a->group.japs[0].jap_id, 7);
	assert_int_equal(a->group.japs[0].weight, 5);
	assert_int_equal(a->omitted, 0);
	/* Same count again (new seq): the table is unchanged, nothing to write. */
	report(f, &f->ta, 7, 5, 2, T0 + SEC);
	assert_int_equal(f->acts.n, 1);
	/* New count: rewritten. */
	report(f, &f->ta, 7, 9, 3, T0 + 2 * SEC);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(last(f)->group.japs[0].weight, 9);
}

/* IAPs 40 and 42 are nearest to JAP 7, the others to JAP 8. */
static __u64 near7_rtt(void *ctx, __u32 iap_id, __u32 jap_id)
{
	(void)ctx;
	return (jap_id == 7) == (iap_id == 40 || iap_id == 42) ? 1 * MS : 30 * MS;
}

/* A whole report: count, share (per mille), policy and serial. */
static void report_ex(struct fx *f, __u32 jap, __u32 count, __u16 share, __u8 kind, __u32 serial,
		      __u64 seq, __u64 now)
{
	struct pias_rap_report_in in = { .count = count,
					 .seq = seq,
					 .share = share,
					 .policy = { .kind = kind },
					 .policy_serial = serial };

	assert_int_equal(
		pias_rap_report_ex(&f->r, &f->ta, jap, &in, near7_rtt, NULL, now, &f->acts, &f->e),
		0);
}

/* The last SEND_BINDING to iap, or NULL. */
static const struct pias_rap_action *binding_to(struct fx *f, __u32 iap)
{
	for (size_t k = f->acts.n; k-- > 0;)
		if (f->acts.a[k].kind == PIAS_RAP_SEND_BINDING && f->acts.a[k].iap_id == iap)
			return &f->acts.a[k];
	return NULL;
}

/*
 * A JAP's share scales its published weight, and an IAP bound to it gets a
 * set: the JAP's share of the scale, the rest to the others by weight. A
 * share of 0 takes the JAP out of the group.
 */
static void test_share_sets(void **state)
{
	struct fx *f = *state;
	const struct pias_rap_action *a;

	report_ex(f, 7, 4, 1000, 0, 0, 1, T0);
	report_ex(f, 8, 4, 1000, 0, 0, 1, T0);
	/* both whole: a query is answered with one JAP, the nearest, as ever */
	f->acts.n = 0;
	assert_int_equal(pias_rap_query(&f->r, 40, &f->ta, near7_rtt, NULL, 0, T0, &f->acts, &f->e),
			 0);
	a = binding_to(f, 40);
	assert_non_null(a);
	assert_int_equal(a->group.count, 0);
	assert_int_equal(a->jap_id, 7);
	/* 7 dialled to 25%: its weight is a quarter, and IAP 40 (bound to it) is told at once */
	f->acts.n = 0;
	report_ex(f, 7, 4, 250, 0, 0, 2, T0 + SEC);
	assert_int_equal(f->acts.a[0].kind, PIAS_RAP_GROUP_SET);
	assert_int_equal(f->acts.a[0].group.japs[1].jap_id, 7);
	assert_int_equal(f->acts.a[0].group.japs[1].weight, 1);
	a = binding_to(f, 40);
	assert_non_null(a);
	assert_int_equal(a->jap_id, 7);
	assert_int_equal(a->group.count, 2);
	assert_int_equal(a->group.japs[0].jap_id, 7);
	assert_int_equal(a->group.japs[0].weight, PIAS_RAP_SET_SCALE / 4);
	assert_int_equal(a->group.japs[1].jap_id, 8);
	assert_int_equal(a->group.japs[1].weight, PIAS_RAP_SET_SCALE * 3 / 4);
	assert_true(a->lifetime_ns <= PIAS_RAP_SET_TTL_NS);
	/* an IAP bound to the whole JAP 8 draws it alone */
	f->acts.n = 0;
	assert_int_equal(
		pias_rap_bound(&f->r, 41, &f->ta, 8, NULL, NULL, T0 + SEC, &f->acts, &f->e), 0);
	a = binding_to(f, 41);
	assert_non_null(a);
	assert_int_equal(a->jap_id, 8);
	/* a first packet relayed to 7: 7 alone and provisionally, so that its flow pins 7 */
	f->acts.n = 0;
	assert_int_equal(
		pias_rap_bound(&f->r, 42, &f->ta, 7, NULL, NULL, T0 + SEC, &f->acts, &f->e), 0);
	a = binding_to(f, 42);
	assert_non_null(a);
	assert_int_equal(a->group.count, 0);
	assert_int_equal(a->jap_id, 7);
	assert_true(a->lifetime_ns <= PIAS_RAP_PROVISIONAL_TTL_NS);
	/* dialled to 0: out of the group; IAP 40 (bound to 7) and 42 move to 8, 41 keeps it */
	f->acts.n = 0;
	report_ex(f, 7, 4, 0, 0, 0, 3, T0 + 2 * SEC);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->g.count, 1);
	for (__u32 iap = 40; iap <= 42; iap++) {
		a = binding_to(f, iap);
		assert_non_null(a);
		assert_int_equal(a->jap_id, 8);
		assert_int_equal(a->group.count, 0);
	}
	/* back to whole: no set anywhere before or after, nothing to push */
	f->acts.n = 0;
	report_ex(f, 7, 4, 1000, 0, 0, 4, T0 + 3 * SEC);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(f->acts.a[0].kind, PIAS_RAP_GROUP_SET);
}

/* A replicate/3 report of count targets from jap. */
static void report_rep3(struct fx *f, __u32 jap, __u32 count, __u64 seq, __u64 now)
{
	struct pias_rap_report_in in = { .count = count,
					 .seq = seq,
					 .share = 1000,
					 .policy = { .kind = PIAS_POLICY_REPLICATE, .copies = 3 } };

	assert_int_equal(
		pias_rap_report_ex(&f->r, &f->ta, jap, &in, near7_rtt, NULL, now, &f->acts, &f->e),
		0);
}

/*
 * replicate/3: a JAP copies to its own targets only, so while some JAP has
 * 3, only those are published, and an IAP near a JAP with 2 is bound
 * further away; with none left that has 3, every JAP is again.
 */
static void test_replicate_full_japs(void **state)
{
	struct fx *f = *state;
	const struct pias_rap_group *g;
	const struct pias_rap_action *a;

	report_rep3(f, 7, 2, 1, T0);
	report_rep3(f, 8, 4, 1, T0);
	g = pias_rap_group(&f->r, &f->ta);
	assert_int_equal(g->g.count, 1);
	assert_int_equal(g->g.japs[0].jap_id, 8);
	assert_int_equal(g->g.policy.kind, PIAS_POLICY_REPLICATE);
	assert_int_equal(g->g.policy.copies, 3);
	f->acts.n = 0;
	/* IAP 40 is nearest 7 (near7_rtt): bound to 8 all the same */
	for (__u32 rnd = 0; rnd < 8; rnd++) {
		assert_int_equal(pias_rap_query(&f->r, 40, &f->ta, near7_rtt, NULL,
						rnd * 0x20000000u, T0, &f->acts, &f->e),
				 0);
		a = binding_to(f, 40);
		assert_non_null(a);
		assert_int_equal(a->jap_id, 8);
	}
	/* 8 down to 1: no JAP has 3, both serve */
	report_rep3(f, 8, 1, 2, T0 + SEC);
	g = pias_rap_group(&f->r, &f->ta);
	assert_int_equal(g->g.count, 2);
	/* 7 up to 3: it alone */
	report_rep3(f, 7, 3, 2, T0 + 2 * SEC);
	g = pias_rap_group(&f->r, &f->ta);
	assert_int_equal(g->g.count, 1);
	assert_int_equal(g->g.japs[0].jap_id, 7);
}

/* A random group: every IAP draws from every JAP, by weight; the policy of the highest serial. */
static void test_random_sets(void **state)
{
	struct fx *f = *state;
	const struct pias_rap_action *a;

	report_ex(f, 7, 2, 1000, PIAS_POLICY_RANDOM, 3, 1, T0);
	report_ex(f, 8, 6, 1000, PIAS_POLICY_WEIGHTED, 2, 1, T0);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->g.policy.kind, PIAS_POLICY_RANDOM);
	assert_int_equal(last(f)->group.policy.kind, PIAS_POLICY_RANDOM);
	f->acts.n = 0;
	assert_int_equal(pias_rap_query(&f->r, 40, &f->ta, NULL, NULL, 0, T0, &f->acts, &f->e), 0);
	a = binding_to(f, 40);
	assert_non_null(a);
	assert_int_equal(a->group.count, 2);
	assert_int_equal(a->group.policy.kind, PIAS_POLICY_RANDOM);
	assert_int_equal(a->group.japs[0].jap_id, a->jap_id);
	/* 8 raises the serial with another policy: the group follows, IAP 40 is told */
	f->acts.n = 0;
	report_ex(f, 8, 6, 1000, PIAS_POLICY_WEIGHTED, 4, 2, T0 + SEC);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->g.policy.kind, PIAS_POLICY_WEIGHTED);
	a = binding_to(f, 40);
	assert_non_null(a);
	assert_int_equal(a->group.count, 0);
}

/* JAP jap reports count targets of a scoped/24 group, in the /24s of nets[n]. */
static void report_scoped(struct fx *f, __u32 jap, __u32 count, const __u32 *nets, __u16 n,
			  __u64 seq, __u64 now)
{
	union pias_addr scopes[PIAS_GROUP_SCOPES] = { 0 };
	struct pias_rap_report_in in = { .count = count,
					 .seq = seq,
					 .share = PIAS_RAP_SHARE_FULL,
					 .policy = { .kind = PIAS_POLICY_SCOPED, .scope_len = 24 },
					 .n_scopes = n,
					 .scopes = scopes };

	for (__u16 i = 0; i < n; i++)
		scopes[i].v4 = htonl(nets[i]);
	assert_int_equal(
		pias_rap_report_ex(&f->r, &f->ta, jap, &in, NULL, NULL, now, &f->acts, &f->e), 0);
}

/* The bits of the JAPs of prefix net in a group or set g (0: no such prefix). */
static __u32 japs_of(const struct pias_group *g, __u32 net)
{
	for (__u32 k = 0; k < g->nscopes; k++)
		if (g->scopes[k].prefix.v4 == htonl(net))
			return g->scopes[k].japs;
	return 0;
}

/*
 * A scoped group: the RAP publishes each prefix with the JAPs that have a
 * target in it, and binds IAPs to a set of every JAP with the prefixes
 * renumbered to the set's order; a JAP that goes takes its prefixes along.
 */
static void test_scoped_prefixes(void **state)
{
	struct fx *f = *state;
	const __u32 a = 0xc6336400, b = 0xc0000200; /* 198.51.100.0, 192.0.2.0 */
	const __u32 seven[] = { a }, eight[] = { b, a };
	const struct pias_rap_group *g;
	const struct pias_rap_action *bind;
	int i7, i8;

	report_scoped(f, 7, 1, seven, 1, 1, T0);
	report_scoped(f, 8, 2, eight, 2, 1, T0);
	g = pias_rap_group(&f->r, &f->ta);
	i7 = g->g.japs[0].jap_id == 7 ? 0 : 1;
	i8 = 1 - i7;
	assert_int_equal(g->g.nscopes, 2);
	assert_int_equal(japs_of(&g->g, a), (1u << i7) | (1u << i8));
	assert_int_equal(japs_of(&g->g, b), 1u << i8);
	/* a query: the set of both JAPs, the chosen one first, the bits follow it */
	f->acts.n = 0;
	assert_int_equal(pias_rap_query(&f->r, 40, &f->ta, NULL, NULL, 0, T0, &f->acts, &f->e), 0);
	bind = binding_to(f, 40);
	assert_non_null(bind);
	assert_int_equal(bind->group.count, 2);
	assert_int_equal(bind->group.policy.kind, PIAS_POLICY_SCOPED);
	assert_int_equal(bind->group.nscopes, 2);
	assert_int_equal(japs_of(&bind->group, a), 3);
	assert_int_equal(japs_of(&bind->group, b), bind->group.japs[0].jap_id == 8 ? 1u : 2u);
	/* 8 has no target left: its prefixes go with it, and 40 is told */
	f->acts.n = 0;
	report_scoped(f, 8, 0, NULL, 0, 2, T0 + SEC);
	g = pias_rap_group(&f->r, &f->ta);
	assert_int_equal(g->g.nscopes, 1);
	assert_int_equal(japs_of(&g->g, a), 1);
	assert_int_equal(japs_of(&g->g, b), 0);
	bind = binding_to(f, 40);
	assert_non_null(bind);
	assert_int_equal(bind->group.count, 1);
	assert_int_equal(bind->group.nscopes, 1);
}

/* A report whose push finds no room changes nothing: a retry is not stale. */
static void test_push_all_or_nothing(void **state)
{
	struct fx *f = *state;
	struct pias_rap_actions one = { .a = f->buf, .cap = 1 };
	struct pias_rap_report_in in = { .count = 4, .seq = 2, .share = 500 };

	report_ex(f, 7, 4, 1000, 0, 0, 1, T0);
	report_ex(f, 8, 4, 1000, 0, 0, 1, T0);
	assert_int_equal(pias_rap_bound(&f->r, 40, &f->ta, 7, near7_rtt, NULL, T0, &f->acts, &f->e),
			 0);
	assert_int_equal(
		pias_rap_report_ex(&f->r, &f->ta, 7, &in, near7_rtt, NULL, T0 + SEC, &one, &f->e),
		-ENOBUFS);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->shares[1], 1000);
	f->acts.n = 0;
	assert_int_equal(pias_rap_report_ex(&f->r, &f->ta, 7, &in, near7_rtt, NULL, T0 + SEC,
					    &f->acts, &f->e),
			 0);
	assert_int_equal(f->acts.n, 2); /* GROUP_SET, and IAP 40's set */
	assert_int_equal(binding_to(f, 40)->group.count, 2);
}

/*
 * The rate limiter's records are also the IAPs bound to a TA, a list per
 * TA: one older than a binding's lifetime names an IAP no longer bound,
 * so it is not told of new shares, and goes; a group that goes takes its
 * records along.
 */
static void test_sent_records(void **state)
{
	struct fx *f = *state;

	report_ex(f, 7, 4, 1000, 0, 0, 1, T0);
	report_ex(f, 8, 4, 1000, 0, 0, 1, T0);
	report(f, &f->ta2, 9, 1, 1, T0);
	assert_int_equal(pias_rap_bound(&f->r, 40, &f->ta, 7, NULL, NULL, T0, &f->acts, &f->e), 0);
	assert_int_equal(
		pias_rap_bound(&f->r, 41, &f->ta, 8, NULL, NULL, T0 + 200 * SEC, &f->acts, &f->e),
		0);
	assert_int_equal(pias_rap_bound(&f->r, 42, &f->ta2, 9, NULL, NULL, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->r.nsent, 3);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->nsent, 2);
	/* 7 dialled down 301 s on: 41 is told, 40's binding has lapsed */
	f->acts.n = 0;
	report_ex(f, 8, 4, 1000, 0, 0, 2, T0 + 301 * SEC);
	report_ex(f, 7, 4, 500, 0, 0, 2, T0 + 301 * SEC);
	assert_non_null(binding_to(f, 41));
	assert_null(binding_to(f, 40));
	assert_int_equal(f->r.nsent, 2);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->nsent, 1);
	/* ta2's group goes with its JAP, and its record with it */
	assert_int_equal(pias_rap_jap_dead(&f->r, 9, T0 + 301 * SEC, &f->acts, &f->e), 0);
	assert_null(pias_rap_group(&f->r, &f->ta2));
	assert_int_equal(f->r.nsent, 1);
}

static void test_report_zero_del(void **state)
{
	struct fx *f = *state;

	report(f, &f->ta, 7, 5, 1, T0);
	report(f, &f->ta, 7, 0, 2, T0 + SEC);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(last(f)->kind, PIAS_RAP_GROUP_DEL);
	assert_memory_equal(&last(f)->ta, &f->ta, sizeof(f->ta));
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->g.count, 0);
	/* A late older report does not bring it back. */
	report(f, &f->ta, 7, 5, 1, T0 + 2 * SEC);
	assert_int_equal(f->acts.n, 2);
	/* Count 0 from an unknown JAP of an unknown TA: no table write. */
	report(f, &f->ta2, 8, 0, 1, T0);
	assert_int_equal(f->acts.n, 2);
}

static void test_reports_merged(void **state)
{
	struct fx *f = *state;
	const struct pias_rap_action *a;

	report(f, &f->ta, 1, 3, 1, T0);
	report(f, &f->ta, 2, 10, 1, T0);
	report(f, &f->ta, 3, 5, 1, T0);
	report(f, &f->ta2, 3, 4, 1, T0);
	assert_int_equal(f->acts.n, 4);
	a = &f->acts.a[2];
	assert_int_equal(a->kind, PIAS_RAP_GROUP_SET);
	assert_int_equal(a->group.count, 3);
	/* Largest first. */
	assert_int_equal(a->group.japs[0].jap_id, 2);
	assert_int_equal(a->group.japs[0].weight, 10);
	assert_int_equal(a->group.japs[1].jap_id, 3);
	assert_int_equal(a->group.japs[1].weight, 5);
	assert_int_equal(a->group.japs[2].jap_id, 1);
	assert_int_equal(a->group.japs[2].weight, 3);
	/* The other TA is separate. */
	assert_int_equal(last(f)->group.count, 1);
	assert_int_equal(last(f)->group.japs[0].jap_id, 3);
	assert_memory_equal(&last(f)->ta, &f->ta2, sizeof(f->ta2));
}

static void test_stale_seq(void **state)
{
	struct fx *f = *state;

	report(f, &f->ta, 1, 3, 5, T0);
	report(f, &f->ta, 1, 8, 4, T0 + SEC); /* older */
	report(f, &f->ta, 1, 8, 5, T0 + SEC); /* duplicate */
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->reports[0].count, 3);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->reports[0].last_report_ns, T0);
	report(f, &f->ta, 1, 8, 6, T0 + SEC);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(last(f)->group.japs[0].weight, 8);
}

static void test_bound_binding(void **state)
{
	struct fx *f = *state;
	const struct pias_rap_action *a;
	__u32 gen;

	report(f, &f->ta, 7, 5, 1, T0);
	f->acts.n = 0;
	assert_int_equal(pias_rap_bound(&f->r, 40, &f->ta, 7, NULL, NULL, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	a = last(f);
	assert_int_equal(a->kind, PIAS_RAP_SEND_BINDING);
	assert_int_equal(a->iap_id, 40);
	assert_int_equal(a->jap_id, 7);
	assert_memory_equal(&a->ta, &f->ta, sizeof(f->ta));
	assert_int_equal(a->lifetime_ns, PIAS_RAP_BINDING_TTL_NS);
	gen = a->generation;
	assert_true(gen > 0);
	assert_int_equal(gen, pias_rap_group(&f->r, &f->ta)->generation);
	/* A duplicate BOUND within 100 ms: nothing. */
	assert_int_equal(
		pias_rap_bound(&f->r, 40, &f->ta, 7, NULL, NULL, T0 + 99 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	/* Another IAP is not limited. */
	assert_int_equal(
		pias_rap_bound(&f->r, 41, &f->ta, 7, NULL, NULL, T0 + 99 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
	/* After the interval: again. */
	assert_int_equal(
		pias_rap_bound(&f->r, 40, &f->ta, 7, NULL, NULL, T0 + 100 * MS, &f->acts, &f->e),
		0);
	assert_int_equal(f->acts.n, 3);
	/* A JAP not in the group (stale event): -ENOENT, nothing sent. */
	assert_int_equal(
		pias_rap_bound(&f->r, 40, &f->ta, 8, NULL, NULL, T0 + SEC, &f->acts, &f->e),
		-ENOENT);
	assert_msg_has(f->e.msg, "JAP 8");
	assert_int_equal(
		pias_rap_bound(&f->r, 40, &f->ta2, 7, NULL, NULL, T0 + SEC, &f->acts, &f->e),
		-ENOENT);
	assert_int_equal(f->acts.n, 3);
}

static void test_generation_bumps(void **state)
{
	struct fx *f = *state;
	__u32 g1, g2, g3;

	report(f, &f->ta, 7, 5, 1, T0);
	g1 = pias_rap_group(&f->r, &f->ta)->generation;
	assert_int_equal(pias_rap_bound(&f->r, 40, &f->ta, 7, NULL, NULL, T0, &f->acts, &f->e), 0);
	/* A count change only: same generation. */
	report(f, &f->ta, 7, 6, 2, T0 + MS);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->generation, g1);
	/* A JAP joins: new generation, and the new binding is not rate-limited. */
	report(f, &f->ta, 8, 1, 1, T0 + 2 * MS);
	g2 = pias_rap_group(&f->r, &f->ta)->generation;
	assert_true(g2 > g1);
	f->acts.n = 0;
	assert_int_equal(
		pias_rap_bound(&f->r, 40, &f->ta, 7, NULL, NULL, T0 + 3 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(last(f)->generation, g2);
	/* A JAP leaves: new generation. */
	report(f, &f->ta, 8, 0, 2, T0 + 4 * MS);
	g3 = pias_rap_group(&f->r, &f->ta)->generation;
	assert_true(g3 > g2);
	/* Deleted and recreated: still increasing. */
	report(f, &f->ta, 7, 0, 3, T0 + 5 * MS);
	report(f, &f->ta, 7, 2, 4, T0 + 6 * MS);
	assert_true(pias_rap_group(&f->r, &f->ta)->generation > g3);
}

static void test_no_group(void **state)
{
	struct fx *f = *state;
	const struct pias_rap_action *a;

	assert_int_equal(pias_rap_no_group(&f->r, 40, &f->ta, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	a = last(f);
	assert_int_equal(a->kind, PIAS_RAP_SEND_NEGATIVE);
	assert_int_equal(a->iap_id, 40);
	assert_memory_equal(&a->ta, &f->ta, sizeof(f->ta));
	assert_int_equal(a->lifetime_ns, PIAS_RAP_NEGATIVE_TTL_NS);
	/* A known group answers with a binding instead. */
	report(f, &f->ta, 7, 5, 1, T0);
	f->acts.n = 0;
	assert_int_equal(pias_rap_no_group(&f->r, 40, &f->ta, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(last(f)->kind, PIAS_RAP_SEND_BINDING);
	assert_int_equal(last(f)->jap_id, 7);
	/* A group whose JAPs all left: negative again. */
	report(f, &f->ta, 7, 0, 2, T0 + SEC);
	f->acts.n = 0;
	assert_int_equal(pias_rap_no_group(&f->r, 40, &f->ta, T0 + SEC, &f->acts, &f->e), 0);
	assert_int_equal(last(f)->kind, PIAS_RAP_SEND_NEGATIVE);
	/* An explicit query for an unknown TA: negative. */
	f->acts.n = 0;
	assert_int_equal(pias_rap_query(&f->r, 40, &f->ta2, NULL, NULL, 0, T0, &f->acts, &f->e), 0);
	assert_int_equal(last(f)->kind, PIAS_RAP_SEND_NEGATIVE);
}

/*
 * Right after the RAP table changed, this RAP may not have heard from the
 * group's JAPs yet: its NO_GROUP answers are short until a report period
 * has passed, then full again.
 */
static void test_no_group_after_ring_change(void **state)
{
	struct fx *f = *state;

	pias_rap_ring_changed(&f->r, T0);
	assert_int_equal(pias_rap_no_group(&f->r, 40, &f->ta, T0 + SEC, &f->acts, &f->e), 0);
	assert_int_equal(last(f)->kind, PIAS_RAP_SEND_NEGATIVE);
	assert_int_equal(last(f)->lifetime_ns, PIAS_RAP_SETTLE_NEGATIVE_TTL_NS);
	assert_int_equal(pias_rap_query(&f->r, 41, &f->ta, NULL, NULL, 0,
					T0 + PIAS_RAP_REPORT_PERIOD_NS - 1, &f->acts, &f->e),
			 0);
	assert_int_equal(last(f)->lifetime_ns, PIAS_RAP_SETTLE_NEGATIVE_TTL_NS);
	assert_int_equal(pias_rap_no_group(&f->r, 42, &f->ta, T0 + PIAS_RAP_REPORT_PERIOD_NS,
					   &f->acts, &f->e),
			 0);
	assert_int_equal(last(f)->lifetime_ns, PIAS_RAP_NEGATIVE_TTL_NS);
}

static __u32 xorshift(__u32 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* RTTs from any IAP: JAP 1 far, 2 nearest, 3 middle. */
static __u64 fake_rtt(void *ctx, __u32 iap_id, __u32 jap_id)
{
	(void)ctx;
	(void)iap_id;
	return jap_id == 1 ? 80 * MS : jap_id == 2 ? 5 * MS : 20 * MS;
}

#define DRAWS 10000
#define TOL   0.02 /* 10,000 draws: sigma <= 0.005, so 4 sigma */

/* Shares of JAPs 1..3 over DRAWS queries with rtt (may be NULL). */
static void shares(struct fx *f, pias_rap_rtt_fn rtt, double out[4])
{
	unsigned int n[4] = { 0 };
	__u32 seed = 2463534242u;

	for (int i = 0; i < DRAWS; i++) {
		f->acts.n = 0;
		assert_int_equal(pias_rap_query(&f->r, 40, &f->ta, rtt, NULL, xorshift(&seed), T0,
						&f->acts, &f->e),
				 0);
		assert_int_equal(f->acts.n, 1); /* queries are always answered */
		assert_int_equal(last(f)->kind, PIAS_RAP_SEND_BINDING);
		assert_in_range(last(f)->jap_id, 1, 3);
		n[last(f)->jap_id]++;
	}
	for (int j = 0; j < 4; j++)
		out[j] = (double)n[j] / DRAWS;
}

static void check_share(double got, double want)
{
	if (got < want - TOL || got > want + TOL)
		fail_msg("share %.4f, want %.4f +- %.2f", got, want, TOL);
}

static void test_query_proportions(void **state)
{
	struct fx *f = *state;
	double s[4];

	report(f, &f->ta, 1, 1, 1, T0);
	report(f, &f->ta, 2, 3, 1, T0);
	report(f, &f->ta, 3, 6, 1, T0);
	shares(f, NULL, s);
	check_share(s[1], 0.1);
	check_share(s[2], 0.3);
	check_share(s[3], 0.6);
	/* alpha 0 (default): RTTs are ignored. */
	shares(f, fake_rtt, s);
	check_share(s[2], 0.3);
	/* Deterministic in rnd: the ends of the distribution, in report order (1, 2, 3). */
	f->acts.n = 0;
	pias_rap_query(&f->r, 40, &f->ta, NULL, NULL, 0, T0, &f->acts, &f->e);
	assert_int_equal(last(f)->jap_id, 1);
	pias_rap_query(&f->r, 40, &f->ta, NULL, NULL, 0xffffffffu, T0, &f->acts, &f->e);
	assert_int_equal(last(f)->jap_id, 3);
}

static void test_alpha1_nearest(void **state)
{
	struct fx *f = *state;
	double s[4];

	report(f, &f->ta, 1, 50, 1, T0);
	report(f, &f->ta, 2, 1, 1, T0); /* nearest, lightly loaded */
	report(f, &f->ta, 3, 50, 1, T0);
	shares(f, fake_rtt, s);
	assert_true(s[2] == 1.0);
	/* Without RTTs: pure load even with alpha 1. */
	shares(f, NULL, s);
	check_share(s[2], 1.0 / 101);
}

/* The IAP that is itself a JAP of the group is its own nearest, whatever the RTTs. */
static void test_alpha1_self_nearest(void **state)
{
	struct fx *f = *state;

	report(f, &f->ta, 1, 5, 1, T0); /* fake_rtt: 80 ms, the farthest */
	report(f, &f->ta, 2, 5, 1, T0);
	for (__u32 rnd = 0; rnd < 0xf0000000u; rnd += 0x10000000u) {
		f->acts.n = 0;
		assert_int_equal(
			pias_rap_query(&f->r, 1, &f->ta, fake_rtt, NULL, rnd, T0, &f->acts, &f->e),
			0);
		assert_int_equal(last(f)->jap_id, 1);
	}
}

/*
 * BOUND names the JAP the dataplane relayed to (load only): a full binding
 * when it is the nearest or proximity is off, a provisional one otherwise.
 */
static void test_alpha1_bound_provisional(void **state)
{
	struct fx *f = *state;

	report(f, &f->ta, 1, 5, 1, T0);
	report(f, &f->ta, 2, 5, 1, T0); /* nearest by fake_rtt */
	f->acts.n = 0;
	assert_int_equal(pias_rap_bound(&f->r, 40, &f->ta, 1, fake_rtt, NULL, T0, &f->acts, &f->e),
			 0);
	assert_int_equal(last(f)->jap_id, 1);
	assert_int_equal(last(f)->lifetime_ns, PIAS_RAP_PROVISIONAL_TTL_NS);
	assert_int_equal(pias_rap_bound(&f->r, 41, &f->ta, 2, fake_rtt, NULL, T0, &f->acts, &f->e),
			 0);
	assert_int_equal(last(f)->jap_id, 2);
	assert_int_equal(last(f)->lifetime_ns, 300 * SEC);
	/* no RTTs known: nothing says 1 is not the nearest */
	assert_int_equal(pias_rap_bound(&f->r, 42, &f->ta, 1, NULL, NULL, T0, &f->acts, &f->e), 0);
	assert_int_equal(last(f)->lifetime_ns, 300 * SEC);
	/* the IAP bound to itself: nearest */
	assert_int_equal(pias_rap_bound(&f->r, 1, &f->ta, 1, fake_rtt, NULL, T0, &f->acts, &f->e),
			 0);
	assert_int_equal(last(f)->lifetime_ns, 300 * SEC);
}

/* Proximity off (alpha 0): BOUND always binds for the full lifetime. */
static void test_bound_alpha0_full(void **state)
{
	struct fx *f = *state;

	report(f, &f->ta, 1, 5, 1, T0);
	report(f, &f->ta, 2, 5, 1, T0);
	f->acts.n = 0;
	assert_int_equal(pias_rap_bound(&f->r, 40, &f->ta, 1, fake_rtt, NULL, T0, &f->acts, &f->e),
			 0);
	assert_int_equal(last(f)->lifetime_ns, f->r.cfg.binding_ttl_ns);
}

static void test_alpha_half(void **state)
{
	struct fx *f = *state;
	double s[4];

	report(f, &f->ta, 1, 2, 1, T0);
	report(f, &f->ta, 2, 2, 1, T0);
	report(f, &f->ta, 3, 6, 1, T0);
	shares(f, fake_rtt, s);
	check_share(s[1], 0.5 * 0.2);
	check_share(s[2], 0.5 + 0.5 * 0.2);
	check_share(s[3], 0.5 * 0.6);
}

static void test_jap_dead(void **state)
{
	struct fx *f = *state;

	report(f, &f->ta, 7, 5, 10, T0);
	report(f, &f->ta, 8, 2, 1, T0);
	report(f, &f->ta2, 7, 3, 10, T0);
	f->acts.n = 0;
	assert_int_equal(pias_rap_jap_dead(&f->r, 7, T0 + SEC, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct pias_rap_action *a = &f->acts.a[i];

		if (!memcmp(&a->ta, &f->ta, sizeof(f->ta))) {
			assert_int_equal(a->kind, PIAS_RAP_GROUP_SET);
			assert_int_equal(a->group.count, 1);
			assert_int_equal(a->group.japs[0].jap_id, 8);
		} else {
			assert_memory_equal(&a->ta, &f->ta2, sizeof(f->ta2));
			assert_int_equal(a->kind, PIAS_RAP_GROUP_DEL);
		}
	}
	assert_null(pias_rap_group(&f->r, &f->ta2));
	/* Unknown JAP: nothing. */
	f->acts.n = 0;
	assert_int_equal(pias_rap_jap_dead(&f->r, 99, T0 + SEC, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	/* A restarted JAP starts its seqs again. */
	report(f, &f->ta, 7, 4, 1, T0 + 2 * SEC);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(last(f)->group.count, 2);
}

static void test_report_expiry(void **state)
{
	struct fx *f = *state;

	report(f, &f->ta, 1, 5, 1, T0);
	report(f, &f->ta, 2, 3, 1, T0 + 20 * SEC);
	f->acts.n = 0;
	assert_int_equal(pias_rap_tick(&f->r, T0 + 30 * SEC, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0); /* exactly the expiry: still fresh */
	assert_int_equal(pias_rap_tick(&f->r, T0 + 31 * SEC, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(last(f)->kind, PIAS_RAP_GROUP_SET);
	assert_int_equal(last(f)->group.count, 1);
	assert_int_equal(last(f)->group.japs[0].jap_id, 2);
	/* A refresh keeps a report alive. */
	report(f, &f->ta, 2, 3, 2, T0 + 45 * SEC);
	assert_int_equal(pias_rap_tick(&f->r, T0 + 51 * SEC, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(pias_rap_tick(&f->r, T0 + 76 * SEC, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(last(f)->kind, PIAS_RAP_GROUP_DEL);
	assert_null(pias_rap_group(&f->r, &f->ta));
}

static void test_enobufs(void **state)
{
	struct fx *f = *state;
	struct pias_rap_actions none = { .a = f->buf, .cap = 0 };
	struct pias_rap_actions one = { .a = f->buf, .cap = 1 };

	assert_int_equal(pias_rap_report(&f->r, &f->ta, 7, 5, 1, T0, &none, &f->e), -ENOBUFS);
	assert_msg_has(f->e.msg, "room");
	assert_null(pias_rap_group(&f->r, &f->ta));
	report(f, &f->ta, 7, 5, 1, T0);
	report(f, &f->ta2, 7, 5, 1, T0);
	/* A failed bound is not counted by the rate limit. */
	assert_int_equal(pias_rap_bound(&f->r, 40, &f->ta, 7, NULL, NULL, T0, &none, &f->e),
			 -ENOBUFS);
	assert_int_equal(none.n, 0);
	f->acts.n = 0;
	assert_int_equal(pias_rap_bound(&f->r, 40, &f->ta, 7, NULL, NULL, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(pias_rap_no_group(&f->r, 40, &f->ta2, T0, &none, &f->e), -ENOBUFS);
	assert_int_equal(pias_rap_query(&f->r, 40, &f->ta, NULL, NULL, 0, T0, &none, &f->e),
			 -ENOBUFS);
	/* jap_dead and tick need two actions here: with room for one, nothing changes. */
	assert_int_equal(pias_rap_jap_dead(&f->r, 7, T0, &one, &f->e), -ENOBUFS);
	assert_int_equal(one.n, 0);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->g.count, 1);
	assert_int_equal(pias_rap_group(&f->r, &f->ta2)->g.count, 1);
	assert_int_equal(pias_rap_tick(&f->r, T0 + 60 * SEC, &one, &f->e), -ENOBUFS);
	assert_int_equal(one.n, 0);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->g.count, 1);
	f->acts.n = 0;
	assert_int_equal(pias_rap_tick(&f->r, T0 + 60 * SEC, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
}

/* The index of jap_id in a GROUP_SET's group, or -1. */
static int group_index_of(const struct pias_rap_action *a, __u32 jap_id)
{
	for (__u32 i = 0; i < a->group.count; i++)
		if (a->group.japs[i].jap_id == jap_id)
			return (int)i;
	return -1;
}

/* A GROUP_SET of a sample: at most 16 JAPs, the rest counted, weights whole 16ths of the total. */
static void check_sample(const struct pias_rap_action *a, __u32 njaps, __u64 total)
{
	__u32 unit = (__u32)(total / PIAS_GROUP_MAX_JAPS), sum = 0;

	assert_int_equal(a->kind, PIAS_RAP_GROUP_SET);
	assert_in_range(a->group.count, 1, PIAS_GROUP_MAX_JAPS);
	assert_int_equal(a->omitted, njaps - a->group.count);
	for (__u32 k = 0; k < a->group.count; k++) {
		assert_int_equal(a->group.japs[k].weight % unit, 0);
		sum += a->group.japs[k].weight / unit;
		if (k)
			assert_true(a->group.japs[k].weight <= a->group.japs[k - 1].weight);
	}
	assert_int_equal(sum, PIAS_GROUP_MAX_JAPS);
}

/*
 * 17 JAPs, weights 1..17: more than a group holds, so the RAP publishes a
 * weighted sample (each 16th of the total weight one point), drawn again
 * every report period; over the draws each JAP's share of the published
 * weight is its share of the total. Queries draw from all 17.
 */
static void test_17th_jap(void **state)
{
	struct fx *f = *state;
	double got[18] = { 0 };
	bool hit[18] = { false };
	const int draws = 3000;
	__u64 seq = 1, now = T0;

	for (__u32 id = 1; id <= PIAS_GROUP_MAX_JAPS + 1; id++)
		report(f, &f->ta, id, id, seq, now);
	check_sample(last(f), 17, 153);
	/* JAP 17 has more than a 16th of the total: always in */
	assert_true(group_index_of(last(f), 17) >= 0);
	for (__u64 rnd = 0; rnd <= 0xffffffffu; rnd += 0x00100000u) {
		f->acts.n = 0;
		pias_rap_query(&f->r, 40, &f->ta, NULL, NULL, (__u32)rnd, now, &f->acts, &f->e);
		hit[last(f)->jap_id] = true;
	}
	for (__u32 id = 1; id <= 17; id++)
		assert_true(hit[id]);
	/* the sample over time: a re-draw each report period (the JAPs re-report meanwhile) */
	for (int d = 0; d < draws; d++) {
		const struct pias_group *g = &pias_rap_group(&f->r, &f->ta)->g;
		__u32 sum = 0;

		for (__u32 k = 0; k < g->count; k++)
			sum += g->japs[k].weight;
		for (__u32 k = 0; k < g->count; k++)
			got[g->japs[k].jap_id] += (double)g->japs[k].weight / sum / draws;
		now += PIAS_RAP_REPORT_PERIOD_NS;
		if (d % 2) {
			seq++;
			for (__u32 id = 1; id <= 17; id++)
				report(f, &f->ta, id, id, seq, now);
		}
		f->acts.n = 0;
		assert_int_equal(pias_rap_tick(&f->r, now, &f->acts, &f->e), 0);
		assert_true(f->acts.n <= 1);
	}
	for (__u32 id = 1; id <= 17; id++)
		if (got[id] < id / 153.0 - 0.003 || got[id] > id / 153.0 + 0.003)
			fail_msg("JAP %u: %.4f of the published weight, want %.4f", id, got[id],
				 id / 153.0);
	/* a sampled JAP leaves: drawn again at once; the largest leaves: all 16 fit again */
	f->acts.n = 0;
	report(f, &f->ta, 17, 0, ++seq, now);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(last(f)->omitted, 0);
	assert_int_equal(last(f)->group.count, 16);
	assert_int_equal(last(f)->group.japs[0].jap_id, 16);
	assert_int_equal(last(f)->group.japs[0].weight, 16);
	assert_int_equal(last(f)->group.japs[15].jap_id, 1);
	assert_false(pias_rap_group(&f->r, &f->ta)->sampled);
}

/* --- large groups ------------------------------------------------------------------ */

/*
 * nq queries (rnd from a xorshift) for a group of JAPs 1..njaps of weights
 * w (0: not in it): none goes to a JAP of weight 0, every other is hit,
 * and the counts fit the weights (chi-square below limit).
 */
static void check_draws(struct fx *f, __u32 njaps, const __u32 *w, unsigned int nq, double limit)
{
	unsigned int *n = calloc(njaps + 1, sizeof(*n));
	double total = 0, chi2 = 0;
	__u32 seed = 88172645u;

	assert_non_null(n);
	for (__u32 j = 0; j < njaps; j++)
		total += w[j];
	for (unsigned int q = 0; q < nq; q++) {
		f->acts.n = 0;
		assert_int_equal(pias_rap_query(&f->r, 40, &f->ta, NULL, NULL, xorshift(&seed), T0,
						&f->acts, &f->e),
				 0);
		assert_int_equal(f->acts.n, 1);
		assert_int_equal(last(f)->kind, PIAS_RAP_SEND_BINDING);
		assert_in_range(last(f)->jap_id, 1, njaps);
		n[last(f)->jap_id]++;
	}
	for (__u32 j = 1; j <= njaps; j++) {
		double want = nq * (w[j - 1] / total);

		if (!w[j - 1]) {
			assert_int_equal(n[j], 0);
			continue;
		}
		assert_true(n[j] > 0);
		chi2 += (n[j] - want) * (n[j] - want) / want;
	}
	free(n);
	if (chi2 > limit)
		fail_msg("chi-square %.1f over %u JAPs, limit %.0f", chi2, njaps, limit);
}

/* JAP j (1..n) reports w[j - 1] targets with seq. */
static void report_all(struct fx *f, __u32 n, const __u32 *w, __u64 seq)
{
	for (__u32 j = 1; j <= n; j++) {
		f->acts.n = 0;
		report(f, &f->ta, j, w[j - 1], seq, T0);
	}
}

/*
 * 10,000 targets over 100 JAPs (1, 3, 5, ... 199 each): the group table
 * holds a sample, but queries draw from all 100 by weight; so they do
 * after JAPs leave (count 0) and die (their reports go, others move).
 */
static void test_large_group_100(void **state)
{
	struct fx *f = *state;
	const struct pias_rap_group *g;
	__u32 w[100];

	for (__u32 j = 0; j < 100; j++)
		w[j] = 2 * j + 1;
	report_all(f, 100, w, 1);
	g = pias_rap_group(&f->r, &f->ta);
	assert_int_equal(g->nreports, 100);
	assert_true(g->sampled);
	assert_int_equal(g->omitted, 100 - g->g.count);
	assert_int_equal(g->total, 10000);
	/* 99 degrees of freedom: 200 is beyond p = 1e-6 */
	check_draws(f, 100, w, 200000, 200);
	/* every third JAP leaves, every seventh dies */
	for (__u32 j = 3; j <= 100; j += 3) {
		f->acts.n = 0;
		report(f, &f->ta, j, 0, 2, T0);
		w[j - 1] = 0;
	}
	for (__u32 j = 7; j <= 100; j += 7) {
		f->acts.n = 0;
		assert_int_equal(pias_rap_jap_dead(&f->r, j, T0, &f->acts, &f->e), 0);
		w[j - 1] = 0;
	}
	check_draws(f, 100, w, 200000, 200);
	g = pias_rap_group(&f->r, &f->ta);
	for (__u32 k = 0; k < g->g.count; k++)
		assert_true(w[g->g.japs[k].jap_id - 1] > 0);
}

/* 10,000 targets over 1,000 JAPs (5..15 each): queries in proportion to weight. */
static void test_large_group_1000(void **state)
{
	struct fx *f = *state;
	__u32 w[1000];

	for (__u32 j = 0; j < 1000; j++)
		w[j] = 5 + j % 11;
	w[999] += 5; /* 10,000 in all */
	report_all(f, 1000, w, 1);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->total, 10000);
	/* 999 degrees of freedom: 1,300 is beyond p = 1e-6 */
	check_draws(f, 1000, w, 400000, 1300);
}

/*
 * A random group of 20 JAPs: an IAP bound to a JAP left out of the sample
 * gets a set led by it, with the published ones after it, and the
 * prefixes of a scoped one numbered in the set's order.
 */
static void test_large_group_sets(void **state)
{
	struct fx *f = *state;
	const struct pias_rap_group *g;
	const struct pias_rap_action *a = NULL;
	union pias_addr pfx[20] = { 0 };
	__u32 seed = 1;

	for (__u32 j = 1; j <= 20; j++) {
		struct pias_rap_report_in in = {
			.count = j,
			.seq = 1,
			.share = PIAS_RAP_SHARE_FULL,
			.policy = { .kind = PIAS_POLICY_SCOPED, .scope_len = 24 },
			.n_scopes = 1,
			.scopes = &pfx[j - 1],
		};

		pfx[j - 1].v4 = htonl(0xc6336400u + (j % 4) * 256); /* 198.51.100-103.0/24 */
		f->acts.n = 0;
		assert_int_equal(
			pias_rap_report_ex(&f->r, &f->ta, j, &in, NULL, NULL, T0, &f->acts, &f->e),
			0);
	}
	g = pias_rap_group(&f->r, &f->ta);
	assert_true(g->sampled);
	/* a query whose JAP is not published */
	for (int q = 0; q < 10000 && !a; q++) {
		f->acts.n = 0;
		assert_int_equal(pias_rap_query(&f->r, 40, &f->ta, NULL, NULL, xorshift(&seed), T0,
						&f->acts, &f->e),
				 0);
		a = binding_to(f, 40);
		for (__u32 k = 0; k < g->g.count && a; k++)
			if (g->g.japs[k].jap_id == a->jap_id)
				a = NULL;
	}
	assert_non_null(a);
	assert_int_equal(a->group.japs[0].jap_id, a->jap_id);
	assert_int_equal(a->group.count,
			 g->g.count < PIAS_GROUP_MAX_JAPS ? g->g.count + 1 : PIAS_GROUP_MAX_JAPS);
	/* the chosen JAP's prefix lists it (bit 0) */
	assert_true(japs_of(&a->group, ntohl(pfx[a->jap_id - 1].v4)) & 1u);
	for (__u32 k = 1; k < a->group.count; k++) {
		__u32 jap = a->group.japs[k].jap_id;

		assert_true(japs_of(&a->group, ntohl(pfx[jap - 1].v4)) & (1u << k));
	}
}

/* Reports expire at their own deadline; a refresh moves nothing in the heap but keeps its report. */
static void test_expiry_deadlines(void **state)
{
	struct fx *f = *state;
	struct pias_ta ta[3];

	for (int k = 0; k < 3; k++) {
		ta[k] = f->ta;
		ta[k].port = (__u16)(1000 + k);
		report(f, &ta[k], 7, 1, 1, T0 + (__u64)k * 5 * SEC);
	}
	f->acts.n = 0;
	assert_int_equal(pias_rap_tick(&f->r, T0 + 30 * SEC, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0); /* exactly the expiry: still fresh */
	assert_int_equal(pias_rap_tick(&f->r, T0 + 30 * SEC + 1, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(last(f)->kind, PIAS_RAP_GROUP_DEL);
	assert_memory_equal(&last(f)->ta, &ta[0], sizeof(ta[0]));
	assert_null(pias_rap_group(&f->r, &ta[0]));
	/* ta[2] refreshed: its deadline stays at T0 + 40 s, popped then and set again */
	report(f, &ta[2], 7, 1, 2, T0 + 20 * SEC);
	assert_int_equal(pias_rap_tick(&f->r, T0 + 35 * SEC + 1, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
	assert_memory_equal(&last(f)->ta, &ta[1], sizeof(ta[1]));
	assert_int_equal(pias_timers_next(&f->r.due), T0 + 40 * SEC + 1);
	assert_int_equal(pias_rap_tick(&f->r, T0 + 40 * SEC + 1, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(pias_timers_next(&f->r.due), T0 + 50 * SEC + 1);
	assert_int_equal(pias_rap_tick(&f->r, T0 + 50 * SEC + 1, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(pias_rap_ngroups(&f->r), 0);
	assert_int_equal(pias_timers_next(&f->r.due), PIAS_TIMERS_NEVER);
	/* a count-0 report alone (a remembered seq) goes the same way */
	report(f, &ta[0], 8, 0, 1, T0 + 60 * SEC);
	assert_int_equal(pias_rap_ngroups(&f->r), 1);
	assert_int_equal(pias_rap_tick(&f->r, T0 + 90 * SEC + 1, &f->acts, &f->e), 0);
	assert_int_equal(pias_rap_ngroups(&f->r), 0);
	assert_int_equal(f->acts.n, 3);
}

/*
 * 65,536 groups and nothing due: a tick visits nothing, so it needs no room
 * for actions and emits none; past the first deadline it visits that
 * group alone.
 */
static void test_idle_tick_65536(void **state)
{
	struct fx *f = *state;
	struct pias_rap_actions none = { .a = f->buf, .cap = 0 };

	for (__u32 i = 0; i < 65536; i++) {
		struct pias_ta ta = f->ta;

		ta.addr.v4 = 0x0a000000u + i;
		f->acts.n = 0;
		report(f, &ta, 7 + i % 5, 1, 1, T0 + i);
	}
	assert_int_equal(pias_rap_ngroups(&f->r), 65536);
	assert_int_equal(pias_rap_tick(&f->r, T0 + SEC, &none, &f->e), 0);
	assert_int_equal(pias_rap_tick(&f->r, T0 + 30 * SEC, &none, &f->e), 0);
	assert_int_equal(none.n, 0);
	f->acts.n = 0;
	assert_int_equal(pias_rap_tick(&f->r, T0 + 30 * SEC + 1, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(last(f)->kind, PIAS_RAP_GROUP_DEL);
	assert_int_equal(last(f)->ta.addr.v4, 0x0a000000u);
	assert_int_equal(pias_rap_ngroups(&f->r), 65535);
	/* JAP 8's death (groups 1, 6, 11, ...) needs room for its own groups only */
	struct pias_rap_actions some = { .a = calloc(13107, sizeof(struct pias_rap_action)),
					 .cap = 13107 };

	assert_non_null(some.a);
	assert_int_equal(pias_rap_jap_dead(&f->r, 8, T0 + 31 * SEC, &some, &f->e), 0);
	assert_int_equal(some.n, 13107);
	assert_int_equal(pias_rap_ngroups(&f->r), 65535 - some.n);
	free(some.a);
}

static void test_init_config(void **state)
{
	struct pias_rap r;
	struct pias_err e;
	struct pias_rap_config c = {
		.binding_ttl_ns = 1, .negative_ttl_ns = 1, .report_expiry_ns = 1, .alpha = 1.5
	};

	(void)state;
	assert_int_equal(pias_rap_init(&r, &c, &e), -EINVAL);
	assert_msg_has(e.msg, "alpha");
	c.alpha = 0.5;
	c.negative_ttl_ns = 0;
	assert_int_equal(pias_rap_init(&r, &c, &e), -EINVAL);
	assert_int_equal(pias_rap_init(&r, NULL, &e), 0);
	assert_int_equal(r.cfg.binding_ttl_ns, 300 * SEC);
	assert_int_equal(r.cfg.negative_ttl_ns, 30 * SEC);
	assert_int_equal(r.cfg.bind_interval_ns, 100 * MS);
	assert_true(r.cfg.alpha == 0.0);
	pias_rap_free(&r);
}

/* --- restart: pias_rap_restore ------------------------------------------------- */

/* A group as the RAP publishes it: n JAPs ids[i] with weights w[i], largest first. */
static struct pias_group mkgroup(__u32 n, const __u32 *ids, const __u32 *w)
{
	struct pias_group g = { .count = n };

	for (__u32 i = 0; i < n; i++)
		g.japs[i] = (struct pias_group_jap){ .jap_id = ids[i], .weight = w[i] };
	return g;
}

/* ta: JAP 7 weight 5, JAP 8 weight 2. */
static int restore78(struct fx *f, const struct pias_ta *ta, __u64 now)
{
	struct pias_group g = mkgroup(2, (const __u32[]){ 7, 8 }, (const __u32[]){ 5, 2 });

	return pias_rap_restore(&f->r, ta, &g, now, &f->e);
}

static void test_restore_takes_over(void **state)
{
	struct fx *f = *state;
	struct pias_group want = mkgroup(2, (const __u32[]){ 7, 8 }, (const __u32[]){ 5, 2 });
	const struct pias_rap_group *g;

	assert_int_equal(restore78(f, &f->ta, T0), 0);
	assert_int_equal(f->acts.n, 0);
	g = pias_rap_group(&f->r, &f->ta);
	assert_non_null(g);
	assert_memory_equal(&g->g, &want, sizeof(want));
	assert_int_equal(g->omitted, 0);
	assert_true(g->generation > 0);
	assert_int_equal(g->nreports, 2);
	for (__u32 i = 0; i < 2; i++) {
		assert_int_equal(g->reports[i].jap_id, want.japs[i].jap_id);
		assert_int_equal(g->reports[i].count, want.japs[i].weight);
		assert_int_equal(g->reports[i].seq, 0);
		assert_int_equal(g->reports[i].last_report_ns, T0);
	}
	/* The table holds it already: a tick has nothing to write. */
	assert_int_equal(pias_rap_tick(&f->r, T0 + SEC, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	/* Each restore is a new generation, above any handed out before. */
	f->r.next_generation = 1000;
	assert_int_equal(restore78(f, &f->ta2, T0), 0);
	assert_int_equal(pias_rap_group(&f->r, &f->ta2)->generation, 1001);
}

static void test_restore_answers(void **state)
{
	struct fx *f = *state;
	__u32 gen;

	assert_int_equal(restore78(f, &f->ta, T0), 0);
	gen = pias_rap_group(&f->r, &f->ta)->generation;
	/* Queries: weights 5 and 2, in table order (7, then 8). */
	assert_int_equal(pias_rap_query(&f->r, 40, &f->ta, NULL, NULL, 0, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(last(f)->kind, PIAS_RAP_SEND_BINDING);
	assert_memory_equal(&last(f)->ta, &f->ta, sizeof(f->ta));
	assert_int_equal(last(f)->iap_id, 40);
	assert_int_equal(last(f)->jap_id, 7);
	assert_int_equal(last(f)->generation, gen);
	assert_int_equal(last(f)->lifetime_ns, PIAS_RAP_BINDING_TTL_NS);
	assert_int_equal(
		pias_rap_query(&f->r, 40, &f->ta, NULL, NULL, 0xb0000000u, T0, &f->acts, &f->e), 0);
	assert_int_equal(last(f)->jap_id, 7); /* 0.6875 < 5/7 */
	assert_int_equal(
		pias_rap_query(&f->r, 40, &f->ta, NULL, NULL, 0xc0000000u, T0, &f->acts, &f->e), 0);
	assert_int_equal(last(f)->jap_id, 8); /* 0.75 >= 5/7 */
	/* BOUND to either JAP: a binding (rate-limited); to another JAP: -ENOENT. */
	f->acts.n = 0;
	assert_int_equal(pias_rap_bound(&f->r, 41, &f->ta, 8, NULL, NULL, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(last(f)->kind, PIAS_RAP_SEND_BINDING);
	assert_int_equal(last(f)->jap_id, 8);
	assert_int_equal(last(f)->generation, gen);
	assert_int_equal(
		pias_rap_bound(&f->r, 41, &f->ta, 8, NULL, NULL, T0 + 50 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(
		pias_rap_bound(&f->r, 41, &f->ta, 7, NULL, NULL, T0 + 50 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(last(f)->jap_id, 7);
	assert_int_equal(pias_rap_bound(&f->r, 41, &f->ta, 9, NULL, NULL, T0, &f->acts, &f->e),
			 -ENOENT);
	assert_int_equal(f->acts.n, 2);
	/* NO_GROUP (the IAP's table lagged): a binding to one of its JAPs, not a negative. */
	assert_int_equal(pias_rap_no_group(&f->r, 42, &f->ta, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(last(f)->kind, PIAS_RAP_SEND_BINDING);
	assert_true(last(f)->jap_id == 7 || last(f)->jap_id == 8);
	assert_int_equal(last(f)->generation, gen);
}

static void test_restore_report_replaces(void **state)
{
	struct fx *f = *state;
	const struct pias_rap_group *g;
	__u32 gen;

	assert_int_equal(restore78(f, &f->ta, T0), 0);
	gen = pias_rap_group(&f->r, &f->ta)->generation;
	/* The smallest seq a JAP sends replaces the restored weight. */
	report(f, &f->ta, 7, 9, 1, T0 + SEC);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(last(f)->kind, PIAS_RAP_GROUP_SET);
	assert_int_equal(last(f)->group.count, 2);
	assert_int_equal(last(f)->group.japs[0].jap_id, 7);
	assert_int_equal(last(f)->group.japs[0].weight, 9);
	assert_int_equal(last(f)->group.japs[1].jap_id, 8);
	assert_int_equal(last(f)->group.japs[1].weight, 2);
	/* A seq from the clock (piasd's) as well; the order follows the weights. */
	report(f, &f->ta, 8, 10, 1700000000000000000ull, T0 + SEC);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(last(f)->group.japs[0].jap_id, 8);
	assert_int_equal(last(f)->group.japs[0].weight, 10);
	assert_int_equal(last(f)->group.japs[1].jap_id, 7);
	/* Only weights changed: same generation. */
	g = pias_rap_group(&f->r, &f->ta);
	assert_int_equal(g->generation, gen);
	assert_int_equal(g->nreports, 2);
	assert_int_equal(g->reports[0].seq, 1);
	assert_int_equal(g->reports[0].last_report_ns, T0 + SEC);
	/* From now on seqs are checked as usual: a stale one is ignored. */
	report(f, &f->ta, 7, 1, 1, T0 + 2 * SEC);
	assert_int_equal(f->acts.n, 2);
	/* A new JAP joins: new generation; one leaves: new generation. */
	report(f, &f->ta, 9, 1, 1, T0 + 2 * SEC);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(last(f)->group.count, 3);
	assert_true(pias_rap_group(&f->r, &f->ta)->generation > gen);
	gen = pias_rap_group(&f->r, &f->ta)->generation;
	report(f, &f->ta, 7, 0, 2, T0 + 2 * SEC);
	assert_int_equal(f->acts.n, 4);
	assert_int_equal(last(f)->group.count, 2);
	assert_int_equal(group_index_of(last(f), 7), -1);
	assert_true(pias_rap_group(&f->r, &f->ta)->generation > gen);
	/* All leave: GROUP_DEL. */
	report(f, &f->ta, 8, 0, 1700000000000000001ull, T0 + 3 * SEC);
	report(f, &f->ta, 9, 0, 2, T0 + 3 * SEC);
	assert_int_equal(f->acts.n, 6);
	assert_int_equal(last(f)->kind, PIAS_RAP_GROUP_DEL);
	assert_memory_equal(&last(f)->ta, &f->ta, sizeof(f->ta));
}

static void test_restore_reports_expire(void **state)
{
	struct fx *f = *state;
	struct pias_group g9 = mkgroup(1, (const __u32[]){ 9 }, (const __u32[]){ 1 });

	assert_int_equal(restore78(f, &f->ta, T0), 0);
	assert_int_equal(pias_rap_restore(&f->r, &f->ta2, &g9, T0, &f->e), 0);
	/* JAP 8 renews with its weight: nothing to write. */
	report(f, &f->ta, 8, 2, 1, T0 + 20 * SEC);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_rap_tick(&f->r, T0 + PIAS_RAP_REPORT_EXPIRY_NS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0); /* exactly the expiry: still fresh */
	assert_int_equal(pias_rap_tick(&f->r, T0 + PIAS_RAP_REPORT_EXPIRY_NS + 1, &f->acts, &f->e),
			 0);
	assert_int_equal(f->acts.n, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct pias_rap_action *a = &f->acts.a[i];

		if (!memcmp(&a->ta, &f->ta, sizeof(f->ta))) {
			assert_int_equal(a->kind, PIAS_RAP_GROUP_SET);
			assert_int_equal(a->group.count, 1);
			assert_int_equal(a->group.japs[0].jap_id, 8);
		} else {
			assert_memory_equal(&a->ta, &f->ta2, sizeof(f->ta2));
			assert_int_equal(a->kind, PIAS_RAP_GROUP_DEL);
		}
	}
	assert_null(pias_rap_group(&f->r, &f->ta2));
	/* Not renewed again: the last one goes too. */
	f->acts.n = 0;
	assert_int_equal(pias_rap_tick(&f->r, T0 + 20 * SEC + PIAS_RAP_REPORT_EXPIRY_NS + 1,
				       &f->acts, &f->e),
			 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(last(f)->kind, PIAS_RAP_GROUP_DEL);
	assert_memory_equal(&last(f)->ta, &f->ta, sizeof(f->ta));
	assert_null(pias_rap_group(&f->r, &f->ta));
	/* Gone: a NO_GROUP is answered negatively. */
	assert_int_equal(pias_rap_no_group(&f->r, 40, &f->ta, T0 + 60 * SEC, &f->acts, &f->e), 0);
	assert_int_equal(last(f)->kind, PIAS_RAP_SEND_NEGATIVE);
}

static void test_restore_jap_dead(void **state)
{
	struct fx *f = *state;
	struct pias_group g7 = mkgroup(1, (const __u32[]){ 7 }, (const __u32[]){ 1 });

	assert_int_equal(restore78(f, &f->ta, T0), 0);
	assert_int_equal(pias_rap_restore(&f->r, &f->ta2, &g7, T0, &f->e), 0);
	assert_int_equal(pias_rap_jap_dead(&f->r, 7, T0 + SEC, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct pias_rap_action *a = &f->acts.a[i];

		if (!memcmp(&a->ta, &f->ta, sizeof(f->ta))) {
			assert_int_equal(a->kind, PIAS_RAP_GROUP_SET);
			assert_int_equal(a->group.count, 1);
			assert_int_equal(a->group.japs[0].jap_id, 8);
		} else {
			assert_int_equal(a->kind, PIAS_RAP_GROUP_DEL);
		}
	}
	assert_null(pias_rap_group(&f->r, &f->ta2));
}

/* 16 JAPs restored; a 17th reports: the group becomes a sample; it leaves: the 16 as restored. */
static void test_restore_full_group(void **state)
{
	struct fx *f = *state;
	struct pias_group g = { .count = PIAS_GROUP_MAX_JAPS };
	__u64 total = 1;

	for (__u32 i = 0; i < PIAS_GROUP_MAX_JAPS; i++) {
		g.japs[i] = (struct pias_group_jap){ .jap_id = 100 + i,
						     .weight = 2 * PIAS_GROUP_MAX_JAPS - i };
		total += g.japs[i].weight;
	}
	assert_int_equal(pias_rap_restore(&f->r, &f->ta, &g, T0, &f->e), 0);
	assert_int_equal(pias_rap_group(&f->r, &f->ta)->nreports, PIAS_GROUP_MAX_JAPS);
	report(f, &f->ta, 7, 1, 1, T0);
	assert_int_equal(f->acts.n, 1);
	check_sample(last(f), 17, total);
	report(f, &f->ta, 7, 0, 2, T0);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(last(f)->kind, PIAS_RAP_GROUP_SET);
	assert_int_equal(last(f)->omitted, 0);
	assert_memory_equal(&last(f)->group, &g, sizeof(g));
}

static void test_restore_bad(void **state)
{
	struct fx *f = *state;
	struct pias_group g = mkgroup(2, (const __u32[]){ 7, 8 }, (const __u32[]){ 5, 2 });
	struct pias_ta bad = f->ta;
	struct pias_rap_group before;

	g.count = 0;
	assert_int_equal(pias_rap_restore(&f->r, &f->ta, &g, T0, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "0 JAPs");
	g.count = PIAS_GROUP_MAX_JAPS + 1;
	assert_int_equal(pias_rap_restore(&f->r, &f->ta, &g, T0, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "17 JAPs");
	/* weights all 0, a JAP id 0, a JAP twice: not a group the registry would publish */
	g = mkgroup(2, (const __u32[]){ 7, 8 }, (const __u32[]){ 0, 0 });
	assert_int_equal(pias_rap_restore(&f->r, &f->ta, &g, T0, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "weight above 0");
	g = mkgroup(2, (const __u32[]){ 7, 0 }, (const __u32[]){ 1, 1 });
	assert_int_equal(pias_rap_restore(&f->r, &f->ta, &g, T0, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "JAP id 0");
	g = mkgroup(2, (const __u32[]){ 7, 7 }, (const __u32[]){ 1, 1 });
	assert_int_equal(pias_rap_restore(&f->r, &f->ta, &g, T0, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "twice");
	bad.family = 5;
	assert_int_equal(restore78(f, &bad, T0), -EINVAL);
	assert_msg_has(f->e.msg, "family");
	assert_int_equal(pias_rap_ngroups(&f->r), 0);
	assert_int_equal(f->r.next_generation, 0);
	/* Twice: -EEXIST, the first one kept. */
	assert_int_equal(restore78(f, &f->ta, T0), 0);
	before = *pias_rap_group(&f->r, &f->ta);
	g = mkgroup(1, (const __u32[]){ 9 }, (const __u32[]){ 4 });
	assert_int_equal(pias_rap_restore(&f->r, &f->ta, &g, T0 + SEC, &f->e), -EEXIST);
	assert_msg_has(f->e.msg, "twice");
	assert_memory_equal(pias_rap_group(&f->r, &f->ta), &before, sizeof(before));
	/* A TA known from a report is not overwritten either. */
	report(f, &f->ta2, 9, 4, 1, T0);
	assert_int_equal(restore78(f, &f->ta2, T0), -EEXIST);
	assert_int_equal(pias_rap_group(&f->r, &f->ta2)->g.japs[0].jap_id, 9);
	assert_int_equal(pias_rap_ngroups(&f->r), 2);
	assert_int_equal(f->acts.n, 1); /* the report's GROUP_SET only */
}

int test_rap_registry(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_report_group_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_zero_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_share_sets, setup_alpha1, teardown),
		cmocka_unit_test_setup_teardown(test_random_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replicate_full_japs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_all_or_nothing, setup_alpha1, teardown),
		cmocka_unit_test_setup_teardown(test_sent_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scoped_prefixes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reports_merged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bound_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generation_bumps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_proportions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alpha1_nearest, setup_alpha1, teardown),
		cmocka_unit_test_setup_teardown(test_no_group_after_ring_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alpha1_self_nearest, setup_alpha1, teardown),
		cmocka_unit_test_setup_teardown(test_alpha1_bound_provisional, setup_alpha1,
						teardown),
		cmocka_unit_test_setup_teardown(test_bound_alpha0_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alpha_half, setup_alpha_half, teardown),
		cmocka_unit_test_setup_teardown(test_jap_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enobufs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_17th_jap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_group_100, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_group_1000, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_group_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_deadlines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_tick_65536, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_takes_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_report_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_reports_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_jap_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_full_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_bad, setup, teardown),
		cmocka_unit_test(test_init_config),
	};

	return cmocka_run_group_tests_name("rap_registry", tests, NULL, NULL);
}
