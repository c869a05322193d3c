/* SPDX-License-Identifier: MIT */
/*
 * One health check run against one endpoint, on the agent's libevent loop
 * (the kinds: daemon/health.h). The I/O edge of the agent's checks: TCP
 * connect, HTTP with libevent's evhttp, DNS with its evdns, a command in a
 * child process watched through a pidfd. Each run ends in exactly one call
 * of the done callback, by timeout at the latest.
 */
#ifndef PIAS_PIASCTL_CHECK_PROBE_H
#define PIAS_PIASCTL_CHECK_PROBE_H

#include <stdbool.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "health.h"

struct probe;

/* pass, or why not ("connection refused", "HTTP 503", "timed out after 200 ms"). */
typedef void (*probe_done_fn)(void *arg, bool pass, const char *why);

/* A probe of spec against to (copied). NULL: out of memory. */
struct probe *probe_new(struct event_base *base, const struct pias_check_spec *spec,
			const struct sockaddr_storage *to, socklen_t to_len, probe_done_fn done,
			void *arg);

/*
 * Start one run, finished within timeout_ms (done is called later, never
 * from inside this call). -EBUSY while a run is going on; other errors
 * (no socket, no fork) are a failed check, reported through done too.
 */
int probe_run(struct probe *p, unsigned int timeout_ms);

bool probe_running(const struct probe *p);

/* Ends a run without calling done (its child, if any, killed); frees. */
void probe_free(struct probe *p);

#endif
