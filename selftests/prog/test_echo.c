// SPDX-License-Identifier: MIT
/*
 * Dataplane echo (docs/protocol.md section 1, "Echo"): a known proxy's
 * kind 7 with its tag is answered by the XDP program itself, addresses and
 * ports swapped, as kind 8 with our tag for it and the body untouched; a
 * kind 8 goes up to piasd. And what a proxy in DP_ONLY state (its piasd
 * gone, its dataplane answering) gets: its pinned flows, nothing new.
 */
#include <string.h>

#include "world.h"

#define ECHO_SPORT 6637 /* piasd sends from its own tunnel port */

static const uint8_t body[PIAS_ECHO_BODY_LEN] = "0123456789abcdef";

/* An echo frame of kind between proxy 'peer' and this proxy, either way. */
static void echo_frame(struct pkt *out, uint32_t peer, uint8_t kind, int to_peer, uint64_t tag,
		       size_t body_len)
{
	const char *pa = proxy_addr(peer);
	struct pkt_tun t;
	uint8_t pmac[6];
	int link = proxy_link(peer);

	memset(&t, 0, sizeof(t));
	t.family = family_of(pa);
	t.src = pkt_addr(to_peer ? self_addr(t.family) : pa);
	t.dst = pkt_addr(to_peer ? pa : self_addr(t.family));
	t.sport = to_peer ? TUN_PORT : ECHO_SPORT;
	t.dport = to_peer ? ECHO_SPORT : TUN_PORT;
	t.version = PIAS_TUN_VERSION;
	t.kind = kind;
	t.hops = 1;
	t.iap_id = peer; /* the asking proxy names itself and the one asked */
	t.excl_jap = SELF;
	t.tag = tag;
	mac_of(pa, pmac);
	if (to_peer)
		out->len = pkt_tunnel_frame(&t, pmac, g_ns.mac[link], body, body_len, out->b,
					    sizeof(out->b));
	else
		out->len = pkt_tunnel_frame(&t, g_ns.mac[link], pmac, body, body_len, out->b,
					    sizeof(out->b));
	assert_true(out->len > 0);
}

/* Proxy 2 (IPv4 underlay) or 12 (IPv6) asks; we answer, as it was. */
static void test_echo_answered(void **state)
{
	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		uint32_t peer = v6 ? 12 : 2;
		struct pkt in, exp;
		struct pr_result res;

		echo_frame(&in, peer, PIAS_KIND_ECHO_REQUEST, 0, pr_tag(peer, SELF), sizeof(body));
		echo_frame(&exp, peer, PIAS_KIND_ECHO_REPLY, 1, pr_tag(SELF, peer), sizeof(body));
		assert_ok(pr_zero_counters(&g_pr));
		RUN(proxy_link(peer), &in, &res);
		assert_verdict(&res, XDP_TX);
		assert_frame(&res, &exp);
		assert_csums(&res);
		assert_counters("rx_packets=1 echo_answered=1 fwd_tx=1");
	}
}

/* A proxy whose piasd thinks we are dead still gets its answer: any state. */
static void test_echo_from_down_proxy(void **state)
{
	struct pkt in;
	struct pr_result res;

	(void)state;
	assert_ok(pr_proxy_state(&g_pr, 2, PIAS_PROXY_DOWN));
	echo_frame(&in, 2, PIAS_KIND_ECHO_REQUEST, 0, pr_tag(2, SELF), sizeof(body));
	RUN(proxy_link(2), &in, &res);
	assert_verdict(&res, XDP_TX);
	assert_counters("rx_packets=1 echo_answered=1 fwd_tx=1");
}

/* Forged (no tag of ours) or malformed: dropped, counted, never answered. */
static void test_echo_refused(void **state)
{
	struct pkt in;
	struct pr_result res;

	(void)state;
	echo_frame(&in, 2, PIAS_KIND_ECHO_REQUEST, 0, 0, sizeof(body));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 tunnel_bad_tag=1");

	echo_frame(&in, 2, PIAS_KIND_ECHO_REQUEST, 0, pr_tag(2, SELF), sizeof(body) - 1);
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 bad_l4_header=1");

	echo_frame(&in, 2, PIAS_KIND_ECHO_REPLY, 0, pr_tag(7, SELF), sizeof(body));
	assert_ok(pr_zero_counters(&g_pr));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_DROP);
	assert_counters("rx_packets=1 tunnel_bad_tag=1");
}

/* An answer to our own echo goes up to piasd untouched. */
static void test_echo_reply_up(void **state)
{
	struct pkt in;
	struct pr_result res;

	(void)state;
	echo_frame(&in, 2, PIAS_KIND_ECHO_REPLY, 0, pr_tag(2, SELF), sizeof(body));
	RUN(0, &in, &res);
	assert_verdict(&res, XDP_PASS);
	assert_unchanged(&res, &in);
	assert_counters("rx_packets=1 echo_reply_up=1");
}

int run_echo_tests(void)
{
	const struct wtest tests[] = {
		WTEST(test_echo_answered, W_ONCE),
		WTEST(test_echo_from_down_proxy, W_ONCE),
		WTEST(test_echo_refused, W_ONCE),
		WTEST(test_echo_reply_up, W_ONCE),
	};

	return run_world_group("echo", tests, sizeof(tests) / sizeof(tests[0]));
}
