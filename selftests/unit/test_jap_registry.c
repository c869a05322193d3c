// SPDX-License-Identifier: MIT
/* daemon/jap: the JAP's target registry, liveness and RAP reports (fake time). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jap.h"
#include "unit.h"

#define MS 1000000ull
#define T0 (1000 * MS) /* fake time starts here */

struct fx {
	struct pias_jap j;
	struct pias_jap_action buf[256];
	struct pias_jap_actions acts;
	struct pias_err e;
	struct pias_ta ta;
	__u64 reply[PIAS_MAX_TARGETS]; /* fake pias_tgt_stats last_reply_ns */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(pias_jap_init(&f->j, NULL, &f->e), 0);
	f->acts = (struct pias_jap_actions){ .a = f->buf, .cap = 256 };
	f->ta.family = PIAS_AF_INET;
	f->ta.addr.v4 = 0x0100000a; /* 10.0.0.1 in memory order */
	f->ta.port = 80;
	f->ta.proto = PIAS_PROTO_TCP;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pias_jap_free(&f->j);
	free(f);
	return 0;
}

static __u64 reply_of(void *ctx, __u32 id)
{
	return ((struct fx *)ctx)->reply[id];
}

static struct pias_jap_endpoint ep4(__u32 n)
{
	struct pias_jap_endpoint ep = { .family = PIAS_AF_INET, .port = 8080 };

	ep.addr.v4 = 0x0200a8c0 + (n << 24);
	return ep;
}

static int reg(struct fx *f, __u32 n, __u64 now)
{
	struct pias_jap_endpoint ep = ep4(n);

	return pias_jap_register(&f->j, &f->ta, &ep, 1, now, &f->acts, &f->e);
}

static int tick(struct fx *f, __u64 now)
{
	return pias_jap_tick(&f->j, now, reply_of, f, &f->acts, &f->e);
}

/* The index of the first action of kind in the list, or -1. */
static int find(const struct fx *f, enum pias_jap_action_kind kind)
{
	for (size_t i = 0; i < f->acts.n; i++)
		if (f->acts.a[i].kind == kind)
			return (int)i;
	return -1;
}

static size_t count_kind(const struct fx *f, enum pias_jap_action_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < f->acts.n; i++)
		n += f->acts.a[i].kind == kind;
	return n;
}

static void flush(struct fx *f)
{
	f->acts.n = 0;
}

/*
 * Entry k of the set that SET_SET action i names, as the registry gives
 * it (pias_jap_set_read): its id, and its weight into *w (may be NULL).
 */
static __u32 set_entry(const struct fx *f, size_t i, __u32 k, __u32 *w)
{
	const struct pias_jap_action *a = &f->acts.a[i];
	__u32 *ids = calloc(a->set.count + 1, sizeof(*ids)), *ws = calloc(a->set.count + 1, 4);
	__u32 id;

	assert_non_null(ids);
	assert_non_null(ws);
	assert_int_equal(a->kind, PIAS_JAP_SET_SET);
	assert_int_equal(pias_jap_set_read(&f->j, a, ids, ws, a->set.count), a->set.count);
	assert_true(k < a->set.count);
	id = ids[k];
	if (w)
		*w = ws[k];
	free(ids);
	free(ws);
	return id;
}

static __u32 set_id(const struct fx *f, size_t i, __u32 k)
{
	return set_entry(f, i, k, NULL);
}

/* The weight of target id in the set that action i names (fails if it is not in it). */
static __u32 set_weight(const struct fx *f, size_t i, __u32 id)
{
	for (__u32 k = 0; k < f->acts.a[i].set.count; k++) {
		__u32 w;

		if (set_entry(f, i, k, &w) == id)
			return w;
	}
	fail_msg("target %u is not in the set", id);
	return 0;
}

/*
 * A SET_SET's set is read from the registry when applied: in a list that
 * several calls share, an earlier SET_SET of a TA whose set a later call
 * replaced is stale (the later one writes it), one whose group is gone
 * finds none (a SET_DEL follows); the last one reads the set whole, ids
 * and weights.
 */
static void set_read_in_a_shared_list(void **state)
{
	struct fx *f = *state;
	struct pias_jap_endpoint ep = ep4(2);
	__u32 ids[4], w[4];

	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 3, T0, &f->acts, &f->e), 2);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_SET_SET);
	assert_int_equal(f->acts.a[1].set.count, 1);
	assert_int_equal(pias_jap_set_read(&f->j, &f->acts.a[1], ids, w, 4), -ESTALE);
	assert_int_equal(f->acts.a[4].kind, PIAS_JAP_SET_SET);
	assert_int_equal(pias_jap_set_read(&f->j, &f->acts.a[4], ids, w, 1), -ENOSPC);
	assert_int_equal(pias_jap_set_read(&f->j, &f->acts.a[4], ids, w, 4), 2);
	assert_int_equal(ids[0], 1);
	assert_int_equal(w[0], 1);
	assert_int_equal(ids[1], 2);
	assert_int_equal(w[1], 3);
	assert_int_equal(pias_jap_set_read(&f->j, &f->acts.a[0], ids, w, 4), -EINVAL);
	/* both fail, then leave (a DOWN target that leaves goes at once): the group goes */
	for (__u32 id = 1; id <= 2; id++) {
		flush(f);
		assert_int_equal(pias_jap_fail(&f->j, &f->ta, id, T0, &f->acts, &f->e), 0);
		assert_int_equal(pias_jap_leave(&f->j, &f->ta, id, T0, &f->acts, &f->e), 0);
	}
	assert_null(pias_jap_group(&f->j, &f->ta));
	f->acts.a[0] = (struct pias_jap_action){ .kind = PIAS_JAP_SET_SET, .ta = f->ta };
	assert_int_equal(pias_jap_set_read(&f->j, &f->acts.a[0], ids, w, 4), -ENOENT);
}

static void register_first(void **state)
{
	struct fx *f = *state;
	int id = reg(f, 1, T0);

	assert_int_equal(id, 1);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_SET);
	assert_int_equal(f->acts.a[0].id, 1);
	assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_ACTIVE);
	assert_int_equal(f->acts.a[0].target.port, 8080);
	assert_int_equal(f->acts.a[0].target.family, PIAS_AF_INET);
	assert_int_equal(f->acts.a[0].target.weight, 1);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_SET_SET);
	assert_memory_equal(&f->acts.a[1].ta, &f->ta, sizeof(f->ta));
	assert_int_equal(f->acts.a[1].set.count, 1);
	assert_int_equal(set_id(f, 1, 0), 1);
	assert_int_equal(f->acts.a[2].kind, PIAS_JAP_REPORT);
	assert_int_equal(f->acts.a[2].report.count, 1);
	assert_int_equal(pias_jap_find(&f->j, &f->ta, &(struct pias_jap_endpoint){ 0 }), -ENOENT);
	{
		struct pias_jap_endpoint ep = ep4(1);

		assert_int_equal(pias_jap_find(&f->j, &f->ta, &ep), 1);
	}
}

/* 1..3 are each beyond 25%, 4->5 is not, 4->6 is, 6->7 not, 6->8 is. */
static void report_threshold(void **state)
{
	struct fx *f = *state;
	const int want[] = { 0, 1, 2, 3, 4, -1, 6, -1, 8 };

	for (int n = 1; n <= 8; n++) {
		int r;

		flush(f);
		assert_int_equal(reg(f, (__u32)n, T0), n);
		r = find(f, PIAS_JAP_REPORT);
		if (want[n] < 0) {
			assert_int_equal(r, -1);
		} else {
			assert_true(r >= 0);
			assert_int_equal(f->acts.a[r].report.count, want[n]);
		}
		assert_int_equal(f->acts.a[find(f, PIAS_JAP_SET_SET)].set.count, n);
	}
}

static void refresh_keeps_alive(void **state)
{
	struct fx *f = *state;
	__u64 now = T0;

	assert_int_equal(reg(f, 1, now), 1);
	for (int i = 0; i < 50; i++) {
		now += 500 * MS;
		flush(f);
		assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 1, now, &f->acts, &f->e), 0);
		assert_int_equal(tick(f, now + 100 * MS), 0);
		assert_int_equal(f->acts.n, 0);
	}
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->targets[0].t.state, PIAS_TARGET_ACTIVE);
}

/*
 * A refresh that changes nothing appends no action, even to a list not yet
 * allocated (piasd grows its lists on demand): UBSan stopped piasd here,
 * memcpy(NULL, ..., 0), in test_piasd.sh under make test-asan.
 */
static void refresh_into_empty_list(void **state)
{
	struct fx *f = *state;
	struct pias_jap_actions none = { .a = NULL, .cap = 0 };
	struct pias_jap_endpoint ep = ep4(1);

	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 1, T0 + MS, &none, &f->e), 1);
	assert_int_equal(none.n, 0);
}

static void silent_target_goes_down(void **state)
{
	struct fx *f = *state;

	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(reg(f, 2, T0), 2);
	assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 2, T0 + 800 * MS, &f->acts, &f->e), 0);
	flush(f);
	/* exactly the timeout: still alive */
	assert_int_equal(tick(f, T0 + PIAS_JAP_REFRESH_TIMEOUT_NS), 0);
	assert_int_equal(f->acts.n, 0);
	/* 1 ns later: target 1 is DOWN, 2 refreshed later is not */
	assert_int_equal(tick(f, T0 + PIAS_JAP_REFRESH_TIMEOUT_NS + 1), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_SET);
	assert_int_equal(f->acts.a[0].id, 1);
	assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_DOWN);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_SET_SET);
	assert_int_equal(f->acts.a[1].set.count, 1);
	assert_int_equal(set_id(f, 1, 0), 2);
	assert_int_equal(f->acts.a[2].kind, PIAS_JAP_REPORT); /* 2 -> 1 */
	assert_int_equal(f->acts.a[2].report.count, 1);
	/* the last one goes down: empty set, REPORT(0) */
	flush(f);
	assert_int_equal(tick(f, T0 + 1800 * MS), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(f->acts.a[0].id, 2);
	assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_DOWN);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_SET_SET);
	assert_int_equal(f->acts.a[1].set.count, 0);
	assert_int_equal(f->acts.a[2].kind, PIAS_JAP_REPORT);
	assert_int_equal(f->acts.a[2].report.count, 0);
	/* refresh brings it back: ACTIVE, in the set, REPORT 0 -> 1 */
	flush(f);
	assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 2, T0 + 2000 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_ACTIVE);
	assert_int_equal(f->acts.a[1].set.count, 1);
	assert_int_equal(f->acts.a[2].report.count, 1);
	/* a DOWN target silent for down_expire is removed; its id freed */
	flush(f);
	assert_int_equal(tick(f, T0 + PIAS_JAP_REFRESH_TIMEOUT_NS + PIAS_JAP_DOWN_EXPIRE_NS + 1),
			 0);
	assert_int_equal(f->acts.a[find(f, PIAS_JAP_TARGET_DEL)].id, 1);
	/* ids go round: a freed id is not the next one given out */
	assert_int_equal(reg(f, 9, T0 + 40000 * MS), 3);
}

/* Detection bound: silent from T0, ticks every 100 ms: DOWN by T0 + 1 s. */
static void detection_bound(void **state)
{
	struct fx *f = *state;
	__u64 now = T0;

	assert_int_equal(reg(f, 1, T0), 1);
	flush(f);
	while (find(f, PIAS_JAP_TARGET_SET) < 0) {
		now += 100 * MS;
		assert_int_equal(tick(f, now), 0);
	}
	assert_true(now > T0 + PIAS_JAP_REFRESH_TIMEOUT_NS);
	assert_true(now <= T0 + PIAS_JAP_REFRESH_TIMEOUT_NS + 100 * MS);
	assert_true(now < T0 + 1000 * MS + 1);
}

