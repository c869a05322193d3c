/* SPDX-License-Identifier: MIT */
/*
 * The encapsulation between proxies (docs/protocol.md, "Tunnel").
 *
 *   outer IPv4 or IPv6 | UDP (dst = tunnel port, src = flow hash) |
 *   pias_tunhdr (20 bytes) | the client's original IP packet
 *
 * No Ethernet header is carried inside; the inner IP version nibble says
 * whether the inner packet is IPv4 or IPv6.
 */
#ifndef PIAS_TUNNEL_H
#define PIAS_TUNNEL_H

#include "types.h"

#define PIAS_TUN_VERSION      2
#define PIAS_TUN_PORT_DEFAULT 6637

/* What the packet is doing on this hop of the overlay. */
enum pias_tun_kind {
	PIAS_KIND_IAP_TO_RAP = 1, /* first packet of a flow, no binding at the IAP */
	PIAS_KIND_RAP_TO_JAP = 2, /* RAP relays to the JAP it picked */
	PIAS_KIND_IAP_TO_JAP = 3, /* IAP has a binding or a flow entry */
	PIAS_KIND_JAP_TO_RAP = 4, /* JAP has no live target: bounced to the RAP */
	PIAS_KIND_MAX = 4,	  /* the last kind that travels between proxies */
	/*
	 * The leg between a JAP and a tunnel-mode target (target.h): the
	 * client's packet to the target, the target's reply to the JAP.
	 * A proxy drops kind 5 (it is for targets) and takes kind 6 only from
	 * a target of its own connection.
	 */
	PIAS_KIND_JAP_TO_TARGET = 5,
	PIAS_KIND_TARGET_TO_JAP = 6,
	/*
	 * Dataplane liveness, between proxies: piasd sends an echo request to
	 * a proxy whose piasd stopped answering; that proxy's XDP program
	 * (not its piasd) turns it around as a reply, which goes up to the
	 * asking piasd. Flows pinned to a proxy whose dataplane still answers
	 * keep going there (docs/protocol.md section 1, "Echo").
	 */
	PIAS_KIND_ECHO_REQUEST = 7,
	PIAS_KIND_ECHO_REPLY = 8,
};

/* After the header of kinds 7 and 8: opaque to the dataplane, which echoes it. */
#define PIAS_ECHO_BODY_LEN 16

/* Set on a packet that a JAP has bounced once; it is never bounced again. */
#define PIAS_TUN_F_BOUNCED 0x01
#define PIAS_TUN_F_KNOWN   (PIAS_TUN_F_BOUNCED)

/*
 * The tag: proof that the sender holds an overlay key (docs/protocol.md
 * section 1, "Tag"). Between proxies, tag = SipHash-2-4 of (sender id,
 * receiver id) under a key derived from one overlay key of the ring: fixed
 * per pair and key, so the dataplane only compares. A receiver accepts
 * the tags of every key of its ring, at most this many.
 */
#define PIAS_TUN_TAG_LEN 8
#define PIAS_TUN_RX_TAGS 8

/* A packet received after more than this many overlay hops is dropped as a loop. */
#define PIAS_TUN_MAX_HOPS 4

struct pias_tunhdr {
	__u8 version;
	__u8 kind;		    /* enum pias_tun_kind */
	__u8 flags;		    /* PIAS_TUN_F_* */
	__u8 hops;		    /* overlay hops so far, incremented by every sender */
	__be32 iap_id;		    /* proxy the client's packet entered the overlay at */
	__be32 excl_jap;	    /* bounced: the JAP that bounced it, 0 otherwise */
	__u8 tag[PIAS_TUN_TAG_LEN]; /* opaque: compared as 8 bytes, never computed here */
};
PIAS_STATIC_ASSERT(sizeof(struct pias_tunhdr) == 20, "pias_tunhdr layout");

#define PIAS_UDP_HLEN  8
#define PIAS_IPV4_HLEN 20
#define PIAS_IPV6_HLEN 40
#define PIAS_TUN_HLEN  ((int)sizeof(struct pias_tunhdr))
/* Bytes added in front of the inner IP packet. */
#define PIAS_ENCAP_OVERHEAD_V4 (PIAS_IPV4_HLEN + PIAS_UDP_HLEN + PIAS_TUN_HLEN) /* 48 */
#define PIAS_ENCAP_OVERHEAD_V6 (PIAS_IPV6_HLEN + PIAS_UDP_HLEN + PIAS_TUN_HLEN) /* 68 */

/* Outer UDP source ports come from the flow hash, in [0xc000, 0xffff]. */
#define PIAS_TUN_SPORT_BASE 0xc000
#define PIAS_TUN_SPORT_MASK 0x3fff

#endif
