// SPDX-License-Identifier: MIT
/*
 * One measurement. A few hundred input frames go out of hg0 once; the
 * sink sends every frame the DUT delivers back to it as the next input
 * (struct hop_loop), so hd0's ring stays full and the DUT's NAPI thread
 * never waits. After a warm-up (tables, caches, rings), the cost of a
 * hop is the thread's CPU time over the frames it received in a window.
 * Then the loop is stopped and drained.
 *
 * The output check covers the whole run, warm-up and drain included:
 * every frame the DUT received was forwarded and arrived at the sink as
 * the config must emit it. A frame lost between DUT and sink, dropped by
 * the DUT, or wrong, fails it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pias_hop.h"
#include "counters.h"
#include "hop.skel.h"

/*
 * Frames that start the loop: fewer than one veth ring holds (256), so no
 * ring can overflow and lose one; the slower side (the DUT) holds them.
 */
#define INJECT	       192
#define WARM_MS	       200
#define SETTLE_POLL_MS 5
#define SETTLE_STABLE  4 /* polls without a change: drained */
#define SETTLE_MAX_MS  3000

struct snap {
	long long dut_ns;
	struct hop_counts c;
	unsigned long long pias_rx, pias_fwd;
};

static int read_counts(struct hop_env *env, struct hop_counts *sum)
{
	int n = libbpf_num_possible_cpus();
	struct hop_counts v[n];
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(env->hop->maps.hop_counts), &zero, v))
		return -1;
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < n; i++) {
		sum->recirculated += v[i].recirculated;
		sum->dut_rx += v[i].dut_rx;
		sum->dut_drop += v[i].dut_drop;
		sum->sink_ok += v[i].sink_ok;
		sum->sink_bad += v[i].sink_bad;
		sum->lwt_encap += v[i].lwt_encap;
	}
	return 0;
}

static int snap(struct hop_env *env, struct snap *s)
{
	struct pias_stats st;
	struct pias_drops dr;
	struct pias_err e = { { 0 } };

	if (read_counts(env, &s->c) || pias_stats_read(&env->m, &st, &dr, &e))
		return -1;
	s->pias_rx = st.rx_packets;
	s->pias_fwd = st.fwd_tx + st.fwd_redirect;
	s->dut_ns = rig_cpu_ns(env->rig.dut_napi);
	return s->dut_ns < 0 ? -1 : 0;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&t, NULL);
}

/* Waits until nothing moves any more: every frame sent is where it ends. */
static int settle(struct hop_env *env)
{
	struct snap prev, cur;
	unsigned int stable = 0;

	if (snap(env, &prev))
		return -1;
	for (unsigned int t = 0; t < SETTLE_MAX_MS; t += SETTLE_POLL_MS) {
		sleep_ms(SETTLE_POLL_MS);
		if (snap(env, &cur))
			return -1;
		if (!memcmp(&cur.c, &prev.c, sizeof(cur.c)) && cur.pias_rx == prev.pias_rx) {
			if (++stable >= SETTLE_STABLE)
				return 0;
		} else {
			stable = 0;
		}
		prev = cur;
	}
	fprintf(stderr, "pias-hop: the rig did not drain in %u ms\n", SETTLE_MAX_MS);
	return -1;
}

/* Starts the loop: INJECT copies of the template out of hg0. */
static int inject(struct hop_env *env, const struct pkt *frame)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN };
	int fd, err = 0;

	if (rig_enter(&env->rig, RIG_ENDS))
		return -1;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	rig_enter(&env->rig, RIG_NS_COUNT);
	if (fd < 0) {
		fprintf(stderr, "pias-hop: AF_PACKET socket: %s\n", strerror(errno));
		return -1;
	}
	to.sll_ifindex = env->rig.gen_if;
	memcpy(to.sll_addr, env->rig.dut_in_mac, ETH_ALEN);
	/* a full ring refuses the rest (ENOBUFS): the loop starts with what got in */
	for (unsigned int i = 0; i < INJECT && !err; i++)
		if (sendto(fd, frame->b, frame->len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 &&
		    errno != ENOBUFS)
			err = -1;
	if (err)
		fprintf(stderr, "pias-hop: sending on hg0: %s\n", strerror(errno));
	close(fd);
	return err;
}

