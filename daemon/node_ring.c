// SPDX-License-Identifier: MIT
/*
 * The node's overlay: membership's messages and timers (membership.h); its
 * PROXY_UP and PROXY_DOWN move proxies on and off the ring (lib/ring.h),
 * marking the RAP table slots this may change, tell the owner (its proxy
 * table), and tell the RAP and IAP of a dead JAP. The next tick recomputes
 * only the marked slots, writes the ones that differ in one batch, and
 * this JAP re-reports only the groups of those slots, so that their new
 * RAPs learn them.
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

/* The ring changed: its marked slots are recomputed at the next tick (once the view is in). */
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
	ring_changed(n, pias_ring_join(&n->ring, id, n->cfg.rap_k, n->rap_dirty, &e));
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
	ring_changed(n, pias_ring_leave(&n->ring, id, n->cfg.rap_k, n->rap_dirty, &e));
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

/* How many slots set holds. */
static size_t slot_count(const struct pias_slot_set *set)
{
	size_t c = 0;

	for (size_t w = 0; w < PIAS_SLOT_SET_WORDS; w++)
		c += (size_t)__builtin_popcountll(set->w[w]);
	return c;
}

/*
 * The marked slots recomputed from the ring; those that differ written in
 * one batch, then re-reported. On failure they stay marked: the next tick
 * tries again.
 */
static void ring_write(struct pias_node *n, __u64 now)
{
	size_t cap = slot_count(n->rap_dirty), k = 0;
	__u32 *slots = malloc((cap ? cap : 1) * sizeof(*slots));
	struct pias_rap_slot *vals = malloc((cap ? cap : 1) * sizeof(*vals));
	struct pias_slot_set *moved = calloc(1, sizeof(*moved));
	struct pias_err e;
	int err;

	if (!slots || !vals || !moved) {
		NODE_LOG_W(n, "RAP table not rebuilt: no memory");
		goto out;
	}
	if (pias_ring_refill(&n->ring, n->cfg.rap_k, n->rap_table, n->rap_dirty, slots, vals, &k,
			     &e)) {
		NODE_LOG_W(n, "RAP table not rebuilt: %s", e.msg);
		goto out;
	}
	err = k && n->io.rap_slots_put ? n->io.rap_slots_put(n->io.ctx, slots, vals, k, &e) : 0;
	if (err) {
		NODE_LOG_W(n, "RAP table: %s", e.msg);
		goto out;
	}
	for (size_t i = 0; i < k; i++) {
		if (n->own_table)
			n->rap_table[slots[i]] = vals[i];
		pias_slot_set_add(moved, slots[i]);
	}
	memset(n->rap_dirty, 0, sizeof(*n->rap_dirty));
	n->ring_dirty = false;
	NODE_INC(n, ring_rebuilds);
	NODE_ADD(n, rap_slots_written, k);
	NODE_LOG_I(n, "ring: %zu proxies, %zu RAP slots changed", n->ring.nproxies, k);
	/* groups there may have new RAPs: tell them what this JAP holds */
	if (k) {
		pias_rap_ring_changed(&n->rap, now);
		node_rereport(n, now, moved);
	}
out:
	free(slots);
	free(vals);
	free(moved);
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
	ring_changed(n, pias_ring_leave(&n->ring, n->cfg.id, n->cfg.rap_k, n->rap_dirty, NULL));
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

int node_ring_init(struct pias_node *n, const struct pias_peer *seeds, size_t nseeds, __u64 now,
		   struct pias_err *e)
{
	struct pias_members_config mc = n->cfg.members;
	int err;

	n->own_table = !n->cfg.rap_table;
	n->rap_table =
		n->own_table ? calloc(PIAS_RAP_SLOTS, sizeof(*n->rap_table)) : n->cfg.rap_table;
	n->rap_dirty = calloc(1, sizeof(*n->rap_dirty));
	if (!n->rap_table || !n->rap_dirty || members_grow(&n->mem_acts))
		return pias_err_set(e, -ENOMEM, "no memory for the RAP table");
	/* every slot compared with the table at the first write: a restart writes what moved */
	pias_slot_set_add_range(n->rap_dirty, 0, PIAS_RAP_SLOTS);
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
	if (n->own_table)
		free(n->rap_table);
	free(n->rap_dirty);
	free(n->mem_acts.a);
	free(n->mem_acts.msgs);
	n->rap_table = NULL;
	n->rap_dirty = NULL;
	n->mem_acts = (struct pias_node_members_acts){ 0 };
}
