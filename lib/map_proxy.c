// SPDX-License-Identifier: MIT
/* Proxies (id -> address, and back) and the RAP table built from them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "maps.h"
#include "ring.h"

static int check_id(__u32 id, struct pias_err *e)
{
	if (id < 1 || id >= PIAS_MAX_PROXIES)
		return pias_err_set(e, -EINVAL, "proxy id %u is out of range 1-%u", id,
				    PIAS_MAX_PROXIES - 1);
	return 0;
}

static struct pias_addr_key addr_key(const union pias_addr *a, __u8 family)
{
	struct pias_addr_key k;

	memset(&k, 0, sizeof(k));
	k.addr = *a;
	k.family = family;
	return k;
}

int pias_proxy_get(struct pias_maps *m, __u32 id, struct pias_proxy *p, struct pias_err *e)
{
	int err = check_id(id, e);

	return err ? err : pias_map_lookup(m, PIAS_M_PROXIES, &id, p, e);
}

/* Remove addr -> id from pias_proxy_addr, unless the address maps elsewhere. */
static int drop_addr_ref(struct pias_maps *m, const struct pias_proxy *old, __u32 id,
			 struct pias_err *e)
{
	struct pias_addr_key k = addr_key(&old->addr, old->family);
	struct pias_proxy_ref ref;

	if (old->family == PIAS_AF_NONE)
		return 0;
	if (bpf_map_lookup_elem(m->fd[PIAS_M_PROXY_ADDRS], &k, &ref) || ref.id != id)
		return 0;
	return pias_map_delete(m, PIAS_M_PROXY_ADDRS, &k, "the proxy's old address", e);
}

int pias_proxy_set(struct pias_maps *m, __u32 id, const union pias_addr *a, __u8 family,
		   enum pias_proxy_state state, const struct pias_tun_tags *tags,
		   struct pias_err *e)
{
	struct pias_addr_key k = addr_key(a, family);
	struct pias_proxy old, p;
	struct pias_proxy_ref ref;
	char s[PIAS_ADDR_STRLEN];
	int err;

	err = pias_proxy_get(m, id, &old, e);
	if (err)
		return err;
	if (family != PIAS_AF_INET && family != PIAS_AF_INET6)
		return pias_err_set(e, -EINVAL, "proxy %u: address family %u is not IPv4 or IPv6",
				    id, family);
	if (state != PIAS_PROXY_UP && state != PIAS_PROXY_DOWN && state != PIAS_PROXY_DP_ONLY)
		return pias_err_set(e, -EINVAL, "proxy %u: state %u is not up, down or dp-only", id,
				    state);
	/* Two ids for one address would make the tunnel's source check ambiguous. */
	if (!bpf_map_lookup_elem(m->fd[PIAS_M_PROXY_ADDRS], &k, &ref) && ref.id != id)
		return pias_err_set(
			e, -EEXIST,
			"address %s already belongs to proxy %u: delete that proxy first",
			pias_addr_str(a, family, s, sizeof(s)), ref.id);

	if (tags->n_rx > PIAS_TUN_RX_TAGS)
		return pias_err_set(e, -EINVAL, "proxy %u: %u tags, at most %d", id, tags->n_rx,
				    PIAS_TUN_RX_TAGS);
	memset(&p, 0, sizeof(p));
	p.addr = *a;
	p.family = family;
	p.state = (__u8)state;
	p.tx_tag = tags->tx;
	/* Address map first: a packet from the new address must never be refused. */
	memset(&ref, 0, sizeof(ref));
	ref.id = id;
	ref.n_rx = tags->n_rx;
	memcpy(ref.rx_tag, tags->rx, sizeof(ref.rx_tag));
	err = pias_map_update(m, PIAS_M_PROXY_ADDRS, &k, &ref, e);
	if (err)
		return err;
	err = pias_map_update(m, PIAS_M_PROXIES, &id, &p, e);
	if (err)
		return err;
	if (old.family != family || memcmp(&old.addr, a, sizeof(*a)))
		return drop_addr_ref(m, &old, id, e);
	return 0;
}

int pias_proxy_del(struct pias_maps *m, __u32 id, struct pias_err *e)
{
	struct pias_proxy old, zero = {};
	int err;

	err = pias_proxy_get(m, id, &old, e);
	if (err)
		return err;
	if (old.family == PIAS_AF_NONE && old.state == PIAS_PROXY_UNKNOWN)
		return pias_err_set(e, -ENOENT, "proxy %u is not in %s", id,
				    pias_map_name(PIAS_M_PROXIES));
	/* Entry first: from then on no packet is sent to it, then stop accepting. */
	err = pias_map_update(m, PIAS_M_PROXIES, &id, &zero, e);
	if (err)
		return err;
	return drop_addr_ref(m, &old, id, e);
}

int pias_rap_slots_write(struct pias_maps *m, const __u32 *keys, const struct pias_rap_slot *slots,
			 size_t n, struct pias_err *e)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i] >= PIAS_RAP_SLOTS)
			return pias_err_set(e, -EINVAL, "slot %u is out of range 0-%u", keys[i],
					    PIAS_RAP_SLOTS - 1);
	/* the table is mapped (pias_maps_open): plain stores, the packets see them at once */
	for (size_t i = 0; i < n; i++)
		m->rap[keys[i]] = slots[i];
	return 0;
}

int pias_rap_fill(struct pias_maps *m, const __u32 *ids, size_t n, unsigned int k,
		  struct pias_err *e)
{
	struct pias_ring ring;
	int err;

	err = pias_ring_init(&ring, 0, e);
	if (!err)
		err = pias_ring_build(&ring, ids, n, e);
	/* into the live table: each slot is stored once, with its new value */
	if (!err)
		err = pias_ring_fill_table(&ring, k, m->rap, e);
	pias_ring_free(&ring);
	return err;
}
