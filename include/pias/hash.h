/* SPDX-License-Identifier: MIT */
/*
 * Hashes that BPF and user space must compute identically: the TA hash picks
 * a group's slot in the RAP table (daemon and dataplane agree on a group's
 * RAP), the flow hash picks JAPs, targets, NAT ports and tunnel source ports.
 *
 * A multiply-rotate mix per 32-bit word and the murmur3 finalizer at the end:
 * cheap in BPF (no loops the verifier must walk), well spread in the low bits
 * that index the table.
 */
#ifndef PIAS_HASH_H
#define PIAS_HASH_H

#include "addr.h"
#include "maps.h"

#define PIAS_HASH_SEED 0x50494153u /* "PIAS" */

static inline __u32 pias_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static inline __u32 pias_mix(__u32 h, __u32 w)
{
	w *= 0xcc9e2d51u;
	w = pias_rotl32(w, 15);
	w *= 0x1b873593u;
	h ^= w;
	h = pias_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

static inline __u32 pias_final(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static inline __u32 pias_addr_mix(__u32 h, const union pias_addr *a)
{
	h = pias_mix(h, a->v6[0]);
	h = pias_mix(h, a->v6[1]);
	h = pias_mix(h, a->v6[2]);
	return pias_mix(h, a->v6[3]);
}

static inline __u32 pias_ta_hash(const struct pias_ta *ta)
{
	__u32 h = pias_addr_mix(PIAS_HASH_SEED, &ta->addr);

	h = pias_mix(h, ((__u32)ta->port << 16) | ((__u32)ta->proto << 8) | ta->family);
	return pias_final(h, sizeof(*ta));
}

static inline __u32 pias_flow_hash(const struct pias_flow *f)
{
	__u32 h = pias_addr_mix(PIAS_HASH_SEED, &f->saddr);

	h = pias_addr_mix(h, &f->daddr);
	h = pias_mix(h, ((__u32)f->sport << 16) | f->dport);
	h = pias_mix(h, ((__u32)f->proto << 8) | f->family);
	return pias_final(h, sizeof(*f));
}

/* The tunnel's outer UDP source port for a flow (protocol.md section 1). */
static inline __u16 pias_tun_sport(const struct pias_flow *f)
{
	return PIAS_TUN_SPORT_BASE | (pias_flow_hash(f) & PIAS_TUN_SPORT_MASK);
}

static inline __u32 pias_rap_slot_of(const struct pias_ta *ta)
{
	return pias_ta_hash(ta) & (PIAS_RAP_SLOTS - 1);
}

#endif
