// SPDX-License-Identifier: MIT
/*
 * pias-delay's relay. One thread, one epoll: the two AF_PACKET sockets, a
 * timerfd armed for the earliest head of the two delay queues, a signalfd,
 * and a timerfd for periodic counters.
 *
 * Precision: a timer wakes us some 100 us late on a VM (measured here:
 * median 100 us, 90th percentile 190 us), half the 0.2 ms budget. So the timer is set
 * early by the wake-up latency it has shown (an average plus four mean
 * deviations, as TCP estimates its RTO), and the last stretch before the
 * due time is spent polling (epoll_wait with no timeout, sockets included).
 * The spin costs at most that lead per wake-up; under load the relay is
 * awake anyway.
 *
 * Frames are read and written with a virtio_net_hdr in front
 * (PACKET_VNET_HDR): a peer with TSO on, or GRO on our side, hands the
 * socket one large GSO frame with a partial checksum, and the header is
 * what lets us send it on as such; the kernel then cuts it into MTU-sized
 * frames with full checksums on the way out, because our interfaces have
 * TSO and checksum offload off (iface.c). Without the header such a frame
 * would go out as one oversized frame the peer drops, or with a checksum
 * that is only the pseudo-header's.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>

#include "iface.h"
#include "queue.h"
#include "relay.h"

#define BATCH	  16 /* frames per recvmmsg/sendmmsg */
#define RX_ROUNDS 8  /* recvmmsg calls per wakeup: sending must not starve */
#define VNET_LEN  sizeof(struct virtio_net_hdr)
#define VLAN_LEN  4
#define GSO_MAX	  65536 /* the largest GSO frame veth builds (gso_max_size) */
#define SOCK_BUF  (4 << 20)
#define LATE_NS	  200000 /* the precision target: later than this is counted */
#define LEAD_MAX  500000 /* never spin longer than this before a due time */

enum {
	TAG_A,
	TAG_B,
	TAG_TIMER,
	TAG_SIGNAL,
	TAG_STATS
};

/* Upper bounds (us) of the lateness histogram's buckets; the last is open. */
static const unsigned int late_bounds_us[] = { 10, 50, 100, 200, 500, 1000, 5000 };
#define LATE_BUCKETS (sizeof(late_bounds_us) / sizeof(late_bounds_us[0]) + 1)

struct side {
	struct iface ifc;
	int fd;
	uint32_t events; /* what epoll watches on fd */
};

struct dir {
	char name[2 * IF_NAMESIZE + 16];
	struct side *in, *out;
	uint64_t delay_ns;
	struct dq q;
	int blocked;	/* out's send buffer is full: waiting for EPOLLOUT */
	int last_errno; /* of the last failed send, reported once */
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes, gso_frames;
	uint64_t drop_trunc, drop_send, drop_socket;
	uint64_t late_sum_ns, late_max_ns, late_over;
	uint64_t late_hist[LATE_BUCKETS];
};

struct relay {
	struct side s[2];
	struct dir d[2];
	int ep, tfd, sfd, stfd;
	uint64_t armed; /* when the timer expires, 0: disarmed */
	/* how late the timer wakes us: average and mean deviation (ns) */
	int64_t wake_avg, wake_dev;
	unsigned char *rxbuf;
	size_t slot;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll names[BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec)) +
			 CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		struct cmsghdr align;
	} ctl[BATCH];
};

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static int sock_open(struct side *s, char *err, size_t errlen)
{
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		int e = errno;

		if (e == EPERM || e == EACCES)
			snprintf(
				err, errlen,
				"AF_PACKET socket: %s: pias-delay needs root (CAP_NET_RAW and CAP_NET_ADMIN)",
				strerror(e));
		else
			snprintf(err, errlen, "AF_PACKET socket: %s", strerror(e));
		return -e;
	}
	return 0;
}

