// SPDX-License-Identifier: MIT
/*
 * The texts a tool prints about itself, generated from its tables: a
 * command's synopsis, its --help (options with their ranges and defaults),
 * the tool's usage. help2man reads the tool's --help: a "usage:" line, then
 * option lines, each "  --name ARG   help".
 */
#include <string.h>

#include "cli.h"

static bool is_opt(const struct cli_opt *o)
{
	return o->name[0] == '-';
}

static bool listed(const struct cli_opt *o)
{
	return o->help != NULL;
}

/* "--ttl SECONDS", "--mode native|skb", "--verbose", "ID..." */
static void opt_word(FILE *f, const struct cli_opt *o)
{
	fprintf(f, "%s", o->name);
	if (is_opt(o) && o->type != CLI_FLAG && o->arg)
		fprintf(f, " %s", o->arg);
	if (o->flags & CLI_REPEAT)
		fprintf(f, "...");
}

/*
 * Positionals, then required options, then the optional ones in brackets
 * (short_form: "[OPTIONS]" for all of those). A hand-written args wins:
 * some commands' options go in groups the table cannot say.
 */
void cli_synopsis(FILE *f, const struct cmd *cmd, bool short_form)
{
	const struct cli_opt *opts = cmd->opts;
	const char *sep = "";
	bool optional = false;

	if (cmd->args) {
		fprintf(f, "%s", cmd->args);
		return;
	}
	for (int i = 0; opts && opts[i].name; i++) {
		const struct cli_opt *o = &opts[i];

		if (!listed(o) && is_opt(o))
			continue;
		if (is_opt(o) && !(o->flags & CLI_REQUIRED)) {
			optional = true;
			continue;
		}
		fprintf(f, "%s%s", sep, (o->flags & CLI_OPTIONAL) ? "[" : "");
		opt_word(f, o);
		fprintf(f, "%s", (o->flags & CLI_OPTIONAL) ? "]" : "");
		sep = " ";
	}
	if (optional && short_form) {
		fprintf(f, "%s[OPTIONS]", sep);
		return;
	}
	for (int i = 0; opts && opts[i].name; i++) {
		const struct cli_opt *o = &opts[i];

		if (!is_opt(o) || !listed(o) || (o->flags & CLI_REQUIRED))
			continue;
		fprintf(f, "%s[", sep);
		opt_word(f, o);
		fprintf(f, "]");
		sep = " ";
	}
}

/* "(1-65535, default 1)": what the table knows beyond the help line. */
static void opt_facts(FILE *f, const struct cli_opt *o)
{
	bool range = o->type == CLI_U32 && o->max != UINT32_MAX;

	if (!range && !o->def)
		return;
	fprintf(f, " (");
	if (range)
		fprintf(f, "%u-%u%s", o->min, o->max, o->def ? ", " : "");
	if (o->def)
		fprintf(f, "default %s", o->def);
	fprintf(f, ")");
}

static int left_width(const struct cli_opt *o)
{
	int w = (int)strlen(o->name);

	if (o->alias)
		w += (int)strlen(o->alias) + 2;
	if (is_opt(o) && o->type != CLI_FLAG && o->arg)
		w += 1 + (int)strlen(o->arg);
	return w + ((o->flags & CLI_REPEAT) ? 3 : 0);
}

void cli_print_opts(FILE *f, const struct cli_opt *opts)
{
	int width = 0;

	for (int i = 0; opts && opts[i].name; i++)
		if (listed(&opts[i]) && left_width(&opts[i]) > width)
			width = left_width(&opts[i]);
	for (int i = 0; opts && opts[i].name; i++) {
		const struct cli_opt *o = &opts[i];
		const char *h = o->help;

		if (!listed(o))
			continue;
		fprintf(f, "  ");
		if (o->alias)
			fprintf(f, "%s, ", o->alias);
		opt_word(f, o);
		fprintf(f, "%*s", width - left_width(o) + 3, "");
		/* the help's further lines line up under its first */
		for (const char *nl; (nl = strchr(h, '\n')); h = nl + 1)
			fprintf(f, "%.*s\n%*s", (int)(nl - h), h, width + 5, "");
		fprintf(f, "%s", h);
		opt_facts(f, o);
		fprintf(f, "\n");
	}
}

static void globals_synopsis(FILE *f, const struct cli *c)
{
	const struct cli_opt *g = c->tool ? c->tool->globals : NULL;

	for (int i = 0; g && g[i].name; i++)
		fprintf(f, "[%s %s] ", g[i].alias ? g[i].alias : g[i].name, g[i].arg);
}

static bool any_listed(const struct cli_opt *opts)
{
	for (int i = 0; opts && opts[i].name; i++)
		if (listed(&opts[i]))
			return true;
	return false;
}

/* "name synopsis", without a space at the end when there is no synopsis. */
static void name_synopsis(FILE *f, const struct cmd *cmd, bool short_form)
{
	char buf[2048] = "";
	FILE *m = fmemopen(buf, sizeof(buf) - 1, "w");

	if (m) {
		cli_synopsis(m, cmd, short_form);
		fclose(m);
	}
	fprintf(f, "%s%s%s", cmd->name, buf[0] ? " " : "", buf);
}

void cli_print_help(struct cli *c, FILE *f, const struct cmd *cmd)
{
	fprintf(f, "usage: %s ", c->prog);
	globals_synopsis(f, c);
	name_synopsis(f, cmd, false);
	fprintf(f, "\n\n%s\n", cmd->summary);
	if (any_listed(cmd->opts) || (cmd->help && cmd->help[0]))
		fprintf(f, "\n");
	cli_print_opts(f, cmd->opts);
	if (cmd->help)
		fprintf(f, "%s", cmd->help);
}

/* The globals and --help, in one list so that they line up. */
static const struct cli_opt *with_help(const struct cli_opt *g, struct cli_opt *opts)
{
	int n = 0;

	for (; g && g[n].name && n < CLI_MAX_OPTS - 2; n++)
		opts[n] = g[n];
	opts[n++] = (struct cli_opt){ .name = "--help",
				      .alias = "-h",
				      .type = CLI_FLAG,
				      .help = "this text; COMMAND --help tells about one command" };
	opts[n] = (struct cli_opt)CLI_OPT_END;
	return opts;
}

/* The tool's --help: what it does, its commands, its global options. */
void cli_print_usage(struct cli *c, FILE *f)
{
	const struct cli_tool *t = c->tool;
	struct cli_opt opts[CLI_MAX_OPTS];

	fprintf(f, "usage: %s ", c->prog);
	globals_synopsis(f, c);
	fprintf(f, "COMMAND [ARGS...]\n\n%s\n\n", t->about);
	for (int i = 0; t->commands[i]; i++) {
		fprintf(f, "  ");
		name_synopsis(f, t->commands[i], true);
		fprintf(f, "\n      %s\n", t->commands[i]->summary);
	}
	fprintf(f, "\nOptions:\n");
	cli_print_opts(f, with_help(t->globals, opts));
	fprintf(f, "\nExit status: 0 done, 1 runtime error, 2 bad argument.\n");
}
