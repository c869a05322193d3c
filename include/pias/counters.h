/* SPDX-License-Identifier: MIT */
/*
 * Counters kept by the dataplane. Each list is written once, as an X-macro,
 * and expands into: an enum of indexes (for the BPF side, which increments
 * by index), a struct of named __u64 fields (so that `bpftool map dump`
 * prints names), and a table of names and explanations (for piasd-loader
 * status and the tests).
 */
#ifndef PIAS_COUNTERS_H
#define PIAS_COUNTERS_H

#include "types.h"

/* What happened to packets, in the order a packet meets them. */
#define PIAS_STATS(X)                                                                              \
	X(rx_packets, "frames seen by the XDP program")                                            \
	X(pass_not_ip, "not IPv4/IPv6: passed to the stack")                                       \
	X(pass_not_ours, "IP, but not for an anycast prefix, the tunnel or NAT")                   \
	X(pass_not_l4, "for an anycast prefix but not TCP/UDP: passed")                            \
	X(iap_flow_hit, "IAP: flow table hit, sent to its JAP")                                    \
	X(iap_binding_hit, "IAP: binding hit, flow recorded, sent to the JAP")                     \
	X(iap_local, "IAP: a TA served by this proxy's own stack (registration), passed up")       \
	X(iap_miss, "IAP: no binding, sent to the group's RAP")                                    \
	X(iap_flow_reopen, "IAP: a SYN on a finished flow's entry, or an ended one: bound afresh") \
	X(iap_mss_clamped, "IAP: MSS of a TCP SYN clamped")                                        \
	X(icmp_too_big_sent, "ICMP frag-needed / packet-too-big sent")                             \
	X(rap_relayed, "RAP: relayed to a JAP")                                                    \
	X(rap_bounce_relayed, "RAP: relayed a bounced packet to another JAP")                      \
	X(jap_conn_hit, "JAP: connection table hit, NATed to its target")                          \
	X(jap_new_conn, "JAP: new connection, target picked, NATed")                               \
	X(jap_scope_fallback, "JAP: scoped group, no target in the client's prefix: any target")   \
	X(jap_conn_reopen, "JAP: a SYN on a finished connection's entry: a new connection")        \
	X(jap_conn_expired, "JAP: a packet on an ended connection's entry, not yet swept")         \
	X(nat_reclaimed, "JAP: NAT port taken over from an expired connection")                    \
	X(jap_bounced, "JAP: no live target, bounced to the RAP")                                  \
	X(rev_translated, "JAP: target reply translated back to the client")                       \
	X(rev_mss_clamped, "JAP: MSS of a target's SYN-ACK clamped")                               \
	X(jap_tunnel_sent, "JAP: client packet wrapped to its tunnel-mode target (kind 5)")        \
	X(jap_tunnel_reply, "JAP: tunnel-mode target's reply (kind 6) unwrapped to the client")    \
	X(jap_mss_clamped, "JAP: MSS of a SYN to a tunnel-mode target clamped")                    \
	X(jap_replicate_up, "JAP: packet of a replicated group handed to the TC program")          \
	X(jap_replica_sent, "JAP (TC): copy of a replicated group's packet sent to a target")      \
	X(pass_nat_miss, "to the NAT address, no connection: passed")                              \
	X(local_hop, "overlay hop to this proxy itself, handled in place")                         \
	X(fwd_tx, "forwarded with XDP_TX")                                                         \
	X(fwd_redirect, "forwarded with XDP_REDIRECT")                                             \
	X(fwd_fib_pass, "route lookup failed: passed to the stack")                                \
	X(fwd_nh_cached, "forwarded by this CPU's cached next hop: no route lookup")               \
	X(echo_answered, "dataplane echo from a proxy answered (kind 7 -> 8)")                     \
	X(echo_reply_up, "dataplane echo's answer passed up to piasd (kind 8)")                    \
	X(events_sent, "events written to the ring buffer")                                        \
	X(events_suppressed, "events not sent: rate limit")                                        \
	X(events_lost, "events not sent: ring buffer full")                                        \
	X(rev_icmp_unreachable, "JAP: a target's ICMP port unreachable for a flow, counted, passed")

