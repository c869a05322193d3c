/* SPDX-License-Identifier: MIT */
/*
 * A JAP's target sets (include/pias/maps.h, struct pias_tset): the entries
 * the pick of include/pias/pick.h asks for, out of a set's header and its
 * chunks. Each is a global subprogram, verified once, so that a pick's
 * draws and walk cost the verifier a call each, not their paths.
 */
#ifndef PIAS_BPF_TSET_H
#define PIAS_BPF_TSET_H

#include <pias/pick.h>

#include "context.h"

static __always_inline struct pias_target *target_of(__u32 id)
{
	if (!id || id >= PIAS_MAX_TARGETS)
		return NULL;
	return bpf_map_lookup_elem(&pias_targets, &id);
}

/* May this target get a new flow from this client (of family)? */
static __always_inline int target_takes(const struct pias_target *t, const union pias_addr *client,
					__u32 family)
{
	return t && t->state == PIAS_TARGET_ACTIVE && t->weight && t->family == family &&
	       /* a target that is also a client never gets its own packets */
	       !addr_eq(&t->addr, client);
}

static __always_inline int target_eligible(const struct pias_flow *f, const struct pias_target *t)
{
	return target_takes(t, &f->saddr, f->family);
}

/*
 * A pick's room, per CPU: the keys of its lookups (the set's TA in both),
 * and the client the targets are checked against. On the stack they
 * would push the JAP's chain of calls past the verifier's 512 bytes; here
 * the subprograms below need only the set's header for an argument.
 * Private to the program: nothing in it outlives a packet.
 */
struct tset_room {
	struct pias_tset_chunk_key chunk;
	struct pias_tset_scope_key scope;
	union pias_addr client;
	__u32 family;
	__u32 pad;
	__u64 at; /* a search's answer, passed through memory: see tset_forget */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tset_room);
} pias_tset_room SEC(".maps");

static __always_inline struct tset_room *tset_room(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pias_tset_room, &zero);
}

/*
 * The room made ready for a pick of flow's set, and the set's header;
 * NULL if it has none.
 */
static __always_inline const struct pias_tset *tset_open(struct tset_room *room,
							 const struct pias_flow *flow)
{
	room->chunk.ta = pias_flow_ta(flow);
	room->scope.ta = room->chunk.ta;
	room->client = flow->saddr;
	room->family = flow->family;
	return bpf_map_lookup_elem(&pias_tgt_sets, &room->chunk.ta);
}

/*
 * Chunk c of set h; NULL if it is not there or its element now holds
 * another generation (a writer replaced the set under the pick).
 */
static __always_inline const struct pias_tset_chunk *tset_chunk(struct tset_room *room,
								const struct pias_tset *h, __u32 c)
{
	const struct pias_tset_chunk *ch;

	room->chunk.gen = h->gen;
	room->chunk.chunk = c;
	ch = bpf_map_lookup_elem(&pias_tgt_chunks, &room->chunk);
	return ch && ch->gen == h->gen ? ch : NULL;
}

/*
 * Entry j of chunk ch of set h (ch NULL: the header's inline entry j), c
 * the chunk's number: its target's id if the target may take the room's
 * client's flow (and, scoped, is in its prefix) and the entry has weight;
 * else 0.
 */
static __always_inline __u32 tset_entry_takes(const struct tset_room *room,
					      const struct pias_tset *h,
					      const struct pias_tset_chunk *ch, __u32 c, __u64 j,
					      __u32 scoped)
{
	struct pias_target *t;
	__u32 id, cum, prev;

	if (!ch) {
		if (j >= PIAS_TSET_INLINE)
			return 0;
		id = h->ids[j];
		cum = h->cum[j];
		prev = j ? h->cum[(j - 1) & (PIAS_TSET_INLINE - 1)] : 0;
	} else {
		if (j >= PIAS_TSET_CHUNK)
			return 0;
		id = ch->ids[j];
		cum = ch->cum[j];
		/* the sum before a chunk's first entry is the last chunk's end */
		prev = j ? ch->cum[j - 1] : c ? h->cum[(c - 1) & (PIAS_TSET_INLINE - 1)] : 0;
	}
	if (cum == prev)
		return 0;
	t = target_of(id);
	if (!target_takes(t, &room->client, room->family))
		return 0;
	if (scoped && !pias_prefix_match(&t->addr, &room->client, h->policy.scope_len))
		return 0;
	return id;
}

