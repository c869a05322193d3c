// SPDX-License-Identifier: MIT
/*
 * daemon/dplive.c and daemon/echo.c: a proxy whose piasd is gone stays
 * alive for its pinned flows while its dataplane answers echoes, and is
 * dead once it stops; answers are ours and fresh, or refused.
 */
#include <errno.h>
#include <string.h>

#include "unit.h"

#include "dplive.h"
#include "echo.h"

#define MS 1000000ull

static struct pias_dplive_action buf[16];

static size_t tick(struct pias_dplive *dl, __u64 now, struct pias_dplive_actions *acts)
{
	acts->a = buf;
	acts->cap = 16;
	assert_int_equal(pias_dplive_tick(dl, now, acts), 0);
	return acts->n;
}

/* Echoed every interval while it answers; dead a timeout after its last answer. */
static void answers_keep_alive(void **state)
{
	struct pias_dplive_config cfg = { .echo_interval_ns = 250 * MS, .timeout_ns = 1500 * MS };
	struct pias_dplive dl;
	struct pias_dplive_actions acts;
	__u64 t = 1000 * MS;
	int echoes = 0;

	(void)state;
	assert_int_equal(pias_dplive_init(&dl, &cfg, NULL), 0);
	assert_true(pias_dplive_watch(&dl, 7, t));
	assert_true(pias_dplive_watch(&dl, 7, t + 10 * MS)); /* once only */
	assert_int_equal(tick(&dl, t, &acts), 1);
	assert_int_equal(acts.a[0].kind, PIAS_DPLIVE_ECHO);
	assert_int_equal(acts.a[0].id, 7);
	assert_int_equal(tick(&dl, t + 100 * MS, &acts), 0); /* not due yet */
	/* 60 s of answers to every echo: watched all along, never dead */
	__u64 last = t;

	for (__u64 now = t + 50 * MS; now < t + 60000 * MS; now += 50 * MS) {
		tick(&dl, now, &acts);
		for (size_t i = 0; i < acts.n; i++) {
			assert_int_equal(acts.a[i].kind, PIAS_DPLIVE_ECHO);
			echoes++;
			last = now + 5 * MS;
			assert_true(pias_dplive_answer(&dl, 7, last));
		}
	}
	assert_in_range(echoes, 230, 241);
	assert_true(pias_dplive_watched(&dl, 7));
	/* the answers stop (its host died): echoed still, dead 1.5 s after the last one */
	assert_int_equal(tick(&dl, last + 1490 * MS, &acts), 1);
	assert_int_equal(acts.a[0].kind, PIAS_DPLIVE_ECHO);
	assert_int_equal(tick(&dl, last + 1500 * MS, &acts), 1);
	assert_int_equal(acts.a[0].kind, PIAS_DPLIVE_DEAD);
	assert_int_equal(acts.a[0].id, 7);
	assert_false(pias_dplive_watched(&dl, 7));
	assert_false(pias_dplive_answer(&dl, 7, last + 1510 * MS)); /* too late */
	pias_dplive_free(&dl);
}

/* Never answering: dead a timeout after the watch began. Membership's return ends it. */
static void silence_and_return(void **state)
{
	struct pias_dplive_config cfg = { .echo_interval_ns = 100 * MS, .timeout_ns = 1000 * MS };
	struct pias_dplive dl;
	struct pias_dplive_actions acts;
	size_t dead = 0;

	(void)state;
	assert_int_equal(pias_dplive_init(&dl, &cfg, NULL), 0);
	for (__u32 id = 1; id <= 10; id++)
		assert_true(pias_dplive_watch(&dl, id, 0));
	pias_dplive_forget(&dl, 4); /* its piasd came back */
	for (__u64 now = 0; now <= 1000 * MS; now += 10 * MS) {
		tick(&dl, now, &acts);
		for (size_t i = 0; i < acts.n; i++) {
			if (acts.a[i].kind == PIAS_DPLIVE_DEAD) {
				assert_int_equal(now, 1000 * MS);
				assert_int_not_equal(acts.a[i].id, 4);
				dead++;
			}
		}
	}
	assert_int_equal(dead, 9);
	assert_int_equal(dl.n, 0);
	/* a buffer too small changes nothing */
	assert_true(pias_dplive_watch(&dl, 1, 0));
	assert_true(pias_dplive_watch(&dl, 2, 0));
	acts.a = buf;
	acts.cap = 1;
	assert_int_equal(pias_dplive_tick(&dl, 0, &acts), -ENOBUFS);
	assert_int_equal(tick(&dl, 0, &acts), 2);
	pias_dplive_free(&dl);

	/* timeout 0: nothing is watched, dead at once */
	cfg.timeout_ns = 0;
	assert_int_equal(pias_dplive_init(&dl, &cfg, NULL), 0);
	assert_false(pias_dplive_watch(&dl, 3, 0));
	pias_dplive_free(&dl);
	cfg.echo_interval_ns = 0;
	cfg.timeout_ns = 1;
	assert_int_equal(pias_dplive_init(&dl, &cfg, NULL), -EINVAL);
}

