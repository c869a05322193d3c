// SPDX-License-Identifier: MIT
/*
 * The node's overlay: membership's messages and timers (membership.h); its
 * PROXY_UP and PROXY_DOWN move proxies on and off the ring (ring.h), tell
 * the owner (its proxy table), and tell the RAP and IAP of a dead JAP; a
 * changed ring becomes the RAP table by writing only the slots that
 * differ, in one batch, after which this JAP re-reports its groups so
 * that their new RAPs learn them.
 *
 * Restart: until this proxy has the overlay's full view (or join_wait_ns
 * has passed without one), the RAP table is not rewritten, so a restarted
 * piasd does not shrink the dataplane's world to itself while it rejoins.
 */
#include <stdlib.h>
#include <string.h>

#include "node_priv.h"

#define MEMBERS_ACTIONS_MIN 64
#define MEMBERS_MSGS_MIN    8 /* a tick needs PIAS_MEMBERS_TICK_MSGS(k): 7 with k = 3 */

static __u32 members_rand(void *ctx)
{
	const struct pias_node *n = ctx;

	return n->io.rand ? n->io.rand(n->io.ctx) : 0;
}

/* Double the room of membership's action list and message arena. */
static int members_grow(struct pias_node_members_acts *l)
{
	size_t acap = l->cap ? 2 * l->cap : MEMBERS_ACTIONS_MIN;
	size_t mcap = l->msgs_cap ? 2 * l->msgs_cap : MEMBERS_MSGS_MIN;
	struct pias_members_action *a = realloc(l->a, acap * sizeof(*a));
	struct pias_msg *m;

	if (!a)
		return -ENOMEM;
	l->a = a;
	l->cap = acap;
	m = realloc(l->msgs, mcap * sizeof(*m));
	if (!m)
		return -ENOMEM;
	l->msgs = m;
	l->msgs_cap = mcap;
	return 0;
}

/* Run a membership call with the node's lists emptied; on -ENOBUFS grow them and run it again. */
#define MEMBERS_RUN(n, acts, call)                                                                 \
	({                                                                                         \
		int _err;                                                                          \
		for (;;) {                                                                         \
			acts = (struct pias_members_actions){ .a = (n)->mem_acts.a,                \
							      .cap = (n)->mem_acts.cap,            \
							      .msgs = (n)->mem_acts.msgs,          \
							      .msgs_cap =                          \
								      (n)->mem_acts.msgs_cap };    \
			_err = (call);                                                             \
			if (_err != -ENOBUFS || members_grow(&(n)->mem_acts))                      \
				break;                                                             \
		}                                                                                  \
		_err;                                                                              \
	})

/* The ring changed: the table is rebuilt at the next tick (once the view is in). */
static void ring_changed(struct pias_node *n, int err)
{
	if (!err)
		n->ring_dirty = true;
}

static void proxy_up(struct pias_node *n, __u32 id, const struct pias_peer *at)
{
	struct pias_err e;

	if (n->io.proxy_up)
		n->io.proxy_up(n->io.ctx, id, at);
	ring_changed(n, pias_ring_add(&n->ring, id, &e));
}

/* Membership gave up on proxy id's piasd (dead or left): off the ring; its bindings go. */
static void proxy_down(struct pias_node *n, __u32 id, __u64 now)
{
	const struct pias_member *mb = pias_members_get(&n->members, id);
	struct pias_peer at = { .family = PIAS_AF_NONE };
	struct pias_err e;

	if (mb)
		at = (struct pias_peer){ .addr = mb->addr, .family = mb->family, .port = mb->port };
	if (n->io.proxy_down)
		n->io.proxy_down(n->io.ctx, id, &at, mb && mb->state == PIAS_MEMBER_LEFT);
	ring_changed(n, pias_ring_remove(&n->ring, id, &e));
	node_rap_jap_dead(n, id, now);
	node_iap_jap_dead(n, id, now);
}

static void members_apply(struct pias_node *n, const struct pias_members_actions *a, __u64 now)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct pias_members_action *x = &a->a[i];

		switch (x->kind) {
		case PIAS_MEMBERS_SEND:
			if (n->io.send_peer)
				n->io.send_peer(n->io.ctx, &x->peer, x->msg);
			break;
		case PIAS_MEMBERS_PROXY_UP:
			proxy_up(n, x->id, &x->peer);
			break;
		case PIAS_MEMBERS_PROXY_DOWN:
			proxy_down(n, x->id, now);
			break;
		}
	}
}

int node_members_recv(struct pias_node *n, const struct pias_msg *m, const struct pias_peer *from,
		      __u64 now, struct pias_err *e)
{
	struct pias_members_actions a;
	int err = MEMBERS_RUN(n, a, pias_members_recv(&n->members, m, from, now, &a, e));

	if (!err)
		members_apply(n, &a, now);
	return err;
}

