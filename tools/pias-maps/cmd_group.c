// SPDX-License-Identifier: MIT
/* group set|del: a RAP's view of a group, its JAPs and their weights. */
#include <string.h>

#include "commands.h"

/* "JAP_ID:WEIGHT"; a bare JAP_ID means weight 1. */
static int parse_jap(struct cli *c, const char *arg, struct pias_group_jap *j)
{
	const struct cli_u32_part id = { "JAP id", 1, PIAS_MAX_PROXIES - 1, &j->jap_id };
	const struct cli_u32_part weight = { "weight", 0, UINT32_MAX, &j->weight };

	j->weight = 1;
	return cli_u32_pair(c, arg, ':', &id, &weight);
}

enum {
	P_TA,
	P_JAPS
};

static const struct cli_opt set_opts[] = {
	[P_TA] = { "TA", CLI_TA },
	[P_JAPS] = { "JAP_ID:WEIGHT", CLI_STR, .flags = CLI_REPEAT },
	CLI_OPT_END,
};

static int run_set(struct cli *c, const struct cli_args *a)
{
	struct pias_group_jap japs[PIAS_GROUP_MAX_JAPS];
	struct pias_maps *m;
	struct pias_err e;
	int r;

	if (a->nrep > PIAS_GROUP_MAX_JAPS)
		return cli_bad(c, "%d JAPs given, a group holds at most %u", a->nrep,
			       PIAS_GROUP_MAX_JAPS);
	for (int i = 0; i < a->nrep; i++) {
		if ((r = parse_jap(c, a->rep[i].s, &japs[i])))
			return r;
		for (int j = 0; j < i; j++)
			if (japs[j].jap_id == japs[i].jap_id)
				return cli_bad(c, "JAP id %u is listed twice", japs[j].jap_id);
	}
	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_group_set(m, &a->v[P_TA].ta, japs, (size_t)a->nrep, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_del(struct cli *c, const struct cli_args *a)
{
	return cli_run_ta_del(c, a, pias_group_del);
}

const struct cmd cmd_group_set = {
	.name = "group set",
	.opts = set_opts,
	.summary = "as RAP of TA, send its new flows to these JAPs (at most 16)",
	.help = "WEIGHT is the JAP's approximate target count (0: skip it; a bare JAP_ID\n"
		"means weight 1). The RAP picks a JAP per flow, in proportion to the\n"
		"weights, among the JAPs that are up.\n",
	.run = run_set,
};

const struct cmd cmd_group_del = {
	.name = "group del",
	.opts = cli_opts_ta,
	.summary = "forget group TA at this RAP",
	.run = run_del,
};
