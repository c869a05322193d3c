// SPDX-License-Identifier: MIT
/* pias_config: defaults, checks, read and write. */
#include <errno.h>
#include <string.h>

#include "maps.h"

/* TCP header without options, for the MSS arithmetic. */
#define TCP_HLEN 20
/* Smallest MTU every IPv4 link carries; below it the MSS clamps make no sense. */
#define MIN_UNDERLAY_MTU 576

void pias_config_set_mtu(struct pias_config *c, __u16 mtu)
{
	/*
	 * Clamp for the worst case, an IPv6 underlay (60 bytes of overhead),
	 * so that a proxy's MSS does not depend on which peer a flow reaches.
	 */
	c->underlay_mtu = mtu;
	c->tcp_mss4 = (__u16)(mtu - PIAS_ENCAP_OVERHEAD_V6 - PIAS_IPV4_HLEN - TCP_HLEN);
	c->tcp_mss6 = (__u16)(mtu - PIAS_ENCAP_OVERHEAD_V6 - PIAS_IPV6_HLEN - TCP_HLEN);
}

void pias_config_defaults(struct pias_config *c)
{
	memset(c, 0, sizeof(*c));
	c->tunnel_port = PIAS_TUN_PORT_DEFAULT;
	pias_config_set_mtu(c, PIAS_DEFAULT_UNDERLAY_MTU);
	c->nat_port_min = PIAS_DEFAULT_NAT_PORT_MIN;
	c->nat_port_max = PIAS_DEFAULT_NAT_PORT_MAX;
	c->event_interval_ms = PIAS_DEFAULT_EVENT_INTERVAL_MS;
	c->icmp_rate = PIAS_DEFAULT_ICMP_RATE;
}

bool pias_config_is_zero(const struct pias_config *c)
{
	static const struct pias_config zero;

	return !memcmp(c, &zero, sizeof(zero));
}

static bool v4_slot_ok(const union pias_addr *a)
{
	return !a->v6[1] && !a->v6[2] && !a->v6[3];
}

/* Both set and equal: then tunnel and NAT traffic share an address. */
static bool same_addr(const union pias_addr *a, const union pias_addr *b)
{
	static const union pias_addr zero;

	return memcmp(a, &zero, sizeof(zero)) && !memcmp(a, b, sizeof(*a));
}

int pias_config_check(const struct pias_config *c, struct pias_err *e)
{
	if (c->self_id >= PIAS_MAX_PROXIES)
		return pias_err_set(e, -EINVAL, "proxy id %u is out of range 0-%u", c->self_id,
				    PIAS_MAX_PROXIES - 1);
	if (!c->tunnel_port)
		return pias_err_set(e, -EINVAL, "tunnel port 0 is not valid");
	if (c->underlay_mtu < MIN_UNDERLAY_MTU)
		return pias_err_set(e, -EINVAL, "underlay MTU %u is below %u", c->underlay_mtu,
				    MIN_UNDERLAY_MTU);
	if (!c->nat_port_min || c->nat_port_min > c->nat_port_max)
		return pias_err_set(e, -EINVAL, "NAT port range %u-%u is empty or starts at 0",
				    c->nat_port_min, c->nat_port_max);
	if (c->tunnel_port >= c->nat_port_min && c->tunnel_port <= c->nat_port_max &&
	    (same_addr(&c->self4, &c->nat4) || same_addr(&c->self6, &c->nat6)))
		return pias_err_set(
			e, -EINVAL,
			"tunnel port %u lies in the NAT port range %u-%u: replies to NATed flows would be taken for tunnel packets",
			c->tunnel_port, c->nat_port_min, c->nat_port_max);
	if (!v4_slot_ok(&c->self4) || !v4_slot_ok(&c->nat4))
		return pias_err_set(e, -EINVAL, "IPv4 address field holds more than 4 bytes");
	return 0;
}

int pias_config_get(struct pias_maps *m, struct pias_config *c, bool *was_zero, struct pias_err *e)
{
	__u32 key = 0;
	int err = pias_map_lookup(m, PIAS_M_CONFIG, &key, c, e);

	if (err)
		return err;
	if (was_zero)
		*was_zero = pias_config_is_zero(c);
	if (pias_config_is_zero(c))
		pias_config_defaults(c);
	return 0;
}

int pias_config_set(struct pias_maps *m, const struct pias_config *c, struct pias_err *e)
{
	__u32 key = 0;
	int err = pias_config_check(c, e);

	if (err)
		return err;
	return pias_map_update(m, PIAS_M_CONFIG, &key, c, e);
}

int pias_config_init(struct pias_maps *m, bool *written, struct pias_err *e)
{
	struct pias_config c;
	bool zero;
	int err;

	*written = false;
	err = pias_config_get(m, &c, &zero, e);
	if (err || !zero)
		return err;
	err = pias_config_set(m, &c, e);
	if (!err)
		*written = true;
	return err;
}
