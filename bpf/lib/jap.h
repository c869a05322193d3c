/* SPDX-License-Identifier: MIT */
/*
 * JAP: a tunnelled client packet for one of this proxy's groups, and the
 * targets' replies (docs/protocol.md 3.3). Targets need no change: the JAP
 * translates both addresses, so replies come back to it and it can hand
 * them to the client with the group's TA as source.
 */
#ifndef PIAS_BPF_JAP_H
#define PIAS_BPF_JAP_H

#include <pias/nat.h>
#include <pias/replica.h>

#include "events.h"
#include "nat.h"
#include "steps.h"
#include "tset.h"

/*
 * NAT address and port candidates tried per new connection. With a share u
 * of the pool in use, a new flow finds none free with probability u^32:
 * 1e-10 at half full, 1e-3 at 80%.
 */
#define NAT_TRIES 32

/* scoped strict: no target in the client's prefix (no target id, slot all ones) */
#define PICK_NO_SCOPE 0xffff0000u
/* replicate: no one target; the TC program picks k (bpf/lib/replica.h) */
#define PICK_REPLICATE 0xfffe0000u
/* +quic: a short header with no connection, mid-stream (include/pias/policy.h) */
#define PICK_MIDSTREAM 0xfffd0000u
/* lead: a UDP datagram's first payload byte, present */
#define LEAD_PRESENT 0x100u

/*
 * The target for a new flow by the group's policy (include/pias/policy.h):
 * its id | the group's counter slot << 32 (a result, not an out argument:
 * the JAP's chain of calls has no stack to spare), 0 if no target is
 * eligible, PICK_NO_SCOPE, PICK_REPLICATE, or PICK_MIDSTREAM (lead: a UDP
 * datagram's first payload byte | LEAD_PRESENT, else 0). The pick itself
 * is include/pias/pick.h's, over the set's maps (tset.h): weighted, the
 * flow hash into the targets' weights, so the same flow picks the same
 * target; random, a fresh draw; scoped, among the targets in the client's
 * prefix, else (not strict) among all, weighted. A global subprogram,
 * verified once.
 */
__noinline __u64 pias_pick_target(const struct pias_flow *flow, __u32 hash, __u32 lead)
{
	const struct pias_tset_range *scope = NULL;
	struct tset_room *room = tset_room();
	const struct pias_tset *h;
	__u32 id, why;
	__u8 kind, flags;

	if (!flow || !room)
		return 0;
	h = tset_open(room, flow);
	if (!h)
		return 0;
	kind = h->policy.kind;
	flags = h->policy.flags;
	if (kind == PIAS_POLICY_REPLICATE)
		return PICK_REPLICATE;
	/* QUIC's short header: the header form bit (0x80) clear */
	if ((flags & PIAS_POLICY_F_QUIC) && (lead & (LEAD_PRESENT | 0x80)) == LEAD_PRESENT)
		return PICK_MIDSTREAM;
	if (kind == PIAS_POLICY_RANDOM)
		hash = bpf_get_prandom_u32();
	else if (kind == PIAS_POLICY_SCOPED)
		scope = tset_scope(room, h);
	id = pias_pick_target_in(h, scope, hash, (void *)h, tset_draw, tset_take, &why);
	if (why & PIAS_PICK_F_NO_SCOPE)
		return PICK_NO_SCOPE;
	if (id && (why & PIAS_PICK_F_FALLBACK)) {
		struct pias_stats *st = stats_here();

		if (st)
			st->jap_scope_fallback++;
	}
	return id ? id | (__u64)h->slot << 32 : 0;
}

/*
 * May the NAT address and port of reverse entry old be taken? Yes if its
 * connection has ended by its state's timeout: then its forward entry
 * goes too (lazy reclaim; piasd's sweep removes the rest). A reverse entry
 * left without its connection (the forward entry is gone, or names
 * another port) is free unless its target may still hold TIME_WAIT.
 */
