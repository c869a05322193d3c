// SPDX-License-Identifier: MIT
/*
 * daemon/membership: SWIM between many instances in one process. A fake
 * clock and a simulated network deliver the SEND actions between instances
 * after a latency drawn from a synthetic 2-D space (so that Vivaldi has
 * something to learn), and may drop, duplicate or cut messages by
 * deterministic rules. Every message goes through the real codec (encode,
 * MAC, decode), so what the instances say is what the wire can carry, and
 * byte counts are those of real datagrams (plus 28 bytes of IPv4 and UDP).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "membership.h"
#include "msg.h"
#include "unit.h"

#define MS	  1000000ull
#define SEC	  (1000 * MS)
#define T0	  (1000 * SEC) /* fake time starts here */
#define STEP	  (10 * MS)    /* the simulator ticks instances at this granularity */
#define PORT	  7946

#define NACTS	  1024
#define NMSGS	  32

#define FAKE_SEED 0xfffffeu /* 10.255.255.254: a seed played by the test */

/* ---------------- the simulated network ---------------- */

struct node {
	struct pias_members m;
	struct pias_peer peer;
	bool running; /* the instance exists */
	bool cut;     /* the network drops everything to and from it */
	__u64 next_tick;
	__u8 *up;	  /* per id, from the actions: 0 never heard, 1 PROXY_UP, 2 PROXY_DOWN */
	__u32 *downs;	  /* per id: PROXY_DOWN actions */
	__u64 bytes;	  /* sent, on the wire */
	float px, py, ph; /* position in the latency space, us */
};

struct ev {
	__u64 at, order;
	__u32 to, from;
	struct pias_msg *msg;
};

struct sim;
/* 0: deliver, 1: drop, 2: deliver twice */
typedef int (*rule_fn)(struct sim *s, __u32 from, __u32 to, const struct pias_msg *msg);

struct sim {
	__u64 now, order;
	__u32 n;
	struct node *nodes; /* [n + 1], by id */
	struct ev *heap;
	size_t nh, caph;
	rule_fn rule;
	__u64 nsent, ndropped, ndup, wire_seq;
	bool no_codec; /* scale runs: wire_len() (equal, as the others check) is faster */
	__u64 bytes, upd_records, probe_msgs;
	struct pias_members_config cfg;
	/* the fake seed's view (FAKE_SEED) */
	struct pias_msg_member *truth;
	__u32 ntruth;
	/* scratch for the tests' rules */
	__u64 counter;
	__u32 a, b;
	int hits;
	struct pias_members_action abuf[NACTS];
	struct pias_msg *mbuf;
	struct pias_members_actions acts;
	struct pias_err e;
};

static union pias_addr addr_of(__u32 id)
{
	union pias_addr a = { 0 };

	a.v4 = htonl(0x0a000000u | id);
	return a;
}

static struct pias_peer peer_of_id(__u32 id)
{
	return (struct pias_peer){ .addr = addr_of(id), .family = PIAS_AF_INET, .port = PORT };
}

/* The node at peer: its id, FAKE_SEED, or 0 (nobody). */
static __u32 id_of_peer(const struct sim *s, const struct pias_peer *p)
{
	__u32 h = ntohl(p->addr.v4);

	if (p->family != PIAS_AF_INET || p->port != PORT || (h >> 24) != 10)
		return 0;
	h &= 0xffffff;
	if (h == FAKE_SEED)
		return h;
	return h >= 1 && h <= s->n ? h : 0;
}

/* Bytes on the wire (IPv4 + UDP 28, header 24, MAC 32, body; VIEW uncompressed). */
static size_t wire_len(const struct pias_msg *m)
{
	size_t body = 0;

	switch (m->hdr.type) {
	case PIAS_MSG_PING:
	case PIAS_MSG_ACK:
	case PIAS_MSG_PING_REQ:
		body = 32 + 44 * (size_t)m->probe.n_updates;
		break;
	case PIAS_MSG_VIEW_REQ:
		body = 4;
		break;
	case PIAS_MSG_VIEW:
		body = 12 + 44 * (size_t)m->view.n;
		break;
	}
	return 28 + PIAS_MSG_HDR_LEN + PIAS_MSG_MAC_LEN + body;
}

/* Bytes of the struct that carry something (never all 14 KB of a probe). */
static size_t mem_len(const struct pias_msg *m)
{
	switch (m->hdr.type) {
	case PIAS_MSG_VIEW:
		return offsetof(struct pias_msg, view.members) +
		       m->view.n * sizeof(struct pias_msg_member);
	case PIAS_MSG_VIEW_REQ:
		return offsetof(struct pias_msg, view_req) + sizeof(struct pias_msg_view_req);
	default:
		return offsetof(struct pias_msg, probe.updates) +
		       m->probe.n_updates * sizeof(struct pias_msg_member);
	}
}

static struct pias_msg *msg_dup(const struct pias_msg *m)
{
	size_t len = mem_len(m);
	struct pias_msg *c = malloc(len);

	assert_non_null(c);
	memcpy(c, m, len);
	return c;
}

