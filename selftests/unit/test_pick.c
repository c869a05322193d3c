// SPDX-License-Identifier: MIT
/*
 * include/pias/pick.h from user space: the JAP's target pick and the RAP's
 * JAP pick, over arrays, as a simulator would call them. New flows land in
 * proportion to the weights, the same hash lands on the same target,
 * targets that may not take a flow never get one, and the scoped and
 * replicate policies keep their promises. selftests/prog/test_tset.c
 * checks that the BPF program picks what these compute.
 */
#include <stdlib.h>
#include <string.h>

#include <pias/pick.h>

#include "maps.h"
#include "unit.h"

/* Eligibility for the flat pick: bit per target id, set: may not take the flow. */
struct unfit {
	__u8 no[PIAS_MAX_TARGETS / 8];
};

static int flat_ok(void *arg, __u32 id, __u32 scoped)
{
	const struct unfit *u = arg;

	(void)scoped;
	return !u || !(u->no[id / 8] & (1u << (id % 8)));
}

static void unfit_set(struct unfit *u, __u32 id)
{
	u->no[id / 8] |= (__u8)(1u << (id % 8));
}

/* A set of n targets, ids 1..n, weight 1 + i % 7, weighted policy. */
struct fixture {
	__u32 n;
	__u32 ids[PIAS_TSET_MAX];
	__u32 weights[PIAS_TSET_MAX];
	struct pias_tset_built b;
	struct pias_tset h;
	struct pias_pick_flat flat;
};

static struct fixture *fixture_new(__u32 n, struct unfit *unfit)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->n = n;
	for (__u32 i = 0; i < n; i++) {
		f->ids[i] = i + 1;
		f->weights[i] = 1 + i % 7;
	}
	assert_int_equal(pias_tset_build(f->ids, f->weights, NULL, n, NULL, &f->b, NULL), 0);
	f->h.count = n;
	f->h.total = f->b.total;
	f->flat = (struct pias_pick_flat){
		.ids = f->b.ids, .cum = f->b.cum, .count = n, .ok = flat_ok, .arg = unfit
	};
	return f;
}

static void fixture_free(struct fixture *f)
{
	pias_tset_built_free(&f->b);
	free(f);
}

static __u32 pick(struct fixture *f, __u32 hash)
{
	__u32 why;

	return pias_pick_target_in(&f->h, NULL, hash, &f->flat, pias_pick_flat_draw,
				   pias_pick_flat_take, &why);
}

/* A spread of hashes, as flows' would be. */
static __u32 hash_of(__u32 i)
{
	return pias_final(pias_mix(PIAS_HASH_SEED, i), 4);
}

static void search_finds_the_share(void **state)
{
	const __u32 cum[] = { 1, 3, 3, 6, 10 }; /* weights 1, 2, 0, 3, 4 */
	const __u32 want[] = { 0, 1, 1, 3, 3, 3, 4, 4, 4, 4 };

	(void)state;
	for (__u32 r = 0; r < 10; r++)
		assert_int_equal(pias_pick_search(cum, 5, r, PIAS_PICK_TOP_SET), want[r]);
	/* the entry of weight 0 is never a share's */
	for (__u32 r = 0; r < 10; r++)
		assert_int_not_equal(pias_pick_search(cum, 5, r, PIAS_PICK_TOP_INLINE), 2);
}

/* A total past 32 bits: halved until it fits, a weight above 0 never 0. */
static void sums_fit_32_bits(void **state)
{
	const __u32 w[] = { 0xffffffffu, 0xffffffffu, 1, 0 };
	__u32 cum[4], total;

	(void)state;
	total = pias_pick_sums(w, 4, cum);
	assert_int_equal(total, cum[3]);
	/* halved twice: 2^30 each, and the 1 stays 1 */
	assert_int_equal(cum[0], 0x40000000u);
	assert_int_equal(cum[1] - cum[0], cum[0]);
	assert_int_equal(cum[2] - cum[1], 1);
	assert_int_equal(cum[3], cum[2]);
	total = pias_pick_sums((const __u32[]){ 3, 5 }, 2, cum);
	assert_int_equal(total, 8);
	assert_int_equal(cum[0], 3);
}

/*
 * 10,000 targets of weights 1-7: 700,000 hashes land on each weight class
 * in proportion to its weight (the classes' shares 1/28 .. 7/28: each
 * count within 4% of its share, about 8 sd of the smallest), and on each
 * target of a class alike.
 */
