// SPDX-License-Identifier: MIT
/*
 * piasd-loader: attach, detach, report on and replace the PIAS dataplane.
 * The maps live in bpffs under the pin root, not in this process: the
 * loader exits after each command, the program and its state stay.
 */
#include "loader.h"

static const struct cmd *const commands[] = { &cmd_attach, &cmd_detach, &cmd_status, &cmd_replace,
					      NULL };

static const struct cli_tool tool = {
	.prog = "piasd-loader",
	.about = "Loads the PIAS XDP program; its maps are pinned under DIR, one pin root\n"
		 "per proxy. COMMAND --help tells more.",
	.commands = commands,
	.globals = cli_opts_pin_root,
	.globals_anywhere = true,
	.ready = cli_ready_pin_root,
};

int main(int argc, char **argv)
{
	struct cli c = { 0 };

	return cli_main(&c, &tool, argc, argv);
}
