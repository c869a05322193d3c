// SPDX-License-Identifier: MIT
/*
 * The node's RAP: JAPs' REPORTs (alone or packed in REPORTS), IAPs' QUERYs and the dataplane's BOUND and
 * NO_GROUP events go to the RAP registry (rap_registry.h); its actions
 * become group writes and BINDINGs to IAPs.
 */
#include <stdlib.h>
#include <string.h>

#include "node_priv.h"

static void send_binding(struct pias_node *n, const struct pias_rap_action *a, bool negative)
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
	node_send(n, a->iap_id, &m);
	NODE_INC(n, bindings_sent);
}

static void rap_apply(struct pias_node *n)
{
	const struct pias_node_io *io = &n->io;
	struct pias_err e;

	for (size_t i = 0; i < n->rap_acts.n; i++) {
		const struct pias_rap_action *a = &n->rap_acts.a[i];

		switch (a->kind) {
		case PIAS_RAP_GROUP_SET:
			if (io->group_put)
				node_write_done(n, io->group_put(io->ctx, &a->ta, &a->group, &e),
						&e);
			break;
		case PIAS_RAP_GROUP_DEL:
			if (io->group_del)
				node_write_done(n, io->group_del(io->ctx, &a->ta, &e), &e);
			break;
		case PIAS_RAP_SEND_BINDING:
			send_binding(n, a, false);
			break;
		case PIAS_RAP_SEND_NEGATIVE:
			send_binding(n, a, true);
			break;
		}
	}
	node_flush(n);
}

/* A call of the registry with the node's action list, applied if it succeeded. */
#define RAP_DO(n, call)                                                                            \
	({                                                                                         \
		int _r = NODE_RUN((n)->rap_acts, call);                                            \
		if (!_r)                                                                           \
			rap_apply(n);                                                              \
		_r;                                                                                \
	})

static __u32 rand_u32(const struct pias_node *n)
{
	return n->io.rand ? n->io.rand(n->io.ctx) : 0;
}

/* A JAP's report, alone (REPORT) or one of several (REPORTS). */
static int rap_report(struct pias_node *n, __u32 from, const struct pias_msg_report *r, __u64 now,
		      struct pias_err *e)
{
	NODE_INC(n, reports_rcvd);
	return RAP_DO(n, pias_rap_report_ex(
				 &n->rap, &r->ta, from,
				 &(struct pias_rap_report_in){ .count = r->count,
							       .seq = r->seq,
							       .share = r->share,
							       .policy = r->policy,
							       .policy_serial = r->policy_serial,
							       .n_scopes = r->n_scopes,
							       .scopes = &r->scopes[0] },
				 node_rtt, n, now, &n->rap_acts, e));
}

/* Each entry as a REPORT of its own: a stale one does not stop the rest. */
static int rap_reports(struct pias_node *n, __u32 from, const struct pias_msg_reports *rs,
		       __u64 now, struct pias_err *e)
{
	struct pias_err one;
	int first = 0;

	for (__u32 i = 0; i < rs->n; i++) {
		int err = rap_report(n, from, &rs->r[i], now, &one);

		if (err && !first) {
			first = err;
			pias_err_set(e, err, "entry %u: %s", i, one.msg);
		}
	}
	return first;
}

int node_rap_recv(struct pias_node *n, const struct pias_msg *m, __u64 now, struct pias_err *e)
{
	__u32 from = m->hdr.sender_id;

	switch (m->hdr.type) {
	case PIAS_MSG_QUERY:
		return RAP_DO(n, pias_rap_query(&n->rap, from, &m->query.ta, node_rtt, n,
						rand_u32(n), now, &n->rap_acts, e));
	case PIAS_MSG_REPORTS:
		return rap_reports(n, from, &m->reports, now, e);
	default:
		return rap_report(n, from, &m->report, now, e);
	}
}

int node_rap_event(struct pias_node *n, const struct pias_event *ev, __u64 now, struct pias_err *e)
{
	if (ev->type == PIAS_EV_BOUND)
		return RAP_DO(n, pias_rap_bound(&n->rap, ev->iap_id, &ev->ta, ev->jap_id, node_rtt,
						n, now, &n->rap_acts, e));
	return RAP_DO(n, pias_rap_no_group(&n->rap, ev->iap_id, &ev->ta, now, &n->rap_acts, e));
}

void node_rap_jap_dead(struct pias_node *n, __u32 id, __u64 now)
{
	struct pias_err e;

	if (RAP_DO(n, pias_rap_jap_dead(&n->rap, id, now, &n->rap_acts, &e)))
		NODE_LOG_W(n, "RAP: JAP %u dead: %s", id, e.msg);
}

void node_rap_tick(struct pias_node *n, __u64 now)
{
	struct pias_err e;

	if (RAP_DO(n, pias_rap_tick(&n->rap, now, &n->rap_acts, &e)))
		NODE_LOG_W(n, "rap tick: %s", e.msg);
}

int pias_node_restore_group(struct pias_node *n, const struct pias_ta *ta,
			    const struct pias_group *g, __u64 now, struct pias_err *e)
{
	return pias_rap_restore(&n->rap, ta, g, now, e);
}

int node_rap_init(struct pias_node *n, struct pias_err *e)
{
	static const struct pias_rap_config zero;
	const struct pias_rap_config *rc = &n->cfg.rap;
	int err = pias_rap_init(&n->rap, memcmp(rc, &zero, sizeof(*rc)) ? rc : NULL, e);

	/*
	 * Generations start from the clock, so that after a restart they
	 * continue above what IAPs saw before.
	 */
	if (!err)
		n->rap.next_generation = (__u32)(n->cfg.seq_base / 1000000);
	return err;
}

void node_rap_free(struct pias_node *n)
{
	pias_rap_free(&n->rap);
	free(n->rap_acts.a);
	n->rap_acts = (struct pias_rap_actions){ 0 };
}
