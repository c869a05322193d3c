// SPDX-License-Identifier: MIT
/*
 * daemon/node: proxies' nodes wired to each other in one process. Messages
 * go through a queue (by proxy id, or by address for membership), map
 * writes are recorded, time is virtual: what a simulator does, at a small
 * scale. The proxies join through a seed as piasd's do, then a target
 * registers at a JAP, its report reaches the group's RAP, an IAP gets a
 * binding and refreshes it by a query, a JAP whose targets are gone
 * invalidates, and a proxy joining the ring makes the JAP re-report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "unit.h"

#define MS	  1000000ull
#define SEC	  (1000 * MS)
#define TICK	  (50 * MS)
#define MAX_NODES 4
#define QUEUE_MAX 4096

#define REC_SET	  8

/* What one node did to its world (the io table's writes). */
struct rec {
	unsigned int sends, send_peers;
	unsigned int target_puts, target_dels, tgtset_puts, tgtset_dels;
	unsigned int group_puts, group_dels, binding_puts, binding_dels, slot_batches;
	unsigned int proxy_ups, proxy_downs, lefts;
	/* io.send's REPORTs and REPORTS: datagrams, the reports in them, the last one's RAP */
	unsigned int report_dgrams, reports_out;
	__u32 report_to;
	struct pias_binding binding; /* the last one put */
	struct pias_group group;     /* the last one put */
	__u32 target_id;	     /* the last target put */
	/* the last set put: its group, size, policy and first REC_SET ids and weights */
	struct pias_ta set_ta;
	size_t set_n;
	struct pias_policy set_policy;
	__u32 set_ids[REC_SET], set_weights[REC_SET];
	/* the JAP's writes in order: P target put, S/s set put/del, D target del, F flush */
	char ops[1024];
	size_t nops;
};

static void rec_op(struct rec *r, char op)
{
	if (r->nops < sizeof(r->ops) - 1)
		r->ops[r->nops++] = op;
}

struct world;

struct wnode {
	struct world *w;
	int idx; /* proxy id idx + 1 */
	bool up;
	struct pias_node n;
	struct rec r;
};

struct wmsg {
	int to;
	struct pias_peer from;
	struct pias_msg *m;
};

struct world {
	struct wnode nodes[MAX_NODES];
	struct wmsg q[QUEUE_MAX];
	size_t qhead, qtail;
	__u64 now;
	__u64 rng;
	__u64 report_period_ns;
	__u64 jap_timeout_ns; /* targets' refresh timeout; 0: the test's length (600 s) */
	/* the dataplane's last reply of each target id (io.last_reply), and who asked */
	__u64 reply_ns[256];
	unsigned int reply_asks;
	__u32 reply_asked; /* the last id asked about */
};

static struct pias_peer addr_of(int idx)
{
	struct pias_peer p = { .family = PIAS_AF_INET, .port = 7000 };

	p.addr.v4 = __builtin_bswap32(0xc0000201u + (__u32)idx); /* 192.0.2.1 + idx */
	return p;
}

static void enqueue(struct world *w, int to, int from, const struct pias_msg *m)
{
	struct wmsg *x;

	assert_true(w->qtail - w->qhead < QUEUE_MAX);
	x = &w->q[w->qtail++ % QUEUE_MAX];
	x->to = to;
	x->from = addr_of(from);
	x->m = malloc(sizeof(*m));
	assert_non_null(x->m);
	memcpy(x->m, m, sizeof(*m));
}

static void io_send(void *ctx, __u32 to, struct pias_msg *m)
{
	struct wnode *wn = ctx;

	wn->r.sends++;
	assert_int_not_equal(to, wn->idx + 1); /* to self goes through the loopback queue */
	if (m->hdr.type == PIAS_MSG_REPORT || m->hdr.type == PIAS_MSG_REPORTS) {
		wn->r.report_dgrams++;
		wn->r.reports_out += m->hdr.type == PIAS_MSG_REPORT ? 1 : m->reports.n;
		wn->r.report_to = to;
	}
	if (to >= 1 && to <= MAX_NODES)
		enqueue(wn->w, (int)to - 1, wn->idx, m);
}

static void io_send_peer(void *ctx, const struct pias_peer *to, struct pias_msg *m)
{
	struct wnode *wn = ctx;

	wn->r.send_peers++;
	for (int i = 0; i < MAX_NODES; i++)
		if (addr_of(i).addr.v4 == to->addr.v4)
			enqueue(wn->w, i, wn->idx, m);
}

static int target_put(void *ctx, __u32 id, const struct pias_target *t, struct pias_err *e)
{
	struct rec *r = &((struct wnode *)ctx)->r;

	(void)t, (void)e;
	r->target_puts++;
	rec_op(r, 'P');
	r->target_id = id;
	return 0;
}

