/* SPDX-License-Identifier: GPL-2.0 */
/*
 * JAP, replication (policy replicate/k; docs/design.md "Choosing a target"):
 * the TC half. XDP cannot copy a packet; the JAP's XDP program hands a
 * replicated group's datagram up, decapsulated, its TTL checked, with
 * metadata only XDP can write (include/pias/replica.h). Here, at TC ingress
 * of the same interface, it is sent to up to k of the group's targets at
 * this JAP: for each, a connection of its own (the client's flow, pad =
 * copy + 1) with a NAT port of its own, so that each target's answer finds
 * its way back through the XDP reverse path and reaches the client as it
 * is sent. The copies are rewritten one after another in the same skb and
 * cloned out; the original is dropped.
 */
#ifndef PIAS_BPF_REPLICA_H
#define PIAS_BPF_REPLICA_H

#include <pias/replica.h>

#include "jap.h"
#include "tc_icmp.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

#define R_IP	    ETH_HLEN
#define R_IP4_CSUM  (R_IP + 10)
#define R_IP4_TTL   (R_IP + 8)
#define R_IP4_ADDR  (R_IP + 12) /* saddr, then daddr */
#define R_UDP4	    (R_IP + 20)
#define R_IP6_HOP   (R_IP + 7)
#define R_IP6_ADDR  (R_IP + 8)
#define R_UDP6	    (R_IP + 40)

/* The packet as it is now (each copy rewrites it from the last one's). */
struct replica_state {
	struct pias_flow flow; /* the client's, pad 0 */
	union pias_addr saddr, daddr;
	__u16 sport, dport; /* host order */
	__u32 iap, slot, n;
	__u32 ids[PIAS_REPLICATE_MAX];
};

static __always_inline void rep_count(__u32 i)
{
	struct pias_stats *st = stats_here();

	if (st && i < PIAS_STAT_MAX)
		((__u64 *)st)[i]++;
}

static __always_inline int rep_drop(__u32 i)
{
	__u32 zero = 0;
	struct pias_drops *d = bpf_map_lookup_elem(&pias_drops, &zero);

	if (d && i < PIAS_DROP_MAX)
		((__u64 *)d)[i]++;
	return TC_ACT_SHOT;
}

/* The client's datagram: addresses and ports, into s. 0, or a drop reason. */
static __always_inline int rep_parse(struct __sk_buff *skb, struct replica_state *s)
{
	struct pias_flow *f = &s->flow;
	__u16 ports[2];
	__u32 l4;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		f->family = PIAS_AF_INET;
		if (bpf_skb_load_bytes(skb, R_IP4_ADDR, &f->saddr.v4, 4) ||
		    bpf_skb_load_bytes(skb, R_IP4_ADDR + 4, &f->daddr.v4, 4))
			return PIAS_DROP_truncated_ip;
		l4 = R_UDP4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		f->family = PIAS_AF_INET6;
		if (bpf_skb_load_bytes(skb, R_IP6_ADDR, &f->saddr, 16) ||
		    bpf_skb_load_bytes(skb, R_IP6_ADDR + 16, &f->daddr, 16))
			return PIAS_DROP_truncated_ip;
		l4 = R_UDP6;
	} else {
		return PIAS_DROP_bad_ip_header;
	}
	if (bpf_skb_load_bytes(skb, l4, ports, sizeof(ports)))
		return PIAS_DROP_truncated_l4;
	f->sport = bpf_ntohs(ports[0]);
	f->dport = bpf_ntohs(ports[1]);
	f->proto = IPPROTO_UDP;
	s->saddr = f->saddr;
	s->daddr = f->daddr;
	s->sport = f->sport;
	s->dport = f->dport;
	return 0;
}

/*
 * Entry i of set h (the room's) as a copy's target: pias_tset_take's, in
 * NAT mode only (a tunnel-mode target's copy would need a wrapping of its
 * own). A global subprogram, so that the walk over entries costs the
 * verifier a call each.
 */
__noinline __u32 pias_rep_take(const struct pias_tset *h, __u32 i)
{
	__u32 id = pias_tset_take(h, i, 0);
	struct pias_target *t = target_of(id);

	return t && !(t->flags & PIAS_TARGET_F_TUNNEL) ? id : 0;
}

static __u32 rep_take(void *ctx, __u32 i, __u32 scoped)
{
	(void)scoped;
	return pias_rep_take(ctx, i);
}

/*
 * Up to the policy's k eligible targets (as a new flow's would be: active,
 * the client's family, not the client itself; NAT mode), from a place in
 * the set that the flow's hash chooses, so that one flow's copies go to
 * the same targets while they live (pias_pick_replicas, include/pias/pick.h).
 * 0, or 1 for none. A global subprogram: its walk is verified once, apart
 * from the program's other state.
 */
