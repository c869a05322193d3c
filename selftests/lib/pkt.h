/* SPDX-License-Identifier: MIT */
/*
 * The test packet builder: the one place tests make frames from.
 *
 * Every length and checksum is computed from scratch here (full RFC 1071
 * sums over the finished bytes), never with the dataplane's incremental
 * helpers, so that a frame built here is an independent oracle for what the
 * XDP program must produce. Tests describe a packet with a pkt_spec, tweak
 * the fields that a hop changes (TTL, addresses, ports, MSS) and build
 * again; they do not patch bytes, except to make a packet deliberately
 * malformed.
 */
#ifndef PIAS_TEST_PKT_H
#define PIAS_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

#include <pias/addr.h>
#include <pias/tunnel.h>

#define PKT_MAX		 4096
#define PKT_ETH_HLEN	 14

#define PKT_ETH_P_IP	 0x0800
#define PKT_ETH_P_IPV6	 0x86dd
#define PKT_ETH_P_ARP	 0x0806

#define PKT_PROTO_ICMP	 1
#define PKT_PROTO_TCP	 6
#define PKT_PROTO_UDP	 17
#define PKT_PROTO_ICMPV6 58

/* IPv4 flags, in the host-order frag field of pkt_spec. */
#define PKT_IP_DF   0x4000
#define PKT_IP_MF   0x2000

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

/* IPv6 extension header to put between the fixed header and transport. */
enum pkt_v6ext {
	PKT_EXT_NONE = 0,
	PKT_EXT_HOPOPTS,  /* next header 0 */
	PKT_EXT_ROUTING,  /* 43, type 0 with no segments left */
	PKT_EXT_DSTOPTS,  /* 60 */
	PKT_EXT_FRAGMENT, /* 44 */
};

/*
 * One IP packet in an Ethernet frame. Zero means zero (a TTL of 0 is a TTL
 * of 0): start from pkt_udp()/pkt_tcp() and change what a test needs.
 */
struct pkt_spec {
	uint8_t eth_dst[6];
	uint8_t eth_src[6];
	uint16_t ethertype; /* 0: from the family */

	uint8_t family; /* PIAS_AF_INET or PIAS_AF_INET6 */
	union pias_addr src, dst;
	uint8_t ttl; /* hop limit for IPv6 */
	uint8_t tos; /* traffic class for IPv6 */
	uint16_t ip_id;
	uint16_t frag;	     /* IPv4 flags | offset in 8-byte units, host order */
	uint32_t flow_label; /* IPv6 */
	uint8_t ip_opts[40]; /* IPv4 options, ip_opts_len a multiple of 4 */
	uint8_t ip_opts_len;
	uint8_t v6_ext;	      /* enum pkt_v6ext */
	uint16_t v6_frag_off; /* fragment header: offset in 8-byte units */
	uint8_t v6_frag_more; /* fragment header: M flag */

	uint8_t proto;
	uint16_t sport, dport; /* TCP/UDP */
	uint32_t seq, ack;
	uint8_t tcp_flags;
	uint16_t window;
	uint8_t tcp_opts[40]; /* a multiple of 4 bytes, caller pads with NOP/EOL */
	uint8_t tcp_opts_len;
	uint8_t udp_no_csum; /* IPv4 UDP sent without a checksum (0) */
	uint8_t icmp_type, icmp_code;
	uint32_t icmp_rest; /* ICMP bytes 4..7, host order */

	const void *payload;
	size_t payload_len;
};

/* The outer headers of a tunnel packet (docs/protocol.md section 1). */
struct pkt_tun {
	uint8_t family; /* of the underlay */
	union pias_addr src, dst;
	uint16_t dport;	 /* tunnel port */
	uint16_t sport;	 /* 0: 0xc000 | (flow hash of the inner packet & 0x3fff) */
	uint8_t version; /* header fields, written as given */
	uint8_t kind;
	uint8_t flags;
	uint8_t hops;
	uint32_t iap_id;
	uint32_t excl_jap;
	uint64_t tag; /* copied as its 8 bytes in memory order, as the dataplane does */
};

/* A built frame or packet. */
struct pkt {
	uint8_t b[PKT_MAX];
	size_t len;
};