static void replies_keep_alive(void **state)
{
	struct fx *f = *state;
	__u64 now = T0;

	assert_int_equal(reg(f, 1, T0), 1);
	flush(f);
	for (int i = 0; i < 100; i++) {
		now += 100 * MS;
		f->reply[1] = now - 50 * MS;
		assert_int_equal(tick(f, now), 0);
	}
	assert_int_equal(f->acts.n, 0);
	/* replies stop: DOWN once the last reply is older than the timeout */
	assert_int_equal(tick(f, f->reply[1] + PIAS_JAP_REFRESH_TIMEOUT_NS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(tick(f, f->reply[1] + PIAS_JAP_REFRESH_TIMEOUT_NS + 1), 0);
	assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_DOWN);
	/* a reply alone does not revive a DOWN target */
	flush(f);
	f->reply[1] = now + 2000 * MS;
	assert_int_equal(tick(f, now + 2000 * MS), 0);
	assert_int_equal(f->acts.n, 0);
}

static void leave_drains_then_removes(void **state)
{
	struct fx *f = *state;
	__u64 t1 = T0 + 10 * MS;

	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(reg(f, 2, T0), 2);
	flush(f);
	assert_int_equal(pias_jap_leave(&f->j, &f->ta, 1, t1, &f->acts, &f->e), 0);
	/* TARGET_SET(draining), its set (in it at weight 0: no new flow), REPORT 2 -> 1 */
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_SET);
	assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_DRAINING);
	assert_int_equal(f->acts.a[1].set.count, 2);
	assert_int_equal(set_weight(f, 1, 1), 0);
	assert_int_equal(set_weight(f, 1, 2), 1);
	assert_int_equal(f->acts.a[2].kind, PIAS_JAP_REPORT);
	assert_int_equal(f->acts.a[2].report.count, 1);
	/* leave again: no-op */
	flush(f);
	assert_int_equal(pias_jap_leave(&f->j, &f->ta, 1, t1, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	/* still draining just before the timeout (refreshes keep 2 alive) */
	for (__u64 t = T0 + 500 * MS; t < t1 + PIAS_JAP_DRAIN_TIMEOUT_NS; t += 500 * MS) {
		assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 2, t, &f->acts, &f->e), 0);
		assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 1, t, &f->acts, &f->e), 0);
		assert_int_equal(tick(f, t), 0);
	}
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->targets[0].t.state, PIAS_TARGET_DRAINING);
	assert_int_equal(
		pias_jap_refresh(&f->j, &f->ta, 2, t1 + PIAS_JAP_DRAIN_TIMEOUT_NS, &f->acts, &f->e),
		0);
	assert_int_equal(tick(f, t1 + PIAS_JAP_DRAIN_TIMEOUT_NS), 0);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_SET_SET);
	assert_int_equal(f->acts.a[0].set.count, 1);
	assert_int_equal(set_id(f, 0, 0), 2);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_TARGET_DEL);
	assert_int_equal(f->acts.a[1].id, 1);
	/* id 1 is free again, but ids go round: the next one is 3 */
	assert_int_equal(reg(f, 7, t1 + PIAS_JAP_DRAIN_TIMEOUT_NS), 3);
}

/*
 * A target that left registers again (its agent's health check passes
 * again): ACTIVE at once with the same id, in the set, counted; it leaves
 * and comes back as often as its check flaps.
 */
static void left_target_registers_again(void **state)
{
	struct fx *f = *state;
	const struct pias_jap_group *g;

	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(reg(f, 2, T0), 2);
	for (int round = 0; round < 3; round++) {
		__u64 t = T0 + (__u64)(round + 1) * 100 * MS;

		flush(f);
		assert_int_equal(pias_jap_leave(&f->j, &f->ta, 1, t, &f->acts, &f->e), 0);
		assert_int_equal(f->acts.a[f->acts.n - 1].report.count, 1);
		flush(f);
		assert_int_equal(reg(f, 1, t + 50 * MS), 1);
		g = pias_jap_group(&f->j, &f->ta);
		assert_int_equal(g->targets[0].t.state, PIAS_TARGET_ACTIVE);
		assert_false(g->targets[0].left);
		assert_true(find(f, PIAS_JAP_TARGET_SET) >= 0);
		assert_int_equal(f->acts.a[f->acts.n - 1].kind, PIAS_JAP_REPORT);
		assert_int_equal(f->acts.a[f->acts.n - 1].report.count, 2);
	}
}

/*
 * A target failing its health check: DOWN at once (out of the set: its
 * flows move), same id back ACTIVE at its next REGISTER; idempotent; a
 * draining one goes DOWN too.
 */
static void fail_takes_down_then_back(void **state)
{
	struct fx *f = *state;
	const struct pias_jap_group *g;

	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(reg(f, 2, T0), 2);
	flush(f);
	assert_int_equal(pias_jap_fail(&f->j, &f->ta, 1, T0 + MS, &f->acts, &f->e), 0);
	g = pias_jap_group(&f->j, &f->ta);
	assert_int_equal(g->targets[0].t.state, PIAS_TARGET_DOWN);
	assert_true(find(f, PIAS_JAP_SET_SET) >= 0);
	assert_int_equal(f->acts.a[find(f, PIAS_JAP_SET_SET)].set.count, 1);
	assert_int_equal(f->acts.a[f->acts.n - 1].report.count, 1);
	flush(f);
	assert_int_equal(pias_jap_fail(&f->j, &f->ta, 1, T0 + 2 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(reg(f, 1, T0 + 300 * MS), 1);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->targets[0].t.state, PIAS_TARGET_ACTIVE);
	assert_int_equal(f->acts.a[find(f, PIAS_JAP_SET_SET)].set.count, 2);
	/* draining, then failing: DOWN */
	assert_int_equal(pias_jap_leave(&f->j, &f->ta, 2, T0 + 400 * MS, &f->acts, &f->e), 0);
	assert_int_equal(pias_jap_fail(&f->j, &f->ta, 2, T0 + 500 * MS, &f->acts, &f->e), 0);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->targets[1].t.state, PIAS_TARGET_DOWN);
	assert_int_equal(pias_jap_fail(&f->j, &f->ta, 9, T0 + 500 * MS, &f->acts, &f->e), -ENOENT);
}

/*
 * Outlier detection ejects a target: the dataplane gets it DRAINING (in
 * the set, for its flows), the report counts it out, refreshes keep it
 * ejected and alive; back ACTIVE when let back. Idempotent both ways.
 */
static void eject_and_back(void **state)
{
	struct fx *f = *state;
	int k;

	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(reg(f, 2, T0), 2);
	flush(f);
	assert_int_equal(pias_jap_eject(&f->j, &f->ta, 1, true, T0 + MS, &f->acts, &f->e), 0);
	k = find(f, PIAS_JAP_TARGET_SET);
	assert_true(k >= 0);
	assert_int_equal(f->acts.a[k].id, 1);
	assert_int_equal(f->acts.a[k].target.state, PIAS_TARGET_DRAINING);
	assert_int_equal(f->acts.a[f->acts.n - 1].report.count, 1);
	/* still in the set, for its flows, at weight 0 */
	k = find(f, PIAS_JAP_SET_SET);
	assert_true(k >= 0);
	assert_int_equal(f->acts.a[k].set.count, 2);
	assert_int_equal(set_weight(f, (size_t)k, 1), 0);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->targets[0].t.state, PIAS_TARGET_ACTIVE);
	flush(f);
	assert_int_equal(pias_jap_eject(&f->j, &f->ta, 1, true, T0 + 2 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	/* its agent refreshes: alive, still out; ticks do not take it DOWN */
	for (__u64 t = T0 + 300 * MS; t < T0 + 3000 * MS; t += 300 * MS) {
		assert_int_equal(reg(f, 1, t), 1);
		assert_int_equal(reg(f, 2, t), 2);
		assert_int_equal(tick(f, t), 0);
	}
	assert_int_equal(find(f, PIAS_JAP_TARGET_SET), -1);
	flush(f);
	assert_int_equal(pias_jap_eject(&f->j, &f->ta, 1, false, T0 + 3000 * MS, &f->acts, &f->e),
			 0);
	k = find(f, PIAS_JAP_TARGET_SET);
	assert_true(k >= 0);
	assert_int_equal(f->acts.a[k].target.state, PIAS_TARGET_ACTIVE);
	k = find(f, PIAS_JAP_SET_SET);
	assert_true(k >= 0);
	assert_int_equal(set_weight(f, (size_t)k, 1), 1);
	assert_int_equal(f->acts.a[f->acts.n - 1].report.count, 2);
	assert_int_equal(pias_jap_eject(&f->j, &f->ta, 7, true, T0, &f->acts, &f->e), -ENOENT);
	/* ejected, then DOWN (dead), then registered again: back in, not ejected */
	assert_int_equal(pias_jap_eject(&f->j, &f->ta, 1, true, T0 + 3100 * MS, &f->acts, &f->e),
			 0);
	assert_int_equal(pias_jap_fail(&f->j, &f->ta, 1, T0 + 3200 * MS, &f->acts, &f->e), 0);
	assert_int_equal(reg(f, 1, T0 + 3300 * MS), 1);
	assert_false(pias_jap_group(&f->j, &f->ta)->targets[0].ejected);
	/* a refresh of an ACTIVE ejected target keeps it out */
	assert_int_equal(pias_jap_eject(&f->j, &f->ta, 1, true, T0 + 3400 * MS, &f->acts, &f->e),
			 0);
	assert_int_equal(reg(f, 1, T0 + 3500 * MS), 1);
	assert_true(pias_jap_group(&f->j, &f->ta)->targets[0].ejected);
}

static void last_target_leaves_deletes_set(void **state)
{
	struct fx *f = *state;

	assert_int_equal(reg(f, 1, T0), 1);
	flush(f);
	assert_int_equal(pias_jap_drain(&f->j, &f->ta, 1, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(set_weight(f, 1, 1), 0);
	assert_int_equal(f->acts.a[2].kind, PIAS_JAP_REPORT);
	assert_int_equal(f->acts.a[2].report.count, 0);
	flush(f);
	assert_int_equal(tick(f, T0 + PIAS_JAP_DRAIN_TIMEOUT_NS), 0);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_SET_DEL);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_TARGET_DEL);
	assert_null(pias_jap_group(&f->j, &f->ta));
	/* the operator drained it: its agent cannot bring it back, until undrain */
	assert_int_equal(reg(f, 1, T0), -EBUSY);
	assert_msg_has(f->e.msg, "the operator drained this endpoint (piasctl undrain)");
	{
		struct pias_jap_endpoint ep = ep4(1);

		assert_true(pias_jap_is_drained(&f->j, &f->ta, &ep));
		assert_int_equal(pias_jap_undrain(&f->j, &f->ta, &ep, T0, &f->acts, &f->e), 0);
		assert_false(pias_jap_is_drained(&f->j, &f->ta, &ep));
		assert_int_equal(pias_jap_undrain(&f->j, &f->ta, &ep, T0, &f->acts, &f->e),
				 -ENOENT);
	}
	/* a DOWN target that leaves is removed at once */
	assert_int_equal(reg(f, 1, T0), 2);
	assert_int_equal(tick(f, T0 + 2 * PIAS_JAP_REFRESH_TIMEOUT_NS), 0);
	flush(f);
	assert_int_equal(pias_jap_leave(&f->j, &f->ta, 2, T0 + 2000 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_SET_DEL);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_TARGET_DEL);
}

/*
 * Undrain while the target still drains: ACTIVE again, in the set, its
 * registrations taken; a leave by its agent is not sticky.
 */
static void undrain_while_draining(void **state)
{
	struct fx *f = *state;
	struct pias_jap_endpoint ep = ep4(1);
	const struct pias_jap_group *g;

	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(reg(f, 2, T0), 2);
	flush(f);
	assert_int_equal(pias_jap_drain(&f->j, &f->ta, 1, T0, &f->acts, &f->e), 0);
	assert_int_equal(reg(f, 1, T0 + 100 * MS), -EBUSY);
	flush(f);
	assert_int_equal(pias_jap_undrain(&f->j, &f->ta, &ep, T0 + 200 * MS, &f->acts, &f->e), 0);
	g = pias_jap_group(&f->j, &f->ta);
	assert_non_null(g);
	assert_int_equal(g->targets[0].t.state, PIAS_TARGET_ACTIVE);
	assert_true(find(f, PIAS_JAP_TARGET_SET) >= 0);
	assert_int_equal(reg(f, 1, T0 + 300 * MS), 1);
	/* the agent's own leave: it may come back at once (after the drain) */
	assert_int_equal(pias_jap_leave(&f->j, &f->ta, 2, T0 + 400 * MS, &f->acts, &f->e), 0);
	assert_false(pias_jap_is_drained(&f->j, &f->ta, &(struct pias_jap_endpoint){ 0 }));
	/* an endpoint never drained */
	ep = ep4(9);
	assert_int_equal(pias_jap_undrain(&f->j, &f->ta, &ep, T0, &f->acts, &f->e), -ENOENT);
	assert_msg_has(f->e.msg, "not drained here");
}

/* A fixture whose groups hold at most SMALL_GROUP targets (cfg.group_max_targets). */
#define SMALL_GROUP 32

static void small_groups(struct fx *f)
{
	struct pias_jap_config cfg = pias_jap_default_config();

	cfg.group_max_targets = SMALL_GROUP;
	pias_jap_free(&f->j);
	assert_int_equal(pias_jap_init(&f->j, &cfg, &f->e), 0);
}

static void ta_full(void **state)
{
	struct fx *f = *state;
	struct pias_ta other = f->ta;

	small_groups(f);
	for (int n = 1; n <= SMALL_GROUP; n++) {
		flush(f);
		assert_int_equal(reg(f, (__u32)n, T0), n);
	}
	flush(f);
	assert_int_equal(reg(f, 100, T0), -ENOSPC);
	assert_msg_has(f->e.msg, "32 targets");
	assert_int_equal(f->acts.n, 0);
	/* a known endpoint still refreshes; another TA still has room */
	assert_int_equal(reg(f, 5, T0), 5);
	other.port = 81;
	{
		struct pias_jap_endpoint ep = ep4(100);

		assert_int_equal(pias_jap_register(&f->j, &other, &ep, 1, T0, &f->acts, &f->e), 33);
	}
}

static void wrong_family(void **state)
{
	struct fx *f = *state;
	struct pias_jap_endpoint ep = { .family = PIAS_AF_INET6, .port = 1 };
	struct pias_ta bad = f->ta;

	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 1, T0, &f->acts, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "family");
	ep = ep4(1);
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 0, T0, &f->acts, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "weight");
	bad.family = 5;
	assert_int_equal(pias_jap_register(&f->j, &bad, &ep, 1, T0, &f->acts, &f->e), -EINVAL);
	assert_int_equal(f->acts.n, 0);
	assert_null(pias_jap_group(&f->j, &f->ta));
}

