// SPDX-License-Identifier: MIT
/*
 * pias-bench: nanoseconds per packet of each PIAS dataplane path, measured
 * with BPF_PROG_TEST_RUN side by side with two floors in one run
 * (docs/bench.md says what each row means and how to read it).
 *
 * Runs in a network namespace of its own (selftests/lib/netns.h), so that
 * bpf_fib_lookup finds routes and static neighbours and every path really
 * ends in XDP_TX; loads bpf/bench.bpf.c unpinned, seeds its maps per
 * scenario through the library's writers, and checks that every repetition
 * of every run gave the verdict, counter and output length the scenario
 * expects. The tunnel-mode target's TC programs (bpf/target.bpf.c) are
 * loaded too and measured one packet per call against a trivial TC
 * program (run_tc). Exit status: 0 unless a check failed or setup went wrong; being
 * over a target is reported, not an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "bench.skel.h"
#include "target.skel.h"
#include "counters.h"
#include "map_writes.h"
#include "maps.h"
#include <pias/target.h>
#include "../selftests/lib/netns.h"
#include "../selftests/lib/pkt.h"

/* ---- the plan (addresses from the namespace in selftests/lib/netns.h) ---- */

#define MAP_WRITES  10000 /* entries of each kind in the map-write rows */
#define SELF_ID	    1
#define JAP_ID	    2
#define RAP_ID	    3
#define PEER_IAP_ID 4
#define SELF_ADDR   "192.0.2.1"	 /* pias0: tunnel endpoint and NAT address */
#define JAP_ADDR    "192.0.2.2"	 /* on-link neighbour */
#define RAP_ADDR    "192.0.2.3"	 /* on-link neighbour */
#define PEER_ADDR   "192.0.2.50" /* the IAP that tunnels to us */
#define GW_MAC	    "02:00:00:00:00:7e"
#define ANYCAST_NET "198.51.100.128/25" /* not routed in the namespace: fine */
#define TA_ADDR	    "198.51.100.130"
#define TA_PORT	    5300
/* Clients and targets both sit behind the gateway (203.0.113.128/25). */
#define CLIENT_ADDR	 "203.0.113.129"
#define CLIENT_PORT	 40000
#define TARGET_ADDR	 "203.0.113.200"
#define TARGET_PORT	 8053
#define NTARGETS	 32
#define NEW_CONN_TARGETS 4
#define PAYLOAD		 32 /* UDP payload: a 74-byte client frame */

#define SET_SMALL	 1u
#define SET_BIG		 65536u

/* Every packet a new flow: 64 client addresses x 65536 ports (2^22). */
#define FRESH_BITS 22
/* A connection per flow i: target 1 + (i >> 11), NAT port min + (i & 2047). */
#define CONN_PORT_BITS 11

/*
 * New connections take NAT ports and never give them back, so the
 * connection tables are emptied before each run and a run is capped. The
 * cap is low because the dataplane derives both the target (hash % weights)
 * and the first NAT port candidate (hash % range) from the same flow hash:
 * with 4 targets each one's first candidates fall on a quarter of its
 * ports, and 16384 connections already ran out of candidates now and then.
 */
#define NEW_CONN_CAP 4096

/*
 * The large sets' targets: ids BIG_SET_BASE + 1.., each an address of
 * TARGET_ADDR's 32 and a port of its own above TARGET_PORT (so that every
 * target has its own NAT ports), weights 1-4.
 */
#define BIG_SET	     10000
#define BIG_SET_BASE 100

/* The tunnel-mode target (PIAS_TARGET_F_TUNNEL): every tunnel connection's. */
#define TUN_TARGET_ID	(NTARGETS + 1)
#define TUN_TARGET_ADDR "203.0.113.240"

/*
 * The tunnel-mode target's rows (bpf/target.bpf.c, TC) run one packet per
 * BPF_PROG_TEST_RUN: with repeat > 1 the kernel would run the program again
 * on the same skb, and a decapsulation would meet its own output. At most
 * this many calls of the path (and as many of the TC floor) per run.
 */
#define TT_CALLS_MAX 20000
#define TT_WARMUP    1000
/* linux/pkt_cls.h */
#define TC_ACT_OK	0
#define TC_ACT_REDIRECT 7

/* CLOCK_MONOTONIC_COARSE: the dataplane's clock of connection state. */
static __u64 coarse_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* ---- scenarios ---------------------------------------------------------- */

enum prog_id {
	PROG_RESET,
	PROG_FLOOR_A,
	PROG_FLOOR_B,
	PROG_PIAS,
	PROG_PICK,     /* bench_pick: the JAP's target pick alone */
	PROG_TC_FLOOR, /* bench_tc_floor: TC_ACT_OK, nothing else */
	PROG_TT_IN,    /* target.bpf.c: pias_tt_ingress */
	PROG_TT_OUT,   /* target.bpf.c: pias_tt_egress */
	NPROGS
};

/* Rows run one packet per call (TT_CALLS_MAX), against the TC floor. */
static bool is_tc(enum prog_id p)
{
	return p >= PROG_TC_FLOOR;
}

enum frame_kind {
	FR_CLIENT,    /* client -> TA, arrives at the IAP */
	FR_TUN_RAP,   /* kind 1 tunnel from the peer IAP, we are the RAP */
	FR_TUN_JAP,   /* kind 3 tunnel from the peer IAP, we are the JAP */
	FR_REPLY,     /* target -> NAT address: reverse path */
	FR_TUN_REPLY, /* kind 6 from the tunnel-mode target: TA -> client inside */
	FR_TT_IN,     /* at the target: kind 5 from us (its JAP), client -> TA inside */
	FR_TT_OUT,    /* at the target: the server's reply, TA -> client */
};

enum vary_kind {
	VK_NONE,
	VK_CLIENTS,	/* client address/port cycle through n flows */
	VK_FRESH,	/* client address/port never repeat */
	VK_TAS,		/* TA address/port cycle through n TAs */
	VK_TARGETS,	/* reply source (target) and NAT port cycle through n */
	VK_CLIENTS_DST, /* as VK_CLIENTS, but destination address/port (a reply to them) */
};

enum seed {
	SEED_NONE,
	SEED_BACKENDS,	/* floor (b) table */
	SEED_BINDING,	/* binding per TA -> JAP */
	SEED_GROUPS,	/* group per TA -> JAP (RAP) */
	SEED_CONNS,	/* connection both ways per flow */
	SEED_TGTSETS,	/* target set per TA */
	SEED_TUN_CONNS, /* tunnel-mode connection per flow (nat_port 0, no reverse) */
};

struct scenario {
	const char *name;
	const char *what;
	enum prog_id prog;
	enum frame_kind frame;
	enum vary_kind vary[BENCH_VARY_SLOTS];
	enum seed seed;
	int out_delta;	  /* output length minus input length */
	int stat;	  /* pias_stats index that must count every packet, -1: none */
	int tt_stat;	  /* TC rows: pias_tt_stats index that must count every call */
	int tc_verdict;	  /* TC rows: the verdict every call must return */
	bool goal;	  /* one of the paths the issue sets a target for */
	bool big_only;	  /* only with the large working set */
	bool small_only;  /* only with the working set of 1 (the TC rows) */
	bool fresh_conns; /* empty the connection tables before each run */
	bool churn;	  /* fill and empty the flow table before seeding */
	bool own_groups;  /* each seeded connection in a group (TA) of its own */
	__u32 set_size;	  /* SEED_TGTSETS: targets in the set (0: NEW_CONN_TARGETS) */
};

/* A new flow out of one set of n targets (pick, NAT port, record, NAT). */
#define NEW_CONN_SET(nm, text, n)                                                                  \
	{                                                                                          \
		.name = nm, .what = text, .prog = PROG_PIAS, .frame = FR_TUN_JAP,                  \
		.vary = { VK_FRESH }, .seed = SEED_TGTSETS, .out_delta = -PIAS_ENCAP_OVERHEAD_V4,  \
		.stat = PIAS_STAT_jap_new_conn, .small_only = true, .fresh_conns = true,           \
		.set_size = n                                                                      \
	}

/* The pick alone (bench_pick) for a client frame's flow, out of one set of n targets. */
#define PICK_SET(nm, text, n)                                                                      \
	{                                                                                          \
		.name = nm, .what = text, .prog = PROG_PICK, .frame = FR_CLIENT,                   \
		.vary = { VK_FRESH }, .seed = SEED_TGTSETS, .stat = -1, .small_only = true,        \
		.set_size = n                                                                      \
	}

