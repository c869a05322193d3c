// SPDX-License-Identifier: MIT
/*
 * The registration agent (daemon/agent.h) on one UDP socket and a libevent
 * loop: the agent decides, this file does the I/O. Messages go out encoded
 * and MACed with the group token; replies come back from whichever proxy
 * answered, so the socket stays unconnected and trusts the MAC (ACK) and
 * the agent's seq matching (NACK), not source addresses.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "piasctl.h"

#define TICK_MS	       50
#define RECV_BURST     64	     /* datagrams per read callback, then let timers run */
#define SILENT_WARN_NS 5000000000ull /* say so when nobody answered this long */
#define NS	       1000000000ull

struct loop {
	struct cli *c;
	const struct agent_opts *o;
	struct pias_agent agent;
	struct pias_msg *msg; /* scratch for encode/decode: large (VIEW pages) */
	struct event_base *base;
	struct event *rd, *tick, *sigint, *sigterm, *deadline;
	int fd;
	int rc;
	bool finished, interrupted, warned_silent;
	__u64 start_ns;
	/* bad replies, dropped; logged the first time, summed up at the end */
	__u64 bad_mac, malformed, foreign;
	int last_send_errno;
};

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * NS + (__u64)ts.tv_nsec;
}

static __u64 realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * NS + (__u64)ts.tv_nsec;
}

static void finish(struct loop *l, int rc)
{
	if (l->finished)
		return;
	l->finished = true;
	l->rc = rc;
	event_base_loopbreak(l->base);
}

static void send_one(struct loop *l, const struct pias_agent_action *act)
{
	__u8 buf[PIAS_MSG_MAX];
	struct pias_err e;
	int n;

	pias_agent_msg(act, l->msg);
	n = pias_msg_encode(l->msg, l->o->token, buf, sizeof(buf), &e);
	if (n < 0) {
		/* our own message does not encode: a bug, not weather */
		log_line("cannot encode %s: %s", pias_msg_type_name(act->hdr.type), e.msg);
		finish(l, EXIT_RUNTIME);
		return;
	}
	if (sendto(l->fd, buf, (size_t)n, 0, (const struct sockaddr *)&l->o->reg, l->o->reg_len) <
	    0) {
		/* once per cause: a down route would otherwise log every refresh */
		if (errno != l->last_send_errno)
			log_line("sending %s to %s: %s (retrying)",
				 pias_msg_type_name(act->hdr.type), l->o->reg_str, strerror(errno));
		l->last_send_errno = errno;
		return;
	}
	if (l->last_send_errno)
		log_line("sending to %s works again", l->o->reg_str);
	l->last_send_errno = 0;
}

static void on_event(struct loop *l, const struct pias_agent_action *act)
{
	char line[PIAS_AGENT_ERR_LEN + 256];
	const char *msg;
	int err;

	log_line("%s", pias_agent_event_str(&l->agent, act, line, sizeof(line)));
	switch (act->event) {
	case PIAS_AGENT_EV_REGISTERED:
	case PIAS_AGENT_EV_JAP_CHANGED:
		if (l->o->mode == AGENT_ONCE)
			finish(l, EXIT_OK);
		break;
	case PIAS_AGENT_EV_GAVE_UP:
		err = pias_agent_error(&l->agent, &msg);
		if (err == -EACCES)
			log_line("is --token-file the token of this TA? (piasctl token prints it)");
		finish(l, EXIT_RUNTIME);
		break;
	case PIAS_AGENT_EV_LEFT:
		/* join: leaving was asked for, done either way; leave: the ack is the point */
		finish(l, act->acked || l->o->mode == AGENT_FOREVER ? EXIT_OK : EXIT_RUNTIME);
		break;
	case PIAS_AGENT_EV_LOST:
	case PIAS_AGENT_EV_NACK:
		break;
	}
}

static void apply(struct loop *l, struct pias_agent_actions *acts)
{
	for (size_t i = 0; i < acts->n; i++) {
		if (acts->a[i].kind == PIAS_AGENT_SEND)
			send_one(l, &acts->a[i]);
		else
			on_event(l, &acts->a[i]);
	}
	acts->n = 0;
}

/* Every agent call goes through here: run it on a fresh action list, apply. */
#define AGENT_CALL(l, call, ...)                                                                   \
	do {                                                                                       \
		struct pias_agent_action buf_[PIAS_AGENT_MAX_ACTIONS];                             \
		struct pias_agent_actions acts_ = { .a = buf_, .cap = PIAS_AGENT_MAX_ACTIONS };    \
		struct pias_err e_;                                                                \
                                                                                                   \
		pias_agent_clock(&(l)->agent, realtime_ns());                                      \
		if (call(&(l)->agent, __VA_ARGS__, &acts_, &e_) < 0) {                             \
			log_line("%s", e_.msg);                                                    \
			finish((l), EXIT_RUNTIME);                                                 \
		}                                                                                  \
		apply((l), &acts_);                                                                \
	} while (0)

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	__u64 now = mono_ns();

	(void)fd;
	(void)what;
	AGENT_CALL(l, pias_agent_tick, now);
	if (!l->warned_silent && l->o->mode == AGENT_FOREVER &&
	    l->agent.state == PIAS_AGENT_REGISTERING && now - l->start_ns > SILENT_WARN_NS) {
		l->warned_silent = true;
		log_line("no answer from the registration service at %s yet; still trying",
			 l->o->reg_str);
	}
}