/* The table from the ring; only the slots that differ are written, in one batch. */
static void ring_write(struct pias_node *n, __u64 now)
{
	struct pias_rap_slot *table = malloc(PIAS_RAP_SLOTS * sizeof(*table));
	struct pias_rap_slot *vals = malloc(PIAS_RAP_SLOTS * sizeof(*vals));
	__u32 *slots = malloc(PIAS_RAP_SLOTS * sizeof(*slots));
	struct pias_err e;
	size_t k = 0;
	int err;

	if (!table || !vals || !slots) {
		NODE_LOG_W(n, "RAP table not rebuilt: no memory");
		goto out;
	}
	if (pias_ring_fill_table(&n->ring, n->cfg.rap_k, table, &e) ||
	    pias_ring_table_diff(n->rap_table, table, slots, &k)) {
		NODE_LOG_W(n, "RAP table not rebuilt: %s", e.msg);
		goto out;
	}
	for (size_t i = 0; i < k; i++)
		vals[i] = table[slots[i]];
	err = k && n->io.rap_slots_put ? n->io.rap_slots_put(n->io.ctx, slots, vals, k, &e) : 0;
	if (err) {
		NODE_LOG_W(n, "RAP table: %s", e.msg);
		goto out; /* still dirty: again at the next tick */
	}
	memcpy(n->rap_table, table, PIAS_RAP_SLOTS * sizeof(*table));
	n->ring_dirty = false;
	NODE_INC(n, ring_rebuilds);
	NODE_ADD(n, rap_slots_written, k);
	NODE_LOG_I(n, "ring: %zu proxies, %zu RAP slots changed", n->ring.nproxies, k);
	/* groups may have new RAPs: tell them what this JAP holds */
	if (k) {
		pias_rap_ring_changed(&n->rap, now);
		node_rereport(n, now);
	}
out:
	free(table);
	free(vals);
	free(slots);
}

void node_ring_tick(struct pias_node *n, __u64 now)
{
	struct pias_members_actions a;
	struct pias_err e;

	if (pias_members_next_tick(&n->members) <= now) {
		if (MEMBERS_RUN(n, a, pias_members_tick(&n->members, now, &a, &e)))
			NODE_LOG_W(n, "membership tick: %s", e.msg);
		else
			members_apply(n, &a, now);
	}
	if (!n->ring_ready &&
	    (pias_members_joined(&n->members) || now - n->started_ns > n->cfg.join_wait_ns)) {
		n->ring_ready = true;
		n->ring_dirty = true;
		NODE_LOG_I(n, "overlay %s: %u proxies alive",
			   pias_members_joined(&n->members) ? "joined"
							    : "not joined yet (no seed answered)",
			   pias_members_alive(&n->members));
	}
	if (n->ring_ready && n->ring_dirty)
		ring_write(n, now);
}

int pias_node_leave(struct pias_node *n, __u64 now, struct pias_err *e)
{
	struct pias_members_actions a;
	int err = MEMBERS_RUN(n, a, pias_members_leave(&n->members, now, &a, e));

	if (!err)
		members_apply(n, &a, now);
	ring_changed(n, pias_ring_remove(&n->ring, n->cfg.id, NULL));
	return err;
}

bool pias_node_ready(const struct pias_node *n)
{
	return n->ring_ready;
}

int pias_node_peer(const struct pias_node *n, __u32 id, struct pias_peer *out)
{
	const struct pias_member *mb = pias_members_get(&n->members, id);

	if (!mb || !mb->family)
		return -ENOENT;
	*out = (struct pias_peer){ .addr = mb->addr, .family = mb->family, .port = mb->port };
	return 0;
}

__u64 pias_node_rtt_ns(const struct pias_node *n, __u32 a, __u32 b)
{
	return pias_members_rtt_ns(&n->members, a, b);
}

__u64 node_rtt(void *ctx, __u32 a, __u32 b)
{
	return pias_node_rtt_ns(ctx, a, b);
}

int pias_node_raps_of(const struct pias_node *n, const struct pias_ta *ta,
		      __u32 out[PIAS_RAP_REPLICAS])
{
	struct pias_rap_slot s;
	int k = pias_ring_raps_of_ta(n->rap_table, ta, &s);

	memcpy(out, s.rap, sizeof(s.rap));
	return k;
}

__u32 node_rap_of(void *ctx, const struct pias_ta *ta)
{
	__u32 raps[PIAS_RAP_REPLICAS];

	return pias_node_raps_of(ctx, ta, raps) > 0 ? raps[0] : 0;
}

void pias_node_restore_rap_table(struct pias_node *n, const struct pias_rap_slot *table)
{
	memcpy(n->rap_table, table, PIAS_RAP_SLOTS * sizeof(*table));
}

int node_ring_init(struct pias_node *n, const struct pias_peer *seeds, size_t nseeds, __u64 now,
		   struct pias_err *e)
{
	struct pias_members_config mc = n->cfg.members;
	int err;

	n->rap_table = calloc(PIAS_RAP_SLOTS, sizeof(*n->rap_table));
	if (!n->rap_table || members_grow(&n->mem_acts))
		return pias_err_set(e, -ENOMEM, "no memory for the RAP table");
	if (n->io.rand) {
		mc.rand = members_rand;
		mc.rand_ctx = n;
	}
	err = pias_ring_init(&n->ring, 0, e);
	if (!err)
		err = pias_ring_add(&n->ring, n->cfg.id, e);
	if (!err)
		err = pias_members_init(&n->members, &mc, n->cfg.id, &n->cfg.self,
					n->cfg.incarnation, NULL, now, e);
	for (size_t i = 0; !err && i < nseeds; i++)
		err = pias_members_add_seed(&n->members, &seeds[i], e);
	return err;
}

void node_ring_free(struct pias_node *n)
{
	pias_members_free(&n->members);
	pias_ring_free(&n->ring);
	free(n->rap_table);
	free(n->mem_acts.a);
	free(n->mem_acts.msgs);
	n->rap_table = NULL;
	n->mem_acts = (struct pias_node_members_acts){ 0 };
}
