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

#define TIMEOUT_DEFAULT_S 5
#define TIMEOUT_MAX_S	  3600
#define MTU_DEFAULT	  1500

static int required(struct cli *c, const struct cli_opt *o, const char *what)
{
	return o->seen ? 0 : cli_bad(c, "%s %s is required", o->name, what);
}

/* --ta, --endpoint, --token-file [--weight]: the one registration. */
static int parse_one(struct cli *c, const struct cli_opt *o, bool join,
		     const union pias_addr *raddr, __u8 rfamily, __u16 rport, struct agent_opts *ao)
{
	struct agent_reg *r;
	struct pias_agent_target *t;
	struct pias_err e;
	int rc;

	if ((rc = required(c, &o[O_TA], "TA (or --file FILE)")) ||
	    (rc = required(c, &o[O_ENDPOINT], "ADDR:PORT")) ||
	    (rc = required(c, &o[O_TOKEN], "FILE")))
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return cli_fail(c, "out of memory");
	ao->regs = r;
	ao->n = 1;
	t = &r->tgt;
	if (pias_ta_parse(o[O_TA].value, &t->ta, &e))
		return cli_bad(c, "--ta: %s", e.msg);
	/* tunnel mode: the server answers on the TA's own port, so ADDR will do */
	if ((!ao->tunnel || pias_addr_parse(o[O_ENDPOINT].value, &t->addr, &t->family, &e)) &&
	    pias_endpoint_parse(o[O_ENDPOINT].value, &t->addr, &t->family, &t->port, &e))
		return cli_bad(c, "--endpoint: %s", e.msg);
	if (t->family != t->ta.family)
		return cli_bad(c, "--endpoint %s is IPv%u but --ta %s is IPv%u",
			       o[O_ENDPOINT].value, t->family, o[O_TA].value, t->ta.family);
	t->weight = 1;
	if (join && o[O_WEIGHT].seen &&
	    (rc = cli_u32(c, "--weight", o[O_WEIGHT].value, 1, UINT32_MAX, &t->weight)))
		return rc;
	if (o[O_POLICY].seen && pias_policy_parse(o[O_POLICY].value, t->ta.family, &t->policy, &e))
		return cli_bad(c, "--policy: %s", e.msg);
	if (o[O_SERIAL].seen && (rc = cli_u32(c, "--policy-serial", o[O_SERIAL].value, 0,
					      UINT32_MAX, &t->policy_serial)))
		return rc;
	agent_reg_service(r, raddr, rfamily, rport);
	/* last, so that usage errors never wait on the file system */
	if (pias_key_read_file(o[O_TOKEN].value, r->token, &e))
		return cli_fail(c, "--token-file: %s", e.msg);
	return 0;
}