static __always_inline int nat_reclaimable(const struct pias_config *cfg,
					   const struct pias_conn_rev *old,
					   const struct pias_flow *k, __u32 nat_index, __u64 now)
{
	struct pias_conn *f = bpf_map_lookup_elem(&pias_conns, &old->client);
	__u64 last;

	if (!f || f->target_id != old->target_id || f->nat_port != k->dport ||
	    f->nat_index != nat_index)
		return pias_ct_leftover_free(&cfg->ct, old->ct, old->last_ns, now);
	last = f->last_ns > old->last_ns ? f->last_ns : old->last_ns;
	if (!pias_ct_expired(&cfg->ct, old->client.proto, f->ct | old->ct, last, now))
		return 0;
	bpf_map_delete_elem(&pias_conns, &old->client);
	return 1;
}

/* State of the search for a free NAT address and port (bpf_loop). */
struct nat_search {
	struct pias_flow k;	 /* the candidate reverse key */
	struct pias_conn_rev rv; /* what the reverse entry will hold */
	__u64 now;
	__u32 hash, lo, range, space, index;
	__u32 found; /* 1: k holds a free candidate, now recorded */
	__u32 reclaimed;
	__u32 pad;
};

/*
 * Per-CPU room for the search: on the stack it would push the JAP's chain
 * of calls past the verifier's 512 bytes. Private to the program (not
 * pinned, not part of the ABI): nothing in it outlives one packet.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_search);
} pias_nat_scratch SEC(".maps");

/* One candidate per call; the state is in the scratch map (bpf_loop's
 * context must be on the stack, where the search does not fit). */
static long nat_try_one(__u64 i, void *arg)
{
	struct pias_config *cfg = config_here();
	struct pias_conn_rev *old;
	struct nat_search *s;
	__u32 zero = 0, c;

	(void)arg;
	s = bpf_map_lookup_elem(&pias_nat_scratch, &zero);
	if (!s || !cfg || !s->range || !s->space)
		return 1;
	c = (s->hash + (__u32)i * 7919) % s->space;
	s->index = c / s->range;
	s->k.daddr = pias_nat_addr(cfg, s->k.family, s->index);
	s->k.dport = s->lo + c % s->range;
	if (!bpf_map_update_elem(&pias_conns_rev, &s->k, &s->rv, BPF_NOEXIST)) {
		s->found = 1;
		return 1;
	}
	old = bpf_map_lookup_elem(&pias_conns_rev, &s->k);
	if (!old || !nat_reclaimable(cfg, old, &s->k, s->index, s->now))
		return 0;
	if (bpf_map_update_elem(&pias_conns_rev, &s->k, &s->rv, BPF_ANY))
		return 0;
	s->found = 1;
	s->reclaimed = 1;
	return 1;
}

/*
 * Records a new connection of flow (arrived via iap) to target tid in both
 * directions, in state ct. Returns the NAT port | the pool index << 16,
 * or 0 if every candidate is taken. A global subprogram: its loop of map
 * updates is verified once.
 */
__noinline int pias_conn_create(const struct pias_flow *flow, __u32 iap, __u32 tid, __u32 ct,
				__u32 slot)
{
	struct pias_config *cfg = config_here();
	struct pias_target *t = target_of(tid);
	struct pias_conn *conn;
	struct nat_search *s;
	__u32 zero = 0, hi;

	s = bpf_map_lookup_elem(&pias_nat_scratch, &zero);
	if (!flow || !cfg || !t || !s)
		return 0;
	__builtin_memset(s, 0, sizeof(*s));
	s->now = bpf_ktime_get_coarse_ns();
	pias_nat_ports(cfg, &s->lo, &hi);
	s->range = hi - s->lo + 1;
	s->space = s->range * pias_nat_count(cfg, flow->family);
	s->rv.client = *flow;
	s->rv.target_id = tid;
	s->rv.slot = slot;
	s->k = pias_nat_rev_key(cfg, flow, t, 0, 0);
	/*
	 * Candidates start at random, not at the flow's hash: a client that
	 * reuses its 5-tuple for connection after connection (a load tool, a
	 * proxy) would otherwise meet its own earlier connections' NAT ports,
	 * still held for the target's TIME_WAIT, on every candidate (seen in
	 * the lab: ab reused each source port dozens of times a minute).
	 */
	s->hash = bpf_get_prandom_u32();
	bpf_loop(NAT_TRIES, nat_try_one, &zero, 0);
	if (!s->found)
		return 0;
	if (s->reclaimed) {
		struct pias_stats *st = stats_here();

		if (st)
			st->nat_reclaimed++;
	}
	/* the reverse value is written: its room holds the forward one */
	conn = (struct pias_conn *)&s->rv;
	__builtin_memset(conn, 0, sizeof(*conn));
	conn->target_id = tid;
	conn->nat_port = s->k.dport;
	conn->nat_index = s->index;
	conn->iap_id = iap;
	conn->ct = ct;
	conn->slot = slot;
	conn->last_ns = s->now;
	conn->created_ns = s->now;
	bpf_map_update_elem(&pias_conns, flow, conn, BPF_ANY);
	return s->k.dport | s->index << 16;
}

