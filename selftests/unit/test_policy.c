// SPDX-License-Identifier: MIT
/* lib/policy: the text form of a group's selection policy, both ways. */
#include <errno.h>
#include <string.h>

#include <pias/addr.h>

#include "policy.h"
#include "unit.h"

/* s parses for family, and prints back as itself. */
static void round_trip(const char *s, __u8 family)
{
	struct pias_policy p;
	struct pias_err e;
	char buf[PIAS_POLICY_STRLEN];

	assert_int_equal(pias_policy_parse(s, family, &p, &e), 0);
	assert_string_equal(pias_policy_str(&p, buf, sizeof(buf)), s);
}

static void policy_good(void **state)
{
	struct pias_policy p;

	(void)state;
	round_trip("weighted", PIAS_AF_INET);
	round_trip("random", PIAS_AF_INET6);
	round_trip("scoped/24", PIAS_AF_INET);
	round_trip("scoped/0", PIAS_AF_INET);
	round_trip("scoped/32,strict", PIAS_AF_INET);
	round_trip("scoped/128,strict", PIAS_AF_INET6);
	round_trip("replicate/2", PIAS_AF_INET);
	round_trip("replicate/4", PIAS_AF_INET6);
	round_trip("weighted+quic", PIAS_AF_INET);
	round_trip("random+quic", PIAS_AF_INET6);
	round_trip("scoped/128,strict+quic", PIAS_AF_INET6);
	round_trip("scoped/24+quic", PIAS_AF_INET);
	assert_int_equal(pias_policy_parse("scoped/24,strict+quic", PIAS_AF_INET, &p, NULL), 0);
	assert_int_equal(p.flags, PIAS_POLICY_F_STRICT | PIAS_POLICY_F_QUIC);
	assert_int_equal(pias_policy_parse("scoped/48,strict", PIAS_AF_INET6, &p, NULL), 0);
	assert_int_equal(p.kind, PIAS_POLICY_SCOPED);
	assert_int_equal(p.scope_len, 48);
	assert_int_equal(p.flags, PIAS_POLICY_F_STRICT);
	assert_int_equal(p.copies, 0);
}

/* Each wrong form gets -EINVAL and a message that says what is wrong. */
static void bad(const char *s, __u8 family, const char *want)
{
	struct pias_policy p;
	struct pias_err e;

	assert_int_equal(pias_policy_parse(s, family, &p, &e), -EINVAL);
	assert_msg_has(e.msg, want);
}

static void policy_bad(void **state)
{
	(void)state;
	bad("", PIAS_AF_INET, "want weighted, random");
	bad("roundrobin", PIAS_AF_INET, "policy 'roundrobin': want weighted");
	bad("scoped", PIAS_AF_INET, "scoped takes a prefix length");
	bad("scoped/", PIAS_AF_INET, "scoped takes a prefix length");
	bad("scoped/-1", PIAS_AF_INET, "scoped takes a prefix length");
	bad("scoped/24x", PIAS_AF_INET, "scoped takes a prefix length");
	bad("scoped/33", PIAS_AF_INET, "scope longer than the family's addresses");
	bad("scoped/129", PIAS_AF_INET6, "scope longer");
	bad("scoped/999", PIAS_AF_INET6, "scoped takes a prefix length");
	bad("scoped/24,loose", PIAS_AF_INET, "the only option is strict");
	bad("replicate", PIAS_AF_INET, "replicate takes a number of copies");
	bad("replicate/1", PIAS_AF_INET, "replicate takes 2-4 copies");
	bad("replicate/5", PIAS_AF_INET, "replicate takes 2-4 copies");
	bad("replicate/2,strict", PIAS_AF_INET, "replicate takes a number of copies");
	bad("random/3", PIAS_AF_INET, "random takes no '/'");
	bad("weighted/1", PIAS_AF_INET, "weighted takes no '/'");
	bad("scoped/24,strict,strict,strict", PIAS_AF_INET, "too long");
	bad("weighted+tcp", PIAS_AF_INET, "the only suffix is +quic");
	bad("weighted+", PIAS_AF_INET, "the only suffix is +quic");
	bad("weighted+quic+quic", PIAS_AF_INET, "the only suffix is +quic");
	bad("replicate/3+quic", PIAS_AF_INET,
	    "replicate takes a number of copies only (and no +quic)");
	bad("+quic", PIAS_AF_INET, "want weighted, random");
}

int test_policy(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(policy_good),
		cmocka_unit_test(policy_bad),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
