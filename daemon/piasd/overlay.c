// SPDX-License-Identifier: MIT
/*
 * Membership, the ring and the RAP table at the edge. Membership's PROXY_UP
 * and PROXY_DOWN write the proxy map and move proxies on and off the ring,
 * marking the RAP table slots that this may change (lib/ring.h); the next
 * tick recomputes only those and writes the ones that differ into the
 * mapped table, and this JAP re-reports only the groups of those slots.
 *
 * Restart: until this proxy has the overlay's full view (or a few seconds
 * have passed without one), neither the RAP table nor other proxies'
 * entries are rewritten, so a restarted piasd does not shrink the
 * dataplane's world to itself while it rejoins.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <sodium.h>

#include "piasd.h"

#define ACTIONS_CAP  1024
#define ARENA_CAP    64
#define JOIN_WAIT_NS 3000000000ull /* write the table anyway after this */

static struct pias_members_action actions[ACTIONS_CAP];
static struct pias_msg *arena;
static __u32 *changed_keys;
static struct pias_rap_slot *changed_vals;
static struct pias_slot_set *moved;
static bool ring_ready;

static __u32 rand_u32(void *ctx)
{
	(void)ctx;
	return randombytes_random();
}

static struct pias_members_actions acts_reset(void)
{
	return (struct pias_members_actions){
		.a = actions, .cap = ACTIONS_CAP, .msgs = arena, .msgs_cap = ARENA_CAP
	};
}

static void ring_write(struct piasd *d)
{
	struct pias_err e;
	size_t n = 0;
	int err;

	if (pias_ring_refill(&d->ring, d->rap_k, d->rap_table, d->rap_dirty, changed_keys,
			     changed_vals, &n, &e)) {
		LOG_W("RAP table not rebuilt: %s", e.msg);
		return;
	}
	/* on failure the slots stay dirty: the next tick tries again */
	err = pias_rap_slots_write(&d->maps, changed_keys, changed_vals, n, &e);
	if (err) {
		PIASD_INC(d, map_errors);
		LOG_W("RAP table: %s", e.msg);
		return;
	}
	memset(moved, 0, sizeof(*moved));
	for (size_t i = 0; i < n; i++)
		pias_slot_set_add(moved, changed_keys[i]);
	memset(d->rap_dirty, 0, sizeof(*d->rap_dirty));
	d->ring_dirty = false;
	PIASD_INC(d, ring_rebuilds);
	d->counters[PIASD_C_rap_slots_written] += n;
	LOG_I("ring: %zu proxies, %zu RAP slots changed", d->ring.nproxies, n);
	/* groups there may have new RAPs: tell them what this JAP holds */
	if (n) {
		pias_rap_ring_changed(&d->rap, piasd_now());
		piasd_proto_rereport(d, moved);
	}
}

/* Proxy id's entry in the dataplane, with our pair's tunnel tags under d->keys. */
static int proxy_write(struct piasd *d, __u32 id, const union pias_addr *a, __u8 family,
		       enum pias_proxy_state state, struct pias_err *e)
{
	struct pias_tun_tags t;

	pias_keyring_tun_tags(&d->keys, d->cfg.node_id, id, &t);
	return pias_proxy_set(&d->maps, id, a, family, state, &t, e);
}

void piasd_overlay_rekey(struct piasd *d)
{
	size_t n = 0;

	for (const struct pias_member *mb = pias_members_next(&d->members, 0); mb;
	     mb = pias_members_next(&d->members, mb->id)) {
		struct pias_proxy p;
		struct pias_err e;

		/* as the dataplane has it: only the tags change */
		if (pias_proxy_get(&d->maps, mb->id, &p, &e) || p.family == PIAS_AF_NONE)
			continue;
		if (proxy_write(d, mb->id, &p.addr, p.family, p.state, &e)) {
			PIASD_INC(d, map_errors);
			LOG_W("proxy %u: %s", mb->id, e.msg);
			continue;
		}
		n++;
	}
	LOG_I("tunnel tags of %zu proxies rewritten", n);
}

