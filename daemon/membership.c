// SPDX-License-Identifier: MIT
/*
 * SWIM membership; see membership.h for the protocol and its guarantees.
 *
 * Every input validates, then reserves whatever memory it might need
 * (member slots, id index pages, probe list, timer heap) and checks the
 * room for its actions, and only then changes anything: growing an array
 * is invisible, so nothing is half-applied when a later step cannot fail.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "membership.h"

#define NIL	    0xffffffffu
#define PAGE_OF(id) ((id) / PIAS_MEMBERS_PAGE_IDS)
#define IN_PAGE(id) ((id) % PIAS_MEMBERS_PAGE_IDS)

enum {
	CLASS_NONE = 0,
	CLASS_STATE = 1,
	CLASS_COORD = 2
};
enum {
	TIMER_SUSPECT = 1,
	TIMER_GC = 2
};

/* ---- randomness ---- */

static __u32 rnd(struct pias_members *m)
{
	__u64 x;

	if (m->cfg.rand)
		return m->cfg.rand(m->cfg.rand_ctx);
	/* xorshift64*: small, fast, good enough to shuffle and pick helpers */
	x = m->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	m->rng = x;
	return (__u32)((x * 0x2545f4914f6cdd1dull) >> 32);
}

static __u32 rnd_below(struct pias_members *m, __u32 n)
{
	return (__u32)(((__u64)rnd(m) * n) >> 32);
}

/* ---- members and the id index ---- */

static __u32 slot_of(const struct pias_members *m, __u32 id)
{
	const __u32 *p;

	if (!id || id >= PIAS_MAX_PROXIES)
		return NIL;
	p = m->pages[PAGE_OF(id)];
	if (!p || !p[IN_PAGE(id)])
		return NIL;
	return p[IN_PAGE(id)] - 1;
}

static struct pias_member *member(const struct pias_members *m, __u32 id)
{
	__u32 s = slot_of(m, id);

	return s == NIL ? NULL : &m->mem[s];
}

static bool is_up(__u8 state)
{
	return state == PIAS_MEMBER_ALIVE || state == PIAS_MEMBER_SUSPECT;
}

static bool is_gone(__u8 state)
{
	return state == PIAS_MEMBER_DEAD || state == PIAS_MEMBER_LEFT;
}

static __u32 n_up(const struct pias_members *m)
{
	return m->count[PIAS_MEMBER_ALIVE] + m->count[PIAS_MEMBER_SUSPECT];
}

/* Members that may be probed: up, not ourselves. */
static __u32 n_probeable(const struct pias_members *m)
{
	__u32 n = n_up(m);

	return is_up(m->mem[m->self_slot].state) ? n - 1 : n;
}

/* A slot for id (capacity reserved, id unknown); state 0 until filled. */
static struct pias_member *member_new(struct pias_members *m, __u32 id)
{
	__u32 s;

	if (m->free_head != NIL) {
		s = m->free_head;
		m->free_head = m->mem[s].q_next;
		m->nfree--;
	} else {
		s = m->nslots++;
	}
	m->mem[s] = (struct pias_member){ .id = id, .q_prev = NIL, .q_next = NIL };
	/* until it tells us: a coordinate that says it knows nothing (error 1.5) */
	pias_coord_init(&m->mem[s].coord);
	m->pages[PAGE_OF(id)][IN_PAGE(id)] = s + 1;
	m->page_n[PAGE_OF(id)]++;
	return &m->mem[s];
}

static void dead_add(struct pias_members *m, struct pias_member *mb)
{
	mb->dead_pos = m->ndead;
	m->dead[m->ndead++] = (__u32)(mb - m->mem);
}

static void dead_remove(struct pias_members *m, struct pias_member *mb)
{
	__u32 last = m->dead[--m->ndead];

	m->dead[mb->dead_pos] = last;
	m->mem[last].dead_pos = mb->dead_pos;
}

/* The dead list has room for every slot (reserve() keeps it so). */
static void set_state(struct pias_members *m, struct pias_member *mb, __u8 state)
{
	if (mb->state == PIAS_MEMBER_DEAD && state != PIAS_MEMBER_DEAD)
		dead_remove(m, mb);
	else if (mb->state != PIAS_MEMBER_DEAD && state == PIAS_MEMBER_DEAD)
		dead_add(m, mb);
	if (mb->state)
		m->count[mb->state]--;
	mb->state = state;
	m->count[state]++;
}

static struct pias_msg_member record_of(const struct pias_member *mb)
{
	return (struct pias_msg_member){
		.id = mb->id,
		.incarnation = mb->incarnation,
		.state = mb->state,
		.family = mb->family,
		.port = mb->port,
		.addr = mb->addr,
		.coord = mb->coord,
	};
}

static struct pias_peer peer_of(const struct pias_member *mb)
{
	return (struct pias_peer){ .addr = mb->addr, .family = mb->family, .port = mb->port };
}

static bool peer_eq(const struct pias_peer *a, const struct pias_peer *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(&a->addr, &b->addr, a->family == PIAS_AF_INET ? 4 : 16);
}

static bool family_ok(__u8 f)
{
	return f == PIAS_AF_INET || f == PIAS_AF_INET6;
}

/* ---- derived parameters ---- */

__u32 pias_members_retransmit_limit(const struct pias_members *m)
{
	__u32 n = n_up(m) ? n_up(m) : 1;

	/* ceil(log2(n + 1)) is the bit length of n */
	return m->cfg.retransmit_mult * (32 - (__u32)__builtin_clz(n));
}

__u64 pias_members_suspect_timeout_ns(const struct pias_members *m)
{
	double l = log10((double)(n_up(m) ? n_up(m) : 1));

	if (m->cfg.suspect_timeout_ns)
		return m->cfg.suspect_timeout_ns;
	return (__u64)((double)m->cfg.suspect_mult * (l > 1.0 ? l : 1.0) *
		       (double)m->cfg.probe_interval_ns);
}

__u64 pias_members_detect_bound_ns(const struct pias_members *m)
{
	__u64 n = n_up(m) > 1 ? n_up(m) : 2;

	return (2 * (n - 1) + 1) * m->cfg.probe_interval_ns + pias_members_suspect_timeout_ns(m);
}

/* ---- timers: a binary min-heap on `at`, validated when they fire ---- */

