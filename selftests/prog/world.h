/* SPDX-License-Identifier: MIT */
/*
 * The world every BPF_PROG_TEST_RUN test starts from: this proxy (id 1) in
 * the namespace of selftests/lib/netns.h, its configuration, the other
 * proxies, the anycast prefixes, and helpers that build the frames a test
 * sends and the frames it expects, and assert on them.
 *
 *   proxy  1  self   192.0.2.1 / 2001:db8:1::1 (link 0)  NAT 198.51.100.1 / 2001:db8:2::1
 *   proxy  2  RAP    192.0.2.2      (link 0)   12: 2001:db8:1::2 (link 0)
 *   proxy  3  JAP    192.0.2.3      (link 0)   13: 2001:db8:1::3 (link 0)
 *   proxy  4  JAP B  198.51.100.4   (link 1)   14: 2001:db8:2::4 (link 1)
 *   proxy  7  down   192.0.2.7
 *   proxy  8  unrouted 192.0.2.200             18: 2001:db8:ffff::1
 *   proxy  9  no neighbour 192.0.2.99
 *   clients 203.0.113.200, 2001:db8:c::200 behind the gateway on link 0
 *   anycast 203.0.113.0/25, 2001:db8:a::/48; TAs udp/53 and tcp/80 on .53/.80
 *   targets 10-12: 198.51.100.10-12 (link 1), 20-22: 2001:db8:2::10-12,
 *           15: 192.0.2.50 (link 0), 25: 2001:db8:1::50 (link 0)
 */
#ifndef PIAS_TEST_WORLD_H
#define PIAS_TEST_WORLD_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <linux/bpf.h>

#include "../lib/netns.h"
#include "../lib/pkt.h"
#include "../lib/progrun.h"

#define SELF	   1
#define IAP_FAR	   40 /* an IAP somewhere else, as named in tunnel headers */
#define TUN_PORT   6637
#define MTU	   1500
#define MSS4	   1400
#define MSS6	   1380
#define NAT_MIN	   20000
#define NAT_MAX	   29999

#define T_PORT_UDP 5353 /* targets listen elsewhere than the TA's port */
#define T_PORT_TCP 8080

extern struct progrun g_pr;
extern struct netns_env g_ns;
extern int g_loaded; /* pias_xdp loaded: the other groups can run */

/* One combination of client family, underlay family and transport. */
struct tcase {
	uint8_t cf;    /* client: PIAS_AF_INET or PIAS_AF_INET6 */
	uint8_t uf;    /* underlay between proxies */
	uint8_t proto; /* PKT_PROTO_UDP or PKT_PROTO_TCP */
};

/* Group setup shared by every group but the load test. */
int world_group_setup(void **state);
/* Test setup: empty maps, then this proxy's config, proxies and prefixes. */
int world_setup(void **state);
struct pias_config world_config(void);

/* Names of things in the plan above. */
const char *client_addr(uint8_t family);
const char *anycast_addr(uint8_t family, uint8_t proto);
uint16_t anycast_port(uint8_t proto);
const char *self_addr(uint8_t family);
const char *nat_addr(uint8_t family);
uint32_t rap_id(uint8_t uf);
uint32_t jap_id(uint8_t uf);   /* on link 0: XDP_TX from link 0 */
uint32_t jap_b_id(uint8_t uf); /* on link 1: XDP_REDIRECT from link 0 */
const char *proxy_addr(uint32_t id);
int proxy_link(uint32_t id);
/* Targets: ids 10-12 / 20-22 on link 1, 15 / 25 on link 0. */
uint32_t target_id(uint8_t family, int n);
const char *target_addr(uint32_t id);
int target_link(uint32_t id);
void mac_of(const char *addr, uint8_t mac[6]);
uint8_t family_of(const char *addr);

/* A client packet for tc, from the gateway's MAC to link 0. */
struct pkt_spec client_spec(const struct tcase *tc, uint16_t sport);
/* The TA of a spec's destination. */
struct pias_ta ta_of_spec(const struct pkt_spec *s);
struct pias_ta make_ta(uint8_t family, uint8_t proto);

/* A tunnel header as sent (fields as on the wire, host order ids). */
struct tunhdr {
	uint8_t kind, flags, hops;
	uint32_t iap, excl;
};