static void proxy_up(struct piasd *d, __u32 id, const struct pias_peer *p)
{
	char s[PIAS_ADDR_STRLEN];
	struct pias_err e;

	if (proxy_write(d, id, &p->addr, p->family, PIAS_PROXY_UP, &e)) {
		PIASD_INC(d, map_errors);
		LOG_W("proxy %u: %s", id, e.msg);
	}
	pias_dplive_forget(&d->dplive, id);
	if (!pias_ring_join(&d->ring, id, d->rap_k, d->rap_dirty, &e))
		d->ring_dirty = true;
	LOG_I("proxy %u up at %s", id, pias_addr_str(&p->addr, p->family, s, sizeof(s)));
}

/*
 * Membership gave up on proxy id's piasd (dead or left). Its dataplane may
 * live on: until it stops answering echoes (dplive.h) it is DP_ONLY, and
 * the flows pinned to it go on there; nothing new goes there either way.
 */
static void proxy_down(struct piasd *d, __u32 id)
{
	const struct pias_member *mb = pias_members_get(&d->members, id);
	bool watched = mb && pias_dplive_watch(&d->dplive, id, piasd_now());
	struct pias_err e;

	/* DOWN keeps the address known: late tunnel packets from it still parse */
	if (mb && proxy_write(d, id, &mb->addr, mb->family,
			      watched ? PIAS_PROXY_DP_ONLY : PIAS_PROXY_DOWN, &e)) {
		PIASD_INC(d, map_errors);
		LOG_W("proxy %u: %s", id, e.msg);
	}
	if (watched)
		PIASD_INC(d, dp_only);
	if (!pias_ring_leave(&d->ring, id, d->rap_k, d->rap_dirty, &e))
		d->ring_dirty = true;
	LOG_I("proxy %u down (%s)%s", id, mb && mb->state == PIAS_MEMBER_LEFT ? "left" : "dead",
	      watched ? ": its flows stay while its dataplane answers echoes" : "");
	piasd_proto_proxy_down(d, id);
}

/* The dataplane watch: echoes due, and proxies whose dataplane went quiet too. */
static void dplive_tick(struct piasd *d, __u64 now)
{
	static struct pias_dplive_actions acts;
	struct pias_err e;

	while (pias_dplive_tick(&d->dplive, now, &acts) == -ENOBUFS) {
		size_t cap = acts.cap ? 2 * acts.cap : 16;
		struct pias_dplive_action *a = realloc(acts.a, cap * sizeof(*a));

		if (!a)
			return;
		acts.a = a;
		acts.cap = cap;
	}
	for (size_t i = 0; i < acts.n; i++) {
		__u32 id = acts.a[i].id;
		const struct pias_member *mb = pias_members_get(&d->members, id);

		if (acts.a[i].kind == PIAS_DPLIVE_ECHO) {
			piasd_echo_send(d, id);
			continue;
		}
		PIASD_INC(d, dp_only_ended);
		LOG_I("proxy %u: its dataplane stopped answering too: down, its flows move", id);
		if (mb && proxy_write(d, id, &mb->addr, mb->family, PIAS_PROXY_DOWN, &e)) {
			PIASD_INC(d, map_errors);
			LOG_W("proxy %u: %s", id, e.msg);
		}
	}
}

static void apply(struct piasd *d, const struct pias_members_actions *a)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct pias_members_action *x = &a->a[i];

		switch (x->kind) {
		case PIAS_MEMBERS_SEND:
			piasd_send(d, &x->peer, x->msg);
			break;
		case PIAS_MEMBERS_PROXY_UP:
			proxy_up(d, x->id, &x->peer);
			break;
		case PIAS_MEMBERS_PROXY_DOWN:
			proxy_down(d, x->id);
			break;
		}
	}
}

