// SPDX-License-Identifier: MIT
/* daemon/iap: the IAP's binding cache and the invalidation limiter (fake time). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iap.h"
#include "unit.h"

#define MS  1000000ull
#define SEC (1000 * MS)
#define T0  (1000 * MS) /* fake time starts here */

struct fx {
	struct pias_iap i;
	struct pias_iap_action buf[64];
	struct pias_iap_actions acts;
	struct pias_err e;
	struct pias_ta ta, ta2, ta3;
	__u32 rap; /* what rap_of answers */
	int rap_calls;
};

static struct pias_ta ta4(__u32 n)
{
	struct pias_ta ta = { .family = PIAS_AF_INET, .port = 80, .proto = PIAS_PROTO_TCP };

	ta.addr.v4 = 0x0000000a + (n << 24);
	return ta;
}

static int setup_cfg(void **state, const struct pias_iap_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(pias_iap_init(&f->i, cfg, &f->e), 0);
	f->acts = (struct pias_iap_actions){ .a = f->buf, .cap = 64 };
	f->ta = ta4(1);
	f->ta2 = ta4(2);
	f->ta3 = ta4(3);
	f->rap = 9;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_cfg(state, NULL);
}

static int setup_small(void **state)
{
	struct pias_iap_config cfg = { .refresh_before_ns = 1 * SEC,
				       .query_retry_ns = 200 * MS,
				       .max_pending = 2 };

	return setup_cfg(state, &cfg);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pias_iap_free(&f->i);
	free(f);
	return 0;
}

static __u32 rap_of(void *ctx, const struct pias_ta *ta)
{
	struct fx *f = ctx;

	(void)ta;
	f->rap_calls++;
	return f->rap;
}

static int miss(struct fx *f, const struct pias_ta *ta, __u64 now)
{
	return pias_iap_miss(&f->i, ta, 7, now, &f->acts, &f->e);
}

static int bind(struct fx *f, const struct pias_ta *ta, __u32 jap, __u32 gen, __u64 life, __u64 now)
{
	return pias_iap_binding(&f->i, 7, ta, jap, gen, life, now, &f->acts, &f->e);
}

static int tick(struct fx *f, __u64 now)
{
	return pias_iap_tick(&f->i, now, rap_of, f, &f->acts, &f->e);
}

static void assert_act(const struct fx *f, size_t k, enum pias_iap_action_kind kind,
		       const struct pias_ta *ta)
{
	assert_true(k < f->acts.n);
	assert_int_equal(f->acts.a[k].kind, kind);
	assert_memory_equal(&f->acts.a[k].ta, ta, sizeof(*ta));
}

