/* SPDX-License-Identifier: MIT */
/*
 * Runs the PIAS XDP program with BPF_PROG_TEST_RUN: loads the skeleton with
 * every map unpinned (a test never touches /sys/fs/bpf and never sees a
 * running proxy's state), seeds the maps, runs one frame, and reads back
 * verdict, bytes, counters, map entries and ring-buffer events.
 *
 * The process is pinned to one CPU when the program is loaded: the flow
 * table and the counters are per CPU, and a test that sends two packets
 * must see the second one meet the state the first one left.
 */
#ifndef PIAS_TEST_PROGRUN_H
#define PIAS_TEST_PROGRUN_H

#include <stddef.h>
#include <stdint.h>

#include <pias/maps.h>

#include "maps.h"
#include "pkt.h"

#define PR_MAX_EVENTS  64
#define PR_MAX_TRACKED 256

struct pias;
struct ring_buffer;

struct progrun {
	struct pias *skel; /* skeleton of bpf/pias.bpf.c (Makefile: name pias) */
	int prog_fd;
	int ncpus; /* possible CPUs: the stride of per-CPU values */
	int cpu;   /* the CPU the process is pinned to */
	struct ring_buffer *rb;
	struct pias_maps maps; /* lib's handle on the skeleton's maps: seeding writes through it */

	/* events drained after the last pr_run */
	struct pias_event ev[PR_MAX_EVENTS];
	int nev;

	/* array slots written since the last reset, so that reset is cheap */
	uint32_t proxies[PR_MAX_TRACKED];
	int nproxies;
	uint32_t slots[PR_MAX_TRACKED];
	int nslots;
	uint32_t targets[PR_MAX_TRACKED];
	int ntargets;
};

/* Result of one run. */
struct pr_result {
	int err;	  /* bpf_prog_test_run_opts() result, 0 on success */
	uint32_t verdict; /* XDP_* */
	uint8_t out[PKT_MAX];
	size_t len;
};

/*
 * Opens and loads the skeleton. On failure returns a negative errno and
 * prints the tail of libbpf's log (the verifier's complaint) on stderr.
 */
int pr_open(struct progrun *pr);
void pr_close(struct progrun *pr);
/* Empties every map and the ring buffer; counters back to zero. */
int pr_reset(struct progrun *pr);
/* Zeroes pias_stats and pias_drops only (between packets of one test). */
int pr_zero_counters(struct progrun *pr);
/* Empties every CPU's next-hop cache (pias_nh_cache): the next packet looks its route up. */
int pr_nh_flush(struct progrun *pr);

/* Seeding. Every function returns 0 or a negative errno. */
int pr_config(struct progrun *pr, const struct pias_config *cfg);
/*
 * Proxies are written with the tunnel tags of one fixed test key between
 * the configured self and them: pr_tag(from, to) is the tag of a packet
 * from proxy 'from' to proxy 'to'.
 */
uint64_t pr_tag(uint32_t from, uint32_t to);
int pr_prefix(struct progrun *pr, const char *cidr);
/* A proxy in pias_proxies and, with its address, in pias_proxy_addr. */
int pr_proxy(struct progrun *pr, uint32_t id, const char *addr, uint8_t state);
int pr_proxy_state(struct progrun *pr, uint32_t id, uint8_t state);
/* The RAP table slot of ta (pias_rap_slot_of), up to PIAS_RAP_REPLICAS ids. */
int pr_rap(struct progrun *pr, const struct pias_ta *ta, const uint32_t *ids, int n);
int pr_binding(struct progrun *pr, const struct pias_ta *ta, uint32_t jap, uint32_t gen,
	       uint64_t expires_ns, uint32_t flags);
int pr_group(struct progrun *pr, const struct pias_ta *ta, const struct pias_group_jap *japs,
	     int n);
/* The same with the group's policy, through the library's writer. */
int pr_group_policy(struct progrun *pr, const struct pias_ta *ta, const struct pias_group_jap *japs,
		    int n, const struct pias_policy *policy);
/* A binding to the whole set (scopes too), and a whole RAP group, through the library. */
int pr_bind_set_put(struct progrun *pr, const struct pias_ta *ta, const struct pias_group *set,
		    uint32_t gen);
int pr_group_put(struct progrun *pr, const struct pias_ta *ta, const struct pias_group *g);
/* An IAP binding to several JAPs (a set), through the library's writer. */
int pr_binding_set(struct progrun *pr, const struct pias_ta *ta, const struct pias_group_jap *japs,
		   int n, const struct pias_policy *policy, uint32_t gen);
