// SPDX-License-Identifier: MIT
/*
 * Group slots (include/pias/maps.h, lib/map_slot.c): a group's counters sit
 * at the slot its binding, RAP group or target set took; flow and
 * connection entries carry the slot, so no packet looks its group's
 * counters up by TA; the slot goes back when the last role lets go of the
 * group, and a slot taken again starts from zero. Each CPU counts in its
 * own stripe of pias_grp_count; readers sum the stripes.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "jap_util.h"

static const struct tcase udp4 = { PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP };

static uint16_t slot_of(const struct pias_ta *ta)
{
	return pias_group_slot_of(&g_pr.maps, ta);
}

/* The TA of tc's group on another port: a second group. */
static struct pias_ta other_ta(const struct pias_ta *ta)
{
	struct pias_ta t = *ta;

	t.port = (uint16_t)(t.port + 1);
	return t;
}

static void test_slot_shared_then_released(void **state)
{
	struct pkt_spec s = client_spec(&udp4, 41000);
	struct pias_ta ta = ta_of_spec(&s), ta2 = other_ta(&ta), name;
	const struct pias_group_jap japs[] = { { jap_id(PIAS_AF_INET), 1 } };
	const uint32_t tid = target_id(PIAS_AF_INET, 0);
	struct pias_err e;
	uint16_t slot;

	(void)state;
	assert_int_equal(slot_of(&ta), 0);
	assert_ok(pr_binding(&g_pr, &ta, jap_id(PIAS_AF_INET), 1, 0, 0));
	slot = slot_of(&ta);
	assert_true(slot > 0);
	/* the same group in every role: one slot */
	assert_ok(pr_group(&g_pr, &ta, japs, 1));
	assert_ok(pr_target(&g_pr, tid, target_addr(tid), T_PORT_UDP, PIAS_TARGET_ACTIVE, 1));
	assert_ok(pr_target_set(&g_pr, &ta, &tid, 1));
	assert_int_equal(slot_of(&ta), slot);
	/* another group: another slot */
	assert_ok(pr_binding(&g_pr, &ta2, jap_id(PIAS_AF_INET), 1, 0, 0));
	assert_true(slot_of(&ta2) > 0);
	assert_int_not_equal(slot_of(&ta2), slot);

	/* kept while any role holds the group */
	assert_ok(pias_binding_del(&g_pr.maps, &ta, &e));
	assert_int_equal(slot_of(&ta), slot);
	assert_ok(pias_group_del(&g_pr.maps, &ta, &e));
	assert_int_equal(slot_of(&ta), slot);
	assert_ok(pias_tgtset_del(&g_pr.maps, &ta, &e));
	/* ... and given back with the last: its name in pias_grp_names too */
	assert_int_equal(slot_of(&ta), 0);
	assert_ok(pias_map_lookup(&g_pr.maps, PIAS_M_GROUP_NAMES, &(uint32_t){ slot }, &name, &e));
	assert_int_equal(name.proto, 0);
	assert_true(slot_of(&ta2) > 0);
}

/* A binding hit and the flow hits after it count at the binding's slot. */
static void test_slot_iap_flow(void **state)
{
	const struct tcase *tc = *state;
	struct pkt_spec s = client_spec(tc, 41001);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_flow flow = pkt_spec_flow(&s);
	struct pias_flow_entry fe;
	struct pias_group_stats gs;
	struct pr_result res;
	struct pkt in;

	assert_ok(pr_binding(&g_pr, &ta, jap_id(tc->uf), 1, 0, 0));
	pkt_build(&in, &s);
	for (int i = 0; i < 3; i++) {
		RUN(0, &in, &res);
		assert_verdict(&res, XDP_TX);
	}
	assert_ok(pr_flow_get(&g_pr, &flow, &fe));
	assert_int_equal(fe.slot, slot_of(&ta));
	assert_ok(pr_group_stats(&g_pr, &ta, &gs));
	assert_int_equal(gs.iap_packets, 3);
	assert_int_equal(gs.iap_bytes, 3 * (in.len - PKT_ETH_HLEN));
}

