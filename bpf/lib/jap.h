/* SPDX-License-Identifier: MIT */
/*
 * JAP: a tunnelled client packet for one of this proxy's groups, and the
 * targets' replies (docs/protocol.md 3.3). Targets need no change: the JAP
 * translates both addresses, so replies come back to it and it can hand
 * them to the client with the group's TA as source.
 */
#ifndef PIAS_BPF_JAP_H
#define PIAS_BPF_JAP_H

#include "events.h"
#include "nat.h"
#include "steps.h"

/* NAT port candidates tried per new connection. */
#define NAT_PORT_TRIES 8

static __always_inline struct pias_target *target_of(__u32 id)
{
	if (!id || id >= PIAS_MAX_TARGETS)
		return NULL;
	return bpf_map_lookup_elem(&pias_targets, &id);
}

/* May this target get a new flow from this client? */
static __always_inline int target_eligible(const struct pias_flow *f, const struct pias_target *t)
{
	return t && t->state == PIAS_TARGET_ACTIVE && t->weight && t->family == f->family &&
	       /* a target that is also a client never gets its own packets */
	       !addr_eq(&t->addr, &f->saddr);
}

/* State of the weighted walk over a group's targets (bpf_loop). */
struct target_walk {
	const struct pias_target_set *set;
	const struct pias_flow *flow;
	__u64 total; /* pass 1: sum of eligible weights */
	__u64 r;     /* pass 2: remaining offset into the weights */
	__u32 chosen;
	__u32 pass;
};

/*
 * One target per call. A bpf_loop callback rather than a loop: the verifier
 * checks it once, where an unrolled walk with a growing sum never prunes.
 */
static long target_walk_one(__u64 i, void *arg)
{
	struct target_walk *w = arg;
	const struct pias_target_set *set = w->set;
	struct pias_target *t;
	__u32 id;

	if (i >= PIAS_SET_MAX_TARGETS || i >= set->count)
		return 1;
	id = set->ids[i];
	t = target_of(id);
	if (!target_eligible(w->flow, t))
		return 0;
	if (w->pass == 0) {
		w->total += t->weight;
		return 0;
	}
	if (w->r < t->weight) {
		w->chosen = id;
		return 1;
	}
	w->r -= t->weight;
	return 0;
}

/*
 * The target for a new flow: weighted, deterministic per flow; its id or 0.
 * A global subprogram, verified once.
 */
__noinline int pias_pick_target(const struct pias_flow *flow, __u32 hash)
{
	struct target_walk w = {};
	struct pias_ta ta;

	if (!flow)
		return 0;
	ta = pias_flow_ta(flow);
	w.set = bpf_map_lookup_elem(&pias_tgt_sets, &ta);
	if (!w.set)
		return 0;
	w.flow = flow;
	bpf_loop(PIAS_SET_MAX_TARGETS, target_walk_one, &w, 0);
	if (!w.total)
		return 0;
	w.r = hash % w.total;
	w.pass = 1;
	bpf_loop(PIAS_SET_MAX_TARGETS, target_walk_one, &w, 0);
	return w.chosen;
}

static __always_inline const union pias_addr *nat_addr(const struct pias_config *cfg, __u8 family)
{
	if (family == PIAS_AF_INET)
		return cfg->nat4.v4 ? &cfg->nat4 : &cfg->self4;
	return addr_is_zero(&cfg->nat6) ? &cfg->self6 : &cfg->nat6;
}

/* Key of the reverse entry: the target's reply to the NAT address/port. */
static __always_inline struct pias_flow rev_key(const struct pias_flow *f,
						const struct pias_target *t,
						const union pias_addr *nat, __u16 nat_port)
{
	struct pias_flow k = {
		.saddr = t->addr,
		.daddr = *nat,
		.sport = t->port ? t->port : f->dport,
		.dport = nat_port,
		.proto = f->proto,
		.family = f->family,
	};
	return k;
}

/*
 * Records a new connection of flow (arrived via iap) to target tid in both
 * directions. Returns the NAT port, or 0 if every candidate port is taken.
 * A global subprogram: its loop of map updates is verified once.
 */
