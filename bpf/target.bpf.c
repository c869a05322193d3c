// SPDX-License-Identifier: GPL-2.0
/*
 * The tunnel-mode target (include/pias/target.h): TC on the interface that
 * faces the target's JAPs, ingress and egress.
 *
 *   ingress: kind 5 from the JAP of the inner packet's TA -> the outer IP,
 *            UDP and PIAS headers removed, the client's own packet to the
 *            stack (the anycast address is on lo). A plain packet for a
 *            served TA is dropped: it did not come through the JAP.
 *   egress:  a reply from a served TA -> wrapped as kind 6 to that TA's JAP
 *            and sent with bpf_redirect_neigh (the kernel routes the new
 *            outer destination and fills the MACs).
 *
 * Headers are read with bpf_skb_load_bytes: an skb may be non-linear
 * anywhere, and one copy per header is cheaper than pulling (and
 * uncloning) every packet of the host. The proxy's bpf/lib/context.h,
 * parse.h and l3.h are XDP-only; csum.h and defs.h are shared.
 */
#include "lib/defs.h"
#include "lib/csum.h"

#include <pias/hash.h>
#include <pias/target.h>

/* linux/pkt_cls.h: vmlinux.h has no #defines */
#define TC_ACT_OK	    0
#define TC_ACT_SHOT	    2
#define TC_ACT_REDIRECT	    7

#define IPV6_FRAG_OFFSET    0xfff8 /* of the fragment header's second word */
#define TT_MAX_V6_EXT	    4	   /* extension headers walked before giving up */
#define TT_NOT_TUNNEL	    -1

#define TT_PORT_OF_PROTOCOL PIAS_TUN_PORT_DEFAULT

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PIAS_TT_MAX_SERVICES);
	__type(key, struct pias_ta);
	__type(value, struct pias_tt_service);
} pias_tt_svc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pias_tt_stats);
} pias_tt_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PIAS_TT_MAX_FLOWS);
	__type(key, struct pias_flow);
	__type(value, struct pias_tt_flow);
} pias_tt_flows SEC(".maps");

/* One IP packet at a frame offset, as far as the target needs it. */
struct tt_ip {
	union pias_addr saddr;
	union pias_addr daddr;
	__u32 l4_off; /* frame offset of the transport header */
	__u32 ip_len; /* header + payload, from the header */
	__u16 sport;  /* TCP/UDP, host order */
	__u16 dport;
	__u16 udp_len; /* UDP: the length field */
	__u8 family;   /* PIAS_AF_INET / PIAS_AF_INET6 */
	__u8 proto;    /* transport protocol */
	__u8 has_l4;   /* TCP or UDP with its ports read */
	__u8 plain;    /* no IPv4 options, no IPv6 extension headers, not a fragment */
};

static __always_inline void count(enum pias_tt_stat_index i)
{
	__u32 zero = 0;
	__u64 *s = bpf_map_lookup_elem(&pias_tt_stats, &zero);

	if (s && i < PIAS_TT_NSTATS)
		s[i]++;
}

static __always_inline int drop(enum pias_tt_stat_index i)
{
	count(i);
	return TC_ACT_SHOT;
}

static __always_inline int addr_eq(const union pias_addr *a, const union pias_addr *b)
{
	return a->v6[0] == b->v6[0] && a->v6[1] == b->v6[1] && a->v6[2] == b->v6[2] &&
	       a->v6[3] == b->v6[3];
}

/* Walks IPv6 extension headers from the fixed header to the transport header. */
static __always_inline int ipv6_walk(struct __sk_buff *skb, __u32 off, __u8 nh, struct tt_ip *ip)
{
	__u8 ext[4];

#pragma unroll
	for (int i = 0; i < TT_MAX_V6_EXT; i++) {
		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
				return -1;
			nh = ext[0];
			off += (ext[1] + 1) * 8;
			ip->plain = 0;
			continue;
		case IPPROTO_FRAGMENT:
			if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
				return -1;
			ip->plain = 0;
			/* a later fragment has no transport header */
			if (bpf_ntohs(*(__be16 *)&ext[2]) & IPV6_FRAG_OFFSET)
				return 0;
			nh = ext[0];
			off += 8;
			continue;
		}
		break;
	}
	ip->proto = nh;
	ip->l4_off = off;
	return 1;
}