static int target_del(void *ctx, __u32 id, struct pias_err *e)
{
	(void)id, (void)e;
	((struct wnode *)ctx)->r.target_dels++;
	rec_op(&((struct wnode *)ctx)->r, 'D');
	return 0;
}

static int tgtset_put(void *ctx, const struct pias_ta *ta, const __u32 *ids, const __u32 *weights,
		      size_t n, const struct pias_policy *policy, struct pias_err *e)
{
	struct rec *r = &((struct wnode *)ctx)->r;
	size_t k = n < REC_SET ? n : REC_SET;

	(void)e;
	r->tgtset_puts++;
	rec_op(r, 'S');
	r->set_ta = *ta;
	r->set_n = n;
	r->set_policy = *policy;
	memcpy(r->set_ids, ids, k * sizeof(*ids));
	memcpy(r->set_weights, weights, k * sizeof(*weights));
	return 0;
}

static int tgtset_del(void *ctx, const struct pias_ta *ta, struct pias_err *e)
{
	(void)ta, (void)e;
	((struct wnode *)ctx)->r.tgtset_dels++;
	rec_op(&((struct wnode *)ctx)->r, 's');
	return 0;
}

static int group_put(void *ctx, const struct pias_ta *ta, const struct pias_group *g,
		     struct pias_err *e)
{
	struct wnode *wn = ctx;

	(void)ta, (void)e;
	wn->r.group_puts++;
	wn->r.group = *g;
	return 0;
}

static int group_del(void *ctx, const struct pias_ta *ta, struct pias_err *e)
{
	(void)ta, (void)e;
	((struct wnode *)ctx)->r.group_dels++;
	return 0;
}

static int binding_put(void *ctx, const struct pias_ta *ta, const struct pias_binding *b,
		       const struct pias_group *set, struct pias_err *e)
{
	struct wnode *wn = ctx;

	(void)ta, (void)set, (void)e;
	wn->r.binding_puts++;
	wn->r.binding = *b;
	return 0;
}

static int binding_del(void *ctx, const struct pias_ta *ta, struct pias_err *e)
{
	(void)ta, (void)e;
	((struct wnode *)ctx)->r.binding_dels++;
	return 0;
}

static int slots_put(void *ctx, const __u32 *slots, const struct pias_rap_slot *vals, size_t n,
		     struct pias_err *e)
{
	(void)slots, (void)vals, (void)n, (void)e;
	((struct wnode *)ctx)->r.slot_batches++;
	return 0;
}

static void proxy_up(void *ctx, __u32 id, const struct pias_peer *at)
{
	(void)id, (void)at;
	((struct wnode *)ctx)->r.proxy_ups++;
}

static void proxy_down(void *ctx, __u32 id, const struct pias_peer *at, bool left)
{
	struct wnode *wn = ctx;

	(void)id, (void)at;
	wn->r.proxy_downs++;
	wn->r.lefts += left;
}

/* xorshift64*: the same world every run */
static __u32 io_rand(void *ctx)
{
	struct world *w = ((struct wnode *)ctx)->w;

	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return (__u32)((w->rng * 2685821657736338717ull) >> 32);
}

static __u64 io_last_reply(void *ctx, __u32 id)
{
	struct world *w = ((struct wnode *)ctx)->w;

	assert_true(id < sizeof(w->reply_ns) / sizeof(w->reply_ns[0]));
	w->reply_asks++;
	w->reply_asked = id;
	return w->reply_ns[id];
}

/* Proxy idx starts now, joining through proxy 0 (unless it is proxy 0). */
static int io_flush(void *ctx, struct pias_err *e)
{
	(void)e;
	rec_op(&((struct wnode *)ctx)->r, 'F');
	return 0;
}

static void node_start(struct world *w, int idx, unsigned int rap_k)
{
	struct wnode *wn = &w->nodes[idx];
	struct pias_peer seed = addr_of(0);
	struct pias_node_config cfg = {
		.id = (__u32)idx + 1,
		.self = addr_of(idx),
		.incarnation = 1,
		.seq_base = 1000 * SEC,
		.rap_k = rap_k,
		.report_period_ns = w->report_period_ns,
		/* targets stay alive without refreshes for the test's length */
		.jap = { .refresh_timeout_ns = w->jap_timeout_ns ? w->jap_timeout_ns : 600 * SEC,
			 .drain_timeout_ns = 30 * SEC,
			 .down_expire_ns = 30 * SEC,
			 .report_fraction = 0.25 },
		.rap = { .binding_ttl_ns = 10 * SEC,
			 .negative_ttl_ns = 30 * SEC,
			 .report_expiry_ns = 3 * w->report_period_ns,
			 .bind_interval_ns = 100 * MS },
	};
	struct pias_node_io io = {
		.ctx = wn,
		.send = io_send,
		.send_peer = io_send_peer,
		.target_put = target_put,
		.target_del = target_del,
		.tgtset_put = tgtset_put,
		.tgtset_del = tgtset_del,
		.group_put = group_put,
		.group_del = group_del,
		.binding_put = binding_put,
		.binding_del = binding_del,
		.rap_slots_put = slots_put,
		.proxy_up = proxy_up,
		.proxy_down = proxy_down,
		.rand = io_rand,
		.last_reply = io_last_reply,
		.flush = io_flush,
	};
	struct pias_err e;

	wn->w = w;
	wn->idx = idx;
	assert_int_equal(pias_node_init(&wn->n, &cfg, &io, &seed, idx ? 1 : 0, w->now, &e), 0);
	wn->up = true;
}