__noinline int pias_conn_create(const struct pias_flow *flow, __u32 iap, __u32 tid, __u32 hash)
{
	struct pias_config *cfg = config_here();
	struct pias_target *t = target_of(tid);
	struct pias_conn_rev rv = {};
	struct pias_flow k;
	__u32 lo, hi, range, port = 0;

	if (!flow || !cfg || !t)
		return 0;
	lo = cfg->nat_port_min;
	hi = cfg->nat_port_max;
	if (!lo || hi < lo) {
		lo = PIAS_DEFAULT_NAT_PORT_MIN;
		hi = PIAS_DEFAULT_NAT_PORT_MAX;
	}
	range = hi - lo + 1;
	rv.client = *flow;
	rv.target_id = tid;
	k = rev_key(flow, t, nat_addr(cfg, flow->family), 0);
	/*
	 * The target was picked from the same flow hash; mixing in its id
	 * keeps port candidates spread over the whole range for every target
	 * instead of the slice of hashes that lands on it.
	 */
	hash = pias_final(pias_mix(hash, tid), 4);
	for (__u32 i = 0; i < NAT_PORT_TRIES; i++) {
		k.dport = lo + (hash + i * 7919) % range;
		if (!bpf_map_update_elem(&pias_conns_rev, &k, &rv, BPF_NOEXIST)) {
			port = k.dport;
			break;
		}
	}
	if (!port)
		return 0;
	/* the forward entry reuses the reverse value's stack: one chain, 512 bytes */
	struct pias_conn *conn = (void *)&rv;

	__builtin_memset(conn, 0, sizeof(*conn));
	conn->target_id = tid;
	conn->nat_port = port;
	conn->iap_id = iap;
	bpf_map_update_elem(&pias_conns, flow, conn, BPF_ANY);
	return port;
}

/*
 * Frees the NAT port of a connection whose target went down. A global
 * subprogram: keeps the key off the JAP's stack.
 */
__noinline int pias_conn_forget(const struct pias_flow *flow, __u32 tid, __u32 nat_port)
{
	struct pias_config *cfg = config_here();
	struct pias_target *t = target_of(tid);
	struct pias_flow k;

	if (!flow || !cfg || !t)
		return -1;
	k = rev_key(flow, t, nat_addr(cfg, flow->family), nat_port);
	return bpf_map_delete_elem(&pias_conns_rev, &k);
}

/* No live target: invalidate the IAP's binding, bounce once to the RAP. */
static __always_inline int jap_bounce(struct pias_ctx *c, const struct pias_ta *ta)
{
	struct pias_pkt *p = c->pkt;
	struct pias_proxy *px = NULL;
	__u32 rap;

	pias_emit(ta, PIAS_EV_INVALIDATE, p->iap_id, 0, c->cfg->self_id);
	if (p->tflags & PIAS_TUN_F_BOUNCED)
		return step_drop(c, PIAS_DROP_jap_no_target);
	rap = rap_of(ta, &px);
	if (!rap || !px)
		return step_drop(c, PIAS_DROP_no_rap);
	p->tflags |= PIAS_TUN_F_BOUNCED;
	p->excl_jap = c->cfg->self_id;
	stat_inc(c, PIAS_STAT_jap_bounced);
	return step_tunnel(c, rap, PIAS_KIND_JAP_TO_RAP);
}

