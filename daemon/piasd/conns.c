// SPDX-License-Identifier: MIT
/*
 * The dataplane's connection tables, from piasd's side: the sweep that
 * deletes ended connections (JAP) and flow entries (IAP), a bounded batch
 * per tick so that a large table never stalls the loop; each target's
 * live connections, NAT ports in use and drops for want of one, with a
 * log line when a target's ports pass the high-water mark or run out.
 * The decisions are daemon/sweep.c's; this file reads and deletes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "piasd.h"

/* Entries read per tick and table: 80k entries a second at 50 ms ticks. */
#define SWEEP_BATCH 4096
/* How often each target's drops for want of a NAT port are read. */
#define NAT_CHECK_NS 1000000000ull

struct sweep_buf {
	struct pias_flow keys[SWEEP_BATCH];
	union {
		struct pias_conn conns[SWEEP_BATCH];
		struct pias_conn_rev revs[SWEEP_BATCH];
		struct pias_flow_entry flows[SWEEP_BATCH];
	};
};

static struct sweep_buf *buf;

/*
 * Target id as the dataplane has it, read once per tick (a batch holds
 * thousands of connections of a few targets: one syscall each would cost
 * more than the sweep).
 */
static struct {
	__u64 tick[PIAS_MAX_TARGETS];
	struct pias_target t[PIAS_MAX_TARGETS];
} * memo;

int piasd_conns_init(struct piasd *d, struct pias_err *e)
{
	struct piasd_conns *s = &d->conns;

	buf = calloc(1, sizeof(*buf));
	memo = calloc(1, sizeof(*memo));
	s->nat_no_port = calloc(PIAS_MAX_TARGETS, sizeof(*s->nat_no_port));
	s->high = calloc(PIAS_MAX_TARGETS, sizeof(*s->high));
	if (!buf || !memo || !s->nat_no_port || !s->high)
		return pias_err_set(e, -ENOMEM, "no memory for the connection sweep");
	return pias_sweep_init(&s->sweep, &d->cfg.ct, e);
}

void piasd_conns_free(struct piasd *d)
{
	pias_sweep_free(&d->conns.sweep);
	free(d->conns.nat_no_port);
	free(d->conns.high);
	free(buf);
	free(memo);
	buf = NULL;
	memo = NULL;
}

/*
 * The next batch of a table, from cursor c on. Returns the entries read;
 * *end is set once the table has been read to its end (then the next call
 * starts over).
 */
static int next_batch(int fd, struct piasd_cursor *c, void *keys, void *vals, bool *end)
{
	__u32 n = SWEEP_BATCH;
	int err;

	err = bpf_map_lookup_batch(fd, c->started ? &c->token : NULL, &c->token, keys, vals, &n,
				   NULL);
	*end = err && errno == ENOENT;
	if (err && !*end)
		return -errno;
	c->started = !*end;
	return (int)n;
}

static bool target_of(struct piasd *d, __u32 id, __u64 now, struct pias_target *t)
{
	if (!id || id >= PIAS_MAX_TARGETS)
		return false;
	if (memo->tick[id] != now) {
		if (bpf_map_lookup_elem(d->maps.fd[PIAS_M_TARGETS], &id, &memo->t[id]))
			memset(&memo->t[id], 0, sizeof(memo->t[id]));
		memo->tick[id] = now;
	}
	*t = memo->t[id];
	return t->state != PIAS_TARGET_UNUSED;
}

/*
 * Deletes connection key (value c, read a moment ago) in both directions,
 * unless a packet has touched it since: an entry is read again first, so
 * that only a silent one goes.
 */
static void conn_delete(struct piasd *d, const struct pias_flow *key, const struct pias_conn *c,
			const struct pias_flow *rkey)
{
	struct pias_conn now;
	struct pias_conn_rev rv;

	if (bpf_map_lookup_elem(d->maps.fd[PIAS_M_CONNS], key, &now) || now.last_ns != c->last_ns ||
	    now.ct != c->ct)
		return;
	if (!bpf_map_delete_elem(d->maps.fd[PIAS_M_CONNS], key))
		PIASD_INC(d, conns_ended);
	/* the reverse entry, if it is still this connection's (not retaken) */
	if (rkey && !bpf_map_lookup_elem(d->maps.fd[PIAS_M_CONNS_REV], rkey, &rv) &&
	    !memcmp(&rv.client, key, sizeof(*key)))
		bpf_map_delete_elem(d->maps.fd[PIAS_M_CONNS_REV], rkey);
}