/* Every message queued, and those their handling queues, delivered. */
static void deliver(struct world *w)
{
	struct pias_err e;

	while (w->qhead != w->qtail) {
		struct wmsg x = w->q[w->qhead++ % QUEUE_MAX];

		if (w->nodes[x.to].up)
			pias_node_recv(&w->nodes[x.to].n, x.m, &x.from, w->now, &e);
		free(x.m);
	}
}

/* Virtual time passes: a tick of every node each 50 ms, messages delivered in between. */
static void run_for(struct world *w, __u64 ns)
{
	for (__u64 end = w->now + ns; w->now < end;) {
		w->now += TICK;
		for (int i = 0; i < MAX_NODES; i++)
			if (w->nodes[i].up)
				pias_node_tick(&w->nodes[i].n, w->now);
		deliver(w);
	}
}

/* Every live node has every other on its ring and has written its RAP table. */
static bool settled(const struct world *w)
{
	size_t live = 0;

	for (int i = 0; i < MAX_NODES; i++)
		live += w->nodes[i].up;
	for (int i = 0; i < MAX_NODES; i++) {
		const struct pias_node *n = &w->nodes[i].n;

		if (w->nodes[i].up &&
		    (n->ring.nproxies != live || !pias_node_ready(n) || n->ring_dirty))
			return false;
	}
	return true;
}

static void run_until_settled(struct world *w)
{
	for (int k = 0; k < 600 && !settled(w); k++)
		run_for(w, TICK);
	assert_true(settled(w));
}

static struct world *world_new(int nodes, unsigned int rap_k, __u64 report_period_ns)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->now = 1 * SEC;
	w->rng = 0x9e3779b97f4a7c15ull;
	w->report_period_ns = report_period_ns;
	for (int i = 0; i < nodes; i++)
		node_start(w, i, rap_k);
	run_until_settled(w);
	return w;
}

static void world_free(struct world *w)
{
	deliver(w);
	for (int i = 0; i < MAX_NODES; i++)
		if (w->nodes[i].up)
			pias_node_free(&w->nodes[i].n);
	free(w);
}

static struct pias_ta ta_n(unsigned int k)
{
	struct pias_ta ta = { .family = PIAS_AF_INET, .port = 53, .proto = 17 };

	ta.addr.v4 = __builtin_bswap32(0xc6336400u + k); /* 198.51.100.k */
	return ta;
}

/* TA k of many (k < 65,000): 250 addresses, a port each 250 */
static struct pias_ta ta_many(unsigned int k)
{
	struct pias_ta ta = ta_n(1 + k % 250);

	ta.port = (__u16)(1000 + k / 250);
	return ta;
}

/* The first TA (from 1 up) whose RAP at node idx is proxy rap. */
static struct pias_ta ta_with_rap(const struct world *w, int idx, __u32 rap)
{
	for (unsigned int k = 1; k < 255; k++) {
		struct pias_ta ta = ta_n(k);
		__u32 raps[PIAS_RAP_REPLICAS];

		if (pias_node_raps_of(&w->nodes[idx].n, &ta, raps) >= 1 && raps[0] == rap)
			return ta;
	}
	fail_msg("no TA with RAP %u", rap);
	return ta_n(0);
}

static int register_target(struct world *w, int idx, const struct pias_ta *ta, unsigned int j)
{
	struct pias_jap_endpoint ep = { .family = PIAS_AF_INET, .port = 8053 };
	struct pias_err e;
	int id;

	ep.addr.v4 = __builtin_bswap32(0xcb007100u + j); /* 203.0.113.j */
	id = pias_node_register(&w->nodes[idx].n, ta, &ep, 1, w->now, &e);
	if (id <= 0)
		fail_msg("register: %s", e.msg);
	return id;
}

static __u64 counter(const struct world *w, int idx, enum pias_node_counter c)
{
	return w->nodes[idx].n.counters[c];
}

#define A 0 /* the JAP */
#define B 1 /* the group's RAP */
#define C 2 /* an IAP */

