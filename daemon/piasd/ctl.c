// SPDX-License-Identifier: MIT
#define _GNU_SOURCE /* accept4 */
/*
 * piasd's control socket (daemon/ctl_proto.h has the protocol): one request
 * line per connection, answered with "OK" and a body or "ERR message", then
 * closed. Tables for people, or JSON with --json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "counters.h"
#include "ctl_line.h"
#include "ctl_proto.h"
#include "piasd.h"
#include "policy.h"

static const char *const piasd_counter_names[PIASD_C_COUNT] = {
#define X(name, help) #name,
	PIASD_COUNTERS(X)
#undef X
};

static const char *const piasd_counter_help[PIASD_C_COUNT] = {
#define X(name, help) help,
	PIASD_COUNTERS(X)
#undef X
};

__u64 piasd_counter(const struct piasd *d, int i, const char **name, const char **help)
{
	bool ours = i < PIASD_C_COUNT;
	int k = ours ? i : i - PIASD_C_COUNT;

	if (name)
		*name = ours ? piasd_counter_names[k] : pias_node_counter_names[k];
	if (help)
		*help = ours ? piasd_counter_help[k] : pias_node_counter_help[k];
	return ours ? d->counters[k] : d->node.counters[k];
}

static const char *state_name(__u8 s)
{
	return pias_target_state_name(s);
}

static void show_status(struct piasd *d, struct evbuffer *o, bool json)
{
	__u64 up = (piasd_now() - d->started_ns) / 1000000000ull;
	size_t alive = pias_members_alive(&d->node.members);

	if (json) {
		evbuffer_add_printf(o,
				    "{\"id\":%u,\"withdrawn\":%s,\"uptime_s\":%llu,"
				    "\"proxies_alive\":%zu,\"ring_proxies\":%zu,\"rap_groups\":%zu,"
				    "\"jap_groups\":%zu,\"iap_entries\":%zu,\"keys\":%zu,"
				    "\"send_key\":%u,\"registrations\":%s,\"serving\":%s,"
				    "\"announced\":%s}\n",
				    d->cfg.node_id, d->withdrawn ? "true" : "false",
				    (unsigned long long)up, alive, d->node.ring.nproxies,
				    pias_rap_ngroups(&d->node.rap), pias_jap_ngroups(&d->node.jap),
				    pias_iap_count(&d->node.iap), d->keys.n, d->keys.send_id,
				    d->have_group_key ? "true" : "false",
				    d->serving ? "true" : "false", d->announced ? "true" : "false");
		return;
	}
	evbuffer_add_printf(o,
			    "proxy %u%s, up %llu s\n"
			    "overlay: %zu proxies alive, %zu on the ring (k=%u)\n"
			    "RAP: %zu groups; JAP: %zu groups; IAP: %zu TAs cached\n"
			    "keys: %zu in the ring, sending with %u; registrations %s\n"
			    "serving: %s; anycast prefixes %s\n",
			    d->cfg.node_id, d->withdrawn ? " (withdrawn)" : "",
			    (unsigned long long)up, alive, d->node.ring.nproxies, d->node.cfg.rap_k,
			    pias_rap_ngroups(&d->node.rap), pias_jap_ngroups(&d->node.jap),
			    pias_iap_count(&d->node.iap), d->keys.n, d->keys.send_id,
			    d->have_group_key ? "accepted" : "refused (no group key)",
			    d->serving	  ? "yes"
			    : d->isolated ? "no (cut off: every other proxy is dead to us)"
					  : "no (not joined, withdrawn or dataplane detached)",
			    !d->cfg.announce_command[0] ? "not managed (no announce_command)"
			    : d->announced		? "announced"
							: "withdrawn");
}

static void show_groups(struct piasd *d, struct evbuffer *o, bool json)
{
	char ta[PIAS_ADDR_STRLEN + 16], pol[PIAS_POLICY_STRLEN];
	bool first = true;

	if (json)
		evbuffer_add_printf(o, "[");
	else
		evbuffer_add_printf(o, "%-36s %-10s %-18s %s\n", "TA", "GENERATION", "POLICY",
				    "JAPS (id:weight[@share])");
	for (const struct pias_rap_group *g = pias_rap_next(&d->node.rap, NULL); g;
	     g = pias_rap_next(&d->node.rap, g)) {
		pias_ta_str(&g->ta, ta, sizeof(ta));
		if (json) {
			evbuffer_add_printf(o,
					    "%s{\"ta\":\"%s\",\"generation\":%u,\"policy\":\"%s\","
					    "\"omitted\":%u,\"japs\":[",
					    first ? "" : ",", ta, g->generation,
					    pias_policy_str(&g->g.policy, pol, sizeof(pol)),
					    g->omitted);
			first = false;
			for (__u32 j = 0; j < g->g.count; j++)
				evbuffer_add_printf(o, "%s{\"id\":%u,\"weight\":%u,\"share\":%u}",
						    j ? "," : "", g->g.japs[j].jap_id,
						    g->g.japs[j].weight, g->shares[j]);
			evbuffer_add_printf(o, "]}");
			continue;
		}
		evbuffer_add_printf(o, "%-36s %-10u %-18s", ta, g->generation,
				    pias_policy_str(&g->g.policy, pol, sizeof(pol)));
		for (__u32 j = 0; j < g->g.count; j++) {
			evbuffer_add_printf(o, " %u:%u", g->g.japs[j].jap_id, g->g.japs[j].weight);
			if (g->shares[j] < PIAS_RAP_SHARE_FULL)
				evbuffer_add_printf(o, "@%u%%", g->shares[j] / 10);
		}
		/* a sample of a larger group (rap_registry.h): the JAPs left out this time */
		if (g->omitted)
			evbuffer_add_printf(o, " (+%u sampled out)", g->omitted);
		evbuffer_add_printf(o, "%s\n", g->g.count ? "" : " (none)");
	}
	if (json)
		evbuffer_add_printf(o, "]\n");
}

