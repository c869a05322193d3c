// SPDX-License-Identifier: MIT
/*
 * daemon/iap at scale: 65,536 bound TAs, whose ticks do only what their
 * deadlines say; and random inputs against a plain model of the cache
 * (every TA in an array, every tick a pass over all), which is what the
 * cache was before its index and heaps (issue 13).
 */
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iap.h"
#include "registry.h"

#define MS  1000000ull
#define SEC (1000 * MS)
#define T0  (1000 * SEC)

/* TA k: 10.0.0.0 + k, TCP port 80 (only a key here). */
static struct pias_ta ta_k(__u32 k)
{
	struct pias_ta ta = { .family = PIAS_AF_INET, .port = 80, .proto = PIAS_PROTO_TCP };

	ta.addr.v4 = 0x0a000000u + k;
	return ta;
}

static __u32 k_of(const struct pias_ta *ta)
{
	return ta->addr.v4 - 0x0a000000u;
}

struct many {
	struct pias_iap i;
	struct pias_iap_actions acts;
	unsigned int rap_calls;
};

static __u32 many_rap_of(void *ctx, const struct pias_ta *ta)
{
	struct many *m = ctx;

	m->rap_calls++;
	return 2 + k_of(ta) % 50;
}

#define MANY	65536u
#define SPREAD	(60 * SEC) /* installs spread over this */
#define LIFE	(300 * SEC)
#define REFRESH (LIFE - LIFE / 5) /* the default: a fifth before expiry */
#define TICK	(50 * MS)
#define NJAPS	100
#define DEADS	7 /* a JAP that dies */

static __u64 installed_at(__u32 k)
{
	return T0 + (__u64)k * (SPREAD / MANY);
}

/*
 * 65,536 TAs bound over a minute: a tick with nothing due emits nothing and
 * asks rap_of nothing; then, ticking every 50 ms through the refresh window
 * and answering each query at once, each tick asks exactly the TAs whose
 * refresh point passed since the last one; a dead JAP's bindings go, and
 * only those.
 */
static void many_bound_tas(void **state)
{
	struct many *m = calloc(1, sizeof(*m));
	__u64 now, prev;
	size_t queries = 0;

	(void)state;
	assert_non_null(m);
	m->acts.cap = 2 * MANY;
	m->acts.a = calloc(m->acts.cap, sizeof(*m->acts.a));
	assert_non_null(m->acts.a);
	assert_int_equal(pias_iap_init(&m->i, NULL, NULL), 0);
	for (__u32 k = 0; k < MANY; k++) {
		struct pias_ta ta = ta_k(k);

		m->acts.n = 0;
		assert_int_equal(pias_iap_binding(&m->i, 2 + k % 50, &ta, 1 + k % NJAPS, 1, LIFE,
						  installed_at(k), &m->acts, NULL),
				 0);
		assert_int_equal(m->acts.n, 1);
	}
	assert_int_equal(pias_iap_count(&m->i), MANY);

	/* nothing due: nothing done, nothing asked */
	now = installed_at(MANY - 1) + TICK;
	m->acts.n = 0;
	assert_int_equal(pias_iap_tick(&m->i, now, many_rap_of, m, &m->acts, NULL), 0);
	assert_int_equal(m->acts.n, 0);
	assert_int_equal(m->rap_calls, 0);
	assert_int_equal(pias_iap_next_due(&m->i), installed_at(0) + REFRESH + 1);

	/* the refresh window, tick by tick */
	prev = now;
	for (now = installed_at(0) + REFRESH; now < installed_at(MANY - 1) + REFRESH + 2 * TICK;
	     prev = now, now += TICK) {
		size_t want = 0;

		/* TA k's refresh point is installed_at(k) + REFRESH + 1 */
		for (__u32 k = 0; k < MANY; k++) {
			__u64 due = installed_at(k) + REFRESH + 1;

			want += due > prev && due <= now;
		}
		m->acts.n = 0;
		assert_int_equal(pias_iap_tick(&m->i, now, many_rap_of, m, &m->acts, NULL), 0);
		assert_int_equal(m->acts.n, want);
		for (size_t a = 0; a < m->acts.n; a++) {
			const struct pias_iap_action *q = &m->acts.a[a];
			struct pias_iap_actions one = { .a = &(struct pias_iap_action){ 0 },
							.cap = 1 };
			__u32 k = k_of(&q->ta);

			assert_int_equal(q->kind, PIAS_IAP_SEND_QUERY);
			assert_int_equal(q->rap_id, 2 + k % 50);
			assert_true(installed_at(k) + REFRESH + 1 <= now);
			assert_true(installed_at(k) + REFRESH + 1 > prev);
			assert_int_equal(pias_iap_binding(&m->i, q->rap_id, &q->ta, 1 + k % NJAPS,
							  2, LIFE, now, &one, NULL),
					 0);
		}
		queries += m->acts.n;
		assert_int_equal(m->rap_calls, queries);
		assert_int_equal(m->i.npending, 0);
	}
	assert_int_equal(queries, MANY);

	/* one JAP dies: its hundredth of the bindings go */
	m->acts.n = 0;
	assert_int_equal(pias_iap_jap_dead(&m->i, DEADS, now, &m->acts, NULL), 0);
	assert_int_equal(m->acts.n, MANY / NJAPS + (DEADS - 1 < MANY % NJAPS));
	for (size_t a = 0; a < m->acts.n; a++) {
		assert_int_equal(m->acts.a[a].kind, PIAS_IAP_BINDING_DEL);
		assert_int_equal(1 + k_of(&m->acts.a[a].ta) % NJAPS, DEADS);
	}
	assert_int_equal(pias_iap_count(&m->i), MANY - m->acts.n);

	/* and all expire together, in one tick */
	m->acts.n = 0;
	assert_int_equal(pias_iap_tick(&m->i, now + LIFE, many_rap_of, m, &m->acts, NULL), 0);
	assert_int_equal(pias_iap_count(&m->i), 0);
	assert_int_equal(pias_iap_next_due(&m->i), PIAS_TIMERS_NEVER);
	pias_iap_free(&m->i);
	free(m->acts.a);
	free(m);
}

