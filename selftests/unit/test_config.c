// SPDX-License-Identifier: MIT
/* lib/map_config: defaults and checks (the parts that need no map). */
#include <errno.h>
#include <string.h>

#include "maps.h"
#include "unit.h"

static void defaults(void **state)
{
	struct pias_config c;

	(void)state;
	pias_config_defaults(&c);
	assert_int_equal(c.self_id, 0);
	assert_int_equal(c.tunnel_port, PIAS_TUN_PORT_DEFAULT);
	assert_int_equal(c.underlay_mtu, 1500);
	assert_int_equal(c.tcp_mss4, 1392); /* 1500 - 68 - 20 - 20 */
	assert_int_equal(c.tcp_mss6, 1372); /* 1500 - 68 - 40 - 20 */
	assert_int_equal(c.nat_port_min, 16384);
	assert_int_equal(c.nat_port_max, 32767);
	assert_int_equal(c.event_interval_ms, 100);
	assert_int_equal(c.icmp_rate, 1000);
	assert_false(pias_config_is_zero(&c));
	assert_int_equal(pias_config_check(&c, NULL), 0);
	memset(&c, 0, sizeof(c));
	assert_true(pias_config_is_zero(&c));
}

static void mtu_sets_mss(void **state)
{
	struct pias_config c;

	(void)state;
	pias_config_defaults(&c);
	pias_config_set_mtu(&c, 9000);
	assert_int_equal(c.tcp_mss4, 8892);
	assert_int_equal(c.tcp_mss6, 8872);
}

static void checks(void **state)
{
	struct pias_config c;
	struct pias_err e;

	(void)state;
	pias_config_defaults(&c);
	c.nat_port_min = 40000;
	assert_int_equal(pias_config_check(&c, &e), -EINVAL);
	assert_msg_has(e.msg, "NAT port range 40000-32767");
	pias_config_defaults(&c);
	c.underlay_mtu = 500;
	assert_int_equal(pias_config_check(&c, &e), -EINVAL);
	assert_msg_has(e.msg, "underlay MTU 500");
	pias_config_defaults(&c);
	c.self_id = PIAS_MAX_PROXIES;
	assert_int_equal(pias_config_check(&c, &e), -EINVAL);
	assert_msg_has(e.msg, "proxy id 131072");
	/* tunnel port inside the NAT range on the same address: ambiguous */
	pias_config_defaults(&c);
	c.tunnel_port = 20000;
	c.self4.v4 = c.nat4.v4 = 0x0102000a;
	assert_int_equal(pias_config_check(&c, &e), -EINVAL);
	assert_msg_has(e.msg, "tunnel port 20000 lies in the NAT port range");
	c.nat4.v4 = 0x0202000a; /* different addresses: fine */
	assert_int_equal(pias_config_check(&c, NULL), 0);
}

int test_config(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(mtu_sets_mss),
		cmocka_unit_test(checks),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
