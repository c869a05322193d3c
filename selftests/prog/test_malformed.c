// SPDX-License-Identifier: MIT
/*
 * Malformed and hostile input (docs/protocol.md section 4), as a table: each
 * row is a frame that is wrong in one way, the verdict the document asks
 * for, and the one counter that must move. Never XDP_TX or XDP_REDIRECT.
 *
 * The world is seeded so that the well-formed version of every frame would
 * be forwarded (bindings, targets): the baseline rows prove it, so a drop
 * in another row comes from its defect and nothing else.
 */
#include <stdio.h>
#include <string.h>

#include "jap_util.h"

#define ETH    14
#define IP4    (ETH)
#define L4_4   (ETH + 20)
#define IP6    (ETH)
#define L4_6   (ETH + 40)
#define TUN4   (ETH + 20 + 8) /* tunnel header behind an IPv4 underlay */
#define INNER4 (TUN4 + PIAS_TUN_HLEN)
#define TUN6   (ETH + 40 + 8)

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Recomputes an IPv4 header checksum after a deliberate edit. */
static void fix_ip4(uint8_t *ip)
{
	size_t hl = (size_t)(ip[0] & 0xf) * 4;

	if (hl < 20)
		hl = 20;
	put16(ip + 10, 0);
	put16(ip + 10, pkt_fold(pkt_sum(ip, hl, 0)));
}

static struct pkt_spec client(uint8_t family, uint8_t proto)
{
	struct tcase tc = { family, PIAS_AF_INET, proto };
	struct pkt_spec s = client_spec(&tc, 50000);

	/* a TCP connection starts with a SYN: the baselines open one */
	if (proto == PKT_PROTO_TCP) {
		s.tcp_flags = PKT_TCP_SYN;
		s.ack = 0;
	}
	return s;
}

static void build(struct pkt *p, const struct pkt_spec *s)
{
	pkt_build(p, s);
}

/* A tunnel frame from proxy 2 (or 12) with inner bytes as given. */
static void tunnel_raw(struct pkt *p, uint8_t uf, const uint8_t *inner, size_t len,
		       const struct pkt_tun *over)
{
	struct pkt_tun t;
	uint8_t smac[6];
	const char *src = uf == PIAS_AF_INET ? "192.0.2.2" : "2001:db8:1::2";

	memset(&t, 0, sizeof(t));
	t.family = uf;
	t.src = pkt_addr(src);
	t.dst = pkt_addr(self_addr(uf));
	t.dport = TUN_PORT;
	t.sport = 0xc123; /* inner may be unparsable: no flow hash */
	t.version = PIAS_TUN_VERSION;
	t.kind = PIAS_KIND_RAP_TO_JAP;
	t.hops = 2;
	t.iap_id = IAP_FAR;
	t.tag = pr_tag(uf == PIAS_AF_INET ? 2 : 12, SELF);
	if (over)
		t = *over;
	mac_of(src, smac);
	p->len = pkt_tunnel_frame(&t, g_ns.mac[0], smac, inner, len, p->b, sizeof(p->b));
	assert_true(p->len > 0);
}

static struct pkt_tun default_tun(uint8_t uf)
{
	struct pkt_tun t;

	memset(&t, 0, sizeof(t));
	t.family = uf;
	t.src = pkt_addr(uf == PIAS_AF_INET ? "192.0.2.2" : "2001:db8:1::2");
	t.dst = pkt_addr(self_addr(uf));
	t.dport = TUN_PORT;
	t.sport = 0xc123;
	t.version = PIAS_TUN_VERSION;
	t.kind = PIAS_KIND_RAP_TO_JAP;
	t.hops = 2;
	t.iap_id = IAP_FAR;
	t.tag = pr_tag(uf == PIAS_AF_INET ? 2 : 12, SELF);
	return t;
}

/* A well-formed tunnel frame carrying spec s (TTL 63 as from an IAP). */
static void tunnel_of(struct pkt *p, uint8_t uf, struct pkt_spec s, const struct pkt_tun *over)
{
	struct pkt in;

	s.ttl = s.ttl == 64 ? 63 : s.ttl;
	pkt_build_ip(&in, &s);
	tunnel_raw(p, uf, in.b, in.len, over);
}

/* ---- rows --------------------------------------------------------------- */

static void good_client4(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_UDP);

	build(p, &s);
}

static void good_client6(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET6, PKT_PROTO_TCP);

	build(p, &s);
}

static void good_tunnel4(struct pkt *p)
{
	tunnel_of(p, PIAS_AF_INET, client(PIAS_AF_INET, PKT_PROTO_UDP), NULL);
}

static void good_tunnel6(struct pkt *p)
{
	tunnel_of(p, PIAS_AF_INET6, client(PIAS_AF_INET6, PKT_PROTO_TCP), NULL);
}