static void show_bindings(struct piasd *d, struct evbuffer *o, bool json)
{
	__u64 now = piasd_now();
	char ta[PIAS_ADDR_STRLEN + 16];
	const char *sep = "";

	if (json)
		evbuffer_add_printf(o, "[");
	else
		evbuffer_add_printf(o, "%-36s %-8s %-10s %-10s %s\n", "TA", "JAP", "GENERATION",
				    "EXPIRES_S", "STATE");
	pias_iap_each(&d->node.iap, en)
	{
		bool neg = en->b.flags & PIAS_BINDING_F_NEGATIVE;
		long long left = en->bound && en->b.expires_ns > now
					 ? (long long)((en->b.expires_ns - now) / 1000000000ull)
					 : 0;
		const char *st = !en->bound ? "querying" : neg ? "negative" : "bound";
		const struct pias_group *set = pias_iap_set(en);

		pias_ta_str(&en->ta, ta, sizeof(ta));
		if (json) {
			evbuffer_add_printf(o,
					    "%s{\"ta\":\"%s\",\"jap\":%u,\"generation\":%u,"
					    "\"expires_s\":%lld,\"state\":\"%s\",\"pending\":%s,"
					    "\"set\":[",
					    sep, ta, en->b.jap_id, en->b.generation, left, st,
					    en->pending ? "true" : "false");
			sep = ",";
			/* a binding set: the JAPs new flows draw from, and their shares */
			for (__u32 k = 0; k < set->count; k++)
				evbuffer_add_printf(o, "%s{\"jap\":%u,\"share\":%u}", k ? "," : "",
						    set->japs[k].jap_id, set->japs[k].weight);
			evbuffer_add_printf(o, "]}");
		} else {
			evbuffer_add_printf(o, "%-36s %-8u %-10u %-10lld %s%s", ta, en->b.jap_id,
					    en->b.generation, left, st,
					    en->pending && en->bound ? " (refreshing)" : "");
			for (__u32 k = 0; k < set->count; k++)
				evbuffer_add_printf(o, "%s%u:%u", k ? " " : " set ",
						    set->japs[k].jap_id, set->japs[k].weight);
			evbuffer_add_printf(o, "\n");
		}
	}
	if (json)
		evbuffer_add_printf(o, "]\n");
}

