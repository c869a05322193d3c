// SPDX-License-Identifier: MIT
/* daemon/agent: the target registration agent (fake time, fake JAPs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent_batch.h"
#include "unit.h"

#define MS   1000000ull
#define SEC  (1000 * MS)
#define T0   (1000 * SEC) /* fake time starts here */
#define SEQ0 1000000ull

struct fx {
	struct pias_agent a;
	struct pias_agent_target tgt;
	struct pias_agent_action buf[16];
	struct pias_agent_actions acts;
	struct pias_err e;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	/* udp:203.0.113.1:53, endpoint 198.51.100.10:53 */
	f->tgt.ta.family = PIAS_AF_INET;
	f->tgt.ta.addr.v4 = __builtin_bswap32(0xcb007101);
	f->tgt.ta.port = 53;
	f->tgt.ta.proto = PIAS_PROTO_UDP;
	f->tgt.family = PIAS_AF_INET;
	f->tgt.addr.v4 = __builtin_bswap32(0xc633640a);
	f->tgt.port = 53;
	f->tgt.weight = 1;
	assert_int_equal(pias_agent_init(&f->a, &f->tgt, NULL, SEQ0, &f->e), 0);
	f->acts = (struct pias_agent_actions){ .a = f->buf, .cap = 16 };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void clear(struct fx *f)
{
	f->acts.n = 0;
}

static void tick(struct fx *f, __u64 now)
{
	assert_int_equal(pias_agent_tick(&f->a, now, &f->acts, &f->e), 0);
}

/* SEND actions in the list; *seq the last one's seq. */
static int sends(struct fx *f, __u8 type, __u64 *seq)
{
	int n = 0;

	for (size_t i = 0; i < f->acts.n; i++)
		if (f->buf[i].kind == PIAS_AGENT_SEND && f->buf[i].hdr.type == type) {
			n++;
			if (seq)
				*seq = f->buf[i].hdr.seq;
		}
	return n;
}

/* The only EVENT action in the list, or NULL if none (fails on two). */
static const struct pias_agent_action *the_event(struct fx *f)
{
	const struct pias_agent_action *ev = NULL;

	for (size_t i = 0; i < f->acts.n; i++)
		if (f->buf[i].kind == PIAS_AGENT_EVENT) {
			assert_null(ev);
			ev = &f->buf[i];
		}
	return ev;
}

static void recv_ack_ta(struct fx *f, const struct pias_ta *ta, __u64 echo, __u32 jap, __u32 tid,
			__u32 refresh_ms, __u64 now)
{
	struct pias_msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->hdr.type = PIAS_MSG_REG_ACK;
	m->ack.ta = *ta;
	m->ack.echo_seq = echo;
	m->ack.jap_id = jap;
	m->ack.target_id = tid;
	m->ack.refresh_ms = refresh_ms;
	assert_int_equal(pias_agent_recv(&f->a, m, now, &f->acts, &f->e), 0);
	free(m);
}

static void recv_ack(struct fx *f, __u64 echo, __u32 jap, __u32 tid, __u32 refresh_ms, __u64 now)
{
	recv_ack_ta(f, &f->tgt.ta, echo, jap, tid, refresh_ms, now);
}

static void recv_nack(struct fx *f, __u64 echo, __u32 code, const char *text, __u64 now)
{
	struct pias_msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->hdr.type = PIAS_MSG_REG_NACK;
	m->nack.ta = f->tgt.ta;
	m->nack.echo_seq = echo;
	m->nack.code = code;
	snprintf(m->nack.text, sizeof(m->nack.text), "%s", text);
	assert_int_equal(pias_agent_recv(&f->a, m, now, &f->acts, &f->e), 0);
	free(m);
}

/* Tick every 50 ms from now on until a REGISTER goes out; returns then. */
static __u64 next_send(struct fx *f, __u64 now, __u64 *seq)
{
	for (int i = 0; i < 1000; i++, now += 50 * MS) {
		clear(f);
		tick(f, now);
		if (sends(f, PIAS_MSG_REGISTER, seq))
			return now;
	}
	fail_msg("no REGISTER in 50 s");
	return 0;
}

/* Start and get registered with jap as target tid at T0; returns the time. */
static void recv_cookie(struct fx *f, __u64 echo, __u32 jap, __u8 fill, __u64 now)
{
	struct pias_msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->hdr.type = PIAS_MSG_REG_COOKIE;
	m->cookie.ta = f->tgt.ta;
	m->cookie.echo_seq = echo;
	m->cookie.jap_id = jap;
	memset(m->cookie.cookie, fill, sizeof(m->cookie.cookie));
	assert_int_equal(pias_agent_recv(&f->a, m, now, &f->acts, &f->e), 0);
	free(m);
}

static __u64 registered(struct fx *f, __u32 jap, __u32 tid)
{
	__u64 seq = 0;

	assert_int_equal(pias_agent_start(&f->a, T0, &f->acts, &f->e), 0);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	recv_ack(f, seq, jap, tid, 900, T0 + MS);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERED);
	clear(f);
	return T0 + MS;
}

