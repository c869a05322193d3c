/* SPDX-License-Identifier: MIT */
/*
 * piasd's configuration file: an INI file read with libinih (Debian package
 * libinih-dev), for `piasd --config FILE` and `piasd --check-config FILE`.
 * docs/config.md lists every section and key with its default.
 *
 * Loading stops at the first error and fills e with one line,
 *
 *   FILE:LINE: [section] key: what is wrong
 *
 * (a key that is required but absent is reported at the file's last line,
 * as "missing"). On failure *out is left untouched.
 *
 * Pure logic apart from reading the file: no BPF, no sockets.
 */
#ifndef PIAS_DAEMON_CONFIG_H
#define PIAS_DAEMON_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include <pias/conntrack.h>

#include "addr.h"
#include "err.h"
#include "ring.h"

#define PIASD_CONFIG_MAX_PREFIXES	   64
#define PIASD_CONFIG_MAX_SEEDS		   64
#define PIASD_CONFIG_MAX_INTERFACES	   16

#define PIASD_REGISTRATION_PORT_DEFAULT	   6638
#define PIASD_OVERLAY_PORT_DEFAULT	   6639
#define PIASD_RAP_REPLICAS_DEFAULT	   PIAS_RING_DEFAULT_K
#define PIASD_PROBE_INTERVAL_MS_DEFAULT	   200
#define PIASD_SUSPECT_TIMEOUT_MS_DEFAULT   1000
#define PIASD_RECONNECT_MS_DEFAULT	   2000
#define PIASD_DATAPLANE_ECHO_MS_DEFAULT	   250
#define PIASD_DATAPLANE_TIMEOUT_MS_DEFAULT 1500
/* what one sender may make piasd do, per second after a burst (net.c) */
#define PIASD_PEER_MSGS_PER_S_DEFAULT	     20000
#define PIASD_PEER_MSGS_BURST_DEFAULT	     100000
#define PIASD_SOURCE_REGS_PER_S_DEFAULT	     500
#define PIASD_SOURCE_REGS_BURST_DEFAULT	     5000
#define PIASD_TARGET_TIMEOUT_MS_DEFAULT	     900
#define PIASD_REPORT_THRESHOLD_PCT_DEFAULT   25
#define PIASD_PROXIMITY_PERCENT_DEFAULT	     50
#define PIASD_BINDING_TTL_S_DEFAULT	     300
#define PIASD_CONTROL_SOCKET_DEFAULT	     "/run/pias/piasd.sock"
#define PIASD_DRAIN_TIMEOUT_S_DEFAULT	     300
#define PIASD_GROUP_SIZE_DEFAULT	     16
#define PIASD_SHED_THRESHOLD_PCT_DEFAULT     25
#define PIASD_SHED_HOLD_S_DEFAULT	     300
#define PIASD_AFFINITY_QUERIES_PER_S_DEFAULT 1000
#define PIASD_GROUP_JOINS_PER_S_DEFAULT	     10
#define PIASD_GROUP_JOINS_BURST_DEFAULT	     20
#define PIASD_NAT_HIGH_WATER_PCT_DEFAULT     80
#define PIASD_UNDERLAY_MTU_MIN		     576
#define PIASD_UNDERLAY_MTU_MAX		     9000

/* An address with its family (PIAS_AF_INET/PIAS_AF_INET6; 0: not set). */
struct piasd_addr {
	union pias_addr addr;
	__u8 family;
};

/* Another proxy to contact first; port is the overlay port (never 0). */
struct piasd_seed {
	union pias_addr addr;
	__u8 family;
	__u16 port;
};

struct piasd_config {
	/* [node] */
	__u32 node_id;		 /* 1..PIAS_MAX_PROXIES-1 */
	struct piasd_addr addr4; /* unicast tunnel endpoints: at least one set */
	struct piasd_addr addr6;
	struct piasd_addr nat4;	 /* default: addr4 (family 0 if addr4 is unset); pool start */
	struct piasd_addr nat6;	 /* default: addr6 */
	unsigned int nat4_count; /* addresses in the pool from nat4 on (last 32 bits), >= 1 */
	unsigned int nat6_count;
	char pin_root[PATH_MAX];
	char control_socket[108]; /* unix socket path (sun_path size) */
	char interfaces[PIASD_CONFIG_MAX_INTERFACES][IF_NAMESIZE];
	size_t n_interfaces; /* >= 1 */

