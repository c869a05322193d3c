/* SPDX-License-Identifier: MIT */
/* pias-delay's relay: two AF_PACKET sockets, two delay queues, one loop. */
#ifndef PIAS_DELAY_RELAY_H
#define PIAS_DELAY_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct relay_opts {
	const char *if_a, *if_b;
	uint64_t delay_ab_ns; /* frames received on a, sent out of b */
	uint64_t delay_ba_ns;
	size_t queue_bytes;	       /* per direction */
	unsigned int stats_interval_s; /* 0: counters only at exit */
	int gro;		       /* GRO on on both interfaces instead of off (iface.h) */
};

/*
 * Relays until SIGTERM, SIGINT or SIGHUP, then prints the counters and
 * undoes its changes to the interfaces. Returns the exit status: 0 after a
 * signal, 1 on an error (named on stderr).
 */
int relay_run(const struct relay_opts *o);

#endif