static void show_targets(struct piasd *d, struct evbuffer *o, bool json)
{
	__u64 now = piasd_now();
	char ta[PIAS_ADDR_STRLEN + 16], ep[PIAS_ADDR_STRLEN + 8], pol[PIAS_POLICY_STRLEN];
	struct pias_config dc;
	struct pias_err e;
	bool first = true, was_zero;

	if (pias_config_get(&d->maps, &dc, &was_zero, &e))
		memset(&dc, 0, sizeof(dc));
	if (json)
		evbuffer_add_printf(o, "[");
	else
		evbuffer_add_printf(o,
				    "%-36s %-6s %-28s %-9s %-6s %-6s %-16s %-8s %-11s %-11s %-5s "
				    "%-5s %s\n",
				    "TA", "ID", "ENDPOINT", "STATE", "MODE", "WEIGHT",
				    "REFRESHED_MS_AGO", "CONNS", "NAT_PORTS", "NAT_NO_PORT", "DIAL",
				    "SHARE", "POLICY");
	pias_jap_each_group(&d->node.jap, jg)
	{
		pias_ta_str(&jg->ta, ta, sizeof(ta));
		/* the group's policy as it stands: the highest serial among its targets */
		pias_policy_str(&jg->policy, pol, sizeof(pol));
		for (__u32 i = 0; i < jg->count; i++) {
			const struct pias_jap_target *t = &jg->targets[i];
			unsigned long long ago =
				(now - pias_jap_refreshed_ns(&d->node.jap, t)) / 1000000ull;
			/* connections = NAT ports held; -1 until the first sweep is through */
			long conns = piasd_conns_of(d, t->id, 0);
			bool tunnel = t->t.flags & PIAS_TARGET_F_TUNNEL;
			/* a tunnel-mode target takes no NAT port */
			unsigned long long cap = tunnel ? 0 : pias_nat_capacity(&dc, t->t.family);
			unsigned long long no_port = d->conns.nat_no_port[t->id];
			const char *mode = tunnel ? "tunnel" : "nat";

			const struct pias_outlier *ol = piasd_outlier_of(d, t->id);
			/* ejected by outlier detection: ACTIVE for the registry, out for new
			 * flows (one that went DOWN or drains since says so) */
			const char *state = t->ejected && t->t.state == PIAS_TARGET_ACTIVE
						    ? "ejected"
						    : state_name(t->t.state);
			unsigned long long ejections = ol ? (unsigned long long)ol->total : 0;

			pias_endpoint_str(&t->t.addr, t->t.family, t->t.port, ep, sizeof(ep));
			if (json)
				evbuffer_add_printf(
					o,
					"%s{\"ta\":\"%s\",\"id\":%u,\"endpoint\":\"%s\","
					"\"state\":\"%s\",\"mode\":\"%s\",\"weight\":%u,"
					"\"refreshed_ms_ago\":%llu,\"conns\":%ld,"
					"\"nat_ports\":%llu,\"nat_no_port\":%llu,"
					"\"dial_percent\":%u,\"share_percent\":%u,"
					"\"policy\":\"%s\",\"policy_serial\":%u,\"ejections\":%llu}",
					first ? "" : ",", ta, t->id, ep, state, mode, t->t.weight,
					ago, conns, cap, no_port, jg->dial / 10, jg->share / 10,
					pol, t->policy_serial, ejections);
			else
				evbuffer_add_printf(o,
						    "%-36s %-6u %-28s %-9s %-6s %-6u %-16llu %-8ld "
						    "%-11llu %-11llu %-5u %-5u %s\n",
						    ta, t->id, ep, state, mode, t->t.weight, ago,
						    conns, cap, no_port, jg->dial / 10,
						    jg->share / 10, pol);
			first = false;
		}
	}
	if (json)
		evbuffer_add_printf(o, "]\n");
}

