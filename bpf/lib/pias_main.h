/* SPDX-License-Identifier: MIT */
/*
 * The packet's journey through a proxy, in one function: classify by
 * destination (tunnel, NAT reply, anycast client packet, other), run the
 * roles the packet needs here (IAP, RAP, JAP: when the next proxy is this
 * one, the next role runs in place), then send the result.
 *
 * Kept in a header so that the benchmark wrapper (bpf/bench.bpf.c) runs
 * exactly this code as a subprogram.
 */
#ifndef PIAS_BPF_MAIN_H
#define PIAS_BPF_MAIN_H

#include "encap.h"
#include "fwd.h"
#include "iap.h"
#include "icmp.h"
#include "jap.h"
#include "parse.h"
#include "rap.h"

enum pias_role {
	ROLE_IAP,
	ROLE_RAP,
	ROLE_JAP
};

static __always_inline int role_of_kind(__u8 kind)
{
	return (kind == PIAS_KIND_IAP_TO_RAP || kind == PIAS_KIND_JAP_TO_RAP) ? ROLE_RAP : ROLE_JAP;
}

/*
 * Encapsulates for the next proxy and routes; too big: ICMP at the IAP.
 * A global subprogram: keeps the tunnel header off the main stack.
 */
__noinline int pias_send_tunnel(struct xdp_md *ctx, struct pias_pkt *p, __u32 from_client)
{
	struct pias_ctx cc, *c = &cc;
	struct pias_tunhdr hdr = {};
	struct pias_proxy *to;
	int overhead, rc;

	if (ctx_init(c, ctx, p))
		return XDP_DROP;
	/* the role that chose it checked it may take this packet */
	to = proxy_pinned(p->next_id);
	if (!to)
		return drop(c, PIAS_DROP_unknown_proxy);
	hdr.version = PIAS_TUN_VERSION;
	hdr.kind = p->kind;
	hdr.flags = p->tflags;
	hdr.hops = p->hops + 1;
	hdr.iap_id = bpf_htonl(p->iap_id);
	hdr.excl_jap = bpf_htonl(p->excl_jap);
	__builtin_memcpy(hdr.tag, &to->tx_tag, PIAS_TUN_TAG_LEN);
	overhead = encap_overhead(to->family);
	if (p->ip_len + overhead > c->cfg->underlay_mtu) {
		if (from_client)
			return pias_too_big(c->xdp, p->flow.family,
					    c->cfg->underlay_mtu - overhead);
		return drop(c, PIAS_DROP_too_big);
	}
	rc = encap(c, to, &hdr);
	if (rc >= 0)
		return drop(c, rc);
	return fwd(c);
}

/*
 * Wraps the client's packet for tunnel-mode target p->next_id (kind 5,
 * from this proxy's tunnel address) and routes it; too big: ICMP to the
 * client, as at the IAP. A global subprogram: keeps the header off the
 * main stack.
 */
__noinline int pias_send_target(struct xdp_md *ctx, struct pias_pkt *p)
{
	struct pias_ctx cc, *c = &cc;
	struct pias_tunhdr hdr = {};
	struct pias_proxy to = { .state = PIAS_PROXY_UP };
	struct pias_target *t;
	int overhead, rc;

	if (ctx_init(c, ctx, p))
		return XDP_DROP;
	t = target_of(p->next_id);
	if (!t)
		return drop(c, PIAS_DROP_jap_no_target);
	to.addr = t->addr;
	to.family = t->family;
	hdr.version = PIAS_TUN_VERSION;
	hdr.kind = PIAS_KIND_JAP_TO_TARGET;
	hdr.hops = p->hops + 1;
	hdr.iap_id = bpf_htonl(p->iap_id);
	__builtin_memcpy(hdr.tag, &t->tag, PIAS_TUN_TAG_LEN);
	overhead = encap_overhead(to.family);
	if (p->ip_len + overhead > c->cfg->underlay_mtu)
		return pias_too_big(c->xdp, p->flow.family, c->cfg->underlay_mtu - overhead);
	rc = encap(c, &to, &hdr);
	if (rc >= 0)
		return drop(c, rc);
	stat_inc(c, PIAS_STAT_jap_tunnel_sent);
	return fwd(c);
}

/*
 * Runs roles from 'role' on until the packet leaves this proxy. Each role is
 * a global subprogram, so the verifier checks it once rather than once per
 * path through this loop.
 */
