// SPDX-License-Identifier: MIT
/*
 * One large group end to end in the registries (issue 13, "large groups"):
 * 10,000 targets spread over 100 JAPs (100 pias_jap registries), which
 * report to one pias_rap registry, the group's RAP. Each JAP's actions
 * are applied as piasd applies them (daemon/piasd/proto.c): its SET_SET
 * read whole from the registry (pias_jap_set_read) and built as the
 * dataplane would hold it (pias_tset_build), its REPORTs handed to the
 * RAP in order. Then:
 *
 *  - each JAP's set holds all its targets, each with its weight, and 0
 *    for those draining (they keep their flows, take no new one);
 *  - the RAP's draw of a JAP for an IAP (pias_rap_query) gives each JAP
 *    its share of the IAPs, in proportion to the count it reported, and
 *    that count is its active targets within the report fraction;
 *  - the dataplane's pick (include/pias/pick.h) over each JAP's set gives
 *    each target new flows in proportion to its weight, a draining one none.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <pias/pick.h>

#include "jap.h"
#include "maps.h"
#include "rap_registry.h"
#include "unit.h"

#define NJAPS	 100
#define NTARGETS 10000
#define MS	 1000000ull
#define T0	 (1000 * MS)
#define IAP_ID	 5000 /* the IAP that asks the RAP: not one of the JAPs (ids 1..NJAPS) */

/* JAP k's targets: 50, 75, 100, 125 or 150 (10,000 in all); weight 1 + i % 4; every 10th drains. */
static __u32 count_of(__u32 k)
{
	return 100 + 25 * (k % 5) - 50;
}

static __u32 weight_of(__u32 i)
{
	return 1 + i % 4;
}

static bool drains(__u32 i)
{
	return i % 10 == 9;
}

/* What the dataplane of JAP k holds for the group after its actions. */
struct jap_side {
	struct pias_jap j;
	__u32 ids[NTARGETS], weights[NTARGETS]; /* its set, as last written */
	__u32 n;
	bool has_set;
	__u64 seq; /* of its last REPORT */
	__u32 reported;
};

struct world {
	struct jap_side jap[NJAPS];
	struct pias_rap rap;
	struct pias_ta ta;
	struct pias_jap_action jbuf[64];
	struct pias_rap_action rbuf[64];
	struct pias_err e;
};

/* JAP k's actions of one call, applied: the set read whole, reports to the RAP. */
static void apply(struct world *w, __u32 k, const struct pias_jap_actions *l, __u64 now)
{
	struct jap_side *s = &w->jap[k];

	for (size_t i = 0; i < l->n; i++) {
		const struct pias_jap_action *a = &l->a[i];
		struct pias_rap_actions ra = { .a = w->rbuf, .cap = 64 };
		struct pias_rap_report_in in;

		switch (a->kind) {
		case PIAS_JAP_SET_SET:
			assert_int_equal(pias_jap_set_read(&s->j, a, s->ids, s->weights, NTARGETS),
					 a->set.count);
			s->n = a->set.count;
			s->has_set = true;
			break;
		case PIAS_JAP_SET_DEL:
			s->has_set = false;
			break;
		case PIAS_JAP_REPORT:
			in = (struct pias_rap_report_in){ .count = a->report.count,
							  .seq = ++s->seq,
							  .share = a->report.share,
							  .policy = a->report.policy,
							  .policy_serial =
								  a->report.policy_serial };
			assert_int_equal(pias_rap_report_ex(&w->rap, &w->ta, k + 1, &in, NULL, NULL,
							    now, &ra, &w->e),
					 0);
			s->reported = a->report.count;
			break;
		default:
			break;
		}
	}
}

static struct pias_jap_endpoint endpoint(__u32 k, __u32 i)
{
	struct pias_jap_endpoint ep = { .family = PIAS_AF_INET, .port = 8080 };

	ep.addr.v4 = htonl(0x0a000000u | k << 16 | i);
	return ep;
}

static struct world *world_new(void)
{
	struct world *w = calloc(1, sizeof(*w));
	struct pias_jap_actions l = { 0 };
	__u64 now = T0;