/* A tunnel-mode target's flag reaches the target table; a change of mode is written. */
static void tunnel_mode_flag(void **state)
{
	struct fx *f = *state;
	struct pias_jap_endpoint ep = ep4(1);
	int i;

	ep.flags = PIAS_TARGET_F_TUNNEL;
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 1, T0, &f->acts, &f->e), 1);
	i = find(f, PIAS_JAP_TARGET_SET);
	assert_true(i >= 0);
	assert_int_equal(f->acts.a[i].target.flags, PIAS_TARGET_F_TUNNEL);
	flush(f);
	/* a refresh in the same mode writes nothing */
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 1, T0 + 300 * MS, &f->acts, &f->e),
			 1);
	assert_int_equal(f->acts.n, 0);
	/* the same endpoint back in NAT mode: the same target, its flag cleared */
	ep.flags = 0;
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 1, T0 + 600 * MS, &f->acts, &f->e),
			 1);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_SET);
	assert_int_equal(f->acts.a[0].target.flags, 0);
}

/* Registers endpoint n with policy pol at serial, at now; its id. */
static int reg_policy(struct fx *f, __u32 n, __u8 kind, __u8 len, __u32 serial, __u64 now)
{
	struct pias_jap_endpoint ep = ep4(n);

	ep.policy = (struct pias_policy){ .kind = kind, .scope_len = len };
	ep.policy_serial = serial;
	return pias_jap_register(&f->j, &f->ta, &ep, 1, now, &f->acts, &f->e);
}

/* The policy the last SET_SET wrote; kind 255 if none was written. */
static struct pias_policy written_policy(struct fx *f)
{
	struct pias_policy none = { .kind = 255 };
	int i = find(f, PIAS_JAP_SET_SET);

	return i < 0 ? none : f->acts.a[i].set.policy;
}

/*
 * The group's policy is its owner's: the highest serial among the live
 * targets, the earliest registered among equals, so refreshes in any
 * order never flip it; a target that goes takes its policy with it.
 */
static void policy_highest_serial(void **state)
{
	struct fx *f = *state;

	assert_int_equal(reg_policy(f, 1, PIAS_POLICY_RANDOM, 0, 1, T0), 1);
	assert_int_equal(written_policy(f).kind, PIAS_POLICY_RANDOM);
	flush(f);
	/* an equal serial with another policy: the earlier target's stays */
	assert_int_equal(reg_policy(f, 2, PIAS_POLICY_SCOPED, 24, 1, T0), 2);
	assert_int_equal(written_policy(f).kind, PIAS_POLICY_RANDOM);
	flush(f);
	/* both refresh, the later first: nothing changes, nothing is written */
	assert_int_equal(reg_policy(f, 2, PIAS_POLICY_SCOPED, 24, 1, T0 + 300 * MS), 2);
	assert_int_equal(reg_policy(f, 1, PIAS_POLICY_RANDOM, 0, 1, T0 + 300 * MS), 1);
	assert_int_equal(find(f, PIAS_JAP_SET_SET), -1);
	/* the owner raises the serial on one target: the group follows it */
	assert_int_equal(reg_policy(f, 2, PIAS_POLICY_SCOPED, 24, 2, T0 + 400 * MS), 2);
	assert_int_equal(written_policy(f).kind, PIAS_POLICY_SCOPED);
	assert_int_equal(written_policy(f).scope_len, 24);
	flush(f);
	/* target 1 still says serial 1: no flip back on its refresh */
	assert_int_equal(reg_policy(f, 1, PIAS_POLICY_RANDOM, 0, 1, T0 + 600 * MS), 1);
	assert_int_equal(find(f, PIAS_JAP_SET_SET), -1);
	/* target 2 goes down: the live target's policy is the group's */
	assert_int_equal(reg_policy(f, 1, PIAS_POLICY_RANDOM, 0, 1, T0 + 1400 * MS), 1);
	flush(f);
	assert_int_equal(tick(f, T0 + 1400 * MS), 0);
	assert_int_equal(written_policy(f).kind, PIAS_POLICY_RANDOM);
}

/* A policy the JAP cannot carry out, or that is malformed, is refused whole. */
static void policy_refused(void **state)
{
	struct fx *f = *state;
	struct pias_jap_endpoint ep = ep4(1);

	ep.policy = (struct pias_policy){ .kind = PIAS_POLICY_SCOPED, .scope_len = 33 };
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 1, T0, &f->acts, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "scope longer than the family's addresses");
	/* f->ta is TCP: k handshakes cannot share one client connection */
	ep.policy = (struct pias_policy){ .kind = PIAS_POLICY_REPLICATE, .copies = 2 };
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 1, T0, &f->acts, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "replicate is for UDP groups only");
	assert_int_equal(f->acts.n, 0);
	/* a TCP segment has no QUIC header forms to read */
	ep.policy =
		(struct pias_policy){ .kind = PIAS_POLICY_WEIGHTED, .flags = PIAS_POLICY_F_QUIC };
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 1, T0, &f->acts, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "+quic is for UDP groups only");
	assert_int_equal(f->acts.n, 0);
	ep.policy = (struct pias_policy){ .kind = PIAS_POLICY_REPLICATE, .copies = 2 };
	assert_null(pias_jap_group(&f->j, &f->ta));
	struct pias_ta u = f->ta;

	u.proto = PIAS_PROTO_UDP;
	/* the copies are NAT'd: a tunnel-mode target would get none */
	ep.flags = PIAS_TARGET_F_TUNNEL;
	assert_int_equal(pias_jap_register(&f->j, &u, &ep, 1, T0, &f->acts, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "replicate copies go to NAT-mode targets");
	assert_int_equal(f->acts.n, 0);
	ep.flags = 0;
	/* the same TA's UDP twin takes it, and its target set carries it */
	assert_true(pias_jap_register(&f->j, &u, &ep, 1, T0, &f->acts, &f->e) > 0);
	assert_non_null(pias_jap_group(&f->j, &u));
	for (size_t i = 0; i < f->acts.n; i++)
		if (f->acts.a[i].kind == PIAS_JAP_SET_SET) {
			assert_int_equal(f->acts.a[i].set.policy.kind, PIAS_POLICY_REPLICATE);
			assert_int_equal(f->acts.a[i].set.policy.copies, 2);
			return;
		}
	fail_msg("no target set written");
}

/* After a restart the set's policy stands until a REGISTER says otherwise. */
static void policy_restored(void **state)
{
	struct fx *f = *state;
	struct pias_target t = { .family = PIAS_AF_INET, .state = PIAS_TARGET_ACTIVE, .weight = 1 };
	struct pias_policy scoped = { .kind = PIAS_POLICY_SCOPED, .scope_len = 16 };

	t.addr = ep4(1).addr;
	t.port = 8080;
	assert_int_equal(pias_jap_restore(&f->j, &f->ta, 1, &t, &scoped, T0, &f->e), 0);
	/* a refresh with the same policy at serial 0 changes nothing */
	assert_int_equal(reg_policy(f, 1, PIAS_POLICY_SCOPED, 16, 0, T0 + 100 * MS), 1);
	assert_int_equal(find(f, PIAS_JAP_SET_SET), -1);
	/* a newer serial replaces it */
	assert_int_equal(reg_policy(f, 1, PIAS_POLICY_RANDOM, 0, 3, T0 + 200 * MS), 1);
	assert_int_equal(written_policy(f).kind, PIAS_POLICY_RANDOM);
}

/* The last REPORT's share, or -1 if none was reported. */
static int reported_share(struct fx *f)
{
	int i = -1;

	for (size_t k = 0; k < f->acts.n; k++)
		if (f->acts.a[k].kind == PIAS_JAP_REPORT)
			i = (int)k;
	return i < 0 ? -1 : f->acts.a[i].report.share;
}

/*
 * A scoped group's report names the prefixes of its active targets, each
 * once, cut to the group's scope (ep4's targets are all in 192.168.0.0/24),
 * and follows the policy of the highest serial.
 */
static void scoped_report_prefixes(void **state)
{
	struct fx *f = *state;
	const struct pias_jap_action *a;
	int r;

	assert_int_equal(reg_policy(f, 1, PIAS_POLICY_SCOPED, 24, 1, T0), 1);
	assert_int_equal(reg_policy(f, 2, PIAS_POLICY_SCOPED, 24, 1, T0), 2);
	r = find(f, PIAS_JAP_REPORT);
	assert_true(r >= 0);
	assert_int_equal(f->acts.a[r].report.n_scopes, 1);
	assert_int_equal(f->acts.a[r].report.scopes[0].v4, ep4(1).addr.v4 & htonl(0xffffff00));
	flush(f);
	assert_int_equal(reg_policy(f, 3, PIAS_POLICY_SCOPED, 8, 2, T0), 3);
	r = find(f, PIAS_JAP_REPORT);
	assert_true(r >= 0);
	a = &f->acts.a[r];
	/* the policy is now scoped/8 (serial 2): all three share the /8 */
	assert_int_equal(a->report.policy.scope_len, 8);
	assert_int_equal(a->report.n_scopes, 1);
	assert_int_equal(a->report.scopes[0].v4, ep4(1).addr.v4 & htonl(0xff000000));
}