static void weighted_in_proportion(void **state)
{
	struct fixture *f = fixture_new(10000, NULL);
	const __u32 draws = 700000;
	__u64 class_w[8] = { 0 }, class_n[8] = { 0 };
	__u32 *hits = calloc(10001, sizeof(*hits)), lo = draws, hi = 0;

	(void)state;
	assert_non_null(hits);
	for (__u32 i = 0; i < 10000; i++)
		class_w[f->weights[i]] += f->weights[i];
	for (__u32 i = 0; i < draws; i++) {
		__u32 id = pick(f, hash_of(i));

		assert_true(id >= 1 && id <= 10000);
		hits[id]++;
		class_n[f->weights[id - 1]]++;
	}
	for (__u32 w = 1; w <= 7; w++) {
		double want = (double)draws * class_w[w] / f->b.total;

		assert_in_range(class_n[w], (__u64)(want * 0.96), (__u64)(want * 1.04));
	}
	/* weight 7, mean 122.5 draws each: none far off (sd 11) */
	for (__u32 i = 0; i < 10000; i++)
		if (f->weights[i] == 7) {
			lo = hits[i + 1] < lo ? hits[i + 1] : lo;
			hi = hits[i + 1] > hi ? hits[i + 1] : hi;
		}
	assert_true(lo > 55 && hi < 190);
	free(hits);
	fixture_free(f);
}

/* The same hash picks the same target: a flow's packets agree. */
static void same_hash_same_target(void **state)
{
	struct fixture *f = fixture_new(1000, NULL);

	(void)state;
	for (__u32 i = 0; i < 5000; i++)
		assert_int_equal(pick(f, hash_of(i)), pick(f, hash_of(i)));
	fixture_free(f);
}

/*
 * Targets that may not take a flow (draining, down, the client itself)
 * get none; the rest keep their proportions: with every third target
 * unfit, the others' classes still land as their weights say (within 6%:
 * the walk after eight missed draws, one flow in 6,600, favours some).
 */
static void unfit_targets_skipped(void **state)
{
	struct unfit *u = calloc(1, sizeof(*u));
	struct fixture *f;
	__u64 class_w[8] = { 0 }, class_n[8] = { 0 }, fit_total = 0;
	const __u32 draws = 300000;

	(void)state;
	assert_non_null(u);
	for (__u32 id = 1; id <= 3000; id += 3)
		unfit_set(u, id);
	f = fixture_new(3000, u);
	for (__u32 i = 0; i < 3000; i++)
		if (flat_ok(u, f->ids[i], 0)) {
			class_w[f->weights[i]] += f->weights[i];
			fit_total += f->weights[i];
		}
	for (__u32 i = 0; i < draws; i++) {
		__u32 id = pick(f, hash_of(i));

		assert_true(id && flat_ok(u, id, 0));
		class_n[f->weights[id - 1]]++;
	}
	for (__u32 w = 1; w <= 7; w++) {
		double want = (double)draws * class_w[w] / fit_total;

		assert_in_range(class_n[w], (__u64)(want * 0.94), (__u64)(want * 1.06));
	}
	fixture_free(f);
	free(u);
}

/*
 * A set of up to PIAS_PICK_WALK targets is searched whole: the one target
 * that may take the flow is found whatever the hash (the client itself
 * excluded, it steps to the next); none: 0.
 */
static void small_set_found_whole(void **state)
{
	struct unfit *u = calloc(1, sizeof(*u));
	struct fixture *f;

	(void)state;
	assert_non_null(u);
	for (__u32 id = 1; id <= PIAS_PICK_WALK; id++)
		if (id != 17)
			unfit_set(u, id);
	f = fixture_new(PIAS_PICK_WALK, u);
	for (__u32 i = 0; i < 2000; i++)
		assert_int_equal(pick(f, hash_of(i)), 17);
	unfit_set(u, 17);
	for (__u32 i = 0; i < 200; i++)
		assert_int_equal(pick(f, hash_of(i)), 0);
	fixture_free(f);
	free(u);
}

/* Scoped: target addresses in three /24s, one without targets. */
static int scoped_ok(void *arg, __u32 id, __u32 scoped)
{
	const union pias_addr *client = arg;
	union pias_addr a = { .v4 = pias_be32_to_cpu(0xc6336400u | (id % 3) << 8 | (id & 0x7f)) };

	/* 198.51.100+k.id: the target's address, in the client's /24 when scoped */
	return !scoped || pias_prefix_match(&a, client, 24);
}

