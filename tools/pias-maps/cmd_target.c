// SPDX-License-Identifier: MIT
/* target set|del and targets set|del: a JAP's targets and groups. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "commands.h"
#include "policy.h"

#define ARG_ID                                                                                     \
	{                                                                                          \
		"ID", CLI_U32, .min = 1, .max = PIAS_MAX_TARGETS - 1, .what = "target id"          \
	}

enum {
	P_ID,
	P_ENDPOINT,
	O_WEIGHT,
	O_STATE
};

static const struct cli_opt set_opts[] = {
	[P_ID] = ARG_ID,
	[P_ENDPOINT] = { "ADDR:PORT", CLI_ENDPOINT },
	[O_WEIGHT] = { "--weight", CLI_U32, "W", "relative share of new flows", .max = UINT32_MAX,
		       .def = "1" },
	/* the library's parser: it also takes the names in capitals */
	[O_STATE] = { "--state", CLI_STR, "active|draining|down",
		      "active: gets new flows; draining: keeps its\n"
		      "flows, gets no new ones; down: gets nothing",
		      .def = "active" },
	CLI_OPT_END,
};

static int run_set(struct cli *c, const struct cli_args *a)
{
	const struct cli_val *ep = &a->v[P_ENDPOINT];
	struct pias_target t = { .weight = a->v[O_WEIGHT].n };
	struct pias_maps *m;
	struct pias_err e;
	int r;

	t.addr = ep->addr;
	t.family = ep->family;
	t.port = ep->port;
	if (pias_target_state_parse(a->v[O_STATE].s, &t.state, &e))
		return cli_bad(c, "--state: %s", e.msg);
	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_target_set(m, a->v[P_ID].n, &t, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static const struct cli_opt del_opts[] = { ARG_ID, CLI_OPT_END };

static int run_del(struct cli *c, const struct cli_args *a)
{
	struct pias_maps *m;
	struct pias_err e;
	int r;

	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_target_del(m, a->v[0].n, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

enum {
	P_TA,
	P_IDS
};

static const struct cli_opt set_set_opts[] = {
	[P_TA] = { "TA", CLI_TA },
	[P_IDS] = { "ID[-LAST]", CLI_STR, .flags = CLI_REPEAT },
	CLI_OPT_END,
};

/* "ID" or "FIRST-LAST" onto ids[*n]; the library checks for repeats. */
static int add_ids(struct cli *c, const char *arg, __u32 *ids, size_t *n)
{
	__u32 first, last = 0;
	const struct cli_u32_part a = { "target id", 1, PIAS_MAX_TARGETS - 1, &first };
	const struct cli_u32_part b = { "target id", 1, PIAS_MAX_TARGETS - 1, &last };
	int r = cli_u32_pair(c, arg, '-', &a, &b);

	if (r)
		return r;
	if (!last)
		last = first;
	if (last < first)
		return cli_bad(c, "target ids %u-%u go backwards", first, last);
	if (last - first + 1 > PIAS_TSET_MAX - *n)
		return cli_bad(c, "more than %u targets given: a set holds at most that many",
			       PIAS_TSET_MAX);
	for (__u32 id = first; id <= last; id++)
		ids[(*n)++] = id;
	return 0;
}

static int run_set_set(struct cli *c, const struct cli_args *a)
{
	__u32 *ids = calloc(PIAS_TSET_MAX, sizeof(*ids));
	struct pias_maps *m;
	struct pias_err e;
	size_t n = 0;
	int r = ids ? 0 : cli_bad(c, "out of memory");

	for (int i = 0; i < a->nrep && !r; i++)
		r = add_ids(c, a->rep[i].s, ids, &n);
	if (!r)
		r = cli_maps(c, &m);
	if (!r) {
		r = pias_tgtset_set(m, &a->v[P_TA].ta, ids, n, &e);
		r = r ? cli_err(c, r, &e) : EXIT_OK;
	}
	free(ids);
	return r;
}

static int run_set_del(struct cli *c, const struct cli_args *a)
{
	return cli_run_ta_del(c, a, pias_tgtset_del);
}

static const struct cli_opt show_opts[] = {
	{ "TA", CLI_TA, .flags = CLI_OPTIONAL, .help = "one group's set, entry by entry" },
	CLI_OPT_END,
};

/* One line per set: what its header says. */
static void print_header(const struct pias_ta *ta, const struct pias_tset *h)
{
	char t[PIAS_ADDR_STRLEN], pol[PIAS_POLICY_STRLEN];

	pias_ta_str(ta, t, sizeof(t));
	printf("%s targets=%u weights=%u policy=%s chunks=%u generation=%u slot=%u\n", t, h->count,
	       h->total, pias_policy_str(&h->policy, pol, sizeof(pol)), h->nchunks, h->gen,
	       h->slot);
}

/* Set ta's entries in pick order: id and weight (its share of the running sum). */
static int show_one(struct cli *c, struct pias_maps *m, const struct pias_ta *ta)
{
	__u32 *ids = calloc(PIAS_TSET_MAX, sizeof(*ids)),
	      *cum = calloc(PIAS_TSET_MAX, sizeof(*cum));
	struct pias_tset h;
	struct pias_err e;
	int r = ids && cum ? pias_tset_read(m, ta, &h, ids, cum, PIAS_TSET_MAX, &e) : -ENOMEM;

	if (!r) {
		print_header(ta, &h);
		for (__u32 i = 0; i < h.count && i < PIAS_TSET_MAX; i++)
			printf("  target %u weight %u\n", ids[i], cum[i] - (i ? cum[i - 1] : 0));
	}
	free(ids);
	free(cum);
	return r == -ENOMEM ? cli_bad(c, "out of memory") : r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_show(struct cli *c, const struct cli_args *a)
{
	int fd, err;
	struct pias_maps *m;
	struct pias_ta key, next;
	struct pias_tset h;

	if ((err = cli_maps(c, &m)))
		return err;
	if (a->v[0].seen)
		return show_one(c, m, &a->v[0].ta);
	fd = m->fd[PIAS_M_TARGET_SETS];
	for (err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (!bpf_map_lookup_elem(fd, &key, &h))
			print_header(&key, &h);
	}
	return EXIT_OK;
}

const struct cmd cmd_target_set = {
	.name = "target set",
	.opts = set_opts,
	.summary = "set target ID (1-65535) of this JAP: address, port, weight, state",
	.help = "ADDR:PORT is 198.51.100.7:53 or [2001:db8:b::7]:53; the family follows.\n",
	.run = run_set,
};

const struct cmd cmd_target_del = {
	.name = "target del",
	.opts = del_opts,
	.summary = "forget target ID",
	.run = run_del,
};

const struct cmd cmd_targets_set = {
	.name = "targets set",
	.opts = set_set_opts,
	.summary = "make these target ids (at most 16,000) serve group TA at this JAP",
	.help = "1-500 stands for 1 to 500. Each target's weight is what 'target set'\n"
		"gave it (a set of more than 32 is written in chunks: docs/design.md).\n"
		"The targets must have TA's address family.\n",
	.run = run_set_set,
};

const struct cmd cmd_targets_del = {
	.name = "targets del",
	.opts = cli_opts_ta,
	.summary = "forget group TA's targets at this JAP",
	.run = run_set_del,
};

const struct cmd cmd_targets_show = {
	.name = "targets show",
	.opts = show_opts,
	.summary = "list the target sets at this JAP, or TA's targets in pick order",
	.help = "A line per set: its targets, the sum of their weights, its policy, its\n"
		"chunks (0: all in its header) and generation. With TA, then each target's\n"
		"id and weight, in the order the dataplane draws from.\n",
	.run = run_show,
};
