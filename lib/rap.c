// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pias/hash.h>

#include "maps.h"
#include "rap.h"

__u32 pias_rap_score(__u32 slot, __u32 id)
{
	return pias_final(pias_mix(pias_mix(PIAS_HASH_SEED, slot), id), 8);
}

/* Higher score first; equal scores (rare) by lower id, so the order is total. */
static int better(__u32 score_a, __u32 id_a, __u32 score_b, __u32 id_b)
{
	return score_a > score_b || (score_a == score_b && id_a < id_b);
}

void pias_rap_slot_compute(__u32 slot, const __u32 *ids, size_t n, unsigned int k,
			   struct pias_rap_slot *out)
{
	__u32 score[PIAS_RAP_REPLICAS];
	unsigned int have = 0;

	memset(out, 0, sizeof(*out));
	if (k > PIAS_RAP_REPLICAS)
		k = PIAS_RAP_REPLICAS;
	/* Insertion into a k-long sorted list: k is at most 4, n can be 1e5. */
	for (size_t i = 0; i < n; i++) {
		__u32 s = pias_rap_score(slot, ids[i]);
		unsigned int pos = have;

		while (pos > 0 && better(s, ids[i], score[pos - 1], out->rap[pos - 1]))
			pos--;
		if (pos >= k)
			continue;
		for (unsigned int j = (have < k ? have : k - 1); j > pos; j--) {
			score[j] = score[j - 1];
			out->rap[j] = out->rap[j - 1];
		}
		score[pos] = s;
		out->rap[pos] = ids[i];
		if (have < k)
			have++;
	}
}

int pias_rap_compute(const __u32 *ids, size_t n, unsigned int k, struct pias_rap_slot *slots,
		     struct pias_err *e)
{
	int err;

	if (k < 1 || k > PIAS_RAP_REPLICAS)
		return pias_err_set(e, -EINVAL, "replicas %u is out of range 1-%u", k,
				    PIAS_RAP_REPLICAS);
	err = pias_ids_check(ids, n, PIAS_MAX_PROXIES, "proxy", e);
	if (err)
		return err;
	for (__u32 slot = 0; slot < PIAS_RAP_SLOTS; slot++)
		pias_rap_slot_compute(slot, ids, n, k, &slots[slot]);
	return 0;
}