/* The operator's dial is reported at once, and refused for a TA not here. */
static void dial_reported(void **state)
{
	struct fx *f = *state;
	struct pias_ta other = f->ta;

	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(reported_share(f), PIAS_JAP_SHARE_FULL);
	flush(f);
	assert_int_equal(pias_jap_dial(&f->j, &f->ta, 250, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(reported_share(f), 250);
	assert_int_equal(f->acts.a[0].report.count, 1);
	flush(f);
	/* the same dial again: nothing new to say */
	assert_int_equal(pias_jap_dial(&f->j, &f->ta, 250, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_jap_dial(&f->j, &f->ta, 1001, T0, &f->acts, &f->e), -EINVAL);
	other.port = 81;
	assert_int_equal(pias_jap_dial(&f->j, &other, 500, T0, &f->acts, &f->e), -ENOENT);
}

/*
 * A group that lost more than a quarter of its peak sheds in proportion:
 * 4 targets, 2 go down, half its share; after the hold the smaller size
 * is the norm and the share whole again.
 */
static void shed_by_count(void **state)
{
	struct fx *f = *state;

	for (__u32 n = 1; n <= 4; n++)
		assert_int_equal(reg(f, n, T0), (int)n);
	flush(f);
	/* 1 of 4 down: within the threshold, no shedding */
	for (__u32 n = 1; n <= 3; n++)
		assert_int_equal(reg(f, n, T0 + 800 * MS), (int)n);
	assert_int_equal(tick(f, T0 + 1000 * MS), 0);
	assert_int_equal(reported_share(f), -1);
	flush(f);
	/* a second one down: half the peak, half the share */
	for (__u32 n = 1; n <= 2; n++)
		assert_int_equal(reg(f, n, T0 + 1600 * MS), (int)n);
	assert_int_equal(tick(f, T0 + 1800 * MS), 0);
	assert_int_equal(reported_share(f), 500);
	flush(f);
	/* the hold passes with 2 targets: they are the norm */
	for (__u32 n = 1; n <= 2; n++)
		assert_int_equal(reg(f, n, T0 + PIAS_JAP_SHED_HOLD_NS + 2000 * MS), (int)n);
	assert_int_equal(tick(f, T0 + PIAS_JAP_SHED_HOLD_NS + 2000 * MS), 0);
	assert_int_equal(reported_share(f), PIAS_JAP_SHARE_FULL);
}

static long conns_of(void *ctx, __u32 id, __u64 since)
{
	(void)ctx;
	(void)since;
	return id == 1 ? 300 : 100; /* 400 connections on two targets */
}

/* Targets over their connection budget shed what is over it. */
static void shed_by_budget(void **state)
{
	struct fx *f = *state;

	/* the defaults, and a budget of 100 connections a target */
	f->j.cfg.conns = conns_of;
	f->j.cfg.conn_budget = 100;
	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(reg(f, 2, T0), 2);
	/* 400 held against a budget of 200: half */
	assert_int_equal(reported_share(f), 500);
}

static void duplicate_is_refresh(void **state)
{
	struct fx *f = *state;
	struct pias_jap_endpoint ep = ep4(1);

	assert_int_equal(reg(f, 1, T0), 1);
	flush(f);
	assert_int_equal(reg(f, 1, T0 + 800 * MS), 1);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->count, 1);
	assert_int_equal(tick(f, T0 + 1600 * MS), 0); /* alive thanks to the re-register */
	assert_int_equal(f->acts.n, 0);
	/* a new weight is written: the target's entry, and the set that holds the weights */
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 5, T0 + 1600 * MS, &f->acts, &f->e),
			 1);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_SET);
	assert_int_equal(f->acts.a[0].target.weight, 5);
	assert_int_equal(set_weight(f, 1, 1), 5);
	/* IPv6: same address, other port: a different target */
	{
		struct pias_ta ta6 = { .family = PIAS_AF_INET6,
				       .port = 53,
				       .proto = PIAS_PROTO_UDP };
		struct pias_jap_endpoint a = { .family = PIAS_AF_INET6, .port = 53 };

		a.addr.bytes[0] = 0x20;
		a.addr.bytes[15] = 1;
		assert_int_equal(pias_jap_register(&f->j, &ta6, &a, 1, T0, &f->acts, &f->e), 2);
		assert_int_equal(pias_jap_register(&f->j, &ta6, &a, 1, T0, &f->acts, &f->e), 2);
		a.port = 54;
		assert_int_equal(pias_jap_register(&f->j, &ta6, &a, 1, T0, &f->acts, &f->e), 3);
	}
}

static void unknown_enoent(void **state)
{
	struct fx *f = *state;
	struct pias_ta other = f->ta;

	other.port = 443;
	assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 1, T0, &f->acts, &f->e), -ENOENT);
	assert_msg_has(f->e.msg, "TA");
	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 2, T0, &f->acts, &f->e), -ENOENT);
	assert_msg_has(f->e.msg, "target 2");
	assert_int_equal(pias_jap_leave(&f->j, &f->ta, 2, T0, &f->acts, &f->e), -ENOENT);
	assert_int_equal(pias_jap_leave(&f->j, &other, 1, T0, &f->acts, &f->e), -ENOENT);
	assert_int_equal(pias_jap_drain(&f->j, &other, 1, T0, &f->acts, &f->e), -ENOENT);
	assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 0, T0, &f->acts, &f->e), -ENOENT);
}

static void enobufs_applies_nothing(void **state)
{
	struct fx *f = *state;
	struct pias_jap_actions small = { .a = f->buf, .cap = 2 };

	assert_int_equal(reg(f, 1, T0), 1);
	assert_int_equal(reg(f, 2, T0), 2);
	/* register needs 3 (TARGET_SET, SET_SET, REPORT 2 -> 3) */
	{
		struct pias_jap_endpoint ep = ep4(3);

		assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 1, T0, &small, &f->e),
				 -ENOBUFS);
		assert_int_equal(small.n, 0);
		assert_int_equal(pias_jap_find(&f->j, &f->ta, &ep), -ENOENT);
		assert_int_equal(pias_jap_group(&f->j, &f->ta)->count, 2);
	}
	/* tick needs 2 TARGET_SET + SET_SET + REPORT(0) = 4 */
	small.cap = 3;
	assert_int_equal(pias_jap_tick(&f->j, T0 + 1000 * MS, NULL, NULL, &small, &f->e), -ENOBUFS);
	assert_msg_has(f->e.msg, "4 actions");
	assert_int_equal(small.n, 0);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->targets[0].t.state, PIAS_TARGET_ACTIVE);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->targets[1].t.state, PIAS_TARGET_ACTIVE);
	small.cap = 4;
	assert_int_equal(pias_jap_tick(&f->j, T0 + 1000 * MS, NULL, NULL, &small, &f->e), 0);
	assert_int_equal(small.n, 4);
	/* the report state was not touched by the failed call: REPORT(0) went out once */
	assert_int_equal(f->buf[3].kind, PIAS_JAP_REPORT);
	assert_int_equal(f->buf[3].report.count, 0);
}

static void many_groups_tick(void **state)
{
	struct fx *f = *state;
	struct pias_ta ta = f->ta;

	for (__u32 g = 0; g < 40; g++) {
		ta.port = (__u16)(1000 + g);
		for (__u32 n = 0; n < 2; n++) {
			struct pias_jap_endpoint ep = ep4(g * 2 + n);

			assert_true(pias_jap_register(&f->j, &ta, &ep, 1, T0, &f->acts, &f->e) > 0);
		}
		flush(f);
		assert_int_equal(pias_jap_drain(&f->j, &ta, g * 2 + 1, T0, &f->acts, &f->e), 0);
		assert_int_equal(pias_jap_drain(&f->j, &ta, g * 2 + 2, T0, &f->acts, &f->e), 0);
		flush(f);
	}
	assert_int_equal(pias_jap_ngroups(&f->j), 40);
	assert_int_equal(tick(f, T0 + PIAS_JAP_DRAIN_TIMEOUT_NS), 0);
	assert_int_equal(count_kind(f, PIAS_JAP_SET_DEL), 40);
	assert_int_equal(count_kind(f, PIAS_JAP_TARGET_DEL), 80);
	assert_int_equal(pias_jap_ngroups(&f->j), 0);
	assert_int_equal(reg(f, 1, T0 + PIAS_JAP_DRAIN_TIMEOUT_NS), 81);
}

/* A group of one target at ta with port 1000 + p; its target id. */
static int walk_add(struct fx *f, __u32 p)
{
	struct pias_ta ta = f->ta;
	struct pias_jap_endpoint ep = ep4(1);
	int id;

	ta.port = (__u16)(1000 + p);
	id = pias_jap_register(&f->j, &ta, &ep, 1, T0, &f->acts, &f->e);
	assert_true(id > 0);
	flush(f);
	return id;
}

/* Group p goes: its one target fails, and a DOWN target that leaves is removed. */
static void walk_del(struct fx *f, __u32 p, __u32 id)
{
	struct pias_ta ta = f->ta;

	ta.port = (__u16)(1000 + p);
	assert_int_equal(pias_jap_fail(&f->j, &ta, id, T0, &f->acts, &f->e), 0);
	assert_int_equal(pias_jap_leave(&f->j, &ta, id, T0, &f->acts, &f->e), 0);
	assert_null(pias_jap_group(&f->j, &ta));
	flush(f);
}

/*
 * A walk of the groups that stops and goes on later (pias_jap_group_place,
 * pias_jap_group_after: piasd's re-report spread over its period), with a
 * group removed and another added between its steps, behind it and ahead
 * of it (a new group takes a removed one's handle): each group held
 * throughout is met exactly once, none twice, none once it is gone.
 */
static void walk_resumes_across_changes(void **state)
{
	enum {
		N = 300,
		STEP = 7
	};
	struct fx *f = *state;
	static int met[3 * N], id[3 * N];
	static bool through[3 * N], gone[3 * N];
	__u32 added = N, steps = 0;
	long at = -1;

	memset(met, 0, sizeof(met));
	for (__u32 p = 0; p < N; p++) {
		id[p] = walk_add(f, p);
		through[p] = true;
		gone[p] = false;
	}
	for (const struct pias_jap_group *g; (g = pias_jap_group_after(&f->j, at)); steps++) {
		__u32 victim = (steps * 37 + 11) % added;

		for (int k = 0; g && k < STEP; k++, g = pias_jap_next_group(&f->j, g)) {
			__u32 p = g->ta.port - 1000u;

			assert_false(gone[p]);
			met[p]++;
			at = pias_jap_group_place(&f->j, g);
			assert_ptr_equal(pias_jap_group_after(&f->j, at - 1), g);
		}
		if (!gone[victim]) {
			walk_del(f, victim, (__u32)id[victim]);
			gone[victim] = true;
			through[victim] = false;
		}
		if (added < 3 * N) {
			id[added] = walk_add(f, added);
			gone[added] = through[added] = false;
			added++;
		}
	}
	assert_true(steps > N / STEP); /* it went on after groups ahead of it changed */
	for (__u32 p = 0; p < added; p++) {
		if (through[p])
			assert_int_equal(met[p], 1);
		else
			assert_true(met[p] <= 1);
	}
}

static void bad_config(void **state)
{
	struct fx *f = *state;
	struct pias_jap j;
	struct pias_jap_config c = { .refresh_timeout_ns = 1,
				     .drain_timeout_ns = 1,
				     .down_expire_ns = 1,
				     .report_fraction = -1 };

	assert_int_equal(pias_jap_init(&j, &c, &f->e), -EINVAL);
	c.report_fraction = 0;
	c.drain_timeout_ns = 0;
	assert_int_equal(pias_jap_init(&j, &c, &f->e), -EINVAL);
}

/* --- restart: pias_jap_restore ------------------------------------------------ */

/* The map entry of a target at ep4(n). */
static struct pias_target tgt4(__u32 n, __u8 state, __u32 weight)
{
	struct pias_jap_endpoint ep = ep4(n);
	struct pias_target t = { .port = ep.port, .family = ep.family, .state = state };

	t.addr = ep.addr;
	t.weight = weight;
	return t;
}

static int restore(struct fx *f, const struct pias_ta *ta, __u32 id, __u32 n, __u8 state,
		   __u32 weight, __u64 now)
{
	struct pias_target t = tgt4(n, state, weight);

	return pias_jap_restore(&f->j, ta, id, &t, NULL, now, &f->e);
}

static bool id_used(const struct fx *f, __u32 id)
{
	return f->j.ids_used[id / 64] & (1ull << (id % 64));
}

/* Taken over with its state, no actions; the next tick and refresh have nothing to write. */
static void restore_takes_over(void **state)
{
	struct fx *f = *state;
	struct pias_target want = tgt4(1, PIAS_TARGET_ACTIVE, 3);
	const struct pias_jap_group *g;
	struct pias_jap_endpoint ep = ep4(1);

	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_ACTIVE, 3, T0), 0);
	assert_int_equal(restore(f, &f->ta, 9, 2, PIAS_TARGET_DRAINING, 1, T0), 0);
	assert_int_equal(f->acts.n, 0);
	g = pias_jap_group(&f->j, &f->ta);
	assert_non_null(g);
	assert_int_equal(g->count, 2);
	assert_int_equal(g->targets[0].id, 5);
	assert_memory_equal(&g->targets[0].t, &want, sizeof(want));
	assert_int_equal(g->targets[0].last_refresh_ns, T0);
	assert_int_equal(g->targets[1].id, 9);
	assert_int_equal(g->targets[1].t.state, PIAS_TARGET_DRAINING);
	assert_int_equal(g->targets[1].drain_start_ns, T0);
	assert_true(id_used(f, 5));
	assert_true(id_used(f, 9));
	assert_false(id_used(f, 6));
	assert_int_equal(pias_jap_find(&f->j, &f->ta, &ep), 5);
	/* The maps and the RAPs have it already: nothing to write. */
	assert_int_equal(tick(f, T0), 0);
	assert_int_equal(tick(f, T0 + 500 * MS), 0);
	assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 5, T0 + 500 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->targets[0].t.state, PIAS_TARGET_ACTIVE);
}

