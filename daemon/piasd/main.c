// SPDX-License-Identifier: MIT
/*
 * piasd: the PIAS overlay daemon. `piasd --config FILE` runs it in the
 * foreground (log on stderr); `piasd --check-config FILE` checks the file and
 * the key files it names and exits. The dataplane must be attached first
 * (piasd-loader attach): piasd finds its maps pinned under [node] pin_root
 * and never detaches it, so stopping or restarting piasd (kill -9 included)
 * leaves established flows forwarding.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "piasd.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: piasd --config FILE [--log-level LEVEL] [--log-to WHERE] [-v]\n"
		   "       piasd --check-config FILE\n"
		   "       piasd --withdraw FILE\n"
		   "\n"
		   "The PIAS overlay daemon: membership, RAP, JAP and IAP protocol; it fills\n"
		   "the maps of the XDP dataplane attached by piasd-loader.\n"
		   "\n"
		   "  -c, --config FILE        run with FILE (docs/config.md)\n"
		   "      --check-config FILE  check FILE and the key files it names, then exit\n"
		   "      --withdraw FILE      run FILE's announce_command withdraw and exit\n"
		   "                           with its status (after a piasd that could not:\n"
		   "                           killed or hung; systemd's ExecStopPost)\n"
		   "  -v, --verbose            log debug messages too\n"
		   "      --log-level LEVEL    error, warning, info (default) or debug\n"
		   "      --log-to WHERE       stderr (default: time, level, message), journal\n"
		   "                           (stderr with syslog priority prefixes, for\n"
		   "                           systemd) or syslog (facility daemon)\n"
		   "  -h, --help               this text\n"
		   "\n"
		   "Signals: SIGTERM/SIGINT stop (the dataplane keeps forwarding), SIGHUP\n"
		   "reloads the overlay key ring. Control: piasctl -s SOCKET (config\n"
		   "[node] control_socket, default " PIASD_CONTROL_SOCKET_DEFAULT ").\n");
}

/* Key files: the overlay key ring (required) and the group master key (optional). */
static int load_keys(struct piasd *d, struct pias_err *e)
{
	int err = pias_keyring_load(d->cfg.overlay_key_file, &d->keys, e);

	if (err)
		return err;
	if (!d->cfg.group_key_file[0])
		return 0;
	err = pias_key_read_file(d->cfg.group_key_file, d->group_key, e);
	if (!err)
		d->have_group_key = true;
	return err;
}

/* The dataplane's configuration entry, from ours; fields we do not own are kept. */
static int write_dataplane_config(struct piasd *d, struct pias_err *e)
{
	const struct piasd_config *c = &d->cfg;
	struct pias_config dc;
	bool was_zero;
	int err = pias_config_get(&d->maps, &dc, &was_zero, e);

	if (err)
		return err;
	dc.self_id = c->node_id;
	dc.tunnel_port = c->tunnel_port;
	pias_config_set_mtu(&dc, (__u16)c->underlay_mtu);
	dc.nat_port_min = c->nat_port_min;
	dc.nat_port_max = c->nat_port_max;
	dc.binding_ttl_hint = c->binding_ttl_s;
	memset(&dc.self4, 0, sizeof(dc.self4));
	memset(&dc.self6, 0, sizeof(dc.self6));
	memset(&dc.nat4, 0, sizeof(dc.nat4));
	memset(&dc.nat6, 0, sizeof(dc.nat6));
	if (c->addr4.family)
		dc.self4 = c->addr4.addr;
	if (c->addr6.family)
		dc.self6 = c->addr6.addr;
	if (c->nat4.family)
		dc.nat4 = c->nat4.addr;
	if (c->nat6.family)
		dc.nat6 = c->nat6.addr;
	dc.nat4_count = (__u16)c->nat4_count;
	dc.nat6_count = (__u16)c->nat6_count;
	dc.ct = c->ct;
	dc.flags = c->affinity ? dc.flags | PIAS_CFG_F_AFFINITY : dc.flags & ~PIAS_CFG_F_AFFINITY;
	return pias_config_set(&d->maps, &dc, e);
}