static void show_proxies(struct piasd *d, struct evbuffer *o, bool json)
{
	const struct pias_members *ms = &d->node.members;
	char a[PIAS_ADDR_STRLEN];
	bool first = true;

	if (json)
		evbuffer_add_printf(o, "[");
	else
		evbuffer_add_printf(o, "%-8s %-8s %-12s %-26s %-10s %s\n", "ID", "STATE",
				    "INCARNATION", "ADDRESS", "RTT_MS", "COORD(x,y,h ms)");
	for (const struct pias_member *mb = pias_members_next(ms, 0); mb;
	     mb = pias_members_next(ms, mb->id)) {
		double rtt = pias_members_rtt_ns(ms, d->cfg.node_id, mb->id) / 1e6;

		pias_endpoint_str(&mb->addr, mb->family, mb->port, a, sizeof(a));
		if (json)
			evbuffer_add_printf(
				o,
				"%s{\"id\":%u,\"state\":\"%s\",\"incarnation\":%u,"
				"\"address\":\"%s\",\"self\":%s,\"rtt_ms\":%.3f,"
				"\"coord\":[%.3f,%.3f,%.3f],\"dataplane_only\":%s}",
				first ? "" : ",", mb->id, pias_member_state_name(mb->state),
				mb->incarnation, a, mb->id == d->cfg.node_id ? "true" : "false",
				rtt, mb->coord.x / 1e3, mb->coord.y / 1e3, mb->coord.h / 1e3,
				pias_dplive_watched(&d->dplive, mb->id) ? "true" : "false");
		else
			evbuffer_add_printf(o, "%-8u %-8s %-12u %-26s %-10.3f %.2f,%.2f,%.2f%s\n",
					    mb->id, pias_member_state_name(mb->state),
					    mb->incarnation, a, rtt, mb->coord.x / 1e3,
					    mb->coord.y / 1e3, mb->coord.h / 1e3,
					    mb->id == d->cfg.node_id ? " (self)"
					    : pias_dplive_watched(&d->dplive, mb->id)
						    ? " (dataplane only: its flows stay)"
						    : "");
		first = false;
	}
	if (json)
		evbuffer_add_printf(o, "]\n");
}

static void show_ring(struct piasd *d, struct evbuffer *o, bool json)
{
	static __u32 primary[PIAS_MAX_PROXIES];
	bool first = true;

	memset(primary, 0, sizeof(primary));
	for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++)
		if (d->node.rap_table[s].rap[0])
			primary[d->node.rap_table[s].rap[0]]++;
	if (json)
		evbuffer_add_printf(o, "{\"k\":%u,\"vnodes\":%u,\"slots\":%u,\"proxies\":[",
				    d->node.cfg.rap_k, d->node.ring.vnodes, PIAS_RAP_SLOTS);
	else
		evbuffer_add_printf(o,
				    "%zu proxies on the ring, %u points each, k=%u RAPs per group\n"
				    "%-8s %-14s %s\n",
				    d->node.ring.nproxies, d->node.ring.vnodes, d->node.cfg.rap_k,
				    "PROXY", "PRIMARY_SLOTS", "SHARE");
	for (__u32 id = 1; id < PIAS_MAX_PROXIES; id++) {
		if (!primary[id])
			continue;
		if (json)
			evbuffer_add_printf(o, "%s{\"id\":%u,\"primary_slots\":%u}",
					    first ? "" : ",", id, primary[id]);
		else
			evbuffer_add_printf(o, "%-8u %-14u %.1f%%\n", id, primary[id],
					    100.0 * primary[id] / PIAS_RAP_SLOTS);
		first = false;
	}
	if (json)
		evbuffer_add_printf(o, "]}\n");
}

static void show_counters(struct piasd *d, struct evbuffer *o, bool json)
{
	struct pias_stats st;
	struct pias_drops dr;
	struct pias_err e;
	char *mem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);
	bool dp = f && !pias_stats_read(&d->maps, &st, &dr, &e);

	if (json) {
		evbuffer_add_printf(o, "{\"piasd\":{");
		for (int i = 0; i < PIASD_COUNTERS_ALL; i++) {
			const char *name;
			__u64 v = piasd_counter(d, i, &name, NULL);

			evbuffer_add_printf(o, "%s\"%s\":%llu", i ? "," : "", name,
					    (unsigned long long)v);
		}
		evbuffer_add_printf(o, "}");
		if (dp) {
			pias_counters_print_json_members(f, &st, &dr);
			fflush(f);
			evbuffer_add_printf(o, ",%s", mem);
		}
		evbuffer_add_printf(o, "}\n");
	} else {
		evbuffer_add_printf(o, "piasd:\n");
		for (int i = 0; i < PIASD_COUNTERS_ALL; i++) {
			const char *name;
			__u64 v = piasd_counter(d, i, &name, NULL);

			if (v)
				evbuffer_add_printf(o, "  %-24s %llu\n", name,
						    (unsigned long long)v);
		}
		if (dp) {
			pias_counters_print(f, &st, &dr, false);
			fflush(f);
			evbuffer_add_printf(o, "dataplane:\n%s", mem);
		}
	}
	if (f)
		fclose(f);
	free(mem);
}

