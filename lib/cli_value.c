// SPDX-License-Identifier: MIT
/* One typed value from the command line, checked; the message names it. */
#include <ctype.h>
#include <net/if.h>
#include <string.h>

#include "cli.h"

static const char *what(const struct cli_opt *o)
{
	return o->what ? o->what : o->name;
}

/* "is not a, b or c": every choice, so that the fix is in the message. */
static int bad_choice(struct cli *c, const struct cli_opt *o, const char *s)
{
	char list[256] = "";
	size_t n = 0;

	for (int i = 0; o->choices[i]; i++) {
		const char *sep = !i ? "" : o->choices[i + 1] ? ", " : " or ";
		int w = snprintf(list + n, sizeof(list) - n, "%s%s", sep, o->choices[i]);

		if (w < 0 || (size_t)w >= sizeof(list) - n)
			break;
		n += (size_t)w;
	}
	return cli_bad(c, "%s '%s' is not %s", what(o), s, list);
}

static int choice(struct cli *c, const struct cli_opt *o, const char *s, struct cli_val *v)
{
	for (__u32 i = 0; o->choices[i]; i++)
		if (!strcmp(o->choices[i], s)) {
			v->n = i;
			return 0;
		}
	return bad_choice(c, o, s);
}

/* What the kernel takes as a link name (dev_valid_name), told before it is asked. */
static int ifname(struct cli *c, const struct cli_opt *o, const char *s)
{
	bool ok = *s && strlen(s) < IF_NAMESIZE && strcmp(s, ".") && strcmp(s, "..");

	for (const char *p = s; ok && *p; p++)
		ok = *p != '/' && *p != ':' && !isspace((unsigned char)*p);
	if (ok)
		return 0;
	return cli_bad(c,
		       "%s '%s' is not an interface name (1-%d characters, no '/', ':' or space)",
		       what(o), s, IF_NAMESIZE - 1);
}

/* The library's message names the kind of value; an option's name goes first. */
static int lib_bad(struct cli *c, const struct cli_opt *o, const struct pias_err *e)
{
	if (o->name[0] == '-')
		return cli_bad(c, "%s: %s", o->name, e->msg);
	return cli_bad(c, "%s", e->msg);
}

int cli_value(struct cli *c, const struct cli_opt *o, const char *s, struct cli_val *v)
{
	struct pias_err e;

	v->s = s;
	switch (o->type) {
	case CLI_FLAG:
		return 0;
	case CLI_STR:
		return *s ? 0 : cli_bad(c, "%s needs a value", what(o));
	case CLI_U32:
		return cli_u32(c, what(o), s, o->min, o->max, &v->n);
	case CLI_ENUM:
		return choice(c, o, s, v);
	case CLI_IFNAME:
		return ifname(c, o, s);
	case CLI_ADDR:
		return pias_addr_parse(s, &v->addr, &v->family, &e) ? lib_bad(c, o, &e) : 0;
	case CLI_ENDPOINT:
		return pias_endpoint_parse(s, &v->addr, &v->family, &v->port, &e)
			       ? lib_bad(c, o, &e)
			       : 0;
	case CLI_TA:
		return pias_ta_parse(s, &v->ta, &e) ? lib_bad(c, o, &e) : 0;
	}
	return cli_bad(c, "%s: no such type of value", what(o));
}
