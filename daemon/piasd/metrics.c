// SPDX-License-Identifier: MIT
/*
 * Prometheus metrics: GET /metrics on [metrics] listen (off by default),
 * served by libevent's evhttp in piasd's own loop, in the text exposition
 * format (version 0.0.4). Every value is read when scraped: piasd's
 * counters, the dataplane's counters and drops summed over CPUs, each
 * group's and target's packets and bytes, membership, bindings, and NAT
 * port use. Names: docs/metrics.md.
 *
 * A scrape is a read of state piasd already keeps; nothing here changes it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "counters.h"
#include "piasd.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static void family(struct evbuffer *o, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counters(struct piasd *d, struct evbuffer *o)
{
	char name[96];

	for (int i = 0; i < PIASD_COUNTERS_ALL; i++) {
		const char *n, *help;
		__u64 v = piasd_counter(d, i, &n, &help);

		snprintf(name, sizeof(name), "pias_piasd_%s_total", n);
		family(o, name, "counter", help);
		evbuffer_add_printf(o, "%s %llu\n", name, (unsigned long long)v);
	}
}

static void dataplane(struct piasd *d, struct evbuffer *o)
{
	struct pias_stats st;
	struct pias_drops dr;
	struct pias_err e;
	char name[96];

	if (pias_stats_read(&d->maps, &st, &dr, &e)) {
		PIASD_INC(d, map_errors);
		return;
	}
	for (int i = 0; i < PIAS_STAT_MAX; i++) {
		snprintf(name, sizeof(name), "pias_dataplane_%s_total", pias_stat_info[i].name);
		family(o, name, "counter", pias_stat_info[i].desc);
		evbuffer_add_printf(o, "%s %llu\n", name,
				    (unsigned long long)((const __u64 *)&st)[i]);
	}
	family(o, "pias_dataplane_drops_total", "counter",
	       "packets the dataplane dropped, by reason (docs/design.md)");
	for (int i = 0; i < PIAS_DROP_MAX; i++)
		evbuffer_add_printf(o, "pias_dataplane_drops_total{reason=\"%s\"} %llu\n",
				    pias_drop_info[i].name,
				    (unsigned long long)((const __u64 *)&dr)[i]);
}

/* ---- groups: packets and bytes per role ---------------------------------- */

struct group_row {
	char ta[PIAS_ADDR_STRLEN + 16];
	struct pias_group_stats s;
};

struct group_rows {
	struct group_row *r;
	size_t n, cap;
};

static int group_add(const struct pias_ta *ta, const struct pias_group_stats *s, void *arg)
{
	struct group_rows *g = arg;

	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		struct group_row *r = realloc(g->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		g->r = r;
		g->cap = cap;
	}
	pias_ta_str(ta, g->r[g->n].ta, sizeof(g->r[g->n].ta));
	g->r[g->n++].s = *s;
	return 0;
}

/* One family of the groups' counts: packets, or bytes, per role. */
static void group_family(struct evbuffer *o, const struct group_rows *g, const char *name,
			 bool bytes)
{
	static const char *const roles[PIAS_ROLES] = { "iap", "rap", "jap", "reverse" };

	family(o, name, "counter",
	       bytes ? "bytes of a group through this proxy, by role (reverse: replies to clients)"
		     : "packets of a group through this proxy, by role (reverse: replies to "
		       "clients)");
	for (size_t i = 0; i < g->n; i++)
		for (int r = 0; r < PIAS_ROLES; r++) {
			const struct pias_count *c = (const struct pias_count *)&g->r[i].s + r;

			evbuffer_add_printf(o, "%s{ta=\"%s\",role=\"%s\"} %llu\n", name, g->r[i].ta,
					    roles[r],
					    (unsigned long long)(bytes ? c->bytes : c->packets));
		}
}

static void groups(struct piasd *d, struct evbuffer *o)
{
	struct group_rows g = { 0 };
	struct pias_err e;

	if (pias_group_stats_each(&d->maps, group_add, &g, &e))
		PIASD_INC(d, map_errors);
	group_family(o, &g, "pias_group_packets_total", false);
	group_family(o, &g, "pias_group_bytes_total", true);
	free(g.r);
}

/* ---- targets registered here (this proxy as JAP) ------------------------- */

struct target_row {
	char labels[2 * PIAS_ADDR_STRLEN + 64]; /* ta="...",target="..." */
	const char *state;
	struct pias_target_stats s;
	long conns;		/* -1: not known yet (before the first sweep) */
	unsigned long long cap; /* NAT ports it may hold; 0 in tunnel mode */
	__u64 ejections;	/* by outlier detection */
};