/*
 * Records a new connection of flow (arrived via iap) to tunnel-mode target
 * tid: no NAT port, no reverse entry (the target's replies come back
 * wrapped and name the client's flow themselves). A global subprogram:
 * keeps the entry off the JAP's stack.
 */
__noinline int pias_conn_create_tunnel(const struct pias_flow *flow, __u32 iap, __u32 tid, __u32 ct,
				       __u32 slot)
{
	struct nat_search *s;
	struct pias_conn *conn;
	__u32 zero = 0;

	/* the entry is built in the NAT search's room: the JAP's chain of
	 * calls has no stack to spare for it */
	s = bpf_map_lookup_elem(&pias_nat_scratch, &zero);
	if (!flow || !s)
		return -1;
	conn = (struct pias_conn *)&s->rv;
	__builtin_memset(conn, 0, sizeof(*conn));
	conn->target_id = tid;
	conn->iap_id = iap;
	conn->ct = ct;
	conn->slot = slot;
	conn->last_ns = bpf_ktime_get_coarse_ns();
	conn->created_ns = conn->last_ns;
	return bpf_map_update_elem(&pias_conns, flow, conn, BPF_ANY);
}

/*
 * Has connection conn of flow ended, though its entry is still here (the
 * sweep has not come by yet)? Asked only when the client's side looks
 * silent past its timeout, so only then is the reverse entry read. A
 * global subprogram: keeps the key off the JAP's stack.
 */
__noinline int pias_conn_ended(const struct pias_flow *flow, const struct pias_conn *conn,
			       __u64 now)
{
	struct pias_config *cfg = config_here();
	struct pias_conn_rev *rv;
	struct pias_target *t;
	struct pias_flow k;
	__u64 last;

	if (!flow || !cfg || !conn)
		return 0;
	t = target_of(conn->target_id);
	/* a tunnel-mode target's replies touch conn itself: it has ended */
	if (!t || !conn->nat_port)
		return 1;
	k = pias_nat_rev_key(cfg, flow, t, conn->nat_index, conn->nat_port);
	rv = bpf_map_lookup_elem(&pias_conns_rev, &k);
	if (!rv || !addr_eq(&rv->client.saddr, &flow->saddr) || rv->client.sport != flow->sport)
		return 1;
	last = conn->last_ns > rv->last_ns ? conn->last_ns : rv->last_ns;
	return pias_ct_expired(&cfg->ct, flow->proto, conn->ct | rv->ct, last, now);
}

/*
 * Frees the NAT address and port of a connection that ends here (its
 * target went down, or a SYN reuses its 5-tuple). A global subprogram:
 * keeps the key off the JAP's stack.
 */
__noinline int pias_conn_forget(const struct pias_flow *flow, const struct pias_conn *conn)
{
	struct pias_config *cfg = config_here();
	struct pias_target *t;
	struct pias_flow k;

	if (!flow || !cfg || !conn)
		return -1;
	t = target_of(conn->target_id);
	if (!t || !conn->nat_port) /* tunnel mode: no NAT port */
		return -1;
	k = pias_nat_rev_key(cfg, flow, t, conn->nat_index, conn->nat_port);
	return bpf_map_delete_elem(&pias_conns_rev, &k);
}