/*
 * Options, then bind: the socket was opened with protocol 0, so it receives
 * nothing until bound and every frame it reads has the vnet header.
 */
static int sock_setup(struct side *s, char *err, size_t errlen)
{
	struct packet_mreq mr = { .mr_ifindex = s->ifc.ifindex, .mr_type = PACKET_MR_PROMISC };
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = s->ifc.ifindex,
	};
	int one = 1, buf = SOCK_BUF;
	const char *what;

	what = "PACKET_VNET_HDR";
	if (setsockopt(s->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)))
		goto fail;
	what = "PACKET_AUXDATA"; /* the VLAN tag the kernel took off the frame */
	if (setsockopt(s->fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)))
		goto fail;
	/* what we send out of an interface is not ours to relay back; older
	 * kernels lack the option, and the receive path checks
	 * PACKET_OUTGOING as well */
	setsockopt(s->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	/* arrival time from the kernel: a frame that waited in the socket
	 * while we were busy is still delayed from when it arrived */
	setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	/* room for bursts; root may exceed the sysctl limits */
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	what = "bind";
	if (bind(s->fd, (struct sockaddr *)&sll, sizeof(sll)))
		goto fail;
	/* promiscuous through the socket: the kernel counts it and drops it
	 * when the socket closes, so even kill -9 restores the interface */
	what = "promiscuous mode";
	if (setsockopt(s->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "interface '%s': %s: %s", s->ifc.name, what, strerror(errno));
	return -errno;
}

static void watch(struct relay *r, struct side *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u32 = s == &r->s[0] ? TAG_A : TAG_B };

	if (s->events != events && !epoll_ctl(r->ep, EPOLL_CTL_MOD, s->fd, &ev))
		s->events = events;
}

static void collect_socket_drops(struct relay *r)
{
	for (int k = 0; k < 2; k++) {
		struct tpacket_stats st;
		socklen_t len = sizeof(st);

		/* reading resets the kernel's counters: accumulate */
		if (!getsockopt(r->d[k].in->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len))
			r->d[k].drop_socket += st.tp_drops;
	}
}

static void print_stats(struct relay *r, const char *when)
{
	collect_socket_drops(r);
	for (int k = 0; k < 2; k++) {
		struct dir *d = &r->d[k];
		char hist[256];
		size_t n = 0;

		/* "<10:N,<50:N,...,>=5000:N" (us after the due time) */
		for (size_t b = 0; b < LATE_BUCKETS && n < sizeof(hist); b++)
			n += (size_t)snprintf(hist + n, sizeof(hist) - n, "%s%s%u:%llu",
					      b ? "," : "", b < LATE_BUCKETS - 1 ? "<" : ">=",
					      late_bounds_us[b < LATE_BUCKETS - 1 ? b : b - 1],
					      (unsigned long long)d->late_hist[b]);
		printf("pias-delay: %s %s: rx_frames=%llu rx_bytes=%llu tx_frames=%llu tx_bytes=%llu "
		       "gso_frames=%llu queued=%zu drop_full=%llu drop_big=%llu drop_trunc=%llu "
		       "drop_send=%llu drop_socket=%llu late_avg_us=%.1f late_max_us=%.1f "
		       "late_over_200us=%llu late_hist_us=%s\n",
		       when, d->name, (unsigned long long)d->rx_frames,
		       (unsigned long long)d->rx_bytes, (unsigned long long)d->tx_frames,
		       (unsigned long long)d->tx_bytes, (unsigned long long)d->gso_frames,
		       d->q.frames, (unsigned long long)d->q.st.drop_full,
		       (unsigned long long)d->q.st.drop_big, (unsigned long long)d->drop_trunc,
		       (unsigned long long)d->drop_send, (unsigned long long)d->drop_socket,
		       d->tx_frames ? (double)d->late_sum_ns / (double)d->tx_frames / 1e3 : 0.0,
		       (double)d->late_max_ns / 1e3, (unsigned long long)d->late_over, hist);
	}
	fflush(stdout);
}