static __always_inline int jap_step(struct pias_ctx *c)
{
	struct pias_pkt *p = c->pkt;
	struct pias_ta ta = pias_flow_ta(&p->flow);
	const union pias_addr *nat = nat_addr(c->cfg, p->flow.family);
	struct pias_conn *conn = bpf_map_lookup_elem(&pias_conns, &p->flow);
	struct pias_target *t = NULL;
	struct pias_target_stats *ts;
	struct pias_group_stats *gs;
	__u32 tid = 0;
	__u16 port = 0;
	int rc;

	/*
	 * Checked first, so that a packet dropped here leaves no connection
	 * behind; decremented only when the packet goes to a target (a
	 * bounce stays inside the overlay, like a RAP relay).
	 */
	rc = ip_ttl_check(c, p->flow.family);
	if (rc >= 0)
		return step_drop(c, rc);
	if (conn) {
		t = target_of(conn->target_id);
		/*
		 * A fresh SYN on the entry of a draining target is a new
		 * connection that reuses an old one's 5-tuple (clients recycle
		 * source ports): a draining target takes no new connection.
		 */
		if (t && t->state == PIAS_TARGET_DRAINING && p->flow.proto == IPPROTO_TCP &&
		    (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN) {
			pias_conn_forget(&p->flow, conn->target_id, conn->nat_port);
			t = NULL;
		} else if (t &&
			   (t->state == PIAS_TARGET_ACTIVE || t->state == PIAS_TARGET_DRAINING)) {
			tid = conn->target_id;
			port = conn->nat_port;
			stat_inc(c, PIAS_STAT_jap_conn_hit);
		} else if (t) {
			/* its target went down: the flow moves; free the old port */
			pias_conn_forget(&p->flow, conn->target_id, conn->nat_port);
		}
	}
	if (!tid) {
		__u32 hash = pias_flow_hash(&p->flow);

		tid = pias_pick_target(&p->flow, hash);
		t = target_of(tid);
		if (!tid || !t)
			return jap_bounce(c, &ta);
		if (addr_is_zero(nat))
			return step_drop(c, PIAS_DROP_nat_no_addr);
		port = pias_conn_create(&p->flow, p->iap_id, tid, hash);
		if (!port)
			return step_drop(c, PIAS_DROP_nat_no_port);
		ts = target_stats(tid);
		if (ts)
			ts->new_flows++;
		stat_inc(c, PIAS_STAT_jap_new_conn);
	}
	if (!t)
		return step_drop(c, PIAS_DROP_jap_no_target);

	rc = ip_dec_ttl(c, p->flow.family);
	if (rc >= 0)
		return step_drop(c, rc);
	rc = nat_rewrite(c, nat, &t->addr, port, t->port ? t->port : p->flow.dport);
	if (rc >= 0)
		return step_drop(c, rc);

	ts = target_stats(tid);
	if (ts) {
		ts->packets++;
		ts->bytes += p->ip_len;
	}
	gs = group_stats(&ta);
	if (gs) {
		gs->jap_packets++;
		gs->jap_bytes += p->ip_len;
	}
	return STEP_FORWARD;
}

/*
 * A target's reply to the NAT address. Returns a step: FORWARD once
 * translated back to the client, PASS if no connection knows it.
 */
static __always_inline int reverse_step(struct pias_ctx *c)
{
	struct pias_pkt *p = c->pkt;
	struct pias_conn_rev *rv = bpf_map_lookup_elem(&pias_conns_rev, &p->flow);
	struct pias_target_stats *ts;
	struct pias_group_stats *gs;
	struct pias_ta ta;
	int rc;

	if (!rv) {
		stat_inc(c, PIAS_STAT_pass_nat_miss);
		return STEP_PASS;
	}
	rc = ip_dec_ttl(c, p->flow.family);
	if (rc >= 0)
		return step_drop(c, rc);
	/* SYN-ACK: the client will send segments the tunnel must carry */
	if (tcp_clamp_syn(c))
		stat_inc(c, PIAS_STAT_rev_mss_clamped);
	rc = nat_rewrite(c, &rv->client.daddr, &rv->client.saddr, rv->client.dport,
			 rv->client.sport);
	if (rc >= 0)
		return step_drop(c, rc);

	ts = target_stats(rv->target_id);
	if (ts) {
		ts->rev_packets++;
		ts->rev_bytes += p->ip_len;
		/* the coarse clock (CLOCK_MONOTONIC_COARSE, one tick): liveness
		 * needs no better, and the precise one costs 25-40 ns a read
		 * on virtual machines. A RST is what the kernel of a host
		 * whose server died answers each new SYN with: it is no sign
		 * of life, and counting it kept such a target in service as
		 * long as clients kept trying it */
		if (!(p->tcp_flags & TCP_FLAG_RST))
			ts->last_reply_ns = bpf_ktime_get_coarse_ns();
	}
	ta = pias_flow_ta(&rv->client);
	gs = group_stats(&ta);
	if (gs) {
		gs->rev_packets++;
		gs->rev_bytes += p->ip_len;
	}
	stat_inc(c, PIAS_STAT_rev_translated);
	return STEP_FORWARD;
}

/* The JAP role for the packet p; A global subprogram, verified once. */
__noinline int pias_jap(struct xdp_md *ctx, struct pias_pkt *p)
{
	struct pias_ctx c;

	if (ctx_init(&c, ctx, p))
		return STEP_DROP;
	return jap_step(&c);
}

/* The reverse path for the reply p; A global subprogram, verified once. */
__noinline int pias_reverse(struct xdp_md *ctx, struct pias_pkt *p)
{
	struct pias_ctx c;

	if (ctx_init(&c, ctx, p))
		return STEP_DROP;
	return reverse_step(&c);
}

#endif
