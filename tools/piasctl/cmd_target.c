// SPDX-License-Identifier: MIT
/* target join, target leave: their options; agent_loop.c runs the agent. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "policy.h"
#include "piasctl.h"
#include <pias/target.h>

enum {
	O_TA,
	O_ENDPOINT,
	O_WEIGHT,
	O_TOKEN,
	O_FILE,
	O_REG,
	O_SOURCE,
	O_ONCE,
	O_TIMEOUT,
	O_MODE,
	O_IFACE,
	O_MTU,
	O_PIN_DIR,
	O_POLICY,
	O_SERIAL,
	O_CHECK,
	O_CHECK_INTERVAL,
	O_CHECK_TIMEOUT,
	O_RISE,
	O_FALL,
	O_N,
};

#define TIMEOUT_MAX_S 3600

/* --mode's values, by index */
enum {
	MODE_NAT,
	MODE_TUNNEL,
};
static const char *const modes[] = { "nat", "tunnel", NULL };

/*
 * One table for both commands, so that an option means the same in each;
 * leave's copy lists only its own options (JOIN(help) is NULL there) but
 * still takes the others, to say that they are join's.
 */
#define TARGET_OPTS(JOIN, TIMEOUT_HELP)                                                             \
	{                                                                                           \
		[O_TA] = { "--ta", CLI_TA, "TA", "the group, like udp:203.0.113.1:53" },            \
		[O_ENDPOINT] = { "--endpoint", CLI_STR, "ADDR:PORT",                                \
				 "where the target is reached, same family as TA" },                \
		[O_WEIGHT] = { "--weight", CLI_U32,                                                 \
			       "N",	   JOIN("share of new flows, 1-4294967295"),                \
			       .min = 1,   .max = UINT32_MAX,                                       \
			       .def = "1" },                                                        \
		[O_TOKEN] = { "--token-file", CLI_STR, "FILE",                                      \
			      "the group's token (64 hex digits; piasctl token)" },                 \
		[O_FILE] = { "--file", CLI_STR, "FILE", FILE_HELP },                                \
		[O_REG] = { "--registration", CLI_ENDPOINT, "ADDR:PORT",                            \
			    "the anycast registration service (default: the\n"                      \
			    "TA's address, port 6638)" },                                           \
		[O_SOURCE] = { "--source", CLI_ADDR, "ADDR",                                        \
			       "send from ADDR (a surrogate registering for a\n"                    \
			       "server that runs nothing of ours)" },                               \
		[O_ONCE] = { "--once", CLI_FLAG,                                                    \
			     .help = JOIN("exit 0 at the first acknowledgement") },                 \
		[O_TIMEOUT] = { "--timeout",	      CLI_U32,	 "SECONDS", TIMEOUT_HELP, .min = 1, \
				.max = TIMEOUT_MAX_S, .def = "5" },                                 \
		[O_MODE] = { "--mode",	CLI_ENUM,	  "nat|tunnel",                             \
			     MODE_HELP, .choices = modes, .def = "nat" },                           \
		[O_IFACE] = { "--interface", CLI_IFNAME, "IFNAME",                                  \
			      JOIN("tunnel mode: the interface towards the JAP") },                 \
		[O_MTU] = { "--mtu",                                                                \
			    CLI_U32,                                                                \
			    "BYTES",                                                                \
			    JOIN("tunnel mode: largest packet towards the JAP;\n"                   \
				 "bigger replies are dropped and counted"),                         \
			    .min = 1280,                                                            \
			    .max = 65535,                                                           \
			    .def = "1500" },                                                        \
		[O_PIN_DIR] = { "--pin-dir", CLI_STR, "DIR", JOIN(PIN_DIR_HELP) },                  \
		[O_POLICY] = { "--policy", CLI_STR, "POLICY", JOIN(POLICY_HELP) },                  \
		[O_SERIAL] = { "--policy-serial",                                                   \
			       CLI_U32,                                                             \
			       "N",                                                                 \
			       JOIN("raise it with each change of policy: the group\n"              \
				    "follows the highest serial"),                                  \
			       .max = UINT32_MAX,                                                   \
			       .def = "0" },                                                        \
		[O_CHECK] = { "--check", CLI_STR, "CHECK", JOIN(CHECK_HELP) },                      \
		[O_CHECK_INTERVAL] = { "--check-interval",                                          \
				       CLI_U32,                                                     \
				       "MS",                                                        \
				       JOIN("a check every MS"),                                    \
				       .min = 20,                                                   \
				       .max = 3600000,                                              \
				       .def = CLI_XSTR(PIAS_CHECK_INTERVAL_MS) },                   \
		[O_CHECK_TIMEOUT] = { "--check-timeout",                                            \
				      CLI_U32,                                                      \
				      "MS",                                                         \
				      JOIN("a check not done within MS fails"),                     \
				      .min = 10,                                                    \
				      .max = 600000,                                                \
				      .def = CLI_XSTR(PIAS_CHECK_TIMEOUT_MS) },                     \
		[O_RISE] = { "--rise",                                                              \
			     CLI_U32,                                                               \
			     "N",                                                                   \
			     JOIN("passes in a row that bring a target up;\n"                       \
				  "the first check decides"),                                       \
			     .min = 1,                                                              \
			     .max = 100,                                                            \
			     .def = CLI_XSTR(PIAS_CHECK_RISE) },                                    \
		[O_FALL] = { "--fall",                                                              \
			     CLI_U32,                                                               \
			     "N",                                                                   \
			     JOIN("failures in a row that take a target down"),                     \
			     .min = 1,                                                              \
			     .max = 100,                                                            \
			     .def = CLI_XSTR(PIAS_CHECK_FALL) },                                    \
		CLI_OPT_END,                                                                        \
	}

