// SPDX-License-Identifier: MIT
/*
 * IAP binding cache and the JAP's invalidation rate limiter. Every input
 * checks its arguments, reserves memory and checks the room for its actions
 * before it changes anything, so nothing is half-applied.
 *
 * An entry's handle (its TA's in i->tas) indexes i->entries, its two
 * deadlines and its JAP links. Deadlines are lazy: a change that moves one
 * earlier queues it there; one that moves it later leaves it, and the tick
 * that pops it finds nothing due yet and queues it again at its real time.
 * An answer to a refresh moves both later, so it costs no heap work.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pias/hash.h>

#include "iap.h"
#include "registry.h"

#define NEVER PIAS_TIMERS_NEVER

/* Every container empty (cfg, npending and flushed records aside). */
static void containers_init(struct pias_iap *i)
{
	pias_ta_index_init(&i->tas, PIAS_MAX_BINDINGS, "iap");
	pias_timers_init(&i->due, "iap");
	pias_timers_init(&i->refresh, "iap");
	pias_multimap_init(&i->japs, PIAS_MAX_PROXIES, "iap");
	i->entries = NULL;
	i->ecap = 0;
}

static void containers_free(struct pias_iap *i)
{
	pias_ta_index_each(&i->tas, h) free(i->entries[h].set);
	pias_ta_index_free(&i->tas);
	pias_timers_free(&i->due);
	pias_timers_free(&i->refresh);
	pias_multimap_free(&i->japs);
	free(i->entries);
	containers_init(i);
}

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
	containers_init(i);
	pias_iap_flushed_init(&i->flushed, cfg->max_pending);
	return 0;
}

void pias_iap_free(struct pias_iap *i)
{
	containers_free(i);
	pias_iap_flushed_free(&i->flushed);
	i->npending = 0;
}

/* ---- entries ------------------------------------------------------------------ */

static long entry_find(const struct pias_iap *i, const struct pias_ta *ta)
{
	return pias_ta_index_find(&i->tas, ta);
}

const struct pias_iap_entry *pias_iap_entry(const struct pias_iap *i, const struct pias_ta *ta)
{
	long h = entry_find(i, ta);

	return h < 0 ? NULL : &i->entries[h];
}

const struct pias_group *pias_iap_set(const struct pias_iap_entry *en)
{
	static const struct pias_group none;

	return en->set ? en->set : &none;
}

const struct pias_iap_entry *pias_iap_next(const struct pias_iap *i,
					   const struct pias_iap_entry *prev)
{
	long h = pias_ta_index_next(&i->tas, prev ? prev - i->entries : -1);

	return h < 0 ? NULL : &i->entries[h];
}

__u64 pias_iap_next_due(const struct pias_iap *i)
{
	__u64 a = pias_timers_next(&i->due), b = pias_timers_next(&i->refresh);

	return a < b ? a : b;
}

/* Room for one more entry with its deadlines (nothing else changes). */
static int entry_reserve(struct pias_iap *i, struct pias_err *e)
{
	int err = pias_ta_index_reserve(&i->tas, 1, e);
	size_t need = pias_ta_index_capacity(&i->tas);

	if (!err)
		err = pias_grow((void **)&i->entries, &i->ecap, sizeof(*i->entries), need, "iap",
				"TAs", e);
	if (!err)
		err = pias_timers_reserve_all(&i->due, need, e);
	if (!err)
		err = pias_timers_reserve_all(&i->refresh, need, e);
	return err;
}

/* A new entry for ta (reserved), neither bound nor pending. */
static __u32 entry_new(struct pias_iap *i, const struct pias_ta *ta)
{
	__u32 h = (__u32)pias_ta_index_add(&i->tas, ta, NULL);

	i->entries[h] = (struct pias_iap_entry){ .ta = *ta, .due_q = NEVER, .refresh_q = NEVER };
	return h;
}

/* ---- deadlines ------------------------------------------------------------------ */

static __u64 sat_add(__u64 a, __u64 b)
{
	return b > NEVER - a ? NEVER : a + b;
}

/* When en's query counts as lost or its binding expires, whichever is first. */
static __u64 due_at(const struct pias_iap *i, const struct pias_iap_entry *en)
{
	__u64 t = en->pending ? sat_add(en->sent_ns, i->cfg.query_retry_ns) : NEVER;

	if (en->bound && en->b.expires_ns && en->b.expires_ns < t)
		t = en->b.expires_ns;
	return t;
}

