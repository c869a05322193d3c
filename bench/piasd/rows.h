/* SPDX-License-Identifier: MIT */
/*
 * What piasd-bench.c (the runner: timing, runs, table, JSON) and rows.c
 * (the rows: the control plane's receive paths through the node piasd
 * runs, daemon/node.h, with its I/O counted instead of made: world.h)
 * share.
 *
 * A row is measured in batches: prep() builds the inputs of the next ops
 * outside the clock (datagrams as a peer or a target would send them, with
 * their MACs and fresh seqs), run() is what is timed. So the cost of making
 * the input never counts, and the state machines see as many distinct
 * inputs as a real run would.
 */
#ifndef PIAS_PIASD_BENCH_ROWS_H
#define PIAS_PIASD_BENCH_ROWS_H

#include <stdbool.h>

#include <pias/types.h>

/* Ops whose inputs are prepared at once: ~0.5 MiB of datagrams, about L2-sized. */
#define PB_BATCH 4096

struct pb_params {
	unsigned int tas;     /* groups (TAs) the JAP, RAP and IAP know */
	unsigned int targets; /* targets per TA at the JAP, at most PIAS_JAP_GROUP_MAX_TARGETS */
	unsigned int fill_limit_s; /* a registry not filled by then: its rows are skipped */
};

/*
 * How a row's cost may grow with the groups held (issue 13's goals), when
 * piasd-bench runs it at several sizes (--tas 1000,10000,65000).
 */
enum pb_scale {
	PB_SCALE_NONE, /* independent of the groups: run at the first size only */
	PB_SCALE_FLAT, /* per message: at most PB_FLAT_GOAL x its cost at the first size */
	PB_SCALE_IDLE, /* a tick with nothing due: under PB_IDLE_GOAL_NS at every size */
};

#define PB_FLAT_GOAL	1.5
#define PB_IDLE_GOAL_NS 10000.0

/* Counted by the rows during one run; the runner zeroes them before each run. */
struct pb_stats {
	unsigned long long ok;	       /* ops that did what the row expects */
	unsigned long long map_writes; /* map writes piasd would make (not made here) */
	unsigned long long msgs;       /* datagrams encoded and MACed (not sent) */
	unsigned long long ticks;      /* periodic state machine ticks run */
	unsigned long long sent_sum;   /* RAP: rate-limit records seen at ticks, summed */
	unsigned long long sent_samples;
	char fail[256]; /* the first thing that went wrong, "" if nothing */
};

extern struct pb_stats pb_st;

struct pb_row {
	const char *name;
	const char *what;
	const char *kind; /* "baseline", "path", "diagnostic", "tick" or "io" */
	enum pb_scale scale;
	/*
	 * Once before the row's runs; untimed. 0, or 1: skipped (pb_st.fail
	 * says why: the size is beyond a limit, or filling took too long), or
	 * negative: failed.
	 */
	int (*setup)(void);
	void (*begin_run)(void); /* before every run; untimed; may be NULL */
	/* Inputs for up to n (<= PB_BATCH) ops; returns how many it made (>= 1). */
	unsigned int (*prep)(unsigned int n);
	void (*run)(unsigned int n); /* the timed part: n ops */
	/* Ops per registry fill (register_new): automatic op counts round up to it. */
	unsigned int (*round)(void);
};

extern const struct pb_row pb_rows[];
extern const unsigned int pb_nrows;
/* ring_rows.c: the RAP table's rows, run after pb_rows. */
extern const struct pb_row pb_ring_rows[];
extern const unsigned int pb_ring_nrows;
/* ring_rows.c: the RAP table's rows, run after pb_rows. */
extern const struct pb_row pb_ring_rows[];
extern const unsigned int pb_ring_nrows;

/* Once, before any row: keys, TAs, the ring of proxies. */
int pb_init(const struct pb_params *p);
void pb_fini(void);

/*
 * The node's clock (what piasd_now() gives the daemon): it runs
 * only while the current row's ops are being timed, so that their periodic
 * ticks, bindings' rate limits and target timeouts see the row's own pace,
 * not the time spent preparing inputs or measuring other rows.
 */
__u64 pb_vnow(void);

/* Record the first failure of a run (printf-style). */
void pb_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