/* Joining: every node learns the others through the seed and writes its RAP table. */
static void test_join(void **state)
{
	struct world *w = world_new(3, 1, 10 * SEC);

	(void)state;
	for (int i = 0; i < 3; i++) {
		const struct rec *r = &w->nodes[i].r;

		assert_int_equal(r->proxy_ups, 2);
		assert_true(r->slot_batches >= 1);
		assert_true(counter(w, i, PIAS_NODE_C_ring_rebuilds) >= 1);
	}
	/* they agree on each TA's RAP */
	for (unsigned int k = 1; k < 50; k++) {
		struct pias_ta ta = ta_n(k);
		__u32 r0[PIAS_RAP_REPLICAS], r[PIAS_RAP_REPLICAS];

		assert_int_equal(pias_node_raps_of(&w->nodes[0].n, &ta, r0), 1);
		for (int i = 1; i < 3; i++) {
			assert_int_equal(pias_node_raps_of(&w->nodes[i].n, &ta, r), 1);
			assert_int_equal(r[0], r0[0]);
		}
	}
	world_free(w);
}

/* The event kind on ta from IAP C, with JAP A as the dataplane's choice. */
static struct pias_event event(__u32 type, const struct pias_ta *ta)
{
	return (struct pias_event){ .type = type, .iap_id = C + 1, .jap_id = A + 1, .ta = *ta };
}

/*
 * A target registers at JAP A; A's REPORT makes RAP B publish the group; a
 * first packet of IAP C relayed by B (BOUND) binds C to A. Returns the
 * target's id.
 */
static int serve_and_bind(struct world *w, const struct pias_ta *ta)
{
	struct pias_event ev = event(PIAS_EV_BOUND, ta);
	const struct pias_rap_group *g;
	struct pias_err e;
	int id = register_target(w, A, ta, 1);

	assert_int_equal(w->nodes[A].r.target_puts, 1);
	assert_int_equal(w->nodes[A].r.target_id, id);
	/* its group's set, whole: the target with its weight */
	assert_int_equal(w->nodes[A].r.tgtset_puts, 1);
	assert_memory_equal(&w->nodes[A].r.set_ta, ta, sizeof(*ta));
	assert_int_equal(w->nodes[A].r.set_n, 1);
	assert_int_equal(w->nodes[A].r.set_ids[0], id);
	assert_int_equal(w->nodes[A].r.set_weights[0], 1);
	assert_int_equal(counter(w, A, PIAS_NODE_C_reports_sent), 1);
	deliver(w);
	assert_int_equal(counter(w, B, PIAS_NODE_C_reports_rcvd), 1);
	g = pias_rap_group(&w->nodes[B].n.rap, ta);
	assert_non_null(g);
	assert_int_equal(g->g.count, 1);
	assert_int_equal(w->nodes[B].r.group.japs[0].jap_id, A + 1);
	assert_int_equal(pias_node_dp_event(&w->nodes[B].n, &ev, w->now, &e), 0);
	assert_int_equal(counter(w, B, PIAS_NODE_C_bindings_sent), 1);
	deliver(w);
	assert_int_equal(w->nodes[C].r.binding_puts, 1);
	assert_int_equal(w->nodes[C].r.binding.jap_id, A + 1);
	assert_non_null(pias_iap_entry(&w->nodes[C].n.iap, ta));
	return id;
}

/* Bound as above; C refreshes its binding by a QUERY to B before it expires. */
static void test_register_report_bind_refresh(void **state)
{
	struct world *w = world_new(3, 1, 10 * SEC);
	struct pias_ta ta = ta_with_rap(w, A, B + 1);
	struct pias_event ev = event(PIAS_EV_MISS, &ta);
	struct pias_err e;

	(void)state;
	/* a MISS at the IAP asks nothing: the RAP that got the packet answers */
	assert_int_equal(pias_node_dp_event(&w->nodes[C].n, &ev, w->now, &e), 0);
	assert_int_equal(counter(w, C, PIAS_NODE_C_queries_sent), 0);
	serve_and_bind(w, &ta);
	/* a fifth of its 10 s left: the IAP asks its RAP again, and installs the answer */
	run_for(w, 9 * SEC);
	assert_true(counter(w, C, PIAS_NODE_C_queries_sent) >= 1);
	assert_true(counter(w, B, PIAS_NODE_C_bindings_sent) >= 2);
	assert_true(w->nodes[C].r.binding_puts >= 2);
	assert_int_equal(w->nodes[C].r.binding.jap_id, A + 1);
	assert_int_equal(w->nodes[C].r.binding_dels, 0);
	world_free(w);
}

/*
 * JAP A loses its target: its group's report goes to 0 and the RAP drops
 * the group; a packet that still reaches A for the TA (INVALIDATE event)
 * makes A invalidate the IAP's binding, at most once per interval.
 */