/*
 * Parses the IP packet at frame offset 'off' and its TCP/UDP ports.
 * Options and extension headers are stepped over, so that a packet for a
 * served TA is recognised however it is dressed. Returns 0, or -1 if the
 * IP header is malformed or truncated.
 */
static __always_inline int parse_ip(struct __sk_buff *skb, __u32 off, __u8 family, struct tt_ip *ip)
{
	__u16 ports[4];
	int l4 = 1;

	__builtin_memset(ip, 0, sizeof(*ip));
	ip->family = family;
	ip->plain = 1;
	if (family == PIAS_AF_INET) {
		struct iphdr h;

		if (bpf_skb_load_bytes(skb, off, &h, sizeof(h)))
			return -1;
		ip->ip_len = bpf_ntohs(h.tot_len);
		if (h.version != 4 || h.ihl < 5 || ip->ip_len < h.ihl * 4u ||
		    off + ip->ip_len > skb->len)
			return -1;
		ip->saddr.v4 = h.saddr;
		ip->daddr.v4 = h.daddr;
		ip->proto = h.protocol;
		ip->l4_off = off + h.ihl * 4;
		if (h.ihl != 5 || (bpf_ntohs(h.frag_off) & (IP_MF | IP_OFFSET)))
			ip->plain = 0;
		if (bpf_ntohs(h.frag_off) & IP_OFFSET)
			l4 = 0;
	} else {
		struct ipv6hdr h6;

		if (bpf_skb_load_bytes(skb, off, &h6, sizeof(h6)))
			return -1;
		ip->ip_len = sizeof(h6) + bpf_ntohs(h6.payload_len);
		/* payload length 0 is a jumbogram: not ours either way */
		if (h6.version != 6 || !h6.payload_len || off + ip->ip_len > skb->len)
			return -1;
		__builtin_memcpy(&ip->saddr, &h6.saddr, 16);
		__builtin_memcpy(&ip->daddr, &h6.daddr, 16);
		l4 = ipv6_walk(skb, off + sizeof(h6), h6.nexthdr, ip);
		if (l4 < 0)
			return -1;
	}
	if (!l4 || (ip->proto != IPPROTO_TCP && ip->proto != IPPROTO_UDP))
		return 0;
	/* UDP: ports and length; TCP: ports (and 4 bytes we ignore) */
	if (bpf_skb_load_bytes(skb, ip->l4_off, ports, sizeof(ports)))
		return 0;
	ip->sport = bpf_ntohs(ports[0]);
	ip->dport = bpf_ntohs(ports[1]);
	ip->udp_len = bpf_ntohs(ports[2]);
	ip->has_l4 = 1;
	return 0;
}

/* The frame's IP packet; -1 if it is not IPv4/IPv6 or is malformed. */
static __always_inline int parse_frame(struct __sk_buff *skb, struct tt_ip *ip)
{
	__be16 proto;

	if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)))
		return -1;
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ip(skb, ETH_HLEN, PIAS_AF_INET, ip);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ip(skb, ETH_HLEN, PIAS_AF_INET6, ip);
	return -1;
}

static __always_inline struct pias_tt_service *service(const union pias_addr *addr, __u16 port,
						       const struct tt_ip *ip)
{
	struct pias_ta ta;

	__builtin_memset(&ta, 0, sizeof(ta));
	ta.addr = *addr;
	ta.port = port;
	ta.proto = ip->proto;
	ta.family = ip->family;
	return bpf_map_lookup_elem(&pias_tt_svc, &ta);
}

/*
 * A UDP packet: is it a kind 5 packet for us, and may it go in?
 *
 * Which UDP packets are tunnel packets: those to the protocol's tunnel port
 * (PIAS_TUN_PORT_DEFAULT), and those to the tunnel_port of the service
 * their inner packet is for. The tunnel port is per service (per JAP), and
 * a map of ports would be a second thing for the agent to keep in step, so
 * the service map is the only one: on another port a packet is recognised
 * by its inner TA only, and what does not parse far enough to find one
 * stays an ordinary UDP packet (the stack answers it, as it would without
 * us). Content alone (version 1, kind 5) would not do: 2 bytes of an
 * unrelated datagram match 1 in 65536 of them.
 *
 * Returns TT_NOT_TUNNEL or a TC verdict (TC_ACT_OK after decapsulation).
 */
