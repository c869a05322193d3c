/* SPDX-License-Identifier: MIT */
/*
 * piasd: the daemon around one proxy's node (daemon/node.h), which owns the
 * protocol state machines of daemon/. This directory is the I/O edge:
 * sockets, timers, the dataplane's maps and its event ring, the control
 * socket, the clock. All protocol decisions are made by the node and its
 * machines; the files here give it datagrams, events, ticks and commands,
 * and carry out the writes and messages it asks for.
 *
 *   main.c      options, start-up, the event loop, shutdown
 *   node_io.c   the node (daemon/node.h: one proxy's protocol machines and
 *               their glue): its config from piasd.conf, its io table, and
 *               the inputs piasd gives it (ticks, the operator's commands)
 *   net.c       overlay and registration sockets, encode/MAC/send,
 *               receive/verify; verified messages to the node or affinity.c
 *   register.c  targets' REGISTER/LEAVE admitted (replay, cookies, rates,
 *               prefixes), then handed to the node's JAP
 *   dataplane.c the node's map writes and readings through bpf(); the
 *               dataplane's events to the node; the proxy table
 *   map_queue.c the node's writes of one kind in a row, made in batches
 *   restore.c   state rebuilt from the pinned maps after a restart
 *   liveness.c  proxies membership gave up on: their dataplane echoed
 *   conns.c     the connection sweep; targets' connections and NAT ports
 *   affinity.c  connection affinity across IAPs (CONN_QUERY, FLOW_PIN)
 *   outliers.c  passive outlier detection: ejections through the node
 *   announce.c  the anycast announcement, made only while this proxy can serve
 *   ctl.c       the control socket (piasctl)
 *   metrics.c   Prometheus /metrics
 *   notify.c    systemd readiness and watchdog
 *   log.c       logging
 *
 * Calls go one way: these files call the node (daemon/node.h), the node
 * calls its machines and then the io functions piasd gave it, which never
 * call the node's inputs back.
 */
#ifndef PIAS_PIASD_H
#define PIAS_PIASD_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>

#include <event2/event.h>

#include <pias/maps.h>
#include <pias/nat.h>

#include "config.h"
#include "cookie.h"
#include "dplive.h"
#include "echo.h"
#include "gone.h"
#include "err.h"
#include "events.h"
#include "iap.h"
#include "jap.h"
#include "keys.h"
#include "maps.h"
#include "membership.h"
#include "msg.h"
#include "node.h"
#include "outlier.h"
#include "rap_registry.h"
#include "rate.h"
#include "rate_table.h"
#include "replay.h"
#include "ring.h"
#include "sweep.h"

#define PIASD_TICK_MS 50 /* state machine ticks; bounds every timer's lateness */

/*
 * Daemon counters: name, help. `piasctl show counters` prints them, then
 * the node's (PIAS_NODE_COUNTERS, daemon/node.h); /metrics as well.
 */