#define FILE_HELP                                                                                  \
	"many registrations in one process, one a line:\n"                                         \
	"  TA ENDPOINT TOKEN-FILE [WEIGHT] [policy=POLICY]\n"                                      \
	"  [serial=N] [check=CHECK]   # comment\n"                                                 \
	"(check=: this line's --check; no spaces)"
#define MODE_HELP                                                                                  \
	"nat: the JAP translates addresses, the\n"                                                 \
	"server sees the JAP's. tunnel: the JAP wraps the\n"                                       \
	"client's own packet; a BPF program of ours on\n"                                          \
	"--interface unwraps it, and the TA's address goes\n"                                      \
	"on lo, so the server sees the client's address\n"                                         \
	"and answers from the TA (endpoint: ADDR, the port\n"                                      \
	"is the TA's). Both are removed when the agent\n"                                          \
	"leaves; a start cleans up after a killed one."
#define PIN_DIR_HELP                                                                               \
	"tunnel mode: where its maps and programs are\n"                                           \
	"pinned, under DIR/IFNAME (default\n" PIAS_TT_PIN_ROOT "); one agent per directory"
#define POLICY_HELP                                                                                \
	"how the group picks a target for a new flow, as\n"                                        \
	"its owner says: weighted (default: by weight),\n"                                         \
	"random (a fresh draw per flow, by weight),\n"                                             \
	"scoped/LEN or\n"                                                                          \
	"scoped/LEN,strict (targets sharing LEN bits\n"                                            \
	"with the client first; strict: only those),\n"                                            \
	"replicate/K (UDP: each datagram to K targets);\n"                                         \
	"+quic after any but replicate: a UDP group\n"                                             \
	"speaking QUIC (a moved client's short headers\n"                                          \
	"find the JAP holding its connection)"
