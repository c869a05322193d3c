// SPDX-License-Identifier: MIT
/* target set|del and targets set|del: a JAP's targets and groups. */
#include "commands.h"

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
	[P_IDS] = { "ID", CLI_U32, .min = 1, .max = PIAS_MAX_TARGETS - 1, .what = "target id",
		    .flags = CLI_REPEAT },
	CLI_OPT_END,
};

static int run_set_set(struct cli *c, const struct cli_args *a)
{
	__u32 ids[PIAS_SET_MAX_TARGETS];
	struct pias_maps *m;
	struct pias_err e;
	int r;

	if (a->nrep > PIAS_SET_MAX_TARGETS)
		return cli_bad(c, "%d targets given, a set holds at most %u", a->nrep,
			       PIAS_SET_MAX_TARGETS);
	for (int i = 0; i < a->nrep; i++) {
		ids[i] = a->rep[i].n;
		for (int j = 0; j < i; j++)
			if (ids[j] == ids[i])
				return cli_bad(c, "target id %u is listed twice", ids[j]);
	}
	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_tgtset_set(m, &a->v[P_TA].ta, ids, (size_t)a->nrep, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_set_del(struct cli *c, const struct cli_args *a)
{
	return cli_run_ta_del(c, a, pias_tgtset_del);
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
	.summary = "make these target ids (at most 32) serve group TA at this JAP",
	.help = "The targets must have TA's address family.\n",
	.run = run_set_set,
};

const struct cmd cmd_targets_del = {
	.name = "targets del",
	.opts = cli_opts_ta,
	.summary = "forget group TA's targets at this JAP",
	.run = run_set_del,
};
