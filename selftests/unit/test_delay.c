// SPDX-License-Identifier: MIT
/* tools/pias-delay/queue: the delay FIFO's order, due times, bound, drops, wraparound. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/pias-delay/queue.h"
#include "unit.h"

/* splitmix64: every run draws the same sizes. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Frame number n of length len: bytes derived from n, so a frame read back
 * from the wrong place or cut short shows. */
static void fill(unsigned char *p, size_t len, uint32_t n)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(n * 131 + i * 7);
}

static void push_ok(struct dq *q, uint32_t n, size_t len, uint64_t due)
{
	unsigned char b[8192];

	assert_true(len <= sizeof(b));
	fill(b, len, n);
	assert_int_equal(dq_push(q, b, len, due), 0);
}

static void check_frame(const struct dq_frame *f, uint32_t n, size_t len, uint64_t due)
{
	unsigned char b[8192];

	assert_non_null(f);
	assert_int_equal(f->len, len);
	assert_int_equal(f->due_ns, due);
	fill(b, len, n);
	assert_memory_equal(f->data, b, len);
	/* senders pass f->data straight to the kernel: it must stay aligned */
	assert_int_equal((uintptr_t)f % DQ_ALIGN, 0);
}

static void test_init(void **state)
{
	struct dq q;

	(void)state;
	assert_int_equal(dq_init(&q, DQ_MIN_BYTES - 1), -EINVAL);
	assert_int_equal(dq_init(&q, 4 << 20), 0);
	assert_int_equal(q.cap, 4 << 20);
	assert_null(dq_head(&q));
	dq_free(&q);
	/* rounded down to whole 8-byte units */
	assert_int_equal(dq_init(&q, 5001), 0);
	assert_int_equal(q.cap, 5000);
	dq_free(&q);
	assert_int_equal(dq_frame_size(0), DQ_HDR_SIZE);
	assert_int_equal(dq_frame_size(1), DQ_HDR_SIZE + 8);
	assert_int_equal(dq_frame_size(64), DQ_HDR_SIZE + 64);
	assert_int_equal(dq_frame_size(1514), DQ_HDR_SIZE + 1520);
}

/* FIFO: frames come out in the order they went in, with their due times,
 * whether walked with dq_next or popped. */
static void test_order_due(void **state)
{
	uint64_t due, seed = 1;
	size_t lens[100];
	struct dq_frame *f;
	struct dq q;
	uint32_t i;

	(void)state;
	assert_int_equal(dq_init(&q, 1 << 20), 0);
	assert_int_equal(dq_next_due(&q, &due), 0);
	for (i = 0; i < 100; i++) {
		lens[i] = 1 + rnd(&seed) % 1514;
		push_ok(&q, i, lens[i], 1000000000ull + i * 1000);
	}
	assert_int_equal(q.frames, 100);
	for (i = 0, f = dq_head(&q); f; f = dq_next(&q, f), i++)
		check_frame(f, i, lens[i], 1000000000ull + i * 1000);
	assert_int_equal(i, 100);
	for (i = 0; i < 100; i++) {
		assert_int_equal(dq_next_due(&q, &due), 1);
		assert_int_equal(due, 1000000000ull + i * 1000);
		check_frame(dq_head(&q), i, lens[i], due);
		dq_pop(&q);
	}
	assert_null(dq_head(&q));
	assert_int_equal(dq_next_due(&q, &due), 0);
	assert_int_equal(q.used, 0);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.st.in_frames, 100);
	assert_int_equal(q.st.out_frames, 100);
	assert_int_equal(q.st.in_bytes, q.st.out_bytes);
	dq_pop(&q); /* popping an empty queue does nothing */
	assert_int_equal(q.st.out_frames, 100);
	dq_free(&q);
}

/* The bound: a full queue drops the newest frame (tail drop), counts it,
 * keeps what it had, and takes frames again once the head is gone. */
