// SPDX-License-Identifier: MIT
/*
 * The commands piasd answers: piasctl checks what it can (so that a typo is
 * exit 2 here, not a round trip), joins the words into the request line
 * and prints what piasd says.
 */
#include <string.h>

#include "addr.h"
#include "ctl_proto.h"
#include "piasctl.h"

/*
 * The request: the command's name and then words, joined by single spaces.
 * A word with a space or a control character would change the words piasd
 * sees, or end the line early: refused.
 */
static int request(struct cli *c, const char *const *words, int n)
{
	char line[PIAS_CTL_REQUEST_MAX];
	size_t len = strlen(c->cmd->name);

	memcpy(line, c->cmd->name, len + 1);
	for (int i = 0; i < n; i++) {
		size_t wl = strlen(words[i]);

		for (const char *p = words[i]; *p; p++)
			if ((unsigned char)*p <= ' ' || *p == 0x7f)
				return cli_bad(c,
					       "argument '%s' holds a space or control character",
					       words[i]);
		if (!wl)
			return cli_bad(c, "empty argument");
		if (len + 1 + wl + 1 > sizeof(line))
			return cli_bad(c, "request longer than %d bytes", PIAS_CTL_REQUEST_MAX);
		line[len++] = ' ';
		memcpy(line + len, words[i], wl + 1);
		len += wl;
	}
	return ctl_request(c, line);
}

static const char *const subjects[] = { PIAS_CTL_SHOW_SUBJECTS, NULL };

enum {
	P_SUBJECT,
	O_JSON,
};

static const struct cli_opt show_opts[] = {
	[P_SUBJECT] = { "proxies|ring|groups|bindings|targets|counters|status", CLI_ENUM,
			.choices = subjects, .what = "subject" },
	[O_JSON] = { PIAS_CTL_JSON, CLI_FLAG, .help = "one JSON document instead of text" },
	CLI_OPT_END,
};

static int run_show(struct cli *c, const struct cli_args *a)
{
	const char *words[2] = { a->v[P_SUBJECT].s, PIAS_CTL_JSON };

	return request(c, words, a->v[O_JSON].seen ? 2 : 1);
}

enum {
	P_TA,
	P_ENDPOINT,
};

static const struct cli_opt drain_opts[] = {
	[P_TA] = { "TA", CLI_TA, .help = "the group, like udp:203.0.113.1:53" },
	[P_ENDPOINT] = { "ENDPOINT", CLI_ENDPOINT,
			 .help = "the target, like 198.51.100.10:53 or [2001:db8::10]:53" },
	CLI_OPT_END,
};

static int run_drain(struct cli *c, const struct cli_args *a)
{
	const struct cli_val *ta = &a->v[P_TA], *ep = &a->v[P_ENDPOINT];
	const char *words[2] = { ta->s, ep->s };

	if (ep->family != ta->ta.family)
		return cli_bad(c, "endpoint %s is IPv%u but TA %s is IPv%u", ep->s, ep->family,
			       ta->s, ta->ta.family);
	return request(c, words, 2);
}

enum {
	P_PERCENT = P_ENDPOINT,
};

static const struct cli_opt dial_opts[] = {
	[P_TA] = { "TA", CLI_TA, .help = "the group, like udp:203.0.113.1:53" },
	[P_PERCENT] = { "PERCENT", CLI_U32,
			.help = "of the new flows the RAPs would send here (by proximity and\n"
				"load), this share comes; the rest go to the group's other JAPs.\n"
				"Established flows stay. 100 undoes it; a restart of piasd too.\n"
				"show targets shows it (DIAL), and what shedding leaves (SHARE).",
			.max = 100 },
	CLI_OPT_END,
};

static int run_dial(struct cli *c, const struct cli_args *a)
{
	const char *words[2] = { a->v[P_TA].s, a->v[P_PERCENT].s };

	return request(c, words, 2);
}

/* withdraw, flush bindings, keys reload: no arguments. */
static int run_bare(struct cli *c, const struct cli_args *a)
{
	(void)a;
	return request(c, NULL, 0);
}

const struct cmd cmd_show = {
	.name = "show",
	.opts = show_opts,
	.summary = "print what piasd knows",
	.help = "  proxies    members of the overlay, their state and coordinates\n"
		"  ring       the consistent hashing ring and which proxies are RAPs\n"
		"  groups     groups this proxy is a RAP for, with their JAPs\n"
		"  bindings   the IAP's cached bindings (TA -> JAP)\n"
		"  targets    targets registered here (this proxy as JAP)\n"
		"  counters   dataplane and control plane counters\n"
		"  status     a summary: id, state, uptime, counts\n",
	.run = run_show,
};

const struct cmd cmd_drain = {
	.name = "drain",
	.opts = drain_opts,
	.summary = "send no new flows to a target registered here (existing flows go on; "
		   "its agent cannot register it again until undrain)",
	.run = run_drain,
};

const struct cmd cmd_undrain = {
	.name = "undrain",
	.opts = drain_opts,
	.summary = "undo a drain: the target takes new flows again",
	.run = run_drain,
};

const struct cmd cmd_dial = {
	.name = "dial",
	.opts = dial_opts,
	.summary = "take this share of a group's new flows at this JAP (drain a site gradually)",
	.run = run_dial,
};

const struct cmd cmd_withdraw = {
	.name = "withdraw",
	.summary = "take this proxy out of service: leave the overlay, stop announcing",
	.run = run_bare,
};

const struct cmd cmd_flush_bindings = {
	.name = "flush bindings",
	.summary = "drop every cached binding (the next packets ask the RAPs again)",
	.run = run_bare,
};

const struct cmd cmd_keys_reload = {
	.name = "keys reload",
	.summary = "reload the overlay key ring, as SIGHUP does",
	.run = run_bare,
};