/* No live target: invalidate the IAP's binding, bounce once to the RAP. */
static __always_inline int jap_bounce(struct pias_ctx *c)
{
	struct pias_pkt *p = c->pkt;
	struct pias_ta ta = pias_flow_ta(&p->flow);
	struct pias_proxy *px = NULL;
	__u32 rap;

	pias_emit(&ta, PIAS_EV_INVALIDATE, p->iap_id, 0, c->cfg->self_id);
	if (p->tflags & PIAS_TUN_F_BOUNCED)
		return step_drop(c, PIAS_DROP_jap_no_target);
	rap = rap_of(&ta, &px);
	if (!rap || !px)
		return step_drop(c, PIAS_DROP_no_rap);
	p->tflags |= PIAS_TUN_F_BOUNCED;
	p->excl_jap = c->cfg->self_id;
	stat_inc(c, PIAS_STAT_jap_bounced);
	return step_tunnel(c, rap, PIAS_KIND_JAP_TO_RAP);
}

static __always_inline int tcp_bare_syn(const struct pias_pkt *p)
{
	return p->flow.proto == IPPROTO_TCP &&
	       (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
}

/* The client's packet on connection conn: its state and time. */
static __always_inline void conn_touch(struct pias_conn *conn, const struct pias_pkt *p, __u64 now)
{
	__u8 ct = p->flow.proto == IPPROTO_TCP
			  ? pias_ct_client_tcp(conn->ct, p->tcp_flags)
			  : pias_ct_client_udp(conn->ct, conn->created_ns, now);

	if (ct != conn->ct)
		conn->ct = ct;
	if (now - conn->last_ns > PIAS_CT_TOUCH_NS)
		conn->last_ns = now;
}

/*
 * The connection's target for this packet, or 0 when it needs a new one:
 * a SYN reusing a finished connection's 5-tuple, a fresh SYN or an
 * unanswered UDP flow for a draining target, or a target that went down (*moved: the flow moves,
 * mid-stream or not). Those entries are forgotten here, their NAT port
 * freed.
 */
static __always_inline __u32 conn_target(struct pias_ctx *c, struct pias_conn *conn, __u64 now,
					 int *moved)
{
	struct pias_pkt *p = c->pkt;
	struct pias_target *t = target_of(conn->target_id);
	int fresh_syn = tcp_bare_syn(p);

	if (fresh_syn && pias_ct_syn_reopens(conn->ct, p->tcp_flags)) {
		stat_inc(c, PIAS_STAT_jap_conn_reopen);
	} else if (pias_ct_expired(&c->cfg->ct, p->flow.proto, conn->ct, conn->last_ns, now) &&
		   pias_conn_ended(&p->flow, conn, now)) {
		/* as if swept: a UDP flow starts anew, a TCP segment has no connection */
		stat_inc(c, PIAS_STAT_jap_conn_expired);
	} else if (t && t->state == PIAS_TARGET_DRAINING && fresh_syn) {
		/* a draining target takes no new connection, retransmitted SYN or not */
	} else if (t && t->state == PIAS_TARGET_DRAINING && p->flow.proto == IPPROTO_UDP &&
		   !(conn->ct & PIAS_CT_REPLIED)) {
		/*
		 * nor a UDP flow it never answered: no exchange to keep, and an
		 * ejected target (outlier detection) may be one that cannot
		 * answer; a client reusing the 5-tuple would be stuck with it
		 */
	} else if (t && (t->state == PIAS_TARGET_ACTIVE || t->state == PIAS_TARGET_DRAINING) &&
		   !(t->flags & PIAS_TARGET_F_TUNNEL) == !!conn->nat_port) {
		conn_touch(conn, p, now);
		stat_inc(c, PIAS_STAT_jap_conn_hit);
		return conn->target_id;
	} else {
		/*
		 * Its target is down (or re-registered in the other mode: the
		 * entry no longer says how to reach it): a TCP segment goes on
		 * to a live target, whose RST tells the client at once that
		 * its connection is gone, rather than after minutes of
		 * retransmissions.
		 */
		*moved = 1;
	}
	/*
	 * Its NAT address and port are freed now, unless the target closed
	 * first and may hold TIME_WAIT on them: then the reverse entry stays,
	 * left over, until that is over (nat_reclaimable, the sweep).
	 */
	if (*moved || !(conn->ct & PIAS_CT_T_FIRST))
		pias_conn_forget(&p->flow, conn);
	return 0;
}

/*
 * A replicated group's datagram, decapsulated: up to the TC program on
 * this interface (XDP cannot copy a packet), marked by metadata that only
 * XDP can write. Nothing is kept here: the copies' connections are the TC
 * program's, one per target (include/pias/replica.h).
 */
static __always_inline int jap_replicate_up(struct pias_ctx *c)
{
	struct pias_replica_meta *m;

	if (c->pkt->flow.proto != IPPROTO_UDP)
		return step_drop(c, PIAS_DROP_jap_replicate_tcp);
	if (bpf_xdp_adjust_meta(c->xdp, -(int)sizeof(*m)))
		return step_drop(c, PIAS_DROP_adjust_failed);
	m = xdp_data_meta(c->xdp);
	if ((void *)(m + 1) > xdp_data(c->xdp))
		return step_drop(c, PIAS_DROP_adjust_failed);
	m->magic = PIAS_REPLICA_MAGIC;
	m->iap_id = c->pkt->iap_id;
	stat_inc(c, PIAS_STAT_jap_replicate_up);
	return STEP_PASS;
}

/*
 * A UDP datagram's first payload byte | LEAD_PRESENT, 0 for TCP or an
 * empty datagram: what a +quic group's JAP tells a mid-stream datagram by.
 * Read only for a flow with no connection, off the fast path.
 */
static __always_inline __u32 udp_lead(struct pias_ctx *c, const struct pias_pkt *p)
{
	__u8 b;

	/* not the frame's end: an Ethernet frame may be padded past the IP packet */
	if (p->flow.proto != IPPROTO_UDP ||
	    p->ip_len <= p->l4_off - ETH_HLEN + sizeof(struct udphdr))
		return 0;
	/* a helper: l4_off varies (after a decap, or not), and this path is cold */
	if (bpf_xdp_load_bytes(c->xdp, p->l4_off + sizeof(struct udphdr), &b, 1))
		return 0;
	return b | LEAD_PRESENT;
}

static __always_inline int jap_step(struct pias_ctx *c)
{
	struct pias_pkt *p = c->pkt;
	const union pias_addr *nat = pias_nat_base(c->cfg, p->flow.family);
	struct pias_conn *conn = bpf_map_lookup_elem(&pias_conns, &p->flow);
	struct pias_target *t = NULL;
	struct pias_target_stats *ts;
	union pias_addr src;
	__u64 now = bpf_ktime_get_coarse_ns();
	__u32 tid = 0, index = 0, slot = 0;
	__u16 port = 0;
	int rc, moved = 0;

	/*
	 * Checked first, so that a packet dropped here leaves no connection
	 * behind; decremented only when the packet goes to a target (a
	 * bounce stays inside the overlay, like a RAP relay).
	 */
	rc = ip_ttl_check(c, p->flow.family);
	if (rc >= 0)
		return step_drop(c, rc);
	if (conn) {
		tid = conn_target(c, conn, now, &moved);
		port = conn->nat_port;
		index = conn->nat_index;
		slot = conn->slot;
	}
	if (!tid) {
		__u32 hash = pias_flow_hash(&p->flow);

		/*
		 * A TCP connection begins with a SYN. A later segment with no
		 * connection here would only draw a RST from a target that
		 * never saw the handshake, and reset the client.
		 */
		if (p->flow.proto == IPPROTO_TCP && !tcp_bare_syn(p) && !moved) {
			/* another JAP may hold it: the client moved IAPs */
			pias_emit_conn_miss(&p->flow, p->iap_id);
			return step_drop(c, PIAS_DROP_jap_no_conn);
		}
		__u32 ct = p->flow.proto == IPPROTO_TCP
				   ? pias_ct_client_tcp(PIAS_CT_SYN, p->tcp_flags)
				   : 0;

		__u64 pick = pias_pick_target(&p->flow, hash, moved ? 0 : udp_lead(c, p));

		if (pick == PICK_MIDSTREAM) {
			pias_emit_conn_miss(&p->flow, p->iap_id);
			return step_drop(c, PIAS_DROP_jap_no_conn);
		}
		if (pick == PICK_NO_SCOPE)
			return step_drop(c, PIAS_DROP_jap_no_scope);
		if (pick == PICK_REPLICATE)
			return jap_replicate_up(c);
		slot = (__u32)(pick >> 32);
		tid = (__u32)pick;
		t = target_of(tid);
		if (!tid || !t)
			return jap_bounce(c);
		ts = target_stats(tid);
		if (t->flags & PIAS_TARGET_F_TUNNEL) {
			if (pias_conn_create_tunnel(&p->flow, p->iap_id, tid, ct, slot))
				return step_drop(c, PIAS_DROP_jap_no_target);
			port = 0;
		} else {
			if (addr_is_zero(nat))
				return step_drop(c, PIAS_DROP_nat_no_addr);
			rc = pias_conn_create(&p->flow, p->iap_id, tid, ct, slot);
			if (!rc) {
				if (ts)
					ts->nat_no_port++;
				return step_drop(c, PIAS_DROP_nat_no_port);
			}
			port = rc & 0xffff;
			index = (__u32)rc >> 16;
		}
		if (ts)
			ts->new_flows++;
		stat_inc(c, PIAS_STAT_jap_new_conn);
	}
	t = target_of(tid);
	if (!t)
		return step_drop(c, PIAS_DROP_jap_no_target);

	rc = ip_dec_ttl(c, p->flow.family);
	if (rc >= 0)
		return step_drop(c, rc);
	if (t->flags & PIAS_TARGET_F_TUNNEL) {
		/* the client's packet as it is, wrapped (pias_send_target);
		 * its SYN sized for the wrapping, as at the IAP */
		if (tcp_clamp_syn(c))
			stat_inc(c, PIAS_STAT_jap_mss_clamped);
		p->next_id = tid;
		p->kind = PIAS_KIND_JAP_TO_TARGET;
	} else {
		src = pias_nat_addr(c->cfg, p->flow.family, index);
		rc = nat_rewrite(c, &src, &t->addr, port, t->port ? t->port : p->flow.dport);
		if (rc >= 0)
			return step_drop(c, rc);
	}

	ts = target_stats(tid);
	if (ts) {
		ts->packets++;
		ts->bytes += p->ip_len;
	}
	group_count(PIAS_ROLE_JAP, slot, p->ip_len);
	return (t->flags & PIAS_TARGET_F_TUNNEL) ? STEP_TARGET : STEP_FORWARD;
}

/*
 * The target's packet on reverse entry rv: its time, and the state it
 * shows. The forward entry holds the connection's state; it is looked up
 * only when this packet adds to it (the first reply, a FIN, a RST), not
 * for every reply.
 */
static __always_inline void rev_touch(struct pias_conn_rev *rv, const struct pias_pkt *p, __u64 now)
{
	__u8 seen = PIAS_CT_REPLIED;
	struct pias_conn *conn;

	if (p->flow.proto == IPPROTO_TCP) {
		if (p->tcp_flags & TCP_FLAG_FIN)
			seen |= PIAS_CT_FIN_T;
		if (p->tcp_flags & TCP_FLAG_RST)
			seen |= PIAS_CT_RST;
	}
	if ((rv->ct | seen) != rv->ct) {
		conn = bpf_map_lookup_elem(&pias_conns, &rv->client);
		if (conn && conn->target_id == rv->target_id) {
			conn->ct = pias_ct_target(conn->ct, p->flow.proto, p->tcp_flags);
			/* who closed first outlives the connection (leftovers) */
			seen |= conn->ct & PIAS_CT_T_FIRST;
		} else if (seen & PIAS_CT_FIN_T) {
			seen |= PIAS_CT_T_FIRST; /* unknown: assume the target holds TIME_WAIT */
		}
		rv->ct |= seen;
	}
	if (now - rv->last_ns > PIAS_CT_TOUCH_NS)
		rv->last_ns = now;
}

/*
 * How a target met a new flow, at the first packet it sent back on it
 * (ct: the flow's state before that packet): a RST before any SYN-ACK is
 * a refusal, what its kernel answers when no server listens (a JAP opens
 * TCP connections only with a SYN); anything else an answer. piasd's
 * outlier detection reads the counts.
 */
static __always_inline void count_first_reply(struct pias_target_stats *ts, __u8 ct,
					      const struct pias_pkt *p)
{
	if (!ts || (ct & PIAS_CT_REPLIED))
		return;
	if (p->flow.proto == IPPROTO_TCP && (p->tcp_flags & TCP_FLAG_RST))
		ts->refused++;
	else
		ts->answered++;
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
	__u64 now;
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
	/* the coarse clock (CLOCK_MONOTONIC_COARSE, one tick): liveness and
	 * timeouts need no better, and the precise one costs 25-40 ns a
	 * read on virtual machines */
	now = bpf_ktime_get_coarse_ns();
	ts = target_stats(rv->target_id);
	count_first_reply(ts, rv->ct, p);
	rev_touch(rv, p, now);
	if (ts) {
		ts->rev_packets++;
		ts->rev_bytes += p->ip_len;
		/*
		 * A RST is what the kernel of a host whose server died answers
		 * each new SYN with, and a FIN what it sends, and sends again
		 * with backoff, for the connections the dead server left: no
		 * sign of life either (a FIN resent 600 ms after a kill -9 kept
		 * a target 600 ms longer in service), and counting them kept
		 * such a target in service as long as clients kept trying it
		 */
		if (!(p->tcp_flags & (TCP_FLAG_RST | TCP_FLAG_FIN)))
			ts->last_reply_ns = now;
	}
	group_count(PIAS_ROLE_REV, rv->slot, p->ip_len);
	stat_inc(c, PIAS_STAT_rev_translated);
	return STEP_FORWARD;
}

/*
 * A tunnel-mode target's reply, unwrapped (kind 6 from address from): it
 * must belong to a connection of this very target, else it is dropped
 * (tunnel_not_target). Then it goes to the client as it is (its source is
 * the TA already); the connection learns what the target sent, as on the
 * NAT reverse path.
 */
static __always_inline int target_reply_step(struct pias_ctx *c, const struct pias_addr_key *from)
{
	struct pias_pkt *p = c->pkt;
	struct pias_flow k = {
		.saddr = p->flow.daddr,
		.daddr = p->flow.saddr,
		.sport = p->flow.dport,
		.dport = p->flow.sport,
		.proto = p->flow.proto,
		.family = p->flow.family,
	};
	struct pias_conn *conn = bpf_map_lookup_elem(&pias_conns, &k);
	struct pias_target_stats *ts;
	struct pias_target *t;
	__u64 now;
	__u8 ct;
	int rc;

	t = conn ? target_of(conn->target_id) : NULL;
	if (!t || conn->nat_port || !(t->flags & PIAS_TARGET_F_TUNNEL) ||
	    t->family != from->family || !addr_eq(&t->addr, &from->addr))
		return step_drop(c, PIAS_DROP_tunnel_not_target);
	/* the target's address is no proof: anyone may send from it */
	if (p->tag != t->tag)
		return step_drop(c, PIAS_DROP_tunnel_bad_tag);
	rc = ip_dec_ttl(c, p->flow.family);
	if (rc >= 0)
		return step_drop(c, rc);
	if (tcp_clamp_syn(c))
		stat_inc(c, PIAS_STAT_rev_mss_clamped);
	now = bpf_ktime_get_coarse_ns();
	ts = target_stats(conn->target_id);
	count_first_reply(ts, conn->ct, p);
	ct = pias_ct_target(conn->ct, p->flow.proto, p->tcp_flags);
	if (ct != conn->ct)
		conn->ct = ct;
	if (now - conn->last_ns > PIAS_CT_TOUCH_NS)
		conn->last_ns = now;
	if (ts) {
		ts->rev_packets++;
		ts->rev_bytes += p->ip_len;
		if (!(p->tcp_flags &
		      (TCP_FLAG_RST | TCP_FLAG_FIN))) /* as on the NAT reverse path */
			ts->last_reply_ns = now;
	}
	group_count(PIAS_ROLE_REV, conn->slot, p->ip_len);
	stat_inc(c, PIAS_STAT_jap_tunnel_reply);
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

/* A tunnel-mode target's reply p from from; a global subprogram, verified once. */
__noinline int pias_target_reply(struct xdp_md *ctx, struct pias_pkt *p,
				 const struct pias_addr_key *from)
{
	struct pias_ctx c;

	if (!from || ctx_init(&c, ctx, p))
		return STEP_DROP;
	return target_reply_step(&c, from);
}

#endif
