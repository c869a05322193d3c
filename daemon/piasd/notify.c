// SPDX-License-Identifier: MIT
/*
 * systemd integration (sd_notify(3), libsystemd): READY=1 once piasd has
 * its maps, sockets and control socket; STATUS= with what it serves;
 * WATCHDOG=1 from a timer in the event loop, at half the unit's
 * WatchdogSec, so that a loop that hangs stops the pings and systemd
 * restarts piasd (its ExecStopPost, `piasd --withdraw`, takes the anycast
 * route away meanwhile: dist/systemd/piasd.service). Outside systemd
 * (no NOTIFY_SOCKET) every call does nothing.
 */
#include <errno.h>
#include <string.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "piasd.h"

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

int piasd_notify_open(struct piasd *d, struct pias_err *e)
{
	uint64_t usec = 0;
	struct timeval half;
	int r = sd_watchdog_enabled(0, &usec);

	if (r < 0)
		return pias_err_set(e, r, "systemd watchdog: %s", strerror(-r));
	if (r == 0 || !usec)
		return 0;
	half.tv_sec = (time_t)(usec / 2 / 1000000);
	half.tv_usec = (suseconds_t)(usec / 2 % 1000000);
	d->ev_watchdog = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
	if (!d->ev_watchdog || event_add(d->ev_watchdog, &half))
		return pias_err_set(e, -ENOMEM, "systemd watchdog: cannot add its timer");
	LOG_I("systemd watchdog: a ping every %llu ms", (unsigned long long)(usec / 2000));
	return 0;
}

void piasd_notify_ready(struct piasd *d)
{
	sd_notifyf(0, "READY=1\nSTATUS=proxy %u running, %s", d->cfg.node_id,
		   d->have_group_key ? "registrations accepted" : "no group key: no registrations");
}

void piasd_notify_stopping(struct piasd *d)
{
	(void)d;
	sd_notify(0, "STOPPING=1");
}

void piasd_notify_close(struct piasd *d)
{
	if (d->ev_watchdog)
		event_free(d->ev_watchdog);
	d->ev_watchdog = NULL;
}
