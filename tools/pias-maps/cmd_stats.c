// SPDX-License-Identifier: MIT
/* stats, group-stats, target-stats: counters summed over CPUs. */
#include <inttypes.h>

#include "counters.h"
#include "commands.h"

static const struct cli_opt json_opts[] = {
	{ "--json", CLI_FLAG, .help = "one JSON document, every counter" },
	CLI_OPT_END,
};

static int run_stats(struct cli *c, const struct cli_args *a)
{
	bool json = a->v[0].seen;
	struct pias_stats st;
	struct pias_drops dr;
	struct pias_maps *m;
	struct pias_err e;
	int r;

	if ((r = cli_maps(c, &m)))
		return r;
	if ((r = pias_stats_read(m, &st, &dr, &e)))
		return cli_err(c, r, &e);
	pias_counters_print(stdout, &st, &dr, json);
	return EXIT_OK;
}

struct each_ctx {
	bool json;
	int n;
};

#define U64(x) ((uint64_t)(x))

static int print_group(const struct pias_ta *ta, const struct pias_group_stats *s, void *arg)
{
	struct each_ctx *x = arg;
	char t[PIAS_ADDR_STRLEN];

	pias_ta_str(ta, t, sizeof(t));
	printf(x->json ? "%s{\"ta\":\"%s\",\"iap_packets\":%" PRIu64 ",\"iap_bytes\":%" PRIu64
			 ",\"rap_packets\":%" PRIu64 ",\"rap_bytes\":%" PRIu64
			 ",\"jap_packets\":%" PRIu64 ",\"jap_bytes\":%" PRIu64
			 ",\"rev_packets\":%" PRIu64 ",\"rev_bytes\":%" PRIu64 "}"
		       : "%s%s iap_packets=%" PRIu64 " iap_bytes=%" PRIu64 " rap_packets=%" PRIu64
			 " rap_bytes=%" PRIu64 " jap_packets=%" PRIu64 " jap_bytes=%" PRIu64
			 " rev_packets=%" PRIu64 " rev_bytes=%" PRIu64 "\n",
	       x->json && x->n ? "," : "", t, U64(s->iap_packets), U64(s->iap_bytes),
	       U64(s->rap_packets), U64(s->rap_bytes), U64(s->jap_packets), U64(s->jap_bytes),
	       U64(s->rev_packets), U64(s->rev_bytes));
	x->n++;
	return 0;
}

/* Walks one per-entry stats map with the printer behind walk. */
typedef int (*stats_walk_fn)(struct pias_maps *m, struct each_ctx *x, struct pias_err *e);

static int run_listing(struct cli *c, const struct cli_args *a, stats_walk_fn walk)
{
	struct each_ctx x = { .json = a->v[0].seen };
	struct pias_maps *m;
	struct pias_err e;
	int r;

	if ((r = cli_maps(c, &m)))
		return r;
	if (x.json)
		printf("[");
	if ((r = walk(m, &x, &e)))
		return cli_err(c, r, &e);
	if (x.json)
		printf("]\n");
	return EXIT_OK;
}

static int walk_groups(struct pias_maps *m, struct each_ctx *x, struct pias_err *e)
{
	return pias_group_stats_each(m, print_group, x, e);
}

static int run_group_stats(struct cli *c, const struct cli_args *a)
{
	return run_listing(c, a, walk_groups);
}

static int print_target(__u32 id, const struct pias_target_stats *s, void *arg)
{
	struct each_ctx *x = arg;

	printf(x->json ? "%s{\"id\":%u,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
			 ",\"rev_packets\":%" PRIu64 ",\"rev_bytes\":%" PRIu64
			 ",\"new_flows\":%" PRIu64 ",\"last_reply_ns\":%" PRIu64
			 ",\"nat_no_port\":%" PRIu64 ",\"answered\":%" PRIu64
			 ",\"refused\":%" PRIu64 ",\"unreachable\":%" PRIu64 "}"
		       : "%starget %u packets=%" PRIu64 " bytes=%" PRIu64 " rev_packets=%" PRIu64
			 " rev_bytes=%" PRIu64 " new_flows=%" PRIu64 " last_reply_ns=%" PRIu64
			 " nat_no_port=%" PRIu64 " answered=%" PRIu64 " refused=%" PRIu64
			 " unreachable=%" PRIu64 "\n",
	       x->json && x->n ? "," : "", id, U64(s->packets), U64(s->bytes), U64(s->rev_packets),
	       U64(s->rev_bytes), U64(s->new_flows), U64(s->last_reply_ns), U64(s->nat_no_port),
	       U64(s->answered), U64(s->refused), U64(s->unreachable));
	x->n++;
	return 0;
}

static int walk_targets(struct pias_maps *m, struct each_ctx *x, struct pias_err *e)
{
	return pias_target_stats_each(m, print_target, x, e);
}

static int run_target_stats(struct cli *c, const struct cli_args *a)
{
	return run_listing(c, a, walk_targets);
}

const struct cmd cmd_stats = {
	.name = "stats",
	.opts = json_opts,
	.summary = "packet counters and drop reasons, totals over CPUs",
	.help = "Text: the non-zero counters, with what each means.\n"
		"JSON: {\"stats\":{NAME:N,...},\"drops\":{NAME:N,...}}.\n",
	.run = run_stats,
};

const struct cmd cmd_group_stats = {
	.name = "group-stats",
	.opts = json_opts,
	.summary = "per-group counters (one line per TA that saw traffic)",
	.run = run_group_stats,
};

const struct cmd cmd_target_stats = {
	.name = "target-stats",
	.opts = json_opts,
	.summary = "per-target counters (one line per target that saw traffic)",
	.help = "last_reply_ns is CLOCK_MONOTONIC (bpf_ktime_get_ns) of the latest reply.\n",
	.run = run_target_stats,
};