static void scoped_keeps_to_the_prefix(void **state)
{
	__u32 ids[300], w[300];
	union pias_addr addrs[300], client;
	struct pias_policy pol = { .kind = PIAS_POLICY_SCOPED, .scope_len = 24 };
	struct pias_tset_built b;
	struct pias_tset h = { 0 };
	struct pias_pick_flat flat;

	(void)state;
	for (__u32 i = 0; i < 300; i++) {
		ids[i] = i + 1;
		w[i] = 1;
		addrs[i].v4 = pias_be32_to_cpu(0xc6336400u | ((i + 1) % 3) << 8 | ((i + 1) & 0x7f));
		memset(&addrs[i].v6[1], 0, 12);
	}
	assert_int_equal(pias_tset_build(ids, w, addrs, 300, &pol, &b, NULL), 0);
	/* three prefixes, each one run of entries, in address order */
	assert_int_equal(b.nranges, 3);
	for (__u32 r = 0; r < 3; r++) {
		assert_int_equal(b.ranges[r].hi - b.ranges[r].lo, 100);
		for (__u32 i = b.ranges[r].lo; i < b.ranges[r].hi; i++)
			assert_int_equal(b.ids[i] % 3, (r + 0) % 3);
	}
	h.count = b.n;
	h.total = b.total;
	h.policy = pol;
	flat = (struct pias_pick_flat){
		.ids = b.ids, .cum = b.cum, .count = b.n, .ok = scoped_ok, .arg = &client
	};
	for (__u32 r = 0; r < 3; r++) {
		client = b.prefixes[r];
		client.v4 |= pias_be32_to_cpu(77);
		for (__u32 i = 0; i < 3000; i++) {
			__u32 why, id = pias_pick_target_in(&h, &b.ranges[r], hash_of(i), &flat,
							    pias_pick_flat_draw,
							    pias_pick_flat_take, &why);

			assert_int_equal(id % 3, r);
			assert_int_equal(why, 0);
		}
	}
	/* a client in none of them: any target (fallback), or none when strict */
	client.v4 = pias_be32_to_cpu(0xcb007101u);
	{
		__u32 why, id = pias_pick_target_in(&h, NULL, 5, &flat, pias_pick_flat_draw,
						    pias_pick_flat_take, &why);

		assert_true(id >= 1 && id <= 300);
		assert_int_equal(why, PIAS_PICK_F_FALLBACK);
		h.policy.flags = PIAS_POLICY_F_STRICT;
		id = pias_pick_target_in(&h, NULL, 5, &flat, pias_pick_flat_draw,
					 pias_pick_flat_take, &why);
		assert_int_equal(id, 0);
		assert_int_equal(why, PIAS_PICK_F_NO_SCOPE);
	}
	pias_tset_built_free(&b);
}

/* replicate/k: k distinct targets that may take the flow, the same for the same hash. */
static void replicas_distinct(void **state)
{
	struct unfit *u = calloc(1, sizeof(*u));
	struct fixture *f;

	(void)state;
	assert_non_null(u);
	unfit_set(u, 3);
	f = fixture_new(6, u);
	for (__u32 i = 0; i < 500; i++) {
		__u32 out[PIAS_REPLICATE_MAX], again[PIAS_REPLICATE_MAX];
		__u32 n = pias_pick_replicas(6, hash_of(i), 3, &f->flat, pias_pick_flat_take, out);

		assert_int_equal(n, 3);
		assert_int_equal(
			pias_pick_replicas(6, hash_of(i), 3, &f->flat, pias_pick_flat_take, again),
			3);
		assert_memory_equal(out, again, sizeof(__u32) * 3);
		for (__u32 a = 0; a < 3; a++) {
			assert_int_not_equal(out[a], 3);
			for (__u32 b = 0; b < a; b++)
				assert_int_not_equal(out[a], out[b]);
		}
	}
	/* fewer fit than k: all of them */
	assert_int_equal(pias_pick_replicas(6, 1, 4, &f->flat, pias_pick_flat_take,
					    (__u32[PIAS_REPLICATE_MAX]){ 0 }),
			 4);
	fixture_free(f);
	free(u);
}

/*
 * The RAP's pick: JAPs of weights 1, 2, 3, 4 get new flows in that
 * proportion; an unusable JAP none, and the rest share its part.
 */
static void rap_pick_in_proportion(void **state)
{
	struct pias_group g = { .count = 4 };
	__u32 n[4] = { 0 };
	const __u32 draws = 100000;

	(void)state;
	for (__u32 i = 0; i < 4; i++)
		g.japs[i] = (struct pias_group_jap){ .jap_id = 10 + i, .weight = i + 1 };
	for (__u32 i = 0; i < draws; i++) {
		int at = pias_pick_jap_in(&g, hash_of(i), 0xf);

		assert_true(at >= 0 && at < 4);
		n[at]++;
		/* the same hash, the same JAP */
		assert_int_equal(pias_pick_jap_in(&g, hash_of(i), 0xf), at);
	}
	for (__u32 i = 0; i < 4; i++)
		assert_in_range(n[i], draws * (i + 1) / 10 * 96 / 100,
				draws * (i + 1) / 10 * 104 / 100);
	memset(n, 0, sizeof(n));
	for (__u32 i = 0; i < draws; i++)
		n[pias_pick_jap_in(&g, hash_of(i), 0xf & ~0x4u)]++;
	assert_int_equal(n[2], 0);
	assert_in_range(n[3], draws * 4 / 7 * 96 / 100, draws * 4 / 7 * 104 / 100);
	assert_int_equal(pias_pick_jap_in(&g, 1, 0), -1);
	g.japs[0].weight = 0;
	assert_int_equal(pias_pick_jap_in(&g, 1, 0x1), -1);
}

int test_pick(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(search_finds_the_share),
		cmocka_unit_test(sums_fit_32_bits),
		cmocka_unit_test(weighted_in_proportion),
		cmocka_unit_test(same_hash_same_target),
		cmocka_unit_test(unfit_targets_skipped),
		cmocka_unit_test(small_set_found_whole),
		cmocka_unit_test(scoped_keeps_to_the_prefix),
		cmocka_unit_test(replicas_distinct),
		cmocka_unit_test(rap_pick_in_proportion),
	};

	return cmocka_run_group_tests_name("pick", tests, NULL, NULL);
}
