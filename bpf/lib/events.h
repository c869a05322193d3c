/* SPDX-License-Identifier: MIT */
/*
 * Events to piasd. Rate-limited here, per (type, TA, peer proxy), so that a
 * flood of packets for one group costs the ring buffer one record per
 * interval; the daemon still sees every group that needs attention.
 */
#ifndef PIAS_BPF_EVENTS_H
#define PIAS_BPF_EVENTS_H

#include "context.h"

/*
 * May an event of key go out at now? Not if one of the same key went out
 * less than event_interval_ms ago; if it may, now is recorded for the key.
 */
static __always_inline int ev_allowed(const struct pias_config *cfg, struct pias_stats *st,
				      const struct pias_event_key *key, __u64 now)
{
	__u64 *last = bpf_map_lookup_elem(&pias_ev_limit, key);

	if (last && cfg->event_interval_ms &&
	    now - *last < (__u64)cfg->event_interval_ms * NSEC_PER_MSEC) {
		if (st)
			st->events_suppressed++;
		return 0;
	}
	bpf_map_update_elem(&pias_ev_limit, key, &now, BPF_ANY);
	return 1;
}

/*
 * A record in the ring, its common fields filled; NULL (counted) when the
 * ring is full. Written in place, not built on the stack: the JAP's chain
 * of calls through here is at the verifier's 512 bytes.
 */
static __always_inline struct pias_event *
ev_reserve(struct pias_stats *st, const struct pias_ta *ta, __u32 type, __u64 now)
{
	struct pias_event *ev = bpf_ringbuf_reserve(&pias_events, sizeof(*ev), 0);

	if (!ev) {
		if (st)
			st->events_lost++;
		return NULL;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ts_ns = now;
	ev->type = type;
	ev->ta = *ta;
	return ev;
}

/*
 * Sends one event unless one of the same (type, TA, peer) went out less than
 * event_interval_ms ago. The peer is the RAP for MISS, the IAP otherwise.
 * A global subprogram: verified once, and the key stays off the callers'
 * stacks; it counts into pias_stats itself.
 */
__noinline int pias_emit(const struct pias_ta *ta, __u32 type, __u32 iap, __u32 rap, __u32 jap)
{
	struct pias_config *cfg = config_here();
	struct pias_stats *st = stats_here();
	struct pias_event_key key = {};
	struct pias_event *ev;
	__u64 now = bpf_ktime_get_ns();

	if (!ta || !cfg)
		return 0;
	key.ta = *ta;
	key.type = type;
	key.peer = type == PIAS_EV_MISS ? rap : iap;
	if (!ev_allowed(cfg, st, &key, now))
		return 0;
	ev = ev_reserve(st, ta, type, now);
	if (!ev)
		return 0;
	ev->iap_id = iap;
	ev->rap_id = rap;
	ev->jap_id = jap;
	bpf_ringbuf_submit(ev, 0);
	if (st)
		st->events_sent++;
	return 1;
}

/*
 * CONN_MISS for the client's flow f, which entered at iap, when affinity
 * is on. One per (TA, client address) and interval: the JAP that holds
 * the client's connections pins all of them at the new IAP at once, so
 * the client's other segments need not ask again; a flood of forged
 * segments from many addresses is limited again by piasd's query rate.
 */
__noinline int pias_emit_conn_miss(const struct pias_flow *f, __u32 iap)
{
	struct pias_config *cfg = config_here();
	struct pias_stats *st = stats_here();
	struct pias_event_key key = {};
	struct pias_event *ev;
	__u64 now = bpf_ktime_get_ns();

	if (!f || !cfg || !(cfg->flags & PIAS_CFG_F_AFFINITY))
		return 0;
	key.ta = pias_flow_ta(f);
	key.type = PIAS_EV_CONN_MISS;
	key.peer = pias_final(pias_addr_mix(PIAS_HASH_SEED, &f->saddr), sizeof(f->saddr));
	if (!ev_allowed(cfg, st, &key, now))
		return 0;
	ev = ev_reserve(st, &key.ta, PIAS_EV_CONN_MISS, now);
	if (!ev)
		return 0;
	ev->iap_id = iap;
	ev->jap_id = cfg->self_id;
	ev->client = f->saddr;
	ev->client_port = f->sport;
	bpf_ringbuf_submit(ev, 0);
	if (st)
		st->events_sent++;
	return 1;
}

#endif