/* One connection read from the table: keep, or look further, or delete. */
static void conn_one(struct piasd *d, const struct pias_config *dc, const struct pias_flow *key,
		     const struct pias_conn *c, __u64 now)
{
	struct pias_sweep *s = &d->conns.sweep;
	struct pias_conn_rev rv, none = { 0 };
	struct pias_flow rkey;
	struct pias_target t;
	bool in_use = target_of(d, c->target_id, now, &t);
	enum pias_sweep_verdict v;

	v = pias_sweep_conn(s, key->proto, c, NULL, in_use, now);
	if (v == PIAS_SWEEP_KEEP)
		return;
	if (!in_use || !c->nat_port) {
		/* a tunnel-mode target's connection has no reverse entry */
		conn_delete(d, key, c, NULL);
		return;
	}
	rkey = pias_nat_rev_key(dc, key, &t, c->nat_index, c->nat_port);
	if (v == PIAS_SWEEP_CHECK_REV) {
		/* no reverse entry, or another connection's: this one is a leftover */
		if (bpf_map_lookup_elem(d->maps.fd[PIAS_M_CONNS_REV], &rkey, &rv) ||
		    memcmp(&rv.client, key, sizeof(*key)))
			rv = none;
		v = pias_sweep_conn(s, key->proto, c, &rv, true, now);
	}
	if (v == PIAS_SWEEP_DELETE)
		conn_delete(d, key, c, &rkey);
}

static void sweep_conns(struct piasd *d, __u64 now)
{
	struct piasd_conns *cs = &d->conns;
	struct pias_config dc;
	struct pias_err e;
	bool end, was_zero;
	int n;

	if (pias_config_get(&d->maps, &dc, &was_zero, &e))
		return;
	if (!cs->conns.started && !cs->sweep.pass_start_ns)
		pias_sweep_pass_begin(&cs->sweep, now);
	n = next_batch(d->maps.fd[PIAS_M_CONNS], &cs->conns, buf->keys, buf->conns, &end);
	if (n < 0) {
		LOG_W("connection sweep: reading %s: %s", pias_map_name(PIAS_M_CONNS),
		      strerror(-n));
		cs->conns.started = false;
		return;
	}
	for (int i = 0; i < n; i++)
		conn_one(d, &dc, &buf->keys[i], &buf->conns[i], now);
	if (end)
		pias_sweep_pass_end(&cs->sweep, now);
}

/* Reverse entries left without their connection. */
static void sweep_revs(struct piasd *d, __u64 now)
{
	struct piasd_conns *cs = &d->conns;
	struct pias_config dc;
	struct pias_err e;
	bool end, was_zero;
	int n;

	if (pias_config_get(&d->maps, &dc, &was_zero, &e))
		return;
	n = next_batch(d->maps.fd[PIAS_M_CONNS_REV], &cs->revs, buf->keys, buf->revs, &end);
	if (n < 0) {
		LOG_W("connection sweep: reading %s: %s", pias_map_name(PIAS_M_CONNS_REV),
		      strerror(-n));
		cs->revs.started = false;
		return;
	}
	for (int i = 0; i < n; i++) {
		const struct pias_flow *key = &buf->keys[i];
		const struct pias_conn_rev *rv = &buf->revs[i];
		enum pias_sweep_verdict v =
			pias_sweep_rev(&cs->sweep, rv, PIAS_SWEEP_FWD_UNREAD, now);
		enum pias_sweep_fwd fwd = PIAS_SWEEP_FWD_NONE;
		struct pias_conn_rev again;
		struct pias_conn c;

		if (v != PIAS_SWEEP_CHECK_FWD)
			continue;
		if (!bpf_map_lookup_elem(d->maps.fd[PIAS_M_CONNS], &rv->client, &c) &&
		    c.target_id == rv->target_id && c.nat_port == key->dport &&
		    (int)c.nat_index == pias_nat_index(&dc, &key->daddr, key->family))
			fwd = PIAS_SWEEP_FWD_MINE;
		if (pias_sweep_rev(&cs->sweep, rv, fwd, now) != PIAS_SWEEP_DELETE)
			continue;
		/* read again: a new flow may have taken the port since */
		if (!bpf_map_lookup_elem(d->maps.fd[PIAS_M_CONNS_REV], key, &again) &&
		    !memcmp(&again, rv, sizeof(again)) &&
		    !bpf_map_delete_elem(d->maps.fd[PIAS_M_CONNS_REV], key))
			PIASD_INC(d, nat_leftovers_ended);
	}
}