/* --mode, --interface, --mtu. */
static int parse_mode(struct cli *c, const struct cli_opt *o, bool join, struct agent_opts *ao)
{
	int r;

	if (o[O_MODE].seen && strcmp(o[O_MODE].value, "tunnel") && strcmp(o[O_MODE].value, "nat"))
		return cli_bad(c, "--mode %s: the modes are nat (default) and tunnel",
			       o[O_MODE].value);
	ao->tunnel = o[O_MODE].seen && !strcmp(o[O_MODE].value, "tunnel");
	ao->mtu = MTU_DEFAULT;
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
	ao->pin_dir = o[O_PIN_DIR].seen ? o[O_PIN_DIR].value : NULL;
	if (ao->mode == AGENT_ONCE)
		return cli_bad(c, "--once and --mode tunnel exclude each other: the agent owns "
				  "the target's tunnel program while it runs");
	if ((r = required(c, &o[O_IFACE], "IFNAME (where the JAP's packets come in)")))
		return r;
	ao->ifname = o[O_IFACE].value;
	if (o[O_MTU].seen)
		return cli_u32(c, "--mtu", o[O_MTU].value, 1280, 65535, &ao->mtu);
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
static int parse_check(struct cli *c, const struct cli_opt *o, struct agent_opts *ao)
{
	struct check_opts *k = &ao->check;
	struct pias_err e;
	int r;

	/* the defaults hold for --file's check= lines too */
	k->interval_ms = PIAS_CHECK_INTERVAL_MS;
	k->timeout_ms = PIAS_CHECK_TIMEOUT_MS;
	k->rise = PIAS_CHECK_RISE;
	k->fall = PIAS_CHECK_FALL;
	for (int i = O_CHECK; i <= O_FALL; i++) {
		if (!o[i].seen)
			continue;
		if (ao->mode != AGENT_FOREVER)
			return cli_bad(c,
				       "%s goes with a running agent (target join without --once)",
				       o[i].name);
		if (i != O_CHECK && !o[O_CHECK].seen && !o[O_FILE].seen)
			return cli_bad(c, "%s goes with --check (or --file's check=)", o[i].name);
	}
	if (o[O_CHECK].seen && pias_check_parse(o[O_CHECK].value, &k->spec, &e))
		return cli_bad(c, "--check: %s", e.msg);
	if ((o[O_CHECK_INTERVAL].seen &&
	     (r = cli_u32(c, "--check-interval", o[O_CHECK_INTERVAL].value, 20, 3600000,
			  &k->interval_ms))) ||
	    (o[O_CHECK_TIMEOUT].seen && (r = cli_u32(c, "--check-timeout", o[O_CHECK_TIMEOUT].value,
						     10, 600000, &k->timeout_ms))) ||
	    (o[O_RISE].seen && (r = cli_u32(c, "--rise", o[O_RISE].value, 1, 100, &k->rise))) ||
	    (o[O_FALL].seen && (r = cli_u32(c, "--fall", o[O_FALL].value, 1, 100, &k->fall))))
		return r;
	return 0;
}

/* Both commands: check the options into ao (ao->regs to free either way). */
static int parse(struct cli *c, int argc, char **argv, bool join, struct agent_opts *ao)
{
	struct cli_opt o[] = {
		[O_TA] = OPT_VALUE("--ta"),
		[O_ENDPOINT] = OPT_VALUE("--endpoint"),
		[O_WEIGHT] = OPT_VALUE("--weight"),
		[O_TOKEN] = OPT_VALUE("--token-file"),
		[O_FILE] = OPT_VALUE("--file"),
		[O_REG] = OPT_VALUE("--registration"),
		[O_SOURCE] = OPT_VALUE("--source"),
		[O_ONCE] = OPT_FLAG("--once"),
		[O_TIMEOUT] = OPT_VALUE("--timeout"),
		[O_MODE] = OPT_VALUE("--mode"),
		[O_IFACE] = OPT_VALUE("--interface"),
		[O_MTU] = OPT_VALUE("--mtu"),
		[O_PIN_DIR] = OPT_VALUE("--pin-dir"),
		[O_POLICY] = OPT_VALUE("--policy"),
		[O_SERIAL] = OPT_VALUE("--policy-serial"),
		[O_CHECK] = OPT_VALUE("--check"),
		[O_CHECK_INTERVAL] = OPT_VALUE("--check-interval"),
		[O_CHECK_TIMEOUT] = OPT_VALUE("--check-timeout"),
		[O_RISE] = OPT_VALUE("--rise"),
		[O_FALL] = OPT_VALUE("--fall"),
		OPT_END,
	};
	char *pos[CLI_MAX_POS];
	union pias_addr raddr = { 0 };
	struct pias_err e;
	__u8 rfamily = 0;
	__u16 rport = 0;
	int npos, r;

	memset(ao, 0, sizeof(*ao));
	if ((r = pctl_parse(c, argc, argv, o, pos, &npos)))
		return r;
	/* one option table for both; leave has nothing to weigh and always waits */
	if (!join && (o[O_WEIGHT].seen || o[O_ONCE].seen || o[O_POLICY].seen || o[O_SERIAL].seen))
		return cli_bad(c, "%s is no option of target leave",
			       o[O_WEIGHT].seen	  ? "--weight"
			       : o[O_ONCE].seen	  ? "--once"
			       : o[O_POLICY].seen ? "--policy"
						  : "--policy-serial");
	if (o[O_SERIAL].seen && !o[O_POLICY].seen)
		return cli_bad(c, "--policy-serial goes with --policy");
	if ((r = cli_npos(c, npos, 0, 0)))
		return r;
	if (o[O_FILE].seen) {
		for (int i = O_TA; i <= O_SERIAL; i++)
			if (o[i].seen && (i <= O_TOKEN || i >= O_POLICY))
				return cli_bad(c,
					       "--file and %s exclude each other (%s goes on "
					       "the file's lines)",
					       o[i].name, o[i].name);
	}
	if (o[O_REG].seen && pias_endpoint_parse(o[O_REG].value, &raddr, &rfamily, &rport, &e))
		return cli_bad(c, "--registration: %s", e.msg);

	ao->mode = !join ? AGENT_LEAVE : o[O_ONCE].seen ? AGENT_ONCE : AGENT_FOREVER;
	ao->timeout_s = TIMEOUT_DEFAULT_S;
	if ((r = parse_mode(c, o, join, ao)) || (r = parse_check(c, o, ao)))
		return r;
	if (o[O_TIMEOUT].seen) {
		if (ao->mode == AGENT_FOREVER)
			return cli_bad(c, "--timeout goes with --once (join runs until a signal)");
		if ((r = cli_u32(c, "--timeout", o[O_TIMEOUT].value, 1, TIMEOUT_MAX_S,
				 &ao->timeout_s)))
			return r;
	}
	if (o[O_SOURCE].seen) {
		union pias_addr saddr;
		__u8 sfamily;

		if (pias_addr_parse(o[O_SOURCE].value, &saddr, &sfamily, &e))
			return cli_bad(c, "--source: %s", e.msg);
		ao->src_len = agent_sockaddr(&saddr, sfamily, 0, &ao->src);
		ao->src_str = o[O_SOURCE].value;
	}
	if (o[O_FILE].seen)
		r = reg_file_read(c, o[O_FILE].value, &raddr, rfamily, rport, &ao->regs, &ao->n);
	else
		r = parse_one(c, o, join, &raddr, rfamily, rport, ao);
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

static int run(struct cli *c, int argc, char **argv, bool join)
{
	struct agent_opts ao;
	int r = parse(c, argc, argv, join, &ao);

	if (!r)
		r = agent_run(c, &ao);
	else if (r < 0)
		r = EXIT_OK; /* --help */
	if (ao.regs)
		sodium_memzero(ao.regs, ao.n * sizeof(*ao.regs));
	free(ao.regs);
	return r;
}

static int run_join(struct cli *c, int argc, char **argv)
{
	return run(c, argc, argv, true);
}

static int run_leave(struct cli *c, int argc, char **argv)
{
	return run(c, argc, argv, false);
}

const struct cmd cmd_target_join = {
	.name = "target join",
	.args = "{--ta TA --endpoint ADDR:PORT --token-file FILE [--weight N] "
		"[--policy POLICY [--policy-serial N]] | --file FILE} "
		"[--registration ADDR:PORT] [--source ADDR] [--once [--timeout SECONDS]] "
		"[--mode tunnel --interface IFNAME [--mtu BYTES] [--pin-dir DIR]] "
		"[--check tcp|http[:PATH]|dns[:NAME]|exec:COMMAND [--check-interval MS] "
		"[--check-timeout MS] [--rise N] [--fall N]]",
	.summary = "register a target with its JAP and keep the registration alive",
	.help = "  --ta TA                    the group, like udp:203.0.113.1:53\n"
		"  --endpoint ADDR:PORT       where the target is reached, same family as TA\n"
		"  --token-file FILE          the group's token (64 hex digits; piasctl token)\n"
		"  --weight N                 share of new flows, 1-4294967295 (default 1)\n"
		"  --policy POLICY            how the group picks a target for a new flow, as\n"
		"                             its owner says: weighted (default: by weight),\n"
		"                             random (a fresh draw per flow, by weight),\n"
		"                             scoped/LEN or\n"
		"                             scoped/LEN,strict (targets sharing LEN bits\n"
		"                             with the client first; strict: only those),\n"
		"                             replicate/K (UDP: each datagram to K targets);\n"
		"                             +quic after any but replicate: a UDP group\n"
		"                             speaking QUIC (a moved client's short headers\n"
		"                             find the JAP holding its connection)\n"
		"  --policy-serial N          raise it with each change of policy: the group\n"
		"                             follows the highest serial (default 0)\n"
		"  --file FILE                many registrations in one process, one a line:\n"
		"                               TA ENDPOINT TOKEN-FILE [WEIGHT] [policy=POLICY]\n"
		"                               [serial=N] [check=CHECK]   # comment\n"
		"                             (check=: this line's --check; no spaces)\n"
		"  --registration ADDR:PORT   the anycast registration service (default: the\n"
		"                             TA's address, port 6638)\n"
		"  --source ADDR              send from ADDR (a surrogate registering for a\n"
		"                             server that runs nothing of ours)\n"
		"  --once                     exit 0 at the first acknowledgement\n"
		"  --timeout SECONDS          with --once: give up after this long (default 5)\n"
		"  --mode nat|tunnel          nat (default): the JAP translates addresses, the\n"
		"                             server sees the JAP's. tunnel: the JAP wraps the\n"
		"                             client's own packet; a BPF program of ours on\n"
		"                             --interface unwraps it, and the TA's address goes\n"
		"                             on lo, so the server sees the client's address\n"
		"                             and answers from the TA (endpoint: ADDR, the port\n"
		"                             is the TA's). Both are removed when the agent\n"
		"                             leaves; a start cleans up after a killed one.\n"
		"  --interface IFNAME         tunnel mode: the interface towards the JAP\n"
		"  --mtu BYTES                tunnel mode: largest packet towards the JAP\n"
		"                             (default 1500); bigger replies are dropped\n"
		"                             and counted\n"
		"  --pin-dir DIR              tunnel mode: where its maps and programs are\n"
		"                             pinned, under DIR/IFNAME (default\n"
		"                             " PIAS_TT_PIN_ROOT "); one agent per directory\n"
		"  --check CHECK              keep the targets registered only while CHECK\n"
		"                             passes at each endpoint: tcp (a connection is\n"
		"                             accepted), http[:PATH] (GET PATH, default /,\n"
		"                             answers 2xx or 3xx), dns[:NAME] (a query for\n"
		"                             NAME, default localhost, is answered NOERROR\n"
		"                             or NXDOMAIN), exec:COMMAND (sh -c COMMAND exits\n"
		"                             0; PIAS_CHECK_ADDR and PIAS_CHECK_PORT set).\n"
		"                             Failing: LEAVE (the JAP drains the target at\n"
		"                             once); passing again: REGISTER\n"
		"  --check-interval MS        a check every MS (default 200)\n"
		"  --check-timeout MS         a check not done within MS fails (default 200)\n"
		"  --rise N, --fall N         passes (failures) in a row that bring a target\n"
		"                             up (down); the first check decides (default 2)\n\n"
		"Runs in the foreground and logs one line per event on stderr: registered,\n"
		"JAP changed, registration lost. Refreshes every third of the period the\n"
		"JAP asks for; a dead JAP is noticed in about a second, and the agent\n"
		"registers again wherever anycast now leads. SIGINT or SIGTERM: leave, exit 0.\n"
		"Exit 1 when the JAP refuses the first registration (bad token, invalid);\n"
		"with --file, the others go on and the exit status at the end is 1.\n",
	.run = run_join,
};

const struct cmd cmd_target_leave = {
	.name = "target leave",
	.summary = "withdraw a target's registration and wait for the acknowledgement",
	.args = "{--ta TA --endpoint ADDR:PORT --token-file FILE | --file FILE} "
		"[--registration ADDR:PORT] [--source ADDR] [--timeout SECONDS] [--mode tunnel]",
	.help = "  Options as for target join; --timeout SECONDS (default 5) bounds the wait.\n"
		"  LEAVE is sent up to 3 times per registration; exit 1 if one is not\n"
		"  acknowledged.\n",
	.run = run_leave,
};
