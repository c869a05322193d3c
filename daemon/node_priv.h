/* SPDX-License-Identifier: MIT */
/*
 * What the node's files share (node.c: inputs, loopback queue, ticks;
 * node_ring.c: membership, ring, RAP table; node_jap.c, node_rap.c,
 * node_iap.c: one role each). Not for the node's owners: they use node.h.
 */
#ifndef PIAS_DAEMON_NODE_PRIV_H
#define PIAS_DAEMON_NODE_PRIV_H

#include <errno.h>

#include "node.h"

#define NODE_INC(n, name)      ((n)->counters[PIAS_NODE_C_##name]++)
#define NODE_ADD(n, name, val) ((n)->counters[PIAS_NODE_C_##name] += (val))

/* Double *cap (256 at first) and realloc *a to it; -ENOMEM leaves both as they were. */
int node_grow(void **a, size_t *cap, size_t elem);

/* Run call with action list l emptied first; on -ENOBUFS grow l and run it again. */
#define NODE_RUN(l, call)                                                                          \
	({                                                                                         \
		int _err;                                                                          \
		for (;;) {                                                                         \
			(l).n = 0;                                                                 \
			_err = (call);                                                             \
			if (_err != -ENOBUFS ||                                                    \
			    node_grow((void **)&(l).a, &(l).cap, sizeof((l).a[0])))                \
				break;                                                             \
		}                                                                                  \
		_err;                                                                              \
	})

void node_log(const struct pias_node *n, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define NODE_LOG_W(n, ...) node_log(n, PIAS_NODE_LOG_WARN, __VA_ARGS__)
#define NODE_LOG_I(n, ...) node_log(n, PIAS_NODE_LOG_INFO, __VA_ARGS__)
#define NODE_LOG_D(n, ...) node_log(n, PIAS_NODE_LOG_DEBUG, __VA_ARGS__)
bool node_log_on(const struct pias_node *n, int level);

/* A write's result: logged if it failed (the owner counts map errors). */
void node_write_done(struct pias_node *n, int err, const struct pias_err *e);
/* The owner's queued writes made (io.flush), at the end of an action list. */
void node_flush(struct pias_node *n);

/* To proxy id: through io.send, or through the loopback queue if it is this node. */
void node_send(struct pias_node *n, __u32 to, struct pias_msg *m);

/* node_ring.c */
int node_ring_init(struct pias_node *n, const struct pias_peer *seeds, size_t nseeds, __u64 now,
		   struct pias_err *e);
void node_ring_free(struct pias_node *n);
int node_members_recv(struct pias_node *n, const struct pias_msg *m, const struct pias_peer *from,
		      __u64 now, struct pias_err *e);
void node_ring_tick(struct pias_node *n, __u64 now);
/* The RAP of ta the IAP asks (the table's first; 0: none). */
__u32 node_rap_of(void *ctx, const struct pias_ta *ta);
/* membership's RTT estimate, for the RAP's proximity-aware picks */
__u64 node_rtt(void *ctx, __u32 a, __u32 b);

/* node_jap.c */
int node_jap_init(struct pias_node *n, struct pias_err *e);
void node_jap_free(struct pias_node *n);
void node_jap_tick(struct pias_node *n, __u64 now);
/*
 * The groups this JAP holds in the slots of moved (the RAP table changed
 * there: new RAPs learn them at once), or every group if moved is NULL
 * (the periodic refresh, which alone restarts the period), to their RAPs
 * as the table says now.
 */
void node_rereport(struct pias_node *n, __u64 now, const struct pias_slot_set *moved);
void node_inval_event(struct pias_node *n, const struct pias_event *ev, __u64 now);
int node_jap_register(struct pias_node *n, const struct pias_ta *ta,
		      const struct pias_jap_endpoint *ep, __u32 weight, __u64 now,
		      struct pias_err *e);
int node_jap_leave(struct pias_node *n, const struct pias_ta *ta, __u32 id, bool down, __u64 now,
		   struct pias_err *e);
int node_jap_dial(struct pias_node *n, const struct pias_ta *ta, __u32 permille, __u64 now,
		  struct pias_err *e);
int node_jap_drain(struct pias_node *n, const struct pias_ta *ta,
		   const struct pias_jap_endpoint *ep, __u64 now, struct pias_err *e);
int node_jap_undrain(struct pias_node *n, const struct pias_ta *ta,
		     const struct pias_jap_endpoint *ep, __u64 now, struct pias_err *e);
int node_jap_eject(struct pias_node *n, const struct pias_ta *ta, __u32 id, bool out, __u64 now,
		   struct pias_err *e);

/* node_rap.c */
int node_rap_init(struct pias_node *n, struct pias_err *e);
void node_rap_free(struct pias_node *n);
int node_rap_recv(struct pias_node *n, const struct pias_msg *m, __u64 now, struct pias_err *e);
int node_rap_event(struct pias_node *n, const struct pias_event *ev, __u64 now, struct pias_err *e);
void node_rap_jap_dead(struct pias_node *n, __u32 id, __u64 now);
void node_rap_tick(struct pias_node *n, __u64 now);

/* node_iap.c */
int node_iap_init(struct pias_node *n, struct pias_err *e);
void node_iap_free(struct pias_node *n);
int node_iap_recv(struct pias_node *n, const struct pias_msg *m, __u64 now, struct pias_err *e);
void node_iap_jap_dead(struct pias_node *n, __u32 id, __u64 now);
void node_iap_tick(struct pias_node *n, __u64 now);

#endif
