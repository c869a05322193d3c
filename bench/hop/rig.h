/* SPDX-License-Identifier: MIT */
/*
 * The hop benchmark's rig: two network namespaces of its own, named after
 * the process, joined by two veth pairs (documentation prefixes only):
 *
 *      ends                         dut                          ends
 *   hg0 192.0.2.10 ------- hd0 192.0.2.1   hd1 198.51.100.1 ------- hs0 198.51.100.2
 *   02:00:00:00:00:0a      02:00:00:00:00:01 02:00:00:00:01:01      02:00:00:00:01:02
 *
 * The generator's end (hg0) and the sink's (hs0) share a namespace, so
 * that the sink can send what it receives back out of hg0 (struct
 * hop_loop). The DUT forwards: 203.0.113.0/24 is routed via the sink,
 * and the target address 198.51.100.20 is a static neighbour with the
 * sink's MAC, so every config's output ends at hs0. hd0 and hs0 run
 * threaded NAPI: the DUT's thread is pinned to one CPU and its CPU time
 * is what is measured; the sink's thread runs on the other.
 */
#ifndef PIAS_HOP_RIG_H
#define PIAS_HOP_RIG_H

#include <stdint.h>
#include <sys/types.h>

enum rig_ns {
	RIG_ENDS,
	RIG_DUT,
	RIG_NS_COUNT
};

#define RIG_GEN_ADDR	"192.0.2.10"
#define RIG_DUT_IN_ADDR "192.0.2.1"
#define RIG_DUT_OUT	"198.51.100.1"
#define RIG_SINK_ADDR	"198.51.100.2"
#define RIG_TARGET_ADDR "198.51.100.20" /* behind the sink's MAC */
#define RIG_CLIENTS	"203.0.113.0/24"

struct rig {
	char ns[RIG_NS_COUNT][48];
	int ns_fd[RIG_NS_COUNT];
	int home_fd; /* the namespace pias-hop started in */
	int gen_if, dut_in, dut_out, sink_if;
	uint8_t gen_mac[6], dut_in_mac[6], dut_out_mac[6], sink_mac[6];
	pid_t dut_napi, sink_napi; /* threaded NAPI kthreads of hd0 and hs0 */
	int cpu_gen, cpu_dut;	   /* the sink's CPU, the DUT's */
	int up;
};

/* Builds the rig above; 0, or -1 with the reason on stderr (then rig_down). */
int rig_up(struct rig *r, int cpu_gen, int cpu_dut);
/* Deletes the namespaces (and with them every link, route and attachment). */
void rig_down(struct rig *r);
/* Moves the calling thread into namespace ns (RIG_NS_COUNT: home). */
int rig_enter(const struct rig *r, enum rig_ns ns);
/* Runs a shell command inside namespace ns (nsenter: host mounts); its exit status. */
int rig_sh(const struct rig *r, enum rig_ns ns, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Turns threaded NAPI on for hd0 and hs0 (each must run an XDP program
 * by now) and pins their kthreads: hd0's to cpu_dut, hs0's to cpu_gen.
 */
int rig_threads(struct rig *r);
/* A task's time on CPU so far (ns, /proc/PID/schedstat), or -1. */
long long rig_cpu_ns(pid_t pid);

#endif
