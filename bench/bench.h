/* SPDX-License-Identifier: MIT */
/*
 * What bpf/bench.bpf.c and bench/pias-bench.c share: the benchmark's own
 * maps (template frame and flow variation, verdict histogram). The PIAS
 * maps themselves come from include/pias/maps.h as usual.
 */
#ifndef PIAS_BENCH_H
#define PIAS_BENCH_H

#include <pias/types.h>

/* Largest template frame: a tunnelled client packet with room to spare. */
#define BENCH_FRAME_MAX	 256
#define BENCH_VARY_SLOTS 2
/* Verdict histogram: XDP_ABORTED..XDP_REDIRECT (0-4), and 7 for anything else. */
#define BENCH_VERDICTS 8

/*
 * One varied pair of fields. For the n-th packet on a CPU (n counts up and
 * is never reset by the program), i = (n * mult) & mask; the 32-bit word at
 * addr_off becomes addr_base + (i >> port_bits) and the 16-bit word at
 * port_off becomes port_base + (i & ((1 << port_bits) - 1)), both
 * big-endian. An odd mult visits every index of the working set once per
 * round, but not in the order the tables were filled in, so that a large
 * working set is not walked through memory in address order. Offsets below
 * BENCH_FRAME_MAX; 0 leaves that field alone. Checksums are not fixed up: no
 * path under test verifies them, and updating them would cost the same.
 */
struct bench_vary {
	__u32 mask; /* working set - 1, a power of two minus one */
	__u32 mult; /* odd */
	__u32 addr_base;
	__u16 addr_off;
	__u16 port_off;
	__u16 port_base;
	__u8 port_bits;
	__u8 pad;
};

/* bench_cfg: ARRAY, one entry. The frame every repetition starts from. */
struct bench_cfg {
	__u32 len;
	__u32 pad;
	struct bench_vary vary[BENCH_VARY_SLOTS];
	__u8 frame[BENCH_FRAME_MAX];
};

PIAS_STATIC_ASSERT(sizeof(struct bench_vary) == 20, "bench_vary layout");
PIAS_STATIC_ASSERT(sizeof(struct bench_cfg) == 8 + 40 + BENCH_FRAME_MAX, "bench_cfg layout");

#endif
