/* SPDX-License-Identifier: MIT */
/*
 * piasd's control socket protocol, shared by piasd (server) and piasctl
 * (client). Deliberately line-based text, so that an operator can also talk
 * to it with `printf 'show status\n' | socat - UNIX:/run/pias/piasd.sock`.
 *
 * Transport: a unix stream socket, PIAS_CTL_SOCKET_DEFAULT unless piasd is
 * configured otherwise; piasctl takes `-s PATH`, else the environment
 * variable PIAS_CTL_SOCKET_ENV, else the default. Who may connect is the
 * socket file's permissions (root only by default).
 *
 * One request per connection:
 *
 *   client -> server   ONE line: the command words joined by single spaces,
 *                      ended by "\n"; at most PIAS_CTL_REQUEST_MAX bytes
 *                      including the "\n", no NUL, no other control
 *                      characters. The client keeps its side open until it
 *                      has read the answer (a server must not take EOF after
 *                      the request as a hang-up).
 *   server -> client   a status line, then (after OK) the body, then the
 *                      server closes the connection; EOF ends the body.
 *
 *   status line        "OK\n"                   done; the body follows
 *                      "ERR <message>\n"        failed; no body. The message
 *                                               is one line for a human, and
 *                                               names what was wrong
 *                      (at most PIAS_CTL_STATUS_MAX bytes with the "\n")
 *
 * A request that is too long, not one line, not complete within
 * PIAS_CTL_TIMEOUT_MS of the connect, or not a known command gets "ERR ..."
 * too. A server holds at most PIAS_CTL_CONNS_MAX connections: one more
 * closes the one that has waited longest for its request line. The client gives up on a server silent for
 * PIAS_CTL_TIMEOUT_MS (between bytes, not in total).
 *
 * Requests (words as piasctl passes them; [--json]: the body is one JSON
 * document instead of text for people):
 *
 *   show proxies [--json]      members of the overlay, their state, coordinates
 *   show ring [--json]         the consistent hashing ring and RAP assignment
 *   show groups [--json]       groups this proxy is RAP for, with their JAPs
 *   show bindings [--json]     the IAP's binding cache
 *   show targets [--json]      targets registered here (this proxy as JAP)
 *   show counters [--json]     dataplane and control plane counters
 *   show status [--json]       one summary: id, state, uptime, counts
 *   drain TA ENDPOINT          stop new flows to a target here (udp:203.0.113.1:53 198.51.100.10:53);
 *                              its agent's REGISTERs are refused until undrain
 *   undrain TA ENDPOINT        undo a drain: the target takes new flows again
 *   dial TA PERCENT            this JAP's share of the group's new flows (0-100)
 *   withdraw                   leave the overlay and stop announcing (maintenance)
 *   flush bindings             drop every cached binding
 *   keys reload                reload the overlay key ring (as SIGHUP does)
 *
 * Successful commands that change something answer "OK\n" with an optional
 * one-line body saying what was done.
 */
#ifndef PIAS_DAEMON_CTL_PROTO_H
#define PIAS_DAEMON_CTL_PROTO_H

#define PIAS_CTL_SOCKET_DEFAULT "/run/pias/piasd.sock"
#define PIAS_CTL_SOCKET_ENV	"PIASD_SOCKET"

#define PIAS_CTL_REQUEST_MAX	4096 /* bytes of the request line, "\n" included */
#define PIAS_CTL_STATUS_MAX	4096 /* bytes of the status line, "\n" included */
#define PIAS_CTL_TIMEOUT_MS	10000
#define PIAS_CTL_CONNS_MAX	32 /* open at once; one more closes the longest waiting */

#define PIAS_CTL_OK		"OK"
#define PIAS_CTL_ERR		"ERR"
#define PIAS_CTL_JSON		"--json"

/* What `show` knows, for initializers: { PIAS_CTL_SHOW_SUBJECTS, NULL }. */
#define PIAS_CTL_SHOW_SUBJECTS                                                                     \
	"proxies", "ring", "groups", "bindings", "targets", "counters", "status"

#endif
