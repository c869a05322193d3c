// SPDX-License-Identifier: MIT
/*
 * The registration agents (daemon/agent.h), one per registration, on one
 * UDP socket per address family and a libevent loop: the agents decide,
 * this file does the I/O. Messages go out encoded and MACed with each
 * group's token; replies come back from whichever proxy answered, so the
 * sockets stay unconnected and trust the MAC (ACK) and the agent's seq
 * matching (NACK), not source addresses. A reply is handed to the agents
 * of its TA (found by binary search: registrations are sorted by TA), and
 * only to those whose token verifies an ACK's MAC.
 *
 * Many registrations start paced, START_PER_TICK a tick, so that a
 * thousand REGISTERs do not arrive at a JAP in one burst. Once registered,
 * `join` refreshes them in REG_BATCHes (daemon/agent_batch.h): each tick,
 * the refreshes due go per JAP, up to 33 to a datagram, to the
 * registration service of the batch's first registration (anycast took
 * its REGISTER to that JAP). An answer's entries go to their agents.
 *
 * With --check, each endpoint has a checker (agent_health.h), and its
 * registrations are "held" while it is not UP: never started, or left
 * (the JAP drains the target at once) and their agents set up afresh
 * (IDLE), to start again when the check passes. A fresh agent numbers its
 * messages from the clock, above the LEAVE, so the JAP takes it back.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "agent_batch.h"
#include "agent_health.h"
#include "piasctl.h"
#include "tunnel_target.h"

#define TICK_MS	       50
#define RECV_BURST     64	     /* datagrams per read callback, then let timers run */
#define SILENT_WARN_NS 5000000000ull /* say so when nobody answered this long */
#define NS	       1000000000ull
#define START_PER_TICK 100	 /* registrations started per tick: 2,000/s */
#define RCVBUF	       (4 << 20) /* bytes: about 6,000 small datagrams */

/* One registration: its agent and what the loop keeps for it. */
struct reg {
	const struct agent_reg *o;
	struct pias_agent agent;
	bool started, finished;
	struct checker *ck; /* of its endpoint; NULL without --check */
	bool held;	    /* its check is not UP: not registered (IDLE) or leaving */
};

