/* SPDX-License-Identifier: MIT */
/*
 * RAP: the first packet of a flow, or a bounced one (docs/protocol.md 3.2).
 * Picks a JAP weighted by the approximate target counts the JAPs reported,
 * deterministically per flow, and tells the daemon (BOUND) so that the IAP
 * gets a binding and sends later packets straight to the JAP.
 */
#ifndef PIAS_BPF_RAP_H
#define PIAS_BPF_RAP_H

#include "events.h"
#include "steps.h"

#define PICK_NO_GROUP (-1)

static __always_inline int rap_jap_ok(const struct pias_group_jap *j, __u32 excl)
{
	return j->weight && j->jap_id != excl && proxy_up(j->jap_id);
}

/*
 * The JAP for this flow of group ta: its id, 0 if no JAP is left, or
 * PICK_NO_GROUP. A global subprogram: its loops are verified once.
 */
__noinline int pias_pick_jap(const struct pias_ta *ta, __u32 hash, __u32 excl)
{
	struct pias_group *g;
	__u64 total = 0, r;

	if (!ta)
		return 0;
	g = bpf_map_lookup_elem(&pias_groups, ta);
	if (!g || !g->count)
		return PICK_NO_GROUP;
	for (__u32 i = 0; i < PIAS_GROUP_MAX_JAPS && i < g->count; i++)
		if (rap_jap_ok(&g->japs[i], excl))
			total += g->japs[i].weight;
	if (!total)
		return 0;
	r = hash % total;
	for (__u32 i = 0; i < PIAS_GROUP_MAX_JAPS && i < g->count; i++) {
		if (!rap_jap_ok(&g->japs[i], excl))
			continue;
		if (r < g->japs[i].weight)
			return g->japs[i].jap_id;
		r -= g->japs[i].weight;
	}
	return 0;
}

static __always_inline int rap_step(struct pias_ctx *c, struct pias_next *n)
{
	struct pias_pkt *p = &c->pkt;
	struct pias_ta ta = ta_of(p);
	struct pias_group_stats *gs;
	struct pias_proxy *px;
	int jap;

	jap = pias_pick_jap(&ta, pias_flow_hash(&p->flow), p->excl_jap);
	if (jap == PICK_NO_GROUP) {
		emit_event(c, PIAS_EV_NO_GROUP, &ta, p->iap_id, p->iap_id, c->cfg->self_id, 0);
		return step_drop(c, PIAS_DROP_rap_no_group);
	}
	px = proxy_up(jap);
	if (!px)
		return step_drop(c, PIAS_DROP_rap_no_jap_left);

	gs = group_stats(&ta);
	if (gs)
		gs->rap_packets++;
	emit_event(c, PIAS_EV_BOUND, &ta, p->iap_id, p->iap_id, c->cfg->self_id, jap);
	stat_inc(c, (p->tflags & PIAS_TUN_F_BOUNCED) ? PIAS_STAT_rap_bounce_relayed
						     : PIAS_STAT_rap_relayed);
	return step_tunnel(c, n, jap, px, PIAS_KIND_RAP_TO_JAP);
}

#endif