/*
 * A socket error (the interface went down or away): 0 to go on, -1 when
 * the interface is gone, which ends the relay.
 */
static int side_error(struct side *s, int e)
{
	socklen_t len = sizeof(e);

	if (!e && getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &len))
		e = errno;
	if (!e)
		return 0;
	if ((int)if_nametoindex(s->ifc.name) != s->ifc.ifindex) {
		fprintf(stderr, "pias-delay: interface '%s' is gone\n", s->ifc.name);
		return -1;
	}
	/* down: the bound socket resumes by itself when it comes back up */
	fprintf(stderr, "pias-delay: interface '%s': %s\n", s->ifc.name, strerror(e));
	return 0;
}

/* Puts back the 802.1Q/802.1ad tag the kernel keeps out of the frame
 * (it rides in the skb on veth): the frame at *p grows by VLAN_LEN into
 * the room before it. */
static void vlan_insert(unsigned char **p, size_t *len, const struct tpacket_auxdata *aux)
{
	uint16_t tpid =
		(aux->tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux->tp_vlan_tpid : ETH_P_8021Q;
	uint16_t tag[2] = { htons(tpid), htons(aux->tp_vlan_tci) };
	struct virtio_net_hdr *vh;

	memmove(*p - VLAN_LEN, *p, VNET_LEN + 2 * ETH_ALEN);
	*p -= VLAN_LEN;
	memcpy(*p + VNET_LEN + 2 * ETH_ALEN, tag, VLAN_LEN);
	*len += VLAN_LEN;
	/* offsets in the header count from the frame's start, which moved
	 * (host order: legacy vnet headers are native-endian) */
	vh = (struct virtio_net_hdr *)*p;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		vh->csum_start += VLAN_LEN;
	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		vh->hdr_len += VLAN_LEN;
}

/* One received message into d's queue, due delay_ns after it arrived. */
static void enqueue(struct relay *r, struct dir *d, int i, uint64_t now, int64_t real_off)
{
	struct msghdr *m = &r->msgs[i].msg_hdr;
	unsigned char *p = r->iov[i].iov_base;
	size_t len = r->msgs[i].msg_len;
	const struct tpacket_auxdata *aux = NULL;
	uint64_t arrived = now;
	struct virtio_net_hdr *vh;
	struct cmsghdr *c;

	if (r->names[i].sll_pkttype == PACKET_OUTGOING)
		return;
	if ((m->msg_flags & MSG_TRUNC) || len < VNET_LEN + ETH_HLEN) {
		d->drop_trunc++;
		return;
	}
	for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			int64_t t;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			t = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec - real_off;
			/* a step of the wall clock between arrival and now must
			 * not move the due time by more than a second */
			if (t > 0 && (uint64_t)t <= now && now - (uint64_t)t < 1000000000ull)
				arrived = (uint64_t)t;
		} else if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
			aux = (const struct tpacket_auxdata *)CMSG_DATA(c);
		}
	}
	vh = (struct virtio_net_hdr *)p;
	/* only "checksum needed" means something on transmit */
	vh->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (aux && (aux->tp_status & TP_STATUS_VLAN_VALID))
		vlan_insert(&p, &len, aux);
	vh = (struct virtio_net_hdr *)p;
	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		d->gso_frames++;
	d->rx_frames++;
	d->rx_bytes += len - VNET_LEN;
	dq_push(&d->q, p, len, arrived + d->delay_ns); /* a drop is counted there */
}

