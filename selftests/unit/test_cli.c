// SPDX-License-Identifier: MIT
/*
 * lib/cli: a small command table's generated usage and help, and the
 * messages and exit codes for bad typed values, through cli_main as the
 * tools call it (stdout and stderr caught in memory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unit.h"

enum {
	P_ID,
	P_STATE,
	O_DEV,
	O_MODE,
	O_TTL,
	O_SRC,
	O_TA,
	O_VERBOSE,
};

static const char *const modes[] = { "native", "skb", NULL };
static const char *const states[] = { "up", "down", "dp-only", NULL };

static const struct cli_opt put_opts[] = {
	[P_ID] = { "ID", CLI_U32, .help = "the proxy", .min = 1, .max = 131071,
		   .what = "proxy id" },
	[P_STATE] = { "STATE", CLI_ENUM, .choices = states, .what = "state", .def = "up",
		      .flags = CLI_OPTIONAL },
	[O_DEV] = { "--dev", CLI_IFNAME, "IFACE", "interface in this network namespace",
		    .flags = CLI_REQUIRED },
	[O_MODE] = { "--mode", CLI_ENUM, "native|skb", "where XDP runs", .choices = modes,
		     .def = "native" },
	[O_TTL] = { "--ttl", CLI_U32, "SECONDS", "expire after this long,\n0: never", .max = 3600 },
	[O_SRC] = { "--source", CLI_ADDR, "ADDR", "send from ADDR" },
	[O_TA] = { "--ta", CLI_TA, "TA", "the group" },
	[O_VERBOSE] = { "--verbose", CLI_FLAG, .help = "say more" },
	CLI_OPT_END,
};

static struct cli_args got; /* what the last run saw */

static int run_put(struct cli *c, const struct cli_args *a)
{
	(void)c;
	got = *a;
	return EXIT_OK;
}

static const struct cmd cmd_put = {
	.name = "thing put",
	.opts = put_opts,
	.summary = "put a thing",
	.help = "More about it.\n",
	.run = run_put,
};

static const struct cmd cmd_bare = {
	.name = "bare",
	.summary = "nothing to say",
	.run = run_put,
};

static const struct cmd *const commands[] = { &cmd_put, &cmd_bare, NULL };

static const struct cli_tool tool = {
	.prog = "tool",
	.about = "Does things.",
	.commands = commands,
	.globals = cli_opts_pin_root,
	.globals_anywhere = true,
	.ready = cli_ready_pin_root,
};

struct caught {
	char *out, *err;
	size_t nout, nerr;
	int rc;
	struct cli c;
};