/* ---- the commands: one table each for show and the rest ---------------- */

typedef void (*show_fn)(struct piasd *d, struct evbuffer *o, bool json);

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The names are ctl_proto.h's, which piasctl checks with; the functions in their order. */
static const char *const show_names[] = { PIAS_CTL_SHOW_SUBJECTS };
static const show_fn show_fns[] = {
	show_proxies, show_ring,     show_groups, show_bindings,
	show_targets, show_counters, show_status,
};
_Static_assert(NELEMS(show_names) == NELEMS(show_fns), "a function for every show subject");

/* drain or undrain TA ENDPOINT */
static int drain_words(struct piasd *d, char **a, struct evbuffer *o, struct pias_err *e, bool undo)
{
	struct pias_ta ta;
	union pias_addr addr;
	__u8 fam;
	__u16 port;
	int err = pias_ta_parse(a[0], &ta, e) ?: pias_endpoint_parse(a[1], &addr, &fam, &port, e);

	if (!err)
		err = undo ? piasd_undrain(d, &ta, &addr, fam, port, e)
			   : piasd_drain(d, &ta, &addr, fam, port, e);
	if (!err)
		evbuffer_add_printf(o,
				    undo ? "%s %s takes new flows again\n"
					 : "draining %s %s: no new flows, established ones "
					   "finish; its registrations are refused until undrain\n",
				    a[0], a[1]);
	return err;
}

static int cmd_drain(struct piasd *d, char **a, struct evbuffer *o, struct pias_err *e)
{
	return drain_words(d, a, o, e, false);
}

static int cmd_undrain(struct piasd *d, char **a, struct evbuffer *o, struct pias_err *e)
{
	return drain_words(d, a, o, e, true);
}

static int cmd_dial(struct piasd *d, char **a, struct evbuffer *o, struct pias_err *e)
{
	struct pias_ta ta;
	char *end;
	unsigned long pct;
	int err = pias_ta_parse(a[0], &ta, e);

	if (err)
		return err;
	pct = strtoul(a[1], &end, 10);
	if (a[1][0] < '0' || a[1][0] > '9' || *end || pct > 100)
		return pias_err_set(e, -EINVAL, "dial: '%s' is not a percentage 0-100", a[1]);
	err = piasd_dial(d, &ta, (__u32)pct * 10, e);
	if (!err)
		evbuffer_add_printf(o, "%s dialled to %lu%% of its flows here\n", a[0], pct);
	return err;
}

static int cmd_withdraw(struct piasd *d, char **a, struct evbuffer *o, struct pias_err *e)
{
	(void)a;
	(void)e;
	if (!d->withdrawn)
		piasd_withdraw(d);
	evbuffer_add_printf(o, "proxy %u withdrawn: left the overlay, registrations refused\n",
			    d->cfg.node_id);
	return 0;
}

static int cmd_flush_bindings(struct piasd *d, char **a, struct evbuffer *o, struct pias_err *e)
{
	size_t before = pias_iap_count(&d->node.iap);
	int err = piasd_flush_bindings(d, e);

	(void)a;
	if (!err)
		evbuffer_add_printf(o, "flushed %zu cached TAs\n", before);
	return err;
}

static int cmd_keys_reload(struct piasd *d, char **a, struct evbuffer *o, struct pias_err *e)
{
	int err = piasd_keys_reload(d, e);

	(void)a;
	if (!err)
		evbuffer_add_printf(o, "%zu keys, sending with key %u\n", d->keys.n,
				    d->keys.send_id);
	return err;
}

