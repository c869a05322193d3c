/* SPDX-License-Identifier: MIT */
/*
 * What bpf/hop.bpf.c and bench/hop/ (pias-hop, `make bench-hop`) share: the
 * generator's flow variation, the sink's expectation of each config's
 * output, the minimal XDP proxy's flow table and the counters every
 * program of the rig keeps.
 */
#ifndef PIAS_HOP_H
#define PIAS_HOP_H

#include <pias/types.h>

/* Flows a config can cycle through: a power of two. */
#define HOP_FLOWS_MAX 1024
/* Largest input frame: a tunnelled 64-byte client frame, with room. */
#define HOP_FRAME_MAX 128

/*
 * The loop that feeds the DUT. A few hundred frames are sent once (an
 * AF_PACKET socket on hg0); from then on the sink turns every frame the
 * DUT delivers back into an input frame (the template, with the next
 * flow's port, a big-endian 16-bit word at port_off) and redirects it out
 * of hg0 to the DUT again, as an XDP frame, the way a NIC delivers. The
 * frames in flight fill hd0's ring, so the DUT never waits; when
 * recirculate is 0 the sink only checks and drops, and the loop drains.
 * IPv4 UDP frames here carry no UDP checksum, so a port can change freely.
 */
struct hop_loop {
	__u32 recirculate;
	__u32 gen_if; /* hg0's index */
	__u32 len;    /* of the template */
	__u32 port_off;
	__u32 nflows; /* 1: the template as it is */
	__u32 pad;
	__u8 frame[HOP_FRAME_MAX];
	__be16 vary[HOP_FLOWS_MAX];
};

/*
 * What the sink must receive for the config running: an IPv4 frame of
 * exactly len bytes, of IP protocol proto, to daddr (all as on the wire).
 * Anything else counts as bad, and the last bad one is kept for the report.
 */
struct hop_expect {
	__u32 len;
	__be32 daddr;
	__u8 proto;
	__u8 pad[3];
};

struct hop_seen {
	__u32 len;
	__be32 daddr;
	__u16 ethertype; /* host order */
	__u8 proto;
	__u8 pad;
};

/* The minimal XDP proxy's flow table: client 5-tuple -> tunnel addresses. */
struct hop_flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct hop_tunnel {
	__be32 src;
	__be32 dst;
};

/* hop_redirect's one next hop: hd1, toward the sink. */
struct hop_redirect {
	__u32 ifindex;
	__u8 dmac[6];
	__u8 smac[6];
};

/* Counters (per CPU, summed by pias-hop), each kept by one program. */
struct hop_counts {
	__u64 dut_rx;	    /* hop_pass, hop_redirect, hop_min_proxy: frames the DUT received */
	__u64 dut_drop;	    /* the same: frames the DUT did not forward */
	__u64 sink_ok;	    /* hop_sink: frames as the config must emit them */
	__u64 sink_bad;	    /* hop_sink: anything else */
	__u64 recirculated; /* hop_sink: sent back to the DUT */
	__u64 lwt_encap;    /* hop_lwt_ipip: packets wrapped */
};

PIAS_STATIC_ASSERT(sizeof(struct hop_flow_key) == 16, "hop_flow_key layout");
PIAS_STATIC_ASSERT(sizeof(struct hop_counts) == 48, "hop_counts layout");

#endif
