// SPDX-License-Identifier: MIT
/*
 * pias-maps: fill the dataplane's pinned maps from the command line, read
 * its counters and events. For operators and tests until piasd does it;
 * every write goes through lib/maps, the same path the daemon uses.
 */
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static const struct cmd *const commands[] = {
	&cmd_config,
	&cmd_prefix_add,
	&cmd_prefix_del,
	&cmd_proxy_set,
	&cmd_proxy_del,
	&cmd_rap_fill,
	&cmd_binding_set,
	&cmd_binding_negative,
	&cmd_binding_del,
	&cmd_flows_clear,
	&cmd_group_set,
	&cmd_group_del,
	&cmd_target_set,
	&cmd_target_del,
	&cmd_targets_set,
	&cmd_targets_del,
	&cmd_stats,
	&cmd_group_stats,
	&cmd_target_stats,
	&cmd_events,
	NULL,
};

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [--pin-root DIR] COMMAND [ARGS...]\n\n"
		"Writes and reads the PIAS dataplane's maps pinned under DIR\n"
		"(default %s). COMMAND --help tells more.\n\n",
		prog, PIAS_PIN_ROOT_DEFAULT);
	for (int i = 0; commands[i]; i++)
		fprintf(f, "  %s %s\n      %s\n", commands[i]->name, commands[i]->args,
			commands[i]->summary);
	fprintf(f, "\nExit status: 0 done, 1 runtime error, 2 bad argument.\n");
}

/* Length of the first word of a command name. */
static size_t first_word(const char *name)
{
	const char *sp = strchr(name, ' ');

	return sp ? (size_t)(sp - name) : strlen(name);
}

/*
 * The command named by argv[0] (and argv[1] for two-word commands); *used
 * says how many words it took. NULL if none; *group tells whether argv[0]
 * at least named a command group ("prefix").
 */
static const struct cmd *find_cmd(int argc, char **argv, int *used, bool *group)
{
	*group = false;
	for (int i = 0; commands[i]; i++) {
		const char *n = commands[i]->name;
		size_t w = first_word(n);

		if (strlen(argv[0]) != w || strncmp(argv[0], n, w))
			continue;
		*group = true;
		if (!n[w]) {
			*used = 1;
			return commands[i];
		}
		if (argc > 1 && !strcmp(argv[1], n + w + 1)) {
			*used = 2;
			return commands[i];
		}
	}
	return NULL;
}

/* "prefix --help", "prefix" or "prefix bogus": list the group's commands. */
static int group_help(struct cli *c, const char *word, const char *sub)
{
	bool help = sub && !strcmp(sub, "--help");
	FILE *f = help ? stdout : stderr;

	if (!help && sub)
		fprintf(f, "%s %s: unknown command '%s'; one of:\n", c->prog, word, sub);
	else if (!help)
		fprintf(f, "%s %s: missing command; one of:\n", c->prog, word);
	for (int i = 0; commands[i]; i++)
		if (first_word(commands[i]->name) == strlen(word) &&
		    !strncmp(commands[i]->name, word, strlen(word)))
			fprintf(f, "  %s %s %s\n", c->prog, commands[i]->name, commands[i]->args);
	return help ? EXIT_OK : EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct cli c = { .prog = "pias-maps", .pin_root = PIAS_PIN_ROOT_DEFAULT };
	const struct cmd *cmd;
	int i = 1, used = 0, rc;
	bool group;

	/* Global options come before the command. */
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout, c.prog);
			return EXIT_OK;
		}
		if (!strcmp(argv[i], "--pin-root") && i + 1 < argc) {
			c.pin_root = argv[i + 1];
			i += 2;
			continue;
		}
		if (!strncmp(argv[i], "--pin-root=", 11)) {
			c.pin_root = argv[i] + 11;
			i++;
			continue;
		}
		return cli_bad(&c, "unknown option '%s' (see %s --help)", argv[i], c.prog);
	}
	if (i >= argc) {
		usage(stderr, c.prog);
		return EXIT_USAGE;
	}
	cmd = find_cmd(argc - i, argv + i, &used, &group);
	if (!cmd && group)
		return group_help(&c, argv[i], i + 1 < argc ? argv[i + 1] : NULL);
	if (!cmd)
		return cli_bad(&c, "unknown command '%s' (see %s --help)", argv[i], c.prog);
	c.cmd = cmd;
	rc = cmd->run(&c, argc - i - used, argv + i + used);
	if (c.maps_open)
		pias_maps_close(&c.maps);
	return rc;
}
