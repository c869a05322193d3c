/* SPDX-License-Identifier: MIT */
/*
 * piasd's membership: every proxy knows the state of every other (paper
 * section 2: "all proxies are required to know the status of all others"),
 * for up to PIAS_MAX_PROXIES - 1 proxies. SWIM (Das, Gupta, Motivala, DSN
 * 2002) with infection-style dissemination; docs/membership.md has the
 * protocol, the defaults and what they cost.
 *
 * Failure detection: every probe interval a proxy PINGs the next member of
 * a shuffled round-robin order. No ACK within probe_timeout: PING_REQ to k
 * random ALIVE members, which PING the target with origin_id set and relay
 * its ACK. No ACK by the end of the interval: the target is SUSPECT. A
 * SUSPECT not refuted within the suspicion timeout is DEAD. A proxy that
 * hears it is suspected (or dead) refutes: incarnation + 1, ALIVE.
 *
 * Precedence of what is heard about a member: a higher incarnation wins;
 * a lower one is stale and ignored; at equal incarnations ALIVE < SUSPECT
 * < DEAD < LEFT (so SUSPECT i overrides ALIVE i, DEAD/LEFT override both,
 * and a DEAD member comes back only with a higher incarnation).
 *
 * Dissemination: a state change is queued once per member (a newer change
 * replaces the older) and piggybacked on PING, ACK and PING_REQ, at most
 * PIAS_MSG_MAX_UPDATES per message, least-sent and then newest first, each
 * retransmit_mult * ceil(log2(n + 1)) times. Two classes: state changes
 * first, coordinate refreshes (an ALIVE member re-announcing a moved
 * coordinate) only in the room left, so coordinates never slow down failure
 * detection. The queue holds at most queue_max members; past that the most
 * sent coordinate refresh, else the most sent state change, is dropped.
 *
 * Joining: with seeds (addresses only), the proxy pages through a seed's
 * full view (VIEW_REQ offset = rank in the seed's id order; VIEW pages of
 * PIAS_MSG_VIEW_PAGE members), re-asking after view_retry_ns and moving to
 * the next seed after PIAS_MEMBERS_VIEW_TRIES silent tries (starting over
 * at offset 0). Once a page has told it the seed's id (hdr.sender_id), it
 * PINGs the seed with its own record each interval until an ACK comes back
 * or the view shows it ALIVE at its incarnation. After the view only
 * deltas flow.
 *
 * Partitions: a member declared DEAD while alive (cut off for longer than
 * the suspicion timeout) and the members it declared DEAD meanwhile no
 * longer probe each other. So every reconnect_ns each proxy PINGs one
 * random DEAD (not LEFT) member with its DEAD record; an alive one refutes,
 * and the two sides merge again within a round.
 *
 * Vivaldi (coords.h): every direct ACK of the current probe is an RTT
 * sample; every PING/ACK/PING_REQ carries its sender's coordinate, which
 * the receiver records. A proxy whose coordinate moved more than
 * coord_threshold_us since it last announced re-announces its record with
 * incarnation + 1, at most once per coord_interval_ns.
 *
 * Pure state machine in the style of daemon/iap.h: every input carries
 * `now` (ns, monotonic); outputs are appended to a caller-provided action
 * list; no I/O, no clock reads. Randomness comes from cfg.rand (or a
 * generator seeded with cfg.seed), so tests are deterministic.
 *
 * Actions and messages: struct pias_msg is large (11 KB: a VIEW holds 256 members),
 * so actions do not embed it. The caller gives an arena of messages along
 * with the action array; a SEND action points at a message in that arena.
 * Messages have hdr.version, hdr.type and hdr.sender_id (our id) set; the
 * daemon fills key_id and seq, encodes and sends. An arena slot is reused
 * only when the caller resets msgs_n (together with n).
 *
 * Atomicity: a call either applies all of its changes and appends all its
 * actions, or (on any error: -ENOBUFS when the action list or arena lacks
 * the room documented per call, -ENOMEM, -EINVAL) changes nothing and
 * appends nothing.
 *
 * Cost: memory O(n): 80 bytes per member plus 4 each in the probe order,
 * the dead list and the id index (1 KB pages of 256 ids, allocated where
 * ids are in use); arrays grow by doubling; the struct itself is 10 KB.
 * Per message O(records in it); per tick O(1) amortised plus one O(n)
 * shuffle per round of n probes; a VIEW_REQ costs O(page + number of index
 * pages).
 *
 * The proxy itself is a member (it appears in lookups, iteration, counts and
 * the VIEW) but is never the subject of PROXY_UP/PROXY_DOWN: the daemon puts
 * itself on the ring and takes itself off when it leaves.
 */
