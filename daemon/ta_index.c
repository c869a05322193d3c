// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include <pias/hash.h>

#include "registry.h"
#include "ta_index.h"

void pias_ta_index_init(struct pias_ta_index *x, size_t limit, const char *who)
{
	*x = (struct pias_ta_index){ .who = who, .limit = limit };
}

void pias_ta_index_free(struct pias_ta_index *x)
{
	free(x->table);
	free(x->keys);
	free(x->hashes);
	free(x->used);
	free(x->free);
	pias_ta_index_init(x, x->limit, x->who);
}

static void slot_put(struct pias_ta_index_slot *table, size_t mask, __u32 hash, __u32 ref)
{
	size_t i = hash & mask;

	while (table[i].ref)
		i = (i + 1) & mask;
	table[i] = (struct pias_ta_index_slot){ .hash = hash, .ref = ref };
}

/* A table of cap slots (a power of two) holding every handle in use. */
static int rehash(struct pias_ta_index *x, size_t cap, struct pias_err *e)
{
	struct pias_ta_index_slot *t = calloc(cap, sizeof(*t));

	if (!t)
		return pias_err_set(e, -ENOMEM, "%s: no memory for a %zu-slot index", x->who, cap);
	for (size_t h = 0; h < x->hwm; h++)
		if (x->used[h])
			slot_put(t, cap - 1, x->hashes[h], (__u32)h + 1);
	free(x->table);
	x->table = t;
	x->mask = cap - 1;
	return 0;
}

/* Per-handle arrays of at least need entries; each grown alone, so a failure leaves all usable. */
static int keys_grow(struct pias_ta_index *x, size_t need, struct pias_err *e)
{
	size_t kc = x->kcap, hc = x->kcap, uc = x->kcap, fc = x->kcap;
	int err;

	if (need <= x->kcap)
		return 0;
	err = pias_grow((void **)&x->keys, &kc, sizeof(*x->keys), need, x->who, "TAs", e);
	if (!err)
		err = pias_grow((void **)&x->hashes, &hc, sizeof(*x->hashes), need, x->who, "TAs",
				e);
	if (!err)
		err = pias_grow((void **)&x->used, &uc, sizeof(*x->used), need, x->who, "TAs", e);
	if (!err)
		err = pias_grow((void **)&x->free, &fc, sizeof(*x->free), need, x->who, "TAs", e);
	if (err)
		return err;
	/* all grew by the same doubling from the same size */
	x->kcap = kc;
	return 0;
}

int pias_ta_index_reserve(struct pias_ta_index *x, size_t more, struct pias_err *e)
{
	size_t need = x->n + more, cap = x->table ? x->mask + 1 : 0;
	int err;

	if (need > x->limit)
		return pias_err_set(e, -ENOSPC, "%s: %zu groups held already (at most %zu)", x->who,
				    x->n, x->limit);
	/* handles come from the free list first, then from hwm on */
	err = keys_grow(x, x->hwm + (more > x->nfree ? more - x->nfree : 0), e);
	if (err)
		return err;
	if (2 * need <= cap)
		return 0;
	if (!cap)
		cap = 64;
	while (cap < 2 * need)
		cap *= 2;
	return rehash(x, cap, e);
}

long pias_ta_index_find(const struct pias_ta_index *x, const struct pias_ta *ta)
{
	__u32 hash;
	size_t i;

	if (!x->n)
		return -1;
	hash = pias_ta_hash(ta);
	for (i = hash & x->mask; x->table[i].ref; i = (i + 1) & x->mask) {
		__u32 h = x->table[i].ref - 1;

		if (x->table[i].hash == hash && pias_ta_eq(&x->keys[h], ta))
			return h;
	}
	return -1;
}

long pias_ta_index_add(struct pias_ta_index *x, const struct pias_ta *ta, struct pias_err *e)
{
	int err = pias_ta_index_reserve(x, 1, e);
	__u32 h;

	if (err)
		return err;
	h = x->nfree ? x->free[--x->nfree] : (__u32)x->hwm++;
	x->keys[h] = *ta;
	x->hashes[h] = pias_ta_hash(ta);
	x->used[h] = true;
	slot_put(x->table, x->mask, x->hashes[h], h + 1);
	x->n++;
	return h;
}

void pias_ta_index_del(struct pias_ta_index *x, __u32 h)
{
	size_t i = x->hashes[h] & x->mask, j;

	while (x->table[i].ref != h + 1)
		i = (i + 1) & x->mask;
	/*
	 * Backward shift: move up each later entry of the run that may sit
	 * at the hole (its home is not cyclically in (i, j]), so no probe
	 * for it ever stops early at an empty slot.
	 */
	for (j = (i + 1) & x->mask; x->table[j].ref; j = (j + 1) & x->mask) {
		size_t home = x->table[j].hash & x->mask;

		if (((j - home) & x->mask) >= ((j - i) & x->mask)) {
			x->table[i] = x->table[j];
			i = j;
		}
	}
	x->table[i].ref = 0;
	x->used[h] = false;
	x->free[x->nfree++] = h;
	x->n--;
}

long pias_ta_index_next(const struct pias_ta_index *x, long h)
{
	for (size_t i = (size_t)(h + 1); i < x->hwm; i++)
		if (x->used[i])
			return (long)i;
	return -1;
}