__noinline int pias_rep_pick(struct replica_state *s)
{
	struct tset_room *room = tset_room();
	const struct pias_tset *h;

	if (!s || !room)
		return 1;
	h = tset_open(room, &s->flow);
	if (!h || h->policy.kind != PIAS_POLICY_REPLICATE)
		return 1;
	s->slot = h->slot;
	s->n = pias_pick_replicas(h->count, pias_flow_hash(&s->flow), h->policy.copies, (void *)h,
				  rep_take, s->ids);
	return !s->n;
}

/* TTL or hop limit down by one, once for all copies (XDP checked it is above 1). */
static __always_inline int rep_dec_ttl(struct __sk_buff *skb, __u8 family)
{
	__u8 ttl;

	if (family == PIAS_AF_INET) {
		__u16 old, new;

		if (bpf_skb_load_bytes(skb, R_IP4_TTL, &old, 2))
			return -1;
		ttl = *(__u8 *)&old;
		if (ttl <= 1)
			return -1;
		new = old;
		*(__u8 *)&new = ttl - 1;
		if (bpf_l3_csum_replace(skb, R_IP4_CSUM, old, new, 2))
			return -1;
		return bpf_skb_store_bytes(skb, R_IP4_TTL, &new, 2, 0) ? -1 : 0;
	}
	if (bpf_skb_load_bytes(skb, R_IP6_HOP, &ttl, 1) || ttl <= 1)
		return -1;
	ttl--;
	return bpf_skb_store_bytes(skb, R_IP6_HOP, &ttl, 1, 0) ? -1 : 0;
}

/* Where a copy goes: from a NAT address and port to its target. */
struct replica_to {
	union pias_addr src, dst;
	__u16 sport, dport; /* host order */
};

/*
 * The packet from s's addresses and ports to to's; checksums follow. Not
 * inlined, nor is rep_send: their frames stay off the chain of calls into
 * pias_conn_create, which has 512 bytes of stack in all.
 */
static __noinline int rep_rewrite(struct __sk_buff *skb, struct replica_state *s,
				  const struct replica_to *to)
{
	const union pias_addr *src = &to->src, *dst = &to->dst;
	__u16 sport = to->sport, dport = to->dport;
	__be16 ports[2] = { bpf_htons(sport), bpf_htons(dport) };
	__be16 old_sp = bpf_htons(s->sport), old_dp = bpf_htons(s->dport);
	__u32 csum, addr_off, port_off;
	__u64 mangled = 0;

	if (s->flow.family == PIAS_AF_INET) {
		csum = R_UDP4 + 6;
		addr_off = R_IP4_ADDR;
		port_off = R_UDP4;
		/* a UDP checksum of 0 (none, IPv4) stays 0 */
		mangled = BPF_F_MARK_MANGLED_0;
		if (bpf_l3_csum_replace(skb, R_IP4_CSUM, s->saddr.v4, src->v4, 4) ||
		    bpf_l3_csum_replace(skb, R_IP4_CSUM, s->daddr.v4, dst->v4, 4) ||
		    bpf_l4_csum_replace(skb, csum, s->saddr.v4, src->v4,
					BPF_F_PSEUDO_HDR | mangled | 4) ||
		    bpf_l4_csum_replace(skb, csum, s->daddr.v4, dst->v4,
					BPF_F_PSEUDO_HDR | mangled | 4) ||
		    bpf_skb_store_bytes(skb, addr_off, &src->v4, 4, 0) ||
		    bpf_skb_store_bytes(skb, addr_off + 4, &dst->v4, 4, 0))
			return -1;
	} else {
		union pias_addr os = s->saddr, od = s->daddr, ns = *src, nd = *dst;
		__s64 d1 = bpf_csum_diff((__be32 *)&os, 16, (__be32 *)&ns, 16, 0);
		__s64 d2 = bpf_csum_diff((__be32 *)&od, 16, (__be32 *)&nd, 16, 0);

		csum = R_UDP6 + 6;
		addr_off = R_IP6_ADDR;
		port_off = R_UDP6;
		if (d1 < 0 || d2 < 0 ||
		    bpf_l4_csum_replace(skb, csum, 0, (__u32)d1, BPF_F_PSEUDO_HDR) ||
		    bpf_l4_csum_replace(skb, csum, 0, (__u32)d2, BPF_F_PSEUDO_HDR) ||
		    bpf_skb_store_bytes(skb, addr_off, &ns, 16, 0) ||
		    bpf_skb_store_bytes(skb, addr_off + 16, &nd, 16, 0))
			return -1;
	}
	if (bpf_l4_csum_replace(skb, csum, old_sp, ports[0], mangled | 2) ||
	    bpf_l4_csum_replace(skb, csum, old_dp, ports[1], mangled | 2) ||
	    bpf_skb_store_bytes(skb, port_off, ports, sizeof(ports), 0))
		return -1;
	s->saddr = *src;
	s->daddr = *dst;
	s->sport = sport;
	s->dport = dport;
	return 0;
}