/* When en's binding is to be refreshed: less than refresh_before is left. */
static __u64 refresh_at(const struct pias_iap *i, const struct pias_iap_entry *en)
{
	__u64 before, t;

	if (!en->bound || (en->b.flags & PIAS_BINDING_F_NEGATIVE) || !en->b.expires_ns ||
	    en->pending)
		return NEVER;
	before = i->cfg.refresh_before_ns ? i->cfg.refresh_before_ns : en->lifetime_ns / 5;
	t = en->b.expires_ns > before ? en->b.expires_ns - before + 1 : 0;
	return t > en->retry_at_ns ? t : en->retry_at_ns;
}

/*
 * Queue h at when if that is earlier than where it is, *q (reserved with
 * the entry). *q mirrors the heap, so that a deadline moving later, every
 * answer's, costs no look into it.
 */
static void queue_earlier(struct pias_timers *t, __u32 h, __u64 when, __u64 *q)
{
	if (when < *q) {
		pias_timers_set(t, h, when, NULL);
		*q = when;
	}
}

static void schedule(struct pias_iap *i, __u32 h)
{
	struct pias_iap_entry *en = &i->entries[h];

	queue_earlier(&i->due, h, due_at(i, en), &en->due_q);
	queue_earlier(&i->refresh, h, refresh_at(i, en), &en->refresh_q);
}

/* After a change that may have emptied entry h: drop it, or queue its next deadlines. */
static void settle(struct pias_iap *i, __u32 h)
{
	struct pias_iap_entry *en = &i->entries[h];

	if (en->bound || en->pending) {
		schedule(i, h);
		return;
	}
	free(en->set);
	en->set = NULL;
	pias_timers_cancel(&i->due, h);
	pias_timers_cancel(&i->refresh, h);
	pias_multimap_clear(&i->japs, h);
	pias_ta_index_del(&i->tas, h);
}

/* ---- actions -------------------------------------------------------------------- */

static int room(const struct pias_iap_actions *acts, size_t need, struct pias_err *e)
{
	if (need > acts->cap - acts->n)
		return pias_err_set(e, -ENOBUFS, "iap: %zu actions, room for %zu", need,
				    acts->cap - acts->n);
	return 0;
}

static void push(struct pias_iap_actions *acts, enum pias_iap_action_kind kind, __u32 rap_id,
		 const struct pias_ta *ta, const struct pias_binding *b,
		 const struct pias_group *set)
{
	struct pias_iap_action *a = &acts->a[acts->n++];

	*a = (struct pias_iap_action){ .kind = kind, .rap_id = rap_id, .ta = *ta };
	if (b)
		a->binding = *b;
	if (set)
		a->set = *set; /* none: count 0 as initialised */
}

static void pending_clear(struct pias_iap *i, struct pias_iap_entry *en)
{
	if (en->pending) {
		en->pending = false;
		i->npending--;
	}
}

static void query_send(struct pias_iap *i, __u32 h, __u32 rap_id, __u64 now,
		       struct pias_iap_actions *acts)
{
	struct pias_iap_entry *en = &i->entries[h];

	if (!en->pending)
		i->npending++;
	en->pending = true;
	en->rap_id = rap_id;
	en->sent_ns = now;
	push(acts, PIAS_IAP_SEND_QUERY, rap_id, &en->ta, NULL, NULL);
	schedule(i, h);
}

/* ---- JAP links: which entries a dead JAP's death unbinds -------------------------- */

static __u32 set_count(const struct pias_group *set)
{
	return set->count < PIAS_GROUP_MAX_JAPS ? set->count : PIAS_GROUP_MAX_JAPS;
}

/* jap_id and set's JAPs are proxy ids: the JAP index is sized by them. */
static int check_japs(__u32 jap_id, const struct pias_group *set, struct pias_err *e)
{
	__u32 bad = jap_id >= PIAS_MAX_PROXIES ? jap_id : 0;

	for (__u32 k = 0; set && !bad && k < set_count(set); k++)
		if (set->japs[k].jap_id >= PIAS_MAX_PROXIES)
			bad = set->japs[k].jap_id;
	if (bad)
		return pias_err_set(e, -EINVAL, "iap: JAP id %u is no proxy id (below %u)", bad,
				    PIAS_MAX_PROXIES);
	return 0;
}

