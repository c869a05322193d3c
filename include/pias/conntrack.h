/* SPDX-License-Identifier: MIT */
/*
 * Connection state: what the JAP's connection entries (pias_conns,
 * pias_conns_rev) and the IAP's flow entries (pias_flows) remember of a
 * flow, and how long each state lives once the flow falls silent.
 * docs/design.md ("Connection state") gives the reasoning behind every
 * default; docs/config.md the [connections] keys that change them.
 *
 * One definition for both sides: the dataplane uses it to reclaim a NAT
 * port held by an expired entry, piasd's sweep to delete expired entries.
 *
 * State is a set of flags, each set once by the packet that shows it and
 * never cleared; the state and its timeout follow from the set:
 *
 *   TCP  SYN                   SYN_SENT     tcp_syn
 *        SYN, REPLIED          SYN_RECV     tcp_syn
 *        ACKED (no FIN, RST)   ESTABLISHED  tcp_established
 *        one FIN               FIN_WAIT     tcp_fin (half closed: the other side may still send)
 *        both FINs             CLOSED       tcp_close (the client closed first)
 *        both FINs, FIN_T first TIME_WAIT   tcp_time_wait (the target holds TIME_WAIT)
 *        RST                   RESET        tcp_close
 *   UDP  (none)                UNREPLIED    udp
 *        REPLIED               REPLIED      udp_reply (a request and its answer: DNS)
 *        REPLIED, MORE         STREAM       udp_stream (traffic both ways for 2 s and more)
 *
 * As in Linux conntrack, a UDP flow is a stream only if it is still going
 * 2 s after it began: a client that reuses a 5-tuple for a new query
 * within the reply timeout is another short exchange, not a stream that
 * holds its NAT port for minutes.
 *
 * An entry is expired when nothing was seen for its state's timeout, on
 * either side: last = max(client side's last_ns, target side's last_ns).
 */
#ifndef PIAS_CONNTRACK_H
#define PIAS_CONNTRACK_H

#include "addr.h"

/* Flags of pias_conn.ct (both directions), pias_conn_rev.ct (the target's
 * side, and T_FIRST) and pias_flow_entry.ct (the client's side, as the IAP
 * sees it). */
#define PIAS_CT_SYN	0x01	      /* TCP: the client opened with a SYN */
#define PIAS_CT_ACKED	0x02	      /* TCP: a client segment without SYN; UDP: see MORE */
#define PIAS_CT_MORE	PIAS_CT_ACKED /* UDP: the client still sending 2 s after it began */
#define PIAS_CT_REPLIED 0x04	      /* the target answered */
#define PIAS_CT_FIN_C	0x08	      /* the client sent a FIN */
#define PIAS_CT_FIN_T	0x10	      /* the target sent a FIN */
#define PIAS_CT_T_FIRST 0x20	      /* the target's FIN came before the client's */
#define PIAS_CT_RST	0x40	      /* either side reset the connection */
#define PIAS_CT_KNOWN	0x7f	      /* every bit above */

/* TCP flags, byte 13 of the header. */
#define PIAS_TCPF_FIN 0x01
#define PIAS_TCPF_SYN 0x02
#define PIAS_TCPF_RST 0x04
#define PIAS_TCPF_ACK 0x10

/* Derived states, for timeouts and for display (piasctl, docs). */
enum pias_ct_state {
	PIAS_CT_SYN_SENT,
	PIAS_CT_SYN_RECV,
	PIAS_CT_ESTABLISHED,
	PIAS_CT_FIN_WAIT,
	PIAS_CT_CLOSED,
	PIAS_CT_TIME_WAIT,
	PIAS_CT_RESET,
	PIAS_CT_UDP_UNREPLIED,
	PIAS_CT_UDP_REPLIED,
	PIAS_CT_UDP_STREAM,
	PIAS_CT_STATES
};

/* Timeouts in seconds, in pias_config; 0 in a field means its default. */
struct pias_ct_timeouts {
	__u32 tcp_syn;
	__u32 tcp_established;
	__u32 tcp_fin;
	__u32 tcp_close;
	__u32 tcp_time_wait;
	__u32 udp;
	__u32 udp_reply;
	__u32 udp_stream;
};

/* Defaults (docs/design.md says why each is what it is). */
#define PIAS_CT_TCP_SYN_S	  10
#define PIAS_CT_TCP_ESTABLISHED_S 7875 /* Linux keepalive: 7200 s idle + 9 probes x 75 s */
#define PIAS_CT_TCP_FIN_S	  60
#define PIAS_CT_TCP_CLOSE_S	  10
#define PIAS_CT_TCP_TIME_WAIT_S	  65 /* Linux TIME_WAIT (60 s) + 5 s */
#define PIAS_CT_UDP_S		  30
#define PIAS_CT_UDP_REPLY_S	  2
#define PIAS_CT_UDP_STREAM_S	  120

/* A UDP flow whose client still sends this long after its first packet is a stream. */
#define PIAS_CT_STREAM_AFTER_NS 2000000000ull

/* The flags a client's UDP datagram adds to a flow that began at created. */
static inline __u8 pias_ct_client_udp(__u8 ct, __u64 created, __u64 now)
{
	if (now > created && now - created >= PIAS_CT_STREAM_AFTER_NS)
		ct |= PIAS_CT_MORE;
	return ct;
}

/* last_ns is written only when it is older than this: a busy flow's
 * entry is not rewritten (and its cache line not bounced) per packet. */
#define PIAS_CT_TOUCH_NS 100000000ull