/* One datagram: only REG_ACK with our token's MAC, or REG_NACK, reach the agent. */
static void on_datagram(struct loop *l, const __u8 *buf, size_t len)
{
	struct pias_msg_hdr h;
	struct pias_err e;

	if (pias_msg_header(buf, len, &h, &e) < 0) {
		if (!l->malformed++)
			log_line("dropped a malformed reply: %s", e.msg);
		return;
	}
	if (h.type != PIAS_MSG_REG_ACK && h.type != PIAS_MSG_REG_NACK) {
		if (!l->foreign++)
			log_line("dropped a %s message: not for an agent",
				 pias_msg_type_name(h.type));
		return;
	}
	/* NACKs carry no MAC we can check: the agent treats them as advisory */
	if (h.type == PIAS_MSG_REG_ACK && !pias_msg_mac_ok(buf, len, l->o->token)) {
		if (!l->bad_mac++)
			log_line(
				"dropped an acknowledgement whose MAC does not verify with the token");
		return;
	}
	if (pias_msg_decode(buf, len, l->msg, &e) < 0) {
		if (!l->malformed++)
			log_line("dropped a malformed reply: %s", e.msg);
		return;
	}
	AGENT_CALL(l, pias_agent_recv, l->msg, mono_ns());
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	__u8 buf[PIAS_MSG_MAX + 1];

	(void)what;
	for (int i = 0; i < RECV_BURST && !l->finished; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			/* ICMP errors from earlier sends surface here: sendto reports them */
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNREFUSED)
				log_line("receiving: %s", strerror(errno));
			return;
		}
		on_datagram(l, buf, (size_t)n);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
	struct loop *l = arg;

	(void)what;
	if (l->o->mode != AGENT_FOREVER) {
		log_line("interrupted (%s)", name);
		finish(l, EXIT_RUNTIME);
		return;
	}
	if (l->interrupted) {
		log_line("%s again: exiting without waiting for the LEAVE's acknowledgement", name);
		finish(l, EXIT_RUNTIME);
		return;
	}
	l->interrupted = true;
	log_line("%s: leaving", name);
	AGENT_CALL(l, pias_agent_leave, mono_ns());
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;

	(void)fd;
	(void)what;
	log_line("no acknowledgement from the registration service at %s within %u s",
		 l->o->reg_str, l->o->timeout_s);
	finish(l, EXIT_RUNTIME);
}

static int open_socket(struct loop *l)
{
	const struct agent_opts *o = l->o;
	int fd = socket(o->reg.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return cli_fail(l->c, "socket: %s", strerror(errno));
	if (o->src_len && bind(fd, (const struct sockaddr *)&o->src, o->src_len)) {
		int err = errno;

		close(fd);
		return cli_fail(l->c, "cannot send from --source %s: %s%s", o->src_str,
				strerror(err),
				err == EADDRNOTAVAIL ? " (not an address of this host)" : "");
	}
	l->fd = fd;
	return 0;
}

static int setup(struct loop *l)
{
	struct timeval tick = { .tv_sec = 0, .tv_usec = TICK_MS * 1000 };
	struct timeval deadline = { .tv_sec = l->o->timeout_s };
	struct pias_err e;
	int r;

	r = pias_agent_init(&l->agent, &l->o->tgt, NULL, realtime_ns(), &e);
	if (r)
		return cli_err(l->c, r, &e);
	l->msg = calloc(1, sizeof(*l->msg));
	l->base = event_base_new();
	if (!l->msg || !l->base)
		return cli_fail(l->c, "out of memory");
	if ((r = open_socket(l)))
		return r;
	l->rd = event_new(l->base, l->fd, EV_READ | EV_PERSIST, on_read, l);
	l->tick = event_new(l->base, -1, EV_PERSIST, on_tick, l);
	l->sigint = evsignal_new(l->base, SIGINT, on_signal, l);
	l->sigterm = evsignal_new(l->base, SIGTERM, on_signal, l);
	if (l->o->mode != AGENT_FOREVER)
		l->deadline = evtimer_new(l->base, on_deadline, l);
	if (!l->rd || !l->tick || !l->sigint || !l->sigterm ||
	    (l->o->mode != AGENT_FOREVER && !l->deadline))
		return cli_fail(l->c, "out of memory");
	if (event_add(l->rd, NULL) || event_add(l->tick, &tick) || event_add(l->sigint, NULL) ||
	    event_add(l->sigterm, NULL) || (l->deadline && event_add(l->deadline, &deadline)))
		return cli_fail(l->c, "cannot set up the event loop");
	return 0;
}

static void teardown(struct loop *l)
{
	struct event *evs[] = { l->rd, l->tick, l->sigint, l->sigterm, l->deadline };

	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (l->base)
		event_base_free(l->base);
	if (l->fd >= 0)
		close(l->fd);
	free(l->msg);
}

int agent_run(struct cli *c, const struct agent_opts *o)
{
	struct loop l = { .c = c, .o = o, .fd = -1, .rc = EXIT_OK };
	int r;

	r = setup(&l);
	if (!r) {
		l.start_ns = mono_ns();
		if (o->mode == AGENT_LEAVE)
			AGENT_CALL(&l, pias_agent_leave, l.start_ns);
		else
			AGENT_CALL(&l, pias_agent_start, l.start_ns);
		if (!l.finished)
			event_base_dispatch(l.base);
		r = l.rc;
		if (l.bad_mac || l.malformed || l.foreign)
			log_line(
				"dropped %llu replies with a bad MAC, %llu malformed, %llu of other types",
				(unsigned long long)l.bad_mac, (unsigned long long)l.malformed,
				(unsigned long long)l.foreign);
	}
	teardown(&l);
	return r;
}
