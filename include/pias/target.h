/* SPDX-License-Identifier: MIT */
/*
 * The tunnel-mode target's program (bpf/target.bpf.c): TC on the target's
 * interface, loaded by `piasctl target join --mode tunnel`.
 *
 *   ingress: UDP to the tunnel port, PIAS header kind 5 (JAP_TO_TARGET),
 *            from the JAP of the inner packet's TA: unwrapped, so the
 *            stack sees the client's own packet to the anycast TA (an
 *            address on lo). A packet for a served TA that did not come
 *            that way is dropped.
 *   egress:  a packet from a served TA (the server's reply) is wrapped as
 *            kind 6 (TARGET_TO_JAP) to that TA's JAP, which hands it to
 *            the client.
 *
 * The services map is also the agent's record of what it set up: a later
 * start reads it to remove the anycast addresses a killed agent left on lo.
 */
#ifndef PIAS_TARGET_H
#define PIAS_TARGET_H

#include "addr.h"
#include "tunnel.h"

/* Pinned under PIAS_TT_PIN_ROOT/IFNAME/ (also the BPF map names). */
#define PIAS_TT_PIN_ROOT     "/sys/fs/bpf/pias-target"
#define PIAS_TT_MAP_SERVICES "pias_tt_svc"
#define PIAS_TT_MAP_STATS    "pias_tt_stats"
#define PIAS_TT_MAP_FLOWS    "pias_tt_flows"
#define PIAS_TT_MAX_SERVICES 4096
#define PIAS_TT_MAX_FLOWS    65536

/* pias_tt_svc: HASH pias_ta -> service: where the TA's packets come from and replies go. */
struct pias_tt_service {
	union pias_addr jap;  /* the JAP's tunnel address: the only accepted outer source */
	union pias_addr self; /* this target's registered address: outer source of replies */
	__u16 tunnel_port;    /* the JAP's tunnel port (host order) */
	__u16 mtu;	      /* largest outer packet towards the JAP */
	__u8 family;	      /* of jap and self: the TA's family (targets serve theirs) */
	__u8 pad[3];
	__u64 tag; /* from the REG_ACK: required on kind 5, written on kind 6 */
	/*
	 * The TA's first JAP, once its JAP changed (prev_tunnel_port 0: it
	 * never did). When the target registers elsewhere (its JAP's piasd
	 * went down, routing moved), connections that came through the old
	 * JAP go on through its dataplane. From the first change on, every
	 * flow that comes through the JAP of the moment is remembered
	 * (pias_tt_flows; a client speaks first, so before any reply), and a
	 * reply goes to its flow's JAP, or to the first JAP if none is
	 * remembered: the flows from before. Kind 5 is taken from the TA's
	 * JAP, its first one, the one it had just before (last_*, port 0:
	 * none), and a flow's remembered one. The last one matters when the
	 * TA comes back to its first JAP: the JAP it had meanwhile still has
	 * it registered for a while, and keeps it alive with the flows it
	 * carries, so it sends new ones too, which must not be dropped.
	 */
	union pias_addr prev_jap;
	__u16 prev_tunnel_port;
	__u16 pad2[3];
	__u64 prev_tag;
	union pias_addr last_jap;
	__u16 last_tunnel_port;
	__u16 pad3[3];
	__u64 last_tag;
};

/*
 * pias_tt_flows: LRU_HASH client-side pias_flow (client -> TA) -> the JAP
 * it came through, for flows that began after their TA's JAP changed.
 */
struct pias_tt_flow {
	union pias_addr jap;
	__u16 tunnel_port;
	__u16 pad[3];
	__u64 tag;
};

/* pias_tt_stats: PERCPU_ARRAY, one entry. */
#define PIAS_TT_STATS(X)                                                                           \
	X(decap, "ingress: client packet from its JAP, unwrapped for the stack")                   \
	X(encap, "egress: reply from a served TA, wrapped to its JAP")                             \
	X(via_prev_jap,                                                                            \
	  "ingress: client packet through a JAP the TA had before (its flows go on)")              \
	X(drop_not_jap, "ingress: tunnel packet for a served TA from another source than its JAP") \
	X(drop_bad_tag, "ingress: from the JAP's address, but without the TA's tag (forged)")      \
	X(drop_not_served, "ingress: tunnel packet for a TA this target does not serve")           \
	X(drop_bad_header, "ingress: to the tunnel port, but not a well-formed kind 5 packet")     \
	X(drop_not_tunnelled, "ingress: plain packet to a served TA (it bypassed the JAP)")        \
	X(drop_too_big, "egress: reply too big for the tunnel (MTU) and not segmentable")          \
	X(drop_adjust_failed, "room for or removal of the tunnel headers failed")                  \
	X(drop_no_route, "egress: no JAP of the TA's family, or the redirect was refused")

#define PIAS_TT_FIELD(name, text) __u64 name;
struct pias_tt_stats {
	PIAS_TT_STATS(PIAS_TT_FIELD)
};
#undef PIAS_TT_FIELD

#define PIAS_TT_INDEX(name, text) PIAS_TT_##name,
enum pias_tt_stat_index {
	PIAS_TT_STATS(PIAS_TT_INDEX) PIAS_TT_NSTATS
};
#undef PIAS_TT_INDEX

#endif
