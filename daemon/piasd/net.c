// SPDX-License-Identifier: MIT
/*
 * piasd's sockets. The overlay socket (UDP, [overlay] listen_port on the
 * proxy's unicast addresses) carries proxy-to-proxy messages; the
 * registration socket (UDP on the anycast registration address) takes
 * target REGISTER/LEAVE, which the dataplane passes up through a local
 * binding. Every datagram is checked here, in this order, before any state
 * machine sees it: header, key id, MAC, sender, replay window, body.
 */
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "piasd.h"

socklen_t piasd_sockaddr(const struct pias_peer *p, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (p->family == PIAS_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(p->port);
		s4->sin_addr.s_addr = p->addr.v4;
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(p->port);
	memcpy(&s6->sin6_addr, p->addr.bytes, 16);
	return sizeof(*s6);
}

static void from_sockaddr(const struct sockaddr_storage *ss, struct pias_peer *p)
{
	memset(p, 0, sizeof(*p));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		p->family = PIAS_AF_INET;
		p->addr.v4 = s4->sin_addr.s_addr;
		p->port = ntohs(s4->sin_port);
		return;
	}
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	p->family = PIAS_AF_INET6;
	memcpy(p->addr.bytes, &s6->sin6_addr, 16);
	p->port = ntohs(s6->sin6_port);
}

#define UDP_RCVBUF (4 << 20) /* bytes: about 6,000 small datagrams */

int piasd_udp_socket(const union pias_addr *a, __u8 family, __u16 port, bool freebind,
		     const char *what, struct pias_err *e)
{
	struct pias_peer p = { .addr = *a, .family = family, .port = port };
	struct sockaddr_storage ss;
	socklen_t len = piasd_sockaddr(&p, &ss);
	char s[PIAS_ADDR_STRLEN];
	int one = 1, rcvbuf = UDP_RCVBUF, fd, err;

	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return pias_err_set(e, -errno, "%s socket: %s", what, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/*
	 * Bursts come: every target of a dead JAP registers again within a
	 * tick, a multi-TA agent starts with hundreds. The default 208 KiB
	 * holds about 300 datagrams; past rmem_max only root may go (FORCE).
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (family == PIAS_AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* the anycast address may be configured after piasd starts */
	if (freebind)
		setsockopt(fd, family == PIAS_AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
			   family == PIAS_AF_INET ? IP_FREEBIND : IPV6_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		err = -errno;
		close(fd);
		return pias_err_set(e, err, "%s socket: cannot bind %s port %u: %s", what,
				    pias_addr_str(a, family, s, sizeof(s)), port, strerror(-err));
	}
	return fd;
}

/*
 * A header seq: the wall clock in ns, but strictly above the last one. So
 * seqs grow across restarts, and stay close to real time, which lets a
 * freshly started receiver take a first message only if it is recent.
 */
static __u64 next_seq(struct piasd *d)
{
	__u64 now = piasd_realtime();

	d->next_seq = now > d->next_seq ? now : d->next_seq + 1;
	return d->next_seq;
}

static int send_raw(struct piasd *d, int fd, const struct pias_peer *to, const void *buf,
		    size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = piasd_sockaddr(to, &ss);

	if (fd < 0 || sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl) < 0) {
		PIASD_INC(d, tx_errors);
		return fd < 0 ? -EAFNOSUPPORT : -errno;
	}
	PIASD_INC(d, tx_datagrams);
	return 0;
}

int piasd_send(struct piasd *d, const struct pias_peer *to, struct pias_msg *m)
{
	static __u8 buf[PIAS_MSG_VIEW_MAX];
	struct pias_err e;
	const __u8 *key;
	int n;

	key = pias_keyring_send(&d->keys, &m->hdr.key_id);
	m->hdr.sender_id = d->cfg.node_id;
	m->hdr.seq = next_seq(d);
	n = pias_msg_encode(m, key, buf, sizeof(buf), &e);
	if (n < 0) {
		PIASD_INC(d, tx_errors);
		LOG_W("cannot encode %s: %s", pias_msg_type_name(m->hdr.type), e.msg);
		return n;
	}
	return send_raw(d, d->ovl_fd[to->family == PIAS_AF_INET6], to, buf, (size_t)n);
}

int piasd_send_proxy(struct piasd *d, __u32 id, struct pias_msg *m)
{
	struct pias_peer to;

	if (pias_node_peer(&d->node, id, &to)) {
		PIASD_INC(d, tx_no_route);
		LOG_D("no address for proxy %u: %s not sent", id, pias_msg_type_name(m->hdr.type));
		return -ENOENT;
	}
	return piasd_send(d, &to, m);
}