static void test_lost_targets_invalidate(void **state)
{
	struct world *w = world_new(3, 1, 10 * SEC);
	struct pias_ta ta = ta_with_rap(w, A, B + 1);
	struct pias_event ev = event(PIAS_EV_INVALIDATE, &ta);
	const struct pias_rap_group *g;
	struct pias_err e;
	int id = serve_and_bind(w, &ta);

	(void)state;
	assert_int_equal(pias_node_target_leave(&w->nodes[A].n, &ta, (__u32)id, true, w->now, &e),
			 0);
	assert_true(w->nodes[A].r.tgtset_dels >= 1);
	deliver(w);
	assert_int_equal(w->nodes[B].r.group_dels, 1);
	g = pias_rap_group(&w->nodes[B].n.rap, &ta);
	assert_true(!g || !g->g.count); /* no JAP left: not published */

	assert_int_equal(pias_node_dp_event(&w->nodes[A].n, &ev, w->now, &e), 0);
	assert_int_equal(counter(w, A, PIAS_NODE_C_invalidations_sent), 1);
	deliver(w);
	assert_int_equal(counter(w, C, PIAS_NODE_C_invalidations_rcvd), 1);
	assert_int_equal(w->nodes[C].r.binding_dels, 1);
	assert_null(pias_iap_entry(&w->nodes[C].n.iap, &ta));
	/* the next packet within the interval: limited */
	assert_int_equal(pias_node_dp_event(&w->nodes[A].n, &ev, w->now, &e), 0);
	assert_int_equal(counter(w, A, PIAS_NODE_C_invalidations_sent), 1);
	assert_int_equal(counter(w, A, PIAS_NODE_C_invalidations_limited), 1);
	world_free(w);
}

/* A TA that is no group: its RAP answers the IAP's first packet with a negative binding. */
static void test_no_group_negative(void **state)
{
	struct world *w = world_new(3, 1, 10 * SEC);
	struct pias_ta ta = ta_with_rap(w, A, B + 1);
	struct pias_event ev = event(PIAS_EV_NO_GROUP, &ta);
	struct pias_err e;

	(void)state;
	assert_int_equal(pias_node_dp_event(&w->nodes[B].n, &ev, w->now, &e), 0);
	assert_int_equal(counter(w, B, PIAS_NODE_C_bindings_sent), 1);
	deliver(w);
	assert_int_equal(w->nodes[C].r.binding_puts, 1);
	assert_true(w->nodes[C].r.binding.flags & PIAS_BINDING_F_NEGATIVE);
	world_free(w);
}

/*
 * JAP C withdraws and stops: the others hear it left, take it off their
 * rings, and what their roles held of it goes: RAP B's group of C's
 * target, IAP A's binding to C. (A withdrawn piasd that goes on running
 * still re-reports its groups, after its own ring change and every
 * period, and the RAPs take its reports: not what this test is about.)
 */
static void test_withdraw(void **state)
{
	struct world *w = world_new(3, 1, 10 * SEC);
	struct pias_ta ta = ta_with_rap(w, C, B + 1);
	struct pias_event ev = {
		.type = PIAS_EV_BOUND, .iap_id = A + 1, .jap_id = C + 1, .ta = ta
	};
	const struct pias_rap_group *g;
	struct pias_err e;

	(void)state;
	register_target(w, C, &ta, 1);
	deliver(w);
	assert_int_equal(pias_node_dp_event(&w->nodes[B].n, &ev, w->now, &e), 0);
	deliver(w);
	assert_int_equal(w->nodes[A].r.binding_puts, 1);
	assert_int_equal(w->nodes[A].r.binding.jap_id, C + 1);

	assert_int_equal(pias_node_leave(&w->nodes[C].n, w->now, &e), 0);
	deliver(w);
	pias_node_free(&w->nodes[C].n);
	w->nodes[C].up = false;
	run_for(w, 2 * SEC);
	for (int i = A; i <= B; i++) {
		assert_int_equal(w->nodes[i].r.proxy_downs, 1);
		assert_int_equal(w->nodes[i].r.lefts, 1);
		assert_int_equal(w->nodes[i].n.ring.nproxies, 2);
	}
	assert_int_equal(w->nodes[A].r.binding_dels, 1);
	assert_null(pias_iap_entry(&w->nodes[A].n.iap, &ta));
	assert_int_equal(w->nodes[B].r.group_dels, 1);
	g = pias_rap_group(&w->nodes[B].n.rap, &ta);
	assert_true(!g || !g->g.count);
	world_free(w);
}

/*
 * With k = 3 RAPs and 3 proxies every proxy is RAP of every group: the
 * JAP's REPORT to itself and its IAP's QUERY to itself go through the
 * loopback queue, never through io.send.
 */
