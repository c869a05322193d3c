// SPDX-License-Identifier: MIT
/* binding set|negative|del and flows clear: the IAP's state. */
#include "commands.h"

enum {
	P_TA,
	P_JAP,
	O_GEN,
	O_TTL
};

#define OPT_TTL                                                                                    \
	{                                                                                          \
		"--ttl", CLI_U32, "SECONDS", "expire after this long, 0: never",                   \
			.max = UINT32_MAX, .def = "0"                                              \
	}

static const struct cli_opt set_opts[] = {
	[P_TA] = { "TA", CLI_TA },
	[P_JAP] = { "JAP_ID", CLI_U32, .min = 1, .max = PIAS_MAX_PROXIES - 1, .what = "JAP id" },
	[O_GEN] = { "--generation", CLI_U32, "G", "echoed in invalidations", .max = UINT32_MAX,
		    .def = "0" },
	[O_TTL] = OPT_TTL,
	CLI_OPT_END,
};

static int run_set(struct cli *c, const struct cli_args *a)
{
	struct pias_maps *m;
	struct pias_err e;
	int r;

	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_binding_set(m, &a->v[P_TA].ta, a->v[P_JAP].n, a->v[O_GEN].n, a->v[O_TTL].n, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

enum {
	N_TA,
	N_TTL
};

static const struct cli_opt negative_opts[] = {
	[N_TA] = { "TA", CLI_TA },
	[N_TTL] = OPT_TTL,
	CLI_OPT_END,
};

static int run_negative(struct cli *c, const struct cli_args *a)
{
	struct pias_maps *m;
	struct pias_err e;
	int r;

	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_binding_set_negative(m, &a->v[N_TA].ta, a->v[N_TTL].n, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_del(struct cli *c, const struct cli_args *a)
{
	return cli_run_ta_del(c, a, pias_binding_del);
}

static int run_flows_clear(struct cli *c, const struct cli_args *a)
{
	struct pias_maps *m;
	struct pias_err e;
	int r;

	(void)a;
	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_flows_clear(m, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

const struct cmd cmd_binding_set = {
	.name = "binding set",
	.opts = set_opts,
	.summary = "bind group TA (udp:203.0.113.10:53) to JAP_ID at this IAP",
	.help = "New flows of TA go straight to JAP_ID; flows already running keep their JAP.\n",
	.run = run_set,
};

const struct cmd cmd_binding_negative = {
	.name = "binding negative",
	.opts = negative_opts,
	.summary = "mark TA as having no group: the IAP drops its packets",
	.run = run_negative,
};

const struct cmd cmd_binding_del = {
	.name = "binding del",
	.opts = cli_opts_ta,
	.summary = "remove TA's binding: its next new flow goes to the RAP",
	.run = run_del,
};

const struct cmd cmd_flows_clear = {
	.name = "flows clear",
	.summary = "forget every flow's JAP at this IAP (tests)",
	.help = "Running flows then follow the current binding, as new flows would.\n",
	.run = run_flows_clear,
};