static void eth_truncated(struct pkt *p)
{
	good_client4(p);
	p->len = 13;
}

static void eth_arp(struct pkt *p)
{
	good_client4(p);
	put16(p->b + 12, PKT_ETH_P_ARP);
}

static void eth_vlan(struct pkt *p)
{
	good_client4(p);
	put16(p->b + 12, 0x8100);
}

static void ip4_truncated(struct pkt *p)
{
	good_client4(p);
	p->len = ETH + 19;
}

static void ip4_version6(struct pkt *p)
{
	good_client4(p);
	p->b[IP4] = 0x65;
	fix_ip4(p->b + IP4);
}

static void ip4_ihl4(struct pkt *p)
{
	good_client4(p);
	p->b[IP4] = 0x44;
	fix_ip4(p->b + IP4);
}

static void ip4_ihl0(struct pkt *p)
{
	good_client4(p);
	p->b[IP4] = 0x40;
}

static void ip4_totlen_beyond(struct pkt *p)
{
	good_client4(p);
	put16(p->b + IP4 + 2, (uint16_t)(p->len - ETH + 1));
	fix_ip4(p->b + IP4);
}

static void ip4_totlen_below_header(struct pkt *p)
{
	good_client4(p);
	put16(p->b + IP4 + 2, 19);
	fix_ip4(p->b + IP4);
}

/* the same wrong lengths on packets for another host: not ours to judge */
static void elsewhere(struct pkt *p, uint8_t family)
{
	struct pkt_spec s = client(family, family == PIAS_AF_INET ? PKT_PROTO_UDP : PKT_PROTO_TCP);

	s.dst = family == PIAS_AF_INET ? pkt_a4("192.0.2.77") : pkt_a6("2001:db8:b::1");
	build(p, &s);
}

static void ip4_totlen_beyond_not_ours(struct pkt *p)
{
	elsewhere(p, PIAS_AF_INET);
	put16(p->b + IP4 + 2, (uint16_t)(p->len - ETH + 1));
	fix_ip4(p->b + IP4);
}

static void ip4_totlen_below_not_ours(struct pkt *p)
{
	elsewhere(p, PIAS_AF_INET);
	put16(p->b + IP4 + 2, 19);
	fix_ip4(p->b + IP4);
}

static void ip4_options(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_UDP);

	memset(s.ip_opts, 1, 4); /* NOPs: harmless, but options all the same */
	s.ip_opts_len = 4;
	build(p, &s);
}

static void ip4_options_not_ours(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_UDP);

	s.dst = pkt_a4("192.0.2.77");
	memset(s.ip_opts, 1, 8);
	s.ip_opts_len = 8;
	build(p, &s);
}

static void ip4_mf(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_UDP);

	s.frag = PKT_IP_MF;
	build(p, &s);
}

static void ip4_offset(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_UDP);

	s.frag = 185; /* a last fragment: no MF, offset 1480 */
	build(p, &s);
}

static void ip4_fragment_not_ours(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_UDP);

	s.dst = pkt_a4("192.0.2.77");
	s.frag = PKT_IP_MF | 10;
	build(p, &s);
}

static void ip4_ttl(struct pkt *p, uint8_t ttl)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_TCP);

	s.ttl = ttl;
	build(p, &s);
}

static void ip4_ttl1(struct pkt *p)
{
	ip4_ttl(p, 1);
}

static void ip4_ttl0(struct pkt *p)
{
	ip4_ttl(p, 0);
}

static void udp4_truncated(struct pkt *p)
{
	good_client4(p);
	p->len = L4_4 + 4;
	put16(p->b + IP4 + 2, 24);
	fix_ip4(p->b + IP4);
}

static void udp4_truncated_padded(struct pkt *p)
{
	/* the IP length says 4 bytes of UDP; Ethernet padding follows */
	udp4_truncated(p);
	memset(p->b + p->len, 0, 60 - p->len);
	p->len = 60;
}

static void udp4_len_short(struct pkt *p)
{
	good_client4(p);
	put16(p->b + L4_4 + 4, 7);
}

static void udp4_len_long(struct pkt *p)
{
	good_client4(p);
	put16(p->b + L4_4 + 4, (uint16_t)(p->len - L4_4 + 1));
}

static void tcp4_truncated(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_TCP);

	s.payload_len = 0;
	build(p, &s);
	p->len = L4_4 + 10;
	put16(p->b + IP4 + 2, 30);
	fix_ip4(p->b + IP4);
}

static void tcp4_doff4(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_TCP);

	build(p, &s);
	p->b[L4_4 + 12] = 4 << 4;
}

