// SPDX-License-Identifier: MIT
/* lib/events: one line per event, as scripts grep for it. */
#include <string.h>

#include "events.h"
#include "addr.h"
#include "unit.h"

static void format(void **state)
{
	struct pias_event ev;
	char line[160];

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.type = PIAS_EV_BOUND;
	ev.iap_id = 1;
	ev.rap_id = 2;
	ev.jap_id = 3;
	assert_int_equal(pias_ta_parse("udp:203.0.113.10:53", &ev.ta, NULL), 0);
	assert_string_equal(pias_event_format(&ev, line, sizeof(line)),
			    "bound iap=1 rap=2 jap=3 ta=udp:203.0.113.10:53");
	ev.type = PIAS_EV_INVALIDATE;
	assert_int_equal(pias_ta_parse("tcp:[2001:db8:a::1]:80", &ev.ta, NULL), 0);
	assert_string_equal(pias_event_format(&ev, line, sizeof(line)),
			    "invalidate iap=1 rap=2 jap=3 ta=tcp:[2001:db8:a::1]:80");
	ev.type = 99;
	assert_msg_has(pias_event_format(&ev, line, sizeof(line)), "type99 iap=1");
}

static void names(void **state)
{
	(void)state;
	assert_string_equal(pias_event_type_name(PIAS_EV_MISS), "miss");
	assert_string_equal(pias_event_type_name(PIAS_EV_BOUND), "bound");
	assert_string_equal(pias_event_type_name(PIAS_EV_NO_GROUP), "no_group");
	assert_string_equal(pias_event_type_name(PIAS_EV_INVALIDATE), "invalidate");
	assert_null(pias_event_type_name(0));
	assert_null(pias_event_type_name(PIAS_EV_MAX + 1));
}

int test_events(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format),
		cmocka_unit_test(names),
	};

	return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