/* Room to link a positive binding to jap_id and set's JAPs. */
static int links_reserve(struct pias_iap *i, __u32 jap_id, const struct pias_group *set,
			 struct pias_err *e)
{
	__u32 max = jap_id, n = set ? set_count(set) : 0;

	for (__u32 k = 0; k < n; k++)
		max = set->japs[k].jap_id > max ? set->japs[k].jap_id : max;
	return pias_multimap_reserve(&i->japs, i->ecap, max, 1 + n, e);
}

/* Is en's binding to jap_id, or to a set that holds it? */
static bool bound_to(const struct pias_iap_entry *en, __u32 jap_id)
{
	if (!en->bound || (en->b.flags & PIAS_BINDING_F_NEGATIVE))
		return false;
	if (en->b.jap_id == jap_id)
		return true;
	for (__u32 k = 0; en->set && k < set_count(en->set); k++)
		if (en->set->japs[k].jap_id == jap_id)
			return true;
	return false;
}

/* Link h under every JAP its binding names (none for a negative one). */
static void links_set(struct pias_iap *i, __u32 h)
{
	const struct pias_iap_entry *en = &i->entries[h];

	pias_multimap_clear(&i->japs, h);
	if (!en->bound || (en->b.flags & PIAS_BINDING_F_NEGATIVE))
		return;
	pias_multimap_add(&i->japs, en->b.jap_id, h);
	for (__u32 k = 0; en->set && k < set_count(en->set); k++)
		pias_multimap_add(&i->japs, en->set->japs[k].jap_id, h);
}

/* A binding to one JAP, the same as en's: its links stand (a refresh's answer). */
static bool same_links(const struct pias_iap_entry *en, const struct pias_binding *b,
		       const struct pias_group *set)
{
	return en->bound && !(en->b.flags & PIAS_BINDING_F_NEGATIVE) && !en->set &&
	       !(b->flags & PIAS_BINDING_F_NEGATIVE) && (!set || !set->count) &&
	       en->b.jap_id == b->jap_id;
}

/* ---- inputs --------------------------------------------------------------------- */

int pias_iap_miss(struct pias_iap *i, const struct pias_ta *ta, __u32 rap_id, __u64 now,
		  struct pias_iap_actions *acts, struct pias_err *e)
{
	const struct pias_iap_entry *en;
	int err = pias_registry_ta_check(ta, "iap", e);
	long h;

	if (err)
		return err;
	if (!rap_id)
		return pias_err_set(e, -EINVAL, "iap: miss without a RAP (id 0)");
	h = entry_find(i, ta);
	en = h < 0 ? NULL : &i->entries[h];
	if (en && en->pending && pias_age(now, en->sent_ns) < i->cfg.query_retry_ns)
		return 0; /* the outstanding query will answer */
	if (!(en && en->pending) && i->npending >= i->cfg.max_pending)
		return pias_err_set(e, -EAGAIN, "iap: %u queries outstanding already", i->npending);
	if (h < 0)
		err = entry_reserve(i, e);
	if (!err)
		err = room(acts, 1, e);
	if (err)
		return err;
	query_send(i, h < 0 ? entry_new(i, ta) : (__u32)h, rap_id, now, acts);
	return 0;
}

/* Memory for a set for entry h (-1: new) unless it has one: *mem, or -ENOMEM. */
static int set_reserve(const struct pias_iap *i, long h, struct pias_group **mem,
		       struct pias_err *e)
{
	*mem = NULL;
	if (h >= 0 && i->entries[h].set)
		return 0;
	*mem = malloc(sizeof(**mem));
	if (!*mem)
		return pias_err_set(e, -ENOMEM, "iap: no memory for a binding set");
	return 0;
}

/* en's set becomes set (NULL: none), in mem if it had none. */
static void set_put(struct pias_iap_entry *en, const struct pias_group *set, struct pias_group *mem)
{
	if (!set) {
		free(en->set);
		en->set = NULL;
		return;
	}
	if (!en->set)
		en->set = mem;
	*en->set = *set;
}

