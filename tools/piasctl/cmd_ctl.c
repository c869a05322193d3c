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
static int request(struct cli *c, char **words, int n)
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

enum {
	O_JSON,
};

static int run_show(struct cli *c, int argc, char **argv)
{
	static const char *const subjects[] = { PIAS_CTL_SHOW_SUBJECTS, NULL };
	struct cli_opt o[] = { [O_JSON] = OPT_FLAG(PIAS_CTL_JSON), OPT_END };
	char *pos[CLI_MAX_POS], *words[2];
	int npos, r, i;

	if ((r = pctl_parse(c, argc, argv, o, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 1, 1)))
		return r;
	for (i = 0; subjects[i] && strcmp(subjects[i], pos[0]); i++)
		;
	if (!subjects[i])
		return cli_bad(c, "unknown subject '%s': one of %s", pos[0], c->cmd->args);
	words[0] = pos[0];
	words[1] = PIAS_CTL_JSON;
	return request(c, words, o[O_JSON].seen ? 2 : 1);
}

static int run_drain(struct cli *c, int argc, char **argv)
{
	char *pos[CLI_MAX_POS];
	union pias_addr addr;
	struct pias_err e;
	struct pias_ta ta;
	__u8 family;
	__u16 port;
	int npos, r;

	if ((r = pctl_parse(c, argc, argv, NULL, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 2, 2)) || (r = cli_ta(c, pos[0], &ta)))
		return r;
	if (pias_endpoint_parse(pos[1], &addr, &family, &port, &e))
		return cli_bad(c, "%s", e.msg);
	if (family != ta.family)
		return cli_bad(c, "endpoint %s is IPv%u but TA %s is IPv%u", pos[1], family, pos[0],
			       ta.family);
	return request(c, pos, 2);
}

static int run_dial(struct cli *c, int argc, char **argv)
{
	char *pos[CLI_MAX_POS];
	struct pias_ta ta;
	__u32 pct;
	int npos, r;

	if ((r = pctl_parse(c, argc, argv, NULL, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 2, 2)) || (r = cli_ta(c, pos[0], &ta)) ||
	    (r = cli_u32(c, "PERCENT", pos[1], 0, 100, &pct)))
		return r;
	return request(c, pos, 2);
}

/* withdraw, flush bindings, keys reload: no arguments. */
static int run_bare(struct cli *c, int argc, char **argv)
{
	char *pos[CLI_MAX_POS];
	int npos, r;

	if ((r = pctl_parse(c, argc, argv, NULL, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 0, 0)))
		return r;
	return request(c, NULL, 0);
}

const struct cmd cmd_show = {
	.name = "show",
	.args = "proxies|ring|groups|bindings|targets|counters|status [--json]",
	.summary = "print what piasd knows",
	.help = "  proxies    members of the overlay, their state and coordinates\n"
		"  ring       the consistent hashing ring and which proxies are RAPs\n"
		"  groups     groups this proxy is a RAP for, with their JAPs\n"
		"  bindings   the IAP's cached bindings (TA -> JAP)\n"
		"  targets    targets registered here (this proxy as JAP)\n"
		"  counters   dataplane and control plane counters\n"
		"  status     a summary: id, state, uptime, counts\n"
		"  --json     one JSON document instead of text\n",
	.run = run_show,
};

const struct cmd cmd_drain = {
	.name = "drain",
	.args = "TA ENDPOINT",
	.summary = "send no new flows to a target registered here (existing flows go on; "
		   "its agent cannot register it again until undrain)",
	.help = "  TA         the group, like udp:203.0.113.1:53\n"
		"  ENDPOINT   the target, like 198.51.100.10:53 or [2001:db8::10]:53\n",
	.run = run_drain,
};

const struct cmd cmd_undrain = {
	.name = "undrain",
	.args = "TA ENDPOINT",
	.summary = "undo a drain: the target takes new flows again",
	.help = "  TA         the group, like udp:203.0.113.1:53\n"
		"  ENDPOINT   the drained target, like 198.51.100.10:53\n",
	.run = run_drain,
};

const struct cmd cmd_dial = {
	.name = "dial",
	.args = "TA PERCENT",
	.summary = "take this share of a group's new flows at this JAP (drain a site gradually)",
	.help = "  TA         the group, like udp:203.0.113.1:53\n"
		"  PERCENT    0-100: of the new flows the RAPs would send here (by proximity and\n"
		"             load), this share comes; the rest go to the group's other JAPs.\n"
		"             Established flows stay. 100 undoes it; a restart of piasd too.\n"
		"             show targets shows it (DIAL), and what shedding leaves (SHARE).\n",
	.run = run_dial,
};

const struct cmd cmd_withdraw = {
	.name = "withdraw",
	.args = "",
	.summary = "take this proxy out of service: leave the overlay, stop announcing",
	.help = "",
	.run = run_bare,
};

const struct cmd cmd_flush_bindings = {
	.name = "flush bindings",
	.args = "",
	.summary = "drop every cached binding (the next packets ask the RAPs again)",
	.help = "",
	.run = run_bare,
};

const struct cmd cmd_keys_reload = {
	.name = "keys reload",
	.args = "",
	.summary = "reload the overlay key ring, as SIGHUP does",
	.help = "",
	.run = run_bare,
};
