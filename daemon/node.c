// SPDX-License-Identifier: MIT
/*
 * The node's inputs: messages, dataplane events and ticks handed to the
 * role they are for, and the loopback queue between roles of this proxy
 * (node.h). Each role's glue is in its own file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_priv.h"

#define LOOPBACK_MAX (1u << 20) /* messages to self per input: only a runaway gets there */

const char *const pias_node_counter_names[PIAS_NODE_C_COUNT] = {
#define X(name, help) #name,
	PIAS_NODE_COUNTERS(X)
#undef X
};

const char *const pias_node_counter_help[PIAS_NODE_C_COUNT] = {
#define X(name, help) help,
	PIAS_NODE_COUNTERS(X)
#undef X
};

/*
 * A message to ourselves: the kinds node_send() queues. Its body is the
 * first sizeof(body) bytes of struct pias_msg's union, which starts at the
 * same place for every kind, so one copy each way serves them all (a whole
 * struct pias_msg is 11 KB: a VIEW page). A REPORTS (5 KB) is queued as
 * the REPORTs it holds, which the RAP takes one by one anyway: no entry
 * grows to its size.
 */
struct pias_node_loop_msg {
	struct pias_msg_hdr hdr;
	union {
		struct pias_msg_report report;
		struct pias_msg_query query;
		struct pias_msg_binding binding;
		struct pias_msg_invalidate inval;
	} body;
};

#define LOOP_BODY sizeof(((struct pias_node_loop_msg *)0)->body)

int node_grow(void **a, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? 2 * *cap : 256;
	void *p = realloc(*a, ncap * elem);

	if (!p)
		return -ENOMEM;
	*a = p;
	*cap = ncap;
	return 0;
}

bool node_log_on(const struct pias_node *n, int level)
{
	return n->io.log && level <= n->io.log_level;
}