/* The client side of a flow: client -> TA, as the JAP keys it. */
static __always_inline void client_flow(struct pias_flow *f, const union pias_addr *client,
					__u16 cport, const union pias_addr *ta, __u16 taport,
					__u8 proto, __u8 family)
{
	__builtin_memset(f, 0, sizeof(*f));
	f->saddr = *client;
	f->daddr = *ta;
	f->sport = cport;
	f->dport = taport;
	f->proto = proto;
	f->family = family;
}

/*
 * Flow f came through the TA's JAP now (v), not its first: its replies go
 * back there. Written only when new or changed: not per packet.
 */
static __always_inline void remember(const struct pias_flow *f, const struct pias_tt_flow *v)
{
	struct pias_tt_flow *e = bpf_map_lookup_elem(&pias_tt_flows, f);

	if (e && addr_eq(&e->jap, &v->jap) && e->tunnel_port == v->tunnel_port && e->tag == v->tag)
		return;
	bpf_map_update_elem(&pias_tt_flows, f, v, BPF_ANY);
}

static __always_inline int tunnel_in(struct __sk_buff *skb, const struct tt_ip *o)
{
	__u32 hoff = o->l4_off + PIAS_UDP_HLEN;
	struct pias_tt_service *svc = NULL;
	struct pias_tunhdr h = {};
	struct tt_ip in = {};
	struct pias_tt_flow cur, first, last, *via, *e = NULL;
	struct pias_flow f;
	__u8 ver = 0;
	int bad = 0;
	__u64 flags, tag;

	if (bpf_skb_load_bytes(skb, hoff, &h, sizeof(h)) ||
	    bpf_skb_load_bytes(skb, hoff + PIAS_TUN_HLEN, &ver, 1))
		bad = 1;
	ver >>= 4;
	if (!bad && (ver != 4 && ver != 6))
		bad = 1;
	if (!bad && parse_ip(skb, hoff + PIAS_TUN_HLEN, ver, &in))
		bad = 1;
	if (!bad && !in.has_l4)
		bad = 1;
	if (!bad)
		svc = service(&in.daddr, in.dport, &in);
	if (o->dport != TT_PORT_OF_PROTOCOL && !(svc && svc->tunnel_port == o->dport) &&
	    !(svc && svc->prev_tunnel_port && svc->prev_tunnel_port == o->dport))
		return TT_NOT_TUNNEL;

	/* exactly as a JAP builds it: every length agrees, nothing in between */
	if (bad || !o->plain || in.family != o->family || h.version != PIAS_TUN_VERSION ||
	    h.kind != PIAS_KIND_JAP_TO_TARGET || h.flags ||
	    o->udp_len != o->ip_len - (o->l4_off - ETH_HLEN) ||
	    in.ip_len != (__u32)o->udp_len - PIAS_UDP_HLEN - PIAS_TUN_HLEN)
		return drop(PIAS_TT_drop_bad_header);
	if (!svc)
		return drop(PIAS_TT_drop_not_served);
	/*
	 * From the TA's JAP; or, once its JAP changed, from the first one (the
	 * JAP of every flow not remembered) or from the JAP remembered for
	 * this flow: their flows go on (target.h).
	 */
	if (svc->family != o->family)
		return drop(PIAS_TT_drop_not_jap);
	client_flow(&f, &in.saddr, in.sport, &in.daddr, in.dport, in.proto, in.family);
	if (addr_eq(&svc->jap, &o->saddr)) {
		via = &cur;
	} else if (svc->prev_tunnel_port && addr_eq(&svc->prev_jap, &o->saddr)) {
		via = &first;
	} else if (svc->last_tunnel_port && addr_eq(&svc->last_jap, &o->saddr)) {
		via = &last;
	} else if (svc->prev_tunnel_port && (e = bpf_map_lookup_elem(&pias_tt_flows, &f)) &&
		   addr_eq(&e->jap, &o->saddr)) {
		via = e;
	} else {
		return drop(PIAS_TT_drop_not_jap);
	}
	if (via == &cur) {
		cur.jap = svc->jap;
		cur.tunnel_port = svc->tunnel_port;
		cur.tag = svc->tag;
	} else if (via == &first) {
		first.jap = svc->prev_jap;
		first.tunnel_port = svc->prev_tunnel_port;
		first.tag = svc->prev_tag;
	} else if (via == &last) {
		last.jap = svc->last_jap;
		last.tunnel_port = svc->last_tunnel_port;
		last.tag = svc->last_tag;
	}
	if (o->dport != via->tunnel_port)
		return drop(PIAS_TT_drop_bad_header);
	/* the JAP's address is public: only its tag says the packet is its own */
	__builtin_memcpy(&tag, h.tag, PIAS_TUN_TAG_LEN);
	if (tag != via->tag)
		return drop(PIAS_TT_drop_bad_tag);
	if (via != &cur)
		count(PIAS_TT_via_prev_jap);
	/*
	 * Once the TA's JAP changed, a flow's JAP is remembered, but for the
	 * first one, where replies go by default. A client reusing a 5-tuple
	 * through another JAP than before (DNS from fresh sockets does) must
	 * not get its replies sent the old way: a memory that disagrees is
	 * put right, or forgotten.
	 */
	if (svc->prev_tunnel_port && via != e) {
		if (addr_eq(&via->jap, &svc->prev_jap))
			bpf_map_delete_elem(&pias_tt_flows, &f);
		else
			remember(&f, via);
	}

	/* same family in and out: the Ethernet type stays right */
	flags = in.family == PIAS_AF_INET ? BPF_F_ADJ_ROOM_DECAP_L3_IPV4
					  : BPF_F_ADJ_ROOM_DECAP_L3_IPV6;
	if (bpf_skb_adjust_room(skb, -(__s32)(hoff + PIAS_TUN_HLEN - ETH_HLEN), BPF_ADJ_ROOM_MAC,
				flags))
		return drop(PIAS_TT_drop_adjust_failed);
	count(PIAS_TT_decap);
	return TC_ACT_OK;
}

