// SPDX-License-Identifier: MIT
/*
 * IAP binding cache and the JAP's invalidation rate limiter. Every input
 * checks its arguments, reserves memory and checks the room for its actions
 * before it changes anything, so nothing is half-applied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pias/hash.h>

#include "iap.h"

int pias_iap_init(struct pias_iap *i, const struct pias_iap_config *cfg, struct pias_err *e)
{
	struct pias_iap_config def = {
		.refresh_before_ns = 0,
		.query_retry_ns = PIAS_IAP_QUERY_RETRY_NS,
		.max_pending = PIAS_IAP_MAX_PENDING,
	};

	if (!cfg)
		cfg = &def;
	if (!cfg->query_retry_ns)
		return pias_err_set(e, -EINVAL, "iap: query retry must be positive");
	if (!cfg->max_pending)
		return pias_err_set(e, -EINVAL, "iap: max pending queries must be positive");
	memset(i, 0, sizeof(*i));
	i->cfg = *cfg;
	return 0;
}

void pias_iap_free(struct pias_iap *i)
{
	free(i->entries);
	free(i->flushed);
	i->entries = NULL;
	i->flushed = NULL;
	i->n = i->cap = 0;
	i->nflushed = i->flushed_cap = 0;
	i->npending = 0;
}

static __u64 age(__u64 now, __u64 then)
{
	return now > then ? now - then : 0;
}

/* a is older than b, as serial numbers (RFC 1982 style). */
static bool gen_older(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

static struct pias_iap_entry *entry_find(const struct pias_iap *i, const struct pias_ta *ta)
{
	for (size_t k = 0; k < i->n; k++)
		if (!memcmp(&i->entries[k].ta, ta, sizeof(*ta)))
			return &i->entries[k];
	return NULL;
}

const struct pias_iap_entry *pias_iap_entry(const struct pias_iap *i, const struct pias_ta *ta)
{
	return entry_find(i, ta);
}

static int check_ta(const struct pias_ta *ta, struct pias_err *e)
{
	if (ta->family != PIAS_AF_INET && ta->family != PIAS_AF_INET6)
		return pias_err_set(e, -EINVAL, "iap: TA family %u is neither 4 nor 6", ta->family);
	return 0;
}

/* Room for one more entry (nothing else changes). */
static int entry_reserve(struct pias_iap *i, struct pias_err *e)
{
	struct pias_iap_entry *p;
	size_t cap;

	if (i->n < i->cap)
		return 0;
	if (i->n >= PIAS_MAX_BINDINGS)
		return pias_err_set(e, -ENOSPC, "iap: %d TAs cached already", PIAS_MAX_BINDINGS);
	cap = i->cap ? 2 * i->cap : 64;
	p = realloc(i->entries, cap * sizeof(*p));
	if (!p)
		return pias_err_set(e, -ENOMEM, "iap: no memory for %zu TAs", cap);
	i->entries = p;
	i->cap = cap;
	return 0;
}

/* The entry of ta, created if absent; entry_reserve() must have succeeded. */
static struct pias_iap_entry *entry_get(struct pias_iap *i, const struct pias_ta *ta)
{
	struct pias_iap_entry *en = entry_find(i, ta);

	if (!en) {
		en = &i->entries[i->n++];
		*en = (struct pias_iap_entry){ .ta = *ta };
	}
	return en;
}

/* Drop en if it holds nothing any more (the last entry takes its place). */
static void entry_gc(struct pias_iap *i, struct pias_iap_entry *en)
{
	if (en->bound || en->pending)
		return;
	*en = i->entries[i->n - 1];
	i->n--;
}

static void pending_clear(struct pias_iap *i, struct pias_iap_entry *en)
{
	if (en->pending) {
		en->pending = false;
		i->npending--;
	}
}

static int room(const struct pias_iap_actions *acts, size_t need, struct pias_err *e)
{
	if (need > acts->cap - acts->n)
		return pias_err_set(e, -ENOBUFS, "iap: %zu actions, room for %zu", need,
				    acts->cap - acts->n);
	return 0;
}

static void push(struct pias_iap_actions *acts, enum pias_iap_action_kind kind, __u32 rap_id,
		 const struct pias_ta *ta, const struct pias_binding *b)
{
	struct pias_iap_action *a = &acts->a[acts->n++];

	*a = (struct pias_iap_action){ .kind = kind, .rap_id = rap_id, .ta = *ta };
	if (b)
		a->binding = *b;
}

/* The set of the binding just pushed (the last action). */
static void push_set(struct pias_iap_actions *acts, const struct pias_group *set)
{
	acts->a[acts->n - 1].set = *set;
}

static void query_send(struct pias_iap *i, struct pias_iap_entry *en, __u32 rap_id, __u64 now,
		       struct pias_iap_actions *acts)
{
	if (!en->pending)
		i->npending++;
	en->pending = true;
	en->rap_id = rap_id;
	en->sent_ns = now;
	push(acts, PIAS_IAP_SEND_QUERY, rap_id, &en->ta, NULL);
}

int pias_iap_miss(struct pias_iap *i, const struct pias_ta *ta, __u32 rap_id, __u64 now,
		  struct pias_iap_actions *acts, struct pias_err *e)
{
	struct pias_iap_entry *en;
	int err = check_ta(ta, e);

	if (err)
		return err;
	if (!rap_id)
		return pias_err_set(e, -EINVAL, "iap: miss without a RAP (id 0)");
	en = entry_find(i, ta);
	if (en && en->pending && age(now, en->sent_ns) < i->cfg.query_retry_ns)
		return 0; /* the outstanding query will answer */
	if (!(en && en->pending) && i->npending >= i->cfg.max_pending)
		return pias_err_set(e, -EAGAIN, "iap: %u queries outstanding already", i->npending);
	if (!en) {
		err = entry_reserve(i, e);
		if (err)
			return err;
	}
	err = room(acts, 1, e);
	if (err)
		return err;
	query_send(i, entry_get(i, ta), rap_id, now, acts);
	return 0;
}

/* Install b for ta, answering the pending query. */
static int install_set(struct pias_iap *i, const struct pias_ta *ta, struct pias_binding *b,
		       const struct pias_group *set, __u64 lifetime_ns, __u64 now,
		       struct pias_iap_actions *acts, struct pias_err *e);

static int install(struct pias_iap *i, const struct pias_ta *ta, struct pias_binding *b,
		   __u64 lifetime_ns, __u64 now, struct pias_iap_actions *acts, struct pias_err *e)
{
	return install_set(i, ta, b, NULL, lifetime_ns, now, acts, e);
}

static int install_set(struct pias_iap *i, const struct pias_ta *ta, struct pias_binding *b,
		       const struct pias_group *set, __u64 lifetime_ns, __u64 now,
		       struct pias_iap_actions *acts, struct pias_err *e)
{
	static const struct pias_group none;
	struct pias_iap_entry *en = entry_find(i, ta);
	int err = 0;

	if (!en)
		err = entry_reserve(i, e);
	if (!err)
		err = room(acts, 1, e);
	if (err)
		return err;
	b->expires_ns = lifetime_ns > ~0ull - now ? ~0ull : now + lifetime_ns;
	en = entry_get(i, ta);
	pending_clear(i, en);
	en->bound = true;
	en->b = *b;
	en->set = set ? *set : none;
	en->lifetime_ns = lifetime_ns;
	push(acts, PIAS_IAP_BINDING_SET, 0, ta, b);
	push_set(acts, &en->set);
	return 0;
}

/*
 * Is this the answer of from_rap to a query outstanding at a flush? Then
 * its record is used up (the RAP answers a query once) and the caller
 * drops the answer. Records are searched oldest first: a RAP answers in
 * the order it was asked.
 */
static bool flushed_answer(struct pias_iap *i, __u32 from_rap, const struct pias_ta *ta, __u64 now)
{
	for (size_t k = 0; k < i->nflushed; k++) {
		const struct pias_iap_flushed *r = &i->flushed[k];

		if (r->rap_id != from_rap || memcmp(&r->ta, ta, sizeof(*ta)) ||
		    age(now, r->sent_ns) >= i->cfg.query_retry_ns)
			continue;
		memmove(&i->flushed[k], &i->flushed[k + 1],
			(i->nflushed - k - 1) * sizeof(i->flushed[0]));
		i->nflushed--;
		return true;
	}
	return false;
}

/* Forget the records of flushed queries that count as lost by now. */
static void flushed_expire(struct pias_iap *i, __u64 now)
{
	size_t n = 0;

	for (size_t k = 0; k < i->nflushed; k++)
		if (age(now, i->flushed[k].sent_ns) < i->cfg.query_retry_ns)
			i->flushed[n++] = i->flushed[k];
	i->nflushed = n;
	if (!n) {
		/* nothing awaited: the memory goes back until the next flush */
		free(i->flushed);
		i->flushed = NULL;
		i->flushed_cap = 0;
	}
}

static int check_answer(const struct pias_ta *ta, __u32 from_rap, __u64 lifetime_ns,
			struct pias_err *e)
{
	int err = check_ta(ta, e);

	if (err)
		return err;
	if (!from_rap)
		return pias_err_set(e, -EINVAL, "iap: answer from RAP id 0");
	if (!lifetime_ns)
		return pias_err_set(e, -EINVAL, "iap: binding lifetime 0");
	return 0;
}

int pias_iap_binding(struct pias_iap *i, __u32 from_rap, const struct pias_ta *ta, __u32 jap_id,
		     __u32 generation, __u64 lifetime_ns, __u64 now, struct pias_iap_actions *acts,
		     struct pias_err *e)
{
	return pias_iap_binding_set(i, from_rap, ta, jap_id, NULL, generation, lifetime_ns, now,
				    acts, e);
}

int pias_iap_binding_set(struct pias_iap *i, __u32 from_rap, const struct pias_ta *ta, __u32 jap_id,
			 const struct pias_group *set, __u32 generation, __u64 lifetime_ns,
			 __u64 now, struct pias_iap_actions *acts, struct pias_err *e)
{
	struct pias_binding b = { .jap_id = jap_id, .generation = generation };
	const struct pias_iap_entry *en;
	int err = check_answer(ta, from_rap, lifetime_ns, e);

	if (err)
		return err;
	if (!jap_id)
		return pias_err_set(e, -EINVAL, "iap: binding to JAP id 0");
	if (set && set->count &&
	    (set->count > PIAS_GROUP_MAX_JAPS || set->japs[0].jap_id != jap_id))
		return pias_err_set(e, -EINVAL, "iap: a set of %u JAPs not led by JAP %u",
				    set->count, jap_id);
	if (flushed_answer(i, from_rap, ta, now))
		return 0; /* decided before the flush: the next miss asks again */
	en = entry_find(i, ta);
	if (en && en->bound && !(en->b.flags & PIAS_BINDING_F_NEGATIVE) && now < en->b.expires_ns &&
	    gen_older(generation, en->b.generation))
		return 0; /* a late answer, older than what is installed */
	return install_set(i, ta, &b, set, lifetime_ns, now, acts, e);
}

int pias_iap_negative(struct pias_iap *i, __u32 from_rap, const struct pias_ta *ta,
		      __u64 lifetime_ns, __u64 now, struct pias_iap_actions *acts,
		      struct pias_err *e)
{
	struct pias_binding b = { .flags = PIAS_BINDING_F_NEGATIVE };
	const struct pias_iap_entry *en;
	int err = check_answer(ta, from_rap, lifetime_ns, e);

	if (err)
		return err;
	if (flushed_answer(i, from_rap, ta, now))
		return 0; /* decided before the flush, as in pias_iap_binding_set */
	/*
	 * A refresh answered "no group" while a JAP still holds the binding:
	 * the RAP is new to the TA (the ring changed and the JAPs' reports
	 * are on their way), not a sign that the group is gone; a JAP that
	 * lost its last target invalidates the binding itself. Replacing a
	 * working binding with a negative one dropped every new flow for
	 * the negative's lifetime (1 s: 101 of 1,200 DNS queries when a
	 * partition healed). The query stays outstanding, so it is asked
	 * again once query_retry_ns has passed.
	 */
	en = entry_find(i, ta);
	if (en && en->bound && !(en->b.flags & PIAS_BINDING_F_NEGATIVE) &&
	    (!en->b.expires_ns || now < en->b.expires_ns))
		return 0;
	return install(i, ta, &b, lifetime_ns, now, acts, e);
}

/* Delete en's binding (the action is appended, room checked by the caller). */
static void unbind(struct pias_iap *i, struct pias_iap_entry *en, struct pias_iap_actions *acts)
{
	en->bound = false;
	push(acts, PIAS_IAP_BINDING_DEL, 0, &en->ta, NULL);
	entry_gc(i, en);
}

/* Is en's binding to jap_id, or to a set that holds it? */
static bool bound_to(const struct pias_iap_entry *en, __u32 jap_id)
{
	if (!en->bound || (en->b.flags & PIAS_BINDING_F_NEGATIVE))
		return false;
	if (en->b.jap_id == jap_id)
		return true;
	for (__u32 k = 0; k < en->set.count && k < PIAS_GROUP_MAX_JAPS; k++)
		if (en->set.japs[k].jap_id == jap_id)
			return true;
	return false;
}

int pias_iap_invalidate(struct pias_iap *i, __u32 from_jap, const struct pias_ta *ta,
			__u32 generation, __u64 now, struct pias_iap_actions *acts,
			struct pias_err *e)
{
	struct pias_iap_entry *en;
	int err = check_ta(ta, e);

	(void)now;
	if (err)
		return err;
	en = entry_find(i, ta);
	if (!en || !bound_to(en, from_jap) || gen_older(generation, en->b.generation))
		return 0; /* not ours to drop, or about an older binding */
	err = room(acts, 1, e);
	if (err)
		return err;
	unbind(i, en, acts);
	return 0;
}

int pias_iap_jap_dead(struct pias_iap *i, __u32 jap_id, __u64 now, struct pias_iap_actions *acts,
		      struct pias_err *e)
{
	size_t need = 0;
	int err;

	(void)now;
	if (!jap_id)
		return pias_err_set(e, -EINVAL, "iap: JAP id 0");
	for (size_t k = 0; k < i->n; k++)
		need += bound_to(&i->entries[k], jap_id);
	err = room(acts, need, e);
	if (err)
		return err;
	/* Backwards: entry_gc() moves the last (already visited) entry into k. */
	for (size_t k = i->n; k-- > 0;)
		if (bound_to(&i->entries[k], jap_id))
			unbind(i, &i->entries[k], acts);
	return 0;
}

struct tick_plan {
	bool forget; /* the pending query is lost */
	bool del;    /* the binding is past expiry */
	__u32 rap;   /* refresh: query this RAP (0: no) */
};

/* What the tick does to en; *npending simulates the count of outstanding queries. */
static void tick_plan(const struct pias_iap *i, const struct pias_iap_entry *en, __u64 now,
		      pias_iap_rap_of_fn rap_of, void *ctx, __u32 *npending, struct tick_plan *p)
{
	bool pending = en->pending;
	__u64 before;

	*p = (struct tick_plan){ 0 };
	if (pending && age(now, en->sent_ns) >= i->cfg.query_retry_ns) {
		p->forget = true;
		pending = false;
		(*npending)--;
	}
	if (!en->bound)
		return;
	if (en->b.expires_ns && now >= en->b.expires_ns) {
		p->del = true;
		return;
	}
	if (en->b.flags & PIAS_BINDING_F_NEGATIVE || pending || *npending >= i->cfg.max_pending)
		return;
	before = i->cfg.refresh_before_ns ? i->cfg.refresh_before_ns : en->lifetime_ns / 5;
	if (en->b.expires_ns && en->b.expires_ns - now < before && rap_of) {
		p->rap = rap_of(ctx, &en->ta);
		if (p->rap)
			(*npending)++;
	}
}

int pias_iap_tick(struct pias_iap *i, __u64 now, pias_iap_rap_of_fn rap_of, void *ctx,
		  struct pias_iap_actions *acts, struct pias_err *e)
{
	struct tick_plan p;
	__u32 sim = i->npending;
	size_t need = 0;
	int err;

	/* Pass 1: count, so that all or nothing is applied. Same order as pass 2. */
	for (size_t k = i->n; k-- > 0;) {
		tick_plan(i, &i->entries[k], now, rap_of, ctx, &sim, &p);
		need += p.del + !!p.rap;
	}
	err = room(acts, need, e);
	if (err)
		return err;
	/* Pass 2: apply, backwards (entry_gc() moves the last entry into k). */
	sim = i->npending;
	for (size_t k = i->n; k-- > 0;) {
		struct pias_iap_entry *en = &i->entries[k];

		tick_plan(i, en, now, rap_of, ctx, &sim, &p);
		if (p.forget)
			pending_clear(i, en);
		if (p.rap)
			query_send(i, en, p.rap, now, acts);
		if (p.del)
			unbind(i, en, acts); /* also drops the entry if nothing is left */
		else
			entry_gc(i, en);
	}
	flushed_expire(i, now);
	return 0;
}

void pias_inval_limiter_init(struct pias_inval_limiter *l, __u64 interval_ns)
{
	memset(l, 0, sizeof(*l));
	l->interval_ns = interval_ns ? interval_ns : PIAS_INVAL_INTERVAL_NS;
}

bool pias_inval_limiter(struct pias_inval_limiter *l, __u32 iap_id, const struct pias_ta *ta,
			__u64 now)
{
	__u32 h = pias_final(pias_mix(pias_ta_hash(ta), iap_id), 24);
	struct pias_inval_slot *set = l->slots[h % PIAS_INVAL_LIMITER_SETS], *victim = NULL;

	for (int w = 0; w < PIAS_INVAL_LIMITER_WAYS; w++) {
		struct pias_inval_slot *s = &set[w];

		if (s->used && s->iap_id == iap_id && !memcmp(&s->ta, ta, sizeof(*ta))) {
			if (age(now, s->last_ns) < l->interval_ns)
				return false;
			s->last_ns = now;
			return true;
		}
	}
	/* A new key: a free way, else one whose interval is over, else the oldest. */
	for (int w = 0; w < PIAS_INVAL_LIMITER_WAYS && !victim; w++)
		if (!set[w].used)
			victim = &set[w];
	for (int w = 0; w < PIAS_INVAL_LIMITER_WAYS && !victim; w++)
		if (age(now, set[w].last_ns) >= l->interval_ns)
			victim = &set[w];
	if (!victim) {
		victim = &set[0];
		for (int w = 1; w < PIAS_INVAL_LIMITER_WAYS; w++)
			if (set[w].last_ns < victim->last_ns)
				victim = &set[w];
	}
	*victim =
		(struct pias_inval_slot){ .ta = *ta, .iap_id = iap_id, .used = 1, .last_ns = now };
	return true;
}

int pias_iap_restore(struct pias_iap *i, const struct pias_ta *ta, const struct pias_binding *b,
		     const struct pias_group *set, __u64 lifetime_ns, struct pias_err *e)
{
	struct pias_iap_entry *en;
	int err = check_ta(ta, e);

	if (!err && (b->flags & ~(PIAS_BINDING_F_NEGATIVE | PIAS_BINDING_F_SET)))
		err = pias_err_set(e, -EINVAL, "iap: binding flags %#x are not restorable",
				   b->flags);
	if (!err && (b->flags & PIAS_BINDING_F_SET) && (!set || !set->count))
		err = pias_err_set(e, -EINVAL, "iap: a binding to a set, without its set");
	if (!err && !lifetime_ns)
		err = pias_err_set(e, -EINVAL, "iap: lifetime 0");
	if (!err && entry_find(i, ta))
		err = pias_err_set(e, -EEXIST, "iap: TA restored twice");
	if (!err)
		err = entry_reserve(i, e);
	if (err)
		return err;
	en = entry_get(i, ta);
	en->bound = true;
	en->b = *b;
	en->lifetime_ns = lifetime_ns;
	if (b->flags & PIAS_BINDING_F_SET)
		en->set = *set;
	return 0;
}

int pias_iap_flush(struct pias_iap *i, struct pias_iap_actions *acts, struct pias_err *e)
{
	size_t need = 0, max = i->cfg.max_pending, add = i->npending, total, drop;
	int err;

	for (size_t k = 0; k < i->n; k++)
		need += i->entries[k].bound;
	err = room(acts, need, e);
	if (err)
		return err;
	/*
	 * Room for a record of each outstanding query, max_pending records in
	 * all (bounded memory whatever the flushes): beyond, the oldest go,
	 * whose answers have most likely come or been lost already.
	 */
	if (add > max)
		add = max;
	total = i->nflushed + add > max ? max : i->nflushed + add;
	if (total > i->flushed_cap) {
		struct pias_iap_flushed *p = realloc(i->flushed, total * sizeof(*p));

		if (!p)
			return pias_err_set(e, -ENOMEM, "iap: no memory for %zu flushed queries",
					    total);
		i->flushed = p;
		i->flushed_cap = total;
	}
	drop = i->nflushed + add - total;
	if (drop) {
		memmove(i->flushed, i->flushed + drop,
			(i->nflushed - drop) * sizeof(i->flushed[0]));
		i->nflushed -= drop;
	}
	for (size_t k = 0; k < i->n; k++) {
		const struct pias_iap_entry *en = &i->entries[k];

		if (en->bound)
			push(acts, PIAS_IAP_BINDING_DEL, 0, &en->ta, NULL);
		if (en->pending && add) {
			i->flushed[i->nflushed++] = (struct pias_iap_flushed){
				.ta = en->ta, .rap_id = en->rap_id, .sent_ns = en->sent_ns
			};
			add--;
		}
	}
	i->n = 0;
	i->npending = 0;
	return 0;
}
