/* SPDX-License-Identifier: MIT */
/*
 * Registration cookies (docs/protocol.md 6.5): a JAP registers a target it
 * does not know only once the sender has shown that it receives at its
 * source address, by sending back a cookie the JAP made for that address
 * and that registration. Stateless, as DTLS's HelloVerifyRequest: the
 * cookie is a keyed hash (SipHash-2-4, 128-bit output) of the REGISTER's
 * TA and endpoint and the datagram's source, under a secret that rotates
 * every PIAS_COOKIE_PERIOD_NS; the secret before the current one is still
 * accepted, so a cookie lives one to two periods.
 *
 * What it stops: a REGISTER copied off the wire and replayed to another
 * proxy. That proxy answers with a cookie, which only the real sender
 * receives, and a registered agent ignores cookies from a proxy other than
 * its JAP (daemon/agent.h). Each proxy has its own secret, so a cookie
 * made by one is worth nothing at another.
 *
 * Pure: the caller brings the time and the random secrets.
 */
#ifndef PIAS_DAEMON_COOKIE_H
#define PIAS_DAEMON_COOKIE_H

#include <stdbool.h>

#include "msg.h"

#define PIAS_COOKIE_SECRET_LEN 16	      /* SipHash's key */
#define PIAS_COOKIE_PERIOD_NS  10000000000ull /* 10 s: a cookie lives 10-20 s */

struct pias_cookie_jar {
	__u8 cur[PIAS_COOKIE_SECRET_LEN];
	__u8 prev[PIAS_COOKIE_SECRET_LEN];
	bool have_cur, have_prev;
	__u64 rotated_ns;
};

/* Is it time for a new secret (never had one, or a period has passed)? */
bool pias_cookie_due(const struct pias_cookie_jar *j, __u64 now);

/* secret becomes the current one; the current one is kept as previous. */
void pias_cookie_rotate(struct pias_cookie_jar *j, __u64 now,
			const __u8 secret[PIAS_COOKIE_SECRET_LEN]);

/* The cookie for REGISTER r from `from`, under the current secret. */
void pias_cookie_make(const struct pias_cookie_jar *j, const struct pias_msg_register *r,
		      const struct pias_peer *from, __u8 out[PIAS_MSG_COOKIE_LEN]);

/* Is r->cookie one this jar made for r and `from` (current or previous secret)? */
bool pias_cookie_ok(const struct pias_cookie_jar *j, const struct pias_msg_register *r,
		    const struct pias_peer *from);

#endif