/* Addresses from text; abort on a typo so a test never runs with 0.0.0.0. */
union pias_addr pkt_a4(const char *s);
union pias_addr pkt_a6(const char *s);
union pias_addr pkt_addr(const char *s); /* either family, by the presence of ':' */
int pkt_mac(uint8_t mac[6], const char *s);

/* Specs with the usual defaults: TTL 64, IPv4 DF, TCP window 65535. */
struct pkt_spec pkt_udp(const char *src, uint16_t sport, const char *dst, uint16_t dport,
			size_t payload_len);
struct pkt_spec pkt_tcp(const char *src, uint16_t sport, const char *dst, uint16_t dport,
			uint8_t flags);
struct pkt_spec pkt_icmp_echo(const char *src, const char *dst);
void pkt_set_macs(struct pkt_spec *s, const uint8_t dst[6], const uint8_t src[6]);

/* TCP options: an MSS option at byte 'at' of the options (the rest NOP). */
void pkt_tcp_mss_at(struct pkt_spec *s, uint16_t mss, unsigned at, unsigned total_len);

/* Builders. Return the length, 0 if it does not fit (tests treat 0 as fatal). */
size_t pkt_ip(const struct pkt_spec *s, uint8_t *out, size_t cap);
size_t pkt_frame(const struct pkt_spec *s, uint8_t *out, size_t cap);
size_t pkt_eth(uint8_t *out, size_t cap, const uint8_t dst[6], const uint8_t src[6],
	       uint16_t ethertype, const void *l3, size_t l3_len);
/* Outer IP + UDP + PIAS header around 'inner' (an IP packet). */
size_t pkt_tunnel(const struct pkt_tun *t, const void *inner, size_t inner_len, uint8_t *out,
		  size_t cap);
/* The same in an Ethernet frame. */
size_t pkt_tunnel_frame(const struct pkt_tun *t, const uint8_t dst[6], const uint8_t src[6],
			const void *inner, size_t inner_len, uint8_t *out, size_t cap);
/*
 * ICMP "fragmentation needed" / ICMPv6 "packet too big" from 'src' to the
 * sender of 'quoted' (an IP packet), quoting its IP header and 8 bytes.
 */
size_t pkt_too_big(uint8_t family, const union pias_addr *src, const void *quoted,
		   size_t quoted_len, uint32_t mtu, uint8_t *out, size_t cap);

/* Convenience wrappers filling a struct pkt. */
void pkt_build(struct pkt *p, const struct pkt_spec *s);
void pkt_build_ip(struct pkt *p, const struct pkt_spec *s);

/* The 5-tuple of an IP packet, as the dataplane keys it; -1 if not TCP/UDP. */
int pkt_flow_of(const void *ip, size_t len, struct pias_flow *f);
struct pias_flow pkt_spec_flow(const struct pkt_spec *s);
struct pias_ta pkt_spec_ta(const struct pkt_spec *s);
/* The tunnel UDP source port the protocol prescribes for this inner flow. */
uint16_t pkt_tun_sport(const struct pias_flow *f);

/* RFC 1071 over data, starting from a 32-bit partial sum. */
uint32_t pkt_sum(const void *data, size_t len, uint32_t sum);
uint16_t pkt_fold(uint32_t sum);
/*
 * Verifies every checksum in a frame from scratch (IPv4 header, TCP, UDP,
 * ICMP, ICMPv6, and inside a tunnel the inner packet's). Returns 0 if all
 * are right, else -1 with a reason in why.
 */
int pkt_verify(const void *frame, size_t len, char *why, size_t why_len);
/*
 * Recomputes those checksums in place, wherever the lengths in the headers
 * allow (a fuzzer's mutated frame then gets past checksum-blind parsing to
 * the logic behind it).
 */
void pkt_fix(void *frame, size_t len);

/*
 * Compares two frames. Equal: 0. Otherwise prints, on stderr, the lengths
 * and every differing byte as offset, field name, expected and got, and
 * returns the number of differences (a length difference counts as one).
 */
int pkt_diff(const char *what, const void *exp, size_t exp_len, const void *got, size_t got_len);
/* Hex dump with offsets, on stderr, for failure messages. */
void pkt_dump(const char *what, const void *data, size_t len);
/* Name of the header field at 'off' of an Ethernet frame (for diffs). */
const char *pkt_field_at(const void *frame, size_t len, size_t off, char *buf, size_t buf_len);

#endif