static void test_init_rejects(void **state)
{
	struct fx *f = *state;
	struct pias_agent a;
	struct pias_agent_target t;
	struct pias_agent_config c = { .retry_initial_ns = 2 * SEC, .retry_max_ns = SEC };

	t = f->tgt;
	t.weight = 0;
	assert_int_equal(pias_agent_init(&a, &t, NULL, 1, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "weight");
	t = f->tgt;
	t.port = 0;
	assert_int_equal(pias_agent_init(&a, &t, NULL, 1, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "port");
	t = f->tgt;
	t.family = PIAS_AF_INET6;
	assert_int_equal(pias_agent_init(&a, &t, NULL, 1, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "endpoint is IPv6 but the TA is IPv4");
	t = f->tgt;
	t.ta.proto = 1;
	assert_int_equal(pias_agent_init(&a, &t, NULL, 1, &f->e), -EINVAL);
	t = f->tgt;
	assert_int_equal(pias_agent_init(&a, &t, &c, 1, &f->e), -EINVAL);
	assert_msg_has(f->e.msg, "backoff");
	/* seq 0 is never sent */
	assert_int_equal(pias_agent_init(&a, &t, NULL, 0, &f->e), 0);
	assert_int_equal(pias_agent_start(&a, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->buf[0].hdr.seq, 1);
}

static void test_register(void **state)
{
	struct fx *f = *state;
	const struct pias_agent_action *ev;
	struct pias_msg *m;
	char line[256];

	assert_int_equal(f->a.state, PIAS_AGENT_IDLE);
	assert_int_equal(pias_agent_start(&f->a, T0, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	assert_int_equal(f->buf[0].kind, PIAS_AGENT_SEND);
	assert_int_equal(f->buf[0].hdr.type, PIAS_MSG_REGISTER);
	assert_int_equal(f->buf[0].hdr.seq, SEQ0);
	assert_memory_equal(&f->buf[0].reg.ta, &f->tgt.ta, sizeof(f->tgt.ta));
	assert_int_equal(f->buf[0].reg.family, PIAS_AF_INET);
	assert_int_equal(f->buf[0].reg.addr.v4, f->tgt.addr.v4);
	assert_int_equal(f->buf[0].reg.port, 53);
	assert_int_equal(f->buf[0].reg.weight, 1);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERING);

	/* the message as pias_msg_encode wants it */
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	memset(m, 0xff, sizeof(*m));
	pias_agent_msg(&f->buf[0], m);
	assert_int_equal(m->hdr.type, PIAS_MSG_REGISTER);
	assert_int_equal(m->hdr.seq, SEQ0);
	assert_int_equal(m->hdr.sender_id, 0);
	assert_int_equal(m->hdr.key_id, 0);
	assert_int_equal(m->reg.weight, 1);
	free(m);

	/* a second start is refused */
	assert_int_equal(pias_agent_start(&f->a, T0, &f->acts, &f->e), -EALREADY);
	clear(f);

	recv_ack(f, SEQ0, 2, 5, 900, T0 + 2 * MS);
	ev = the_event(f);
	assert_non_null(ev);
	assert_int_equal(ev->event, PIAS_AGENT_EV_REGISTERED);
	assert_int_equal(ev->jap_id, 2);
	assert_int_equal(ev->target_id, 5);
	assert_int_equal(ev->refresh_ms, 900);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERED);
	assert_int_equal(f->a.stats.acks, 1);
	pias_agent_event_str(&f->a, ev, line, sizeof(line));
	assert_msg_has(line,
		       "registered udp:203.0.113.1:53 198.51.100.10:53 with JAP 2 as target 5");
	assert_int_equal(pias_agent_error(&f->a, NULL), 0);
}

static void test_refresh_cadence(void **state)
{
	struct fx *f = *state;
	__u64 now = registered(f, 2, 5), seq = 0, start = now;
	int n = 0;

	/* refresh_ms 900: a REGISTER every 300 ms; answered at once, no events */
	for (now = start + 50 * MS; now <= start + 3 * SEC; now += 50 * MS) {
		tick(f, now);
		if (sends(f, PIAS_MSG_REGISTER, &seq)) {
			n++;
			recv_ack(f, seq, 2, 5, 900, now);
		}
		assert_null(the_event(f));
		clear(f);
	}
	assert_int_equal(n, 10);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERED);

	/* the JAP asks for 30 ms: clamped to 50 ms, one per tick */
	now = next_send(f, now, &seq);
	recv_ack(f, seq, 2, 5, 30, now);
	clear(f);
	n = 0;
	start = now;
	for (now = start + 50 * MS; now <= start + SEC; now += 50 * MS) {
		tick(f, now);
		if (sends(f, PIAS_MSG_REGISTER, &seq)) {
			n++;
			recv_ack(f, seq, 2, 5, 30, now);
		}
		clear(f);
	}
	assert_int_equal(n, 20);

	/* the JAP asks for an hour: clamped to 30 s */
	tick(f, now);
	sends(f, PIAS_MSG_REGISTER, &seq);
	recv_ack(f, seq, 2, 5, 3600 * 1000, now);
	clear(f);
	start = now;
	tick(f, start + 29 * SEC);
	assert_int_equal(f->acts.n, 0);
	tick(f, start + 30 * SEC);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, NULL), 1);
}

/*
 * seq follows the wall clock: a JAP refuses seqs more than 30 s from its own
 * clock, so after a minute of refreshes they must not lag behind it.
 */
static void test_seq_follows_clock(void **state)
{
	struct fx *f = *state;
	__u64 now = registered(f, 2, 5), seq = 0, before;
	const __u64 wall = 2000000000000000000ull; /* far above seq0 */

	now = next_send(f, now, &seq);
	recv_ack(f, seq, 2, 5, 900, now);
	before = seq;
	clear(f);
	pias_agent_clock(&f->a, wall);
	now = next_send(f, now, &seq);
	assert_true(seq >= wall);
	recv_ack(f, seq, 2, 5, 900, now);
	clear(f);
	/* a clock that stepped back never makes seqs go back */
	pias_agent_clock(&f->a, before);
	before = seq;
	now = next_send(f, now, &seq);
	assert_true(seq > before);
}

static void test_retry_backoff(void **state)
{
	struct fx *f = *state;
	__u64 want[] = { 0, 200, 600, 1400, 2400, 3400, 4400 }, got[8];
	int n = 0;

	assert_int_equal(pias_agent_start(&f->a, T0, &f->acts, &f->e), 0);
	clear(f);
	got[n++] = 0;
	/* nobody answers: 200, 400, 800 ms, then every second */
	for (__u64 now = T0 + 10 * MS; now <= T0 + 4400 * MS; now += 10 * MS) {
		tick(f, now);
		if (sends(f, PIAS_MSG_REGISTER, NULL)) {
			assert_true(n < 8);
			got[n++] = (now - T0) / MS;
		}
		assert_null(the_event(f));
		clear(f);
	}
	assert_int_equal(n, 7);
	for (int i = 0; i < n; i++)
		assert_int_equal(got[i], want[i]);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERING);
	assert_int_equal(f->a.stats.registers, 7);
}

/* Acks stop: LOST within about a second, re-register, a new JAP answers. */
static void test_lost_and_jap_change(void **state)
{
	struct fx *f = *state;
	const struct pias_agent_action *ev = NULL;
	__u64 now = registered(f, 2, 5), last_ok = now, seq = 0;
	char line[256];

	/* a few answered refreshes first */
	for (now += 50 * MS; now < T0 + SEC; now += 50 * MS) {
		tick(f, now);
		if (sends(f, PIAS_MSG_REGISTER, &seq)) {
			recv_ack(f, seq, 2, 5, 900, now + MS);
			last_ok = now;
		}
		clear(f);
	}
	/* JAP 2 dies */
	for (;; now += 50 * MS) {
		tick(f, now);
		ev = the_event(f);
		if (ev)
			break;
		clear(f);
		assert_true(now - last_ok < 2 * SEC);
	}
	assert_int_equal(ev->event, PIAS_AGENT_EV_LOST);
	assert_int_equal(ev->jap_id, 2);
	/* noticed after 900 ms, within 1 s of the last answered REGISTER */
	assert_true(now - last_ok > 900 * MS);
	assert_true(now - last_ok <= 1000 * MS);
	assert_true(ev->silence_ms > 900 && ev->silence_ms <= 1000);
	pias_agent_event_str(&f->a, ev, line, sizeof(line));
	assert_msg_has(line, "lost registration of udp:203.0.113.1:53 198.51.100.10:53 with JAP 2");
	assert_int_equal(f->a.state, PIAS_AGENT_LOST);
	/* a REGISTER goes out in the same tick */
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	clear(f);

	/* still nobody: backoff from 200 ms */
	tick(f, now + 150 * MS);
	assert_int_equal(f->acts.n, 0);
	tick(f, now + 200 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	assert_null(the_event(f));
	clear(f);

	/* anycast reaches JAP 3 now */
	recv_ack(f, seq, 3, 9, 900, now + 210 * MS);
	ev = the_event(f);
	assert_non_null(ev);
	assert_int_equal(ev->event, PIAS_AGENT_EV_JAP_CHANGED);
	assert_int_equal(ev->old_jap_id, 2);
	assert_int_equal(ev->jap_id, 3);
	assert_int_equal(ev->target_id, 9);
	pias_agent_event_str(&f->a, ev, line, sizeof(line));
	assert_msg_has(line, "JAP 2 -> JAP 3");
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERED);
	assert_int_equal(f->a.jap_id, 3);
	clear(f);

	/* lost again, and back at the same JAP: REGISTERED */
	now += 210 * MS;
	for (ev = NULL; !ev; now += 50 * MS) {
		clear(f);
		tick(f, now);
		ev = the_event(f);
	}
	assert_int_equal(ev->event, PIAS_AGENT_EV_LOST);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	clear(f);
	recv_ack(f, seq, 3, 9, 900, now);
	ev = the_event(f);
	assert_non_null(ev);
	assert_int_equal(ev->event, PIAS_AGENT_EV_REGISTERED);
	assert_int_equal(ev->jap_id, 3);
}

