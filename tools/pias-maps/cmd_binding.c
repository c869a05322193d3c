// SPDX-License-Identifier: MIT
/* binding set|negative|del and flows clear: the IAP's state. */
#include "commands.h"

enum {
	O_GEN,
	O_TTL
};

static int run_set(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[] = {
		[O_GEN] = OPT_VALUE("--generation"), [O_TTL] = OPT_VALUE("--ttl"), OPT_END
	};
	__u32 jap, gen = 0, ttl = 0;
	char *pos[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_err e;
	struct pias_ta ta;
	int npos, r;

	if ((r = cli_parse(c, argc, argv, o, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 2, 2)) || (r = cli_ta(c, pos[0], &ta)) ||
	    (r = cli_u32(c, "JAP id", pos[1], 1, PIAS_MAX_PROXIES - 1, &jap)))
		return r;
	if (o[O_GEN].seen && (r = cli_u32(c, "--generation", o[O_GEN].value, 0, UINT32_MAX, &gen)))
		return r;
	if (o[O_TTL].seen && (r = cli_u32(c, "--ttl", o[O_TTL].value, 0, UINT32_MAX, &ttl)))
		return r;
	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_binding_set(m, &ta, jap, gen, ttl, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_negative(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[] = { OPT_VALUE("--ttl"), OPT_END };
	char *pos[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_err e;
	struct pias_ta ta;
	__u32 ttl = 0;
	int npos, r;

	if ((r = cli_parse(c, argc, argv, o, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 1, 1)) || (r = cli_ta(c, pos[0], &ta)))
		return r;
	if (o[0].seen && (r = cli_u32(c, "--ttl", o[0].value, 0, UINT32_MAX, &ttl)))
		return r;
	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_binding_set_negative(m, &ta, ttl, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_del(struct cli *c, int argc, char **argv)
{
	return cli_run_ta_del(c, argc, argv, pias_binding_del);
}

static int run_flows_clear(struct cli *c, int argc, char **argv)
{
	char *pos[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_err e;
	int npos, r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 0, 0)) || (r = cli_maps(c, &m)))
		return r;
	r = pias_flows_clear(m, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

const struct cmd cmd_binding_set = {
	.name = "binding set",
	.args = "TA JAP_ID [--generation G] [--ttl SECONDS]",
	.summary = "bind group TA (udp:203.0.113.10:53) to JAP_ID at this IAP",
	.help = "  --generation G   echoed in invalidations (default 0)\n"
		"  --ttl SECONDS    expire after this long (default 0: never)\n"
		"New flows of TA go straight to JAP_ID; flows already running keep their JAP.\n",
	.run = run_set,
};

const struct cmd cmd_binding_negative = {
	.name = "binding negative",
	.args = "TA [--ttl SECONDS]",
	.summary = "mark TA as having no group: the IAP drops its packets",
	.help = "  --ttl SECONDS    expire after this long (default 0: never)\n",
	.run = run_negative,
};

const struct cmd cmd_binding_del = {
	.name = "binding del",
	.args = "TA",
	.summary = "remove TA's binding: its next new flow goes to the RAP",
	.help = "",
	.run = run_del,
};

const struct cmd cmd_flows_clear = {
	.name = "flows clear",
	.args = "",
	.summary = "forget every flow's JAP at this IAP (tests)",
	.help = "Running flows then follow the current binding, as new flows would.\n",
	.run = run_flows_clear,
};