static void tcp4_doff_beyond(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_TCP);

	s.payload_len = 0;
	build(p, &s);
	p->b[L4_4 + 12] = 6 << 4; /* 24 bytes of header in a 20-byte segment */
}

static void icmp4_anycast(struct pkt *p)
{
	struct pkt_spec s =
		pkt_icmp_echo(client_addr(PIAS_AF_INET), anycast_addr(PIAS_AF_INET, PKT_PROTO_UDP));

	pkt_set_macs(&s, g_ns.mac[0], g_ns.mac[1]);
	build(p, &s);
}

static void ip6_truncated(struct pkt *p)
{
	good_client6(p);
	p->len = ETH + 39;
}

static void ip6_version4(struct pkt *p)
{
	good_client6(p);
	p->b[IP6] = (uint8_t)(0x40 | (p->b[IP6] & 0xf));
}

static void ip6_payload_beyond(struct pkt *p)
{
	good_client6(p);
	put16(p->b + IP6 + 4, (uint16_t)(p->len - L4_6 + 1));
}

/* 0xffff: header and payload wrapped a 16-bit length to 39 (found by the XDP fuzzer) */
static void ip6_payload_wraps(struct pkt *p)
{
	good_client6(p);
	put16(p->b + IP6 + 4, 0xffff);
}

/* the same to the NAT address: it was cut inside its own header and passed */
static void nat6_payload_wraps(struct pkt *p)
{
	struct pkt_spec r =
		pkt_tcp("2001:db8:2::10", T_PORT_TCP, "2001:db8:2::1", NAT_MIN, PKT_TCP_ACK);
	uint8_t tmac[6];

	mac_of("2001:db8:2::10", tmac);
	pkt_set_macs(&r, g_ns.mac[1], tmac);
	build(p, &r);
	put16(p->b + IP6 + 4, 0xffff);
}

static void ip6_payload_beyond_not_ours(struct pkt *p)
{
	elsewhere(p, PIAS_AF_INET6);
	put16(p->b + IP6 + 4, (uint16_t)(p->len - L4_6 + 1));
}

static void ip6_ext(struct pkt *p, uint8_t ext, const char *dst)
{
	struct pkt_spec s = client(PIAS_AF_INET6, PKT_PROTO_UDP);

	s.v6_ext = ext;
	s.v6_frag_more = ext == PKT_EXT_FRAGMENT;
	if (dst)
		s.dst = pkt_a6(dst);
	build(p, &s);
}

static void ip6_hopopts(struct pkt *p)
{
	ip6_ext(p, PKT_EXT_HOPOPTS, NULL);
}

static void ip6_dstopts(struct pkt *p)
{
	ip6_ext(p, PKT_EXT_DSTOPTS, NULL);
}

static void ip6_routing(struct pkt *p)
{
	ip6_ext(p, PKT_EXT_ROUTING, NULL);
}

static void ip6_fragment(struct pkt *p)
{
	ip6_ext(p, PKT_EXT_FRAGMENT, NULL);
}

static void ip6_ext_not_ours(struct pkt *p)
{
	ip6_ext(p, PKT_EXT_HOPOPTS, "2001:db8:b::1");
}

static void ip6_hop(struct pkt *p, uint8_t hop)
{
	struct pkt_spec s = client(PIAS_AF_INET6, PKT_PROTO_UDP);

	s.ttl = hop;
	build(p, &s);
}

static void ip6_hop1(struct pkt *p)
{
	ip6_hop(p, 1);
}

static void ip6_hop0(struct pkt *p)
{
	ip6_hop(p, 0);
}

static void udp6_truncated(struct pkt *p)
{
	ip6_hop(p, 64);
	p->len = L4_6 + 6;
	put16(p->b + IP6 + 4, 6);
}

static void tcp6_doff_beyond(struct pkt *p)
{
	good_client6(p);
	p->b[L4_6 + 12] = 15 << 4;
	put16(p->b + IP6 + 4, 40);
	p->len = L4_6 + 40;
}

static void icmp6_anycast(struct pkt *p)
{
	struct pkt_spec s = pkt_icmp_echo(client_addr(PIAS_AF_INET6),
					  anycast_addr(PIAS_AF_INET6, PKT_PROTO_UDP));

	pkt_set_macs(&s, g_ns.mac[0], g_ns.mac[1]);
	build(p, &s);
}

/* -- tunnel -- */

static void tun_not_proxy(struct pkt *p)
{
	struct pkt_tun t = default_tun(PIAS_AF_INET);

	t.src = pkt_a4("192.0.2.50"); /* a host on the link, not a proxy */
	tunnel_of(p, PIAS_AF_INET, client(PIAS_AF_INET, PKT_PROTO_UDP), &t);
}

