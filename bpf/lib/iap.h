/* SPDX-License-Identifier: MIT */
/*
 * IAP: a client's packet for an anycast TA (docs/protocol.md 3.1). Flow
 * table first, so that a flow keeps its JAP whatever happens to the
 * binding; then the binding; otherwise the group's RAP, which also makes
 * the daemon ask for a binding (MISS event).
 */
#ifndef PIAS_BPF_IAP_H
#define PIAS_BPF_IAP_H

#include "events.h"
#include "jap_set.h"
#include "stats.h"
#include "steps.h"

/*
 * What the client's packet adds to its flow's state. The IAP never sees
 * the replies: a UDP flow still sending 2 s after it began counts as a
 * stream.
 */
static __always_inline __u8 flow_ct(const struct pias_flow_entry *fe, const struct pias_pkt *p,
				    __u64 now)
{
	__u8 ct;

	if (!fe)
		return p->flow.proto == IPPROTO_TCP ? pias_ct_client_tcp(PIAS_CT_SYN, p->tcp_flags)
						    : 0;
	if (p->flow.proto == IPPROTO_TCP)
		return pias_ct_client_tcp(fe->ct, p->tcp_flags);
	ct = pias_ct_client_udp(fe->ct, fe->created_ns, now);
	return ct & PIAS_CT_MORE ? ct | PIAS_CT_REPLIED : ct;
}

static __always_inline void flow_touch(struct pias_flow_entry *fe, const struct pias_pkt *p,
				       __u64 now)
{
	__u8 ct = flow_ct(fe, p, now);

	if (ct != fe->ct)
		fe->ct = ct;
	if (now - fe->last_ns > PIAS_CT_TOUCH_NS)
		fe->last_ns = now;
}

/* The group's counters, by the slot its binding (or flow entry) carries. */
static __always_inline void iap_count(const struct pias_pkt *p, __u32 slot)
{
	group_count(PIAS_ROLE_IAP, slot, p->ip_len);
}

static __always_inline int iap_step(struct pias_ctx *c)
{
	struct pias_pkt *p = c->pkt;
	struct pias_flow_entry *fe;
	struct pias_binding *b;
	struct pias_proxy *px = NULL;
	struct pias_ta ta;
	__u64 now;
	__u32 rap, jap;

	fe = bpf_map_lookup_elem(&pias_flows, &p->flow);
	now = bpf_ktime_get_coarse_ns();
	if (fe && ((p->flow.proto == IPPROTO_TCP && pias_ct_syn_reopens(fe->ct, p->tcp_flags)) ||
		   pias_ct_expired(&c->cfg->ct, p->flow.proto, fe->ct, fe->last_ns, now))) {
		/*
		 * A new connection on an old 5-tuple, or a flow whose entry
		 * ended (the sweep has not come by): today's binding decides.
		 */
		stat_inc(c, PIAS_STAT_iap_flow_reopen);
		fe = NULL;
	}
	if (fe) {
		/* a JAP whose piasd is gone still serves its flows (DP_ONLY) */
		px = proxy_pinned(fe->jap_id);
		if (px) {
			flow_touch(fe, p, now);
			iap_count(p, fe->slot);
			p->tun_sport = fe->tun_sport;
			stat_inc(c, PIAS_STAT_iap_flow_hit);
			return step_tunnel(c, fe->jap_id, PIAS_KIND_IAP_TO_JAP);
		}
	}

	/* the TA only from here: a flow hit needs none */
	ta = pias_flow_ta(&p->flow);
	b = bpf_map_lookup_elem(&pias_bindings, &ta);
	/* the clock is read only here: the flow-table path needs no time */
	if (b && (!b->expires_ns || b->expires_ns > bpf_ktime_get_ns())) {
		iap_count(p, b->slot);
		if (b->flags & PIAS_BINDING_F_NEGATIVE)
			return step_drop(c, PIAS_DROP_negative_binding);
		if (b->flags & PIAS_BINDING_F_LOCAL) {
			stat_inc(c, PIAS_STAT_iap_local);
			return STEP_PASS;
		}
		jap = b->jap_id;
		/* bound to several JAPs: this flow draws one */
		if (b->flags & PIAS_BINDING_F_SET) {
			int pick = pias_pick_jap(&ta, pias_flow_hash(&p->flow), 0, PIAS_SET_IAP,
						 &p->flow.saddr);

			if (pick == PICK_SET_NO_SCOPE)
				return step_drop(c, PIAS_DROP_iap_no_scope);
			jap = pick > 0 ? (__u32)pick : 0;
		}
		px = proxy_up(jap);
		if (px) {
			struct pias_flow_entry nfe = {
				.jap_id = jap,
				.generation = b->generation,
				.slot = b->slot,
				.tun_sport = pias_tun_sport(&p->flow),
				.ct = flow_ct(NULL, p, now),
				.last_ns = now,
				.created_ns = now,
			};

			bpf_map_update_elem(&pias_flows, &p->flow, &nfe, BPF_ANY);
			p->tun_sport = nfe.tun_sport;
			stat_inc(c, PIAS_STAT_iap_binding_hit);
			return step_tunnel(c, jap, PIAS_KIND_IAP_TO_JAP);
		}
	}

	rap = rap_of(&ta, &px);
	if (!rap || !px)
		return step_drop(c, PIAS_DROP_no_rap);
	pias_emit(&ta, PIAS_EV_MISS, c->cfg->self_id, rap, 0);
	stat_inc(c, PIAS_STAT_iap_miss);
	return step_tunnel(c, rap, PIAS_KIND_IAP_TO_RAP);
}

/* The IAP role for the packet p; A global subprogram, verified once. */
__noinline int pias_iap(struct xdp_md *ctx, struct pias_pkt *p)
{
	struct pias_ctx c;

	if (ctx_init(&c, ctx, p))
		return STEP_DROP;
	return iap_step(&c);
}

#endif
