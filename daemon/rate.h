/* SPDX-License-Identifier: MIT */
/*
 * A rate limit for what outsiders can make piasd do: log lines and
 * refusals caused by datagrams anyone can send. GCRA (a token bucket kept
 * as one time): at most `burst` at once, then `per_s` a second. Pure: the
 * caller gives the time.
 */
#ifndef PIAS_DAEMON_RATE_H
#define PIAS_DAEMON_RATE_H

#include <stdbool.h>

#include <pias/types.h>

struct pias_rate {
	__u64 interval_ns; /* 1 s / per_s */
	__u64 burst_ns;	   /* (burst - 1) intervals of credit */
	__u64 tat;	   /* theoretical arrival time of the next allowed event */
	__u64 suppressed;  /* refused since the last allowed one */
};

/* per_s >= 1, burst >= 1. */
void pias_rate_init(struct pias_rate *r, unsigned int per_s, unsigned int burst);

/*
 * May one more happen at now? If not, it is counted in r->suppressed. On a
 * yes, *was_suppressed (may be NULL) gets how many were refused since the
 * last yes, and the count starts again.
 */
bool pias_rate_take(struct pias_rate *r, __u64 now, __u64 *was_suppressed);

#endif
