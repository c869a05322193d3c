/* SPDX-License-Identifier: MIT */
/*
 * What the rows (rows.c) stand on (world.c): one proxy's node, the one
 * piasd runs (daemon/node.h), with an io table that does what piasd's does
 * short of the I/O: every message it sends is encoded and MACed into a
 * send buffer (not sent; pb_st.msgs), every map write it asks for is
 * counted (not made; pb_st.map_writes). It knows NPROXIES proxies, learnt
 * through its membership as piasd learns them, so that each TA has its
 * RAPs. The datagrams others would send it are built here with their MACs
 * and fresh seqs, and checked on receipt in net.c's order.
 */
#ifndef PIAS_PIASD_BENCH_WORLD_H
#define PIAS_PIASD_BENCH_WORLD_H

#include <stdbool.h>

#include "cookie.h"
#include "keys.h"
#include "msg.h"
#include "node.h"
#include "rows.h"

#define PB_SELF_ID   1
#define PB_NPROXIES  1000	     /* proxies on the ring: the RAPs, JAPs and IAPs of the TAs */
#define PB_TICK_NS   50000000ull     /* PIASD_TICK_MS */
#define PB_DGRAM_MAX 160	     /* the largest datagram built here */
#define PB_LIFE_NS   300000000000ull /* binding_ttl_s default, 300 s */

struct pb_dgram {
	__u16 len;
	__u8 buf[PB_DGRAM_MAX];
};

extern struct pb_params pb_par;
extern struct pias_ta *pb_tas;		  /* pb_par.tas of them */
extern __u8 (*pb_tokens)[PIAS_KEY_LEN];	  /* what each TA's targets hold */
extern __u8 pb_group_key[PIAS_KEY_LEN];	  /* the overlay's group master key */
extern struct pias_cookie_jar pb_cookies; /* the JAP's; targets send back what it made */
extern struct pias_net pb_prefix;	  /* the overlay's anycast prefix */
extern struct pias_msg pb_rx;		  /* the message received (net.c keeps one too) */

/*
 * Target slot j of TA i's address: in 10.0.0.0/8, one per target of a TA
 * (TAs may share addresses: the JAP tells endpoints apart per TA).
 */
__be32 pb_target_addr(unsigned int i, unsigned int j);

/*
 * The row's proxy: a new node (the previous one freed) with the ring of
 * PB_NPROXIES, its IAP and RAP configured so (NULL: piasd's defaults,
 * pb_rap_config for the RAP), its
 * membership quiet (a probe an hour: these rows measure the roles, not
 * SWIM), its periodic re-report beyond any row's time (a burst of every
 * group's REPORTs in the middle of a row would be another row). Its clock
 * is the row's (pb_vnow).
 */
struct pias_node *pb_node_new(const struct pias_iap_config *iap, const struct pias_rap_config *rap);
/* The RAP as piasd configures it by default. */
extern const struct pias_rap_config pb_rap_config;
void pb_node_free(void);
/* The node's tick every PB_TICK_NS of the row's clock; returns the time. */
__u64 pb_now(void);

/*
 * The QUERYs the node sent since the last pb_sent_clear (the RAP each went
 * to and its TA), for a row that answers them.
 */
struct pb_sent {
	__u32 to;
	struct pias_ta ta;
};
extern struct pb_sent pb_queries[PB_BATCH];
extern unsigned int pb_nqueries;

/* The rows' own (rows.c), around the world's pb_init and pb_fini. */
int pb_rows_init(void);
void pb_rows_fini(void);

/* CLOCK_REALTIME ns (freshness, seqs). */
__u64 pb_realtime(void);
/* net.c's token_of: token(ta), the last one remembered (a reply's TA is its request's). */
void pb_token_of(const struct pias_ta *ta, __u8 token[PIAS_KEY_LEN]);
/* net.c's next_seq for a sequence of this proxy's or a peer's. */
__u64 pb_next_seq(__u64 *last);
extern __u64 pb_peer_seq;

/* m encoded with key into d (a failure fails the run). */
int pb_build(struct pias_msg *m, const __u8 *key, struct pb_dgram *d);
/* A proxy message from sender, overlay key 1, the sender's next seq. */
int pb_build_proxy(struct pias_msg *m, __u32 sender, struct pb_dgram *d);
/* A reply to a target: net.c's send_target (its group's token, cached), encoded. */
void pb_send_target(struct pias_msg *m, const struct pias_ta *ta);

/*
 * handle_proxy's checks in net.c, in its order (key id, MAC, not from
 * ourselves, replay window, body) into pb_rx; false (and the run failed)
 * if one refused it.
 */
bool pb_recv_proxy(const struct pb_dgram *d);
/* A fresh replay window (a new sender set). */
void pb_replay_reset(void);
/* The node's answer to a proxy datagram checked by pb_recv_proxy. */
int pb_node_recv(struct pias_node *n, __u64 now);

#endif
