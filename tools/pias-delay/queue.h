/* SPDX-License-Identifier: MIT */
/*
 * The delay queue of one direction of pias-delay: a FIFO of frames, each
 * stamped with the time it is due out (CLOCK_MONOTONIC ns), held in one ring
 * of bytes that bounds the memory of the direction.
 *
 * Pure (no I/O, no clock): the relay stamps and sends, this only stores,
 * which is what lets selftests/unit/test_delay.c test order, due times,
 * bounds and wraparound without a network.
 *
 * Frames of one direction all get the same delay and arrive in order, so
 * their due times do not decrease and the head is always the next one due:
 * a FIFO is all a fixed-delay wire needs (no heap).
 *
 * Memory: every frame takes DQ_HDR_SIZE bytes of header plus its length
 * rounded up to 8 bytes; when the frame does not fit in the contiguous room
 * at the end of the ring, that room is skipped and the frame goes to the
 * start. The bound (cap) counts all of it, like a NIC's buffer memory; a
 * frame that does not fit is dropped (tail drop) and counted.
 */
#ifndef PIAS_DELAY_QUEUE_H
#define PIAS_DELAY_QUEUE_H

#include <stddef.h>
#include <stdint.h>

/* One stored frame. Frames start on 8-byte boundaries of the ring. */
struct dq_frame {
	uint64_t due_ns; /* CLOCK_MONOTONIC time it may leave */
	uint32_t len;	 /* bytes of data[]; DQ_PAD marks skipped room */
	uint32_t reserved;
	unsigned char data[];
};

#define DQ_HDR_SIZE  sizeof(struct dq_frame)
#define DQ_ALIGN     8u
#define DQ_PAD	     UINT32_MAX
#define DQ_MIN_BYTES 4096u

struct dq_stats {
	uint64_t in_frames; /* accepted */
	uint64_t in_bytes;
	uint64_t out_frames; /* popped */
	uint64_t out_bytes;
	uint64_t drop_full; /* no room: tail drop */
	uint64_t drop_full_bytes;
	uint64_t drop_big; /* could never fit (longer than the ring) */
};

struct dq {
	unsigned char *buf;
	size_t cap;    /* bytes of buf, a multiple of DQ_ALIGN */
	size_t head;   /* offset of the oldest frame (or of padding before it) */
	size_t tail;   /* offset where the next frame goes */
	size_t used;   /* bytes between head and tail, padding included */
	size_t frames; /* frames stored */
	size_t bytes;  /* data bytes of the frames stored */
	struct dq_stats st;
};

/* Ring storage one frame of len bytes takes (header, data, alignment). */
size_t dq_frame_size(size_t len);

/* cap bytes of ring, rounded down to DQ_ALIGN; 0, or -EINVAL if cap < DQ_MIN_BYTES,
 * -ENOMEM. */
int dq_init(struct dq *q, size_t cap);
void dq_free(struct dq *q);

/* Appends a copy of data[0..len) due at due_ns: 0, -ENOSPC if the ring has no
 * room now, -EMSGSIZE if it never could (both counted as drops). */
int dq_push(struct dq *q, const void *data, size_t len, uint64_t due_ns);

/* The oldest frame, or NULL if empty. */
struct dq_frame *dq_head(const struct dq *q);

/* The frame after f (f from dq_head or dq_next), or NULL: lets the relay hand
 * several due frames to one sendmmsg before popping them. */
struct dq_frame *dq_next(const struct dq *q, const struct dq_frame *f);

/* Removes the oldest frame (no-op if empty). */
void dq_pop(struct dq *q);

/* The head's due time in *due: 1, or 0 if empty. */
int dq_next_due(const struct dq *q, uint64_t *due);

#endif