/* Routing moves before the old JAP is missed: the new JAP's ACK is a change. */
static void test_jap_change_while_registered(void **state)
{
	struct fx *f = *state;
	const struct pias_agent_action *ev;
	__u64 now = registered(f, 2, 5), seq = 0;

	tick(f, now + 300 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	clear(f);
	recv_ack(f, seq, 4, 1, 600, now + 301 * MS);
	ev = the_event(f);
	assert_non_null(ev);
	assert_int_equal(ev->event, PIAS_AGENT_EV_JAP_CHANGED);
	assert_int_equal(ev->old_jap_id, 2);
	assert_int_equal(ev->jap_id, 4);
	assert_int_equal(ev->refresh_ms, 600);
	/* the new period: refresh every 200 ms */
	clear(f);
	tick(f, now + 450 * MS);
	assert_int_equal(f->acts.n, 0);
	tick(f, now + 500 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, NULL), 1);
}

/* A JAP that does not know us asks for proof: REGISTER again at once, with its cookie. */
static void test_cookie_answered(void **state)
{
	struct fx *f = *state;
	__u64 seq = 0, seq2 = 0;
	__u8 want[PIAS_MSG_COOKIE_LEN];

	assert_int_equal(pias_agent_start(&f->a, T0, &f->acts, &f->e), 0);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	assert_true(!f->buf[0].reg.cookie[0] && !f->buf[0].reg.cookie[15]); /* none yet */
	clear(f);
	recv_cookie(f, seq, 2, 0xc1, T0 + MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq2), 1);
	assert_true(seq2 > seq);
	memset(want, 0xc1, sizeof(want));
	assert_memory_equal(f->buf[0].reg.cookie, want, sizeof(want));
	assert_null(the_event(f));
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERING);
	assert_int_equal(f->a.stats.cookies, 1);
	/* one cookie per message: a second one for the same REGISTER is ignored */
	clear(f);
	recv_cookie(f, seq, 2, 0xc2, T0 + 2 * MS);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->a.stats.ignored, 1);
	/* the ACK of the second REGISTER registers; later messages carry the cookie */
	recv_ack(f, seq2, 2, 5, 900, T0 + 3 * MS);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERED);
	clear(f);
	tick(f, T0 + 400 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, NULL), 1);
	assert_memory_equal(f->buf[0].reg.cookie, want, sizeof(want));
	/* a cookie for an unknown seq is ignored */
	clear(f);
	recv_cookie(f, 12345, 2, 0xc3, T0 + 401 * MS);
	assert_int_equal(f->acts.n, 0);
}

/*
 * Registered with JAP 2: a copy of an acknowledged REGISTER replayed to
 * proxy 4 brings a cookie from 4, which is ignored (nothing registers
 * there); a cookie from our own JAP (it forgot us) is taken, and so is
 * one from another JAP for a REGISTER no JAP acknowledged (routing moved).
 */