/* The counter families of pias_target_stats. */
static const struct {
	const char *name, *help;
	size_t off;
} target_counters[] = {
	{ "pias_target_packets_total", "client packets this JAP sent to a target",
	  offsetof(struct pias_target_stats, packets) },
	{ "pias_target_bytes_total", "client bytes this JAP sent to a target",
	  offsetof(struct pias_target_stats, bytes) },
	{ "pias_target_reply_packets_total", "a target's reply packets this JAP sent on to clients",
	  offsetof(struct pias_target_stats, rev_packets) },
	{ "pias_target_reply_bytes_total", "a target's reply bytes this JAP sent on to clients",
	  offsetof(struct pias_target_stats, rev_bytes) },
	{ "pias_target_new_flows_total", "new flows given to a target",
	  offsetof(struct pias_target_stats, new_flows) },
	{ "pias_target_nat_no_port_total",
	  "a target's new flows dropped: no free NAT address and port",
	  offsetof(struct pias_target_stats, nat_no_port) },
	{ "pias_target_flows_answered_total", "new flows whose first packet back was an answer",
	  offsetof(struct pias_target_stats, answered) },
	{ "pias_target_flows_refused_total",
	  "new flows a target refused (a RST before any SYN-ACK: no server listening)",
	  offsetof(struct pias_target_stats, refused) },
	{ "pias_target_flows_unreachable_total",
	  "new flows a target's host answered with ICMP port unreachable",
	  offsetof(struct pias_target_stats, unreachable) },
};

static void target_value(struct evbuffer *o, const char *name, const struct target_row *r, size_t n,
			 size_t off)
{
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(
			o, "%s{%s} %llu\n", name, r[i].labels,
			(unsigned long long)*(const __u64 *)((const char *)&r[i].s + off));
}

static void targets(struct piasd *d, struct evbuffer *o)
{
	struct target_row *r;
	struct pias_config dc;
	struct pias_err e;
	size_t n = 0, max = pias_jap_ntargets(&d->node.jap);
	bool was_zero;

	r = calloc(max ? max : 1, sizeof(*r));
	if (!r)
		return;
	if (pias_config_get(&d->maps, &dc, &was_zero, &e))
		memset(&dc, 0, sizeof(dc));
	pias_jap_each_group(&d->node.jap, jg)
	{
		char ta[PIAS_ADDR_STRLEN + 16], ep[PIAS_ADDR_STRLEN + 8];

		pias_ta_str(&jg->ta, ta, sizeof(ta));
		for (__u32 i = 0; i < jg->count && n < max; i++, n++) {
			const struct pias_jap_target *t = &jg->targets[i];
			bool tunnel = t->t.flags & PIAS_TARGET_F_TUNNEL;

			pias_endpoint_str(&t->t.addr, t->t.family, t->t.port, ep, sizeof(ep));
			snprintf(r[n].labels, sizeof(r[n].labels), "ta=\"%s\",target=\"%s\"", ta,
				 ep);
			/* ejected by outlier detection: out of new flows, its own state */
			r[n].state = t->ejected && t->t.state == PIAS_TARGET_ACTIVE
					     ? "ejected"
					     : pias_target_state_name(t->t.state);
			r[n].ejections =
				piasd_outlier_of(d, t->id) ? piasd_outlier_of(d, t->id)->total : 0;
			if (pias_target_stats_get(&d->maps, t->id, &r[n].s, &e))
				memset(&r[n].s, 0, sizeof(r[n].s));
			r[n].conns = piasd_conns_of(d, t->id, 0);
			r[n].cap = tunnel ? 0 : pias_nat_capacity(&dc, t->t.family);
		}
	}
	for (size_t f = 0; f < sizeof(target_counters) / sizeof(target_counters[0]); f++) {
		family(o, target_counters[f].name, "counter", target_counters[f].help);
		target_value(o, target_counters[f].name, r, n, target_counters[f].off);
	}
	family(o, "pias_target_connections", "gauge",
	       "a target's connections (NAT ports held), as of piasd's last sweep");
	for (size_t i = 0; i < n; i++)
		if (r[i].conns >= 0)
			evbuffer_add_printf(o, "pias_target_connections{%s} %ld\n", r[i].labels,
					    r[i].conns);
	family(o, "pias_target_nat_ports", "gauge",
	       "NAT ports a target may hold (0: tunnel mode, which takes none)");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(o, "pias_target_nat_ports{%s} %llu\n", r[i].labels, r[i].cap);
	family(o, "pias_target_ejections_total", "counter",
	       "times outlier detection took a target out of new flows");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(o, "pias_target_ejections_total{%s} %llu\n", r[i].labels,
				    (unsigned long long)r[i].ejections);
	family(o, "pias_target_state", "gauge",
	       "1 for a target's state (active, ejected, draining, down) at this JAP");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(o, "pias_target_state{%s,state=\"%s\"} 1\n", r[i].labels,
				    r[i].state);
	free(r);
}

/* ---- membership, roles, bindings ------------------------------------------ */

