/* SPDX-License-Identifier: MIT */
/*
 * Batch refresh for an agent process that keeps many registrations
 * (docs/protocol.md 6.4.18): the refreshes that are due go, per JAP, in
 * REG_BATCHes of up to PIAS_MSG_BATCH_MAX entries, where each agent
 * (daemon/agent.h) would send a REGISTER of its own. A thousand
 * registrations with one JAP, refreshed every 300 ms, make about 100
 * datagrams a second instead of 3,333.
 *
 * The batcher plans the batches of a tick from the agents' state, builds
 * each REG_BATCH with its entries' tags, remembers which agent is behind
 * each entry, and checks the JAP's REG_BATCH_ACK against that: its MAC
 * with the first entry's token, each entry's tag with its own. Pure, like
 * the agent: no I/O, no clock; tokens come from the caller (token_of).
 *
 * Agents are named by their index in the caller's array, which must keep
 * its order while batches are answered (the caller may set an agent up
 * afresh in place: its answers are then ignored, as the agent does not
 * know the batch).
 */
#ifndef PIAS_DAEMON_AGENT_BATCH_H
#define PIAS_DAEMON_AGENT_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "agent.h"
#include "msg.h"

#define PIAS_AGENT_BATCH_RECENT 256 /* batches remembered for their answers */
#define PIAS_AGENT_BATCH_PLAN	64  /* batches planned per tick at most: the rest wait a tick */

/* The token of the agent at index i of the caller's array. */
typedef const __u8 *(*pias_agent_token_fn)(void *ctx, size_t i);

struct pias_agent_batch {
	__u64 seq; /* the REG_BATCH's header.seq; 0: slot unused */
	__u64 sent_ns;
	__u32 jap_id;
	__u32 n;
	__u32 idx[PIAS_MSG_BATCH_MAX]; /* the agents behind its entries, in order */
};

struct pias_agent_batcher {
	struct pias_agent_batch recent[PIAS_AGENT_BATCH_RECENT]; /* a ring */
	unsigned int next;
	__u64 last_seq;	     /* of the last batch: the next is above it */
	__u64 ack_window_ns; /* answers to batches older than this are stale */
};

/* ack_window_ns 0: PIAS_AGENT_ACK_WINDOW_NS. */
void pias_agent_batcher_init(struct pias_agent_batcher *b, __u64 ack_window_ns);

/*
 * Plan at now (call after every agent's tick): each JAP with an agent of
 * agents[0..n) whose refresh is due (pias_agent_batch_wait 0) gets a round
 * of batches, which takes every agent of that JAP due within half its
 * refresh interval, so that refreshes fall into step and later rounds are
 * full batches. Each batch's seq is above every seq its agents sent and
 * every batch before; its agents are told (pias_agent_batch_sent).
 * Returns how many (at most PIAS_AGENT_BATCH_PLAN and cap); out[] points
 * into b, valid until the next call.
 */
size_t pias_agent_batch_plan(struct pias_agent_batcher *b, struct pias_agent *const *agents,
			     size_t n, __u64 now, const struct pias_agent_batch **out, size_t cap);

/* bt as a REG_BATCH: hdr.type and seq, its entries and their tags. */
void pias_agent_batch_msg(const struct pias_agent_batch *bt, struct pias_agent *const *agents,
			  pias_agent_token_fn token_of, void *ctx, struct pias_msg *m);

/*
 * A REG_BATCH_ACK, decoded into m (buf, len: the datagram, for its MAC).
 * The batch it answers: sent within the ACK window, of the same n, the
 * datagram's MAC verifying with its first agent's token. Then status[i] is
 * entry i's status if its tag verifies with its agent's token, else 0
 * (ignored). Returns the batch, or NULL: the whole answer is ignored. A
 * second answer to the same batch finds it again; its agents ignore it.
 */
const struct pias_agent_batch *
pias_agent_batch_answers(struct pias_agent_batcher *b, struct pias_agent *const *agents,
			 pias_agent_token_fn token_of, void *ctx, const struct pias_msg *m,
			 const void *buf, size_t len, __u64 now, __u8 status[PIAS_MSG_BATCH_MAX]);

#endif