static void timer_push(struct pias_members *m, __u64 at, __u32 id, __u32 kind)
{
	size_t i = m->ntimers++;

	while (i) {
		size_t p = (i - 1) / 2;

		if (m->timers[p].at <= at)
			break;
		m->timers[i] = m->timers[p];
		i = p;
	}
	m->timers[i] = (struct pias_members_timer){ .at = at, .id = id, .kind = kind };
}

static struct pias_members_timer timer_pop(struct pias_members *m)
{
	struct pias_members_timer top = m->timers[0], last = m->timers[--m->ntimers];
	size_t i = 0, n = m->ntimers;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && m->timers[c + 1].at < m->timers[c].at)
			c++;
		if (last.at <= m->timers[c].at)
			break;
		m->timers[i] = m->timers[c];
		i = c;
	}
	if (n)
		m->timers[i] = last;
	return top;
}

/* ---- dissemination queue ---- */

static struct pias_members_qlist *qlist(struct pias_members *m, const struct pias_member *mb)
{
	__u32 b = mb->q_sent < PIAS_MEMBERS_QBUCKETS ? mb->q_sent : PIAS_MEMBERS_QBUCKETS - 1;

	return &m->q[mb->q_class - 1][b];
}

static void q_link(struct pias_members *m, struct pias_member *mb)
{
	struct pias_members_qlist *l = qlist(m, mb);
	__u32 s = (__u32)(mb - m->mem);

	mb->q_prev = NIL;
	mb->q_next = l->head;
	if (l->head != NIL)
		m->mem[l->head].q_prev = s;
	else
		l->tail = s;
	l->head = s;
}

static void q_unlink(struct pias_members *m, struct pias_member *mb)
{
	struct pias_members_qlist *l = qlist(m, mb);

	if (mb->q_prev != NIL)
		m->mem[mb->q_prev].q_next = mb->q_next;
	else
		l->head = mb->q_next;
	if (mb->q_next != NIL)
		m->mem[mb->q_next].q_prev = mb->q_prev;
	else
		l->tail = mb->q_prev;
	mb->q_prev = mb->q_next = NIL;
}

static void q_remove(struct pias_members *m, struct pias_member *mb)
{
	if (!mb->q_class)
		return;
	q_unlink(m, mb);
	mb->q_class = CLASS_NONE;
	m->q_n--;
}

/* Make room: drop the most sent coordinate refresh, else the most sent state change. */
static void q_evict(struct pias_members *m)
{
	for (int c = 1; c >= 0; c--)
		for (int b = PIAS_MEMBERS_QBUCKETS - 1; b >= 0; b--)
			if (m->q[c][b].tail != NIL) {
				q_remove(m, &m->mem[m->q[c][b].tail]);
				return;
			}
}

/* Queue mb's current record as news (replacing what was queued for it). */
static void q_push(struct pias_members *m, struct pias_member *mb, __u8 cls)
{
	/* a state change queued and not yet spread stays one when refreshed */
	if (mb->q_class == CLASS_STATE && mb->q_sent < pias_members_retransmit_limit(m))
		cls = CLASS_STATE;
	q_remove(m, mb);
	if (m->q_n >= m->cfg.queue_max)
		q_evict(m);
	mb->q_class = cls;
	mb->q_sent = 0;
	q_link(m, mb);
	m->q_n++;
}

/* Records a message carries before the queue's: ours, the recipient's. */
struct firsts {
	struct pias_msg_member r[2];
	__u32 n;
};

static bool in_firsts(const struct firsts *f, __u32 id)
{
	for (__u32 i = 0; i < f->n; i++)
		if (f->r[i].id == id)
			return true;
	return false;
}

/*
 * Fill p->updates: the firsts, then queued records least-sent and newest
 * first, state changes before coordinate refreshes; count each as sent.
 */
static void q_fill(struct pias_members *m, struct pias_msg_probe *p, const struct firsts *first)
{
	__u32 picked[PIAS_MSG_MAX_UPDATES], np = 0, n = 0;
	__u32 limit = pias_members_retransmit_limit(m);

	for (__u32 i = 0; i < first->n; i++)
		p->updates[n++] = first->r[i];
	for (int c = 0; c < 2 && n < PIAS_MSG_MAX_UPDATES; c++)
		for (int b = 0; b < PIAS_MEMBERS_QBUCKETS && n < PIAS_MSG_MAX_UPDATES; b++) {
			__u32 s = m->q[c][b].head;

			while (s != NIL && n < PIAS_MSG_MAX_UPDATES) {
				struct pias_member *mb = &m->mem[s];

				s = mb->q_next;
				if (mb->q_sent >= limit) {
					q_remove(m, mb); /* n shrank: spread enough */
					continue;
				}
				picked[np++] = (__u32)(mb - m->mem);
				if (in_firsts(first, mb->id))
					continue; /* it goes as a first: sent all the same */
				p->updates[n++] = record_of(mb);
			}
		}
	p->n_updates = n;
	/* moved only now, so that no record goes twice into one message */
	for (__u32 i = 0; i < np; i++) {
		struct pias_member *mb = &m->mem[picked[i]];

		q_unlink(m, mb);
		if (++mb->q_sent >= limit) {
			mb->q_class = CLASS_NONE;
			m->q_n--;
		} else {
			q_link(m, mb);
		}
	}
}

/* ---- probe order ---- */

static void probe_add(struct pias_members *m, __u32 id)
{
	__u32 j, t;

	/* somewhere in what is left of this round, as SWIM inserts new members */
	m->probe[m->probe_n++] = id;
	j = m->probe_pos + rnd_below(m, m->probe_n - m->probe_pos);
	t = m->probe[j];
	m->probe[j] = m->probe[m->probe_n - 1];
	m->probe[m->probe_n - 1] = t;
}

static void probe_rebuild(struct pias_members *m)
{
	m->probe_n = 0;
	m->probe_pos = 0;
	for (__u32 s = 0; s < m->nslots; s++)
		if (is_up(m->mem[s].state) && s != m->self_slot)
			m->probe[m->probe_n++] = m->mem[s].id;
	for (__u32 i = m->probe_n; i > 1; i--) {
		__u32 j = rnd_below(m, i), t = m->probe[j];

		m->probe[j] = m->probe[i - 1];
		m->probe[i - 1] = t;
	}
}

