/* SPDX-License-Identifier: MIT */
/*
 * Addresses, transport addresses (anycast groups) and flow keys.
 *
 * Every key is fully padded and zero-filled by whoever builds it, so that two
 * keys that mean the same thing compare equal byte for byte in a BPF hash map.
 * An IPv4 address sits in the first word of a pias_addr, the rest is zero.
 */
#ifndef PIAS_ADDR_H
#define PIAS_ADDR_H

#include "types.h"

/* Address families as they appear in keys and values (IP version numbers). */
#define PIAS_AF_NONE  0
#define PIAS_AF_INET  4
#define PIAS_AF_INET6 6

/* IP protocol numbers used in keys. */
#define PIAS_PROTO_TCP 6
#define PIAS_PROTO_UDP 17

union pias_addr {
	__be32 v4;
	__be32 v6[4];
	__u8 bytes[16];
};

/* A network-order word in host order (BPF and user space alike). */
static inline __u32 pias_be32_to_cpu(__be32 a)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(a);
#else
	return a;
#endif
}

/*
 * A group: the transport address (protocol, anycast IP, port) its clients
 * send to. Port is in host byte order so that bpftool prints it readably.
 */
struct pias_ta {
	union pias_addr addr;
	__u16 port;
	__u8 proto;
	__u8 family;
};
PIAS_STATIC_ASSERT(sizeof(struct pias_ta) == 20, "pias_ta layout");

/* A 5-tuple as seen on the wire, ports in host byte order. */
struct pias_flow {
	union pias_addr saddr;
	union pias_addr daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u16 pad;
};
PIAS_STATIC_ASSERT(sizeof(struct pias_flow) == 40, "pias_flow layout");

/* The group a client's flow is for: its destination transport address. */
static inline struct pias_ta pias_flow_ta(const struct pias_flow *f)
{
	struct pias_ta ta = {
		.addr = f->daddr,
		.port = f->dport,
		.proto = f->proto,
		.family = f->family,
	};
	return ta;
}

/* An address alone, as a hash key (proxy source check). */
struct pias_addr_key {
	union pias_addr addr;
	__u8 family;
	__u8 pad[3];
};
PIAS_STATIC_ASSERT(sizeof(struct pias_addr_key) == 20, "pias_addr_key layout");

/* LPM keys of the anycast prefix maps. */
struct pias_prefix4_key {
	__u32 prefixlen;
	__be32 addr;
};

struct pias_prefix6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

#endif