/* The answer as the XDP program makes it from a request: kind 8, tag its own. */
static void answer_of(__u8 b[PIAS_ECHO_LEN], __u64 their_tag)
{
	b[1] = PIAS_KIND_ECHO_REPLY;
	memcpy(b + 12, &their_tag, 8);
}

static void echo_codec(void **state)
{
	static const __u8 secret[PIAS_ECHO_SECRET_LEN] = "0123456789abcde";
	static const __u8 other[PIAS_ECHO_SECRET_LEN] = "another process";
	__u8 b[PIAS_ECHO_LEN], c[PIAS_ECHO_LEN];
	__u64 t = 5000 * MS, tag = 0;
	__u32 peer = 0;

	(void)state;
	pias_echo_request(b, 1, 2, 0x1111, t, secret);
	assert_int_equal(b[0], PIAS_TUN_VERSION);
	assert_int_equal(b[1], PIAS_KIND_ECHO_REQUEST);
	/* the request itself is no answer */
	assert_int_equal(pias_echo_reply_check(b, sizeof(b), 1, t, 2000 * MS, secret, &peer, &tag),
			 -EBADMSG);
	answer_of(b, 0x2222);
	assert_int_equal(
		pias_echo_reply_check(b, sizeof(b), 1, t + MS, 2000 * MS, secret, &peer, &tag), 0);
	assert_int_equal(peer, 2);
	assert_true(tag == 0x2222);
	/* too old (a replay), from the future, another process's, another asker's */
	assert_int_equal(pias_echo_reply_check(b, sizeof(b), 1, t + 2001 * MS, 2000 * MS, secret,
					       &peer, &tag),
			 -EBADMSG);
	assert_int_equal(
		pias_echo_reply_check(b, sizeof(b), 1, t - MS, 2000 * MS, secret, &peer, &tag),
		-EBADMSG);
	assert_int_equal(pias_echo_reply_check(b, sizeof(b), 1, t, 2000 * MS, other, &peer, &tag),
			 -EBADMSG);
	assert_int_equal(pias_echo_reply_check(b, sizeof(b), 3, t, 2000 * MS, secret, &peer, &tag),
			 -EBADMSG);
	/* any byte of the body or the ids changed: refused */
	for (size_t i = 4; i < PIAS_ECHO_LEN; i++) {
		if (i >= 12 && i < 20)
			continue; /* the tag: the caller's to check */
		memcpy(c, b, sizeof(c));
		c[i] ^= 0x40;
		assert_int_equal(
			pias_echo_reply_check(c, sizeof(c), 1, t, 2000 * MS, secret, &peer, &tag),
			-EBADMSG);
	}
	assert_int_equal(
		pias_echo_reply_check(b, sizeof(b) - 1, 1, t, 2000 * MS, secret, &peer, &tag),
		-EBADMSG);
}

int test_dplive(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(answers_keep_alive),
		cmocka_unit_test(silence_and_return),
		cmocka_unit_test(echo_codec),
	};

	return cmocka_run_group_tests_name("dplive", tests, NULL, NULL);
}
