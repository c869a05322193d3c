// SPDX-License-Identifier: MIT
/*
 * piasctl: talk to a running piasd over its control socket, run a target's
 * registration agent, make keys and tokens.
 */
#include <sodium.h>
#include <stdlib.h>

#include "ctl_proto.h"
#include "piasctl.h"

static const struct cmd *const commands[] = {
	&cmd_show,
	&cmd_drain,
	&cmd_undrain,
	&cmd_dial,
	&cmd_withdraw,
	&cmd_flush_bindings,
	&cmd_keys_reload,
	&cmd_target_join,
	&cmd_target_leave,
	&cmd_keygen,
	&cmd_keyring,
	&cmd_token,
	NULL,
};

static const struct cli_opt globals[] = {
	{ "--socket", CLI_STR, "SOCKET",
	  "piasd's control socket (default: $" PIAS_CTL_SOCKET_ENV ", else " PIAS_CTL_SOCKET_DEFAULT
	  ")",
	  .alias = "-s" },
	CLI_OPT_END,
};

static int ready(struct cli *c, const struct cli_val *g)
{
	struct piasctl *p = piasctl_of(c);

	p->socket = g[0].seen ? g[0].s : getenv(PIAS_CTL_SOCKET_ENV);
	if (!p->socket || !*p->socket)
		p->socket = PIAS_CTL_SOCKET_DEFAULT;
	/* keys and tokens come from libsodium's generator and HMAC */
	if (sodium_init() < 0)
		return cli_fail(c, "libsodium failed to initialize");
	return 0;
}

static const struct cli_tool tool = {
	.prog = PIASCTL,
	.about = "Controls piasd through its control socket, runs a target's registration\n"
		 "agent, makes keys. COMMAND --help tells more.",
	.commands = commands,
	.globals = globals,
	.ready = ready,
};

int main(int argc, char **argv)
{
	struct piasctl p = { 0 };

	return cli_main(&p.cli, &tool, argc, argv);
}
