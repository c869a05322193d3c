// SPDX-License-Identifier: MIT
/*
 * The next-hop cache (pias_nh_cache, bpf/lib/fwd.h): the first frame to a
 * destination looks its route up, the next ones on the CPU take the cached
 * answer; a neighbour that changes (another MAC behind the JAP's address)
 * is followed within PIAS_NH_TTL_MS, and a flushed cache looks up at once.
 */
#include <string.h>
#include <time.h>

#include "world.h"

#define NEW_MAC "02:00:00:00:00:99"
#define TICK_MS 10 /* the coarse clock's resolution, with room (HZ 100 or more) */

static void sleep_ms(unsigned int ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&t, NULL);
}

/* A binding to the JAP on link 0 and one client flow to it: every frame goes out there. */
static void setup_flow(const struct tcase *tc, struct pkt *in, uint32_t *jap)
{
	struct pkt_spec s = client_spec(tc, 42000);
	struct pias_ta ta = ta_of_spec(&s);

	*jap = jap_id(tc->uf);
	/* its own MAC, whatever a failed test before left */
	assert_ok(netns_neigh_set(proxy_addr(*jap), NULL));
	assert_ok(pr_binding(&g_pr, &ta, *jap, 1, 0, 0));
	pkt_build(in, &s);
}

static void assert_dmac(const struct pr_result *res, const uint8_t mac[6])
{
	assert_memory_equal(res->out, mac, 6);
}

static void test_nh_cached_then_followed(void **state)
{
	const struct tcase *tc = *state;
	uint8_t old[6], new[6];
	struct pr_result res;
	uint32_t jap;
	struct pkt in;

	setup_flow(tc, &in, &jap);
	mac_of(proxy_addr(jap), old);
	assert_ok(pkt_mac(new, NEW_MAC));

	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	assert_counters("rx_packets=1 iap_binding_hit=1 fwd_tx=1 fwd_nh_cached=0");
	assert_dmac(&res, old);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	assert_counters("rx_packets=1 iap_flow_hit=1 fwd_tx=1 fwd_nh_cached=1");
	assert_dmac(&res, old);

	/* another host behind the JAP's address: the cache answers until it expires */
	assert_ok(netns_neigh_set(proxy_addr(jap), NEW_MAC));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_counters("rx_packets=1 iap_flow_hit=1 fwd_tx=1 fwd_nh_cached=1");
	assert_dmac(&res, old);
	sleep_ms(PIAS_NH_TTL_MS + TICK_MS);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	assert_counters("rx_packets=1 iap_flow_hit=1 fwd_tx=1 fwd_nh_cached=0");
	assert_dmac(&res, new);
	/* and the new answer is cached in turn */
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_counters("rx_packets=1 iap_flow_hit=1 fwd_tx=1 fwd_nh_cached=1");
	assert_dmac(&res, new);
	assert_ok(netns_neigh_set(proxy_addr(jap), NULL));
}

static void test_nh_flush(void **state)
{
	const struct tcase *tc = *state;
	struct pr_result res;
	uint32_t jap;
	struct pkt in;

	setup_flow(tc, &in, &jap);
	RUN(0, &in, &res);
	assert_ok(pr_nh_flush(&g_pr));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_TX);
	assert_counters("rx_packets=1 iap_flow_hit=1 fwd_tx=1 fwd_nh_cached=0");
}

int run_nh_cache_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_nh_cached_then_followed, W_FAMILIES),
		WTEST(test_nh_flush, W_FAMILIES),
	};

	return run_world_group("nh-cache", tests, sizeof(tests) / sizeof(tests[0]));
}