static void test_cookie_from_other_jap(void **state)
{
	struct fx *f = *state;
	__u64 now = registered(f, 2, 5), seq = 0;

	tick(f, now + 300 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	clear(f);
	recv_ack(f, seq, 2, 5, 900, now + 301 * MS);
	clear(f);
	recv_cookie(f, seq, 4, 0xd4, now + 302 * MS);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->a.stats.cookies, 0);
	assert_int_equal(f->a.jap_id, 2);

	/* our own JAP lost us (it restarted without its maps): taken */
	tick(f, now + 600 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	clear(f);
	recv_cookie(f, seq, 2, 0xd2, now + 601 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, NULL), 1);
	assert_int_equal(f->a.stats.cookies, 1);

	/* routing moved: an unacknowledged REGISTER reached proxy 4 */
	clear(f);
	tick(f, now + 1000 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	clear(f);
	recv_cookie(f, seq, 4, 0xd5, now + 1001 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	assert_int_equal(f->buf[0].reg.cookie[0], 0xd5);
	clear(f);
	recv_ack(f, seq, 4, 9, 900, now + 1002 * MS);
	assert_int_equal(the_event(f)->event, PIAS_AGENT_EV_JAP_CHANGED);
}

static void test_bad_token_before_registration(void **state)
{
	struct fx *f = *state;
	const struct pias_agent_action *ev;
	const char *msg;
	char line[512];

	assert_int_equal(pias_agent_start(&f->a, T0, &f->acts, &f->e), 0);
	clear(f);
	recv_nack(f, SEQ0, PIAS_NACK_BAD_TOKEN, "mac\x1b[2Jcheck", T0 + MS);
	ev = the_event(f);
	assert_non_null(ev);
	assert_int_equal(ev->event, PIAS_AGENT_EV_GAVE_UP);
	assert_int_equal(ev->nack_code, PIAS_NACK_BAD_TOKEN);
	/* the escape is defused */
	assert_string_equal(ev->text, "mac?[2Jcheck");
	assert_true(pias_agent_done(&f->a));
	assert_int_equal(pias_agent_error(&f->a, &msg), -EACCES);
	assert_msg_has(msg, "bad token");
	pias_agent_event_str(&f->a, ev, line, sizeof(line));
	assert_msg_has(line, "gave up on udp:203.0.113.1:53 198.51.100.10:53");
	assert_msg_has(line, "bad token");
	/* and stays quiet */
	clear(f);
	tick(f, T0 + 10 * SEC);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(pias_agent_leave(&f->a, T0 + 10 * SEC, &f->acts, &f->e), -EALREADY);
}

static void test_invalid_and_advisory_before_registration(void **state)
{
	struct fx *f = *state;
	const struct pias_agent_action *ev;
	__u64 seq = 0;

	assert_int_equal(pias_agent_start(&f->a, T0, &f->acts, &f->e), 0);
	clear(f);
	/* a full JAP is no reason to give up: the next REGISTER may land elsewhere */
	recv_nack(f, SEQ0, PIAS_NACK_FULL, "full", T0 + MS);
	ev = the_event(f);
	assert_non_null(ev);
	assert_int_equal(ev->event, PIAS_AGENT_EV_NACK);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERING);
	clear(f);
	/* one NACK per REGISTER at most */
	recv_nack(f, SEQ0, PIAS_NACK_FULL, "full", T0 + MS);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->a.stats.ignored, 1);

	tick(f, T0 + 200 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	clear(f);
	recv_nack(f, seq, PIAS_NACK_INVALID, "weight", T0 + 201 * MS);
	ev = the_event(f);
	assert_non_null(ev);
	assert_int_equal(ev->event, PIAS_AGENT_EV_GAVE_UP);
	assert_int_equal(pias_agent_error(&f->a, NULL), -EINVAL);
}

static void test_bad_token_after_registration(void **state)
{
	struct fx *f = *state;
	const struct pias_agent_action *ev;
	__u64 now = registered(f, 2, 5), seq = 0;
	char line[512];

	tick(f, now + 300 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	clear(f);
	/* unauthenticated: anyone on path could say it; logged, ignored */
	recv_nack(f, seq, PIAS_NACK_BAD_TOKEN, "nope", now + 301 * MS);
	ev = the_event(f);
	assert_non_null(ev);
	assert_int_equal(ev->event, PIAS_AGENT_EV_NACK);
	assert_int_equal(ev->nack_code, PIAS_NACK_BAD_TOKEN);
	pias_agent_event_str(&f->a, ev, line, sizeof(line));
	assert_msg_has(line, "ignored");
	assert_msg_has(line, "nope");
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERED);
	assert_false(pias_agent_done(&f->a));
	/* the ACK for the same REGISTER still counts */
	clear(f);
	recv_ack(f, seq, 2, 5, 900, now + 302 * MS);
	assert_int_equal(f->a.stats.acks, 2);
	/* an unmatched NACK is not even reported */
	clear(f);
	recv_nack(f, 12345, PIAS_NACK_BAD_TOKEN, "x", now + 303 * MS);
	assert_int_equal(f->acts.n, 0);
}

static void test_stale_and_unknown_acks(void **state)
{
	struct fx *f = *state;
	struct pias_ta other = f->tgt.ta;
	__u64 now, s1 = 0, s2 = 0;

	assert_int_equal(pias_agent_start(&f->a, T0, &f->acts, &f->e), 0);
	clear(f);
	/* a seq we never sent */
	recv_ack(f, SEQ0 + 7, 2, 5, 900, T0 + MS);
	assert_int_equal(f->acts.n, 0);
	/* another TA */
	other.port = 54;
	recv_ack_ta(f, &other, SEQ0, 2, 5, 900, T0 + MS);
	assert_int_equal(f->acts.n, 0);
	/* nonsense ids */
	recv_ack(f, SEQ0, 0, 5, 900, T0 + MS);
	recv_ack(f, SEQ0, 2, 0, 900, T0 + MS);
	assert_int_equal(f->acts.n, 0);
	/* a NACK for a seq we never sent does not make us give up */
	recv_nack(f, SEQ0 + 7, PIAS_NACK_BAD_TOKEN, "forged", T0 + MS);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERING);
	assert_int_equal(f->a.stats.ignored, 5);

	/* too old: sent more than the ACK window ago */
	recv_ack(f, SEQ0, 2, 5, 900, T0 + PIAS_AGENT_ACK_WINDOW_NS + MS);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERING);

	/* two REGISTERs out; the newer one's ACK (JAP 3) arrives first */
	now = T0 + 10 * SEC;
	tick(f, now);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &s1), 1);
	clear(f);
	tick(f, now + SEC);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &s2), 1);
	clear(f);
	recv_ack(f, s2, 3, 9, 900, now + SEC + MS);
	assert_non_null(the_event(f));
	clear(f);
	/* the old JAP's late ACK must not flip us back */
	recv_ack(f, s1, 2, 5, 900, now + SEC + 2 * MS);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->a.jap_id, 3);
	/* a replayed ACK neither */
	recv_ack(f, s2, 3, 9, 900, now + SEC + 3 * MS);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->a.stats.acks, 1);

	/* not a type the agent takes */
	{
		struct pias_msg *m = calloc(1, sizeof(*m));

		assert_non_null(m);
		m->hdr.type = PIAS_MSG_REGISTER;
		assert_int_equal(pias_agent_recv(&f->a, m, now, &f->acts, &f->e), -EINVAL);
		free(m);
	}
}

/* A late ACK must not hide a dead JAP: liveness counts from the REGISTER's send time. */
static void test_late_ack_confirms_send_time(void **state)
{
	struct fx *f = *state;
	__u64 now = registered(f, 2, 5), seq = 0, t;

	/* now = T0 + 1 ms; the REGISTER of T0 + 301 ms is answered only at T0 + 851 ms */
	tick(f, now + 300 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &seq), 1);
	clear(f);
	for (t = now + 350 * MS; t <= now + 800 * MS; t += 50 * MS) {
		tick(f, t);
		assert_null(the_event(f));
		clear(f);
	}
	recv_ack(f, seq, 2, 5, 900, now + 850 * MS);
	assert_null(the_event(f));
	/* silence from then on: lost 900 ms after T0 + 301 ms, not after T0 + 851 ms */
	for (t = now + 900 * MS;; t += 50 * MS) {
		clear(f);
		tick(f, t);
		if (the_event(f))
			break;
	}
	assert_int_equal(the_event(f)->event, PIAS_AGENT_EV_LOST);
	assert_int_equal(t - now, 1250 * MS);
}

