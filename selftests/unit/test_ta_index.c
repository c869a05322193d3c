// SPDX-License-Identifier: MIT
/*
 * daemon/ta_index.c, key_index.c, timers.c: the registries' TA index, pair
 * index and deadlines, against plain models.
 */
#include "unit.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "key_index.h"
#include "ref_index.h"
#include "registry.h"
#include "ta_index.h"
#include "timers.h"

#define KEYS 3000

static struct pias_ta key(unsigned int k)
{
	struct pias_ta ta = { .port = (__u16)(k % 7 + 1), .proto = 17, .family = PIAS_AF_INET };

	ta.addr.v4 = 0xc0000200u + k / 7; /* 192.0.2.0/24 and on: only a key here */
	return ta;
}

/* Random adds, finds and deletes agree with an array of who is in; handles stay dense. */
static void index_matches_model(void **state)
{
	struct pias_ta_index x;
	long model[KEYS];
	size_t in = 0, peak = 0;

	(void)state;
	srand(7);
	pias_ta_index_init(&x, KEYS, "test");
	for (int k = 0; k < KEYS; k++)
		model[k] = -1;
	for (int step = 0; step < 200000; step++) {
		unsigned int k = (unsigned int)rand() % KEYS;
		struct pias_ta ta = key(k);

		assert_int_equal(pias_ta_index_find(&x, &ta), model[k]);
		if (model[k] < 0 && rand() % 3) {
			model[k] = pias_ta_index_add(&x, &ta, NULL);
			assert_true(model[k] >= 0);
			assert_true(pias_ta_index_used(&x, (__u32)model[k]));
			in++;
		} else if (model[k] >= 0 && rand() % 2) {
			pias_ta_index_del(&x, (__u32)model[k]);
			model[k] = -1;
			in--;
		}
		if (in > peak)
			peak = in;
		assert_int_equal(x.n, in);
	}
	/* a deleted handle is given out first: never more handles than the peak held */
	assert_true(x.hwm <= peak);
	assert_true(pias_ta_index_capacity(&x) >= x.hwm);
	for (int k = 0; k < KEYS; k++) {
		struct pias_ta ta = key((unsigned int)k);

		assert_int_equal(pias_ta_index_find(&x, &ta), model[k]);
		if (model[k] >= 0)
			assert_memory_equal(pias_ta_index_ta(&x, (__u32)model[k]), &ta, sizeof(ta));
	}
	size_t seen = 0;

	pias_ta_index_each(&x, h) seen++;
	assert_int_equal(seen, in);
	pias_ta_index_free(&x);
}

/* The limit is an error that names the owner; a reservation makes adds infallible. */
static void index_limit(void **state)
{
	struct pias_ta_index x;
	struct pias_err e;

	(void)state;
	pias_ta_index_init(&x, 2, "iap");
	for (unsigned int k = 0; k < 2; k++) {
		struct pias_ta ta = key(k);

		assert_true(pias_ta_index_add(&x, &ta, NULL) >= 0);
	}
	struct pias_ta ta = key(2);

	assert_int_equal(pias_ta_index_add(&x, &ta, &e), -ENOSPC);
	assert_non_null(strstr(e.msg, "iap: 2 groups held"));
	assert_int_equal(pias_ta_index_find(&x, &ta), -1);
	pias_ta_index_del(&x, 0);
	assert_int_equal(pias_ta_index_reserve(&x, 1, NULL), 0);
	assert_int_equal(pias_ta_index_add(&x, &ta, NULL), 0); /* the handle deleted */
	pias_ta_index_free(&x);
}