/* Install b (and set) for ta, entry h (-1: none yet), answering the pending query. */
static int install(struct pias_iap *i, long h, const struct pias_ta *ta, struct pias_binding *b,
		   const struct pias_group *set, __u64 lifetime_ns, __u64 now,
		   struct pias_iap_actions *acts, struct pias_err *e)
{
	struct pias_group *mem = NULL;
	struct pias_iap_entry *en;
	bool relink;
	int err = 0;

	if (set && !set->count)
		set = NULL;
	if (h < 0)
		err = entry_reserve(i, e);
	if (!err && !(b->flags & PIAS_BINDING_F_NEGATIVE))
		err = links_reserve(i, b->jap_id, set, e);
	if (!err)
		err = room(acts, 1, e);
	if (!err && set)
		err = set_reserve(i, h, &mem, e);
	if (err)
		return err;
	if (h < 0)
		h = entry_new(i, ta);
	en = &i->entries[h];
	relink = !same_links(en, b, set);
	b->expires_ns = sat_add(now, lifetime_ns);
	pending_clear(i, en);
	en->bound = true;
	en->b = *b;
	set_put(en, set, mem);
	en->lifetime_ns = lifetime_ns;
	en->retry_at_ns = 0;
	if (relink)
		links_set(i, (__u32)h);
	push(acts, PIAS_IAP_BINDING_SET, 0, ta, b, en->set);
	schedule(i, (__u32)h);
	return 0;
}

static int check_answer(const struct pias_ta *ta, __u32 from_rap, __u64 lifetime_ns,
			struct pias_err *e)
{
	int err = pias_registry_ta_check(ta, "iap", e);

	if (err)
		return err;
	if (!from_rap)
		return pias_err_set(e, -EINVAL, "iap: answer from RAP id 0");
	if (!lifetime_ns)
		return pias_err_set(e, -EINVAL, "iap: binding lifetime 0");
	return 0;
}

/* Is this the answer to a query outstanding at a flush? Then it is dropped (iap_flushed.h). */
static bool flushed_answer(struct pias_iap *i, __u32 from_rap, const struct pias_ta *ta, __u64 now)
{
	return pias_iap_flushed_take(&i->flushed, ta, from_rap, now, i->cfg.query_retry_ns);
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
	long h;

	if (err)
		return err;
	if (!jap_id)
		return pias_err_set(e, -EINVAL, "iap: binding to JAP id 0");
	if (set && set->count &&
	    (set->count > PIAS_GROUP_MAX_JAPS || set->japs[0].jap_id != jap_id))
		return pias_err_set(e, -EINVAL, "iap: a set of %u JAPs not led by JAP %u",
				    set->count, jap_id);
	err = check_japs(jap_id, set, e);
	if (err)
		return err;
	if (flushed_answer(i, from_rap, ta, now))
		return 0; /* decided before the flush: the next miss asks again */
	h = entry_find(i, ta);
	en = h < 0 ? NULL : &i->entries[h];
	if (en && en->bound && !(en->b.flags & PIAS_BINDING_F_NEGATIVE) && now < en->b.expires_ns &&
	    pias_serial_older(generation, en->b.generation))
		return 0; /* a late answer, older than what is installed */
	return install(i, h, ta, &b, set, lifetime_ns, now, acts, e);
}

int pias_iap_negative(struct pias_iap *i, __u32 from_rap, const struct pias_ta *ta,
		      __u64 lifetime_ns, __u64 now, struct pias_iap_actions *acts,
		      struct pias_err *e)
{
	struct pias_binding b = { .flags = PIAS_BINDING_F_NEGATIVE };
	const struct pias_iap_entry *en;
	int err = check_answer(ta, from_rap, lifetime_ns, e);
	long h;

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
	h = entry_find(i, ta);
	en = h < 0 ? NULL : &i->entries[h];
	if (en && en->bound && !(en->b.flags & PIAS_BINDING_F_NEGATIVE) &&
	    (!en->b.expires_ns || now < en->b.expires_ns))
		return 0;
	return install(i, h, ta, &b, NULL, lifetime_ns, now, acts, e);
}