static void test_leave_acked(void **state)
{
	struct fx *f = *state;
	const struct pias_agent_action *ev;
	__u64 now = registered(f, 2, 5), reg_seq = 0, leave_seq = 0;
	char line[256];

	tick(f, now + 300 * MS);
	assert_int_equal(sends(f, PIAS_MSG_REGISTER, &reg_seq), 1);
	clear(f);
	assert_int_equal(pias_agent_leave(&f->a, now + 310 * MS, &f->acts, &f->e), 0);
	assert_int_equal(sends(f, PIAS_MSG_LEAVE, &leave_seq), 1);
	assert_int_equal(f->a.state, PIAS_AGENT_LEAVING);
	/* leave again: nothing more */
	assert_int_equal(pias_agent_leave(&f->a, now + 311 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->acts.n, 1);
	clear(f);
	/* the late ACK of the REGISTER does not count as the leave's */
	recv_ack(f, reg_seq, 2, 5, 900, now + 312 * MS);
	assert_int_equal(f->acts.n, 0);
	assert_int_equal(f->a.state, PIAS_AGENT_LEAVING);
	recv_ack(f, leave_seq, 2, 5, 900, now + 320 * MS);
	ev = the_event(f);
	assert_non_null(ev);
	assert_int_equal(ev->event, PIAS_AGENT_EV_LEFT);
	assert_true(ev->acked);
	assert_int_equal(ev->jap_id, 2);
	pias_agent_event_str(&f->a, ev, line, sizeof(line));
	assert_msg_has(line, "left udp:203.0.113.1:53 198.51.100.10:53 (JAP 2 acknowledged)");
	assert_true(pias_agent_done(&f->a));
	assert_int_equal(pias_agent_error(&f->a, NULL), 0);
	clear(f);
	tick(f, now + 10 * SEC);
	assert_int_equal(f->acts.n, 0);
}

/* A failed health check: the LEAVEs carry DOWN; a fresh agent's REGISTERs do not. */
static void test_fail_leaves_down(void **state)
{
	struct fx *f = *state;
	__u64 now = registered(f, 2, 5), seq = 0;

	clear(f);
	assert_int_equal(pias_agent_fail(&f->a, now + 10 * MS, &f->acts, &f->e), 0);
	assert_int_equal(sends(f, PIAS_MSG_LEAVE, &seq), 1);
	assert_int_equal(f->acts.a[0].reg.flags & PIAS_MSG_REG_F_DOWN, PIAS_MSG_REG_F_DOWN);
	assert_int_equal(f->a.state, PIAS_AGENT_LEAVING);
	/* its retries carry it too */
	clear(f);
	for (__u64 t = now + 60 * MS; t < now + 400 * MS; t += 50 * MS)
		tick(f, t);
	assert_true(sends(f, PIAS_MSG_LEAVE, NULL) >= 1);
	for (size_t i = 0; i < f->acts.n; i++)
		if (f->acts.a[i].kind == PIAS_AGENT_SEND)
			assert_int_equal(f->acts.a[i].reg.flags & PIAS_MSG_REG_F_DOWN,
					 PIAS_MSG_REG_F_DOWN);
	/* a plain leave does not */
	clear(f);
	assert_int_equal(pias_agent_init(&f->a, &f->tgt, NULL, T0, &f->e), 0);
	assert_int_equal(pias_agent_leave(&f->a, now + SEC, &f->acts, &f->e), 0);
	assert_int_equal(sends(f, PIAS_MSG_LEAVE, NULL), 1);
	assert_int_equal(f->acts.a[0].reg.flags & PIAS_MSG_REG_F_DOWN, 0);
}

static void test_leave_unacked(void **state)
{
	struct fx *f = *state;
	const struct pias_agent_action *ev = NULL;
	__u64 start = T0 + 5 * SEC, now, at[4];
	int n = 0;
	char line[256];

	/* leave straight from IDLE, as `piasctl target leave` does */
	assert_int_equal(pias_agent_leave(&f->a, start, &f->acts, &f->e), 0);
	assert_int_equal(sends(f, PIAS_MSG_LEAVE, NULL), 1);
	at[n++] = 0;
	clear(f);
	for (now = start + 50 * MS; !ev; now += 50 * MS) {
		assert_true(now < start + 2 * SEC);
		tick(f, now);
		if (sends(f, PIAS_MSG_LEAVE, NULL)) {
			assert_true(n < 3);
			at[n++] = (now - start) / MS;
		}
		ev = the_event(f);
		if (!ev)
			clear(f);
	}
	assert_int_equal(n, 3);
	assert_int_equal(at[1], 200);
	assert_int_equal(at[2], 400);
	assert_int_equal(ev->event, PIAS_AGENT_EV_LEFT);
	assert_false(ev->acked);
	assert_int_equal((now - 50 * MS - start) / MS, 600);
	pias_agent_event_str(&f->a, ev, line, sizeof(line));
	assert_msg_has(line, "without acknowledgement after 3 LEAVEs");
	assert_true(pias_agent_done(&f->a));
	assert_int_equal(f->a.stats.leaves, 3);
}

static void test_no_room(void **state)
{
	struct fx *f = *state;
	struct pias_agent_actions none = { .a = f->buf, .cap = 1, .n = 1 };
	__u64 now;

	assert_int_equal(pias_agent_start(&f->a, T0, &none, &f->e), -ENOBUFS);
	assert_int_equal(f->a.state, PIAS_AGENT_IDLE);
	now = registered(f, 2, 5);
	/* a tick may need two (LOST and REGISTER): refused whole */
	none.cap = 2;
	assert_int_equal(pias_agent_tick(&f->a, now + 5 * SEC, &none, &f->e), -ENOBUFS);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERED);
	none.n = 2;
	assert_int_equal(pias_agent_leave(&f->a, now, &none, &f->e), -ENOBUFS);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERED);
	assert_int_equal(f->a.next_seq, SEQ0 + 1);
}

/*
 * Batch refresh: a fleet of agents, one process's registrations, all with
 * JAP 2 (target ids 1..n), each with its own TA and token, and a fake JAP
 * that checks each REG_BATCH entry's tag against the registration as it
 * was made and answers through the real codec.
 */
#define FLEET_MAX 200
#define JAP	  2

struct fleet {
	struct pias_agent a[FLEET_MAX];
	struct pias_agent *ap[FLEET_MAX];
	__u8 token[FLEET_MAX][PIAS_KEY_LEN];
	size_t n;
	struct pias_agent_batcher b;
	struct pias_agent_action buf[4];
	struct pias_agent_actions acts;
	/* what went out */
	size_t batches, entries, registers, lost;
	bool deaf;	/* the JAP answers batches but no REGISTER */
	__u32 jap;	/* the JAP anycast leads to (JAP at first): it drops batches for another */
	size_t dropped; /* batches it dropped so */
	__u64 last_batch_seq;
	struct pias_msg m, reg_ack;
	__u8 dgram[PIAS_MSG_MAX];
	struct pias_err e;
};

static const __u8 *fleet_token(void *ctx, size_t i)
{
	return ((struct fleet *)ctx)->token[i];
}

/* Apply one agent's actions: count REGISTERs (answered at once if ack) and LOSTs. */
static void fleet_acts(struct fleet *fl, size_t i, __u64 now, bool ack)
{
	for (size_t k = 0; k < fl->acts.n; k++) {
		const struct pias_agent_action *act = &fl->buf[k];

		if (act->kind == PIAS_AGENT_EVENT) {
			fl->lost += act->event == PIAS_AGENT_EV_LOST;
			continue;
		}
		assert_int_equal(act->hdr.type, PIAS_MSG_REGISTER);
		fl->registers++;
		if (ack && !fl->deaf) {
			struct pias_msg *m = &fl->reg_ack; /* not fl->m: an answer may be in it */

			memset(m, 0, sizeof(*m));
			m->hdr.type = PIAS_MSG_REG_ACK;
			m->ack = (struct pias_msg_reg_ack){ .ta = fl->a[i].tgt.ta,
							    .jap_id = fl->jap,
							    .target_id = (__u32)i + 1,
							    .refresh_ms = 900,
							    .echo_seq = act->hdr.seq };
			fl->acts.n = 0;
			assert_int_equal(pias_agent_recv(&fl->a[i], m, now, &fl->acts, &fl->e), 0);
			fleet_acts(fl, i, now, false);
			return;
		}
	}
	fl->acts.n = 0;
}

/* n agents started at start + stagger * i and registered with JAP 2 at once. */
static struct fleet *fleet_new(size_t n, __u64 stagger)
{
	struct fleet *fl = calloc(1, sizeof(*fl));
	struct pias_agent_config c = { .batch = true };

	assert_non_null(fl);
	assert_true(n <= FLEET_MAX);
	fl->n = n;
	fl->jap = JAP;
	fl->acts = (struct pias_agent_actions){ .a = fl->buf, .cap = 4 };
	pias_agent_batcher_init(&fl->b, 0);
	for (size_t i = 0; i < n; i++) {
		struct pias_agent_target t = {
			.ta = { .family = PIAS_AF_INET, .proto = PIAS_PROTO_UDP, .port = 1000 + i },
			.family = PIAS_AF_INET,
			.port = 53,
			.weight = 1 + i % 3,
			.policy_serial = (__u32)i,
		};

		t.ta.addr.v4 = __builtin_bswap32(0xcb007101);
		t.addr.v4 = __builtin_bswap32(0xc6336400 + (__u32)i);
		memset(fl->token[i], (int)i + 1, PIAS_KEY_LEN);
		assert_int_equal(pias_agent_init(&fl->a[i], &t, &c, SEQ0 + i * 1000, &fl->e), 0);
		fl->ap[i] = &fl->a[i];
		assert_int_equal(pias_agent_start(&fl->a[i], T0 + stagger * i, &fl->acts, &fl->e),
				 0);
		fleet_acts(fl, i, T0 + stagger * i, true);
		assert_int_equal(fl->a[i].state, PIAS_AGENT_REGISTERED);
	}
	fl->registers = 0;
	return fl;
}