static void heap_push(struct sim *s, struct ev ev)
{
	size_t i;

	if (s->nh == s->caph) {
		s->caph = s->caph ? 2 * s->caph : 1024;
		s->heap = realloc(s->heap, s->caph * sizeof(*s->heap));
		assert_non_null(s->heap);
	}
	ev.order = s->order++;
	i = s->nh++;
	while (i) {
		size_t p = (i - 1) / 2;

		if (s->heap[p].at < ev.at ||
		    (s->heap[p].at == ev.at && s->heap[p].order < ev.order))
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = ev;
}

static bool ev_less(const struct ev *a, const struct ev *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static struct ev heap_pop(struct sim *s)
{
	struct ev top = s->heap[0], last = s->heap[--s->nh];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->nh)
			break;
		if (c + 1 < s->nh && ev_less(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!ev_less(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->nh)
		s->heap[i] = last;
	return top;
}

/* One-way latency: half the RTT of the synthetic space. */
static __u64 latency_ns(const struct sim *s, __u32 a, __u32 b)
{
	const struct node *x, *y;
	float rtt;

	if (a == FAKE_SEED || b == FAKE_SEED)
		return MS;
	x = &s->nodes[a];
	y = &s->nodes[b];
	rtt = hypotf(x->px - y->px, x->py - y->py) + x->ph + y->ph;
	return (__u64)(rtt * 500.0f);
}

static void fake_seed_answer(struct sim *s, __u32 from, const struct pias_msg *m);

/* Through the codec as the daemon would send it; returns the datagram's length. */
static size_t wire_trip(struct sim *s, struct pias_msg *m, struct pias_msg *out)
{
	static const __u8 key[PIAS_KEY_LEN] = { 0x50, 0x49, 0x41, 0x53 };
	static __u8 buf[PIAS_MSG_VIEW_MAX];
	int len;

	m->hdr.key_id = 1;
	m->hdr.seq = ++s->wire_seq;
	len = pias_msg_encode(m, key, buf, sizeof(buf), &s->e);
	if (len < 0)
		fail_msg("encode %s: %d %s", pias_msg_type_name(m->hdr.type), len, s->e.msg);
	assert_true(pias_msg_mac_ok(buf, (size_t)len, key));
	if (pias_msg_decode(buf, (size_t)len, out, &s->e))
		fail_msg("decode %s: %s", pias_msg_type_name(m->hdr.type), s->e.msg);
	return (size_t)len;
}

static void net_send(struct sim *s, __u32 from, const struct pias_members_action *a)
{
	static struct pias_msg decoded;
	const struct pias_msg *m = a->msg; /* what the receiver gets */
	__u32 to = id_of_peer(s, &a->peer);
	size_t len;
	int verdict;

	assert_int_equal(a->msg->hdr.sender_id, from);
	if (s->no_codec) {
		len = wire_len(a->msg);
	} else {
		len = 28 + wire_trip(s, a->msg, &decoded);
		if (a->msg->hdr.type != PIAS_MSG_VIEW) /* VIEW is compressed: wire_len() is raw */
			assert_int_equal(len, wire_len(a->msg));
		m = &decoded;
	}
	/* a SEND to a known id goes to that proxy's address */
	if (a->id && to && to != FAKE_SEED)
		assert_int_equal(a->id, to);
	s->nsent++;
	s->bytes += len;
	s->nodes[from].bytes += len;
	if (m->hdr.type <= PIAS_MSG_PING_REQ) {
		s->probe_msgs++;
		s->upd_records += m->probe.n_updates;
	}
	if (to == FAKE_SEED) {
		fake_seed_answer(s, from, m);
		return;
	}
	if (!to || s->nodes[from].cut || s->nodes[to].cut) {
		s->ndropped++;
		return;
	}
	verdict = s->rule ? s->rule(s, from, to, m) : 0;
	if (verdict == 1) {
		s->ndropped++;
		return;
	}
	heap_push(s, (struct ev){ .at = s->now + latency_ns(s, from, to),
				  .to = to,
				  .from = from,
				  .msg = msg_dup(m) });
	if (verdict == 2) {
		s->ndup++;
		heap_push(s, (struct ev){ .at = s->now + latency_ns(s, from, to) + 3 * MS,
					  .to = to,
					  .from = from,
					  .msg = msg_dup(m) });
	}
}

/* Apply what instance `id` asked for, then empty the action list. */
static void flush(struct sim *s, __u32 id)
{
	struct node *nd = &s->nodes[id];

	for (size_t i = 0; i < s->acts.n; i++) {
		const struct pias_members_action *a = &s->acts.a[i];

		/* only proxies of the simulation are tracked (tests add made-up ones) */
		if (a->kind != PIAS_MEMBERS_SEND && a->id > s->n)
			continue;
		switch (a->kind) {
		case PIAS_MEMBERS_SEND:
			net_send(s, id, a);
			break;
		case PIAS_MEMBERS_PROXY_UP:
			assert_int_not_equal(a->id, id);
			assert_int_equal(a->peer.family, PIAS_AF_INET);
			nd->up[a->id] = 1;
			break;
		case PIAS_MEMBERS_PROXY_DOWN:
			assert_int_not_equal(a->id, id);
			/* DOWN only after UP, never twice in a row */
			assert_int_equal(nd->up[a->id], 1);
			nd->up[a->id] = 2;
			nd->downs[a->id]++;
			break;
		default:
			fail_msg("action kind %d", a->kind);
		}
	}
	s->acts.n = 0;
	s->acts.msgs_n = 0;
}

static void deliver(struct sim *s, struct ev *ev)
{
	struct node *nd = &s->nodes[ev->to];
	struct pias_peer from = peer_of_id(ev->from);

	if (nd->running && !nd->cut && (ev->from == FAKE_SEED || !s->nodes[ev->from].cut)) {
		int rc = pias_members_recv(&nd->m, ev->msg, &from, s->now, &s->acts, &s->e);

		if (rc)
			fail_msg("node %u recv type %u from %u: %d %s", ev->to, ev->msg->hdr.type,
				 ev->from, rc, s->e.msg);
		flush(s, ev->to);
	}
	free(ev->msg);
}

static void tick_node(struct sim *s, __u32 id)
{
	struct node *nd = &s->nodes[id];
	int rc = pias_members_tick(&nd->m, s->now, &s->acts, &s->e);

	if (rc)
		fail_msg("node %u tick: %d %s", id, rc, s->e.msg);
	flush(s, id);
	nd->next_tick = pias_members_next_tick(&nd->m);
}

typedef bool (*stop_fn)(struct sim *s);

/* Run until `until` or until stop says so (checked every 100 ms); true if stopped. */
static bool run(struct sim *s, __u64 until, stop_fn stop)
{
	while (s->now < until) {
		__u64 next = s->now + STEP;

		while (s->nh && s->heap[0].at <= next) {
			struct ev ev = heap_pop(s);

			if (ev.at > s->now)
				s->now = ev.at;
			deliver(s, &ev);
		}
		s->now = next;
		for (__u32 i = 1; i <= s->n; i++)
			if (s->nodes[i].running && s->nodes[i].next_tick <= s->now)
				tick_node(s, i);
		if (stop && (s->now / STEP) % 10 == 0 && stop(s))
			return true;
	}
	return false;
}

static struct sim *sim_new(__u32 n, const struct pias_members_config *cfg)
{
	struct sim *s = calloc(1, sizeof(*s));
	__u64 rs = 7;

	assert_non_null(s);
	s->n = n;
	s->now = T0;
	s->nodes = calloc(n + 1, sizeof(*s->nodes));
	s->mbuf = calloc(NMSGS, sizeof(*s->mbuf));
	assert_non_null(s->nodes);
	assert_non_null(s->mbuf);
	s->acts = (struct pias_members_actions){
		.a = s->abuf, .cap = NACTS, .msgs = s->mbuf, .msgs_cap = NMSGS
	};
	if (cfg)
		s->cfg = *cfg;
	for (__u32 i = 1; i <= n; i++) {
		struct node *nd = &s->nodes[i];

		nd->peer = peer_of_id(i);
		nd->up = calloc(n + 1, 1);
		nd->downs = calloc(n + 1, sizeof(*nd->downs));
		assert_non_null(nd->up);
		assert_non_null(nd->downs);
		/* 0-60 ms apart in the plane, 0.5-2 ms access: RTTs of 1-90 ms */
		rs = rs * 6364136223846793005ull + 1442695040888963407ull;
		nd->px = (float)(rs >> 40) / (float)(1 << 24) * 60000.0f;
		rs = rs * 6364136223846793005ull + 1442695040888963407ull;
		nd->py = (float)(rs >> 40) / (float)(1 << 24) * 60000.0f;
		rs = rs * 6364136223846793005ull + 1442695040888963407ull;
		nd->ph = 500.0f + (float)(rs >> 40) / (float)(1 << 24) * 1500.0f;
	}
	return s;
}

static void sim_free(struct sim *s)
{
	for (__u32 i = 1; i <= s->n; i++) {
		if (s->nodes[i].running)
			pias_members_free(&s->nodes[i].m);
		free(s->nodes[i].up);
		free(s->nodes[i].downs);
	}
	while (s->nh) {
		struct ev ev = heap_pop(s);

		free(ev.msg);
	}
	free(s->heap);
	free(s->nodes);
	free(s->mbuf);
	free(s->truth);
	free(s);
}

/* Start (or restart) proxy id with incarnation inc, joining through seed (0: none). */
static void start(struct sim *s, __u32 id, __u32 inc, __u32 seed)
{
	struct node *nd = &s->nodes[id];
	struct pias_members_config c = s->cfg;

	if (nd->running)
		pias_members_free(&nd->m);
	c.seed = id * 7919u + inc;
	assert_int_equal(pias_members_init(&nd->m, &c, id, &nd->peer, inc, NULL, s->now, &s->e), 0);
	if (seed) {
		struct pias_peer p = seed == FAKE_SEED ? peer_of_id(FAKE_SEED) : peer_of_id(seed);

		assert_int_equal(pias_members_add_seed(&nd->m, &p, &s->e), 0);
	}
	memset(nd->up, 0, s->n + 1);
	nd->running = true;
	nd->cut = false;
	nd->next_tick = s->now;
}

static void stop_node(struct sim *s, __u32 id)
{
	pias_members_free(&s->nodes[id].m);
	s->nodes[id].running = false;
}

/*
 * Every running node knows every running node ALIVE, and has said PROXY_UP
 * for it. (Incarnations may still differ: a coordinate re-announcement
 * bumps one every 30 s or so; same_incarnations() checks them.)
 */
static bool converged(struct sim *s)
{
	for (__u32 i = 1; i <= s->n; i++) {
		struct node *a = &s->nodes[i];

		if (!a->running)
			continue;
		if (!pias_members_joined(&a->m))
			return false;
		for (__u32 j = 1; j <= s->n; j++) {
			const struct pias_member *mb;

			if (!s->nodes[j].running || s->nodes[j].cut)
				continue;
			mb = pias_members_get(&a->m, j);
			if (!mb || mb->state != PIAS_MEMBER_ALIVE)
				return false;
			if (i != j && a->up[j] != 1)
				return false;
		}
	}
	return true;
}

static bool same_incarnations(struct sim *s)
{
	for (__u32 i = 1; i <= s->n; i++)
		for (__u32 j = 1; j <= s->n; j++) {
			const struct pias_member *mb;

			if (!s->nodes[i].running || !s->nodes[j].running)
				continue;
			mb = pias_members_get(&s->nodes[i].m, j);
			if (!mb ||
			    mb->incarnation != pias_members_get(&s->nodes[j].m, j)->incarnation)
				return false;
		}
	return true;
}

/* n proxies; proxy 1 has no seed, the others join through proxy 1 at `stagger` intervals. */
static __u64 bring_up(struct sim *s, __u64 stagger, __u64 limit)
{
	__u64 t0 = s->now;

	start(s, 1, 1000, 0);
	for (__u32 i = 2; i <= s->n; i++) {
		run(s, s->now + stagger, NULL);
		start(s, i, 1000, 1);
	}
	if (!run(s, t0 + limit, converged))
		fail_msg("%u proxies did not converge in %llu s", s->n,
			 (unsigned long long)(limit / SEC));
	return s->now - t0;
}

/* ---------------- one instance, driven by hand ---------------- */

struct solo {
	struct pias_members m;
	struct pias_members_action abuf[NACTS];
	struct pias_msg *mbuf;
	struct pias_members_actions acts;
	struct pias_err e;
	struct pias_peer self;
};

static int solo_setup(void **state)
{
	struct solo *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->mbuf = calloc(NMSGS, sizeof(*f->mbuf));
	assert_non_null(f->mbuf);
	f->acts = (struct pias_members_actions){
		.a = f->abuf, .cap = NACTS, .msgs = f->mbuf, .msgs_cap = NMSGS
	};
	f->self = peer_of_id(1);
	assert_int_equal(pias_members_init(&f->m, NULL, 1, &f->self, 100, NULL, T0, &f->e), 0);
	*state = f;
	return 0;
}

static int solo_teardown(void **state)
{
	struct solo *f = *state;

	pias_members_free(&f->m);
	free(f->mbuf);
	free(f);
	return 0;
}

static void solo_reset(struct solo *f)
{
	f->acts.n = 0;
	f->acts.msgs_n = 0;
}

static struct pias_msg_member rec(__u32 id, __u32 inc, __u8 state)
{
	return (struct pias_msg_member){ .id = id,
					 .incarnation = inc,
					 .state = state,
					 .family = PIAS_AF_INET,
					 .port = PORT,
					 .addr = addr_of(id),
					 .coord = { .h = 10, .err = 1.5f } };
}

/* Deliver a PING from sender carrying recs[n]; returns recv's result. */
static int solo_ping(struct solo *f, __u32 sender, const struct pias_msg_member *recs, __u32 n,
		     __u64 now)
{
	static struct pias_msg msg;
	struct pias_peer from = peer_of_id(sender);

	memset(&msg.hdr, 0, sizeof(msg.hdr));
	memset(&msg.probe, 0, offsetof(struct pias_msg_probe, updates));
	msg.hdr.type = PIAS_MSG_PING;
	msg.hdr.sender_id = sender;
	msg.probe.probe_seq = 77;
	msg.probe.target_id = 1;
	msg.probe.coord = (struct pias_coord){ .h = 10, .err = 1.5f };
	msg.probe.n_updates = n;
	memcpy(msg.probe.updates, recs, n * sizeof(*recs));
	return pias_members_recv(&f->m, &msg, &from, now, &f->acts, &f->e);
}

static void solo_hear(struct solo *f, struct pias_msg_member r)
{
	assert_int_equal(solo_ping(f, 50, &r, 1, T0), 0);
}

static int count_kind(const struct pias_members_actions *acts, enum pias_members_action_kind k,
		      __u32 id)
{
	int n = 0;

	for (size_t i = 0; i < acts->n; i++)
		n += acts->a[i].kind == k && (!id || acts->a[i].id == id);
	return n;
}

static __u8 state_of(const struct pias_members *m, __u32 id)
{
	const struct pias_member *mb = pias_members_get(m, id);

	return mb ? mb->state : 0;
}

static void test_init_config(void **state)
{
	struct pias_members m;
	struct pias_members_config c = { 0 };
	struct pias_peer self = peer_of_id(1), other = peer_of_id(2), bad = self;
	struct pias_err e;

	(void)state;
	assert_int_equal(pias_members_init(&m, NULL, 0, &self, 1, NULL, T0, &e), -EINVAL);
	assert_msg_has(e.msg, "proxy id 0");
	assert_int_equal(pias_members_init(&m, NULL, PIAS_MAX_PROXIES, &self, 1, NULL, T0, &e),
			 -EINVAL);
	bad.family = 5;
	assert_int_equal(pias_members_init(&m, NULL, 1, &bad, 1, NULL, T0, &e), -EINVAL);
	assert_msg_has(e.msg, "family");
	c.probe_timeout_ns = 2 * SEC;
	assert_int_equal(pias_members_init(&m, &c, 1, &self, 1, NULL, T0, &e), -EINVAL);
	assert_msg_has(e.msg, "probe timeout");
	c = (struct pias_members_config){ .indirect_k = PIAS_MEMBERS_MAX_K + 1 };
	assert_int_equal(pias_members_init(&m, &c, 1, &self, 1, NULL, T0, &e), -EINVAL);
	assert_msg_has(e.msg, "indirect_k");
	c = (struct pias_members_config){ .retransmit_mult = 11 };
	assert_int_equal(pias_members_init(&m, &c, 1, &self, 1, NULL, T0, &e), -EINVAL);
	assert_msg_has(e.msg, "retransmit_mult");

	assert_int_equal(pias_members_init(&m, NULL, 1, &self, 1, NULL, T0, &e), 0);
	assert_int_equal(m.cfg.probe_interval_ns, SEC);
	assert_int_equal(m.cfg.probe_timeout_ns, SEC / 2);
	assert_int_equal(m.cfg.indirect_k, 3);
	assert_int_equal(m.cfg.retransmit_mult, 3);
	assert_int_equal(m.cfg.view_retry_ns, SEC);
	assert_int_equal(pias_members_count(&m), 1);
	assert_int_equal(pias_members_alive(&m), 1);
	assert_int_equal(state_of(&m, 1), PIAS_MEMBER_ALIVE);
	assert_true(pias_members_joined(&m)); /* no seeds: nothing to join */
	/* n = 1: lambda * ceil(log2 2); suspicion 4 intervals at least */
	assert_int_equal(pias_members_retransmit_limit(&m), 3);
	assert_int_equal(pias_members_suspect_timeout_ns(&m), 4 * SEC);
	/* seeds: our own address and duplicates are ignored */
	assert_int_equal(pias_members_add_seed(&m, &self, &e), 0);
	assert_int_equal(m.nseeds, 0);
	assert_int_equal(pias_members_add_seed(&m, &other, &e), 0);
	assert_int_equal(pias_members_add_seed(&m, &other, &e), 0);
	assert_int_equal(m.nseeds, 1);
	assert_false(pias_members_joined(&m));
	for (__u32 i = 3; m.nseeds < PIAS_MEMBERS_MAX_SEEDS; i++) {
		other = peer_of_id(i);
		assert_int_equal(pias_members_add_seed(&m, &other, &e), 0);
	}
	other = peer_of_id(99);
	assert_int_equal(pias_members_add_seed(&m, &other, &e), -ENOSPC);
	bad.family = 0;
	assert_int_equal(pias_members_add_seed(&m, &bad, &e), -EINVAL);
	pias_members_free(&m);
}

/* The precedence rules, one heard record at a time. */
static void test_precedence(void **state)
{
	struct solo *f = *state;
	const struct pias_member *mb;

	solo_hear(f, rec(7, 5, PIAS_MEMBER_ALIVE));
	assert_int_equal(count_kind(&f->acts, PIAS_MEMBERS_PROXY_UP, 7), 1);
	mb = pias_members_get(&f->m, 7);
	assert_non_null(mb);
	assert_int_equal(mb->incarnation, 5);
	assert_int_equal(mb->changed_ns, T0);
	assert_int_equal(pias_members_alive(&f->m), 2);
	solo_reset(f);

	/* stale: older SUSPECT, DEAD, LEFT are ignored */
	solo_hear(f, rec(7, 4, PIAS_MEMBER_SUSPECT));
	solo_hear(f, rec(7, 4, PIAS_MEMBER_DEAD));
	solo_hear(f, rec(7, 4, PIAS_MEMBER_LEFT));
	assert_int_equal(state_of(&f->m, 7), PIAS_MEMBER_ALIVE);
	assert_int_equal(count_kind(&f->acts, PIAS_MEMBERS_PROXY_DOWN, 0), 0);
	/* SUSPECT i overrides ALIVE i; still up */
	solo_hear(f, rec(7, 5, PIAS_MEMBER_SUSPECT));
	assert_int_equal(state_of(&f->m, 7), PIAS_MEMBER_SUSPECT);
	assert_int_equal(count_kind(&f->acts, PIAS_MEMBERS_PROXY_DOWN, 0), 0);
	assert_int_equal(pias_members_alive(&f->m), 2);
	/* ALIVE i does not override SUSPECT i; ALIVE i+1 does */
	solo_hear(f, rec(7, 5, PIAS_MEMBER_ALIVE));
	assert_int_equal(state_of(&f->m, 7), PIAS_MEMBER_SUSPECT);
	solo_hear(f, rec(7, 6, PIAS_MEMBER_ALIVE));
	assert_int_equal(state_of(&f->m, 7), PIAS_MEMBER_ALIVE);
	assert_int_equal(count_kind(&f->acts, PIAS_MEMBERS_PROXY_UP, 7), 0); /* was up */
	/* SUSPECT older than ALIVE: ignored */
	solo_hear(f, rec(7, 5, PIAS_MEMBER_SUSPECT));
	assert_int_equal(state_of(&f->m, 7), PIAS_MEMBER_ALIVE);
	/* DEAD at the same incarnation overrides ALIVE: PROXY_DOWN */
	solo_hear(f, rec(7, 6, PIAS_MEMBER_DEAD));
	assert_int_equal(state_of(&f->m, 7), PIAS_MEMBER_DEAD);
	assert_int_equal(count_kind(&f->acts, PIAS_MEMBERS_PROXY_DOWN, 7), 1);
	/* dead stays dead: ALIVE and SUSPECT of its incarnation are ignored */
	solo_hear(f, rec(7, 6, PIAS_MEMBER_ALIVE));
	solo_hear(f, rec(7, 6, PIAS_MEMBER_SUSPECT));
	assert_int_equal(state_of(&f->m, 7), PIAS_MEMBER_DEAD);
	/* LEFT at the same incarnation: more precise, no second DOWN */
	solo_hear(f, rec(7, 6, PIAS_MEMBER_LEFT));
	assert_int_equal(state_of(&f->m, 7), PIAS_MEMBER_LEFT);
	assert_int_equal(count_kind(&f->acts, PIAS_MEMBERS_PROXY_DOWN, 7), 1);
	assert_int_equal(pias_members_alive(&f->m), 1);
	solo_reset(f);
	/* back only with a higher incarnation (a restart): PROXY_UP again */
	solo_hear(f, rec(7, 7, PIAS_MEMBER_ALIVE));
	assert_int_equal(state_of(&f->m, 7), PIAS_MEMBER_ALIVE);
	assert_int_equal(count_kind(&f->acts, PIAS_MEMBERS_PROXY_UP, 7), 1);
	solo_reset(f);
	/* a new address at a higher incarnation: PROXY_UP with it */
	{
		struct pias_msg_member r = rec(7, 8, PIAS_MEMBER_ALIVE);

		r.addr = addr_of(200);
		solo_hear(f, r);
		assert_int_equal(count_kind(&f->acts, PIAS_MEMBERS_PROXY_UP, 7), 1);
		assert_memory_equal(&f->acts.a[0].peer.addr, &r.addr, sizeof(r.addr));
	}
	solo_reset(f);
	/* unknown member heard DEAD: known (for its incarnation), never UP */
	solo_hear(f, rec(9, 3, PIAS_MEMBER_DEAD));
	assert_int_equal(state_of(&f->m, 9), PIAS_MEMBER_DEAD);
	assert_int_equal(count_kind(&f->acts, PIAS_MEMBERS_PROXY_DOWN, 9), 0);
	assert_int_equal(count_kind(&f->acts, PIAS_MEMBERS_PROXY_UP, 9), 0);
	solo_hear(f, rec(9, 2, PIAS_MEMBER_ALIVE)); /* a stale rumor does not revive it */
	assert_int_equal(state_of(&f->m, 9), PIAS_MEMBER_DEAD);
}

/* The ACK to a PING; what it carries; refuting a suspicion of ourselves. */
static void test_ack_and_refute(void **state)
{
	struct solo *f = *state;
	struct pias_msg_member r = rec(1, 100, PIAS_MEMBER_SUSPECT);
	const struct pias_msg *ack;
	bool found = false;

	assert_int_equal(solo_ping(f, 50, &r, 1, T0), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(f->acts.a[0].kind, PIAS_MEMBERS_SEND);
	assert_int_equal(f->acts.a[0].id, 50);
	ack = f->acts.a[0].msg;
	assert_ptr_equal(ack, &f->mbuf[0]);
	assert_int_equal(ack->hdr.type, PIAS_MSG_ACK);
	assert_int_equal(ack->hdr.sender_id, 1);
	assert_int_equal(ack->probe.probe_seq, 77);
	assert_int_equal(ack->probe.target_id, 1);
	assert_int_equal(ack->probe.origin_id, 0);
	/* our refutation rides on the answer: ALIVE, incarnation 101 */
	for (__u32 i = 0; i < ack->probe.n_updates; i++)
		if (ack->probe.updates[i].id == 1) {
			assert_int_equal(ack->probe.updates[i].state, PIAS_MEMBER_ALIVE);
			assert_int_equal(ack->probe.updates[i].incarnation, 101);
			found = true;
		}
	assert_true(found);
	assert_int_equal(pias_members_get(&f->m, 1)->incarnation, 101);
	solo_reset(f);
	/* a stale DEAD of ourselves is ignored; a DEAD of the current one refuted again */
	r = rec(1, 100, PIAS_MEMBER_DEAD);
	assert_int_equal(solo_ping(f, 50, &r, 1, T0), 0);
	assert_int_equal(pias_members_get(&f->m, 1)->incarnation, 101);
	r = rec(1, 101, PIAS_MEMBER_DEAD);
	assert_int_equal(solo_ping(f, 50, &r, 1, T0), 0);
	assert_int_equal(pias_members_get(&f->m, 1)->incarnation, 102);
	assert_int_equal(state_of(&f->m, 1), PIAS_MEMBER_ALIVE);
	solo_reset(f);
	/* a PING for someone else (an address reused by a new proxy): no ACK */
	{
		static struct pias_msg msg;
		struct pias_peer from = peer_of_id(50);

		msg.hdr = (struct pias_msg_hdr){ .type = PIAS_MSG_PING, .sender_id = 50 };
		msg.probe.target_id = 2;
		msg.probe.n_updates = 0;
		msg.probe.coord = (struct pias_coord){ .h = 10, .err = 1 };
		assert_int_equal(pias_members_recv(&f->m, &msg, &from, T0, &f->acts, &f->e), 0);
		assert_int_equal(f->acts.n, 0);
	}
}

/* Bad input and too little room change nothing (all or nothing). */
static void test_recv_errors(void **state)
{
	struct solo *f = *state;
	struct pias_msg_member r[3] = { rec(7, 1, PIAS_MEMBER_ALIVE), rec(8, 1, PIAS_MEMBER_ALIVE),
					rec(9, 1, PIAS_MEMBER_ALIVE) };
	static struct pias_msg msg;
	struct pias_peer from = peer_of_id(50);

	r[2].state = 9;
	assert_int_equal(solo_ping(f, 50, r, 3, T0), -EINVAL);
	assert_msg_has(f->e.msg, "bad state 9");
	r[2] = rec(9, 1, PIAS_MEMBER_ALIVE);
	r[2].family = 5;
	assert_int_equal(solo_ping(f, 50, r, 3, T0), -EINVAL);
	assert_msg_has(f->e.msg, "bad family");
	r[2] = rec(PIAS_MAX_PROXIES, 1, PIAS_MEMBER_ALIVE);
	assert_int_equal(solo_ping(f, 50, r, 3, T0), -EINVAL);
	assert_msg_has(f->e.msg, "out of range");
	assert_int_equal(pias_members_count(&f->m), 1); /* 7 and 8 were not taken */
	assert_int_equal(f->acts.n, 0);
	r[2] = rec(9, 1, PIAS_MEMBER_ALIVE);
	assert_int_equal(solo_ping(f, 0, r, 3, T0), -EINVAL);
	assert_msg_has(f->e.msg, "sender id 0");
	assert_int_equal(solo_ping(f, 1, r, 3, T0), -EINVAL);
	assert_msg_has(f->e.msg, "our own");
	{
		struct pias_msg_member many[PIAS_MSG_MAX_UPDATES + 1];

		for (__u32 i = 0; i <= PIAS_MSG_MAX_UPDATES; i++)
			many[i] = rec(10 + i, 1, PIAS_MEMBER_ALIVE);
		assert_int_equal(solo_ping(f, 50, many, PIAS_MSG_MAX_UPDATES + 1, T0), -EINVAL);
	}
	assert_msg_has(f->e.msg, "updates");
	msg.hdr = (struct pias_msg_hdr){ .type = PIAS_MSG_QUERY, .sender_id = 50 };
	assert_int_equal(pias_members_recv(&f->m, &msg, &from, T0, &f->acts, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "not membership");
	/* a bad coordinate is ignored, the record taken */
	r[0].coord.x = NAN;
	f->acts.cap = 3; /* 3 records + the ACK need 4 */
	assert_int_equal(solo_ping(f, 50, r, 3, T0), -ENOBUFS);
	assert_int_equal(pias_members_count(&f->m), 1);
	assert_int_equal(f->acts.n, 0);
	f->acts.cap = NACTS;
	f->acts.msgs_cap = 0;
	assert_int_equal(solo_ping(f, 50, r, 3, T0), -ENOBUFS);
	f->acts.msgs_cap = NMSGS;
	assert_int_equal(solo_ping(f, 50, r, 3, T0), 0);
	assert_int_equal(pias_members_count(&f->m), 4);
	assert_false(pias_members_get(&f->m, 7)->coord_known);
	assert_true(pias_members_get(&f->m, 8)->coord_known);
	assert_int_equal(count_kind(&f->acts, PIAS_MEMBERS_PROXY_UP, 0), 3);
	solo_reset(f);
	/* tick needs room for k + 3 messages */
	f->acts.msgs_cap = 5;
	assert_int_equal(pias_members_tick(&f->m, T0 + SEC, &f->acts, &f->e), -ENOBUFS);
	assert_msg_has(f->e.msg, "messages");
	f->acts.msgs_cap = NMSGS;
}

/* Suspicion without gossip: our own probe fails, then the timeout declares it dead. */
static void test_probe_suspect_dead(void **state)
{
	struct solo *f = *state;
	struct pias_msg_member r[4] = { rec(2, 1, PIAS_MEMBER_ALIVE), rec(3, 1, PIAS_MEMBER_ALIVE),
					rec(4, 1, PIAS_MEMBER_ALIVE),
					rec(5, 1, PIAS_MEMBER_ALIVE) };
	__u64 now = T0, dead_at = 0;
	__u32 target = 0, pingreqs = 0;

	assert_int_equal(solo_ping(f, 2, r, 4, now), 0);
	solo_reset(f);
	/* nobody answers anything: the first probe target becomes SUSPECT, then DEAD */
	for (; now < T0 + 30 * SEC && !dead_at; now += 10 * MS) {
		assert_int_equal(pias_members_tick(&f->m, now, &f->acts, &f->e), 0);
		for (size_t i = 0; i < f->acts.n; i++) {
			const struct pias_members_action *a = &f->acts.a[i];

			if (a->kind == PIAS_MEMBERS_SEND && a->msg->hdr.type == PIAS_MSG_PING &&
			    !target)
				target = a->id;
			if (a->kind == PIAS_MEMBERS_SEND && a->msg->hdr.type == PIAS_MSG_PING_REQ &&
			    a->msg->probe.target_id == target) {
				pingreqs++;
				assert_int_not_equal(a->id, target);
			}
			if (a->kind == PIAS_MEMBERS_PROXY_DOWN && a->id == target)
				dead_at = now;
		}
		solo_reset(f);
	}
	assert_int_not_equal(target, 0);
	assert_true(pingreqs >= 3); /* k = 3 helpers on the first failed probe */
	/* suspected at T0 + phase + 1 s, dead 4 s later (n = 5: log10 < 1) */
	assert_true(dead_at > T0 + 5 * SEC && dead_at <= T0 + 6 * SEC + 20 * MS);
	assert_int_equal(state_of(&f->m, target), PIAS_MEMBER_DEAD);
}

/* VIEW_REQ answers: id order, offsets, totals, the end. */
static void test_view_pages_served(void **state)
{
	struct solo *f = *state;
	struct pias_msg_member r[20];
	static struct pias_msg req;
	struct pias_peer from = peer_of_id(900);
	const struct pias_msg *v;
	__u32 next = 0, total = 0, seen = 0, last = 0;

	/* 600 members in 30 PINGs, ids scattered over several index pages */
	for (__u32 k = 0; k < 30; k++) {
		for (__u32 i = 0; i < 20; i++)
			r[i] = rec(2 + (k * 20 + i) * 97 % 40000, 1, PIAS_MEMBER_ALIVE);
		assert_int_equal(solo_ping(f, 50, r, 20, T0), 0);
		solo_reset(f);
	}
	assert_int_equal(pias_members_count(&f->m), 601);
	do {
		req.hdr = (struct pias_msg_hdr){ .type = PIAS_MSG_VIEW_REQ, .sender_id = 900 };
		req.view_req.offset = next;
		assert_int_equal(pias_members_recv(&f->m, &req, &from, T0, &f->acts, &f->e), 0);
		assert_int_equal(f->acts.n, 1);
		assert_int_equal(f->acts.a[0].id, 900);
		v = f->acts.a[0].msg;
		assert_int_equal(v->hdr.type, PIAS_MSG_VIEW);
		assert_int_equal(v->view.offset, next);
		total = v->view.total;
		assert_true(v->view.n <= PIAS_MSG_VIEW_PAGE);
		for (__u32 i = 0; i < v->view.n; i++) {
			assert_true(v->view.members[i].id > last);
			last = v->view.members[i].id;
		}
		seen += v->view.n;
		next += v->view.n;
		solo_reset(f);
	} while (next < total);
	assert_int_equal(total, 601);
	assert_int_equal(seen, 601);
	/* past the end: an empty page */
	req.view_req.offset = 5000;
	assert_int_equal(pias_members_recv(&f->m, &req, &from, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.a[0].msg->view.n, 0);
	/* iteration in id order covers the same members */
	seen = 0;
	last = 0;
	for (const struct pias_member *mb = pias_members_next(&f->m, 0); mb;
	     mb = pias_members_next(&f->m, mb->id)) {
		assert_true(mb->id > last);
		last = mb->id;
		seen++;
	}
	assert_int_equal(seen, 601);
}

/* ---------------- many instances ---------------- */

static void test_converge_5(void **state)
{
	struct sim *s = sim_new(5, NULL);
	__u64 t;

	(void)state;
	t = bring_up(s, 100 * MS, 20 * SEC);
	print_message("5 proxies converged %.1f s after the first started\n", (double)t / SEC);
	assert_true(same_incarnations(s));
	for (__u32 i = 1; i <= 5; i++) {
		assert_int_equal(pias_members_count(&s->nodes[i].m), 5);
		assert_int_equal(pias_members_alive(&s->nodes[i].m), 5);
	}
	sim_free(s);
}

static void test_converge_50(void **state)
{
	struct sim *s = sim_new(50, NULL);
	__u64 t;

	(void)state;
	t = bring_up(s, 20 * MS, 90 * SEC);
	print_message("50 proxies converged %.1f s after the first started; %llu messages\n",
		      (double)t / SEC, (unsigned long long)s->nsent);
	sim_free(s);
}

/* Time at which every running, uncut node other than `id` has id in `st`. */
static bool all_see(struct sim *s, __u32 id, __u8 st)
{
	for (__u32 i = 1; i <= s->n; i++) {
		const struct node *nd = &s->nodes[i];

		if (i == id || !nd->running || nd->cut)
			continue;
		if (state_of(&nd->m, id) != st)
			return false;
	}
	return true;
}

static bool any_sees(struct sim *s, __u32 id, __u8 st)
{
	for (__u32 i = 1; i <= s->n; i++) {
		const struct node *nd = &s->nodes[i];

		if (i != id && nd->running && !nd->cut && state_of(&nd->m, id) == st)
			return true;
	}
	return false;
}

static __u32 watch_id;

static bool watch_dead(struct sim *s)
{
	return all_see(s, watch_id, PIAS_MEMBER_DEAD);
}

static bool watch_left(struct sim *s)
{
	return all_see(s, watch_id, PIAS_MEMBER_LEFT);
}

static bool watch_suspect(struct sim *s)
{
	return any_sees(s, watch_id, PIAS_MEMBER_SUSPECT);
}

static void test_failure_detected(void **state)
{
	struct sim *s = sim_new(8, NULL);
	__u64 bound, cut_at, suspect_at;

	(void)state;
	bring_up(s, 50 * MS, 30 * SEC);
	run(s, s->now + 5 * SEC, NULL);
	bound = pias_members_detect_bound_ns(&s->nodes[1].m);
	watch_id = 5;
	s->nodes[5].cut = true;
	cut_at = s->now;
	assert_true(run(s, cut_at + bound, watch_suspect));
	suspect_at = s->now;
	assert_true(run(s, cut_at + bound + STEP, watch_dead));
	print_message("8 proxies: proxy 5 cut; first SUSPECT after %.2f s, DEAD at all after "
		      "%.2f s (bound %.1f s)\n",
		      (double)(suspect_at - cut_at) / SEC, (double)(s->now - cut_at) / SEC,
		      (double)bound / SEC);
	for (__u32 i = 1; i <= 8; i++)
		if (i != 5) {
			assert_int_equal(s->nodes[i].up[5], 2);
			assert_int_equal(s->nodes[i].downs[5], 1);
			assert_int_equal(pias_members_alive(&s->nodes[i].m), 7);
		}
	/* the others never doubted each other */
	for (__u32 i = 1; i <= 8; i++)
		for (__u32 j = 1; j <= 8; j++)
			if (i != 5 && j != 5 && i != j)
				assert_int_equal(s->nodes[i].downs[j], 0);
	sim_free(s);
}

static void test_suspect_refutes(void **state)
{
	struct sim *s = sim_new(8, NULL);
	__u32 inc0;

	(void)state;
	bring_up(s, 50 * MS, 30 * SEC);
	inc0 = pias_members_get(&s->nodes[3].m, 3)->incarnation;
	watch_id = 3;
	s->nodes[3].cut = true;
	assert_true(run(s, s->now + 10 * SEC, watch_suspect));
	/* cut off for less than the suspicion timeout (4 s), then back */
	run(s, s->now + SEC, NULL);
	s->nodes[3].cut = false;
	run(s, s->now + 20 * SEC, NULL);
	assert_true(converged(s));
	for (__u32 i = 1; i <= 8; i++) {
		const struct pias_member *mb = pias_members_get(&s->nodes[i].m, 3);

		assert_int_equal(mb->state, PIAS_MEMBER_ALIVE);
		assert_true(mb->incarnation > inc0); /* refuted */
		for (__u32 j = 1; j <= 8; j++)
			assert_int_equal(s->nodes[i].downs[j], 0);
	}
	sim_free(s);
}

/* Every 9th message lost, every 7th doubled. */
static int lossy(struct sim *s, __u32 from, __u32 to, const struct pias_msg *m)
{
	(void)from;
	(void)to;
	(void)m;
	s->counter++;
	if (s->counter % 9 == 0)
		return 1;
	return s->counter % 7 == 0 ? 2 : 0;
}

static void test_loss_and_duplicates(void **state)
{
	struct sim *s = sim_new(12, NULL);
	__u64 t, cut_at;

	(void)state;
	s->rule = lossy;
	t = bring_up(s, 50 * MS, 60 * SEC);
	run(s, s->now + 60 * SEC, NULL);
	print_message("12 proxies, 1/9 lost and 1/7 doubled: converged after %.1f s; %llu lost, "
		      "%llu doubled\n",
		      (double)t / SEC, (unsigned long long)s->ndropped,
		      (unsigned long long)s->ndup);
	assert_true(s->ndropped > 100 && s->ndup > 100);
	/* a minute of loss: suspicions came and went, nobody was declared dead */
	for (__u32 i = 1; i <= 12; i++)
		for (__u32 j = 1; j <= 12; j++)
			assert_int_equal(s->nodes[i].downs[j], 0);
	/* suspicions come and go under loss: the view is whole again soon */
	assert_true(run(s, s->now + 10 * SEC, converged));
	/* and a real failure is still found */
	watch_id = 12;
	s->nodes[12].cut = true;
	cut_at = s->now;
	assert_true(run(s, cut_at + pias_members_detect_bound_ns(&s->nodes[1].m), watch_dead));
	sim_free(s);
}

static void restart_case(__u32 new_inc_delta, bool lower)
{
	struct sim *s = sim_new(6, NULL);
	__u32 inc0;

	bring_up(s, 50 * MS, 30 * SEC);
	inc0 = pias_members_get(&s->nodes[4].m, 4)->incarnation;
	watch_id = 4;
	s->nodes[4].cut = true;
	assert_true(run(s, s->now + 60 * SEC, watch_dead));
	stop_node(s, 4);
	run(s, s->now + 5 * SEC, NULL);
	/* restarted: a later wall clock gives a higher incarnation; a clock set back a lower one */
	start(s, 4, lower ? inc0 - new_inc_delta : inc0 + new_inc_delta, 1);
	assert_true(run(s, s->now + 30 * SEC, converged));
	for (__u32 i = 1; i <= 6; i++) {
		if (i == 4)
			continue;
		assert_int_equal(s->nodes[i].up[4], 1);
		assert_int_equal(s->nodes[i].downs[4], 1);
		assert_true(pias_members_get(&s->nodes[i].m, 4)->incarnation > inc0);
	}
	if (!lower)
		assert_int_equal(pias_members_get(&s->nodes[1].m, 4)->incarnation,
				 inc0 + new_inc_delta);
	sim_free(s);
}

/* Cut off past the suspicion timeout: everybody dead to everybody; healed by reconnection. */
static void test_partition_heals(void **state)
{
	struct sim *s = sim_new(6, NULL);
	__u32 inc0;
	__u64 t;

	(void)state;
	bring_up(s, 50 * MS, 30 * SEC);
	inc0 = pias_members_get(&s->nodes[3].m, 3)->incarnation;
	watch_id = 3;
	s->nodes[3].cut = true;
	assert_true(run(s, s->now + 60 * SEC, watch_dead));
	run(s, s->now + 20 * SEC, NULL);
	/* proxy 3, alone, has declared all the others dead too */
	for (__u32 j = 1; j <= 6; j++)
		if (j != 3)
			assert_int_equal(state_of(&s->nodes[3].m, j), PIAS_MEMBER_DEAD);
	s->nodes[3].cut = false;
	t = s->now;
	assert_true(run(s, s->now + 2 * PIAS_MEMBERS_RECONNECT_NS + 30 * SEC, converged));
	print_message("6 proxies: a partition of one healed %.1f s after the network did\n",
		      (double)(s->now - t) / SEC);
	for (__u32 i = 1; i <= 6; i++) {
		if (i == 3)
			continue;
		assert_true(pias_members_get(&s->nodes[i].m, 3)->incarnation > inc0);
		assert_int_equal(s->nodes[i].downs[3], 1);
		assert_int_equal(s->nodes[i].up[3], 1);
		assert_int_equal(s->nodes[3].up[i], 1);
	}
	sim_free(s);
}

static void test_restart_comes_back(void **state)
{
	(void)state;
	restart_case(100, false);
}

static void test_restart_clock_back(void **state)
{
	(void)state;
	restart_case(500, true);
}

/* Count PINGs to `a` after the rule is armed (s->hits). */
static int count_pings_to_a(struct sim *s, __u32 from, __u32 to, const struct pias_msg *m)
{
	(void)from;
	if (to == s->a && m->hdr.type == PIAS_MSG_PING)
		s->hits++;
	return 0;
}

static void test_graceful_leave(void **state)
{
	struct sim *s = sim_new(6, NULL);
	__u64 t;

	(void)state;
	bring_up(s, 50 * MS, 30 * SEC);
	watch_id = 2;
	t = s->now;
	assert_int_equal(pias_members_leave(&s->nodes[2].m, s->now, &s->acts, &s->e), 0);
	assert_true(count_kind(&s->acts, PIAS_MEMBERS_SEND, 0) >= 1);
	flush(s, 2);
	assert_int_equal(pias_members_leave(&s->nodes[2].m, s->now, &s->acts, &s->e), 0);
	assert_int_equal(s->acts.n, 0); /* idempotent */
	assert_true(run(s, s->now + 10 * SEC, watch_left));
	print_message("6 proxies: LEFT known to all %.2f s after the leave\n",
		      (double)(s->now - t) / SEC);
	for (__u32 i = 1; i <= 6; i++)
		if (i != 2) {
			assert_int_equal(s->nodes[i].up[2], 2);
			assert_int_equal(pias_members_alive(&s->nodes[i].m), 5);
		}
	run(s, s->now + 20 * SEC, NULL);
	assert_true(pias_members_leave_done(&s->nodes[2].m));
	/* nobody probes a proxy that left */
	s->rule = count_pings_to_a;
	s->a = 2;
	run(s, s->now + 10 * SEC, NULL);
	assert_int_equal(s->hits, 0);
	stop_node(s, 2);
	run(s, s->now + 30 * SEC, NULL);
	for (__u32 i = 1; i <= 6; i++)
		if (i != 2)
			assert_int_equal(s->nodes[i].downs[2], 1);
	sim_free(s);
}

/* Drop the first VIEW page that starts at offset 256; count VIEW_REQs for it. */
static int drop_page_256(struct sim *s, __u32 from, __u32 to, const struct pias_msg *m)
{
	(void)from;
	(void)to;
	if (m->hdr.type == PIAS_MSG_VIEW_REQ && m->view_req.offset == 256)
		s->hits++;
	if (m->hdr.type == PIAS_MSG_VIEW && m->view.offset == 256 && !s->counter++)
		return 1;
	return 0;
}

static bool joined_2(struct sim *s)
{
	return pias_members_joined(&s->nodes[2].m);
}

static void test_view_paging_retry(void **state)
{
	struct sim *s = sim_new(2, NULL);
	static struct pias_msg msg;
	struct pias_peer from = { .family = PIAS_AF_INET, .port = 1 };
	__u64 t;

	(void)state;
	start(s, 1, 1000, 0);
	/* proxy 1 hears of 700 more (addresses nobody answers on): a 3-page view */
	for (__u32 k = 0; k < 35; k++) {
		memset(&msg, 0, sizeof(msg.hdr) + offsetof(struct pias_msg_probe, updates));
		msg.hdr = (struct pias_msg_hdr){ .type = PIAS_MSG_PING, .sender_id = 5000 };
		msg.probe.target_id = 1;
		msg.probe.coord = (struct pias_coord){ .h = 10, .err = 1.5f };
		msg.probe.n_updates = 20;
		for (__u32 i = 0; i < 20; i++) {
			msg.probe.updates[i] = rec(100 + k * 20 + i, 1, PIAS_MEMBER_ALIVE);
			msg.probe.updates[i].addr.v4 = htonl(0xc6336400u + k * 20 + i);
		}
		assert_int_equal(
			pias_members_recv(&s->nodes[1].m, &msg, &from, s->now, &s->acts, &s->e), 0);
		s->acts.n = s->acts.msgs_n = 0;
	}
	assert_int_equal(pias_members_count(&s->nodes[1].m), 701);
	s->rule = drop_page_256;
	t = s->now;
	start(s, 2, 1000, 1);
	assert_true(run(s, s->now + 20 * SEC, joined_2));
	print_message("joined through a 3-page view with page 2 lost once: %.2f s\n",
		      (double)(s->now - t) / SEC);
	/* the page was lost, asked for again after view_retry_ns, and came */
	assert_int_equal(s->hits, 2);
	assert_int_equal(s->counter, 2);
	/* proxy 2 has proxy 1's whole view (plus itself, already there) */
	assert_int_equal(pias_members_count(&s->nodes[2].m), 702);
	for (__u32 id = 100; id < 800; id++) {
		const struct pias_member *a = pias_members_get(&s->nodes[1].m, id);
		const struct pias_member *b = pias_members_get(&s->nodes[2].m, id);

		assert_non_null(b);
		assert_int_equal(a->incarnation, b->incarnation);
		assert_int_equal(b->addr.v4, a->addr.v4);
	}
	assert_int_equal(state_of(&s->nodes[2].m, 1), PIAS_MEMBER_ALIVE);
	assert_int_equal(state_of(&s->nodes[1].m, 2), PIAS_MEMBER_ALIVE);
	sim_free(s);
}

/* Proxies a and b cannot reach each other directly (the rest of the network can). */
static int cut_pair(struct sim *s, __u32 from, __u32 to, const struct pias_msg *m)
{
	(void)m;
	if ((from == s->a && to == s->b) || (from == s->b && to == s->a)) {
		s->hits++;
		return 1;
	}
	return 0;
}

static float true_rtt_us(const struct sim *s, __u32 a, __u32 b)
{
	return (float)latency_ns(s, a, b) * 2.0f / 1000.0f;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

static void test_coordinates_spread(void **state)
{
	struct sim *s = sim_new(30, NULL);
	static float errs[30 * 30];
	const struct pias_member *b_at_a;
	float est, tru, med;
	int k = 0;

	(void)state;
	s->rule = cut_pair;
	s->a = 7;
	s->b = 19;
	bring_up(s, 20 * MS, 60 * SEC);
	run(s, s->now + 400 * SEC, NULL);
	assert_true(s->hits > 20); /* 7 and 19 kept probing each other, never heard */
	/* 7 was probed indirectly, never suspected for good */
	for (__u32 i = 1; i <= 30; i++)
		for (__u32 j = 1; j <= 30; j++)
			assert_int_equal(s->nodes[i].downs[j], 0);
	/* 7 knows 19's coordinate, which only gossip can have brought */
	b_at_a = pias_members_get(&s->nodes[7].m, 19);
	assert_true(b_at_a->coord_known);
	assert_true(b_at_a->coord.err < 1.0f);
	est = (float)pias_members_rtt_ns(&s->nodes[7].m, 7, 19) / 1000.0f;
	tru = true_rtt_us(s, 7, 19);
	print_message("30 proxies, 400 s: proxy 7 predicts RTT to 19 (never heard directly) "
		      "%.1f ms, true %.1f ms\n",
		      est / 1000, tru / 1000);
	assert_true(fabsf(est - tru) / tru < 0.25f);
	/* what a RAP at proxy 1 predicts between any two others */
	for (__u32 i = 2; i <= 30; i++)
		for (__u32 j = i + 1; j <= 30; j++) {
			est = (float)pias_members_rtt_ns(&s->nodes[1].m, i, j) / 1000.0f;
			tru = true_rtt_us(s, i, j);
			assert_true(est > 0);
			errs[k++] = fabsf(est - tru) / tru;
		}
	qsort(errs, k, sizeof(errs[0]), cmp_float);
	med = errs[k / 2];
	print_message("proxy 1 predicts RTTs between %d pairs of others: median relative error "
		      "%.3f, 90th percentile %.3f\n",
		      k, med, errs[k * 9 / 10]);
	assert_true(med < 0.15f);
	assert_int_equal(pias_members_rtt_ns(&s->nodes[1].m, 2, 999), 0);
	sim_free(s);
}

/* ---------------- scale: 1000 proxies, measured ---------------- */

static void fake_seed_answer(struct sim *s, __u32 from, const struct pias_msg *m)
{
	struct pias_msg *v;
	__u32 off, n;

	if (m->hdr.type != PIAS_MSG_VIEW_REQ)
		return; /* announcements: the view already holds everybody */
	off = m->view_req.offset;
	n = off < s->ntruth ? s->ntruth - off : 0;
	if (n > PIAS_MSG_VIEW_PAGE)
		n = PIAS_MSG_VIEW_PAGE;
	v = malloc(sizeof(*v));
	assert_non_null(v);
	v->hdr = (struct pias_msg_hdr){ .type = PIAS_MSG_VIEW, .sender_id = PIAS_MAX_PROXIES - 1 };
	v->view.offset = off;
	v->view.total = s->ntruth;
	v->view.n = n;
	memcpy(v->view.members, s->truth + off, n * sizeof(struct pias_msg_member));
	heap_push(s, (struct ev){ .at = s->now + MS, .to = from, .from = FAKE_SEED, .msg = v });
}

/* A proxy is joined and all are. */
static bool all_joined(struct sim *s)
{
	for (__u32 i = 1; i <= s->n; i++)
		if (s->nodes[i].running && !pias_members_joined(&s->nodes[i].m))
			return false;
	return true;
}

static bool any_suspects(struct sim *s)
{
	return any_sees(s, watch_id, PIAS_MEMBER_SUSPECT);
}

static bool any_dead(struct sim *s)
{
	return any_sees(s, watch_id, PIAS_MEMBER_DEAD);
}

static struct sim *scale_sim(__u32 n, bool coords)
{
	struct pias_members_config c = { 0 };
	struct sim *s;

	if (!coords)
		c.coord_threshold_us = 1e9f; /* no re-announcements */
	s = sim_new(n, &c);
	s->no_codec = true;
	s->ntruth = n;
	s->truth = calloc(n, sizeof(*s->truth));
	assert_non_null(s->truth);
	for (__u32 i = 1; i <= n; i++) {
		s->truth[i - 1] = rec(i, 1000, PIAS_MEMBER_ALIVE);
		pias_coord_init(&s->truth[i - 1].coord);
	}
	for (__u32 i = 1; i <= n; i++)
		start(s, i, 1000, FAKE_SEED);
	assert_true(run(s, s->now + 20 * SEC, all_joined));
	for (__u32 i = 1; i <= n; i++)
		assert_int_equal(pias_members_alive(&s->nodes[i].m), n);
	return s;
}

/* Bytes sent per proxy per second over the next `len`, and update records per probe message. */
static double bytes_per_s(struct sim *s, __u64 len, double *upd_per_msg)
{
	__u64 bytes0 = s->bytes, probes0 = s->probe_msgs, upd0 = s->upd_records, t = s->now;

	run(s, s->now + len, NULL);
	*upd_per_msg = (double)(s->upd_records - upd0) / (double)(s->probe_msgs - probes0);
	return (double)(s->bytes - bytes0) / s->n / ((double)(s->now - t) / SEC);
}

/*
 * 1000 proxies joined through a (fake) seed's view. Steady state: no
 * coordinate refreshes (as once Vivaldi has converged); a failure and a
 * leave are timed. Cold start: every coordinate moving at once, the bytes.
 */
static void test_scale_1000(void **state)
{
	const __u32 n = 1000;
	__u64 cut_at, suspect_at, first_dead, all_dead, left_at, all_left, bound;
	double bps_quiet, upm_quiet, bps_cold, upm_cold;
	struct timespec w0, w1;
	struct sim *s;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &w0);
	s = scale_sim(n, false);
	run(s, s->now + 10 * SEC, NULL);
	bps_quiet = bytes_per_s(s, 10 * SEC, &upm_quiet);

	bound = pias_members_detect_bound_ns(&s->nodes[1].m);
	watch_id = 500;
	s->nodes[500].cut = true;
	cut_at = s->now;
	assert_true(run(s, cut_at + 30 * SEC, any_suspects));
	suspect_at = s->now;
	assert_true(run(s, cut_at + 60 * SEC, any_dead));
	first_dead = s->now;
	assert_true(run(s, cut_at + 90 * SEC, watch_dead));
	all_dead = s->now;
	assert_true(all_dead - cut_at <= bound);
	for (__u32 i = 1; i <= n; i++)
		if (i != 500)
			assert_int_equal(s->nodes[i].up[500], 2);

	watch_id = 600;
	left_at = s->now;
	assert_int_equal(pias_members_leave(&s->nodes[600].m, s->now, &s->acts, &s->e), 0);
	flush(s, 600);
	assert_true(run(s, left_at + 60 * SEC, watch_left));
	all_left = s->now;
	/* nobody else was ever taken for dead (but by 500, cut off from all) */
	for (__u32 i = 1; i <= n; i++)
		for (__u32 j = 1; j <= n; j++)
			if (i != 500 && j != 500 && j != 600)
				assert_int_equal(s->nodes[i].downs[j], 0);

	print_message("1000 proxies (T = 1 s, k = 3, lambda = 3: %u sends per update; suspicion "
		      "%.1f s):\n",
		      pias_members_retransmit_limit(&s->nodes[1].m),
		      (double)pias_members_suspect_timeout_ns(&s->nodes[1].m) / SEC);
	print_message("  failure: first SUSPECT %.2f s, first DEAD %.2f s, DEAD at all %.2f s "
		      "(worst-case bound %.0f s)\n",
		      (double)(suspect_at - cut_at) / SEC, (double)(first_dead - cut_at) / SEC,
		      (double)(all_dead - cut_at) / SEC, (double)bound / SEC);
	print_message("  dissemination: DEAD from first to all %.2f s; LEFT to all %.2f s\n",
		      (double)(all_dead - first_dead) / SEC, (double)(all_left - left_at) / SEC);
	sim_free(s);

	s = scale_sim(n, true);
	run(s, s->now + 30 * SEC, NULL);
	bps_cold = bytes_per_s(s, 10 * SEC, &upm_cold);
	sim_free(s);

	print_message("  bytes/s sent per proxy (IPv4): steady %.0f (%.2f records/msg); cold "
		      "start, all coordinates moving: %.0f (%.2f records/msg)\n",
		      bps_quiet, upm_quiet, bps_cold, upm_cold);
	clock_gettime(CLOCK_MONOTONIC, &w1);
	print_message("  (two simulations of %u proxies, %.1f s of wall clock)\n", n,
		      (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9);
}

int test_membership(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_config),
		cmocka_unit_test_setup_teardown(test_precedence, solo_setup, solo_teardown),
		cmocka_unit_test_setup_teardown(test_ack_and_refute, solo_setup, solo_teardown),
		cmocka_unit_test_setup_teardown(test_recv_errors, solo_setup, solo_teardown),
		cmocka_unit_test_setup_teardown(test_probe_suspect_dead, solo_setup, solo_teardown),
		cmocka_unit_test_setup_teardown(test_view_pages_served, solo_setup, solo_teardown),
		cmocka_unit_test(test_converge_5),
		cmocka_unit_test(test_converge_50),
		cmocka_unit_test(test_failure_detected),
		cmocka_unit_test(test_suspect_refutes),
		cmocka_unit_test(test_loss_and_duplicates),
		cmocka_unit_test(test_partition_heals),
		cmocka_unit_test(test_restart_comes_back),
		cmocka_unit_test(test_restart_clock_back),
		cmocka_unit_test(test_graceful_leave),
		cmocka_unit_test(test_view_paging_retry),
		cmocka_unit_test(test_coordinates_spread),
		cmocka_unit_test(test_scale_1000),
	};

	return cmocka_run_group_tests_name("membership", tests, NULL, NULL);
}