/* ---- the model: the cache as it was, every TA in an array ------------------------- */

#define MK	200 /* TAs */
#define MJAPS	8
#define MRAPS	3
#define MMAX	1000 /* max_pending: never reached by MK TAs, so order does not matter */
#define MAXACTS 512

struct mta {
	bool bound, pending;
	struct pias_binding b;
	struct pias_group set;
	__u64 life, sent, retry_at;
	__u32 rap;
};

struct mrec {
	__u32 k, rap;
	__u64 sent;
};

struct model {
	struct mta t[MK];
	__u32 npending;
	struct mrec rec[MMAX];
	size_t nrec;
	struct pias_iap_action acts[MAXACTS];
	size_t nacts;
	unsigned int rap_calls;
};

/* rap_of of both: no RAP for every eleventh TA, so retries are exercised */
static __u32 m_rap_of(void *ctx, const struct pias_ta *ta)
{
	unsigned int *calls = ctx;
	__u32 k = k_of(ta);

	(*calls)++;
	return k % 11 ? 7 + k % MRAPS : 0;
}

static void m_push(struct model *m, enum pias_iap_action_kind kind, __u32 k, __u32 rap)
{
	struct pias_iap_action *a = &m->acts[m->nacts++];

	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->ta = ta_k(k);
	a->rap_id = rap;
	if (kind == PIAS_IAP_BINDING_SET) {
		a->binding = m->t[k].b;
		a->set = m->t[k].set;
	}
}

static void m_query(struct model *m, __u32 k, __u32 rap, __u64 now)
{
	struct mta *t = &m->t[k];

	m->npending += !t->pending;
	t->pending = true;
	t->rap = rap;
	t->sent = now;
	m_push(m, PIAS_IAP_SEND_QUERY, k, rap);
}

static int m_miss(struct model *m, __u32 k, __u32 rap, __u64 now)
{
	struct mta *t = &m->t[k];

	if (t->pending && pias_age(now, t->sent) < PIAS_IAP_QUERY_RETRY_NS)
		return 0;
	if (!t->pending && m->npending >= MMAX)
		return -EAGAIN;
	m_query(m, k, rap, now);
	return 0;
}

/* The oldest record of this answer's query, used up; false: none. */
static bool m_take(struct model *m, __u32 k, __u32 rap, __u64 now)
{
	for (size_t r = 0; r < m->nrec; r++)
		if (m->rec[r].k == k && m->rec[r].rap == rap &&
		    pias_age(now, m->rec[r].sent) < PIAS_IAP_QUERY_RETRY_NS) {
			memmove(&m->rec[r], &m->rec[r + 1], (m->nrec - r - 1) * sizeof(m->rec[0]));
			m->nrec--;
			return true;
		}
	return false;
}