static __always_inline int run_roles(struct pias_ctx *c, int role, int from_client)
{
	struct pias_pkt *p = c->pkt;
	int step = STEP_DROP;

	for (int i = 0; i <= PIAS_TUN_MAX_HOPS; i++) {
		if (role == ROLE_IAP)
			step = pias_iap(c->xdp, p);
		else if (role == ROLE_RAP)
			step = pias_rap(c->xdp, p);
		else
			step = pias_jap(c->xdp, p);
		if (step != STEP_TUNNEL || p->next_id != c->cfg->self_id)
			break;
		/* the next proxy is this one: play its role here */
		stat_inc(c, PIAS_STAT_local_hop);
		if (++p->hops > PIAS_TUN_MAX_HOPS)
			return drop(c, PIAS_DROP_tunnel_loop);
		role = role_of_kind(p->kind);
	}
	switch (step) {
	case STEP_TUNNEL:
		if (p->next_id == c->cfg->self_id)
			return drop(c, PIAS_DROP_tunnel_loop);
		return pias_send_tunnel(c->xdp, p, from_client);
	case STEP_TARGET:
		return pias_send_target(c->xdp, p);
	case STEP_FORWARD:
		return fwd(c);
	case STEP_PASS:
		return XDP_PASS;
	}
	return XDP_DROP;
}

static __always_inline int is_addr(const union pias_addr *a, const union pias_addr *self,
				   __u8 family)
{
	if (family == PIAS_AF_INET)
		return self->v4 && a->v4 == self->v4;
	return !addr_is_zero(self) && addr_eq(a, self);
}

/* Beyond PIAS_ANYCAST_INLINE prefixes of a family: the LPM map. */
static __always_inline int is_anycast_lpm(const struct ip_info *ip)
{
	if (ip->family == PIAS_AF_INET) {
		struct pias_prefix4_key k = { .prefixlen = 32, .addr = ip->daddr.v4 };

		return bpf_map_lookup_elem(&pias_prefix4, &k) != NULL;
	}
	struct pias_prefix6_key k6 = { .prefixlen = 128 };

	__builtin_memcpy(k6.addr, &ip->daddr, 16);
	return bpf_map_lookup_elem(&pias_prefix6, &k6) != NULL;
}

static __always_inline int is_anycast(const struct ip_info *ip)
{
	__u32 zero = 0;
	const struct pias_anycast *a = bpf_map_lookup_elem(&pias_anycast, &zero);
	const __be32 *d = ip->daddr.v6;

	if (!a)
		return is_anycast_lpm(ip);
	if (ip->family == PIAS_AF_INET) {
		if (a->n4 > PIAS_ANYCAST_INLINE)
			return is_anycast_lpm(ip);
		for (__u32 i = 0; i < PIAS_ANYCAST_INLINE && i < a->n4; i++)
			if ((ip->daddr.v4 & a->v4[i].mask) == a->v4[i].addr)
				return 1;
		return 0;
	}
	if (a->n6 > PIAS_ANYCAST_INLINE)
		return is_anycast_lpm(ip);
	for (__u32 i = 0; i < PIAS_ANYCAST_INLINE && i < a->n6; i++)
		if ((d[0] & a->v6[i].mask[0]) == a->v6[i].addr[0] &&
		    (d[1] & a->v6[i].mask[1]) == a->v6[i].addr[1] &&
		    (d[2] & a->v6[i].mask[2]) == a->v6[i].addr[2] &&
		    (d[3] & a->v6[i].mask[3]) == a->v6[i].addr[3])
			return 1;
	return 0;
}

/* A client's packet to an anycast address: this proxy is its IAP. */
static __always_inline int client_rx(struct pias_ctx *c, const struct ip_info *ip)
{
	struct pias_pkt *p = c->pkt;
	int rc;

	if (ip->unsupported)
		return drop(c, ip->unsupported - 1);
	if (!is_l4(ip->proto)) {
		stat_inc(c, PIAS_STAT_pass_not_l4);
		return XDP_PASS;
	}
	rc = parse_l4(c, ip, ETH_HLEN, p);
	if (rc >= 0)
		return drop(c, rc);
	if (trim_to_ip(c, ETH_HLEN, p->ip_len))
		return drop(c, PIAS_DROP_adjust_failed);
	rc = ip_dec_ttl(c, p->flow.family);
	if (rc >= 0)
		return drop(c, rc);
	if (tcp_clamp_syn(c))
		stat_inc(c, PIAS_STAT_iap_mss_clamped);

	p->kind = 0;
	p->tflags = 0;
	p->hops = 0;
	p->iap_id = c->cfg->self_id;
	p->excl_jap = 0;
	return run_roles(c, ROLE_IAP, 1);
}

