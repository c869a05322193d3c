/* SPDX-License-Identifier: MIT */
/*
 * Rate limits per sender: one GCRA limit (rate.h) per key, a source
 * address or a proxy id, in a table of fixed size, so that a flood of new
 * keys costs no memory. The table is set-associative (PIAS_RATE_WAYS ways
 * per set): a key new to a full set takes the place of the one used
 * longest ago, which starts afresh with a full burst when it comes back.
 * So one busy sender is always held to the rate, while a sender that
 * spreads over many keys (spoofed addresses) is not: that is what the
 * cookie round (cookie.h) and the MACs are for. The set is picked with a
 * keyed hash, so that nobody can aim keys at another's set.
 *
 * Pure: the caller brings the time and the hash key.
 */
#ifndef PIAS_DAEMON_RATE_TABLE_H
#define PIAS_DAEMON_RATE_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/addr.h>

#include "msg.h"
#include "rate.h"

#define PIAS_RATE_WAYS	  8
#define PIAS_RATE_KEY_LEN (1 + PIAS_MSG_TA_LEN) /* an address, a proxy id, or a TA */

struct pias_rate_key {
	__u8 b[PIAS_RATE_KEY_LEN];
};

struct pias_rate_slot {
	struct pias_rate_key key;
	struct pias_rate rate;
	__u64 last_ns; /* last take: the victim is the oldest */
	bool used;
};

struct pias_rate_table {
	struct pias_rate_slot *slots;
	size_t nsets;
	unsigned int per_s, burst;
	__u8 hash_key[16]; /* SipHash key: a random secret from the caller */
	__u64 limited;	   /* takes refused */
	__u64 evicted;	   /* keys that lost their place */
};

/*
 * nslots (rounded up to whole sets), each key per_s a second after a burst
 * of burst. 0 or -ENOMEM.
 */
int pias_rate_table_init(struct pias_rate_table *t, size_t nslots, unsigned int per_s,
			 unsigned int burst, const __u8 hash_key[16]);
void pias_rate_table_free(struct pias_rate_table *t);

/* May key do one more at now? A refusal is counted in t->limited. */
bool pias_rate_table_take(struct pias_rate_table *t, const struct pias_rate_key *key, __u64 now);

/* Keys: a source address; a proxy id; a group (its TA). */
struct pias_rate_key pias_rate_key_addr(const union pias_addr *a, __u8 family);
struct pias_rate_key pias_rate_key_id(__u32 id);
struct pias_rate_key pias_rate_key_ta(const struct pias_ta *ta);

#endif
