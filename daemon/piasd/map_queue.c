// SPDX-License-Identifier: MIT
/*
 * The node's writes of one kind in a row, made in one batch (issue 13,
 * point 6): a JAP whose tick takes thousands of targets down, a RAP taking
 * over many groups, an IAP refreshing many bindings. dataplane.c queues
 * target, group and binding writes here; the queue is made (flushed) when
 * a write of another kind comes, when it is full, before any message goes
 * out or any reading of the dataplane (node.h: both must see the writes
 * before them), and at the end of each action list (io.flush). So between
 * the node's inputs it is always empty, and piasd's own writes (operator
 * commands, restart) never pass a queued one.
 *
 * A failed batch is counted and logged once (map_errors counts the
 * entries it held): the node had gone on from each write already, as it
 * does from a failed single write.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "piasd.h"

#define QUEUE_MAX 4096 /* entries a batch holds: one bpf() call each */

static int queue_room(struct piasd_map_queue *q)
{
	if (q->ids)
		return 0;
	q->ids = calloc(QUEUE_MAX, sizeof(*q->ids));
	q->targets = calloc(QUEUE_MAX, sizeof(*q->targets));
	q->tas = calloc(QUEUE_MAX, sizeof(*q->tas));
	q->groups = calloc(QUEUE_MAX, sizeof(*q->groups));
	q->bindings = calloc(QUEUE_MAX, sizeof(*q->bindings));
	if (q->ids && q->targets && q->tas && q->groups && q->bindings)
		return 0;
	piasd_map_queue_free(q);
	return -ENOMEM;
}

void piasd_map_queue_free(struct piasd_map_queue *q)
{
	free(q->ids);
	free(q->targets);
	free(q->tas);
	free(q->groups);
	free(q->bindings);
	memset(q, 0, sizeof(*q));
}

int piasd_map_queue_flush(struct piasd *d, struct pias_err *e)
{
	struct piasd_map_queue *q = &d->map_queue;
	size_t n = q->n;
	int err = 0;

	if (!n)
		return 0;
	switch (q->kind) {
	case PIASD_MQ_TARGET_PUT:
		err = pias_targets_set_many(&d->maps, q->ids, q->targets, n, e);
		break;
	case PIASD_MQ_TARGET_DEL:
		err = pias_targets_del_many(&d->maps, q->ids, n, e);
		break;
	case PIASD_MQ_GROUP_PUT:
		err = pias_groups_put_many(&d->maps, q->tas, q->groups, n, e);
		break;
	case PIASD_MQ_GROUP_DEL:
		pias_groups_del_many(&d->maps, q->tas, n);
		break;
	case PIASD_MQ_BINDING_PUT:
		err = pias_bindings_put_many(&d->maps, q->tas, q->bindings, q->groups, n, e);
		break;
	case PIASD_MQ_BINDING_DEL:
		pias_bindings_del_many(&d->maps, q->tas, n);
		break;
	}
	q->n = 0;
	PIASD_ADD(d, map_batches, 1);
	PIASD_ADD(d, map_batched_writes, n);
	if (err) {
		PIASD_ADD(d, map_errors, n);
		LOG_W("map write of %zu entries in a batch: %s", n, e->msg);
	}
	return err;
}

/* The queue's next slot for a write of kind: what it held of another kind made first. */
static int queue_slot(struct piasd *d, enum piasd_mq_kind kind, size_t *at, struct pias_err *e)
{
	struct piasd_map_queue *q = &d->map_queue;

	if (queue_room(q))
		return pias_err_set(e, -ENOMEM, "map write queue: out of memory");
	if (q->n && (q->kind != kind || q->n == QUEUE_MAX))
		piasd_map_queue_flush(d, e);
	q->kind = kind;
	*at = q->n++;
	return 0;
}

int piasd_queue_target(struct piasd *d, __u32 id, const struct pias_target *t, struct pias_err *e)
{
	size_t at;
	int err = queue_slot(d, t ? PIASD_MQ_TARGET_PUT : PIASD_MQ_TARGET_DEL, &at, e);

	if (err)
		return err;
	d->map_queue.ids[at] = id;
	if (t)
		d->map_queue.targets[at] = *t;
	return 0;
}

int piasd_queue_group(struct piasd *d, const struct pias_ta *ta, const struct pias_group *g,
		      struct pias_err *e)
{
	size_t at;
	int err = queue_slot(d, g ? PIASD_MQ_GROUP_PUT : PIASD_MQ_GROUP_DEL, &at, e);

	if (err)
		return err;
	d->map_queue.tas[at] = *ta;
	if (g)
		d->map_queue.groups[at] = *g;
	return 0;
}

int piasd_queue_binding(struct piasd *d, const struct pias_ta *ta, const struct pias_binding *b,
			const struct pias_group *set, struct pias_err *e)
{
	size_t at;
	int err = queue_slot(d, b ? PIASD_MQ_BINDING_PUT : PIASD_MQ_BINDING_DEL, &at, e);

	if (err)
		return err;
	d->map_queue.tas[at] = *ta;
	if (b) {
		d->map_queue.bindings[at] = *b;
		/* the set beside it (count 0: none), as pias_bindings_put_many reads it */
		if (set)
			d->map_queue.groups[at] = *set;
		else
			d->map_queue.groups[at].count = 0;
	}
	return 0;
}
