/* SPDX-License-Identifier: MIT */
/*
 * Events from the dataplane to piasd, through the pias_events ring buffer.
 * Each kind is rate-limited per (kind, TA, peer) by the dataplane itself
 * (pias_config.event_interval_ms), so a flood of packets costs the daemon at
 * most one event per interval and group.
 */
#ifndef PIAS_EVENTS_H
#define PIAS_EVENTS_H

#include "addr.h"

enum pias_event_type {
	PIAS_EV_MISS = 1,	/* IAP: TA has no binding; first packet sent to rap_id */
	PIAS_EV_BOUND = 2,	/* RAP: flow from iap_id for TA relayed to jap_id */
	PIAS_EV_NO_GROUP = 3,	/* RAP: TA is not a group here; packet dropped */
	PIAS_EV_INVALIDATE = 4, /* JAP: no live target for TA; iap_id should drop its binding */
	/*
	 * JAP: a mid-stream TCP segment of client:client_port for TA, which no
	 * connection here holds, entered at iap_id (dropped): the client may
	 * have moved from an IAP bound to another JAP (affinity across IAPs).
	 */
	PIAS_EV_CONN_MISS = 5,
	PIAS_EV_MAX = 5,
};

struct pias_event {
	__u64 ts_ns;  /* bpf_ktime_get_ns() */
	__u32 type;   /* enum pias_event_type */
	__u32 iap_id; /* ingress proxy of the packet */
	__u32 rap_id; /* MISS: RAP it was sent to; others: this proxy if RAP */
	__u32 jap_id; /* BOUND: chosen JAP; INVALIDATE: this JAP */
	struct pias_ta ta;
	__u16 client_port; /* CONN_MISS only (host order) */
	__u16 pad;
	union pias_addr client; /* CONN_MISS only: of ta's family */
};
PIAS_STATIC_ASSERT(sizeof(struct pias_event) == 64, "pias_event layout");

/* Key of the rate limiter for events. */
struct pias_event_key {
	struct pias_ta ta;
	__u32 type;
	__u32 peer;
};

#endif
