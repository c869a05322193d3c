// SPDX-License-Identifier: MIT
/* prefix add|del: the anycast prefixes whose traffic the IAP takes. */
#include "commands.h"

static const struct cli_opt opts[] = {
	{ .name = "PREFIX", .type = CLI_STR },
	CLI_OPT_END,
};

static int run_prefix(struct cli *c, const struct cli_args *a, bool add)
{
	struct pias_maps *m;
	struct pias_net n;
	struct pias_err e;
	int r;

	if (pias_net_parse(a->v[0].s, &n, &e))
		return cli_bad(c, "%s", e.msg);
	if ((r = cli_maps(c, &m)))
		return r;
	r = add ? pias_prefix_add(m, &n, &e) : pias_prefix_del(m, &n, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_add(struct cli *c, const struct cli_args *a)
{
	return run_prefix(c, a, true);
}

static int run_del(struct cli *c, const struct cli_args *a)
{
	return run_prefix(c, a, false);
}

const struct cmd cmd_prefix_add = {
	.name = "prefix add",
	.opts = opts,
	.summary = "add an anycast prefix (203.0.113.0/24, 2001:db8:a::/48)",
	.help = "Packets to an address in an anycast prefix are clients' packets: TCP\n"
		"and UDP take the IAP path, the rest goes to the stack.\n",
	.run = run_add,
};

const struct cmd cmd_prefix_del = {
	.name = "prefix del",
	.opts = opts,
	.summary = "remove an anycast prefix",
	.run = run_del,
};