static void test_bound_drops(void **state)
{
	size_t size = dq_frame_size(1500), n = 0;
	struct dq_frame *f;
	struct dq q;
	uint32_t i;

	(void)state;
	assert_int_equal(dq_init(&q, 64 * 1024), 0);
	for (i = 0; i < 1000; i++) {
		unsigned char b[1500];

		fill(b, sizeof(b), i);
		if (dq_push(&q, b, sizeof(b), i) == 0)
			n++;
		else
			assert_int_equal(dq_push(&q, b, sizeof(b), i), -ENOSPC);
	}
	assert_int_equal(n, 64 * 1024 / size);
	assert_true(q.used <= q.cap);
	assert_int_equal(q.frames, n);
	assert_int_equal(q.bytes, n * 1500);
	assert_int_equal(q.st.drop_full, 2 * (1000 - n));
	assert_int_equal(q.st.drop_full_bytes, 2 * (1000 - n) * 1500);
	/* the kept frames are the first n, untouched by the drops */
	for (i = 0, f = dq_head(&q); f; f = dq_next(&q, f), i++)
		check_frame(f, i, 1500, i);
	assert_int_equal(i, n);
	/* a small frame still fits in what the big ones left */
	push_ok(&q, 5000, 64 * 1024 - n * size - DQ_HDR_SIZE, 5000);
	assert_int_equal(q.used, q.cap);
	assert_int_equal(dq_push(&q, "", 0, 1), -ENOSPC);
	/* room again once the head left */
	dq_pop(&q);
	push_ok(&q, 6000, 1500, 6000);
	check_frame(dq_head(&q), 1, 1500, 1);
	dq_free(&q);
}

/* A frame longer than the ring could never go: a drop of its own kind. A
 * frame of exactly the ring's size fits an empty ring. */
static void test_too_big(void **state)
{
	unsigned char *b = calloc(1, DQ_MIN_BYTES);
	struct dq q;

	(void)state;
	assert_non_null(b);
	assert_int_equal(dq_init(&q, DQ_MIN_BYTES), 0);
	assert_int_equal(dq_push(&q, b, DQ_MIN_BYTES - DQ_HDR_SIZE + 1, 1), -EMSGSIZE);
	assert_int_equal(q.st.drop_big, 1);
	assert_int_equal(q.st.drop_full, 0);
	assert_int_equal(dq_push(&q, b, DQ_MIN_BYTES - DQ_HDR_SIZE, 1), 0);
	assert_int_equal(q.used, q.cap);
	assert_int_equal(dq_push(&q, b, 1, 2), -ENOSPC);
	dq_pop(&q);
	assert_int_equal(q.used, 0);
	assert_int_equal(dq_push(&q, b, 1, 2), 0);
	dq_free(&q);
	free(b);
}

/* The ring's edges, each set up exactly (cap 4096, frames of 1024 bytes of
 * ring = 1008 of data). */
static void test_wrap_edges(void **state)
{
	struct dq_frame *f;
	struct dq q;
	uint32_t i;

	(void)state;
	assert_int_equal(dq_init(&q, 4096), 0);

	/* frames ending exactly at the end: full, head == tail == 0 */
	for (i = 0; i < 4; i++)
		push_ok(&q, i, 1008, i);
	assert_int_equal(q.used, 4096);
	assert_int_equal(dq_push(&q, "x", 1, 9), -ENOSPC);
	/* one out, one in at the start: full with head == tail == 1024 */
	dq_pop(&q);
	push_ok(&q, 4, 1008, 4);
	assert_int_equal(q.head, 1024);
	assert_int_equal(q.tail, 1024);
	for (i = 1, f = dq_head(&q); f; f = dq_next(&q, f), i++)
		check_frame(f, i, 1008, i);
	assert_int_equal(i, 5);
	for (i = 1; i < 5; i++) {
		check_frame(dq_head(&q), i, 1008, i);
		dq_pop(&q);
	}
	assert_int_equal(q.used, 0);

	/* 8 bytes left at the end, less than a header: skipped unmarked */
	push_ok(&q, 10, 2032, 10); /* 2048 of ring */
	push_ok(&q, 11, 2024, 11); /* 2040: tail at 4088 */
	dq_pop(&q);
	push_ok(&q, 12, 1008, 12); /* does not fit in 8: goes to 0 */
	assert_int_equal(q.tail, 1024);
	assert_int_equal(q.used, 2040 + 8 + 1024);
	f = dq_head(&q);
	check_frame(f, 11, 2024, 11);
	check_frame(dq_next(&q, f), 12, 1008, 12);
	assert_null(dq_next(&q, dq_next(&q, f)));
	dq_pop(&q);
	check_frame(dq_head(&q), 12, 1008, 12);
	assert_int_equal(q.used, 8 + 1024); /* the skipped bytes leave with 12 */
	dq_pop(&q);
	assert_int_equal(q.used, 0);

	/* 512 bytes left at the end: skipped and marked */
	push_ok(&q, 20, 1008, 20);
	push_ok(&q, 21, 2544, 21); /* 2560: tail at 3584 */
	dq_pop(&q);
	assert_int_equal(dq_push(&q, "x", 1008 + 8, 22), -ENOSPC); /* 1040 > 1024 at 0 */
	push_ok(&q, 23, 1008, 23);
	assert_int_equal(q.used, 2560 + 512 + 1024);
	f = dq_head(&q);
	check_frame(f, 21, 2544, 21);
	check_frame(dq_next(&q, f), 23, 1008, 23);
	dq_pop(&q);
	dq_pop(&q);
	assert_int_equal(q.used, 0);
	assert_int_equal(q.st.drop_full, 2);
	dq_free(&q);
}