int pr_target(struct progrun *pr, uint32_t id, const char *addr, uint16_t port, uint8_t state,
	      uint32_t weight);
int pr_target_state(struct progrun *pr, uint32_t id, uint8_t state);
/* PIAS_TARGET_F_* of target id (tunnel mode) */
/* Tunnel mode: target id's tag, as piasd would derive it (pr_target_flags writes it). */
uint64_t pr_target_tag(uint32_t id);
int pr_target_flags(struct progrun *pr, uint32_t id, uint32_t flags);
int pr_target_set(struct progrun *pr, const struct pias_ta *ta, const uint32_t *ids, int n);
/* The same through the library's writer, with the group's selection policy. */
int pr_target_set_policy(struct progrun *pr, const struct pias_ta *ta, const uint32_t *ids, int n,
			 const struct pias_policy *policy);
int pr_flow_set(struct progrun *pr, const struct pias_flow *f, uint32_t jap, uint32_t gen);
int pr_conn_rev_set(struct progrun *pr, const struct pias_flow *key,
		    const struct pias_conn_rev *val);
int pr_conn_set(struct progrun *pr, const struct pias_flow *key, const struct pias_conn *val);

/* Reading state back. Lookups return 0 if found, -ENOENT if not. */
int pr_flow_get(struct progrun *pr, const struct pias_flow *f, struct pias_flow_entry *out);
int pr_conn_get(struct progrun *pr, const struct pias_flow *f, struct pias_conn *out);
int pr_conn_rev_get(struct progrun *pr, const struct pias_flow *f, struct pias_conn_rev *out);
int pr_conn_del(struct progrun *pr, const struct pias_flow *f);
int pr_flow_del(struct progrun *pr, const struct pias_flow *f);
int pr_binding_get(struct progrun *pr, const struct pias_ta *ta, struct pias_binding *out);
int pr_bind_set_get(struct progrun *pr, const struct pias_ta *ta, struct pias_group *out);
int pr_binding_del(struct progrun *pr, const struct pias_ta *ta);
long pr_count(struct progrun *pr, int map_fd); /* entries of a hash map */
int pr_conns_fd(struct progrun *pr);
int pr_conns_rev_fd(struct progrun *pr);
int pr_flows_fd(struct progrun *pr);
/* Per-CPU statistics summed over CPUs; a missing entry reads as zeros. */
int pr_group_stats(struct progrun *pr, const struct pias_ta *ta, struct pias_group_stats *out);
int pr_target_stats(struct progrun *pr, uint32_t id, struct pias_target_stats *out);
int pr_counters(struct progrun *pr, struct pias_stats *st, struct pias_drops *dr);

/* One frame through pias_xdp as if received on ifindex. Drains events. */
int pr_run(struct progrun *pr, int ifindex, const void *in, size_t len, struct pr_result *res);
/*
 * Runs the frame for real (BPF_F_TEST_XDP_LIVE_FRAMES), as if it arrived at
 * ifindex: what the program passes goes up the stack of the test's netns,
 * through TC ingress, and what the stack or TC sends leaves by the links
 * (netns_capture reads it at a link's peer). No frame comes back: 0 or a
 * negative errno. Events are drained as after pr_run.
 */
int pr_run_live(struct progrun *pr, int ifindex, const void *in, size_t len);

/*
 * The TC program (pias_tc) on frame in, as an skb arriving without our XDP
 * program's metadata (what the stack gets of a packet XDP passed). Its
 * verdict (TC_ACT_*) into *verdict; 0 or a negative errno.
 */
int pr_run_tc(struct progrun *pr, const void *in, size_t len, int *verdict);
/* pias_tc at clsact ingress of ifindex (attach), or that hook gone (detach). */
int pr_tc_attach(struct progrun *pr, int ifindex);
void pr_tc_detach(int ifindex);

/*
 * Checks counters against an expectation: "name=value" pairs separated by
 * spaces, for pias_stats and pias_drops fields alike; every counter not
 * named must be 0. Returns 0, or -1 after printing every mismatch.
 */
int pr_expect_counters(struct progrun *pr, const char *expect);
/* Prints every non-zero counter on stderr as "name=value" (a failure hint). */
void pr_print_counters(struct progrun *pr);
/* Value of one named counter, or -1 if the name is unknown. */
long long pr_counter(struct progrun *pr, const char *name);

const char *pr_verdict_name(uint32_t verdict);

#endif