static void restore_refreshed_stays_active(void **state)
{
	struct fx *f = *state;
	struct pias_jap_endpoint ep = ep4(1);
	__u64 now = T0;

	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_ACTIVE, 2, now), 0);
	for (int i = 0; i < 20; i++) {
		now += 500 * MS;
		assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 5, now, &f->acts, &f->e), 0);
		assert_int_equal(tick(f, now + 100 * MS), 0);
	}
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->targets[0].t.state, PIAS_TARGET_ACTIVE);
	/* Dataplane replies keep it alive as well. */
	for (int i = 0; i < 20; i++) {
		now += 500 * MS;
		f->reply[5] = now;
		assert_int_equal(tick(f, now + 100 * MS), 0);
	}
	assert_int_equal(f->acts.n, 0);
	/* It re-registers: same id, same weight: nothing to write; a new weight is written. */
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 2, now, &f->acts, &f->e), 5);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_jap_register(&f->j, &f->ta, &ep, 4, now, &f->acts, &f->e), 5);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_SET);
	assert_int_equal(f->acts.a[0].id, 5);
	assert_int_equal(f->acts.a[0].target.weight, 4);
	assert_int_equal(set_weight(f, 1, 5), 4);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->count, 1);
}

/* Alive from the restore (not from whenever it last refreshed before it). */
static void restore_silent_goes_down(void **state)
{
	struct fx *f = *state;
	__u64 r = T0 + 5000 * MS;

	f->reply[5] = T0; /* the dataplane's last reply is older than the restore */
	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_ACTIVE, 1, r), 0);
	assert_int_equal(tick(f, r + PIAS_JAP_REFRESH_TIMEOUT_NS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(tick(f, r + PIAS_JAP_REFRESH_TIMEOUT_NS + 1), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_SET);
	assert_int_equal(f->acts.a[0].id, 5);
	assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_DOWN);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_SET_SET);
	assert_int_equal(f->acts.a[1].set.count, 0);
	assert_int_equal(f->acts.a[2].kind, PIAS_JAP_REPORT);
	assert_int_equal(f->acts.a[2].report.count, 0);
	/* Silent for a further down_expire: removed, its id freed. */
	flush(f);
	assert_int_equal(tick(f, r + PIAS_JAP_REFRESH_TIMEOUT_NS + PIAS_JAP_DOWN_EXPIRE_NS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(tick(f, r + PIAS_JAP_REFRESH_TIMEOUT_NS + PIAS_JAP_DOWN_EXPIRE_NS + 1), 0);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_SET_DEL);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_TARGET_DEL);
	assert_int_equal(f->acts.a[1].id, 5);
	assert_null(pias_jap_group(&f->j, &f->ta));
	assert_false(id_used(f, 5));
}

/*
 * While the JAP cannot be reached for registrations (restarted, not yet
 * announcing) its targets are held: silence counts from the last hold.
 */
static void hold_while_unreachable(void **state)
{
	struct fx *f = *state;
	__u64 r = T0 + 5000 * MS, t;

	f->reply[5] = T0;
	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_ACTIVE, 1, r), 0);
	/* 60 s unreachable, held every tick: never down */
	for (t = r; t < r + 60000 * MS; t += 50 * MS) {
		pias_jap_hold(&f->j, t);
		assert_int_equal(tick(f, t), 0);
		assert_int_equal(f->acts.n, 0);
	}
	/* reachable again at t: the timeout runs from the last hold */
	t -= 50 * MS;
	assert_int_equal(tick(f, t + PIAS_JAP_REFRESH_TIMEOUT_NS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(tick(f, t + PIAS_JAP_REFRESH_TIMEOUT_NS + 1), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_DOWN);
}

/* A target found DOWN: not in the set; a refresh revives it, silence removes it. */
static void restore_down_target(void **state)
{
	struct fx *f = *state;

	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_DOWN, 1, T0), 0);
	assert_int_equal(restore(f, &f->ta, 6, 2, PIAS_TARGET_DOWN, 1, T0), 0);
	assert_int_equal(tick(f, T0 + PIAS_JAP_REFRESH_TIMEOUT_NS + 1), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 5, T0 + 2000 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_SET);
	assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_ACTIVE);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_SET_SET);
	assert_int_equal(f->acts.a[1].set.count, 1);
	assert_int_equal(set_id(f, 1, 0), 5);
	assert_int_equal(f->acts.a[2].kind, PIAS_JAP_REPORT);
	assert_int_equal(f->acts.a[2].report.count, 1);
	flush(f);
	assert_int_equal(
		pias_jap_refresh(&f->j, &f->ta, 5,
				 T0 + PIAS_JAP_REFRESH_TIMEOUT_NS + PIAS_JAP_DOWN_EXPIRE_NS,
				 &f->acts, &f->e),
		0);
	assert_int_equal(tick(f, T0 + PIAS_JAP_REFRESH_TIMEOUT_NS + PIAS_JAP_DOWN_EXPIRE_NS + 1),
			 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_DEL);
	assert_int_equal(f->acts.a[0].id, 6);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->count, 1);
}

static void restore_leave_and_drain(void **state)
{
	struct fx *f = *state;
	__u64 t1 = T0 + 10 * MS;

	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_ACTIVE, 1, T0), 0);
	assert_int_equal(restore(f, &f->ta, 6, 2, PIAS_TARGET_ACTIVE, 1, T0), 0);
	/* The RAPs heard of 2 before the restart: a leave reports 1. */
	assert_int_equal(pias_jap_leave(&f->j, &f->ta, 5, t1, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_SET);
	assert_int_equal(f->acts.a[0].id, 5);
	assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_DRAINING);
	assert_int_equal(set_weight(f, 1, 5), 0);
	assert_int_equal(f->acts.a[2].kind, PIAS_JAP_REPORT);
	assert_int_equal(f->acts.a[2].report.count, 1);
	flush(f);
	assert_int_equal(pias_jap_leave(&f->j, &f->ta, 5, t1, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_jap_drain(&f->j, &f->ta, 6, t1, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(f->acts.a[0].id, 6);
	assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_DRAINING);
	assert_int_equal(set_weight(f, 1, 6), 0);
	assert_int_equal(f->acts.a[2].kind, PIAS_JAP_REPORT);
	assert_int_equal(f->acts.a[2].report.count, 0);
	flush(f);
	assert_int_equal(tick(f, t1 + PIAS_JAP_DRAIN_TIMEOUT_NS - 1), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(tick(f, t1 + PIAS_JAP_DRAIN_TIMEOUT_NS), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_SET_DEL);
	assert_int_equal(count_kind(f, PIAS_JAP_TARGET_DEL), 2);
	assert_null(pias_jap_group(&f->j, &f->ta));
	assert_false(id_used(f, 5));
	assert_false(id_used(f, 6));
}

static void restore_then_register_new_id(void **state)
{
	struct fx *f = *state;
	struct pias_ta other = f->ta;

	other.port = 81;
	assert_int_equal(restore(f, &f->ta, 1, 1, PIAS_TARGET_ACTIVE, 1, T0), 0);
	assert_int_equal(restore(f, &other, 3, 2, PIAS_TARGET_ACTIVE, 1, T0), 0);
	/* A new endpoint: the lowest free id, not a restored one */
	assert_int_equal(reg(f, 10, T0 + MS), 2);
	assert_int_equal(f->acts.n, 3); /* TARGET_SET, SET_SET, REPORT 1 -> 2 */
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_SET);
	assert_int_equal(f->acts.a[0].id, 2);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_SET_SET);
	assert_int_equal(f->acts.a[1].set.count, 2);
	assert_int_equal(set_id(f, 1, 0), 1);
	assert_int_equal(set_id(f, 1, 1), 2);
	assert_int_equal(f->acts.a[2].kind, PIAS_JAP_REPORT);
	assert_int_equal(f->acts.a[2].report.count, 2);
	/* ids are per JAP, not per TA: 3 is taken by the other TA */
	assert_int_equal(reg(f, 11, T0 + MS), 4);
	/* A registered id can no longer be restored. */
	assert_int_equal(restore(f, &f->ta, 2, 12, PIAS_TARGET_ACTIVE, 1, T0), -EEXIST);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->count, 3);
}

static void restore_duplicate_eexist(void **state)
{
	struct fx *f = *state;
	struct pias_ta other = f->ta;

	other.port = 81;
	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_ACTIVE, 1, T0), 0);
	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_ACTIVE, 1, T0), -EEXIST);
	assert_msg_has(f->e.msg, "target id 5");
	assert_int_equal(restore(f, &other, 5, 2, PIAS_TARGET_ACTIVE, 1, T0), -EEXIST);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->count, 1);
	assert_null(pias_jap_group(&f->j, &other));
	assert_int_equal(pias_jap_ngroups(&f->j), 1);
}

static void restore_invalid(void **state)
{
	struct fx *f = *state;
	struct pias_ta bad = f->ta;
	struct pias_target t6 = {
		.family = PIAS_AF_INET6, .port = 1, .state = PIAS_TARGET_ACTIVE, .weight = 1
	};

	assert_int_equal(restore(f, &f->ta, 0, 1, PIAS_TARGET_ACTIVE, 1, T0), -EINVAL);
	assert_msg_has(f->e.msg, "range");
	assert_int_equal(restore(f, &f->ta, PIAS_MAX_TARGETS, 1, PIAS_TARGET_ACTIVE, 1, T0),
			 -EINVAL);
	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_ACTIVE, 0, T0), -EINVAL);
	assert_msg_has(f->e.msg, "target 5");
	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_UNUSED, 1, T0), -EINVAL);
	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_DOWN + 1, 1, T0), -EINVAL);
	assert_int_equal(pias_jap_restore(&f->j, &f->ta, 5, &t6, NULL, T0, &f->e), -EINVAL);
	bad.family = 5;
	assert_int_equal(restore(f, &bad, 5, 1, PIAS_TARGET_ACTIVE, 1, T0), -EINVAL);
	assert_msg_has(f->e.msg, "family");
	/* Nothing was taken: no group, no id; a valid entry still goes in. */
	assert_int_equal(pias_jap_ngroups(&f->j), 0);
	assert_int_equal(f->j.ids_used[0], 1);
	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_ACTIVE, 1, T0), 0);
	assert_int_equal(restore(f, &f->ta, PIAS_MAX_TARGETS - 1, 2, PIAS_TARGET_ACTIVE, 1, T0), 0);
}

static void restore_ta_full(void **state)
{
	struct fx *f = *state;

	small_groups(f);
	for (__u32 n = 1; n <= SMALL_GROUP; n++)
		assert_int_equal(restore(f, &f->ta, 100 + n, n, PIAS_TARGET_ACTIVE, 1, T0), 0);
	assert_int_equal(restore(f, &f->ta, 200, 99, PIAS_TARGET_ACTIVE, 1, T0), -ENOSPC);
	assert_msg_has(f->e.msg, "32 targets");
	assert_false(id_used(f, 200));
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->count, SMALL_GROUP);
	assert_int_equal(reg(f, 99, T0), -ENOSPC);
	assert_int_equal(tick(f, T0), 0);
	assert_int_equal(f->acts.n, 0);
}