static const struct scenario scenarios[] = {
	/* the first three are the floors, in enum prog_id order */
	{ .name = "reset_only",
	  .what = "wrapper alone: reset frame, vary flow, count verdict",
	  .prog = PROG_RESET,
	  .frame = FR_CLIENT,
	  .vary = { VK_CLIENTS },
	  .stat = -1 },
	{ .name = "floor_a",
	  .what = "parse + MAC swap + XDP_TX",
	  .prog = PROG_FLOOR_A,
	  .frame = FR_CLIENT,
	  .vary = { VK_CLIENTS },
	  .stat = -1 },
	{ .name = "floor_b",
	  .what = "parse + hash lookup + IPIP encap + csum + XDP_TX",
	  .prog = PROG_FLOOR_B,
	  .frame = FR_CLIENT,
	  .vary = { VK_CLIENTS },
	  .seed = SEED_BACKENDS,
	  .out_delta = 20,
	  .stat = -1 },
	{ .name = "iap_flow_hit",
	  .what = "IAP: flow entry -> tunnel to JAP",
	  .prog = PROG_PIAS,
	  .frame = FR_CLIENT,
	  .vary = { VK_CLIENTS },
	  .seed = SEED_BINDING,
	  .out_delta = PIAS_ENCAP_OVERHEAD_V4,
	  .stat = PIAS_STAT_iap_flow_hit,
	  .goal = true,
	  .churn = true },
	{ .name = "iap_flow_hit_tas",
	  .what = "IAP: flow entry, each flow its own TA",
	  .prog = PROG_PIAS,
	  .frame = FR_CLIENT,
	  .vary = { VK_CLIENTS, VK_TAS },
	  .seed = SEED_BINDING,
	  .out_delta = PIAS_ENCAP_OVERHEAD_V4,
	  .stat = PIAS_STAT_iap_flow_hit,
	  .big_only = true,
	  .churn = true },
	{ .name = "iap_binding_hit",
	  .what = "IAP: new flow, binding -> flow recorded, tunnel to JAP",
	  .prog = PROG_PIAS,
	  .frame = FR_CLIENT,
	  .vary = { VK_FRESH, VK_TAS },
	  .seed = SEED_BINDING,
	  .out_delta = PIAS_ENCAP_OVERHEAD_V4,
	  .stat = PIAS_STAT_iap_binding_hit,
	  .goal = true },
	{ .name = "iap_miss",
	  .what = "IAP: no binding -> MISS event, tunnel to RAP",
	  .prog = PROG_PIAS,
	  .frame = FR_CLIENT,
	  .vary = { VK_TAS },
	  .out_delta = PIAS_ENCAP_OVERHEAD_V4,
	  .stat = PIAS_STAT_iap_miss },
	{ .name = "rap_relay",
	  .what = "RAP: decap, group, pick JAP, BOUND event, encap",
	  .prog = PROG_PIAS,
	  .frame = FR_TUN_RAP,
	  .vary = { VK_TAS },
	  .seed = SEED_GROUPS,
	  .stat = PIAS_STAT_rap_relayed },
	{ .name = "jap_conn_hit",
	  .what = "JAP: decap, connection hit, NAT to target",
	  .prog = PROG_PIAS,
	  .frame = FR_TUN_JAP,
	  .vary = { VK_CLIENTS },
	  .seed = SEED_CONNS,
	  .out_delta = -PIAS_ENCAP_OVERHEAD_V4,
	  .stat = PIAS_STAT_jap_conn_hit,
	  .goal = true },
	{ .name = "jap_conn_hit_tas",
	  .what = "JAP: connection hit, each flow its own TA",
	  .prog = PROG_PIAS,
	  .frame = FR_TUN_JAP,
	  .vary = { VK_CLIENTS, VK_TAS },
	  .seed = SEED_CONNS,
	  .out_delta = -PIAS_ENCAP_OVERHEAD_V4,
	  .stat = PIAS_STAT_jap_conn_hit,
	  .big_only = true,
	  .own_groups = true },
	{ .name = "jap_new_conn",
	  .what = "JAP: decap, pick target, NAT port, record, NAT",
	  .prog = PROG_PIAS,
	  .frame = FR_TUN_JAP,
	  .vary = { VK_FRESH, VK_TAS },
	  .seed = SEED_TGTSETS,
	  .out_delta = -PIAS_ENCAP_OVERHEAD_V4,
	  .stat = PIAS_STAT_jap_new_conn,
	  .fresh_conns = true },
	/* the pick out of one large set: its cost against the set's size */
	NEW_CONN_SET("jap_new_conn_32", "JAP: new flow, a set of 32 targets (inline)", 32),
	NEW_CONN_SET("jap_new_conn_1k", "JAP: new flow, a set of 1,000 targets (2 chunks)", 1000),
	NEW_CONN_SET("jap_new_conn_10k", "JAP: new flow, a set of 10,000 targets (20 chunks)",
		     BIG_SET),
	PICK_SET("jap_pick_32", "JAP: the target pick alone, a set of 32", 32),
	PICK_SET("jap_pick_1k", "JAP: the target pick alone, a set of 1,000", 1000),
	PICK_SET("jap_pick_10k", "JAP: the target pick alone, a set of 10,000", BIG_SET),
	{ .name = "reverse",
	  .what = "JAP: target reply -> NAT back to the client",
	  .prog = PROG_PIAS,
	  .frame = FR_REPLY,
	  .vary = { VK_TARGETS },
	  .seed = SEED_CONNS,
	  .stat = PIAS_STAT_rev_translated },
	{ .name = "reverse_tas",
	  .what = "JAP: reply NATed back, each connection its own TA",
	  .prog = PROG_PIAS,
	  .frame = FR_REPLY,
	  .vary = { VK_TARGETS },
	  .seed = SEED_CONNS,
	  .stat = PIAS_STAT_rev_translated,
	  .big_only = true,
	  .own_groups = true },
	{ .name = "jap_tunnel_hit",
	  .what = "JAP: decap, connection hit, wrap to a tunnel-mode target (kind 5)",
	  .prog = PROG_PIAS,
	  .frame = FR_TUN_JAP,
	  .vary = { VK_CLIENTS },
	  .seed = SEED_TUN_CONNS,
	  .out_delta = 0,
	  .stat = PIAS_STAT_jap_tunnel_sent,
	  .goal = true },
	{ .name = "jap_tunnel_reply",
	  .what = "JAP: a tunnel-mode target's reply (kind 6) unwrapped to the client",
	  .prog = PROG_PIAS,
	  .frame = FR_TUN_REPLY,
	  .vary = { VK_CLIENTS_DST },
	  .seed = SEED_TUN_CONNS,
	  .out_delta = -PIAS_ENCAP_OVERHEAD_V4,
	  .stat = PIAS_STAT_jap_tunnel_reply },
	/* the target's TC rows: tc_floor first, filled in by the rows after it */
	{ .name = "tc_floor",
	  .what = "TC program returning TC_ACT_OK, one packet per call",
	  .prog = PROG_TC_FLOOR,
	  .frame = FR_TT_OUT,
	  .stat = -1,
	  .tt_stat = -1,
	  .tc_verdict = TC_ACT_OK,
	  .small_only = true },
	{ .name = "target_decap",
	  .what = "target (TC ingress): kind 5 from the JAP for a served TA, unwrapped",
	  .prog = PROG_TT_IN,
	  .frame = FR_TT_IN,
	  .out_delta = -PIAS_ENCAP_OVERHEAD_V4,
	  .stat = -1,
	  .tt_stat = PIAS_TT_decap,
	  .tc_verdict = TC_ACT_OK,
	  .small_only = true },
	{ .name = "target_encap",
	  .what = "target (TC egress): the server's reply from the TA, wrapped as kind 6 to the JAP",
	  .prog = PROG_TT_OUT,
	  .frame = FR_TT_OUT,
	  .out_delta = PIAS_ENCAP_OVERHEAD_V4,
	  .stat = -1,
	  .tt_stat = PIAS_TT_encap,
	  .tc_verdict = TC_ACT_REDIRECT,
	  .small_only = true },
};
#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

/* ---- state -------------------------------------------------------------- */

struct opts {
	const char *json;
	unsigned int repeat;
	unsigned int runs;
	int cpu;
	const char *only;
	unsigned int sets; /* bit 0: working set of 1, bit 1: of 64k */
};

struct env {
	struct bench *skel;
	struct target *tt; /* the tunnel-mode target's programs and maps */
	struct pias_maps m;
	struct netns_env ns;
	struct ring_buffer *rb;
	int prog_fd[NPROGS];
	int cfg_fd, verdict_fd, backends_fd, tt_stats_fd;
	int ncpus;
	int cpu;
	uint8_t mac_self[6], mac_gw[6];
};

#define MAX_RUNS 101
#define NFLOORS	 3 /* reset_only, floor_a, floor_b: scenarios[0..2] */

/*
 * One row. Times are what the kernel reports per packet (whole ns, without
 * the time other tasks had the CPU: it pauses its clock to reschedule).
 * Each run of a path is paired with a run of each floor right before it, and
 * ratios are medians of the pairs' ratios, so that a busy spell on the
 * machine slows both sides of a ratio alike.
 */
struct result {
	const struct scenario *sc;
	unsigned int set;
	unsigned int repeat; /* per run */
	unsigned int nruns;
	double ns[MAX_RUNS], wall[MAX_RUNS];
	double vs[NFLOORS][MAX_RUNS]; /* this run's floors (for floor rows: none) */
	double tcf[MAX_RUNS];	      /* TC rows: this run's tc_floor, call by call beside it */
	double med, min, max, wall_med;
	double net;	/* median of (this - reset_only) over pairs; TC: - tc_floor */
	double xa, xb;	/* median of this / floor over pairs; TC: of (this - tc_floor) / floor */
	double tcf_med; /* TC rows: median of tcf */
	__u64 ev_sent, ev_suppressed, ev_lost; /* over all measured runs */
	bool ok;
	char fail[256];
};

