// SPDX-License-Identifier: MIT
/*
 * Batched map writes (lib/maps.h *_many, issue 13 point 6): n targets,
 * groups or bindings written in one batch hold exactly what n single
 * writes would have written (slots, set flags, sets), a bad entry among
 * them writes none, and the deletes take them all back, slots included.
 * On the real maps of the loaded object.
 */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <bpf/bpf.h>

#include "jap_util.h"

#define MANY 5000

static struct pias_ta nth_ta(__u32 i)
{
	struct pias_ta ta = { 0 };

	ta.family = PIAS_AF_INET;
	ta.proto = PIAS_PROTO_UDP;
	ta.addr.v4 = htonl(0xcb007100u + i % 200); /* 203.0.113.x */
	ta.port = (__u16)(2000 + i / 200);
	return ta;
}

static struct pias_target nth_target(__u32 i)
{
	struct pias_target t = { 0 };

	t.family = PIAS_AF_INET;
	t.addr.v4 = htonl(0xc6336400u + i % 250); /* 198.51.100.x */
	t.port = (__u16)(1000 + i / 250);
	t.state = i % 3 ? PIAS_TARGET_DOWN : PIAS_TARGET_DRAINING;
	t.weight = 1 + i % 7;
	return t;
}

/* 5,000 targets in a batch read back as written; a bad one among them writes none. */
static void test_targets_many(void **state)
{
	__u32 *ids = calloc(MANY, sizeof(*ids));
	struct pias_target *t = calloc(MANY, sizeof(*t)), got;
	struct pias_err e;

	(void)state;
	assert_true(ids && t);
	for (__u32 i = 0; i < MANY; i++) {
		ids[i] = PIAS_MAX_TARGETS - 1 - i; /* high ids: 17 bits */
		t[i] = nth_target(i);
	}
	t[MANY - 1].port = 0;
	assert_int_equal(pias_targets_set_many(&g_pr.maps, ids, t, MANY, &e), -EINVAL);
	assert_ok(bpf_map_lookup_elem(g_pr.maps.fd[PIAS_M_TARGETS], &ids[0], &got));
	assert_int_equal(got.state, PIAS_TARGET_UNUSED);
	t[MANY - 1].port = 80;
	assert_ok(pias_targets_set_many(&g_pr.maps, ids, t, MANY, &e));
	for (__u32 i = 0; i < MANY; i++) {
		assert_ok(bpf_map_lookup_elem(g_pr.maps.fd[PIAS_M_TARGETS], &ids[i], &got));
		assert_memory_equal(&got, &t[i], sizeof(got));
	}
	assert_ok(pias_targets_del_many(&g_pr.maps, ids, MANY, &e));
	for (__u32 i = 0; i < MANY; i++) {
		assert_ok(bpf_map_lookup_elem(g_pr.maps.fd[PIAS_M_TARGETS], &ids[i], &got));
		assert_int_equal(got.state, PIAS_TARGET_UNUSED);
	}
	free(ids);
	free(t);
}

/* Groups in a batch: each with its own slot, as pias_group_put; deleted, slots back. */
static void test_groups_many(void **state)
{
	struct pias_ta *tas = calloc(MANY, sizeof(*tas));
	struct pias_group *g = calloc(MANY, sizeof(*g)), got;
	long before = pr_count(&g_pr, g_pr.maps.fd[PIAS_M_GROUP_SLOTS]),
	     had = pr_count(&g_pr, g_pr.maps.fd[PIAS_M_GROUPS]);
	struct pias_err e;

	(void)state;
	assert_true(tas && g);
	for (__u32 i = 0; i < MANY; i++) {
		tas[i] = nth_ta(i);
		g[i].count = 1 + i % 3;
		for (__u32 k = 0; k < g[i].count; k++)
			g[i].japs[k] = (struct pias_group_jap){ .jap_id = 10 + k + i % 50,
								.weight = k + 1 };
	}
	g[7].count = 0; /* not a group */
	assert_int_equal(pias_groups_put_many(&g_pr.maps, tas, g, MANY, &e), -EINVAL);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_GROUPS]), had);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_GROUP_SLOTS]), before);
	g[7].count = 1;
	assert_ok(pias_groups_put_many(&g_pr.maps, tas, g, MANY, &e));
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_GROUPS]), had + MANY);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_GROUP_SLOTS]), before + MANY);
	for (__u32 i = 0; i < MANY; i += 97) {
		assert_ok(bpf_map_lookup_elem(g_pr.maps.fd[PIAS_M_GROUPS], &tas[i], &got));
		assert_int_equal(got.count, g[i].count);
		assert_int_equal(got.japs[0].jap_id, g[i].japs[0].jap_id);
		assert_int_equal(got.slot, pias_group_slot_of(&g_pr.maps, &tas[i]));
		assert_true(got.slot > 0);
	}
	pias_groups_del_many(&g_pr.maps, tas, MANY);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_GROUPS]), had);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_GROUP_SLOTS]), before);
	free(tas);
	free(g);
}

