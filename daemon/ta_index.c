// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include <pias/hash.h>

#include "registry.h"
#include "ta_index.h"

void pias_ta_index_init(struct pias_ta_index *x, size_t limit, const char *who)
{
	*x = (struct pias_ta_index){ .who = who, .limit = limit };
	pias_ref_index_init(&x->ix, who);
}

void pias_ta_index_free(struct pias_ta_index *x)
{
	pias_ref_index_free(&x->ix);
	free(x->keys);
	free(x->hashes);
	free(x->used);
	free(x->free);
	pias_ta_index_init(x, x->limit, x->who);
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
	int err;

	if (x->n + more > x->limit)
		return pias_err_set(e, -ENOSPC, "%s: %zu groups held already (at most %zu)", x->who,
				    x->n, x->limit);
	/* handles come from the free list first, then from hwm on */
	err = keys_grow(x, x->hwm + (more > x->nfree ? more - x->nfree : 0), e);
	return err ? err : pias_ref_index_reserve(&x->ix, more, e);
}

struct ta_key {
	const struct pias_ta_index *x;
	const struct pias_ta *ta;
};

static bool ta_match(const void *ctx, __u32 h)
{
	const struct ta_key *k = ctx;

	return pias_ta_eq(&k->x->keys[h], k->ta);
}

long pias_ta_index_find(const struct pias_ta_index *x, const struct pias_ta *ta)
{
	struct ta_key k = { .x = x, .ta = ta };

	if (!x->n)
		return -1;
	return pias_ref_index_find(&x->ix, pias_ta_hash(ta), ta_match, &k);
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
	pias_ref_index_put(&x->ix, x->hashes[h], h);
	x->n++;
	return h;
}

void pias_ta_index_del(struct pias_ta_index *x, __u32 h)
{
	pias_ref_index_del(&x->ix, x->hashes[h], h);
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
