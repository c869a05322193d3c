// SPDX-License-Identifier: MIT
/*
 * pias-maps: fill the dataplane's pinned maps from the command line, read
 * its counters and events. For operators and tests until piasd does it;
 * every write goes through lib/maps, the same path the daemon uses.
 */
#include "commands.h"

static const struct cmd *const commands[] = {
	&cmd_config,	   &cmd_prefix_add,
	&cmd_prefix_del,   &cmd_proxy_set,
	&cmd_proxy_del,	   &cmd_rap_fill,
	&cmd_binding_set,  &cmd_binding_negative,
	&cmd_binding_del,  &cmd_flows_clear,
	&cmd_group_set,	   &cmd_group_del,
	&cmd_target_set,   &cmd_target_del,
	&cmd_targets_set,  &cmd_targets_del,
	&cmd_targets_show, &cmd_stats,
	&cmd_group_stats,  &cmd_target_stats,
	&cmd_events,	   NULL,
};

static const struct cli_tool tool = {
	.prog = "pias-maps",
	.about = "Writes and reads the PIAS dataplane's maps pinned under DIR.\n"
		 "COMMAND --help tells more.",
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