static void restore_draining_removed(void **state)
{
	struct fx *f = *state;
	__u64 r = T0 + 7000 * MS;

	assert_int_equal(restore(f, &f->ta, 5, 1, PIAS_TARGET_DRAINING, 1, r), 0);
	assert_int_equal(restore(f, &f->ta, 6, 2, PIAS_TARGET_ACTIVE, 1, r), 0);
	/* Still draining: it may not register, a leave changes nothing. */
	assert_int_equal(reg(f, 1, r), -EBUSY);
	assert_int_equal(pias_jap_leave(&f->j, &f->ta, 5, r + MS, &f->acts, &f->e), 0);
	assert_int_equal(pias_jap_refresh(&f->j, &f->ta, 5, r + MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	/* The drain timeout runs from the restore (target 6 kept alive by replies). */
	for (__u64 t = r + 500 * MS; t < r + PIAS_JAP_DRAIN_TIMEOUT_NS; t += 500 * MS) {
		f->reply[6] = t;
		assert_int_equal(tick(f, t), 0);
	}
	assert_int_equal(tick(f, r + PIAS_JAP_DRAIN_TIMEOUT_NS - 1), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_jap_group(&f->j, &f->ta)->targets[0].t.state, PIAS_TARGET_DRAINING);
	f->reply[6] = r + PIAS_JAP_DRAIN_TIMEOUT_NS;
	assert_int_equal(tick(f, r + PIAS_JAP_DRAIN_TIMEOUT_NS), 0);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(f->acts.a[0].kind, PIAS_JAP_SET_SET);
	assert_int_equal(f->acts.a[0].set.count, 1);
	assert_int_equal(set_id(f, 0, 0), 6);
	assert_int_equal(f->acts.a[1].kind, PIAS_JAP_TARGET_DEL);
	assert_int_equal(f->acts.a[1].id, 5);
	assert_false(id_used(f, 5));
	/* The endpoint may register again: the lowest free id, 1. */
	assert_int_equal(reg(f, 1, r + PIAS_JAP_DRAIN_TIMEOUT_NS), 1);
}

/* --- at scale: invariants, a model of the maps, 100,000 targets, a group of 10,000 --- */

#define DP_SET_MAX 64 /* the model's groups are smaller */

/* What the maps and the RAPs hold after the actions so far (the dataplane's side). */
struct dp {
	bool present[PIAS_MAX_TARGETS];
	struct pias_target t[PIAS_MAX_TARGETS];
	/* per TA of the model: its set (ids and weights, as read), whether it has one, its last report */
	__u32 set_ids[8][DP_SET_MAX];
	__u32 set_w[8][DP_SET_MAX];
	struct pias_jap_set_ref set[8];
	bool has_set[8];
	struct pias_jap_report report[8];
	bool reported[8];
	__u32 max_id; /* the highest id written so far */
};

static int ta_slot(const struct pias_ta *tas, int n, const struct pias_ta *ta)
{
	for (int i = 0; i < n; i++)
		if (!memcmp(&tas[i], ta, sizeof(*ta)))
			return i;
	fail_msg("an action for a TA the test does not know");
	return -1;
}

/* The actions, applied in order as piasd does. */
static void dp_apply(struct dp *d, const struct pias_jap *j, const struct pias_ta *tas, int ntas,
		     const struct pias_jap_actions *acts, size_t from)
{
	for (size_t i = from; i < acts->n; i++) {
		const struct pias_jap_action *a = &acts->a[i];
		int k = ta_slot(tas, ntas, &a->ta);

		switch (a->kind) {
		case PIAS_JAP_TARGET_SET:
			d->max_id = a->id > d->max_id ? a->id : d->max_id;
			d->present[a->id] = true;
			d->t[a->id] = a->target;
			break;
		case PIAS_JAP_TARGET_DEL:
			assert_true(d->present[a->id]);
			d->present[a->id] = false;
			break;
		case PIAS_JAP_SET_SET:
			/* the set as the registry gives it now: every id it names written already */
			assert_true(a->set.count <= DP_SET_MAX);
			assert_int_equal(
				pias_jap_set_read(j, a, d->set_ids[k], d->set_w[k], DP_SET_MAX),
				a->set.count);
			for (__u32 n = 0; n < a->set.count; n++)
				assert_true(d->present[d->set_ids[k][n]]);
			d->set[k] = a->set;
			d->has_set[k] = true;
			break;
		case PIAS_JAP_SET_DEL:
			d->has_set[k] = false;
			break;
		case PIAS_JAP_REPORT:
			d->report[k] = a->report;
			d->reported[k] = true;
			break;
		}
	}
}

/* The group's policy as the registry's rule says: found by a scan here. */
static const struct pias_jap_target *holder_of(const struct pias_jap_group *g)
{
	const struct pias_jap_target *best = NULL;
	bool any_up = g->up > 0;

	for (__u32 i = 0; i < g->count; i++) {
		const struct pias_jap_target *t = &g->targets[i];

		if (any_up && t->t.state != PIAS_TARGET_ACTIVE)
			continue;
		if (!best || t->policy_serial > best->policy_serial ||
		    (t->policy_serial == best->policy_serial && t->seq < best->seq))
			best = t;
	}
	return best;
}

/*
 * The registry is consistent with itself and with what its actions told
 * the maps: counters, the set and its positions, the policy holder, the
 * endpoint index, ids and deadlines; each target's map entry, each set
 * and report as last written.
 */
static void check_registry(const struct pias_jap *j, const struct dp *d, const struct pias_ta *tas,
			   int ntas)
{
	size_t total = 0, draining = 0;
	bool seen_ta[8] = { false };

	pias_jap_each_group(j, g)
	{
		__u32 active = 0, up = 0, nset = 0;

		assert_true(g->count > 0);
		for (__u32 i = 0; i < g->count; i++) {
			const struct pias_jap_target *t = &g->targets[i];
			struct pias_jap_endpoint ep = { .addr = t->t.addr,
							.port = t->t.port,
							.family = t->t.family };
			struct pias_target view = t->t;
			bool in = t->t.state == PIAS_TARGET_ACTIVE ||
				  t->t.state == PIAS_TARGET_DRAINING;

			active += t->t.state == PIAS_TARGET_ACTIVE && !t->ejected;
			up += t->t.state == PIAS_TARGET_ACTIVE;
			nset += in;
			draining += t->t.state == PIAS_TARGET_DRAINING;
			assert_true(in == (t->set_pos != 0));
			if (in)
				assert_int_equal(g->set[t->set_pos - 1], t->id);
			assert_true((t->t.state == PIAS_TARGET_DRAINING) == (t->drain_pos != 0));
			assert_ptr_equal(pias_jap_target(j, t->id), t);
			assert_ptr_equal(pias_jap_group_of(j, t->id), g);
			assert_int_equal(pias_jap_find(j, &g->ta, &ep), (int)t->id);
			assert_true(pias_timers_queued(&j->deadlines, t->id));
			if (d) {
				if (t->ejected && view.state == PIAS_TARGET_ACTIVE)
					view.state = PIAS_TARGET_DRAINING;
				assert_true(d->present[t->id]);
				assert_memory_equal(&d->t[t->id], &view, sizeof(view));
			}
		}
		assert_int_equal(g->active, active);
		assert_int_equal(g->up, up);
		assert_int_equal(g->nset, nset);
		assert_int_equal(g->holder, holder_of(g)->id);
		assert_memory_equal(&g->policy, &holder_of(g)->policy, sizeof(g->policy));
		total += g->count;
		if (d) {
			int k = ta_slot(tas, ntas, &g->ta);
			struct pias_jap_report r = pias_jap_group_report(g);

			seen_ta[k] = true;
			assert_true(d->has_set[k]);
			assert_int_equal(d->set[k].count, g->nset);
			assert_memory_equal(d->set_ids[k], g->set, g->nset * sizeof(__u32));
			/* each member's weight as it is now: its own if it takes new flows, else 0 */
			for (__u32 n = 0; n < g->nset; n++) {
				const struct pias_jap_target *t = pias_jap_target(j, g->set[n]);

				assert_int_equal(d->set_w[k][n],
						 t->t.state == PIAS_TARGET_ACTIVE && !t->ejected
							 ? t->t.weight
							 : 0);
			}
			assert_memory_equal(&d->set[k].policy, &g->policy, sizeof(g->policy));
			assert_true(d->reported[k]);
			assert_memory_equal(&d->report[k], &r, sizeof(r));
		}
	}
	assert_int_equal(pias_jap_ntargets(j), total);
	assert_int_equal(j->ndraining, draining);
	if (!d)
		return;
	for (int k = 0; k < ntas; k++)
		if (!seen_ta[k])
			assert_false(d->has_set[k]);
	for (__u32 id = 1; id <= d->max_id; id++)
		assert_true(d->present[id] == (pias_jap_target(j, id) != NULL));
}

/* Bytes that say all the registry holds: equal before and after a call that failed. */
struct digest {
	unsigned char *b;
	size_t n, cap;
};

static void dg_put(struct digest *g, const void *p, size_t len)
{
	if (!len)
		return; /* p may be NULL then: an array not allocated yet */
	if (g->n + len > g->cap) {
		g->cap = 2 * (g->n + len);
		g->b = realloc(g->b, g->cap);
		assert_non_null(g->b);
	}
	memcpy(g->b + g->n, p, len);
	g->n += len;
}

#define DG(g, v) dg_put(g, &(v), sizeof(v))

static void digest_of(const struct pias_jap *j, struct digest *dg)
{
	dg->n = 0;
	pias_jap_each_group(j, g)
	{
		dg_put(dg, &g->ta, sizeof(g->ta));
		DG(dg, g->count);
		DG(dg, g->active);
		DG(dg, g->up);
		DG(dg, g->nset);
		DG(dg, g->holder);
		DG(dg, g->reported_valid);
		DG(dg, g->reported);
		DG(dg, g->dial);
		DG(dg, g->share);
		DG(dg, g->peak);
		DG(dg, g->peak_ns);
		DG(dg, g->policy);
		DG(dg, g->policy_serial);
		DG(dg, g->n_scopes);
		dg_put(dg, g->scopes, sizeof(g->scopes));
		dg_put(dg, g->set, g->nset * sizeof(g->set[0]));
		for (__u32 i = 0; i < g->count; i++) {
			const struct pias_jap_target *t = &g->targets[i];
			__u64 when = pias_timers_when(&j->deadlines, t->id);

			DG(dg, t->id);
			DG(dg, t->t);
			DG(dg, t->last_refresh_ns);
			DG(dg, t->drain_start_ns);
			DG(dg, t->seq);
			DG(dg, t->left);
			DG(dg, t->ejected);
			DG(dg, t->policy);
			DG(dg, t->policy_serial);
			DG(dg, t->set_pos);
			DG(dg, t->drain_pos);
			DG(dg, when);
		}
	}
	dg_put(dg, j->ids_used, sizeof(j->ids_used));
	DG(dg, j->id_next);
	DG(dg, j->ntargets);
	DG(dg, j->ndrained);
	dg_put(dg, j->draining, j->ndraining * sizeof(j->draining[0]));
}

static __u64 rand_reply_now;

/* Now and then a reply a little while ago. */
static __u64 rand_reply(void *ctx, __u32 id)
{
	(void)ctx;
	return (id * 7 + rand_reply_now / 100000000) % 3 ? 0 : rand_reply_now - 200 * MS;
}

/* Connections left on a draining target: none for a third of them at a time. */
static long rand_conns(void *ctx, __u32 id, __u64 since)
{
	(void)ctx;
	(void)since;
	return (id + rand_reply_now / 1000000000) % 3 ? 5 : 0;
}

/*
 * Random registrations, refreshes, leaves, failures, ejections, drains,
 * dials, holds and ticks on three small groups: after every call the
 * registry agrees with itself and with the maps its actions wrote (the
 * diff is right), and a call that failed (a list with too little room,
 * a full group) changed nothing and appended nothing.
 */
static void random_calls_keep_invariants(void **state)
{
	struct fx *f = *state;
	struct pias_jap_config cfg = {
		.refresh_timeout_ns = PIAS_JAP_REFRESH_TIMEOUT_NS,
		.drain_timeout_ns = 5000 * MS,
		.down_expire_ns = 3000 * MS,
		.report_fraction = 0.25,
		.shed_threshold = 0.25,
		.shed_hold_ns = 2000 * MS,
		.conns = rand_conns,
		.conn_budget = 4,
		.group_max_targets = 8,
	};
	struct pias_ta tas[3];
	struct dp *d = calloc(1, sizeof(*d));
	struct digest before = { 0 }, after = { 0 };
	__u64 now = T0;
	int failed = 0;

	assert_non_null(d);
	pias_jap_free(&f->j);
	assert_int_equal(pias_jap_init(&f->j, &cfg, &f->e), 0);
	for (int k = 0; k < 3; k++) {
		tas[k] = f->ta;
		tas[k].port = (__u16)(80 + k);
	}
	srand(23);
	for (int step = 0; step < 30000; step++) {
		int k = rand() % 3, op = rand() % 12, err = 0;
		struct pias_jap_endpoint ep = ep4((__u32)(rand() % 12));
		int id = pias_jap_find(&f->j, &tas[k], &ep);
		__u32 uid = id > 0 ? (__u32)id : (__u32)(rand() % 40);
		struct pias_jap_actions *acts = &f->acts;
		struct pias_jap_actions small = { .a = f->buf, .cap = (size_t)(rand() % 3) };

		now += (__u64)(rand() % 120) * MS;
		rand_reply_now = now;
		ep.policy.kind = rand() % 4 ? PIAS_POLICY_WEIGHTED : PIAS_POLICY_SCOPED;
		ep.policy.scope_len = ep.policy.kind == PIAS_POLICY_SCOPED ? 24 : 0;
		ep.policy_serial = (__u32)(rand() % 3);
		if (rand() % 5 == 0)
			acts = &small;
		flush(f);
		digest_of(&f->j, &before);
		switch (op) {
		case 0:
		case 1:
		case 2:
			err = pias_jap_register(&f->j, &tas[k], &ep, 1 + (__u32)(rand() % 2), now,
						acts, &f->e);
			break;
		case 3:
		case 4:
			err = pias_jap_refresh(&f->j, &tas[k], uid, now, acts, &f->e);
			break;
		case 5:
			err = pias_jap_leave(&f->j, &tas[k], uid, now, acts, &f->e);
			break;
		case 6:
			err = pias_jap_fail(&f->j, &tas[k], uid, now, acts, &f->e);
			break;
		case 7:
			err = pias_jap_eject(&f->j, &tas[k], uid, rand() % 2, now, acts, &f->e);
			break;
		case 8:
			err = rand() % 2 ? pias_jap_drain(&f->j, &tas[k], uid, now, acts, &f->e)
					 : pias_jap_undrain(&f->j, &tas[k], &ep, now, acts, &f->e);
			break;
		case 9:
			err = pias_jap_dial(&f->j, &tas[k], (__u32)(rand() % 21) * 50, now, acts,
					    &f->e);
			break;
		case 10:
			if (rand() % 4 == 0)
				pias_jap_hold(&f->j, now);
			/* fall through */
		default:
			err = pias_jap_tick(&f->j, now, rand_reply, NULL, acts, &f->e);
			break;
		}
		if (err < 0) {
			failed++;
			digest_of(&f->j, &after);
			assert_int_equal(acts->n, 0);
			assert_int_equal(before.n, after.n);
			assert_memory_equal(before.b, after.b, before.n);
			if (err == -ENOBUFS)
				continue;
		}
		dp_apply(d, &f->j, tas, 3, acts, 0);
		check_registry(&f->j, d, tas, 3);
	}
	/* the calls went every way: some failed, and the registry held all kinds */
	assert_true(failed > 1000);
	free(before.b);
	free(after.b);
	free(d);
}

/* A list with room for n actions (the fixture's has 256). */
static struct pias_jap_actions big_list(size_t n)
{
	struct pias_jap_actions l = { .a = calloc(n, sizeof(struct pias_jap_action)), .cap = n };

	assert_non_null(l.a);
	return l;
}

/* TA g of many: 10.g.g.g:80 TCP. */
static struct pias_ta ta_n(__u32 g)
{
	struct pias_ta ta = { .port = 80, .proto = PIAS_PROTO_TCP, .family = PIAS_AF_INET };

	ta.addr.v4 = htonl(0x0a000000u + g);
	return ta;
}

/* Target k of group g: 192.168.g.g:(8000 + k) (an endpoint per group and k). */
static struct pias_jap_endpoint ep_n(__u32 g, __u32 k)
{
	struct pias_jap_endpoint ep = { .family = PIAS_AF_INET, .port = (__u16)(8000 + k) };

	ep.addr.v4 = htonl(0xc0a80000u + g);
	return ep;
}

enum {
	LIVE_GROUPS = 20000,
	LIVE_PER_GROUP = 5,
	LIVE = LIVE_GROUPS * LIVE_PER_GROUP,
	TICK = 50, /* ms, piasd's */
	ROUND = 6, /* ticks: an agent refreshes every 300 ms */
};

/*
 * A JAP with 100,000 live registrations over 20,000 groups, each refreshed
 * every 300 ms in rounds while ticks run every 50 ms: every one stays
 * ACTIVE through 11 timeout periods, no refresh and no tick writes
 * anything; then one target stops refreshing and goes DOWN within the
 * timeout plus one tick, and nothing else moves.
 */
static void hundred_thousand_live(void **state)
{
	struct fx *f = *state;
	struct pias_jap_actions l = big_list(16);
	__u32 *ids = calloc(LIVE, sizeof(*ids)), quiet = 12345; /* the one that stops */
	__u64 now = T0, stop = 0;
	size_t up = 0;

	assert_non_null(ids);
	for (__u32 i = 0; i < LIVE; i++) {
		struct pias_ta ta = ta_n(i / LIVE_PER_GROUP);
		struct pias_jap_endpoint ep = ep_n(i / LIVE_PER_GROUP, i % LIVE_PER_GROUP);
		int id = pias_jap_register(&f->j, &ta, &ep, 1, now, &l, &f->e);

		assert_true(id > 0);
		ids[i] = (__u32)id;
		l.n = 0;
	}
	assert_int_equal(pias_jap_ngroups(&f->j), LIVE_GROUPS);
	assert_int_equal(pias_jap_ntargets(&f->j), LIVE);
	for (int t = 1; t <= 200; t++) { /* 10 s */
		now = T0 + (__u64)t * TICK * MS;
		for (__u32 i = (__u32)t % ROUND; i < LIVE; i += ROUND) {
			struct pias_ta ta = ta_n(i / LIVE_PER_GROUP);

			if (i == quiet && t > 100)
				continue;
			if (i == quiet)
				stop = now;
			assert_int_equal(pias_jap_refresh(&f->j, &ta, ids[i], now, &l, &f->e), 0);
		}
		assert_int_equal(l.n, 0);
		assert_int_equal(tick(f, now), 0);
		if (now <= stop + PIAS_JAP_REFRESH_TIMEOUT_NS || t <= 100) {
			assert_int_equal(f->acts.n, 0);
			continue;
		}
		/* past the timeout: DOWN at this first tick, and nothing else */
		assert_true(now <= stop + PIAS_JAP_REFRESH_TIMEOUT_NS + TICK * MS);
		assert_int_equal(f->acts.n, 2);
		assert_int_equal(f->acts.a[0].kind, PIAS_JAP_TARGET_SET);
		assert_int_equal(f->acts.a[0].id, ids[quiet]);
		assert_int_equal(f->acts.a[0].target.state, PIAS_TARGET_DOWN);
		assert_int_equal(f->acts.a[1].kind, PIAS_JAP_SET_SET);
		assert_int_equal(f->acts.a[1].set.count, LIVE_PER_GROUP - 1);
		flush(f);
		stop = ~0ull / 2; /* once */
	}
	assert_true(stop > now);
	pias_jap_each_group(&f->j, g) up += g->up;
	assert_int_equal(up, LIVE - 1);
	assert_int_equal(pias_jap_target(&f->j, ids[quiet])->t.state, PIAS_TARGET_DOWN);
	check_registry(&f->j, NULL, NULL, 0);
	free(ids);
	free(l.a);
}

static long no_conns(void *ctx, __u32 id, __u64 since)
{
	(void)ctx;
	(void)id;
	(void)since;
	return 0;
}

enum {
	BIG = 10000,
};

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* The actions of kind k, their ids sorted, into out; how many. */
static size_t ids_of(const struct pias_jap_actions *l, enum pias_jap_action_kind k, __u32 *out)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->a[i].kind == k)
			out[n++] = l->a[i].id;
	qsort(out, n, sizeof(*out), cmp_u32);
	return n;
}