static void test_loopback(void **state)
{
	struct world *w = world_new(3, 3, 10 * SEC);
	struct pias_ta ta = ta_n(7);
	struct pias_event ev = {
		.type = PIAS_EV_BOUND, .iap_id = A + 1, .jap_id = A + 1, .ta = ta
	};
	unsigned int sends = w->nodes[A].r.sends;
	struct pias_err e;

	(void)state;
	register_target(w, A, &ta, 1);
	/* three REPORTs: two datagrams, one to itself */
	assert_int_equal(counter(w, A, PIAS_NODE_C_reports_sent), 3);
	assert_int_equal(w->nodes[A].r.sends - sends, 2);
	assert_int_equal(counter(w, A, PIAS_NODE_C_loopback_msgs), 1);
	assert_int_equal(counter(w, A, PIAS_NODE_C_reports_rcvd), 1);
	assert_non_null(pias_rap_group(&w->nodes[A].n.rap, &ta));
	/* its own RAP binds its own IAP: the BINDING goes through the queue too */
	sends = w->nodes[A].r.sends;
	assert_int_equal(pias_node_dp_event(&w->nodes[A].n, &ev, w->now, &e), 0);
	assert_int_equal(w->nodes[A].r.sends, sends);
	assert_int_equal(w->nodes[A].r.binding_puts, 1);
	assert_int_equal(counter(w, A, PIAS_NODE_C_loopback_msgs), 2);
	world_free(w);
}

/* ngroups groups, a target each, registered at JAP A, their reports delivered. */
static void register_many(struct world *w, unsigned int ngroups)
{
	for (unsigned int k = 0; k < ngroups; k++) {
		struct pias_ta ta = ta_many(k);

		register_target(w, A, &ta, 1);
		if (k % 256 == 255)
			deliver(w);
	}
	deliver(w);
}

/*
 * A fourth proxy joins a JAP of 1,000 groups: the ring changes, every node
 * rewrites the slots that moved, and JAP A re-reports the groups of those
 * slots, and only those, so that each group whose RAP is now the newcomer
 * is known there at once (not at the periodic re-report, an hour away);
 * and they go packed, 30 to a REPORTS, all in the datagrams A sends.
 */
static void test_ring_change_rereports(void **state)
{
	struct world *w = world_new(3, 1, 3600 * SEC);
	__u64 reports, rebuilds = counter(w, A, PIAS_NODE_C_ring_rebuilds);
	unsigned int moved = 0, dgrams, out;
	const unsigned int ngroups = 1000;

	(void)state;
	register_many(w, ngroups);
	reports = counter(w, A, PIAS_NODE_C_reports_sent);
	dgrams = w->nodes[A].r.report_dgrams;
	out = w->nodes[A].r.reports_out;
	node_start(w, 3, 1);
	run_until_settled(w);
	assert_true(counter(w, A, PIAS_NODE_C_ring_rebuilds) > rebuilds);
	for (unsigned int k = 0; k < ngroups; k++) {
		struct pias_ta ta = ta_many(k);
		__u32 raps[PIAS_RAP_REPLICAS];
		const struct pias_rap_group *g;

		assert_int_equal(pias_node_raps_of(&w->nodes[A].n, &ta, raps), 1);
		if (raps[0] != 4)
			continue;
		moved++;
		g = pias_rap_group(&w->nodes[3].n.rap, &ta);
		assert_non_null(g);
		assert_int_equal(g->g.count, 1);
		assert_int_equal(g->g.japs[0].jap_id, A + 1);
	}
	assert_true(moved > 0 && moved < ngroups / 2);
	/* only those: the groups whose slots did not move are not re-reported */
	assert_int_equal(counter(w, A, PIAS_NODE_C_reports_sent) - reports, moved);
	/* through io.send, to the newcomer, in as few datagrams as hold them */
	assert_int_equal(w->nodes[A].r.reports_out - out, moved);
	assert_int_equal(w->nodes[A].r.report_dgrams - dgrams,
			 (moved + PIAS_MSG_REPORTS_MAX - 1) / PIAS_MSG_REPORTS_MAX);
	assert_int_equal(w->nodes[A].r.report_to, 4);
	world_free(w);
}

/*
 * The periodic re-report of a JAP of 1,000 groups, over one period: every
 * group once, to its RAP (A itself for some: through the loopback queue),
 * packed per RAP, and spread over the period in slices of about a
 * REPORTS' worth, not in one burst.
 */