/* The copy, rewritten to to, out towards its target: route, MACs, clone. */
static __noinline int rep_route(struct __sk_buff *skb, __u8 family, const struct replica_to *to)
{
	struct bpf_fib_lookup fl = {};

	fl.ifindex = skb->ingress_ifindex;
	fl.l4_protocol = IPPROTO_UDP;
	if (family == PIAS_AF_INET) {
		fl.family = AF_INET;
		fl.tot_len = skb->len - ETH_HLEN;
		fl.ipv4_src = to->src.v4;
		fl.ipv4_dst = to->dst.v4;
	} else {
		fl.family = AF_INET6;
		fl.tot_len = skb->len - ETH_HLEN;
		__builtin_memcpy(fl.ipv6_src, &to->src, 16);
		__builtin_memcpy(fl.ipv6_dst, &to->dst, 16);
	}
	if (bpf_fib_lookup(skb, &fl, sizeof(fl), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return PIAS_DROP_replica_no_route;
	if (bpf_skb_store_bytes(skb, 0, fl.dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, fl.smac, ETH_ALEN, 0) ||
	    bpf_clone_redirect(skb, fl.ifindex, 0))
		return PIAS_DROP_replica_failed;
	return -1;
}

/* Copy i: its connection (NAT port), the rewrite, the route, the clone. */
static __noinline int rep_send(struct __sk_buff *skb, struct replica_state *s, __u32 i,
			       struct pias_config *cfg, __u64 now)
{
	__u32 tid = s->ids[i & (PIAS_REPLICATE_MAX - 1)], index;
	struct pias_target *t = target_of(tid);
	struct pias_target_stats *ts;
	struct pias_flow key = s->flow;
	struct pias_conn *conn;
	struct replica_to to;
	__u16 sport;
	int rc;

	if (!cfg)
		return PIAS_DROP_replica_failed;

	if (!t)
		return PIAS_DROP_replica_no_target;
	key.pad = i + 1;
	conn = bpf_map_lookup_elem(&pias_conns, &key);
	if (conn && conn->target_id == tid && conn->nat_port &&
	    !pias_ct_expired(&cfg->ct, IPPROTO_UDP, conn->ct, conn->last_ns, now)) {
		sport = conn->nat_port;
		index = conn->nat_index;
		conn->ct = pias_ct_client_udp(conn->ct, conn->created_ns, now);
		if (now - conn->last_ns > PIAS_CT_TOUCH_NS)
			conn->last_ns = now;
	} else {
		if (conn)
			pias_conn_forget(&key, conn);
		rc = pias_conn_create(&key, s->iap, tid, 0, s->slot);
		if (!rc)
			return PIAS_DROP_nat_no_port;
		sport = rc & 0xffff;
		index = (__u32)rc >> 16;
	}
	to.src = pias_nat_addr(cfg, s->flow.family, index);
	to.dst = t->addr;
	to.sport = sport;
	to.dport = t->port ? t->port : s->flow.dport;
	if (rep_rewrite(skb, s, &to))
		return PIAS_DROP_replica_failed;

	rc = rep_route(skb, s->flow.family, &to);
	if (rc >= 0)
		return rc;
	ts = target_stats(tid);
	if (ts) {
		ts->packets++;
		ts->bytes += skb->len - ETH_HLEN;
	}
	rep_count(PIAS_STAT_jap_replica_sent);
	return -1;
}

static __always_inline int pias_replicate(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct pias_replica_meta *m = (void *)(long)skb->data_meta;
	struct pias_config *cfg = config_here();
	struct replica_state s = {};
	__u64 now = bpf_ktime_get_coarse_ns();
	int rc;

	if (!cfg)
		return TC_ACT_OK;
	/* not handed up by our XDP program: perhaps a target's ICMP error */
	if ((void *)(m + 1) > data || m->magic != PIAS_REPLICA_MAGIC) {
		pias_tc_icmp(skb, cfg);
		return TC_ACT_OK;
	}
	s.iap = m->iap_id;
	rc = rep_parse(skb, &s);
	/* its answer mapped to the constant: the verifier must see the index bounded */
	if (!rc)
		rc = pias_rep_pick(&s) ? PIAS_DROP_replica_no_target : 0;
	if (rc)
		return rep_drop(rc);
	if (rep_dec_ttl(skb, s.flow.family))
		return rep_drop(PIAS_DROP_ttl_expired);
	for (__u32 i = 0; i < PIAS_REPLICATE_MAX; i++) {
		if (i >= s.n)
			break;
		rc = rep_send(skb, &s, i, cfg, now);
		if (rc >= 0)
			rep_drop(rc);
	}
	/* every copy went out as a clone */
	return TC_ACT_SHOT;
}

#endif
