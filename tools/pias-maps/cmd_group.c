// SPDX-License-Identifier: MIT
/* group set|del: a RAP's view of a group, its JAPs and their weights. */
#include <string.h>

#include "commands.h"

/* "JAP_ID:WEIGHT"; a bare JAP_ID means weight 1. */
static int parse_jap(struct cli *c, char *s, struct pias_group_jap *j)
{
	char *colon = strchr(s, ':');
	int r;

	if (colon)
		*colon = '\0';
	if ((r = cli_u32(c, "JAP id", s, 1, PIAS_MAX_PROXIES - 1, &j->jap_id)))
		return r;
	j->weight = 1;
	if (colon && (r = cli_u32(c, "weight", colon + 1, 0, UINT32_MAX, &j->weight)))
		return r;
	return 0;
}

static int run_set(struct cli *c, int argc, char **argv)
{
	struct pias_group_jap japs[PIAS_GROUP_MAX_JAPS];
	char *pos[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_err e;
	struct pias_ta ta;
	int npos, r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 2, -1)) || (r = cli_ta(c, pos[0], &ta)))
		return r;
	if (npos - 1 > PIAS_GROUP_MAX_JAPS)
		return cli_bad(c, "%d JAPs given, a group holds at most %u", npos - 1,
			       PIAS_GROUP_MAX_JAPS);
	for (int i = 1; i < npos; i++) {
		if ((r = parse_jap(c, pos[i], &japs[i - 1])))
			return r;
		for (int j = 0; j < i - 1; j++)
			if (japs[j].jap_id == japs[i - 1].jap_id)
				return cli_bad(c, "JAP id %u is listed twice", japs[j].jap_id);
	}
	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_group_set(m, &ta, japs, (size_t)(npos - 1), &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_del(struct cli *c, int argc, char **argv)
{
	return cli_run_ta_del(c, argc, argv, pias_group_del);
}

const struct cmd cmd_group_set = {
	.name = "group set",
	.args = "TA JAP_ID:WEIGHT...",
	.summary = "as RAP of TA, send its new flows to these JAPs (at most 16)",
	.help = "WEIGHT is the JAP's approximate target count (0: skip it; a bare JAP_ID\n"
		"means weight 1). The RAP picks a JAP per flow, in proportion to the\n"
		"weights, among the JAPs that are up.\n",
	.run = run_set,
};

const struct cmd cmd_group_del = {
	.name = "group del",
	.args = "TA",
	.summary = "forget group TA at this RAP",
	.help = "",
	.run = run_del,
};
