/* SPDX-License-Identifier: MIT */
/*
 * RAP: the first packet of a flow, or a bounced one (docs/protocol.md 3.2).
 * Picks a JAP weighted by the approximate target counts the JAPs reported
 * (jap_set.h), and tells the daemon (BOUND) so that the IAP
 * gets a binding and sends later packets straight to the JAP.
 */
#ifndef PIAS_BPF_RAP_H
#define PIAS_BPF_RAP_H

#include "events.h"
#include "jap_set.h"
#include "steps.h"

static __always_inline int rap_step(struct pias_ctx *c)
{
	struct pias_pkt *p = c->pkt;
	struct pias_ta ta = pias_flow_ta(&p->flow);
	struct pias_proxy *px;
	struct pias_group *g;
	int jap;

	jap = pias_pick_jap(&ta, pias_flow_hash(&p->flow), p->excl_jap, PIAS_SET_RAP,
			    &p->flow.saddr);
	if (jap == PICK_SET_NO_SCOPE) {
		/*
		 * No BOUND follows, so the IAP would get no binding and send
		 * every packet of this client here: as for a table that lagged
		 * (NO_GROUP), piasd sends the IAP the group's set, and the IAP
		 * drops such clients itself.
		 */
		pias_emit(&ta, PIAS_EV_NO_GROUP, p->iap_id, c->cfg->self_id, 0);
		return step_drop(c, PIAS_DROP_rap_no_scope);
	}
	if (jap == PICK_NO_GROUP) {
		pias_emit(&ta, PIAS_EV_NO_GROUP, p->iap_id, c->cfg->self_id, 0);
		return step_drop(c, PIAS_DROP_rap_no_group);
	}
	px = proxy_up(jap);
	if (!px)
		return step_drop(c, PIAS_DROP_rap_no_jap_left);

	/* the group again, for its slot: a relay is a flow's first packet only */
	g = bpf_map_lookup_elem(&pias_groups, &ta);
	group_count(PIAS_ROLE_RAP, g ? g->slot : 0, p->ip_len);
	pias_emit(&ta, PIAS_EV_BOUND, p->iap_id, c->cfg->self_id, jap);
	stat_inc(c, (p->tflags & PIAS_TUN_F_BOUNCED) ? PIAS_STAT_rap_bounce_relayed
						     : PIAS_STAT_rap_relayed);
	return step_tunnel(c, jap, PIAS_KIND_RAP_TO_JAP);
}

/* The RAP role for the packet p; A global subprogram, verified once. */
__noinline int pias_rap(struct xdp_md *ctx, struct pias_pkt *p)
{
	struct pias_ctx c;

	if (ctx_init(&c, ctx, p))
		return STEP_DROP;
	return rap_step(&c);
}

#endif