/* Run the tool on a line of words; *k holds its exit code and texts (free them). */
static void run_line(struct caught *k, const char *line)
{
	char buf[512], *argv[32], *save = NULL;
	int argc = 0;

	snprintf(buf, sizeof(buf), "tool %s", line);
	for (char *w = strtok_r(buf, " ", &save); w && argc < 31; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	memset(k, 0, sizeof(*k));
	k->c.out = open_memstream(&k->out, &k->nout);
	k->c.err = open_memstream(&k->err, &k->nerr);
	k->rc = cli_main(&k->c, &tool, argc, argv);
	fclose(k->c.out);
	fclose(k->c.err);
}

static void done(struct caught *k)
{
	free(k->out);
	free(k->err);
}

/* exit code rc and exactly this line on stderr */
static void expect_err(const char *line, int rc, const char *msg)
{
	struct caught k;

	run_line(&k, line);
	if (k.rc != rc || strcmp(k.err, msg))
		fail_msg("'%s': want %d '%s', got %d '%s'", line, rc, msg, k.rc, k.err);
	done(&k);
}

static void test_help_generated(void **state)
{
	struct caught k;

	(void)state;
	run_line(&k, "thing put --help");
	assert_int_equal(k.rc, EXIT_OK);
	assert_string_equal(
		k.out,
		"usage: tool [--pin-root DIR] thing put ID [STATE] --dev IFACE [--mode native|skb] "
		"[--ttl SECONDS] [--source ADDR] [--ta TA] [--verbose]\n"
		"\n"
		"put a thing\n"
		"\n"
		"  ID                  the proxy (1-131071)\n"
		"  --dev IFACE         interface in this network namespace\n"
		"  --mode native|skb   where XDP runs (default native)\n"
		"  --ttl SECONDS       expire after this long,\n"
		"                      0: never (0-3600)\n"
		"  --source ADDR       send from ADDR\n"
		"  --ta TA             the group\n"
		"  --verbose           say more\n"
		"More about it.\n");
	assert_string_equal(k.err, "");
	done(&k);
}

static void test_usage_generated(void **state)
{
	struct caught k;

	(void)state;
	run_line(&k, "--help");
	assert_int_equal(k.rc, EXIT_OK);
	assert_string_equal(k.out,
			    "usage: tool [--pin-root DIR] COMMAND [ARGS...]\n"
			    "\n"
			    "Does things.\n"
			    "\n"
			    "  thing put ID [STATE] --dev IFACE [OPTIONS]\n"
			    "      put a thing\n"
			    "  bare\n"
			    "      nothing to say\n"
			    "\n"
			    "Options:\n"
			    "  --pin-root DIR   where the maps are pinned, one directory per proxy "
			    "(default /sys/fs/bpf/pias)\n"
			    "  -h, --help       this text; COMMAND --help tells about one command\n"
			    "\n"
			    "Exit status: 0 done, 1 runtime error, 2 bad argument.\n");
	done(&k);
	/* no command: the same text on stderr, exit 2 */
	run_line(&k, "");
	assert_int_equal(k.rc, EXIT_USAGE);
	assert_string_equal(k.out, "");
	assert_true(!strncmp(k.err, "usage: tool ", 12));
	done(&k);
}

static void test_values(void **state)
{
	struct caught k;

	(void)state;
	run_line(&k, "thing put 7 dp-only --dev eth0 --ttl=30 --source 2001:db8::1 --verbose "
		     "--ta udp:203.0.113.10:53 --pin-root /tmp/x");
	assert_int_equal(k.rc, EXIT_OK);
	assert_string_equal(k.err, "");
	assert_int_equal(got.v[P_ID].n, 7);
	assert_int_equal(got.v[P_STATE].n, 2);
	assert_string_equal(got.v[O_DEV].s, "eth0");
	assert_int_equal(got.v[O_TTL].n, 30);
	assert_int_equal(got.v[O_SRC].family, PIAS_AF_INET6);
	assert_int_equal(got.v[O_TA].ta.port, 53);
	assert_true(got.v[O_VERBOSE].seen);
	/* defaults: filled in, not seen */
	assert_false(got.v[O_MODE].seen);
	assert_int_equal(got.v[O_MODE].n, 0);
	assert_string_equal(k.c.pin_root, "/tmp/x");
	done(&k);
	run_line(&k, "thing put 7 --dev eth0");
	assert_false(got.v[P_STATE].seen);
	assert_int_equal(got.v[P_STATE].n, 0);
	assert_string_equal(k.c.pin_root, "/sys/fs/bpf/pias");
	done(&k);
	/* given twice: the last one counts, as it always did */
	run_line(&k, "thing put 7 --dev eth0 --mode skb --mode native");
	assert_int_equal(k.rc, EXIT_OK);
	assert_int_equal(got.v[O_MODE].n, 0);
	done(&k);
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_err("thing put 0 --dev eth0", EXIT_USAGE,
		   "tool thing put: proxy id '0' is out of range 1-131071\n");
	expect_err("thing put x --dev eth0", EXIT_USAGE,
		   "tool thing put: proxy id 'x' is not a number 1-131071\n");
	expect_err("thing put 1 --dev eth0 --ttl 3601", EXIT_USAGE,
		   "tool thing put: --ttl '3601' is out of range 0-3600\n");
	expect_err("thing put 1 --dev eth0 --mode xdp", EXIT_USAGE,
		   "tool thing put: --mode 'xdp' is not native or skb\n");
	expect_err("thing put 1 sideways --dev eth0", EXIT_USAGE,
		   "tool thing put: state 'sideways' is not up, down or dp-only\n");
	expect_err("thing put 1 --dev a/b", EXIT_USAGE,
		   "tool thing put: --dev 'a/b' is not an interface name (1-15 characters, no "
		   "'/', ':' or space)\n");
	expect_err("thing put 1 --dev 0123456789abcdef", EXIT_USAGE,
		   "tool thing put: --dev '0123456789abcdef' is not an interface name (1-15 "
		   "characters, no '/', ':' or space)\n");
	expect_err("thing put 1", EXIT_USAGE, "tool thing put: --dev IFACE is required\n");
	expect_err("thing put --dev eth0", EXIT_USAGE,
		   "tool thing put: missing argument: usage: tool thing put ID [STATE] --dev IFACE "
		   "[--mode native|skb] [--ttl SECONDS] [--source ADDR] [--ta TA] [--verbose]\n");
	expect_err("thing put 1 up 2 --dev eth0", EXIT_USAGE,
		   "tool thing put: too many arguments: usage: tool thing put ID [STATE] --dev "
		   "IFACE [--mode native|skb] [--ttl SECONDS] [--source ADDR] [--ta TA] "
		   "[--verbose]\n");
	expect_err("thing put 1 --dev eth0 --speed 3", EXIT_USAGE,
		   "tool thing put: unknown option '--speed' (see tool thing put --help)\n");
	expect_err("thing put 1 --dev eth0 --ttl", EXIT_USAGE,
		   "tool thing put: --ttl needs a value\n");
	expect_err("thing put 1 --dev eth0 --verbose=yes", EXIT_USAGE,
		   "tool thing put: --verbose takes no value\n");
	expect_err("bare --verbose", EXIT_USAGE,
		   "tool bare: unknown option '--verbose' (see tool bare --help)\n");
	expect_err("--colour thing", EXIT_USAGE,
		   "tool: unknown option '--colour' (see tool --help)\n");
	expect_err("nothing", EXIT_USAGE, "tool: unknown command 'nothing' (see tool --help)\n");
	expect_err("thing", EXIT_USAGE,
		   "tool thing: missing command; one of:\n"
		   "  tool thing put ID [STATE] --dev IFACE [--mode native|skb] [--ttl SECONDS] "
		   "[--source ADDR] [--ta TA] [--verbose]\n");
}

/* An address or TA: the library's message, after the option's name. */
static void test_bad_addresses(void **state)
{
	struct caught k;

	(void)state;
	run_line(&k, "thing put 1 --dev eth0 --source 300.1.1.1");
	assert_int_equal(k.rc, EXIT_USAGE);
	assert_msg_has(k.err, "tool thing put: --source: ");
	assert_msg_has(k.err, "300.1.1.1");
	done(&k);
	run_line(&k, "thing put 1 --dev eth0 --ta udp:203.0.113.10");
	assert_int_equal(k.rc, EXIT_USAGE);
	assert_msg_has(k.err, "tool thing put: --ta: ");
	done(&k);
}

static const struct cli_opt socket_opts[] = {
	{ "--socket", CLI_STR, "SOCKET", "where to ask", .alias = "-s" },
	CLI_OPT_END,
};

static const char *socket_seen;

static int socket_ready(struct cli *c, const struct cli_val *g)
{
	(void)c;
	socket_seen = g[0].seen ? g[0].s : "(none)";
	return 0;
}

/* piasctl's shape: a short global option, and only before the command. */
static void test_globals_before_command(void **state)
{
	static const struct cli_tool t = { .prog = "ctl",
					   .about = "Asks.",
					   .commands = commands,
					   .globals = socket_opts,
					   .ready = socket_ready };
	char *ok[] = { "ctl", "-s", "/run/x", "bare", NULL },
	     *eq[] = { "ctl", "--socket=/run/y", "bare", NULL },
	     *late[] = { "ctl", "bare", "--socket", "/run/z", NULL },
	     *empty[] = { "ctl", "-s", "", "bare", NULL };
	struct cli c = { 0 };
	char *err = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(cli_main(&c, &t, 4, ok), EXIT_OK);
	assert_string_equal(socket_seen, "/run/x");
	c = (struct cli){ 0 };
	assert_int_equal(cli_main(&c, &t, 3, eq), EXIT_OK);
	assert_string_equal(socket_seen, "/run/y");
	c = (struct cli){ .err = open_memstream(&err, &n) };
	assert_int_equal(cli_main(&c, &t, 4, late), EXIT_USAGE);
	assert_int_equal(cli_main(&c, &t, 4, empty), EXIT_USAGE);
	fclose(c.err);
	assert_string_equal(err, "ctl bare: unknown option '--socket' (see ctl bare --help)\n"
				 "ctl: --socket needs a value\n");
	free(err);
}

int test_cli(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_generated),
		cmocka_unit_test(test_usage_generated),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_globals_before_command),
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