	assert_non_null(w);
	w->ta = (struct pias_ta){ .family = PIAS_AF_INET, .port = 80, .proto = PIAS_PROTO_TCP };
	w->ta.addr.v4 = htonl(0xcb007107u); /* 203.0.113.7 */
	assert_int_equal(pias_rap_init(&w->rap, NULL, &w->e), 0);
	for (__u32 k = 0; k < NJAPS; k++) {
		struct jap_side *s = &w->jap[k];

		assert_int_equal(pias_jap_init(&s->j, NULL, &w->e), 0);
		for (__u32 i = 0; i < count_of(k); i++) {
			struct pias_jap_endpoint ep = endpoint(k, i);

			l = (struct pias_jap_actions){ .a = w->jbuf, .cap = 64 };
			assert_int_equal(
				pias_jap_register(&s->j, &w->ta, &ep, weight_of(i), now, &l, &w->e),
				(int)i + 1);
			apply(w, k, &l, now);
		}
		for (__u32 i = 0; i < count_of(k); i++) {
			if (!drains(i))
				continue;
			l = (struct pias_jap_actions){ .a = w->jbuf, .cap = 64 };
			assert_int_equal(pias_jap_leave(&s->j, &w->ta, i + 1, now, &l, &w->e), 0);
			apply(w, k, &l, now);
		}
	}
	return w;
}

static void world_free(struct world *w)
{
	for (__u32 k = 0; k < NJAPS; k++)
		pias_jap_free(&w->jap[k].j);
	pias_rap_free(&w->rap);
	free(w);
}

static __u32 active_of(__u32 k)
{
	__u32 n = 0;

	for (__u32 i = 0; i < count_of(k); i++)
		n += !drains(i);
	return n;
}

/* Each JAP's set: every one of its targets, with its weight, 0 while draining. */
static void sets_whole(struct world *w)
{
	__u32 total = 0;

	for (__u32 k = 0; k < NJAPS; k++) {
		const struct jap_side *s = &w->jap[k];
		bool *seen = calloc(count_of(k) + 1, sizeof(*seen));

		assert_non_null(seen);
		assert_true(s->has_set);
		assert_int_equal(s->n, count_of(k));
		for (__u32 e = 0; e < s->n; e++) {
			__u32 id = s->ids[e], i = id - 1;

			assert_true(id >= 1 && id <= count_of(k));
			assert_false(seen[id]);
			seen[id] = true;
			assert_int_equal(s->weights[e], drains(i) ? 0 : weight_of(i));
		}
		total += s->n;
		free(seen);
	}
	assert_int_equal(total, NTARGETS);
}

/*
 * The RAP's draw: IAPs asking with random numbers spread evenly over
 * 2^32 land on each JAP in proportion to its reported count (to within
 * one query: the draw is a point on the cumulative weights); each
 * reported count is its active targets within the report fraction.
 */
static void rap_draw_in_proportion(struct world *w)
{
	const __u32 queries = 200000;
	__u32 *got = calloc(NJAPS + 1, sizeof(*got));
	__u64 reported = 0;
	const struct pias_rap_group *rg = pias_rap_group(&w->rap, &w->ta);

	assert_non_null(got);
	assert_non_null(rg);
	assert_int_equal(rg->neligible, NJAPS);
	/* the dataplane's group: a sample of 16 draws (a JAP drawn twice is in once), the rest out */
	assert_true(rg->sampled);
	assert_true(rg->g.count >= 2 && rg->g.count <= PIAS_GROUP_MAX_JAPS);
	assert_int_equal(rg->omitted, NJAPS - rg->g.count);
	for (__u32 k = 0; k < NJAPS; k++) {
		double active = active_of(k), r = w->jap[k].reported;

		assert_true(fabs(r - active) <= PIAS_JAP_REPORT_FRACTION * r);
		reported += w->jap[k].reported;
	}
	for (__u32 q = 0; q < queries; q++) {
		struct pias_rap_actions ra = { .a = w->rbuf, .cap = 64 };
		__u32 rnd = (__u32)(((__u64)q << 32) / queries + (1u << 31) / queries);

		assert_int_equal(
			pias_rap_query(&w->rap, IAP_ID, &w->ta, NULL, NULL, rnd, T0, &ra, &w->e),
			0);
		assert_int_equal(ra.n, 1);
		assert_int_equal(ra.a[0].kind, PIAS_RAP_SEND_BINDING);
		assert_true(ra.a[0].jap_id >= 1 && ra.a[0].jap_id <= NJAPS);
		got[ra.a[0].jap_id]++;
	}
	for (__u32 k = 0; k < NJAPS; k++) {
		double want = (double)queries * w->jap[k].reported / reported;

		assert_true(fabs(got[k + 1] - want) <= 1.5);
	}
	free(got);
}