static bool m_live_positive(const struct mta *t, __u64 now)
{
	return t->bound && !(t->b.flags & PIAS_BINDING_F_NEGATIVE) &&
	       (!t->b.expires_ns || now < t->b.expires_ns);
}

static void m_install(struct model *m, __u32 k, struct pias_binding b, const struct pias_group *set,
		      __u64 life, __u64 now)
{
	struct mta *t = &m->t[k];

	b.expires_ns = now + life;
	if (t->pending)
		m->npending--;
	t->pending = false;
	t->bound = true;
	t->b = b;
	memset(&t->set, 0, sizeof(t->set));
	if (set)
		t->set = *set;
	t->life = life;
	t->retry_at = 0;
	m_push(m, PIAS_IAP_BINDING_SET, k, 0);
}

static int m_binding(struct model *m, __u32 rap, __u32 k, __u32 jap, const struct pias_group *set,
		     __u32 gen, __u64 life, __u64 now)
{
	struct mta *t = &m->t[k];

	if (m_take(m, k, rap, now))
		return 0;
	if (m_live_positive(t, now) && t->b.expires_ns && pias_serial_older(gen, t->b.generation))
		return 0;
	m_install(m, k, (struct pias_binding){ .jap_id = jap, .generation = gen }, set, life, now);
	return 0;
}

static int m_negative(struct model *m, __u32 rap, __u32 k, __u64 life, __u64 now)
{
	if (m_take(m, k, rap, now) || m_live_positive(&m->t[k], now))
		return 0;
	m_install(m, k, (struct pias_binding){ .flags = PIAS_BINDING_F_NEGATIVE }, NULL, life, now);
	return 0;
}

static bool m_bound_to(const struct mta *t, __u32 jap)
{
	if (!t->bound || (t->b.flags & PIAS_BINDING_F_NEGATIVE))
		return false;
	for (__u32 s = 0; s < t->set.count; s++)
		if (t->set.japs[s].jap_id == jap)
			return true;
	return t->b.jap_id == jap;
}

static void m_unbind(struct model *m, __u32 k)
{
	m->t[k].bound = false;
	m_push(m, PIAS_IAP_BINDING_DEL, k, 0);
}

static int m_invalidate(struct model *m, __u32 jap, __u32 k, __u32 gen)
{
	if (m_bound_to(&m->t[k], jap) && !pias_serial_older(gen, m->t[k].b.generation))
		m_unbind(m, k);
	return 0;
}

static int m_jap_dead(struct model *m, __u32 jap)
{
	for (__u32 k = 0; k < MK; k++)
		if (m_bound_to(&m->t[k], jap))
			m_unbind(m, k);
	return 0;
}

static int m_tick(struct model *m, __u64 now)
{
	size_t n = 0;

	for (size_t r = 0; r < m->nrec; r++)
		if (pias_age(now, m->rec[r].sent) < PIAS_IAP_QUERY_RETRY_NS)
			m->rec[n++] = m->rec[r];
	m->nrec = n;
	for (__u32 k = 0; k < MK; k++) {
		struct mta *t = &m->t[k];

		if (t->pending && pias_age(now, t->sent) >= PIAS_IAP_QUERY_RETRY_NS) {
			t->pending = false;
			m->npending--;
		}
		if (t->bound && t->b.expires_ns && now >= t->b.expires_ns)
			m_unbind(m, k);
	}
	for (__u32 k = 0; k < MK; k++) {
		struct mta *t = &m->t[k];
		__u64 before = t->life / 5;

		if (!t->bound || (t->b.flags & PIAS_BINDING_F_NEGATIVE) || !t->b.expires_ns ||
		    t->pending || now < t->retry_at || t->b.expires_ns - now >= before)
			continue;
		__u32 rap = k % 11 ? 7 + k % MRAPS : 0; /* m_rap_of's answer for TA k */

		m->rap_calls++;
		if (!rap)
			t->retry_at = now + PIAS_IAP_QUERY_RETRY_NS;
		else
			m_query(m, k, rap, now);
	}
	return 0;
}

static int rec_order(const void *a, const void *b)
{
	__u64 x = ((const struct mrec *)a)->sent, y = ((const struct mrec *)b)->sent;

	return x < y ? -1 : x > y;
}