static void tun6_not_proxy(struct pkt *p)
{
	struct pkt_tun t = default_tun(PIAS_AF_INET6);

	t.src = pkt_a6("2001:db8:1::50");
	tunnel_of(p, PIAS_AF_INET6, client(PIAS_AF_INET6, PKT_PROTO_UDP), &t);
}

static void tun_down_proxy_still_known(struct pkt *p)
{
	/* proxy 7 is down but known: its packets are accepted (and relayed) */
	struct pkt_tun t = default_tun(PIAS_AF_INET);

	t.src = pkt_a4("192.0.2.7");
	t.tag = pr_tag(7, SELF);
	tunnel_of(p, PIAS_AF_INET, client(PIAS_AF_INET, PKT_PROTO_UDP), &t);
}

/*
 * Forged: from proxy 2's address, with a tag that is not 2 -> SELF's under
 * the test key. A blind spoofer has none of the right ones.
 */
static void tun_forged(struct pkt *p, uint8_t uf, uint64_t tag)
{
	struct pkt_tun t = default_tun(uf);

	t.tag = tag;
	tunnel_of(p, uf, client(PIAS_AF_INET, PKT_PROTO_UDP), &t);
}

static void tun_tag_zero(struct pkt *p)
{
	tun_forged(p, PIAS_AF_INET, 0);
}

static void tun_tag_zero6(struct pkt *p)
{
	tun_forged(p, PIAS_AF_INET6, 0);
}

static void tun_tag_one_bit(struct pkt *p)
{
	tun_forged(p, PIAS_AF_INET, pr_tag(2, SELF) ^ 1);
}

/* the tag of the other direction, SELF -> 2 (seen on packets SELF sends) */
static void tun_tag_reversed(struct pkt *p)
{
	tun_forged(p, PIAS_AF_INET, pr_tag(SELF, 2));
}

/* the tag of another pair: 7 -> SELF, sent from 2's address */
static void tun_tag_other_pair(struct pkt *p)
{
	tun_forged(p, PIAS_AF_INET, pr_tag(7, SELF));
}

/* the right pair under a key this proxy's ring does not hold */
static void tun_tag_other_key(struct pkt *p)
{
	static const __u8 other[PIAS_TUN_KEY_LEN] = "a key no proxy here holds, 32 B";

	tun_forged(p, PIAS_AF_INET, pias_tun_tag(other, 2, SELF));
}

static void tun_hdr_truncated(struct pkt *p)
{
	good_tunnel4(p);
	p->len = TUN4 + 4;
	put16(p->b + IP4 + 2, 20 + 8 + 4);
	put16(p->b + L4_4 + 4, 8 + 4);
	fix_ip4(p->b + IP4);
}

static void tun_hdr_truncated_padded(struct pkt *p)
{
	tun_hdr_truncated(p);
	memset(p->b + p->len, 0, 60 - p->len);
	p->len = 60;
}

static void tun6_hdr_truncated(struct pkt *p)
{
	good_tunnel6(p);
	p->len = TUN6 + 11;
	put16(p->b + IP6 + 4, 8 + 11);
	put16(p->b + L4_6 + 4, 8 + 11);
}

static void tun_field(struct pkt *p, size_t off, uint8_t v)
{
	good_tunnel4(p);
	p->b[TUN4 + off] = v;
}

static void tun_version0(struct pkt *p)
{
	tun_field(p, 0, 0);
}

static void tun_version1(struct pkt *p)
{
	/* the format before tags: a proxy not yet upgraded */
	tun_field(p, 0, 1);
}

static void tun_version3(struct pkt *p)
{
	tun_field(p, 0, 3);
}

static void tun_kind0(struct pkt *p)
{
	tun_field(p, 1, 0);
}

static void tun_kind5(struct pkt *p)
{
	tun_field(p, 1, 5);
}

static void tun_flag2(struct pkt *p)
{
	tun_field(p, 2, 0x02);
}

static void tun_flag80(struct pkt *p)
{
	tun_field(p, 2, 0x81);
}

static void tun_hops5(struct pkt *p)
{
	tun_field(p, 3, 5);
}

static void tun_hops255(struct pkt *p)
{
	tun_field(p, 3, 255);
}

static void tun6_bad_version(struct pkt *p)
{
	good_tunnel6(p);
	p->b[TUN6] = 7;
}

static void tun_inner_missing(struct pkt *p)
{
	tunnel_raw(p, PIAS_AF_INET, NULL, 0, NULL);
}

static void tun_inner_short(struct pkt *p)
{
	struct pkt in;
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_UDP);

	pkt_build_ip(&in, &s);
	tunnel_raw(p, PIAS_AF_INET, in.b, 10, NULL);
}

static void tun_inner_version5(struct pkt *p)
{
	good_tunnel4(p);
	p->b[INNER4] = 0x55;
	fix_ip4(p->b + INNER4);
}

