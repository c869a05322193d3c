// SPDX-License-Identifier: MIT
/* daemon/cookie: registration cookies, bound to the sender and the registration. */
#include <string.h>

#include "cookie.h"
#include "unit.h"

#define SEC 1000000000ull

static void reg_of(struct pias_msg_register *r, struct pias_peer *from)
{
	memset(r, 0, sizeof(*r));
	r->ta.family = PIAS_AF_INET;
	r->ta.addr.v4 = __builtin_bswap32(0xcb00710a); /* 203.0.113.10 */
	r->ta.port = 53;
	r->ta.proto = PIAS_PROTO_UDP;
	r->family = PIAS_AF_INET;
	r->addr.v4 = __builtin_bswap32(0xc6336414); /* 198.51.100.20 */
	r->port = 53;
	r->weight = 1;
	memset(from, 0, sizeof(*from));
	from->family = PIAS_AF_INET;
	from->addr.v4 = r->addr.v4;
	from->port = 40000;
}

static void test_cookie_binds_everything(void **state)
{
	struct pias_cookie_jar j = {}, other = {};
	struct pias_msg_register r, r2;
	struct pias_peer from, from2;
	__u8 s1[PIAS_COOKIE_SECRET_LEN], s2[PIAS_COOKIE_SECRET_LEN];

	(void)state;
	memset(s1, 1, sizeof(s1));
	memset(s2, 2, sizeof(s2));
	assert_true(pias_cookie_due(&j, 0));
	pias_cookie_rotate(&j, 0, s1);
	pias_cookie_rotate(&other, 0, s2);
	reg_of(&r, &from);
	assert_false(pias_cookie_ok(&j, &r, &from)); /* zeros: no cookie */
	pias_cookie_make(&j, &r, &from, r.cookie);
	assert_true(pias_cookie_ok(&j, &r, &from));
	/* another proxy's secret: worthless there */
	assert_false(pias_cookie_ok(&other, &r, &from));
	/* another source port, address; another endpoint, TA, mode */
	from2 = from;
	from2.port++;
	assert_false(pias_cookie_ok(&j, &r, &from2));
	from2 = from;
	from2.addr.bytes[3] ^= 1;
	assert_false(pias_cookie_ok(&j, &r, &from2));
	r2 = r;
	r2.port = 54;
	assert_false(pias_cookie_ok(&j, &r2, &from));
	r2 = r;
	r2.addr.bytes[0] ^= 0x80;
	assert_false(pias_cookie_ok(&j, &r2, &from));
	r2 = r;
	r2.ta.port = 54;
	assert_false(pias_cookie_ok(&j, &r2, &from));
	r2 = r;
	r2.flags = PIAS_MSG_REG_F_TUNNEL;
	assert_false(pias_cookie_ok(&j, &r2, &from));
	/* one bit of the cookie */
	r2 = r;
	r2.cookie[7] ^= 4;
	assert_false(pias_cookie_ok(&j, &r2, &from));
	/* the weight is not bound: a target may change it */
	r2 = r;
	r2.weight = 7;
	assert_true(pias_cookie_ok(&j, &r2, &from));
}

/* A cookie lives through one rotation, not two. */
static void test_cookie_rotation(void **state)
{
	struct pias_cookie_jar j = {};
	struct pias_msg_register r;
	struct pias_peer from;
	__u8 s[PIAS_COOKIE_SECRET_LEN];

	(void)state;
	reg_of(&r, &from);
	memset(s, 1, sizeof(s));
	pias_cookie_rotate(&j, 100 * SEC, s);
	pias_cookie_make(&j, &r, &from, r.cookie);
	assert_false(pias_cookie_due(&j, 100 * SEC + PIAS_COOKIE_PERIOD_NS - 1));
	assert_true(pias_cookie_due(&j, 100 * SEC + PIAS_COOKIE_PERIOD_NS));
	s[0] = 2;
	pias_cookie_rotate(&j, 110 * SEC, s);
	assert_true(pias_cookie_ok(&j, &r, &from));
	s[0] = 3;
	pias_cookie_rotate(&j, 120 * SEC, s);
	assert_false(pias_cookie_ok(&j, &r, &from));
}

int test_cookie(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_binds_everything),
		cmocka_unit_test(test_cookie_rotation),
	};

	return cmocka_run_group_tests_name("cookie", tests, NULL, NULL);
}