#define CHECK_HELP                                                                                 \
	"keep the targets registered only while CHECK\n"                                           \
	"passes at each endpoint: tcp (a connection is\n"                                          \
	"accepted), http[:PATH] (GET PATH, default /,\n"                                           \
	"answers 2xx or 3xx), dns[:NAME] (a query for\n"                                           \
	"NAME, default localhost, is answered NOERROR\n"                                           \
	"or NXDOMAIN), exec:COMMAND (sh -c COMMAND exits\n"                                        \
	"0; PIAS_CHECK_ADDR and PIAS_CHECK_PORT set).\n"                                           \
	"Failing: LEAVE (the JAP drains the target at\n"                                           \
	"once); passing again: REGISTER"

#define LISTED(help)   help
#define UNLISTED(help) NULL

static const struct cli_opt join_opts[] =
	TARGET_OPTS(LISTED, "with --once: give up after this long");
static const struct cli_opt leave_opts[] =
	TARGET_OPTS(UNLISTED, "how long to wait for the acknowledgements");

/* the option's own words: which one to give instead, or what it is for */
static int required(struct cli *c, const struct cli_args *a, int i, const char *what)
{
	return a->v[i].seen ? 0 : cli_bad(c, "%s %s is required", c->cmd->opts[i].name, what);
}

/* --ta, --endpoint, --token-file [--weight]: the one registration. */
static int parse_one(struct cli *c, const struct cli_args *a, bool join,
		     const union pias_addr *raddr, __u8 rfamily, __u16 rport, struct agent_opts *ao)
{
	struct agent_reg *r;
	struct pias_agent_target *t;
	struct pias_err e;
	int rc;

	const struct cli_val *o = a->v;

	if ((rc = required(c, a, O_TA, "TA (or --file FILE)")) ||
	    (rc = required(c, a, O_ENDPOINT, "ADDR:PORT")) ||
	    (rc = required(c, a, O_TOKEN, "FILE")))
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return cli_fail(c, "out of memory");
	ao->regs = r;
	ao->n = 1;
	t = &r->tgt;
	t->ta = o[O_TA].ta;
	/* tunnel mode: the server answers on the TA's own port, so ADDR will do */
	if ((!ao->tunnel || pias_addr_parse(o[O_ENDPOINT].s, &t->addr, &t->family, &e)) &&
	    pias_endpoint_parse(o[O_ENDPOINT].s, &t->addr, &t->family, &t->port, &e))
		return cli_bad(c, "--endpoint: %s", e.msg);
	if (t->family != t->ta.family)
		return cli_bad(c, "--endpoint %s is IPv%u but --ta %s is IPv%u", o[O_ENDPOINT].s,
			       t->family, o[O_TA].s, t->ta.family);
	t->weight = join ? o[O_WEIGHT].n : 1;
	if (o[O_POLICY].seen && pias_policy_parse(o[O_POLICY].s, t->ta.family, &t->policy, &e))
		return cli_bad(c, "--policy: %s", e.msg);
	t->policy_serial = o[O_SERIAL].n;
	agent_reg_service(r, raddr, rfamily, rport);
	/* last, so that usage errors never wait on the file system */
	if (pias_key_read_file(o[O_TOKEN].s, r->token, &e))
		return cli_fail(c, "--token-file: %s", e.msg);
	return 0;
}

/* --mode, --interface, --mtu. */
static int parse_mode(struct cli *c, const struct cli_val *o, bool join, struct agent_opts *ao)
{
	ao->tunnel = o[O_MODE].n == MODE_TUNNEL;
	ao->mtu = o[O_MTU].n;
	if (!ao->tunnel) {
		if (o[O_IFACE].seen || o[O_MTU].seen || o[O_PIN_DIR].seen)
			return cli_bad(c, "%s goes with --mode tunnel",
				       o[O_IFACE].seen ? "--interface"
				       : o[O_MTU].seen ? "--mtu"
						       : "--pin-dir");
		return 0;
	}
	if (!join)
		return o[O_IFACE].seen || o[O_MTU].seen || o[O_PIN_DIR].seen
			       ? cli_bad(c, "target leave needs no --interface, --mtu or --pin-dir")
			       : 0;
	ao->pin_dir = o[O_PIN_DIR].seen ? o[O_PIN_DIR].s : NULL;
	if (ao->mode == AGENT_ONCE)
		return cli_bad(c, "--once and --mode tunnel exclude each other: the agent owns "
				  "the target's tunnel program while it runs");
	if (!o[O_IFACE].seen)
		return cli_bad(c,
			       "--interface IFNAME (where the JAP's packets come in) is required");
	ao->ifname = o[O_IFACE].s;
	return 0;
}

