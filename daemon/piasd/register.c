// SPDX-License-Identifier: MIT
/*
 * Targets' REGISTER and LEAVE, once net.c has verified their token MAC and
 * freshness: admitted here (each target's seq, a LEAVE's registrations
 * gone for good, the cookie that proves a new target's address, the rates
 * per source address and per full group, the overlay's prefixes, tunnel
 * mode's addresses), then handed to the node's JAP, and answered. All of
 * it is about outsiders, which the node knows nothing of.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "piasd.h"

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