/* The next member to probe (0: nobody); a new shuffled round when one ends. */
static __u32 probe_next(struct pias_members *m)
{
	for (int pass = 0; pass < 2; pass++) {
		while (m->probe_pos < m->probe_n) {
			const struct pias_member *mb = member(m, m->probe[m->probe_pos++]);

			if (mb && is_up(mb->state) && mb->id != m->self_id)
				return mb->id;
		}
		if (pass || !n_probeable(m))
			break;
		probe_rebuild(m);
	}
	return 0;
}

/* ---- reservation: everything a call may allocate, before it changes anything ---- */

static int grow(void **p, size_t *cap, size_t need, size_t size, struct pias_err *e)
{
	size_t c = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	q = realloc(*p, c * size);
	if (!q)
		return pias_err_set(e, -ENOMEM, "membership: no memory for %zu entries", c);
	*p = q;
	*cap = c;
	return 0;
}

/*
 * Room for the members of recs[k] (their index pages, k more slots, probe
 * list and dead list entries) and for k + 1 more timers.
 */
static int reserve(struct pias_members *m, const struct pias_msg_member *recs, __u32 k,
		   struct pias_err *e)
{
	size_t cap = m->cap, pcap = m->probe_cap;
	size_t need = (size_t)m->nslots + k;
	int err;

	for (__u32 i = 0; i < k; i++) {
		__u32 pg = PAGE_OF(recs[i].id);

		if (m->pages[pg])
			continue;
		m->pages[pg] = calloc(PIAS_MEMBERS_PAGE_IDS, sizeof(__u32));
		if (!m->pages[pg])
			return pias_err_set(e, -ENOMEM, "membership: no memory for the id index");
	}
	err = grow((void **)&m->mem, &cap, need, sizeof(*m->mem), e);
	m->cap = (__u32)cap;
	if (!err) {
		/* every slot may be DEAD at once */
		err = grow((void **)&m->dead, &m->dead_cap, m->cap, sizeof(*m->dead), e);
	}
	if (!err) {
		/* a round holds every member once, plus those re-added since it began */
		need = (m->probe_n > m->nslots ? m->probe_n : m->nslots) + (size_t)k;
		err = grow((void **)&m->probe, &pcap, need, sizeof(*m->probe), e);
		m->probe_cap = (__u32)pcap;
	}
	if (!err)
		err = grow((void **)&m->timers, &m->timers_cap, m->ntimers + k + 1,
			   sizeof(*m->timers), e);
	return err;
}

static int room(const struct pias_members_actions *acts, size_t nacts, size_t nmsgs,
		struct pias_err *e)
{
	if (nacts > acts->cap - acts->n || nmsgs > acts->msgs_cap - acts->msgs_n)
		return pias_err_set(
			e, -ENOBUFS,
			"membership: need %zu actions and %zu messages, room for %zu and %zu",
			nacts, nmsgs, acts->cap - acts->n, acts->msgs_cap - acts->msgs_n);
	return 0;
}

/* ---- actions and messages ---- */

static void act_push(struct pias_members_actions *acts, enum pias_members_action_kind kind,
		     __u32 id, const struct pias_peer *peer, struct pias_msg *msg)
{
	struct pias_members_action *a = &acts->a[acts->n++];

	*a = (struct pias_members_action){ .kind = kind, .id = id, .msg = msg };
	if (peer)
		a->peer = *peer;
}

static struct pias_msg *msg_new(struct pias_members *m, struct pias_members_actions *acts,
				__u8 type)
{
	struct pias_msg *msg = &acts->msgs[acts->msgs_n++];

	/* only the header: the body is filled per type, never all 11 KB */
	msg->hdr = (struct pias_msg_hdr){ .version = PIAS_MSG_VERSION,
					  .type = type,
					  .sender_id = m->self_id };
	return msg;
}

static void send_probe(struct pias_members *m, struct pias_members_actions *acts, __u8 type,
		       __u32 to_id, const struct pias_peer *to, __u32 seq, __u32 target,
		       __u32 origin, const struct firsts *first)
{
	struct pias_msg *msg = msg_new(m, acts, type);
	struct pias_msg_probe *p = &msg->probe;

	p->probe_seq = seq;
	p->target_id = target;
	p->origin_id = origin;
	p->coord = m->mem[m->self_slot].coord;
	q_fill(m, p, first);
	act_push(acts, PIAS_MEMBERS_SEND, to_id, to, msg);
}

/*
 * What goes first into a message to `to`: our own record in every PING
 * (with_self), and to's record if we doubt it, so that it refutes at once.
 *
 * Our own record in every PING is the anti-entropy of this protocol: a
 * rumor is spread a bounded number of times and can die out before it
 * reaches everybody (easily so while the cluster is young and the limit
 * small), but every member PINGs every member it knows once per round, so
 * within a round each pair where one side knows the other knows both. It
 * costs 44 bytes per PING (docs/membership.md).
 */
static const struct firsts *firsts_for(struct pias_members *m, bool with_self,
				       const struct pias_member *to, struct firsts *f)
{
	f->n = 0;
	if (with_self)
		f->r[f->n++] = record_of(&m->mem[m->self_slot]);
	if (to && to->state != PIAS_MEMBER_ALIVE && to->id != m->self_id)
		f->r[f->n++] = record_of(to);
	return f;
}

/* ---- applying what we hear ---- */

static int state_rank(__u8 state)
{
	return state; /* ALIVE 1 < SUSPECT 2 < DEAD 3 < LEFT 4 */
}

static bool overrides(const struct pias_msg_member *r, const struct pias_member *mb)
{
	if (r->incarnation != mb->incarnation)
		return r->incarnation > mb->incarnation;
	return state_rank(r->state) > state_rank(mb->state);
}