/* The ids in g's set, sorted. */
static size_t set_sorted(const struct pias_jap_group *g, __u32 *out)
{
	memcpy(out, g->set, g->nset * sizeof(*out));
	qsort(out, g->nset, sizeof(*out), cmp_u32);
	return g->nset;
}

/*
 * One group of 10,000 targets (the per-group limit set to that): it registers, refreshes with no action, loses 1,000 at
 * one tick (the target holding the group's policy among them: the policy
 * falls back, reported), 3,000 leave and go when their connections end,
 * the 1,000 DOWN expire; each step writes exactly its targets, the set
 * when its members or their weights change, and the set always holds
 * exactly the live ids.
 */
static void ten_thousand_in_a_group(void **state)
{
	struct fx *f = *state;
	struct pias_jap_config cfg = pias_jap_default_config();
	struct pias_jap_actions l = big_list(BIG + 16);
	__u32 *got = calloc(BIG, sizeof(*got)), *want = calloc(BIG, sizeof(*want));
	const struct pias_jap_group *g;
	struct pias_ta ta = ta_n(7);
	int last_set;
	size_t n;

	assert_non_null(got);
	assert_non_null(want);
	cfg.group_max_targets = BIG;
	pias_jap_free(&f->j);
	assert_int_equal(pias_jap_init(&f->j, &cfg, &f->e), 0);
	/* ids 1..10000; id 500 says a policy at serial 1: the group's */
	for (__u32 k = 0; k < BIG; k++) {
		struct pias_jap_endpoint ep = ep_n(7, k);

		if (k == 499) {
			ep.policy = (struct pias_policy){ .kind = PIAS_POLICY_RANDOM };
			ep.policy_serial = 1;
		}
		l.n = 0;
		assert_int_equal(pias_jap_register(&f->j, &ta, &ep, 1, T0, &l, &f->e), (int)k + 1);
		assert_int_equal(l.a[0].kind, PIAS_JAP_TARGET_SET);
		assert_int_equal(l.a[1].kind, PIAS_JAP_SET_SET);
		assert_int_equal(l.a[1].set.count, k + 1);
		assert_int_equal(l.a[1].set.policy.kind,
				 k < 499 ? PIAS_POLICY_WEIGHTED : PIAS_POLICY_RANDOM);
	}
	/* one more: the limit raised is still a limit */
	{
		struct pias_jap_endpoint ep = ep_n(7, BIG);

		assert_int_equal(pias_jap_register(&f->j, &ta, &ep, 1, T0, &l, &f->e), -ENOSPC);
	}
	g = pias_jap_group(&f->j, &ta);
	assert_int_equal(g->count, BIG);
	assert_int_equal(g->active, BIG);
	assert_int_equal(g->holder, 500);
	/* every one refreshes: nothing to write; ids 1..1000 stop after this */
	l.n = 0;
	for (__u32 id = 1; id <= BIG; id++)
		assert_int_equal(pias_jap_refresh(&f->j, &ta, id, T0 + 300 * MS, &l, &f->e), 0);
	for (__u32 id = 1001; id <= BIG; id++)
		assert_int_equal(pias_jap_refresh(&f->j, &ta, id, T0 + 900 * MS, &l, &f->e), 0);
	assert_int_equal(tick(f, T0 + 1200 * MS), 0);
	assert_int_equal(l.n + f->acts.n, 0);
	/* 1,000 DOWN at one tick: their entries, the set of 9,000, the policy falls back */
	assert_int_equal(pias_jap_tick(&f->j, T0 + 1250 * MS, reply_of, f, &l, &f->e), 0);
	assert_int_equal(l.n, 1000 + 2);
	n = ids_of(&l, PIAS_JAP_TARGET_SET, got);
	assert_int_equal(n, 1000);
	for (__u32 i = 0; i < n; i++)
		assert_int_equal(got[i], i + 1);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(l.a[i].target.state, PIAS_TARGET_DOWN);
	assert_int_equal(l.a[1000].kind, PIAS_JAP_SET_SET);
	assert_int_equal(l.a[1000].set.count, 9000);
	assert_int_equal(l.a[1000].set.policy.kind, PIAS_POLICY_WEIGHTED);
	assert_int_equal(l.a[1001].kind, PIAS_JAP_REPORT); /* the policy changed */
	assert_int_equal(l.a[1001].report.count, 9000);
	g = pias_jap_group(&f->j, &ta);
	assert_int_equal(g->holder, 1001); /* serial 0, the earliest live */
	assert_int_equal(set_sorted(g, got), 9000);
	for (__u32 i = 0; i < 9000; i++)
		assert_int_equal(got[i], 1001 + i);
	/*
	 * 3,000 leave: each writes its own entry, and the set, which keeps it
	 * for its flows at weight 0 (no new flow draws it)
	 */
	for (__u32 id = 1001; id <= 4000; id++) {
		l.n = 0;
		assert_int_equal(pias_jap_leave(&f->j, &ta, id, T0 + 1300 * MS, &l, &f->e), 0);
		assert_true(l.n >= 2);
		assert_int_equal(l.a[0].kind, PIAS_JAP_TARGET_SET);
		assert_int_equal(l.a[0].target.state, PIAS_TARGET_DRAINING);
		assert_int_equal(l.a[1].kind, PIAS_JAP_SET_SET);
		assert_int_equal(l.a[1].set.count, 9000);
		for (size_t i = 2; i < l.n; i++)
			assert_int_equal(l.a[i].kind, PIAS_JAP_REPORT);
	}
	{
		__u32 *w = calloc(9000, sizeof(*w));
		size_t zero = 0;

		assert_non_null(w);
		assert_int_equal(pias_jap_set_read(&f->j, &l.a[1], got, w, 9000), 9000);
		for (__u32 i = 0; i < 9000; i++) {
			assert_int_equal(w[i], got[i] > 4000 ? 1 : 0);
			zero += !w[i];
		}
		assert_int_equal(zero, 3000);
		free(w);
	}
	/* their connections end: gone at the next tick, the set of 6,000 written once */
	f->j.cfg.conns = no_conns;
	for (__u32 id = 4001; id <= BIG; id++)
		assert_int_equal(pias_jap_refresh(&f->j, &ta, id, T0 + 1400 * MS, &l, &f->e), 0);
	l.n = 0;
	assert_int_equal(pias_jap_tick(&f->j, T0 + 1400 * MS, reply_of, f, &l, &f->e), 0);
	assert_int_equal(l.n, 3000 + 1);
	last_set = -1;
	for (size_t i = 0; i < l.n; i++)
		if (l.a[i].kind == PIAS_JAP_SET_SET)
			last_set = (int)i;
	assert_int_equal(last_set, 0); /* the set first, then the entries it no longer names */
	assert_int_equal(l.a[0].set.count, 6000);
	n = ids_of(&l, PIAS_JAP_TARGET_DEL, got);
	assert_int_equal(n, 3000);
	for (__u32 i = 0; i < n; i++)
		assert_int_equal(got[i], 1001 + i);
	g = pias_jap_group(&f->j, &ta);
	assert_int_equal(set_sorted(g, got), 6000);
	for (__u32 i = 0; i < 6000; i++)
		assert_int_equal(got[i], 4001 + i);
	/* the 1,000 DOWN expire (the others refreshed): their entries go, the set stays */
	for (__u32 id = 4001; id <= BIG; id++)
		assert_int_equal(pias_jap_refresh(&f->j, &ta, id,
						  T0 + 300 * MS + PIAS_JAP_REFRESH_TIMEOUT_NS +
							  PIAS_JAP_DOWN_EXPIRE_NS,
						  &l, &f->e),
				 0);
	l.n = 0;
	assert_int_equal(pias_jap_tick(&f->j,
				       T0 + 300 * MS + PIAS_JAP_REFRESH_TIMEOUT_NS +
					       PIAS_JAP_DOWN_EXPIRE_NS + 1,
				       reply_of, f, &l, &f->e),
			 0);
	assert_int_equal(l.n, 1000);
	n = ids_of(&l, PIAS_JAP_TARGET_DEL, want);
	assert_int_equal(n, 1000);
	for (__u32 i = 0; i < n; i++)
		assert_int_equal(want[i], i + 1);
	for (__u32 k = 0; k < 4000; k++) {
		struct pias_jap_endpoint ep = ep_n(7, k);

		assert_int_equal(pias_jap_find(&f->j, &ta, &ep), -ENOENT);
	}
	for (__u32 k = 4000; k < BIG; k++) {
		struct pias_jap_endpoint ep = ep_n(7, k);

		assert_int_equal(pias_jap_find(&f->j, &ta, &ep), (int)k + 1);
	}
	g = pias_jap_group(&f->j, &ta);
	assert_int_equal(g->count, 6000);
	assert_int_equal(pias_jap_ntargets(&f->j), 6000);
	check_registry(&f->j, NULL, NULL, 0);
	free(got);
	free(want);
	free(l.a);
}

