// SPDX-License-Identifier: MIT
/*
 * Targets' REGISTER and LEAVE, once net.c has verified their token MAC and
 * freshness: admitted here (each target's seq, a LEAVE's registrations
 * gone for good, the cookie that proves a new target's address, the rates
 * per source address and per full group, the overlay's prefixes, tunnel
 * mode's addresses), then handed to the node's JAP, and answered. A
 * REG_BATCH's entries likewise, each a REGISTER of what the JAP holds.
 * All of it is about outsiders, which the node knows nothing of.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "piasd.h"
#include "registry.h"

/* A source address may start registrations of new targets (rate_table.h)? */
static bool reg_source_ok(struct piasd *d, const struct pias_peer *from)
{
	struct pias_rate_key k = pias_rate_key_addr(&from->addr, from->family);

	if (pias_rate_table_take(&d->reg_sources, &k, piasd_now()))
		return true;
	PIASD_INC(d, reg_source_limited);
	return false;
}

/* A group beyond its size ([jap] group_size) may take one more new target now? */
static bool reg_group_ok(struct piasd *d, const struct pias_ta *ta)
{
	const struct pias_jap_group *g = pias_jap_group(&d->node.jap, ta);
	struct pias_rate_key k = pias_rate_key_ta(ta);

	if (!g || g->count < d->cfg.group_size ||
	    pias_rate_table_take(&d->reg_groups, &k, piasd_now()))
		return true;
	PIASD_INC(d, reg_group_limited);
	return false;
}

static bool in_prefixes(const struct piasd *d, const struct pias_ta *ta)
{
	for (size_t i = 0; i < d->cfg.n_prefixes; i++)
		if (pias_net_contains(&d->cfg.prefixes[i], &ta->addr, ta->family))
			return true;
	return false;
}

static __u32 nack_code(int err)
{
	switch (err) {
	case -ENOSPC:
		return PIAS_NACK_FULL;
	case -EBUSY:
		return PIAS_NACK_DRAINING;
	default:
		return PIAS_NACK_INVALID;
	}
}

static void target_leave(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from,
			 const struct pias_jap_endpoint *ep, int id, __u64 now)
{
	const struct pias_msg_register *r = &m->reg;
	bool down = r->flags & PIAS_MSG_REG_F_DOWN;

	pias_gone_note(&d->gone, &r->ta, &ep->addr, ep->family, ep->port, m->hdr.seq, now);
	if (id > 0 && !pias_node_target_leave(&d->node, &r->ta, (__u32)id, down, now, NULL)) {
		d->target_seq[id].seq = m->hdr.seq;
		if (down) {
			char ta[PIAS_ADDR_STRLEN + 16];

			LOG_I("target %d of %s fails its health check: down", id,
			      pias_ta_str(&r->ta, ta, sizeof(ta)));
		}
	}
	PIASD_INC(d, reg_accepted);
	/* leaving an unknown target succeeds: it is gone either way */
	piasd_target_ack(d, from, m, id > 0 ? (__u32)id : 0, d->cfg.target_timeout_ms, NULL);
}

