// SPDX-License-Identifier: MIT
/*
 * piasd's node (daemon/node.h): its config from piasd.conf, its io table
 * (messages through net.c, maps through dataplane.c, proxies through
 * liveness.c, random numbers from libsodium, lines into the log), and the
 * inputs piasd gives it besides datagrams and events: ticks and the
 * operator's commands, each with the clock's time.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "piasd.h"

/* A message goes after the writes before it (node.h: io.flush). */
static void send_id(void *ctx, __u32 to, struct pias_msg *m)
{
	struct pias_err e;

	piasd_map_queue_flush(ctx, &e);
	piasd_send_proxy(ctx, to, m);
}

static void send_peer(void *ctx, const struct pias_peer *to, struct pias_msg *m)
{
	struct pias_err e;

	piasd_map_queue_flush(ctx, &e);
	piasd_send(ctx, to, m);
}

static __u32 rand_u32(void *ctx)
{
	(void)ctx;
	return randombytes_random();
}

static void log_line(void *ctx, int level, const char *line)
{
	(void)ctx;
	piasd_log(level, "%s", line);
}

/* The log level piasd runs at: lines the node would make above it are not made. */
static int log_level(void)
{
	int level = PIASD_LOG_DEBUG;

	while (level > PIASD_LOG_ERR && !piasd_log_on(level))
		level--;
	return level;
}

static void node_config(struct piasd *d, struct pias_node_config *nc)
{
	const struct piasd_config *c = &d->cfg;
	const struct piasd_addr *own = c->addr4.family ? &c->addr4 : &c->addr6;

	*nc = (struct pias_node_config){
		.id = c->node_id,
		.self = { .addr = own->addr, .family = own->family, .port = c->listen_port },
		.incarnation = (__u32)(piasd_realtime() / 1000000000ull),
		/* seqs and generations from the clock: a restart goes on above the old ones */
		.seq_base = piasd_realtime(),
		.rap_k = c->rap_replicas,
		/* the dataplane's, mapped: a restart compares against it and writes what moved */
		.rap_table = d->maps.rap,
		.jap = {
			.refresh_timeout_ns = (__u64)c->target_timeout_ms * 1000000ull,
			.drain_timeout_ns = (__u64)c->drain_timeout_s * 1000000000ull,
			.down_expire_ns = PIAS_JAP_DOWN_EXPIRE_NS,
			.report_fraction = c->report_threshold_percent / 100.0,
			.shed_threshold = c->shed_threshold_percent / 100.0,
			.shed_hold_ns = (__u64)c->shed_hold_s * 1000000000ull,
			.conn_budget = c->conn_budget,
		},
		.rap = {
			.binding_ttl_ns = (__u64)c->binding_ttl_s * 1000000000ull,
			.negative_ttl_ns = PIAS_RAP_NEGATIVE_TTL_NS,
			.report_expiry_ns = PIAS_RAP_REPORT_EXPIRY_NS,
			.bind_interval_ns = PIAS_RAP_BIND_INTERVAL_NS,
			.alpha = c->proximity_percent / 100.0,
			/* each RAP of a large group draws its own samples */
			.seed = (__u64)randombytes_random() << 32 | randombytes_random(),
		},
		.members = {
			.probe_interval_ns = (__u64)c->probe_interval_ms * 1000000ull,
			.suspect_timeout_ns = (__u64)c->suspect_timeout_ms * 1000000ull,
			.reconnect_ns = (__u64)c->reconnect_ms * 1000000ull,
		},
	};
}

int piasd_node_init(struct piasd *d, struct pias_err *e)
{
	const struct piasd_config *c = &d->cfg;
	struct pias_peer seeds[PIASD_CONFIG_MAX_SEEDS];
	struct pias_node_config nc;
	struct pias_node_io io = {
		.ctx = d,
		.send = send_id,
		.send_peer = send_peer,
		.proxy_up = piasd_proxy_up,
		.proxy_down = piasd_proxy_down,
		.rand = rand_u32,
		.log = log_line,
		.log_level = log_level(),
	};
	int err;

	piasd_dataplane_io(&io);
	node_config(d, &nc);
	for (size_t i = 0; i < c->n_seeds; i++)
		seeds[i] = (struct pias_peer){ .addr = c->seeds[i].addr,
					       .family = c->seeds[i].family,
					       .port = c->seeds[i].port };
	err = pias_node_init(&d->node, &nc, &io, seeds, c->n_seeds, piasd_now(), e);
	if (err)
		return err;
	pias_replay_init(&d->replay);
	if (piasd_proxy_write(d, c->node_id, &nc.self.addr, nc.self.family, PIAS_PROXY_UP))
		return pias_err_set(e, -EIO, "cannot write this proxy's own entry");
	return 0;
}

void piasd_node_free(struct piasd *d)
{
	struct pias_err e;

	piasd_map_queue_flush(d, &e);
	piasd_map_queue_free(&d->map_queue);
	pias_node_free(&d->node);
	pias_replay_free(&d->replay);
}

void piasd_node_tick(struct piasd *d, __u64 now)
{
	/* not reachable for registrations: its targets' silence means nothing */
	if (!d->serving || (d->cfg.announce_command[0] && !d->announced))
		pias_node_jap_hold(&d->node, now);
	pias_node_tick(&d->node, now);
}

void piasd_node_recv(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from)
{
	struct pias_err e;
	int err = pias_node_recv(&d->node, m, from, piasd_now(), &e);

	if (err == -EPROTO)
		PIASD_INC(d, rx_unexpected);
	else if (err)
		LOG_D("%s from proxy %u: %s", pias_msg_type_name(m->hdr.type), m->hdr.sender_id,
		      e.msg);
}

int piasd_dial(struct piasd *d, const struct pias_ta *ta, __u32 permille, struct pias_err *e)
{
	int err = pias_node_dial(&d->node, ta, permille, piasd_now(), e);
	char t[PIAS_ADDR_STRLEN + 16];

	if (!err)
		LOG_I("%s dialled to %u%% here", pias_ta_str(ta, t, sizeof(t)), permille / 10);
	return err;
}

int piasd_drain(struct piasd *d, const struct pias_ta *ta, const union pias_addr *a, __u8 family,
		__u16 port, struct pias_err *e)
{
	struct pias_jap_endpoint ep = { .addr = *a, .port = port, .family = family };

	return pias_node_drain(&d->node, ta, &ep, piasd_now(), e);
}

int piasd_undrain(struct piasd *d, const struct pias_ta *ta, const union pias_addr *a, __u8 family,
		  __u16 port, struct pias_err *e)
{
	struct pias_jap_endpoint ep = { .addr = *a, .port = port, .family = family };

	return pias_node_undrain(&d->node, ta, &ep, piasd_now(), e);
}

int piasd_flush_bindings(struct piasd *d, struct pias_err *e)
{
	return pias_node_flush_bindings(&d->node, e);
}

int piasd_target_eject(struct piasd *d, const struct pias_ta *ta, __u32 id, bool out,
		       struct pias_err *e)
{
	return pias_node_eject(&d->node, ta, id, out, piasd_now(), e);
}

void piasd_withdraw(struct piasd *d)
{
	struct pias_err e;

	d->withdrawn = true;
	if (pias_node_leave(&d->node, piasd_now(), &e))
		LOG_W("leave: %s", e.msg);
	LOG_I("withdrawn: left the overlay; registrations refused");
}