/* Bookkeeping after mb went from old_state to its state (timers, probe order, actions). */
static void changed(struct pias_members *m, struct pias_member *mb, __u8 old_state, bool moved,
		    __u64 now, struct pias_members_actions *acts)
{
	mb->changed_ns = now;
	/*
	 * A suspicion already running keeps its deadline, also when heard again
	 * at a higher incarnation (as memberlist does): restarting it would
	 * only delay the verdict.
	 */
	if (mb->state == PIAS_MEMBER_SUSPECT && old_state != PIAS_MEMBER_SUSPECT) {
		mb->suspect_deadline_ns = now + pias_members_suspect_timeout_ns(m);
		timer_push(m, mb->suspect_deadline_ns, mb->id, TIMER_SUSPECT);
	}
	if (is_gone(mb->state))
		timer_push(m, now + m->cfg.gc_ns, mb->id, TIMER_GC);
	if (is_up(mb->state) && !is_up(old_state))
		probe_add(m, mb->id);
	if (is_up(mb->state) && (!mb->up || moved)) {
		struct pias_peer p = peer_of(mb);

		mb->up = true;
		act_push(acts, PIAS_MEMBERS_PROXY_UP, mb->id, &p, NULL);
	} else if (!is_up(mb->state) && mb->up) {
		mb->up = false;
		act_push(acts, PIAS_MEMBERS_PROXY_DOWN, mb->id, NULL, NULL);
	}
}

/* Somebody says r about us: unless it is stale or what we say, contradict it. */
static void about_self(struct pias_members *m, const struct pias_msg_member *r, __u64 now)
{
	struct pias_member *self = &m->mem[m->self_slot];

	if (r->incarnation < self->incarnation)
		return;
	if (r->incarnation == self->incarnation && state_rank(r->state) <= state_rank(self->state))
		return;
	/* seconds-based, 2^32 - 1 is not reached before 2106; saturate if told it */
	self->incarnation = r->incarnation == ~0u ? ~0u : r->incarnation + 1;
	self->changed_ns = now;
	q_push(m, self, CLASS_STATE);
}

static void apply(struct pias_members *m, const struct pias_msg_member *r, bool gossip, __u64 now,
		  struct pias_members_actions *acts)
{
	struct pias_member *mb;
	bool moved = false;
	__u8 old = 0, cls = CLASS_STATE;

	if (r->id == m->self_id) {
		about_self(m, r, now);
		return;
	}
	mb = member(m, r->id);
	if (!mb) {
		mb = member_new(m, r->id);
	} else {
		if (!overrides(r, mb))
			return;
		old = mb->state;
		moved = mb->family != r->family || mb->port != r->port ||
			memcmp(&mb->addr, &r->addr, sizeof(r->addr));
		if (old == PIAS_MEMBER_ALIVE && r->state == PIAS_MEMBER_ALIVE && !moved)
			cls = CLASS_COORD; /* a re-announcement: only the coordinate is news */
	}
	mb->incarnation = r->incarnation;
	mb->family = r->family;
	mb->port = r->port;
	mb->addr = r->addr;
	if (pias_coord_valid(&r->coord)) {
		mb->coord = r->coord;
		mb->coord_known = true;
	}
	set_state(m, mb, r->state);
	changed(m, mb, old, moved, now, acts);
	if (gossip)
		q_push(m, mb, cls);
}

/* Our member becomes SUSPECT at its current incarnation (SWIM's suspect message). */
static void suspect(struct pias_members *m, __u32 id, __u64 now, struct pias_members_actions *acts)
{
	struct pias_member *mb = member(m, id);

	if (!mb || mb->state != PIAS_MEMBER_ALIVE)
		return;
	set_state(m, mb, PIAS_MEMBER_SUSPECT);
	changed(m, mb, PIAS_MEMBER_ALIVE, false, now, acts);
	q_push(m, mb, CLASS_STATE);
}

static void record_coord(struct pias_members *m, __u32 id, const struct pias_coord *c)
{
	struct pias_member *mb = member(m, id);

	if (mb && id != m->self_id && pias_coord_valid(c)) {
		mb->coord = *c;
		mb->coord_known = true;
	}
}

/* ---- init, seeds, lookups ---- */

static int config_check(struct pias_members_config *c, struct pias_err *e)
{
	if (!c->probe_interval_ns)
		c->probe_interval_ns = PIAS_MEMBERS_PROBE_INTERVAL_NS;
	if (!c->probe_timeout_ns)
		c->probe_timeout_ns = c->probe_interval_ns / 2;
	if (!c->suspect_mult)
		c->suspect_mult = PIAS_MEMBERS_SUSPECT_MULT;
	if (!c->indirect_k)
		c->indirect_k = PIAS_MEMBERS_INDIRECT_K;
	if (!c->retransmit_mult)
		c->retransmit_mult = PIAS_MEMBERS_RETRANSMIT_MULT;
	if (!c->queue_max)
		c->queue_max = PIAS_MEMBERS_QUEUE_MAX;
	if (!c->coord_interval_ns)
		c->coord_interval_ns = PIAS_MEMBERS_COORD_INTERVAL_NS;
	if (c->coord_threshold_us == 0.0f)
		c->coord_threshold_us = PIAS_MEMBERS_COORD_THRESHOLD_US;
	if (!c->view_retry_ns)
		c->view_retry_ns = c->probe_interval_ns;
	if (!c->gc_ns)
		c->gc_ns = PIAS_MEMBERS_GC_NS;
	if (!c->reconnect_ns)
		c->reconnect_ns = PIAS_MEMBERS_RECONNECT_NS;
	if (c->probe_timeout_ns >= c->probe_interval_ns)
		return pias_err_set(
			e, -EINVAL,
			"membership: probe timeout must be shorter than the probe interval");
	if (c->indirect_k > PIAS_MEMBERS_MAX_K)
		return pias_err_set(e, -EINVAL, "membership: indirect_k %u is over %d",
				    c->indirect_k, PIAS_MEMBERS_MAX_K);
	if (c->retransmit_mult > PIAS_MEMBERS_MAX_MULT)
		return pias_err_set(e, -EINVAL, "membership: retransmit_mult %u is over %d",
				    c->retransmit_mult, PIAS_MEMBERS_MAX_MULT);
	if (!(c->coord_threshold_us > 0.0f))
		return pias_err_set(e, -EINVAL, "membership: coord_threshold_us must be positive");
	return 0;
}