static int m_flush(struct model *m)
{
	struct mrec add[MK];
	size_t n = 0;

	for (__u32 k = 0; k < MK; k++) {
		struct mta *t = &m->t[k];

		if (t->bound)
			m_push(m, PIAS_IAP_BINDING_DEL, k, 0);
		if (t->pending)
			add[n++] = (struct mrec){ .k = k, .rap = t->rap, .sent = t->sent };
		t->bound = t->pending = false;
	}
	qsort(add, n, sizeof(add[0]), rec_order);
	assert_true(m->nrec + n <= MMAX); /* the model keeps no bound */
	memcpy(&m->rec[m->nrec], add, n * sizeof(add[0]));
	m->nrec += n;
	m->npending = 0;
	return 0;
}

/* ---- comparing the cache with the model ---------------------------------------------- */

static int act_order(const void *a, const void *b)
{
	const struct pias_iap_action *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return memcmp(&x->ta, &y->ta, sizeof(x->ta));
}

static void same_actions(struct pias_iap_action *got, size_t ngot, struct model *m)
{
	assert_int_equal(ngot, m->nacts);
	qsort(got, ngot, sizeof(*got), act_order);
	qsort(m->acts, m->nacts, sizeof(m->acts[0]), act_order);
	for (size_t a = 0; a < ngot; a++) {
		const struct pias_iap_action *x = &got[a], *y = &m->acts[a];

		assert_int_equal(x->kind, y->kind);
		assert_true(pias_ta_eq(&x->ta, &y->ta));
		assert_int_equal(x->rap_id, y->rap_id);
		if (x->kind != PIAS_IAP_BINDING_SET)
			continue;
		assert_int_equal(x->binding.jap_id, y->binding.jap_id);
		assert_int_equal(x->binding.generation, y->binding.generation);
		assert_int_equal(x->binding.expires_ns, y->binding.expires_ns);
		assert_int_equal(x->binding.flags, y->binding.flags);
		assert_int_equal(x->set.count, y->set.count);
		assert_memory_equal(x->set.japs, y->set.japs,
				    x->set.count * sizeof(x->set.japs[0]));
	}
}

static void same_state(const struct pias_iap *i, const struct model *m)
{
	size_t n = 0;

	for (__u32 k = 0; k < MK; k++) {
		struct pias_ta ta = ta_k(k);
		const struct pias_iap_entry *en = pias_iap_entry(i, &ta);
		const struct mta *t = &m->t[k];

		if (!t->bound && !t->pending) {
			assert_null(en);
			continue;
		}
		n++;
		assert_non_null(en);
		assert_int_equal(en->bound, t->bound);
		assert_int_equal(en->pending, t->pending);
		if (t->pending) {
			assert_int_equal(en->rap_id, t->rap);
			assert_int_equal(en->sent_ns, t->sent);
		}
		if (t->bound) {
			assert_int_equal(en->b.jap_id, t->b.jap_id);
			assert_int_equal(en->b.generation, t->b.generation);
			assert_int_equal(en->b.expires_ns, t->b.expires_ns);
			assert_int_equal(en->b.flags, t->b.flags);
			assert_int_equal(pias_iap_set(en)->count, t->set.count);
		}
	}
	assert_int_equal(pias_iap_count(i), n);
	assert_int_equal(i->npending, m->npending);
	assert_int_equal(pias_iap_flushed_queries(i), m->nrec);
}

enum op {
	MISS,
	BINDING,
	NEGATIVE,
	INVALIDATE,
	JAP_DEAD,
	TICK_OP,
	FLUSH
};

struct input {
	enum op op;
	__u32 k, rap, jap, gen;
	struct pias_group set;
	__u64 life, now;
};

static int real_run(struct pias_iap *i, const struct input *in, unsigned int *calls,
		    struct pias_iap_actions *acts)
{
	struct pias_ta ta = ta_k(in->k);

	switch (in->op) {
	case MISS:
		return pias_iap_miss(i, &ta, in->rap, in->now, acts, NULL);
	case BINDING:
		return pias_iap_binding_set(i, in->rap, &ta, in->jap, &in->set, in->gen, in->life,
					    in->now, acts, NULL);
	case NEGATIVE:
		return pias_iap_negative(i, in->rap, &ta, in->life, in->now, acts, NULL);
	case INVALIDATE:
		return pias_iap_invalidate(i, in->jap, &ta, in->gen, in->now, acts, NULL);
	case JAP_DEAD:
		return pias_iap_jap_dead(i, in->jap, in->now, acts, NULL);
	case TICK_OP:
		return pias_iap_tick(i, in->now, m_rap_of, calls, acts, NULL);
	default:
		return pias_iap_flush(i, acts, NULL);
	}
}

