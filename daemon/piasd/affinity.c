// SPDX-License-Identifier: MIT
/*
 * Connection affinity across IAPs (docs/design.md, "Choosing a target").
 * Routing moved a client to an IAP whose binding names another JAP than
 * the one holding its connections; that JAP drops the connections'
 * segments and says so (CONN_MISS). Then:
 *
 *   new JAP --CONN_QUERY--> the group's RAP --CONN_QUERY (forwarded)-->
 *   the group's other JAPs; the one holding the connection --FLOW_PIN-->
 *   the client's new IAP, which writes the flows into its flow table.
 *
 * The one that answers pins every live flow of that client it holds, of
 * any group, not only the one asked about: the client's other connections
 * need not ask, and its UDP flows, which have no SYN to tell a moved flow
 * from a new one, follow too. Queries cost one per moved client (the dataplane sends
 * one CONN_MISS per client and interval), none for flows that stay.
 *
 * A role that is this proxy itself is called directly, not through the
 * loopback queue: none of this re-enters a state machine.
 */
#include <string.h>

#include <bpf/bpf.h>

#include "piasd.h"

/* Scans of the connection table for a client's flows: each reads it all. */
#define SCANS_PER_S	5
#define SCANS_BURST	10
#define PINS_PER_CLIENT 256 /* a client's flows pinned per query at most */

void piasd_affinity_init(struct piasd *d)
{
	unsigned int q = d->cfg.affinity_queries_per_s ?: 1;

	pias_rate_init(&d->affinity_queries, q, q);
	pias_rate_init(&d->affinity_scans, SCANS_PER_S, SCANS_BURST);
}

/* The client's flow of ta as the dataplane keys it. */
static struct pias_flow client_flow(const struct pias_ta *ta, const union pias_addr *client,
				    __u16 port)
{
	struct pias_flow f;

	memset(&f, 0, sizeof(f));
	f.saddr = *client;
	f.daddr = ta->addr;
	f.sport = port;
	f.dport = ta->port;
	f.proto = ta->proto;
	f.family = ta->family;
	return f;
}

/* IAP: the sender, a JAP, holds these flows; they go to it from now on. */
void piasd_affinity_pin(struct piasd *d, const struct pias_msg_flow_pin *p, __u32 from)
{
	struct pias_err e;

	for (__u32 i = 0; i < p->n; i++) {
		struct pias_flow f =
			client_flow(&p->ta, &p->flows[i].client, p->flows[i].client_port);

		if (pias_flow_pin(&d->maps, &f, from, p->flows[i].ct, &e)) {
			PIASD_INC(d, map_errors);
			LOG_W("flow pinned by JAP %u not written: %s", from, e.msg);
			return;
		}
		PIASD_INC(d, affinity_flows_installed);
	}
}

static void send_pin(struct piasd *d, __u32 iap, struct pias_msg *m)
{
	m->hdr.type = PIAS_MSG_FLOW_PIN;
	if (iap == d->cfg.node_id)
		piasd_affinity_pin(d, &m->pin, iap);
	else
		piasd_send_proxy(d, iap, m);
	d->counters[PIASD_C_affinity_flows_pinned] += m->pin.n;
}

/* Sends the flows keys[i] of TA ta (sent[i] still false) to iap, in FLOW_PINs. */
static void pin_ta(struct piasd *d, __u32 iap, const struct pias_ta *ta,
		   const struct pias_flow *keys, const __u8 *cts, bool *sent, int n)
{
	struct pias_msg m;

	memset(&m, 0, sizeof(m));
	m.pin.ta = *ta;
	for (int i = 0; i < n; i++) {
		struct pias_ta ti = pias_flow_ta(&keys[i]);

		if (sent[i] || memcmp(&ti, ta, sizeof(ti)))
			continue;
		sent[i] = true;
		m.pin.flows[m.pin.n].client = keys[i].saddr;
		m.pin.flows[m.pin.n].client_port = keys[i].sport;
		m.pin.flows[m.pin.n++].ct = cts[i];
		if (m.pin.n == PIAS_MSG_PIN_MAX) {
			send_pin(d, iap, &m);
			m.pin.n = 0;
		}
	}
	if (m.pin.n)
		send_pin(d, iap, &m);
}