/* Laps around the ring with random sizes and random push/pop mixes, checked
 * against a plain array FIFO: content, order, due times, accounting; and a
 * drop only when the room really is short (a frame is refused only if the
 * free bytes could not hold it whole in either part). */
static void test_wraparound(void **state)
{
	enum {
		MODEL = 1 << 16
	};
	uint32_t *mn = malloc(MODEL * sizeof(*mn)), next = 0;
	size_t *ml = malloc(MODEL * sizeof(*ml)), mh = 0, mt = 0, bytes = 0;
	uint64_t seed = 42, laps_bytes = 0;
	unsigned char b[4096];
	struct dq q;

	(void)state;
	assert_non_null(mn);
	assert_non_null(ml);
	assert_int_equal(dq_init(&q, 16 * 1024), 0);
	for (int step = 0; step < 200000; step++) {
		uint64_t r = rnd(&seed);

		if (r % 100 < 55) {
			/* mostly small frames, some full-size, a few big */
			size_t len = r % 7 == 0 ? 1514 : r % 23 == 0 ? 4000 : (r >> 8) % 200;
			size_t free_before = q.cap - q.used;
			int rc;

			fill(b, len, next);
			rc = dq_push(&q, b, len, (uint64_t)next * 10);
			if (rc == 0) {
				assert_true(mt - mh < MODEL);
				mn[mt % MODEL] = next;
				ml[mt % MODEL] = len;
				mt++;
				bytes += len;
				laps_bytes += dq_frame_size(len);
			} else {
				size_t need = dq_frame_size(len);

				assert_int_equal(rc, -ENOSPC);
				assert_true(free_before < need ||
					    free_before <= 2 * (need - DQ_ALIGN));
			}
			next++;
		} else if (mh < mt) {
			check_frame(dq_head(&q), mn[mh % MODEL], ml[mh % MODEL],
				    (uint64_t)mn[mh % MODEL] * 10);
			bytes -= ml[mh % MODEL];
			mh++;
			dq_pop(&q);
		} else {
			assert_null(dq_head(&q));
		}
		assert_true(q.used <= q.cap);
		assert_int_equal(q.frames, mt - mh);
		assert_int_equal(q.bytes, bytes);
		if (step % 1000 == 0) {
			/* a walk sees exactly the model's frames */
			struct dq_frame *f = dq_head(&q);

			for (size_t i = mh; i < mt; i++, f = dq_next(&q, f))
				check_frame(f, mn[i % MODEL], ml[i % MODEL],
					    (uint64_t)mn[i % MODEL] * 10);
			assert_null(f);
		}
	}
	/* many times around the ring, not just once */
	assert_true(laps_bytes > 500 * q.cap);
	assert_int_equal(q.st.in_frames, mt);
	assert_int_equal(q.st.out_frames, mh);
	assert_int_equal(q.st.in_frames + q.st.drop_full, next);
	assert_true(q.st.drop_full > 0);
	dq_free(&q);
	free(mn);
	free(ml);
}

int test_delay(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),	    cmocka_unit_test(test_order_due),
		cmocka_unit_test(test_bound_drops), cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_wrap_edges),  cmocka_unit_test(test_wraparound),
	};

	return cmocka_run_group_tests_name("delay", tests, NULL, NULL);
}