static void tun_inner_ihl4(struct pkt *p)
{
	good_tunnel4(p);
	p->b[INNER4] = 0x44;
	fix_ip4(p->b + INNER4);
}

static void tun_inner_shorter_than_outer(struct pkt *p)
{
	struct pkt in;
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_UDP);

	s.ttl = 63;
	pkt_build_ip(&in, &s);
	/* 4 bytes behind the inner packet, inside the outer UDP datagram */
	memset(in.b + in.len, 0xee, 4);
	tunnel_raw(p, PIAS_AF_INET, in.b, in.len + 4, NULL);
}

static void tun_inner_longer_than_outer(struct pkt *p)
{
	good_tunnel4(p);
	put16(p->b + INNER4 + 2, (uint16_t)(p->len - INNER4 + 4));
	fix_ip4(p->b + INNER4);
}

static void tun_outer_udp_len_long(struct pkt *p)
{
	good_tunnel4(p);
	put16(p->b + L4_4 + 4, (uint16_t)(p->len - L4_4 + 4));
}

static void tun_outer_udp_len_short(struct pkt *p)
{
	good_tunnel4(p);
	put16(p->b + L4_4 + 4, (uint16_t)(p->len - L4_4 - 4));
}

static void tun_inner_options(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_UDP);

	memset(s.ip_opts, 1, 4);
	s.ip_opts_len = 4;
	tunnel_of(p, PIAS_AF_INET, s, NULL);
}

static void tun_inner_fragment(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_UDP);

	s.frag = PKT_IP_MF;
	tunnel_of(p, PIAS_AF_INET, s, NULL);
}

static void tun_inner_v6_ext(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET6, PKT_PROTO_UDP);

	s.v6_ext = PKT_EXT_DSTOPTS;
	tunnel_of(p, PIAS_AF_INET, s, NULL);
}

static void tun_inner_v6_fragment(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET6, PKT_PROTO_UDP);

	s.v6_ext = PKT_EXT_FRAGMENT;
	s.v6_frag_more = 1;
	tunnel_of(p, PIAS_AF_INET6, s, NULL);
}

static void tun_inner_icmp(struct pkt *p)
{
	struct pkt_spec s =
		pkt_icmp_echo(client_addr(PIAS_AF_INET), anycast_addr(PIAS_AF_INET, PKT_PROTO_UDP));
	struct pkt in;

	pkt_build_ip(&in, &s);
	tunnel_raw(p, PIAS_AF_INET, in.b, in.len, NULL);
}

static void tun_inner_tcp_truncated(struct pkt *p)
{
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_TCP);
	struct pkt in;

	s.payload_len = 0;
	pkt_build_ip(&in, &s);
	put16(in.b + 2, 20 + 12);
	fix_ip4(in.b);
	tunnel_raw(p, PIAS_AF_INET, in.b, 20 + 12, NULL);
}

static void tun_inner_udp_len_bad(struct pkt *p)
{
	good_tunnel4(p);
	put16(p->b + INNER4 + 20 + 4, 3);
}

static void tun_inner_ttl(struct pkt *p, uint8_t ttl)
{
	struct pkt_spec s = client(PIAS_AF_INET6, PKT_PROTO_TCP);

	s.ttl = ttl;
	tunnel_of(p, PIAS_AF_INET, s, NULL);
}

static void tun_inner_ttl1(struct pkt *p)
{
	tun_inner_ttl(p, 1);
}

static void tun_inner_ttl0(struct pkt *p)
{
	tun_inner_ttl(p, 0);
}

static void tun_outer_options(struct pkt *p)
{
	struct pkt t;
	struct pkt_spec s = client(PIAS_AF_INET, PKT_PROTO_UDP);
	struct pkt_tun over = default_tun(PIAS_AF_INET);
	uint8_t ip[PKT_MAX];

	/* the tunnel with a 4-byte NOP option block in its outer IPv4 header */
	tunnel_of(&t, PIAS_AF_INET, s, &over);
	memcpy(ip, t.b + ETH, 20);
	memset(ip + 20, 1, 4);
	memcpy(ip + 24, t.b + ETH + 20, t.len - ETH - 20);
	ip[0] = 0x46;
	put16(ip + 2, (uint16_t)(t.len - ETH + 4));
	fix_ip4(ip);
	p->len = pkt_eth(p->b, sizeof(p->b), t.b, t.b + 6, PKT_ETH_P_IP, ip, t.len - ETH + 4);
}

static void tun_outer_fragment(struct pkt *p)
{
	good_tunnel4(p);
	put16(p->b + IP4 + 6, PKT_IP_MF);
	fix_ip4(p->b + IP4);
}