#ifndef PIAS_DAEMON_MEMBERSHIP_H
#define PIAS_DAEMON_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/maps.h>

#include "coords.h"
#include "err.h"
#include "msg.h"

/* Defaults (a zero field of the config takes the default). */
#define PIAS_MEMBERS_PROBE_INTERVAL_NS	1000000000ull	 /* 1 s */
#define PIAS_MEMBERS_INDIRECT_K		3		 /* PING_REQ helpers */
#define PIAS_MEMBERS_RETRANSMIT_MULT	3		 /* lambda */
#define PIAS_MEMBERS_SUSPECT_MULT	4		 /* suspicion: mult * log10(n) intervals */
#define PIAS_MEMBERS_QUEUE_MAX		4096		 /* members with a queued update */
#define PIAS_MEMBERS_COORD_INTERVAL_NS	30000000000ull	 /* 30 s */
#define PIAS_MEMBERS_COORD_THRESHOLD_US 5000.0f		 /* 5 ms */
#define PIAS_MEMBERS_GC_NS		3600000000000ull /* forget DEAD/LEFT after 1 h */
#define PIAS_MEMBERS_RECONNECT_NS	30000000000ull	 /* PING a random DEAD member */

/* Limits. */
#define PIAS_MEMBERS_MAX_K	16 /* indirect_k at most */
#define PIAS_MEMBERS_MAX_MULT	10 /* retransmit_mult at most */
#define PIAS_MEMBERS_MAX_SEEDS	16
#define PIAS_MEMBERS_VIEW_TRIES 3  /* VIEW_REQs to one seed before the next */
#define PIAS_MEMBERS_RELAYS	64 /* indirect probes relayed at once */
#define PIAS_MEMBERS_PAGE_IDS	256
#define PIAS_MEMBERS_PAGES	(PIAS_MAX_PROXIES / PIAS_MEMBERS_PAGE_IDS)
#define PIAS_MEMBERS_QBUCKETS	(PIAS_MEMBERS_MAX_MULT * 18 + 1)

/*
 * Room a call needs (actions, arena messages). pias_members_recv: 1 + the
 * records in the message (n_updates, or n of a VIEW) actions and 1 message.
 * pias_members_tick: PIAS_MEMBERS_TICK_MSGS(k) messages and one action more
 * (suspicions that expire past the room left wait for the next tick).
 * pias_members_leave: k messages and k actions.
 */
#define PIAS_MEMBERS_TICK_MSGS(k) ((k) + 4)
#define PIAS_MEMBERS_RECV_ACTIONS (PIAS_MSG_VIEW_PAGE + 1)

typedef __u32 (*pias_members_rand_fn)(void *ctx);

struct pias_members_config {
	__u64 probe_interval_ns;  /* T: one probe per T */
	__u64 probe_timeout_ns;	  /* direct ACK wait; default T / 2, must be < T */
	__u64 suspect_timeout_ns; /* fixed; default (0): suspect_mult * max(1, log10 n) * T */
	__u32 suspect_mult;
	__u32 indirect_k;      /* PING_REQ helpers, 1..PIAS_MEMBERS_MAX_K */
	__u32 retransmit_mult; /* lambda, 1..PIAS_MEMBERS_MAX_MULT */
	__u32 queue_max;
	__u64 coord_interval_ns;  /* re-announce own coordinate at most this often */
	float coord_threshold_us; /* ... when it moved more than this */
	__u64 view_retry_ns;	  /* ask a seed again after; default T */
	__u64 gc_ns;		  /* DEAD/LEFT members are forgotten after */
	__u64 reconnect_ns;	  /* one PING to a random DEAD member this often */
	__u64 seed;		  /* of the built-in generator when rand is NULL */
	pias_members_rand_fn rand;
	void *rand_ctx;
};

