// SPDX-License-Identifier: MIT
/* prefix add|del: the anycast prefixes whose traffic the IAP takes. */
#include "commands.h"

static int run_prefix(struct cli *c, int argc, char **argv, bool add)
{
	char *pos[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_net n;
	struct pias_err e;
	int npos, r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 1, 1)))
		return r;
	if (pias_net_parse(pos[0], &n, &e))
		return cli_bad(c, "%s", e.msg);
	if ((r = cli_maps(c, &m)))
		return r;
	r = add ? pias_prefix_add(m, &n, &e) : pias_prefix_del(m, &n, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_add(struct cli *c, int argc, char **argv)
{
	return run_prefix(c, argc, argv, true);
}

static int run_del(struct cli *c, int argc, char **argv)
{
	return run_prefix(c, argc, argv, false);
}

const struct cmd cmd_prefix_add = {
	.name = "prefix add",
	.args = "PREFIX",
	.summary = "add an anycast prefix (203.0.113.0/24, 2001:db8:a::/48)",
	.help = "Packets to an address in an anycast prefix are clients' packets: TCP\n"
		"and UDP take the IAP path, the rest goes to the stack.\n",
	.run = run_add,
};

const struct cmd cmd_prefix_del = {
	.name = "prefix del",
	.args = "PREFIX",
	.summary = "remove an anycast prefix",
	.help = "",
	.run = run_del,
};