/* Random sets, moves, cancels and pops agree with an array of deadlines. */
static void timers_match_model(void **state)
{
	enum {
		REFS = 500
	};
	struct pias_timers t;
	__u64 model[REFS], now = 0;

	(void)state;
	srand(11);
	pias_timers_init(&t, "test");
	for (int r = 0; r < REFS; r++)
		model[r] = PIAS_TIMERS_NEVER;
	for (int step = 0; step < 100000; step++) {
		__u32 r = (__u32)rand() % REFS, got;

		switch (rand() % 4) {
		case 0:
		case 1:
			model[r] = now + (__u64)(rand() % 1000);
			assert_int_equal(pias_timers_set(&t, r, model[r], NULL), 0);
			break;
		case 2:
			pias_timers_cancel(&t, r);
			model[r] = PIAS_TIMERS_NEVER;
			break;
		default:
			now += (__u64)(rand() % 50);
			/* what a tick is told it will pop, in full and capped */
			size_t due = 0, cap = (size_t)(rand() % 8);

			for (int o = 0; o < REFS; o++)
				due += model[o] <= now;
			assert_int_equal(pias_timers_due(&t, now, SIZE_MAX), due);
			assert_int_equal(pias_timers_due(&t, now, cap), due < cap ? due : cap);
			while (pias_timers_pop(&t, now, &got)) {
				/* the earliest of those due, and nothing earlier left */
				assert_true(model[got] <= now);
				for (int o = 0; o < REFS; o++)
					assert_true(model[o] >= model[got]);
				model[got] = PIAS_TIMERS_NEVER;
			}
			for (int o = 0; o < REFS; o++)
				assert_true(model[o] > now);
		}
		assert_true(pias_timers_when(&t, r) == model[r]);
	}
	pias_timers_free(&t);
}

/* Random adds, gets, updates and deletes of (handle, id) pairs agree with a table of who is in. */
static void key_index_matches_model(void **state)
{
	enum {
		A = 60,
		B = 70
	};
	struct pias_key_index x;
	long model[A][B];
	size_t in = 0;

	(void)state;
	srand(5);
	pias_key_index_init(&x, "test");
	for (int a = 0; a < A; a++)
		for (int b = 0; b < B; b++)
			model[a][b] = -1;
	for (int step = 0; step < 200000; step++) {
		__u32 a = (__u32)rand() % A, b = (__u32)rand() % B * 1000;
		__u64 k = pias_key_pair(a, b);
		__u32 *v = pias_key_index_get(&x, k);

		if (model[a][b / 1000] < 0) {
			assert_null(v);
		} else {
			assert_non_null(v);
			assert_int_equal(*v, model[a][b / 1000]);
		}
		switch (rand() % 3) {
		case 0:
			if (v)
				break;
			assert_int_equal(pias_key_index_add(&x, k, (__u32)step, NULL), 0);
			model[a][b / 1000] = step;
			in++;
			break;
		case 1:
			if (v) {
				*v = (__u32)step + 1; /* changed in place */
				model[a][b / 1000] = step + 1;
			}
			break;
		default:
			pias_key_index_del(&x, k);
			in -= model[a][b / 1000] >= 0;
			model[a][b / 1000] = -1;
		}
		assert_int_equal(x.n, in);
	}
	/* a reservation makes the adds it covers infallible: the table does not move */
	assert_int_equal(pias_key_index_reserve(&x, 1000, NULL), 0);
	struct pias_key_slot *t = x.table;

	for (__u32 i = 0; i < 1000; i++)
		assert_int_equal(pias_key_index_add(&x, pias_key_pair(A + i, 0), i, NULL), 0);
	assert_ptr_equal(x.table, t);
	assert_int_equal(*pias_key_index_get(&x, pias_key_pair(A + 999, 0)), 999);
	pias_key_index_free(&x);
}

/* pias_timers_due counts exactly the deadlines at or before now, whatever the heap's shape. */
static void timers_due_count(void **state)
{
	struct pias_timers t;

	(void)state;
	srand(3);
	pias_timers_init(&t, "test");
	assert_int_equal(pias_timers_due(&t, 1000, SIZE_MAX), 0);
	for (__u32 r = 0; r < 3000; r++)
		assert_int_equal(pias_timers_set(&t, r, (__u64)(rand() % 10000), NULL), 0);
	for (__u64 now = 0; now < 11000; now += 250) {
		size_t want = 0;

		for (__u32 r = 0; r < 3000; r++)
			want += pias_timers_when(&t, r) <= now;
		assert_int_equal(pias_timers_due(&t, now, SIZE_MAX), want);
	}
	pias_timers_free(&t);
}