/* What this proxy knows of one member (read-only outside membership.c). */
struct pias_member {
	__u32 id;
	__u32 incarnation;
	__u8 state; /* enum pias_member_state */
	__u8 family;
	__u16 port; /* overlay port */
	union pias_addr addr;
	struct pias_coord coord;
	bool coord_known; /* coord came from the member (a record or its probes) */
	bool up;	  /* PROXY_UP reported and no PROXY_DOWN since */
	__u64 changed_ns; /* state or incarnation last changed */
	/* internal */
	__u64 suspect_deadline_ns;
	__u32 q_prev, q_next; /* dissemination queue links; free list */
	__u32 dead_pos;	      /* in the list of DEAD members */
	__u16 q_sent;	      /* times sent */
	__u8 q_class;	      /* 0: not queued, 1: state change, 2: coordinate refresh */
};

enum pias_members_action_kind {
	PIAS_MEMBERS_SEND = 1,	 /* send *msg to peer (proxy id, 0 for a seed) */
	PIAS_MEMBERS_PROXY_UP,	 /* id is alive at peer (new, back, or moved) */
	PIAS_MEMBERS_PROXY_DOWN, /* id is DEAD or LEFT */
};

struct pias_members_action {
	enum pias_members_action_kind kind;
	__u32 id;	       /* SEND: destination (0: unknown, a seed); UP/DOWN: the proxy */
	struct pias_peer peer; /* SEND: destination; PROXY_UP: address and overlay port */
	struct pias_msg *msg;  /* SEND: in the caller's arena */
};

/* Caller-provided: n used of cap actions, msgs_n used of msgs_cap messages. */
struct pias_members_actions {
	struct pias_members_action *a;
	size_t cap, n;
	struct pias_msg *msgs;
	size_t msgs_cap, msgs_n;
};

struct pias_members_timer {
	__u64 at;
	__u32 id;
	__u32 kind;
};

struct pias_members_relay {
	__u32 origin, seq, target;
	__u64 until;
};

struct pias_members_qlist {
	__u32 head, tail;
};

struct pias_members {
	struct pias_members_config cfg;
	__u32 self_id, self_slot;
	bool left;
	__u64 rng;

	/* members: slots (free ones on a list), an id index in pages */
	struct pias_member *mem;
	__u32 nslots, cap, free_head, nfree;
	__u32 *pages[PIAS_MEMBERS_PAGES]; /* slot + 1 per id; 0: unknown */
	__u16 page_n[PIAS_MEMBERS_PAGES];
	__u32 count[PIAS_MEMBER_LEFT + 1]; /* members per state */
	__u32 *dead;			   /* the DEAD ones (slots), for reconnection */
	__u32 ndead;
	size_t dead_cap;
	__u64 reconnect_at;

	/* probing */
	__u32 *probe; /* this round's order (ids) */
	__u32 probe_n, probe_pos, probe_cap;
	__u32 seq; /* last probe_seq used */
	__u32 probe_target, probe_seq;
	__u64 probe_sent_ns, next_probe_ns;
	bool probe_acked, probe_indirect;
	struct pias_members_relay relays[PIAS_MEMBERS_RELAYS];
	__u32 relay_next;

	/* suspicion and forgetting: a min-heap on at */
	struct pias_members_timer *timers;
	size_t ntimers, timers_cap;

	/* dissemination: [class][times sent] lists of slots, newest at head */
	struct pias_members_qlist q[2][PIAS_MEMBERS_QBUCKETS];
	__u32 q_n;

	/* joining */
	struct pias_peer seeds[PIAS_MEMBERS_MAX_SEEDS];
	__u32 nseeds, seed_cur, seed_tries, seed_id;
	bool view_done, view_sent, announced;
	__u32 view_next, seed_seq;
	__u64 view_retry_at, seed_ping_at;

	/* own coordinate announcements */
	struct pias_coord announced_coord;
	__u64 coord_next_ns;
};