#define PIASD_COUNTERS(X)                                                                          \
	X(rx_datagrams, "datagrams received on the overlay and registration sockets")              \
	X(rx_malformed, "datagrams that did not decode (dropped)")                                 \
	X(rx_bad_mac, "proxy datagrams whose MAC did not verify (dropped)")                        \
	X(rx_unknown_key, "proxy datagrams naming a key id not in the key ring (dropped)")         \
	X(rx_replayed, "datagrams with a replayed or too old seq (dropped)")                       \
	X(rx_unexpected, "well-formed datagrams of a type not taken on that socket (dropped)")     \
	X(rx_from_self, "datagrams claiming to come from this proxy's id (dropped)")               \
	X(tx_datagrams, "datagrams sent")                                                          \
	X(tx_errors, "datagrams that could not be encoded or sent")                                \
	X(tx_no_route, "messages for a proxy whose address is not known")                          \
	X(reg_accepted, "target REGISTER/LEAVE accepted")                                          \
	X(reg_bad_token, "target messages refused: MAC did not verify with the group's token")     \
	X(reg_refused, "target registrations refused otherwise (stale, full, invalid, draining)")  \
	X(dp_events, "dataplane events read from the ring buffer")                                 \
	X(map_errors, "map writes that failed")                                                    \
	X(map_batches, "batched map writes made (runs of one kind of the node's writes)")          \
	X(map_batched_writes, "map entries written or deleted in those batches")                   \
	X(conns_ended, "JAP: ended connections the sweep deleted (both directions)")               \
	X(flows_ended, "IAP: ended flow entries the sweep deleted")                                \
	X(nat_leftovers_ended, "JAP: reverse entries left without a connection, deleted")          \
	X(nat_high_water, "JAP: times a target's NAT ports in use passed the high-water mark")     \
	X(log_suppressed, "log lines about outsiders' datagrams left out by the rate limit")       \
	X(nacks_limited, "refusals to unverified senders not sent: over the rate limit")           \
	X(reg_cookies_sent,                                                                        \
	  "REG_COOKIEs sent: a target this JAP does not know must prove its address")              \
	X(rx_peer_limited, "verified proxy messages dropped: over the per-proxy rate")             \
	X(reg_source_limited, "REGISTERs of new targets dropped: over the per-source rate")        \
	X(ctl_evicted, "control connections closed to make room: 32 open, no request yet")         \
	X(dp_echoes_sent, "dataplane echoes sent to proxies whose piasd is gone")                  \
	X(dp_echo_answers, "answers from their dataplanes, ours and fresh")                        \
	X(dp_echo_bad, "datagrams on the tunnel port that were no answer of ours (dropped)")       \
	X(dp_only, "proxies kept for their pinned flows: piasd gone, dataplane answering")         \
	X(dp_only_ended, "of those, proxies whose dataplane stopped answering too (down)")         \
	X(reg_group_limited, "REGISTERs of new targets refused: their group is beyond its size")   \
	X(reg_after_leave, "REGISTERs refused: not newer than the LEAVE of that registration")     \
	X(reg_batches, "REG_BATCHes taken: refreshes of several targets in one message")           \
	X(reg_batch_refreshed, "targets refreshed by a REG_BATCH entry")                           \
	X(reg_batch_refused,                                                                       \
	  "REG_BATCH entries refused (unknown, stale, not active): the agent sends REGISTER")      \
	X(affinity_queries_sent,                                                                   \
	  "JAP: CONN_QUERYs sent for segments of connections held elsewhere")                      \
	X(affinity_queries_limited,                                                                \
	  "JAP: CONN_QUERYs not sent: over [jap] affinity_queries_per_s")                          \
	X(affinity_queries_fwd, "RAP: CONN_QUERYs sent on to a group's other JAPs")                \
	X(affinity_queries_held, "JAP: CONN_QUERYs for a connection held here (answered)")         \
	X(affinity_scans_limited,                                                                  \
	  "JAP: client scans left out by their rate (the queried flow only)")                      \
	X(affinity_flows_pinned, "JAP: flows pinned at their client's new IAP")                    \
	X(affinity_flows_installed, "IAP: flows pinned by the JAP holding them, written")          \
	X(metrics_scrapes, "GET /metrics answered")                                                \
	X(outlier_ejections, "JAP: targets taken out of new flows by outlier detection")

enum piasd_counter {
#define X(name, help) PIASD_C_##name,
	PIASD_COUNTERS(X)
#undef X
	PIASD_C_COUNT
};

/* A target-message sender's last seq, per target id (replay, see net.c). */
struct piasd_target_seq {
	__u64 seq;
};

/* Where a sweep of one table goes on from (bpf_map_lookup_batch). */
struct piasd_cursor {
	__u32 token;
	bool started;
};

/* conns.c */
struct piasd_conns {
	struct pias_sweep sweep;
	struct piasd_cursor conns, revs, flows;
	__u64 *nat_no_port; /* per target id: the drops last seen */
	bool *high;	    /* per target id: past the high-water mark */
	__u64 nat_checked_ns;
};

