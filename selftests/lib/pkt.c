// SPDX-License-Identifier: MIT
/*
 * Test packet builder (see pkt.h). Headers are written byte by byte at their
 * RFC offsets rather than through the kernel's struct definitions: the
 * builder is an oracle, so it should share as little as possible with the
 * code under test, and a reader can check each offset against the RFC.
 */
#include "pkt.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pias/hash.h>

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- addresses ---------------------------------------------------------- */

union pias_addr pkt_a4(const char *s)
{
	union pias_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &a.v4) != 1) {
		fprintf(stderr, "pkt: bad IPv4 address '%s'\n", s);
		abort();
	}
	return a;
}

union pias_addr pkt_a6(const char *s)
{
	union pias_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET6, s, a.bytes) != 1) {
		fprintf(stderr, "pkt: bad IPv6 address '%s'\n", s);
		abort();
	}
	return a;
}

union pias_addr pkt_addr(const char *s)
{
	return strchr(s, ':') ? pkt_a6(s) : pkt_a4(s);
}

int pkt_mac(uint8_t mac[6], const char *s)
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

/* ---- specs -------------------------------------------------------------- */

static struct pkt_spec spec_base(const char *src, const char *dst, uint8_t proto)
{
	struct pkt_spec s;

	memset(&s, 0, sizeof(s));
	s.family = strchr(src, ':') ? PIAS_AF_INET6 : PIAS_AF_INET;
	s.src = pkt_addr(src);
	s.dst = pkt_addr(dst);
	s.ttl = 64;
	/* most stacks set DF with path MTU discovery on; tests clear it explicitly */
	s.frag = s.family == PIAS_AF_INET ? PKT_IP_DF : 0;
	s.ip_id = 0x1234;
	s.proto = proto;
	return s;
}

/* Payload bytes that differ per position, so a shifted copy shows in a diff. */
static const uint8_t *pattern(void)
{
	static uint8_t buf[PKT_MAX];
	static int done;

	if (!done) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(i * 7 + 3);
		done = 1;
	}
	return buf;
}

struct pkt_spec pkt_udp(const char *src, uint16_t sport, const char *dst, uint16_t dport,
			size_t payload_len)
{
	struct pkt_spec s = spec_base(src, dst, PKT_PROTO_UDP);

	s.sport = sport;
	s.dport = dport;
	s.payload = pattern();
	s.payload_len = payload_len;
	return s;
}

struct pkt_spec pkt_tcp(const char *src, uint16_t sport, const char *dst, uint16_t dport,
			uint8_t flags)
{
	struct pkt_spec s = spec_base(src, dst, PKT_PROTO_TCP);

	s.sport = sport;
	s.dport = dport;
	s.seq = 0x01020304;
	s.ack = flags & PKT_TCP_ACK ? 0x0a0b0c0d : 0;
	s.tcp_flags = flags;
	s.window = 65535;
	return s;
}

struct pkt_spec pkt_icmp_echo(const char *src, const char *dst)
{
	struct pkt_spec s = spec_base(src, dst, 0);

	s.proto = s.family == PIAS_AF_INET ? PKT_PROTO_ICMP : PKT_PROTO_ICMPV6;
	s.icmp_type = s.family == PIAS_AF_INET ? 8 : 128;
	s.icmp_rest = 0x00010001; /* id 1, sequence 1 */
	s.payload = pattern();
	s.payload_len = 16;
	return s;
}

void pkt_set_macs(struct pkt_spec *s, const uint8_t dst[6], const uint8_t src[6])
{
	memcpy(s->eth_dst, dst, 6);
	memcpy(s->eth_src, src, 6);
}

void pkt_tcp_mss_at(struct pkt_spec *s, uint16_t mss, unsigned at, unsigned total_len)
{
	if (total_len > sizeof(s->tcp_opts) || total_len % 4 || at + 4 > total_len) {
		fprintf(stderr, "pkt: MSS option at %u does not fit %u bytes\n", at, total_len);
		abort();
	}
	memset(s->tcp_opts, 1 /* NOP */, total_len);
	s->tcp_opts[at] = 2;
	s->tcp_opts[at + 1] = 4;
	put16(&s->tcp_opts[at + 2], mss);
	s->tcp_opts_len = (uint8_t)total_len;
}

/* ---- checksums ---------------------------------------------------------- */

