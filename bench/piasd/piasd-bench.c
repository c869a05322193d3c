// SPDX-License-Identifier: MIT
/*
 * piasd-bench: CPU cost per message of piasd's control plane, one core:
 * how many registrations per second one JAP admits and how many bindings
 * per second one RAP hands out, each next to the floor every authenticated
 * message pays (one HMAC verify, row "mac") measured side by side in the
 * same run. docs/bench.md, section "Control plane", says what each row
 * includes and leaves out; rows.c runs them through the node piasd runs
 * (daemon/node.h).
 *
 * Each row: a warm-up run, then --runs runs of N ops; every run of a row
 * other than "mac" is paired with a run of "mac" just before it, and the
 * ratio is the median over those pairs (a busy spell on a shared machine
 * slows both sides of a pair alike). Times are CLOCK_MONOTONIC around the
 * ops only (inputs are prepared outside the clock, see rows.h).
 *
 * Sizes (issue 13): --tas takes a list of group counts, and every row whose
 * cost may depend on them runs at each; a last table gives each row's cost
 * per size, its x mac relative to the first size's (the machine's speed
 * drifts between sizes; the paired mac runs drift with it), and whether it
 * meets the goal: a message at most PB_FLAT_GOAL x its cost at the first
 * size, a tick with nothing due under PB_IDLE_GOAL_NS.
 *
 * No root needed: no BPF maps, no namespaces. Exit status 0 unless a row
 * failed (an op did not do what the row expects: e.g. a binding suppressed,
 * a registration refused, a MAC that did not verify); rows skipped at a
 * size (beyond a limit, or a registry too slow to fill) and goals not met
 * are reported, not failures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include <sodium.h>

#include <pias/maps.h>

#include "jap.h"
#include "rows.h"

#define MAX_RUNS	     15
#define CALIBRATE_NS	     30e6 /* calibration: time enough ops for at least this long */
#define DEFAULT_TIME_MS	     300
#define MAX_SIZES	     8
#define MAX_ROWS	     32
#define DEFAULT_SIZES	     "1000,10000,65000"
#define DEFAULT_TARGETS	     1 /* one target a group: 65,000 groups fit the JAP's ids */
#define DEFAULT_FILL_LIMIT_S 30
#define MAX_TAS		     PIAS_MAX_BINDINGS /* target addresses are unique below 2^19 TAs */

struct opts {
	const char *json;
	unsigned long ops; /* 0: per row, enough for time_ms */
	unsigned int runs;
	unsigned int time_ms;
	int cpu;
	const char *only;
	unsigned int sizes[MAX_SIZES]; /* --tas: groups, one run of the rows each */
	unsigned int nsizes;
	struct pb_params p;
};

/* The state machines' clock of one row (see pb_vnow). */
struct vclock {
	__u64 base; /* its reading when no op is being timed */
	__u64 seg_t0;
	bool running;
};

struct result {
	const struct pb_row *row;
	struct vclock vc;
	unsigned long ops; /* per run */
	unsigned int nruns;
	double ns[MAX_RUNS];	 /* ns per op, per run */
	double mac_ns[MAX_RUNS]; /* the paired "mac" run's ns per op */
	double med, best, worst, x_mac;
	double map_writes, msgs, sent_avg; /* per op; sent_avg: per tick sample */
	bool ok, skipped;
	char fail[300];
};

/* Per size (o->sizes), the rows run, "mac" first. */
static struct result results[MAX_SIZES][MAX_ROWS];
static int nresults[MAX_SIZES];
static struct vclock *cur_vc;

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

