// SPDX-License-Identifier: MIT
/*
 * piasd-loader: attach, detach, report on and replace the PIAS dataplane.
 * The maps live in bpffs under the pin root, not in this process: the
 * loader exits after each command, the program and its state stay.
 */
#include <string.h>

#include "loader.h"
#include "maps.h"

static const struct cmd *const commands[] = { &cmd_attach, &cmd_detach, &cmd_status, &cmd_replace,
					      NULL };

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s COMMAND [--pin-root DIR] [OPTIONS]\n\n"
		"Loads the PIAS XDP program; its maps are pinned under DIR (default %s),\n"
		"one pin root per proxy. COMMAND --help tells more.\n\n",
		prog, PIAS_PIN_ROOT_DEFAULT);
	for (int i = 0; commands[i]; i++)
		fprintf(f, "  %s %s\n      %s\n", commands[i]->name, commands[i]->args,
			commands[i]->summary);
	fprintf(f, "\nExit status: 0 done, 1 runtime error, 2 bad argument.\n");
}

int main(int argc, char **argv)
{
	struct cli c = { .prog = "piasd-loader", .pin_root = PIAS_PIN_ROOT_DEFAULT };
	int i = 1;

	/* --pin-root may also come first, as with pias-maps. */
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout, c.prog);
			return EXIT_OK;
		}
		if (!strcmp(argv[i], "--pin-root") && i + 1 < argc) {
			c.pin_root = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--pin-root=", 11)) {
			c.pin_root = argv[i++] + 11;
		} else {
			return cli_bad(&c, "unknown option '%s' (see %s --help)", argv[i], c.prog);
		}
	}
	if (i >= argc) {
		usage(stderr, c.prog);
		return EXIT_USAGE;
	}
	for (int k = 0; commands[k]; k++)
		if (!strcmp(argv[i], commands[k]->name)) {
			c.cmd = commands[k];
			return commands[k]->run(&c, argc - i - 1, argv + i + 1);
		}
	return cli_bad(&c, "unknown command '%s' (see %s --help)", argv[i], c.prog);
}
