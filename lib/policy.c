// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static const char *const kind_names[PIAS_POLICY_KINDS] = {
	[PIAS_POLICY_WEIGHTED] = "weighted",
	[PIAS_POLICY_RANDOM] = "random",
	[PIAS_POLICY_SCOPED] = "scoped",
	[PIAS_POLICY_REPLICATE] = "replicate",
};

/* The number after the slash: digits only, at most max. */
static int number(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	*v = strtoul(s, &end, 10);
	return *end || *v > max ? -1 : 0;
}

int pias_policy_parse(const char *s, __u8 family, struct pias_policy *p, struct pias_err *e)
{
	char buf[PIAS_POLICY_STRLEN], *arg, *opt, *plus;
	unsigned long v;
	const char *why;
	int kind = -1;
	__u8 quic = 0;

	if (strlen(s) >= sizeof(buf))
		return pias_err_set(e, -EINVAL, "policy '%.32s...' is too long", s);
	strcpy(buf, s);
	/* a property of the group's protocol, not of the selection: after it */
	plus = strchr(buf, '+');
	if (plus) {
		*plus++ = '\0';
		if (strcmp(plus, "quic"))
			return pias_err_set(e, -EINVAL,
					    "policy '%s': the only suffix is +quic (QUIC's "
					    "header forms)",
					    s);
		quic = PIAS_POLICY_F_QUIC;
	}
	arg = strchr(buf, '/');
	if (arg)
		*arg++ = '\0';
	opt = arg ? strchr(arg, ',') : NULL;
	if (opt)
		*opt++ = '\0';
	for (int k = 0; k < PIAS_POLICY_KINDS; k++)
		if (!strcmp(buf, kind_names[k]))
			kind = k;
	if (kind < 0)
		return pias_err_set(e, -EINVAL,
				    "policy '%s': want weighted, random, scoped/LEN[,strict] "
				    "or replicate/COPIES, each but replicate with an optional "
				    "+quic",
				    s);
	memset(p, 0, sizeof(*p));
	p->kind = (__u8)kind;
	if (kind == PIAS_POLICY_SCOPED) {
		if (!arg || number(arg, 255, &v))
			return pias_err_set(e, -EINVAL,
					    "policy '%s': scoped takes a prefix length, like "
					    "scoped/24",
					    s);
		p->scope_len = (__u8)v;
		if (opt && strcmp(opt, "strict"))
			return pias_err_set(e, -EINVAL, "policy '%s': the only option is strict",
					    s);
		p->flags = opt ? PIAS_POLICY_F_STRICT : 0;
	} else if (kind == PIAS_POLICY_REPLICATE) {
		if (!arg || opt || number(arg, 255, &v))
			return pias_err_set(e, -EINVAL,
					    "policy '%s': replicate takes a number of copies, like "
					    "replicate/3",
					    s);
		p->copies = (__u8)v;
	} else if (arg) {
		return pias_err_set(e, -EINVAL, "policy '%s': %s takes no '/'", s,
				    kind_names[kind]);
	}
	p->flags |= quic;
	why = pias_policy_invalid(p, family);
	if (why)
		return pias_err_set(e, -EINVAL, "policy '%s': %s", s, why);
	return 0;
}

const char *pias_policy_str(const struct pias_policy *p, char *buf, size_t n)
{
	const char *name = p->kind < PIAS_POLICY_KINDS ? kind_names[p->kind] : "unknown";
	const char *quic = p->flags & PIAS_POLICY_F_QUIC ? "+quic" : "";

	if (p->kind == PIAS_POLICY_SCOPED)
		snprintf(buf, n, "%s/%u%s%s", name, p->scope_len,
			 p->flags & PIAS_POLICY_F_STRICT ? ",strict" : "", quic);
	else if (p->kind == PIAS_POLICY_REPLICATE)
		snprintf(buf, n, "%s/%u", name, p->copies);
	else
		snprintf(buf, n, "%s%s", name, quic);
	return buf;
}