/*
 * The fake JAP: the datagram decodes, its MAC verifies with the first
 * entry's token, every entry's tag with the registration as made; the
 * answer (status of entry i: status_of(i), 0: all OK) comes back encoded.
 * Returns the answer's length, or 0 to answer nothing: a batch for another
 * JAP than fl->jap is dropped unanswered, as piasd's net.c drops it.
 */
static int fleet_jap(struct fleet *fl, const struct pias_agent_batch *bt,
		     __u8 (*status_of)(size_t i))
{
	struct pias_msg *m = &fl->m;
	__u64 seq;
	int len;

	pias_agent_batch_msg(bt, fl->ap, fleet_token, fl, m);
	len = pias_msg_encode(m, fl->token[bt->idx[0]], fl->dgram, sizeof(fl->dgram), &fl->e);
	assert_true(len > 0);
	assert_int_equal(pias_msg_decode(fl->dgram, (size_t)len, m, &fl->e), 0);
	assert_true(pias_msg_mac_ok(fl->dgram, (size_t)len, fl->token[bt->idx[0]]));
	assert_int_equal(m->batch.n, bt->n);
	seq = m->hdr.seq;
	assert_true(seq > fl->last_batch_seq);
	fl->last_batch_seq = seq;
	fl->batches++;
	fl->entries += bt->n;
	if (m->batch.jap_id != fl->jap) {
		fl->dropped++;
		return 0;
	}
	for (__u32 k = 0; k < m->batch.n; k++) {
		size_t i = m->batch.e[k].target_id - 1;
		struct pias_msg_register held = { .ta = fl->a[i].tgt.ta,
						  .family = PIAS_AF_INET,
						  .addr = fl->a[i].tgt.addr,
						  .port = 53,
						  .weight = 1 + i % 3,
						  .policy_serial = (__u32)i };
		__u8 tag[PIAS_MSG_TAG_LEN];

		assert_memory_equal(&m->batch.e[k].ta, &held.ta, sizeof(held.ta));
		pias_msg_batch_tag(fl->token[i], seq, fl->jap, (__u32)i + 1, &held, tag);
		assert_true(pias_msg_tag_eq(tag, m->batch.e[k].tag));
	}
	/* the answer */
	{
		struct pias_msg_reg_batch req = m->batch;

		memset(m, 0, sizeof(*m));
		m->hdr.type = PIAS_MSG_REG_BATCH_ACK;
		m->hdr.seq = seq + 7;
		m->batch_ack.echo_seq = seq;
		m->batch_ack.refresh_ms = 900;
		m->batch_ack.n = req.n;
		for (__u32 k = 0; k < req.n; k++) {
			size_t i = req.e[k].target_id - 1;
			__u8 st = status_of ? status_of(i) : PIAS_BATCH_OK;

			m->batch_ack.e[k].status = st;
			pias_msg_batch_ack_tag(fl->token[i], seq, fl->jap, 900, &req.e[k].ta, i + 1,
					       st, m->batch_ack.e[k].tag);
		}
		len = pias_msg_encode(m, fl->token[req.e[0].target_id - 1], fl->dgram,
				      sizeof(fl->dgram), &fl->e);
		assert_true(len > 0);
		assert_int_equal(pias_msg_decode(fl->dgram, (size_t)len, m, &fl->e), 0);
	}
	return len;
}

/* The answer in fl->m / fl->dgram goes to the agents, as the agent loop does it. */
static void fleet_answer(struct fleet *fl, int len, __u64 now)
{
	__u8 status[PIAS_MSG_BATCH_MAX];
	const struct pias_agent_batch *bt = pias_agent_batch_answers(
		&fl->b, fl->ap, fleet_token, fl, &fl->m, fl->dgram, (size_t)len, now, status);

	assert_non_null(bt);
	for (__u32 k = 0; k < bt->n; k++) {
		assert_int_not_equal(status[k], 0);
		assert_int_equal(pias_agent_batch_answer(
					 &fl->a[bt->idx[k]], fl->m.batch_ack.echo_seq, status[k],
					 fl->m.batch_ack.refresh_ms, now, &fl->acts, &fl->e),
				 0);
		fleet_acts(fl, bt->idx[k], now, true);
	}
}

/*
 * One 50 ms tick of the agent loop: every agent, then the batches. The JAP
 * answers every REGISTER and batch, or (answer false) none.
 */
static void fleet_tick(struct fleet *fl, __u64 now, bool answer, __u8 (*status_of)(size_t i))
{
	const struct pias_agent_batch *bs[PIAS_AGENT_BATCH_PLAN];
	size_t k;

	for (size_t i = 0; i < fl->n; i++) {
		assert_int_equal(pias_agent_tick(&fl->a[i], now, &fl->acts, &fl->e), 0);
		fleet_acts(fl, i, now, answer);
	}
	k = pias_agent_batch_plan(&fl->b, fl->ap, fl->n, now, bs, PIAS_AGENT_BATCH_PLAN);
	for (size_t j = 0; j < k; j++) {
		int len = fleet_jap(fl, bs[j], status_of);

		if (answer && len)
			fleet_answer(fl, len, now + MS);
	}
}

static void fleet_reset_counts(struct fleet *fl)
{
	fl->batches = fl->entries = fl->registers = fl->lost = 0;
}

/* 20 registrations, registered together: one REG_BATCH per refresh interval carries all. */
static void test_batch_one_for_n(void **state)
{
	struct fleet *fl = fleet_new(20, 0);
	__u64 now;

	(void)state;
	for (now = T0 + 50 * MS; now <= T0 + 10 * SEC; now += 50 * MS)
		fleet_tick(fl, now, true, NULL);
	/* refresh_ms 900: every 300 ms, at T0 + 300 ms .. T0 + 9.9 s */
	assert_int_equal(fl->batches, 33);
	assert_int_equal(fl->entries, 33 * 20);
	assert_int_equal(fl->registers, 0);
	assert_int_equal(fl->lost, 0);
	for (size_t i = 0; i < fl->n; i++) {
		assert_int_equal(fl->a[i].state, PIAS_AGENT_REGISTERED);
		assert_int_equal(fl->a[i].stats.batched, 33);
		assert_int_equal(fl->a[i].stats.batch_ok, 33);
		assert_int_equal(fl->a[i].stats.registers, 1); /* the first */
	}
	free(fl);
}

/*
 * 200 registrations started 5 ms apart (a second of starts): each round
 * takes the refreshes due within half an interval too, so that they fall
 * into step, and then go in full batches, 7 datagrams an interval
 * (ceil(200 / 33)) where 200 REGISTERs went before.
 */