struct evhttp;

/* outliers.c: a target id's outlier state and the registration it is for. */
struct piasd_outlier {
	struct pias_outlier *o; /* NULL until the id's first tick */
	struct pias_ta ta;
	union pias_addr addr;
	__u8 family;
	__u16 port;
};

/* map_queue.c: the node's writes of one kind in a row, batched */
enum piasd_mq_kind {
	PIASD_MQ_TARGET_PUT,
	PIASD_MQ_TARGET_DEL,
	PIASD_MQ_GROUP_PUT,
	PIASD_MQ_GROUP_DEL,
	PIASD_MQ_BINDING_PUT,
	PIASD_MQ_BINDING_DEL,
};

struct piasd_map_queue {
	enum piasd_mq_kind kind;
	size_t n;
	__u32 *ids;		       /* targets */
	struct pias_target *targets;   /* TARGET_PUT */
	struct pias_ta *tas;	       /* groups, bindings */
	struct pias_group *groups;     /* GROUP_PUT; BINDING_PUT: each one's set */
	struct pias_binding *bindings; /* BINDING_PUT */
};

struct piasd {
	const char *config_path;
	struct piasd_config cfg;
	bool check_only;

	struct pias_maps maps;
	struct piasd_map_queue map_queue; /* empty between the node's inputs */
	struct pias_keyring keys;
	__u8 group_key[PIAS_KEY_LEN];
	bool have_group_key;
	struct pias_replay replay;
	__u64 next_seq; /* header seq: CLOCK_REALTIME ns at start, +1 per datagram */

	/* the protocol: membership, ring, RAP table, JAP, RAP, IAP (node_io.c) */
	struct pias_node node;
	/* affinity.c: queries this JAP sends, scans of its connection table */
	struct pias_rate affinity_queries, affinity_scans;
	/* net.c: what outsiders can make us do, per second (log lines, refusals) */
	struct pias_rate outside_log, outside_nack;
	struct pias_cookie_jar cookies;	    /* proofs of address asked of new targets */
	struct pias_rate_table peer_rates;  /* per proxy: verified messages */
	struct pias_rate_table reg_sources; /* per source address: registrations of new targets */
	struct pias_rate_table reg_groups;  /* per group beyond its size: new targets */
	struct pias_gone gone; /* registrations that left: no replay to bring them back */
	struct piasd_target_seq *target_seq; /* PIAS_MAX_TARGETS entries */
	bool withdrawn;			     /* the operator withdrew this proxy */
	struct piasd_conns conns;
	struct piasd_outlier *outliers; /* PIAS_MAX_TARGETS entries (outliers.c) */
	/* liveness.c: proxies whose piasd is gone, while their dataplane answers */
	struct pias_dplive dplive;
	__u8 echo_secret[PIAS_ECHO_SECRET_LEN];

	/* announce.c: the anycast announcement follows whether we can serve */
	bool serving;	     /* joined, not withdrawn, dataplane attached, not cut off */
	bool isolated;	     /* every other proxy known is DEAD to us */
	bool announced;	     /* the last command that succeeded announced */
	bool announce_known; /* a command has run (announced is meaningful) */
	bool announce_want;  /* what the running command does */
	int announce_pid;    /* running command; 0: none */
	__u64 announce_checked_ns;

	/* I/O */
	struct event_base *base;
	int ovl_fd[2]; /* overlay socket, [0] IPv4, [1] IPv6; -1: none */
	int reg_fd;    /* registration socket on the anycast address; -1: none */
	int tun_fd[2]; /* on the tunnel port: dataplane echo answers, [0] IPv4, [1] IPv6 */
	struct event *ev_tun[2];
	struct event *ev_ovl[2], *ev_reg, *ev_tick, *ev_dp, *ev_sig[3];
	struct pias_event_reader *dp_events;
	int ctl_fd;
	struct event *ev_ctl;
	struct evhttp *metrics;	   /* NULL: [metrics] listen is off */
	struct event *ev_watchdog; /* NULL: no systemd watchdog */

