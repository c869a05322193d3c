// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "timers.h"

void pias_timers_init(struct pias_timers *t, const char *who)
{
	*t = (struct pias_timers){ .who = who };
}

void pias_timers_free(struct pias_timers *t)
{
	free(t->heap);
	free(t->pos);
	pias_timers_init(t, t->who);
}

/* pos covers refs below nrefs (new ones not queued). */
static int pos_grow(struct pias_timers *t, size_t nrefs, struct pias_err *e)
{
	size_t npos = t->npos;
	int err;

	if (nrefs <= t->npos)
		return 0;
	err = pias_grow((void **)&t->pos, &npos, sizeof(*t->pos), nrefs, t->who, "deadlines", e);
	if (err)
		return err;
	memset(t->pos + t->npos, 0, (npos - t->npos) * sizeof(*t->pos));
	t->npos = npos;
	return 0;
}

int pias_timers_reserve(struct pias_timers *t, __u32 ref, struct pias_err *e)
{
	int err = pos_grow(t, (size_t)ref + 1, e);

	if (err)
		return err;
	return pias_grow((void **)&t->heap, &t->cap, sizeof(*t->heap), t->n + 1, t->who,
			 "deadlines", e);
}

int pias_timers_reserve_all(struct pias_timers *t, size_t nrefs, struct pias_err *e)
{
	int err = pos_grow(t, nrefs, e);

	if (err)
		return err;
	/* each ref is queued at most once: nrefs nodes hold them all */
	return pias_grow((void **)&t->heap, &t->cap, sizeof(*t->heap), nrefs, t->who, "deadlines",
			 e);
}

static void place(struct pias_timers *t, size_t i, struct pias_timer_node nd)
{
	t->heap[i] = nd;
	t->pos[nd.ref] = (__u32)i + 1;
}

static void sift_up(struct pias_timers *t, size_t i)
{
	struct pias_timer_node nd = t->heap[i];

	while (i) {
		size_t parent = (i - 1) / 2;

		if (t->heap[parent].when <= nd.when)
			break;
		place(t, i, t->heap[parent]);
		i = parent;
	}
	place(t, i, nd);
}

static void sift_down(struct pias_timers *t, size_t i)
{
	struct pias_timer_node nd = t->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= t->n)
			break;
		if (c + 1 < t->n && t->heap[c + 1].when < t->heap[c].when)
			c++;
		if (nd.when <= t->heap[c].when)
			break;
		place(t, i, t->heap[c]);
		i = c;
	}
	place(t, i, nd);
}

int pias_timers_set(struct pias_timers *t, __u32 ref, __u64 when, struct pias_err *e)
{
	size_t i;

	if (pias_timers_queued(t, ref)) {
		i = t->pos[ref] - 1;
		t->heap[i].when = when;
		sift_up(t, i);
		sift_down(t, t->pos[ref] - 1);
		return 0;
	}
	int err = pias_timers_reserve(t, ref, e);

	if (err)
		return err;
	i = t->n++;
	t->heap[i] = (struct pias_timer_node){ .when = when, .ref = ref };
	sift_up(t, i);
	return 0;
}

/* Take the node at i off the heap. */
static void remove_at(struct pias_timers *t, size_t i)
{
	t->pos[t->heap[i].ref] = 0;
	if (--t->n == i)
		return;
	__u32 moved = t->heap[t->n].ref;

	place(t, i, t->heap[t->n]);
	sift_up(t, i);
	sift_down(t, t->pos[moved] - 1);
}

void pias_timers_cancel(struct pias_timers *t, __u32 ref)
{
	if (pias_timers_queued(t, ref))
		remove_at(t, t->pos[ref] - 1);
}

__u64 pias_timers_when(const struct pias_timers *t, __u32 ref)
{
	return pias_timers_queued(t, ref) ? t->heap[t->pos[ref] - 1].when : PIAS_TIMERS_NEVER;
}

/* Due nodes in the subtree of i, at most max: a node later than now hides its subtree. */
static size_t due_below(const struct pias_timers *t, size_t i, __u64 now, size_t max)
{
	size_t n;

	if (!max || i >= t->n || t->heap[i].when > now)
		return 0;
	n = 1;
	n += due_below(t, 2 * i + 1, now, max - n);
	n += due_below(t, 2 * i + 2, now, max - n);
	return n;
}

size_t pias_timers_due(const struct pias_timers *t, __u64 now, size_t max)
{
	return due_below(t, 0, now, max);
}

bool pias_timers_pop(struct pias_timers *t, __u64 now, __u32 *ref)
{
	if (!t->n || t->heap[0].when > now)
		return false;
	*ref = t->heap[0].ref;
	remove_at(t, 0);
	return true;
}

static int each_due(const struct pias_timers *t, size_t i, __u64 now, pias_timers_due_fn fn,
		    void *ctx)
{
	int err;

	/* a node not due has no child due: the walk goes as deep as the heap, log n */
	if (i >= t->n || t->heap[i].when > now)
		return 0;
	err = fn(ctx, t->heap[i].ref, t->heap[i].when);
	if (!err)
		err = each_due(t, 2 * i + 1, now, fn, ctx);
	if (!err)
		err = each_due(t, 2 * i + 2, now, fn, ctx);
	return err;
}

int pias_timers_each_due(const struct pias_timers *t, __u64 now, pias_timers_due_fn fn, void *ctx)
{
	return each_due(t, 0, now, fn, ctx);
}
