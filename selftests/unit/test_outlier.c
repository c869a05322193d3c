// SPDX-License-Identifier: MIT
/* daemon/outlier: passive outlier detection's rules, fed totals as a JAP's ticks would. */
#include <string.h>

#include "outlier.h"
#include "unit.h"

#define MS   1000000ull
#define TICK (50 * MS)
#define T0   (1000 * 1000 * MS)

struct fx {
	struct pias_outlier_config cfg;
	struct pias_outlier o;
	struct pias_outlier_counts c;
	__u64 now;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->cfg.consecutive = PIAS_OUTLIER_CONSECUTIVE;
	f->cfg.no_reply_flows = PIAS_OUTLIER_NO_REPLY_FLOWS;
	f->cfg.no_reply_ns = 1000 * MS;
	f->cfg.base_eject_ns = 2000 * MS;
	pias_outlier_defaults(&f->cfg);
	f->now = T0;
	assert_int_equal(pias_outlier_observe(&f->cfg, &f->o, &f->c, f->now), PIAS_OUTLIER_NONE);
}

/* One tick later, with n new flows met as said ('a' answered, 'r' refused, 'u' unreachable, '-' silent). */
static enum pias_outlier_reason tick(struct fx *f, const char *flows)
{
	for (const char *p = flows; *p; p++) {
		f->c.new_flows++;
		f->c.answered += *p == 'a';
		f->c.refused += *p == 'r';
		f->c.unreachable += *p == 'u';
	}
	f->now += TICK;
	return pias_outlier_observe(&f->cfg, &f->o, &f->c, f->now);
}

static void failures_in_a_row(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	/* 4 refusals, an answer, 4 more: never 5 in a row */
	assert_int_equal(tick(&f, "rrrr"), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "a"), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "rr"), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "uu"), PIAS_OUTLIER_NONE);
	/* the fifth in a row, refused and unreachable alike */
	assert_int_equal(tick(&f, "u"), PIAS_OUTLIER_FAILURES);
	/* a tick's answers count as before its failures: the run starts at them */
	fx_init(&f);
	assert_int_equal(tick(&f, "rrrr"), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "rrra"), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "r"), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "r"), PIAS_OUTLIER_FAILURES);
	fx_init(&f);
	assert_int_equal(tick(&f, "rrrr"), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "a"), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "rrrr"), PIAS_OUTLIER_NONE);
	/* off */
	fx_init(&f);
	f.cfg.consecutive = 0;
	f.cfg.no_reply_flows = 0;
	for (int i = 0; i < 100; i++)
		assert_int_equal(tick(&f, "rrrru"), PIAS_OUTLIER_NONE);
}

static void no_reply(void **state)
{
	struct fx f;
	int ticks = 0;

	(void)state;
	fx_init(&f);
	/* answered flows: never */
	for (int i = 0; i < 60; i++)
		assert_int_equal(tick(&f, "aa"), PIAS_OUTLIER_NONE);
	/* silence: 5 flows in the first tick, then none; out once they are 1 s old */
	assert_int_equal(tick(&f, "-----"), PIAS_OUTLIER_NONE);
	while (tick(&f, "") == PIAS_OUTLIER_NONE) {
		ticks++;
		assert_true(ticks < 40);
	}
	assert_int_equal(ticks + 1, 20); /* 20 ticks of 50 ms after they began */
	/* 4 silent flows are not enough; an answer in time saves them */
	fx_init(&f);
	assert_int_equal(tick(&f, "----"), PIAS_OUTLIER_NONE);
	for (int i = 0; i < 40; i++)
		assert_int_equal(tick(&f, ""), PIAS_OUTLIER_NONE);
	fx_init(&f);
	assert_int_equal(tick(&f, "-----"), PIAS_OUTLIER_NONE);
	for (int i = 0; i < 10; i++)
		assert_int_equal(tick(&f, ""), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "a"), PIAS_OUTLIER_NONE);
	for (int i = 0; i < 40; i++)
		assert_int_equal(tick(&f, ""), PIAS_OUTLIER_NONE);
}

static void eject_and_probation(void **state)
{
	struct fx f;
	__u64 until;

	(void)state;
	fx_init(&f);
	assert_int_equal(tick(&f, "rrrrr"), PIAS_OUTLIER_FAILURES);
	until = pias_outlier_eject(&f.cfg, &f.o, PIAS_OUTLIER_FAILURES, f.now);
	assert_int_equal(until - f.now, 2000 * MS);
	assert_true(f.o.ejected);
	/* while out: nothing more to say */
	assert_int_equal(tick(&f, "rrrrr"), PIAS_OUTLIER_NONE);
	assert_false(pias_outlier_due(&f.o, until - 1));
	assert_true(pias_outlier_due(&f.o, until));
	f.now = until;
	pias_outlier_readmit(&f.o, f.now);
	/* counted afresh: 4 failures are not 5 */
	assert_int_equal(tick(&f, "rrrr"), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "r"), PIAS_OUTLIER_FAILURES);
	/* the second time, twice as long; then capped */
	until = pias_outlier_eject(&f.cfg, &f.o, PIAS_OUTLIER_FAILURES, f.now);
	assert_int_equal(until - f.now, 4000 * MS);
	f.cfg.max_eject_ns = 5000 * MS;
	f.now = until;
	pias_outlier_readmit(&f.o, f.now);
	until = pias_outlier_eject(&f.cfg, &f.o, PIAS_OUTLIER_NO_REPLY, f.now);
	assert_int_equal(until - f.now, 5000 * MS);
	assert_int_equal(f.o.total, 3);
	assert_string_equal(pias_outlier_reason_name(f.o.reason), "no reply");
	/* in for max_eject_ns after its readmission: one ejection's time again */
	f.now = until;
	pias_outlier_readmit(&f.o, f.now);
	f.now += 5000 * MS;
	assert_int_equal(tick(&f, "a"), PIAS_OUTLIER_NONE);
	until = pias_outlier_eject(&f.cfg, &f.o, PIAS_OUTLIER_FAILURES, f.now);
	assert_int_equal(until - f.now, 2000 * MS);
}

static void totals_going_down_restart(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(tick(&f, "rrrr"), PIAS_OUTLIER_NONE);
	memset(&f.c, 0, sizeof(f.c)); /* the dataplane's entry cleared */
	f.now += TICK;
	assert_int_equal(pias_outlier_observe(&f.cfg, &f.o, &f.c, f.now), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "rrrr"), PIAS_OUTLIER_NONE);
	assert_int_equal(tick(&f, "r"), PIAS_OUTLIER_FAILURES);
}

static void max_out(void **state)
{
	struct pias_outlier_config cfg = { .max_percent = 50 };

	(void)state;
	assert_int_equal(pias_outlier_max_out(&cfg, 0), 0);
	assert_int_equal(pias_outlier_max_out(&cfg, 1), 0);
	assert_int_equal(pias_outlier_max_out(&cfg, 2), 1);
	assert_int_equal(pias_outlier_max_out(&cfg, 3), 1);
	assert_int_equal(pias_outlier_max_out(&cfg, 10), 5);
	cfg.max_percent = 100;
	assert_int_equal(pias_outlier_max_out(&cfg, 4), 3);
	cfg.max_percent = 10;
	assert_int_equal(pias_outlier_max_out(&cfg, 4), 1);
}

int test_outlier(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(failures_in_a_row),
		cmocka_unit_test(no_reply),
		cmocka_unit_test(eject_and_probation),
		cmocka_unit_test(totals_going_down_restart),
		cmocka_unit_test(max_out),
	};

	return cmocka_run_group_tests_name("outlier", tests, NULL, NULL);
}
