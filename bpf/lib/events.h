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
 * A global subprogram: verified once, not at every call site. Counts into
 * pias_stats itself since global functions cannot take map pointers.
 */
__noinline int pias_emit(const struct pias_event *ev, __u32 peer, __u32 interval_ms)
{
	struct pias_stats *st = stats_here();
	struct pias_event_key key = {};
	__u64 *last;

	if (!ev)
		return 0;
	key.ta = ev->ta;
	key.type = ev->type;
	key.peer = peer;
	last = bpf_map_lookup_elem(&pias_ev_limit, &key);
	if (last && interval_ms && ev->ts_ns - *last < (__u64)interval_ms * NSEC_PER_MSEC) {
		if (st)
			st->events_suppressed++;
		return 0;
	}
	bpf_map_update_elem(&pias_ev_limit, &key, &ev->ts_ns, BPF_ANY);
	if (bpf_ringbuf_output(&pias_events, (void *)ev, sizeof(*ev), 0)) {
		if (st)
			st->events_lost++;
		return 0;
	}
	if (st)
		st->events_sent++;
	return 1;
}

static __always_inline void emit_event(struct pias_ctx *c, __u32 type,
				       const struct pias_ta *ta, __u32 peer,
				       __u32 iap, __u32 rap, __u32 jap)
{
	struct pias_event ev = {
		.ts_ns = c->now,
		.type = type,
		.iap_id = iap,
		.rap_id = rap,
		.jap_id = jap,
		.ta = *ta,
	};

	pias_emit(&ev, peer, c->cfg->event_interval_ms);
}

#endif
