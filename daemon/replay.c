// SPDX-License-Identifier: MIT
/* Per-sender sliding-window replay protection: see replay.h. */
#include <stdlib.h>
#include <string.h>

#include "replay.h"

_Static_assert(PIAS_MAX_PROXIES % PIAS_REPLAY_CHUNK == 0, "chunks cover every proxy id");
_Static_assert(PIAS_REPLAY_WINDOW == 64, "the window is one __u64 bitmap");

void pias_replay_init(struct pias_replay *r)
{
	memset(r, 0, sizeof(*r));
}

void pias_replay_free(struct pias_replay *r)
{
	size_t i;

	for (i = 0; i < PIAS_REPLAY_CHUNKS; i++)
		free(r->chunks[i]);
	memset(r, 0, sizeof(*r));
}

static bool id_ok(__u32 id)
{
	return id && id < PIAS_MAX_PROXIES;
}

/* The slot of id, or NULL if its chunk was never allocated. */
static struct pias_replay_slot *slot_of(const struct pias_replay *r, __u32 id)
{
	struct pias_replay_slot *c = r->chunks[id / PIAS_REPLAY_CHUNK];

	return c ? &c[id % PIAS_REPLAY_CHUNK] : NULL;
}

bool pias_replay_check_and_record(struct pias_replay *r, __u32 sender_id, __u64 seq)
{
	struct pias_replay_slot *s, **chunk;
	__u64 diff;

	if (!id_ok(sender_id) || !seq) {
		r->stats.bad_sender++;
		return false;
	}
	chunk = &r->chunks[sender_id / PIAS_REPLAY_CHUNK];
	if (!*chunk) {
		*chunk = calloc(PIAS_REPLAY_CHUNK, sizeof(**chunk));
		if (!*chunk) {
			r->stats.nomem++;
			return false;
		}
		r->n_chunks++;
	}
	s = &(*chunk)[sender_id % PIAS_REPLAY_CHUNK];

	if (!s->top) {
		/* First word from this sender: nothing to compare with. */
		s->top = seq;
		s->window = 1;
		r->n_senders++;
	} else if (seq > s->top) {
		diff = seq - s->top;
		/* Shifting a __u64 by 64 or more is undefined: the window empties. */
		s->window = diff >= PIAS_REPLAY_WINDOW ? 1 : s->window << diff | 1;
		s->top = seq;
	} else {
		diff = s->top - seq;
		if (diff >= PIAS_REPLAY_WINDOW) {
			r->stats.too_old++;
			return false;
		}
		if (s->window & (1ull << diff)) {
			r->stats.duplicate++;
			return false;
		}
		s->window |= 1ull << diff;
	}
	r->stats.fresh++;
	return true;
}

bool pias_replay_known(const struct pias_replay *r, __u32 sender_id)
{
	return pias_replay_top(r, sender_id) != 0;
}

__u64 pias_replay_top(const struct pias_replay *r, __u32 sender_id)
{
	const struct pias_replay_slot *s;

	if (!id_ok(sender_id))
		return 0;
	s = slot_of(r, sender_id);
	return s ? s->top : 0;
}

void pias_replay_forget(struct pias_replay *r, __u32 sender_id)
{
	struct pias_replay_slot *s;

	if (!id_ok(sender_id))
		return;
	s = slot_of(r, sender_id);
	if (!s || !s->top)
		return;
	s->top = 0;
	s->window = 0;
	r->n_senders--;
}

bool pias_fresh_timestamp(__u64 seq_ns, __u64 now_realtime_ns, __u64 window_ns)
{
	__u64 diff;

	if (!window_ns)
		window_ns = PIAS_REPLAY_FRESH_NS;
	/* Unsigned difference in the right direction: no overflow near 0 or 2^64. */
	diff = seq_ns > now_realtime_ns ? seq_ns - now_realtime_ns : now_realtime_ns - seq_ns;
	return diff <= window_ns;
}