void piasd_target_msg(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from)
{
	const struct pias_msg_register *r = &m->reg;
	struct pias_jap_endpoint ep = { .addr = r->addr,
					.port = r->port,
					.family = r->family,
					.policy = r->policy,
					.policy_serial = r->policy_serial };
	bool tunnel = r->flags & PIAS_MSG_REG_F_TUNNEL;
	__u64 now = piasd_now();
	struct pias_err e;
	bool proven;
	int id;

	if (tunnel) {
		/* the server answers from the TA itself: only its port means anything */
		ep.port = r->ta.port;
		ep.flags = PIAS_TARGET_F_TUNNEL;
		/* registrations reach here only with a group key (net.c) */
		ep.tag = pias_target_tun_tag(d->group_key, d->cfg.node_id, &r->ta, &r->addr,
					     r->family);
	}
	id = pias_jap_find(&d->node.jap, &r->ta, &ep);
	if (id > 0 && m->hdr.seq <= d->target_seq[id].seq) {
		PIASD_INC(d, reg_refused);
		piasd_target_nack(d, from, m, PIAS_NACK_STALE, "stale: seq replayed or reordered",
				  false);
		return;
	}
	/* gone after a LEAVE: a copy of one of its REGISTERs must not bring it back (gone.h) */
	if (id <= 0 && m->hdr.type == PIAS_MSG_REGISTER &&
	    m->hdr.seq <= pias_gone_seq(&d->gone, &r->ta, &ep.addr, ep.family, ep.port, now)) {
		PIASD_INC(d, reg_refused);
		PIASD_INC(d, reg_after_leave);
		piasd_target_nack(d, from, m, PIAS_NACK_STALE,
				  "stale: not newer than this registration's LEAVE", false);
		return;
	}
	/*
	 * A target we know sends its next seq: no copy can do that. One we do
	 * not know must first show that it receives at its address (a copy of
	 * its REGISTER replayed here, within the 30 s a seq is fresh, gets a
	 * cookie that the real target ignores, docs/protocol.md 6.5).
	 */
	proven = id > 0 || pias_cookie_ok(&d->cookies, r, from);
	/* a new target, cookie round or not: per source address, no answer beyond */
	if (id <= 0 && m->hdr.type == PIAS_MSG_REGISTER && !reg_source_ok(d, from))
		return;
	if (!proven && m->hdr.type == PIAS_MSG_REGISTER) {
		piasd_target_cookie(d, from, m);
		return;
	}
	if (!in_prefixes(d, &r->ta)) {
		PIASD_INC(d, reg_refused);
		piasd_target_nack(d, from, m, PIAS_NACK_INVALID,
				  "the TA is not inside an anycast prefix of this overlay", proven);
		return;
	}
	if (tunnel && m->hdr.type == PIAS_MSG_REGISTER &&
	    !(r->family == PIAS_AF_INET ? d->cfg.addr4.family : d->cfg.addr6.family)) {
		PIASD_INC(d, reg_refused);
		piasd_target_nack(
			d, from, m, PIAS_NACK_INVALID,
			"tunnel mode: this JAP has no tunnel address of the target's family",
			proven);
		return;
	}
	if (m->hdr.type == PIAS_MSG_LEAVE) {
		target_leave(d, m, from, &ep, id, now);
		return;
	}
	if (id <= 0 && !reg_group_ok(d, &r->ta)) {
		char why[PIAS_MSG_TEXT_LEN];

		PIASD_INC(d, reg_refused);
		snprintf(why, sizeof(why),
			 "the group has %u targets here, its size: joins limited to %u a second",
			 d->cfg.group_size, d->cfg.group_joins_per_s);
		piasd_target_nack(d, from, m, PIAS_NACK_FULL, why, proven);
		return;
	}
	id = pias_node_register(&d->node, &r->ta, &ep, r->weight, now, &e);
	if (id < 0) {
		PIASD_INC(d, reg_refused);
		piasd_target_nack(d, from, m, nack_code(id), e.msg, proven);
		return;
	}
	if (d->target_seq[id].seq == 0) {
		char ta[PIAS_ADDR_STRLEN + 16], ept[PIAS_ADDR_STRLEN + 8];

		LOG_I("target %d joined %s at %s%s", id, pias_ta_str(&r->ta, ta, sizeof(ta)),
		      pias_endpoint_str(&r->addr, r->family, ep.port, ept, sizeof(ept)),
		      tunnel ? " (tunnel mode)" : "");
	}
	d->target_seq[id].seq = m->hdr.seq;
	PIASD_INC(d, reg_accepted);
	piasd_target_ack(d, from, m, (__u32)id, d->cfg.target_timeout_ms, tunnel ? &ep.tag : NULL);
}

/* Target id of ta as this JAP holds it, or NULL (an id held for another TA too). */
static const struct pias_jap_target *jap_target_of(const struct piasd *d, const struct pias_ta *ta,
						   __u32 id)
{
	const struct pias_jap_group *g = pias_jap_group_of(&d->node.jap, id);

	return g && pias_ta_eq(&g->ta, ta) ? pias_jap_target(&d->node.jap, id) : NULL;
}

/* The registration of target t of ta as its last REGISTER made it (what a batch tag covers). */
static void held_registration(const struct pias_ta *ta, const struct pias_jap_target *t,
			      struct pias_msg_register *r)
{
	memset(r, 0, sizeof(*r));
	r->ta = *ta;
	r->family = t->t.family;
	r->flags = t->t.flags & PIAS_TARGET_F_TUNNEL ? PIAS_MSG_REG_F_TUNNEL : 0;
	r->addr = t->t.addr;
	r->port = t->t.port;
	r->weight = t->t.weight;
	r->policy = t->policy;
	r->policy_serial = t->policy_serial;
}

/* The endpoint of target t as held: registered again, nothing but the time changes. */
static struct pias_jap_endpoint held_endpoint(const struct pias_jap_target *t)
{
	return (struct pias_jap_endpoint){ .addr = t->t.addr,
					   .port = t->t.port,
					   .family = t->t.family,
					   .flags = t->t.flags,
					   .tag = t->t.tag,
					   .policy = t->policy,
					   .policy_serial = t->policy_serial };
}

