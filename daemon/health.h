/* SPDX-License-Identifier: MIT */
/*
 * A target's health as its agent sees it (piasctl target join --check):
 * what to check, and the rise/fall machine that turns check results into
 * "serving" or "not serving".
 *
 * An agent whose server dies while the host and the agent stay up would
 * otherwise go on refreshing, and the JAP would keep sending new flows to a
 * server that cannot take them. With a check, the agent keeps the target
 * registered only while the check passes: it LEAVEs when the target goes
 * DOWN (the JAP drains it at once: no new flows) and registers again when
 * it comes UP.
 *
 * Checks (the spec's text form, parsed by pias_check_parse):
 *
 *   tcp            a TCP connection to the endpoint is accepted
 *   http[:PATH]    GET PATH (default /) at the endpoint answers 2xx or 3xx
 *   dns[:NAME]     a query for NAME (default localhost) type A at the
 *                  endpoint is answered NOERROR or NXDOMAIN
 *   exec:COMMAND   /bin/sh -c COMMAND exits 0 (PIAS_CHECK_ADDR and
 *                  PIAS_CHECK_PORT in its environment name the endpoint)
 *
 * A check that does not finish within timeout_ns fails: a server stopped
 * with SIGSTOP accepts TCP connections (the kernel completes handshakes
 * into its backlog) but answers nothing, so http and dns catch it and tcp
 * does not.
 *
 * Rise and fall, as anycast-healthchecker and HAProxy count them: the first
 * result decides the state (so that a healthy target registers at its first
 * check, and a dead one never does); after that, fall consecutive failures
 * take an UP target DOWN and rise consecutive passes bring a DOWN one UP.
 * With the defaults (a check every 200 ms, timeout 200 ms, fall 2), a dead
 * server is DOWN 200-400 ms after it died, a hung one 400-800 ms after:
 * within the 900 ms in which a JAP notices a dead agent.
 *
 * Pure: no I/O and no clock; the caller runs the checks and feeds results.
 */
#ifndef PIAS_DAEMON_HEALTH_H
#define PIAS_DAEMON_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "err.h"

#define PIAS_CHECK_INTERVAL_MS 200
#define PIAS_CHECK_TIMEOUT_MS  200
#define PIAS_CHECK_RISE	       2
#define PIAS_CHECK_FALL	       2
#define PIAS_CHECK_ARG_LEN     256
#define PIAS_CHECK_DNS_NAME    "localhost"

enum pias_check_kind {
	PIAS_CHECK_TCP = 1,
	PIAS_CHECK_HTTP,
	PIAS_CHECK_DNS,
	PIAS_CHECK_EXEC,
};

struct pias_check_spec {
	enum pias_check_kind kind;
	char arg[PIAS_CHECK_ARG_LEN]; /* http: path; dns: name; exec: command; tcp: "" */
};

/*
 * s as a check ("tcp", "http:/healthz", "dns:example.org", "exec:CMD").
 * -EINVAL naming what is wrong: an unknown kind, an argument to tcp, an
 * http path that does not start with '/' or holds spaces or control
 * characters, an empty or over-long argument.
 */
int pias_check_parse(const char *s, struct pias_check_spec *c, struct pias_err *e);

/* The spec's text form (what pias_check_parse takes back); buf. */
const char *pias_check_str(const struct pias_check_spec *c, char *buf, size_t len);

enum pias_health_state {
	PIAS_HEALTH_UNKNOWN = 0, /* no result yet */
	PIAS_HEALTH_UP,
	PIAS_HEALTH_DOWN,
};

struct pias_health {
	__u32 rise, fall;
	enum pias_health_state state;
	__u32 run;	      /* consecutive results against the state */
	__u64 checks, failed; /* all results, and the failed ones */
};

/* rise and fall of at least 1 (0 takes the default). */
void pias_health_init(struct pias_health *h, __u32 rise, __u32 fall);

/*
 * One check's result. Returns the state entered (UP or DOWN) if this
 * result changed it, PIAS_HEALTH_UNKNOWN otherwise.
 */
enum pias_health_state pias_health_result(struct pias_health *h, bool pass);

const char *pias_health_state_name(enum pias_health_state s);

#endif