SEC("tc")
int pias_tt_ingress(struct __sk_buff *skb)
{
	struct tt_ip o;

	/* no ports (not TCP/UDP, or a later fragment, which the stack cannot
	 * reassemble without the first one, looked at here): not ours */
	if (parse_frame(skb, &o) || !o.has_l4)
		return TC_ACT_OK;
	if (o.proto == IPPROTO_UDP) {
		int v = tunnel_in(skb, &o);

		if (v != TT_NOT_TUNNEL)
			return v;
	}
	if (service(&o.daddr, o.dport, &o))
		return drop(PIAS_TT_drop_not_tunnelled);
	return TC_ACT_OK;
}

/* Outer headers of a kind 6 packet, written in one store. */
struct tt_outer4 {
	struct iphdr ip;
	struct udphdr udp;
	struct pias_tunhdr tun;
};

struct tt_outer6 {
	struct ipv6hdr ip;
	struct udphdr udp;
	struct pias_tunhdr tun;
};

static __always_inline void tun_fill(struct udphdr *uh, struct pias_tunhdr *th, __u16 sport,
				     __u16 dport, __u32 udp_len, __u64 tag)
{
	uh->source = bpf_htons(sport);
	uh->dest = bpf_htons(dport);
	uh->len = bpf_htons((__u16)udp_len);
	uh->check = 0; /* docs/protocol.md section 1 */
	th->version = PIAS_TUN_VERSION;
	th->kind = PIAS_KIND_TARGET_TO_JAP;
	th->flags = 0;
	th->hops = 1;
	th->iap_id = 0;
	th->excl_jap = 0;
	__builtin_memcpy(th->tag, &tag, PIAS_TUN_TAG_LEN);
}

/*
 * Wraps the reply (Ethernet | IP at ETH_HLEN) for svc's JAP. The outer UDP
 * source port is the flow hash of the client's side of the connection
 * (client -> TA, as the IAP and JAP hash it), so both directions of a flow
 * carry the same port; the IPv6 flow label repeats it, as proxies do.
 */
