// SPDX-License-Identifier: MIT
/*
 * piasctl: talk to a running piasd over its control socket, run a target's
 * registration agent, make keys and tokens.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-s SOCKET] COMMAND [ARGS...]\n\n"
		"Controls piasd through its control socket (SOCKET: -s, else $%s,\n"
		"else %s), runs a target's registration agent, makes keys.\n"
		"COMMAND --help tells more.\n\n",
		PIASCTL, PIAS_CTL_SOCKET_ENV, PIAS_CTL_SOCKET_DEFAULT);
	for (int i = 0; commands[i]; i++)
		fprintf(f, "  %s%s%s\n      %s\n", commands[i]->name,
			commands[i]->args[0] ? " " : "", commands[i]->args, commands[i]->summary);
	fprintf(f, "\nExit status: 0 done, 1 runtime error, 2 bad argument.\n");
}

void pctl_print_help(FILE *f, const struct cmd *cmd)
{
	fprintf(f, "usage: %s [-s SOCKET] %s%s%s\n\n%s\n", PIASCTL, cmd->name,
		cmd->args[0] ? " " : "", cmd->args, cmd->summary);
	if (cmd->help[0])
		fprintf(f, "\n%s", cmd->help);
}

int pctl_parse(struct cli *c, int argc, char **argv, struct cli_opt *opts, char **pos, int *npos)
{
	int r;

	/* Ours, before lib/cli prints pias-maps' synopsis with --pin-root. */
	for (int i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help")) {
			pctl_print_help(stdout, c->cmd);
			return -1;
		}
	c->pin_root = NULL;
	r = cli_parse(c, argc, argv, opts, pos, npos);
	if (!r && c->pin_root)
		return cli_bad(c, "unknown option '--pin-root' (see %s %s --help)", PIASCTL,
			       c->cmd->name);
	return r;
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
 * at least named the first word of a command ("target").
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

/* "target --help", "target" or "target bogus": list the group's commands. */
static int group_help(const char *word, const char *sub)
{
	bool help = sub && (!strcmp(sub, "--help") || !strcmp(sub, "-h"));
	FILE *f = help ? stdout : stderr;

	if (!help && sub)
		fprintf(f, "%s %s: unknown command '%s'; one of:\n", PIASCTL, word, sub);
	else if (!help)
		fprintf(f, "%s %s: missing command; one of:\n", PIASCTL, word);
	for (int i = 0; commands[i]; i++)
		if (first_word(commands[i]->name) == strlen(word) &&
		    !strncmp(commands[i]->name, word, strlen(word)))
			fprintf(f, "  %s %s %s\n", PIASCTL, commands[i]->name, commands[i]->args);
	return help ? EXIT_OK : EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct piasctl p = { .cli = { .prog = PIASCTL } };
	struct cli *c = &p.cli;
	const struct cmd *cmd;
	int i = 1, used = 0;
	bool group;

	p.socket = getenv(PIAS_CTL_SOCKET_ENV);
	if (!p.socket || !*p.socket)
		p.socket = PIAS_CTL_SOCKET_DEFAULT;
	/* Global options come before the command. */
	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return EXIT_OK;
		}
		if (!strcmp(a, "-s") || !strcmp(a, "--socket")) {
			if (i + 1 >= argc || !*argv[i + 1])
				return cli_bad(c, "%s needs a socket path", a);
			p.socket = argv[i + 1];
			i += 2;
			continue;
		}
		if (!strncmp(a, "--socket=", 9) && a[9]) {
			p.socket = a + 9;
			i++;
			continue;
		}
		return cli_bad(c, "unknown option '%s' (see %s --help)", a, PIASCTL);
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = find_cmd(argc - i, argv + i, &used, &group);
	if (!cmd && group)
		return group_help(argv[i], i + 1 < argc ? argv[i + 1] : NULL);
	if (!cmd)
		return cli_bad(c, "unknown command '%s' (see %s --help)", argv[i], PIASCTL);
	/* keys and tokens come from libsodium's generator and HMAC */
	if (sodium_init() < 0)
		return cli_fail(c, "libsodium failed to initialize");
	c->cmd = cmd;
	return cmd->run(c, argc - i - used, argv + i + used);
}
