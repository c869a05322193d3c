/* SPDX-License-Identifier: MIT */
/*
 * pias-hop's parts: the rig (rig.h), the configs under test (configs.c),
 * one measurement of a config (measure.c), and the rounds and report
 * (main.c). docs/bench.md says what is measured and how to read it.
 */
#ifndef PIAS_HOP_INTERNAL_H
#define PIAS_HOP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "maps.h"
#include "rig.h"
#include "hop.h"
#include "../../selftests/lib/pkt.h"

struct hop;  /* hop.skel.h */
struct pias; /* pias.skel.h */

struct hop_env {
	struct rig rig;
	struct hop *hop;
	struct pias *pias;
	struct pias_maps m; /* the PIAS skeleton's maps, unpinned */
	char pin_dir[96];   /* bpffs: the lwt program, for ip route's "pinned" */
	int dut_prog;	    /* the program on hd0 now */
};

/* The plan shared by the configs and the seeding (besides rig.h's). */
#define HOP_CLIENT	"203.0.113.129"
#define HOP_CLIENT_PORT 40000	       /* flow i: port HOP_CLIENT_PORT + i */
#define HOP_DST_MIN	"203.0.113.14" /* the minimal XDP proxy's TA */
#define HOP_TA_ADDR	"203.0.113.10" /* PIAS's TA: udp 203.0.113.10:53 */
#define HOP_TA_PORT	53
#define HOP_TARGET_PORT 8053
#define HOP_SELF_ID	1 /* the DUT */
#define HOP_JAP_ID	2 /* at the sink's address */
#define HOP_IAP_ID	4 /* at the generator's address */
#define HOP_TARGET_ID	1
#define HOP_NAT_PORT	PIAS_DEFAULT_NAT_PORT_MIN /* flow i's: HOP_NAT_PORT + i */

/* The tag the IAP (HOP_IAP_ID) puts on its tunnel packets to the DUT. */
__u64 hop_iap_tag(void);

/* What runs on hd0 for a config. */
enum hop_dut {
	DUT_PASS,
	DUT_REDIRECT,
	DUT_MIN_PROXY,
	DUT_MIN_PROXY_W,
	DUT_PIAS
};

struct hop_config {
	const char *name;
	const char *what;
	enum hop_dut dut;
	/* the template frame, and where the generator writes each flow's port */
	void (*frame)(const struct hop_env *env, struct pkt *out, __u32 *port_off,
		      __u16 *port_base);
	/* extra state for the config's time on the DUT (nft rules); may be NULL */
	int (*on)(struct hop_env *env);
	int (*off)(struct hop_env *env);
	/* what the sink must get: IP protocol, destination, frame length */
	__u8 out_proto;
	const char *out_dst;
	int out_len;
};

extern const struct hop_config hop_configs[];
extern const size_t hop_nconfigs;
/* Index of the baseline (kernel forwarding) and of the minimal XDP proxy. */
#define HOP_BASELINE	0
#define HOP_MIN_PROXY	4
#define HOP_MIN_PROXY_W 5 /* the same proxy, its header written in words */

/* Loads both objects, seeds the PIAS maps and the minimal proxy's table. */
int hop_load(struct hop_env *env);
void hop_unload(struct hop_env *env);
int hop_dut_attach(struct hop_env *env, enum hop_dut dut);
/*
 * Writes (again) a connection at the JAP for each flow the generator can
 * send, NAT port HOP_NAT_PORT + i, as the JAP would have made it, seen
 * just now: the JAP's and the reverse path's frames hit, whatever timed
 * out between rounds.
 */
int hop_seed_conns(struct hop_env *env);

/* One measurement of config c with nflows flows. */
struct hop_sample {
	double ns_per_pkt; /* the DUT's NAPI thread's CPU time / frames it received */
	double busy;	   /* that thread's CPU time / the window: near 1 when saturated */
	unsigned long long dut_rx, dut_drop, sink_ok, sink_bad;
	bool ok; /* every frame the DUT took arrived at the sink as expected */
	char why[160];
};

/* Runs the loop for window_ms (after a warm-up) and measures the DUT meanwhile. */
int hop_measure(struct hop_env *env, const struct hop_config *c, unsigned int nflows,
		unsigned int window_ms, struct hop_sample *s);

#endif