/* Prefixes and the registration service's local binding. */
static int write_anycast(struct piasd *d, struct pias_err *e)
{
	const struct piasd_config *c = &d->cfg;
	struct pias_ta reg = {
		.addr = c->registration_addr.addr,
		.port = c->registration_port,
		.proto = 17,
		.family = c->registration_addr.family,
	};
	int err;

	for (size_t i = 0; i < c->n_prefixes; i++) {
		err = pias_prefix_add(&d->maps, &c->prefixes[i], e);
		if (err)
			return err;
	}
	return pias_binding_set_local(&d->maps, &reg, e);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct piasd *d = arg;
	struct pias_err e;

	(void)what;
	if (sig == SIGHUP) {
		if (piasd_keys_reload(d, &e))
			LOG_E("SIGHUP: key ring not reloaded, the old one stays: %s", e.msg);
		return;
	}
	LOG_I("signal %d: stopping (the dataplane keeps forwarding)", (int)sig);
	piasd_stop(d);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct piasd *d = arg;
	__u64 now = piasd_now();

	(void)fd;
	(void)what;
	piasd_node_tick(d, now);
	piasd_liveness_tick(d, now);
	piasd_cookie_tick(d, now);
	piasd_outliers_tick(d, now);
	piasd_conns_tick(d, now);
	piasd_announce_tick(d, now);
}

static void on_dp_events(evutil_socket_t fd, short what, void *arg)
{
	struct piasd *d = arg;
	struct pias_err e;

	(void)fd;
	(void)what;
	if (pias_event_reader_poll(d->dp_events, 0, &e) < 0)
		LOG_W("dataplane events: %s", e.msg);
}

void piasd_stop(struct piasd *d)
{
	event_base_loopbreak(d->base);
}

static int setup(struct piasd *d, struct pias_err *e)
{
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	struct timeval tick = { 0, PIASD_TICK_MS * 1000 };
	int err;

	/* its message names the pin root and says how to attach the dataplane */
	err = pias_maps_open(&d->maps, d->cfg.pin_root, e);
	if (err)
		return err;
	err = write_dataplane_config(d, e);
	if (!err)
		err = write_anycast(d, e);
	if (!err)
		err = piasd_node_init(d, e);
	if (!err)
		err = piasd_register_init(d, e);
	if (!err)
		err = piasd_conns_init(d, e);
	if (!err)
		err = piasd_outliers_init(d, e);
	if (!err)
		err = piasd_restore(d, e);
	if (err)
		return err;

	d->base = event_base_new();
	if (!d->base)
		return pias_err_set(e, -ENOMEM, "libevent: cannot create the event loop");
	piasd_cookie_tick(d, piasd_now()); /* a secret before the first REGISTER */
	err = piasd_net_open(d, e);
	if (!err)
		err = piasd_liveness_open(d, e);
	if (!err)
		err = piasd_ctl_open(d, e);
	if (!err)
		err = piasd_metrics_open(d, e);
	if (!err)
		err = piasd_notify_open(d, e);
	if (err)
		return err;
	d->dp_events = pias_event_reader_new(d->maps.fd[PIAS_M_EVENTS], piasd_dp_event, d, e);
	if (!d->dp_events)
		return -EIO;
	d->ev_dp = event_new(d->base, pias_event_reader_fd(d->dp_events), EV_READ | EV_PERSIST,
			     on_dp_events, d);
	d->ev_tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
	if (!d->ev_dp || !d->ev_tick || event_add(d->ev_dp, NULL) || event_add(d->ev_tick, &tick))
		return pias_err_set(e, -ENOMEM, "libevent: cannot add the timer and event reader");
	for (int i = 0; i < 3; i++) {
		d->ev_sig[i] = evsignal_new(d->base, sigs[i], on_signal, d);
		if (!d->ev_sig[i] || event_add(d->ev_sig[i], NULL))
			return pias_err_set(e, -ENOMEM, "libevent: cannot watch signal %d",
					    sigs[i]);
	}
	return 0;
}