static void tun_wrong_port(struct pkt *p)
{
	struct pkt_tun t = default_tun(PIAS_AF_INET);

	t.dport = TUN_PORT + 1; /* UDP to our address, another port: the stack's */
	tunnel_of(p, PIAS_AF_INET, client(PIAS_AF_INET, PKT_PROTO_UDP), &t);
}

/* -- replies to the NAT address -- */

static void nat_reply(struct pkt *p, uint8_t proto, uint16_t port)
{
	struct pkt_spec r =
		proto == PKT_PROTO_TCP
			? pkt_tcp("198.51.100.10", T_PORT_TCP, "198.51.100.1", port, PKT_TCP_ACK)
			: pkt_udp("198.51.100.10", T_PORT_UDP, "198.51.100.1", port, 20);
	uint8_t tmac[6];

	mac_of("198.51.100.10", tmac);
	pkt_set_macs(&r, g_ns.mac[1], tmac);
	build(p, &r);
}

static void nat_tcp_doff4(struct pkt *p)
{
	nat_reply(p, PKT_PROTO_TCP, NAT_MIN);
	p->b[L4_4 + 12] = 4 << 4;
}

static void nat_udp_len_long(struct pkt *p)
{
	nat_reply(p, PKT_PROTO_UDP, NAT_MIN);
	put16(p->b + L4_4 + 4, 200);
}

static void nat_fragment(struct pkt *p)
{
	nat_reply(p, PKT_PROTO_UDP, NAT_MIN);
	put16(p->b + IP4 + 6, PKT_IP_MF);
	fix_ip4(p->b + IP4);
}

/* ---- the table ---------------------------------------------------------- */

struct mrow {
	const char *name;
	void (*build)(struct pkt *p);
	int link;
	uint32_t verdict;
	const char *counters; /* besides rx_packets=1 */
};

#define DROP(name, fn, counter)                                                                    \
	{                                                                                          \
		name, fn, 0, XDP_DROP, counter "=1"                                                \
	}
#define DROP_L(name, fn, link, counter)                                                            \
	{                                                                                          \
		name, fn, link, XDP_DROP, counter "=1"                                             \
	}
#define PASS(name, fn, counter)                                                                    \
	{                                                                                          \
		name, fn, 0, XDP_PASS, counter "=1"                                                \
	}

