// SPDX-License-Identifier: MIT
/* daemon/coords: Vivaldi updates, and convergence on a synthetic latency space. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coords.h"
#include "unit.h"

/* A small deterministic generator (tests must not depend on libc's rand). */
static __u32 lcg(__u64 *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (__u32)(*s >> 33);
}

static float unif(__u64 *s, float lo, float hi)
{
	return lo + (hi - lo) * (float)lcg(s) / 2147483648.0f;
}

static void test_init_valid(void **state)
{
	struct pias_coord c;

	(void)state;
	pias_coord_init(&c);
	assert_true(c.x == 0.0f && c.y == 0.0f);
	assert_true(c.h == PIAS_COORD_HEIGHT_MIN);
	assert_true(c.err == PIAS_COORD_ERR_MAX);
	assert_true(pias_coord_valid(&c));
	c.x = NAN;
	assert_false(pias_coord_valid(&c));
	c.x = INFINITY;
	assert_false(pias_coord_valid(&c));
	c.x = 2e8f;
	assert_false(pias_coord_valid(&c));
	c.x = 0;
	c.h = -1;
	assert_false(pias_coord_valid(&c));
	c.h = 10;
	c.err = 1.6f;
	assert_false(pias_coord_valid(&c));
	c.err = -0.1f;
	assert_false(pias_coord_valid(&c));
}

static void test_distance(void **state)
{
	struct pias_coord a = { .x = 0, .y = 0, .h = 100, .err = 1 };
	struct pias_coord b = { .x = 3000, .y = 4000, .h = 200, .err = 1 };

	(void)state;
	/* planar 5000 plus both heights */
	assert_true(fabsf(pias_coord_distance_us(&a, &b) - 5300.0f) < 0.01f);
	assert_true(pias_coord_distance_us(&a, &b) == pias_coord_distance_us(&b, &a));
	/* a node that moved: planar plus the height change, not the sum */
	assert_true(fabsf(pias_coord_shift_us(&a, &b) - 5100.0f) < 0.01f);
	assert_true(pias_coord_shift_us(&a, &a) == 0.0f);
}

static void test_bad_samples(void **state)
{
	struct pias_coord s, p, before;

	(void)state;
	pias_coord_init(&s);
	pias_coord_init(&p);
	p.x = 1000;
	before = s;
	assert_false(pias_coord_update(&s, &p, 0.0f));
	assert_false(pias_coord_update(&s, &p, -5.0f));
	assert_false(pias_coord_update(&s, &p, NAN));
	assert_false(pias_coord_update(&s, &p, INFINITY));
	assert_false(pias_coord_update(&s, &p, 2e7f)); /* 20 s is no RTT */
	p.err = NAN;
	assert_false(pias_coord_update(&s, &p, 1000.0f));
	assert_memory_equal(&s, &before, sizeof(s));
	p.err = 1.0f;
	assert_true(pias_coord_update(&s, &p, 1000.0f));
}

/* Two nodes at the origin push apart (a direction is found) and settle at the RTT. */
static void test_pair_converges(void **state)
{
	struct pias_coord a, b, a0;
	float d;

	(void)state;
	pias_coord_init(&a);
	pias_coord_init(&b);
	assert_true(pias_coord_update(&a, &b, 50000.0f));
	assert_true(hypotf(a.x, a.y) > 1000.0f); /* moved in the plane, not only up */
	a0 = a;
	pias_coord_init(&a);
	assert_true(pias_coord_update(&a, &b, 50000.0f));
	assert_memory_equal(&a, &a0, sizeof(a)); /* same inputs, same result */
	for (int i = 0; i < 200; i++) {
		struct pias_coord ac = a;

		assert_true(pias_coord_update(&a, &b, 50000.0f));
		assert_true(pias_coord_update(&b, &ac, 50000.0f));
	}
	d = pias_coord_distance_us(&a, &b);
	assert_true(fabsf(d - 50000.0f) < 500.0f);
	assert_true(a.err < 0.05f && b.err < 0.05f);
	assert_true(a.h >= PIAS_COORD_HEIGHT_MIN && b.h >= PIAS_COORD_HEIGHT_MIN);
}

