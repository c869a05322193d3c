// SPDX-License-Identifier: MIT
/*
 * The JAP, RAP and IAP state machines at the edge: messages and dataplane
 * events in, their actions out as map writes and messages.
 *
 * Messages between roles on this same proxy (this IAP asking this RAP, this
 * JAP reporting to this RAP) never touch the network: they go through a
 * loopback queue, drained after the current input, so that no state
 * machine is re-entered while its action list is being applied. The queue
 * grows as needed: a JAP re-reporting a thousand groups after a ring
 * change queues a thousand REPORTs to itself at once (a fixed queue of 256
 * dropped the rest, and this RAP then answered NO_GROUP for groups it
 * should have known). Its entries hold only the small kinds that go to
 * self, not a whole struct pias_msg (11 KB for VIEW pages).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "piasd.h"
#include "registry.h"

#define LOOPBACK_MAX (1u << 20) /* messages to self per input: only a runaway gets there */

/* Action lists, grown when a call needs more room (-ENOBUFS, see RUN). */
static struct pias_jap_actions jap_acts;
static struct pias_rap_actions rap_acts;
static struct pias_iap_actions iap_acts;

/*
 * A message to ourselves: the kinds send_to() queues. Its body is the
 * first sizeof(body) bytes of struct pias_msg's union, which starts at the
 * same place for every kind, so one copy each way serves them all.
 */
struct loop_msg {
	struct pias_msg_hdr hdr;
	union {
		struct pias_msg_report report;
		struct pias_msg_query query;
		struct pias_msg_binding binding;
		struct pias_msg_invalidate inval;
	} body;
};

static struct loop_msg *loopback;
static size_t loopback_n, loopback_cap;
static struct pias_msg *loop_scratch; /* the one being handled */

static int grow(void **a, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? 2 * *cap : 256;
	void *p = realloc(*a, ncap * elem);

	if (!p)
		return -ENOMEM;
	*a = p;
	*cap = ncap;
	return 0;
}

/* Run call with list l emptied first; on -ENOBUFS grow l and run it again. */
#define RUN(l, call)                                                                               \
	({                                                                                         \
		int _err;                                                                          \
		for (;;) {                                                                         \
			(l).n = 0;                                                                 \
			_err = (call);                                                             \
			if (_err != -ENOBUFS || grow((void **)&(l).a, &(l).cap, sizeof((l).a[0]))) \
				break;                                                             \
		}                                                                                  \
		_err;                                                                              \
	})

static void map_err(struct piasd *d, int err, const struct pias_err *e)
{
	if (err) {
		PIASD_INC(d, map_errors);
		LOG_W("map write: %s", e->msg);
	}
}

/* To proxy id: over the network, or through the loopback queue if it is us. */
static void send_to(struct piasd *d, __u32 id, struct pias_msg *m)
{
	if (id != d->cfg.node_id) {
		piasd_send_proxy(d, id, m);
		return;
	}
	struct loop_msg *q;

	if (loopback_n == loopback_cap &&
	    (loopback_cap >= LOOPBACK_MAX ||
	     grow((void **)&loopback, &loopback_cap, sizeof(*loopback)))) {
		LOG_W("loopback queue full: %s to self dropped", pias_msg_type_name(m->hdr.type));
		return;
	}
	if (m->hdr.type != PIAS_MSG_REPORT && m->hdr.type != PIAS_MSG_QUERY &&
	    m->hdr.type != PIAS_MSG_BINDING && m->hdr.type != PIAS_MSG_INVALIDATE) {
		/* no other kind goes to self: a bug */
		LOG_W("%s to self dropped: not a loopback kind", pias_msg_type_name(m->hdr.type));
		return;
	}
	m->hdr.sender_id = id;
	q = &loopback[loopback_n++];
	q->hdr = m->hdr;
	memcpy(&q->body, &m->report, sizeof(q->body));
}

/* --- JAP ----------------------------------------------------------------- */

/*
 * Reports for other proxies wait in a pack and go out per RAP, as many as
 * fit in a REPORTS (one alone goes as a REPORT), when the pack is flushed:
 * at the end of every action list applied (so a report caused by a change
 * still goes at once, and the changes of one tick go together), after each
 * slice of the periodic refresh, and whenever PACK_FLUSH wait. Reports to
 * this proxy's own RAP go through the loopback queue, one REPORT each.
 */