static void test_batch_fleet_falls_into_step(void **state)
{
	struct fleet *fl = fleet_new(200, 5 * MS);
	__u64 now, start = T0 + SEC;

	(void)state;
	for (now = start; now < start + 3 * SEC; now += 50 * MS)
		fleet_tick(fl, now, true, NULL);
	fleet_reset_counts(fl);
	for (; now < start + 3 * SEC + 30 * 300 * MS; now += 50 * MS)
		fleet_tick(fl, now, true, NULL);
	/* 30 intervals: every registration refreshed once each, in 7 full batches */
	assert_int_equal(fl->entries, 30 * 200);
	assert_int_equal(fl->batches, 30 * 7);
	assert_int_equal(fl->registers, 0);
	assert_int_equal(fl->lost, 0);
	free(fl);
}

static __u8 unknown_5(size_t i)
{
	return i == 5 ? PIAS_BATCH_UNKNOWN : PIAS_BATCH_OK;
}

/*
 * An entry the JAP does not take (unknown, stale, refused): its agent sends
 * a REGISTER at once, and REGISTERs until one is acknowledged; then it is
 * batched again. The others are not disturbed.
 */
static void test_batch_refused_entry(void **state)
{
	struct fleet *fl = fleet_new(10, 0);
	__u64 now = T0 + 300 * MS;

	(void)state;
	fleet_tick(fl, now, true, unknown_5);
	assert_int_equal(fl->batches, 1);
	assert_int_equal(fl->registers, 1); /* agent 5's, acknowledged at once */
	assert_int_equal(fl->a[5].stats.batch_refused, 1);
	assert_int_equal(fl->a[5].stats.registers, 2);
	fleet_reset_counts(fl);
	for (now += 50 * MS; now <= T0 + 3 * SEC; now += 50 * MS)
		fleet_tick(fl, now, true, NULL);
	assert_int_equal(fl->registers, 0);
	assert_int_equal(fl->lost, 0);
	assert_true(fl->a[5].stats.batch_ok >= 8);
	/* refused, and its REGISTER not acknowledged: REGISTERs go on until one is */
	fl->deaf = true;
	fleet_tick(fl, now = T0 + 3300 * MS, true, unknown_5); /* a round */
	assert_int_equal(fl->a[5].stats.batch_refused, 2);
	assert_int_equal(pias_agent_batch_wait(&fl->a[5], now), PIAS_AGENT_NOT_BATCHED);
	fleet_reset_counts(fl);
	for (now += 50 * MS; now <= T0 + 4300 * MS; now += 50 * MS)
		fleet_tick(fl, now, true, NULL);
	/*
	 * agent 5's REGISTERs only, never a batch again, until it is lost like
	 * any registration whose JAP stops acknowledging; the others' rounds go on
	 */
	assert_int_equal(fl->registers, 3);
	assert_int_equal(fl->lost, 1);
	assert_int_equal(fl->a[5].stats.batched, fl->a[4].stats.batched - 3);
	assert_int_equal(fl->entries, 3 * 9);
	free(fl);
}

/*
 * No answer (lost, or a JAP that does not know REG_BATCH): at the next
 * refresh each agent sends a REGISTER instead, and REGISTERs for the
 * hold-off (10 s); nothing is lost meanwhile. Then it tries a batch again.
 */
static void test_batch_unanswered(void **state)
{
	struct fleet *fl = fleet_new(10, 0);
	__u64 now;

	(void)state;
	for (now = T0 + 50 * MS; now <= T0 + 300 * MS; now += 50 * MS)
		fleet_tick(fl, now, false, NULL);
	assert_int_equal(fl->batches, 1);
	fleet_reset_counts(fl);
	for (; now <= T0 + 300 * MS + 10 * SEC; now += 50 * MS)
		fleet_tick(fl, now, true, NULL);
	assert_int_equal(fl->batches, 0);
	assert_int_equal(fl->registers, 10 * 33); /* T0 + 600 ms .. T0 + 10.2 s */
	assert_int_equal(fl->lost, 0);
	for (size_t i = 0; i < fl->n; i++)
		assert_int_equal(fl->a[i].stats.batch_unanswered, 1);
	for (; now <= T0 + 12 * SEC; now += 50 * MS)
		fleet_tick(fl, now, true, NULL);
	assert_true(fl->batches >= 4);
	free(fl);
}

/*
 * Registrations move between JAPs (the partition of the JAP they were
 * with, or its heal): anycast leads to JAP 3 now, which drops the batch
 * for JAP 2 without an answer. Each agent of it sends a REGISTER at its
 * next refresh, which JAP 3 acknowledges: every registration moves, none
 * is lost or left behind, and after the hold-off batches go to JAP 3 and
 * are answered. Then back to JAP 2 (the heal), the same way.
 */
static void test_batch_jap_moved(void **state)
{
	struct fleet *fl = fleet_new(10, 0);
	__u64 now = T0, back;

	(void)state;
	for (now += 50 * MS; now <= T0 + SEC; now += 50 * MS)
		fleet_tick(fl, now, true, NULL);
	for (__u32 to = 3, round = 1; round <= 2; to = JAP, round++) {
		fleet_reset_counts(fl);
		fl->dropped = 0;
		fl->jap = to;
		back = now;
		for (; now <= back + 700 * MS; now += 50 * MS)
			fleet_tick(fl, now, true, NULL);
		/*
		 * one batch for the old JAP dropped; REGISTERs from each (one
		 * a refresh interval), acknowledged by the new
		 */
		assert_int_equal(fl->dropped, 1);
		assert_true(fl->registers >= 10 && fl->registers <= 20);
		assert_int_equal(fl->lost, 0);
		for (size_t i = 0; i < fl->n; i++) {
			assert_int_equal(fl->a[i].state, PIAS_AGENT_REGISTERED);
			assert_int_equal(fl->a[i].jap_id, to);
			assert_int_equal(fl->a[i].stats.batch_unanswered, round);
		}
		/* REGISTERs through the hold-off, then batches to the new JAP, answered */
		for (; now <= back + 12 * SEC; now += 50 * MS)
			fleet_tick(fl, now, true, NULL);
		assert_int_equal(fl->lost, 0);
		assert_int_equal(fl->dropped, 1);
		assert_true(fl->batches >= 4);
		for (size_t i = 0; i < fl->n; i++) {
			assert_int_equal(fl->a[i].state, PIAS_AGENT_REGISTERED);
			assert_int_equal(fl->a[i].jap_id, to);
			assert_int_equal(pias_agent_batch_wait(&fl->a[i], now + 300 * MS), 0);
		}
	}
	free(fl);
}

/* A JAP gone: neither batches nor REGISTERs are answered; the agents notice as before. */
static void test_batch_jap_gone(void **state)
{
	struct fleet *fl = fleet_new(5, 0);
	__u64 now;

	(void)state;
	for (now = T0 + 50 * MS; now <= T0 + 2 * SEC; now += 50 * MS)
		fleet_tick(fl, now, false, NULL);
	/* last confirmed: the REGISTERs at T0; lost 900 ms later, at the first tick after */
	assert_int_equal(fl->lost, 5);
	for (size_t i = 0; i < fl->n; i++)
		assert_int_not_equal(fl->a[i].state, PIAS_AGENT_REGISTERED);
	free(fl);
}