static __always_inline int encap(struct __sk_buff *skb, const struct tt_ip *p,
				 const struct pias_tt_service *svc)
{
	__u32 inner_len = skb->len - ETH_HLEN;
	const union pias_addr *jap = &svc->jap;
	__u16 sport, port = svc->tunnel_port;
	__u64 tag = svc->tag;
	struct pias_flow f;

	client_flow(&f, &p->daddr, p->dport, &p->saddr, p->sport, p->proto, p->family);
	sport = pias_tun_sport(&f);
	if (svc->prev_tunnel_port) {
		/*
		 * The TA's JAP changed: a flow goes back through the JAP it came
		 * through, remembered, or else the first one (flows from before).
		 */
		struct pias_tt_flow *e = bpf_map_lookup_elem(&pias_tt_flows, &f);

		jap = e ? &e->jap : &svc->prev_jap;
		port = e ? e->tunnel_port : svc->prev_tunnel_port;
		tag = e ? e->tag : svc->prev_tag;
	}

	if (p->family == PIAS_AF_INET) {
		struct tt_outer4 o;

		if (bpf_skb_adjust_room(skb, sizeof(o), BPF_ADJ_ROOM_MAC,
					BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP))
			return -1;
		__builtin_memset(&o, 0, sizeof(o));
		o.ip.version = 4;
		o.ip.ihl = 5;
		o.ip.tot_len = bpf_htons((__u16)(inner_len + sizeof(o)));
		o.ip.frag_off = bpf_htons(IP_DF);
		o.ip.ttl = PIAS_OUTER_TTL;
		o.ip.protocol = IPPROTO_UDP;
		o.ip.saddr = svc->self.v4;
		o.ip.daddr = jap->v4;
		o.ip.check = csum_ipv4_hdr(&o.ip);
		tun_fill(&o.udp, &o.tun, sport, port, inner_len + PIAS_UDP_HLEN + PIAS_TUN_HLEN,
			 tag);
		return bpf_skb_store_bytes(skb, ETH_HLEN, &o, sizeof(o), 0) ? -1 : 0;
	}
	struct tt_outer6 o6;

	if (bpf_skb_adjust_room(skb, sizeof(o6), BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP))
		return -1;
	__builtin_memset(&o6, 0, sizeof(o6));
	*(__be32 *)&o6.ip = bpf_htonl(0x60000000 | (sport & 0xfffff));
	o6.ip.payload_len = bpf_htons((__u16)(inner_len + PIAS_UDP_HLEN + PIAS_TUN_HLEN));
	o6.ip.nexthdr = IPPROTO_UDP;
	o6.ip.hop_limit = PIAS_OUTER_TTL;
	__builtin_memcpy(&o6.ip.saddr, &svc->self, 16);
	__builtin_memcpy(&o6.ip.daddr, jap, 16);
	tun_fill(&o6.udp, &o6.tun, sport, port, inner_len + PIAS_UDP_HLEN + PIAS_TUN_HLEN, tag);
	return bpf_skb_store_bytes(skb, ETH_HLEN, &o6, sizeof(o6), 0) ? -1 : 0;
}

SEC("tc")
int pias_tt_egress(struct __sk_buff *skb)
{
	struct pias_tt_service *svc;
	struct tt_ip p;
	__u32 overhead;
	long verdict;

	if (parse_frame(skb, &p) || !p.has_l4)
		return TC_ACT_OK;
	svc = service(&p.saddr, p.sport, &p);
	if (!svc)
		return TC_ACT_OK;
	/* the JAP is reached in the TA's family (the agent writes it so) */
	if (svc->family != p.family)
		return drop(PIAS_TT_drop_no_route);
	overhead = p.family == PIAS_AF_INET ? PIAS_ENCAP_OVERHEAD_V4 : PIAS_ENCAP_OVERHEAD_V6;
	/*
	 * A GSO packet is cut to gso_size segments after this program, and
	 * bpf_skb_adjust_room lowers gso_size by the overhead, so its segments
	 * fit; a single packet must fit as it is. mtu 0: the link's own.
	 */
	if (!skb->gso_size && svc->mtu && skb->len - ETH_HLEN + overhead > svc->mtu)
		return drop(PIAS_TT_drop_too_big);
	if (encap(skb, &p, svc))
		return drop(PIAS_TT_drop_adjust_failed);
	verdict = bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
	if (verdict != TC_ACT_REDIRECT)
		return drop(PIAS_TT_drop_no_route);
	count(PIAS_TT_encap);
	return TC_ACT_REDIRECT;
}

char LICENSE[] SEC("license") = "GPL";
