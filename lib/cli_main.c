// SPDX-License-Identifier: MIT
/*
 * The dispatcher of every tool: global options before the command, the
 * command by its one or two words ("stats", "prefix add"), a group's list
 * when only its first word matches, its options checked against its table,
 * then its run. Help goes to stdout with exit 0; a mistake to stderr, 2.
 */
#include <string.h>

#include "cli.h"

static size_t first_word(const char *name)
{
	const char *sp = strchr(name, ' ');

	return sp ? (size_t)(sp - name) : strlen(name);
}

static bool in_group(const struct cmd *cmd, const char *word)
{
	return first_word(cmd->name) == strlen(word) && !strncmp(cmd->name, word, strlen(word));
}

/*
 * The command named by argv[0] (and argv[1] for two-word commands); *used
 * says how many words it took. NULL if none; *group tells whether argv[0]
 * at least named the first word of a command ("prefix").
 */
static const struct cmd *find_cmd(const struct cli_tool *t, int argc, char **argv, int *used,
				  bool *group)
{
	*group = false;
	for (int i = 0; t->commands[i]; i++) {
		const char *n = t->commands[i]->name;
		size_t w = first_word(n);

		if (!in_group(t->commands[i], argv[0]))
			continue;
		*group = true;
		if (!n[w]) {
			*used = 1;
			return t->commands[i];
		}
		if (argc > 1 && !strcmp(argv[1], n + w + 1)) {
			*used = 2;
			return t->commands[i];
		}
	}
	return NULL;
}

/* "prefix --help", "prefix" or "prefix bogus": list the group's commands. */
static int group_help(struct cli *c, const char *word, const char *sub)
{
	bool help = sub && (!strcmp(sub, "--help") || !strcmp(sub, "-h"));
	FILE *f = help ? cli_out(c) : cli_errf(c);

	if (!help && sub)
		fprintf(f, "%s %s: unknown command '%s'; one of:\n", c->prog, word, sub);
	else if (!help)
		fprintf(f, "%s %s: missing command; one of:\n", c->prog, word);
	for (int i = 0; c->tool->commands[i]; i++)
		if (in_group(c->tool->commands[i], word)) {
			fprintf(f, "  %s %s ", c->prog, c->tool->commands[i]->name);
			cli_synopsis(f, c->tool->commands[i], false);
			fprintf(f, "\n");
		}
	return help ? EXIT_OK : EXIT_USAGE;
}

static int global_index(const struct cli_opt *g, const char *a, size_t len)
{
	for (int i = 0; g && g[i].name; i++)
		if ((strlen(g[i].name) == len && !strncmp(g[i].name, a, len)) ||
		    (g[i].alias && !strcmp(g[i].alias, a)))
			return i;
	return -1;
}

/* The options before the command; *i moves past them. -1: help printed. */
static int globals(struct cli *c, int argc, char **argv, int *i)
{
	const struct cli_opt *g = c->tool->globals;
	int r;

	for (int k = 0; g && g[k].name; k++)
		if (g[k].def && (r = cli_value(c, &g[k], g[k].def, &c->globals[k])))
			return r;
	while (*i < argc && argv[*i][0] == '-') {
		const char *a = argv[*i], *eq = strchr(a, '=');
		size_t len = eq && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
		int k;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cli_print_usage(c, cli_out(c));
			return -1;
		}
		k = global_index(g, a, len);
		if (k < 0)
			return cli_bad(c, "unknown option '%s' (see %s --help)", a, c->prog);
		if (len == strlen(a) && *i + 1 >= argc)
			return cli_bad(c, "%s needs a value", a);
		c->globals[k].seen = true;
		if ((r = cli_value(c, &g[k], len == strlen(a) ? argv[++*i] : eq + 1,
				   &c->globals[k])))
			return r;
		++*i;
	}
	return 0;
}

int cli_main(struct cli *c, const struct cli_tool *t, int argc, char **argv)
{
	static struct cli_args a; /* large, and one per process */
	const struct cmd *cmd;
	int i = 1, used = 0, r;
	bool group;

	c->tool = t;
	c->prog = t->prog;
	c->cmd = NULL;
	memset(c->globals, 0, sizeof(c->globals));
	if ((r = globals(c, argc, argv, &i)))
		return r < 0 ? EXIT_OK : r;
	if (i >= argc) {
		cli_print_usage(c, cli_errf(c));
		return EXIT_USAGE;
	}
	cmd = find_cmd(t, argc - i, argv + i, &used, &group);
	if (!cmd && group)
		return group_help(c, argv[i], i + 1 < argc ? argv[i + 1] : NULL);
	if (!cmd)
		return cli_bad(c, "unknown command '%s' (see %s --help)", argv[i], c->prog);
	c->cmd = cmd;
	if ((r = cli_parse(c, argc - i - used, argv + i + used, &a)))
		return r < 0 ? EXIT_OK : r;
	if (t->ready && (r = t->ready(c, c->globals)))
		return r;
	r = cmd->run(c, &a);
	if (c->maps_open)
		pias_maps_close(&c->maps);
	c->maps_open = false;
	return r;
}