struct loop {
	struct cli *c;
	const struct agent_opts *o;
	struct reg *regs;	    /* sorted by TA */
	struct pias_agent **agents; /* regs[i].agent, for the batcher */
	struct pias_agent_batcher batcher;
	size_t n, started, n_finished, registered;
	bool all_registered_said;
	int gave_up;	      /* registrations refused for good */
	struct pias_msg *msg; /* a reply decoded: large (VIEW pages) */
	/*
	 * A message being sent (REGISTER, LEAVE, REG_BATCH), apart from msg:
	 * a reply for a TA goes to every registration of it, and one that
	 * answers it with a send must not overwrite the reply the others are
	 * still to read (a file of hundreds of targets of one group did, and
	 * only the first one registered).
	 */
	struct pias_msg *out;
	struct event_base *base;
	struct event *rd[2], *tick, *sigint, *sigterm, *deadline;
	int fd[2];		/* IPv4, IPv6 */
	int last_send_errno[2]; /* per socket: a cause is logged once, not per registration */
	int rc;
	bool finished, interrupted, warned_silent;
	__u64 start_ns;
	/* bad replies, dropped; logged the first time, summed up at the end */
	__u64 bad_mac, malformed, foreign;
	struct tt_host *tt;  /* tunnel mode: the target's program, its services, lo */
	struct checker **ck; /* --check: one per endpoint */
	size_t nck;
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

static int fam_index(sa_family_t f)
{
	return f == AF_INET6;
}

static void send_to_service(struct loop *l, const struct reg *g, const void *buf, size_t n,
			    __u8 type);

static void send_one(struct loop *l, struct reg *g, const struct pias_agent_action *act)
{
	__u8 buf[PIAS_MSG_MAX];
	struct pias_err e;
	int n;

	pias_agent_msg(act, l->out);
	n = pias_msg_encode(l->out, g->o->token, buf, sizeof(buf), &e);
	if (n < 0) {
		/* our own message does not encode: a bug, not weather */
		log_line("cannot encode %s: %s", pias_msg_type_name(act->hdr.type), e.msg);
		finish(l, EXIT_RUNTIME);
		return;
	}
	send_to_service(l, g, buf, (size_t)n, act->hdr.type);
}

/* A registration is done (left, gave up, or ONCE and acknowledged). */
static void reg_finished(struct loop *l, struct reg *g, int rc)
{
	if (g->finished)
		return;
	g->finished = true;
	if (rc != EXIT_OK)
		l->rc = rc;
	if (++l->n_finished == l->n)
		finish(l, l->rc);
}

/*
 * Tunnel mode: the target's program takes the TA's packets from the JAP
 * that acknowledged it, and sends its replies there. A JAP that answers
 * without a tunnel endpoint does not know tunnel mode: no use going on.
 */
static int serve_tunnel(struct loop *l, struct reg *g, const struct pias_agent_action *act)
{
	const struct pias_agent_target *t = &g->o->tgt;
	struct pias_tt_service svc = { 0 };
	struct pias_err e;

	if (act->tun_family != t->family) {
		log_line("JAP %u acknowledged %s without a tunnel endpoint of its family: it does "
			 "not support tunnel mode",
			 act->jap_id, g->o->reg_str);
		return -EPROTO;
	}
	svc.jap = act->tun_addr;
	svc.self = t->addr;
	svc.tunnel_port = act->tun_port;
	svc.tag = act->tun_tag;
	svc.mtu = (__u16)l->o->mtu;
	svc.family = t->family;
	if (tt_host_serve(l->tt, &t->ta, &svc, &e)) {
		log_line("tunnel mode: %s", e.msg);
		return -EIO;
	}
	return 0;
}

static void rearm(struct loop *l, struct reg *g);

/* How the agents run: `join` refreshes in batches. */
static struct pias_agent_config agent_config(const struct loop *l)
{
	return (struct pias_agent_config){ .batch = l->o->mode == AGENT_FOREVER };
}

static const __u8 *token_of(void *ctx, size_t i)
{
	const struct loop *l = ctx;

	return l->regs[i].o->token;
}

/* Datagram buf of n bytes to where g's messages go; a cause of failure said once. */
static void send_to_service(struct loop *l, const struct reg *g, const void *buf, size_t n,
			    __u8 type)
{
	int fi = fam_index(g->o->reg.ss_family);

	if (sendto(l->fd[fi], buf, n, 0, (const struct sockaddr *)&g->o->reg, g->o->reg_len) < 0) {
		/* once per cause: a down route would otherwise log every refresh */
		if (errno != l->last_send_errno[fi])
			log_line("sending %s to %s: %s (retrying)", pias_msg_type_name(type),
				 g->o->reg_str, strerror(errno));
		l->last_send_errno[fi] = errno;
		return;
	}
	if (l->last_send_errno[fi])
		log_line("sending to %s works again", g->o->reg_str);
	l->last_send_errno[fi] = 0;
}

/* The refreshes due this tick, in batches per JAP. */
static void send_batches(struct loop *l, __u64 now)
{
	const struct pias_agent_batch *bs[PIAS_AGENT_BATCH_PLAN];
	size_t k =
		pias_agent_batch_plan(&l->batcher, l->agents, l->n, now, bs, PIAS_AGENT_BATCH_PLAN);
	__u8 buf[PIAS_MSG_MAX];
	struct pias_err e;

	for (size_t i = 0; i < k && !l->finished; i++) {
		const struct reg *first = &l->regs[bs[i]->idx[0]];
		int n;

		pias_agent_batch_msg(bs[i], l->agents, token_of, l, l->out);
		n = pias_msg_encode(l->out, first->o->token, buf, sizeof(buf), &e);
		if (n < 0) {
			log_line("cannot encode REG_BATCH: %s", e.msg);
			finish(l, EXIT_RUNTIME);
			return;
		}
		send_to_service(l, first, buf, (size_t)n, PIAS_MSG_REG_BATCH);
	}
}

static void on_event(struct loop *l, struct reg *g, const struct pias_agent_action *act)
{
	char line[PIAS_AGENT_ERR_LEN + 256];
	const char *msg;
	int err;

	log_line("%s", pias_agent_event_str(&g->agent, act, line, sizeof(line)));
	switch (act->event) {
	case PIAS_AGENT_EV_REGISTERED:
	case PIAS_AGENT_EV_JAP_CHANGED:
		if (l->tt && serve_tunnel(l, g, act)) {
			finish(l, EXIT_RUNTIME);
			break;
		}
		if (l->o->mode == AGENT_ONCE)
			reg_finished(l, g, EXIT_OK);
		break;
	case PIAS_AGENT_EV_GAVE_UP:
		err = pias_agent_error(&g->agent, &msg);
		if (err == -EACCES && !l->gave_up)
			log_line(
				"is the token file the token of this TA? (piasctl token prints it)");
		l->gave_up++;
		reg_finished(l, g, EXIT_RUNTIME);
		break;
	case PIAS_AGENT_EV_LEFT:
		if (g->held && !l->interrupted) {
			rearm(l, g);
			break;
		}
		/* join: leaving was asked for, done either way; leave: the ack is the point */
		reg_finished(l, g,
			     act->acked || l->o->mode == AGENT_FOREVER ? EXIT_OK : EXIT_RUNTIME);
		break;
	case PIAS_AGENT_EV_LOST:
	case PIAS_AGENT_EV_NACK:
		break;
	}
}

static void apply(struct loop *l, struct reg *g, struct pias_agent_actions *acts)
{
	for (size_t i = 0; i < acts->n; i++) {
		if (acts->a[i].kind == PIAS_AGENT_SEND)
			send_one(l, g, &acts->a[i]);
		else
			on_event(l, g, &acts->a[i]);
	}
	acts->n = 0;
}

/* Every agent call goes through here: run it on a fresh action list, apply. */
#define AGENT_CALL(l, g, call, ...)                                                                \
	do {                                                                                       \
		struct pias_agent_action buf_[PIAS_AGENT_MAX_ACTIONS];                             \
		struct pias_agent_actions acts_ = { .a = buf_, .cap = PIAS_AGENT_MAX_ACTIONS };    \
		struct pias_err e_;                                                                \
                                                                                                   \
		pias_agent_clock(&(g)->agent, realtime_ns());                                      \
		if (call(&(g)->agent, __VA_ARGS__, &acts_, &e_) < 0) {                             \
			log_line("%s", e_.msg);                                                    \
			finish((l), EXIT_RUNTIME);                                                 \
		}                                                                                  \
		apply((l), (g), &acts_);                                                           \
	} while (0)

/*
 * A held registration's agent has left: set it up afresh (IDLE), and
 * start it at once if its check passed again meanwhile.
 */
static void rearm(struct loop *l, struct reg *g)
{
	struct pias_agent_config cfg = agent_config(l);
	struct pias_err e;
	int r = pias_agent_init(&g->agent, &g->o->tgt, &cfg, realtime_ns(), &e);

	if (r) {
		log_line("%s", e.msg);
		finish(l, EXIT_RUNTIME);
		return;
	}
	if (checker_state(g->ck) == PIAS_HEALTH_UP) {
		g->held = false;
		AGENT_CALL(l, g, pias_agent_start, mono_ns());
	}
}

/* A checker's state changed: its registrations leave, or register again. */
static void on_health(void *arg, struct checker *c, enum pias_health_state s, const char *why)
{
	struct loop *l = arg;
	size_t n = 0;

	for (size_t i = 0; i < l->n && !l->finished && !l->interrupted; i++) {
		struct reg *g = &l->regs[i];

		if (g->ck != c || !g->started || g->finished)
			continue;
		n++;
		if (s == PIAS_HEALTH_DOWN && !g->held) {
			g->held = true;
			AGENT_CALL(l, g, pias_agent_fail, mono_ns());
		} else if (s == PIAS_HEALTH_UP && g->held && g->agent.state == PIAS_AGENT_IDLE) {
			g->held = false;
			AGENT_CALL(l, g, pias_agent_start, mono_ns());
		} /* UP while still LEAVING: rearm() starts it when the LEAVE ends */
	}
	log_line("%s: %s (%s): %s %zu registration%s", checker_name(c), pias_health_state_name(s),
		 why, s == PIAS_HEALTH_UP ? "registering" : "leaving", n, n == 1 ? "" : "s");
}

/* Start up to START_PER_TICK registrations not started yet. */
static void start_some(struct loop *l, __u64 now)
{
	for (int k = 0; k < START_PER_TICK && l->started < l->n && !l->finished; k++) {
		struct reg *g = &l->regs[l->started++];

		g->started = true;
		if (g->ck && checker_state(g->ck) != PIAS_HEALTH_UP)
			g->held = true; /* on_health() starts it */
		else if (l->o->mode == AGENT_LEAVE)
			AGENT_CALL(l, g, pias_agent_leave, now);
		else
			AGENT_CALL(l, g, pias_agent_start, now);
	}
}

/* With many registrations, one line when all are acknowledged (and when that stops). */
static void count_registered(struct loop *l)
{
	size_t n = 0;

	if (l->n < 2 || l->o->mode != AGENT_FOREVER || l->interrupted)
		return;
	for (size_t i = 0; i < l->n; i++)
		n += l->regs[i].agent.state == PIAS_AGENT_REGISTERED;
	if (n == l->n && !l->all_registered_said)
		log_line("all %zu registrations acknowledged", l->n);
	else if (n < l->n && l->all_registered_said)
		log_line("%zu of %zu registrations acknowledged", n, l->n);
	l->all_registered_said = n == l->n;
	l->registered = n;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;
	__u64 now = mono_ns();

	(void)fd;
	(void)what;
	start_some(l, now);
	for (size_t i = 0; i < l->n && !l->finished; i++)
		if (l->regs[i].started && !l->regs[i].finished &&
		    l->regs[i].agent.state != PIAS_AGENT_IDLE) /* held: nothing to tick */
			AGENT_CALL(l, &l->regs[i], pias_agent_tick, now);
	if (!l->finished)
		send_batches(l, now);
	count_registered(l);
	if (!l->warned_silent && l->o->mode == AGENT_FOREVER && l->registered == 0 &&
	    l->regs[0].agent.state == PIAS_AGENT_REGISTERING &&
	    now - l->start_ns > SILENT_WARN_NS) {
		l->warned_silent = true;
		log_line("no answer from the registration service at %s yet; still trying",
			 l->regs[0].o->reg_str);
	}
}

static int ta_cmp(const struct pias_ta *a, const struct pias_ta *b)
{
	return memcmp(a, b, sizeof(*a)); /* parsed and decoded TAs are zero-padded */
}

static int reg_cmp(const void *a, const void *b)
{
	return ta_cmp(&((const struct reg *)a)->o->tgt.ta, &((const struct reg *)b)->o->tgt.ta);
}

/* The first registration of ta, or NULL. */
static struct reg *find_ta(struct loop *l, const struct pias_ta *ta)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ta_cmp(&l->regs[mid].o->tgt.ta, ta) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n && !ta_cmp(&l->regs[lo].o->tgt.ta, ta) ? &l->regs[lo] : NULL;
}