/* Delete h's binding (the action is appended, room checked by the caller). */
static void unbind(struct pias_iap *i, __u32 h, struct pias_iap_actions *acts)
{
	struct pias_iap_entry *en = &i->entries[h];

	en->bound = false;
	set_put(en, NULL, NULL);
	pias_multimap_clear(&i->japs, h);
	push(acts, PIAS_IAP_BINDING_DEL, 0, &en->ta, NULL, NULL);
	settle(i, h);
}

int pias_iap_invalidate(struct pias_iap *i, __u32 from_jap, const struct pias_ta *ta,
			__u32 generation, __u64 now, struct pias_iap_actions *acts,
			struct pias_err *e)
{
	const struct pias_iap_entry *en;
	int err = pias_registry_ta_check(ta, "iap", e);
	long h;

	(void)now;
	if (err)
		return err;
	h = entry_find(i, ta);
	en = h < 0 ? NULL : &i->entries[h];
	if (!en || !bound_to(en, from_jap) || pias_serial_older(generation, en->b.generation))
		return 0; /* not ours to drop, or about an older binding */
	err = room(acts, 1, e);
	if (err)
		return err;
	unbind(i, (__u32)h, acts);
	return 0;
}

int pias_iap_jap_dead(struct pias_iap *i, __u32 jap_id, __u64 now, struct pias_iap_actions *acts,
		      struct pias_err *e)
{
	long h;
	int err;

	(void)now;
	if (!jap_id)
		return pias_err_set(e, -EINVAL, "iap: JAP id 0");
	err = room(acts, pias_multimap_count(&i->japs, jap_id), e);
	if (err)
		return err;
	/* each unbind unlinks the entry from every JAP: the next one comes first */
	while ((h = pias_multimap_first(&i->japs, jap_id)) >= 0)
		unbind(i, (__u32)h, acts);
	return 0;
}

/* ---- the tick ------------------------------------------------------------------- */

/* h's first deadline popped: forget its lost query, delete its expired binding. */
static void tick_due(struct pias_iap *i, __u32 h, __u64 now, struct pias_iap_actions *acts)
{
	struct pias_iap_entry *en = &i->entries[h];

	if (en->pending && pias_age(now, en->sent_ns) >= i->cfg.query_retry_ns)
		pending_clear(i, en);
	if (en->bound && en->b.expires_ns && now >= en->b.expires_ns)
		unbind(i, h, acts); /* settles h too */
	else
		settle(i, h); /* a refresh is due once the query is lost */
}

/* h's refresh point popped: ask its RAP, unless the point has moved on. */
static void tick_refresh(struct pias_iap *i, __u32 h, __u64 now, pias_iap_rap_of_fn rap_of,
			 void *ctx, struct pias_iap_actions *acts)
{
	struct pias_iap_entry *en = &i->entries[h];
	__u32 rap;

	if (refresh_at(i, en) > now) {
		schedule(i, h); /* answered since: later */
		return;
	}
	rap = rap_of ? rap_of(ctx, &en->ta) : 0;
	if (!rap) {
		/* no RAP known: try again once a query would have been lost */
		en->retry_at_ns = sat_add(now, i->cfg.query_retry_ns);
		schedule(i, h);
		return;
	}
	query_send(i, h, rap, now, acts);
}

int pias_iap_tick(struct pias_iap *i, __u64 now, pias_iap_rap_of_fn rap_of, void *ctx,
		  struct pias_iap_actions *acts, struct pias_err *e)
{
	size_t max = i->cfg.max_pending, ndue, queries;
	__u32 h;
	int err;

	/*
	 * Room first, for all or nothing: each due entry does one thing at
	 * most (its deletion, or a query once its lost one is forgotten), and
	 * the refreshes that may go are those the free query slots allow,
	 * with the slots the lost queries free.
	 */
	ndue = pias_timers_due(&i->due, now, SIZE_MAX);
	queries = (i->npending < max ? max - i->npending : 0) + ndue;
	queries = pias_timers_due(&i->refresh, now, queries < max ? queries : max);
	err = room(acts, ndue + queries, e);
	if (err)
		return err;
	pias_iap_flushed_expire(&i->flushed, now, i->cfg.query_retry_ns);
	while (pias_timers_pop(&i->due, now, &h)) {
		i->entries[h].due_q = NEVER;
		tick_due(i, h, now, acts);
	}
	/* the earliest due first; the rest wait, queued, for free slots */
	while (i->npending < max && pias_timers_pop(&i->refresh, now, &h)) {
		i->entries[h].refresh_q = NEVER;
		tick_refresh(i, h, now, rap_of, ctx, acts);
	}
	return 0;
}