static __always_inline int kind_between_proxies(__u8 kind)
{
	return (kind >= PIAS_KIND_IAP_TO_RAP && kind <= PIAS_KIND_MAX) ||
	       kind == PIAS_KIND_ECHO_REQUEST || kind == PIAS_KIND_ECHO_REPLY;
}

/*
 * A proxy's echo request (kind 7, its tag checked): answered here, by the
 * dataplane, whatever this proxy's piasd is doing. The frame goes back as
 * it came, addresses and ports swapped, as kind 8 with our tag for that
 * proxy; the body is echoed untouched. p holds the outer header's family,
 * length and L4 offset. A global subprogram: off the main stack, which
 * the JAP's call chain fills.
 */
__noinline int pias_echo_answer(struct xdp_md *ctx, struct pias_pkt *p, __u32 peer)
{
	struct pias_ctx cc, *c = &cc;
	struct pias_proxy *to;
	struct pias_tunhdr *h;
	struct udphdr *uh;
	__be16 port;
	__u32 l4;

	if (ctx_init(c, ctx, p))
		return XDP_DROP;
	to = proxy_known(peer);
	if (!to)
		return drop(c, PIAS_DROP_unknown_proxy);
	/* no options or extension headers outside (checked): a constant offset */
	l4 = L4_OFF(p->flow.family);
	if (p->l4_off != l4 ||
	    p->ip_len != l4 - ETH_HLEN + PIAS_UDP_HLEN + PIAS_TUN_HLEN + PIAS_ECHO_BODY_LEN)
		return drop(c, PIAS_DROP_bad_l4_header);
	if (p->flow.family == PIAS_AF_INET) {
		struct iphdr *h4 = FRAME_PTR(c, ETH_HLEN, sizeof(*h4));
		__be32 a;

		if (!h4)
			return drop(c, PIAS_DROP_adjust_failed);
		a = h4->saddr;
		h4->saddr = h4->daddr;
		h4->daddr = a;
		h4->ttl = PIAS_OUTER_TTL;
		h4->check = 0;
		h4->check = csum_ipv4_hdr(h4);
	} else {
		struct ipv6hdr *h6 = FRAME_PTR(c, ETH_HLEN, sizeof(*h6));

		if (!h6)
			return drop(c, PIAS_DROP_adjust_failed);
		/* a word at a time: a 16-byte temporary would not fit the stack */
		for (int i = 0; i < 4; i++) {
			__be32 w = h6->saddr.in6_u.u6_addr32[i];

			h6->saddr.in6_u.u6_addr32[i] = h6->daddr.in6_u.u6_addr32[i];
			h6->daddr.in6_u.u6_addr32[i] = w;
		}
		h6->hop_limit = PIAS_OUTER_TTL;
	}
	uh = FRAME_PTR(c, l4, sizeof(*uh) + sizeof(*h));
	if (!uh)
		return drop(c, PIAS_DROP_adjust_failed);
	port = uh->source;
	uh->source = uh->dest;
	uh->dest = port;
	uh->check = 0;
	h = (void *)(uh + 1);
	h->kind = PIAS_KIND_ECHO_REPLY;
	h->hops = 1;
	__builtin_memcpy(h->tag, &to->tx_tag, PIAS_TUN_TAG_LEN);
	stat_inc(c, PIAS_STAT_echo_answered);
	return fwd(c);
}

/*
 * Does h carry one of the tags we accept from this proxy (one per key of
 * our ring)? A blind spoofer of a proxy's address cannot know any.
 */
static __always_inline int tag_ok(const struct pias_proxy_ref *ref, const struct pias_tunhdr *h)
{
	__u64 tag;

	__builtin_memcpy(&tag, h->tag, PIAS_TUN_TAG_LEN);
	for (__u32 i = 0; i < PIAS_TUN_RX_TAGS; i++) {
		if (i >= ref->n_rx)
			break;
		if (ref->rx_tag[i] == tag)
			return 1;
	}
	return 0;
}