/* A connection carries its set's slot both ways; hits and replies count there. */
static void test_slot_jap_conn(void **state)
{
	const struct tcase *tc = *state;
	uint32_t tid = target_id(tc->cf, 0);
	struct pkt_spec c = jap_inner(tc, 41002);
	struct pias_ta ta = ta_of_spec(&c);
	uint16_t port = open_conn(tc, &c, tid);
	struct pias_flow flow = pkt_spec_flow(&c);
	struct pias_flow rk = rev_key_of(&c, tid, target_port(tc->proto), port);
	struct pkt_spec r = reply_of(&c, tid, port, PKT_TCP_ACK);
	struct pias_conn_rev rv;
	struct pias_group_stats gs;
	struct pias_conn conn;
	struct pr_result res;
	struct pkt in;

	assert_true(slot_of(&ta) > 0);
	assert_ok(pr_conn_get(&g_pr, &flow, &conn));
	assert_int_equal(conn.slot, slot_of(&ta));
	assert_ok(pr_conn_rev_get(&g_pr, &rk, &rv));
	assert_int_equal(rv.slot, slot_of(&ta));
	pkt_build(&in, &r);
	RUN(target_link(tid), &in, &res);
	assert_counters("rx_packets=1 rev_translated=1 fwd_redirect=1");
	assert_ok(pr_group_stats(&g_pr, &ta, &gs));
	assert_int_equal(gs.jap_packets, 1); /* open_conn's packet */
	assert_int_equal(gs.rev_packets, 1);
}

/* A slot given back and taken by another group starts that group from zero. */
static void test_slot_reused_from_zero(void **state)
{
	struct pkt_spec s = client_spec(&udp4, 41003);
	struct pias_ta ta = ta_of_spec(&s), ta2 = other_ta(&ta);
	struct pias_group_stats gs;
	struct pr_result res;
	struct pias_err e;
	struct pkt in;
	uint16_t slot;

	(void)state;
	assert_ok(pr_binding(&g_pr, &ta, jap_id(PIAS_AF_INET), 1, 0, 0));
	slot = slot_of(&ta);
	pkt_build(&in, &s);
	RUN(0, &in, &res);
	assert_ok(pr_group_stats(&g_pr, &ta, &gs));
	assert_int_equal(gs.iap_packets, 1);
	assert_ok(pias_binding_del(&g_pr.maps, &ta, &e));
	/* the search would come round to it last; send it there at once */
	g_pr.maps.slot_next = slot;
	assert_ok(pr_binding(&g_pr, &ta2, jap_id(PIAS_AF_INET), 1, 0, 0));
	assert_int_equal(slot_of(&ta2), slot);
	assert_ok(pr_group_stats(&g_pr, &ta2, &gs));
	assert_int_equal(gs.iap_packets, 0);
	assert_int_equal(gs.iap_bytes, 0);
}

/*
 * Packets counted on every CPU this test may use land in each CPU's own
 * stripe, and the reader's figure is their sum.
 */
static void test_slot_counts_per_cpu(void **state)
{
	struct pkt_spec s = client_spec(&udp4, 41004);
	struct pias_ta ta = ta_of_spec(&s);
	struct pias_group_stats gs;
	struct pr_result res;
	cpu_set_t allowed, one;
	int cpus = 0, runs = 0;
	uint16_t slot;
	struct pkt in;

	(void)state;
	assert_ok(pr_binding(&g_pr, &ta, jap_id(PIAS_AF_INET), 1, 0, 0));
	slot = slot_of(&ta);
	pkt_build(&in, &s);
	/* progrun pinned us to one CPU: visit every CPU that takes us, then go back */
	assert_ok(sched_getaffinity(0, sizeof(allowed), &allowed));
	for (int cpu = 0; cpu < g_pr.maps.ncpus && cpu < CPU_SETSIZE; cpu++) {
		const struct pias_count *c;

		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue; /* offline */
		/* cpu + 1 packets here: each stripe's count tells the CPUs apart */
		for (int i = 0; i <= cpu; i++, runs++)
			RUN(0, &in, &res);
		c = &g_pr.maps.counts[PIAS_GROUP_COUNT_KEY(cpu, PIAS_ROLE_IAP, slot)];
		assert_int_equal(c->packets, cpu + 1);
		assert_int_equal(c->bytes, (cpu + 1) * (in.len - PKT_ETH_HLEN));
		cpus++;
	}
	assert_ok(sched_setaffinity(0, sizeof(allowed), &allowed));
	assert_true(cpus >= 1);
	if (cpus < 2)
		fprintf(stderr, "  note: one CPU online, the sum over stripes is not tested\n");
	assert_ok(pr_group_stats(&g_pr, &ta, &gs));
	assert_int_equal(gs.iap_packets, runs);
	assert_int_equal(gs.iap_bytes, runs * (in.len - PKT_ETH_HLEN));
}

int run_slot_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_slot_shared_then_released, W_ONCE),
		WTEST(test_slot_iap_flow, W_FAMILIES),
		WTEST(test_slot_jap_conn, W_FAMILIES),
		WTEST(test_slot_reused_from_zero, W_ONCE),
		WTEST(test_slot_counts_per_cpu, W_ONCE),
	};

	return run_world_group("slots", tests, sizeof(tests) / sizeof(tests[0]));
}