uint32_t pkt_sum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t s = sum;

	/* big-endian 16-bit words; an odd last byte is padded with zero */
	for (size_t i = 0; i + 1 < len; i += 2)
		s += get16(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

uint16_t pkt_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Sum of the pseudo header of an upper-layer packet (RFC 768/793, RFC 8200 8.1). */
static uint32_t pseudo_sum(uint8_t family, const union pias_addr *src, const union pias_addr *dst,
			   uint8_t proto, uint32_t l4_len)
{
	uint8_t ph[40];

	if (family == PIAS_AF_INET) {
		memcpy(ph, &src->v4, 4);
		memcpy(ph + 4, &dst->v4, 4);
		ph[8] = 0;
		ph[9] = proto;
		put16(ph + 10, (uint16_t)l4_len);
		return pkt_sum(ph, 12, 0);
	}
	memcpy(ph, src->bytes, 16);
	memcpy(ph + 16, dst->bytes, 16);
	put32(ph + 32, l4_len);
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = proto;
	return pkt_sum(ph, 40, 0);
}

/* ---- builders ----------------------------------------------------------- */

/* Transport header and payload at out; returns its length or 0. */
static size_t build_l4(const struct pkt_spec *s, uint8_t *out, size_t cap)
{
	size_t hl, len;
	uint16_t sum;

	switch (s->proto) {
	case PKT_PROTO_TCP:
		hl = 20 + s->tcp_opts_len;
		break;
	case PKT_PROTO_UDP:
	case PKT_PROTO_ICMP:
	case PKT_PROTO_ICMPV6:
		hl = 8;
		break;
	default:
		hl = 0; /* raw payload for other protocols */
	}
	len = hl + s->payload_len;
	if (len > cap || (s->proto == PKT_PROTO_TCP && s->tcp_opts_len % 4))
		return 0;
	memset(out, 0, hl);
	/* a length without bytes means "any bytes": the position pattern */
	if (s->payload_len)
		memcpy(out + hl, s->payload ? s->payload : pattern(), s->payload_len);

	switch (s->proto) {
	case PKT_PROTO_TCP:
		put16(out, s->sport);
		put16(out + 2, s->dport);
		put32(out + 4, s->seq);
		put32(out + 8, s->ack);
		out[12] = (uint8_t)((hl / 4) << 4);
		out[13] = s->tcp_flags;
		put16(out + 14, s->window);
		memcpy(out + 20, s->tcp_opts, s->tcp_opts_len);
		sum = pkt_fold(
			pkt_sum(out, len,
				pseudo_sum(s->family, &s->src, &s->dst, s->proto, (uint32_t)len)));
		put16(out + 16, sum);
		break;
	case PKT_PROTO_UDP:
		put16(out, s->sport);
		put16(out + 2, s->dport);
		put16(out + 4, (uint16_t)len);
		if (s->udp_no_csum && s->family == PIAS_AF_INET)
			break;
		sum = pkt_fold(
			pkt_sum(out, len,
				pseudo_sum(s->family, &s->src, &s->dst, s->proto, (uint32_t)len)));
		/* a computed 0 is sent as all ones (RFC 768) */
		put16(out + 6, sum ? sum : 0xffff);
		break;
	case PKT_PROTO_ICMP:
		out[0] = s->icmp_type;
		out[1] = s->icmp_code;
		put32(out + 4, s->icmp_rest);
		put16(out + 2, pkt_fold(pkt_sum(out, len, 0)));
		break;
	case PKT_PROTO_ICMPV6:
		out[0] = s->icmp_type;
		out[1] = s->icmp_code;
		put32(out + 4, s->icmp_rest);
		put16(out + 2, pkt_fold(pkt_sum(out, len,
						pseudo_sum(s->family, &s->src, &s->dst,
							   PKT_PROTO_ICMPV6, (uint32_t)len))));
		break;
	}
	return len;
}

static uint8_t ext_proto(uint8_t ext)
{
	switch (ext) {
	case PKT_EXT_HOPOPTS:
		return 0;
	case PKT_EXT_ROUTING:
		return 43;
	case PKT_EXT_DSTOPTS:
		return 60;
	case PKT_EXT_FRAGMENT:
		return 44;
	}
	return 255;
}

size_t pkt_ip(const struct pkt_spec *s, uint8_t *out, size_t cap)
{
	if (s->family == PIAS_AF_INET) {
		size_t hl = 20 + s->ip_opts_len, l4;

		if (s->ip_opts_len % 4 || hl > cap)
			return 0;
		l4 = build_l4(s, out + hl, cap - hl);
		if (!l4 && (s->proto == PKT_PROTO_TCP || s->proto == PKT_PROTO_UDP))
			return 0;
		memset(out, 0, hl);
		out[0] = (uint8_t)(0x40 | (hl / 4));
		out[1] = s->tos;
		put16(out + 2, (uint16_t)(hl + l4));
		put16(out + 4, s->ip_id);
		put16(out + 6, s->frag);
		out[8] = s->ttl;
		out[9] = s->proto;
		memcpy(out + 12, &s->src.v4, 4);
		memcpy(out + 16, &s->dst.v4, 4);
		memcpy(out + 20, s->ip_opts, s->ip_opts_len);
		put16(out + 10, pkt_fold(pkt_sum(out, hl, 0)));
		return hl + l4;
	}

	size_t ext = s->v6_ext ? 8 : 0, l4;

	if (40 + ext > cap)
		return 0;
	l4 = build_l4(s, out + 40 + ext, cap - 40 - ext);
	if (!l4 && (s->proto == PKT_PROTO_TCP || s->proto == PKT_PROTO_UDP))
		return 0;
	memset(out, 0, 40 + ext);
	put32(out, 0x60000000u | (uint32_t)s->tos << 20 | (s->flow_label & 0xfffff));
	put16(out + 4, (uint16_t)(ext + l4));
	out[6] = s->v6_ext ? ext_proto(s->v6_ext) : s->proto;
	out[7] = s->ttl;
	memcpy(out + 8, s->src.bytes, 16);
	memcpy(out + 24, s->dst.bytes, 16);
	if (ext) {
		uint8_t *e = out + 40;

		e[0] = s->proto;
		switch (s->v6_ext) {
		case PKT_EXT_HOPOPTS:
		case PKT_EXT_DSTOPTS:
			e[2] = 1; /* PadN covering the remaining 4 bytes */
			e[3] = 4;
			break;
		case PKT_EXT_ROUTING:
			e[2] = 0; /* type 0, 0 segments left: a no-op route */
			break;
		case PKT_EXT_FRAGMENT:
			put16(e + 2, (uint16_t)(s->v6_frag_off << 3 | (s->v6_frag_more ? 1 : 0)));
			put32(e + 4, 0xcafe0001);
			break;
		}
	}
	return 40 + ext + l4;
}

size_t pkt_eth(uint8_t *out, size_t cap, const uint8_t dst[6], const uint8_t src[6],
	       uint16_t ethertype, const void *l3, size_t l3_len)
{
	if (PKT_ETH_HLEN + l3_len > cap)
		return 0;
	memmove(out + PKT_ETH_HLEN, l3, l3_len);
	memcpy(out, dst, 6);
	memcpy(out + 6, src, 6);
	put16(out + 12, ethertype);
	return PKT_ETH_HLEN + l3_len;
}

size_t pkt_frame(const struct pkt_spec *s, uint8_t *out, size_t cap)
{
	size_t l3;
	uint16_t et = s->ethertype;

	if (cap < PKT_ETH_HLEN)
		return 0;
	l3 = pkt_ip(s, out + PKT_ETH_HLEN, cap - PKT_ETH_HLEN);
	if (!l3)
		return 0;
	if (!et)
		et = s->family == PIAS_AF_INET ? PKT_ETH_P_IP : PKT_ETH_P_IPV6;
	memcpy(out, s->eth_dst, 6);
	memcpy(out + 6, s->eth_src, 6);
	put16(out + 12, et);
	return PKT_ETH_HLEN + l3;
}

static void must(size_t len, const char *what)
{
	if (!len) {
		fprintf(stderr, "pkt: %s does not fit or is malformed\n", what);
		abort();
	}
}

void pkt_build(struct pkt *p, const struct pkt_spec *s)
{
	p->len = pkt_frame(s, p->b, sizeof(p->b));
	must(p->len, "frame");
}

void pkt_build_ip(struct pkt *p, const struct pkt_spec *s)
{
	p->len = pkt_ip(s, p->b, sizeof(p->b));
	must(p->len, "IP packet");
}

/* ---- flows -------------------------------------------------------------- */

int pkt_flow_of(const void *ip, size_t len, struct pias_flow *f)
{
	const uint8_t *p = ip;
	size_t l4;

	memset(f, 0, sizeof(*f));
	if (len < 1)
		return -1;
	if (p[0] >> 4 == 4) {
		if (len < 20)
			return -1;
		l4 = (p[0] & 0xf) * 4;
		f->family = PIAS_AF_INET;
		f->proto = p[9];
		memcpy(&f->saddr.v4, p + 12, 4);
		memcpy(&f->daddr.v4, p + 16, 4);
	} else if (p[0] >> 4 == 6) {
		if (len < 40)
			return -1;
		l4 = 40;
		f->family = PIAS_AF_INET6;
		f->proto = p[6];
		memcpy(f->saddr.bytes, p + 8, 16);
		memcpy(f->daddr.bytes, p + 24, 16);
	} else {
		return -1;
	}
	if ((f->proto != PKT_PROTO_TCP && f->proto != PKT_PROTO_UDP) || len < l4 + 4)
		return -1;
	f->sport = get16(p + l4);
	f->dport = get16(p + l4 + 2);
	return 0;
}

struct pias_flow pkt_spec_flow(const struct pkt_spec *s)
{
	struct pias_flow f;

	memset(&f, 0, sizeof(f));
	f.saddr = s->src;
	f.daddr = s->dst;
	f.sport = s->sport;
	f.dport = s->dport;
	f.proto = s->proto;
	f.family = s->family;
	return f;
}

struct pias_ta pkt_spec_ta(const struct pkt_spec *s)
{
	struct pias_ta ta;

	memset(&ta, 0, sizeof(ta));
	ta.addr = s->dst;
	ta.port = s->dport;
	ta.proto = s->proto;
	ta.family = s->family;
	return ta;
}

uint16_t pkt_tun_sport(const struct pias_flow *f)
{
	return (uint16_t)(PIAS_TUN_SPORT_BASE | (pias_flow_hash(f) & PIAS_TUN_SPORT_MASK));
}

/* ---- tunnel and ICMP errors --------------------------------------------- */

size_t pkt_tunnel(const struct pkt_tun *t, const void *inner, size_t inner_len, uint8_t *out,
		  size_t cap)
{
	size_t ipl = t->family == PIAS_AF_INET ? 20 : 40;
	size_t udp_len = 8 + PIAS_TUN_HLEN + inner_len;
	uint16_t sport = t->sport;
	uint8_t *u, *h;

	if (ipl + udp_len > cap)
		return 0;
	if (!sport) {
		struct pias_flow f;

		if (pkt_flow_of(inner, inner_len, &f))
			return 0;
		sport = pkt_tun_sport(&f);
	}
	/* an empty inner packet may come as NULL: memmove wants a pointer even for 0 bytes */
	if (inner_len)
		memmove(out + ipl + 8 + PIAS_TUN_HLEN, inner, inner_len);
	memset(out, 0, ipl + 8 + PIAS_TUN_HLEN);
	if (t->family == PIAS_AF_INET) {
		out[0] = 0x45;
		put16(out + 2, (uint16_t)(ipl + udp_len));
		put16(out + 4, 0); /* id 0: DF is set, nothing to reassemble */
		put16(out + 6, PKT_IP_DF);
		out[8] = 64;
		out[9] = PKT_PROTO_UDP;
		memcpy(out + 12, &t->src.v4, 4);
		memcpy(out + 16, &t->dst.v4, 4);
		put16(out + 10, pkt_fold(pkt_sum(out, 20, 0)));
	} else {
		/* flow label: the source port value, so ECMP sees the inner flow */
		put32(out, 0x60000000u | (sport & 0xfffff));
		put16(out + 4, (uint16_t)udp_len);
		out[6] = PKT_PROTO_UDP;
		out[7] = 64;
		memcpy(out + 8, t->src.bytes, 16);
		memcpy(out + 24, t->dst.bytes, 16);
	}
	u = out + ipl;
	put16(u, sport);
	put16(u + 2, t->dport);
	put16(u + 4, (uint16_t)udp_len);
	put16(u + 6, 0); /* zero UDP checksum, docs/protocol.md section 1 */
	h = u + 8;
	h[0] = t->version;
	h[1] = t->kind;
	h[2] = t->flags;
	h[3] = t->hops;
	put32(h + 4, t->iap_id);
	put32(h + 8, t->excl_jap);
	memcpy(h + 12, &t->tag, PIAS_TUN_TAG_LEN);
	return ipl + udp_len;
}

size_t pkt_tunnel_frame(const struct pkt_tun *t, const uint8_t dst[6], const uint8_t src[6],
			const void *inner, size_t inner_len, uint8_t *out, size_t cap)
{
	size_t l3;

	if (cap < PKT_ETH_HLEN)
		return 0;
	l3 = pkt_tunnel(t, inner, inner_len, out + PKT_ETH_HLEN, cap - PKT_ETH_HLEN);
	if (!l3)
		return 0;
	memcpy(out, dst, 6);
	memcpy(out + 6, src, 6);
	put16(out + 12, t->family == PIAS_AF_INET ? PKT_ETH_P_IP : PKT_ETH_P_IPV6);
	return PKT_ETH_HLEN + l3;
}

size_t pkt_too_big(uint8_t family, const union pias_addr *src, const void *quoted,
		   size_t quoted_len, uint32_t mtu, uint8_t *out, size_t cap)
{
	const uint8_t *q = quoted;
	struct pkt_spec s;
	size_t qlen;

	memset(&s, 0, sizeof(s));
	s.family = family;
	s.src = *src;
	s.ttl = 64;
	if (family == PIAS_AF_INET) {
		qlen = 20 + 8;
		memcpy(&s.dst.v4, q + 12, 4);
		s.proto = PKT_PROTO_ICMP;
		s.icmp_type = 3;	    /* destination unreachable */
		s.icmp_code = 4;	    /* fragmentation needed and DF set */
		s.icmp_rest = mtu & 0xffff; /* RFC 1191: next-hop MTU in the low half */
	} else {
		qlen = 40 + 8;
		memcpy(s.dst.bytes, q + 8, 16);
		s.proto = PKT_PROTO_ICMPV6;
		s.icmp_type = 2; /* packet too big */
		s.icmp_rest = mtu;
	}
	if (quoted_len < qlen)
		return 0;
	s.payload = quoted;
	s.payload_len = qlen;
	return pkt_ip(&s, out, cap);
}

/* ---- verification ------------------------------------------------------- */

static int fail(char *why, size_t n, const char *fmt, const char *a, unsigned v1, unsigned v2)
{
	if (why && n)
		snprintf(why, n, fmt, a, v1, v2);
	return -1;
}

static int verify_ip(const uint8_t *p, size_t len, int depth, char *why, size_t n)
{
	const char *lvl = depth ? "inner" : "outer";
	union pias_addr src, dst;
	uint8_t family, proto;
	size_t hl, tot;
	uint32_t ps;
	uint16_t got;

	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	if (len < 1)
		return fail(why, n, "%s: no IP header (%u %u)", lvl, 0, 0);
	if (p[0] >> 4 == 4) {
		if (len < 20)
			return fail(why, n, "%s IPv4: %u bytes (%u)", lvl, (unsigned)len, 0);
		family = PIAS_AF_INET;
		hl = (p[0] & 0xf) * 4;
		tot = get16(p + 2);
		if (hl < 20 || tot < hl || tot > len)
			return fail(why, n, "%s IPv4: ihl %u, total length %u", lvl, (unsigned)hl,
				    (unsigned)tot);
		if (pkt_fold(pkt_sum(p, hl, 0)) != 0)
			return fail(why, n, "%s IPv4 header checksum 0x%04x wrong (%u)", lvl,
				    get16(p + 10), 0);
		proto = p[9];
		memcpy(&src.v4, p + 12, 4);
		memcpy(&dst.v4, p + 16, 4);
		if (get16(p + 6) & 0x3fff)
			return 0; /* a fragment: its transport checksum covers other fragments */
	} else if (p[0] >> 4 == 6) {
		if (len < 40)
			return fail(why, n, "%s IPv6: %u bytes (%u)", lvl, (unsigned)len, 0);
		family = PIAS_AF_INET6;
		hl = 40;
		tot = 40 + get16(p + 4);
		if (tot > len)
			return fail(why, n, "%s IPv6: payload length %u, %u bytes", lvl,
				    get16(p + 4), (unsigned)len);
		proto = p[6];
		memcpy(src.bytes, p + 8, 16);
		memcpy(dst.bytes, p + 24, 16);
	} else {
		return fail(why, n, "%s: IP version %u (%u)", lvl, p[0] >> 4, 0);
	}

	const uint8_t *l4 = p + hl;
	size_t l4_len = tot - hl;

	ps = pseudo_sum(family, &src, &dst, proto, (uint32_t)l4_len);
	switch (proto) {
	case PKT_PROTO_TCP:
		if (l4_len < 20)
			return fail(why, n, "%s TCP: %u bytes (%u)", lvl, (unsigned)l4_len, 0);
		if (pkt_fold(pkt_sum(l4, l4_len, ps)) != 0)
			return fail(why, n, "%s TCP checksum 0x%04x wrong (%u)", lvl,
				    get16(l4 + 16), 0);
		return 0;
	case PKT_PROTO_UDP:
		if (l4_len < 8 || get16(l4 + 4) != l4_len)
			return fail(why, n, "%s UDP: length field %u, %u bytes", lvl,
				    l4_len >= 8 ? get16(l4 + 4) : 0, (unsigned)l4_len);
		got = get16(l4 + 6);
		if (got == 0) {
			/* a tunnel packet: the inner packet carries its own checksums */
			if (l4_len >= 8 + PIAS_TUN_HLEN + 20 && l4[8] == PIAS_TUN_VERSION)
				return verify_ip(l4 + 8 + PIAS_TUN_HLEN, l4_len - 8 - PIAS_TUN_HLEN,
						 depth + 1, why, n);
			/* a dataplane echo: no inner packet, a body the tunnel does not check */
			if (l4_len == 8 + PIAS_TUN_HLEN + PIAS_ECHO_BODY_LEN &&
			    l4[8] == PIAS_TUN_VERSION &&
			    (l4[9] == PIAS_KIND_ECHO_REQUEST || l4[9] == PIAS_KIND_ECHO_REPLY))
				return 0;
			if (family == PIAS_AF_INET)
				return 0;
			return fail(why, n, "%s UDP over IPv6 with checksum 0 (%u %u)", lvl, 0, 0);
		}
		if (pkt_fold(pkt_sum(l4, l4_len, ps)) != 0)
			return fail(why, n, "%s UDP checksum 0x%04x wrong (%u)", lvl, got, 0);
		/* a tunnel with an outer checksum (IPv6): the inner packet's are checked too */
		if (get16(l4 + 2) == PIAS_TUN_PORT_DEFAULT && l4_len >= 8 + PIAS_TUN_HLEN + 20 &&
		    l4[8] == PIAS_TUN_VERSION && depth == 0)
			return verify_ip(l4 + 8 + PIAS_TUN_HLEN, l4_len - 8 - PIAS_TUN_HLEN,
					 depth + 1, why, n);
		return 0;
	case PKT_PROTO_ICMP:
		if (pkt_fold(pkt_sum(l4, l4_len, 0)) != 0)
			return fail(why, n, "%s ICMP checksum 0x%04x wrong (%u)", lvl,
				    l4_len >= 4 ? get16(l4 + 2) : 0, 0);
		return 0;
	case PKT_PROTO_ICMPV6:
		if (pkt_fold(pkt_sum(l4, l4_len, ps)) != 0)
			return fail(why, n, "%s ICMPv6 checksum 0x%04x wrong (%u)", lvl,
				    l4_len >= 4 ? get16(l4 + 2) : 0, 0);
		return 0;
	}
	return 0;
}

/*
 * pkt_fix's worker: recompute what verify_ip checks, where the lengths
 * allow (a header that lies about its length is left as it is).
 */
static void fix_ip(uint8_t *p, size_t len, int depth)
{
	union pias_addr src, dst;
	uint8_t family, proto;
	size_t hl, tot;
	uint8_t *l4;
	size_t l4_len;
	uint32_t ps;

	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	if (len >= 20 && p[0] >> 4 == 4) {
		family = PIAS_AF_INET;
		hl = (p[0] & 0xf) * 4;
		tot = get16(p + 2);
		if (hl < 20 || tot < hl || tot > len)
			return;
		put16(p + 10, 0);
		put16(p + 10, pkt_fold(pkt_sum(p, hl, 0)));
		if (get16(p + 6) & 0x3fff)
			return;
		proto = p[9];
		memcpy(&src.v4, p + 12, 4);
		memcpy(&dst.v4, p + 16, 4);
	} else if (len >= 40 && p[0] >> 4 == 6) {
		family = PIAS_AF_INET6;
		hl = 40;
		tot = 40 + get16(p + 4);
		if (tot > len)
			return;
		proto = p[6];
		memcpy(src.bytes, p + 8, 16);
		memcpy(dst.bytes, p + 24, 16);
	} else {
		return;
	}
	l4 = p + hl;
	l4_len = tot - hl;
	ps = pseudo_sum(family, &src, &dst, proto, (uint32_t)l4_len);
	switch (proto) {
	case PKT_PROTO_TCP:
		if (l4_len >= 20) {
			put16(l4 + 16, 0);
			put16(l4 + 16, pkt_fold(pkt_sum(l4, l4_len, ps)));
		}
		return;
	case PKT_PROTO_UDP:
		if (l4_len < 8 || get16(l4 + 4) != l4_len)
			return;
		/* a tunnel (as pkt_verify tells one): the inner packet first */
		if ((get16(l4 + 6) == 0 || get16(l4 + 2) == PIAS_TUN_PORT_DEFAULT) &&
		    l4_len >= 8 + PIAS_TUN_HLEN + 20 && l4[8] == PIAS_TUN_VERSION && depth == 0) {
			fix_ip(l4 + 8 + PIAS_TUN_HLEN, l4_len - 8 - PIAS_TUN_HLEN, depth + 1);
			if (family == PIAS_AF_INET && get16(l4 + 6) == 0)
				return; /* a tunnel over IPv4 sends no UDP checksum */
		}
		put16(l4 + 6, 0);
		put16(l4 + 6, pkt_fold(pkt_sum(l4, l4_len, ps)) ?: 0xffff);
		return;
	case PKT_PROTO_ICMP:
		if (l4_len >= 4) {
			put16(l4 + 2, 0);
			put16(l4 + 2, pkt_fold(pkt_sum(l4, l4_len, 0)));
		}
		return;
	case PKT_PROTO_ICMPV6:
		if (l4_len >= 4) {
			put16(l4 + 2, 0);
			put16(l4 + 2, pkt_fold(pkt_sum(l4, l4_len, ps)));
		}
		return;
	}
}

void pkt_fix(void *frame, size_t len)
{
	uint8_t *p = frame;

	if (len < PKT_ETH_HLEN)
		return;
	fix_ip(p + PKT_ETH_HLEN, len - PKT_ETH_HLEN, 0);
}

int pkt_verify(const void *frame, size_t len, char *why, size_t why_len)
{
	const uint8_t *p = frame;
	uint16_t et;

	if (len < PKT_ETH_HLEN)
		return fail(why, why_len, "%s: %u bytes (%u)", "frame", (unsigned)len, 0);
	et = get16(p + 12);
	if (et != PKT_ETH_P_IP && et != PKT_ETH_P_IPV6)
		return 0;
	if ((et == PKT_ETH_P_IP) != (p[PKT_ETH_HLEN] >> 4 == 4))
		return fail(why, why_len, "%s: ethertype 0x%04x, IP version %u", "frame", et,
			    p[PKT_ETH_HLEN] >> 4);
	return verify_ip(p + PKT_ETH_HLEN, len - PKT_ETH_HLEN, 0, why, why_len);
}

/* ---- diffs -------------------------------------------------------------- */

struct field {
	unsigned off, len;
	const char *name;
};

static const struct field eth_fields[] = {
	{ 0, 6, "dst" },
	{ 6, 6, "src" },
	{ 12, 2, "type" },
	{ 0, 0, NULL },
};
static const struct field ip4_fields[] = {
	{ 0, 1, "ver/ihl" }, { 1, 1, "tos" },	 { 2, 2, "tot_len" }, { 4, 2, "id" },
	{ 6, 2, "frag" },    { 8, 1, "ttl" },	 { 9, 1, "proto" },   { 10, 2, "check" },
	{ 12, 4, "saddr" },  { 16, 4, "daddr" }, { 0, 0, NULL },
};
static const struct field ip6_fields[] = {
	{ 0, 4, "ver/tc/flow" }, { 4, 2, "payload_len" }, { 6, 1, "nexthdr" },
	{ 7, 1, "hop_limit" },	 { 8, 16, "saddr" },	  { 24, 16, "daddr" },
	{ 0, 0, NULL },
};
static const struct field tcp_fields[] = {
	{ 0, 2, "sport" }, { 2, 2, "dport" },  { 4, 4, "seq" },	    { 8, 4, "ack" },
	{ 12, 1, "doff" }, { 13, 1, "flags" }, { 14, 2, "window" }, { 16, 2, "check" },
	{ 18, 2, "urg" },  { 0, 0, NULL },
};
static const struct field udp_fields[] = {
	{ 0, 2, "sport" }, { 2, 2, "dport" }, { 4, 2, "len" }, { 6, 2, "check" }, { 0, 0, NULL },
};
static const struct field icmp_fields[] = {
	{ 0, 1, "type" }, { 1, 1, "code" }, { 2, 2, "check" }, { 4, 4, "rest" }, { 0, 0, NULL },
};
static const struct field tun_fields[] = {
	{ 0, 1, "version" }, { 1, 1, "kind" },	   { 2, 1, "flags" }, { 3, 1, "hops" },
	{ 4, 4, "iap_id" },  { 8, 4, "excl_jap" }, { 0, 0, NULL },
};

static const char *lookup(const struct field *f, const char *layer, size_t off, char *buf, size_t n)
{
	for (; f->name; f++) {
		if (off >= f->off && off < f->off + f->len) {
			snprintf(buf, n, "%s.%s", layer, f->name);
			return buf;
		}
	}
	return NULL;
}

static const char *name_in_ip(const uint8_t *p, size_t len, size_t off, int depth, char *buf,
			      size_t n)
{
	const char *ip = depth ? "inner.ip" : "ip";
	const char *l4n = depth ? "inner.l4" : "l4";
	size_t hl;
	uint8_t proto;

	if (len < 1)
		return NULL;
	if (p[0] >> 4 == 4 && len >= 20) {
		hl = (p[0] & 0xf) * 4;
		proto = p[9];
		if (off < 20)
			return lookup(ip4_fields, ip, off, buf, n);
		if (off < hl) {
			snprintf(buf, n, "%s.options", ip);
			return buf;
		}
	} else if (p[0] >> 4 == 6 && len >= 40) {
		hl = 40;
		proto = p[6];
		if (off < 40)
			return lookup(ip6_fields, ip, off, buf, n);
	} else {
		return NULL;
	}
	off -= hl;
	switch (proto) {
	case PKT_PROTO_TCP:
		if (off < 20)
			return lookup(tcp_fields, depth ? "inner.tcp" : "tcp", off, buf, n);
		if (len >= hl + 13 && off < (size_t)(p[hl + 12] >> 4) * 4) {
			snprintf(buf, n, "%s+%zu", depth ? "inner.tcp.options" : "tcp.options",
				 off - 20);
			return buf;
		}
		break;
	case PKT_PROTO_UDP:
		if (off < 8)
			return lookup(udp_fields, depth ? "inner.udp" : "udp", off, buf, n);
		/* a tunnel: a version-1 header and an IP packet behind the UDP header */
		if (!depth && len >= hl + 8 + PIAS_TUN_HLEN && p[hl + 8] == PIAS_TUN_VERSION) {
			if (off < 8 + (size_t)PIAS_TUN_HLEN)
				return lookup(tun_fields, "tun", off - 8, buf, n);
			return name_in_ip(p + hl + 8 + PIAS_TUN_HLEN, len - hl - 8 - PIAS_TUN_HLEN,
					  off - 8 - PIAS_TUN_HLEN, depth + 1, buf, n);
		}
		break;
	case PKT_PROTO_ICMP:
	case PKT_PROTO_ICMPV6:
		if (off < 8)
			return lookup(icmp_fields, "icmp", off, buf, n);
		snprintf(buf, n, "icmp.quote+%zu", off - 8);
		return buf;
	}
	snprintf(buf, n, "%s.payload+%zu", l4n, off);
	return buf;
}

const char *pkt_field_at(const void *frame, size_t len, size_t off, char *buf, size_t buf_len)
{
	const uint8_t *p = frame;
	const char *r;

	if (off < PKT_ETH_HLEN)
		return lookup(eth_fields, "eth", off, buf, buf_len) ? buf : "?";
	r = name_in_ip(p + PKT_ETH_HLEN, len - PKT_ETH_HLEN, off - PKT_ETH_HLEN, 0, buf, buf_len);
	return r ? r : "?";
}

void pkt_dump(const char *what, const void *data, size_t len)
{
	const uint8_t *p = data;

	fprintf(stderr, "  %s (%zu bytes):\n", what, len);
	for (size_t i = 0; i < len; i += 16) {
		fprintf(stderr, "    %04zx:", i);
		for (size_t j = i; j < i + 16 && j < len; j++)
			fprintf(stderr, "%s%02x", (j - i) % 4 ? "" : " ", p[j]);
		fprintf(stderr, "\n");
	}
}

int pkt_diff(const char *what, const void *exp, size_t exp_len, const void *got, size_t got_len)
{
	const uint8_t *e = exp, *g = got;
	size_t common = exp_len < got_len ? exp_len : got_len;
	int diffs = 0, shown = 0;
	char name[64];

	if (exp_len != got_len) {
		fprintf(stderr, "%s: length: expected %zu, got %zu\n", what, exp_len, got_len);
		diffs++;
	}
	for (size_t i = 0; i < common; i++) {
		if (e[i] == g[i])
			continue;
		if (!diffs || (diffs == 1 && exp_len != got_len))
			fprintf(stderr, "%s: bytes differ (offset field: expected got):\n", what);
		diffs++;
		if (shown++ < 48)
			fprintf(stderr, "  %4zu 0x%03zx %-22s: %02x %02x\n", i, i,
				pkt_field_at(exp, exp_len, i, name, sizeof(name)), e[i], g[i]);
	}
	if (shown > 48)
		fprintf(stderr, "  ... %d more differing bytes\n", shown - 48);
	if (diffs) {
		pkt_dump("expected", exp, exp_len);
		pkt_dump("got", got, got_len);
	}
	return diffs;
}