/*
 * A tunnel packet from another proxy: check, unwrap, play RAP or JAP. Or
 * a tunnel-mode target's reply (kind 6, from no proxy): check, unwrap,
 * hand to the client.
 */
static __always_inline int tunnel_rx(struct pias_ctx *c, struct ip_info *ip)
{
	struct pias_pkt *p = c->pkt;
	struct pias_addr_key src = { .addr = ip->saddr, .family = ip->family };
	__u32 outer_len =
		ip->family == PIAS_AF_INET ? PIAS_ENCAP_OVERHEAD_V4 : PIAS_ENCAP_OVERHEAD_V6;
	__u32 inner_off = ETH_HLEN + outer_len;
	/* what the inner packet's length must be, from the outer header */
	__u32 inner_len = ip->ip_len - (outer_len - PIAS_UDP_HLEN - PIAS_TUN_HLEN) - PIAS_UDP_HLEN -
			  PIAS_TUN_HLEN;
	struct pias_tunhdr *h;
	__u8 *vb, fam;
	int rc;

	struct udphdr *uh;
	struct pias_proxy_ref *ref = bpf_map_lookup_elem(&pias_proxy_addr, &src);
	int from_proxy = ref != NULL;

	if (!from_proxy) {
		/* only a target's reply comes from elsewhere: nothing else is read */
		h = FRAME_PTR(c, ip->l4_off + PIAS_UDP_HLEN, PIAS_TUN_HLEN);
		if (!h || h->kind != PIAS_KIND_TARGET_TO_JAP)
			return drop(c, PIAS_DROP_tunnel_not_proxy);
	}
	if (ip->unsupported)
		return drop(c, ip->unsupported - 1);
	uh = FRAME_PTR(c, ip->l4_off, sizeof(*uh));
	if (!uh || bpf_ntohs(uh->len) != ip->ip_len - (ip->l4_off - ETH_HLEN))
		return drop(c, PIAS_DROP_bad_l4_header);
	if (trim_to_ip(c, ETH_HLEN, ip->ip_len))
		return drop(c, PIAS_DROP_adjust_failed);
	h = FRAME_PTR(c, inner_off - PIAS_TUN_HLEN, PIAS_TUN_HLEN);
	if (!h)
		return drop(c, PIAS_DROP_tunnel_truncated);
	if (h->version != PIAS_TUN_VERSION)
		return drop(c, PIAS_DROP_tunnel_bad_version);
	if ((from_proxy ? !kind_between_proxies(h->kind)
			: h->kind != PIAS_KIND_TARGET_TO_JAP || h->flags) ||
	    (h->flags & ~PIAS_TUN_F_KNOWN))
		return drop(c, PIAS_DROP_tunnel_bad_kind);
	if (ref && !tag_ok(ref, h))
		return drop(c, PIAS_DROP_tunnel_bad_tag);
	if (h->hops > PIAS_TUN_MAX_HOPS)
		return drop(c, PIAS_DROP_tunnel_loop);
	if (h->kind == PIAS_KIND_ECHO_REQUEST) {
		p->flow.family = ip->family;
		p->ip_len = ip->ip_len;
		p->l4_off = ip->l4_off;
		return pias_echo_answer(c->xdp, p, ref->id);
	}
	if (h->kind == PIAS_KIND_ECHO_REPLY) {
		/* to piasd's socket on the tunnel port, which checks its own body */
		stat_inc(c, PIAS_STAT_echo_reply_up);
		return XDP_PASS;
	}
	p->kind = h->kind;
	p->tflags = h->flags;
	p->hops = h->hops;
	p->iap_id = bpf_ntohl(h->iap_id);
	p->excl_jap = bpf_ntohl(h->excl_jap);
	__builtin_memcpy(&p->tag, h->tag, PIAS_TUN_TAG_LEN);

	vb = FRAME_PTR(c, inner_off, 1);
	if (!vb)
		return drop(c, PIAS_DROP_truncated_ip);
	fam = *vb >> 4;
	if (fam != PIAS_AF_INET && fam != PIAS_AF_INET6)
		return drop(c, PIAS_DROP_bad_ip_header);
	/* the outer header is done with: its ip_info now describes the inner one */
	__builtin_memset(ip, 0, sizeof(*ip));
	rc = parse_ip(c, inner_off, fam, ip);
	if (rc >= 0)
		return drop(c, rc);
	if (ip->ip_len != inner_len)
		return drop(c, PIAS_DROP_bad_ip_length);
	if (ip->unsupported)
		return drop(c, ip->unsupported - 1);
	if (!is_l4(ip->proto))
		return drop(c, PIAS_DROP_bad_l4_header);
	rc = parse_l4(c, ip, inner_off, p);
	if (rc >= 0)
		return drop(c, rc);
	rc = decap(c, outer_len, fam);
	if (rc >= 0)
		return drop(c, rc);
	p->l4_off = L4_OFF(fam);
	if (!from_proxy)
		return pias_target_reply(c->xdp, p, &src) == STEP_FORWARD ? fwd(c) : XDP_DROP;
	return run_roles(c, role_of_kind(p->kind), 0);
}

