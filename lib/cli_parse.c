// SPDX-License-Identifier: MIT
/*
 * A command's argv against its table: options anywhere (--name VALUE,
 * --name=VALUE), "--" ends them, the rest are positionals in the table's
 * order. Every value is checked by its type before the command runs; an
 * option given twice counts with its last value.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_opt no_opts[] = { CLI_OPT_END };

static bool is_opt(const struct cli_opt *o)
{
	return o->name[0] == '-';
}

static int find(const struct cli_opt *opts, const char *a, size_t len)
{
	for (int i = 0; opts[i].name; i++)
		if (is_opt(&opts[i]) && strlen(opts[i].name) == len &&
		    !strncmp(opts[i].name, a, len))
			return i;
	return -1;
}

/* "missing argument: usage: pias-maps binding set TA JAP_ID [...]" */
static int count_bad(struct cli *c, const char *what)
{
	char *syn = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&syn, &n);
	int r;

	if (f) {
		cli_synopsis(f, c->cmd, false);
		fclose(f);
	}
	r = cli_bad(c, "%s: usage: %s %s %s", what, c->prog, c->cmd->name, syn ? syn : "");
	free(syn);
	return r;
}

/* Hand the positionals to the table's positional entries, in order. */
static int positionals(struct cli *c, const struct cli_opt *opts, char **pos, int npos,
		       struct cli_args *a)
{
	int k = 0, r;

	for (int i = 0; opts[i].name; i++) {
		const struct cli_opt *o = &opts[i];

		if (is_opt(o))
			continue;
		if (k >= npos) {
			if (o->flags & CLI_OPTIONAL)
				break;
			return count_bad(c, "missing argument");
		}
		if (o->flags & CLI_REPEAT) {
			a->v[i].seen = true;
			a->v[i].s = pos[k];
			for (; k < npos; k++)
				if ((r = cli_value(c, o, pos[k], &a->rep[a->nrep++])))
					return r;
			return 0;
		}
		a->v[i].seen = true;
		if ((r = cli_value(c, o, pos[k++], &a->v[i])))
			return r;
	}
	return k < npos ? count_bad(c, "too many arguments") : 0;
}

/* What was not given: its default, then whether it was required. */
static int finish(struct cli *c, const struct cli_opt *opts, struct cli_args *a)
{
	int r;

	for (int i = 0; opts[i].name; i++) {
		if (a->v[i].seen || !opts[i].def)
			continue;
		if ((r = cli_value(c, &opts[i], opts[i].def, &a->v[i])))
			return r;
	}
	for (int i = 0; opts[i].name; i++)
		if ((opts[i].flags & CLI_REQUIRED) && (r = cli_required(c, &opts[i], &a->v[i])))
			return r;
	return 0;
}

/* One "--name[=value]" at argv[*i]; the value may be the next word. */
static int option(struct cli *c, int argc, char **argv, int *i, struct cli_args *a)
{
	const struct cli_opt *opts = c->cmd->opts ? c->cmd->opts : no_opts, *o;
	const char *arg = argv[*i], *eq = strchr(arg, '='), *val = NULL;
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	struct cli_val *v;
	int k = find(opts, arg, len);

	if (k >= 0) {
		o = &opts[k];
		v = &a->v[k];
	} else if (c->tool && c->tool->globals_anywhere && c->tool->globals &&
		   (k = find(c->tool->globals, arg, len)) >= 0) {
		o = &c->tool->globals[k];
		v = &c->globals[k];
	} else {
		return cli_bad(c, "unknown option '%.*s' (see %s %s --help)", (int)len, arg,
			       c->prog, c->cmd->name);
	}
	if (o->type == CLI_FLAG && eq)
		return cli_bad(c, "%s takes no value", o->name);
	if (o->type != CLI_FLAG) {
		if (eq)
			val = eq + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else
			return cli_bad(c, "%s needs a value", o->name);
	}
	v->seen = true;
	return cli_value(c, o, val ? val : "", v);
}

int cli_parse(struct cli *c, int argc, char **argv, struct cli_args *a)
{
	const struct cli_opt *opts = c->cmd->opts ? c->cmd->opts : no_opts;
	char *pos[CLI_MAX_POS];
	bool only_pos = false;
	int npos = 0, r;

	memset(a, 0, sizeof(*a));
	/* --help first: it answers whatever else is wrong with the line */
	for (int i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help")) {
			cli_print_help(c, cli_out(c), c->cmd);
			return -1;
		}
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];

		if (only_pos || s[0] != '-' || s[1] != '-') {
			if (npos >= CLI_MAX_POS)
				return cli_bad(c, "too many arguments (at most %d)", CLI_MAX_POS);
			pos[npos++] = argv[i];
		} else if (!s[2]) {
			only_pos = true;
		} else if ((r = option(c, argc, argv, &i, a))) {
			return r;
		}
	}
	if ((r = positionals(c, opts, pos, npos, a)))
		return r;
	return finish(c, opts, a);
}
