// SPDX-License-Identifier: MIT
/* The delay queue: a FIFO of stamped frames in one bounded ring (queue.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

size_t dq_frame_size(size_t len)
{
	return DQ_HDR_SIZE + ((len + DQ_ALIGN - 1) & ~(size_t)(DQ_ALIGN - 1));
}

int dq_init(struct dq *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	if (cap < DQ_MIN_BYTES)
		return -EINVAL;
	cap &= ~(size_t)(DQ_ALIGN - 1);
	q->buf = malloc(cap);
	if (!q->buf)
		return -ENOMEM;
	q->cap = cap;
	return 0;
}

void dq_free(struct dq *q)
{
	free(q->buf);
	q->buf = NULL;
	q->cap = 0;
}

static struct dq_frame *at(const struct dq *q, size_t off)
{
	return (struct dq_frame *)(q->buf + off);
}

/*
 * Where the frame stored at or after off really starts: off itself, or the
 * start of the ring when off is the end, or room skipped at the end (too
 * small for a header, or marked DQ_PAD). Only called on offsets that hold
 * data.
 */
static size_t resolve(const struct dq *q, size_t off)
{
	if (q->cap - off < DQ_HDR_SIZE || at(q, off)->len == DQ_PAD)
		return 0;
	return off;
}

/* Data lies in [head, cap) and [0, tail): the free room is [tail, head). */
static int wrapped(const struct dq *q)
{
	return q->used && q->tail <= q->head;
}

int dq_push(struct dq *q, const void *data, size_t len, uint64_t due_ns)
{
	size_t need = dq_frame_size(len), off;
	struct dq_frame *f;

	if (len >= DQ_PAD || need > q->cap) {
		q->st.drop_big++;
		return -EMSGSIZE;
	}
	if (wrapped(q)) {
		if (need > q->head - q->tail)
			goto full;
		off = q->tail;
		q->used += need;
	} else if (need <= q->cap - q->tail) {
		off = q->tail;
		q->used += need;
	} else if (need <= q->head) {
		/* skip the end of the ring: frames are stored whole, so that
		 * the sender can hand each to the kernel as one buffer */
		if (q->cap - q->tail >= DQ_HDR_SIZE)
			at(q, q->tail)->len = DQ_PAD;
		q->used += q->cap - q->tail + need;
		off = 0;
	} else {
		goto full;
	}
	f = at(q, off);
	f->due_ns = due_ns;
	f->len = (uint32_t)len;
	f->reserved = 0;
	memcpy(f->data, data, len);
	q->tail = off + need;
	if (q->tail == q->cap)
		q->tail = 0;
	q->frames++;
	q->bytes += len;
	q->st.in_frames++;
	q->st.in_bytes += len;
	return 0;
full:
	q->st.drop_full++;
	q->st.drop_full_bytes += len;
	return -ENOSPC;
}

struct dq_frame *dq_head(const struct dq *q)
{
	if (!q->used)
		return NULL;
	return at(q, resolve(q, q->head));
}

struct dq_frame *dq_next(const struct dq *q, const struct dq_frame *f)
{
	size_t off = (size_t)((const unsigned char *)f - q->buf) + dq_frame_size(f->len);

	/* the end of the data (checked first: when the ring is full, tail is
	 * also where the head frame starts) */
	if (off == q->tail || (off == q->cap && q->tail == 0))
		return NULL;
	if (off == q->cap)
		return at(q, 0);
	off = resolve(q, off);
	return off == q->tail ? NULL : at(q, off);
}

void dq_pop(struct dq *q)
{
	struct dq_frame *f = dq_head(q);
	size_t off, size;

	if (!f)
		return;
	off = (size_t)((unsigned char *)f - q->buf);
	size = dq_frame_size(f->len);
	/* the skipped end of the ring goes with the frame after it */
	q->used -= (off == q->head ? 0 : q->cap - q->head) + size;
	q->frames--;
	q->bytes -= f->len;
	q->st.out_frames++;
	q->st.out_bytes += f->len;
	q->head = off + size;
	if (q->head == q->cap)
		q->head = 0;
	if (!q->used)
		q->head = q->tail = 0; /* the most contiguous room for what comes */
}

int dq_next_due(const struct dq *q, uint64_t *due)
{
	struct dq_frame *f = dq_head(q);

	if (!f)
		return 0;
	*due = f->due_ns;
	return 1;
}
