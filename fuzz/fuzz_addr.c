// SPDX-License-Identifier: MIT
/*
 * Address, prefix, endpoint and TA parsing (lib/addr.c): whatever parses
 * prints to a form that parses back to the same value, and a parsed TA
 * passes pias_ta_check.
 */
#include <string.h>

#include "addr.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size), buf[PIAS_ADDR_STRLEN];
	union pias_addr a = {}, a2 = {};
	struct pias_net n = {}, n2 = {};
	struct pias_ta t = {}, t2 = {};
	struct pias_err e;
	__u8 f = 0, f2 = 0;
	__u16 p = 0, p2 = 0;

	if (!pias_addr_parse(s, &a, &f, &e)) {
		pias_addr_str(&a, f, buf, sizeof(buf));
		FUZZ_CHECK(!pias_addr_parse(buf, &a2, &f2, &e) && f == f2 &&
				   !memcmp(&a, &a2, sizeof(a)),
			   "address '%s' printed as '%s'", s, buf);
	}
	if (!pias_net_parse(s, &n, &e)) {
		pias_net_str(&n, buf, sizeof(buf));
		FUZZ_CHECK(!pias_net_parse(buf, &n2, &e) && !memcmp(&n, &n2, sizeof(n)),
			   "prefix '%s' printed as '%s'", s, buf);
	}
	if (!pias_endpoint_parse(s, &a, &f, &p, &e)) {
		pias_endpoint_str(&a, f, p, buf, sizeof(buf));
		FUZZ_CHECK(!pias_endpoint_parse(buf, &a2, &f2, &p2, &e) && f == f2 && p == p2 &&
				   !memcmp(&a, &a2, sizeof(a)),
			   "endpoint '%s' printed as '%s'", s, buf);
		FUZZ_CHECK(p != 0, "endpoint '%s' with port 0", s);
	}
	if (!pias_ta_parse(s, &t, &e)) {
		FUZZ_CHECK(!pias_ta_check(&t, &e), "TA '%s' parsed but fails its check: %s", s,
			   e.msg);
		pias_ta_str(&t, buf, sizeof(buf));
		FUZZ_CHECK(!pias_ta_parse(buf, &t2, &e) && !memcmp(&t, &t2, sizeof(t)),
			   "TA '%s' printed as '%s'", s, buf);
	}
	free(s);
	return 0;
}