static const struct mrow rows[] = {
	/* baselines: the unbroken frames are forwarded */
	{ "baseline client v4 udp", good_client4, 0, XDP_TX, "iap_binding_hit=1 fwd_tx=1" },
	{ "baseline client v6 tcp", good_client6, 0, XDP_TX, "iap_binding_hit=1 fwd_tx=1" },
	{ "baseline tunnel v4", good_tunnel4, 0, XDP_REDIRECT, "jap_new_conn=1 fwd_redirect=1" },
	{ "baseline tunnel v6", good_tunnel6, 0, XDP_REDIRECT, "jap_new_conn=1 fwd_redirect=1" },
	{ "tunnel from a known proxy that is down", tun_down_proxy_still_known, 0, XDP_REDIRECT,
	  "jap_new_conn=1 fwd_redirect=1" },

	DROP("ethernet truncated (13 bytes)", eth_truncated, "truncated_eth"),
	PASS("ARP", eth_arp, "pass_not_ip"),
	PASS("VLAN tag", eth_vlan, "pass_not_ip"),

	DROP("IPv4 truncated header", ip4_truncated, "truncated_ip"),
	DROP("IPv4 version 6 under the IPv4 ethertype", ip4_version6, "bad_ip_header"),
	DROP("IPv4 IHL 4", ip4_ihl4, "bad_ip_header"),
	DROP("IPv4 IHL 0", ip4_ihl0, "bad_ip_header"),
	DROP("IPv4 total length beyond the frame", ip4_totlen_beyond, "bad_ip_length"),
	DROP("IPv4 total length below the header", ip4_totlen_below_header, "bad_ip_length"),
	PASS("IPv4 total length beyond the frame, elsewhere", ip4_totlen_beyond_not_ours,
	     "pass_not_ours"),
	PASS("IPv4 total length below the header, elsewhere", ip4_totlen_below_not_ours,
	     "pass_not_ours"),
	DROP("IPv4 options to anycast", ip4_options, "ipv4_options"),
	PASS("IPv4 options elsewhere", ip4_options_not_ours, "pass_not_ours"),
	DROP("IPv4 first fragment (MF)", ip4_mf, "fragment"),
	DROP("IPv4 last fragment (offset)", ip4_offset, "fragment"),
	PASS("IPv4 fragment elsewhere", ip4_fragment_not_ours, "pass_not_ours"),
	DROP("IPv4 TTL 1", ip4_ttl1, "ttl_expired"),
	DROP("IPv4 TTL 0", ip4_ttl0, "ttl_expired"),
	DROP("UDP header truncated", udp4_truncated, "truncated_l4"),
	DROP("UDP header truncated, frame padded", udp4_truncated_padded, "truncated_l4"),
	DROP("UDP length 7", udp4_len_short, "bad_l4_header"),
	DROP("UDP length beyond the IP packet", udp4_len_long, "bad_l4_header"),
	DROP("TCP header truncated", tcp4_truncated, "truncated_l4"),
	DROP("TCP data offset 4", tcp4_doff4, "bad_l4_header"),
	DROP("TCP data offset beyond the segment", tcp4_doff_beyond, "bad_l4_header"),
	PASS("ICMP echo to anycast", icmp4_anycast, "pass_not_l4"),

	DROP("IPv6 truncated header", ip6_truncated, "truncated_ip"),
	DROP("IPv6 version 4 under the IPv6 ethertype", ip6_version4, "bad_ip_header"),
	DROP("IPv6 payload length beyond the frame", ip6_payload_beyond, "bad_ip_length"),
	DROP("IPv6 payload length 65535 (wraps 16 bits)", ip6_payload_wraps, "bad_ip_length"),
	DROP_L("NAT reply, IPv6 payload length 65535", nat6_payload_wraps, 1, "bad_ip_length"),
	PASS("IPv6 payload length beyond the frame, elsewhere", ip6_payload_beyond_not_ours,
	     "pass_not_ours"),
	DROP("IPv6 hop-by-hop header to anycast", ip6_hopopts, "ipv6_ext_header"),
	DROP("IPv6 destination options to anycast", ip6_dstopts, "ipv6_ext_header"),
	DROP("IPv6 routing header to anycast", ip6_routing, "ipv6_ext_header"),
	DROP("IPv6 fragment header to anycast", ip6_fragment, "fragment"),
	PASS("IPv6 extension header elsewhere", ip6_ext_not_ours, "pass_not_ours"),
	DROP("IPv6 hop limit 1", ip6_hop1, "ttl_expired"),
	DROP("IPv6 hop limit 0", ip6_hop0, "ttl_expired"),
	DROP("IPv6 UDP header truncated", udp6_truncated, "truncated_l4"),
	DROP("IPv6 TCP data offset beyond the segment", tcp6_doff_beyond, "bad_l4_header"),
	PASS("ICMPv6 echo to anycast", icmp6_anycast, "pass_not_l4"),

	DROP("tunnel from a non-proxy (v4)", tun_not_proxy, "tunnel_not_proxy"),
	DROP("tunnel from a non-proxy (v6)", tun6_not_proxy, "tunnel_not_proxy"),
	DROP("tunnel header truncated", tun_hdr_truncated, "tunnel_truncated"),
	DROP("tunnel header truncated, frame padded", tun_hdr_truncated_padded, "tunnel_truncated"),
	DROP("tunnel header truncated (v6)", tun6_hdr_truncated, "tunnel_truncated"),
	DROP("tunnel version 0", tun_version0, "tunnel_bad_version"),
	DROP("tunnel version 1", tun_version1, "tunnel_bad_version"),
	DROP("tunnel version 3", tun_version3, "tunnel_bad_version"),
	DROP("tunnel tag zero", tun_tag_zero, "tunnel_bad_tag"),
	DROP("tunnel tag zero (v6)", tun_tag_zero6, "tunnel_bad_tag"),
	DROP("tunnel tag one bit off", tun_tag_one_bit, "tunnel_bad_tag"),
	DROP("tunnel tag of the other direction", tun_tag_reversed, "tunnel_bad_tag"),
	DROP("tunnel tag of another proxy pair", tun_tag_other_pair, "tunnel_bad_tag"),
	DROP("tunnel tag under a key not in the ring", tun_tag_other_key, "tunnel_bad_tag"),
	DROP("tunnel version 7 (v6)", tun6_bad_version, "tunnel_bad_version"),
	DROP("tunnel kind 0", tun_kind0, "tunnel_bad_kind"),
	DROP("tunnel kind 5", tun_kind5, "tunnel_bad_kind"),
	DROP("tunnel unknown flag 0x02", tun_flag2, "tunnel_bad_kind"),
	DROP("tunnel unknown flag 0x80", tun_flag80, "tunnel_bad_kind"),
	DROP("tunnel hops 5", tun_hops5, "tunnel_loop"),
	DROP("tunnel hops 255", tun_hops255, "tunnel_loop"),
	DROP("tunnel without inner packet", tun_inner_missing, "truncated_ip"),
	DROP("tunnel inner IP header truncated", tun_inner_short, "truncated_ip"),
	DROP("tunnel inner version 5", tun_inner_version5, "bad_ip_header"),
	DROP("tunnel inner IHL 4", tun_inner_ihl4, "bad_ip_header"),
	DROP("tunnel inner shorter than the outer UDP", tun_inner_shorter_than_outer,
	     "bad_ip_length"),
	DROP("tunnel inner longer than the frame", tun_inner_longer_than_outer, "bad_ip_length"),
	DROP("tunnel outer UDP length too long", tun_outer_udp_len_long, "bad_l4_header"),
	DROP("tunnel outer UDP length too short", tun_outer_udp_len_short, "bad_l4_header"),
	DROP("tunnel inner IPv4 options", tun_inner_options, "ipv4_options"),
	DROP("tunnel inner IPv4 fragment", tun_inner_fragment, "fragment"),
	DROP("tunnel inner IPv6 extension header", tun_inner_v6_ext, "ipv6_ext_header"),
	DROP("tunnel inner IPv6 fragment header", tun_inner_v6_fragment, "fragment"),
	DROP("tunnel inner ICMP", tun_inner_icmp, "bad_l4_header"),
	DROP("tunnel inner TCP truncated", tun_inner_tcp_truncated, "truncated_l4"),
	DROP("tunnel inner UDP length 3", tun_inner_udp_len_bad, "bad_l4_header"),
	DROP("tunnel inner TTL 1 at the JAP", tun_inner_ttl1, "ttl_expired"),
	DROP("tunnel inner TTL 0 at the JAP", tun_inner_ttl0, "ttl_expired"),
	DROP("tunnel outer IPv4 options", tun_outer_options, "ipv4_options"),
	DROP("tunnel outer IPv4 fragment", tun_outer_fragment, "fragment"),
	PASS("UDP to the tunnel address, other port", tun_wrong_port, "pass_not_ours"),

	DROP_L("NAT reply TCP data offset 4", nat_tcp_doff4, 1, "bad_l4_header"),
	DROP_L("NAT reply UDP length beyond the packet", nat_udp_len_long, 1, "bad_l4_header"),
	DROP_L("NAT reply fragment", nat_fragment, 1, "fragment"),
};