int pias_members_init(struct pias_members *m, const struct pias_members_config *cfg, __u32 id,
		      const struct pias_peer *self, __u32 incarnation,
		      const struct pias_coord *coord, __u64 now, struct pias_err *e)
{
	struct pias_members_config c = cfg ? *cfg : (struct pias_members_config){ 0 };
	struct pias_msg_member rec = { .id = id };
	struct pias_member *mb;
	int err;

	memset(m, 0, sizeof(*m));
	m->free_head = NIL;
	for (int k = 0; k < 2; k++)
		for (int b = 0; b < PIAS_MEMBERS_QBUCKETS; b++)
			m->q[k][b] = (struct pias_members_qlist){ NIL, NIL };
	err = config_check(&c, e);
	if (err)
		return err;
	if (!id || id >= PIAS_MAX_PROXIES)
		return pias_err_set(e, -EINVAL, "membership: proxy id %u is out of range 1-%d", id,
				    PIAS_MAX_PROXIES - 1);
	if (!self || !family_ok(self->family))
		return pias_err_set(e, -EINVAL, "membership: own address family must be 4 or 6");
	if (coord && !pias_coord_valid(coord))
		return pias_err_set(e, -EINVAL, "membership: own coordinate is not valid");
	m->cfg = c;
	m->self_id = id;
	m->rng = (c.seed ^ 0x9e3779b97f4a7c15ull) | 1;
	err = reserve(m, &rec, 1, e);
	if (err) {
		pias_members_free(m);
		return err;
	}
	mb = member_new(m, id);
	m->self_slot = (__u32)(mb - m->mem);
	mb->incarnation = incarnation;
	mb->family = self->family;
	mb->port = self->port;
	mb->addr = self->addr;
	if (coord)
		mb->coord = *coord;
	else
		pias_coord_init(&mb->coord);
	mb->coord_known = true;
	mb->changed_ns = now;
	set_state(m, mb, PIAS_MEMBER_ALIVE);
	q_push(m, mb, CLASS_STATE); /* tell whoever we talk to first */
	m->announced_coord = mb->coord;
	m->coord_next_ns = now + c.coord_interval_ns;
	m->reconnect_at = now + c.reconnect_ns;
	m->next_probe_ns = now + rnd_below(m, (__u32)(c.probe_interval_ns / 1000)) * 1000ull;
	m->seq = rnd(m);
	return 0;
}

void pias_members_free(struct pias_members *m)
{
	for (int p = 0; p < PIAS_MEMBERS_PAGES; p++)
		free(m->pages[p]);
	free(m->mem);
	free(m->probe);
	free(m->timers);
	free(m->dead);
	memset(m, 0, sizeof(*m));
}

int pias_members_add_seed(struct pias_members *m, const struct pias_peer *seed, struct pias_err *e)
{
	struct pias_peer own = peer_of(&m->mem[m->self_slot]);

	if (!seed || !family_ok(seed->family))
		return pias_err_set(e, -EINVAL, "membership: seed address family must be 4 or 6");
	if (peer_eq(seed, &own))
		return 0;
	for (__u32 i = 0; i < m->nseeds; i++)
		if (peer_eq(seed, &m->seeds[i]))
			return 0;
	if (m->nseeds >= PIAS_MEMBERS_MAX_SEEDS)
		return pias_err_set(e, -ENOSPC, "membership: %d seeds already",
				    PIAS_MEMBERS_MAX_SEEDS);
	m->seeds[m->nseeds++] = *seed;
	return 0;
}

const struct pias_member *pias_members_get(const struct pias_members *m, __u32 id)
{
	return member(m, id);
}

const struct pias_member *pias_members_next(const struct pias_members *m, __u32 after_id)
{
	for (__u32 id = after_id + 1; id < PIAS_MAX_PROXIES;) {
		const __u32 *p = m->pages[PAGE_OF(id)];

		if (!p || !m->page_n[PAGE_OF(id)]) {
			id = (PAGE_OF(id) + 1) * PIAS_MEMBERS_PAGE_IDS;
			continue;
		}
		if (p[IN_PAGE(id)])
			return &m->mem[p[IN_PAGE(id)] - 1];
		id++;
	}
	return NULL;
}

__u32 pias_members_count(const struct pias_members *m)
{
	return m->nslots - m->nfree;
}

__u32 pias_members_count_state(const struct pias_members *m, enum pias_member_state state)
{
	return state >= PIAS_MEMBER_ALIVE && state <= PIAS_MEMBER_LEFT ? m->count[state] : 0;
}

__u32 pias_members_alive(const struct pias_members *m)
{
	return n_up(m);
}

__u64 pias_members_rtt_ns(const struct pias_members *m, __u32 a, __u32 b)
{
	const struct pias_member *x = member(m, a), *y = member(m, b);

	if (!x || !y || !x->coord_known || !y->coord_known)
		return 0;
	return (__u64)(pias_coord_distance_us(&x->coord, &y->coord) * 1000.0f + 0.5f);
}

bool pias_members_joined(const struct pias_members *m)
{
	return !m->nseeds || (m->view_done && m->announced);
}

bool pias_members_leave_done(const struct pias_members *m)
{
	return m->left && (!m->mem[m->self_slot].q_class || !n_probeable(m));
}

/* ---- receiving ---- */

static int check_record(const struct pias_msg_member *r, __u32 i, struct pias_err *e)
{
	if (!r->id || r->id >= PIAS_MAX_PROXIES)
		return pias_err_set(e, -EINVAL, "membership: record %u: id %u out of range", i,
				    r->id);
	if (r->state < PIAS_MEMBER_ALIVE || r->state > PIAS_MEMBER_LEFT)
		return pias_err_set(e, -EINVAL, "membership: record %u (id %u): bad state %u", i,
				    r->id, r->state);
	if (!family_ok(r->family))
		return pias_err_set(e, -EINVAL, "membership: record %u (id %u): bad family %u", i,
				    r->id, r->family);
	return 0;
}

static void on_ping(struct pias_members *m, const struct pias_msg *msg,
		    const struct pias_peer *from, struct pias_members_actions *acts)
{
	const struct pias_msg_probe *p = &msg->probe;
	struct firsts f;

	if (p->target_id != m->self_id)
		return; /* meant for a proxy that was here before us */
	send_probe(m, acts, PIAS_MSG_ACK, msg->hdr.sender_id, from, p->probe_seq, m->self_id,
		   p->origin_id, firsts_for(m, false, member(m, msg->hdr.sender_id), &f));
}

static void on_ack(struct pias_members *m, const struct pias_msg *msg, __u64 now,
		   struct pias_members_actions *acts)
{
	const struct pias_msg_probe *p = &msg->probe;
	struct pias_members_relay *r;
	const struct pias_member *o;