/*
 * self: this proxy's overlay address and port; id 1..PIAS_MAX_PROXIES-1.
 * incarnation: above any this proxy used before; wall-clock seconds at
 * start do (a proxy bumps its incarnation about once per coord interval at
 * most, and hearing of a higher one of its own it jumps above it anyway).
 * coord: a saved coordinate, NULL for none. now: the first probe goes out
 * within one interval (a random phase, so proxies started together spread).
 * cfg NULL: defaults. -EINVAL names the bad field; -ENOMEM.
 */
int pias_members_init(struct pias_members *m, const struct pias_members_config *cfg, __u32 id,
		      const struct pias_peer *self, __u32 incarnation,
		      const struct pias_coord *coord, __u64 now, struct pias_err *e);
void pias_members_free(struct pias_members *m);

/*
 * A seed to join through (the address it answers from). Our own address is
 * ignored, as is a duplicate: one seed list can serve every proxy. -EINVAL
 * for a bad family; -ENOSPC past PIAS_MEMBERS_MAX_SEEDS.
 */
int pias_members_add_seed(struct pias_members *m, const struct pias_peer *seed, struct pias_err *e);

/*
 * A decoded, authenticated membership message (PING, ACK, PING_REQ,
 * VIEW_REQ, VIEW) from peer `from`. Replies go to `from`. -EINVAL: another
 * type, sender 0 or our own id, a bad record (id, state, family; a bad
 * coordinate is only ignored), counts over their limits; -ENOBUFS; -ENOMEM.
 */
int pias_members_recv(struct pias_members *m, const struct pias_msg *msg,
		      const struct pias_peer *from, __u64 now, struct pias_members_actions *acts,
		      struct pias_err *e);

/*
 * Timers: probes, indirect probes, suspicion, suspicion expiry, forgetting,
 * joining, coordinate announcements. Call at pias_members_next_tick() (or
 * more often). -ENOBUFS; -ENOMEM.
 */
int pias_members_tick(struct pias_members *m, __u64 now, struct pias_members_actions *acts,
		      struct pias_err *e);

/* When tick has something to do next (ns; <= now: now). */
__u64 pias_members_next_tick(const struct pias_members *m);

/*
 * Graceful leave: our record becomes LEFT and is disseminated, and PINGs
 * carrying it go to up to k ALIVE members at once. Keep ticking (and
 * answering) until pias_members_leave_done(). Idempotent. -ENOBUFS.
 */
int pias_members_leave(struct pias_members *m, __u64 now, struct pias_members_actions *acts,
		       struct pias_err *e);

/* Our LEFT record went out its retransmit limit (or nobody is left to tell). */
bool pias_members_leave_done(const struct pias_members *m);

/* No seeds, or the seed's full view is in and the seed has heard of us. */
bool pias_members_joined(const struct pias_members *m);

/* The member id (ourselves included), or NULL. */
const struct pias_member *pias_members_get(const struct pias_members *m, __u32 id);

/* The member with the smallest id above after_id (0: the first), or NULL. */
const struct pias_member *pias_members_next(const struct pias_members *m, __u32 after_id);

/* "alive", "suspect", "dead", "left" ("?" for anything else). */
const char *pias_member_state_name(__u8 state);

/* Members known (any state), and per state; ALIVE + SUSPECT includes ourselves. */
__u32 pias_members_count(const struct pias_members *m);
__u32 pias_members_count_state(const struct pias_members *m, enum pias_member_state state);
/* ALIVE + SUSPECT: the proxies traffic may go to (ourselves included). */
__u32 pias_members_alive(const struct pias_members *m);

/* Predicted RTT between proxies a and b (either may be us) in ns; 0 if unknown. */
__u64 pias_members_rtt_ns(const struct pias_members *m, __u32 a, __u32 b);

/* The current suspicion timeout and retransmit limit (they follow n). */
__u64 pias_members_suspect_timeout_ns(const struct pias_members *m);
__u32 pias_members_retransmit_limit(const struct pias_members *m);

/*
 * Worst case, without message loss, from a proxy's failure to DEAD at every
 * other: each proxy probes it itself within 2(n-1) intervals (two rounds),
 * suspects it an interval later and declares it dead after the suspicion
 * timeout, whatever gossip does. Gossip usually does it much sooner
 * (docs/membership.md).
 */
__u64 pias_members_detect_bound_ns(const struct pias_members *m);

#endif