	__u64 counters[PIASD_C_COUNT];
	__u64 started_ns;
};

#define PIASD_INC(d, name)    ((d)->counters[PIASD_C_##name]++)
#define PIASD_ADD(d, name, k) ((d)->counters[PIASD_C_##name] += (k))

/* piasd's counters, then the node's: 0 .. PIASD_COUNTERS_ALL - 1 (ctl.c). */
#define PIASD_COUNTERS_ALL (PIASD_C_COUNT + PIAS_NODE_C_COUNT)
/* Counter i's value; its name and help into *name, *help (each may be NULL). */
__u64 piasd_counter(const struct piasd *d, int i, const char **name, const char **help);

/* log.c */
enum {
	PIASD_LOG_ERR,
	PIASD_LOG_WARN,
	PIASD_LOG_INFO,
	PIASD_LOG_DEBUG
};
enum piasd_log_to {
	PIASD_LOG_TO_STDERR,  /* time, level, message */
	PIASD_LOG_TO_JOURNAL, /* "<priority>level: message": systemd's journal */
	PIASD_LOG_TO_SYSLOG,  /* syslog(3), facility daemon */
};
void piasd_log_level(int level);
void piasd_log_to(enum piasd_log_to to);
/* A level's or target's name (error .. debug; stderr, journal, syslog): its value, or -1. */
int piasd_log_level_parse(const char *s);
int piasd_log_to_parse(const char *s);
/* Would a line of this level be written? */
bool piasd_log_on(int level);
void piasd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define LOG_E(...) piasd_log(PIASD_LOG_ERR, __VA_ARGS__)
#define LOG_W(...) piasd_log(PIASD_LOG_WARN, __VA_ARGS__)
#define LOG_I(...) piasd_log(PIASD_LOG_INFO, __VA_ARGS__)
#define LOG_D(...) piasd_log(PIASD_LOG_DEBUG, __VA_ARGS__)

/* CLOCK_MONOTONIC ns: the dataplane's clock (bindings, last replies). */
__u64 piasd_now(void);
/* CLOCK_REALTIME ns (message seqs, registration freshness). */
__u64 piasd_realtime(void);

/*
 * liveness.c: the dataplane echo. Sockets on the tunnel port take the
 * answers (the XDP program passes kind 8 up); piasd_echo_send asks proxy
 * id's dataplane.
 */
int piasd_liveness_open(struct piasd *d, struct pias_err *e);
void piasd_liveness_close(struct piasd *d);
void piasd_echo_send(struct piasd *d, __u32 id);
/*
 * The node's verdicts on another proxy (its io.proxy_up, io.proxy_down):
 * the proxy table written; a proxy whose piasd is gone is watched while
 * its dataplane answers (DP_ONLY: its pinned flows go on).
 */
void piasd_proxy_up(void *ctx, __u32 id, const struct pias_peer *at);
void piasd_proxy_down(void *ctx, __u32 id, const struct pias_peer *at, bool left);
/* Every tick: echoes due, and watched proxies whose dataplane went quiet too. */
void piasd_liveness_tick(struct piasd *d, __u64 now);

/* net.c */
socklen_t piasd_sockaddr(const struct pias_peer *p, struct sockaddr_storage *ss);
/* A bound, non-blocking UDP socket (IPv6: v6only); what names it in errors. */
int piasd_udp_socket(const union pias_addr *a, __u8 family, __u16 port, bool freebind,
		     const char *what, struct pias_err *e);
