/* SPDX-License-Identifier: MIT */
/*
 * Dataplane liveness of proxies whose piasd is gone (membership: dead or
 * left). Membership hears piasd; the flows pinned to a proxy live in its
 * XDP program, which keeps forwarding without piasd. So a proxy that
 * membership gives up on is watched here: echoed every echo_interval_ns,
 * and held alive (the dataplane state DP_ONLY: its pinned flows go on)
 * until timeout_ns pass without an answer. Then it is dead for good
 * (DOWN: its flows move). Membership bringing it back ends the watch.
 *
 * Pure: the caller sends the echoes and writes the states the actions
 * name. A linear list: only proxies in trouble are in it.
 */
#ifndef PIAS_DAEMON_DPLIVE_H
#define PIAS_DAEMON_DPLIVE_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/types.h>

#include "err.h"

struct pias_dplive_config {
	__u64 echo_interval_ns;
	__u64 timeout_ns; /* 0: nothing is watched; a proxy whose piasd is gone is dead */
};

struct pias_dplive_peer {
	__u32 id;
	__u64 deadline_ns;  /* dead if no answer comes before */
	__u64 next_echo_ns; /* the next echo is due */
};

struct pias_dplive {
	struct pias_dplive_config cfg;
	struct pias_dplive_peer *p;
	size_t n, cap;
};

enum pias_dplive_action_kind {
	PIAS_DPLIVE_ECHO = 1, /* send id an echo request */
	PIAS_DPLIVE_DEAD,     /* id's dataplane did not answer in time: no longer watched */
};

struct pias_dplive_action {
	enum pias_dplive_action_kind kind;
	__u32 id;
};

/* A caller-provided action buffer: n used of cap. */
struct pias_dplive_actions {
	struct pias_dplive_action *a;
	size_t cap;
	size_t n;
};

/* A zero echo interval with a timeout: -EINVAL. */
int pias_dplive_init(struct pias_dplive *dl, const struct pias_dplive_config *cfg,
		     struct pias_err *e);
void pias_dplive_free(struct pias_dplive *dl);

/*
 * id's piasd is gone: watch its dataplane from now, alive for timeout_ns
 * unless it answers (an echo goes at the next tick). Returns true if it
 * is watched (the caller writes DP_ONLY), false if it is dead at once
 * (timeout 0, or no memory: the caller writes DOWN). Already watched:
 * unchanged.
 */
bool pias_dplive_watch(struct pias_dplive *dl, __u32 id, __u64 now);

/* id's piasd is back (or it is gone from membership): no longer watched. */
void pias_dplive_forget(struct pias_dplive *dl, __u32 id);

/* A fresh answer from id's dataplane: alive until now + timeout_ns. False: not watched. */
bool pias_dplive_answer(struct pias_dplive *dl, __u32 id, __u64 now);

bool pias_dplive_watched(const struct pias_dplive *dl, __u32 id);

/*
 * The echoes due and the deaths past their deadline (forgotten here).
 * -ENOBUFS: acts is too small (nothing changed; grow it and call again).
 */
int pias_dplive_tick(struct pias_dplive *dl, __u64 now, struct pias_dplive_actions *acts);

#endif
