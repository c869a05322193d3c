/* SPDX-License-Identifier: MIT */
/*
 * The RAP table: which proxies are a group's rendezvous points. Each of the
 * PIAS_RAP_SLOTS slots lists the k live proxies with the highest
 * rendezvous (highest-random-weight) score for that slot, best first. A
 * group's slot is pias_rap_slot_of(ta), so every proxy that fills its table
 * from the same live set agrees on every group's RAPs, and a proxy joining
 * or leaving changes only the slots where it is (or becomes) among the top k.
 */
#ifndef PIAS_LIB_RAP_H
#define PIAS_LIB_RAP_H

#include <stddef.h>

#include <pias/maps.h>

#include "err.h"

/* The score of proxy id for slot: pias_mix/pias_final of (slot, id). */
__u32 pias_rap_score(__u32 slot, __u32 id);

/* One slot: the top k of ids[n] (k <= PIAS_RAP_REPLICAS), zero-terminated. */
void pias_rap_slot_compute(__u32 slot, const __u32 *ids, size_t n, unsigned int k,
			   struct pias_rap_slot *out);

/*
 * Check ids (1..PIAS_MAX_PROXIES-1, no duplicates) and k (1..PIAS_RAP_REPLICAS),
 * then fill slots[PIAS_RAP_SLOTS]. With fewer than k ids every slot lists all
 * of them; with none, every slot is empty (no RAP: the IAP drops, no_rap).
 */
int pias_rap_compute(const __u32 *ids, size_t n, unsigned int k, struct pias_rap_slot *slots,
		     struct pias_err *e);

#endif