int piasd_net_open(struct piasd *d, struct pias_err *e);
void piasd_net_close(struct piasd *d);
/* Fill the header (sender, key, seq), encode, MAC, send. */
int piasd_send(struct piasd *d, const struct pias_peer *to, struct pias_msg *m);
/* The same, to proxy id (its overlay address from membership). */
int piasd_send_proxy(struct piasd *d, __u32 id, struct pias_msg *m);
int piasd_keys_reload(struct piasd *d, struct pias_err *e);
/* Replies to a target's REGISTER/LEAVE (from the registration socket);
 * tun_tag set (tunnel mode): with this JAP's tunnel endpoint of the
 * target's family and the registration's tunnel tag. */
void piasd_target_ack(struct piasd *d, const struct pias_peer *to, const struct pias_msg *req,
		      __u32 target_id, __u32 refresh_ms, const __u64 *tun_tag);
/*
 * proven: the sender showed that it receives at its address (a valid
 * cookie, or the next seq of a target we know). Otherwise the refusal
 * carries no text, so it is no larger than the request, and goes out
 * within the rate limit on answers to outsiders (nacks_limited).
 */
void piasd_target_nack(struct piasd *d, const struct pias_peer *to, const struct pias_msg *req,
		       __u32 code, const char *text, bool proven);
/* Any answer m to a target at to, MACed with the token of ta. */
void piasd_target_reply(struct piasd *d, const struct pias_peer *to, struct pias_msg *m,
			const struct pias_ta *ta);
/* REG_COOKIE for a verified, fresh REGISTER from a target we do not know. */
void piasd_target_cookie(struct piasd *d, const struct pias_peer *to, const struct pias_msg *req);
/* Every tick: a new cookie secret once a period has passed. */
void piasd_cookie_tick(struct piasd *d, __u64 now);

/* register.c */
int piasd_register_init(struct piasd *d, struct pias_err *e);
void piasd_register_free(struct piasd *d);
/* A target message that passed its token check; replies via the registration socket. */
void piasd_target_msg(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from);
/*
 * A REG_BATCH for this JAP, fresh, whose MAC verified with its first
 * entry's token: each entry's own tag is checked here; one REG_BATCH_ACK.
 */
void piasd_target_batch(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from);

/* node_io.c */
int piasd_node_init(struct piasd *d, struct pias_err *e);
void piasd_node_free(struct piasd *d);
void piasd_node_tick(struct piasd *d, __u64 now);
/* A verified proxy message for the node (membership, REPORT(S), QUERY, BINDING, INVALIDATE). */
void piasd_node_recv(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from);
/* The operator dials this JAP's share of ta's flows (per mille); reported at once. */
int piasd_dial(struct piasd *d, const struct pias_ta *ta, __u32 permille, struct pias_err *e);
int piasd_drain(struct piasd *d, const struct pias_ta *ta, const union pias_addr *a, __u8 family,
		__u16 port, struct pias_err *e);
int piasd_undrain(struct piasd *d, const struct pias_ta *ta, const union pias_addr *a, __u8 family,
		  __u16 port, struct pias_err *e);
int piasd_flush_bindings(struct piasd *d, struct pias_err *e);
/* Outlier detection takes target id of ta out of new flows (out), or lets it back. */
int piasd_target_eject(struct piasd *d, const struct pias_ta *ta, __u32 id, bool out,
		       struct pias_err *e);
/* The operator withdraws this proxy: it leaves the overlay; registrations are refused. */
void piasd_withdraw(struct piasd *d);

/*
 * map_queue.c: queue a write (t, g or b NULL: a delete); what was queued
 * of another kind is made first. flush: make what is queued.
 */
int piasd_queue_target(struct piasd *d, __u32 id, const struct pias_target *t, struct pias_err *e);
int piasd_queue_group(struct piasd *d, const struct pias_ta *ta, const struct pias_group *g,
		      struct pias_err *e);
int piasd_queue_binding(struct piasd *d, const struct pias_ta *ta, const struct pias_binding *b,
			const struct pias_group *set, struct pias_err *e);
int piasd_map_queue_flush(struct piasd *d, struct pias_err *e);
void piasd_map_queue_free(struct piasd_map_queue *q);

