// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "key_index.h"

void pias_key_index_init(struct pias_key_index *x, const char *who)
{
	*x = (struct pias_key_index){ .who = who };
}

void pias_key_index_free(struct pias_key_index *x)
{
	free(x->table);
	pias_key_index_init(x, x->who);
}

/* splitmix64's finaliser: keys that differ in a few bits land far apart. */
static size_t home(__u64 key, size_t mask)
{
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ull;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebull;
	key ^= key >> 31;
	return (size_t)key & mask;
}

static void slot_put(struct pias_key_slot *table, size_t mask, __u64 key, __u32 val)
{
	size_t i = home(key, mask);

	while (table[i].used)
		i = (i + 1) & mask;
	table[i] = (struct pias_key_slot){ .key = key, .val = val, .used = 1 };
}

int pias_key_index_reserve(struct pias_key_index *x, size_t more, struct pias_err *e)
{
	size_t need = x->n + more, cap = x->table ? x->mask + 1 : 0, ncap = cap ? cap : 64;
	struct pias_key_slot *t;

	if (2 * need <= cap)
		return 0;
	while (ncap < 2 * need)
		ncap *= 2;
	t = calloc(ncap, sizeof(*t));
	if (!t)
		return pias_err_set(e, -ENOMEM, "%s: no memory for a %zu-slot index", x->who, ncap);
	for (size_t i = 0; i < cap; i++)
		if (x->table[i].used)
			slot_put(t, ncap - 1, x->table[i].key, x->table[i].val);
	free(x->table);
	x->table = t;
	x->mask = ncap - 1;
	return 0;
}

/* key's slot, or the empty slot that ends its probe (-1: no table). */
static long slot_of(const struct pias_key_index *x, __u64 key)
{
	size_t i;

	if (!x->table)
		return -1;
	for (i = home(key, x->mask); x->table[i].used; i = (i + 1) & x->mask)
		if (x->table[i].key == key)
			break;
	return (long)i;
}

__u32 *pias_key_index_get(const struct pias_key_index *x, __u64 key)
{
	long i = slot_of(x, key);

	return i >= 0 && x->table[i].used ? &x->table[i].val : NULL;
}

int pias_key_index_add(struct pias_key_index *x, __u64 key, __u32 val, struct pias_err *e)
{
	int err = pias_key_index_reserve(x, 1, e);

	if (err)
		return err;
	slot_put(x->table, x->mask, key, val);
	x->n++;
	return 0;
}

void pias_key_index_del(struct pias_key_index *x, __u64 key)
{
	long at = slot_of(x, key);
	size_t i, j;

	if (at < 0 || !x->table[at].used)
		return;
	/* backward shift, as in ta_index.c: no probe may stop early at the hole */
	i = (size_t)at;
	for (j = (i + 1) & x->mask; x->table[j].used; j = (j + 1) & x->mask) {
		size_t h = home(x->table[j].key, x->mask);

		if (((j - h) & x->mask) >= ((j - i) & x->mask)) {
			x->table[i] = x->table[j];
			i = j;
		}
	}
	x->table[i].used = 0;
	x->n--;
}