__u64 pb_vnow(void)
{
	if (!cur_vc->running)
		return cur_vc->base;
	return cur_vc->base + (mono_ns() - cur_vc->seg_t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *in, unsigned int n)
{
	double v[MAX_RUNS];

	memcpy(v, in, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * One run of n ops of r's row; ns per op into *ns. Inputs are made batch
 * by batch outside the clock; only run() is timed, and only then does the
 * row's state machine clock move.
 */
static int measure(struct result *r, unsigned long n, double *ns)
{
	const struct pb_row *row = r->row;
	__u64 total = 0;
	unsigned long done = 0;

	cur_vc = &r->vc;
	memset(&pb_st, 0, sizeof(pb_st));
	if (row->begin_run)
		row->begin_run();
	while (done < n && !pb_st.fail[0]) {
		unsigned int want = n - done < PB_BATCH ? (unsigned int)(n - done) : PB_BATCH;
		unsigned int got = row->prep ? row->prep(want) : want;
		__u64 t0, t1;

		if (pb_st.fail[0])
			break;
		t0 = mono_ns();
		r->vc.seg_t0 = t0;
		r->vc.running = true;
		row->run(got);
		t1 = mono_ns();
		r->vc.running = false;
		r->vc.base += t1 - t0;
		total += t1 - t0;
		done += got;
	}
	if (!pb_st.fail[0] && pb_st.ok != n)
		pb_fail("%llu of %lu ops as expected", pb_st.ok, n);
	if (pb_st.fail[0]) {
		snprintf(r->fail, sizeof(r->fail), "%s", pb_st.fail);
		return -1;
	}
	*ns = (double)total / (double)n;
	return 0;
}

/* Ops per run: enough for time_ms at the pace of a calibration pass (which also warms up). */
static int calibrate(struct result *r, const struct opts *o)
{
	unsigned long n = 64;
	double ns, want = o->time_ms * 1e6, mag;

	if (o->ops) {
		r->ops = o->ops;
		return 0;
	}
	for (;;) {
		if (measure(r, n, &ns))
			return -1;
		if (n * ns >= CALIBRATE_NS || n >= 1ul << 30)
			break;
		n *= 4;
	}
	n = (unsigned long)(want / ns);
	/* two significant digits: op counts that read well in the table */
	mag = pow(10, floor(log10(n > 100 ? n : 100)) - 1);
	n = (unsigned long)(ceil(n / mag) * mag);
	/* an op longer than the run (ring_full at --quick): one op a run, not none */
	n = n ? n : 1;
	if (r->row->round) {
		unsigned long round = r->row->round();

		/* whole fills of the registry: each run then sees it grow alike */
		n = (n + round / 2) / round;
		n = (n ? n : 1) * round;
	}
	r->ops = n;
	return 0;
}

/* Row i of all: the paths' rows (pb_rows, "mac" first), then the ring's. */
static const struct pb_row *row_at(unsigned int i)
{
	return i < pb_nrows ? &pb_rows[i] : &pb_ring_rows[i - pb_nrows];
}

static unsigned int nrows(void)
{
	return pb_nrows + pb_ring_nrows;
}

/* Every name in --only is a row's. */
static bool only_ok(const char *only)
{
	for (const char *p = only; p && *p;) {
		size_t len = strcspn(p, ",");
		bool found = false;

		for (unsigned int i = 0; i < nrows() && !found; i++)
			found = strlen(row_at(i)->name) == len && !strncmp(p, row_at(i)->name, len);
		if (!found) {
			fprintf(stderr, "piasd-bench: no row '%.*s'\n", (int)len, p);
			return false;
		}
		p += len + (p[len] == ',');
	}
	return true;
}

static bool selected(const struct opts *o, const struct pb_row *row)
{
	const char *p = o->only;
	size_t len = strlen(row->name);

	if (!p || !strcmp(row->name, "mac"))
		return true;
	while (p && *p) {
		if (!strncmp(p, row->name, len) && (p[len] == ',' || !p[len]))
			return true;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return false;
}

static void fail_row(struct result *r)
{
	r->ok = false;
	fprintf(stderr, "piasd-bench: %s: %s\n", r->row->name, r->fail);
}

static void finish(struct result *r, const struct result *mac)
{
	double v[MAX_RUNS];

	r->med = median(r->ns, r->nruns);
	r->best = r->worst = r->ns[0];
	for (unsigned int k = 1; k < r->nruns; k++) {
		r->best = r->ns[k] < r->best ? r->ns[k] : r->best;
		r->worst = r->ns[k] > r->worst ? r->ns[k] : r->worst;
	}
	for (unsigned int k = 0; k < r->nruns; k++)
		v[k] = r->ns[k] / (r == mac ? r->ns[k] : r->mac_ns[k]);
	r->x_mac = median(v, r->nruns);
	/* the counters of the last run stand for every run: the rows are steady */
	r->map_writes = (double)pb_st.map_writes / r->ops;
	r->msgs = (double)pb_st.msgs / r->ops;
	r->sent_avg = pb_st.sent_samples ? (double)pb_st.sent_sum / pb_st.sent_samples : -1;
	r->ok = true;
}

/* The rows at size si (o->sizes[si]); rows that do not depend on it at the first only. */
static int run_rows(const struct opts *o, unsigned int si)
{
	struct result *mac = &results[si][0];
	double ns;
	int n = 0, err;

	for (unsigned int i = 0; i < nrows(); i++) {
		struct result *r = &results[si][n];

		/* row 0, mac, runs at every size: the others pair with it */
		if (!selected(o, row_at(i)) || (si && i && row_at(i)->scale == PB_SCALE_NONE))
			continue;
		n++;
		*r = (struct result){ .row = row_at(i), .vc = { .base = mono_ns() } };
		fprintf(stderr, "  %-17s ...\n", r->row->name);
		cur_vc = &r->vc;
		memset(&pb_st, 0, sizeof(pb_st));
		err = r->row->setup();
		if (err > 0) {
			r->skipped = true;
			snprintf(r->fail, sizeof(r->fail), "%s", pb_st.fail);
			fprintf(stderr, "piasd-bench: %s skipped: %s\n", r->row->name, r->fail);
			continue;
		}
		if (err) {
			snprintf(r->fail, sizeof(r->fail), "setup failed%s%.250s",
				 pb_st.fail[0] ? ": " : "", pb_st.fail);
			fail_row(r);
			if (r == mac)
				return -1;
			continue;
		}
		/* calibration, then one more run as warm-up (state at its steady size) */
		if (calibrate(r, o) || measure(r, r->ops, &ns)) {
			fail_row(r);
			if (r == mac)
				return -1;
			continue;
		}
		for (unsigned int k = 0; k < o->runs; k++) {
			/* mac keeps no state but its one datagram: nothing to set up again */
			if (r != mac && measure(mac, mac->ops, &r->mac_ns[k])) {
				snprintf(r->fail, sizeof(r->fail), "paired mac run: %.250s",
					 mac->fail);
				break;
			}
			if (measure(r, r->ops, &r->ns[k]))
				break;
			r->nruns++;
		}
		if (r->nruns == o->runs)
			finish(r, mac);
		else
			fail_row(r);
	}
	nresults[si] = n;
	return 0;
}

static void print_table(const struct opts *o, unsigned int si)
{
	printf("\n%u TAs x %u targets:\n", o->sizes[si], o->p.targets);
	printf("%-17s %9s %9s %10s %7s %7s %7s\n", "op", "ns/op", "best", "ops/s", "x mac",
	       "maps/op", "msgs/op");
	for (int i = 0; i < nresults[si]; i++) {
		const struct result *r = &results[si][i];

		if (r->skipped) {
			printf("%-17s skipped: %s\n", r->row->name, r->fail);
			continue;
		}
		if (!r->ok) {
			printf("%-17s FAILED: %s\n", r->row->name, r->fail);
			continue;
		}
		printf("%-17s %9.0f %9.0f %10.0f %7.2f %7.2f %7.2f\n", r->row->name, r->med,
		       r->best, 1e9 / r->med, r->x_mac, r->map_writes, r->msgs);
	}
}

static void print_notes(const struct opts *o)
{
	printf("\nns/op: median of %u runs (best: the fastest run), CLOCK_MONOTONIC around the\n"
	       "ops only, one core, %u targets per TA at the JAP; ops/s = 1e9 / median.\n"
	       "x mac: median over runs of this run / the \"mac\" run just before it.\n"
	       "maps/op: BPF map writes piasd would add (not made here); msgs/op: datagrams\n"
	       "encoded and MACed (not sent). *_tick rows: per tick (piasd ticks every 50 ms).\n"
	       "udp_loopback: the socket calls piasd adds per request and answer, for\n"
	       "comparison.\n",
	       o->runs, o->p.targets);
}

/* Row name's result at size si, if it ran to the end. */
static const struct result *result_of(unsigned int si, const char *name)
{
	for (int i = 0; i < nresults[si]; i++)
		if (!strcmp(results[si][i].row->name, name))
			return results[si][i].ok ? &results[si][i] : NULL;
	return NULL;
}

/* ns as "850 ns", "12.3 us", "4.56 ms" in w columns. */
static void print_ns(double ns, int w)
{
	char b[32];

	if (ns < 1e3)
		snprintf(b, sizeof(b), "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(b, sizeof(b), "%.*f us", ns < 1e4 ? 2 : ns < 1e5 ? 1 : 0, ns / 1e3);
	else
		snprintf(b, sizeof(b), "%.*f ms", ns < 1e7 ? 2 : ns < 1e8 ? 1 : 0, ns / 1e6);
	printf(" %*s", w, b);
}

/* This row's cost at size si over its cost at the first size, both as x mac (0: unknown). */
static double x_first(unsigned int si, const char *name)
{
	const struct result *a = result_of(0, name), *b = result_of(si, name);

	return a && b ? b->x_mac / a->x_mac : 0;
}

/* The last table: the rows that depend on the groups, per size, against their goals. */
static void print_sizes(const struct opts *o)
{
	unsigned int met = 0, rows = 0;

	printf("\nPer size (groups held; %u targets per TA):\n%-17s", o->p.targets, "op");
	for (unsigned int si = 0; si < o->nsizes; si++)
		printf(" %10u", o->sizes[si]);
	printf("  |");
	for (unsigned int si = 1; si < o->nsizes; si++)
		printf(" %7u", o->sizes[si]);
	printf("  | goal\n");
	for (unsigned int i = 0; i < pb_nrows; i++) {
		const struct pb_row *row = &pb_rows[i];
		bool all = true, ok = true;

		if (row->scale == PB_SCALE_NONE || !selected(o, row))
			continue;
		rows++;
		printf("%-17s", row->name);
		for (unsigned int si = 0; si < o->nsizes; si++) {
			const struct result *r = result_of(si, row->name);

			if (r)
				print_ns(r->med, 10);
			else
				printf(" %10s", "-");
			all &= r != NULL;
			if (r && row->scale == PB_SCALE_IDLE)
				ok &= r->med < PB_IDLE_GOAL_NS;
		}
		printf("  |");
		for (unsigned int si = 1; si < o->nsizes; si++) {
			double x = x_first(si, row->name);

			if (x > 0)
				printf(" %7.2f", x);
			else
				printf(" %7s", "-");
			if (x > 0 && row->scale == PB_SCALE_FLAT)
				ok &= x <= PB_FLAT_GOAL;
		}
		if (row->scale == PB_SCALE_FLAT)
			printf("  | <= %.1fx", PB_FLAT_GOAL);
		else
			printf("  | < %.0f us", PB_IDLE_GOAL_NS / 1e3);
		printf(": %s\n", !all ? "incomplete" : ok ? "met" : "NOT MET");
		met += all && ok;
	}
	printf("\nEach cost: the median ns per op (per tick for *_tick rows); then each size's\n"
	       "x mac over the first size's. Goals (issue 13): a message at most %.1fx its\n"
	       "cost at %u groups, in the same run; a tick with nothing due under %.0f us.\n"
	       "%u of %u rows meet their goal at every size.\n",
	       PB_FLAT_GOAL, o->sizes[0], PB_IDLE_GOAL_NS / 1e3, met, rows);
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

/* One result, after its "op" key. */
static void json_result(FILE *f, const struct result *r, unsigned int si, unsigned int tas)
{
	double x = x_first(si, r->row->name);

	json_str(f, r->row->name);
	fprintf(f, ", \"tas\": %u, \"kind\": ", tas);
	json_str(f, r->row->kind);
	fprintf(f, ", \"what\": ");
	json_str(f, r->row->what);
	fprintf(f, ", \"ok\": %s", r->ok ? "true" : "false");
	if (!r->ok) {
		fprintf(f, ", \"%s\": ", r->skipped ? "skipped" : "error");
		json_str(f, r->fail);
		fprintf(f, "}");
		return;
	}
	fprintf(f,
		", \"ns_per_op\": %.1f, \"best_ns\": %.1f, \"worst_ns\": %.1f,"
		" \"ops_per_s\": %.0f, \"x_mac\": %.3f, \"ops_per_run\": %lu, \"runs\": %u,"
		" \"map_writes_per_op\": %.3f, \"msgs_per_op\": %.3f",
		r->med, r->best, r->worst, 1e9 / r->med, r->x_mac, r->ops, r->nruns, r->map_writes,
		r->msgs);
	if (si && x > 0)
		fprintf(f, ", \"x_first\": %.3f", x);
	if (r->sent_avg >= 0)
		fprintf(f, ", \"rate_limit_records_at_tick\": %.0f", r->sent_avg);
	fprintf(f, ", \"runs_ns\": [");
	for (unsigned int k = 0; k < r->nruns; k++)
		fprintf(f, "%s%.1f", k ? ", " : "", r->ns[k]);
	fprintf(f, "], \"paired_mac_ns\": [");
	for (unsigned int k = 0; r->row != pb_rows && k < r->nruns; k++)
		fprintf(f, "%s%.1f", k ? ", " : "", r->mac_ns[k]);
	fprintf(f, "]}");
}

static int write_json(const struct opts *o, int cpu)
{
	FILE *f = fopen(o->json, "w");
	struct utsname u;
	const char *sep = "";

	if (!f) {
		fprintf(stderr, "piasd-bench: cannot write %s: %s\n", o->json, strerror(errno));
		return -1;
	}
	uname(&u);
	fprintf(f, "{\n  \"tool\": \"piasd-bench\",\n  \"kernel\": ");
	json_str(f, u.release);
	fprintf(f, ",\n  \"cpu\": %d,\n  \"runs\": %u,\n  \"sizes\": [", cpu, o->runs);
	for (unsigned int si = 0; si < o->nsizes; si++)
		fprintf(f, "%s%u", si ? ", " : "", o->sizes[si]);
	fprintf(f,
		"],\n  \"targets_per_ta\": %u,\n"
		"  \"unit\": \"ns per op, CLOCK_MONOTONIC, one core\",\n"
		"  \"statistic\": \"median; x_mac is the median of per-run pairs; x_first: x_mac over"
		" the first size's\",\n"
		"  \"results\": [",
		o->p.targets);
	for (unsigned int si = 0; si < o->nsizes; si++)
		for (int i = 0; i < nresults[si]; i++) {
			const struct result *r = &results[si][i];

			fprintf(f, "%s\n    {\"op\": ", sep);
			sep = ",";
			json_result(f, r, si, o->sizes[si]);
		}
	fprintf(f, "\n  ]\n}\n");
	if (fclose(f)) {
		fprintf(stderr, "piasd-bench: writing %s failed\n", o->json);
		return -1;
	}
	return 0;
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0) {
		/* the highest CPU we may use: CPU 0 usually takes more interrupts */
		if (sched_getaffinity(0, sizeof(set), &set))
			return -1;
		for (cpu = CPU_SETSIZE - 1; cpu > 0 && !CPU_ISSET(cpu, &set); cpu--)
			;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "piasd-bench: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
		return -1;
	}
	return cpu;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: piasd-bench [--json PATH] [--ops N] [--runs N] [--time MS] [--quick]\n"
		"                   [--tas N[,N...]] [--targets N] [--fill-limit S] [--cpu N]\n"
		"                   [--only NAME[,NAME...]]\n"
		"ns per message of piasd's JAP, RAP and IAP paths, next to an HMAC verify.\n"
		"  --json PATH   write the results there too (default build/bench-piasd.json)\n"
		"  --ops N       ops per run for every row (default: enough for --time)\n"
		"  --runs N      runs per row, the median is reported (default 5, at most %d)\n"
		"  --time MS     target length of a run when --ops is not given (default %d)\n"
		"  --quick       --runs 3 --time 100\n"
		"  --tas LIST    groups known to the JAP, RAP and IAP: every row that depends\n"
		"                on them runs at each size, then a table compares the sizes\n"
		"                (default %s; at most %d sizes, each up to %d)\n"
		"  --targets N   targets per TA at the JAP, 1..%d (default %d); sizes of more\n"
		"                targets than the JAP's %d ids skip the JAP rows\n"
		"  --fill-limit S  a registry not filled in S s skips its rows at that size\n"
		"                (default %d)\n"
		"  --cpu N       pin to CPU N (default: the highest CPU allowed)\n"
		"  --only LIST   only these rows (mac always runs: ratios are to it)\n",
		MAX_RUNS, DEFAULT_TIME_MS, DEFAULT_SIZES, MAX_SIZES, MAX_TAS,
		PIAS_JAP_GROUP_MAX_TARGETS, DEFAULT_TARGETS, PIAS_MAX_TARGETS - 1,
		DEFAULT_FILL_LIMIT_S);
}

static bool parse_ulong(const char *s, unsigned long max, unsigned long *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || !*s || *end || x == 0 || x > max)
		return false;
	*v = x;
	return true;
}

/* "N[,N...]" into o->sizes. */
static bool parse_sizes(const char *arg, struct opts *o)
{
	char buf[256], *save = NULL;
	unsigned long v;

	if (strlen(arg) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%s", arg);
	o->nsizes = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (o->nsizes == MAX_SIZES || !parse_ulong(t, MAX_TAS, &v))
			return false;
		o->sizes[o->nsizes++] = (unsigned int)v;
	}
	return o->nsizes > 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "ops", required_argument, NULL, 'o' },
		{ "runs", required_argument, NULL, 'n' },
		{ "time", required_argument, NULL, 't' },
		{ "quick", no_argument, NULL, 'q' },
		{ "tas", required_argument, NULL, 'a' },
		{ "targets", required_argument, NULL, 'g' },
		{ "fill-limit", required_argument, NULL, 'f' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "only", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .json = "build/bench-piasd.json",
			  .runs = 5,
			  .time_ms = DEFAULT_TIME_MS,
			  .cpu = -1,
			  .p = { .targets = DEFAULT_TARGETS,
				 .fill_limit_s = DEFAULT_FILL_LIMIT_S } };
	unsigned long v;
	int c, cpu;
	bool failed = false;
	__u64 t0 = mono_ns();

	parse_sizes(DEFAULT_SIZES, &o);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = optarg;
			break;
		case 'a':
			if (!parse_sizes(optarg, &o)) {
				fprintf(stderr,
					"piasd-bench: bad sizes '%s' (at most %d of 1..%d, commas)\n",
					optarg, MAX_SIZES, MAX_TAS);
				return 2;
			}
			break;
		case 'o':
		case 'n':
		case 't':
		case 'g':
		case 'f':
		case 'c': {
			unsigned long max = c == 'n'   ? MAX_RUNS
					    : c == 'g' ? PIAS_JAP_GROUP_MAX_TARGETS
					    : c == 'f' ? 3600
					    : c == 'c' ? CPU_SETSIZE - 1
					    : c == 't' ? 60000
						       : 1ul << 32;

			if (c == 'c' && !strcmp(optarg, "0"))
				v = 0;
			else if (!parse_ulong(optarg, max, &v)) {
				fprintf(stderr, "piasd-bench: bad value '%s' (1..%lu)\n", optarg,
					max);
				return 2;
			}
			if (c == 'o')
				o.ops = v;
			else if (c == 'n')
				o.runs = (unsigned int)v;
			else if (c == 't')
				o.time_ms = (unsigned int)v;
			else if (c == 'f')
				o.p.fill_limit_s = (unsigned int)v;
			else if (c == 'g')
				o.p.targets = (unsigned int)v;
			else
				o.cpu = (int)v;
			break;
		}
		case 'q':
			o.runs = 3;
			o.time_ms = 100;
			break;
		case 'l':
			o.only = optarg;
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
	if (!only_ok(o.only))
		return 2;
	if (strcmp(pb_rows[0].name, "mac")) {
		fprintf(stderr, "piasd-bench: row table out of order\n");
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "piasd-bench: libsodium did not initialise\n");
		return 2;
	}
	cpu = pin_cpu(o.cpu);
	if (cpu < 0)
		return 2;
	printf("piasd-bench: %u runs per row, %s, CPU %d, %u targets per TA\n", o.runs,
	       o.ops ? "fixed ops per run" : "ops per run for ~time per run", cpu, o.p.targets);
	if (o.time_ms && !o.ops)
		printf("(about %u ms per run)\n", o.time_ms);
	for (unsigned int si = 0; si < o.nsizes; si++) {
		int err;

		o.p.tas = o.sizes[si];
		fprintf(stderr, "%u TAs:\n", o.p.tas);
		if (pb_init(&o.p))
			return 2;
		err = run_rows(&o, si);
		pb_fini();
		print_table(&o, si);
		fflush(stdout);
		for (int i = 0; i < nresults[si]; i++)
			failed |= !results[si][i].ok && !results[si][i].skipped;
		if (err) {
			failed = true; /* mac failed: nothing to pair with */
			break;
		}
	}
	print_notes(&o);
	if (o.nsizes > 1)
		print_sizes(&o);
	if (write_json(&o, cpu))
		failed = true;
	else
		printf("results: %s\n", o.json);
	printf("took %.0f s\n", (double)(mono_ns() - t0) / 1e9);
	return failed ? 1 : 0;
}