/* dataplane.c */
/* The node's map writes and readings (io.target_put ... io.last_reply), into io. */
void piasd_dataplane_io(struct pias_node_io *io);
/* The dataplane's event reader: each event to the node or to affinity.c. */
int piasd_dp_event(const struct pias_event *ev, void *arg);
/* A map write's result: counted (map_errors) and logged if it failed; returns err. */
int piasd_map_done(struct piasd *d, int err, const struct pias_err *e);
/* Proxy id's entry in the proxy table, with our pair's tunnel tags under d->keys. */
int piasd_proxy_write(struct piasd *d, __u32 id, const union pias_addr *a, __u8 family,
		      enum pias_proxy_state state);
/* After a key ring reload: every known proxy's tunnel tags under the new ring. */
void piasd_proxies_rekey(struct piasd *d);

/* outliers.c: passive outlier detection at this JAP (daemon/outlier.h) */
int piasd_outliers_init(struct piasd *d, struct pias_err *e);
void piasd_outliers_free(struct piasd *d);
void piasd_outliers_tick(struct piasd *d, __u64 now);
/* Target id's state, NULL if none yet. */
const struct pias_outlier *piasd_outlier_of(const struct piasd *d, __u32 id);

/* announce.c */
void piasd_announce_tick(struct piasd *d, __u64 now);
void piasd_announce_stop(struct piasd *d);
/*
 * `announce_command withdraw` of cfg, waited for (10 s at most): for a
 * service manager to run after a piasd that could not withdraw itself
 * (killed, hung). Its exit status; 0 with no announce_command.
 */
int piasd_withdraw_now(const struct piasd_config *cfg);

/* notify.c: systemd's readiness, status and watchdog (sd_notify(3)); no-ops without systemd. */
int piasd_notify_open(struct piasd *d, struct pias_err *e);
void piasd_notify_ready(struct piasd *d);
void piasd_notify_stopping(struct piasd *d);
void piasd_notify_close(struct piasd *d);

/* conns.c */
int piasd_conns_init(struct piasd *d, struct pias_err *e);
void piasd_conns_free(struct piasd *d);
void piasd_conns_tick(struct piasd *d, __u64 now);
/* Live connections of target id in a complete sweep begun at or after since; -1: none yet. */
long piasd_conns_of(struct piasd *d, __u32 id, __u64 since);
/* Connection c (key: the client's flow) is open and not timed out at now. */
bool piasd_conn_live(struct piasd *d, const struct pias_flow *key, const struct pias_conn *c,
		     __u64 now);
/*
 * The live connections of client, to any TA, at most max, into keys and
 * their states into cts; returns how many, or -errno. One pass over the
 * whole table: its callers limit how often.
 */
int piasd_conns_of_client(struct piasd *d, const union pias_addr *client, __u8 family,
			  struct pias_flow *keys, __u8 *cts, int max, __u64 now);

/*
 * affinity.c: connection affinity across IAPs. A JAP's CONN_MISS becomes a
 * CONN_QUERY to the group's RAP, which sends it on to the group's other
 * JAPs; the one holding the connection pins the client's flows at the
 * client's new IAP (FLOW_PIN).
 */
void piasd_affinity_init(struct piasd *d);
void piasd_affinity_miss(struct piasd *d, const struct pias_event *ev);
void piasd_affinity_query(struct piasd *d, const struct pias_msg_conn_query *q, __u32 from);
void piasd_affinity_pin(struct piasd *d, const struct pias_msg_flow_pin *p, __u32 from);

/* restore.c */
int piasd_restore(struct piasd *d, struct pias_err *e);

/* ctl.c */
int piasd_ctl_open(struct piasd *d, struct pias_err *e);
void piasd_ctl_close(struct piasd *d);

/* metrics.c: Prometheus /metrics over HTTP, when [metrics] listen is set */
int piasd_metrics_open(struct piasd *d, struct pias_err *e);
void piasd_metrics_close(struct piasd *d);

/* main.c */
void piasd_stop(struct piasd *d);

#endif