void piasd_overlay_recv(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from)
{
	struct pias_members_actions a = acts_reset();
	struct pias_err e;

	if (pias_members_recv(&d->members, m, from, piasd_now(), &a, &e)) {
		LOG_D("%s from proxy %u: %s", pias_msg_type_name(m->hdr.type), m->hdr.sender_id,
		      e.msg);
		return;
	}
	apply(d, &a);
}

void piasd_overlay_tick(struct piasd *d, __u64 now)
{
	struct pias_members_actions a = acts_reset();
	struct pias_err e;

	if (pias_members_next_tick(&d->members) <= now) {
		if (pias_members_tick(&d->members, now, &a, &e))
			LOG_W("membership tick: %s", e.msg);
		else
			apply(d, &a);
	}
	if (!ring_ready &&
	    (pias_members_joined(&d->members) || now - d->started_ns > JOIN_WAIT_NS)) {
		ring_ready = true;
		d->ring_dirty = true;
		LOG_I("overlay %s: %u proxies alive",
		      pias_members_joined(&d->members) ? "joined"
						       : "not joined yet (no seed answered)",
		      pias_members_alive(&d->members));
	}
	if (ring_ready && d->ring_dirty)
		ring_write(d);
	dplive_tick(d, now);
}

bool piasd_overlay_ready(const struct piasd *d)
{
	(void)d;
	return ring_ready;
}

void piasd_overlay_leave(struct piasd *d)
{
	struct pias_members_actions a = acts_reset();
	struct pias_err e;

	d->withdrawn = true;
	if (pias_members_leave(&d->members, piasd_now(), &a, &e))
		LOG_W("leave: %s", e.msg);
	else
		apply(d, &a);
	if (!pias_ring_leave(&d->ring, d->cfg.node_id, d->rap_k, d->rap_dirty, &e))
		d->ring_dirty = true;
	LOG_I("withdrawn: left the overlay; registrations refused");
}

int piasd_proxy_peer(struct piasd *d, __u32 id, struct pias_peer *out)
{
	const struct pias_member *mb = pias_members_get(&d->members, id);

	if (!mb || !mb->family)
		return -ENOENT;
	*out = (struct pias_peer){ .addr = mb->addr, .family = mb->family, .port = mb->port };
	return 0;
}

__u64 piasd_rtt_ns(struct piasd *d, __u32 a, __u32 b)
{
	return pias_members_rtt_ns(&d->members, a, b);
}

int piasd_raps_of(struct piasd *d, const struct pias_ta *ta, __u32 out[PIAS_RAP_REPLICAS])
{
	struct pias_rap_slot s;
	int n = pias_ring_raps_of_ta(d->rap_table, ta, &s);

	memcpy(out, s.rap, sizeof(s.rap));
	return n;
}

void piasd_overlay_show(struct piasd *d, struct evbuffer *o, bool json)
{
	char a[PIAS_ADDR_STRLEN];
	bool first = true;

	if (json)
		evbuffer_add_printf(o, "[");
	else
		evbuffer_add_printf(o, "%-8s %-8s %-12s %-26s %-10s %s\n", "ID", "STATE",
				    "INCARNATION", "ADDRESS", "RTT_MS", "COORD(x,y,h ms)");
	for (const struct pias_member *mb = pias_members_next(&d->members, 0); mb;
	     mb = pias_members_next(&d->members, mb->id)) {
		double rtt = pias_members_rtt_ns(&d->members, d->cfg.node_id, mb->id) / 1e6;

		pias_endpoint_str(&mb->addr, mb->family, mb->port, a, sizeof(a));
		if (json)
			evbuffer_add_printf(
				o,
				"%s{\"id\":%u,\"state\":\"%s\",\"incarnation\":%u,"
				"\"address\":\"%s\",\"self\":%s,\"rtt_ms\":%.3f,"
				"\"coord\":[%.3f,%.3f,%.3f],\"dataplane_only\":%s}",
				first ? "" : ",", mb->id, pias_member_state_name(mb->state),
				mb->incarnation, a, mb->id == d->cfg.node_id ? "true" : "false",
				rtt, mb->coord.x / 1e3, mb->coord.y / 1e3, mb->coord.h / 1e3,
				pias_dplive_watched(&d->dplive, mb->id) ? "true" : "false");
		else
			evbuffer_add_printf(o, "%-8u %-8s %-12u %-26s %-10.3f %.2f,%.2f,%.2f%s\n",
					    mb->id, pias_member_state_name(mb->state),
					    mb->incarnation, a, rtt, mb->coord.x / 1e3,
					    mb->coord.y / 1e3, mb->coord.h / 1e3,
					    mb->id == d->cfg.node_id ? " (self)"
					    : pias_dplive_watched(&d->dplive, mb->id)
						    ? " (dataplane only: its flows stay)"
						    : "");
		first = false;
	}
	if (json)
		evbuffer_add_printf(o, "]\n");
}