/* A REG_BATCH_ACK (decoded in l->msg): each entry whose tag verifies to its agent. */
static void on_batch_answer(struct loop *l, const __u8 *buf, size_t len)
{
	const struct pias_msg_reg_batch_ack *ack = &l->msg->batch_ack;
	__u8 status[PIAS_MSG_BATCH_MAX];
	__u64 now = mono_ns();
	const struct pias_agent_batch *bt = pias_agent_batch_answers(
		&l->batcher, l->agents, token_of, l, l->msg, buf, len, now, status);

	if (!bt) {
		if (!l->bad_mac++)
			log_line("dropped a REG_BATCH_ACK that answers no batch of ours "
				 "or whose MAC does not verify");
		return;
	}
	for (__u32 i = 0; i < bt->n && !l->finished; i++) {
		struct reg *g = &l->regs[bt->idx[i]];

		if (!status[i] || !g->started || g->finished)
			continue;
		AGENT_CALL(l, g, pias_agent_batch_answer, ack->echo_seq, status[i], ack->refresh_ms,
			   now);
	}
}

/*
 * One datagram: only REG_ACK and REG_COOKIE with the MAC of a token of
 * ours, or REG_NACK, for a TA we register, reach its agents; a
 * REG_BATCH_ACK goes to the batcher, which knows whose entries it holds.
 */
