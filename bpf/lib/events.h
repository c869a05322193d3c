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
	__u64 now = bpf_ktime_get_ns(), *last;

	if (!ta || !cfg)
		return 0;
	key.ta = *ta;
	key.type = type;
	key.peer = type == PIAS_EV_MISS ? rap : iap;
	last = bpf_map_lookup_elem(&pias_ev_limit, &key);
	if (last && cfg->event_interval_ms &&
	    now - *last < (__u64)cfg->event_interval_ms * NSEC_PER_MSEC) {
		if (st)
			st->events_suppressed++;
		return 0;
	}
	bpf_map_update_elem(&pias_ev_limit, &key, &now, BPF_ANY);

	/* written in place, not built on the stack: the JAP's chain of calls
	 * through here is at the verifier's 512 bytes */
	ev = bpf_ringbuf_reserve(&pias_events, sizeof(*ev), 0);
	if (!ev) {
		if (st)
			st->events_lost++;
		return 0;
	}
	ev->ts_ns = now;
	ev->type = type;
	ev->iap_id = iap;
	ev->rap_id = rap;
	ev->jap_id = jap;
	ev->ta = *ta;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
	if (st)
		st->events_sent++;
	return 1;
}

#endif