/* Why packets were dropped. Every drop in the dataplane has a reason here. */
#define PIAS_DROPS(X)                                                                              \
	X(truncated_eth, "frame shorter than an Ethernet header")                                  \
	X(truncated_ip, "IP header cut short")                                                     \
	X(bad_ip_header, "bad IP version or IHL")                                                  \
	X(bad_ip_length, "IP total/payload length disagrees with the frame")                       \
	X(ipv4_options, "IPv4 header with options")                                                \
	X(ipv6_ext_header, "IPv6 extension header")                                                \
	X(fragment, "IP fragment")                                                                 \
	X(truncated_l4, "TCP/UDP header cut short")                                                \
	X(bad_l4_header, "bad TCP data offset or UDP length")                                      \
	X(ttl_expired, "TTL / hop limit would reach zero")                                         \
	X(negative_binding, "IAP: the TA has no group (negative binding)")                         \
	X(no_rap, "IAP: no live RAP for the TA")                                                   \
	X(unknown_proxy, "next proxy unknown or down")                                             \
	X(tunnel_not_proxy, "tunnel packet from an address not in the proxy map")                  \
	X(tunnel_bad_tag, "tunnel packet without the tag its sender (proxy or target) must use")   \
	X(tunnel_truncated, "tunnel header cut short")                                             \
	X(tunnel_bad_version, "tunnel header version not supported")                               \
	X(tunnel_bad_kind, "tunnel header kind or flags not valid")                                \
	X(tunnel_loop, "tunnel packet crossed too many overlay hops")                              \
	X(rap_no_group, "RAP: unknown group")                                                      \
	X(rap_no_jap_left, "RAP: bounced packet and no other JAP")                                 \
	X(jap_no_target, "JAP: no live target and already bounced")                                \
	X(jap_no_conn, "JAP: TCP segment of no known connection and no SYN (not NATed)")           \
	X(jap_no_scope, "JAP: scoped strict group, no target in the client's prefix")              \
	X(iap_no_scope, "IAP: scoped strict group, no JAP with a target in the client's prefix")   \
	X(rap_no_scope, "RAP: scoped strict group, no JAP with a target in the client's prefix")   \
	X(tunnel_not_target, "JAP: kind 6 packet that no connection of its sender (target) knows") \
	X(nat_no_port, "JAP: no free NAT port")                                                    \
	X(nat_no_addr, "JAP: no NAT address of the client's family")                               \
	X(too_big, "does not fit the underlay MTU (ICMP rate-limited)")                            \
	X(adjust_failed, "growing or shrinking the frame failed")                                  \
	X(jap_replicate_tcp, "JAP: TCP segment for a replicated group (replication is UDP only)")  \
	X(replica_no_target, "JAP (TC): replicated group without a live target")                   \
	X(replica_no_route, "JAP (TC): no route to a copy's target")                               \
	X(replica_failed, "JAP (TC): rewriting or cloning a copy failed")

#define PIAS_X_ENUM_STAT(name, desc) PIAS_STAT_##name,
#define PIAS_X_ENUM_DROP(name, desc) PIAS_DROP_##name,
#define PIAS_X_FIELD(name, desc)     __u64 name;

enum pias_stat_index {
	PIAS_STATS(PIAS_X_ENUM_STAT) PIAS_STAT_MAX
};
enum pias_drop_index {
	PIAS_DROPS(PIAS_X_ENUM_DROP) PIAS_DROP_MAX
};

/* Values of the per-CPU pias_stats and pias_drops maps (one entry each). */
struct pias_stats {
	PIAS_STATS(PIAS_X_FIELD)
};
struct pias_drops {
	PIAS_DROPS(PIAS_X_FIELD)
};
PIAS_STATIC_ASSERT(sizeof(struct pias_stats) == PIAS_STAT_MAX * 8, "stats layout");
PIAS_STATIC_ASSERT(sizeof(struct pias_drops) == PIAS_DROP_MAX * 8, "drops layout");

/*
 * Per group: what each role forwarded, per CPU, in pias_grp_count (see
 * PIAS_GROUP_COUNT_KEY in maps.h for where each count lives).
 */
enum pias_group_role {
	PIAS_ROLE_IAP, /* client packets tunnelled on (flow hits and misses) */
	PIAS_ROLE_RAP, /* first packets relayed to a JAP */
	PIAS_ROLE_JAP, /* packets handed to a target */
	PIAS_ROLE_REV, /* replies sent back to clients */
	PIAS_ROLES,
};

struct pias_count {
	__u64 packets;
	__u64 bytes; /* IP length, inner packet */
};

/* One group's counts summed over CPUs, as readers get them: roles in order. */
struct pias_group_stats {
	__u64 iap_packets;
	__u64 iap_bytes;
	__u64 rap_packets;
	__u64 rap_bytes;
	__u64 jap_packets;
	__u64 jap_bytes;
	__u64 rev_packets;
	__u64 rev_bytes;
};
PIAS_STATIC_ASSERT(sizeof(struct pias_group_stats) == PIAS_ROLES * sizeof(struct pias_count),
		   "group stats: one pias_count per role, in role order");

/* Per target (key: target id), per CPU. */
struct pias_target_stats {
	__u64 packets;
	__u64 bytes;
	__u64 rev_packets;
	__u64 rev_bytes;
	__u64 new_flows;
	__u64 last_reply_ns; /* CLOCK_MONOTONIC_COARSE ns of the last reply seen */
	__u64 nat_no_port;   /* new flows dropped: no free NAT address and port */
	/*
	 * How the target met new flows (piasd's outlier detection, docs/design.md
	 * "A target's health"): the first packet back on a flow was a real
	 * reply (answered) or a RST to the client's SYN (refused); an ICMP port
	 * unreachable came back for a flow (unreachable).
	 */
	__u64 answered;
	__u64 refused;
	__u64 unreachable;
};

#endif