/*
 * Bindings in a batch, every third with a set of JAPs: those carry
 * PIAS_BINDING_F_SET and their set; a binding written again without one
 * loses its old set, as pias_binding_put; deleted, sets and slots go too.
 */
static void test_bindings_many(void **state)
{
	struct pias_ta *tas = calloc(MANY, sizeof(*tas));
	struct pias_binding *b = calloc(MANY, sizeof(*b)), got;
	struct pias_group *sets = calloc(MANY, sizeof(*sets)), set;
	long before = pr_count(&g_pr, g_pr.maps.fd[PIAS_M_GROUP_SLOTS]);
	/* what earlier tests of the world left (none of these TAs) */
	long had = pr_count(&g_pr, g_pr.maps.fd[PIAS_M_BINDINGS]),
	     had_sets = pr_count(&g_pr, g_pr.maps.fd[PIAS_M_BIND_SETS]);
	struct pias_err e;

	(void)state;
	assert_true(tas && b && sets);
	for (__u32 i = 0; i < MANY; i++) {
		tas[i] = nth_ta(i);
		b[i].jap_id = 10 + i % 50;
		b[i].generation = i;
		if (i % 3 == 0) {
			sets[i].count = 2;
			sets[i].japs[0] =
				(struct pias_group_jap){ .jap_id = 10 + i % 50, .weight = 3 };
			sets[i].japs[1] = (struct pias_group_jap){ .jap_id = 70, .weight = 1 };
		}
	}
	assert_ok(pias_bindings_put_many(&g_pr.maps, tas, b, sets, MANY, &e));
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_BINDINGS]), had + MANY);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_BIND_SETS]),
			 had_sets + (MANY + 2) / 3);
	for (__u32 i = 0; i < MANY; i += 31) {
		assert_ok(bpf_map_lookup_elem(g_pr.maps.fd[PIAS_M_BINDINGS], &tas[i], &got));
		assert_int_equal(got.generation, i);
		assert_int_equal(!!(got.flags & PIAS_BINDING_F_SET), i % 3 == 0);
		assert_int_equal(got.slot, pias_group_slot_of(&g_pr.maps, &tas[i]));
		if (i % 3 == 0) {
			assert_ok(
				bpf_map_lookup_elem(g_pr.maps.fd[PIAS_M_BIND_SETS], &tas[i], &set));
			assert_int_equal(set.count, 2);
			assert_int_equal(set.japs[1].jap_id, 70);
		}
	}
	/* again, with no sets at all: the old sets go */
	assert_ok(pias_bindings_put_many(&g_pr.maps, tas, b, NULL, MANY, &e));
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_BIND_SETS]), had_sets);
	assert_ok(bpf_map_lookup_elem(g_pr.maps.fd[PIAS_M_BINDINGS], &tas[0], &got));
	assert_false(got.flags & PIAS_BINDING_F_SET);
	pias_bindings_del_many(&g_pr.maps, tas, MANY);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_BINDINGS]), had);
	assert_int_equal(pr_count(&g_pr, g_pr.maps.fd[PIAS_M_GROUP_SLOTS]), before);
	free(tas);
	free(b);
	free(sets);
}

int run_map_many_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_targets_many, W_ONCE),
		WTEST(test_groups_many, W_ONCE),
		WTEST(test_bindings_many, W_ONCE),
	};

	return run_world_group("map_many", tests, sizeof(tests) / sizeof(tests[0]));
}