/* ---- restart, flush ------------------------------------------------------------ */

int pias_iap_restore(struct pias_iap *i, const struct pias_ta *ta, const struct pias_binding *b,
		     const struct pias_group *set, __u64 lifetime_ns, struct pias_err *e)
{
	bool positive = !(b->flags & PIAS_BINDING_F_NEGATIVE);
	bool with_set = b->flags & PIAS_BINDING_F_SET;
	struct pias_group *mem = NULL;
	struct pias_iap_entry *en;
	int err = pias_registry_ta_check(ta, "iap", e);
	__u32 h;

	if (!err && (b->flags & ~(PIAS_BINDING_F_NEGATIVE | PIAS_BINDING_F_SET)))
		err = pias_err_set(e, -EINVAL, "iap: binding flags %#x are not restorable",
				   b->flags);
	if (!err && with_set && (!set || !set->count))
		err = pias_err_set(e, -EINVAL, "iap: a binding to a set, without its set");
	if (!err && !lifetime_ns)
		err = pias_err_set(e, -EINVAL, "iap: lifetime 0");
	if (!err && positive)
		err = check_japs(b->jap_id, with_set ? set : NULL, e);
	if (!err && entry_find(i, ta) >= 0)
		err = pias_err_set(e, -EEXIST, "iap: TA restored twice");
	if (!err)
		err = entry_reserve(i, e);
	if (!err && positive)
		err = links_reserve(i, b->jap_id, with_set ? set : NULL, e);
	if (!err && with_set)
		err = set_reserve(i, -1, &mem, e);
	if (err)
		return err;
	h = entry_new(i, ta);
	en = &i->entries[h];
	en->bound = true;
	en->b = *b;
	en->lifetime_ns = lifetime_ns;
	set_put(en, with_set ? set : NULL, mem);
	links_set(i, h);
	schedule(i, h);
	return 0;
}

struct flushed_query {
	struct pias_ta ta;
	__u32 rap_id;
	__u64 sent_ns;
};

static int sent_order(const void *a, const void *b)
{
	__u64 x = ((const struct flushed_query *)a)->sent_ns;
	__u64 y = ((const struct flushed_query *)b)->sent_ns;

	return x < y ? -1 : x > y;
}

int pias_iap_flush(struct pias_iap *i, struct pias_iap_actions *acts, struct pias_err *e)
{
	struct flushed_query *q = NULL;
	size_t need = 0, nq = 0;
	int err;

	pias_iap_each(i, en)
	{
		need += en->bound;
	}
	err = room(acts, need, e);
	if (!err && i->npending) {
		/* the records go in the order the queries went (iap_flushed.h) */
		q = malloc(i->npending * sizeof(*q));
		if (!q)
			return pias_err_set(e, -ENOMEM, "iap: no memory for %u flushed queries",
					    i->npending);
		err = pias_iap_flushed_reserve(&i->flushed, i->npending, e);
	}
	if (err) {
		free(q);
		return err;
	}
	pias_iap_each(i, en)
	{
		if (en->bound)
			push(acts, PIAS_IAP_BINDING_DEL, 0, &en->ta, NULL, NULL);
		if (en->pending)
			q[nq++] = (struct flushed_query){ .ta = en->ta,
							  .rap_id = en->rap_id,
							  .sent_ns = en->sent_ns };
	}
	if (nq)
		qsort(q, nq, sizeof(*q), sent_order);
	for (size_t k = 0; k < nq; k++)
		pias_iap_flushed_add(&i->flushed, &q[k].ta, q[k].rap_id, q[k].sent_ns);
	free(q);
	containers_free(i); /* an empty cache, its memory back */
	i->npending = 0;
	return 0;
}

/* ---- the JAP's invalidation limiter ------------------------------------------------ */

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

		if (s->used && s->iap_id == iap_id && pias_ta_eq(&s->ta, ta)) {
			if (pias_age(now, s->last_ns) < l->interval_ns)
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
		if (pias_age(now, set[w].last_ns) >= l->interval_ns)
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
