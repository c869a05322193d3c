// SPDX-License-Identifier: MIT
/*
 * Other proxies in the dataplane's proxy table, as the node's membership
 * sees them (its io.proxy_up and io.proxy_down), and the dataplane echo's
 * I/O (daemon/echo.h, docs/protocol.md section 1, "Echo"): a proxy whose
 * piasd membership gave up on is watched (daemon/dplive.h) and echoed
 * from our tunnel port; its XDP program answers, ours passes the answer
 * up to the socket here, which checks it and tells the watch list. While
 * it answers, the proxy is DP_ONLY: the flows pinned to it go on there,
 * nothing new goes there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "piasd.h"

static void on_answer(evutil_socket_t fd, short what, void *arg)
{
	struct piasd *d = arg;
	__u8 b[PIAS_ECHO_LEN + 1];
	struct sockaddr_storage ss;
	__u64 now = piasd_now(), tag;
	__u32 peer;

	(void)what;
	for (int i = 0; i < 64; i++) {
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&ss, &sl);
		const struct pias_member *mb;
		struct pias_tun_tags t;
		bool ours = false;

		if (n < 0)
			return;
		if (pias_echo_reply_check(b, (size_t)n, d->cfg.node_id, now,
					  d->dplive.cfg.timeout_ns, d->echo_secret, &peer, &tag)) {
			PIASD_INC(d, dp_echo_bad);
			continue;
		}
		/* the XDP program checked the tag already; a second look costs nothing here */
		mb = pias_members_get(&d->node.members, peer);
		pias_keyring_tun_tags(&d->keys, d->cfg.node_id, peer, &t);
		for (__u32 k = 0; k < t.n_rx; k++)
			ours |= t.rx[k] == tag;
		if (!mb || !ours) {
			PIASD_INC(d, dp_echo_bad);
			continue;
		}
		PIASD_INC(d, dp_echo_answers);
		pias_dplive_answer(&d->dplive, peer, now);
	}
}

void piasd_echo_send(struct piasd *d, __u32 id)
{
	const struct pias_member *mb = pias_members_get(&d->node.members, id);
	struct pias_peer to;
	struct sockaddr_storage ss;
	struct pias_tun_tags t;
	__u8 b[PIAS_ECHO_LEN];
	int fd;

	if (!mb || !mb->family)
		return;
	fd = d->tun_fd[mb->family == PIAS_AF_INET6];
	if (fd < 0)
		return;
	to = (struct pias_peer){ .addr = mb->addr,
				 .family = mb->family,
				 .port = d->cfg.tunnel_port };
	pias_keyring_tun_tags(&d->keys, d->cfg.node_id, id, &t);
	pias_echo_request(b, d->cfg.node_id, id, t.tx, piasd_now(), d->echo_secret);
	if (sendto(fd, b, sizeof(b), 0, (struct sockaddr *)&ss, piasd_sockaddr(&to, &ss)) < 0)
		PIASD_INC(d, tx_errors);
	else
		PIASD_INC(d, dp_echoes_sent);
}

void piasd_proxy_up(void *ctx, __u32 id, const struct pias_peer *at)
{
	struct piasd *d = ctx;
	char s[PIAS_ADDR_STRLEN];

	piasd_proxy_write(d, id, &at->addr, at->family, PIAS_PROXY_UP);
	pias_dplive_forget(&d->dplive, id);
	LOG_I("proxy %u up at %s", id, pias_addr_str(&at->addr, at->family, s, sizeof(s)));
}

void piasd_proxy_down(void *ctx, __u32 id, const struct pias_peer *at, bool left)
{
	struct piasd *d = ctx;
	bool watched = at->family && pias_dplive_watch(&d->dplive, id, piasd_now());

	/* DOWN keeps the address known: late tunnel packets from it still parse */
	if (at->family)
		piasd_proxy_write(d, id, &at->addr, at->family,
				  watched ? PIAS_PROXY_DP_ONLY : PIAS_PROXY_DOWN);
	if (watched)
		PIASD_INC(d, dp_only);
	LOG_I("proxy %u down (%s)%s", id, left ? "left" : "dead",
	      watched ? ": its flows stay while its dataplane answers echoes" : "");
}

void piasd_liveness_tick(struct piasd *d, __u64 now)
{
	static struct pias_dplive_actions acts;

	while (pias_dplive_tick(&d->dplive, now, &acts) == -ENOBUFS) {
		size_t cap = acts.cap ? 2 * acts.cap : 16;
		struct pias_dplive_action *a = realloc(acts.a, cap * sizeof(*a));

		if (!a)
			return;
		acts.a = a;
		acts.cap = cap;
	}
	for (size_t i = 0; i < acts.n; i++) {
		__u32 id = acts.a[i].id;
		const struct pias_member *mb = pias_members_get(&d->node.members, id);

		if (acts.a[i].kind == PIAS_DPLIVE_ECHO) {
			piasd_echo_send(d, id);
			continue;
		}
		PIASD_INC(d, dp_only_ended);
		LOG_I("proxy %u: its dataplane stopped answering too: down, its flows move", id);
		if (mb)
			piasd_proxy_write(d, id, &mb->addr, mb->family, PIAS_PROXY_DOWN);
	}
}

int piasd_liveness_open(struct piasd *d, struct pias_err *e)
{
	const struct piasd_config *c = &d->cfg;
	const struct piasd_addr *own[2] = { &c->addr4, &c->addr6 };
	struct pias_dplive_config dc = {
		.echo_interval_ns = (__u64)c->dataplane_echo_ms * 1000000ull,
		.timeout_ns = (__u64)c->dataplane_timeout_ms * 1000000ull,
	};
	struct pias_err why;
	int err = pias_dplive_init(&d->dplive, &dc, e);

	if (err)
		return err;
	randombytes_buf(d->echo_secret, sizeof(d->echo_secret));
	for (int i = 0; i < 2; i++) {
		if (!own[i]->family)
			continue;
		/*
		 * Without it, echoes go unanswered and a proxy whose piasd is
		 * gone is down at once, as before echoes: worth a warning, not
		 * a refusal to start.
		 */
		d->tun_fd[i] = piasd_udp_socket(&own[i]->addr, own[i]->family, c->tunnel_port,
						false, "tunnel port", &why);
		if (d->tun_fd[i] < 0) {
			LOG_W("%s: dataplane echoes get no answer here", why.msg);
			d->tun_fd[i] = -1;
			continue;
		}
		d->ev_tun[i] = event_new(d->base, d->tun_fd[i], EV_READ | EV_PERSIST, on_answer, d);
		if (!d->ev_tun[i] || event_add(d->ev_tun[i], NULL))
			return pias_err_set(e, -ENOMEM, "libevent: cannot watch the tunnel port");
	}
	return 0;
}

void piasd_liveness_close(struct piasd *d)
{
	pias_dplive_free(&d->dplive);
	for (int i = 0; i < 2; i++) {
		if (d->ev_tun[i])
			event_free(d->ev_tun[i]);
		if (d->tun_fd[i] >= 0)
			close(d->tun_fd[i]);
		d->ev_tun[i] = NULL;
		d->tun_fd[i] = -1;
	}
}