/* The frame this proxy must send to proxy 'to' carrying 'inner'. */
void expect_tunnel(struct pkt *out, const struct pkt_spec *inner, uint32_t to,
		   const struct tunhdr *h);
/* A tunnel frame from proxy 'from' to this proxy, arriving on from's link. */
void tunnel_from(struct pkt *out, const struct pkt_spec *inner, uint32_t from,
		 const struct tunhdr *h);
/* The IPv4 or IPv6 packet a spec describes, in a frame with these MACs. */
void reframe(struct pkt *out, const struct pkt_spec *s, const uint8_t dst[6], const uint8_t src[6]);

/* Runs a frame on link 'link'; fails the test if the syscall fails. */
#define RUN(link, p, res) run_frame(__FILE__, __LINE__, link, (p)->b, (p)->len, res)
void run_frame(const char *file, int line, int link, const void *data, size_t len,
	       struct pr_result *res);

#define assert_verdict(res, v)	  check_verdict(__FILE__, __LINE__, res, v)
#define assert_frame(res, exp)	  check_frame(__FILE__, __LINE__, res, (exp)->b, (exp)->len)
#define assert_unchanged(res, in) check_frame(__FILE__, __LINE__, res, (in)->b, (in)->len)
#define assert_counters(spec)	  check_counters(__FILE__, __LINE__, spec)
#define assert_csums(res)	  check_csums(__FILE__, __LINE__, res)
#define assert_ok(expr)		  check_ok(__FILE__, __LINE__, #expr, (int)(expr))
#define assert_nevents(n)	  check_nevents(__FILE__, __LINE__, n)
#define assert_event(i, type, iap, rap, jap, ta)                                                   \
	check_event(__FILE__, __LINE__, i, type, iap, rap, jap, ta)

void check_verdict(const char *file, int line, const struct pr_result *res, uint32_t v);
void check_frame(const char *file, int line, const struct pr_result *res, const void *exp,
		 size_t len);
void check_counters(const char *file, int line, const char *spec);
void check_csums(const char *file, int line, const struct pr_result *res);
void check_ok(const char *file, int line, const char *what, int rc);
void check_nevents(const char *file, int line, int n);
void check_event(const char *file, int line, int i, uint32_t type, uint32_t iap, uint32_t rap,
		 uint32_t jap, const struct pias_ta *ta);

/* bpf_ktime_get_ns() now, for binding deadlines. */
uint64_t mono_ns(void);
/* CLOCK_MONOTONIC_COARSE, the clock of pias_target_stats.last_reply_ns. */
uint64_t mono_coarse_ns(void);

/* How a test is instantiated: once, or once per combination of families. */
enum wmatrix {
	W_ONCE,	    /* state is NULL */
	W_ALL,	    /* client x underlay family x TCP/UDP: 8 runs */
	W_CLIENT,   /* client family x TCP/UDP, underlay IPv4: 4 runs */
	W_FAMILIES, /* client x underlay family, UDP: 4 runs */
};

struct wtest {
	const char *name;
	CMUnitTestFunction fn;
	enum wmatrix matrix;
};

/* Runs tests in the world (world_setup before each); cmocka's failure count. */
int run_world_group(const char *group, const struct wtest *tests, int n);
#define WTEST(fn, m)                                                                               \
	{                                                                                          \
#fn, fn, m                                                                         \
	}

/*
 * Runs fn once per row of a table, each a test named by the row (rows start
 * with a const char *name), with setup before each and the row as state.
 */
int run_table_group(const char *group, CMUnitTestFunction fn, const void *rows, size_t row_size,
		    size_t n, CMFixtureFunction setup);

/* Test groups, one per file. Each returns cmocka's failure count. */
int run_load_tests(void);
int run_iap_tests(void);
int run_rap_tests(void);
int run_jap_tests(void);
int run_policy_tests(void);
int run_jap_tunnel_tests(void);
int run_reverse_tests(void);
int run_slot_tests(void);
int run_map_many_tests(void);
int run_nh_cache_tests(void);
int run_anycast_tests(void);
int run_conntrack_tests(void);
int run_mtu_tests(void);
int run_local_tests(void);
int run_echo_tests(void);
int run_malformed_tests(void);
int run_target_tests(void);   /* bpf/target.bpf.c, not pias_xdp */
int run_xdp_fuzz_tests(void); /* mutations of forwarded frames */
int run_tset_tests(void);

#endif
