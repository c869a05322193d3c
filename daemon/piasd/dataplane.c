// SPDX-License-Identifier: MIT
/*
 * The node's hands on the dataplane: the map writes and readings of its io
 * table (daemon/node.h) through lib/maps.c's bpf() calls, the proxy table
 * (with each pair's tunnel tags), and the dataplane's events, handed to
 * the node or to affinity.c. Every failed write is counted here
 * (map_errors), whoever asked for it.
 */
#include <errno.h>
#include <string.h>

#include "piasd.h"

int piasd_map_done(struct piasd *d, int err, const struct pias_err *e)
{
	if (err) {
		PIASD_INC(d, map_errors);
		LOG_W("map write: %s", e->msg);
	}
	return err;
}

/* The node logs what failed; the count is ours. */
static int done(void *ctx, int err, const struct pias_err *e)
{
	(void)e;
	if (err)
		PIASD_INC((struct piasd *)ctx, map_errors);
	return err;
}

/* A delete of what is not there succeeds (node.h). */
static int deleted(void *ctx, int err, const struct pias_err *e)
{
	return done(ctx, err == -ENOENT ? 0 : err, e);
}

/* What is queued made before a write that is not queued (map_queue.c). */
static int flushed(struct piasd *d, struct pias_err *e)
{
	return piasd_map_queue_flush(d, e);
}

static int flush(void *ctx, struct pias_err *e)
{
	return flushed(ctx, e);
}

static int target_put(void *ctx, __u32 id, const struct pias_target *t, struct pias_err *e)
{
	struct piasd *d = ctx;

	return done(d, piasd_queue_target(d, id, t, e), e);
}

static int target_del(void *ctx, __u32 id, struct pias_err *e)
{
	struct piasd *d = ctx;

	return done(d, piasd_queue_target(d, id, NULL, e), e);
}

/*
 * The set whole, in one pias_tset_write, after the queued target writes:
 * a scoped set's writer reads its targets' addresses from pias_targets.
 */
static int tgtset_put(void *ctx, const struct pias_ta *ta, const __u32 *ids, const __u32 *weights,
		      size_t n, const struct pias_policy *policy, struct pias_err *e)
{
	struct piasd *d = ctx;

	return flushed(d, e)
		       ?: done(d, pias_tset_write(&d->maps, ta, ids, weights, n, policy, e), e);
}

static int tgtset_del(void *ctx, const struct pias_ta *ta, struct pias_err *e)
{
	struct piasd *d = ctx;

	return flushed(d, e) ?: deleted(d, pias_tgtset_del(&d->maps, ta, e), e);
}

static int group_put(void *ctx, const struct pias_ta *ta, const struct pias_group *g,
		     struct pias_err *e)
{
	struct piasd *d = ctx;

	return done(d, piasd_queue_group(d, ta, g, e), e);
}

static int group_del(void *ctx, const struct pias_ta *ta, struct pias_err *e)
{
	struct piasd *d = ctx;

	return done(d, piasd_queue_group(d, ta, NULL, e), e);
}

static int binding_put(void *ctx, const struct pias_ta *ta, const struct pias_binding *b,
		       const struct pias_group *set, struct pias_err *e)
{
	struct piasd *d = ctx;

	return done(d, piasd_queue_binding(d, ta, b, set, e), e);
}

static int binding_del(void *ctx, const struct pias_ta *ta, struct pias_err *e)
{
	struct piasd *d = ctx;

	return done(d, piasd_queue_binding(d, ta, NULL, NULL, e), e);
}

static int rap_slots_put(void *ctx, const __u32 *slots, const struct pias_rap_slot *vals, size_t n,
			 struct pias_err *e)
{
	struct piasd *d = ctx;

	return flushed(d, e) ?: done(d, pias_rap_slots_write(&d->maps, slots, vals, n, e), e);
}

/* The dataplane's last reply of target id: its per-CPU stats entry, read now. */
static __u64 last_reply(void *ctx, __u32 id)
{
	struct piasd *d = ctx;
	struct pias_target_stats s;
	struct pias_err e;

	piasd_map_queue_flush(d, &e);
	return pias_target_stats_get(&d->maps, id, &s, &e) ? 0 : s.last_reply_ns;
}

/* A draining target goes once the sweep finds its connections ended. */
static long conns(void *ctx, __u32 id, __u64 since)
{
	struct pias_err e;

	piasd_map_queue_flush(ctx, &e);
	return piasd_conns_of(ctx, id, since);
}

void piasd_dataplane_io(struct pias_node_io *io)
{
	io->target_put = target_put;
	io->target_del = target_del;
	io->tgtset_put = tgtset_put;
	io->tgtset_del = tgtset_del;
	io->group_put = group_put;
	io->group_del = group_del;
	io->binding_put = binding_put;
	io->binding_del = binding_del;
	io->rap_slots_put = rap_slots_put;
	io->flush = flush;
	io->last_reply = last_reply;
	io->conns = conns;
}

int piasd_proxy_write(struct piasd *d, __u32 id, const union pias_addr *a, __u8 family,
		      enum pias_proxy_state state)
{
	struct pias_tun_tags t;
	struct pias_err e;

	pias_keyring_tun_tags(&d->keys, d->cfg.node_id, id, &t);
	return piasd_map_done(d, pias_proxy_set(&d->maps, id, a, family, state, &t, &e), &e);
}

void piasd_proxies_rekey(struct piasd *d)
{
	const struct pias_members *ms = &d->node.members;
	size_t n = 0;

	for (const struct pias_member *mb = pias_members_next(ms, 0); mb;
	     mb = pias_members_next(ms, mb->id)) {
		struct pias_proxy p;
		struct pias_err e;

		/* as the dataplane has it: only the tags change */
		if (pias_proxy_get(&d->maps, mb->id, &p, &e) || p.family == PIAS_AF_NONE)
			continue;
		if (!piasd_proxy_write(d, mb->id, &p.addr, p.family, p.state))
			n++;
	}
	LOG_I("tunnel tags of %zu proxies rewritten", n);
}

int piasd_dp_event(const struct pias_event *ev, void *arg)
{
	struct piasd *d = arg;
	struct pias_err e;
	int err;

	PIASD_INC(d, dp_events);
	if (ev->type == PIAS_EV_CONN_MISS) {
		piasd_affinity_miss(d, ev);
		return 0;
	}
	err = pias_node_dp_event(&d->node, ev, piasd_now(), &e);
	if (err && err != -EPROTO) /* -EPROTO: a kind nobody here takes (ignored) */
		LOG_D("dataplane event %u: %s", ev->type, e.msg);
	return 0;
}