int piasd_overlay_init(struct piasd *d, struct pias_err *e)
{
	const struct piasd_config *c = &d->cfg;
	const struct piasd_addr *own = c->addr4.family ? &c->addr4 : &c->addr6;
	struct pias_peer self = { .addr = own->addr,
				  .family = own->family,
				  .port = c->listen_port };
	struct pias_members_config mc = {
		.probe_interval_ns = (__u64)c->probe_interval_ms * 1000000ull,
		.suspect_timeout_ns = (__u64)c->suspect_timeout_ms * 1000000ull,
		.reconnect_ns = (__u64)c->reconnect_ms * 1000000ull,
		.rand = rand_u32,
	};
	struct pias_dplive_config dc = {
		.echo_interval_ns = (__u64)c->dataplane_echo_ms * 1000000ull,
		.timeout_ns = (__u64)c->dataplane_timeout_ms * 1000000ull,
	};
	int err;

	err = pias_dplive_init(&d->dplive, &dc, e);
	if (err)
		return err;
	arena = calloc(ARENA_CAP, sizeof(*arena));
	changed_vals = calloc(PIAS_RAP_SLOTS, sizeof(*changed_vals));
	changed_keys = calloc(PIAS_RAP_SLOTS, sizeof(*changed_keys));
	moved = calloc(1, sizeof(*moved));
	d->rap_dirty = calloc(1, sizeof(*d->rap_dirty));
	if (!arena || !changed_vals || !changed_keys || !moved || !d->rap_dirty)
		return pias_err_set(e, -ENOMEM, "no memory for the RAP table");
	d->rap_k = c->rap_replicas;
	/*
	 * The table is the dataplane's, mapped: a restart compares every slot
	 * against it once the ring is ready, and writes only what differs.
	 */
	d->rap_table = d->maps.rap;
	pias_slot_set_add_range(d->rap_dirty, 0, PIAS_RAP_SLOTS);
	err = pias_ring_init(&d->ring, 0, e);
	if (!err)
		err = pias_ring_add(&d->ring, c->node_id, e);
	if (!err)
		err = pias_members_init(&d->members, &mc, c->node_id, &self,
					(__u32)(piasd_realtime() / 1000000000ull), NULL,
					piasd_now(), e);
	if (!err)
		err = proxy_write(d, c->node_id, &self.addr, self.family, PIAS_PROXY_UP, e);
	for (size_t i = 0; !err && i < c->n_seeds; i++) {
		struct pias_peer s = { .addr = c->seeds[i].addr,
				       .family = c->seeds[i].family,
				       .port = c->seeds[i].port };

		err = pias_members_add_seed(&d->members, &s, e);
	}
	pias_replay_init(&d->replay);
	return err;
}

void piasd_overlay_free(struct piasd *d)
{
	pias_dplive_free(&d->dplive);
	pias_members_free(&d->members);
	pias_ring_free(&d->ring);
	pias_replay_free(&d->replay);
	free(arena);
	free(changed_vals);
	free(changed_keys);
	free(moved);
	free(d->rap_dirty);
	d->rap_table = NULL; /* the map's: unmapped with the maps */
	arena = NULL;
	changed_vals = NULL;
	changed_keys = NULL;
	moved = NULL;
	d->rap_dirty = NULL;
}