/* token(ta), remembering the last one: a reply goes to the TA just verified. */
static void token_of(struct piasd *d, const struct pias_ta *ta, __u8 token[PIAS_KEY_LEN])
{
	static struct pias_ta last_ta;
	static __u8 last[PIAS_KEY_LEN];
	static bool valid;

	if (!valid || memcmp(&last_ta, ta, sizeof(*ta))) {
		pias_token_derive(d->group_key, ta, last);
		last_ta = *ta;
		valid = true;
	}
	memcpy(token, last, PIAS_KEY_LEN);
}

/* A reply to a target: MACed with the group's token, from the anycast address. */
void piasd_target_reply(struct piasd *d, const struct pias_peer *to, struct pias_msg *m,
			const struct pias_ta *ta)
{
	static const __u8 zero[PIAS_KEY_LEN];
	__u8 token[PIAS_KEY_LEN], buf[PIAS_MSG_MAX];
	struct pias_err e;
	int n;

	/* the REGISTER just verified was for the same TA: its token is cached */
	if (d->have_group_key)
		token_of(d, ta, token);
	m->hdr.sender_id = 0;
	m->hdr.key_id = 0;
	m->hdr.seq = next_seq(d);
	n = pias_msg_encode(m, d->have_group_key ? token : zero, buf, sizeof(buf), &e);
	if (n < 0) {
		PIASD_INC(d, tx_errors);
		LOG_W("cannot encode %s: %s", pias_msg_type_name(m->hdr.type), e.msg);
		return;
	}
	send_raw(d, d->reg_fd, to, buf, (size_t)n);
}

/* May we answer a sender that has not proved its address? Counted if not. */
static bool outside_answer_ok(struct piasd *d)
{
	if (pias_rate_take(&d->outside_nack, piasd_now(), NULL))
		return true;
	PIASD_INC(d, nacks_limited);
	return false;
}

void piasd_target_nack(struct piasd *d, const struct pias_peer *to, const struct pias_msg *req,
		       __u32 code, const char *text, bool proven)
{
	struct pias_msg m;

	if (!proven && !outside_answer_ok(d))
		return;
	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_REG_NACK;
	m.nack.ta = req->reg.ta;
	m.nack.code = code;
	m.nack.echo_seq = req->hdr.seq;
	if (proven)
		snprintf(m.nack.text, sizeof(m.nack.text), "%s", text);
	piasd_target_reply(d, to, &m, &req->reg.ta);
}

/*
 * Not rate-limited like the refusals: a cookie answers only a REGISTER
 * whose MAC verified and whose seq is fresh, and is smaller than it, so it
 * amplifies nothing; while 1,333 targets joining at once must not wait
 * for a limit of 20 a second (they did: 434 joined in 20 s).
 */
void piasd_target_cookie(struct piasd *d, const struct pias_peer *to, const struct pias_msg *req)
{
	struct pias_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_REG_COOKIE;
	m.cookie.ta = req->reg.ta;
	m.cookie.echo_seq = req->hdr.seq;
	m.cookie.jap_id = d->cfg.node_id;
	pias_cookie_make(&d->cookies, &req->reg, to, m.cookie.cookie);
	PIASD_INC(d, reg_cookies_sent);
	piasd_target_reply(d, to, &m, &req->reg.ta);
}

void piasd_cookie_tick(struct piasd *d, __u64 now)
{
	__u8 secret[PIAS_COOKIE_SECRET_LEN];

	if (!pias_cookie_due(&d->cookies, now))
		return;
	randombytes_buf(secret, sizeof(secret));
	pias_cookie_rotate(&d->cookies, now, secret);
	sodium_memzero(secret, sizeof(secret));
}

void piasd_target_ack(struct piasd *d, const struct pias_peer *to, const struct pias_msg *req,
		      __u32 target_id, __u32 refresh_ms, const __u64 *tun_tag)
{
	const struct piasd_addr *self =
		req->reg.family == PIAS_AF_INET ? &d->cfg.addr4 : &d->cfg.addr6;
	struct pias_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_REG_ACK;
	m.ack.ta = req->reg.ta;
	m.ack.jap_id = d->cfg.node_id;
	m.ack.target_id = target_id;
	m.ack.refresh_ms = refresh_ms;
	m.ack.echo_seq = req->hdr.seq;
	if (tun_tag && self->family) {
		m.ack.tun_family = self->family;
		m.ack.tun_addr = self->addr;
		m.ack.tun_port = d->cfg.tunnel_port;
		m.ack.tun_tag = *tun_tag;
	}
	piasd_target_reply(d, to, &m, &req->reg.ta);
}