static struct result results[2 * NSCEN];
static int nresults;
static bool failed;

/* ---- small helpers ------------------------------------------------------ */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int check(int err, struct pias_err *e, const char *what)
{
	if (err)
		fprintf(stderr, "pias-bench: %s: %s\n", what, e->msg[0] ? e->msg : strerror(-err));
	return err;
}

static __u32 a4_host(const char *s)
{
	return ntohl(pkt_a4(s).v4);
}

static const char *verdict_name(unsigned int v)
{
	static const char *const names[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };

	return v < 5 ? names[v] : "OTHER";
}

/* ---- flows and frames --------------------------------------------------- */

/* How a vary kind maps index i to fields; also used to build the map keys. */
struct vary_def {
	bool addr_is_dst, port_is_dst;
	const char *addr;
	__u16 port;
	__u8 port_bits;
};

static struct vary_def vary_def(enum vary_kind k)
{
	switch (k) {
	case VK_CLIENTS:
		return (struct vary_def){ false, false, CLIENT_ADDR, CLIENT_PORT, 10 };
	case VK_FRESH:
		return (struct vary_def){ false, false, CLIENT_ADDR, 0, 16 };
	case VK_TAS:
		return (struct vary_def){ true, true, TA_ADDR, TA_PORT, 10 };
	case VK_TARGETS:
		return (struct vary_def){ false, true, TARGET_ADDR, PIAS_DEFAULT_NAT_PORT_MIN,
					  CONN_PORT_BITS };
	case VK_CLIENTS_DST:
		return (struct vary_def){ true, true, CLIENT_ADDR, CLIENT_PORT, 10 };
	default:
		return (struct vary_def){ 0 };
	}
}

/* Field values of index i under vary kind k, written into a flow. */
static void vary_flow(struct pias_flow *f, enum vary_kind k, __u32 i)
{
	struct vary_def d = vary_def(k);
	__u32 a = a4_host(d.addr) + (i >> d.port_bits);
	__u16 p = (__u16)(d.port + (i & ((1u << d.port_bits) - 1)));

	if (k == VK_NONE)
		return;
	if (d.addr_is_dst)
		f->daddr.v4 = htonl(a);
	else
		f->saddr.v4 = htonl(a);
	if (d.port_is_dst)
		f->dport = p;
	else
		f->sport = p;
}

/* The client's flow of every client-side frame, before variation. */
static struct pkt_spec client_spec(const struct env *env)
{
	struct pkt_spec s = pkt_udp(CLIENT_ADDR, CLIENT_PORT, TA_ADDR, TA_PORT, PAYLOAD);

	pkt_set_macs(&s, env->mac_self, env->mac_gw);
	return s;
}

/* The server's reply to the client, from the TA itself (tunnel mode: no NAT). */
static struct pkt_spec server_reply_spec(const struct env *env)
{
	struct pkt_spec s = pkt_udp(TA_ADDR, TA_PORT, CLIENT_ADDR, CLIENT_PORT, PAYLOAD);

	pkt_set_macs(&s, env->mac_self, env->mac_gw);
	return s;
}

/* The overlay key of the benchmark's proxies: their tunnel tags come from it. */
static const __u8 bench_key[PIAS_TUN_KEY_LEN] = "pias-bench's overlay key, 32 B!";

/* inner in a tunnel frame of kind from src to dst (IPv4 underlay, the default port). */
static void tunnel_frame(const struct env *env, const struct pkt_spec *inner_spec, __u8 kind,
			 const char *src, const char *dst, __u32 iap_id, struct pkt *out)
{
	struct pkt inner;
	struct pkt_tun t;

	pkt_build_ip(&inner, inner_spec);
	memset(&t, 0, sizeof(t));
	t.family = PIAS_AF_INET;
	t.src = pkt_a4(src);
	t.dst = pkt_a4(dst);
	t.dport = PIAS_TUN_PORT_DEFAULT;
	t.version = PIAS_TUN_VERSION;
	t.kind = kind;
	t.hops = 1;
	t.iap_id = iap_id;
	/* between proxies: the tag that PEER's piasd would write for SELF */
	if (kind <= PIAS_KIND_MAX)
		t.tag = pias_tun_tag(bench_key, PEER_IAP_ID, SELF_ID);
	out->len = pkt_tunnel_frame(&t, env->mac_self, env->mac_gw, inner.b, inner.len, out->b,
				    sizeof(out->b));
}

/* The template frame of a scenario; *l3 is the offset of the varied IP header. */
static void build_frame(const struct env *env, enum frame_kind k, struct pkt *out, size_t *l3)
{
	struct pkt_spec s = client_spec(env);
	struct pkt_spec r = server_reply_spec(env);

	*l3 = PKT_ETH_HLEN;
	switch (k) {
	case FR_CLIENT:
		pkt_build(out, &s);
		return;
	case FR_REPLY:
		s = pkt_udp(TARGET_ADDR, TARGET_PORT, SELF_ADDR, PIAS_DEFAULT_NAT_PORT_MIN,
			    PAYLOAD);
		pkt_set_macs(&s, env->mac_self, env->mac_gw);
		pkt_build(out, &s);
		return;
	case FR_TUN_RAP:
	case FR_TUN_JAP:
		tunnel_frame(env, &s, k == FR_TUN_RAP ? PIAS_KIND_IAP_TO_RAP : PIAS_KIND_IAP_TO_JAP,
			     PEER_ADDR, SELF_ADDR, PEER_IAP_ID, out);
		*l3 = PKT_ETH_HLEN + PIAS_ENCAP_OVERHEAD_V4;
		return;
	case FR_TUN_REPLY:
		/* as bpf/target.bpf.c wraps it: from the target's address, no IAP */
		tunnel_frame(env, &r, PIAS_KIND_TARGET_TO_JAP, TUN_TARGET_ADDR, SELF_ADDR, 0, out);
		*l3 = PKT_ETH_HLEN + PIAS_ENCAP_OVERHEAD_V4;
		return;
	case FR_TT_IN:
		/* as the JAP sends it (jap_tunnel_hit's output, TTL aside) */
		tunnel_frame(env, &s, PIAS_KIND_JAP_TO_TARGET, SELF_ADDR, TUN_TARGET_ADDR,
			     PEER_IAP_ID, out);
		*l3 = PKT_ETH_HLEN + PIAS_ENCAP_OVERHEAD_V4;
		return;
	case FR_TT_OUT:
		pkt_build(out, &r);
		return;
	}
}

/*
 * Order of the working set within a round: scattered for measuring (see
 * bench.h), in table order for the warm-up pass that fills tables.
 */
#define SCATTER 0x9e3779b1u

/* The wrapper's description of vary kind k over a working set of n. */
static struct bench_vary bench_vary_of(enum vary_kind k, unsigned int n, size_t l3, bool scatter)
{
	struct vary_def d = vary_def(k);
	struct bench_vary v;

	memset(&v, 0, sizeof(v));
	if (k == VK_NONE)
		return v;
	v.mask = k == VK_FRESH ? (1u << FRESH_BITS) - 1 : n - 1;
	v.mult = scatter && k != VK_FRESH ? SCATTER : 1;
	v.addr_base = a4_host(d.addr);
	v.addr_off = (__u16)(l3 + (d.addr_is_dst ? 16 : 12));
	v.port_off = (__u16)(l3 + 20 + (d.port_is_dst ? 2 : 0));
	v.port_base = d.port;
	v.port_bits = d.port_bits;
	return v;
}

/* ---- setup -------------------------------------------------------------- */

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0) {
		/* the highest CPU we may use: CPU 0 usually takes more interrupts */
		if (sched_getaffinity(0, sizeof(set), &set))
			return -errno;
		for (cpu = CPU_SETSIZE - 1; cpu > 0 && !CPU_ISSET(cpu, &set); cpu--)
			;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "pias-bench: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
		return -1;
	}
	return cpu;
}

static int ignore_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

