// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cli.h"

static void vsay(struct cli *c, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s", c->prog);
	if (c->cmd)
		fprintf(stderr, " %s", c->cmd->name);
	fprintf(stderr, ": ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
}

int cli_bad(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(c, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

int cli_fail(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(c, fmt, ap);
	va_end(ap);
	return EXIT_RUNTIME;
}

int cli_err(struct cli *c, int err, const struct pias_err *e)
{
	if (err == -EINVAL)
		return cli_bad(c, "%s", e->msg);
	return cli_fail(c, "%s", e->msg);
}

void cli_print_help(FILE *f, const struct cmd *cmd, const char *prog)
{
	fprintf(f, "usage: %s [--pin-root DIR] %s%s%s\n\n%s\n", prog, cmd->name,
		cmd->args[0] ? " " : "", cmd->args, cmd->summary);
	if (cmd->help[0])
		fprintf(f, "\n%s", cmd->help);
}

static struct cli_opt *find_opt(struct cli_opt *opts, const char *name, size_t len)
{
	for (struct cli_opt *o = opts; o && o->name; o++)
		if (strlen(o->name) == len && !strncmp(o->name, name, len))
			return o;
	return NULL;
}

int cli_parse(struct cli *c, int argc, char **argv, struct cli_opt *opts, char **pos, int *npos)
{
	bool only_pos = false;

	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq, *val = NULL;
		struct cli_opt *o;
		size_t len;

		if (only_pos || a[0] != '-' || a[1] != '-') {
			if (*npos >= CLI_MAX_POS)
				return cli_bad(c, "too many arguments (at most %d)", CLI_MAX_POS);
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (!a[2]) {
			only_pos = true;
			continue;
		}
		if (!strcmp(a, "--help")) {
			cli_print_help(stdout, c->cmd, c->prog);
			return -1;
		}
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		if (len == strlen("--pin-root") && !strncmp(a, "--pin-root", len)) {
			if (!eq && i + 1 >= argc)
				return cli_bad(c, "--pin-root needs a directory");
			c->pin_root = eq ? eq + 1 : argv[++i];
			continue;
		}
		o = find_opt(opts, a, len);
		if (!o)
			return cli_bad(c, "unknown option '%.*s' (see %s %s --help)", (int)len, a,
				       c->prog, c->cmd->name);
		if (o->has_value) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return cli_bad(c, "%s needs a value", o->name);
		} else if (eq) {
			return cli_bad(c, "%s takes no value", o->name);
		}
		o->seen = true;
		o->value = val;
	}
	return 0;
}

int cli_npos(struct cli *c, int npos, int min, int max)
{
	if (npos < min)
		return cli_bad(c, "missing argument: usage: %s %s %s", c->prog, c->cmd->name,
			       c->cmd->args);
	if (max >= 0 && npos > max)
		return cli_bad(c, "too many arguments: usage: %s %s %s", c->prog, c->cmd->name,
			       c->cmd->args);
	return 0;
}

int cli_u32(struct cli *c, const char *what, const char *s, __u32 min, __u32 max, __u32 *out)
{
	unsigned long long v;
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return cli_bad(c, "%s '%s' is not a number %u-%u", what, s, min, max);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v < min || v > max)
		return cli_bad(c, "%s '%s' is out of range %u-%u", what, s, min, max);
	*out = (__u32)v;
	return 0;
}

int cli_ta(struct cli *c, const char *s, struct pias_ta *ta)
{
	struct pias_err e;

	return pias_ta_parse(s, ta, &e) ? cli_bad(c, "%s", e.msg) : 0;
}

int cli_run_ta_del(struct cli *c, int argc, char **argv, cli_ta_del_fn del)
{
	char *pos[CLI_MAX_POS];
	struct pias_maps *m = NULL;
	struct pias_err e;
	struct pias_ta ta;
	int npos, r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 1, 1)) || (r = cli_ta(c, pos[0], &ta)) || (r = cli_maps(c, &m)))
		return r;
	r = del(m, &ta, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

int cli_maps(struct cli *c, struct pias_maps **m)
{
	struct pias_err e;
	int err;

	if (!c->maps_open) {
		err = pias_maps_open(&c->maps, c->pin_root, &e);
		if (err)
			return cli_fail(c, "%s", e.msg);
		c->maps_open = true;
	}
	*m = &c->maps;
	return 0;
}