static void test_periodic_rereport_spread_packed(void **state)
{
	const __u64 period = 10 * SEC;
	struct world *w = world_new(3, 1, period);
	const unsigned int ngroups = 1000;
	const struct rec *r = &w->nodes[A].r;
	unsigned int dgrams, out, busy = 0, most = 0;
	__u64 began, reports, loops, msgs;

	(void)state;
	register_many(w, ngroups);
	/* from the start of a period to its end */
	began = w->nodes[A].n.last_rereport_ns;
	while (w->nodes[A].n.last_rereport_ns == began)
		run_for(w, TICK);
	began = w->nodes[A].n.last_rereport_ns;
	reports = counter(w, A, PIAS_NODE_C_reports_sent);
	msgs = counter(w, A, PIAS_NODE_C_report_msgs_sent);
	loops = counter(w, A, PIAS_NODE_C_loopback_msgs);
	dgrams = r->report_dgrams;
	out = r->reports_out;
	for (__u64 t = 0; t < period; t += TICK) {
		__u64 before = counter(w, A, PIAS_NODE_C_reports_sent), now;

		run_for(w, TICK);
		now = counter(w, A, PIAS_NODE_C_reports_sent) - before;
		busy += now > 0;
		most = now > most ? (unsigned int)now : most;
	}
	assert_int_equal(w->nodes[A].n.last_rereport_ns, began + period);
	/* every group once: in the datagrams, and to A's own RAP through the loopback queue */
	assert_int_equal(counter(w, A, PIAS_NODE_C_reports_sent) - reports, ngroups);
	assert_int_equal(r->reports_out - out + counter(w, A, PIAS_NODE_C_loopback_msgs) - loops,
			 ngroups);
	assert_true(r->reports_out - out > ngroups / 2); /* two RAPs of three are others */
	/*
	 * packed: a slice of at least 30 groups (the last excepted) makes a
	 * message per RAP, and one more per 30 groups
	 */
	assert_true(counter(w, A, PIAS_NODE_C_report_msgs_sent) - msgs <=
		    4 * ngroups / PIAS_MSG_REPORTS_MAX + 3);
	assert_true(r->report_dgrams - dgrams <= 3 * ngroups / PIAS_MSG_REPORTS_MAX + 2);
	/* spread: a REPORTS' worth or two a tick, in many ticks of the period */
	assert_true(most <= 2 * PIAS_MSG_REPORTS_MAX);
	assert_true(busy >= ngroups / (2 * PIAS_MSG_REPORTS_MAX));
	/* the RAPs took them all */
	assert_true(counter(w, B, PIAS_NODE_C_reports_rcvd) +
			    counter(w, C, PIAS_NODE_C_reports_rcvd) >=
		    r->reports_out - out);
	world_free(w);
}

/*
 * A target whose agent stops refreshing but which still answers flows
 * (the dataplane's last reply, io.last_reply) stays ACTIVE; the node asks
 * the dataplane only about it, and only once its refreshes are late; when
 * its replies stop too, it goes DOWN.
 */
static void test_last_reply_keeps_alive(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct pias_ta ta = ta_n(1);
	const struct pias_jap_target *t;
	int id;

	(void)state;
	assert_non_null(w);
	w->now = 1 * SEC;
	w->rng = 1;
	w->report_period_ns = 10 * SEC;
	w->jap_timeout_ns = 1 * SEC;
	node_start(w, A, 1);
	run_until_settled(w);
	id = register_target(w, A, &ta, 1);
	run_for(w, 500 * MS);
	assert_int_equal(w->reply_asks, 0); /* refreshed within the timeout: not asked */

	/* no refresh from its agent from here on; the dataplane sees replies */
	for (int k = 0; k < 40; k++) {
		w->reply_ns[id] = w->now;
		run_for(w, 100 * MS);
	}
	t = pias_jap_target(&w->nodes[A].n.jap, (__u32)id);
	assert_non_null(t);
	assert_int_equal(t->t.state, PIAS_TARGET_ACTIVE);
	assert_true(w->reply_asks >= 1);
	assert_int_equal(w->reply_asked, id);
	assert_int_equal(w->nodes[A].r.target_puts, 1); /* its registration alone */

	/* the replies stop: DOWN within a timeout and a tick */
	run_for(w, 1 * SEC + TICK);
	t = pias_jap_target(&w->nodes[A].n.jap, (__u32)id);
	assert_non_null(t);
	assert_int_equal(t->t.state, PIAS_TARGET_DOWN);
	assert_int_equal(w->nodes[A].r.target_puts, 2);
	world_free(w);
}

/*
 * A tick that takes many targets down asks for their writes in a row, so
 * that the owner can make them in one batch: every target write of the
 * tick, then every set's, then io.flush (point 6 of issue 13). Before,
 * the node wrote each group's targets and set in turn.
 */
static void test_lost_targets_in_a_row(void **state)
{
	enum {
		GROUPS = 50,
		PER = 2
	};
	struct world *w = calloc(1, sizeof(*w));
	struct rec *r;
	size_t at;

	(void)state;
	assert_non_null(w);
	w->now = 1 * SEC;
	w->rng = 1;
	w->report_period_ns = 10 * SEC;
	w->jap_timeout_ns = 1 * SEC;
	node_start(w, A, 1);
	run_until_settled(w);
	for (unsigned int g = 1; g <= GROUPS; g++) {
		struct pias_ta ta = ta_n(g);

		for (unsigned int j = 0; j < PER; j++)
			register_target(w, A, &ta, j);
	}
	r = &w->nodes[A].r;
	assert_int_equal(r->target_puts, GROUPS * PER);
	r->nops = 0;
	memset(r->ops, 0, sizeof(r->ops));
	__u64 reports = counter(w, A, PIAS_NODE_C_reports_sent),
	      msgs = counter(w, A, PIAS_NODE_C_report_msgs_sent);

	/* no refresh and no reply: every target is late at the same tick */
	run_for(w, 1 * SEC + 2 * TICK);
	/* each group's report of its loss, packed: 30 to a message */
	assert_int_equal(counter(w, A, PIAS_NODE_C_reports_sent) - reports, GROUPS);
	assert_int_equal(counter(w, A, PIAS_NODE_C_report_msgs_sent) - msgs, (GROUPS + 29) / 30);
	assert_int_equal(r->target_puts, 2 * GROUPS * PER);
	for (at = 0; r->ops[at] == 'F';)
		at++; /* the ticks' ends before it, with nothing to write */
	for (size_t first = at; at < first + GROUPS * PER; at++)
		if (r->ops[at] != 'P')
			fail_msg("write %zu of the tick is '%c' in %s", at, r->ops[at], r->ops);
	for (size_t first = at; at < first + GROUPS; at++)
		assert_int_equal(r->ops[at], 's'); /* each group's set goes: no target up */
	assert_int_equal(r->ops[at], 'F');
	world_free(w);
}