static int any_target(void *arg, __u32 id, __u32 scoped)
{
	(void)arg;
	(void)id;
	(void)scoped;
	return 1; /* the weights alone keep the draining ones out */
}

/*
 * The dataplane's pick over each JAP's set, built as pias_tset_write
 * builds it: 200 flows per unit of weight; each target's within 6
 * standard deviations of its share, a draining one none.
 */
static void dataplane_in_proportion(struct world *w)
{
	const __u32 per_weight = 200;
	double worst = 0;

	for (__u32 k = 0; k < NJAPS; k++) {
		const struct jap_side *s = &w->jap[k];
		struct pias_tset_built b;
		struct pias_tset h = { 0 };
		struct pias_pick_flat flat;
		__u32 *got = calloc(count_of(k) + 1, sizeof(*got)), flows, why;

		assert_non_null(got);
		assert_int_equal(pias_tset_build(s->ids, s->weights, NULL, s->n, NULL, &b, &w->e),
				 0);
		h.count = b.n;
		h.total = b.total;
		flat = (struct pias_pick_flat){
			.ids = b.ids, .cum = b.cum, .count = b.n, .ok = any_target, .arg = NULL
		};
		flows = per_weight * b.total;
		for (__u32 f = 0; f < flows; f++) {
			__u32 hash = pias_final(pias_mix(k * 0x10001u, f), 8);
			__u32 id = pias_pick_target_in(&h, NULL, hash, &flat, pias_pick_flat_draw,
						       pias_pick_flat_take, &why);

			assert_true(id >= 1 && id <= count_of(k));
			got[id]++;
		}
		for (__u32 i = 0; i < count_of(k); i++) {
			double want = (double)per_weight * (drains(i) ? 0 : weight_of(i)),
			       p = want / flows, sd = sqrt(flows * p * (1 - p));

			if (drains(i)) {
				assert_int_equal(got[i + 1], 0);
				continue;
			}
			assert_true(fabs(got[i + 1] - want) <= 6 * sd);
			worst = fmax(worst, fabs(got[i + 1] - want) / sd);
		}
		pias_tset_built_free(&b);
		free(got);
	}
	print_message("10,000 targets over 100 JAPs: the worst target is %.1f sd from its share\n",
		      worst);
}

static void ten_thousand_over_a_hundred_japs(void **state)
{
	struct world *w = world_new();

	(void)state;
	sets_whole(w);
	rap_draw_in_proportion(w);
	dataplane_in_proportion(w);
	world_free(w);
}

/* A JAP's dataplane as its actions leave it: target entries by id, and its one set. */
struct one_dp {
	struct pias_target t[PIAS_TSET_MAX + 2];
	__u32 ids[PIAS_TSET_MAX + 1], weights[PIAS_TSET_MAX + 1];
	__u32 n;
	struct pias_policy policy;
};

static void one_apply(struct one_dp *d, const struct pias_jap *j, const struct pias_jap_actions *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct pias_jap_action *a = &l->a[i];

		if (a->kind == PIAS_JAP_TARGET_SET) {
			d->t[a->id] = a->target;
		} else if (a->kind == PIAS_JAP_SET_SET) {
			assert_int_equal(pias_jap_set_read(j, a, d->ids, d->weights, PIAS_TSET_MAX),
					 a->set.count);
			d->n = a->set.count;
			d->policy = a->set.policy;
		}
	}
}

