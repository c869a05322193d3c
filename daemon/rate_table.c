// SPDX-License-Identifier: MIT
/* Rate limits per sender: see rate_table.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pias/addr.h>
#include <sodium.h>

#include "msg.h"
#include "rate_table.h"

int pias_rate_table_init(struct pias_rate_table *t, size_t nslots, unsigned int per_s,
			 unsigned int burst, const __u8 hash_key[16])
{
	size_t nsets = (nslots + PIAS_RATE_WAYS - 1) / PIAS_RATE_WAYS;

	memset(t, 0, sizeof(*t));
	t->nsets = nsets ? nsets : 1;
	t->slots = calloc(t->nsets * PIAS_RATE_WAYS, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->per_s = per_s;
	t->burst = burst;
	memcpy(t->hash_key, hash_key, sizeof(t->hash_key));
	return 0;
}

void pias_rate_table_free(struct pias_rate_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

bool pias_rate_table_take(struct pias_rate_table *t, const struct pias_rate_key *key, __u64 now)
{
	__u8 h[crypto_shorthash_siphash24_BYTES];
	struct pias_rate_slot *set, *victim = NULL;
	__u64 hv;

	crypto_shorthash_siphash24(h, key->b, sizeof(key->b), t->hash_key);
	memcpy(&hv, h, sizeof(hv));
	set = &t->slots[(hv % t->nsets) * PIAS_RATE_WAYS];
	for (int w = 0; w < PIAS_RATE_WAYS; w++) {
		struct pias_rate_slot *s = &set[w];

		if (s->used && !memcmp(&s->key, key, sizeof(*key))) {
			victim = s;
			goto take;
		}
		if (!s->used) {
			if (!victim || victim->used)
				victim = s;
		} else if (!victim || (victim->used && s->last_ns < victim->last_ns)) {
			victim = s;
		}
	}
	if (victim->used)
		t->evicted++;
	victim->used = true;
	victim->key = *key;
	pias_rate_init(&victim->rate, t->per_s, t->burst);
take:
	victim->last_ns = now;
	if (pias_rate_take(&victim->rate, now, NULL))
		return true;
	t->limited++;
	return false;
}

struct pias_rate_key pias_rate_key_addr(const union pias_addr *a, __u8 family)
{
	struct pias_rate_key k;

	memset(&k, 0, sizeof(k));
	k.b[0] = family;
	memcpy(k.b + 1, a->bytes, 16);
	return k;
}

struct pias_rate_key pias_rate_key_ta(const struct pias_ta *ta)
{
	struct pias_rate_key k;

	memset(&k, 0, sizeof(k));
	k.b[0] = 0xfe; /* no address family */
	pias_msg_ta_put(ta, k.b + 1);
	return k;
}

struct pias_rate_key pias_rate_key_id(__u32 id)
{
	struct pias_rate_key k;

	memset(&k, 0, sizeof(k));
	k.b[0] = 0xff; /* no address family */
	memcpy(k.b + 1, &id, sizeof(id));
	return k;
}
