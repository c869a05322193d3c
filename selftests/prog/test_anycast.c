// SPDX-License-Identifier: MIT
/*
 * Which packets are a client's: pias_anycast holds a family's prefixes as
 * masks while there are at most PIAS_ANYCAST_INLINE of them, the LPM map
 * answers beyond that; the library keeps the two in step on every add and
 * delete. Both ways must tell the same packets apart.
 */
#include <stdio.h>
#include <string.h>

#include "world.h"

/* Does the dataplane take a UDP packet to dst for a client's (anycast)? */
static int anycast(const char *dst)
{
	const char *src = strchr(dst, ':') ? "2001:db8:c::200" : "203.0.113.200";
	struct pkt_spec s = pkt_udp(src, 40000, dst, 53, 20);
	struct pias_stats st;
	struct pias_drops dr;
	struct pr_result res;
	struct pkt in;

	pkt_set_macs(&s, g_ns.mac[0], g_ns.mac[1]);
	pkt_build(&in, &s);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_ok(pr_counters(&g_pr, &st, &dr));
	/* not ours: passed untouched; ours: the IAP took it (no RAP here: dropped) */
	if (st.pass_not_ours)
		return 0;
	assert_int_equal(dr.no_rap, 1);
	return 1;
}

static struct pias_anycast summary(void)
{
	struct pias_anycast a;
	struct pias_err e;

	assert_ok(pias_map_lookup(&g_pr.maps, PIAS_M_ANYCAST, &(uint32_t){ 0 }, &a, &e));
	return a;
}

static void prefix_del(const char *cidr)
{
	struct pias_net n;
	struct pias_err e;

	assert_ok(pias_net_parse(cidr, &n, &e));
	assert_ok(pias_prefix_del(&g_pr.maps, &n, &e));
}

/* 9 prefixes of a family: the LPM map decides; 8 again: the masks do, alike. */
static void test_anycast_inline_and_lpm(void **state)
{
	char v4[PIAS_ANYCAST_INLINE][32], v6[PIAS_ANYCAST_INLINE][32];

	(void)state;
	/* the world's own: 203.0.113.0/25 and 2001:db8:a::/48 */
	assert_int_equal(summary().n4, 1);
	assert_int_equal(summary().n6, 1);
	for (int i = 0; i < PIAS_ANYCAST_INLINE; i++) {
		snprintf(v4[i], sizeof(v4[i]), "198.51.100.%d/29", 128 + 8 * i);
		snprintf(v6[i], sizeof(v6[i]), "2001:db8:e:%x::/64", i);
		assert_ok(pr_prefix(&g_pr, v4[i]));
		assert_ok(pr_prefix(&g_pr, v6[i]));
	}
	assert_int_equal(summary().n4, PIAS_ANYCAST_MANY);
	assert_int_equal(summary().n6, PIAS_ANYCAST_MANY);
	for (int pass = 0; pass < 2; pass++) {
		/* pass 0: the LPM map answers; pass 1: the masks, one prefix fewer */
		assert_true(anycast("203.0.113.5"));
		assert_false(anycast("203.0.113.130"));
		assert_true(anycast("198.51.100.137"));
		assert_true(anycast("198.51.100.191"));
		assert_false(anycast("198.51.100.192"));
		assert_true(anycast("2001:db8:a:ffff::1"));
		assert_true(anycast("2001:db8:e:7::53"));
		assert_false(anycast("2001:db8:e:8::53"));
		if (pass == 0) {
			prefix_del("198.51.100.128/29");
			prefix_del("2001:db8:e:0::/64");
			assert_int_equal(summary().n4, PIAS_ANYCAST_INLINE);
			assert_int_equal(summary().n6, PIAS_ANYCAST_INLINE);
		}
	}
	/* a prefix deleted is no client's any more, whichever way */
	assert_false(anycast("198.51.100.130"));
	assert_false(anycast("2001:db8:e::53"));
}

int run_anycast_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_anycast_inline_and_lpm, W_ONCE),
	};

	return run_world_group("anycast", tests, sizeof(tests) / sizeof(tests[0]));
}