/*
 * io.tgtset_put gets the set whole, read from the registry (issue 13,
 * point 2): every target of a group larger than the node's first scratch
 * (256), each with its weight; a target's new weight and a drain each
 * rewrite it (the weight, then 0: never drawn for a new flow), after the
 * target's own write. Before, the set named its ids alone and the owner
 * read each weight back from its maps (pias_tgtset_reweigh).
 */
static void test_set_put_whole(void **state)
{
	enum {
		N = 300
	};
	struct world *w = world_new(1, 1, 10 * SEC);
	struct pias_ta ta = ta_n(1);
	struct pias_jap_endpoint ep = { .family = PIAS_AF_INET };
	struct rec *r = &w->nodes[A].r;
	struct pias_err e;
	int ids[N];

	(void)state;
	ep.addr.v4 = __builtin_bswap32(0xcb007101u); /* 203.0.113.1, a port each */
	for (int j = 0; j < N; j++) {
		ep.port = (__u16)(1000 + j);
		ids[j] = pias_node_register(&w->nodes[A].n, &ta, &ep, 1 + j % 3, w->now, &e);
		if (ids[j] <= 0)
			fail_msg("register %d: %s", j, e.msg);
	}
	assert_int_equal(r->tgtset_puts, N);
	assert_int_equal(r->set_n, N);
	for (int j = 0; j < REC_SET; j++) {
		assert_int_equal(r->set_ids[j], ids[j]);
		assert_int_equal(r->set_weights[j], 1 + j % 3);
	}

	/* target 0 again with weight 7: its write, then its set's, then the flush */
	r->nops = 0;
	memset(r->ops, 0, sizeof(r->ops));
	ep.port = 1000;
	assert_int_equal(pias_node_register(&w->nodes[A].n, &ta, &ep, 7, w->now, &e), ids[0]);
	assert_string_equal(r->ops, "PSF");
	assert_int_equal(r->set_n, N);
	assert_int_equal(r->set_ids[0], ids[0]);
	assert_int_equal(r->set_weights[0], 7);
	assert_int_equal(r->set_weights[1], 2);

	/* drained: still in the set (its flows), with weight 0 */
	assert_int_equal(pias_node_drain(&w->nodes[A].n, &ta, &ep, w->now, &e), 0);
	assert_int_equal(r->tgtset_puts, N + 2);
	assert_int_equal(r->set_n, N);
	assert_int_equal(r->set_ids[0], ids[0]);
	assert_int_equal(r->set_weights[0], 0);
	world_free(w);
}

/* Nodes are independent: no state is shared between two worlds run side by side. */
static void test_two_worlds(void **state)
{
	struct world *w1 = world_new(3, 1, 10 * SEC), *w2 = world_new(2, 1, 10 * SEC);
	struct pias_ta ta = ta_n(9);

	(void)state;
	register_target(w1, A, &ta, 1);
	deliver(w1);
	deliver(w2);
	assert_int_equal(pias_jap_ngroups(&w1->nodes[A].n.jap), 1);
	assert_int_equal(pias_jap_ngroups(&w2->nodes[A].n.jap), 0);
	assert_int_equal(w2->nodes[A].n.ring.nproxies, 2);
	assert_int_equal(counter(w2, A, PIAS_NODE_C_reports_sent), 0);
	world_free(w1);
	world_free(w2);
}

int test_node(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_register_report_bind_refresh),
		cmocka_unit_test(test_lost_targets_invalidate),
		cmocka_unit_test(test_no_group_negative),
		cmocka_unit_test(test_withdraw),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_ring_change_rereports),
		cmocka_unit_test(test_periodic_rereport_spread_packed),
		cmocka_unit_test(test_last_reply_keeps_alive),
		cmocka_unit_test(test_lost_targets_in_a_row),
		cmocka_unit_test(test_set_put_whole),
		cmocka_unit_test(test_two_worlds),
	};

	return cmocka_run_group_tests_name("node", tests, NULL, NULL);
}
