// SPDX-License-Identifier: MIT
/* daemon/health: check specs both ways, and the rise/fall machine. */
#include <errno.h>
#include <string.h>

#include "health.h"
#include "unit.h"

static void round_trip(const char *s, enum pias_check_kind kind, const char *arg)
{
	struct pias_check_spec c;
	struct pias_err e;
	char buf[PIAS_CHECK_ARG_LEN + 8];

	assert_int_equal(pias_check_parse(s, &c, &e), 0);
	assert_int_equal(c.kind, kind);
	assert_string_equal(c.arg, arg);
	/* what it prints parses to the same spec */
	pias_check_str(&c, buf, sizeof(buf));
	{
		struct pias_check_spec again;

		assert_int_equal(pias_check_parse(buf, &again, &e), 0);
		assert_memory_equal(&again, &c, sizeof(c));
	}
}

static void bad(const char *s, const char *want)
{
	struct pias_check_spec c;
	struct pias_err e;

	assert_int_equal(pias_check_parse(s, &c, &e), -EINVAL);
	assert_msg_has(e.msg, want);
}

static void check_specs(void **state)
{
	char big[PIAS_CHECK_ARG_LEN + 16];

	(void)state;
	round_trip("tcp", PIAS_CHECK_TCP, "");
	round_trip("http", PIAS_CHECK_HTTP, "/");
	round_trip("http:/healthz?full=1", PIAS_CHECK_HTTP, "/healthz?full=1");
	round_trip("dns", PIAS_CHECK_DNS, "localhost");
	round_trip("dns:www.example.org", PIAS_CHECK_DNS, "www.example.org");
	/* a command keeps its spaces and colons */
	round_trip("exec:test -e /run/ok && echo a:b", PIAS_CHECK_EXEC,
		   "test -e /run/ok && echo a:b");

	bad("", "want tcp, http[:PATH], dns[:NAME] or exec:COMMAND");
	bad("udp", "want tcp");
	bad("tcpx", "want tcp");
	bad("http:", "empty argument");
	bad("tcp:80", "tcp takes no argument");
	bad("http:healthz", "the path starts with '/'");
	bad("http:/a b", "no spaces");
	bad("http:/a\tb", "no spaces");
	bad("dns:a b", "a name has no spaces");
	bad("exec", "exec takes a command");
	bad("exec:", "empty argument");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(big, "exec:", 5);
	bad(big, "longer than 255 bytes");
}

/* Feed results ("+" pass, "-" fail); the states entered, one letter each. */
static void run(__u32 rise, __u32 fall, const char *results, const char *want)
{
	struct pias_health h;
	char got[64] = "";
	size_t n = 0;

	pias_health_init(&h, rise, fall);
	for (const char *r = results; *r; r++) {
		enum pias_health_state s = pias_health_result(&h, *r == '+');

		got[n++] = s == PIAS_HEALTH_UP ? 'U' : s == PIAS_HEALTH_DOWN ? 'D' : '.';
	}
	got[n] = 0;
	assert_string_equal(got, want);
}

static void rise_fall(void **state)
{
	struct pias_health h;

	(void)state;
	/* the first result decides, either way */
	run(2, 2, "+", "U");
	run(2, 2, "-", "D");
	/* fall 2: one failure is forgiven, two in a row take it down */
	run(2, 2, "+-+-+--", "U.....D");
	/* rise 3 to come back; a failure in between starts the count again */
	run(3, 2, "+--++-+++", "U.D.....U");
	/* defaults when 0 */
	pias_health_init(&h, 0, 0);
	assert_int_equal(h.rise, PIAS_CHECK_RISE);
	assert_int_equal(h.fall, PIAS_CHECK_FALL);
	/* rise 1 and fall 1 follow every change */
	run(1, 1, "+-+-", "UDUD");
	/* counts */
	pias_health_init(&h, 2, 2);
	pias_health_result(&h, true);
	pias_health_result(&h, false);
	pias_health_result(&h, false);
	assert_int_equal(h.checks, 3);
	assert_int_equal(h.failed, 2);
	assert_int_equal(h.state, PIAS_HEALTH_DOWN);
	assert_string_equal(pias_health_state_name(h.state), "down");
}

int test_health(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_specs),
		cmocka_unit_test(rise_fall),
	};

	return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
