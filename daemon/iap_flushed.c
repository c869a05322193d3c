// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "iap_flushed.h"
#include "registry.h"

#define NONE 0xffffffffu

void pias_iap_flushed_init(struct pias_iap_flushed *f, size_t max)
{
	*f = (struct pias_iap_flushed){ .max = max };
	/* live TAs are at most max; a reservation for max more may come before the drops */
	pias_ta_index_init(&f->tas, 2 * max, "iap flush");
}

void pias_iap_flushed_free(struct pias_iap_flushed *f)
{
	pias_ta_index_free(&f->tas);
	free(f->first);
	free(f->last);
	free(f->ring);
	pias_iap_flushed_init(f, f->max);
}

int pias_iap_flushed_reserve(struct pias_iap_flushed *f, size_t n, struct pias_err *e)
{
	size_t nf = f->nth, nl = f->nth, need;
	int err;

	if (!f->ring) {
		f->ring = calloc(f->max, sizeof(*f->ring));
		if (!f->ring)
			return pias_err_set(e, -ENOMEM, "iap: no memory for %zu flushed queries",
					    f->max);
	}
	err = pias_ta_index_reserve(&f->tas, n < f->max ? n : f->max, e);
	if (err)
		return err;
	need = pias_ta_index_capacity(&f->tas);
	err = pias_grow((void **)&f->first, &nf, sizeof(*f->first), need, "iap", "flushed TAs", e);
	if (!err)
		err = pias_grow((void **)&f->last, &nl, sizeof(*f->last), need, "iap",
				"flushed TAs", e);
	if (err)
		return err;
	f->nth = nf < nl ? nf : nl;
	return 0;
}

/* The oldest record goes (the first of its TA's, if not answered). */
static void drop_front(struct pias_iap_flushed *f)
{
	const struct pias_iap_flushed_rec *r = &f->ring[f->front];

	if (r->live) {
		f->first[r->th] = r->next;
		if (r->next == NONE)
			pias_ta_index_del(&f->tas, r->th);
		f->live--;
	}
	f->front = (f->front + 1) % f->max;
	f->used--;
}

void pias_iap_flushed_add(struct pias_iap_flushed *f, const struct pias_ta *ta, __u32 rap_id,
			  __u64 sent_ns)
{
	size_t slot;
	long h;

	if (f->used == f->max)
		drop_front(f);
	slot = (f->front + f->used++) % f->max;
	h = pias_ta_index_find(&f->tas, ta);
	if (h < 0) {
		h = pias_ta_index_add(&f->tas, ta, NULL); /* reserved */
		f->first[h] = (__u32)slot;
	} else {
		f->ring[f->last[h]].next = (__u32)slot;
	}
	f->last[h] = (__u32)slot;
	f->ring[slot] = (struct pias_iap_flushed_rec){
		.th = (__u32)h, .rap_id = rap_id, .sent_ns = sent_ns, .next = NONE, .live = true
	};
	f->live++;
}

bool pias_iap_flushed_take(struct pias_iap_flushed *f, const struct pias_ta *ta, __u32 rap_id,
			   __u64 now, __u64 retry_ns)
{
	__u32 prev = NONE;
	long h;

	if (!f->live)
		return false;
	h = pias_ta_index_find(&f->tas, ta);
	if (h < 0)
		return false;
	/* oldest first: a RAP answers in the order it was asked */
	for (__u32 s = f->first[h]; s != NONE; prev = s, s = f->ring[s].next) {
		struct pias_iap_flushed_rec *r = &f->ring[s];

		if (r->rap_id != rap_id || pias_age(now, r->sent_ns) >= retry_ns)
			continue;
		if (prev == NONE)
			f->first[h] = r->next;
		else
			f->ring[prev].next = r->next;
		if (f->last[h] == s)
			f->last[h] = prev;
		if (f->first[h] == NONE)
			pias_ta_index_del(&f->tas, (__u32)h);
		r->live = false; /* its slot is reused once it reaches the front */
		f->live--;
		return true;
	}
	return false;
}

void pias_iap_flushed_expire(struct pias_iap_flushed *f, __u64 now, __u64 retry_ns)
{
	while (f->used &&
	       (!f->ring[f->front].live || pias_age(now, f->ring[f->front].sent_ns) >= retry_ns))
		drop_front(f);
	if (!f->used && f->ring)
		pias_iap_flushed_free(f); /* nothing awaited: the memory goes back */
}