static void on_datagram(struct loop *l, const __u8 *buf, size_t len)
{
	const struct pias_ta *ta;
	struct pias_msg_hdr h;
	struct pias_err e;
	struct reg *g, *end = l->regs + l->n;
	bool macked = false;

	if (pias_msg_header(buf, len, &h, &e) < 0) {
		if (!l->malformed++)
			log_line("dropped a malformed reply: %s", e.msg);
		return;
	}
	if (h.type != PIAS_MSG_REG_ACK && h.type != PIAS_MSG_REG_NACK &&
	    h.type != PIAS_MSG_REG_COOKIE && h.type != PIAS_MSG_REG_BATCH_ACK) {
		if (!l->foreign++)
			log_line("dropped a %s message: not for an agent",
				 pias_msg_type_name(h.type));
		return;
	}
	if (pias_msg_decode(buf, len, l->msg, &e) < 0) {
		if (!l->malformed++)
			log_line("dropped a malformed reply: %s", e.msg);
		return;
	}
	if (h.type == PIAS_MSG_REG_BATCH_ACK) {
		on_batch_answer(l, buf, len);
		return;
	}
	ta = h.type == PIAS_MSG_REG_ACK	     ? &l->msg->ack.ta
	     : h.type == PIAS_MSG_REG_COOKIE ? &l->msg->cookie.ta
					     : &l->msg->nack.ta;
	g = find_ta(l, ta);
	for (; g && g < end && !ta_cmp(&g->o->tgt.ta, ta); g++) {
		if (!g->started || g->finished)
			continue;
		/* NACKs carry no MAC we can check: the agent treats them as advisory */
		if (h.type != PIAS_MSG_REG_NACK) {
			if (!pias_msg_mac_ok(buf, len, g->o->token))
				continue;
			macked = true;
		}
		AGENT_CALL(l, g, pias_agent_recv, l->msg, mono_ns());
	}
	if (h.type != PIAS_MSG_REG_NACK && !macked && !l->bad_mac++)
		log_line("dropped a %s whose MAC does not verify with the token "
			 "of a registration of its TA",
			 pias_msg_type_name(h.type));
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
	/* registrations not started yet have nothing to withdraw */
	for (size_t i = l->started; i < l->n; i++)
		reg_finished(l, &l->regs[i], EXIT_OK);
	l->started = l->n;
	for (size_t i = 0; i < l->n && !l->finished; i++) {
		if (l->regs[i].finished)
			continue;
		if (l->regs[i].agent.state == PIAS_AGENT_IDLE) /* held: not registered */
			reg_finished(l, &l->regs[i], EXIT_OK);
		else
			AGENT_CALL(l, &l->regs[i], pias_agent_leave, mono_ns());
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct loop *l = arg;

	(void)fd;
	(void)what;
	if (l->n == 1)
		log_line("no acknowledgement from the registration service at %s within %u s",
			 l->regs[0].o->reg_str, l->o->timeout_s);
	else
		log_line("%zu of %zu registrations not acknowledged within %u s",
			 l->n - l->n_finished, l->n, l->o->timeout_s);
	finish(l, EXIT_RUNTIME);
}

/* A socket for family f (AF_INET, AF_INET6), bound to --source if given. */
static int open_socket(struct loop *l, sa_family_t f)
{
	const struct agent_opts *o = l->o;
	int fd = socket(f, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rcvbuf = RCVBUF;

	if (fd < 0)
		return cli_fail(l->c, "socket: %s", strerror(errno));
	/*
	 * Answers come in bursts: once refreshes go in batches, they fall into
	 * step, and so do the REGISTERs of registrations that fall back (a JAP
	 * late or gone): a thousand REG_ACKs at once, where the default 208 KiB
	 * holds about 300 and the rest would be lost, and lost again. Past
	 * rmem_max only root may go (FORCE).
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (o->src_len && bind(fd, (const struct sockaddr *)&o->src, o->src_len)) {
		int err = errno;

		close(fd);
		return cli_fail(l->c, "cannot send from --source %s: %s%s", o->src_str,
				strerror(err),
				err == EADDRNOTAVAIL ? " (not an address of this host)" : "");
	}
	l->fd[fam_index(f)] = fd;
	l->rd[fam_index(f)] = event_new(l->base, fd, EV_READ | EV_PERSIST, on_read, l);
	if (!l->rd[fam_index(f)] || event_add(l->rd[fam_index(f)], NULL))
		return cli_fail(l->c, "cannot set up the event loop");
	return 0;
}

/* A registration's check: its line's check=, else --check's; NULL: none. */
static const struct pias_check_spec *check_of(const struct loop *l, const struct reg *g)
{
	if (g->o->check.kind)
		return &g->o->check;
	return l->o->check.spec.kind ? &l->o->check.spec : NULL;
}

/* Checks: one checker per endpoint and check, shared by its registrations. */
static int setup_checks(struct loop *l)
{
	l->ck = calloc(l->n, sizeof(*l->ck));
	if (!l->ck)
		return cli_fail(l->c, "out of memory");
	for (size_t i = 0; i < l->n; i++) {
		const struct pias_agent_target *t = &l->regs[i].o->tgt;
		const struct pias_check_spec *spec = check_of(l, &l->regs[i]);
		struct check_opts co = l->o->check;
		struct sockaddr_storage to;
		socklen_t len = agent_sockaddr(&t->addr, t->family, t->port, &to);
		char to_str[PIAS_ADDR_STRLEN + 8];

		if (!spec)
			continue;
		for (size_t k = 0; k < i && !l->regs[i].ck; k++) {
			const struct pias_agent_target *u = &l->regs[k].o->tgt;
			const struct pias_check_spec *us = check_of(l, &l->regs[k]);

			if (us && u->family == t->family && u->port == t->port &&
			    !memcmp(&u->addr, &t->addr, sizeof(t->addr)) &&
			    !memcmp(us, spec, sizeof(*spec)))
				l->regs[i].ck = l->regs[k].ck;
		}
		if (l->regs[i].ck)
			continue;
		co.spec = *spec;
		pias_endpoint_str(&t->addr, t->family, t->port, to_str, sizeof(to_str));
		l->regs[i].ck = l->ck[l->nck] =
			checker_new(l->base, &co, &to, len, to_str, on_health, l);
		if (!l->ck[l->nck++])
			return cli_fail(l->c, "out of memory");
	}
	return 0;
}

static int setup(struct loop *l)
{
	struct timeval tick = { .tv_sec = 0, .tv_usec = TICK_MS * 1000 };
	struct timeval deadline = { .tv_sec = l->o->timeout_s };
	struct pias_err e;
	int r;

	struct pias_agent_config cfg = agent_config(l);

	l->regs = calloc(l->o->n, sizeof(*l->regs));
	l->agents = calloc(l->o->n, sizeof(*l->agents));
	l->msg = calloc(1, sizeof(*l->msg));
	l->out = calloc(1, sizeof(*l->out));
	l->base = event_base_new();
	if (!l->regs || !l->agents || !l->msg || !l->out || !l->base)
		return cli_fail(l->c, "out of memory");
	l->n = l->o->n;
	for (size_t i = 0; i < l->n; i++) {
		l->regs[i].o = &l->o->regs[i];
		r = pias_agent_init(&l->regs[i].agent, &l->o->regs[i].tgt, &cfg, realtime_ns(), &e);
		if (r)
			return cli_err(l->c, r, &e);
	}
	qsort(l->regs, l->n, sizeof(*l->regs), reg_cmp);
	for (size_t i = 0; i < l->n; i++)
		l->agents[i] = &l->regs[i].agent;
	pias_agent_batcher_init(&l->batcher, 0);
	if (l->o->mode == AGENT_FOREVER && (r = setup_checks(l)))
		return r;
	if (l->o->tunnel && l->o->mode == AGENT_FOREVER) {
		r = tt_host_open(l->o->pin_dir, l->o->ifname, &l->tt, &e);
		if (r)
			return cli_fail(l->c, "tunnel mode on %s: %s", l->o->ifname, e.msg);
	}
	for (size_t i = 0; i < l->n; i++) {
		sa_family_t f = l->regs[i].o->reg.ss_family;

		if (l->fd[fam_index(f)] < 0 && (r = open_socket(l, f)))
			return r;
	}
	l->tick = event_new(l->base, -1, EV_PERSIST, on_tick, l);
	l->sigint = evsignal_new(l->base, SIGINT, on_signal, l);
	l->sigterm = evsignal_new(l->base, SIGTERM, on_signal, l);
	if (l->o->mode != AGENT_FOREVER)
		l->deadline = evtimer_new(l->base, on_deadline, l);
	if (!l->tick || !l->sigint || !l->sigterm || (l->o->mode != AGENT_FOREVER && !l->deadline))
		return cli_fail(l->c, "out of memory");
	if (event_add(l->tick, &tick) || event_add(l->sigint, NULL) ||
	    event_add(l->sigterm, NULL) || (l->deadline && event_add(l->deadline, &deadline)))
		return cli_fail(l->c, "cannot set up the event loop");
	return 0;
}

static void teardown(struct loop *l)
{
	struct event *evs[] = { l->rd[0], l->rd[1], l->tick, l->sigint, l->sigterm, l->deadline };

	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	for (size_t i = 0; i < l->nck; i++) {
		unsigned long long checks, failed;

		checker_counts(l->ck[i], &checks, &failed);
		log_line("%s: %llu checks, %llu failed", checker_name(l->ck[i]), checks, failed);
		checker_free(l->ck[i]);
	}
	free(l->ck);
	if (l->base)
		event_base_free(l->base);
	for (int i = 0; i < 2; i++)
		if (l->fd[i] >= 0)
			close(l->fd[i]);
	free(l->regs);
	free(l->agents);
	free(l->msg);
	free(l->out);
	if (l->tt) {
		struct pias_tt_stats st;
		struct pias_err e;

		if (!tt_host_stats(l->tt, &st, &e))
			log_line(
				"tunnel mode: %llu packets unwrapped, %llu replies wrapped; dropped "
				"%llu not from the JAP, %llu forged (bad tag), %llu bypassing it, "
				"%llu too big",
				(unsigned long long)st.decap, (unsigned long long)st.encap,
				(unsigned long long)st.drop_not_jap,
				(unsigned long long)st.drop_bad_tag,
				(unsigned long long)st.drop_not_tunnelled,
				(unsigned long long)st.drop_too_big);
		if (tt_host_close(l->tt, &e))
			log_line("tunnel mode: cleaning up: %s (the next start retries)", e.msg);
	}
}

int agent_run(struct cli *c, const struct agent_opts *o)
{
	struct loop l = { .c = c, .o = o, .fd = { -1, -1 }, .rc = EXIT_OK };
	int r;

	r = setup(&l);
	if (!r) {
		l.start_ns = mono_ns();
		start_some(&l, l.start_ns);
		if (!l.finished)
			event_base_dispatch(l.base);
		r = l.rc;
		if (l.gave_up && l.n > 1)
			log_line("%d of %zu registrations refused", l.gave_up, l.n);
		if (l.bad_mac || l.malformed || l.foreign)
			log_line(
				"dropped %llu replies with a bad MAC, %llu malformed, %llu of other types",
				(unsigned long long)l.bad_mac, (unsigned long long)l.malformed,
				(unsigned long long)l.foreign);
	}
	teardown(&l);
	return r;
}
