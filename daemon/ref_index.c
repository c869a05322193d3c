// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "ref_index.h"

void pias_ref_index_init(struct pias_ref_index *x, const char *who)
{
	*x = (struct pias_ref_index){ .who = who };
}

void pias_ref_index_free(struct pias_ref_index *x)
{
	free(x->table);
	pias_ref_index_init(x, x->who);
}

static void slot_put(struct pias_ref_slot *table, size_t mask, __u32 hash, __u32 ref1)
{
	size_t i = hash & mask;

	while (table[i].ref)
		i = (i + 1) & mask;
	table[i] = (struct pias_ref_slot){ .hash = hash, .ref = ref1 };
}

int pias_ref_index_reserve(struct pias_ref_index *x, size_t more, struct pias_err *e)
{
	size_t need = x->n + more, cap = x->table ? x->mask + 1 : 0, ncap = cap ? cap : 64;
	struct pias_ref_slot *t;

	if (2 * need <= cap)
		return 0;
	while (ncap < 2 * need)
		ncap *= 2;
	t = calloc(ncap, sizeof(*t));
	if (!t)
		return pias_err_set(e, -ENOMEM, "%s: no memory for a %zu-slot index", x->who, ncap);
	for (size_t i = 0; i < cap; i++)
		if (x->table[i].ref)
			slot_put(t, ncap - 1, x->table[i].hash, x->table[i].ref);
	free(x->table);
	x->table = t;
	x->mask = ncap - 1;
	return 0;
}

void pias_ref_index_put(struct pias_ref_index *x, __u32 hash, __u32 ref)
{
	slot_put(x->table, x->mask, hash, ref + 1);
	x->n++;
}

long pias_ref_index_find(const struct pias_ref_index *x, __u32 hash, pias_ref_match_fn match,
			 const void *ctx)
{
	if (!x->n)
		return -1;
	for (size_t i = hash & x->mask; x->table[i].ref; i = (i + 1) & x->mask)
		if (x->table[i].hash == hash && match(ctx, x->table[i].ref - 1))
			return x->table[i].ref - 1;
	return -1;
}

void pias_ref_index_del(struct pias_ref_index *x, __u32 hash, __u32 ref)
{
	size_t i = hash & x->mask, j;

	while (x->table[i].ref != ref + 1)
		i = (i + 1) & x->mask;
	/* backward shift, as in ta_index.c: no probe may stop early at the hole */
	for (j = (i + 1) & x->mask; x->table[j].ref; j = (j + 1) & x->mask) {
		size_t home = x->table[j].hash & x->mask;

		if (((j - home) & x->mask) >= ((j - i) & x->mask)) {
			x->table[i] = x->table[j];
			i = j;
		}
	}
	x->table[i].ref = 0;
	x->n--;
}