	if (p->origin_id && p->origin_id != m->self_id) {
		/* an ACK for somebody's indirect probe: relay it once, if we were asked */
		for (int i = 0; i < PIAS_MEMBERS_RELAYS; i++) {
			struct pias_peer to;
			struct firsts none = { .n = 0 };

			r = &m->relays[i];
			if (r->origin != p->origin_id || r->seq != p->probe_seq ||
			    r->target != p->target_id || now > r->until)
				continue;
			r->origin = 0;
			o = member(m, p->origin_id);
			if (!o)
				return;
			to = peer_of(o);
			send_probe(m, acts, PIAS_MSG_ACK, o->id, &to, p->probe_seq, p->target_id,
				   p->origin_id, &none);
			return;
		}
		return;
	}
	if (m->probe_target && !m->probe_acked && p->probe_seq == m->probe_seq &&
	    p->target_id == m->probe_target) {
		m->probe_acked = true;
		/* only a direct answer times our own PING */
		if (!p->origin_id && msg->hdr.sender_id == m->probe_target &&
		    now > m->probe_sent_ns)
			pias_coord_update(&m->mem[m->self_slot].coord, &p->coord,
					  (float)(now - m->probe_sent_ns) / 1000.0f);
		return;
	}
	if (!p->origin_id && m->nseeds && p->probe_seq == m->seed_seq)
		m->announced = true;
}

static void on_ping_req(struct pias_members *m, const struct pias_msg *msg, __u64 now,
			struct pias_members_actions *acts)
{
	const struct pias_msg_probe *p = &msg->probe;
	const struct pias_member *t = member(m, p->target_id);
	struct pias_members_relay *r;
	struct pias_peer to;
	struct firsts f;

	if (!t || t->id == m->self_id)
		return;
	r = &m->relays[m->relay_next++ % PIAS_MEMBERS_RELAYS];
	*r = (struct pias_members_relay){ .origin = msg->hdr.sender_id,
					  .seq = p->probe_seq,
					  .target = t->id,
					  .until = now + m->cfg.probe_interval_ns };
	to = peer_of(t);
	send_probe(m, acts, PIAS_MSG_PING, t->id, &to, p->probe_seq, t->id, msg->hdr.sender_id,
		   firsts_for(m, true, t, &f));
}

/* The member of rank `rank` in id order (rank < count). */
static __u32 select_rank(const struct pias_members *m, __u32 rank)
{
	for (__u32 pg = 0; pg < PIAS_MEMBERS_PAGES; pg++) {
		if (rank >= m->page_n[pg]) {
			rank -= m->page_n[pg];
			continue;
		}
		for (__u32 i = 0; i < PIAS_MEMBERS_PAGE_IDS; i++)
			if (m->pages[pg][i] && !rank--)
				return pg * PIAS_MEMBERS_PAGE_IDS + i;
	}
	return 0;
}

static void on_view_req(struct pias_members *m, const struct pias_msg *msg,
			const struct pias_peer *from, struct pias_members_actions *acts)
{
	struct pias_msg *out = msg_new(m, acts, PIAS_MSG_VIEW);
	struct pias_msg_view *v = &out->view;
	__u32 total = pias_members_count(m);
	const struct pias_member *mb = NULL;

	/* offset + n <= total on the wire: past the end is an empty page at the end */
	v->offset = msg->view_req.offset < total ? msg->view_req.offset : total;
	v->total = total;
	v->n = 0;
	if (v->offset < total)
		mb = member(m, select_rank(m, v->offset));
	for (; mb && v->n < PIAS_MSG_VIEW_PAGE; mb = pias_members_next(m, mb->id))
		v->members[v->n++] = record_of(mb);
	act_push(acts, PIAS_MEMBERS_SEND, msg->hdr.sender_id, from, out);
}

static void view_request(struct pias_members *m, __u64 now, struct pias_members_actions *acts)
{
	struct pias_msg *out = msg_new(m, acts, PIAS_MSG_VIEW_REQ);

	out->view_req.offset = m->view_next;
	act_push(acts, PIAS_MEMBERS_SEND, 0, &m->seeds[m->seed_cur], out);
	m->view_sent = true;
	m->view_retry_at = now + m->cfg.view_retry_ns;
}

static void on_view(struct pias_members *m, const struct pias_msg *msg,
		    const struct pias_peer *from, __u64 now, struct pias_members_actions *acts)
{
	const struct pias_msg_view *v = &msg->view;
	const struct pias_member *self = &m->mem[m->self_slot];

	/*
	 * Only the page we wait for, from the seed we asked: the rest is late or
	 * doubled. An empty page before it says the view shrank under us (the
	 * seed forgot dead members): the end.
	 */
	if (!m->nseeds || m->view_done || m->left || !m->view_sent ||
	    !peer_eq(from, &m->seeds[m->seed_cur]))
		return;
	if (v->offset != m->view_next && !(!v->n && v->offset < m->view_next))
		return;
	m->seed_id = msg->hdr.sender_id; /* whom to announce ourselves to */
	for (__u32 i = 0; i < v->n; i++) {
		const struct pias_msg_member *r = &v->members[i];

		if (r->id == m->self_id && r->state == PIAS_MEMBER_ALIVE &&
		    r->incarnation == self->incarnation)
			m->announced = true; /* the seed has us: no need to keep saying it */
		/* a view is state, not news: only contradictions about us are spread */
		apply(m, r, false, now, acts);
	}
	m->view_next = v->offset + v->n > m->view_next ? v->offset + v->n : m->view_next;
	m->seed_tries = 0;
	if (!v->n || m->view_next >= v->total) {
		m->view_done = true;
		return;
	}
	view_request(m, now, acts);
}

int pias_members_recv(struct pias_members *m, const struct pias_msg *msg,
		      const struct pias_peer *from, __u64 now, struct pias_members_actions *acts,
		      struct pias_err *e)
{
	const struct pias_msg_member *recs = NULL;
	__u32 nrecs = 0, sender = msg->hdr.sender_id;
	bool probe = false;
	int err;

