// SPDX-License-Identifier: MIT
/*
 * The node's JAP: targets' registrations (admitted by the owner), the
 * operator's dials and drains, outlier ejections and the liveness tick go
 * to the JAP registry (jap.h); its actions become target and target-set
 * writes and REPORTs to the group's RAPs, packed per RAP in REPORTS, and
 * the periodic re-report of every group, spread over its period. Also the JAP's side of
 * invalidation: the dataplane's INVALIDATE events, rate-limited per (IAP,
 * TA), become INVALIDATE messages.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node_priv.h"

/*
 * Reports wait in the node's pack and go out per RAP, as many as fit in a
 * REPORTS (one alone goes as a REPORT), when the pack is flushed: at the
 * end of every action list applied (so a report a change causes still goes
 * at once, and the changes of one input go together), after each slice of
 * the periodic re-report and after a ring change's, and whenever
 * PACK_FLUSH wait. The one path for every report, to this node's own RAP
 * too (node_send queues a REPORTS to self as its REPORTs).
 */
#define PACK_FLUSH 4096

struct pias_node_pending_report {
	__u32 rap;
	__u32 order; /* keeps a RAP's reports in the order they were made (their seqs) */
	struct pias_msg_report r;
};

static int pending_cmp(const void *a, const void *b)
{
	const struct pias_node_pending_report *x = a, *y = b;

	if (x->rap != y->rap)
		return x->rap < y->rap ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The REPORTS being filled to rap, sent (as a REPORT if it holds one), and emptied. */
static void pack_send(struct pias_node *n, __u32 rap)
{
	struct pias_msg *m = n->pack_msg;

	if (!m->reports.n)
		return;
	if (m->reports.n == 1) {
		struct pias_msg_report r = m->reports.r[0];

		m->hdr.type = PIAS_MSG_REPORT;
		m->report = r;
	}
	node_send(n, rap, m);
	NODE_INC(n, report_msgs_sent);
	memset(&m->hdr, 0, sizeof(m->hdr));
	m->hdr.type = PIAS_MSG_REPORTS;
	m->reports.n = 0;
}

static void pack_flush(struct pias_node *n)
{
	struct pias_node_pending_report *p = n->pack;

	if (!n->pack_n)
		return;
	qsort(p, n->pack_n, sizeof(*p), pending_cmp);
	for (size_t i = 0; i < n->pack_n; i++) {
		if (i && p[i].rap != p[i - 1].rap)
			pack_send(n, p[i - 1].rap);
		if (!pias_msg_reports_add(&n->pack_msg->reports, &p[i].r)) {
			pack_send(n, p[i].rap);
			pias_msg_reports_add(&n->pack_msg->reports, &p[i].r);
		}
	}
	pack_send(n, p[n->pack_n - 1].rap);
	n->pack_n = 0;
}

static void send_report(struct pias_node *n, const struct pias_ta *ta,
			const struct pias_jap_report *r)
{
	__u32 raps[PIAS_RAP_REPLICAS];
	int k = pias_node_raps_of(n, ta, raps);
	struct pias_msg_report rep = {
		.ta = *ta,
		.count = r->count,
		.seq = ++n->report_seq,
		.share = r->share,
		.policy = r->policy,
		.policy_serial = r->policy_serial,
		.n_scopes = r->n_scopes,
	};

	memcpy(rep.scopes, r->scopes, sizeof(rep.scopes));
	for (int i = 0; i < k; i++) {
		NODE_INC(n, reports_sent);
		if (n->pack_n == n->pack_cap &&
		    node_grow((void **)&n->pack, &n->pack_cap, sizeof(*n->pack))) {
			NODE_LOG_W(n, "no memory for a report to proxy %u: sent alone", raps[i]);
			n->pack_msg->reports.n = 1;
			n->pack_msg->reports.r[0] = rep;
			pack_send(n, raps[i]);
			continue;
		}
		n->pack[n->pack_n] = (struct pias_node_pending_report){ .rap = raps[i],
									.order = (__u32)n->pack_n,
									.r = rep };
		if (++n->pack_n >= PACK_FLUSH)
			pack_flush(n);
	}
}

/* No target set for ta: every target of the group is down, or the group went. */
static void tgtset_del(struct pias_node *n, const struct pias_ta *ta)
{
	struct pias_err e;

	if (n->io.tgtset_del)
		node_write_done(n, n->io.tgtset_del(n->io.ctx, ta, &e), &e);
}

/*
 * The pass an action belongs to. The registry lists a group's actions in
 * the order the maps need them (targets written, the set, targets
 * deleted, the report); the node keeps that order across groups too, so
 * that the writes of one kind come in a row and an owner can batch them.
 * Each target and each set appears once in a list, so no write of one is
 * moved past another of it.
 */
static int jap_pass(const struct pias_jap_action *a)
{
	switch (a->kind) {
	case PIAS_JAP_TARGET_SET:
		return 0;
	case PIAS_JAP_SET_SET:
	case PIAS_JAP_SET_DEL:
		return 1;
	case PIAS_JAP_TARGET_DEL:
		return 2;
	case PIAS_JAP_REPORT:
		break;
	}
	return 3;
}

/* Room for a set of count targets in the node's scratch; -ENOMEM. */
static int set_room(struct pias_node *n, size_t count)
{
	while (n->set_cap < count) {
		size_t cap = n->set_cap;
		__u32 *w;

		if (node_grow((void **)&n->set_ids, &cap, sizeof(*n->set_ids)))
			return -ENOMEM;
		w = realloc(n->set_weights, cap * sizeof(*w));
		if (!w)
			return -ENOMEM;
		n->set_weights = w;
		n->set_cap = cap;
	}
	return 0;
}

/*
 * SET_SET: the set as the registry holds it now, whole, in one write. The
 * registry keeps only the set of a group's last SET_SET; a list is applied
 * right after its call, so the set read is the action's (-ESTALE, a later
 * SET_SET of the same list, or -ENOENT, the group gone, would leave the
 * write to the action that follows: skipped, not an error).
 */
static void tgtset_put(struct pias_node *n, const struct pias_jap_action *a)
{
	const struct pias_node_io *io = &n->io;
	struct pias_err e;
	long got;

	if (!io->tgtset_put)
		return;
	if (set_room(n, a->set.count)) {
		node_write_done(n,
				pias_err_set(&e, -ENOMEM, "no memory for the set of %u targets",
					     a->set.count),
				&e);
		return;
	}
	got = pias_jap_set_read(&n->jap, a, n->set_ids, n->set_weights, n->set_cap);
	if (got == -ESTALE || got == -ENOENT)
		return;
	if (got < 0) {
		node_write_done(n, pias_err_set(&e, (int)got, "target set: cannot read it"), &e);
		return;
	}
	node_write_done(n,
			io->tgtset_put(io->ctx, &a->ta, n->set_ids, n->set_weights, (size_t)got,
				       &a->set.policy, &e),
			&e);
}

static void jap_apply_one(struct pias_node *n, const struct pias_jap_action *a)
{
	const struct pias_node_io *io = &n->io;
	struct pias_err e;

	switch (a->kind) {
	case PIAS_JAP_TARGET_SET:
		if (io->target_put)
			node_write_done(n, io->target_put(io->ctx, a->id, &a->target, &e), &e);
		if (a->target.state == PIAS_TARGET_DOWN)
			NODE_LOG_I(n, "target %u is down: no refresh or reply for %llu ms", a->id,
				   (unsigned long long)(n->jap.cfg.refresh_timeout_ns / 1000000));
		break;
	case PIAS_JAP_TARGET_DEL:
		if (io->target_del)
			node_write_done(n, io->target_del(io->ctx, a->id, &e), &e);
		break;
	case PIAS_JAP_SET_SET:
		/* every target down: no set, which the dataplane treats alike */
		if (!a->set.count)
			tgtset_del(n, &a->ta);
		else
			tgtset_put(n, a);
		break;
	case PIAS_JAP_SET_DEL:
		tgtset_del(n, &a->ta);
		break;
	case PIAS_JAP_REPORT:
		send_report(n, &a->ta, &a->report);
		break;
	}
}

static void jap_apply(struct pias_node *n)
{
	for (int pass = 0; pass < 4; pass++)
		for (size_t i = 0; i < n->jap_acts.n; i++)
			if (jap_pass(&n->jap_acts.a[i]) == pass)
				jap_apply_one(n, &n->jap_acts.a[i]);
	/* the writes made, then the reports that follow them go out packed */
	node_flush(n);
	pack_flush(n);
}

/* A call of the registry with the node's action list, applied if it succeeded. */
#define JAP_DO(n, call)                                                                            \
	({                                                                                         \
		int _r = NODE_RUN((n)->jap_acts, call);                                            \
		if (_r >= 0)                                                                       \
			jap_apply(n);                                                              \
		_r;                                                                                \
	})

/*
 * What group g says to its RAPs now, said again: the one re-report path,
 * for the groups a ring change moved and for the periodic refresh. It goes
 * in the pack with the others; the caller flushes it.
 */
static void report_group(struct pias_node *n, const struct pias_jap_group *g)
{
	struct pias_jap_report r = pias_jap_group_report(g);

	r.count = g->up; /* ACTIVE targets, as they are now */
	send_report(n, &g->ta, &r);
}

/* A new period of the periodic re-report begins at now: the walk starts again. */
static void rereport_restart(struct pias_node *n, __u64 now)
{
	n->last_rereport_ns = now;
	n->rereport_done = 0;
	n->rereport_at = -1;
}

void node_rereport(struct pias_node *n, __u64 now, const struct pias_slot_set *moved)
{
	pias_jap_each_group(&n->jap, g)
	{
		if (pias_ring_ta_moved(moved, &g->ta))
			report_group(n, g);
	}
	pack_flush(n);
	/* a partial re-report refreshes only some groups: the others' period runs on */
	if (!moved)
		rereport_restart(n, now);
}

/*
 * Every group is reported again once each report period, spread over the
 * period: a walk goes through the groups (pias_jap_group_after, in an
 * order each group keeps while it is held), as far as the time into the
 * period says, so that many groups make a steady trickle of REPORTS
 * (packed per RAP), not a burst every period. A slice waits until it holds
 * PIAS_MSG_REPORTS_MAX groups (or the period ends), so that a RAP of them
 * all gets full REPORTS from a JAP of a few groups too. The period's end
 * takes the rest of the walk: each group held through a period is reported
 * once in it (one added behind the walk reported itself when it came).
 */
static void rereport_due(struct pias_node *n, __u64 now)
{
	__u64 period = n->cfg.report_period_ns, into = now - n->last_rereport_ns;
	bool end = into >= period;
	size_t upto = end ? SIZE_MAX
			  : (size_t)((unsigned __int128)pias_jap_ngroups(&n->jap) * into / period);
	const struct pias_jap_group *g;

	if (!end && upto < n->rereport_done + PIAS_MSG_REPORTS_MAX)
		return;
	for (g = pias_jap_group_after(&n->jap, n->rereport_at); g && n->rereport_done < upto;
	     g = pias_jap_next_group(&n->jap, g)) {
		report_group(n, g);
		n->rereport_at = pias_jap_group_place(&n->jap, g);
		n->rereport_done++;
	}
	pack_flush(n);
	if (end)
		rereport_restart(n, now);
}

int node_jap_register(struct pias_node *n, const struct pias_ta *ta,
		      const struct pias_jap_endpoint *ep, __u32 weight, __u64 now,
		      struct pias_err *e)
{
	return JAP_DO(n, pias_jap_register(&n->jap, ta, ep, weight, now, &n->jap_acts, e));
}

int node_jap_leave(struct pias_node *n, const struct pias_ta *ta, __u32 id, bool down, __u64 now,
		   struct pias_err *e)
{
	/* down: its health check fails; its flows move as from a dead one */
	return down ? JAP_DO(n, pias_jap_fail(&n->jap, ta, id, now, &n->jap_acts, e))
		    : JAP_DO(n, pias_jap_leave(&n->jap, ta, id, now, &n->jap_acts, e));
}

int node_jap_dial(struct pias_node *n, const struct pias_ta *ta, __u32 permille, __u64 now,
		  struct pias_err *e)
{
	return JAP_DO(n, pias_jap_dial(&n->jap, ta, permille, now, &n->jap_acts, e));
}

int node_jap_drain(struct pias_node *n, const struct pias_ta *ta,
		   const struct pias_jap_endpoint *ep, __u64 now, struct pias_err *e)
{
	int id = pias_jap_find(&n->jap, ta, ep);

	if (id < 0)
		return pias_err_set(e, -ENOENT, "no such target in that group here");
	return JAP_DO(n, pias_jap_drain(&n->jap, ta, (__u32)id, now, &n->jap_acts, e));
}

int node_jap_undrain(struct pias_node *n, const struct pias_ta *ta,
		     const struct pias_jap_endpoint *ep, __u64 now, struct pias_err *e)
{
	return JAP_DO(n, pias_jap_undrain(&n->jap, ta, ep, now, &n->jap_acts, e));
}

int node_jap_eject(struct pias_node *n, const struct pias_ta *ta, __u32 id, bool out, __u64 now,
		   struct pias_err *e)
{
	return JAP_DO(n, pias_jap_eject(&n->jap, ta, id, out, now, &n->jap_acts, e));
}

void pias_node_jap_hold(struct pias_node *n, __u64 now)
{
	pias_jap_hold(&n->jap, now);
}

/*
 * The dataplane's last reply from target id: pias_jap_tick asks it only
 * about a target whose deadline is due and whose refreshes are late (it
 * may be alive and answering while its agent is not), once, so the owner
 * reads its dataplane for those only, not for every target every tick.
 */
static __u64 last_reply_of(void *ctx, __u32 id)
{
	const struct pias_node *n = ctx;

	return n->io.last_reply ? n->io.last_reply(n->io.ctx, id) : 0;
}

static long conns_of(void *ctx, __u32 id, __u64 since)
{
	const struct pias_node *n = ctx;

	return n->io.conns(n->io.ctx, id, since);
}

void node_jap_tick(struct pias_node *n, __u64 now)
{
	struct pias_err e;

	if (JAP_DO(n, pias_jap_tick(&n->jap, now, last_reply_of, n, &n->jap_acts, &e)))
		NODE_LOG_W(n, "jap tick: %s", e.msg);
	rereport_due(n, now);
}

void node_inval_event(struct pias_node *n, const struct pias_event *ev, __u64 now)
{
	struct pias_msg m;

	if (!pias_inval_limiter(&n->inval, ev->iap_id, &ev->ta, now)) {
		NODE_INC(n, invalidations_limited);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_INVALIDATE;
	m.inval.ta = ev->ta;
	node_send(n, ev->iap_id, &m);
	NODE_INC(n, invalidations_sent);
}

int pias_node_restore_target(struct pias_node *n, const struct pias_ta *ta, __u32 id,
			     const struct pias_target *t, const struct pias_policy *policy,
			     __u64 now, struct pias_err *e)
{
	return pias_jap_restore(&n->jap, ta, id, t, policy, now, e);
}

int node_jap_init(struct pias_node *n, struct pias_err *e)
{
	static const struct pias_jap_config zero;
	const struct pias_jap_config *jc = &n->cfg.jap;
	int err = pias_jap_init(&n->jap, memcmp(jc, &zero, sizeof(*jc)) ? jc : NULL, e);

	if (err)
		return err;
	/* a draining target goes once the dataplane's sweep finds its connections ended */
	n->jap.cfg.conns = n->io.conns ? conns_of : NULL;
	n->jap.cfg.conns_ctx = n;
	/* report seqs start from the clock: after a restart they go on above the old ones */
	n->report_seq = n->cfg.seq_base;
	pias_inval_limiter_init(&n->inval, n->cfg.inval_interval_ns);
	rereport_restart(n, n->started_ns);
	n->pack_msg = calloc(1, sizeof(*n->pack_msg));
	if (!n->pack_msg)
		return pias_err_set(e, -ENOMEM, "no memory for the reports' pack");
	n->pack_msg->hdr.type = PIAS_MSG_REPORTS;
	return 0;
}

void node_jap_free(struct pias_node *n)
{
	pias_jap_free(&n->jap);
	free(n->jap_acts.a);
	n->jap_acts = (struct pias_jap_actions){ 0 };
	free(n->pack);
	free(n->pack_msg);
	n->pack = NULL;
	n->pack_msg = NULL;
	n->pack_n = n->pack_cap = 0;
	free(n->set_ids);
	free(n->set_weights);
	n->set_ids = n->set_weights = NULL;
	n->set_cap = 0;
}