/*
 * Answers that are not the JAP's: another batch's seq, another n, a MAC or
 * a tag under the wrong token, a status changed after tagging. None
 * confirms anything; a second copy of a good answer is ignored.
 */
static void test_batch_forged_answers(void **state)
{
	struct fleet *fl = fleet_new(3, 0);
	const struct pias_agent_batch *bs[4];
	__u8 status[PIAS_MSG_BATCH_MAX];
	__u64 now = T0 + 300 * MS, confirmed = fl->a[1].confirmed_ns;
	int len;

	(void)state;
	for (size_t i = 0; i < fl->n; i++)
		assert_int_equal(pias_agent_tick(&fl->a[i], now, &fl->acts, &fl->e), 0);
	assert_int_equal(pias_agent_batch_plan(&fl->b, fl->ap, fl->n, now, bs, 4), 1);
	assert_int_equal(bs[0]->n, 3);
	len = fleet_jap(fl, bs[0], NULL);
	/* MAC under another token */
	memset(fl->token[bs[0]->idx[0]], 0xee, PIAS_KEY_LEN);
	assert_null(pias_agent_batch_answers(&fl->b, fl->ap, fleet_token, fl, &fl->m, fl->dgram,
					     (size_t)len, now, status));
	memset(fl->token[bs[0]->idx[0]], (int)bs[0]->idx[0] + 1, PIAS_KEY_LEN);
	/* another seq, another n */
	fl->m.batch_ack.echo_seq++;
	assert_null(pias_agent_batch_answers(&fl->b, fl->ap, fleet_token, fl, &fl->m, fl->dgram,
					     (size_t)len, now, status));
	fl->m.batch_ack.echo_seq--;
	fl->m.batch_ack.n = 2;
	assert_null(pias_agent_batch_answers(&fl->b, fl->ap, fleet_token, fl, &fl->m, fl->dgram,
					     (size_t)len, now, status));
	fl->m.batch_ack.n = 3;
	/* too late: past the ACK window */
	assert_null(pias_agent_batch_answers(&fl->b, fl->ap, fleet_token, fl, &fl->m, fl->dgram,
					     (size_t)len, now + PIAS_AGENT_ACK_WINDOW_NS + 1,
					     status));
	/* entry 1's status changed after the JAP tagged it: that entry alone is ignored */
	fl->m.batch_ack.e[1].status = PIAS_BATCH_STALE;
	assert_non_null(pias_agent_batch_answers(&fl->b, fl->ap, fleet_token, fl, &fl->m, fl->dgram,
						 (size_t)len, now, status));
	assert_int_equal(status[0], PIAS_BATCH_OK);
	assert_int_equal(status[1], 0);
	assert_int_equal(status[2], PIAS_BATCH_OK);
	/* the good answer, twice: taken once */
	fl->m.batch_ack.e[1].status = PIAS_BATCH_OK;
	fleet_answer(fl, len, now + MS);
	assert_true(fl->a[1].confirmed_ns > confirmed);
	assert_int_equal(fl->a[1].stats.batch_ok, 1);
	fleet_answer(fl, len, now + 2 * MS);
	assert_int_equal(fl->a[1].stats.batch_ok, 1);
	assert_int_equal(fl->a[1].stats.ignored, 1);
	/* an answer for a batch it never went in */
	assert_int_equal(pias_agent_batch_answer(&fl->a[1], 12345, PIAS_BATCH_OK, 900, now,
						 &fl->acts, &fl->e),
			 0);
	assert_int_equal(fl->a[1].stats.ignored, 2);
	assert_int_equal(fl->acts.n, 0);
	free(fl);
}

/* Without cfg.batch, or before the first REG_ACK, an agent is never batched. */
static void test_batch_only_registered(void **state)
{
	struct fx *f = *state;
	struct pias_agent_config c = { .batch = true };
	struct pias_msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	assert_int_equal(pias_agent_batch_wait(&f->a, T0), PIAS_AGENT_NOT_BATCHED);
	registered(f, 2, 5);
	assert_int_equal(pias_agent_batch_wait(&f->a, T0 + SEC), PIAS_AGENT_NOT_BATCHED);
	/* the same with cfg.batch: IDLE, REGISTERING, then REGISTERED */
	assert_int_equal(pias_agent_init(&f->a, &f->tgt, &c, SEQ0, &f->e), 0);
	assert_int_equal(pias_agent_batch_wait(&f->a, T0), PIAS_AGENT_NOT_BATCHED);
	assert_int_equal(pias_agent_start(&f->a, T0, &f->acts, &f->e), 0);
	assert_int_equal(pias_agent_batch_wait(&f->a, T0 + SEC), PIAS_AGENT_NOT_BATCHED);
	clear(f);
	recv_ack(f, SEQ0, 2, 5, 900, T0 + MS);
	assert_int_equal(f->a.state, PIAS_AGENT_REGISTERED);
	assert_int_equal(pias_agent_batch_wait(&f->a, T0 + 100 * MS), 200 * MS);
	assert_int_equal(pias_agent_batch_wait(&f->a, T0 + 300 * MS), 0);
	/* and the tick leaves the refresh to the batch */
	clear(f);
	tick(f, T0 + 300 * MS);
	assert_int_equal(f->acts.n, 0);
	/* a REG_ACK answers REGISTERs only, not a batch's seq */
	pias_agent_batch_sent(&f->a, SEQ0 + 100, T0 + 300 * MS);
	assert_int_equal(pias_agent_batch_wait(&f->a, T0 + 700 * MS), PIAS_AGENT_NOT_BATCHED);
	m->hdr.type = PIAS_MSG_REG_ACK;
	m->ack = (struct pias_msg_reg_ack){ .ta = f->tgt.ta,
					    .jap_id = 2,
					    .target_id = 5,
					    .refresh_ms = 900,
					    .echo_seq = SEQ0 + 100 };
	assert_int_equal(pias_agent_recv(&f->a, m, T0 + 301 * MS, &f->acts, &f->e), 0);
	assert_int_equal(f->a.stats.ignored, 1);
	free(m);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(pias_agent_state_name(PIAS_AGENT_LOST), "lost");
	assert_msg_has(pias_agent_nack_name(PIAS_NACK_FULL), "no room");
	assert_msg_has(pias_agent_nack_name(99), "unknown");
}

int test_agent(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_cadence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_follows_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_and_jap_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jap_change_while_registered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_from_other_jap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_token_before_registration, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_invalid_and_advisory_before_registration,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_token_after_registration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_and_unknown_acks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_ack_confirms_send_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leave_acked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_leaves_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leave_unacked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_room, setup, teardown),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_batch_one_for_n),
		cmocka_unit_test(test_batch_fleet_falls_into_step),
		cmocka_unit_test(test_batch_refused_entry),
		cmocka_unit_test(test_batch_unanswered),
		cmocka_unit_test(test_batch_jap_moved),
		cmocka_unit_test(test_batch_jap_gone),
		cmocka_unit_test(test_batch_forged_answers),
		cmocka_unit_test_setup_teardown(test_batch_only_registered, setup, teardown),
	};

	return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}
