// SPDX-License-Identifier: MIT
/* lib/addr: the text forms operators type, good and bad. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "unit.h"

static void addr_v4(void **state)
{
	union pias_addr a;
	__u8 fam;

	(void)state;
	memset(&a, 0xff, sizeof(a));
	assert_int_equal(pias_addr_parse("203.0.113.10", &a, &fam, NULL), 0);
	assert_int_equal(fam, PIAS_AF_INET);
	assert_int_equal(a.v4, htonl(0xcb00710a));
	/* the rest of the key is zero, or hash keys would not compare equal */
	assert_int_equal(a.v6[1] | a.v6[2] | a.v6[3], 0);
}

static void addr_v6(void **state)
{
	static const __u8 want[16] = {
		0x20, 0x01, 0x0d, 0xb8, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
	};
	union pias_addr a;
	char buf[PIAS_ADDR_STRLEN];
	__u8 fam;

	(void)state;
	assert_int_equal(pias_addr_parse("2001:db8:a::1", &a, &fam, NULL), 0);
	assert_int_equal(fam, PIAS_AF_INET6);
	assert_memory_equal(a.bytes, want, 16);
	assert_string_equal(pias_addr_str(&a, fam, buf, sizeof(buf)), "2001:db8:a::1");
}

static void addr_bad(void **state)
{
	struct pias_err e;
	union pias_addr a;
	__u8 fam;

	(void)state;
	assert_int_equal(pias_addr_parse("203.0.113.300", &a, &fam, &e), -EINVAL);
	assert_msg_has(e.msg, "'203.0.113.300' is not an IPv4 or IPv6 address");
	assert_int_equal(pias_addr_parse("", &a, &fam, &e), -EINVAL);
	assert_msg_has(e.msg, "empty address");
	assert_int_equal(pias_addr_parse("2001:db8:::1", &a, &fam, &e), -EINVAL);
	assert_int_equal(pias_addr_parse(" 192.0.2.1", &a, &fam, &e), -EINVAL);
}

static void prefix_good(void **state)
{
	char buf[PIAS_ADDR_STRLEN];
	struct pias_net n;

	(void)state;
	assert_int_equal(pias_net_parse("203.0.113.0/24", &n, NULL), 0);
	assert_int_equal(n.family, PIAS_AF_INET);
	assert_int_equal(n.plen, 24);
	assert_string_equal(pias_net_str(&n, buf, sizeof(buf)), "203.0.113.0/24");
	assert_int_equal(pias_net_parse("2001:db8:a::/48", &n, NULL), 0);
	assert_int_equal(n.family, PIAS_AF_INET6);
	assert_int_equal(n.plen, 48);
	assert_string_equal(pias_net_str(&n, buf, sizeof(buf)), "2001:db8:a::/48");
	assert_int_equal(pias_net_parse("0.0.0.0/0", &n, NULL), 0);
	assert_int_equal(pias_net_parse("2001:db8::1/128", &n, NULL), 0);
	assert_int_equal(n.plen, 128);
	assert_int_equal(pias_net_parse("198.51.100.7/32", &n, NULL), 0);
}

static void prefix_bad(void **state)
{
	struct pias_net n;
	struct pias_err e;

	(void)state;
	assert_int_equal(pias_net_parse("203.0.113.5/24", &n, &e), -EINVAL);
	assert_msg_has(e.msg, "host bits set (did you mean 203.0.113.0/24?)");
	assert_int_equal(pias_net_parse("2001:db8:a::1/48", &n, &e), -EINVAL);
	assert_msg_has(e.msg, "did you mean 2001:db8:a::/48?");
	assert_int_equal(pias_net_parse("203.0.113.0", &n, &e), -EINVAL);
	assert_msg_has(e.msg, "has no /LENGTH");
	assert_int_equal(pias_net_parse("203.0.113.0/33", &n, &e), -EINVAL);
	assert_msg_has(e.msg, "length '33' is not a number 0-32");
	assert_int_equal(pias_net_parse("2001:db8::/129", &n, &e), -EINVAL);
	assert_msg_has(e.msg, "0-128");
	assert_int_equal(pias_net_parse("203.0.113.0/-1", &n, &e), -EINVAL);
	assert_int_equal(pias_net_parse("203.0.113.0/24x", &n, &e), -EINVAL);
	assert_int_equal(pias_net_parse("203.0.113.0/", &n, &e), -EINVAL);
	assert_int_equal(pias_net_parse("foo/24", &n, &e), -EINVAL);
	assert_msg_has(e.msg, "'foo' is not an IPv4 or IPv6 address");
}

static void ta_good(void **state)
{
	char buf[PIAS_ADDR_STRLEN];
	struct pias_ta ta, want;

	(void)state;
	memset(&ta, 0xff, sizeof(ta));
	assert_int_equal(pias_ta_parse("udp:203.0.113.10:53", &ta, NULL), 0);
	memset(&want, 0, sizeof(want));
	want.addr.v4 = htonl(0xcb00710a);
	want.port = 53; /* host order */
	want.proto = PIAS_PROTO_UDP;
	want.family = PIAS_AF_INET;
	assert_memory_equal(&ta, &want, sizeof(ta));
	assert_string_equal(pias_ta_str(&ta, buf, sizeof(buf)), "udp:203.0.113.10:53");

	assert_int_equal(pias_ta_parse("tcp:[2001:db8:a::1]:80", &ta, NULL), 0);
	assert_int_equal(ta.proto, PIAS_PROTO_TCP);
	assert_int_equal(ta.family, PIAS_AF_INET6);
	assert_int_equal(ta.port, 80);
	assert_string_equal(pias_ta_str(&ta, buf, sizeof(buf)), "tcp:[2001:db8:a::1]:80");
	assert_int_equal(pias_ta_check(&ta, NULL), 0);

	assert_int_equal(pias_ta_parse("UDP:192.0.2.1:65535", &ta, NULL), 0);
	assert_int_equal(ta.port, 65535);
}

