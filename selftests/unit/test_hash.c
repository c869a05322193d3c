// SPDX-License-Identifier: MIT
/*
 * include/pias/hash.h is compiled into the BPF program and into user space;
 * both must compute the same values, or the daemon and the dataplane would
 * disagree on a group's RAP slot. These fixed inputs and outputs pin the
 * functions down: a change to them shows up here and must be deliberate
 * (and made on both sides). The BPF side is checked by the prog tests.
 */
#include <string.h>

#include <pias/hash.h>

#include "addr.h"
#include "ring.h"
#include "unit.h"

/* The murmur3 finalizer's published value fmix32(1): an outside anchor. */
static void final_is_murmur3(void **state)
{
	(void)state;
	assert_int_equal(pias_final(1, 0), 0x514e28b7u);
	assert_int_equal(pias_final(0, 0), 0);
}

static void ta_hash_fixed(void **state)
{
	struct pias_ta ta;

	(void)state;
	assert_int_equal(pias_ta_parse("udp:203.0.113.10:53", &ta, NULL), 0);
	assert_int_equal(pias_ta_hash(&ta), 0x87dad3d0u);
	assert_int_equal(pias_rap_slot_of(&ta), 0xad3d0); /* the hash's low 20 bits */
	assert_int_equal(pias_ta_parse("tcp:[2001:db8:a::1]:80", &ta, NULL), 0);
	assert_int_equal(pias_ta_hash(&ta), 0xfcefb2bcu);
	assert_int_equal(pias_rap_slot_of(&ta), 0xfb2bc);
}

static void flow_hash_fixed(void **state)
{
	struct pias_flow f;
	__u8 fam;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(pias_addr_parse("192.0.2.10", &f.saddr, &fam, NULL), 0);
	assert_int_equal(pias_addr_parse("203.0.113.10", &f.daddr, &fam, NULL), 0);
	f.sport = 40000;
	f.dport = 53;
	f.proto = PIAS_PROTO_UDP;
	f.family = PIAS_AF_INET;
	assert_int_equal(pias_flow_hash(&f), 0x7b8873c2u);

	memset(&f, 0, sizeof(f));
	assert_int_equal(pias_addr_parse("2001:db8:c::10", &f.saddr, &fam, NULL), 0);
	assert_int_equal(pias_addr_parse("2001:db8:a::1", &f.daddr, &fam, NULL), 0);
	f.sport = 51000;
	f.dport = 80;
	f.proto = PIAS_PROTO_TCP;
	f.family = PIAS_AF_INET6;
	assert_int_equal(pias_flow_hash(&f), 0x8cdc2469u);
}

/* Every field takes part: a flow differing in one of them hashes elsewhere. */
static void flow_hash_uses_every_field(void **state)
{
	struct pias_flow a, b;
	__u8 fam;

	(void)state;
	memset(&a, 0, sizeof(a));
	pias_addr_parse("192.0.2.10", &a.saddr, &fam, NULL);
	pias_addr_parse("203.0.113.10", &a.daddr, &fam, NULL);
	a.sport = 40000;
	a.dport = 53;
	a.proto = PIAS_PROTO_UDP;
	a.family = PIAS_AF_INET;
	b = a;
	b.sport++;
	assert_int_not_equal(pias_flow_hash(&a), pias_flow_hash(&b));
	b = a;
	b.dport++;
	assert_int_not_equal(pias_flow_hash(&a), pias_flow_hash(&b));
	b = a;
	b.proto = PIAS_PROTO_TCP;
	assert_int_not_equal(pias_flow_hash(&a), pias_flow_hash(&b));
	b = a;
	b.saddr.bytes[3]++;
	assert_int_not_equal(pias_flow_hash(&a), pias_flow_hash(&b));
	b = a;
	b.daddr.bytes[3]++;
	assert_int_not_equal(pias_flow_hash(&a), pias_flow_hash(&b));
}

/*
 * The ring's points and slot keys: every proxy fills its RAP table from
 * them, so proxies of two builds that differ here disagree on groups' RAPs.
 */
static void ring_point_fixed(void **state)
{
	(void)state;
	assert_int_equal(pias_ring_point_hash(1, 0), 0xce83ed57u);
	assert_int_equal(pias_ring_point_hash(131071, 159), 0xa67c86a9u);
	assert_int_equal(pias_ring_slot_key(0), 0x800u);
	assert_int_equal(pias_ring_slot_key(PIAS_RAP_SLOTS - 1), 0xfffff800u);
}

int test_hash(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(final_is_murmur3), cmocka_unit_test(ta_hash_fixed),
		cmocka_unit_test(flow_hash_fixed),  cmocka_unit_test(flow_hash_uses_every_field),
		cmocka_unit_test(ring_point_fixed),
	};

	return cmocka_run_group_tests_name("hash", tests, NULL, NULL);
}