/* After reserve_all, every ref below it can be queued at once without allocating. */
static void timers_reserve_all(void **state)
{
	enum {
		REFS = 1000
	};
	struct pias_timers t;
	__u64 now = 0;
	__u32 got, last = 0;

	(void)state;
	pias_timers_init(&t, "test");
	assert_int_equal(pias_timers_reserve_all(&t, REFS, NULL), 0);
	assert_true(t.cap >= REFS && t.npos >= REFS);
	struct pias_timer_node *heap = t.heap;
	__u32 *pos = t.pos;

	for (__u32 r = 0; r < REFS; r++)
		assert_int_equal(pias_timers_set(&t, r, (r * 7919u) % REFS, NULL), 0);
	assert_ptr_equal(t.heap, heap); /* nothing moved: no allocation */
	assert_ptr_equal(t.pos, pos);
	assert_int_equal(pias_timers_due(&t, REFS / 2 - 1, SIZE_MAX), REFS / 2);
	/* popped in order of deadline */
	for (size_t n = 0; pias_timers_pop(&t, REFS, &got); n++) {
		__u64 when = (got * 7919u) % REFS;

		assert_true(!n || when >= last);
		last = (__u32)when;
		now++;
	}
	assert_int_equal(now, REFS);
	assert_int_equal(pias_timers_due(&t, PIAS_TIMERS_NEVER, SIZE_MAX), 0);
	pias_timers_free(&t);
}

struct ref_model {
	unsigned int key[2000]; /* per ref: its key, or ~0u: not in */
};

/* Keys 0..k: hash k % 97, so that many refs share a hash and the probe must ask. */
static __u32 ref_hash(unsigned int key)
{
	return key % 97 * 0x9e3779b1u;
}

struct ref_want {
	const struct ref_model *m;
	unsigned int key;
};

static bool ref_match(const void *ctx, __u32 ref)
{
	const struct ref_want *w = ctx;

	return w->m->key[ref] == w->key;
}

/* Random puts, finds and deletes of refs with colliding hashes agree with a model. */
static void refs_match_model(void **state)
{
	enum {
		REFS = 2000,
		RKEYS = 5000
	};
	static struct ref_model m;
	struct pias_ref_index x;
	long where[RKEYS];
	__u32 free_refs[REFS];
	size_t nfree = REFS, in = 0;

	(void)state;
	srand(13);
	pias_ref_index_init(&x, "test");
	for (unsigned int r = 0; r < REFS; r++) {
		m.key[r] = ~0u;
		free_refs[r] = REFS - 1 - r;
	}
	for (int k = 0; k < RKEYS; k++)
		where[k] = -1;
	for (int step = 0; step < 200000; step++) {
		unsigned int k = (unsigned int)rand() % RKEYS;
		struct ref_want w = { .m = &m, .key = k };

		assert_int_equal(pias_ref_index_find(&x, ref_hash(k), ref_match, &w), where[k]);
		if (where[k] < 0 && nfree && rand() % 2) {
			__u32 r = free_refs[--nfree];

			assert_int_equal(pias_ref_index_reserve(&x, 1, NULL), 0);
			pias_ref_index_put(&x, ref_hash(k), r);
			m.key[r] = k;
			where[k] = r;
			in++;
		} else if (where[k] >= 0 && rand() % 2) {
			pias_ref_index_del(&x, ref_hash(k), (__u32)where[k]);
			m.key[where[k]] = ~0u;
			free_refs[nfree++] = (__u32)where[k];
			where[k] = -1;
			in--;
		}
		assert_int_equal(x.n, in);
		/* at most half full */
		assert_true(!x.table || 2 * x.n <= x.mask + 1);
	}
	for (unsigned int k = 0; k < RKEYS; k++) {
		struct ref_want w = { .m = &m, .key = k };

		assert_int_equal(pias_ref_index_find(&x, ref_hash(k), ref_match, &w), where[k]);
	}
	pias_ref_index_free(&x);
}