	switch (msg->hdr.type) {
	case PIAS_MSG_PING:
	case PIAS_MSG_ACK:
	case PIAS_MSG_PING_REQ:
		probe = true;
		recs = msg->probe.updates;
		nrecs = msg->probe.n_updates;
		if (nrecs > PIAS_MSG_MAX_UPDATES)
			return pias_err_set(e, -EINVAL, "membership: %u updates, at most %d", nrecs,
					    PIAS_MSG_MAX_UPDATES);
		break;
	case PIAS_MSG_VIEW_REQ:
		break;
	case PIAS_MSG_VIEW:
		recs = msg->view.members;
		nrecs = msg->view.n;
		if (nrecs > PIAS_MSG_VIEW_PAGE)
			return pias_err_set(e, -EINVAL,
					    "membership: VIEW of %u members, at most %d", nrecs,
					    PIAS_MSG_VIEW_PAGE);
		break;
	default:
		return pias_err_set(e, -EINVAL, "membership: message type %u is not membership",
				    msg->hdr.type);
	}
	if (!sender || sender >= PIAS_MAX_PROXIES)
		return pias_err_set(e, -EINVAL, "membership: sender id %u out of range", sender);
	if (sender == m->self_id)
		return pias_err_set(e, -EINVAL, "membership: sender id %u is our own", sender);
	if (!from || !family_ok(from->family))
		return pias_err_set(e, -EINVAL, "membership: sender address family must be 4 or 6");
	for (__u32 i = 0; i < nrecs; i++) {
		err = check_record(&recs[i], i, e);
		if (err)
			return err;
	}
	err = room(acts, 1 + nrecs, 1, e);
	if (!err)
		err = reserve(m, recs, nrecs, e);
	if (err)
		return err;

	if (probe) {
		record_coord(m, sender, &msg->probe.coord);
		for (__u32 i = 0; i < nrecs; i++)
			apply(m, &recs[i], true, now, acts);
	}
	switch (msg->hdr.type) {
	case PIAS_MSG_PING:
		on_ping(m, msg, from, acts);
		break;
	case PIAS_MSG_ACK:
		on_ack(m, msg, now, acts);
		break;
	case PIAS_MSG_PING_REQ:
		on_ping_req(m, msg, now, acts);
		break;
	case PIAS_MSG_VIEW_REQ:
		on_view_req(m, msg, from, acts);
		break;
	case PIAS_MSG_VIEW:
		on_view(m, msg, from, now, acts);
		break;
	}
	return 0;
}

/* ---- timers ---- */

static void forget(struct pias_members *m, struct pias_member *mb)
{
	__u32 s = (__u32)(mb - m->mem);

	q_remove(m, mb);
	if (mb->state == PIAS_MEMBER_DEAD)
		dead_remove(m, mb);
	m->count[mb->state]--;
	m->pages[PAGE_OF(mb->id)][IN_PAGE(mb->id)] = 0;
	m->page_n[PAGE_OF(mb->id)]--;
	*mb = (struct pias_member){ .q_prev = NIL, .q_next = m->free_head };
	m->free_head = s;
	m->nfree++;
}

/* Fire due timers while an action fits; the heap has room for one push per pop. */
static void timers_run(struct pias_members *m, __u64 now, size_t spare,
		       struct pias_members_actions *acts)
{
	while (m->ntimers && m->timers[0].at <= now && acts->cap - acts->n > spare) {
		struct pias_members_timer t = timer_pop(m);
		struct pias_member *mb = member(m, t.id);

		if (!mb || mb->id == m->self_id)
			continue;
		if (t.kind == TIMER_SUSPECT && mb->state == PIAS_MEMBER_SUSPECT &&
		    mb->suspect_deadline_ns == t.at) {
			set_state(m, mb, PIAS_MEMBER_DEAD);
			changed(m, mb, PIAS_MEMBER_SUSPECT, false, now, acts);
			q_push(m, mb, CLASS_STATE);
		} else if (t.kind == TIMER_GC && is_gone(mb->state)) {
			if (mb->changed_ns + m->cfg.gc_ns <= now)
				forget(m, mb);
			else
				timer_push(m, mb->changed_ns + m->cfg.gc_ns, mb->id, TIMER_GC);
		}
	}
}

/* Up to k distinct random ALIVE members other than us and `skip`. */
static __u32 pick_helpers(struct pias_members *m, __u32 skip, __u32 *out, __u32 k)
{
	const struct pias_member *t = member(m, skip);
	__u32 avail = m->count[PIAS_MEMBER_ALIVE], got = 0;

	avail -= m->mem[m->self_slot].state == PIAS_MEMBER_ALIVE;
	avail -= t && t->state == PIAS_MEMBER_ALIVE;
	if (k > avail)
		k = avail;
	/* sampling is O(k) while most slots hold ALIVE members ... */
	for (__u32 tries = 0; got < k && tries < 32 * k; tries++) {
		const struct pias_member *mb = &m->mem[rnd_below(m, m->nslots)];
		bool dup = false;

		if (mb->state != PIAS_MEMBER_ALIVE || mb->id == m->self_id || mb->id == skip)
			continue;
		for (__u32 i = 0; i < got; i++)
			dup |= out[i] == mb->id;
		if (!dup)
			out[got++] = mb->id;
	}
	/* ... and a scan from a random point when they do not (a mostly dead view) */
	for (__u32 i = 0, s = rnd_below(m, m->nslots); got < k && i < m->nslots; i++) {
		const struct pias_member *mb = &m->mem[(s + i) % m->nslots];
		bool dup = false;

		if (mb->state != PIAS_MEMBER_ALIVE || mb->id == m->self_id || mb->id == skip)
			continue;
		for (__u32 j = 0; j < got; j++)
			dup |= out[j] == mb->id;
		if (!dup)
			out[got++] = mb->id;
	}
	return got;
}

