/* SPDX-License-Identifier: MIT */
/*
 * Replay protection of control messages (docs/protocol.md section 6).
 *
 * Every proxy numbers what it sends: header.seq starts at CLOCK_REALTIME in
 * ns when the sender starts and grows by one per message. A receiver keeps,
 * per sender id, the highest seq accepted ("top") and a 64-bit window
 * bitmap of which of top-63..top it has seen, as IPsec does (RFC 4303,
 * 3.4.3): a seq above top is accepted and slides the window; one inside the
 * window is accepted once (reordering by up to 63 messages); a duplicate or
 * anything older than the window is rejected. seq 0 is never valid.
 *
 * Check only messages whose MAC verified: otherwise anyone could push a
 * sender's top far ahead and silence it.
 *
 * Memory: proxy ids go up to 131071, but an overlay rarely has more than a
 * few hundred. Slots live in chunks of 256 ids allocated on the first
 * message from any id in the chunk; only the table of 512 chunk pointers
 * (4 KiB) is fixed. A lookup is two array indexings (no hashing, so no
 * hash flooding and no rehash pauses), and ids handed out densely from 1
 * (the usual case) share chunks: 300 proxies cost 2 chunks of 4 KiB.
 *
 * Restarts:
 *  - a restarted sender starts again from CLOCK_REALTIME, above anything it
 *    sent before, so the receiver accepts it without forgetting anything
 *    (unless its clock stepped back by more than its uptime: then
 *    pias_replay_forget() once it is declared dead lets it in again);
 *  - a restarted receiver has no state: the first message from each sender
 *    is accepted whatever its seq. Gate that first message (and the first
 *    after a forget) with pias_fresh_timestamp(), so that only messages at
 *    most PIAS_REPLAY_FRESH_NS old can be replayed into a fresh receiver,
 *    and each at most once.
 *
 * Not thread-safe: one receiver loop owns a pias_replay.
 */
#ifndef PIAS_DAEMON_REPLAY_H
#define PIAS_DAEMON_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/maps.h>

#define PIAS_REPLAY_WINDOW   64	 /* seqs below top still accepted once */
#define PIAS_REPLAY_CHUNK    256 /* sender slots allocated together */
#define PIAS_REPLAY_CHUNKS   (PIAS_MAX_PROXIES / PIAS_REPLAY_CHUNK)
#define PIAS_REPLAY_FRESH_NS 30000000000ull /* 30 s: pias_fresh_timestamp's default */

struct pias_replay_slot {
	__u64 top;    /* highest seq accepted; 0: nothing from this sender */
	__u64 window; /* bit i: top - i was accepted (bit 0 is top itself) */
};

/* Why messages were rejected (or accepted), for the daemon's counters. */
struct pias_replay_stats {
	__u64 fresh;	  /* accepted */
	__u64 duplicate;  /* inside the window, already seen */
	__u64 too_old;	  /* below the window */
	__u64 bad_sender; /* sender id 0 or >= PIAS_MAX_PROXIES, or seq 0 */
	__u64 nomem;	  /* no memory for a new chunk: rejected (fail closed) */
};

struct pias_replay {
	struct pias_replay_slot *chunks[PIAS_REPLAY_CHUNKS]; /* NULL until first use */
	size_t n_chunks;				     /* allocated */
	size_t n_senders;				     /* slots with top != 0 */
	struct pias_replay_stats stats;
};

void pias_replay_init(struct pias_replay *r);
void pias_replay_free(struct pias_replay *r);

/*
 * Is seq from sender_id new? If so it is recorded and true is returned;
 * duplicates, seqs older than the window, bad ids, seq 0 and allocation
 * failures return false (and count in r->stats).
 */
bool pias_replay_check_and_record(struct pias_replay *r, __u32 sender_id, __u64 seq);

/* Has anything been accepted from sender_id (since init or forget)? */
bool pias_replay_known(const struct pias_replay *r, __u32 sender_id);

/* Highest seq accepted from sender_id; 0 if none. */
__u64 pias_replay_top(const struct pias_replay *r, __u32 sender_id);

/*
 * Drop what is known of sender_id (a proxy declared dead). Rarely needed,
 * see above; its chunk stays allocated for the next sender.
 */
void pias_replay_forget(struct pias_replay *r, __u32 sender_id);

/*
 * Is seq_ns (a sender's CLOCK_REALTIME-based seq) within window_ns of
 * now_realtime_ns, either side? window_ns 0 means PIAS_REPLAY_FRESH_NS.
 * For messages with no per-sender state: a target's REGISTER/LEAVE (the
 * JAP keeps a pias_replay-like check per target once it knows it) and the
 * first message of a proxy after a receiver restart.
 */
bool pias_fresh_timestamp(__u64 seq_ns, __u64 now_realtime_ns, __u64 window_ns);

#endif