static void teardown(struct piasd *d)
{
	for (int i = 0; i < 3; i++)
		if (d->ev_sig[i])
			event_free(d->ev_sig[i]);
	if (d->ev_tick)
		event_free(d->ev_tick);
	if (d->ev_dp)
		event_free(d->ev_dp);
	if (d->dp_events)
		pias_event_reader_free(d->dp_events);
	piasd_notify_close(d);
	piasd_metrics_close(d);
	piasd_ctl_close(d);
	piasd_liveness_close(d);
	piasd_net_close(d);
	piasd_conns_free(d);
	piasd_outliers_free(d);
	piasd_register_free(d);
	piasd_node_free(d);
	if (d->base)
		event_base_free(d->base);
	pias_maps_close(&d->maps);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "withdraw", required_argument, NULL, 'W' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "log-to", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct piasd d; /* large (membership, replay): not on the stack */
	int c, err, level = PIASD_LOG_INFO, to = PIASD_LOG_TO_STDERR;
	bool withdraw = false;
	struct pias_err e;

	d.ovl_fd[0] = d.ovl_fd[1] = d.reg_fd = d.ctl_fd = d.tun_fd[0] = d.tun_fd[1] = -1;
	while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'C':
			d.config_path = optarg;
			d.check_only = true;
			break;
		case 'W':
			d.config_path = optarg;
			withdraw = true;
			break;
		case 'v':
			level = PIASD_LOG_DEBUG;
			break;
		case 'L':
			level = piasd_log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr,
					"piasd: --log-level '%s': error, warning, info or debug\n",
					optarg);
				return 2;
			}
			break;
		case 'T':
			to = piasd_log_to_parse(optarg);
			if (to < 0) {
				fprintf(stderr, "piasd: --log-to '%s': stderr, journal or syslog\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !d.config_path) {
		fprintf(stderr, "piasd: %s\n",
			optind != argc ? "unexpected argument" : "--config FILE is required");
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "piasd: libsodium failed to initialise\n");
		return 1;
	}
	if (withdraw) {
		/* no keys, no maps: only the command, even on a broken host */
		if (piasd_config_load(d.config_path, &d.cfg, &e)) {
			fprintf(stderr, "piasd: %s\n", e.msg);
			return 2;
		}
		err = piasd_withdraw_now(&d.cfg);
		if (err)
			fprintf(stderr, "piasd: announce_command withdraw: exit status %d\n", err);
		return err ? 1 : 0;
	}
	if (piasd_config_load(d.config_path, &d.cfg, &e) || load_keys(&d, &e)) {
		fprintf(stderr, "piasd: %s\n", e.msg);
		return 2;
	}
	if (d.check_only) {
		printf("%s: OK (proxy %u, %zu prefixes, %zu keys, %s)\n", d.config_path,
		       d.cfg.node_id, d.cfg.n_prefixes, d.keys.n,
		       d.have_group_key ? "registrations accepted"
					: "no group key: no registrations");
		return 0;
	}
	piasd_log_level(level);
	piasd_log_to((enum piasd_log_to)to);
	signal(SIGPIPE, SIG_IGN);
	d.started_ns = piasd_now();
	d.next_seq = piasd_realtime();
	err = setup(&d, &e);
	if (err) {
		LOG_E("%s", e.msg);
		teardown(&d);
		return 1;
	}
	LOG_I("proxy %u running: pins %s, control %s, %s", d.cfg.node_id, d.cfg.pin_root,
	      d.cfg.control_socket,
	      d.have_group_key ? "registrations accepted" : "no group key: no registrations");
	piasd_notify_ready(&d);
	event_base_dispatch(d.base);
	piasd_notify_stopping(&d);
	piasd_announce_stop(&d);
	teardown(&d);
	LOG_I("proxy %u stopped", d.cfg.node_id);
	return 0;
}