static unsigned int replies_asked, conns_asked;

static __u64 count_reply(void *ctx, __u32 id)
{
	(void)ctx;
	(void)id;
	replies_asked++;
	return 0;
}

static long count_conns(void *ctx, __u32 id, __u64 since)
{
	(void)ctx;
	(void)id;
	(void)since;
	conns_asked++;
	return 3;
}

/*
 * A tick asks the dataplane only about what is due: the last reply of a
 * target whose deadline popped with its refreshes too old (none of those
 * refreshed in time), and the connections of DRAINING targets only.
 */
static void tick_asks_only_due(void **state)
{
	struct fx *f = *state;
	struct pias_jap_actions l = big_list(64);

	f->j.cfg.conns = count_conns;
	for (__u32 i = 0; i < 1000; i++) {
		struct pias_ta ta = ta_n(i / 10);
		struct pias_jap_endpoint ep = ep_n(i / 10, i % 10);

		l.n = 0;
		assert_int_equal(pias_jap_register(&f->j, &ta, &ep, 1, T0, &l, &f->e), (int)i + 1);
	}
	for (__u32 i = 0; i < 1000; i++) {
		struct pias_ta ta = ta_n(i / 10);

		assert_int_equal(pias_jap_refresh(&f->j, &ta, i + 1, T0 + 500 * MS, &l, &f->e), 0);
	}
	/* 10 leave (ids 1..10, group 0) */
	for (__u32 id = 1; id <= 10; id++) {
		struct pias_ta ta = ta_n(0);

		assert_int_equal(pias_jap_leave(&f->j, &ta, id, T0 + 500 * MS, &l, &f->e), 0);
	}
	replies_asked = conns_asked = 0;
	l.n = 0;
	assert_int_equal(pias_jap_tick(&f->j, T0 + 600 * MS, count_reply, f, &l, &f->e), 0);
	assert_int_equal(replies_asked, 0);
	assert_int_equal(conns_asked, 10);
	/* the first deadlines pop: refreshed in time, set again without asking */
	for (__u32 i = 10; i < 1000; i++) {
		struct pias_ta ta = ta_n(i / 10);

		if (i < 993)
			assert_int_equal(
				pias_jap_refresh(&f->j, &ta, i + 1, T0 + 1000 * MS, &l, &f->e), 0);
	}
	replies_asked = conns_asked = 0;
	assert_int_equal(pias_jap_tick(&f->j, T0 + 1000 * MS, count_reply, f, &l, &f->e), 0);
	assert_int_equal(replies_asked, 0);
	assert_int_equal(conns_asked, 10);
	assert_int_equal(l.n, 0);
	/* 7 refreshed last at T0 + 500 ms: asked once each, then DOWN */
	replies_asked = conns_asked = 0;
	assert_int_equal(pias_jap_tick(&f->j, T0 + 1450 * MS, count_reply, f, &l, &f->e), 0);
	assert_int_equal(replies_asked, 7);
	assert_int_equal(ids_of(&l, PIAS_JAP_TARGET_SET, (__u32[16]){ 0 }), 7);
	/* nothing due: nothing asked, nothing written */
	replies_asked = conns_asked = 0;
	l.n = 0;
	f->j.cfg.conns = NULL;
	assert_int_equal(pias_jap_tick(&f->j, T0 + 1500 * MS, count_reply, f, &l, &f->e), 0);
	assert_int_equal(replies_asked + conns_asked + l.n, 0);
	free(l.a);
}

/*
 * One tick with many groups due for different reasons: 64 whose shedding
 * peak lapses (reported at full share again) and 20 others whose only
 * target times out (DOWN); every group is looked at once and each gets
 * its actions. The live targets' deadlines are spread over the ticks, so
 * that the call's scratch has been small until then (ASan: room for both
 * kinds of group, not for the larger of the two).
 */
static void tick_many_groups_due(void **state)
{
	struct fx *f = *state;
	struct pias_jap_config cfg = pias_jap_default_config();
	struct pias_jap_actions l = big_list(1024);
	size_t reports = 0, downs = 0;

	cfg.shed_hold_ns = 2000 * MS;
	pias_jap_free(&f->j);
	assert_int_equal(pias_jap_init(&f->j, &cfg, &f->e), 0);
	/* 10 ms steps; a tick every 10 steps; the big one at step 280 (T0 + 2.8 s) */
	for (__u32 st = 1; st <= 280; st++) {
		__u64 now = T0 + st * 10 * MS;

		l.n = 0;
		if (st <= 64) /* group st - 1 joins: two targets, ids 2g + 1 and 2g + 2 */
			for (__u32 k = 0; k < 2; k++) {
				struct pias_ta ta = ta_n(st - 1);
				struct pias_jap_endpoint ep = ep_n(st - 1, k);

				assert_true(pias_jap_register(&f->j, &ta, &ep, 1, now, &l, &f->e) >
					    0);
			}
		for (__u32 g = 0; g < 64 && st > 64; g++) /* the live one refreshes every 300 ms */
			if ((st - g) % 30 == 0) {
				struct pias_ta ta = ta_n(g);

				assert_int_equal(
					pias_jap_refresh(&f->j, &ta, 2 * g + 2, now, &l, &f->e), 0);
			}
		if (st == 70) /* the other fails in every group at once: peaks of 2 held 2 s */
			for (__u32 g = 0; g < 64; g++) {
				struct pias_ta ta = ta_n(g);

				assert_int_equal(
					pias_jap_fail(&f->j, &ta, 2 * g + 1, now, &l, &f->e), 0);
			}
		if (st == 180) /* 20 groups of one, never refreshed: due at the big tick */
			for (__u32 g = 100; g < 120; g++) {
				struct pias_ta ta = ta_n(g);
				struct pias_jap_endpoint ep = ep_n(g, 0);

				assert_true(pias_jap_register(&f->j, &ta, &ep, 1, now, &l, &f->e) >
					    0);
			}
		if (st % 10)
			continue;
		l.n = 0;
		assert_int_equal(pias_jap_tick(&f->j, now, reply_of, f, &l, &f->e), 0);
		if (st < 280)
			assert_int_equal(l.n, 0);
	}
	for (size_t i = 0; i < l.n; i++) {
		if (l.a[i].kind == PIAS_JAP_REPORT && l.a[i].report.count == 1 &&
		    l.a[i].report.share == PIAS_JAP_SHARE_FULL)
			reports++;
		downs += l.a[i].kind == PIAS_JAP_TARGET_SET &&
			 l.a[i].target.state == PIAS_TARGET_DOWN;
	}
	assert_int_equal(reports, 64);
	assert_int_equal(downs, 20);
	check_registry(&f->j, NULL, NULL, 0);
	free(l.a);
}

int test_jap_registry(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(register_first, setup, teardown),
		cmocka_unit_test_setup_teardown(set_read_in_a_shared_list, setup, teardown),
		cmocka_unit_test_setup_teardown(tunnel_mode_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(policy_highest_serial, setup, teardown),
		cmocka_unit_test_setup_teardown(policy_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(policy_restored, setup, teardown),
		cmocka_unit_test_setup_teardown(dial_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(scoped_report_prefixes, setup, teardown),
		cmocka_unit_test_setup_teardown(shed_by_count, setup, teardown),
		cmocka_unit_test_setup_teardown(shed_by_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(report_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(refresh_keeps_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(refresh_into_empty_list, setup, teardown),
		cmocka_unit_test_setup_teardown(silent_target_goes_down, setup, teardown),
		cmocka_unit_test_setup_teardown(detection_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(replies_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(leave_drains_then_removes, setup, teardown),
		cmocka_unit_test_setup_teardown(left_target_registers_again, setup, teardown),
		cmocka_unit_test_setup_teardown(fail_takes_down_then_back, setup, teardown),
		cmocka_unit_test_setup_teardown(eject_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(last_target_leaves_deletes_set, setup, teardown),
		cmocka_unit_test_setup_teardown(undrain_while_draining, setup, teardown),
		cmocka_unit_test_setup_teardown(ta_full, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_family, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_is_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(enobufs_applies_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(many_groups_tick, setup, teardown),
		cmocka_unit_test_setup_teardown(walk_resumes_across_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_config, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_takes_over, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_refreshed_stays_active, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_silent_goes_down, setup, teardown),
		cmocka_unit_test_setup_teardown(hold_while_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_down_target, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_leave_and_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_then_register_new_id, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_duplicate_eexist, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_ta_full, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_draining_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(random_calls_keep_invariants, setup, teardown),
		cmocka_unit_test_setup_teardown(hundred_thousand_live, setup, teardown),
		cmocka_unit_test_setup_teardown(ten_thousand_in_a_group, setup, teardown),
		cmocka_unit_test_setup_teardown(tick_asks_only_due, setup, teardown),
		cmocka_unit_test_setup_teardown(tick_many_groups_due, setup, teardown),
	};

	return cmocka_run_group_tests_name("jap_registry", tests, NULL, NULL);
}