/* Bindings, targets and RAPs for every TA the rows use. */
static int malformed_setup(void **state)
{
	const uint8_t fams[] = { PIAS_AF_INET, PIAS_AF_INET6 };
	const uint8_t protos[] = { PKT_PROTO_UDP, PKT_PROTO_TCP };

	if (world_setup(state))
		return -1;
	for (int f = 0; f < 2; f++)
		for (int p = 0; p < 2; p++) {
			struct pias_ta ta = make_ta(fams[f], protos[p]);
			uint32_t tid = target_id(fams[f], 0), rap = 2;

			if (pr_binding(&g_pr, &ta, 3, 1, 0, 0) ||
			    pr_target(&g_pr, tid, target_addr(tid), 0, PIAS_TARGET_ACTIVE, 1) ||
			    pr_target_set(&g_pr, &ta, &tid, 1) || pr_rap(&g_pr, &ta, &rap, 1))
				return -1;
		}
	return 0;
}

static void test_malformed_row(void **state)
{
	const struct mrow *row = *state;
	char want[160];
	struct pkt in, orig;
	struct pr_result res;
	int rc;

	row->build(&in);
	orig = in;
	rc = pr_run(&g_pr, g_ns.ifindex[row->link], in.b, in.len, &res);
	if (rc == -EINVAL && in.len < PKT_ETH_HLEN) {
		/* bpf_test_init() refuses input shorter than ETH_HLEN */
		fprintf(stderr,
			"SKIP %s: BPF_PROG_TEST_RUN rejects frames under 14 bytes "
			"(EINVAL), so the truncated_eth path cannot be driven from here\n",
			row->name);
		skip();
	}
	if (rc) {
		fprintf(stderr, "BPF_PROG_TEST_RUN: %s\n", strerror(-rc));
		fail();
	}
	snprintf(want, sizeof(want), "rx_packets=1 %s", row->counters);
	/* never forwarded unless it is a baseline */
	assert_verdict(&res, row->verdict);
	if (row->verdict == XDP_PASS)
		assert_unchanged(&res, &orig);
	assert_counters(want);
}

int run_malformed_tests(void)
{
	static struct CMUnitTest list[sizeof(rows) / sizeof(rows[0])];
	size_t n = sizeof(rows) / sizeof(rows[0]);

	for (size_t i = 0; i < n; i++)
		list[i] = (struct CMUnitTest){ rows[i].name, test_malformed_row, malformed_setup,
					       NULL, (void *)&rows[i] };
	return _cmocka_run_group_tests("malformed", list, n, world_group_setup, NULL);
}