static void sweep_flows(struct piasd *d, __u64 now)
{
	struct piasd_conns *cs = &d->conns;
	bool end;
	int n = next_batch(d->maps.fd[PIAS_M_FLOWS], &cs->flows, buf->keys, buf->flows, &end);

	if (n < 0) {
		LOG_W("flow sweep: reading %s: %s", pias_map_name(PIAS_M_FLOWS), strerror(-n));
		cs->flows.started = false;
		return;
	}
	for (int i = 0; i < n; i++) {
		const struct pias_flow *key = &buf->keys[i];
		struct pias_flow_entry fe;

		if (!pias_sweep_flow(&cs->sweep, key->proto, &buf->flows[i], now))
			continue;
		/* read again: a packet may have come since */
		if (!bpf_map_lookup_elem(d->maps.fd[PIAS_M_FLOWS], key, &fe) &&
		    fe.last_ns == buf->flows[i].last_ns && fe.ct == buf->flows[i].ct &&
		    !bpf_map_delete_elem(d->maps.fd[PIAS_M_FLOWS], key))
			PIASD_INC(d, flows_ended);
	}
}

/* Once a second: each target's NAT ports against the high-water mark, and its drops. */
static void nat_check(struct piasd *d, __u64 now)
{
	struct piasd_conns *cs = &d->conns;
	struct pias_config dc;
	struct pias_err e;
	bool was_zero;

	if (now - cs->nat_checked_ns < NAT_CHECK_NS ||
	    pias_config_get(&d->maps, &dc, &was_zero, &e))
		return;
	cs->nat_checked_ns = now;
	pias_jap_each_group(&d->node.jap, g)
	{
		for (__u32 i = 0; i < g->count; i++) {
			const struct pias_jap_target *t = &g->targets[i];
			__u64 cap = pias_nat_capacity(&dc, t->t.family);
			long used = pias_sweep_target_conns(&cs->sweep, t->id, 0);
			struct pias_target_stats st;
			char ep[PIAS_ADDR_STRLEN + 8];
			bool high;

			pias_endpoint_str(&t->t.addr, t->t.family, t->t.port, ep, sizeof(ep));
			high = used >= 0 &&
			       (__u64)used * 100 >= cap * d->cfg.nat_high_water_percent;
			if (high && !cs->high[t->id]) {
				PIASD_INC(d, nat_high_water);
				LOG_W("target %u (%s): %ld of its %llu NAT ports in use, past the "
				      "high-water mark of %u%% (more [node] nat addresses or a "
				      "wider [dataplane] nat_ports make room)",
				      t->id, ep, used, (unsigned long long)cap,
				      d->cfg.nat_high_water_percent);
			}
			cs->high[t->id] = high;
			if (pias_target_stats_get(&d->maps, t->id, &st, &e))
				continue;
			if (st.nat_no_port > cs->nat_no_port[t->id])
				LOG_W("target %u (%s): %llu new flows dropped in the last second: "
				      "no free NAT port (%ld of %llu in use)",
				      t->id, ep,
				      (unsigned long long)(st.nat_no_port - cs->nat_no_port[t->id]),
				      used, (unsigned long long)cap);
			cs->nat_no_port[t->id] = st.nat_no_port;
		}
	}
}

void piasd_conns_tick(struct piasd *d, __u64 now)
{
	sweep_conns(d, now);
	sweep_revs(d, now);
	sweep_flows(d, now);
	nat_check(d, now);
}

long piasd_conns_of(struct piasd *d, __u32 id, __u64 since)
{
	return pias_sweep_target_conns(&d->conns.sweep, id, since);
}

bool piasd_conn_live(struct piasd *d, const struct pias_flow *key, const struct pias_conn *c,
		     __u64 now)
{
	__u32 state = pias_ct_state_of(key->proto, c->ct);

	if (state == PIAS_CT_RESET || state == PIAS_CT_CLOSED || state == PIAS_CT_TIME_WAIT)
		return false;
	return !pias_ct_expired(&d->cfg.ct, key->proto, c->ct, c->last_ns, now);
}

int piasd_conns_of_client(struct piasd *d, const union pias_addr *client, __u8 family,
			  struct pias_flow *keys, __u8 *cts, int max, __u64 now)
{
	struct piasd_cursor cur = { 0 };
	bool end = false;
	int found = 0;

	while (!end && found < max) {
		int n = next_batch(d->maps.fd[PIAS_M_CONNS], &cur, buf->keys, buf->conns, &end);

		if (n < 0)
			return n;
		for (int i = 0; i < n && found < max; i++) {
			const struct pias_flow *k = &buf->keys[i];

			if (k->family != family || memcmp(&k->saddr, client, sizeof(*client)) ||
			    !piasd_conn_live(d, k, &buf->conns[i], now))
				continue;
			keys[found] = *k;
			cts[found++] = buf->conns[i].ct;
		}
	}
	return found;
}
