/* SPDX-License-Identifier: MIT */
/* Unit tests of lib/ (no root, no kernel): one group per file, run by main.c. */
#ifndef PIAS_UNIT_H
#define PIAS_UNIT_H

/* cmocka needs these before it. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Each returns the number of failed tests of its group. */
int test_addr(void);
int test_policy(void);
int test_counters(void);
int test_hash(void);
int test_config(void);
int test_events(void);
int test_ring(void);
int test_config_file(void);
int test_jap_registry(void);
int test_large_group(void);
int test_iap_cache(void);
int test_multimap(void);
int test_iap_scale(void);
int test_rap_registry(void);
int test_msg(void);
int test_keys(void);
int test_replay(void);
int test_rate(void);
int test_dplive(void);
int test_gone(void);
int test_cookie(void);
int test_ctl_line(void);
int test_rate_table(void);
int test_membership(void);
int test_coords(void);
int test_agent(void);
int test_delay(void);
int test_sweep(void);
int test_health(void);
int test_outlier(void);
int test_cli(void);
int test_ta_index(void);
int test_node(void);
int test_pick(void);

/* The error message contains want (messages must name what is wrong). */
#define assert_msg_has(msg, want)                                                                  \
	do {                                                                                       \
		if (!strstr((msg), (want)))                                                        \
			fail_msg("message '%s' lacks '%s'", (msg), (want));                        \
	} while (0)

#endif