typedef int (*cmd_fn)(struct piasd *d, char **args, struct evbuffer *o, struct pias_err *e);

/* The words of each command: its name (one or two words), then nargs arguments. */
static const struct {
	const char *name; /* "flush bindings": two words */
	int nargs;
	cmd_fn fn;
} cmds[] = {
	{ "drain", 2, cmd_drain },
	{ "undrain", 2, cmd_undrain },
	{ "dial", 2, cmd_dial },
	{ "withdraw", 0, cmd_withdraw },
	{ "flush bindings", 0, cmd_flush_bindings },
	{ "keys reload", 0, cmd_keys_reload },
};

/* Does the command name (one or two words) begin w[0..n)? Its words, else 0. */
static int name_words(const char *name, char **w, int n)
{
	const char *sp = strchr(name, ' ');
	size_t l0 = sp ? (size_t)(sp - name) : strlen(name);

	if (n < 1 || strlen(w[0]) != l0 || strncmp(w[0], name, l0))
		return 0;
	if (!sp)
		return 1;
	return n >= 2 && !strcmp(w[1], sp + 1) ? 2 : 0;
}

/* Run the request in words[n]; fill o with the body, or e and return non-zero. */
static int run(struct piasd *d, char **w, int n, struct evbuffer *o, struct pias_err *e)
{
	bool json = n > 2 && !strcmp(w[n - 1], PIAS_CTL_JSON);
	char list[256];
	size_t len = 0;

	if (json)
		n--;
	if (n == 2 && !strcmp(w[0], "show")) {
		for (size_t i = 0; i < NELEMS(show_names); i++)
			if (!strcmp(w[1], show_names[i])) {
				show_fns[i](d, o, json);
				return 0;
			}
		for (size_t i = 0; i < NELEMS(show_names); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						i ? ", " : "", show_names[i]);
		return pias_err_set(e, -EINVAL, "show: unknown table '%s' (%s)", w[1], list);
	}
	if (json)
		return pias_err_set(e, -EINVAL, "--json applies to show only");
	for (size_t i = 0; i < NELEMS(cmds); i++) {
		int k = name_words(cmds[i].name, w, n);

		if (!k)
			continue;
		if (n - k != cmds[i].nargs)
			return pias_err_set(e, -EINVAL, "%s takes %d argument%s, not %d",
					    cmds[i].name, cmds[i].nargs,
					    cmds[i].nargs == 1 ? "" : "s", n - k);
		return cmds[i].fn(d, w + k, o, e);
	}
	for (size_t i = 0; i < NELEMS(cmds); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s, ", cmds[i].name);
	return pias_err_set(e, -EINVAL, "unknown request '%s' (show, %.*s)", n ? w[0] : "",
			    (int)(len > 2 ? len - 2 : 0), list);
}

/*
 * Open connections: at most PIAS_CTL_CONNS_MAX. One more closes the one
 * that has waited longest for its request line, so that clients that
 * connect and say nothing cannot lock the operator out; a request must
 * also be complete within PIAS_CTL_TIMEOUT_MS of the connect, so that one
 * sent a byte at a time does not hold its slot for hours.
 */
struct ctl_conn {
	struct piasd *d;
	struct bufferevent *bev; /* NULL: the slot is free */
	__u64 since_ns;		 /* accepted */
	bool answering;		 /* the request is in; the answer is going out */
};

static struct ctl_conn conns[PIAS_CTL_CONNS_MAX];

static void conn_free(struct ctl_conn *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	c->bev = NULL;
}

static void conn_done(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_free(arg);
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT))
		conn_free(arg);
}

/* A free slot, else the one waiting longest for its request (closed). */
static struct ctl_conn *conn_slot(struct piasd *d)
{
	struct ctl_conn *victim = NULL;