static int load(struct env *env)
{
	struct pias_err e;
	struct bpf_map *map;
	int err;

	libbpf_set_print(libbpf_log);
	env->skel = bench__open();
	if (!env->skel) {
		fprintf(stderr, "pias-bench: opening bench.bpf.o: %s\n", strerror(errno));
		return -1;
	}
	/* unpinned: private to this process, never a running proxy's state */
	bpf_object__for_each_map(map,
				 env->skel->obj) if (bpf_map__set_pin_path(map, NULL)) return -1;
	err = pias_maps_size_object(env->skel->obj, &e);
	if (err) {
		fprintf(stderr, "pias-bench: %s\n", e.msg);
		return -1;
	}
	err = bench__load(env->skel);
	if (err) {
		fprintf(stderr, "pias-bench: loading bench.bpf.o: %s\n", strerror(-err));
		return -1;
	}
	env->prog_fd[PROG_RESET] = bpf_program__fd(env->skel->progs.bench_reset_only);
	env->prog_fd[PROG_FLOOR_A] = bpf_program__fd(env->skel->progs.bench_floor_a);
	env->prog_fd[PROG_FLOOR_B] = bpf_program__fd(env->skel->progs.bench_floor_b);
	env->prog_fd[PROG_PIAS] = bpf_program__fd(env->skel->progs.bench_pias);
	env->prog_fd[PROG_PICK] = bpf_program__fd(env->skel->progs.bench_pick);
	env->prog_fd[PROG_TC_FLOOR] = bpf_program__fd(env->skel->progs.bench_tc_floor);
	env->cfg_fd = bpf_map__fd(env->skel->maps.bench_cfg);
	env->verdict_fd = bpf_map__fd(env->skel->maps.bench_verdicts);
	env->backends_fd = bpf_map__fd(env->skel->maps.bench_backends);

	/* the library's writers work on any set of fds: hand them ours */
	if (pias_maps_from_object(&env->m, env->skel->obj, "(pias-bench, unpinned)", &e)) {
		fprintf(stderr, "pias-bench: %s\n", e.msg);
		return -1;
	}
	env->ncpus = env->m.ncpus;
	env->rb = ring_buffer__new(env->m.fd[PIAS_M_EVENTS], ignore_event, NULL, NULL);
	if (!env->rb) {
		fprintf(stderr, "pias-bench: ring buffer: %s\n", strerror(errno));
		return -1;
	}

	/* the tunnel-mode target's program, as piasctl loads it, maps unpinned */
	env->tt = target__open();
	if (!env->tt) {
		fprintf(stderr, "pias-bench: opening target.bpf.o: %s\n", strerror(errno));
		return -1;
	}
	bpf_object__for_each_map(map, env->tt->obj) if (bpf_map__set_pin_path(map, NULL)) return -1;
	err = target__load(env->tt);
	if (err) {
		fprintf(stderr, "pias-bench: loading target.bpf.o: %s\n", strerror(-err));
		return -1;
	}
	env->prog_fd[PROG_TT_IN] = bpf_program__fd(env->tt->progs.pias_tt_ingress);
	env->prog_fd[PROG_TT_OUT] = bpf_program__fd(env->tt->progs.pias_tt_egress);
	env->tt_stats_fd = bpf_map__fd(env->tt->maps.pias_tt_stats);
	return 0;
}

/* What every scenario shares: config, anycast prefix, proxies, RAPs, targets. */
static int seed_static(struct env *env)
{
	struct pias_config cfg;
	struct pias_net net;
	struct pias_err e = { { 0 } };
	const __u32 rap = RAP_ID;
	int err;

	pias_config_defaults(&cfg);
	cfg.self_id = SELF_ID;
	cfg.self4 = pkt_a4(SELF_ADDR);
	cfg.nat4 = pkt_a4(SELF_ADDR);
	err = check(pias_config_set(&env->m, &cfg, &e), &e, "config");
	if (!err)
		err = check(pias_net_parse(ANYCAST_NET, &net, &e), &e, "anycast prefix");
	if (!err)
		err = check(pias_prefix_add(&env->m, &net, &e), &e, "anycast prefix");
	static const struct {
		__u32 id;
		const char *addr;
	} proxies[] = {
		{ SELF_ID, SELF_ADDR },
		{ JAP_ID, JAP_ADDR },
		{ RAP_ID, RAP_ADDR },
		{ PEER_IAP_ID, PEER_ADDR },
	};
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]) && !err; i++) {
		union pias_addr a = pkt_a4(proxies[i].addr);
		struct pias_tun_tags tags;

		pias_tun_tags_derive(&bench_key, 1, 0, SELF_ID, proxies[i].id, &tags);
		err = check(pias_proxy_set(&env->m, proxies[i].id, &a, PIAS_AF_INET, PIAS_PROXY_UP,
					   &tags, &e),
			    &e, "proxy");
	}
	/* every group's RAP is proxy 3, never this one: a miss leaves the proxy */
	if (!err)
		err = check(pias_rap_fill(&env->m, &rap, 1, 1, &e), &e, "RAP table");
	for (__u32 id = 1; id <= NTARGETS && !err; id++) {
		struct pias_target t;

		memset(&t, 0, sizeof(t));
		t.addr.v4 = htonl(a4_host(TARGET_ADDR) + id - 1);
		t.port = TARGET_PORT;
		t.family = PIAS_AF_INET;
		t.state = PIAS_TARGET_ACTIVE;
		t.weight = 1;
		err = check(pias_target_set(&env->m, id, &t, &e), &e, "target");
	}
	for (__u32 i = 0; i < BIG_SET && !err; i++) {
		struct pias_target t;

		memset(&t, 0, sizeof(t));
		t.addr.v4 = htonl(a4_host(TARGET_ADDR) + i % NTARGETS);
		t.port = (__u16)(TARGET_PORT + 1 + i / NTARGETS);
		t.family = PIAS_AF_INET;
		t.state = PIAS_TARGET_ACTIVE;
		t.weight = 1 + i % 4;
		err = check(pias_target_set(&env->m, BIG_SET_BASE + 1 + i, &t, &e), &e, "target");
	}
	if (!err) {
		/* the tunnel-mode target: its port is unused, but must not be 0 */
		struct pias_target t;

		memset(&t, 0, sizeof(t));
		t.addr = pkt_a4(TUN_TARGET_ADDR);
		t.port = TARGET_PORT;
		t.family = PIAS_AF_INET;
		t.state = PIAS_TARGET_ACTIVE;
		t.weight = 1;
		t.flags = PIAS_TARGET_F_TUNNEL;
		err = check(pias_target_set(&env->m, TUN_TARGET_ID, &t, &e), &e,
			    "tunnel-mode target");
	}
	if (!err) {
		/* at the target: the client's TA is served, its JAP is this proxy */
		struct pkt_spec cs = client_spec(env);
		struct pias_flow f = pkt_spec_flow(&cs);
		struct pias_ta ta = pias_flow_ta(&f);
		struct pias_tt_service svc;

		memset(&svc, 0, sizeof(svc));
		svc.jap = pkt_a4(SELF_ADDR);
		svc.self = pkt_a4(TUN_TARGET_ADDR);
		svc.tunnel_port = PIAS_TUN_PORT_DEFAULT;
		svc.mtu = PIAS_DEFAULT_UNDERLAY_MTU;
		svc.family = PIAS_AF_INET;
		if (bpf_map_update_elem(bpf_map__fd(env->tt->maps.pias_tt_svc), &ta, &svc, BPF_ANY))
			err = check(-errno, &e, "target's service");
	}
	return err;
}

static int clear_map(struct env *env, enum pias_map_idx i)
{
	struct pias_err e = { { 0 } };

	return check(pias_map_clear(&env->m, i, &e), &e, "clearing a map");
}

/* Empties what scenarios seed differently; counters and LRU stats stay. */
static int clear_scenario(struct env *env)
{
	static const enum pias_map_idx maps[] = {
		PIAS_M_BINDINGS,    PIAS_M_FLOWS,	PIAS_M_GROUPS, PIAS_M_TARGET_SETS,
		PIAS_M_TSET_CHUNKS, PIAS_M_TSET_SCOPES, PIAS_M_CONNS,  PIAS_M_CONNS_REV,
	};
	int err = 0;

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]) && !err; i++)
		err = clear_map(env, maps[i]);
	return err;
}

static int clear_conns(struct env *env)
{
	int err = clear_map(env, PIAS_M_CONNS);

	return err ? err : clear_map(env, PIAS_M_CONNS_REV);
}

/* The TAs a scenario's packets go to: n of them if it varies TAs, else one. */
static unsigned int ta_count(const struct scenario *sc, unsigned int n)
{
	for (int s = 0; s < BENCH_VARY_SLOTS; s++)
		if (sc->vary[s] == VK_TAS)
			return n;
	return 1;
}

/* Group ta's set of the first n large-set targets, with their weights. */
static int seed_big_set(struct env *env, const struct pias_ta *ta, __u32 n)
{
	__u32 *ids = calloc(n, sizeof(*ids)), *w = calloc(n, sizeof(*w));
	struct pias_err e = { { 0 } };
	int err;

	if (!ids || !w) {
		err = check(-ENOMEM, &e, "large set");
	} else {
		for (__u32 i = 0; i < n; i++) {
			ids[i] = BIG_SET_BASE + 1 + i;
			w[i] = 1 + i % 4;
		}
		err = check(pias_tset_write(&env->m, ta, ids, w, n, NULL, &e), &e, "large set");
	}
	free(ids);
	free(w);
	return err;
}

