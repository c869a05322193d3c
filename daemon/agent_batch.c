// SPDX-License-Identifier: MIT
/*
 * Batch refresh: which agents' refreshes go in which REG_BATCH, and which
 * agent each entry of the answer is for.
 */
#include <string.h>

#include "agent_batch.h"

void pias_agent_batcher_init(struct pias_agent_batcher *b, __u64 ack_window_ns)
{
	memset(b, 0, sizeof(*b));
	b->ack_window_ns = ack_window_ns ? ack_window_ns : PIAS_AGENT_ACK_WINDOW_NS;
}

/* The batch of this plan for jap_id that has room, or NULL. */
static struct pias_agent_batch *open_batch(struct pias_agent_batch **planned, size_t k,
					   __u32 jap_id)
{
	while (k--)
		if (planned[k]->jap_id == jap_id)
			return planned[k]->n < PIAS_MSG_BATCH_MAX ? planned[k] : NULL;
	return NULL;
}

static bool has(const __u32 *japs, size_t n, __u32 jap_id)
{
	while (n--)
		if (japs[n] == jap_id)
			return true;
	return false;
}

/*
 * A JAP gets a round of batches when one of its agents is due, and the
 * round takes every agent of that JAP due within half its interval too:
 * refreshes spread over the interval (registrations started at different
 * times) fall into step within a few intervals, and then every round
 * finds them all due together and sends full batches.
 */
size_t pias_agent_batch_plan(struct pias_agent_batcher *b, struct pias_agent *const *agents,
			     size_t n, __u64 now, const struct pias_agent_batch **out, size_t cap)
{
	struct pias_agent_batch *planned[PIAS_AGENT_BATCH_PLAN];
	__u32 japs[PIAS_AGENT_BATCH_PLAN]; /* the JAPs with a round now */
	size_t k = 0, nj = 0;

	if (cap > PIAS_AGENT_BATCH_PLAN)
		cap = PIAS_AGENT_BATCH_PLAN;
	for (size_t i = 0; i < n && nj < cap; i++)
		if (!pias_agent_batch_wait(agents[i], now) && !has(japs, nj, agents[i]->jap_id))
			japs[nj++] = agents[i]->jap_id;
	for (size_t i = 0; i < n && nj; i++) {
		const struct pias_agent *a = agents[i];
		__u64 wait = pias_agent_batch_wait(a, now);
		struct pias_agent_batch *bt;

		if (wait == PIAS_AGENT_NOT_BATCHED || wait > a->interval_ns / 2 ||
		    !has(japs, nj, a->jap_id))
			continue;
		bt = open_batch(planned, k, a->jap_id);
		if (!bt) {
			if (k == cap)
				continue; /* the next tick takes it */
			bt = &b->recent[b->next++ % PIAS_AGENT_BATCH_RECENT];
			*bt = (struct pias_agent_batch){ .jap_id = a->jap_id };
			planned[k++] = bt;
		}
		bt->idx[bt->n++] = (__u32)i;
	}
	for (size_t j = 0; j < k; j++) {
		struct pias_agent_batch *bt = planned[j];
		__u64 seq = b->last_seq + 1;

		for (__u32 m = 0; m < bt->n; m++)
			if (agents[bt->idx[m]]->next_seq > seq)
				seq = agents[bt->idx[m]]->next_seq;
		bt->seq = b->last_seq = seq;
		bt->sent_ns = now;
		for (__u32 m = 0; m < bt->n; m++)
			pias_agent_batch_sent(agents[bt->idx[m]], seq, now);
		out[j] = bt;
	}
	return k;
}

void pias_agent_batch_msg(const struct pias_agent_batch *bt, struct pias_agent *const *agents,
			  pias_agent_token_fn token_of, void *ctx, struct pias_msg *m)
{
	memset(&m->hdr, 0, sizeof(m->hdr));
	m->hdr.type = PIAS_MSG_REG_BATCH;
	m->hdr.seq = bt->seq;
	m->batch.jap_id = bt->jap_id;
	m->batch.n = bt->n;
	for (__u32 i = 0; i < bt->n; i++) {
		const struct pias_agent *a = agents[bt->idx[i]];
		struct pias_msg_batch_entry *e = &m->batch.e[i];
		struct pias_msg_register reg;

		pias_agent_reg(a, &reg);
		e->ta = a->tgt.ta;
		e->target_id = a->target_id;
		pias_msg_batch_tag(token_of(ctx, bt->idx[i]), bt->seq, bt->jap_id, a->target_id,
				   &reg, e->tag);
	}
}

static struct pias_agent_batch *find(struct pias_agent_batcher *b, __u64 seq, __u64 now)
{
	for (size_t i = 0; seq && i < PIAS_AGENT_BATCH_RECENT; i++) {
		struct pias_agent_batch *bt = &b->recent[i];

		if (bt->seq == seq && now - bt->sent_ns <= b->ack_window_ns)
			return bt;
	}
	return NULL;
}

const struct pias_agent_batch *
pias_agent_batch_answers(struct pias_agent_batcher *b, struct pias_agent *const *agents,
			 pias_agent_token_fn token_of, void *ctx, const struct pias_msg *m,
			 const void *buf, size_t len, __u64 now, __u8 status[PIAS_MSG_BATCH_MAX])
{
	const struct pias_msg_reg_batch_ack *ack = &m->batch_ack;
	struct pias_agent_batch *bt;

	if (m->hdr.type != PIAS_MSG_REG_BATCH_ACK)
		return NULL;
	bt = find(b, ack->echo_seq, now);
	if (!bt || bt->n != ack->n || !pias_msg_mac_ok(buf, len, token_of(ctx, bt->idx[0])))
		return NULL;
	for (__u32 i = 0; i < bt->n; i++) {
		const struct pias_agent *a = agents[bt->idx[i]];
		__u8 tag[PIAS_MSG_TAG_LEN];

		pias_msg_batch_ack_tag(token_of(ctx, bt->idx[i]), ack->echo_seq, bt->jap_id,
				       ack->refresh_ms, &a->tgt.ta, a->target_id, ack->e[i].status,
				       tag);
		status[i] = pias_msg_tag_eq(tag, ack->e[i].tag) ? ack->e[i].status : 0;
	}
	return bt;
}