/* Adaptive timestep: a confident node barely moves on an unsure peer's word. */
static void test_confident_node_moves_little(void **state)
{
	struct pias_coord sure = { .x = 0, .y = 0, .h = 10, .err = 0.02f };
	struct pias_coord unsure = { .x = 10000, .y = 0, .h = 10, .err = 1.5f };
	struct pias_coord newbie = { .x = 0, .y = 0, .h = 10, .err = 1.5f };
	struct pias_coord s = sure, n = newbie;

	(void)state;
	/* both see the peer 30 ms away while their coordinates say 10 ms */
	assert_true(pias_coord_update(&s, &unsure, 30000.0f));
	assert_true(pias_coord_update(&n, &unsure, 30000.0f));
	assert_true(pias_coord_shift_us(&sure, &s) < 100.0f);
	assert_true(pias_coord_shift_us(&newbie, &n) > 1000.0f);
	/* a sample that disagrees raises the error of the node that took it */
	assert_true(s.err > sure.err);
}

/*
 * Convergence on a synthetic space: 64 nodes uniform in a 150 ms x 150 ms
 * plane plus an access delay of 0.5-5 ms each (what the height models).
 * Each round every node takes one sample to a random peer. After 400
 * rounds the median relative error over all pairs must be under 5 % (the
 * space is exactly embeddable; Dabek et al. report about 10 % on real
 * Internet RTTs, which are not).
 */
#define VN 64

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

static float median_rel_err(const float (*pos)[3], const struct pias_coord *c, int n)
{
	static float errs[VN * VN];
	int k = 0;

	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++) {
			float rtt = hypotf(pos[i][0] - pos[j][0], pos[i][1] - pos[j][1]) +
				    pos[i][2] + pos[j][2];

			errs[k++] = fabsf(pias_coord_distance_us(&c[i], &c[j]) - rtt) / rtt;
		}
	qsort(errs, k, sizeof(errs[0]), cmp_float);
	return errs[k / 2];
}

static void test_vivaldi_converges(void **state)
{
	static float pos[VN][3];
	static struct pias_coord c[VN];
	__u64 rs = 42;
	float before, after, mean_err = 0;

	(void)state;
	for (int i = 0; i < VN; i++) {
		pos[i][0] = unif(&rs, 0, 150000);
		pos[i][1] = unif(&rs, 0, 150000);
		pos[i][2] = unif(&rs, 500, 5000);
		pias_coord_init(&c[i]);
	}
	before = median_rel_err(pos, c, VN);
	for (int round = 0; round < 400; round++)
		for (int i = 0; i < VN; i++) {
			int j = (int)(lcg(&rs) % (VN - 1));
			float rtt;

			j += j >= i;
			rtt = hypotf(pos[i][0] - pos[j][0], pos[i][1] - pos[j][1]) + pos[i][2] +
			      pos[j][2];
			pias_coord_update(&c[i], &c[j], rtt);
		}
	after = median_rel_err(pos, c, VN);
	for (int i = 0; i < VN; i++)
		mean_err += c[i].err / VN;
	print_message("vivaldi: %d nodes, 400 rounds: median relative error %.3f -> %.3f, "
		      "mean error estimate %.3f\n",
		      VN, before, after, mean_err);
	assert_true(after < 0.05f);
	assert_true(mean_err < 0.2f);
}

int test_coords(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_valid),
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_bad_samples),
		cmocka_unit_test(test_pair_converges),
		cmocka_unit_test(test_confident_node_moves_little),
		cmocka_unit_test(test_vivaldi_converges),
	};

	return cmocka_run_group_tests_name("coords", tests, NULL, NULL);
}