static int seed_scenario(struct env *env, const struct scenario *sc, unsigned int n)
{
	struct pkt_spec spec = client_spec(env);
	const struct pias_flow base = pkt_spec_flow(&spec);
	const __u32 set[NEW_CONN_TARGETS] = { 1, 2, 3, 4 };
	const struct pias_group_jap jap = { JAP_ID, 1 };
	unsigned int ntas = ta_count(sc, n);
	struct pias_err e = { { 0 } };
	int err = sc->seed == SEED_BACKENDS ? 0 : clear_scenario(env);

	for (__u32 i = 0; i < ntas && !err; i++) {
		struct pias_flow f = base;
		struct pias_ta ta;

		if (ntas > 1)
			vary_flow(&f, VK_TAS, i);
		ta = pias_flow_ta(&f);
		if (sc->seed == SEED_BINDING)
			err = check(pias_binding_set(&env->m, &ta, JAP_ID, 1, 0, &e), &e,
				    "binding");
		else if (sc->seed == SEED_GROUPS)
			err = check(pias_group_set(&env->m, &ta, &jap, 1, &e), &e, "group");
		else if (sc->seed == SEED_TGTSETS && sc->set_size)
			err = seed_big_set(env, &ta, sc->set_size);
		else if (sc->seed == SEED_TGTSETS)
			err = check(pias_tgtset_set(&env->m, &ta, set, NEW_CONN_TARGETS, &e), &e,
				    "target set");
	}
	for (__u32 i = 0; i < n && !err; i++) {
		struct pias_flow f = base;

		vary_flow(&f, VK_CLIENTS, i);
		if (sc->own_groups)
			vary_flow(&f, VK_TAS, i);
		if (sc->seed == SEED_BACKENDS) {
			__be32 to = pkt_a4(JAP_ADDR).v4;

			if (bpf_map_update_elem(env->backends_fd, &f, &to, BPF_ANY))
				err = check(-errno, &e, "floor (b) table");
		} else if (sc->seed == SEED_CONNS) {
			/* what pias_conn_create would have recorded for this flow */
			__u32 tid = 1 + (i >> CONN_PORT_BITS);
			__u16 port = (__u16)(PIAS_DEFAULT_NAT_PORT_MIN +
					     (i & ((1u << CONN_PORT_BITS) - 1)));
			/* a stream, seen just now: it lives through the runs; its
			 * group's slot, as the target set would have given it */
			struct pias_ta ta = pias_flow_ta(&f);
			__u16 slot = pias_group_slot_take(&env->m, &ta);
			struct pias_conn conn = { .target_id = tid,
						  .slot = slot,
						  .nat_port = port,
						  .iap_id = PEER_IAP_ID,
						  .ct = PIAS_CT_REPLIED | PIAS_CT_MORE,
						  .last_ns = coarse_now(),
						  .created_ns = coarse_now() };
			struct pias_conn_rev rv = { .client = f,
						    .target_id = tid,
						    .slot = slot,
						    .ct = PIAS_CT_REPLIED,
						    .last_ns = coarse_now() };
			struct pias_flow rk;

			memset(&rk, 0, sizeof(rk));
			rk.saddr.v4 = htonl(a4_host(TARGET_ADDR) + tid - 1);
			rk.daddr = pkt_a4(SELF_ADDR);
			rk.sport = TARGET_PORT;
			rk.dport = port;
			rk.proto = PIAS_PROTO_UDP;
			rk.family = PIAS_AF_INET;
			err = check(pias_map_update(&env->m, PIAS_M_CONNS, &f, &conn, &e), &e,
				    "connection");
			if (!err)
				err = check(
					pias_map_update(&env->m, PIAS_M_CONNS_REV, &rk, &rv, &e),
					&e, "reverse connection");
		} else if (sc->seed == SEED_TUN_CONNS) {
			/* what pias_conn_create_tunnel would have recorded: no NAT
			 * port, no reverse entry; a stream, so it lives through the runs */
			struct pias_ta ta = pias_flow_ta(&f);
			struct pias_conn conn = { .target_id = TUN_TARGET_ID,
						  .slot = pias_group_slot_take(&env->m, &ta),
						  .iap_id = PEER_IAP_ID,
						  .ct = PIAS_CT_REPLIED | PIAS_CT_MORE,
						  .last_ns = coarse_now(),
						  .created_ns = coarse_now() };

			err = check(pias_map_update(&env->m, PIAS_M_CONNS, &f, &conn, &e), &e,
				    "tunnel connection");
		}
	}
	return err;
}