struct due_seen {
	__u64 model[300];
	bool seen[300];
	size_t n;
};

static int note_due(void *ctx, __u32 ref, __u64 when)
{
	struct due_seen *d = ctx;

	assert_false(d->seen[ref]);
	assert_true(d->model[ref] == when);
	d->seen[ref] = true;
	d->n++;
	return d->n == 5 ? 7 : 0; /* the fifth stops the walk */
}

/*
 * The walk over what is due sees each due ref once, with its deadline, and
 * nothing else; it leaves the heap as it was; a non-zero answer stops it.
 * reserve_all makes room to queue every ref below its bound at once.
 */
static void timers_each_due(void **state)
{
	enum {
		REFS = 300
	};
	static struct due_seen d;
	struct pias_timers t;

	(void)state;
	srand(17);
	pias_timers_init(&t, "test");
	assert_int_equal(pias_timers_reserve_all(&t, REFS, NULL), 0);
	assert_true(t.cap >= REFS && t.npos >= REFS);
	for (int round = 0; round < 200; round++) {
		__u64 now = (__u64)(rand() % 1000);
		size_t due = 0, n = t.n;

		for (int k = 0; k < 20; k++) {
			__u32 r = (__u32)rand() % REFS;

			d.model[r] = (__u64)(rand() % 1000);
			pias_timers_set(&t, r, d.model[r], NULL);
		}
		n = t.n;
		memset(d.seen, 0, sizeof(d.seen));
		d.n = 0;
		for (__u32 r = 0; r < REFS; r++)
			due += pias_timers_queued(&t, r) && d.model[r] <= now;
		/* stopped at the fifth, or all of them */
		assert_int_equal(pias_timers_each_due(&t, now, note_due, &d), due >= 5 ? 7 : 0);
		assert_int_equal(d.n, due >= 5 ? 5 : due);
		for (__u32 r = 0; r < REFS; r++)
			assert_true(!d.seen[r] || (pias_timers_queued(&t, r) && d.model[r] <= now));
		assert_int_equal(t.n, n);
		for (__u32 r = 0; r < REFS; r++)
			if (pias_timers_queued(&t, r))
				assert_true(pias_timers_when(&t, r) == d.model[r]);
	}
	pias_timers_free(&t);
}

static void shared_helpers(void **state)
{
	struct pias_ta ta = key(1);
	struct pias_err e;

	(void)state;
	assert_int_equal(pias_age(10, 3), 7);
	assert_int_equal(pias_age(3, 10), 0);
	assert_true(pias_serial_older(0xfffffff0u, 5)); /* across the wrap */
	assert_false(pias_serial_older(5, 0xfffffff0u));
	assert_int_equal(pias_registry_ta_check(&ta, "jap", NULL), 0);
	ta.family = 5;
	assert_int_equal(pias_registry_ta_check(&ta, "jap", &e), -EINVAL);
	assert_string_equal(e.msg, "jap: TA family 5 is neither 4 nor 6");
}

int test_ta_index(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(index_matches_model), cmocka_unit_test(index_limit),
		cmocka_unit_test(timers_match_model),  cmocka_unit_test(key_index_matches_model),
		cmocka_unit_test(timers_due_count),    cmocka_unit_test(timers_reserve_all),
		cmocka_unit_test(refs_match_model),    cmocka_unit_test(timers_each_due),
		cmocka_unit_test(shared_helpers),
	};

	return cmocka_run_group_tests_name("ta_index", tests, NULL, NULL);
}
