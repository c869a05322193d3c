// SPDX-License-Identifier: MIT
#include "jap_util.h"

#include <stdio.h>
#include <string.h>

struct pkt_spec jap_inner(const struct tcase *tc, uint16_t sport)
{
	struct pkt_spec s = client_spec(tc, sport);

	s.ttl = 63;
	/* a TCP connection reaches a JAP with its SYN (others are not NATed) */
	if (s.proto == PKT_PROTO_TCP) {
		s.tcp_flags = PKT_TCP_SYN;
		s.ack = 0;
	}
	return s;
}

uint16_t target_port(uint8_t proto)
{
	return proto == PKT_PROTO_TCP ? T_PORT_TCP : T_PORT_UDP;
}

void jap_targets(const struct tcase *tc, const uint32_t *ids, const uint32_t *weights, int n)
{
	struct pias_ta ta = make_ta(tc->cf, tc->proto);
	uint32_t rap = rap_id(tc->uf);

	for (int i = 0; i < n; i++)
		assert_ok(pr_target(&g_pr, ids[i], target_addr(ids[i]), target_port(tc->proto),
				    PIAS_TARGET_ACTIVE, weights ? weights[i] : 1));
	assert_ok(pr_target_set(&g_pr, &ta, ids, n));
	/* where a bounce goes */
	assert_ok(pr_rap(&g_pr, &ta, &rap, 1));
}

void jap_tunnel(struct pkt *out, const struct tcase *tc, const struct pkt_spec *inner,
		uint8_t flags, uint32_t excl)
{
	struct tunhdr h = { PIAS_KIND_RAP_TO_JAP, flags, 2, IAP_FAR, excl };

	tunnel_from(out, inner, rap_id(tc->uf), &h);
}

void expect_nat(struct pkt *out, const struct pkt_spec *inner, uint32_t tid, uint16_t tport,
		uint16_t nat_port)
{
	struct pkt_spec s = *inner;
	const char *taddr = target_addr(tid);
	uint8_t dmac[6];

	s.src = pkt_addr(nat_addr(inner->family));
	s.sport = nat_port;
	s.dst = pkt_addr(taddr);
	s.dport = tport;
	s.ttl--;
	mac_of(taddr, dmac);
	reframe(out, &s, dmac, g_ns.mac[target_link(tid)]);
}

struct pias_flow rev_key_of(const struct pkt_spec *inner, uint32_t tid, uint16_t tport,
			    uint16_t nat_port)
{
	struct pias_flow k;

	memset(&k, 0, sizeof(k));
	k.saddr = pkt_addr(target_addr(tid));
	k.daddr = pkt_addr(nat_addr(inner->family));
	k.sport = tport;
	k.dport = nat_port;
	k.proto = inner->proto;
	k.family = inner->family;
	return k;
}

uint16_t check_conn(const char *file, int line, const struct pkt_spec *inner, uint32_t tid,
		    uint16_t tport)
{
	struct pias_flow f = pkt_spec_flow(inner), rk;
	struct pias_conn c;
	struct pias_conn_rev rv;

	if (pr_conn_get(&g_pr, &f, &c)) {
		fprintf(stderr, "no pias_conns entry for the client flow\n");
		_fail(file, line);
	}
	if (c.target_id != tid || c.iap_id != IAP_FAR || c.nat_port < NAT_MIN ||
	    c.nat_port > NAT_MAX) {
		fprintf(stderr,
			"pias_conns: target %u iap %u port %u; expected target %u iap %u "
			"port in [%u, %u]\n",
			c.target_id, c.iap_id, c.nat_port, tid, IAP_FAR, NAT_MIN, NAT_MAX);
		_fail(file, line);
	}
	rk = rev_key_of(inner, tid, tport, c.nat_port);
	if (pr_conn_rev_get(&g_pr, &rk, &rv)) {
		fprintf(stderr, "no pias_conns_rev entry for target %u, NAT port %u\n", tid,
			c.nat_port);
		_fail(file, line);
	}
	if (rv.target_id != tid || memcmp(&rv.client, &f, sizeof(f))) {
		fprintf(stderr, "pias_conns_rev: target %u (expected %u)%s\n", rv.target_id, tid,
			memcmp(&rv.client, &f, sizeof(f)) ? ", client flow differs" : "");
		_fail(file, line);
	}
	return c.nat_port;
}

uint32_t target_of_frame(const struct pr_result *res)
{
	static const uint32_t ids[] = { 10, 11, 12, 15, 20, 21, 22, 25 };
	struct pias_flow f;

	if (res->len < PKT_ETH_HLEN ||
	    pkt_flow_of(res->out + PKT_ETH_HLEN, res->len - PKT_ETH_HLEN, &f))
		return 0;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		union pias_addr a = pkt_addr(target_addr(ids[i]));

		if (!memcmp(&a, &f.daddr, sizeof(a)))
			return ids[i];
	}
	return 0;
}

/* Opens a connection of the client flow 'c' to target tid; its NAT port. */
uint16_t open_conn(const struct tcase *tc, const struct pkt_spec *c, uint32_t tid)
{
	struct pkt in;
	struct pr_result res;
	uint16_t port;

	jap_targets(tc, &tid, NULL, 1);
	jap_tunnel(&in, tc, c, 0, 0);
	RUN(0, &in, &res);
	assert_verdict(&res, target_link(tid) == 0 ? XDP_TX : XDP_REDIRECT);
	port = assert_conn(c, tid, target_port(tc->proto));
	assert_ok(pr_zero_counters(&g_pr));
	return port;
}

/* The target's reply to a client flow, as it arrives at the JAP. */
struct pkt_spec reply_to(const struct pkt_spec *c, uint32_t tid, const char *nat, uint16_t nat_port,
			 uint8_t tcp_flags)
{
	const char *taddr = target_addr(tid);
	struct pkt_spec r;
	uint8_t smac[6];

	if (c->proto == PKT_PROTO_TCP)
		r = pkt_tcp(taddr, target_port(PKT_PROTO_TCP), nat, nat_port, tcp_flags);
	else
		r = pkt_udp(taddr, target_port(PKT_PROTO_UDP), nat, nat_port, 48);
	mac_of(taddr, smac);
	pkt_set_macs(&r, g_ns.mac[target_link(tid)], smac);
	return r;
}

struct pkt_spec reply_of(const struct pkt_spec *c, uint32_t tid, uint16_t nat_port,
			 uint8_t tcp_flags)
{
	return reply_to(c, tid, nat_addr(c->family), nat_port, tcp_flags);
}

/* What the client must receive for reply r of client flow c. */
void expect_to_client(struct pkt *out, const struct pkt_spec *r, const struct pkt_spec *c)
{
	struct pkt_spec e = *r;
	uint8_t gw[6];

	e.src = c->dst;
	e.sport = c->dport;
	e.dst = c->src;
	e.dport = c->sport;
	e.ttl--;
	mac_of(c->family == PIAS_AF_INET ? "192.0.2.126" : "2001:db8:1::fe", gw);
	reframe(out, &e, gw, g_ns.mac[0]);
}
