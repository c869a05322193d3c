// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cli.h"

FILE *cli_out(const struct cli *c)
{
	return c->out ? c->out : stdout;
}

FILE *cli_errf(const struct cli *c)
{
	return c->err ? c->err : stderr;
}

static void vsay(struct cli *c, const char *fmt, va_list ap)
{
	FILE *f = cli_errf(c);

	fprintf(f, "%s", c->prog);
	if (c->cmd)
		fprintf(f, " %s", c->cmd->name);
	fprintf(f, ": ");
	vfprintf(f, fmt, ap);
	fprintf(f, "\n");
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

int cli_required(struct cli *c, const struct cli_opt *o, const struct cli_val *v)
{
	if (v->seen)
		return 0;
	return o->arg ? cli_bad(c, "%s %s is required", o->name, o->arg)
		      : cli_bad(c, "%s is required", o->name);
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

int cli_u32_pair(struct cli *c, const char *arg, char sep, const struct cli_u32_part *first,
		 const struct cli_u32_part *second)
{
	char s[32], *cut;
	int r;

	if (strlen(arg) >= sizeof(s))
		return cli_bad(c, "'%s' is too long", arg);
	strcpy(s, arg);
	cut = strchr(s, sep);
	if (cut)
		*cut = '\0';
	if ((r = cli_u32(c, first->what, s, first->min, first->max, first->out)))
		return r;
	return cut ? cli_u32(c, second->what, cut + 1, second->min, second->max, second->out) : 0;
}

const struct cli_opt cli_opts_ta[] = {
	{ "TA", CLI_TA, .help = "the group, like udp:203.0.113.10:53" },
	CLI_OPT_END,
};

int cli_run_ta_del(struct cli *c, const struct cli_args *a, cli_ta_del_fn del)
{
	struct pias_maps *m = NULL;
	struct pias_err e;
	int r;

	if ((r = cli_maps(c, &m)))
		return r;
	r = del(m, &a->v[0].ta, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

const struct cli_opt cli_opts_pin_root[] = {
	{ "--pin-root", CLI_STR, "DIR", "where the maps are pinned, one directory per proxy",
	  .def = PIAS_PIN_ROOT_DEFAULT },
	CLI_OPT_END,
};

int cli_ready_pin_root(struct cli *c, const struct cli_val *globals)
{
	c->pin_root = globals[0].s;
	return 0;
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