static inline __u32 pias_ct_state_of(__u8 proto, __u8 ct)
{
	if (proto != PIAS_PROTO_TCP) {
		if (ct & PIAS_CT_MORE)
			return (ct & PIAS_CT_REPLIED) ? PIAS_CT_UDP_STREAM : PIAS_CT_UDP_UNREPLIED;
		return (ct & PIAS_CT_REPLIED) ? PIAS_CT_UDP_REPLIED : PIAS_CT_UDP_UNREPLIED;
	}
	if (ct & PIAS_CT_RST)
		return PIAS_CT_RESET;
	if ((ct & (PIAS_CT_FIN_C | PIAS_CT_FIN_T)) == (PIAS_CT_FIN_C | PIAS_CT_FIN_T))
		return (ct & PIAS_CT_T_FIRST) ? PIAS_CT_TIME_WAIT : PIAS_CT_CLOSED;
	if (ct & (PIAS_CT_FIN_C | PIAS_CT_FIN_T))
		return PIAS_CT_FIN_WAIT;
	if (ct & PIAS_CT_ACKED)
		return PIAS_CT_ESTABLISHED;
	return (ct & PIAS_CT_REPLIED) ? PIAS_CT_SYN_RECV : PIAS_CT_SYN_SENT;
}

static inline __u32 pias_ct_or(__u32 v, __u32 dflt)
{
	return v ? v : dflt;
}

/* Seconds a flow in this state may stay silent before its entry ends. */
static inline __u32 pias_ct_timeout_s(const struct pias_ct_timeouts *t, __u32 state)
{
	switch (state) {
	case PIAS_CT_SYN_SENT:
	case PIAS_CT_SYN_RECV:
		return pias_ct_or(t->tcp_syn, PIAS_CT_TCP_SYN_S);
	case PIAS_CT_ESTABLISHED:
		return pias_ct_or(t->tcp_established, PIAS_CT_TCP_ESTABLISHED_S);
	case PIAS_CT_FIN_WAIT:
		return pias_ct_or(t->tcp_fin, PIAS_CT_TCP_FIN_S);
	case PIAS_CT_TIME_WAIT:
		return pias_ct_or(t->tcp_time_wait, PIAS_CT_TCP_TIME_WAIT_S);
	case PIAS_CT_CLOSED:
	case PIAS_CT_RESET:
		return pias_ct_or(t->tcp_close, PIAS_CT_TCP_CLOSE_S);
	case PIAS_CT_UDP_REPLIED:
		return pias_ct_or(t->udp_reply, PIAS_CT_UDP_REPLY_S);
	case PIAS_CT_UDP_STREAM:
		return pias_ct_or(t->udp_stream, PIAS_CT_UDP_STREAM_S);
	}
	return pias_ct_or(t->udp, PIAS_CT_UDP_S);
}

/* Has a flow in state ct, last seen at last_ns, ended by now? */
static inline int pias_ct_expired(const struct pias_ct_timeouts *t, __u8 proto, __u8 ct,
				  __u64 last_ns, __u64 now)
{
	__u64 ttl = (__u64)pias_ct_timeout_s(t, pias_ct_state_of(proto, ct)) * 1000000000ull;

	return now > last_ns && now - last_ns > ttl;
}

/*
 * May a reverse entry left without its connection (the client reused the
 * 5-tuple for a new one, or the forward entry was evicted) give up its NAT
 * address and port? Not while the target may still hold TIME_WAIT on
 * them: it closed first, and the TIME_WAIT timeout has not passed since
 * its last packet.
 */
static inline int pias_ct_leftover_free(const struct pias_ct_timeouts *t, __u8 rv_ct,
					__u64 rv_last_ns, __u64 now)
{
	__u64 ttl = (__u64)pias_ct_timeout_s(t, PIAS_CT_TIME_WAIT) * 1000000000ull;

	return !(rv_ct & PIAS_CT_T_FIRST) || (now > rv_last_ns && now - rv_last_ns > ttl);
}

/*
 * The flags a client's TCP segment adds. A bare SYN opens; anything else
 * without SYN shows the handshake done; FIN and RST close.
 */
static inline __u8 pias_ct_client_tcp(__u8 ct, __u8 tcp_flags)
{
	if (!(tcp_flags & PIAS_TCPF_SYN))
		ct |= PIAS_CT_ACKED;
	if (tcp_flags & PIAS_TCPF_FIN)
		ct |= PIAS_CT_FIN_C;
	if (tcp_flags & PIAS_TCPF_RST)
		ct |= PIAS_CT_RST;
	return ct;
}

/* The flags a target's segment or datagram adds (proto TCP: its flags). */
static inline __u8 pias_ct_target(__u8 ct, __u8 proto, __u8 tcp_flags)
{
	ct |= PIAS_CT_REPLIED;
	if (proto != PIAS_PROTO_TCP)
		return ct;
	if ((tcp_flags & PIAS_TCPF_FIN) && !(ct & PIAS_CT_FIN_T)) {
		ct |= PIAS_CT_FIN_T;
		if (!(ct & PIAS_CT_FIN_C))
			ct |= PIAS_CT_T_FIRST;
	}
	if (tcp_flags & PIAS_TCPF_RST)
		ct |= PIAS_CT_RST;
	return ct;
}

/*
 * A bare SYN on an entry that saw more than the opening (the handshake
 * done, a close or a reset) is a new connection that reuses the 5-tuple,
 * as clients do with source ports; a SYN on a SYN-only entry is a
 * retransmission of the same one.
 */
static inline int pias_ct_syn_reopens(__u8 ct, __u8 tcp_flags)
{
	return (tcp_flags & (PIAS_TCPF_SYN | PIAS_TCPF_ACK)) == PIAS_TCPF_SYN &&
	       (ct & (PIAS_CT_ACKED | PIAS_CT_FIN_C | PIAS_CT_FIN_T | PIAS_CT_RST));
}

#endif
