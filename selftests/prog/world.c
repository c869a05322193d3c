// SPDX-License-Identifier: MIT
/* The common world of the BPF_PROG_TEST_RUN tests (see world.h). */
#include "world.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct progrun g_pr;
struct netns_env g_ns;
int g_loaded;

struct proxy_def {
	uint32_t id;
	const char *addr;
	int link; /* -1: no route or no neighbour */
	uint8_t state;
};

static const struct proxy_def proxies[] = {
	{ SELF, "192.0.2.1", 0, PIAS_PROXY_UP },       { 2, "192.0.2.2", 0, PIAS_PROXY_UP },
	{ 3, "192.0.2.3", 0, PIAS_PROXY_UP },	       { 4, "198.51.100.4", 1, PIAS_PROXY_UP },
	{ 7, "192.0.2.7", 0, PIAS_PROXY_DOWN },	       { 8, "192.0.2.200", -1, PIAS_PROXY_UP },
	{ 9, "192.0.2.99", -1, PIAS_PROXY_UP },	       { 12, "2001:db8:1::2", 0, PIAS_PROXY_UP },
	{ 13, "2001:db8:1::3", 0, PIAS_PROXY_UP },     { 14, "2001:db8:2::4", 1, PIAS_PROXY_UP },
	{ 18, "2001:db8:ffff::1", -1, PIAS_PROXY_UP },
};

struct target_def {
	uint32_t id;
	const char *addr;
	int link;
};

static const struct target_def targets[] = {
	{ 10, "198.51.100.10", 1 },  { 11, "198.51.100.11", 1 },  { 12, "198.51.100.12", 1 },
	{ 15, "192.0.2.50", 0 },     { 20, "2001:db8:2::10", 1 }, { 21, "2001:db8:2::11", 1 },
	{ 22, "2001:db8:2::12", 1 }, { 25, "2001:db8:1::50", 0 },
};

uint64_t mono_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct pias_config world_config(void)
{
	struct pias_config c;

	memset(&c, 0, sizeof(c));
	c.self_id = SELF;
	c.tunnel_port = TUN_PORT;
	c.underlay_mtu = MTU;
	c.tcp_mss4 = MSS4;
	c.tcp_mss6 = MSS6;
	c.nat_port_min = NAT_MIN;
	c.nat_port_max = NAT_MAX;
	c.event_interval_ms = 1000;
	c.icmp_rate = 1000;
	c.self4 = pkt_a4("192.0.2.1");
	c.self6 = pkt_a6("2001:db8:1::1");
	c.nat4 = pkt_a4("198.51.100.1");
	c.nat6 = pkt_a6("2001:db8:2::1");
	return c;
}

int world_group_setup(void **state)
{
	(void)state;
	if (!g_loaded) {
		fprintf(stderr, "pias_xdp did not load (see the load group): nothing to run\n");
		return -1;
	}
	return 0;
}

int world_setup(void **state)
{
	struct pias_config cfg = world_config();

	(void)state;
	if (pr_reset(&g_pr))
		return -1;
	if (pr_config(&g_pr, &cfg))
		return -1;
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		if (pr_proxy(&g_pr, proxies[i].id, proxies[i].addr, proxies[i].state))
			return -1;
	if (pr_prefix(&g_pr, "203.0.113.0/25") || pr_prefix(&g_pr, "2001:db8:a::/48"))
		return -1;
	return 0;
}

/* ---- names -------------------------------------------------------------- */

const char *client_addr(uint8_t family)
{
	return family == PIAS_AF_INET ? "203.0.113.200" : "2001:db8:c::200";
}

const char *anycast_addr(uint8_t family, uint8_t proto)
{
	if (family == PIAS_AF_INET)
		return proto == PKT_PROTO_TCP ? "203.0.113.80" : "203.0.113.53";
	return proto == PKT_PROTO_TCP ? "2001:db8:a::80" : "2001:db8:a::53";
}

uint16_t anycast_port(uint8_t proto)
{
	return proto == PKT_PROTO_TCP ? 80 : 53;
}