static void overlay(struct piasd *d, struct evbuffer *o)
{
	size_t bound = 0, negative = 0, querying = 0;

	family(o, "pias_proxies", "gauge", "proxies this one knows, by membership state");
	for (__u8 s = PIAS_MEMBER_ALIVE; s <= PIAS_MEMBER_LEFT; s++)
		evbuffer_add_printf(o, "pias_proxies{state=\"%s\"} %u\n", pias_member_state_name(s),
				    pias_members_count_state(&d->node.members, s));
	family(o, "pias_ring_proxies", "gauge", "proxies on the consistent hashing ring");
	evbuffer_add_printf(o, "pias_ring_proxies %zu\n", d->node.ring.nproxies);
	pias_iap_each(&d->node.iap, en)
	{
		if (!en->bound)
			querying++;
		else if (en->b.flags & PIAS_BINDING_F_NEGATIVE)
			negative++;
		else
			bound++;
	}
	family(o, "pias_iap_bindings", "gauge", "TAs cached at this IAP, by binding state");
	evbuffer_add_printf(o,
			    "pias_iap_bindings{state=\"bound\"} %zu\n"
			    "pias_iap_bindings{state=\"negative\"} %zu\n"
			    "pias_iap_bindings{state=\"querying\"} %zu\n",
			    bound, negative, querying);
	family(o, "pias_rap_groups", "gauge", "groups this proxy is a RAP for");
	evbuffer_add_printf(o, "pias_rap_groups %zu\n", pias_rap_ngroups(&d->node.rap));
	family(o, "pias_jap_groups", "gauge", "groups with targets registered here");
	evbuffer_add_printf(o, "pias_jap_groups %zu\n", pias_jap_ngroups(&d->node.jap));
	family(o, "pias_serving", "gauge",
	       "1 when this proxy serves (joined, announcing if it manages announcements)");
	evbuffer_add_printf(o, "pias_serving %d\n", d->serving ? 1 : 0);
	family(o, "pias_withdrawn", "gauge", "1 after piasctl withdraw");
	evbuffer_add_printf(o, "pias_withdrawn %d\n", d->withdrawn ? 1 : 0);
	family(o, "pias_uptime_seconds", "gauge", "seconds since piasd started");
	evbuffer_add_printf(o, "pias_uptime_seconds %llu\n",
			    (unsigned long long)((piasd_now() - d->started_ns) / 1000000000ull));
}

/* ---- HTTP ----------------------------------------------------------------- */

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct piasd *d = arg;
	struct evbuffer *o = evbuffer_new();

	if (!o) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	family(o, "pias_info", "gauge", "this proxy's id, always 1");
	evbuffer_add_printf(o, "pias_info{id=\"%u\"} 1\n", d->cfg.node_id);
	overlay(d, o);
	counters(d, o);
	dataplane(d, o);
	groups(d, o);
	targets(d, o);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", CONTENT_TYPE);
	evhttp_send_reply(req, HTTP_OK, "OK", o);
	evbuffer_free(o);
	PIASD_INC(d, metrics_scrapes);
}

static void on_other(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics is here");
}

int piasd_metrics_open(struct piasd *d, struct pias_err *e)
{
	char addr[PIAS_ADDR_STRLEN];

	if (!d->cfg.metrics_port)
		return 0;
	d->metrics = evhttp_new(d->base);
	if (!d->metrics)
		return pias_err_set(e, -ENOMEM, "metrics: evhttp_new failed");
	/* a scrape is a GET; anything slow or large is someone else */
	evhttp_set_allowed_methods(d->metrics, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(d->metrics, 5);
	evhttp_set_max_headers_size(d->metrics, 8192);
	evhttp_set_max_body_size(d->metrics, 0);
	evhttp_set_cb(d->metrics, "/metrics", on_metrics, d);
	evhttp_set_gencb(d->metrics, on_other, d);
	pias_addr_str(&d->cfg.metrics_addr.addr, d->cfg.metrics_addr.family, addr, sizeof(addr));
	if (!evhttp_bind_socket_with_handle(d->metrics, addr, d->cfg.metrics_port)) {
		int err = errno ? errno : EADDRNOTAVAIL;

		evhttp_free(d->metrics);
		d->metrics = NULL;
		return pias_err_set(e, -err, "metrics: cannot listen on %s port %u: %s", addr,
				    d->cfg.metrics_port, strerror(err));
	}
	LOG_I("metrics on http://%s%s%s:%u/metrics", d->cfg.metrics_addr.family == 6 ? "[" : "",
	      addr, d->cfg.metrics_addr.family == 6 ? "]" : "", d->cfg.metrics_port);
	return 0;
}

void piasd_metrics_close(struct piasd *d)
{
	if (d->metrics)
		evhttp_free(d->metrics);
	d->metrics = NULL;
}