/*
 * x, as the verifier sees it: any number. A search's answer is one of a
 * few hundred constants, one per way through its steps; going on with
 * each to the target's lookup and checks would cost the verifier all of
 * those ways times the checks' own. Through the room's memory (a volatile
 * read: the compiler must not reuse the value it wrote) the ways are one.
 */
static __always_inline __u64 tset_forget(struct tset_room *room, __u32 x)
{
	room->at = x;
	return *(volatile __u64 *)&room->at;
}

/*
 * The entry of set h (the room's) whose share of the running sums holds
 * r, and whether it takes the flow: PIAS_PICK_AT(index, id or 0); ~0 if
 * its chunk is gone. One chunk lookup for both.
 */
__noinline __u32 pias_tset_draw(const struct pias_tset *h, __u32 r, __u32 scoped)
{
	struct tset_room *room = tset_room();
	const struct pias_tset_chunk *ch;
	__u64 c, j;
	__u32 n;

	if (!h || !room)
		return ~0u;
	if (!h->nchunks) {
		n = h->count < PIAS_TSET_INLINE ? h->count : PIAS_TSET_INLINE;
		j = tset_forget(room, pias_pick_search(h->cum, n, r, PIAS_PICK_TOP_INLINE));
		return PIAS_PICK_AT(j, tset_entry_takes(room, h, NULL, 0, j, scoped));
	}
	n = h->nchunks < PIAS_TSET_INLINE ? h->nchunks : PIAS_TSET_INLINE;
	c = tset_forget(room, pias_pick_search(h->cum, n, r, PIAS_PICK_TOP_INLINE));
	ch = c < n ? tset_chunk(room, h, c) : NULL;
	if (!ch)
		return ~0u;
	n = ch->n < PIAS_TSET_CHUNK ? ch->n : PIAS_TSET_CHUNK;
	j = tset_forget(room, pias_pick_search(ch->cum, n, r, PIAS_PICK_TOP_CHUNK));
	return PIAS_PICK_AT(c * PIAS_TSET_CHUNK + j,
			    tset_entry_takes(room, h, ch, (__u32)c, j, scoped));
}

/* Entry i of set h (the room's): tset_entry_takes' answer; 0 if it is out of reach. */
__noinline __u32 pias_tset_take(const struct pias_tset *h, __u32 i, __u32 scoped)
{
	struct tset_room *room = tset_room();
	const struct pias_tset_chunk *ch = NULL;
	__u32 c = 0;
	__u64 j = i;

	/* one 64-bit copy, checked and used alike (clang widens each copy of a u32 anew) */
	barrier_var(j);
	if (!h || !room || i >= h->count)
		return 0;
	if (h->nchunks) {
		c = i / PIAS_TSET_CHUNK;
		j = i % PIAS_TSET_CHUNK;
		/* the verifier does not follow a division: bounds it can see */
		barrier_var(j);
		ch = c < PIAS_TSET_INLINE ? tset_chunk(room, h, c) : NULL;
		if (!ch)
			return 0;
	}
	return tset_entry_takes(room, h, ch, c, j, scoped);
}

/* The pick's ways to a set's entries (include/pias/pick.h): ctx is the header. */
static __u32 tset_draw(void *ctx, __u32 r, __u32 scoped)
{
	return pias_tset_draw(ctx, r, scoped);
}

static __u32 tset_take(void *ctx, __u32 i, __u32 scoped)
{
	return pias_tset_take(ctx, i, scoped);
}

/* The entries of scoped set h (the room's) in the client's prefix; NULL if none. */
static __always_inline const struct pias_tset_range *tset_scope(struct tset_room *room,
								const struct pias_tset *h)
{
	room->scope.gen = h->gen;
	room->scope.prefix = pias_prefix_of(&room->client, h->policy.scope_len);
	return bpf_map_lookup_elem(&pias_tgt_scopes, &room->scope);
}

#endif