	/* [anycast] */
	struct pias_net prefixes[PIASD_CONFIG_MAX_PREFIXES];
	size_t n_prefixes;		     /* >= 1 */
	struct piasd_addr registration_addr; /* inside one of prefixes */
	__u16 registration_port;
	char announce_command[PATH_MAX]; /* "": none; run as CMD announce|withdraw */

	/* [overlay] */
	__u16 listen_port;
	struct piasd_seed seeds[PIASD_CONFIG_MAX_SEEDS];
	size_t n_seeds;
	unsigned int rap_replicas; /* 1..PIAS_RAP_REPLICAS */
	unsigned int probe_interval_ms;
	unsigned int suspect_timeout_ms; /* > probe_interval_ms */
	unsigned int reconnect_ms;	 /* PING a random DEAD proxy this often */
	unsigned int peer_msgs_per_s;	 /* verified messages of one proxy, a second */
	unsigned int peer_msgs_burst;
	unsigned int source_regs_per_s; /* new targets' REGISTERs from one address */
	unsigned int source_regs_burst;
	/*
	 * A proxy whose piasd is dead (or left) but whose dataplane answers
	 * an echo every dataplane_echo_ms keeps its pinned flows until no
	 * answer came for dataplane_timeout_ms (0: dead means gone at once).
	 */
	unsigned int dataplane_echo_ms;
	unsigned int dataplane_timeout_ms;

	/* [jap] */
	unsigned int target_timeout_ms; /* < 1000 */
	unsigned int report_threshold_percent;
	unsigned int drain_timeout_s; /* a draining target is removed by then at the latest */
	unsigned int nat_high_water_percent; /* of a target's NAT ports: log and count */
	/*
	 * A group with group_size targets here takes more only at
	 * group_joins_per_s after a burst of group_joins_burst.
	 */
	unsigned int group_size;
	unsigned int group_joins_per_s;
	unsigned int group_joins_burst;
	/*
	 * Shedding: a group that lost more than shed_threshold_percent of its
	 * peak targets (the most within shed_hold_s) takes only what is left
	 * of its flows; targets holding more than conn_budget connections each
	 * (0: no budget) take budget / held of them (docs/design.md).
	 */
	unsigned int shed_threshold_percent;
	unsigned int shed_hold_s;
	unsigned int conn_budget;
	/*
	 * Affinity across IAPs: a mid-stream segment with no connection here
	 * asks the group's other JAPs whether one holds it (docs/design.md).
	 */
	bool affinity;
	/* CONN_QUERYs this JAP sends at most a second (after a burst of as many) */
	unsigned int affinity_queries_per_s;

	/*
	 * [outlier]: passive outlier detection (daemon/outlier.h): refused or
	 * unreachable flows in a row, or new flows with no reply within
	 * no_reply_ms, take a target out of new flows for base_ejection_s x
	 * its ejections (at most max_ejection_s), never more than
	 * max_ejection_percent of a group's targets. 0 turns a rule off.
	 */
	unsigned int outlier_consecutive;
	unsigned int outlier_no_reply_flows;
	unsigned int outlier_no_reply_ms;
	unsigned int outlier_base_ejection_s;
	unsigned int outlier_max_ejection_s;
	unsigned int outlier_max_percent;

	/* [connections]: timeouts in seconds (include/pias/conntrack.h) */
	struct pias_ct_timeouts ct;

	/* [rap] */
	unsigned int proximity_percent; /* 0: pick JAPs by load only .. 100: nearest only */

	/* [iap] */
	unsigned int binding_ttl_s;

	/* [dataplane] */
	__u16 tunnel_port;
	unsigned int underlay_mtu;
	__u16 nat_port_min;
	__u16 nat_port_max;

	/* [metrics]: Prometheus /metrics over HTTP (family 0: off) */
	struct piasd_addr metrics_addr;
	__u16 metrics_port;

	/* [keys] */
	char overlay_key_file[PATH_MAX];
	char group_key_file[PATH_MAX]; /* "": no registrations accepted */
};

/* Read path; messages name path. */
int piasd_config_load(const char *path, struct piasd_config *out, struct pias_err *e);

/* The same from text in memory; messages name name (e.g. "<test>"). */
int piasd_config_load_string(const char *name, const char *text, struct piasd_config *out,
			     struct pias_err *e);

#endif