/*
 * JAP: does a connection of the queried flow live here? Then every live
 * flow of that client goes to the IAP it now enters at, whatever its TA:
 * routing moved the client, not one connection, and its UDP flows (a
 * QUIC-like stream beside a TCP download) have no segment that could ask.
 */
static void answer(struct piasd *d, const struct pias_msg_conn_query *q)
{
	static struct pias_flow keys[PINS_PER_CLIENT];
	static __u8 cts[PINS_PER_CLIENT];
	static bool sent[PINS_PER_CLIENT];
	struct pias_flow asked = client_flow(&q->ta, &q->client, q->client_port);
	__u64 now = piasd_now();
	struct pias_conn c;
	int n = 0;

	if (bpf_map_lookup_elem(d->maps.fd[PIAS_M_CONNS], &asked, &c) ||
	    !piasd_conn_live(d, &asked, &c, now))
		return;
	PIASD_INC(d, affinity_queries_held);
	if (pias_rate_take(&d->affinity_scans, now, NULL))
		n = piasd_conns_of_client(d, &q->client, q->ta.family, keys, cts, PINS_PER_CLIENT,
					  now);
	else
		PIASD_INC(d, affinity_scans_limited);
	if (n <= 0) {
		/* the scan failed or was not allowed: the flow asked about */
		keys[0] = asked;
		cts[0] = c.ct;
		n = 1;
	}
	memset(sent, 0, sizeof(sent));
	for (int i = 0; i < n; i++)
		if (!sent[i]) {
			struct pias_ta ta = pias_flow_ta(&keys[i]);

			pin_ta(d, q->iap_id, &ta, keys, cts, sent, n);
		}
	LOG_D("affinity: %d flows of a client pinned at IAP %u (asked by JAP %u)", n, q->iap_id,
	      q->asker_id);
}

/*
 * RAP: a JAP missed; ask every other JAP that reports targets of the
 * group. JAP: answer a query the RAP sent on.
 */
void piasd_affinity_query(struct piasd *d, const struct pias_msg_conn_query *q, __u32 from)
{
	const struct pias_rap_group *g;
	struct pias_msg m;

	if (q->flags & PIAS_MSG_CQ_F_FORWARDED) {
		answer(d, q);
		return;
	}
	/* a JAP asks for itself only: nobody makes us spray queries in its name */
	if (from != q->asker_id)
		return;
	g = pias_rap_group(&d->node.rap, &q->ta);
	if (!g)
		return;
	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_CONN_QUERY;
	m.cq = *q;
	m.cq.flags |= PIAS_MSG_CQ_F_FORWARDED;
	for (__u32 i = 0; i < g->nreports; i++) {
		__u32 jap = g->reports[i].jap_id;

		if (!g->reports[i].count || jap == q->asker_id)
			continue;
		PIASD_INC(d, affinity_queries_fwd);
		if (jap == d->cfg.node_id)
			answer(d, &m.cq);
		else
			piasd_send_proxy(d, jap, &m);
	}
}

/* JAP: the dataplane dropped a segment of a connection it does not hold. */
void piasd_affinity_miss(struct piasd *d, const struct pias_event *ev)
{
	__u32 raps[PIAS_RAP_REPLICAS];
	struct pias_msg m;

	if (!d->cfg.affinity || !ev->client_port)
		return;
	if (pias_node_raps_of(&d->node, &ev->ta, raps) < 1)
		return;
	if (!pias_rate_take(&d->affinity_queries, piasd_now(), NULL)) {
		PIASD_INC(d, affinity_queries_limited);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_CONN_QUERY;
	m.cq.ta = ev->ta;
	m.cq.client = ev->client;
	m.cq.client_port = ev->client_port;
	m.cq.iap_id = ev->iap_id;
	m.cq.asker_id = d->cfg.node_id;
	PIASD_INC(d, affinity_queries_sent);
	if (raps[0] == d->cfg.node_id)
		piasd_affinity_query(d, &m.cq, d->cfg.node_id);
	else
		piasd_send_proxy(d, raps[0], &m);
}
