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

/* State of the weighted walk over a group's JAPs (bpf_loop). */
struct jap_walk {
	const struct pias_group *g;
	__u64 weighted; /* pass 1: JAPs with weight, usable or not */
	__u64 total;	/* pass 1: sum of usable weights */
	__u64 r;	/* pass 2: remaining offset into the weights */
	__u32 excl;
	__u32 chosen;
	__u32 pass;
	__u32 pad;
};

/* One JAP per call; a bpf_loop callback so the verifier checks it once. */
static long jap_walk_one(__u64 i, void *arg)
{
	struct jap_walk *w = arg;
	const struct pias_group_jap *j;

	if (i >= PIAS_GROUP_MAX_JAPS || i >= w->g->count)
		return 1;
	j = &w->g->japs[i];
	if (w->pass == 0 && j->weight)
		w->weighted++;
	if (!rap_jap_ok(j, w->excl))
		return 0;
	if (w->pass == 0) {
		w->total += j->weight;
		return 0;
	}
	if (w->r < j->weight) {
		w->chosen = j->jap_id;
		return 1;
	}
	w->r -= j->weight;
	return 0;
}

/*
 * The JAP for this flow of group ta: its id, 0 if no JAP is left (down or
 * excluded), or PICK_NO_GROUP (unknown, or no JAP with weight > 0). A global subprogram, verified once.
 */
__noinline int pias_pick_jap(const struct pias_ta *ta, __u32 hash, __u32 excl)
{
	struct jap_walk w = {};

	if (!ta)
		return 0;
	w.g = bpf_map_lookup_elem(&pias_groups, ta);
	if (!w.g || !w.g->count)
		return PICK_NO_GROUP;
	w.excl = excl;
	bpf_loop(PIAS_GROUP_MAX_JAPS, jap_walk_one, &w, 0);
	if (!w.weighted)
		return PICK_NO_GROUP; /* no JAP reports a target: no group here */
	if (!w.total)
		return 0;
	w.r = hash % w.total;
	w.pass = 1;
	bpf_loop(PIAS_GROUP_MAX_JAPS, jap_walk_one, &w, 0);
	return w.chosen;
}

static __always_inline int rap_step(struct pias_ctx *c)
{
	struct pias_pkt *p = c->pkt;
	struct pias_ta ta = pias_flow_ta(&p->flow);
	struct pias_proxy *px;
	struct pias_group *g;
	int jap;

	jap = pias_pick_jap(&ta, pias_flow_hash(&p->flow), p->excl_jap);
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
