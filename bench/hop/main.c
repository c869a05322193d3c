// SPDX-License-Identifier: MIT
/*
 * pias-hop: the CPU cost of one forwarding hop on veth, PIAS's against the
 * kernel's and a minimal XDP proxy's, measured side by side in rounds on a
 * rig of fresh namespaces (rig.h). Each round runs every config (in the
 * opposite order to the round before) for each working set of flows; a
 * config's figure in a round is its cost over the baseline's (plain kernel
 * forwarding) in that round, and the report gives the median over rounds.
 * docs/bench.md ("The hop benchmark") says how to read it.
 *
 * Exit status: 0, 1 if a frame was lost or wrong (the output check) or
 * the rig could not be built, 2 on a bad argument.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "pias_hop.h"

#define MAX_ROUNDS 51
#define MAX_SETS   4

struct opts {
	unsigned int rounds, window_ms;
	unsigned int sets[MAX_SETS], nsets;
	const char *only, *json;
	int cpu_gen, cpu_dut;
};

static struct hop_env env;
static struct hop_sample samples[16][MAX_SETS][MAX_ROUNDS];
static bool ran[16];

static void cleanup(void)
{
	hop_unload(&env);
	rig_down(&env.rig);
}

static void on_signal(int sig)
{
	(void)sig;
	exit(1); /* atexit: cleanup */
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median over rounds of config c's cost, over ref's in the same round (ref < 0: ns). */
static double med_of(size_t c, int ref, unsigned int set, unsigned int rounds)
{
	double v[MAX_ROUNDS];

	for (unsigned int r = 0; r < rounds; r++) {
		double x = samples[c][set][r].ns_per_pkt;

		v[r] = ref < 0 ? x : x / samples[ref][set][r].ns_per_pkt;
	}
	return median(v, rounds);
}

static double med_busy(size_t c, unsigned int set, unsigned int rounds)
{
	double v[MAX_ROUNDS];

	for (unsigned int r = 0; r < rounds; r++)
		v[r] = samples[c][set][r].busy;
	return median(v, rounds);
}