static void setup_loop(struct hop_env *env, const struct hop_config *c, unsigned int nflows,
		       struct pkt *frame)
{
	struct hop_loop *l = &env->hop->bss->loop;
	__u16 base;

	c->frame(env, frame, &l->port_off, &base);
	memcpy(l->frame, frame->b, frame->len);
	l->len = (__u32)frame->len;
	l->nflows = nflows;
	for (unsigned int i = 0; i < nflows && i < HOP_FLOWS_MAX; i++)
		l->vary[i] = htons((__u16)(base + i));
	env->hop->bss->expect = (struct hop_expect){
		.len = (__u32)c->out_len,
		.proto = c->out_proto,
		.daddr = pkt_a4(c->out_dst).v4,
	};
}

static void judge(const struct hop_env *env, struct hop_sample *s, const struct snap *a,
		  const struct snap *b, bool pias)
{
	const struct hop_seen *bad = &env->hop->bss->last_bad;
	unsigned long long rx, drop, ok, fwd;
	char dst[INET_ADDRSTRLEN] = "?";

	/* over the whole run: a is from before the loop started, b drained */
	rx = pias ? b->pias_rx - a->pias_rx : b->c.dut_rx - a->c.dut_rx;
	drop = pias ? rx - (b->pias_fwd - a->pias_fwd) : b->c.dut_drop - a->c.dut_drop;
	ok = b->c.sink_ok - a->c.sink_ok;
	fwd = rx - drop;
	s->sink_bad = b->c.sink_bad - a->c.sink_bad;
	s->ok = false;
	if (!rx) {
		snprintf(s->why, sizeof(s->why), "the DUT received nothing");
	} else if (s->sink_bad) {
		inet_ntop(AF_INET, &bad->daddr, dst, sizeof(dst));
		snprintf(
			s->why, sizeof(s->why),
			"%llu wrong frames at the sink (last: %u bytes, type 0x%04x, proto %u, to %s)",
			s->sink_bad, bad->len, bad->ethertype, bad->proto, dst);
	} else if (drop) {
		snprintf(s->why, sizeof(s->why), "the DUT dropped %llu of %llu", drop, rx);
	} else if (ok != fwd) {
		snprintf(s->why, sizeof(s->why), "the DUT forwarded %llu, the sink got %llu", fwd,
			 ok);
	} else {
		s->ok = true;
	}
}

int hop_measure(struct hop_env *env, const struct hop_config *c, unsigned int nflows,
		unsigned int window_ms, struct hop_sample *s)
{
	bool pias = c->dut == DUT_PIAS;
	struct snap a, w0, w1, b;
	struct pkt frame;
	int err;

	memset(s, 0, sizeof(*s));
	if (hop_dut_attach(env, c->dut) || (c->on && c->on(env)))
		return -1;
	setup_loop(env, c, nflows, &frame);
	err = settle(env) || snap(env, &a);
	if (!err) {
		env->hop->bss->loop.recirculate = 1;
		err = inject(env, &frame);
		sleep_ms(WARM_MS);
		err = err || snap(env, &w0);
		sleep_ms(window_ms);
		err = err || snap(env, &w1);
		env->hop->bss->loop.recirculate = 0;
		err = err || settle(env) || snap(env, &b);
	}
	if (c->off && c->off(env))
		err = -1;
	if (err)
		return -1;
	s->dut_rx = pias ? w1.pias_rx - w0.pias_rx : w1.c.dut_rx - w0.c.dut_rx;
	s->ns_per_pkt = s->dut_rx ? (double)(w1.dut_ns - w0.dut_ns) / (double)s->dut_rx : 0;
	s->busy = (double)(w1.dut_ns - w0.dut_ns) / ((double)window_ms * 1e6);
	judge(env, s, &a, &b, pias);
	return 0;
}
