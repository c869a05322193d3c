/* SPDX-License-Identifier: MIT */
/*
 * How a role tells the main loop what to do with the packet next. A role
 * either hands the packet to another proxy (which may be this one: then the
 * next role runs here, in place), or forwards it NATed, or has dropped or
 * passed it.
 */
#ifndef PIAS_BPF_STEPS_H
#define PIAS_BPF_STEPS_H

#include "context.h"
#include "stats.h"

enum pias_step {
	STEP_TUNNEL,  /* to pkt->next_id, kind pkt->kind */
	STEP_FORWARD, /* plain packet rewritten; route it */
	STEP_TARGET,  /* to tunnel-mode target pkt->next_id, wrapped (kind 5) */
	STEP_DROP,    /* already counted */
	STEP_PASS,
};

static __always_inline int step_drop(struct pias_ctx *c, enum pias_drop_index why)
{
	drop(c, why);
	return STEP_DROP;
}

/* First live RAP of the TA's slot, or 0. */
static __always_inline __u32 rap_of(const struct pias_ta *ta, struct pias_proxy **out)
{
	__u32 slot = pias_rap_slot_of(ta);
	struct pias_rap_slot *s = bpf_map_lookup_elem(&pias_rap_table, &slot);

	if (!s)
		return 0;
#pragma unroll
	for (int i = 0; i < PIAS_RAP_REPLICAS; i++) {
		struct pias_proxy *p;

		if (!s->rap[i])
			return 0;
		p = proxy_up(s->rap[i]);
		if (p) {
			*out = p;
			return s->rap[i];
		}
	}
	return 0;
}

static __always_inline int step_tunnel(struct pias_ctx *c, __u32 id, __u8 kind)
{
	c->pkt->next_id = id;
	c->pkt->kind = kind;
	return STEP_TUNNEL;
}

#endif