static int set_template(struct env *env, const struct scenario *sc, unsigned int n, bool scatter)
{
	struct bench_cfg cfg;
	struct pkt frame;
	size_t l3;
	__u32 zero = 0;

	build_frame(env, sc->frame, &frame, &l3);
	if (frame.len > BENCH_FRAME_MAX) {
		fprintf(stderr, "pias-bench: %s frame of %zu bytes is too long\n", sc->name,
			frame.len);
		return -1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.len = (__u32)frame.len;
	memcpy(cfg.frame, frame.b, frame.len);
	for (int s = 0; s < BENCH_VARY_SLOTS; s++)
		cfg.vary[s] = bench_vary_of(sc->vary[s], n, l3, scatter);
	if (bpf_map_update_elem(env->cfg_fd, &zero, &cfg, BPF_ANY)) {
		fprintf(stderr, "pias-bench: bench_cfg: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- running ------------------------------------------------------------ */

struct snapshot {
	__u64 verdicts[BENCH_VERDICTS];
	struct pias_stats st;
	struct pias_drops dr;
};

static int snap(struct env *env, struct snapshot *s)
{
	__u64 per[env->ncpus];
	struct pias_err e = { { 0 } };

	memset(s, 0, sizeof(*s));
	for (__u32 k = 0; k < BENCH_VERDICTS; k++) {
		if (bpf_map_lookup_elem(env->verdict_fd, &k, per))
			return -errno;
		for (int c = 0; c < env->ncpus; c++)
			s->verdicts[k] += per[c];
	}
	return check(pias_stats_read(&env->m, &s->st, &s->dr, &e), &e, "counters");
}

/*
 * One BPF_PROG_TEST_RUN of repeat packets; checks verdicts, the scenario's
 * counter and the output length. Returns 0, or -1 with r->fail filled.
 */
static int run_once(struct env *env, const struct scenario *sc, unsigned int repeat,
		    bool check_stat, double *ns, double *kern_ns, struct result *r)
{
	static __u8 out[PKT_MAX];
	struct bench_cfg cfg;
	struct xdp_md md;
	struct snapshot a, b;
	__u32 zero = 0;
	double t0, t1;
	int err;

	if (bpf_map_lookup_elem(env->cfg_fd, &zero, &cfg)) {
		snprintf(r->fail, sizeof(r->fail), "reading bench_cfg: %s", strerror(errno));
		return -1;
	}
	memset(&md, 0, sizeof(md));
	md.data_end = cfg.len;
	md.ingress_ifindex = (__u32)env->ns.ifindex[0];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = cfg.frame, .data_size_in = cfg.len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &md,
		    .ctx_size_in = sizeof(md), .repeat = repeat);

	ring_buffer__consume(env->rb); /* start every run with an empty ring */
	if (snap(env, &a))
		return -1;
	t0 = now_ns();
	err = bpf_prog_test_run_opts(env->prog_fd[sc->prog], &o);
	t1 = now_ns();
	if (err) {
		snprintf(r->fail, sizeof(r->fail), "BPF_PROG_TEST_RUN: %s", strerror(errno));
		return -1;
	}
	if (snap(env, &b))
		return -1;
	if (ns)
		*ns = (t1 - t0) / repeat;
	if (kern_ns)
		*kern_ns = o.duration;

	for (int d = 0; d < PIAS_DROP_MAX; d++) {
		__u64 got = ((__u64 *)&b.dr)[d] - ((__u64 *)&a.dr)[d];

		if (got) {
			snprintf(r->fail, sizeof(r->fail), "%llu of %u packets dropped: %s",
				 (unsigned long long)got, repeat, pias_drop_info[d].name);
			return -1;
		}
	}
	for (int v = 0; v < BENCH_VERDICTS; v++) {
		__u64 got = b.verdicts[v] - a.verdicts[v];
		__u64 want = v == XDP_TX ? repeat : 0;

		if (got != want) {
			snprintf(r->fail, sizeof(r->fail), "%llu of %u verdicts were %s (want TX)",
				 (unsigned long long)got, repeat, verdict_name(v));
			return -1;
		}
	}
	if (check_stat && sc->stat >= 0) {
		__u64 got = ((__u64 *)&b.st)[sc->stat] - ((__u64 *)&a.st)[sc->stat];

		if (got != repeat) {
			snprintf(r->fail, sizeof(r->fail),
				 "%s counted %llu of %u packets: wrong path",
				 pias_stat_info[sc->stat].name, (unsigned long long)got, repeat);
			return -1;
		}
	}
	if ((long)o.data_size_out != (long)cfg.len + sc->out_delta) {
		snprintf(r->fail, sizeof(r->fail), "output %u bytes, want %d", o.data_size_out,
			 (int)cfg.len + sc->out_delta);
		return -1;
	}
	r->ev_sent += b.st.events_sent - a.st.events_sent;
	r->ev_suppressed += b.st.events_suppressed - a.st.events_suppressed;
	r->ev_lost += b.st.events_lost - a.st.events_lost;
	return 0;
}

/* ---- the tunnel-mode target's rows (TC, one packet per call) ------------ */

static const char *tc_name(__u32 v)
{
	switch (v) {
	case TC_ACT_OK:
		return "TC_ACT_OK";
	case 2:
		return "TC_ACT_SHOT";
	case TC_ACT_REDIRECT:
		return "TC_ACT_REDIRECT";
	}
	return "TC_ACT_?";
}

/* pias_tt_stats summed over CPUs. */
static int tt_counters(struct env *env, __u64 sum[PIAS_TT_NSTATS])
{
	struct pias_tt_stats per[env->ncpus];
	__u32 zero = 0;

	memset(sum, 0, sizeof(__u64) * PIAS_TT_NSTATS);
	if (bpf_map_lookup_elem(env->tt_stats_fd, &zero, per))
		return -errno;
	for (int c = 0; c < env->ncpus; c++)
		for (int i = 0; i < PIAS_TT_NSTATS; i++)
			sum[i] += ((const __u64 *)&per[c])[i];
	return 0;
}

/* One BPF_PROG_TEST_RUN of one packet on an skb "received" on pias0. */
static int tc_call(struct env *env, int fd, const struct pkt *in, __u32 *dur, __u32 *verdict,
		   __u32 *out_len, double *wall)
{
	static __u8 out[PKT_MAX];
	struct __sk_buff ctx;
	double t0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.ifindex = (__u32)env->ns.ifindex[0]; /* bpf_redirect_neigh's device */
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b, .data_size_in = (__u32)in->len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	t0 = now_ns();
	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*wall = now_ns() - t0;
	*dur = o.duration;
	*verdict = o.retval;
	*out_len = o.data_size_out;
	return 0;
}

/* What one run of a TC row gives: medians over its calls. */
struct tc_run {
	double path, floor;	      /* kernel's duration, ns */
	double path_wall, floor_wall; /* the whole system call, ns */
};

/*
 * calls packets through sc's program, one per call, each paired with a call
 * of the TC floor on the same frame (which of the two goes first
 * alternates). Checks every call's verdict and output length, and that
 * the target's counter sc->tt_stat counted every call and no other moved.
 * Returns 0, or -1 with r->fail filled.
 */
static int run_tc(struct env *env, const struct scenario *sc, unsigned int calls,
		  struct tc_run *res, struct result *r)
{
	static double dp[TT_CALLS_MAX], df[TT_CALLS_MAX], wp[TT_CALLS_MAX], wf[TT_CALLS_MAX];
	__u64 a[PIAS_TT_NSTATS], b[PIAS_TT_NSTATS];
	struct pkt in;
	size_t l3;

	if (calls > TT_CALLS_MAX)
		calls = TT_CALLS_MAX;
	build_frame(env, sc->frame, &in, &l3);
	if (tt_counters(env, a)) {
		snprintf(r->fail, sizeof(r->fail), "reading pias_tt_stats: %s", strerror(errno));
		return -1;
	}
	for (unsigned int i = 0; i < calls; i++) {
		for (int j = 0; j < 2; j++) {
			bool path = (j == 0) == (i % 2 == 0);
			__u32 want = path ? (__u32)sc->tc_verdict : TC_ACT_OK;
			long want_len = (long)in.len + (path ? sc->out_delta : 0);
			__u32 dur = 0, verdict = 0, len = 0;
			double wall = 0;
			int err = tc_call(env, env->prog_fd[path ? sc->prog : PROG_TC_FLOOR], &in,
					  &dur, &verdict, &len, &wall);

			if (err) {
				snprintf(r->fail, sizeof(r->fail), "BPF_PROG_TEST_RUN: %s",
					 strerror(-err));
				return -1;
			}
			if (verdict != want) {
				snprintf(r->fail, sizeof(r->fail), "%s returned %s (%u), want %s",
					 path ? sc->name : "tc_floor", tc_name(verdict), verdict,
					 tc_name(want));
				return -1;
			}
			if ((long)len != want_len) {
				snprintf(r->fail, sizeof(r->fail), "%s: output %u bytes, want %ld",
					 path ? sc->name : "tc_floor", len, want_len);
				return -1;
			}
			(path ? dp : df)[i] = dur;
			(path ? wp : wf)[i] = wall;
		}
	}
	if (tt_counters(env, b)) {
		snprintf(r->fail, sizeof(r->fail), "reading pias_tt_stats: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < PIAS_TT_NSTATS; i++) {
		static const char *const names[] = {
#define TT_NAME(name, text) #name,
			PIAS_TT_STATS(TT_NAME)
#undef TT_NAME
		};
		__u64 got = b[i] - a[i], want = i == sc->tt_stat ? calls : 0;

		if (got != want) {
			snprintf(r->fail, sizeof(r->fail),
				 "pias_tt_stats.%s counted %llu of %u calls", names[i],
				 (unsigned long long)got, calls);
			return -1;
		}
	}
	if (res) {
		res->path = median(dp, calls);
		res->floor = median(df, calls);
		res->path_wall = median(wp, calls);
		res->floor_wall = median(wf, calls);
	}
	return 0;
}

static bool selected(const struct opts *o, const struct scenario *sc)
{
	const char *p = o->only;
	size_t len = strlen(sc->name);

	if (!p || sc->prog < NFLOORS)
		return true;
	while (*p) {
		if (!strncmp(p, sc->name, len) && (p[len] == ',' || !p[len]))
			return true;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	return false;
}

/* The row of that name (the list is the program's own: it is there). */
static const struct scenario *scenario_named(const char *name)
{
	for (size_t i = 0; i < NSCEN; i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	abort();
}

/*
 * A proxy that has run a while has its flow table's entries all over the
 * table's memory, not in the order they were allocated: fill it with new
 * flows past its size once (binding hits), so the seeded entries land where
 * a long-running proxy's would. On this VM that alone makes a 64k-flow
 * lookup a third slower.
 */
static int churn_flows(struct env *env, struct result *r)
{
	const struct scenario *bh = scenario_named("iap_binding_hit");

	if (seed_scenario(env, bh, 1) || set_template(env, bh, 1, false))
		return -1;
	return run_once(env, bh, PIAS_DEFAULT_FLOWS + SET_BIG, false, NULL, NULL, r);
}

/* Seeds and warms one scenario: one pass over its working set. */
static int prepare(struct env *env, const struct scenario *sc, unsigned int n, unsigned int repeat,
		   struct result *r)
{
	unsigned int chunk;

	if (is_tc(sc->prog)) { /* nothing to seed per row: one pass to warm up */
		if (run_tc(env, sc, TT_WARMUP, NULL, r)) {
			if (!r->fail[0])
				snprintf(r->fail, sizeof(r->fail), "warm-up failed");
			return -1;
		}
		return 0;
	}
	if (sc->churn && churn_flows(env, r)) {
		if (!r->fail[0])
			snprintf(r->fail, sizeof(r->fail), "filling the flow table failed");
		return -1;
	}
	if (seed_scenario(env, sc, n) || set_template(env, sc, n, false)) {
		snprintf(r->fail, sizeof(r->fail), "setup failed");
		return -1;
	}
	for (unsigned int done = 0; done < n; done += chunk) {
		chunk = n - done < repeat ? n - done : repeat;
		if ((sc->fresh_conns && clear_conns(env)) ||
		    run_once(env, sc, chunk, false, NULL, NULL, r)) {
			if (!r->fail[0])
				snprintf(r->fail, sizeof(r->fail), "warm-up failed");
			return -1;
		}
	}
	r->ev_sent = r->ev_suppressed = r->ev_lost = 0;
	return 0;
}

/*
 * One measured run of r's scenario, appended to r. A TC row's run also
 * appends the TC floor's figures, measured call by call beside it, to
 * tcfl (the tc_floor row), with this run's floors.
 */
static int measure(struct env *env, struct result *r, unsigned int n, struct result *tcfl)
{
	const struct scenario *sc = r->sc;
	unsigned int k = r->nruns;

	if (is_tc(sc->prog)) {
		struct tc_run t;

		if (k >= MAX_RUNS) {
			snprintf(r->fail, sizeof(r->fail), "too many runs");
			return -1;
		}
		if (run_tc(env, sc, r->repeat, &t, r))
			return -1;
		r->ns[k] = t.path;
		r->tcf[k] = t.floor;
		r->wall[k] = t.path_wall;
		r->nruns++;
		if (tcfl && tcfl->nruns < MAX_RUNS) {
			unsigned int j = tcfl->nruns++;

			tcfl->ns[j] = t.floor;
			tcfl->wall[j] = t.floor_wall;
			for (int f = 0; f < NFLOORS; f++)
				tcfl->vs[f][j] = r->vs[f][k];
		}
		return 0;
	}
	if (k >= MAX_RUNS || set_template(env, sc, n, true) ||
	    (sc->fresh_conns && clear_conns(env))) {
		snprintf(r->fail, sizeof(r->fail), "setting up run %u failed", k + 1);
		return -1;
	}
	if (run_once(env, sc, r->repeat, true, &r->wall[k], &r->ns[k], r))
		return -1;
	r->nruns++;
	return 0;
}

static struct result *new_result(const struct scenario *sc, unsigned int n, const struct opts *o)
{
	struct result *r = &results[nresults++];

	memset(r, 0, sizeof(*r));
	r->sc = sc;
	r->set = n;
	r->repeat = sc->fresh_conns && o->repeat > NEW_CONN_CAP ? NEW_CONN_CAP : o->repeat;
	if (is_tc(sc->prog) && r->repeat > TT_CALLS_MAX)
		r->repeat = TT_CALLS_MAX;
	return r;
}

static void fail_row(struct result *r)
{
	failed = true;
	r->ok = false;
	fprintf(stderr, "pias-bench: %s with %u: %s\n", r->sc->name, r->set, r->fail);
}

static void finish(struct result *r)
{
	double v[MAX_RUNS];
	unsigned int n = r->nruns;

	if (!n)
		return;
	memcpy(v, r->ns, n * sizeof(double));
	r->med = median(v, n);
	r->min = v[0];
	r->max = v[n - 1];
	memcpy(v, r->wall, n * sizeof(double));
	r->wall_med = median(v, n);
	if (r->sc->prog == PROG_TT_IN || r->sc->prog == PROG_TT_OUT) {
		/* net of the TC floor; ratios of that to the same run's XDP floors */
		memcpy(v, r->tcf, n * sizeof(double));
		r->tcf_med = median(v, n);
		for (unsigned int k = 0; k < n; k++)
			v[k] = r->ns[k] - r->tcf[k];
		r->net = median(v, n);
		for (unsigned int k = 0; k < n; k++)
			v[k] = (r->ns[k] - r->tcf[k]) / r->vs[PROG_FLOOR_A][k];
		r->xa = median(v, n);
		for (unsigned int k = 0; k < n; k++)
			v[k] = (r->ns[k] - r->tcf[k]) / r->vs[PROG_FLOOR_B][k];
		r->xb = median(v, n);
	} else if (r->sc->prog == PROG_TC_FLOOR) {
		for (unsigned int k = 0; k < n; k++)
			v[k] = r->ns[k] / r->vs[PROG_FLOOR_A][k];
		r->xa = median(v, n);
		for (unsigned int k = 0; k < n; k++)
			v[k] = r->ns[k] / r->vs[PROG_FLOOR_B][k];
		r->xb = median(v, n);
	} else if (r->sc->prog == PROG_PIAS || r->sc->prog == PROG_PICK) {
		for (unsigned int k = 0; k < n; k++)
			v[k] = r->ns[k] - r->vs[PROG_RESET][k];
		r->net = median(v, n);
		for (unsigned int k = 0; k < n; k++)
			v[k] = r->ns[k] / r->vs[PROG_FLOOR_A][k];
		r->xa = median(v, n);
		for (unsigned int k = 0; k < n; k++)
			v[k] = r->ns[k] / r->vs[PROG_FLOOR_B][k];
		r->xb = median(v, n);
	}
	r->ok = true;
}

/* Floors' rows: their own runs, ratios against each other run by run. */
static void finish_floors(struct result **fl)
{
	for (int f = 0; f < NFLOORS; f++)
		finish(fl[f]);
	for (int f = 0; f < NFLOORS; f++) {
		double v[MAX_RUNS];
		unsigned int n = fl[f]->nruns;

		if (!n || fl[PROG_FLOOR_A]->nruns != n || fl[PROG_FLOOR_B]->nruns != n ||
		    fl[PROG_RESET]->nruns != n)
			continue;
		for (unsigned int k = 0; k < n; k++)
			v[k] = fl[f]->ns[k] - fl[PROG_RESET]->ns[k];
		fl[f]->net = median(v, n);
		for (unsigned int k = 0; k < n; k++)
			v[k] = fl[f]->ns[k] / fl[PROG_FLOOR_A]->ns[k];
		fl[f]->xa = median(v, n);
		for (unsigned int k = 0; k < n; k++)
			v[k] = fl[f]->ns[k] / fl[PROG_FLOOR_B]->ns[k];
		fl[f]->xb = median(v, n);
	}
}

/*
 * All rows of one working set. Floors first get their table seeded; then
 * every run of a path is preceded by one run of each floor (the floors'
 * templates are put back each time, their maps are not touched by paths).
 */
static void run_set(struct env *env, unsigned int n, const struct opts *o)
{
	struct result *fl[NFLOORS], *tcfl = NULL;
	bool any = false;

	for (int f = 0; f < NFLOORS; f++)
		fl[f] = new_result(&scenarios[f], n, o);
	if (prepare(env, &scenarios[PROG_FLOOR_B], n, o->repeat, fl[PROG_FLOOR_B]) ||
	    prepare(env, &scenarios[PROG_FLOOR_A], n, o->repeat, fl[PROG_FLOOR_A]) ||
	    prepare(env, &scenarios[PROG_RESET], n, o->repeat, fl[PROG_RESET])) {
		for (int f = 0; f < NFLOORS; f++)
			if (fl[f]->fail[0])
				fail_row(fl[f]);
		return;
	}
	for (size_t i = NFLOORS; i < NSCEN; i++) {
		const struct scenario *sc = &scenarios[i];
		struct result *r;

		if ((sc->big_only && n != SET_BIG) || (sc->small_only && n != SET_SMALL) ||
		    sc->prog == PROG_TC_FLOOR || !selected(o, sc))
			continue;
		any = true;
		fprintf(stderr, "  %-17s %5u ...\n", sc->name, n);
		if (is_tc(sc->prog) && !tcfl) /* its row first; runs come with the TC rows' */
			tcfl = new_result(scenario_named("tc_floor"), n, o);
		r = new_result(sc, n, o);
		if (prepare(env, sc, n, r->repeat, r)) {
			fail_row(r);
			continue;
		}
		for (unsigned int k = 0; k < o->runs; k++) {
			for (int f = 0; f < NFLOORS; f++) {
				if (measure(env, fl[f], n, NULL)) {
					fail_row(fl[f]);
					return;
				}
				r->vs[f][k] = fl[f]->ns[fl[f]->nruns - 1];
			}
			if (measure(env, r, n, tcfl))
				break;
		}
		if (r->nruns == o->runs)
			finish(r);
		else
			fail_row(r);
	}
	if (!any) /* floors alone */
		for (unsigned int k = 0; k < o->runs; k++)
			for (int f = 0; f < NFLOORS; f++)
				if (measure(env, fl[f], n, NULL)) {
					fail_row(fl[f]);
					return;
				}
	finish_floors(fl);
	if (tcfl) {
		if (tcfl->nruns)
			finish(tcfl);
		else {
			snprintf(tcfl->fail, sizeof(tcfl->fail), "no TC row ran");
			fail_row(tcfl);
		}
	}
}

/* ---- report ------------------------------------------------------------- */

static double target_x(unsigned int set)
{
	return set == SET_SMALL ? 3.0 : 8.0;
}

static const char *set_label(const struct result *r, char *buf, size_t len)
{
	const struct scenario *sc = r->sc;
	bool fresh = sc->vary[0] == VK_FRESH || sc->vary[1] == VK_FRESH;
	bool tas = ta_count(sc, 2) == 2;
	const char *unit = tas && !(sc->vary[0] == VK_CLIENTS) ? "TA" : "flow";

	if (is_tc(sc->prog))
		snprintf(buf, len, "1 call"); /* one packet per BPF_PROG_TEST_RUN */
	else if (r->set == SET_BIG)
		snprintf(buf, len, "64k %ss%s", unit, fresh ? ", new" : "");
	else
		snprintf(buf, len, "1 %s%s", unit, fresh ? ", new" : "");
	return buf;
}

static bool has_target(const struct result *r)
{
	return r->sc->prog == PROG_PIAS;
}

static bool within(const struct result *r)
{
	return r->xb <= target_x(r->set);
}

static void print_table(const struct opts *o)
{
	char label[32];
	bool tc = false;

	printf("\n%-17s %-14s %7s %7s %8s %7s %7s %7s  %s\n", "scenario", "working set", "ns/pkt",
	       "wall", "-wrapper", "x a", "x b", "target", "result");
	for (int i = 0; i < nresults; i++) {
		const struct result *r = &results[i];
		char tgt[16] = "", res[16] = "";

		if (i && r->set != results[i - 1].set)
			printf("\n");
		if (!r->ok) {
			printf("%-17s %-14s  FAILED: %s\n", r->sc->name,
			       set_label(r, label, sizeof(label)), r->fail);
			continue;
		}
		if (has_target(r)) {
			snprintf(tgt, sizeof(tgt), "%.0fx b", target_x(r->set));
			snprintf(res, sizeof(res), "%s%s", within(r) ? "PASS" : "OVER",
				 r->sc->goal ? " *" : "");
		}
		if (is_tc(r->sc->prog)) {
			char net[16] = "-";

			tc = true;
			if (r->sc->prog != PROG_TC_FLOOR)
				snprintf(net, sizeof(net), "%.0f", r->net);
			printf("%-17s %-14s %7.0f %7.0f %8s %7.2f %7.2f %7s  %s\n", r->sc->name,
			       set_label(r, label, sizeof(label)), r->med, r->wall_med, net, r->xa,
			       r->xb, "-", "TC");
			continue;
		}
		printf("%-17s %-14s %7.0f %7.1f %8.0f %7.2f %7.2f %7s  %s\n", r->sc->name,
		       set_label(r, label, sizeof(label)), r->med, r->wall_med, r->net, r->xa,
		       r->xb, tgt, res);
	}
	printf("\nns/pkt: median over %u runs of %u packets of the kernel's figure (whole ns;\n"
	       "time given to other tasks left out); wall: the same from the wall clock.\n"
	       "Every row includes the wrapper (reset frame, vary flow, count verdict).\n"
	       "Each run of a path is paired with a run of each floor just before it:\n"
	       "-wrapper, x a and x b are medians over those pairs of path - reset_only,\n"
	       "path / floor (a), path / floor (b). Target: 3x floor (b) with 1 flow, 8x\n"
	       "with 64k (Katran's IPIP LRU hit here); the issue sets it for rows marked *,\n"
	       "the others are shown for comparison. Informational: only a wrong verdict,\n"
	       "counter or length fails the run.\n",
	       o->runs, o->repeat);
	if (tc)
		printf("TC rows (bpf/target.bpf.c on the tunnel-mode target; no target set):\n"
		       "one packet per BPF_PROG_TEST_RUN (repeat 1: a decap run again would meet\n"
		       "its own output), %u calls per run, each beside a call of tc_floor (a TC\n"
		       "program returning TC_ACT_OK) on the same frame. ns/pkt: median over runs\n"
		       "of the median call, the kernel's figure, which includes its timing of the\n"
		       "call; wall: a whole system call. For target_*, -wrapper is ns/pkt minus\n"
		       "tc_floor (call by call medians of the same run): the program's own cost;\n"
		       "x a, x b are that net figure over the same run's floor (a), (b) (XDP,\n"
		       "repeated, wrapper included): a scale, not a like-for-like ratio. For\n"
		       "tc_floor, x a and x b are its ns/pkt over them.\n",
		       o->repeat < TT_CALLS_MAX ? o->repeat : TT_CALLS_MAX);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static int write_json(const struct opts *o, const struct env *env)
{
	FILE *f = fopen(o->json, "w");
	struct utsname u;
	char label[32];

	if (!f) {
		fprintf(stderr, "pias-bench: cannot write %s: %s\n", o->json, strerror(errno));
		return -1;
	}
	uname(&u);
	fprintf(f, "{\n  \"tool\": \"pias-bench\",\n  \"kernel\": ");
	json_str(f, u.release);
	fprintf(f,
		",\n  \"cpu\": %d,\n  \"possible_cpus\": %d,\n  \"repeat\": %u,\n"
		"  \"runs\": %u,\n  \"unit\": \"ns per packet, BPF_PROG_TEST_RUN duration\",\n"
		"  \"statistic\": \"median; ratios are medians of per-run pairs\",\n"
		"  \"results\": [",
		env->cpu, env->ncpus, o->repeat, o->runs);
	for (int i = 0; i < nresults; i++) {
		const struct result *r = &results[i];

		fprintf(f, "%s\n    {\"scenario\": ", i ? "," : "");
		json_str(f, r->sc->name);
		fprintf(f, ", \"what\": ");
		json_str(f, r->sc->what);
		fprintf(f, ", \"working_set\": %u, \"label\": ", r->set);
		json_str(f, set_label(r, label, sizeof(label)));
		fprintf(f, ", \"ok\": %s", r->ok ? "true" : "false");
		if (!r->ok) {
			fprintf(f, ", \"error\": ");
			json_str(f, r->fail);
			fprintf(f, "}");
			continue;
		}
		if (is_tc(r->sc->prog)) {
			fprintf(f,
				", \"method\": \"TC, one packet per BPF_PROG_TEST_RUN, median call;"
				" paired call by call with tc_floor\", \"ns_per_packet\": %.1f,"
				" \"min_ns\": %.0f, \"max_ns\": %.0f,"
				" \"wall_ns_per_call\": %.0f, \"calls_per_run\": %u, \"runs\": %u,"
				" \"ns_minus_wrapper\": null",
				r->med, r->min, r->max, r->wall_med, r->repeat, r->nruns);
			if (r->sc->prog != PROG_TC_FLOOR)
				fprintf(f, ", \"tc_floor_ns\": %.1f, \"ns_minus_tc_floor\": %.1f",
					r->tcf_med, r->net);
			/* target rows: (ns - tc_floor) / floor; tc_floor: ns / floor */
			fprintf(f, ", \"x_floor_a\": %.3f, \"x_floor_b\": %.3f", r->xa, r->xb);
		} else
			fprintf(f,
				", \"ns_per_packet\": %.1f, \"min_ns\": %.0f, \"max_ns\": %.0f,"
				" \"wall_ns_per_packet\": %.2f, \"repeat\": %u, \"runs\": %u,"
				" \"ns_minus_wrapper\": %.1f, \"x_floor_a\": %.3f,"
				" \"x_floor_b\": %.3f",
				r->med, r->min, r->max, r->wall_med, r->repeat, r->nruns, r->net,
				r->xa, r->xb);
		if (has_target(r))
			fprintf(f,
				", \"target_x_floor_b\": %.0f, \"goal\": %s, \"within_target\": %s",
				target_x(r->set), r->sc->goal ? "true" : "false",
				within(r) ? "true" : "false");
		fprintf(f, ", \"runs_ns\": [");
		for (unsigned int k = 0; k < r->nruns; k++)
			fprintf(f, "%s%.0f", k ? ", " : "", r->ns[k]);
		fprintf(f,
			"], \"events_sent\": %llu, \"events_suppressed\": %llu,"
			" \"events_lost\": %llu}",
			(unsigned long long)r->ev_sent, (unsigned long long)r->ev_suppressed,
			(unsigned long long)r->ev_lost);
	}
	fprintf(f, "\n  ]\n}\n");
	if (fclose(f)) {
		fprintf(stderr, "pias-bench: writing %s failed\n", o->json);
		return -1;
	}
	return 0;
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pias-bench [--json PATH] [--repeat N] [--runs N] [--quick] [--cpu N]\n"
		"                  [--only NAME[,NAME...]] [--set 1|64k]\n"
		"ns per packet of each PIAS path through BPF_PROG_TEST_RUN, next to two floors.\n"
		"  --json PATH   write the results there too (default build/bench.json)\n"
		"  --repeat N    packets per run (default 1000000; target_* rows: one\n"
		"                packet per call, at most 20000 calls per run)\n"
		"  --runs N      runs per scenario, the median is reported (default 5)\n"
		"  --quick       --repeat 100000 --runs 3\n"
		"  --cpu N       pin to CPU N (default: the highest CPU allowed)\n"
		"  --only LIST   only these scenarios (the floors and reset_only always run,\n"
		"                tc_floor with any target_* row)\n"
		"  --set 1|64k   only this working set (default both)\n"
		"Then piasd's map writes: 10,000 targets, groups and bindings written one\n"
		"bpf() call each, and in batches (lib/maps.h *_many), ns per entry.\n"
		"Needs root: it creates a network namespace and loads BPF programs.\n");
}

static bool parse_uint(const char *s, unsigned int *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || !*s || *end || x == 0 || x > UINT_MAX)
		return false;
	*v = (unsigned int)x;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "runs", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "only", required_argument, NULL, 'o' },
		{ "set", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { "build/bench.json", 1000000, 5, -1, NULL, 3 };
	static struct env env;
	unsigned int v;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = optarg;
			break;
		case 'r':
		case 'n':
			if (!parse_uint(optarg, &v)) {
				fprintf(stderr, "pias-bench: bad number '%s'\n", optarg);
				return 2;
			}
			if (c == 'n' && v > MAX_RUNS) {
				fprintf(stderr, "pias-bench: at most %d runs\n", MAX_RUNS);
				return 2;
			}
			*(c == 'r' ? &o.repeat : &o.runs) = v;
			break;
		case 'c':
			if (!strcmp(optarg, "0"))
				v = 0;
			else if (!parse_uint(optarg, &v) || v >= CPU_SETSIZE) {
				fprintf(stderr, "pias-bench: bad CPU '%s'\n", optarg);
				return 2;
			}
			o.cpu = (int)v;
			break;
		case 'q':
			o.repeat = 100000;
			o.runs = 3;
			break;
		case 'o':
			o.only = optarg;
			break;
		case 's':
			if (!strcmp(optarg, "1"))
				o.sets = 1;
			else if (!strcmp(optarg, "64k") || !strcmp(optarg, "65536"))
				o.sets = 2;
			else {
				fprintf(stderr, "pias-bench: --set takes 1 or 64k\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	if (scenario_named("tc_floor")->prog != PROG_TC_FLOOR ||
	    scenarios[PROG_RESET].prog != PROG_RESET ||
	    scenarios[PROG_FLOOR_A].prog != PROG_FLOOR_A ||
	    scenarios[PROG_FLOOR_B].prog != PROG_FLOOR_B) {
		fprintf(stderr, "pias-bench: scenario table out of order\n");
		return 2;
	}
	env.cpu = pin_cpu(o.cpu);
	if (env.cpu < 0)
		return 2;
	if (netns_setup(&env.ns))
		return 2;
	if (pkt_mac(env.mac_gw, GW_MAC))
		return 2;
	memcpy(env.mac_self, env.ns.mac[0], 6);
	if (load(&env) || seed_static(&env))
		return 2;

	printf("pias-bench: BPF_PROG_TEST_RUN, %u packets x %u runs per row, CPU %d\n", o.repeat,
	       o.runs, env.cpu);
	for (int si = 0; si < 2; si++) {
		unsigned int n = si ? SET_BIG : SET_SMALL;

		if (!(o.sets & (1u << si)))
			continue;
		run_set(&env, n, &o);
	}
	print_table(&o);
	if (write_json(&o, &env))
		failed = true;
	else
		printf("results: %s\n", o.json);
	if (bench_map_writes(&env.m, MAP_WRITES, o.runs))
		failed = true;
	ring_buffer__free(env.rb);
	pias_maps_close(&env.m);
	bench__destroy(env.skel);
	return failed ? 1 : 0;
}