static void probe_step(struct pias_members *m, __u64 now, struct pias_members_actions *acts)
{
	const __u64 T = m->cfg.probe_interval_ns;
	__u32 helpers[PIAS_MEMBERS_MAX_K], id;
	struct firsts f;

	if (m->probe_target && !m->probe_acked) {
		if (!m->probe_indirect && now >= m->probe_sent_ns + m->cfg.probe_timeout_ns) {
			__u32 n = pick_helpers(m, m->probe_target, helpers, m->cfg.indirect_k);

			for (__u32 i = 0; i < n; i++) {
				const struct pias_member *h = member(m, helpers[i]);
				struct pias_peer to = peer_of(h);

				send_probe(m, acts, PIAS_MSG_PING_REQ, h->id, &to, m->probe_seq,
					   m->probe_target, 0, firsts_for(m, false, NULL, &f));
			}
			m->probe_indirect = true;
		}
		if (now >= m->probe_sent_ns + T) {
			suspect(m, m->probe_target, now, acts);
			m->probe_target = 0;
		}
	}
	if (now < m->next_probe_ns)
		return;
	/*
	 * From now, not from the schedule: a late tick must not cut the next
	 * probe's interval short (its suspicion is checked at sent + T, before
	 * the probe after it starts).
	 */
	m->next_probe_ns = now + T;
	m->probe_target = 0;
	id = probe_next(m);
	if (!id)
		return;
	const struct pias_member *t = member(m, id);
	struct pias_peer to = peer_of(t);

	m->probe_target = id;
	m->probe_seq = ++m->seq;
	m->probe_sent_ns = now;
	m->probe_acked = false;
	m->probe_indirect = false;
	send_probe(m, acts, PIAS_MSG_PING, id, &to, m->probe_seq, id, 0,
		   firsts_for(m, true, t, &f));
}

static void join_step(struct pias_members *m, __u64 now, struct pias_members_actions *acts)
{
	struct firsts f;

	if (!m->nseeds || m->left)
		return;
	if (!m->view_done && now >= m->view_retry_at) {
		if (m->view_sent && ++m->seed_tries >= PIAS_MEMBERS_VIEW_TRIES) {
			/* ranks are per seed: another seed's view starts over */
			m->seed_cur = (m->seed_cur + 1) % m->nseeds;
			m->seed_tries = 0;
			m->seed_id = 0;
			m->view_next = 0;
		}
		view_request(m, now, acts);
	}
	/* a PING needs the seed's id (target_id), which its first VIEW page told */
	if (!m->announced && m->seed_id && now >= m->seed_ping_at) {
		m->seed_seq = ++m->seq;
		m->seed_ping_at = now + m->cfg.probe_interval_ns;
		send_probe(m, acts, PIAS_MSG_PING, m->seed_id, &m->seeds[m->seed_cur], m->seed_seq,
			   m->seed_id, 0, firsts_for(m, true, NULL, &f));
	}
}

/* One PING to a random DEAD member: if it is alive after all, it refutes. */
static void reconnect_step(struct pias_members *m, __u64 now, struct pias_members_actions *acts)
{
	const struct pias_member *t;
	struct pias_peer to;
	struct firsts f;

	if (now < m->reconnect_at || m->left)
		return;
	m->reconnect_at = now + m->cfg.reconnect_ns;
	if (!m->ndead)
		return;
	t = &m->mem[m->dead[rnd_below(m, m->ndead)]];
	to = peer_of(t);
	/* its own DEAD record goes first: that is what it must refute */
	send_probe(m, acts, PIAS_MSG_PING, t->id, &to, ++m->seq, t->id, 0,
		   firsts_for(m, true, t, &f));
}

static void coord_step(struct pias_members *m, __u64 now)
{
	struct pias_member *self = &m->mem[m->self_slot];

	if (now < m->coord_next_ns || m->left)
		return;
	m->coord_next_ns = now + m->cfg.coord_interval_ns;
	if (pias_coord_shift_us(&m->announced_coord, &self->coord) <= m->cfg.coord_threshold_us)
		return;
	/* peers take a record only with a higher incarnation */
	self->incarnation++;
	self->changed_ns = now;
	m->announced_coord = self->coord;
	q_push(m, self, CLASS_COORD);
}

int pias_members_tick(struct pias_members *m, __u64 now, struct pias_members_actions *acts,
		      struct pias_err *e)
{
	size_t msgs = PIAS_MEMBERS_TICK_MSGS(m->cfg.indirect_k);
	int err = room(acts, msgs + 1, msgs, e);

	if (!err)
		err = reserve(m, NULL, 0, e); /* one suspicion timer */
	if (err)
		return err;
	timers_run(m, now, msgs, acts);
	probe_step(m, now, acts);
	join_step(m, now, acts);
	reconnect_step(m, now, acts);
	coord_step(m, now);
	return 0;
}

__u64 pias_members_next_tick(const struct pias_members *m)
{
	__u64 t = m->next_probe_ns;

#define EARLIER(x)                                                                                 \
	do {                                                                                       \
		if ((x) < t)                                                                       \
			t = (x);                                                                   \
	} while (0)
	if (m->probe_target && !m->probe_acked)
		EARLIER(m->probe_indirect ? m->probe_sent_ns + m->cfg.probe_interval_ns
					  : m->probe_sent_ns + m->cfg.probe_timeout_ns);
	if (m->ntimers)
		EARLIER(m->timers[0].at);
	if (m->nseeds && !m->left) {
		if (!m->view_done)
			EARLIER(m->view_retry_at);
		if (!m->announced && m->seed_id)
			EARLIER(m->seed_ping_at);
	}
	if (!m->left)
		EARLIER(m->coord_next_ns);
	if (m->ndead && !m->left)
		EARLIER(m->reconnect_at);
#undef EARLIER
	return t;
}

int pias_members_leave(struct pias_members *m, __u64 now, struct pias_members_actions *acts,
		       struct pias_err *e)
{
	struct pias_member *self = &m->mem[m->self_slot];
	__u32 to[PIAS_MEMBERS_MAX_K], n;
	struct firsts f;
	int err;

	if (m->left)
		return 0;
	err = room(acts, m->cfg.indirect_k, m->cfg.indirect_k, e);
	if (err)
		return err;
	m->left = true;
	set_state(m, self, PIAS_MEMBER_LEFT);
	self->changed_ns = now;
	q_push(m, self, CLASS_STATE);
	/* tell a few at once: the daemon may not tick for long after this */
	n = pick_helpers(m, 0, to, m->cfg.indirect_k);
	for (__u32 i = 0; i < n; i++) {
		const struct pias_member *h = member(m, to[i]);
		struct pias_peer p = peer_of(h);

		send_probe(m, acts, PIAS_MSG_PING, h->id, &p, ++m->seq, h->id, 0,
			   firsts_for(m, true, NULL, &f));
	}
	return 0;
}

const char *pias_member_state_name(__u8 s)
{
	static const char *const names[] = { "?", "alive", "suspect", "dead", "left" };

	return s <= PIAS_MEMBER_LEFT ? names[s] : "?";
}