/*
 * Tags that do not verify in one batch before the rest is not checked: an
 * agent's own batch has none (its registrations are as it made them), and
 * a batch made of forged entries (by a holder of its first entry's token)
 * costs the JAP no more per entry than a REGISTER: the token each entry's
 * answer is tagged with, and a lookup.
 */
#define BATCH_BAD_MAX 2

/*
 * One entry of a REG_BATCH whose seq is seq: refreshed (OK) only if this
 * JAP holds the target for its TA, its tag verifies with token and the
 * registration as held here, the seq is above the target's last, and the
 * target is ACTIVE; then it is the node's REGISTER of the registration as
 * held, which for an ACTIVE target only notes the time. Any other state
 * (DOWN, DRAINING) is the business of a REGISTER, which the agent sends
 * for anything but OK.
 */
static __u8 batch_entry(struct piasd *d, __u64 seq, const struct pias_msg_batch_entry *be,
			const __u8 token[PIAS_KEY_LEN], unsigned int *bad, __u64 now)
{
	const struct pias_jap_target *t = jap_target_of(d, &be->ta, be->target_id);
	struct pias_jap_endpoint ep;
	struct pias_msg_register held;
	__u8 tag[PIAS_MSG_TAG_LEN];
	struct pias_err e;
	int id;

	if (!t || *bad >= BATCH_BAD_MAX)
		return PIAS_BATCH_UNKNOWN;
	held_registration(&be->ta, t, &held);
	pias_msg_batch_tag(token, seq, d->cfg.node_id, be->target_id, &held, tag);
	if (!pias_msg_tag_eq(tag, be->tag)) {
		(*bad)++;
		return PIAS_BATCH_UNKNOWN;
	}
	if (seq <= d->target_seq[be->target_id].seq)
		return PIAS_BATCH_STALE;
	if (t->t.state != PIAS_TARGET_ACTIVE || !in_prefixes(d, &be->ta))
		return PIAS_BATCH_REFUSED;
	ep = held_endpoint(t);
	id = pias_node_register(&d->node, &be->ta, &ep, t->t.weight, now, &e);
	if (id != (int)be->target_id) {
		LOG_W("batch refresh of target %u: %s", be->target_id,
		      id < 0 ? e.msg : "registered under another id");
		return PIAS_BATCH_REFUSED;
	}
	d->target_seq[be->target_id].seq = seq;
	return PIAS_BATCH_OK;
}

void piasd_target_batch(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from)
{
	static struct pias_msg ack; /* the answer: large, not on the stack */
	const struct pias_msg_reg_batch *b = &m->batch;
	__u64 now = piasd_now();
	unsigned int bad = 0;

	memset(&ack, 0, sizeof(ack));
	ack.hdr.type = PIAS_MSG_REG_BATCH_ACK;
	ack.batch_ack.echo_seq = m->hdr.seq;
	ack.batch_ack.refresh_ms = d->cfg.target_timeout_ms;
	ack.batch_ack.n = b->n;
	PIASD_INC(d, reg_batches);
	for (__u32 i = 0; i < b->n; i++) {
		struct pias_msg_batch_answer *a = &ack.batch_ack.e[i];
		__u8 token[PIAS_KEY_LEN];

		pias_token_derive(d->group_key, &b->e[i].ta, token);
		a->status = batch_entry(d, m->hdr.seq, &b->e[i], token, &bad, now);
		if (a->status == PIAS_BATCH_OK)
			PIASD_INC(d, reg_batch_refreshed);
		else
			PIASD_INC(d, reg_batch_refused);
		pias_msg_batch_ack_tag(token, m->hdr.seq, d->cfg.node_id, ack.batch_ack.refresh_ms,
				       &b->e[i].ta, b->e[i].target_id, a->status, a->tag);
		sodium_memzero(token, sizeof(token));
	}
	if (bad)
		LOG_D("REG_BATCH of %u entries: %u tags did not verify", b->n, bad);
	piasd_target_reply(d, from, &ack, &b->e[0].ta);
}

int piasd_register_init(struct piasd *d, struct pias_err *e)
{
	d->target_seq = calloc(PIAS_MAX_TARGETS, sizeof(*d->target_seq));
	return d->target_seq ? 0 : pias_err_set(e, -ENOMEM, "no memory for the target seqs");
}

void piasd_register_free(struct piasd *d)
{
	free(d->target_seq);
	d->target_seq = NULL;
}