/* Each bad TA, with a piece of the message that must name the problem. */
static void ta_bad(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "empty transport address" },
		{ "sctp:1.2.3.4:5", "protocol 'sctp' is not udp or tcp" },
		{ "203.0.113.10:53", "protocol '203.0.113.10' is not udp or tcp" },
		{ "udp", "expected PROTO:ADDR:PORT" },
		{ "udp:203.0.113.10", "expected ADDR:PORT" },
		{ "udp:203.0.113.10:0", "port '0' is out of range 1-65535" },
		{ "udp:203.0.113.10:65536", "port '65536' is out of range 1-65535" },
		{ "udp:203.0.113.10:+53", "port '+53' is not a number" },
		{ "udp:203.0.113.10:0x35", "port '0x35' is not a number" },
		{ "udp:203.0.113.10:", "port '' is not a number" },
		{ "udp:203.0.113.999:53", "'203.0.113.999' is not an IPv4 or IPv6 address" },
		{ "tcp:2001:db8::1:80", "write an IPv6 address in brackets" },
		{ "tcp:[2001:db8::1:80", "'[' without ']'" },
		{ "tcp:[2001:db8::1]80", "expected ':PORT' after ']'" },
		{ "tcp:[203.0.113.1]:80", "brackets are for IPv6 addresses only" },
	};
	struct pias_ta ta;
	struct pias_err e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e.msg[0] = '\0';
		if (pias_ta_parse(cases[i].in, &ta, &e) != -EINVAL)
			fail_msg("'%s' was accepted", cases[i].in);
		assert_msg_has(e.msg, cases[i].want);
		/* the whole input is quoted so the operator sees which argument */
		if (cases[i].in[0])
			assert_msg_has(e.msg, cases[i].in);
	}
}

static void ta_too_long(void **state)
{
	char in[300];
	struct pias_ta ta;
	struct pias_err e;

	(void)state;
	memset(in, '1', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	memcpy(in, "udp:", 4);
	assert_int_equal(pias_ta_parse(in, &ta, &e), -EINVAL);
	assert_msg_has(e.msg, "too long");
}

static void ta_check(void **state)
{
	struct pias_ta ta;
	struct pias_err e;

	(void)state;
	assert_int_equal(pias_ta_parse("udp:203.0.113.10:53", &ta, NULL), 0);
	ta.addr.v6[2] = 1;
	assert_int_equal(pias_ta_check(&ta, &e), -EINVAL);
	assert_msg_has(e.msg, "IPv4 address with more than 4 bytes");
	ta.addr.v6[2] = 0;
	ta.proto = 1;
	assert_int_equal(pias_ta_check(&ta, &e), -EINVAL);
	assert_msg_has(e.msg, "protocol 1");
}

static void endpoint(void **state)
{
	char buf[PIAS_ADDR_STRLEN];
	union pias_addr a;
	struct pias_err e;
	__u16 port;
	__u8 fam;

	(void)state;
	assert_int_equal(pias_endpoint_parse("198.51.100.7:8080", &a, &fam, &port, NULL), 0);
	assert_int_equal(fam, PIAS_AF_INET);
	assert_int_equal(port, 8080);
	assert_string_equal(pias_endpoint_str(&a, fam, port, buf, sizeof(buf)),
			    "198.51.100.7:8080");
	assert_int_equal(pias_endpoint_parse("[2001:db8:b::7]:53", &a, &fam, &port, NULL), 0);
	assert_int_equal(fam, PIAS_AF_INET6);
	assert_int_equal(port, 53);
	assert_string_equal(pias_endpoint_str(&a, fam, port, buf, sizeof(buf)),
			    "[2001:db8:b::7]:53");

	assert_int_equal(pias_endpoint_parse("198.51.100.7", &a, &fam, &port, &e), -EINVAL);
	assert_msg_has(e.msg, "endpoint '198.51.100.7': expected ADDR:PORT");
	assert_int_equal(pias_endpoint_parse("2001:db8:b::7:53", &a, &fam, &port, &e), -EINVAL);
	assert_msg_has(e.msg, "brackets");
	assert_int_equal(pias_endpoint_parse("198.51.100.7:99999", &a, &fam, &port, &e), -EINVAL);
	assert_msg_has(e.msg, "port '99999' is out of range");
	assert_int_equal(pias_endpoint_parse("", &a, &fam, &port, &e), -EINVAL);
	assert_msg_has(e.msg, "empty endpoint");
}

int test_addr(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addr_v4),    cmocka_unit_test(addr_v6),
		cmocka_unit_test(addr_bad),   cmocka_unit_test(prefix_good),
		cmocka_unit_test(prefix_bad), cmocka_unit_test(ta_good),
		cmocka_unit_test(ta_bad),     cmocka_unit_test(ta_too_long),
		cmocka_unit_test(ta_check),   cmocka_unit_test(endpoint),
	};

	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
