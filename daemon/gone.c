// SPDX-License-Identifier: MIT
/* Registrations that left, remembered for a REGISTER's freshness window: see gone.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gone.h"
#include "msg.h"

int pias_gone_init(struct pias_gone *g, size_t nslots, __u64 window_ns, const __u8 hash_key[32])
{
	memset(g, 0, sizeof(*g));
	g->nsets = (nslots + PIAS_GONE_WAYS - 1) / PIAS_GONE_WAYS;
	if (!g->nsets)
		g->nsets = 1;
	g->slots = calloc(g->nsets * PIAS_GONE_WAYS, sizeof(*g->slots));
	if (!g->slots)
		return -ENOMEM;
	g->window_ns = window_ns;
	memcpy(g->hash_key, hash_key, sizeof(g->hash_key));
	return 0;
}

void pias_gone_free(struct pias_gone *g)
{
	free(g->slots);
	g->slots = NULL;
}

static struct pias_gone_slot *set_of(const struct pias_gone *g, const struct pias_ta *ta,
				     const union pias_addr *a, __u8 family, __u16 port,
				     __u8 key[16])
{
	__u8 in[PIAS_MSG_TA_LEN + 1 + 16 + 2];
	__u64 h;

	pias_msg_ta_put(ta, in);
	in[PIAS_MSG_TA_LEN] = family;
	memcpy(in + PIAS_MSG_TA_LEN + 1, a->bytes, 16);
	in[PIAS_MSG_TA_LEN + 17] = (__u8)(port >> 8);
	in[PIAS_MSG_TA_LEN + 18] = (__u8)port;
	crypto_generichash(key, 16, in, sizeof(in), g->hash_key, sizeof(g->hash_key));
	memcpy(&h, key, sizeof(h));
	return &g->slots[(h % g->nsets) * PIAS_GONE_WAYS];
}

void pias_gone_note(struct pias_gone *g, const struct pias_ta *ta, const union pias_addr *a,
		    __u8 family, __u16 port, __u64 seq, __u64 now)
{
	__u8 key[16];
	struct pias_gone_slot *set = set_of(g, ta, a, family, port, key), *victim = NULL;

	for (int i = 0; i < PIAS_GONE_WAYS; i++) {
		struct pias_gone_slot *s = &set[i];

		if (s->used && !memcmp(s->key, key, sizeof(key))) {
			if (seq > s->seq)
				s->seq = seq;
			s->at_ns = now;
			return;
		}
		/* a free slot, or else the one noted longest ago */
		if (!victim || (victim->used && (!s->used || s->at_ns < victim->at_ns)))
			victim = s;
	}
	memcpy(victim->key, key, sizeof(key));
	victim->seq = seq;
	victim->at_ns = now;
	victim->used = true;
}

__u64 pias_gone_seq(const struct pias_gone *g, const struct pias_ta *ta, const union pias_addr *a,
		    __u8 family, __u16 port, __u64 now)
{
	__u8 key[16];
	const struct pias_gone_slot *set = set_of(g, ta, a, family, port, key);

	for (int i = 0; i < PIAS_GONE_WAYS; i++)
		if (set[i].used && !memcmp(set[i].key, key, sizeof(key)))
			return now - set[i].at_ns <= g->window_ns ? set[i].seq : 0;
	return 0;
}
