// SPDX-License-Identifier: MIT
/* A target's health check: its text form and the rise/fall machine (health.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "health.h"

static const char *const kind_names[] = {
	[PIAS_CHECK_TCP] = "tcp",
	[PIAS_CHECK_HTTP] = "http",
	[PIAS_CHECK_DNS] = "dns",
	[PIAS_CHECK_EXEC] = "exec",
};

#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

/* Printable, no space: what goes on an HTTP request line or into a DNS name. */
static bool token_ok(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

int pias_check_parse(const char *s, struct pias_check_spec *c, struct pias_err *e)
{
	const char *colon = strchr(s, ':');
	size_t klen = colon ? (size_t)(colon - s) : strlen(s);
	const char *arg = colon ? colon + 1 : NULL;

	memset(c, 0, sizeof(*c));
	for (size_t k = 1; k < NKINDS; k++)
		if (strlen(kind_names[k]) == klen && !strncmp(s, kind_names[k], klen))
			c->kind = (enum pias_check_kind)k;
	if (!c->kind)
		return pias_err_set(e, -EINVAL,
				    "check '%s': want tcp, http[:PATH], dns[:NAME] or exec:COMMAND",
				    s);
	if (arg && !*arg)
		return pias_err_set(e, -EINVAL, "check '%s': empty argument after ':'", s);
	if (arg && strlen(arg) >= sizeof(c->arg))
		return pias_err_set(e, -EINVAL, "check '%.40s...': argument longer than %zu bytes",
				    s, sizeof(c->arg) - 1);
	switch (c->kind) {
	case PIAS_CHECK_TCP:
		if (arg)
			return pias_err_set(e, -EINVAL,
					    "check '%s': tcp takes no argument (it connects to the "
					    "endpoint)",
					    s);
		break;
	case PIAS_CHECK_HTTP:
		if (arg && (arg[0] != '/' || !token_ok(arg)))
			return pias_err_set(
				e, -EINVAL,
				"check '%s': the path starts with '/' and has no spaces "
				"or control characters",
				s);
		strcpy(c->arg, arg ? arg : "/");
		break;
	case PIAS_CHECK_DNS:
		if (arg && !token_ok(arg))
			return pias_err_set(
				e, -EINVAL,
				"check '%s': a name has no spaces or control characters", s);
		strcpy(c->arg, arg ? arg : PIAS_CHECK_DNS_NAME);
		break;
	case PIAS_CHECK_EXEC:
		if (!arg)
			return pias_err_set(e, -EINVAL,
					    "check '%s': exec takes a command (exec:CMD)", s);
		strcpy(c->arg, arg);
		break;
	}
	return 0;
}

const char *pias_check_str(const struct pias_check_spec *c, char *buf, size_t len)
{
	const char *kind = c->kind > 0 && (size_t)c->kind < NKINDS ? kind_names[c->kind] : "?";

	if (c->kind == PIAS_CHECK_TCP)
		snprintf(buf, len, "%s", kind);
	else
		snprintf(buf, len, "%s:%s", kind, c->arg);
	return buf;
}

void pias_health_init(struct pias_health *h, __u32 rise, __u32 fall)
{
	memset(h, 0, sizeof(*h));
	h->rise = rise ? rise : PIAS_CHECK_RISE;
	h->fall = fall ? fall : PIAS_CHECK_FALL;
}

enum pias_health_state pias_health_result(struct pias_health *h, bool pass)
{
	enum pias_health_state want = pass ? PIAS_HEALTH_UP : PIAS_HEALTH_DOWN;

	h->checks++;
	h->failed += !pass;
	if (h->state == want) {
		h->run = 0;
		return PIAS_HEALTH_UNKNOWN;
	}
	/* the first result decides; later ones must agree rise or fall times in a row */
	if (h->state != PIAS_HEALTH_UNKNOWN && ++h->run < (pass ? h->rise : h->fall))
		return PIAS_HEALTH_UNKNOWN;
	h->state = want;
	h->run = 0;
	return want;
}

const char *pias_health_state_name(enum pias_health_state s)
{
	return s == PIAS_HEALTH_UP ? "up" : s == PIAS_HEALTH_DOWN ? "down" : "unknown";
}