static bool selected(const struct opts *o, size_t c)
{
	const char *n = hop_configs[c].name, *p = o->only;
	size_t len = strlen(n);

	if (!p || c == HOP_BASELINE || c == HOP_MIN_PROXY)
		return true;
	while ((p = strstr(p, n))) {
		if ((p == o->only || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return true;
		p += len;
	}
	return false;
}

static bool all_ok(size_t c, unsigned int set, unsigned int rounds)
{
	for (unsigned int r = 0; r < rounds; r++)
		if (!samples[c][set][r].ok)
			return false;
	return true;
}

/* Rows with a ratio to the minimal proxy: PIAS's, and the proxy's variant. */
static bool vs_min(size_t c)
{
	return hop_configs[c].dut == DUT_PIAS || hop_configs[c].dut == DUT_MIN_PROXY_W;
}

/* PIAS rows against the variant too, when it ran. */
static bool vs_min_w(size_t c)
{
	return hop_configs[c].dut == DUT_PIAS && ran[HOP_MIN_PROXY_W];
}

static void print_table(const struct opts *o)
{
	struct utsname u;

	uname(&u);
	printf("\npias-hop: kernel %s, %u rounds of %u ms per config, the sink on CPU %d, "
	       "the DUT's NAPI thread on CPU %d\n",
	       u.release, o->rounds, o->window_ms, o->cpu_gen, o->cpu_dut);
	printf("ns/pkt: the DUT thread's CPU time per frame received; busy: its share of the "
	       "window;\nx kernel, x min_xdp, x min_w (min_xdp_w): per-round ratios. All "
	       "medians over rounds.\n\n");
	printf("%-10s %6s %8s %5s %9s %10s %8s  %-6s %s\n", "config", "flows", "ns/pkt", "busy",
	       "x kernel", "x min_xdp", "x min_w", "check", "what");
	for (unsigned int s = 0; s < o->nsets; s++) {
		for (size_t c = 0; c < hop_nconfigs; c++) {
			if (!ran[c])
				continue;
			printf("%-10s %6u %8.0f %5.2f %9.2f ", hop_configs[c].name, o->sets[s],
			       med_of(c, -1, s, o->rounds), med_busy(c, s, o->rounds),
			       med_of(c, HOP_BASELINE, s, o->rounds));
			if (vs_min(c))
				printf("%10.2f ", med_of(c, HOP_MIN_PROXY, s, o->rounds));
			else
				printf("%10s ", "-");
			if (vs_min_w(c))
				printf("%8.2f ", med_of(c, HOP_MIN_PROXY_W, s, o->rounds));
			else
				printf("%8s ", "-");
			printf(" %-6s %s\n", all_ok(c, s, o->rounds) ? "ok" : "FAIL",
			       hop_configs[c].what);
		}
	}
}

static void json_series(FILE *f, const char *key, size_t c, int ref, unsigned int s,
			unsigned int rounds)
{
	fprintf(f, ", \"%s\": [", key);
	for (unsigned int r = 0; r < rounds; r++) {
		double x = samples[c][s][r].ns_per_pkt;

		fprintf(f, "%s%.4g", r ? ", " : "",
			ref < 0 ? x : x / samples[ref][s][r].ns_per_pkt);
	}
	fprintf(f, "]");
}

static int write_json(const struct opts *o)
{
	FILE *f = fopen(o->json, "w");
	bool first = true;

	if (!f) {
		fprintf(stderr, "pias-hop: %s: %s\n", o->json, strerror(errno));
		return -1;
	}
	fprintf(f, "{\"rounds\": %u, \"window_ms\": %u, \"rows\": [", o->rounds, o->window_ms);
	for (unsigned int s = 0; s < o->nsets; s++) {
		for (size_t c = 0; c < hop_nconfigs; c++) {
			if (!ran[c])
				continue;
			fprintf(f, "%s\n {\"config\": \"%s\", \"flows\": %u, \"ok\": %s",
				first ? "" : ",", hop_configs[c].name, o->sets[s],
				all_ok(c, s, o->rounds) ? "true" : "false");
			fprintf(f, ", \"ns_per_pkt\": %.1f, \"busy\": %.3f, \"x_kernel\": %.3f",
				med_of(c, -1, s, o->rounds), med_busy(c, s, o->rounds),
				med_of(c, HOP_BASELINE, s, o->rounds));
			if (vs_min(c))
				fprintf(f, ", \"x_min_xdp\": %.3f",
					med_of(c, HOP_MIN_PROXY, s, o->rounds));
			if (vs_min_w(c))
				fprintf(f, ", \"x_min_xdp_w\": %.3f",
					med_of(c, HOP_MIN_PROXY_W, s, o->rounds));
			json_series(f, "ns_per_round", c, -1, s, o->rounds);
			json_series(f, "x_kernel_per_round", c, HOP_BASELINE, s, o->rounds);
			fprintf(f, "}");
			first = false;
		}
	}
	fprintf(f, "\n]}\n");
	return fclose(f);
}

static int run(const struct opts *o)
{
	int failed = 0;

	for (unsigned int r = 0; r < o->rounds; r++) {
		for (unsigned int s = 0; s < o->nsets; s++) {
			for (size_t k = 0; k < hop_nconfigs; k++) {
				/* alternate the order: no config always runs first */
				size_t c = r % 2 ? hop_nconfigs - 1 - k : k;
				struct hop_sample *x = &samples[c][s][r];

				if (!selected(o, c))
					continue;
				if (hop_measure(&env, &hop_configs[c], o->sets[s], o->window_ms, x))
					return -1;
				ran[c] = true;
				if (!x->ok) {
					fprintf(stderr, "pias-hop: round %u, %s, %u flows: %s\n",
						r + 1, hop_configs[c].name, o->sets[s], x->why);
					failed = 1;
				}
			}
		}
		fprintf(stderr, "pias-hop: round %u of %u done\n", r + 1, o->rounds);
	}
	return failed;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pias-hop [--rounds N] [--ms N] [--flows N[,N...]] [--only NAME[,NAME...]]\n"
		"                [--cpus SINK,DUT] [--json PATH]\n\n"
		"The CPU cost of one forwarding hop on veth, in fresh namespaces (root).\n"
		"Defaults: 7 rounds, a 1000 ms window per measurement, flows 1,1024, CPUs 0,1.\n"
		"--only picks configs (kernel and min_xdp always run): ");
	for (size_t c = 0; c < hop_nconfigs; c++)
		fprintf(f, "%s%s", c ? ", " : "", hop_configs[c].name);
	fprintf(f, ".\nExit status: 0, 1 output check failed or setup failed, 2 bad argument.\n");
}

static bool parse_uint(const char *s, unsigned int lo, unsigned int hi, unsigned int *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || end == s || *end || x < lo || x > hi)
		return false;
	*v = (unsigned int)x;
	return true;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "ms", required_argument, NULL, 'm' },
		{ "flows", required_argument, NULL, 'f' },
		{ "only", required_argument, NULL, 'o' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int g, d;
	char *tok, *save;
	int ch;

	*o = (struct opts){ .rounds = 7,
			    .window_ms = 1000,
			    .sets = { 1, 1024 },
			    .nsets = 2,
			    .cpu_gen = 0,
			    .cpu_dut = 1 };
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'r':
			if (!parse_uint(optarg, 1, MAX_ROUNDS, &o->rounds))
				goto bad;
			break;
		case 'm':
			if (!parse_uint(optarg, 50, 60000, &o->window_ms))
				goto bad;
			break;
		case 'f':
			o->nsets = 0;
			for (tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save))
				if (o->nsets == MAX_SETS ||
				    !parse_uint(tok, 1, HOP_FLOWS_MAX, &o->sets[o->nsets++]))
					goto bad;
			if (!o->nsets)
				goto bad;
			break;
		case 'o':
			o->only = optarg;
			break;
		case 'c':
			if (sscanf(optarg, "%u,%u", &g, &d) != 2 || g == d || g > 1023 || d > 1023)
				goto bad;
			o->cpu_gen = (int)g;
			o->cpu_dut = (int)d;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind == argc)
		return 0;
	fprintf(stderr, "pias-hop: unexpected argument '%s'\n", argv[optind]);
	usage(stderr);
	return -1;
bad:
	fprintf(stderr, "pias-hop: bad value '%s'\n", optarg);
	usage(stderr);
	return -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	cpu_set_t set;
	int rc;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (geteuid()) {
		fprintf(stderr, "pias-hop: needs root (namespaces, BPF)\n");
		return 1;
	}
	CPU_ZERO(&set);
	CPU_SET(o.cpu_gen, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "pias-hop: CPU %d: %s\n", o.cpu_gen, strerror(errno));
		return 1;
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (rig_up(&env.rig, o.cpu_gen, o.cpu_dut) || hop_load(&env))
		return 1;
	rc = run(&o);
	if (rc < 0)
		return 1;
	print_table(&o);
	if (o.json && write_json(&o))
		return 1;
	return rc ? 1 : 0;
}
