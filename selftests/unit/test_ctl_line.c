// SPDX-License-Identifier: MIT
/* daemon/ctl_line: the control socket's request line, split and checked. */
#include <errno.h>
#include <string.h>

#include "ctl_line.h"
#include "ctl_proto.h"
#include "unit.h"

static int split(const char *s, char *buf, char *words[PIAS_CTL_WORDS_MAX], struct pias_err *e)
{
	size_t n = strlen(s);

	memcpy(buf, s, n + 1);
	return pias_ctl_split(buf, n, words, e);
}

static void test_words(void **state)
{
	char buf[64], *w[PIAS_CTL_WORDS_MAX];
	struct pias_err e;

	(void)state;
	assert_int_equal(split("show counters --json", buf, w, &e), 3);
	assert_string_equal(w[0], "show");
	assert_string_equal(w[2], "--json");
	assert_int_equal(split("  keys   reload ", buf, w, &e), 2);
	assert_string_equal(w[0], "keys");
	assert_string_equal(w[1], "reload");
	assert_int_equal(split("", buf, w, &e), 0);
	assert_int_equal(split("   ", buf, w, &e), 0);
	assert_int_equal(split("a b c d e f g h", buf, w, &e), 8);
	assert_int_equal(split("a b c d e f g h i", buf, w, &e), -E2BIG);
	assert_msg_has(e.msg, "more than 8 words");
}

/* The protocol allows no control characters: a tab, a CR, a NUL inside. */
static void test_control_characters(void **state)
{
	char buf[64], *w[PIAS_CTL_WORDS_MAX];
	struct pias_err e;

	(void)state;
	assert_int_equal(split("show\tstatus", buf, w, &e), -EINVAL);
	assert_msg_has(e.msg, "control character 0x09 at byte 4");
	assert_int_equal(split("show status\r", buf, w, &e), -EINVAL);
	memcpy(buf, "show\0status", 12);
	assert_int_equal(pias_ctl_split(buf, 11, w, &e), -EINVAL);
	assert_msg_has(e.msg, "0x00");
}

static void test_too_long(void **state)
{
	static char buf[PIAS_CTL_REQUEST_MAX + 1];
	char *w[PIAS_CTL_WORDS_MAX];
	struct pias_err e;

	(void)state;
	memset(buf, 'x', PIAS_CTL_REQUEST_MAX - 1);
	assert_int_equal(pias_ctl_split(buf, PIAS_CTL_REQUEST_MAX - 1, w, &e), 1);
	memset(buf, 'x', PIAS_CTL_REQUEST_MAX);
	assert_int_equal(pias_ctl_split(buf, PIAS_CTL_REQUEST_MAX, w, &e), -E2BIG);
}

int test_ctl_line(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests_name("ctl_line", tests, NULL, NULL);
}