/*
 * What anyone on the network can make piasd do is limited: log lines about
 * datagrams that did not verify (or could not be read), and refusals sent
 * to senders whose MAC did not verify (or was not checked). Spoofed at
 * will, they would fill the log and make this proxy a reflector; beyond
 * the rate they are only counted. A line after a quiet spell says how
 * many like it were left out.
 */
#define OUTSIDE_LOG_PER_S  10
#define OUTSIDE_LOG_BURST  20
#define OUTSIDE_NACK_PER_S 20
#define OUTSIDE_NACK_BURST 40

/*
 * Per sender, in tables of fixed size (rate_table.h), at the rates of
 * [overlay] peer_msgs_* and [anycast] source_registrations_*: a proxy's
 * messages once verified (the default burst covers a ring change, when a
 * JAP re-reports every group at once, and a VIEW for a joining proxy); the
 * REGISTERs of targets this JAP does not know yet, per source address (the
 * default burst covers a host starting 2,500 registrations at once, two
 * REGISTERs each with the cookie round: the lab's 1,333 come from 2 agents).
 */
#define RATE_TABLE_SLOTS 4096

static void outside_log(struct piasd *d, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void outside_log(struct piasd *d, int level, const char *fmt, ...)
{
	char line[512];
	__u64 left_out = 0;
	va_list ap;

	if (!piasd_log_on(level))
		return; /* not written anyway: no share of the rate */
	if (!pias_rate_take(&d->outside_log, piasd_now(), &left_out)) {
		PIASD_INC(d, log_suppressed);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (left_out)
		piasd_log(level, "%s (and %llu lines like it left out: over %d a second)", line,
			  (unsigned long long)left_out, OUTSIDE_LOG_PER_S);
	else
		piasd_log(level, "%s", line);
}

/* A refusal to a sender not verified: no text, within the rate, or counted. */
static void outside_nack(struct piasd *d, const struct pias_peer *to, const struct pias_msg *req,
			 __u32 code, const char *text)
{
	piasd_target_nack(d, to, req, code, text, false);
}

/*
 * REG_BATCH: refreshes of targets this JAP holds. The whole is MACed with
 * the first entry's token, so that a batch from nobody's token costs one
 * MAC; piasd_target_batch checks each entry's own tag. Refused without an
 * answer (counted): the agent sends REGISTERs for a batch not answered.
 */
static void handle_batch(struct piasd *d, const __u8 *buf, size_t n, const struct pias_peer *from,
			 const struct pias_msg *m)
{
	__u8 token[PIAS_KEY_LEN];
	char src[PIAS_ADDR_STRLEN + 8];

	pias_endpoint_str(&from->addr, from->family, from->port, src, sizeof(src));
	if (!d->have_group_key || d->withdrawn || m->batch.jap_id != d->cfg.node_id) {
		PIASD_INC(d, reg_refused);
		outside_log(d, PIASD_LOG_DEBUG, "REG_BATCH from %s for JAP %u dropped: %s", src,
			    m->batch.jap_id,
			    m->batch.jap_id != d->cfg.node_id ? "not this JAP" : "not serving");
		return;
	}
	token_of(d, &m->batch.e[0].ta, token);
	if (!pias_msg_mac_ok(buf, n, token)) {
		PIASD_INC(d, reg_bad_token);
		outside_log(d, PIASD_LOG_INFO, "refused REG_BATCH from %s: bad token", src);
		return;
	}
	if (!pias_fresh_timestamp(m->hdr.seq, piasd_realtime(), PIAS_REPLAY_FRESH_NS)) {
		PIASD_INC(d, reg_refused);
		outside_log(d, PIASD_LOG_DEBUG, "REG_BATCH from %s dropped: seq not fresh", src);
		return;
	}
	piasd_target_batch(d, m, from);
}

/* REGISTER/LEAVE on the registration socket: the group's token is the key. */
static void handle_target(struct piasd *d, const __u8 *buf, size_t n, const struct pias_peer *from,
			  struct pias_msg *m)
{
	__u8 token[PIAS_KEY_LEN];
	struct pias_err e;
	char ta[PIAS_ADDR_STRLEN + 16], src[PIAS_ADDR_STRLEN + 8];

	if (pias_msg_decode(buf, n, m, &e)) {
		PIASD_INC(d, rx_malformed);
		outside_log(d, PIASD_LOG_DEBUG, "malformed target message: %s", e.msg);
		return;
	}
	if (m->hdr.type == PIAS_MSG_REG_BATCH) {
		handle_batch(d, buf, n, from, m);
		return;
	}
	if (m->hdr.type != PIAS_MSG_REGISTER && m->hdr.type != PIAS_MSG_LEAVE) {
		PIASD_INC(d, rx_unexpected);
		return;
	}
	pias_ta_str(&m->reg.ta, ta, sizeof(ta));
	pias_endpoint_str(&from->addr, from->family, from->port, src, sizeof(src));
	if (!d->have_group_key || d->withdrawn) {
		PIASD_INC(d, reg_refused);
		outside_nack(d, from, m, PIAS_NACK_NOT_SERVING,
			     d->withdrawn ? "this proxy is withdrawn"
					  : "this proxy has no group key: no registrations");
		return;
	}
	token_of(d, &m->reg.ta, token);
	if (!pias_msg_mac_ok(buf, n, token)) {
		PIASD_INC(d, reg_bad_token);
		outside_log(d, PIASD_LOG_INFO, "refused %s for %s from %s: bad token",
			    pias_msg_type_name(m->hdr.type), ta, src);
		outside_nack(d, from, m, PIAS_NACK_BAD_TOKEN,
			     "bad token: the MAC does not verify with this group's token");
		return;
	}
	/* verified, but may be a copy of an old one: as limited as the others */
	if (!pias_fresh_timestamp(m->hdr.seq, piasd_realtime(), PIAS_REPLAY_FRESH_NS)) {
		PIASD_INC(d, reg_refused);
		outside_nack(d, from, m, PIAS_NACK_STALE,
			     "stale: seq is not within 30 s of the proxy's clock");
		return;
	}
	piasd_target_msg(d, m, from);
}

/* A proxy datagram: key, MAC, sender, replay, body; then the right machine. */
static void handle_proxy(struct piasd *d, const __u8 *buf, size_t n, const struct pias_peer *from,
			 const struct pias_msg_hdr *h, struct pias_msg *m)
{
	const __u8 *key = pias_keyring_find(&d->keys, h->key_id);
	struct pias_rate_key peer_key;
	struct pias_err e;

	if (!key) {
		PIASD_INC(d, rx_unknown_key);
		outside_log(d, PIASD_LOG_DEBUG, "datagram from proxy %u with unknown key id %u",
			    h->sender_id, h->key_id);
		return;
	}
	if (!pias_msg_mac_ok(buf, n, key)) {
		PIASD_INC(d, rx_bad_mac);
		outside_log(d, PIASD_LOG_DEBUG, "datagram claiming proxy %u: bad MAC",
			    h->sender_id);
		return;
	}
	if (h->sender_id == d->cfg.node_id) {
		PIASD_INC(d, rx_from_self);
		return;
	}
	/* a sender we have no window for yet (we restarted): only fresh seqs */
	if ((!pias_replay_known(&d->replay, h->sender_id) &&
	     !pias_fresh_timestamp(h->seq, piasd_realtime(), PIAS_REPLAY_FRESH_NS)) ||
	    !pias_replay_check_and_record(&d->replay, h->sender_id, h->seq)) {
		PIASD_INC(d, rx_replayed);
		return;
	}
	/* after the MAC and the window: a forger or a replayer spends nobody's share */
	peer_key = pias_rate_key_id(h->sender_id);
	if (!pias_rate_table_take(&d->peer_rates, &peer_key, piasd_now())) {
		PIASD_INC(d, rx_peer_limited);
		outside_log(d, PIASD_LOG_INFO,
			    "proxy %u sends more than %u messages a second: dropped", h->sender_id,
			    d->cfg.peer_msgs_per_s);
		return;
	}
	if (pias_msg_decode(buf, n, m, &e)) {
		PIASD_INC(d, rx_malformed);
		LOG_D("malformed datagram from proxy %u: %s", h->sender_id, e.msg);
		return;
	}
	switch (m->hdr.type) {
	case PIAS_MSG_CONN_QUERY:
		piasd_affinity_query(d, &m->cq, m->hdr.sender_id);
		break;
	case PIAS_MSG_FLOW_PIN:
		piasd_affinity_pin(d, &m->pin, m->hdr.sender_id);
		break;
	default:
		piasd_node_recv(d, m, from);
	}
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	static __u8 buf[PIAS_MSG_VIEW_MAX + 1];
	static struct pias_msg m; /* large: a VIEW page */
	struct piasd *d = arg;
	struct sockaddr_storage ss;
	struct pias_msg_hdr h;
	struct pias_peer from;
	struct pias_err e;

	(void)what;
	/* bounded: other sockets and timers get their turn */
	for (int i = 0; i < 64; i++) {
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);

		if (n < 0)
			return;
		PIASD_INC(d, rx_datagrams);
		from_sockaddr(&ss, &from);
		if (pias_msg_header(buf, (size_t)n, &h, &e)) {
			PIASD_INC(d, rx_malformed);
			outside_log(d, PIASD_LOG_DEBUG, "malformed datagram: %s", e.msg);
			continue;
		}
		if (pias_msg_is_target(h.type) != (fd == d->reg_fd)) {
			PIASD_INC(d, rx_unexpected);
			continue;
		}
		if (fd == d->reg_fd)
			handle_target(d, buf, (size_t)n, &from, &m);
		else
			handle_proxy(d, buf, (size_t)n, &from, &h, &m);
	}
}

static int watch(struct piasd *d, int fd, struct event **ev, struct pias_err *e)
{
	*ev = event_new(d->base, fd, EV_READ | EV_PERSIST, on_readable, d);
	if (!*ev || event_add(*ev, NULL))
		return pias_err_set(e, -ENOMEM, "libevent: cannot watch a socket");
	return 0;
}

int piasd_net_open(struct piasd *d, struct pias_err *e)
{
	const struct piasd_config *c = &d->cfg;
	const struct piasd_addr *own[2] = { &c->addr4, &c->addr6 };
	__u8 hkey[16], gkey[32];
	int err;

	pias_rate_init(&d->outside_log, OUTSIDE_LOG_PER_S, OUTSIDE_LOG_BURST);
	pias_rate_init(&d->outside_nack, OUTSIDE_NACK_PER_S, OUTSIDE_NACK_BURST);
	randombytes_buf(hkey, sizeof(hkey));
	if (pias_rate_table_init(&d->peer_rates, RATE_TABLE_SLOTS, c->peer_msgs_per_s,
				 c->peer_msgs_burst, hkey) ||
	    pias_rate_table_init(&d->reg_sources, RATE_TABLE_SLOTS, c->source_regs_per_s,
				 c->source_regs_burst, hkey) ||
	    pias_rate_table_init(&d->reg_groups, RATE_TABLE_SLOTS, c->group_joins_per_s,
				 c->group_joins_burst, hkey))
		return pias_err_set(e, -ENOMEM, "out of memory for the rate limit tables");
	randombytes_buf(gkey, sizeof(gkey));
	/* a LEAVE's REGISTERs are fresh for PIAS_REPLAY_FRESH_NS: remember it as long */
	if (pias_gone_init(&d->gone, RATE_TABLE_SLOTS, PIAS_REPLAY_FRESH_NS, gkey))
		return pias_err_set(e, -ENOMEM,
				    "out of memory for the table of left registrations");

	for (int i = 0; i < 2; i++) {
		if (!own[i]->family)
			continue;
		d->ovl_fd[i] = piasd_udp_socket(&own[i]->addr, own[i]->family, c->listen_port,
						false, "overlay", e);
		if (d->ovl_fd[i] < 0)
			return d->ovl_fd[i];
		err = watch(d, d->ovl_fd[i], &d->ev_ovl[i], e);
		if (err)
			return err;
	}
	d->reg_fd = piasd_udp_socket(&c->registration_addr.addr, c->registration_addr.family,
				     c->registration_port, true, "registration", e);
	if (d->reg_fd < 0)
		return d->reg_fd;
	return watch(d, d->reg_fd, &d->ev_reg, e);
}

void piasd_net_close(struct piasd *d)
{
	pias_rate_table_free(&d->peer_rates);
	pias_rate_table_free(&d->reg_sources);
	pias_rate_table_free(&d->reg_groups);
	pias_gone_free(&d->gone);
	for (int i = 0; i < 2; i++) {
		if (d->ev_ovl[i])
			event_free(d->ev_ovl[i]);
		if (d->ovl_fd[i] >= 0)
			close(d->ovl_fd[i]);
		d->ev_ovl[i] = NULL;
		d->ovl_fd[i] = -1;
	}
	if (d->ev_reg)
		event_free(d->ev_reg);
	if (d->reg_fd >= 0)
		close(d->reg_fd);
	d->ev_reg = NULL;
	d->reg_fd = -1;
}

int piasd_keys_reload(struct piasd *d, struct pias_err *e)
{
	struct pias_keyring kr;
	int err = pias_keyring_load(d->cfg.overlay_key_file, &kr, e);

	if (err)
		return err;
	d->keys = kr;
	LOG_I("key ring reloaded: %zu keys, sending with key %u", kr.n, kr.send_id);
	piasd_proxies_rekey(d);
	return 0;
}