const char *self_addr(uint8_t family)
{
	return family == PIAS_AF_INET ? "192.0.2.1" : "2001:db8:1::1";
}

const char *nat_addr(uint8_t family)
{
	return family == PIAS_AF_INET ? "198.51.100.1" : "2001:db8:2::1";
}

uint32_t rap_id(uint8_t uf)
{
	return uf == PIAS_AF_INET ? 2 : 12;
}

uint32_t jap_id(uint8_t uf)
{
	return uf == PIAS_AF_INET ? 3 : 13;
}

uint32_t jap_b_id(uint8_t uf)
{
	return uf == PIAS_AF_INET ? 4 : 14;
}

static const struct proxy_def *proxy_def(uint32_t id)
{
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		if (proxies[i].id == id)
			return &proxies[i];
	fail_msg("proxy %u is not in the world", id);
	return NULL;
}

const char *proxy_addr(uint32_t id)
{
	return proxy_def(id)->addr;
}

int proxy_link(uint32_t id)
{
	return proxy_def(id)->link;
}

uint32_t target_id(uint8_t family, int n)
{
	return (family == PIAS_AF_INET ? 10 : 20) + (uint32_t)n;
}

static const struct target_def *target_def(uint32_t id)
{
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		if (targets[i].id == id)
			return &targets[i];
	fail_msg("target %u is not in the world", id);
	return NULL;
}

const char *target_addr(uint32_t id)
{
	return target_def(id)->addr;
}

int target_link(uint32_t id)
{
	return target_def(id)->link;
}

void mac_of(const char *addr, uint8_t mac[6])
{
	if (netns_neigh_mac(addr, mac))
		fail_msg("%s has no neighbour entry in the netns plan", addr);
}

uint8_t family_of(const char *addr)
{
	return strchr(addr, ':') ? PIAS_AF_INET6 : PIAS_AF_INET;
}

struct pkt_spec client_spec(const struct tcase *tc, uint16_t sport)
{
	struct pkt_spec s;
	uint8_t gw[6];

	if (tc->proto == PKT_PROTO_TCP)
		s = pkt_tcp(client_addr(tc->cf), sport, anycast_addr(tc->cf, tc->proto),
			    anycast_port(tc->proto), PKT_TCP_ACK | PKT_TCP_PSH);
	else
		s = pkt_udp(client_addr(tc->cf), sport, anycast_addr(tc->cf, tc->proto),
			    anycast_port(tc->proto), 0);
	/* some payload, so lengths and byte counters are not trivially equal */
	s.payload_len = 100;
	mac_of(family_of(client_addr(tc->cf)) == PIAS_AF_INET ? "192.0.2.126" : "2001:db8:1::fe",
	       gw);
	pkt_set_macs(&s, g_ns.mac[0], gw);
	return s;
}

struct pias_ta ta_of_spec(const struct pkt_spec *s)
{
	return pkt_spec_ta(s);
}

struct pias_ta make_ta(uint8_t family, uint8_t proto)
{
	struct pias_ta ta;

	memset(&ta, 0, sizeof(ta));
	ta.addr = pkt_addr(anycast_addr(family, proto));
	ta.port = anycast_port(proto);
	ta.proto = proto;
	ta.family = family;
	return ta;
}

void expect_tunnel(struct pkt *out, const struct pkt_spec *inner, uint32_t to,
		   const struct tunhdr *h)
{
	const char *dst = proxy_addr(to);
	struct pkt in;
	struct pkt_tun t;
	uint8_t dmac[6];
	int link = proxy_link(to);

	pkt_build_ip(&in, inner);
	memset(&t, 0, sizeof(t));
	t.family = family_of(dst);
	t.src = pkt_addr(self_addr(t.family));
	t.dst = pkt_addr(dst);
	t.dport = TUN_PORT;
	t.version = PIAS_TUN_VERSION;
	t.kind = h->kind;
	t.flags = h->flags;
	t.hops = h->hops;
	t.iap_id = h->iap;
	t.excl_jap = h->excl;
	t.tag = pr_tag(SELF, to);
	if (link < 0) {
		/* unrouted: the MACs are whatever the frame arrived with */
		memcpy(dmac, inner->eth_dst, 6);
		out->len = pkt_tunnel_frame(&t, dmac, inner->eth_src, in.b, in.len, out->b,
					    sizeof(out->b));
	} else {
		mac_of(dst, dmac);
		out->len = pkt_tunnel_frame(&t, dmac, g_ns.mac[link], in.b, in.len, out->b,
					    sizeof(out->b));
	}
	if (!out->len)
		fail_msg("cannot build the expected tunnel frame");
}