/* Tunnel mode: each endpoint's port is its TA's (the server listens there). */
static int tunnel_endpoints(struct cli *c, struct agent_opts *ao)
{
	for (size_t i = 0; i < ao->n; i++) {
		struct pias_agent_target *t = &ao->regs[i].tgt;

		if (t->port && t->port != t->ta.port)
			return cli_bad(c,
				       "tunnel mode: the server listens on the TA's own port %u, "
				       "not %u (give the endpoint as ADDR or ADDR:%u)",
				       t->ta.port, t->port, t->ta.port);
		t->port = t->ta.port;
		t->flags |= PIAS_MSG_REG_F_TUNNEL;
	}
	return 0;
}

/* --check SPEC [--check-interval MS] [--check-timeout MS] [--rise N] [--fall N]. */
static int parse_check(struct cli *c, const struct cli_val *o, struct agent_opts *ao)
{
	struct check_opts *k = &ao->check;
	struct pias_err e;

	for (int i = O_CHECK; i <= O_FALL; i++) {
		if (!o[i].seen)
			continue;
		if (ao->mode != AGENT_FOREVER)
			return cli_bad(c,
				       "%s goes with a running agent (target join without --once)",
				       c->cmd->opts[i].name);
		if (i != O_CHECK && !o[O_CHECK].seen && !o[O_FILE].seen)
			return cli_bad(c, "%s goes with --check (or --file's check=)",
				       c->cmd->opts[i].name);
	}
	if (o[O_CHECK].seen && pias_check_parse(o[O_CHECK].s, &k->spec, &e))
		return cli_bad(c, "--check: %s", e.msg);
	/* the defaults (the table's) hold for --file's check= lines too */
	k->interval_ms = o[O_CHECK_INTERVAL].n;
	k->timeout_ms = o[O_CHECK_TIMEOUT].n;
	k->rise = o[O_RISE].n;
	k->fall = o[O_FALL].n;
	return 0;
}

