/* SPDX-License-Identifier: MIT */
/*
 * Registrations that left this JAP (a LEAVE), remembered for the window in
 * which a REGISTER is fresh (PIAS_REPLAY_FRESH_NS). Once its target is gone
 * the JAP forgets a registration's seq, and a REGISTER it had acked (a
 * cookie in it is good for up to 20 s) could be replayed here and register
 * the target again against its will. So a REGISTER of an unknown (TA,
 * endpoint) whose seq is not above the LEAVE's is stale.
 *
 * A table of fixed size, set-associative, keyed by a keyed hash of (TA,
 * endpoint): a flood of leaves costs no memory and cannot aim at another
 * registration's set; past the window, or when its set is full, the oldest
 * is forgotten first. Pure: the caller brings the time and the hash key.
 */
#ifndef PIAS_DAEMON_GONE_H
#define PIAS_DAEMON_GONE_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/addr.h>

#define PIAS_GONE_WAYS 4

struct pias_gone_slot {
	__u8 key[16]; /* keyed hash of (TA, endpoint) */
	__u64 seq;    /* of the LEAVE */
	__u64 at_ns;
	bool used;
};

struct pias_gone {
	struct pias_gone_slot *slots;
	size_t nsets;
	__u64 window_ns;
	__u8 hash_key[32];
};

/* nslots (rounded up to whole sets), remembered window_ns. 0 or -ENOMEM. */
int pias_gone_init(struct pias_gone *g, size_t nslots, __u64 window_ns, const __u8 hash_key[32]);
void pias_gone_free(struct pias_gone *g);

/* The registration of (ta, endpoint) left with seq at now. */
void pias_gone_note(struct pias_gone *g, const struct pias_ta *ta, const union pias_addr *a,
		    __u8 family, __u16 port, __u64 seq, __u64 now);

/* The seq it left with, if it left within the window; 0 otherwise. */
__u64 pias_gone_seq(const struct pias_gone *g, const struct pias_ta *ta, const union pias_addr *a,
		    __u8 family, __u16 port, __u64 now);

#endif