void tunnel_from(struct pkt *out, const struct pkt_spec *inner, uint32_t from,
		 const struct tunhdr *h)
{
	const char *src = proxy_addr(from);
	struct pkt in;
	struct pkt_tun t;
	uint8_t smac[6];
	int link = proxy_link(from);

	pkt_build_ip(&in, inner);
	memset(&t, 0, sizeof(t));
	t.family = family_of(src);
	t.src = pkt_addr(src);
	t.dst = pkt_addr(self_addr(t.family));
	t.dport = TUN_PORT;
	t.version = PIAS_TUN_VERSION;
	t.kind = h->kind;
	t.flags = h->flags;
	t.hops = h->hops;
	t.iap_id = h->iap;
	t.excl_jap = h->excl;
	t.tag = pr_tag(from, SELF);
	mac_of(src, smac);
	out->len = pkt_tunnel_frame(&t, g_ns.mac[link < 0 ? 0 : link], smac, in.b, in.len, out->b,
				    sizeof(out->b));
	if (!out->len)
		fail_msg("cannot build the tunnel frame");
}

void reframe(struct pkt *out, const struct pkt_spec *s, const uint8_t dst[6], const uint8_t src[6])
{
	struct pkt_spec c = *s;

	pkt_set_macs(&c, dst, src);
	pkt_build(out, &c);
}

/* ---- checks ------------------------------------------------------------- */

void run_frame(const char *file, int line, int link, const void *data, size_t len,
	       struct pr_result *res)
{
	int rc = pr_run(&g_pr, g_ns.ifindex[link], data, len, res);

	if (rc) {
		fprintf(stderr, "BPF_PROG_TEST_RUN failed: %s\n", strerror(-rc));
		_fail(file, line);
	}
}

void check_verdict(const char *file, int line, const struct pr_result *res, uint32_t v)
{
	if (res->verdict == v)
		return;
	fprintf(stderr, "verdict: expected %s, got %s\n", pr_verdict_name(v),
		pr_verdict_name(res->verdict));
	pr_print_counters(&g_pr);
	_fail(file, line);
}

void check_frame(const char *file, int line, const struct pr_result *res, const void *exp,
		 size_t len)
{
	if (!pkt_diff("output frame", exp, len, res->out, res->len))
		return;
	_fail(file, line);
}

void check_counters(const char *file, int line, const char *spec)
{
	if (!pr_expect_counters(&g_pr, spec))
		return;
	_fail(file, line);
}

void check_csums(const char *file, int line, const struct pr_result *res)
{
	char why[160];

	if (!pkt_verify(res->out, res->len, why, sizeof(why)))
		return;
	fprintf(stderr, "checksum: %s\n", why);
	pkt_dump("frame", res->out, res->len);
	_fail(file, line);
}

void check_ok(const char *file, int line, const char *what, int rc)
{
	if (!rc)
		return;
	fprintf(stderr, "%s failed: %d (%s)\n", what, rc, rc < 0 ? strerror(-rc) : "");
	_fail(file, line);
}

void check_nevents(const char *file, int line, int n)
{
	if (g_pr.nev == n)
		return;
	fprintf(stderr, "events: expected %d, got %d\n", n, g_pr.nev);
	for (int i = 0; i < g_pr.nev && i < PR_MAX_EVENTS; i++)
		fprintf(stderr, "  event %d: type %u iap %u rap %u jap %u\n", i, g_pr.ev[i].type,
			g_pr.ev[i].iap_id, g_pr.ev[i].rap_id, g_pr.ev[i].jap_id);
	_fail(file, line);
}