void node_log(const struct pias_node *n, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!node_log_on(n, level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n->io.log(n->io.ctx, level, line);
}

void node_write_done(struct pias_node *n, int err, const struct pias_err *e)
{
	if (err)
		NODE_LOG_W(n, "map write: %s", e->msg);
}

void node_flush(struct pias_node *n)
{
	struct pias_err e;

	if (n->io.flush)
		node_write_done(n, n->io.flush(n->io.ctx, &e), &e);
}

static bool loopback_kind(__u8 type)
{
	return type == PIAS_MSG_REPORT || type == PIAS_MSG_REPORTS || type == PIAS_MSG_QUERY ||
	       type == PIAS_MSG_BINDING || type == PIAS_MSG_INVALIDATE;
}

/* One message to self: header hdr, body the len bytes at body (at most the queue's body). */
static void loop_push(struct pias_node *n, const struct pias_msg_hdr *hdr, const void *body,
		      size_t len)
{
	struct pias_node_loop_msg *q;

	if (n->loop_n == n->loop_cap &&
	    (n->loop_cap >= LOOPBACK_MAX ||
	     node_grow((void **)&n->loop, &n->loop_cap, sizeof(*n->loop)))) {
		NODE_INC(n, loopback_dropped);
		NODE_LOG_W(n, "loopback queue full: %s to self dropped",
			   pias_msg_type_name(hdr->type));
		return;
	}
	q = &n->loop[n->loop_n++];
	q->hdr = *hdr;
	memcpy(&q->body, body, len);
	NODE_INC(n, loopback_msgs);
}

void node_send(struct pias_node *n, __u32 to, struct pias_msg *m)
{
	struct pias_msg_hdr one;

	m->hdr.sender_id = n->cfg.id;
	if (to != n->cfg.id) {
		if (n->io.send)
			n->io.send(n->io.ctx, to, m);
		return;
	}
	if (!loopback_kind(m->hdr.type)) {
		/* no other kind goes to self: a bug */
		NODE_LOG_W(n, "%s to self dropped: not a loopback kind",
			   pias_msg_type_name(m->hdr.type));
		return;
	}
	if (m->hdr.type != PIAS_MSG_REPORTS) {
		loop_push(n, &m->hdr, &m->report, LOOP_BODY);
		return;
	}
	one = m->hdr;
	one.type = PIAS_MSG_REPORT;
	for (__u32 i = 0; i < m->reports.n; i++)
		loop_push(n, &one, &m->reports.r[i], sizeof(m->reports.r[i]));
}

/* A REPORT(S), QUERY, BINDING or INVALIDATE from proxy m->hdr.sender_id. */
static int recv_role(struct pias_node *n, const struct pias_msg *m, __u64 now, struct pias_err *e)
{
	switch (m->hdr.type) {
	case PIAS_MSG_REPORT:
	case PIAS_MSG_REPORTS:
	case PIAS_MSG_QUERY:
		return node_rap_recv(n, m, now, e);
	case PIAS_MSG_BINDING:
	case PIAS_MSG_INVALIDATE:
		return node_iap_recv(n, m, now, e);
	default:
		return pias_err_set(e, -EPROTO, "%s is not for the node",
				    pias_msg_type_name(m->hdr.type));
	}
}

/* Every message to self the input queued; handling one may queue more (a QUERY, its BINDING). */
static void loopback_drain(struct pias_node *n, __u64 now)
{
	struct pias_msg *m = n->loop_msg;
	struct pias_err e;

	for (size_t i = 0; i < n->loop_n; i++) {
		const struct pias_node_loop_msg *q = &n->loop[i];

		m->hdr = q->hdr;
		memcpy(&m->report, &q->body, sizeof(q->body));
		if (recv_role(n, m, now, &e))
			NODE_LOG_D(n, "%s from self: %s", pias_msg_type_name(m->hdr.type), e.msg);
	}
	n->loop_n = 0;
}

int pias_node_recv(struct pias_node *n, const struct pias_msg *m, const struct pias_peer *from,
		   __u64 now, struct pias_err *e)
{
	int err;

	switch (m->hdr.type) {
	case PIAS_MSG_PING:
	case PIAS_MSG_ACK:
	case PIAS_MSG_PING_REQ:
	case PIAS_MSG_VIEW_REQ:
	case PIAS_MSG_VIEW:
		err = node_members_recv(n, m, from, now, e);
		break;
	default:
		err = recv_role(n, m, now, e);
	}
	loopback_drain(n, now);
	return err;
}

int pias_node_dp_event(struct pias_node *n, const struct pias_event *ev, __u64 now,
		       struct pias_err *e)
{
	int err = 0;

	switch (ev->type) {
	case PIAS_EV_MISS:
		/*
		 * Nothing to do: the RAP that got the packet relays it and
		 * sends the binding of the JAP it chose (BOUND). A query now
		 * would race that answer with a second, possibly different
		 * pick. A lost binding is made good by the next new flow's
		 * packet, which reaches the RAP and binds again; queries are
		 * for refreshing bindings before they expire (tick).
		 */
		break;
	case PIAS_EV_BOUND:
	case PIAS_EV_NO_GROUP:
		err = node_rap_event(n, ev, now, e);
		break;
	case PIAS_EV_INVALIDATE:
		node_inval_event(n, ev, now);
		break;
	default:
		return pias_err_set(e, -EPROTO, "dataplane event %u is not for the node", ev->type);
	}
	loopback_drain(n, now);
	return err;
}

void pias_node_tick(struct pias_node *n, __u64 now)
{
	node_ring_tick(n, now);
	node_jap_tick(n, now);
	node_rap_tick(n, now);
	node_iap_tick(n, now);
	loopback_drain(n, now);
}

/* An input of one role that may queue messages to self: then drain them. */
static int drained(struct pias_node *n, int err, __u64 now)
{
	loopback_drain(n, now);
	return err;
}

int pias_node_register(struct pias_node *n, const struct pias_ta *ta,
		       const struct pias_jap_endpoint *ep, __u32 weight, __u64 now,
		       struct pias_err *e)
{
	return drained(n, node_jap_register(n, ta, ep, weight, now, e), now);
}

int pias_node_target_leave(struct pias_node *n, const struct pias_ta *ta, __u32 id, bool down,
			   __u64 now, struct pias_err *e)
{
	return drained(n, node_jap_leave(n, ta, id, down, now, e), now);
}

int pias_node_dial(struct pias_node *n, const struct pias_ta *ta, __u32 permille, __u64 now,
		   struct pias_err *e)
{
	return drained(n, node_jap_dial(n, ta, permille, now, e), now);
}

int pias_node_drain(struct pias_node *n, const struct pias_ta *ta,
		    const struct pias_jap_endpoint *ep, __u64 now, struct pias_err *e)
{
	return drained(n, node_jap_drain(n, ta, ep, now, e), now);
}

int pias_node_undrain(struct pias_node *n, const struct pias_ta *ta,
		      const struct pias_jap_endpoint *ep, __u64 now, struct pias_err *e)
{
	return drained(n, node_jap_undrain(n, ta, ep, now, e), now);
}

int pias_node_eject(struct pias_node *n, const struct pias_ta *ta, __u32 id, bool out, __u64 now,
		    struct pias_err *e)
{
	return drained(n, node_jap_eject(n, ta, id, out, now, e), now);
}

int pias_node_init(struct pias_node *n, const struct pias_node_config *cfg,
		   const struct pias_node_io *io, const struct pias_peer *seeds, size_t nseeds,
		   __u64 now, struct pias_err *e)
{
	int err;

	memset(n, 0, sizeof(*n));
	n->cfg = *cfg;
	n->io = *io;
	if (!cfg->id || cfg->id >= PIAS_MAX_PROXIES)
		return pias_err_set(e, -EINVAL, "node id %u: not 1..%u", cfg->id,
				    PIAS_MAX_PROXIES - 1);
	if (!cfg->rap_k || cfg->rap_k > PIAS_RAP_REPLICAS)
		return pias_err_set(e, -EINVAL, "rap_k %u: not 1..%u", cfg->rap_k,
				    PIAS_RAP_REPLICAS);
	if (!n->cfg.join_wait_ns)
		n->cfg.join_wait_ns = PIAS_NODE_JOIN_WAIT_NS;
	if (!n->cfg.report_period_ns)
		n->cfg.report_period_ns = PIAS_RAP_REPORT_PERIOD_NS;
	n->started_ns = now;
	n->loop_msg = calloc(1, sizeof(*n->loop_msg));
	if (!n->loop_msg)
		return pias_err_set(e, -ENOMEM, "no memory for the loopback queue");
	err = node_jap_init(n, e);
	if (!err)
		err = node_rap_init(n, e);
	if (!err)
		err = node_iap_init(n, e);
	if (!err)
		err = node_ring_init(n, seeds, nseeds, now, e);
	return err;
}

void pias_node_free(struct pias_node *n)
{
	node_ring_free(n);
	node_jap_free(n);
	node_rap_free(n);
	node_iap_free(n);
	free(n->loop);
	free(n->loop_msg);
	n->loop = NULL;
	n->loop_msg = NULL;
	n->loop_n = n->loop_cap = 0;
}