/* Both commands: check the options into ao (ao->regs to free either way). */
static int parse(struct cli *c, const struct cli_args *a, bool join, struct agent_opts *ao)
{
	const struct cli_opt *opts = c->cmd->opts;
	const struct cli_val *o = a->v;
	int r;

	memset(ao, 0, sizeof(*ao));
	/* leave's table has join's options unlisted: it has nothing to weigh and always waits */
	if (!join && (o[O_WEIGHT].seen || o[O_ONCE].seen || o[O_POLICY].seen || o[O_SERIAL].seen))
		return cli_bad(c, "%s is no option of target leave",
			       o[O_WEIGHT].seen	  ? "--weight"
			       : o[O_ONCE].seen	  ? "--once"
			       : o[O_POLICY].seen ? "--policy"
						  : "--policy-serial");
	if (o[O_SERIAL].seen && !o[O_POLICY].seen)
		return cli_bad(c, "--policy-serial goes with --policy");
	if (o[O_FILE].seen) {
		for (int i = O_TA; i <= O_SERIAL; i++)
			if (o[i].seen && (i <= O_TOKEN || i >= O_POLICY))
				return cli_bad(c,
					       "--file and %s exclude each other (%s goes on "
					       "the file's lines)",
					       opts[i].name, opts[i].name);
	}
	ao->mode = !join ? AGENT_LEAVE : o[O_ONCE].seen ? AGENT_ONCE : AGENT_FOREVER;
	ao->timeout_s = o[O_TIMEOUT].n;
	if ((r = parse_mode(c, o, join, ao)) || (r = parse_check(c, o, ao)))
		return r;
	if (o[O_TIMEOUT].seen && ao->mode == AGENT_FOREVER)
		return cli_bad(c, "--timeout goes with --once (join runs until a signal)");
	if (o[O_SOURCE].seen) {
		ao->src_len = agent_sockaddr(&o[O_SOURCE].addr, o[O_SOURCE].family, 0, &ao->src);
		ao->src_str = o[O_SOURCE].s;
	}
	/* family 0: each TA's own address (agent_reg_service) */
	if (o[O_FILE].seen)
		r = reg_file_read(c, o[O_FILE].s, &o[O_REG].addr, o[O_REG].family, o[O_REG].port,
				  &ao->regs, &ao->n);
	else
		r = parse_one(c, a, join, &o[O_REG].addr, o[O_REG].family, o[O_REG].port, ao);
	if (r)
		return r;
	if (ao->tunnel && (r = tunnel_endpoints(c, ao)))
		return r;
	/* one socket per family: a source address serves only its own */
	for (size_t i = 0; ao->src_len && i < ao->n; i++)
		if (ao->regs[i].reg.ss_family != ao->src.ss_family)
			return cli_bad(
				c, "--source %s is IPv%c but the registration address %s is not",
				ao->src_str, ao->src.ss_family == AF_INET ? '4' : '6',
				ao->regs[i].reg_str);
	return 0;
}

static int run(struct cli *c, const struct cli_args *a, bool join)
{
	struct agent_opts ao;
	int r = parse(c, a, join, &ao);

	if (!r)
		r = agent_run(c, &ao);
	if (ao.regs)
		sodium_memzero(ao.regs, ao.n * sizeof(*ao.regs));
	free(ao.regs);
	return r;
}

static int run_join(struct cli *c, const struct cli_args *a)
{
	return run(c, a, true);
}

static int run_leave(struct cli *c, const struct cli_args *a)
{
	return run(c, a, false);
}

const struct cmd cmd_target_join = {
	.name = "target join",
	.args = "{--ta TA --endpoint ADDR:PORT --token-file FILE [--weight N] "
		"[--policy POLICY [--policy-serial N]] | --file FILE} "
		"[--registration ADDR:PORT] [--source ADDR] [--once [--timeout SECONDS]] "
		"[--mode tunnel --interface IFNAME [--mtu BYTES] [--pin-dir DIR]] "
		"[--check tcp|http[:PATH]|dns[:NAME]|exec:COMMAND [--check-interval MS] "
		"[--check-timeout MS] [--rise N] [--fall N]]",
	.opts = join_opts,
	.summary = "register a target with its JAP and keep the registration alive",
	.help = "\n"
		"Runs in the foreground and logs one line per event on stderr: registered,\n"
		"JAP changed, registration lost. Refreshes every third of the period the\n"
		"JAP asks for, those of many registrations with one JAP in batches (up to\n"
		"33 a datagram); a dead JAP is noticed in about a second, and the agent\n"
		"registers again wherever anycast now leads. SIGINT or SIGTERM: leave, exit 0.\n"
		"Exit 1 when the JAP refuses the first registration (bad token, invalid);\n"
		"with --file, the others go on and the exit status at the end is 1.\n",
	.run = run_join,
};

const struct cmd cmd_target_leave = {
	.name = "target leave",
	.opts = leave_opts,
	.summary = "withdraw a target's registration and wait for the acknowledgement",
	.args = "{--ta TA --endpoint ADDR:PORT --token-file FILE | --file FILE} "
		"[--registration ADDR:PORT] [--source ADDR] [--timeout SECONDS] [--mode tunnel]",
	.help = "\nLEAVE is sent up to 3 times per registration; exit 1 if one is not\n"
		"acknowledged.\n",
	.run = run_leave,
};