#define PACK_FLUSH 4096

struct pending_report {
	__u32 rap;
	__u32 order; /* keeps a RAP's reports in the order they were made */
	struct pias_msg_report r;
};

static struct pending_report *pack;
static size_t pack_n, pack_cap;
static struct pias_msg *pack_msg; /* the REPORTS being filled */

static int pending_cmp(const void *a, const void *b)
{
	const struct pending_report *x = a, *y = b;

	if (x->rap != y->rap)
		return x->rap < y->rap ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void pack_send(struct piasd *d, __u32 rap)
{
	struct pias_msg *m = pack_msg;

	if (!m->reports.n)
		return;
	if (m->reports.n == 1) {
		struct pias_msg_report r = m->reports.r[0];

		m->hdr.type = PIAS_MSG_REPORT;
		m->report = r;
	}
	piasd_send_proxy(d, rap, m);
	PIASD_INC(d, report_msgs_sent);
	memset(&m->hdr, 0, sizeof(m->hdr));
	m->hdr.type = PIAS_MSG_REPORTS;
	m->reports.n = 0;
}

static void pack_flush(struct piasd *d)
{
	if (!pack_n)
		return;
	qsort(pack, pack_n, sizeof(*pack), pending_cmp);
	for (size_t i = 0; i < pack_n; i++) {
		if (i && pack[i].rap != pack[i - 1].rap)
			pack_send(d, pack[i - 1].rap);
		if (!pias_msg_reports_add(&pack_msg->reports, &pack[i].r)) {
			pack_send(d, pack[i].rap);
			pias_msg_reports_add(&pack_msg->reports, &pack[i].r);
		}
	}
	pack_send(d, pack[pack_n - 1].rap);
	pack_n = 0;
}

static void send_report(struct piasd *d, const struct pias_ta *ta, const struct pias_jap_report *r)
{
	__u32 raps[PIAS_RAP_REPLICAS];
	int n = piasd_raps_of(d, ta, raps);
	struct pias_msg_report rep = {
		.ta = *ta,
		.count = r->count,
		.seq = ++d->report_seq,
		.share = r->share,
		.policy = r->policy,
		.policy_serial = r->policy_serial,
		.n_scopes = r->n_scopes,
	};

	memcpy(rep.scopes, r->scopes, sizeof(rep.scopes));
	for (int i = 0; i < n; i++) {
		PIASD_INC(d, reports_sent);
		if (raps[i] == d->cfg.node_id) {
			struct pias_msg m = { .hdr.type = PIAS_MSG_REPORT, .report = rep };

			send_to(d, raps[i], &m);
			continue;
		}
		if (pack_n == pack_cap && grow((void **)&pack, &pack_cap, sizeof(*pack))) {
			LOG_W("no memory for a report to proxy %u: sent alone", raps[i]);
			pack_msg->reports.n = 1;
			pack_msg->reports.r[0] = rep;
			pack_send(d, raps[i]);
			continue;
		}
		pack[pack_n] =
			(struct pending_report){ .rap = raps[i], .order = (__u32)pack_n, .r = rep };
		if (++pack_n >= PACK_FLUSH)
			pack_flush(d);
	}
}

/*
 * No target set for ta in the dataplane. Already none is no error: the set
 * of a group whose targets all went down was deleted then, and the group's
 * going away deletes it again.
 */
static void tgtset_gone(struct piasd *d, const struct pias_ta *ta)
{
	struct pias_err e;
	int err = pias_tgtset_del(&d->maps, ta, &e);

	if (err != -ENOENT)
		map_err(d, err, &e);
}

static void jap_apply(struct piasd *d)
{
	struct pias_err e;

	for (size_t i = 0; i < jap_acts.n; i++) {
		const struct pias_jap_action *a = &jap_acts.a[i];

		switch (a->kind) {
		case PIAS_JAP_TARGET_SET:
			map_err(d, pias_target_set(&d->maps, a->id, &a->target, &e), &e);
			/* the set holds the weights: a new one reaches it (no SET_SET says so) */
			map_err(d, pias_tgtset_reweigh(&d->maps, &a->ta, &e), &e);
			if (a->target.state == PIAS_TARGET_DOWN)
				LOG_I("target %u is down: no refresh or reply for %u ms", a->id,
				      d->cfg.target_timeout_ms);
			break;
		case PIAS_JAP_TARGET_DEL:
			map_err(d, pias_target_del(&d->maps, a->id, &e), &e);
			break;
		case PIAS_JAP_SET_SET:
			/* every target down: no set, which the dataplane treats alike */
			if (!a->set.count) {
				tgtset_gone(d, &a->ta);
				break;
			}
			map_err(d,
				pias_tgtset_set_policy(&d->maps, &a->ta, a->set.ids, a->set.count,
						       &a->set.policy, &e),
				&e);
			break;
		case PIAS_JAP_SET_DEL:
			tgtset_gone(d, &a->ta);
			break;
		case PIAS_JAP_REPORT:
			send_report(d, &a->ta, &a->report);
			break;
		}
	}
	pack_flush(d);
}

/*
 * What group g says to its RAPs now, said again: the one re-report path,
 * for the groups a ring change moved and for the periodic refresh. It goes
 * in the pack with the others; the caller flushes it.
 */
static void report_group(struct piasd *d, const struct pias_jap_group *g)
{
	struct pias_jap_report r = pias_jap_group_report(g);

	r.count = g->up; /* ACTIVE targets, as they are now */
	send_report(d, &g->ta, &r);
}

void piasd_proto_rereport(struct piasd *d, const struct pias_slot_set *moved)
{
	pias_jap_each_group(&d->jap, g)
	{
		if (pias_ring_ta_moved(moved, &g->ta))
			report_group(d, g);
	}
	pack_flush(d);
	/* a partial re-report refreshes only some groups: the others' period runs on */
	if (!moved) {
		d->last_rereport_ns = piasd_now();
		d->rereport_done = 0;
		d->rereport_at = -1;
	}
}

/*
 * Every group is reported again once each PIAS_RAP_REPORT_PERIOD_NS, spread
 * over the period: a walk goes through the groups (pias_jap_group_after,
 * in an order each group keeps while it is held), as far as the time into
 * the period says, so that many groups make a steady trickle of REPORTS
 * (packed per RAP), not a burst every period. A slice waits until it holds
 * PIAS_MSG_REPORTS_MAX groups (or the period ends), so that a RAP of them
 * all gets full REPORTS from a JAP of a few groups too. The period's end
 * takes the rest of the walk: each group held through a period is reported
 * once in it (one added behind the walk reported itself when it came).
 */
static void rereport_due(struct piasd *d, __u64 now)
{
	__u64 into = now - d->last_rereport_ns;
	bool end = into >= PIAS_RAP_REPORT_PERIOD_NS;
	size_t upto = (size_t)((__u64)pias_jap_ngroups(&d->jap) * into / PIAS_RAP_REPORT_PERIOD_NS);
	const struct pias_jap_group *g;

	if (!end && upto < d->rereport_done + PIAS_MSG_REPORTS_MAX)
		return;
	for (g = pias_jap_group_after(&d->jap, d->rereport_at);
	     g && (end || d->rereport_done < upto); g = pias_jap_next_group(&d->jap, g)) {
		report_group(d, g);
		d->rereport_at = pias_jap_group_place(&d->jap, g);
		d->rereport_done++;
	}
	pack_flush(d);
	if (end) {
		d->last_rereport_ns = now;
		d->rereport_done = 0;
		d->rereport_at = -1;
	}
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

void piasd_proto_target(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from)
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
	int id, err;

	if (tunnel) {
		/* the server answers from the TA itself: only its port means anything */
		ep.port = r->ta.port;
		ep.flags = PIAS_TARGET_F_TUNNEL;
		/* registrations reach here only with a group key (net.c) */
		ep.tag = pias_target_tun_tag(d->group_key, d->cfg.node_id, &r->ta, &r->addr,
					     r->family);
	}
	id = pias_jap_find(&d->jap, &r->ta, &ep);
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
	if (id <= 0 && m->hdr.type == PIAS_MSG_REGISTER && !piasd_reg_source_ok(d, from))
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
		pias_gone_note(&d->gone, &r->ta, &ep.addr, ep.family, ep.port, m->hdr.seq, now);
		if (id > 0) {
			/* DOWN: its health check fails; its flows move as from a dead one */
			err = r->flags & PIAS_MSG_REG_F_DOWN
				      ? RUN(jap_acts, pias_jap_fail(&d->jap, &r->ta, (__u32)id, now,
								    &jap_acts, &e))
				      : RUN(jap_acts, pias_jap_leave(&d->jap, &r->ta, (__u32)id,
								     now, &jap_acts, &e));
			if (!err) {
				jap_apply(d);
				d->target_seq[id].seq = m->hdr.seq;
				if (r->flags & PIAS_MSG_REG_F_DOWN) {
					char ta[PIAS_ADDR_STRLEN + 16];

					LOG_I("target %d of %s fails its health check: down", id,
					      pias_ta_str(&r->ta, ta, sizeof(ta)));
				}
			}
		}
		PIASD_INC(d, reg_accepted);
		/* leaving an unknown target succeeds: it is gone either way */
		piasd_target_ack(d, from, m, id > 0 ? (__u32)id : 0, d->cfg.target_timeout_ms,
				 NULL);
		return;
	}
	if (id <= 0 && !piasd_reg_group_ok(d, &r->ta)) {
		char why[PIAS_MSG_TEXT_LEN];

		PIASD_INC(d, reg_refused);
		snprintf(why, sizeof(why),
			 "the group has %u targets here, its size: joins limited to %u a second",
			 d->cfg.group_size, d->cfg.group_joins_per_s);
		piasd_target_nack(d, from, m, PIAS_NACK_FULL, why, proven);
		return;
	}
	err = RUN(jap_acts, pias_jap_register(&d->jap, &r->ta, &ep, r->weight, now, &jap_acts, &e));
	if (err < 0) {
		PIASD_INC(d, reg_refused);
		piasd_target_nack(d, from, m, nack_code(err), e.msg, proven);
		return;
	}
	id = err;
	jap_apply(d);
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
	const struct pias_jap_group *g = pias_jap_group_of(&d->jap, id);

	return g && pias_ta_eq(&g->ta, ta) ? pias_jap_target(&d->jap, id) : NULL;
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
 * target is ACTIVE. Any other state (DOWN, DRAINING) is the business of a
 * REGISTER, which the agent sends for anything but OK.
 */
static __u8 batch_entry(struct piasd *d, __u64 seq, const struct pias_msg_batch_entry *be,
			const __u8 token[PIAS_KEY_LEN], unsigned int *bad, __u64 now)
{
	const struct pias_jap_target *t = jap_target_of(d, &be->ta, be->target_id);
	struct pias_msg_register held;
	__u8 tag[PIAS_MSG_TAG_LEN];
	struct pias_err e;

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
	if (RUN(jap_acts, pias_jap_refresh(&d->jap, &be->ta, be->target_id, now, &jap_acts, &e))) {
		LOG_W("batch refresh of target %u: %s", be->target_id, e.msg);
		return PIAS_BATCH_REFUSED;
	}
	jap_apply(d);
	d->target_seq[be->target_id].seq = seq;
	return PIAS_BATCH_OK;
}

void piasd_proto_batch(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from)
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

int piasd_dial(struct piasd *d, const struct pias_ta *ta, __u32 permille, struct pias_err *e)
{
	int err = RUN(jap_acts, pias_jap_dial(&d->jap, ta, permille, piasd_now(), &jap_acts, e));
	char t[PIAS_ADDR_STRLEN + 16];

	if (err)
		return err;
	jap_apply(d);
	LOG_I("%s dialled to %u%% here", pias_ta_str(ta, t, sizeof(t)), permille / 10);
	return 0;
}

int piasd_target_eject(struct piasd *d, const struct pias_ta *ta, __u32 id, bool out,
		       struct pias_err *e)
{
	int err = RUN(jap_acts, pias_jap_eject(&d->jap, ta, id, out, piasd_now(), &jap_acts, e));

	if (!err)
		jap_apply(d);
	return err;
}

int piasd_drain(struct piasd *d, const struct pias_ta *ta, const union pias_addr *a, __u8 family,
		__u16 port, struct pias_err *e)
{
	struct pias_jap_endpoint ep = { .addr = *a, .port = port, .family = family };
	int id = pias_jap_find(&d->jap, ta, &ep), err;

	if (id < 0)
		return pias_err_set(e, -ENOENT, "no such target in that group here");
	err = RUN(jap_acts, pias_jap_drain(&d->jap, ta, (__u32)id, piasd_now(), &jap_acts, e));
	if (!err)
		jap_apply(d);
	return err;
}

int piasd_undrain(struct piasd *d, const struct pias_ta *ta, const union pias_addr *a, __u8 family,
		  __u16 port, struct pias_err *e)
{
	struct pias_jap_endpoint ep = { .addr = *a, .port = port, .family = family };
	int err = RUN(jap_acts, pias_jap_undrain(&d->jap, ta, &ep, piasd_now(), &jap_acts, e));

	if (!err)
		jap_apply(d);
	return err;
}

/*
 * The dataplane's last reply from target id: asked by pias_jap_tick only
 * about a target whose deadline is due and whose refreshes are late (it
 * may be alive and answering while its agent is not), so a per-CPU entry
 * is read only for those, not for every target every tick.
 */
static __u64 last_reply_of(void *ctx, __u32 id)
{
	struct piasd *d = ctx;
	struct pias_target_stats s;
	struct pias_err e;

	return pias_target_stats_get(&d->maps, id, &s, &e) ? 0 : s.last_reply_ns;
}

/* A draining target goes once the sweep finds its connections ended. */
static long conns_of(void *ctx, __u32 id, __u64 since)
{
	return piasd_conns_of(ctx, id, since);
}

static void jap_tick(struct piasd *d, __u64 now)
{
	struct pias_err e;
	int err;

	/* not reachable for registrations: its targets' silence means nothing */
	if (!d->serving || (d->cfg.announce_command[0] && !d->announced))
		pias_jap_hold(&d->jap, now);
	err = RUN(jap_acts, pias_jap_tick(&d->jap, now, last_reply_of, d, &jap_acts, &e));
	if (err) {
		LOG_W("jap tick: %s", e.msg);
		return;
	}
	jap_apply(d);
	piasd_outliers_tick(d, now);
	rereport_due(d, now);
}

/* --- RAP ----------------------------------------------------------------- */

static void send_binding(struct piasd *d, const struct pias_rap_action *a, bool negative)
{
	struct pias_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_BINDING;
	m.binding.ta = a->ta;
	m.binding.jap_id = negative ? 0 : a->jap_id;
	m.binding.generation = a->generation;
	m.binding.lifetime_ms = (__u32)(a->lifetime_ns / 1000000);
	m.binding.flags = negative ? PIAS_MSG_BINDING_F_NEGATIVE : 0;
	if (!negative && a->group.count) {
		m.binding.flags |= PIAS_MSG_BINDING_F_SET;
		m.binding.policy = a->group.policy;
		m.binding.n_japs = a->group.count;
		memcpy(m.binding.japs, a->group.japs, a->group.count * sizeof(a->group.japs[0]));
		m.binding.n_scopes = a->group.nscopes;
		memcpy(m.binding.scopes, a->group.scopes, sizeof(m.binding.scopes));
	}
	send_to(d, a->iap_id, &m);
	PIASD_INC(d, bindings_sent);
}

static void rap_apply(struct piasd *d)
{
	struct pias_err e;

	for (size_t i = 0; i < rap_acts.n; i++) {
		const struct pias_rap_action *a = &rap_acts.a[i];

		switch (a->kind) {
		case PIAS_RAP_GROUP_SET:
			map_err(d, pias_group_put(&d->maps, &a->ta, &a->group, &e), &e);
			break;
		case PIAS_RAP_GROUP_DEL:
			map_err(d, pias_group_del(&d->maps, &a->ta, &e), &e);
			break;
		case PIAS_RAP_SEND_BINDING:
			send_binding(d, a, false);
			break;
		case PIAS_RAP_SEND_NEGATIVE:
			send_binding(d, a, true);
			break;
		}
	}
}

static __u64 rtt_of(void *ctx, __u32 iap, __u32 jap)
{
	return piasd_rtt_ns(ctx, iap, jap);
}

/* A JAP's report, alone (REPORT) or one of several (REPORTS). */
static int rap_report(struct piasd *d, __u32 from, const struct pias_msg_report *r, __u64 now,
		      struct pias_err *e)
{
	int err;

	PIASD_INC(d, reports_rcvd);
	err = RUN(rap_acts, pias_rap_report_ex(
				    &d->rap, &r->ta, from,
				    &(struct pias_rap_report_in){ .count = r->count,
								  .seq = r->seq,
								  .share = r->share,
								  .policy = r->policy,
								  .policy_serial = r->policy_serial,
								  .n_scopes = r->n_scopes,
								  .scopes = &r->scopes[0] },
				    rtt_of, d, now, &rap_acts, e));
	if (!err)
		rap_apply(d);
	return err;
}

/* --- IAP ----------------------------------------------------------------- */

static void iap_apply(struct piasd *d)
{
	struct pias_err e;

	for (size_t i = 0; i < iap_acts.n; i++) {
		const struct pias_iap_action *a = &iap_acts.a[i];
		struct pias_msg m;
		int err;

		switch (a->kind) {
		case PIAS_IAP_SEND_QUERY:
			memset(&m, 0, sizeof(m));
			m.hdr.type = PIAS_MSG_QUERY;
			m.query.ta = a->ta;
			send_to(d, a->rap_id, &m);
			PIASD_INC(d, queries_sent);
			break;
		case PIAS_IAP_BINDING_SET:
			err = pias_binding_put(&d->maps, &a->ta, &a->binding, &a->set, &e);
			map_err(d, err, &e);
			if (!err) {
				char ta[PIAS_ADDR_STRLEN + 16];

				PIASD_INC(d, bindings_installed);
				pias_ta_str(&a->ta, ta, sizeof(ta));
				if (a->binding.flags & PIAS_BINDING_F_NEGATIVE)
					LOG_D("binding installed: %s has no group", ta);
				else
					LOG_D("binding installed: %s -> JAP %u, generation %u", ta,
					      a->binding.jap_id, a->binding.generation);
			}
			break;
		case PIAS_IAP_BINDING_DEL:
			err = pias_binding_del(&d->maps, &a->ta, &e);
			if (err != -ENOENT)
				map_err(d, err, &e);
			break;
		}
	}
}

static __u32 rap_of(void *ctx, const struct pias_ta *ta)
{
	__u32 raps[PIAS_RAP_REPLICAS];

	return piasd_raps_of(ctx, ta, raps) > 0 ? raps[0] : 0;
}

int piasd_flush_bindings(struct piasd *d, struct pias_err *e)
{
	int err = RUN(iap_acts, pias_iap_flush(&d->iap, &iap_acts, e));

	if (!err)
		iap_apply(d);
	return err;
}

/* --- inputs ----------------------------------------------------------------- */

static void recv_one(struct piasd *d, const struct pias_msg *m)
{
	__u32 from = m->hdr.sender_id;
	__u64 now = piasd_now();
	struct pias_err e;
	int err = 0;

	switch (m->hdr.type) {
	case PIAS_MSG_REPORT:
		err = rap_report(d, from, &m->report, now, &e);
		break;
	case PIAS_MSG_REPORTS:
		/* each entry as a REPORT of its own; a stale one does not stop the rest */
		for (__u32 i = 0; i < m->reports.n; i++)
			if (rap_report(d, from, &m->reports.r[i], now, &e))
				LOG_D("REPORTS from proxy %u, entry %u: %s", from, i, e.msg);
		break;
	case PIAS_MSG_QUERY:
		err = RUN(rap_acts, pias_rap_query(&d->rap, from, &m->query.ta, rtt_of, d,
						   randombytes_random(), now, &rap_acts, &e));
		if (!err)
			rap_apply(d);
		break;
	case PIAS_MSG_BINDING: {
		__u64 life = (__u64)m->binding.lifetime_ms * 1000000ull;

		if (m->binding.flags & PIAS_MSG_BINDING_F_NEGATIVE)
			err = RUN(iap_acts, pias_iap_negative(&d->iap, from, &m->binding.ta, life,
							      now, &iap_acts, &e));
		else {
			struct pias_group set = { .count = 0 };

			if (m->binding.flags & PIAS_MSG_BINDING_F_SET) {
				set.count = m->binding.n_japs;
				set.policy = m->binding.policy;
				memcpy(set.japs, m->binding.japs, sizeof(set.japs));
				set.nscopes = m->binding.n_scopes;
				memcpy(set.scopes, m->binding.scopes, sizeof(set.scopes));
			}
			err = RUN(iap_acts, pias_iap_binding_set(&d->iap, from, &m->binding.ta,
								 m->binding.jap_id, &set,
								 m->binding.generation, life, now,
								 &iap_acts, &e));
		}
		if (!err)
			iap_apply(d);
		break;
	}
	case PIAS_MSG_INVALIDATE: {
		const struct pias_iap_entry *en = pias_iap_entry(&d->iap, &m->inval.ta);
		/* 0: the JAP does not know the generation; whatever is installed */
		__u32 gen = m->inval.generation ?: (en ? en->b.generation : 0);

		PIASD_INC(d, invalidations_rcvd);
		err = RUN(iap_acts, pias_iap_invalidate(&d->iap, from, &m->inval.ta, gen, now,
							&iap_acts, &e));
		if (!err)
			iap_apply(d);
		break;
	}
	case PIAS_MSG_CONN_QUERY:
		piasd_affinity_query(d, &m->cq, from);
		break;
	case PIAS_MSG_FLOW_PIN:
		piasd_affinity_pin(d, &m->pin, from);
		break;
	default:
		PIASD_INC(d, rx_unexpected);
		return;
	}
	if (err)
		LOG_D("%s from proxy %u: %s", pias_msg_type_name(m->hdr.type), from, e.msg);
}

static void loopback_drain(struct piasd *d)
{
	struct pias_msg *m = loop_scratch;

	/* handling one may queue more (a QUERY answered by a BINDING): all go */
	for (size_t i = 0; i < loopback_n && m; i++) {
		const struct loop_msg *q = &loopback[i];

		m->hdr = q->hdr;
		memcpy(&m->report, &q->body, sizeof(q->body));
		recv_one(d, m);
	}
	loopback_n = 0;
}

void piasd_proto_recv(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from)
{
	(void)from;
	recv_one(d, m);
	loopback_drain(d);
}

int piasd_proto_dp_event(const struct pias_event *ev, void *arg)
{
	struct piasd *d = arg;
	__u64 now = piasd_now();
	struct pias_err e;
	struct pias_msg m;
	int err = 0;

	PIASD_INC(d, dp_events);
	switch (ev->type) {
	case PIAS_EV_MISS:
		/*
		 * Nothing to do: the RAP that got the packet relays it and
		 * sends the binding of the JAP it chose (BOUND below). A query
		 * now would race that answer with a second, possibly different
		 * pick. A lost binding is made good by the next new flow's
		 * packet, which reaches the RAP and binds again; queries are
		 * for refreshing bindings before they expire (tick).
		 */
		break;
	case PIAS_EV_BOUND:
		err = RUN(rap_acts, pias_rap_bound(&d->rap, ev->iap_id, &ev->ta, ev->jap_id, rtt_of,
						   d, now, &rap_acts, &e));
		if (!err)
			rap_apply(d);
		break;
	case PIAS_EV_NO_GROUP:
		err = RUN(rap_acts,
			  pias_rap_no_group(&d->rap, ev->iap_id, &ev->ta, now, &rap_acts, &e));
		if (!err)
			rap_apply(d);
		break;
	case PIAS_EV_INVALIDATE:
		if (!pias_inval_limiter(&d->inval, ev->iap_id, &ev->ta, now)) {
			PIASD_INC(d, invalidations_limited);
			break;
		}
		memset(&m, 0, sizeof(m));
		m.hdr.type = PIAS_MSG_INVALIDATE;
		m.inval.ta = ev->ta;
		send_to(d, ev->iap_id, &m);
		PIASD_INC(d, invalidations_sent);
		break;
	case PIAS_EV_CONN_MISS:
		piasd_affinity_miss(d, ev);
		break;
	default:
		break;
	}
	if (err)
		LOG_D("dataplane event %u: %s", ev->type, e.msg);
	loopback_drain(d);
	return 0;
}

void piasd_proto_proxy_down(struct piasd *d, __u32 id)
{
	__u64 now = piasd_now();
	struct pias_err e;

	if (!RUN(rap_acts, pias_rap_jap_dead(&d->rap, id, now, &rap_acts, &e)))
		rap_apply(d);
	if (!RUN(iap_acts, pias_iap_jap_dead(&d->iap, id, now, &iap_acts, &e)))
		iap_apply(d);
	loopback_drain(d);
}

void piasd_proto_tick(struct piasd *d, __u64 now)
{
	struct pias_err e;

	jap_tick(d, now);
	if (!RUN(rap_acts, pias_rap_tick(&d->rap, now, &rap_acts, &e)))
		rap_apply(d);
	if (!RUN(iap_acts, pias_iap_tick(&d->iap, now, rap_of, d, &iap_acts, &e)))
		iap_apply(d);
	loopback_drain(d);
}

int piasd_proto_init(struct piasd *d, struct pias_err *e)
{
	const struct piasd_config *c = &d->cfg;
	struct pias_jap_config jc = {
		.refresh_timeout_ns = (__u64)c->target_timeout_ms * 1000000ull,
		.drain_timeout_ns = (__u64)c->drain_timeout_s * 1000000000ull,
		.down_expire_ns = PIAS_JAP_DOWN_EXPIRE_NS,
		.report_fraction = c->report_threshold_percent / 100.0,
		.conns = conns_of,
		.conns_ctx = d,
		.shed_threshold = c->shed_threshold_percent / 100.0,
		.shed_hold_ns = (__u64)c->shed_hold_s * 1000000000ull,
		.conn_budget = c->conn_budget,
	};
	struct pias_rap_config rc = {
		.binding_ttl_ns = (__u64)c->binding_ttl_s * 1000000000ull,
		.negative_ttl_ns = PIAS_RAP_NEGATIVE_TTL_NS,
		.report_expiry_ns = PIAS_RAP_REPORT_EXPIRY_NS,
		.bind_interval_ns = PIAS_RAP_BIND_INTERVAL_NS,
		.alpha = c->proximity_percent / 100.0,
		/* each RAP of a large group draws its own samples */
		.seed = (__u64)randombytes_random() << 32 | randombytes_random(),
	};
	int err;

	d->target_seq = calloc(PIAS_MAX_TARGETS, sizeof(*d->target_seq));
	loop_scratch = calloc(1, sizeof(*loop_scratch));
	pack_msg = calloc(1, sizeof(*pack_msg));
	if (!d->target_seq || !loop_scratch || !pack_msg)
		return pias_err_set(e, -ENOMEM, "no memory for the target tables");
	pack_msg->hdr.type = PIAS_MSG_REPORTS;
	err = pias_jap_init(&d->jap, &jc, e);
	if (!err)
		err = pias_rap_init(&d->rap, &rc, e);
	if (!err)
		err = pias_iap_init(&d->iap, NULL, e);
	if (err)
		return err;
	/*
	 * Generations and report seqs start from the clock, so that after a
	 * restart they continue above what IAPs and RAPs saw before.
	 */
	d->rap.next_generation = (__u32)(piasd_realtime() / 1000000);
	d->report_seq = piasd_realtime();
	pias_inval_limiter_init(&d->inval, PIAS_INVAL_INTERVAL_NS);
	piasd_affinity_init(d);
	d->last_rereport_ns = piasd_now();
	d->rereport_done = 0;
	d->rereport_at = -1;
	return 0;
}

void piasd_proto_free(struct piasd *d)
{
	pias_jap_free(&d->jap);
	pias_rap_free(&d->rap);
	pias_iap_free(&d->iap);
	free(d->target_seq);
	free(jap_acts.a);
	free(rap_acts.a);
	free(iap_acts.a);
	free(loopback);
	free(loop_scratch);
	free(pack);
	free(pack_msg);
	pack = NULL;
	pack_msg = NULL;
	pack_n = pack_cap = 0;
	d->target_seq = NULL;
	loopback = NULL;
	loop_scratch = NULL;
	loopback_n = loopback_cap = 0;
}