/*
 * The default limit is the dataplane's (PIAS_TSET_MAX targets a group);
 * and a restart (daemon/piasd/restore.c: each id of the pinned set, with
 * its pias_targets entry, into pias_jap_restore) takes such a set back
 * whole: the same ids, the same weights (0 for the draining), the same
 * counts, and the next change writes it all again.
 */
static void restart_takes_a_full_set_back(void **state)
{
	struct one_dp *d = calloc(1, sizeof(*d));
	struct pias_jap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct pias_jap_action buf[8];
	struct pias_jap_actions l;
	struct pias_ta ta = { .family = PIAS_AF_INET, .port = 80, .proto = PIAS_PROTO_TCP };
	struct pias_jap_endpoint ep;
	const struct pias_jap_group *ga, *gb;
	struct one_dp *again = calloc(1, sizeof(*again));
	struct pias_err e;

	(void)state;
	assert_non_null(d);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(again);
	ta.addr.v4 = htonl(0xcb007108u);
	assert_int_equal(pias_jap_init(a, NULL, &e), 0);
	assert_int_equal(PIAS_JAP_GROUP_MAX_TARGETS, PIAS_TSET_MAX);
	for (__u32 i = 0; i < PIAS_TSET_MAX; i++) {
		ep = endpoint(i >> 16, i & 0xffff);
		l = (struct pias_jap_actions){ .a = buf, .cap = 8 };
		assert_int_equal(pias_jap_register(a, &ta, &ep, weight_of(i), T0, &l, &e),
				 (int)i + 1);
		one_apply(d, a, &l);
	}
	ep = endpoint(1, 0xffff);
	l = (struct pias_jap_actions){ .a = buf, .cap = 8 };
	assert_int_equal(pias_jap_register(a, &ta, &ep, 1, T0, &l, &e), -ENOSPC);
	for (__u32 i = 0; i < PIAS_TSET_MAX; i++) {
		if (!drains(i))
			continue;
		l = (struct pias_jap_actions){ .a = buf, .cap = 8 };
		assert_int_equal(pias_jap_leave(a, &ta, i + 1, T0 + MS, &l, &e), 0);
		one_apply(d, a, &l);
	}
	assert_int_equal(d->n, PIAS_TSET_MAX);
	/* kill -9, start again: what restore.c does with the pinned set and entries */
	assert_int_equal(pias_jap_init(b, NULL, &e), 0);
	for (__u32 k = 0; k < d->n; k++)
		assert_int_equal(pias_jap_restore(b, &ta, d->ids[k], &d->t[d->ids[k]], &d->policy,
						  T0 + 2 * MS, &e),
				 0);
	ga = pias_jap_group(a, &ta);
	gb = pias_jap_group(b, &ta);
	assert_non_null(gb);
	assert_int_equal(gb->count, ga->count);
	assert_int_equal(gb->nset, ga->nset);
	assert_int_equal(gb->active, ga->active);
	assert_int_equal(gb->up, ga->up);
	/* one more change: the set written again is the one before the restart, and the new one */
	l = (struct pias_jap_actions){ .a = buf, .cap = 8 };
	assert_int_equal(pias_jap_leave(b, &ta, 1, T0 + 3 * MS, &l, &e), 0);
	memcpy(again->t, d->t, sizeof(d->t));
	one_apply(again, b, &l);
	assert_int_equal(again->n, PIAS_TSET_MAX);
	for (__u32 k = 0; k < again->n; k++) {
		__u32 id = again->ids[k], i = id - 1;

		assert_int_equal(again->weights[k], drains(i) || id == 1 ? 0 : weight_of(i));
		assert_int_equal(again->t[id].state,
				 drains(i) || id == 1 ? PIAS_TARGET_DRAINING : PIAS_TARGET_ACTIVE);
	}
	pias_jap_free(a);
	pias_jap_free(b);
	free(a);
	free(b);
	free(d);
	free(again);
}

int test_large_group(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ten_thousand_over_a_hundred_japs),
		cmocka_unit_test(restart_takes_a_full_set_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