void check_event(const char *file, int line, int i, uint32_t type, uint32_t iap, uint32_t rap,
		 uint32_t jap, const struct pias_ta *ta)
{
	const struct pias_event *e = &g_pr.ev[i];

	if (i >= g_pr.nev) {
		fprintf(stderr, "event %d: only %d events\n", i, g_pr.nev);
		_fail(file, line);
	}
	if (e->type == type && e->iap_id == iap && e->rap_id == rap && e->jap_id == jap &&
	    !memcmp(&e->ta, ta, sizeof(*ta)) && e->ts_ns != 0)
		return;
	fprintf(stderr,
		"event %d: expected type %u iap %u rap %u jap %u, got type %u iap %u rap %u "
		"jap %u ts %llu%s\n",
		i, type, iap, rap, jap, e->type, e->iap_id, e->rap_id, e->jap_id,
		(unsigned long long)e->ts_ns,
		memcmp(&e->ta, ta, sizeof(*ta)) ? " (TA differs)" : "");
	_fail(file, line);
}

/* ---- instantiation ------------------------------------------------------ */

static const struct tcase matrix_all[] = {
	{ PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_UDP },
	{ PIAS_AF_INET, PIAS_AF_INET, PKT_PROTO_TCP },
	{ PIAS_AF_INET, PIAS_AF_INET6, PKT_PROTO_UDP },
	{ PIAS_AF_INET, PIAS_AF_INET6, PKT_PROTO_TCP },
	{ PIAS_AF_INET6, PIAS_AF_INET, PKT_PROTO_UDP },
	{ PIAS_AF_INET6, PIAS_AF_INET, PKT_PROTO_TCP },
	{ PIAS_AF_INET6, PIAS_AF_INET6, PKT_PROTO_UDP },
	{ PIAS_AF_INET6, PIAS_AF_INET6, PKT_PROTO_TCP },
};

static int in_matrix(enum wmatrix m, const struct tcase *tc)
{
	switch (m) {
	case W_ALL:
		return 1;
	case W_CLIENT:
		return tc->uf == PIAS_AF_INET;
	case W_FAMILIES:
		return tc->proto == PKT_PROTO_UDP;
	case W_ONCE:
		break;
	}
	return 0;
}

int run_world_group(const char *group, const struct wtest *tests, int n)
{
	static char names[512][80];
	static int used;
	struct CMUnitTest list[256];
	int k = 0;

	for (int i = 0; i < n; i++) {
		if (tests[i].matrix == W_ONCE) {
			list[k++] = (struct CMUnitTest){ tests[i].name, tests[i].fn, world_setup,
							 NULL, NULL };
			continue;
		}
		for (size_t j = 0; j < sizeof(matrix_all) / sizeof(matrix_all[0]); j++) {
			const struct tcase *tc = &matrix_all[j];
			char *name = names[used++ % 512];

			if (!in_matrix(tests[i].matrix, tc))
				continue;
			snprintf(name, sizeof(names[0]), "%s[client %s, underlay %s, %s]",
				 tests[i].name, tc->cf == PIAS_AF_INET ? "v4" : "v6",
				 tc->uf == PIAS_AF_INET ? "v4" : "v6",
				 tc->proto == PKT_PROTO_TCP ? "tcp" : "udp");
			list[k++] = (struct CMUnitTest){ name, tests[i].fn, world_setup, NULL,
							 (void *)tc };
		}
	}
	return _cmocka_run_group_tests(group, list, (size_t)k, world_group_setup, NULL);
}

int run_table_group(const char *group, CMUnitTestFunction fn, const void *rows, size_t row_size,
		    size_t n, CMFixtureFunction setup)
{
	struct CMUnitTest list[256];

	if (n > sizeof(list) / sizeof(list[0]))
		n = sizeof(list) / sizeof(list[0]);
	for (size_t i = 0; i < n; i++) {
		const void *row = (const char *)rows + i * row_size;

		list[i] = (struct CMUnitTest){ *(const char *const *)row, fn,
					       setup ? setup : world_setup, NULL, (void *)row };
	}
	return _cmocka_run_group_tests(group, list, n, world_group_setup, NULL);
}