	for (size_t i = 0; i < PIAS_CTL_CONNS_MAX; i++) {
		struct ctl_conn *c = &conns[i];

		if (!c->bev)
			return c;
		if (!c->answering && (!victim || c->since_ns < victim->since_ns))
			victim = c;
	}
	if (!victim)
		return NULL; /* every one is being answered: they end soon */
	conn_free(victim);
	PIASD_INC(d, ctl_evicted);
	return victim;
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn *c = arg;
	struct piasd *d = c->d;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *body;
	struct pias_err e = { "" };
	char *words[PIAS_CTL_WORDS_MAX];
	size_t len;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	bool late = piasd_now() - c->since_ns > PIAS_CTL_TIMEOUT_MS * 1000000ull;
	int n = 0, err;

	if (!line && !late && evbuffer_get_length(in) < PIAS_CTL_REQUEST_MAX)
		return; /* the rest of the line is still coming */
	/* only now: a request arriving in pieces must not leak one per piece */
	body = evbuffer_new();
	c->answering = true;
	if (!line && late) {
		err = pias_err_set(&e, -ETIMEDOUT, "request not complete within %d ms",
				   PIAS_CTL_TIMEOUT_MS);
	} else if (!line) {
		err = pias_err_set(&e, -E2BIG, "request longer than %d bytes",
				   PIAS_CTL_REQUEST_MAX);
	} else {
		n = pias_ctl_split(line, len, words, &e);
		err = n < 0 ? n : 0;
		if (!err && body)
			err = run(d, words, n, body, &e);
	}
	if (!body)
		err = pias_err_set(&e, -ENOMEM, "out of memory");
	bufferevent_disable(bev, EV_READ);
	if (err) {
		bufferevent_write(bev, PIAS_CTL_ERR " ", 4);
		bufferevent_write(bev, e.msg, strlen(e.msg));
		bufferevent_write(bev, "\n", 1);
	} else {
		bufferevent_write(bev, PIAS_CTL_OK "\n", 3);
		bufferevent_write_buffer(bev, body);
	}
	/* close once the answer is out */
	bufferevent_setcb(bev, NULL, conn_done, conn_event, c);
	free(line);
	if (body)
		evbuffer_free(body);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct piasd *d = arg;
	struct timeval tmo = { PIAS_CTL_TIMEOUT_MS / 1000, 0 };
	struct bufferevent *bev;
	struct ctl_conn *c;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)what;
	if (fd < 0)
		return;
	c = conn_slot(d);
	bev = c ? bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (!bev) {
		close(fd);
		return;
	}
	*c = (struct ctl_conn){ .d = d, .bev = bev, .since_ns = piasd_now() };
	bufferevent_setcb(bev, conn_read, NULL, conn_event, c);
	bufferevent_set_timeouts(bev, &tmo, &tmo);
	bufferevent_enable(bev, EV_READ);
}

/* mkdir -p of path's directory (the socket's parent, e.g. /run/pias). */
static void make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *p;

	snprintf(dir, sizeof(dir), "%s", path);
	for (p = dir + 1; (p = strchr(p, '/')); p++) {
		*p = 0;
		mkdir(dir, 0755);
		*p = '/';
	}
}

int piasd_ctl_open(struct piasd *d, struct pias_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = d->cfg.control_socket;
	int fd, err;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	make_parent(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pias_err_set(e, -errno, "control socket: %s", strerror(errno));
	/* a socket left by a killed piasd: take it over if nobody answers there */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return pias_err_set(e, -EADDRINUSE,
				    "control socket %s: another piasd is running there", path);
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 16)) {
		err = -errno;
		close(fd);
		return pias_err_set(e, err, "control socket %s: %s", path, strerror(-err));
	}
	d->ctl_fd = fd;
	d->ev_ctl = event_new(d->base, fd, EV_READ | EV_PERSIST, on_accept, d);
	if (!d->ev_ctl || event_add(d->ev_ctl, NULL))
		return pias_err_set(e, -ENOMEM, "libevent: cannot watch the control socket");
	return 0;
}

void piasd_ctl_close(struct piasd *d)
{
	for (size_t i = 0; i < PIAS_CTL_CONNS_MAX; i++)
		conn_free(&conns[i]);
	if (d->ev_ctl)
		event_free(d->ev_ctl);
	if (d->ctl_fd >= 0) {
		close(d->ctl_fd);
		unlink(d->cfg.control_socket);
	}
	d->ev_ctl = NULL;
	d->ctl_fd = -1;
}