/* Reads what side s received into the queue of the direction it feeds. */
static int receive(struct relay *r, struct dir *d)
{
	for (int round = 0; round < RX_ROUNDS; round++) {
		int64_t real_off;
		uint64_t now;
		int n;

		for (int i = 0; i < BATCH; i++) {
			struct msghdr *m = &r->msgs[i].msg_hdr;

			m->msg_name = &r->names[i];
			m->msg_namelen = sizeof(r->names[i]);
			m->msg_iov = &r->iov[i];
			m->msg_iovlen = 1;
			m->msg_control = r->ctl[i].buf;
			m->msg_controllen = sizeof(r->ctl[i].buf);
			m->msg_flags = 0;
			r->iov[i].iov_base = r->rxbuf + (size_t)i * r->slot + VLAN_LEN;
			r->iov[i].iov_len = r->slot - VLAN_LEN;
		}
		n = recvmmsg(d->in->fd, r->msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			return side_error(d->in, errno);
		}
		now = mono_ns();
		real_off = (int64_t)(clock_ns(CLOCK_REALTIME) - now);
		for (int i = 0; i < n; i++)
			enqueue(r, d, i, now, real_off);
		if (n < BATCH)
			return 0;
	}
	return 0;
}

static size_t late_bucket(uint64_t late_ns)
{
	size_t b = 0;

	while (b < LATE_BUCKETS - 1 && late_ns >= late_bounds_us[b] * 1000ull)
		b++;
	return b;
}

/* Sends every frame of d that is due, oldest first, in batches. */
static void send_due(struct relay *r, struct dir *d)
{
	struct mmsghdr m[BATCH];
	struct iovec v[BATCH];

	while (!d->blocked) {
		uint64_t now = mono_ns();
		struct dq_frame *f;
		int n = 0, k;

		for (f = dq_head(&d->q); f && f->due_ns <= now && n < BATCH;
		     f = dq_next(&d->q, f), n++) {
			v[n].iov_base = f->data;
			v[n].iov_len = f->len;
			memset(&m[n], 0, sizeof(m[n]));
			m[n].msg_hdr.msg_iov = &v[n];
			m[n].msg_hdr.msg_iovlen = 1;
		}
		if (!n)
			return;
		k = sendmmsg(d->out->fd, m, (unsigned int)n, MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				d->blocked = 1;
				watch(r, d->out, EPOLLIN | EPOLLOUT);
				return;
			}
			/* a frame the kernel refuses (interface down, peer's
			 * backlog full): lost, as on a wire */
			if (errno != d->last_errno)
				fprintf(stderr, "pias-delay: %s: send: %s\n", d->name,
					strerror(errno));
			d->last_errno = errno;
			d->drop_send++;
			dq_pop(&d->q);
			continue;
		}
		for (int i = 0; i < k; i++) {
			uint64_t late;

			f = dq_head(&d->q);
			late = now - f->due_ns;
			d->late_sum_ns += late;
			if (late > d->late_max_ns)
				d->late_max_ns = late;
			if (late > LATE_NS)
				d->late_over++;
			d->late_hist[late_bucket(late)]++;
			d->tx_frames++;
			d->tx_bytes += f->len - VNET_LEN;
			dq_pop(&d->q);
		}
		d->last_errno = 0;
	}
}

/* The earliest due time of the queues that can send, 0 if none. */
static uint64_t next_due(struct relay *r)
{
	uint64_t next = 0, due;

	for (int k = 0; k < 2; k++)
		if (!r->d[k].blocked && dq_next_due(&r->d[k].q, &due) && (!next || due < next))
			next = due;
	return next;
}

static void set_timer(struct relay *r, uint64_t when)
{
	struct itimerspec its = { 0 };

	if (when == r->armed)
		return;
	its.it_value.tv_sec = (time_t)(when / 1000000000ull);
	its.it_value.tv_nsec = (long)(when % 1000000000ull);
	if (!timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL))
		r->armed = when;
}

/* How early to set the timer: what wake-ups have cost lately. */
static uint64_t lead(const struct relay *r)
{
	int64_t l = r->wake_avg + 4 * r->wake_dev;

	return l < 0 ? 0 : l > LEAD_MAX ? LEAD_MAX : (uint64_t)l;
}