static int model_run(struct model *m, const struct input *in)
{
	const struct pias_group *set = in->set.count ? &in->set : NULL;

	switch (in->op) {
	case MISS:
		return m_miss(m, in->k, in->rap, in->now);
	case BINDING:
		return m_binding(m, in->rap, in->k, in->jap, set, in->gen, in->life, in->now);
	case NEGATIVE:
		return m_negative(m, in->rap, in->k, in->life, in->now);
	case INVALIDATE:
		return m_invalidate(m, in->jap, in->k, in->gen);
	case JAP_DEAD:
		return m_jap_dead(m, in->jap);
	case TICK_OP:
		return m_tick(m, in->now);
	default:
		return m_flush(m);
	}
}

static struct input random_input(const struct model *m, __u64 now)
{
	struct input in = { .now = now, .k = (__u32)rand() % MK };
	int r = rand() % 100;
	__u32 gen = m->t[in.k].b.generation;

	in.rap = 7 + (__u32)rand() % MRAPS;
	in.jap = 1 + (__u32)rand() % MJAPS;
	in.gen = gen + (__u32)(rand() % 3) - 1; /* older, the same or newer */
	in.life = (200 + (__u64)(rand() % 2800)) * MS;
	if (r < 30) {
		in.op = MISS;
	} else if (r < 55) {
		in.op = BINDING;
		if (rand() % 8 == 0) {
			in.set.count = 2 + (__u32)rand() % 2;
			in.set.japs[0].jap_id = in.jap;
			for (__u32 s = 1; s < in.set.count; s++)
				in.set.japs[s].jap_id = 1 + (__u32)rand() % MJAPS;
		}
	} else if (r < 63) {
		in.op = NEGATIVE;
	} else if (r < 72) {
		in.op = INVALIDATE;
	} else if (r < 75) {
		in.op = JAP_DEAD;
	} else if (r < 99 || rand() % 4) {
		in.op = TICK_OP;
	} else {
		in.op = FLUSH;
	}
	return in;
}

/*
 * 60,000 random inputs, the same to the cache and to the model: the same
 * results, the same actions (as sets: the cache's order is its heaps'), the
 * same entries after each, rap_of asked as often. One input in ten is first
 * given a full action list: the cache refuses it (-ENOBUFS) changing
 * nothing, or needed no room.
 */
static void matches_model(void **state)
{
	static struct model m;
	static struct pias_iap_action buf[MAXACTS];
	struct pias_iap_config cfg = { .query_retry_ns = PIAS_IAP_QUERY_RETRY_NS,
				       .max_pending = MMAX };
	struct pias_iap i;
	unsigned int calls = 0;
	__u64 now = T0;
	size_t refused = 0;

	(void)state;
	srand(13);
	memset(&m, 0, sizeof(m));
	assert_int_equal(pias_iap_init(&i, &cfg, NULL), 0);
	for (int step = 0; step < 60000; step++) {
		struct pias_iap_actions acts = { .a = buf, .cap = MAXACTS };
		struct input in;
		int got, want;

		now += (__u64)(rand() % 60) * MS;
		in = random_input(&m, now);
		if (rand() % 10 == 0) {
			struct pias_iap_actions full = { .a = buf, .cap = 0 };

			got = real_run(&i, &in, &calls, &full);
			if (got == -ENOBUFS) {
				refused++;
				same_state(&i, &m); /* nothing changed */
			} else {
				/* needed no room: the model agrees, and has moved on */
				m.nacts = 0;
				want = model_run(&m, &in);
				assert_int_equal(got, want);
				assert_int_equal(m.nacts, 0);
				same_state(&i, &m);
				continue;
			}
		}
		m.nacts = 0;
		got = real_run(&i, &in, &calls, &acts);
		want = model_run(&m, &in);
		assert_int_equal(got, want);
		same_actions(acts.a, acts.n, &m);
		same_state(&i, &m);
	}
	/* rap_of asked once per refresh tried, as the model does */
	assert_int_equal(calls, m.rap_calls);
	assert_true(calls > 1000);
	assert_true(refused > 1000);
	pias_iap_free(&i);
}

int test_iap_scale(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(many_bound_tas),
		cmocka_unit_test(matches_model),
	};

	return cmocka_run_group_tests_name("iap_scale", tests, NULL, NULL);
}