/* TCP/UDP to this JAP's NAT address: a target's reply, or local traffic. */
static __always_inline int nat_rx(struct pias_ctx *c, const struct ip_info *ip)
{
	struct pias_pkt *p = c->pkt;
	int rc = parse_l4(c, ip, ETH_HLEN, p);

	/* parse_l4 also refuses options and fragments: section 4 */
	if (rc >= 0)
		return drop(c, rc);
	if (trim_to_ip(c, ETH_HLEN, p->ip_len))
		return drop(c, PIAS_DROP_adjust_failed);
	switch (pias_reverse(c->xdp, p)) {
	case STEP_FORWARD:
		return fwd(c);
	case STEP_PASS:
		return XDP_PASS;
	}
	return XDP_DROP;
}

/* To an address of the NAT pool, on a port of its range? */
static __always_inline int is_nat(const struct pias_config *cfg, struct pias_ctx *c,
				  const struct ip_info *ip)
{
	struct udphdr *uh = FRAME_PTR(c, ip->l4_off, sizeof(*uh));
	__u32 lo, hi, port;

	if (!uh || pias_nat_index(cfg, &ip->daddr, ip->family) < 0)
		return 0;
	pias_nat_ports(cfg, &lo, &hi);
	port = bpf_ntohs(uh->dest);
	return port >= lo && port <= hi;
}

static __always_inline int pias_process(struct xdp_md *xdp)
{
	struct pias_pkt pkt = {};
	struct pias_ctx c = { .xdp = xdp, .pkt = &pkt };
	struct ip_info ip = {};
	struct pias_config *cfg;
	struct ethhdr *eth;
	__u32 zero = 0;
	__u8 family;
	int rc;

	c.stats = bpf_map_lookup_elem(&pias_stats, &zero);
	c.drops = bpf_map_lookup_elem(&pias_drops, &zero);
	cfg = c.cfg = bpf_map_lookup_elem(&pias_config, &zero);
	stat_inc(&c, PIAS_STAT_rx_packets);
	if (!cfg || !cfg->self_id)
		return XDP_PASS; /* not configured yet: be a plain host */

	eth = FRAME_PTR(&c, 0, ETH_HLEN);
	if (!eth)
		return drop(&c, PIAS_DROP_truncated_eth);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		family = PIAS_AF_INET;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		family = PIAS_AF_INET6;
	} else {
		stat_inc(&c, PIAS_STAT_pass_not_ip);
		return XDP_PASS;
	}
	rc = parse_ip(&c, ETH_HLEN, family, &ip);
	if (rc >= 0)
		return drop(&c, rc);

	/*
	 * Tunnel and NAT traffic is recognised by port, so a non-first
	 * fragment (no transport header) cannot be: it goes to the stack.
	 */
	if (!ip.later_fragment && (ip.proto == IPPROTO_UDP || ip.proto == IPPROTO_TCP)) {
		if (ip.proto == IPPROTO_UDP &&
		    is_addr(&ip.daddr, family == PIAS_AF_INET ? &cfg->self4 : &cfg->self6,
			    family)) {
			struct udphdr *uh = FRAME_PTR(&c, ip.l4_off, sizeof(*uh));

			if (uh && uh->dest == bpf_htons(cfg->tunnel_port))
				return tunnel_rx(&c, &ip);
		}
		if (is_nat(cfg, &c, &ip))
			return nat_rx(&c, &ip);
	}
	if (is_anycast(&ip))
		return client_rx(&c, &ip);
	stat_inc(&c, PIAS_STAT_pass_not_ours);
	return XDP_PASS;
}

#endif