/*
 * The timer woke us late by late_ns: learn (gains 1/8 and 1/4, as RFC 6298).
 * A stall of the whole VM (tens of ms, seen here) says nothing about the
 * next wake-up: it counts as twice the longest lead, no more.
 */
static void learn_wake(struct relay *r, int64_t late_ns)
{
	int64_t err;

	if (late_ns > 2 * LEAD_MAX)
		late_ns = 2 * LEAD_MAX;
	err = late_ns - r->wake_avg;

	r->wake_avg += err / 8;
	r->wake_dev += ((err < 0 ? -err : err) - r->wake_dev) / 4;
}

static int add(struct relay *r, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev);
}

static int loop(struct relay *r)
{
	for (;;) {
		uint64_t next = next_due(r), now = mono_ns();
		struct epoll_event ev[8];
		int timeout = -1, n;

		if (next && next <= now + lead(r))
			timeout = 0; /* close enough: poll until it is due */
		else
			set_timer(r, next ? next - lead(r) : 0);
		n = epoll_wait(r->ep, ev, 8, timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("pias-delay: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			uint32_t tag = ev[i].data.u32;
			uint64_t ticks;

			if (tag == TAG_A || tag == TAG_B) {
				struct side *s = &r->s[tag];
				/* d[0] reads a and writes b, d[1] the reverse */
				struct dir *in = &r->d[tag], *out = &r->d[!tag];

				if ((ev[i].events & EPOLLOUT) && out->blocked) {
					out->blocked = 0;
					watch(r, s, EPOLLIN);
				}
				if ((ev[i].events & EPOLLERR) && !(ev[i].events & EPOLLIN) &&
				    side_error(s, 0))
					return 1;
				if ((ev[i].events & EPOLLIN) && receive(r, in))
					return 1;
			} else if (tag == TAG_TIMER) {
				if (read(r->tfd, &ticks, sizeof(ticks)) <= 0)
					continue;
				/* only a wake-up from sleep says how late they are */
				if (timeout < 0 && r->armed)
					learn_wake(r, (int64_t)(mono_ns() - r->armed));
				r->armed = 0;
			} else if (tag == TAG_STATS) {
				if (read(r->stfd, &ticks, sizeof(ticks)) > 0)
					print_stats(r, "now");
			} else if (tag == TAG_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(r->sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGUSR1)
					print_stats(r, "now");
				else
					return 0;
			}
		}
		send_due(r, &r->d[0]);
		send_due(r, &r->d[1]);
	}
}

static int setup(struct relay *r, const struct relay_opts *o, const sigset_t *sigs)
{
	char err[512];
	int mtu;

	for (int k = 0; k < 2; k++) {
		if (iface_lookup(&r->s[k].ifc, k ? o->if_b : o->if_a, err, sizeof(err)))
			goto fail;
	}
	if (r->s[0].ifc.ifindex == r->s[1].ifc.ifindex) {
		snprintf(err, sizeof(err), "--a and --b are the same interface ('%s')",
			 r->s[0].ifc.name);
		goto fail;
	}
	for (int k = 0; k < 2; k++)
		if (sock_open(&r->s[k], err, sizeof(err)))
			goto fail;
	for (int k = 0; k < 2; k++) {
		struct side *s = &r->s[k];

		if (iface_offloads(&s->ifc, o->gro, err, sizeof(err)))
			fprintf(stderr, "pias-delay: %s: could not set %s; relaying anyway\n",
				s->ifc.name, err);
		if (iface_up(&s->ifc, err, sizeof(err)) || sock_setup(s, err, sizeof(err)))
			goto fail;
	}
	for (int k = 0; k < 2; k++) {
		struct dir *d = &r->d[k];

		d->in = &r->s[k];
		d->out = &r->s[!k];
		d->delay_ns = k ? o->delay_ba_ns : o->delay_ab_ns;
		snprintf(d->name, sizeof(d->name), "%s %s->%s", k ? "b->a" : "a->b",
			 d->in->ifc.name, d->out->ifc.name);
		if (dq_init(&d->q, o->queue_bytes)) {
			snprintf(err, sizeof(err), "queue of %zu bytes: %s", o->queue_bytes,
				 strerror(ENOMEM));
			goto fail;
		}
	}
	/* a GSO frame, or the largest frame the MTU allows (tags included),
	 * after the vnet header and room for one tag put back */
	mtu = r->s[0].ifc.mtu > r->s[1].ifc.mtu ? r->s[0].ifc.mtu : r->s[1].ifc.mtu;
	r->slot = (size_t)(mtu + ETH_HLEN + 2 * VLAN_LEN > GSO_MAX ? mtu + ETH_HLEN + 2 * VLAN_LEN
								   : GSO_MAX);
	r->slot = (VLAN_LEN + VNET_LEN + r->slot + 256 + 63) & ~(size_t)63;
	r->rxbuf = malloc(r->slot * BATCH);
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	r->sfd = signalfd(-1, sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (!r->rxbuf || r->ep < 0 || r->tfd < 0 || r->sfd < 0 || add(r, r->s[0].fd, TAG_A) ||
	    add(r, r->s[1].fd, TAG_B) || add(r, r->tfd, TAG_TIMER) || add(r, r->sfd, TAG_SIGNAL)) {
		snprintf(err, sizeof(err), "event loop: %s", strerror(errno));
		goto fail;
	}
	r->s[0].events = r->s[1].events = EPOLLIN;
	if (o->stats_interval_s) {
		struct itimerspec its = { .it_interval.tv_sec = o->stats_interval_s,
					  .it_value.tv_sec = o->stats_interval_s };

		r->stfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (r->stfd < 0 || timerfd_settime(r->stfd, 0, &its, NULL) ||
		    add(r, r->stfd, TAG_STATS)) {
			snprintf(err, sizeof(err), "stats timer: %s", strerror(errno));
			goto fail;
		}
	}
	return 0;
fail:
	fprintf(stderr, "pias-delay: %s\n", err);
	return 1;
}

static void teardown(struct relay *r)
{
	int fds[] = { r->s[0].fd, r->s[1].fd, r->ep, r->tfd, r->sfd, r->stfd };

	for (size_t k = 0; k < sizeof(fds) / sizeof(fds[0]); k++)
		if (fds[k] >= 0)
			close(fds[k]);
	for (int k = 0; k < 2; k++) {
		iface_restore(&r->s[k].ifc);
		dq_free(&r->d[k].q);
	}
	free(r->rxbuf);
}

int relay_run(const struct relay_opts *o)
{
	struct relay *r = calloc(1, sizeof(*r));
	sigset_t sigs;
	int rc;

	if (!r) {
		perror("pias-delay");
		return 1;
	}
	r->s[0].fd = r->s[1].fd = r->ep = r->tfd = r->sfd = r->stfd = -1;
	/* a guess until wake-ups are measured: a VM's, a lead of 200 us */
	r->wake_avg = 100000;
	r->wake_dev = 25000;
	/* signals through the loop (signalfd), blocked from the start so that
	 * one during set-up still ends in a clean exit */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	/* the default 50 us of timer slack would be a quarter of the
	 * precision budget */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	rc = setup(r, o, &sigs);
	if (!rc) {
		printf("pias-delay: relaying %s <-> %s, delay a->b %.3f ms, b->a %.3f ms, queue %zu bytes per direction\n",
		       r->s[0].ifc.name, r->s[1].ifc.name, (double)o->delay_ab_ns / 1e6,
		       (double)o->delay_ba_ns / 1e6, r->d[0].q.cap);
		fflush(stdout);
		rc = loop(r);
		print_stats(r, "exit");
	}
	teardown(r);
	free(r);
	return rc;
}
