/* SPDX-License-Identifier: MIT */
/*
 * piasd: the daemon around the protocol state machines of daemon/ (the *.c files). This
 * directory is the I/O edge: sockets, timers, the dataplane's maps and its
 * event ring, the control socket. All protocol decisions are made by the
 * state machines; the files here turn their actions into map writes and
 * datagrams, and datagrams and events into their inputs.
 *
 *   main.c     options, start-up, the event loop, shutdown
 *   net.c      overlay and registration sockets, encode/MAC/send, receive/verify
 *   proto.c    messages and dataplane events into the JAP/RAP/IAP machines;
 *              their actions into maps and messages
 *   overlay.c  membership, the ring and the RAP table
 *   restore.c  state rebuilt from the pinned maps after a restart
 *   conns.c    the connection sweep; targets' connections and NAT ports
 *   affinity.c connection affinity across IAPs (CONN_QUERY, FLOW_PIN)
 *   announce.c the anycast announcement, made only while this proxy can serve
 *   ctl.c      the control socket (piasctl)
 *   log.c      logging
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
#include "outlier.h"
#include "rap_registry.h"
#include "rate.h"
#include "rate_table.h"
#include "replay.h"
#include "ring.h"
#include "sweep.h"

#define PIASD_TICK_MS 50 /* state machine ticks; bounds every timer's lateness */

/* Daemon counters: name, help. `piasctl show counters` prints them. */
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
	X(reports_sent, "JAP: target-count reports sent to RAPs")                                  \
	X(report_msgs_sent, "JAP: messages those went in (a REPORTS packs several for one RAP)")   \
	X(reports_rcvd, "RAP: target-count reports received")                                      \
	X(bindings_sent, "RAP: bindings sent to IAPs (negative ones included)")                    \
	X(queries_sent, "IAP: binding queries sent to RAPs")                                       \
	X(bindings_installed, "IAP: bindings written to the map")                                  \
	X(invalidations_sent, "JAP: invalidations sent to IAPs")                                   \
	X(invalidations_limited, "JAP: invalidations suppressed by the rate limit")                \
	X(invalidations_rcvd, "IAP: invalidations received")                                       \
	X(dp_events, "dataplane events read from the ring buffer")                                 \
	X(map_errors, "map writes that failed")                                                    \
	X(ring_rebuilds, "RAP table rewrites after the live proxy set changed")                    \
	X(rap_slots_written, "RAP table slots written")                                            \
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

extern const char *const piasd_counter_names[PIASD_C_COUNT];
extern const char *const piasd_counter_help[PIASD_C_COUNT];

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

struct piasd {
	const char *config_path;
	struct piasd_config cfg;
	bool check_only;

	struct pias_maps maps;
	struct pias_keyring keys;
	__u8 group_key[PIAS_KEY_LEN];
	bool have_group_key;
	struct pias_replay replay;
	__u64 next_seq; /* header seq: CLOCK_REALTIME ns at start, +1 per datagram */

	/* protocol state */
	struct pias_members members;
	struct pias_ring ring;
	struct pias_rap_slot *rap_table; /* the map's, mapped (maps.rap) */
	unsigned int rap_k;
	/* slots joins and leaves may have changed (all at start): recomputed by the next tick */
	struct pias_slot_set *rap_dirty;
	bool ring_dirty; /* rap_dirty has slots */
	struct pias_jap jap;
	struct pias_rap rap;
	struct pias_iap iap;
	struct pias_inval_limiter inval;
	/* affinity.c: queries this JAP sends, scans of its connection table */
	struct pias_rate affinity_queries, affinity_scans;
	/* net.c: what outsiders can make us do, per second (log lines, refusals) */
	struct pias_rate outside_log, outside_nack;
	struct pias_cookie_jar cookies;	    /* proofs of address asked of new targets */
	struct pias_rate_table peer_rates;  /* per proxy: verified messages */
	struct pias_rate_table reg_sources; /* per source address: registrations of new targets */
	struct pias_rate_table reg_groups;  /* per group beyond its size: new targets */
	struct pias_gone gone;	/* registrations that left: no replay to bring them back */
	__u64 report_seq;	/* JAP: REPORT seq (starts at realtime ns) */
	__u64 last_rereport_ns; /* JAP: when the period of re-reporting every group began */
	size_t rereport_done;	/* JAP: groups re-reported in that period so far */
	long rereport_at;	/* JAP: the last one's place (pias_jap_group_place), -1: none */
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

#define PIASD_INC(d, name) ((d)->counters[PIASD_C_##name]++)

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
/* May from start a registration of a target we do not know? (counted if not) */
bool piasd_reg_source_ok(struct piasd *d, const struct pias_peer *from);
/* A group beyond its size ([jap] group_size) may take one more new target now? */
bool piasd_reg_group_ok(struct piasd *d, const struct pias_ta *ta);
/* Every tick: a new cookie secret once a period has passed. */
void piasd_cookie_tick(struct piasd *d, __u64 now);

/* proto.c */
int piasd_proto_init(struct piasd *d, struct pias_err *e);
void piasd_proto_free(struct piasd *d);
void piasd_proto_recv(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from);
/* A target message that passed its token check; reply via the registration socket. */
void piasd_proto_target(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from);
/*
 * A REG_BATCH for this JAP, fresh, whose MAC verified with its first
 * entry's token: each entry's own tag is checked here; one REG_BATCH_ACK.
 */
void piasd_proto_batch(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from);
void piasd_proto_tick(struct piasd *d, __u64 now);
int piasd_proto_dp_event(const struct pias_event *ev, void *arg);
/* Membership says jap_id is dead (or left): drop what refers to it. */
void piasd_proto_proxy_down(struct piasd *d, __u32 id);
/*
 * Re-report the groups this JAP holds in the slots of moved (the RAP table
 * changed there: new RAPs learn them at once), or every group if moved is
 * NULL (which restarts the period of the periodic refresh, otherwise spread
 * over it tick by tick); packed per RAP, as every report.
 */
void piasd_proto_rereport(struct piasd *d, const struct pias_slot_set *moved);
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

/* outliers.c: passive outlier detection at this JAP (daemon/outlier.h) */
int piasd_outliers_init(struct piasd *d, struct pias_err *e);
void piasd_outliers_free(struct piasd *d);
void piasd_outliers_tick(struct piasd *d, __u64 now);
/* Target id's state, NULL if none yet. */
const struct pias_outlier *piasd_outlier_of(const struct piasd *d, __u32 id);

/* overlay.c */
int piasd_overlay_init(struct piasd *d, struct pias_err *e);
void piasd_overlay_free(struct piasd *d);
/* After a key ring reload: every known proxy's tunnel tags under the new ring. */
void piasd_overlay_rekey(struct piasd *d);
void piasd_overlay_recv(struct piasd *d, const struct pias_msg *m, const struct pias_peer *from);
void piasd_overlay_tick(struct piasd *d, __u64 now);
void piasd_overlay_leave(struct piasd *d);
/* The overlay's view is in (or the wait for it is over): ring and table are ours. */
bool piasd_overlay_ready(const struct piasd *d);
int piasd_proxy_peer(struct piasd *d, __u32 id, struct pias_peer *out);
__u64 piasd_rtt_ns(struct piasd *d, __u32 a, __u32 b);
struct evbuffer;
/* `show proxies` (ctl.c). */
void piasd_overlay_show(struct piasd *d, struct evbuffer *o, bool json);
/* The RAPs of ta as the dataplane sees them; returns how many. */
int piasd_raps_of(struct piasd *d, const struct pias_ta *ta, __u32 out[PIAS_RAP_REPLICAS]);

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
