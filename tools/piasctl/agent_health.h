/* SPDX-License-Identifier: MIT */
/*
 * The agent's health checks (target join --check): one checker per
 * endpoint, running its check (check_probe.h) every interval, and the
 * rise/fall machine (daemon/health.h) deciding. The agent loop hears of
 * each change of state and registers or leaves accordingly.
 *
 * Runs follow each other: the next starts interval_ms after the last one
 * started, or at once when that one ran longer, so a check that times out
 * never overlaps the next one.
 */
#ifndef PIAS_PIASCTL_AGENT_HEALTH_H
#define PIAS_PIASCTL_AGENT_HEALTH_H

#include <sys/socket.h>

#include <event2/event.h>

#include "health.h"

struct check_opts {
	struct pias_check_spec spec; /* kind 0: no check */
	unsigned int interval_ms, timeout_ms, rise, fall;
};

struct checker;

/* s entered (UP or DOWN) at checker c, because of the last run's why. */
typedef void (*checker_changed_fn)(void *arg, struct checker *c, enum pias_health_state s,
				   const char *why);

/* A checker of o's check against to; it starts at once. NULL: out of memory. */
struct checker *checker_new(struct event_base *base, const struct check_opts *o,
			    const struct sockaddr_storage *to, socklen_t to_len, const char *to_str,
			    checker_changed_fn changed, void *arg);

enum pias_health_state checker_state(const struct checker *c);

/* "http:/healthz at 192.0.2.10:80" */
const char *checker_name(const struct checker *c);

/* Its counts, for the last line: checks run, and failed. */
void checker_counts(const struct checker *c, unsigned long long *checks,
		    unsigned long long *failed);

void checker_free(struct checker *c);

#endif
