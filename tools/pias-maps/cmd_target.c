// SPDX-License-Identifier: MIT
/* target set|del and targets set|del: a JAP's targets and groups. */
#include "commands.h"

enum {
	O_WEIGHT,
	O_STATE
};

static int run_set(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[] = {
		[O_WEIGHT] = OPT_VALUE("--weight"), [O_STATE] = OPT_VALUE("--state"), OPT_END
	};
	struct pias_target t = { .weight = 1, .state = PIAS_TARGET_ACTIVE };
	char *pos[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_err e;
	int npos, r;
	__u32 id;

	if ((r = cli_parse(c, argc, argv, o, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 2, 2)) ||
	    (r = cli_u32(c, "target id", pos[0], 1, PIAS_MAX_TARGETS - 1, &id)))
		return r;
	if (pias_endpoint_parse(pos[1], &t.addr, &t.family, &t.port, &e))
		return cli_bad(c, "%s", e.msg);
	if (o[O_WEIGHT].seen &&
	    (r = cli_u32(c, "--weight", o[O_WEIGHT].value, 0, UINT32_MAX, &t.weight)))
		return r;
	if (o[O_STATE].seen && pias_target_state_parse(o[O_STATE].value, &t.state, &e))
		return cli_bad(c, "--state: %s", e.msg);
	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_target_set(m, id, &t, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_del(struct cli *c, int argc, char **argv)
{
	char *pos[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_err e;
	int npos, r;
	__u32 id;

	if ((r = cli_parse(c, argc, argv, NULL, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 1, 1)) ||
	    (r = cli_u32(c, "target id", pos[0], 1, PIAS_MAX_TARGETS - 1, &id)) ||
	    (r = cli_maps(c, &m)))
		return r;
	r = pias_target_del(m, id, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_set_set(struct cli *c, int argc, char **argv)
{
	__u32 ids[PIAS_SET_MAX_TARGETS];
	char *pos[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_err e;
	struct pias_ta ta;
	int npos, r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 2, -1)) || (r = cli_ta(c, pos[0], &ta)))
		return r;
	if (npos - 1 > PIAS_SET_MAX_TARGETS)
		return cli_bad(c, "%d targets given, a set holds at most %u", npos - 1,
			       PIAS_SET_MAX_TARGETS);
	for (int i = 1; i < npos; i++) {
		if ((r = cli_u32(c, "target id", pos[i], 1, PIAS_MAX_TARGETS - 1, &ids[i - 1])))
			return r;
		for (int j = 0; j < i - 1; j++)
			if (ids[j] == ids[i - 1])
				return cli_bad(c, "target id %u is listed twice", ids[j]);
	}
	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_tgtset_set(m, &ta, ids, (size_t)(npos - 1), &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_set_del(struct cli *c, int argc, char **argv)
{
	return cli_run_ta_del(c, argc, argv, pias_tgtset_del);
}

const struct cmd cmd_target_set = {
	.name = "target set",
	.args = "ID ADDR:PORT [--weight W] [--state active|draining|down]",
	.summary = "set target ID (1-65535) of this JAP: address, port, weight, state",
	.help = "  --weight W     relative share of new flows (default 1)\n"
		"  --state S      active (default): gets new flows; draining: keeps its\n"
		"                 flows, gets no new ones; down: gets nothing\n"
		"ADDR:PORT is 198.51.100.7:53 or [2001:db8:b::7]:53; the family follows.\n",
	.run = run_set,
};

const struct cmd cmd_target_del = {
	.name = "target del",
	.args = "ID",
	.summary = "forget target ID",
	.help = "",
	.run = run_del,
};

const struct cmd cmd_targets_set = {
	.name = "targets set",
	.args = "TA ID...",
	.summary = "make these target ids (at most 32) serve group TA at this JAP",
	.help = "The targets must have TA's address family.\n",
	.run = run_set_set,
};

const struct cmd cmd_targets_del = {
	.name = "targets del",
	.args = "TA",
	.summary = "forget group TA's targets at this JAP",
	.help = "",
	.run = run_set_del,
};