static void test_miss_queries_once_per_retry(void **state)
{
	struct fx *f = *state;

	assert_int_equal(miss(f, &f->ta, T0), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);
	assert_int_equal(f->acts.a[0].rap_id, 7);
	assert_true(pias_iap_entry(&f->i, &f->ta)->pending);

	/* A duplicate miss within query_retry_ns: the query is outstanding. */
	f->acts.n = 0;
	assert_int_equal(miss(f, &f->ta, T0 + PIAS_IAP_QUERY_RETRY_NS - 1), 0);
	assert_int_equal(f->acts.n, 0);

	/* After the retry interval the query counts as lost: ask again. */
	assert_int_equal(miss(f, &f->ta, T0 + PIAS_IAP_QUERY_RETRY_NS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);
	assert_int_equal(f->i.npending, 1);
}

static void test_binding_installs_with_expiry(void **state)
{
	struct fx *f = *state;
	const struct pias_iap_entry *en;

	assert_int_equal(miss(f, &f->ta, T0), 0);
	f->acts.n = 0;
	assert_int_equal(bind(f, &f->ta, 3, 5, 10 * SEC, T0 + 1 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_SET, &f->ta);
	assert_int_equal(f->acts.a[0].binding.jap_id, 3);
	assert_int_equal(f->acts.a[0].binding.generation, 5);
	assert_int_equal(f->acts.a[0].binding.expires_ns, T0 + 1 * MS + 10 * SEC);
	assert_int_equal(f->acts.a[0].binding.flags, 0);
	en = pias_iap_entry(&f->i, &f->ta);
	assert_non_null(en);
	assert_true(en->bound);
	assert_false(en->pending); /* the query is answered */
	assert_int_equal(f->i.npending, 0);
}

static void test_older_generation_ignored(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bind(f, &f->ta, 3, 5, 10 * SEC, T0), 0);
	f->acts.n = 0;
	assert_int_equal(bind(f, &f->ta, 4, 4, 10 * SEC, T0 + 1 * MS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_iap_entry(&f->i, &f->ta)->b.jap_id, 3);

	/* Same or newer generation replaces it. */
	assert_int_equal(bind(f, &f->ta, 4, 6, 10 * SEC, T0 + 2 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(f->acts.a[0].binding.jap_id, 4);

	/* Generations wrap: 0 is newer than 0xffffffff. */
	assert_int_equal(bind(f, &f->ta2, 3, 0xffffffffu, 10 * SEC, T0), 0);
	assert_int_equal(bind(f, &f->ta2, 5, 0, 10 * SEC, T0), 0);
	assert_int_equal(f->acts.n, 3);
	assert_int_equal(pias_iap_entry(&f->i, &f->ta2)->b.jap_id, 5);
}

static void test_negative_binding(void **state)
{
	struct fx *f = *state;

	assert_int_equal(miss(f, &f->ta, T0), 0);
	f->acts.n = 0;
	assert_int_equal(pias_iap_negative(&f->i, 7, &f->ta, 2 * SEC, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_SET, &f->ta);
	assert_int_equal(f->acts.a[0].binding.flags, PIAS_BINDING_F_NEGATIVE);
	assert_int_equal(f->acts.a[0].binding.expires_ns, T0 + 2 * SEC);
	assert_false(pias_iap_entry(&f->i, &f->ta)->pending);

	/* No JAP to invalidate a negative binding. */
	f->acts.n = 0;
	assert_int_equal(pias_iap_invalidate(&f->i, 0, &f->ta, 0, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
}

/*
 * A refresh answered "no group" (a RAP new to the TA after a ring change)
 * leaves the working binding alone and asks again after query_retry_ns;
 * once the binding has expired, the negative answer is installed.
 */
static void test_negative_keeps_live_binding(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 9 * SEC), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);
	f->acts.n = 0;
	assert_int_equal(
		pias_iap_negative(&f->i, 7, &f->ta, SEC, T0 + 9 * SEC + 10 * MS, &f->acts, &f->e),
		0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_iap_entry(&f->i, &f->ta)->b.jap_id, 3);
	assert_int_equal(pias_iap_entry(&f->i, &f->ta)->b.flags, 0);
	assert_true(pias_iap_entry(&f->i, &f->ta)->pending);

	/* Asked again once the retry time has passed. */
	assert_int_equal(tick(f, T0 + 9 * SEC + PIAS_IAP_QUERY_RETRY_NS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);

	/* Expired: the binding goes, and a negative answer now stands. */
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 10 * SEC), 0);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta);
	f->acts.n = 0;
	assert_int_equal(pias_iap_negative(&f->i, 7, &f->ta, SEC, T0 + 10 * SEC, &f->acts, &f->e),
			 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(f->acts.a[0].binding.flags, PIAS_BINDING_F_NEGATIVE);
	assert_false(pias_iap_entry(&f->i, &f->ta)->pending);
}

static void test_invalidate(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bind(f, &f->ta, 3, 5, 10 * SEC, T0), 0);
	f->acts.n = 0;

	/* From another JAP: ignored. */
	assert_int_equal(pias_iap_invalidate(&f->i, 4, &f->ta, 5, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	/* Stale: about an older binding. */
	assert_int_equal(pias_iap_invalidate(&f->i, 3, &f->ta, 4, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	/* Unknown TA: ignored. */
	assert_int_equal(pias_iap_invalidate(&f->i, 3, &f->ta2, 5, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	assert_true(pias_iap_entry(&f->i, &f->ta)->bound);

	/* From the bound JAP, its generation: dropped, the entry goes. */
	assert_int_equal(pias_iap_invalidate(&f->i, 3, &f->ta, 5, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta);
	assert_null(pias_iap_entry(&f->i, &f->ta));
	assert_int_equal(pias_iap_count(&f->i), 0);

	/* A newer generation also drops it. */
	assert_int_equal(bind(f, &f->ta, 3, 5, 10 * SEC, T0), 0);
	f->acts.n = 0;
	assert_int_equal(pias_iap_invalidate(&f->i, 3, &f->ta, 6, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta);
}

static void test_jap_dead(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(bind(f, &f->ta2, 4, 1, 10 * SEC, T0), 0);
	assert_int_equal(bind(f, &f->ta3, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(pias_iap_negative(&f->i, 7, &(struct pias_ta){ .family = PIAS_AF_INET6 },
					   10 * SEC, T0, &f->acts, &f->e),
			 0);
	f->acts.n = 0;
	assert_int_equal(pias_iap_jap_dead(&f->i, 3, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
	for (size_t k = 0; k < 2; k++) {
		const struct pias_ta *t = &f->acts.a[k].ta;

		assert_int_equal(f->acts.a[k].kind, PIAS_IAP_BINDING_DEL);
		assert_true(!memcmp(t, &f->ta, sizeof(*t)) || !memcmp(t, &f->ta3, sizeof(*t)));
	}
	assert_memory_not_equal(&f->acts.a[0].ta, &f->acts.a[1].ta, sizeof(f->ta));
	assert_null(pias_iap_entry(&f->i, &f->ta));
	assert_null(pias_iap_entry(&f->i, &f->ta3));
	assert_int_equal(pias_iap_entry(&f->i, &f->ta2)->b.jap_id, 4);
	assert_int_equal(pias_iap_count(&f->i), 2);

	/* Again: nothing left bound to it. */
	f->acts.n = 0;
	assert_int_equal(pias_iap_jap_dead(&f->i, 3, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
}

/* Default refresh_before: a fifth of the lifetime; query_retry 500 ms. */
static void test_tick_refreshes_and_expires(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 8 * SEC), 0); /* 2 s left: not below 2 s */
	assert_int_equal(f->acts.n, 0);

	assert_int_equal(tick(f, T0 + 8 * SEC + 1), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);
	assert_int_equal(f->acts.a[0].rap_id, 9);

	/* Outstanding: no second query within query_retry_ns. */
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 8 * SEC + 400 * MS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(miss(f, &f->ta, T0 + 8 * SEC + 400 * MS), 0);
	assert_int_equal(f->acts.n, 0);

	/* Lost: query again. */
	assert_int_equal(tick(f, T0 + 8 * SEC + 501 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);

	/* Not answered: deleted at expiry, and the lost query forgotten. */
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 9 * SEC + 999 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 10 * SEC + 600 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta);
	assert_null(pias_iap_entry(&f->i, &f->ta));
	assert_int_equal(f->i.npending, 0);
}

static void test_tick_refresh_answered(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(tick(f, T0 + 9 * SEC), 0);
	f->acts.n = 0;
	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0 + 9 * SEC + 10 * MS), 0);
	assert_int_equal(f->acts.a[0].binding.expires_ns, T0 + 19 * SEC + 10 * MS);
	assert_int_equal(f->i.npending, 0);
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 12 * SEC), 0);
	assert_int_equal(f->acts.n, 0);

	/* No RAP known: skipped, nothing outstanding. */
	f->rap = 0;
	assert_int_equal(tick(f, T0 + 18 * SEC), 0);
	assert_int_equal(f->acts.n, 0);
	assert_false(pias_iap_entry(&f->i, &f->ta)->pending);
}

static void test_tick_negative_not_refreshed(void **state)
{
	struct fx *f = *state;

	assert_int_equal(pias_iap_negative(&f->i, 7, &f->ta, 1 * SEC, T0, &f->acts, &f->e), 0);
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 999 * MS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->rap_calls, 0);
	assert_int_equal(tick(f, T0 + 1 * SEC), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta);
	assert_int_equal(pias_iap_count(&f->i), 0);
}

/* setup_small: refresh_before 1 s, query_retry 200 ms, max_pending 2. */
static void test_config_refresh_and_max_pending(void **state)
{
	struct fx *f = *state;
	struct pias_ta t4 = ta4(4);

	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 9 * SEC), 0); /* 1 s left: not below */
	assert_int_equal(f->acts.n, 0);

	assert_int_equal(miss(f, &f->ta2, T0 + 9 * SEC), 0);
	assert_int_equal(miss(f, &f->ta3, T0 + 9 * SEC), 0);
	f->acts.n = 0;
	/* Two queries outstanding: a third TA is refused, the refresh waits. */
	assert_int_equal(miss(f, &t4, T0 + 9 * SEC), -EAGAIN);
	assert_msg_has(f->e.msg, "outstanding");
	assert_int_equal(tick(f, T0 + 9 * SEC + 1), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_iap_count(&f->i), 3);

	/* 200 ms later, those are lost: forgotten, and the refresh goes out. */
	assert_int_equal(tick(f, T0 + 9 * SEC + 200 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);
	assert_int_equal(pias_iap_count(&f->i), 1);
	assert_int_equal(f->i.npending, 1);
}

static void test_enobufs_applies_nothing(void **state)
{
	struct fx *f = *state;
	struct pias_iap_entry before;

	f->acts.cap = 0;
	assert_int_equal(miss(f, &f->ta, T0), -ENOBUFS);
	assert_msg_has(f->e.msg, "room");
	assert_null(pias_iap_entry(&f->i, &f->ta));
	assert_int_equal(f->i.npending, 0);
	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), -ENOBUFS);
	assert_int_equal(pias_iap_negative(&f->i, 7, &f->ta, SEC, T0, &f->acts, &f->e), -ENOBUFS);
	assert_int_equal(pias_iap_count(&f->i), 0);

	f->acts.cap = 64;
	assert_int_equal(miss(f, &f->ta, T0), 0);
	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(bind(f, &f->ta2, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(miss(f, &f->ta3, T0 + 9 * SEC), 0);
	before = *pias_iap_entry(&f->i, &f->ta);

	/* Full list: nothing changes, nothing is appended. */
	f->acts.cap = f->acts.n;
	assert_int_equal(bind(f, &f->ta, 4, 2, 10 * SEC, T0 + 1), -ENOBUFS);
	assert_int_equal(pias_iap_invalidate(&f->i, 3, &f->ta, 1, T0, &f->acts, &f->e), -ENOBUFS);
	assert_memory_equal(pias_iap_entry(&f->i, &f->ta), &before, sizeof(before));

	/* One slot for two deletions. */
	f->acts.cap = f->acts.n + 1;
	assert_int_equal(pias_iap_jap_dead(&f->i, 3, T0, &f->acts, &f->e), -ENOBUFS);
	assert_true(pias_iap_entry(&f->i, &f->ta)->bound);
	assert_true(pias_iap_entry(&f->i, &f->ta2)->bound);

	/* Tick: two refreshes due (ta3's query is still young), room for one. */
	assert_int_equal(tick(f, T0 + 9 * SEC), -ENOBUFS);
	assert_int_equal(f->acts.n, f->acts.cap - 1);
	assert_false(pias_iap_entry(&f->i, &f->ta)->pending);
	assert_false(pias_iap_entry(&f->i, &f->ta2)->pending);
	assert_true(pias_iap_entry(&f->i, &f->ta3)->pending);
	assert_int_equal(f->i.npending, 1);
	assert_int_equal(pias_iap_count(&f->i), 3);
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct pias_iap_config cfg = { .query_retry_ns = 0, .max_pending = 1 };
	struct pias_iap i;
	struct pias_ta bad = { .family = 0 };

	assert_int_equal(pias_iap_init(&i, &cfg, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "retry");
	cfg = (struct pias_iap_config){ .query_retry_ns = 1, .max_pending = 0 };
	assert_int_equal(pias_iap_init(&i, &cfg, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "pending");
	assert_int_equal(pias_iap_miss(&f->i, &f->ta, 0, T0, &f->acts, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "RAP");
	assert_int_equal(miss(f, &bad, T0), -EINVAL);
	assert_msg_has(f->e.msg, "family");
	assert_int_equal(bind(f, &f->ta, 0, 1, SEC, T0), -EINVAL);
	assert_msg_has(f->e.msg, "JAP");
	assert_int_equal(bind(f, &f->ta, 3, 1, 0, T0), -EINVAL);
	assert_msg_has(f->e.msg, "lifetime");
	assert_int_equal(pias_iap_jap_dead(&f->i, 0, T0, &f->acts, &f->e), -EINVAL);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_iap_count(&f->i), 0);
}

static void test_inval_limiter(void **state)
{
	struct pias_inval_limiter *l = malloc(sizeof(*l));
	struct fx *f = *state;

	assert_non_null(l);
	pias_inval_limiter_init(l, 0);
	assert_int_equal(l->interval_ns, PIAS_INVAL_INTERVAL_NS);
	assert_true(pias_inval_limiter(l, 5, &f->ta, T0));
	assert_false(pias_inval_limiter(l, 5, &f->ta, T0 + 99 * MS));
	/* Per (IAP, TA): others are independent. */
	assert_true(pias_inval_limiter(l, 6, &f->ta, T0 + 1));
	assert_true(pias_inval_limiter(l, 5, &f->ta2, T0 + 1));
	assert_true(pias_inval_limiter(l, 5, &f->ta, T0 + 100 * MS));
	assert_false(pias_inval_limiter(l, 5, &f->ta, T0 + 150 * MS));

	/* Bounded: many more keys than slots; each new one is allowed once, and a
	 * key still in its interval after the flood is at worst allowed early. */
	pias_inval_limiter_init(l, 50 * MS);
	assert_int_equal(l->interval_ns, 50 * MS);
	for (__u32 n = 0; n < 4 * PIAS_INVAL_LIMITER_SETS * PIAS_INVAL_LIMITER_WAYS; n++) {
		struct pias_ta t = ta4(0);

		t.addr.v4 = n; /* all distinct */

		assert_true(pias_inval_limiter(l, 1 + n % 3, &t, T0 + n));
		assert_false(pias_inval_limiter(l, 1 + n % 3, &t, T0 + n + 1));
	}
	free(l);
}

/* --- restart: pias_iap_restore; operator: pias_iap_flush ------------------------ */

static int restore(struct fx *f, const struct pias_ta *ta, __u32 jap, __u32 gen, __u64 expires,
		   __u32 flags, __u64 life)
{
	struct pias_binding b = {
		.jap_id = jap, .generation = gen, .expires_ns = expires, .flags = flags
	};

	return pias_iap_restore(&f->i, ta, &b, NULL, life, &f->e);
}

static bool acts_have(const struct fx *f, enum pias_iap_action_kind kind, const struct pias_ta *ta)
{
	for (size_t k = 0; k < f->acts.n; k++)
		if (f->acts.a[k].kind == kind && !memcmp(&f->acts.a[k].ta, ta, sizeof(*ta)))
			return true;
	return false;
}

static void test_restore_takes_over(void **state)
{
	struct fx *f = *state;
	struct pias_binding want = { .jap_id = 3, .generation = 5, .expires_ns = T0 + 10 * SEC };
	const struct pias_iap_entry *en;

	assert_int_equal(restore(f, &f->ta, 3, 5, T0 + 10 * SEC, 0, 10 * SEC), 0);
	assert_int_equal(f->acts.n, 0);
	en = pias_iap_entry(&f->i, &f->ta);
	assert_non_null(en);
	assert_true(en->bound);
	assert_memory_equal(&en->b, &want, sizeof(want));
	assert_int_equal(en->lifetime_ns, 10 * SEC);
	assert_false(en->pending);
	assert_int_equal(pias_iap_count(&f->i), 1);
	assert_int_equal(f->i.npending, 0);
	/* Far from expiry: the tick has nothing to do. */
	assert_int_equal(tick(f, T0), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->rap_calls, 0);
	/* Generations as if installed: an older answer is ignored, a newer one replaces it. */
	assert_int_equal(bind(f, &f->ta, 4, 4, 10 * SEC, T0 + MS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_iap_entry(&f->i, &f->ta)->b.jap_id, 3);
	assert_int_equal(bind(f, &f->ta, 4, 6, 10 * SEC, T0 + MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_SET, &f->ta);
	assert_int_equal(f->acts.a[0].binding.jap_id, 4);
	assert_int_equal(pias_iap_count(&f->i), 1);
}

/* Default refresh_before: a fifth of lifetime_ns (10 s here), i.e. 2 s before expiry. */
static void test_restore_refreshed_and_expires(void **state)
{
	struct fx *f = *state;

	assert_int_equal(restore(f, &f->ta, 3, 5, T0 + 10 * SEC, 0, 10 * SEC), 0);
	assert_int_equal(restore(f, &f->ta2, 4, 7, T0 + 10 * SEC, 0, 10 * SEC), 0);
	assert_int_equal(tick(f, T0 + 8 * SEC), 0); /* 2 s left: not below 2 s */
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(tick(f, T0 + 8 * SEC + 1), 0);
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(f->acts.a[0].kind, PIAS_IAP_SEND_QUERY);
	assert_int_equal(f->acts.a[0].rap_id, 9);
	assert_int_equal(f->acts.a[1].kind, PIAS_IAP_SEND_QUERY);
	assert_int_equal(f->acts.a[1].rap_id, 9);
	assert_true(acts_have(f, PIAS_IAP_SEND_QUERY, &f->ta));
	assert_true(acts_have(f, PIAS_IAP_SEND_QUERY, &f->ta2));
	assert_int_equal(f->i.npending, 2);
	/* ta's RAP answers: refreshed; ta2's does not. */
	f->acts.n = 0;
	assert_int_equal(bind(f, &f->ta, 3, 5, 10 * SEC, T0 + 8 * SEC + 10 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_SET, &f->ta);
	assert_int_equal(f->acts.a[0].binding.expires_ns, T0 + 18 * SEC + 10 * MS);
	assert_int_equal(f->i.npending, 1);
	/* At ta2's expiry: deleted, its lost query forgotten; ta is fine. */
	f->acts.n = 0;
	f->rap = 0; /* no re-query in between */
	assert_int_equal(tick(f, T0 + 10 * SEC - 1), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(tick(f, T0 + 10 * SEC), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta2);
	assert_null(pias_iap_entry(&f->i, &f->ta2));
	assert_true(pias_iap_entry(&f->i, &f->ta)->bound);
	assert_int_equal(pias_iap_count(&f->i), 1);
	assert_int_equal(f->i.npending, 0);
}

/* Found with less than a fifth of its life left: refreshed on the first tick. */
static void test_restore_nearly_expired(void **state)
{
	struct fx *f = *state;

	assert_int_equal(restore(f, &f->ta, 3, 5, T0 + 1 * SEC, 0, 10 * SEC), 0);
	assert_int_equal(restore(f, &f->ta2, 3, 5, T0 - 1, 0, 10 * SEC), 0); /* already expired */
	assert_int_equal(tick(f, T0), 0);
	assert_int_equal(f->acts.n, 2);
	assert_true(acts_have(f, PIAS_IAP_SEND_QUERY, &f->ta));
	assert_true(acts_have(f, PIAS_IAP_BINDING_DEL, &f->ta2));
	assert_null(pias_iap_entry(&f->i, &f->ta2));
	assert_true(pias_iap_entry(&f->i, &f->ta)->pending);
}

/* expires_ns 0 (an operator's binding without TTL): never refreshed nor expired. */
static void test_restore_no_expiry(void **state)
{
	struct fx *f = *state;

	assert_int_equal(restore(f, &f->ta, 3, 5, 0, 0, 10 * SEC), 0);
	assert_int_equal(tick(f, T0 + 1000 * SEC), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->rap_calls, 0);
	assert_true(pias_iap_entry(&f->i, &f->ta)->bound);
	/* Its JAP still drops it. */
	assert_int_equal(pias_iap_invalidate(&f->i, 3, &f->ta, 5, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta);
	assert_int_equal(pias_iap_count(&f->i), 0);
}

static void test_restore_negative(void **state)
{
	struct fx *f = *state;
	const struct pias_iap_entry *en;

	assert_int_equal(restore(f, &f->ta, 0, 0, T0 + 2 * SEC, PIAS_BINDING_F_NEGATIVE, 10 * SEC),
			 0);
	assert_int_equal(restore(f, &f->ta2, 0, 0, T0 + 2 * SEC, PIAS_BINDING_F_NEGATIVE, 10 * SEC),
			 0);
	en = pias_iap_entry(&f->i, &f->ta);
	assert_non_null(en);
	assert_true(en->bound);
	assert_int_equal(en->b.flags, PIAS_BINDING_F_NEGATIVE);
	/* Not refreshed, whatever is left; no JAP can invalidate it or die with it. */
	assert_int_equal(tick(f, T0 + 2 * SEC - 1), 0);
	assert_int_equal(pias_iap_invalidate(&f->i, 0, &f->ta, 0, T0, &f->acts, &f->e), 0);
	assert_int_equal(pias_iap_jap_dead(&f->i, 3, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->rap_calls, 0);
	/* The group appeared: a positive binding replaces it. */
	assert_int_equal(bind(f, &f->ta2, 3, 1, 10 * SEC, T0 + SEC), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_SET, &f->ta2);
	assert_int_equal(f->acts.a[0].binding.flags, 0);
	/* It expires. */
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 2 * SEC), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta);
	assert_null(pias_iap_entry(&f->i, &f->ta));
	assert_int_equal(pias_iap_count(&f->i), 1);
}

static void test_restore_invalidated(void **state)
{
	struct fx *f = *state;

	assert_int_equal(restore(f, &f->ta, 3, 5, T0 + 10 * SEC, 0, 10 * SEC), 0);
	assert_int_equal(restore(f, &f->ta2, 3, 5, T0 + 10 * SEC, 0, 10 * SEC), 0);
	/* Another JAP's, or about an older binding: ignored. */
	assert_int_equal(pias_iap_invalidate(&f->i, 4, &f->ta, 5, T0, &f->acts, &f->e), 0);
	assert_int_equal(pias_iap_invalidate(&f->i, 3, &f->ta, 4, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	assert_true(pias_iap_entry(&f->i, &f->ta)->bound);
	/* Its JAP, its generation or newer: dropped. */
	assert_int_equal(pias_iap_invalidate(&f->i, 3, &f->ta, 5, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta);
	assert_null(pias_iap_entry(&f->i, &f->ta));
	assert_int_equal(pias_iap_invalidate(&f->i, 3, &f->ta2, 6, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
	assert_act(f, 1, PIAS_IAP_BINDING_DEL, &f->ta2);
	assert_int_equal(pias_iap_count(&f->i), 0);
	/* The next packet misses and asks again. */
	f->acts.n = 0;
	assert_int_equal(miss(f, &f->ta, T0), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);
}

static void test_restore_jap_dead(void **state)
{
	struct fx *f = *state;
	struct pias_ta t4 = ta4(4);

	assert_int_equal(restore(f, &f->ta, 3, 1, T0 + 10 * SEC, 0, 10 * SEC), 0);
	assert_int_equal(restore(f, &f->ta2, 4, 1, T0 + 10 * SEC, 0, 10 * SEC), 0);
	assert_int_equal(restore(f, &f->ta3, 3, 2, T0 + 10 * SEC, 0, 10 * SEC), 0);
	assert_int_equal(restore(f, &t4, 0, 0, T0 + 10 * SEC, PIAS_BINDING_F_NEGATIVE, 10 * SEC),
			 0);
	assert_int_equal(pias_iap_jap_dead(&f->i, 3, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 2);
	assert_true(acts_have(f, PIAS_IAP_BINDING_DEL, &f->ta));
	assert_true(acts_have(f, PIAS_IAP_BINDING_DEL, &f->ta3));
	assert_null(pias_iap_entry(&f->i, &f->ta));
	assert_null(pias_iap_entry(&f->i, &f->ta3));
	assert_int_equal(pias_iap_entry(&f->i, &f->ta2)->b.jap_id, 4);
	assert_true(pias_iap_entry(&f->i, &t4)->bound);
	assert_int_equal(pias_iap_count(&f->i), 2);
}

/* A binding to a set, found after a restart, is taken over with its set. */
static void test_restore_set(void **state)
{
	struct fx *f = *state;
	struct pias_binding b = { .jap_id = 3,
				  .generation = 5,
				  .expires_ns = T0 + 10 * SEC,
				  .flags = PIAS_BINDING_F_SET };
	struct pias_group set = { .count = 2 };
	const struct pias_iap_entry *en;

	set.japs[0] = (struct pias_group_jap){ .jap_id = 3, .weight = 750 };
	set.japs[1] = (struct pias_group_jap){ .jap_id = 4, .weight = 250 };
	assert_int_equal(pias_iap_restore(&f->i, &f->ta, &b, &set, 10 * SEC, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	en = pias_iap_entry(&f->i, &f->ta);
	assert_non_null(en);
	assert_true(en->bound);
	assert_int_equal(en->b.flags, PIAS_BINDING_F_SET);
	assert_int_equal(pias_iap_set(en)->count, 2);
	assert_memory_equal(pias_iap_set(en)->japs, set.japs, 2 * sizeof(set.japs[0]));
	/* refreshed before expiry, as any other */
	assert_int_equal(tick(f, T0 + 8 * SEC + 1), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);
	/* an empty set is no set */
	set.count = 0;
	assert_int_equal(pias_iap_restore(&f->i, &f->ta2, &b, &set, 10 * SEC, &f->e), -EINVAL);
}

static void test_restore_bad(void **state)
{
	struct fx *f = *state;
	struct pias_ta bad = { .family = 0 };
	struct pias_iap_entry before;

	assert_int_equal(restore(f, &f->ta, 3, 1, T0 + SEC, PIAS_BINDING_F_LOCAL, 10 * SEC),
			 -EINVAL);
	assert_msg_has(f->e.msg, "flags");
	assert_int_equal(restore(f, &f->ta, 0, 0, T0 + SEC,
				 PIAS_BINDING_F_LOCAL | PIAS_BINDING_F_NEGATIVE, 10 * SEC),
			 -EINVAL);
	assert_int_equal(restore(f, &f->ta, 3, 1, T0 + SEC, PIAS_BINDING_F_SET, 10 * SEC), -EINVAL);
	assert_msg_has(f->e.msg, "without its set");
	assert_int_equal(restore(f, &f->ta, 3, 1, T0 + SEC, 0, 0), -EINVAL);
	assert_msg_has(f->e.msg, "lifetime");
	assert_int_equal(restore(f, &bad, 3, 1, T0 + SEC, 0, 10 * SEC), -EINVAL);
	assert_msg_has(f->e.msg, "family");
	assert_int_equal(pias_iap_count(&f->i), 0);
	/* Twice: -EEXIST, the first one kept. */
	assert_int_equal(restore(f, &f->ta, 3, 1, T0 + SEC, 0, 10 * SEC), 0);
	before = *pias_iap_entry(&f->i, &f->ta);
	assert_int_equal(restore(f, &f->ta, 4, 2, T0 + 2 * SEC, 0, 10 * SEC), -EEXIST);
	assert_msg_has(f->e.msg, "twice");
	assert_int_equal(restore(f, &f->ta, 0, 0, T0 + 2 * SEC, PIAS_BINDING_F_NEGATIVE, 10 * SEC),
			 -EEXIST);
	assert_memory_equal(pias_iap_entry(&f->i, &f->ta), &before, sizeof(before));
	/* A TA known otherwise (a query outstanding) is not overwritten either. */
	assert_int_equal(miss(f, &f->ta2, T0), 0);
	assert_int_equal(restore(f, &f->ta2, 3, 1, T0 + SEC, 0, 10 * SEC), -EEXIST);
	assert_false(pias_iap_entry(&f->i, &f->ta2)->bound);
	assert_int_equal(pias_iap_count(&f->i), 2);
	assert_int_equal(f->acts.n, 1); /* the miss's query only */
}

static void test_flush(void **state)
{
	struct fx *f = *state;
	struct pias_ta t4 = ta4(4), t5 = ta4(5);

	/* Flushing nothing: nothing. */
	assert_int_equal(pias_iap_flush(&f->i, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	/* Bound (its refresh outstanding), restored, negative, and a query alone. */
	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(restore(f, &f->ta2, 4, 1, T0 + 100 * SEC, 0, 100 * SEC), 0);
	assert_int_equal(pias_iap_negative(&f->i, 7, &f->ta3, 10 * SEC, T0, &f->acts, &f->e), 0);
	assert_int_equal(restore(f, &t5, 0, 0, T0 + 9 * SEC, PIAS_BINDING_F_NEGATIVE, 9 * SEC), 0);
	assert_int_equal(miss(f, &t4, T0 + 8 * SEC + 1), 0);
	assert_int_equal(tick(f, T0 + 8 * SEC + 1), 0); /* ta's refresh */
	assert_true(pias_iap_entry(&f->i, &f->ta)->pending);
	assert_int_equal(f->i.npending, 2);
	f->acts.n = 0;
	assert_int_equal(pias_iap_flush(&f->i, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 4);
	for (size_t k = 0; k < f->acts.n; k++)
		assert_int_equal(f->acts.a[k].kind, PIAS_IAP_BINDING_DEL);
	assert_true(acts_have(f, PIAS_IAP_BINDING_DEL, &f->ta));
	assert_true(acts_have(f, PIAS_IAP_BINDING_DEL, &f->ta2));
	assert_true(acts_have(f, PIAS_IAP_BINDING_DEL, &f->ta3));
	assert_true(acts_have(f, PIAS_IAP_BINDING_DEL, &t5));
	assert_false(acts_have(f, PIAS_IAP_BINDING_DEL, &t4)); /* never bound */
	assert_int_equal(pias_iap_count(&f->i), 0);
	assert_int_equal(f->i.npending, 0);
	assert_null(pias_iap_entry(&f->i, &f->ta));
	assert_null(pias_iap_entry(&f->i, &t4));
	/* Nothing left for the tick; the queries were forgotten: a miss asks at once. */
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 20 * SEC), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(miss(f, &t4, T0 + 8 * SEC + 2), 0);
	assert_int_equal(miss(f, &f->ta, T0 + 8 * SEC + 2), 0);
	assert_int_equal(f->acts.n, 2);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &t4);
	assert_act(f, 1, PIAS_IAP_SEND_QUERY, &f->ta);
	assert_int_equal(f->i.npending, 2);
	/* Answers work as before. */
	assert_int_equal(bind(f, &f->ta, 3, 2, 10 * SEC, T0 + 9 * SEC), 0);
	assert_int_equal(f->i.npending, 1);
	assert_true(pias_iap_entry(&f->i, &f->ta)->bound);
}

static void test_flush_enobufs(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(restore(f, &f->ta2, 4, 1, T0 + 10 * SEC, 0, 10 * SEC), 0);
	assert_int_equal(miss(f, &f->ta3, T0), 0);
	/* Two deletions, room for one: nothing changes, nothing is appended. */
	f->acts.cap = f->acts.n + 1;
	assert_int_equal(pias_iap_flush(&f->i, &f->acts, &f->e), -ENOBUFS);
	assert_msg_has(f->e.msg, "room");
	assert_int_equal(f->acts.n, 2);
	assert_int_equal(pias_iap_count(&f->i), 3);
	assert_int_equal(f->i.npending, 1);
	assert_true(pias_iap_entry(&f->i, &f->ta)->bound);
	assert_true(pias_iap_entry(&f->i, &f->ta2)->bound);
	assert_true(pias_iap_entry(&f->i, &f->ta3)->pending);
	f->acts.cap = f->acts.n + 2;
	assert_int_equal(pias_iap_flush(&f->i, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 4);
	assert_act(f, 2, PIAS_IAP_BINDING_DEL, &f->ta);
	assert_act(f, 3, PIAS_IAP_BINDING_DEL, &f->ta2);
	assert_int_equal(pias_iap_count(&f->i), 0);
	assert_int_equal(f->i.npending, 0);
}

/* An answer from RAP 9 (rap_of's) */
static int bind9(struct fx *f, const struct pias_ta *ta, __u32 jap, __u32 gen, __u64 now)
{
	return pias_iap_binding(&f->i, 9, ta, jap, gen, 10 * SEC, now, &f->acts, &f->e);
}

/*
 * The flush of test_e2e_overlay's first-packet rounds: a refresh was in
 * flight when the operator flushed, and its answer installed the binding
 * again, so the next new flow hit it instead of going to a RAP. The answer
 * to a query sent before the flush is dropped; the next answer from that
 * RAP (the one a first packet's relay makes it send) is taken.
 */
static void test_flush_drops_answers_in_flight(void **state)
{
	struct fx *f = *state;
	__u64 t = T0 + 8 * SEC + 1; /* ta's refresh goes out */

	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(miss(f, &f->ta2, t), 0); /* a query alone, to RAP 7 */
	assert_int_equal(tick(f, t), 0);
	assert_true(pias_iap_entry(&f->i, &f->ta)->pending);
	assert_int_equal(f->i.npending, 2);
	f->acts.n = 0;
	assert_int_equal(pias_iap_flush(&f->i, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta);
	/* the cache shows empty: what is awaited is not an entry */
	assert_int_equal(pias_iap_count(&f->i), 0);
	assert_int_equal(f->i.npending, 0);
	assert_int_equal(pias_iap_flushed_queries(&f->i), 2);

	/* The refresh's answer and the query's (negative): dropped. */
	f->acts.n = 0;
	assert_int_equal(bind9(f, &f->ta, 4, 2, t + 30 * MS), 0);
	assert_int_equal(pias_iap_negative(&f->i, 7, &f->ta2, SEC, t + 40 * MS, &f->acts, &f->e),
			 0);
	assert_int_equal(f->acts.n, 0);
	assert_null(pias_iap_entry(&f->i, &f->ta));
	assert_null(pias_iap_entry(&f->i, &f->ta2));
	assert_int_equal(pias_iap_flushed_queries(&f->i), 0);

	/* The first packet after the flush went to RAP 9, which binds: taken. */
	assert_int_equal(bind9(f, &f->ta, 5, 2, t + 300 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_SET, &f->ta);
	assert_int_equal(f->acts.a[0].binding.jap_id, 5);
	assert_true(pias_iap_entry(&f->i, &f->ta)->bound);
}

/*
 * Only the RAP asked, only once, only while the query is not lost: an
 * answer from another RAP (the ring moved the TA) is taken; a late answer,
 * query_retry_ns after the query, is taken as it is without a flush; the
 * tick forgets the records then.
 */
static void test_flush_answer_other_rap_or_late(void **state)
{
	struct fx *f = *state;
	__u64 t = T0 + 8 * SEC + 1;

	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(bind(f, &f->ta2, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(tick(f, t), 0); /* both refreshed: RAP 9 */
	assert_int_equal(f->i.npending, 2);
	assert_int_equal(pias_iap_flush(&f->i, &f->acts, &f->e), 0);
	f->acts.n = 0;

	/* RAP 7 binds ta (a first packet relayed there): taken */
	assert_int_equal(bind(f, &f->ta, 6, 9, 10 * SEC, t + 20 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(pias_iap_entry(&f->i, &f->ta)->b.jap_id, 6);
	/* RAP 9's answer to the refresh comes after: dropped, 6 stays */
	f->acts.n = 0;
	assert_int_equal(bind9(f, &f->ta, 4, 10, t + 30 * MS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_iap_entry(&f->i, &f->ta)->b.jap_id, 6);
	/* once answered, the record is gone: RAP 9's next word counts */
	assert_int_equal(bind9(f, &f->ta, 4, 10, t + 40 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(pias_iap_entry(&f->i, &f->ta)->b.jap_id, 4);

	/* ta2's answer after query_retry_ns: the query counts as lost, taken */
	f->acts.n = 0;
	assert_int_equal(pias_iap_flushed_queries(&f->i), 1);
	assert_int_equal(bind9(f, &f->ta2, 4, 2, t + PIAS_IAP_QUERY_RETRY_NS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_true(pias_iap_entry(&f->i, &f->ta2)->bound);
	/* and the tick forgets the record, its memory with it */
	assert_int_equal(tick(f, t + PIAS_IAP_QUERY_RETRY_NS), 0);
	assert_int_equal(pias_iap_flushed_queries(&f->i), 0);
	assert_null(f->i.flushed.ring);
}

/* A query sent after the flush is answered after the one sent before it. */
static void test_flush_then_query_again(void **state)
{
	struct fx *f = *state;

	assert_int_equal(miss(f, &f->ta, T0), 0);
	assert_int_equal(pias_iap_flush(&f->i, &f->acts, &f->e), 0);
	/* a miss asks at once (the flushed query is forgotten as a query) */
	f->acts.n = 0;
	assert_int_equal(miss(f, &f->ta, T0 + 10 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);
	/* RAP 7 answers the first query, then the second */
	f->acts.n = 0;
	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0 + 20 * MS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_true(pias_iap_entry(&f->i, &f->ta)->pending);
	assert_int_equal(bind(f, &f->ta, 4, 2, 10 * SEC, T0 + 30 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(f->acts.a[0].binding.jap_id, 4);
	assert_int_equal(f->i.npending, 0);
}

/* setup_small (max_pending 2): max_pending records at most, the oldest go. */
static void test_flush_records_bounded(void **state)
{
	struct fx *f = *state;
	struct pias_ta t4 = ta4(4);

	assert_int_equal(miss(f, &f->ta, T0), 0);
	assert_int_equal(miss(f, &f->ta2, T0), 0);
	assert_int_equal(pias_iap_flush(&f->i, &f->acts, &f->e), 0);
	assert_int_equal(pias_iap_flushed_queries(&f->i), 2);
	assert_int_equal(miss(f, &f->ta3, T0 + 10 * MS), 0);
	assert_int_equal(miss(f, &t4, T0 + 10 * MS), 0);
	assert_int_equal(pias_iap_flush(&f->i, &f->acts, &f->e), 0);
	assert_int_equal(pias_iap_flushed_queries(&f->i), 2);
	assert_int_equal(f->i.flushed.max, 2);
	/* ta's record went: its answer is taken; ta3's is dropped */
	f->acts.n = 0;
	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0 + 20 * MS), 0);
	assert_int_equal(bind(f, &f->ta3, 3, 1, 10 * SEC, T0 + 20 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_SET, &f->ta);
	assert_null(pias_iap_entry(&f->i, &f->ta3));
	/* a flush with nothing outstanding adds nothing */
	assert_int_equal(pias_iap_flush(&f->i, &f->acts, &f->e), 0);
	assert_int_equal(pias_iap_flushed_queries(&f->i), 1);
}

/* A binding set: installed with its JAPs; any of them may invalidate it. */
static void test_binding_set(void **state)
{
	struct fx *f = *state;
	struct pias_group set = { .count = 2, .japs = { { 4, 750000 }, { 5, 250000 } } };
	const struct pias_iap_action *a;

	assert_int_equal(
		pias_iap_binding_set(&f->i, 7, &f->ta, 4, &set, 3, 30 * SEC, T0, &f->acts, &f->e),
		0);
	assert_int_equal(f->acts.n, 1);
	a = &f->acts.a[0];
	assert_int_equal(a->kind, PIAS_IAP_BINDING_SET);
	assert_int_equal(a->binding.jap_id, 4);
	assert_int_equal(a->set.count, 2);
	assert_int_equal(a->set.japs[1].jap_id, 5);
	f->acts.n = 0;
	/* a set must be led by the binding's JAP */
	assert_int_equal(
		pias_iap_binding_set(&f->i, 7, &f->ta, 5, &set, 4, 30 * SEC, T0, &f->acts, &f->e),
		-EINVAL);
	/* JAP 5 lost its targets: the set is stale, dropped */
	assert_int_equal(pias_iap_invalidate(&f->i, 5, &f->ta, 3, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(f->acts.a[0].kind, PIAS_IAP_BINDING_DEL);
	f->acts.n = 0;
	/* a plain binding afterwards carries no set, and JAP 5 cannot drop it */
	assert_int_equal(pias_iap_binding(&f->i, 7, &f->ta, 4, 5, 30 * SEC, T0, &f->acts, &f->e),
			 0);
	assert_int_equal(f->acts.a[0].set.count, 0);
	f->acts.n = 0;
	assert_int_equal(pias_iap_invalidate(&f->i, 5, &f->ta, 5, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
}

/*
 * setup_small (refresh_before 1 s, query_retry 200 ms, max_pending 2):
 * refreshes go earliest due first; those beyond max_pending wait, and a
 * tick with every slot taken does not even look at them (rap_of is not
 * called); a slot freed by an answer or a lost query goes to the next.
 */
static void test_tick_earliest_refresh_first(void **state)
{
	struct fx *f = *state;
	struct pias_ta t4 = ta4(4);

	assert_int_equal(bind(f, &t4, 3, 1, 10 * SEC, T0 + 3 * MS), 0);
	assert_int_equal(bind(f, &f->ta3, 3, 1, 10 * SEC, T0 + 2 * MS), 0);
	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(bind(f, &f->ta2, 3, 1, 10 * SEC, T0 + 1 * MS), 0);
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 9500 * MS), 0); /* all four due */
	assert_int_equal(f->acts.n, 2);
	assert_true(acts_have(f, PIAS_IAP_SEND_QUERY, &f->ta));
	assert_true(acts_have(f, PIAS_IAP_SEND_QUERY, &f->ta2));
	assert_int_equal(f->rap_calls, 2);
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 9600 * MS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->rap_calls, 2);
	/* ta answered: ta3 next */
	assert_int_equal(bind9(f, &f->ta, 3, 2, T0 + 9610 * MS), 0);
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 9650 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta3);
	/* ta2's query lost: its slot goes to the earlier of ta2 and t4, ta2 */
	f->acts.n = 0;
	assert_int_equal(tick(f, T0 + 9700 * MS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta2);
	assert_int_equal(f->i.npending, 2);
	assert_false(pias_iap_entry(&f->i, &t4)->pending);
}

/* No RAP known for a refresh: asked again query_retry_ns later, not every tick. */
static void test_tick_no_rap_retried_later(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bind(f, &f->ta, 3, 1, 10 * SEC, T0), 0);
	f->acts.n = 0;
	f->rap = 0;
	assert_int_equal(tick(f, T0 + 8 * SEC + 1), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->rap_calls, 1);
	f->rap = 9;
	assert_int_equal(tick(f, T0 + 8 * SEC + 100 * MS), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->rap_calls, 1);
	assert_int_equal(pias_iap_next_due(&f->i), T0 + 8 * SEC + 1 + PIAS_IAP_QUERY_RETRY_NS);
	assert_int_equal(tick(f, T0 + 8 * SEC + 1 + PIAS_IAP_QUERY_RETRY_NS), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_SEND_QUERY, &f->ta);
	assert_int_equal(f->rap_calls, 2);
	/* rap_of NULL: no RAP known either */
	assert_int_equal(bind(f, &f->ta2, 3, 1, 10 * SEC, T0), 0);
	f->acts.n = 0;
	assert_int_equal(pias_iap_tick(&f->i, T0 + 9 * SEC, NULL, NULL, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	assert_false(pias_iap_entry(&f->i, &f->ta2)->pending);
}

/* A JAP's death finds what is bound to it, to a set with it, and no longer what moved away. */
static void test_jap_dead_follows_bindings(void **state)
{
	struct fx *f = *state;
	struct pias_group set = { .count = 3, .japs = { { 4, 1 }, { 5, 1 }, { 4, 1 } } };

	assert_int_equal(
		pias_iap_binding_set(&f->i, 7, &f->ta, 4, &set, 1, 10 * SEC, T0, &f->acts, &f->e),
		0);
	assert_int_equal(bind(f, &f->ta2, 3, 1, 10 * SEC, T0), 0);
	assert_int_equal(bind(f, &f->ta2, 4, 2, 10 * SEC, T0), 0); /* moved to JAP 4 */
	assert_int_equal(bind(f, &f->ta3, 5, 1, 10 * SEC, T0), 0);
	assert_int_equal(pias_iap_negative(&f->i, 7, &f->ta3, SEC, T0 + 11 * SEC, &f->acts, &f->e),
			 0); /* ta3: expired, then negative */
	f->acts.n = 0;
	assert_int_equal(pias_iap_jap_dead(&f->i, 3, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_iap_jap_dead(&f->i, 5, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta);
	f->acts.n = 0;
	assert_int_equal(pias_iap_jap_dead(&f->i, 4, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_act(f, 0, PIAS_IAP_BINDING_DEL, &f->ta2);
	assert_true(pias_iap_entry(&f->i, &f->ta3)->bound);
	/* ids no proxy can have: refused, and no JAP of that id holds anything */
	assert_int_equal(bind(f, &f->ta, PIAS_MAX_PROXIES, 3, 10 * SEC, T0), -EINVAL);
	assert_msg_has(f->e.msg, "proxy id");
	set.japs[1].jap_id = PIAS_MAX_PROXIES;
	assert_int_equal(
		pias_iap_binding_set(&f->i, 7, &f->ta, 4, &set, 3, 10 * SEC, T0, &f->acts, &f->e),
		-EINVAL);
	f->acts.n = 0;
	assert_int_equal(pias_iap_jap_dead(&f->i, 0xffffffffu, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 0);
}

int test_iap_cache(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_miss_queries_once_per_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binding_installs_with_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binding_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_older_generation_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negative_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negative_keeps_live_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalidate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jap_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick_refreshes_and_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick_refresh_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick_negative_not_refreshed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_refresh_and_max_pending, setup_small,
						teardown),
		cmocka_unit_test_setup_teardown(test_enobufs_applies_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inval_limiter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_takes_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_refreshed_and_expires, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_restore_nearly_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_no_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_negative, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_invalidated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_jap_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_enobufs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_drops_answers_in_flight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flush_answer_other_rap_or_late, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flush_then_query_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_records_bounded, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_tick_earliest_refresh_first, setup_small,
						teardown),
		cmocka_unit_test_setup_teardown(test_tick_no_rap_retried_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jap_dead_follows_bindings, setup, teardown),
	};

	return cmocka_run_group_tests_name("iap_cache", tests, NULL, NULL);
}
