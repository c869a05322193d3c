// SPDX-License-Identifier: MIT
/*
 * piasd-bench's rows: the JAP's, RAP's and IAP's receive paths as piasd
 * runs them: net.c's checks of a datagram, then the node (daemon/node.h),
 * the same code piasd links, whose io encodes and MACs what it sends and
 * counts the map writes it asks for (world.h). A target's REGISTER is
 * admitted as register.c admits it (its seq, a LEAVE's registrations
 * gone, the cookie, the prefix; not the rates per source and per group: a
 * benchmark's 32,000 targets come from one address) and answered.
 *
 * Left out: sockets (the "udp_loopback" row measures a sendto/recvfrom
 * pair), bpf() (writes counted, not made; the JAP tick's reads of the
 * targets' last replies), log lines (none are made: no io.log).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <sodium.h>

#include "addr.h"
#include "gone.h"
#include "replay.h"
#include "world.h"

/*
 * The bound and query rows give every op an (IAP, TA) pair that comes back
 * only after at least this many ops, so that the RAP's rate limit (100 ms
 * per pair) never suppresses a binding (checked: every op must send one).
 * With few TAs that takes IAP ids beyond the ring's: they only name IAPs.
 */
#define PAIR_PERIOD (1u << 20)
#define JAPS_PER_TA 4 /* JAPs reporting each TA to the RAP */
#define TARGET_PORT 8053

static struct pias_node *node; /* the current row's */
static struct pb_dgram *in;    /* PB_BATCH prepared inputs */
static struct pias_event *events;
static unsigned int niaps; /* IAP ids 2..niaps + 1 */

/* ---- filling a registry at scale ------------------------------------------ */

/*
 * A registry whose inserts grow with its size (a scan per insert) takes
 * minutes to fill at 65,000 groups: after --fill-limit, the rows that need
 * it are skipped at this size, saying so, and the next ones do not try.
 */
static __u64 fill_t0;
static char jap_slow[200], rap_slow[200], iap_slow[200];

static __u64 mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static void fill_begin(void)
{
	fill_t0 = mono_now();
}

/* done of total inserted into what: too slow? Then *memo and pb_st.fail say so. */
static bool fill_slow(char *memo, size_t len, const char *what, unsigned int done,
		      unsigned int total)
{
	if (mono_now() - fill_t0 < pb_par.fill_limit_s * 1000000000ull)
		return false;
	snprintf(memo, len, "filling the %s: %u of %u groups after %u s (--fill-limit)", what, done,
		 total, pb_par.fill_limit_s);
	pb_fail("%s", memo);
	return true;
}

/* A registry found too slow to fill at this size: 1 (the row is skipped), saying so. */
static int skip_slow(const char *memo)
{
	if (!memo[0])
		return 0;
	pb_fail("%s", memo);
	return 1;
}

/* ---- baselines: one REGISTER datagram, over and over ---------------------- */

static struct pb_dgram base_dg;

static int setup_base(void)
{
	struct pias_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_REGISTER;
	m.hdr.seq = pb_next_seq(&pb_peer_seq);
	m.reg.ta = pb_tas[0];
	m.reg.family = PIAS_AF_INET;
	m.reg.addr.v4 = pb_target_addr(0, 0);
	m.reg.port = TARGET_PORT;
	m.reg.weight = 1;
	return pb_build(&m, pb_tokens[0], &base_dg);
}

static void run_mac(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++)
		pb_st.ok += pias_msg_mac_ok(base_dg.buf, base_dg.len, pb_tokens[0]);
}

static void run_codec(unsigned int n)
{
	struct pias_err e;

	for (unsigned int k = 0; k < n; k++)
		pb_st.ok += !pias_msg_decode(base_dg.buf, base_dg.len, &pb_rx, &e);
}

/* ---- JAP: target REGISTER on the registration socket ---------------------- */

static __u64 *target_seq;	/* register.c's per-target last seq (replay) */
static struct pias_gone gone;	/* register.c's LEAVEs remembered */
static unsigned int jap_cursor; /* op index within the registry fill */

static unsigned int jap_round(void)
{
	return pb_par.tas * pb_par.targets;
}

static bool jap_node;		/* node is the JAP rows' */
static unsigned int jap_filled; /* targets its JAP took */

/*
 * The JAP emptied for the next fill, outside the clock: each target it
 * took fails and leaves (removed at once). The node stays, warm, as a
 * piasd's does; a new one each fill would measure the first ops after a
 * ring of 1,000 proxies was built, in cold caches. What it writes and
 * sends is not the row's.
 */
static void jap_empty(void)
{
	unsigned long long writes = pb_st.map_writes, msgs = pb_st.msgs;
	__u64 now = pb_vnow();

	for (unsigned int c = 0; c < jap_filled; c++) {
		unsigned int i = c % pb_par.tas, j = c / pb_par.tas;
		struct pias_jap_endpoint ep = { .port = TARGET_PORT, .family = PIAS_AF_INET };
		int id;

		ep.addr.v4 = pb_target_addr(i, j);
		id = pias_jap_find(&node->jap, &pb_tas[i], &ep);
		if (id > 0 &&
		    (pias_node_target_leave(node, &pb_tas[i], (__u32)id, true, now, NULL) ||
		     pias_node_target_leave(node, &pb_tas[i], (__u32)id, false, now, NULL)))
			pb_fail("emptying the JAP: target %d stays", id);
	}
	if (pias_jap_ngroups(&node->jap))
		pb_fail("emptying the JAP: %zu groups stay", pias_jap_ngroups(&node->jap));
	pb_st.map_writes = writes;
	pb_st.msgs = msgs;
}

static int jap_reset(void)
{
	__u8 gkey[32];

	if (!target_seq)
		target_seq = calloc(PIAS_MAX_TARGETS, sizeof(*target_seq));
	if (!target_seq)
		return -ENOMEM;
	memset(target_seq, 0, PIAS_MAX_TARGETS * sizeof(*target_seq));
	pias_gone_free(&gone);
	randombytes_buf(gkey, sizeof(gkey));
	if (pias_gone_init(&gone, 4096, PIAS_REPLAY_FRESH_NS, gkey))
		return -ENOMEM;
	if (jap_node && node)
		jap_empty();
	else
		node = pb_node_new(NULL, NULL);
	jap_node = node != NULL;
	jap_cursor = jap_filled = 0;
	return node ? 0 : -1;
}

/* Where the targets' datagrams come from (recvfrom's address), for the log strings. */
static const struct pias_peer d_from = { .addr.bytes = { 203, 0, 113, 7 },
					 .family = PIAS_AF_INET,
					 .port = 40000 };

/*
 * One datagram on the registration socket: on_readable's header check,
 * handle_target (decode, token, MAC, freshness), register.c's admission
 * (find, per-target replay, gone, the cookie of a new target, prefix), the
 * node's register (the JAP and its REPORTs when due) and the REG_ACK.
 */
static void register_one(const struct pb_dgram *d)
{
	const struct pias_msg_register *r = &pb_rx.reg;
	struct pias_jap_endpoint ep;
	char ta_s[PIAS_ADDR_STRLEN + 16], src_s[PIAS_ADDR_STRLEN + 8], ep_s[PIAS_ADDR_STRLEN + 8];
	__u8 token[PIAS_KEY_LEN];
	struct pias_msg_hdr h;
	struct pias_err e;
	struct pias_msg ack;
	__u64 now;
	int id;

	if (pias_msg_header(d->buf, d->len, &h, &e)) {
		pb_fail("header: %s", e.msg);
		return;
	}
	if (!pias_msg_is_target(h.type)) {
		pb_fail("a proxy message on the registration socket");
		return;
	}
	if (pias_msg_decode(d->buf, d->len, &pb_rx, &e)) {
		pb_fail("decode: %s", e.msg);
		return;
	}
	if (pb_rx.hdr.type != PIAS_MSG_REGISTER && pb_rx.hdr.type != PIAS_MSG_LEAVE) {
		pb_fail("unexpected %s", pias_msg_type_name(pb_rx.hdr.type));
		return;
	}
	/* handle_target formats both for its log lines before it knows it needs them */
	pias_ta_str(&r->ta, ta_s, sizeof(ta_s));
	pias_endpoint_str(&d_from.addr, d_from.family, d_from.port, src_s, sizeof(src_s));
	pb_token_of(&r->ta, token);
	if (!pias_msg_mac_ok(d->buf, d->len, token)) {
		pb_fail("REGISTER: bad token");
		return;
	}
	if (!pias_fresh_timestamp(pb_rx.hdr.seq, pb_realtime(), PIAS_REPLAY_FRESH_NS)) {
		pb_fail("REGISTER: stale seq");
		return;
	}
	/* register.c */
	ep = (struct pias_jap_endpoint){ .addr = r->addr, .port = r->port, .family = r->family };
	now = pb_now();
	id = pias_jap_find(&node->jap, &r->ta, &ep);
	if (id > 0 && pb_rx.hdr.seq <= target_seq[id]) {
		pb_fail("REGISTER: seq replayed");
		return;
	}
	if (id <= 0 &&
	    pb_rx.hdr.seq <= pias_gone_seq(&gone, &r->ta, &ep.addr, ep.family, ep.port, now)) {
		pb_fail("REGISTER: gone");
		return;
	}
	if (id <= 0 && !pias_cookie_ok(&pb_cookies, r, &d_from)) {
		pb_fail("REGISTER: no cookie");
		return;
	}
	if (!pias_net_contains(&pb_prefix, &r->ta.addr, r->ta.family)) {
		pb_fail("TA outside the prefix");
		return;
	}
	id = pias_node_register(node, &r->ta, &ep, r->weight, now, &e);
	if (id < 0) {
		pb_fail("register refused: %s", e.msg);
		return;
	}
	if (!target_seq[id]) {
		jap_filled++;
		/* LOG_I's arguments ("target %d joined %s at %s"); the line is not written */
		pias_ta_str(&r->ta, ta_s, sizeof(ta_s));
		pias_endpoint_str(&r->addr, r->family, r->port, ep_s, sizeof(ep_s));
	}
	target_seq[id] = pb_rx.hdr.seq;
	/* piasd_target_ack */
	memset(&ack, 0, sizeof(ack));
	ack.hdr.type = PIAS_MSG_REG_ACK;
	ack.ack.ta = r->ta;
	ack.ack.jap_id = PB_SELF_ID;
	ack.ack.target_id = (__u32)id;
	ack.ack.refresh_ms = 900;
	ack.ack.echo_seq = pb_rx.hdr.seq;
	pb_send_target(&ack, &r->ta);
	pb_st.ok++;
}

static void run_register(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++)
		register_one(&in[k]);
}

/*
 * The REGISTER of op c of a fill: TA c % tas, its target c / tas, so that
 * all TAs exist after the first tas ops and then grow a target at a time.
 */
static int build_register(unsigned int c, struct pb_dgram *d)
{
	unsigned int i = c % pb_par.tas, j = c / pb_par.tas;
	struct pias_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_REGISTER;
	m.hdr.seq = pb_next_seq(&pb_peer_seq);
	m.reg.ta = pb_tas[i];
	m.reg.family = PIAS_AF_INET;
	m.reg.addr.v4 = pb_target_addr(i, j);
	m.reg.port = TARGET_PORT;
	m.reg.weight = 1;
	/* the second REGISTER of a join: the cookie the JAP's REG_COOKIE carried */
	pias_cookie_make(&pb_cookies, &m.reg, &d_from, m.reg.cookie);
	return pb_build(&m, pb_tokens[i], d);
}

static void begin_register_new(void)
{
	if (jap_reset())
		pb_fail("cannot reset the JAP");
}

/* New targets; a full registry is emptied (outside the clock) and filled again. */
static unsigned int prep_register_new(unsigned int n)
{
	unsigned int m;

	if (jap_cursor == jap_round() && jap_reset())
		pb_fail("cannot reset the JAP");
	m = jap_round() - jap_cursor;
	m = m < n ? m : n;
	for (unsigned int k = 0; k < m; k++)
		build_register(jap_cursor++, &in[k]);
	return m;
}

/*
 * A full registry: every TA with its targets, registered through the path
 * itself. 1: skipped (more targets than the JAP has ids, or too slow).
 */
static int jap_fill(void)
{
	if (jap_round() >= PIAS_MAX_TARGETS) {
		pb_fail("%u TAs x %u targets: more than the JAP's %d target ids", pb_par.tas,
			pb_par.targets, PIAS_MAX_TARGETS - 1);
		return 1;
	}
	if (skip_slow(jap_slow))
		return 1;
	if (jap_reset())
		return -1;
	memset(&pb_st, 0, sizeof(pb_st));
	fill_begin();
	while (jap_cursor < jap_round()) {
		unsigned int m = prep_register_new(PB_BATCH);

		run_register(m);
		if (!pb_st.fail[0] && jap_cursor < jap_round() &&
		    fill_slow(jap_slow, sizeof(jap_slow), "JAP", jap_cursor, jap_round()))
			return 1;
	}
	if (pb_st.fail[0] || pb_st.ok != jap_round()) {
		fprintf(stderr, "piasd-bench: filling the JAP: %s\n", pb_st.fail);
		return -1;
	}
	jap_cursor = 0;
	return 0;
}

/* Every target of the full registry again, in the same order: refreshes. */
static unsigned int prep_register_refresh(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		build_register(jap_cursor++, &in[k]);
		if (jap_cursor == jap_round())
			jap_cursor = 0;
	}
	return n;
}

static void run_register_refresh(unsigned int n)
{
	unsigned long long writes = pb_st.map_writes;

	run_register(n);
	/* a refresh of a live target changes nothing in the maps */
	if (pb_st.map_writes != writes)
		pb_fail("a refresh wrote maps");
}

/* ---- JAP registry alone: refreshes, the full registry ------------------ */

/*
 * register.c's pias_jap_find and the node's register of the next
 * registered target, without the datagram around them (decode, MAC, ACK):
 * the registry's share of register_refresh (the node adds an empty action
 * list), and times the targets held the work of a refresh round.
 */
static void run_jap_refresh(unsigned int n)
{
	unsigned long long writes = pb_st.map_writes, msgs = pb_st.msgs;
	struct pias_err e;

	for (unsigned int k = 0; k < n; k++) {
		unsigned int c = jap_cursor, i = c % pb_par.tas, j = c / pb_par.tas;
		struct pias_jap_endpoint ep = { .addr.v4 = pb_target_addr(i, j),
						.port = TARGET_PORT,
						.family = PIAS_AF_INET };
		__u64 now = pb_now();
		int id;

		jap_cursor = jap_cursor + 1 == jap_round() ? 0 : jap_cursor + 1;
		id = pias_jap_find(&node->jap, &pb_tas[i], &ep);
		if (id > 0 && pias_node_register(node, &pb_tas[i], &ep, 1, now, &e) == id)
			pb_st.ok++;
		else
			pb_fail("refresh of target %u of TA %u: %s", j, i,
				id > 0 ? e.msg : "not found");
	}
	/* a refresh of a live target writes and sends nothing (the ticks may) */
	if (pb_st.map_writes != writes || pb_st.msgs != msgs)
		pb_fail("a refresh wrote maps or sent");
}

/* ---- ticks alone: the full registry, nothing due ------------------------- */

static __u64 tick_now;

static int setup_jap_tick(void)
{
	int err = jap_fill();

	tick_now = pb_vnow();
	return err;
}

/* One node tick at the same time over and over: nothing is due but what the registry holds. */
static void run_tick(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		unsigned long long w = pb_st.map_writes, m = pb_st.msgs;

		pias_node_tick(node, tick_now);
		pb_st.ticks++;
		pb_st.ok += pb_st.map_writes == w && pb_st.msgs == m;
	}
}

/* ---- RAP: dataplane BOUND events, IAPs' QUERYs, JAPs' REPORTs ----------- */

static unsigned long long rap_cursor;
static __u64 report_seq; /* the JAPs' REPORT seqs */

/* Op c: TA c % tas from IAP 2 + (c / tas) % niaps: pairs repeat rarely. */
static __u32 iap_of(unsigned long long c)
{
	return 2 + (__u32)((c / pb_par.tas) % niaps);
}

/* The JAPs that serve TA i: JAPS_PER_TA distinct ids other than ours. */
static __u32 jap_of(unsigned int i, unsigned int k)
{
	return 2 + (i * 7 + k * 61) % (PB_NPROXIES - 1);
}

/* JAP jap's REPORT of count for ta, as received (the node's path for a verified one). */
static int report_in(const struct pias_ta *ta, __u32 jap, __u32 count)
{
	memset(&pb_rx, 0, sizeof(pb_rx));
	pb_rx.hdr.type = PIAS_MSG_REPORT;
	pb_rx.hdr.sender_id = jap;
	pb_rx.report.ta = *ta;
	pb_rx.report.count = count;
	pb_rx.report.share = PIAS_RAP_SHARE_FULL;
	pb_rx.report.seq = ++report_seq;
	return pb_node_recv(node, pb_vnow());
}

/* The RAP of every TA, each reported by JAPS_PER_TA JAPs (counts 8, 4, 2, 1). 1: skipped. */
static int setup_rap(void)
{
	if (skip_slow(rap_slow))
		return 1;
	node = pb_node_new(NULL, NULL);
	jap_node = false;
	if (!node)
		return -1;
	rap_cursor = 0;
	memset(&pb_st, 0, sizeof(pb_st));
	fill_begin();
	for (unsigned int i = 0; i < pb_par.tas; i++) {
		for (unsigned int k = 0; k < JAPS_PER_TA; k++)
			if (report_in(&pb_tas[i], jap_of(i, k), 8u >> k)) {
				fprintf(stderr, "piasd-bench: RAP setup: %s\n", pb_st.fail);
				return -1;
			}
		if (i % 1024 == 1023 && fill_slow(rap_slow, sizeof(rap_slow), "RAP", i, pb_par.tas))
			return 1;
	}
	return 0;
}

/* The RAP's rate-limit records in use, sampled at each tick of the row's clock. */
static __u64 rap_now(void)
{
	unsigned long long ticks = pb_st.ticks;
	__u64 now = pb_now();

	if (pb_st.ticks != ticks) {
		pb_st.sent_sum += node->rap.nsent;
		pb_st.sent_samples++;
	}
	return now;
}

static unsigned int prep_bound(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++, rap_cursor++) {
		unsigned int i = (unsigned int)(rap_cursor % pb_par.tas);

		events[k] = (struct pias_event){
			.type = PIAS_EV_BOUND,
			.iap_id = iap_of(rap_cursor),
			.rap_id = PB_SELF_ID,
			.jap_id = jap_of(i, (unsigned int)(rap_cursor % 3)),
			.ta = pb_tas[i],
		};
	}
	return n;
}

/* An op of a RAP row: one BINDING sent, no more, no less. */
static void one_binding(unsigned long long msgs, const char *what)
{
	if (pb_st.msgs == msgs + 1)
		pb_st.ok++;
	else
		pb_fail("%s: %llu bindings sent, not 1 (rate limit?)", what, pb_st.msgs - msgs);
}

/* dataplane.c's piasd_dp_event for BOUND: the node's RAP, then a BINDING to the IAP. */
static void run_bound(unsigned int n)
{
	struct pias_err e;

	for (unsigned int k = 0; k < n; k++) {
		unsigned long long msgs = pb_st.msgs;

		if (pias_node_dp_event(node, &events[k], rap_now(), &e))
			pb_fail("BOUND: %s", e.msg);
		else
			one_binding(msgs, "BOUND");
	}
}

static unsigned int prep_query(unsigned int n)
{
	struct pias_msg m;

	for (unsigned int k = 0; k < n; k++, rap_cursor++) {
		memset(&m, 0, sizeof(m));
		m.hdr.type = PIAS_MSG_QUERY;
		m.query.ta = pb_tas[rap_cursor % pb_par.tas];
		pb_build_proxy(&m, iap_of(rap_cursor), &in[k]);
	}
	return n;
}

/* handle_proxy's checks, then the node's RAP, then the BINDING. */
static void run_query(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		unsigned long long msgs = pb_st.msgs;

		if (pb_recv_proxy(&in[k]) && !pb_node_recv(node, rap_now()))
			one_binding(msgs, "QUERY");
	}
}

/* Op c: JAP k = (c / tas) % JAPS_PER_TA of TA c % tas re-reports its count. */
static unsigned int prep_rap_report(unsigned int n)
{
	struct pias_msg m;

	for (unsigned int k = 0; k < n; k++, rap_cursor++) {
		unsigned int i = (unsigned int)(rap_cursor % pb_par.tas);
		unsigned int j = (unsigned int)((rap_cursor / pb_par.tas) % JAPS_PER_TA);

		memset(&m, 0, sizeof(m));
		m.hdr.type = PIAS_MSG_REPORT;
		m.report.ta = pb_tas[i];
		m.report.count = 8u >> j;
		m.report.share = PIAS_RAP_SHARE_FULL;
		m.report.seq = ++report_seq;
		pb_build_proxy(&m, jap_of(i, j), &in[k]);
	}
	return n;
}

/* handle_proxy's checks, then the node's RAP and its actions. */
static void run_rap_report(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++)
		if (pb_recv_proxy(&in[k]) && !pb_node_recv(node, rap_now()))
			pb_st.ok++;
}

/*
 * One TA served by WIDE_JAPS JAPs (ids 2.., counts 1-4): each op is the
 * next JAP's report, with a count that differs from its last one, so that
 * every report changes the group's weights.
 */
#define WIDE_JAPS 10000

static int setup_rap_wide(void)
{
	node = pb_node_new(NULL, NULL);
	jap_node = false;
	if (!node)
		return -1;
	memset(&pb_st, 0, sizeof(pb_st));
	for (__u32 j = 0; j < WIDE_JAPS; j++)
		if (report_in(&pb_tas[0], 2 + j, 1 + j % 4)) {
			fprintf(stderr, "piasd-bench: wide RAP setup: %s\n", pb_st.fail);
			return -1;
		}
	rap_cursor = 0;
	return 0;
}

static unsigned int prep_rap_wide(unsigned int n)
{
	struct pias_msg m;

	for (unsigned int k = 0; k < n; k++, rap_cursor++) {
		__u32 j = (__u32)(rap_cursor % WIDE_JAPS);

		memset(&m, 0, sizeof(m));
		m.hdr.type = PIAS_MSG_REPORT;
		m.report.ta = pb_tas[0];
		m.report.count = 1 + (j + 1 + (__u32)(rap_cursor / WIDE_JAPS) % 2) % 4;
		m.report.share = PIAS_RAP_SHARE_FULL;
		m.report.seq = ++report_seq;
		pb_build_proxy(&m, 2 + j, &in[k]);
	}
	return n;
}

static int setup_rap_tick(void)
{
	int err = setup_rap();

	tick_now = pb_vnow();
	return err;
}

/* ---- IAP: BINDING from the RAP -------------------------------------------- */

static __u32 *generation; /* per TA: the last one the RAP sent */
static unsigned long long iap_cursor;

/* The RAP that answers for TA i: its first RAP on the ring that is not us. */
static __u32 rap_of_index(unsigned int i)
{
	__u32 raps[PIAS_RAP_REPLICAS];
	int n = pias_node_raps_of(node, &pb_tas[i], raps);

	for (int k = 0; k < n; k++)
		if (raps[k] != PB_SELF_ID)
			return raps[k];
	return 2;
}

/* A BINDING of TA i to jap, generation gen, for life_ns: the message as its RAP builds it. */
static void binding_msg(struct pias_msg *m, const struct pias_ta *ta, __u32 jap, __u32 gen,
			__u64 life_ns)
{
	memset(m, 0, sizeof(*m));
	m->hdr.type = PIAS_MSG_BINDING;
	m->binding.ta = *ta;
	m->binding.jap_id = jap;
	m->binding.generation = gen;
	m->binding.lifetime_ms = (__u32)(life_ns / 1000000);
}

/* RAP rap's BINDING as received (the node's path for a verified one), at now. */
static int binding_in(const struct pias_ta *ta, __u32 rap, __u32 jap, __u32 gen, __u64 life_ns,
		      __u64 now)
{
	binding_msg(&pb_rx, ta, jap, gen, life_ns);
	pb_rx.hdr.sender_id = rap;
	return pb_node_recv(node, now);
}

static __u64 life_default(unsigned int i)
{
	(void)i;
	return PB_LIFE_NS;
}

/*
 * Every TA bound once (generation 1) at now, TA i for life(i), as an IAP
 * (cfg, NULL: piasd's; its RAP's rap, NULL: piasd's) serving all of them
 * would be. 1: skipped (too slow to fill).
 */
static int iap_fill(const struct pias_iap_config *cfg, const struct pias_rap_config *rap,
		    __u64 (*life)(unsigned int i), __u64 now)
{
	if (skip_slow(iap_slow))
		return 1;
	node = pb_node_new(cfg, rap);
	jap_node = false;
	free(generation);
	generation = calloc(pb_par.tas, sizeof(*generation));
	if (!node || !generation)
		return -1;
	memset(&pb_st, 0, sizeof(pb_st));
	fill_begin();
	for (unsigned int i = 0; i < pb_par.tas; i++) {
		generation[i] = 1;
		if (binding_in(&pb_tas[i], rap_of_index(i), jap_of(i, 0), 1, life(i), now)) {
			fprintf(stderr, "piasd-bench: IAP setup: %s\n", pb_st.fail);
			return -1;
		}
		if (i % 1024 == 1023 && fill_slow(iap_slow, sizeof(iap_slow), "IAP", i, pb_par.tas))
			return 1;
	}
	iap_cursor = 0;
	return 0;
}

static int setup_iap(void)
{
	return iap_fill(NULL, NULL, life_default, pb_vnow());
}

/* Op c: the RAP of TA c % tas re-binds it with its next generation. */
static unsigned int prep_iap_binding(unsigned int n)
{
	struct pias_msg m;

	for (unsigned int k = 0; k < n; k++, iap_cursor++) {
		unsigned int i = (unsigned int)(iap_cursor % pb_par.tas);

		binding_msg(&m, &pb_tas[i], jap_of(i, (unsigned int)(iap_cursor % 3)),
			    ++generation[i], PB_LIFE_NS);
		pb_build_proxy(&m, rap_of_index(i), &in[k]);
	}
	return n;
}

/* handle_proxy's checks, then the node's IAP and its map write. */
static void run_iap_binding(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		unsigned long long writes = pb_st.map_writes;

		if (!pb_recv_proxy(&in[k]) || pb_node_recv(node, pb_now()))
			continue;
		if (pb_st.map_writes == writes + 1)
			pb_st.ok++;
		else
			pb_fail("BINDING: not installed");
	}
}

/* ---- IAP ticks: every TA bound; nothing due, or a few refreshes due ------- */

#define IAP_DUE 16 /* refreshes due per tick in iap_tick_due */

static unsigned int iap_slots; /* ticks per refresh cycle: TA i is due in tick i % slots */
static __u64 iap_tick_at;      /* iap_tick_due's clock: a tick every PB_TICK_NS */
static __u32 iap_gen;	       /* the RAPs' generations: each answer newer */

static int setup_iap_tick(void)
{
	int err = iap_fill(NULL, NULL, life_default, pb_vnow());

	tick_now = pb_vnow();
	return err;
}

/*
 * Refreshed REFRESH_BEFORE before expiry, a binding installed at t for
 * x + REFRESH_BEFORE is due at t + x + 1: TA i halfway through tick
 * i % slots, so each tick finds tas / slots due (and none expires first).
 */
#define REFRESH_BEFORE (10 * 1000000000ull)

static __u64 life_due(unsigned int i)
{
	return (i % iap_slots) * PB_TICK_NS + PB_TICK_NS / 2 + REFRESH_BEFORE;
}

/* What an answer gives: each TA due again one cycle later, halfway through the tick. */
static __u64 life_cycle(void)
{
	return (__u64)iap_slots * PB_TICK_NS - PB_TICK_NS / 2 + REFRESH_BEFORE;
}

/*
 * The refreshes of the TAs whose RAP is this proxy go to its own RAP
 * (loopback), which answers at once: it knows their groups (their reports
 * do not expire within the row), and its bindings live what the others'
 * answers do.
 */
static int setup_iap_tick_due(void)
{
	struct pias_iap_config cfg = { .refresh_before_ns = REFRESH_BEFORE,
				       .query_retry_ns = PIAS_IAP_QUERY_RETRY_NS,
				       .max_pending = PIAS_IAP_MAX_PENDING };
	struct pias_rap_config rap = pb_rap_config;
	int err;

	iap_slots = pb_par.tas / IAP_DUE ? pb_par.tas / IAP_DUE : 1;
	iap_tick_at = pb_vnow();
	iap_gen = 1;
	pb_nqueries = 0;
	rap.binding_ttl_ns = life_cycle();
	rap.report_expiry_ns = ~0ull / 4;
	err = iap_fill(&cfg, &rap, life_due, iap_tick_at);
	for (unsigned int i = 0; !err && i < pb_par.tas; i++) {
		__u32 raps[PIAS_RAP_REPLICAS];

		if (pias_node_raps_of(node, &pb_tas[i], raps) > 0 && raps[0] == PB_SELF_ID &&
		    report_in(&pb_tas[i], jap_of(i, 0), 1))
			return -1;
	}
	return err;
}

/*
 * Outside the clock, the RAPs answer the last tick's QUERYs (the rest of
 * a refresh's cost is the iap_binding row's): each TA is due again one
 * cycle later, halfway through the tick. The answers' map writes are not
 * the row's.
 */
static unsigned int prep_iap_tick_due(unsigned int n)
{
	__u64 life = life_cycle();
	unsigned long long writes = pb_st.map_writes;

	(void)n;
	for (unsigned int i = 0; i < pb_nqueries; i++)
		binding_in(&pb_queries[i].ta, pb_queries[i].to, jap_of(0, 0), ++iap_gen, life,
			   iap_tick_at);
	pb_nqueries = 0;
	pb_st.map_writes = writes;
	return 1;
}

/* One node tick, PB_TICK_NS after the last: it sends the QUERYs of one tick's refreshes. */
static void run_iap_tick_due(unsigned int n)
{
	unsigned int want = pb_par.tas / iap_slots;

	for (unsigned int k = 0; k < n; k++) {
		__u64 q = node->counters[PIAS_NODE_C_queries_sent];

		iap_tick_at += PB_TICK_NS;
		pias_node_tick(node, iap_tick_at);
		pb_st.ticks++;
		q = node->counters[PIAS_NODE_C_queries_sent] - q;
		if (q == want || q == want + 1)
			pb_st.ok++;
		else
			pb_fail("iap tick: %llu refreshes, %u due", (unsigned long long)q, want);
	}
}

/* ---- socket I/O for comparison: one datagram out and in over loopback ----- */

static int udp_tx = -1, udp_rx = -1;
static struct sockaddr_in udp_to;

static int setup_udp(void)
{
	socklen_t sl = sizeof(udp_to);

	if (setup_base())
		return -1;
	udp_tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	udp_rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&udp_to, 0, sizeof(udp_to));
	udp_to.sin_family = AF_INET;
	udp_to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (udp_tx < 0 || udp_rx < 0 || bind(udp_rx, (struct sockaddr *)&udp_to, sizeof(udp_to)) ||
	    getsockname(udp_rx, (struct sockaddr *)&udp_to, &sl)) {
		perror("piasd-bench: loopback UDP sockets");
		return -1;
	}
	return 0;
}

/*
 * sendto() then recvfrom() of the REGISTER datagram: what piasd adds per
 * request and answer in system calls (loopback delivery included, which a
 * NIC would do elsewhere).
 */
static void run_udp(unsigned int n)
{
	__u8 buf[PIAS_MSG_VIEW_MAX + 1];
	struct sockaddr_storage ss;

	for (unsigned int k = 0; k < n; k++) {
		socklen_t sl = sizeof(ss);
		ssize_t got;

		if (sendto(udp_tx, base_dg.buf, base_dg.len, 0, (struct sockaddr *)&udp_to,
			   sizeof(udp_to)) != base_dg.len) {
			pb_fail("sendto: %s", strerror(errno));
			continue;
		}
		got = recvfrom(udp_rx, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
		if (got == base_dg.len)
			pb_st.ok++;
		else
			pb_fail("recvfrom: %zd bytes (%s)", got, got < 0 ? strerror(errno) : "");
	}
}

/* ---- the rows, in the order they run; "mac" first: every ratio is to it ---- */

int pb_rows_init(void)
{
	in = calloc(PB_BATCH, sizeof(*in));
	events = calloc(PB_BATCH, sizeof(*events));
	if (!in || !events)
		return -ENOMEM;
	niaps = (PAIR_PERIOD + pb_par.tas - 1) / pb_par.tas;
	niaps = niaps < PB_NPROXIES - 1 ? PB_NPROXIES - 1 : niaps;
	niaps = niaps > PIAS_MAX_PROXIES - 2 ? PIAS_MAX_PROXIES - 2 : niaps;
	report_seq = pb_next_seq(&pb_peer_seq);
	jap_slow[0] = rap_slow[0] = iap_slow[0] = 0;
	return 0;
}

void pb_rows_fini(void)
{
	if (udp_tx >= 0)
		close(udp_tx);
	if (udp_rx >= 0)
		close(udp_rx);
	udp_tx = udp_rx = -1;
	node = NULL; /* the world frees it */
	jap_node = false;
	pias_gone_free(&gone);
	memset(&gone, 0, sizeof(gone));
	free(target_seq);
	free(generation);
	free(in);
	free(events);
	target_seq = NULL;
	generation = NULL;
	in = NULL;
	events = NULL;
}

/* A trial fill: at a size the JAP cannot hold, or too slow to fill, the row is skipped. */
static int setup_register_new(void)
{
	int err = jap_fill();

	return err ? err : jap_reset();
}

const struct pb_row pb_rows[] = {
	{ .name = "mac",
	  .what = "HMAC-SHA-512-256 verify of a 116-byte REGISTER (pias_msg_mac_ok)",
	  .kind = "baseline",
	  .scale = PB_SCALE_NONE,
	  .setup = setup_base,
	  .run = run_mac },
	{ .name = "codec",
	  .what = "pias_msg_decode of the same REGISTER",
	  .kind = "baseline",
	  .scale = PB_SCALE_NONE,
	  .setup = setup_base,
	  .run = run_codec },
	{ .name = "register_new",
	  .what = "JAP: REGISTER of a new target -> node -> REPORTs when due -> REG_ACK",
	  .kind = "path",
	  .scale = PB_SCALE_FLAT,
	  .setup = setup_register_new,
	  .begin_run = begin_register_new,
	  .prep = prep_register_new,
	  .run = run_register,
	  .round = jap_round },
	{ .name = "register_refresh",
	  .what = "JAP: REGISTER of a registered target (refresh) -> node -> REG_ACK",
	  .kind = "path",
	  .scale = PB_SCALE_FLAT,
	  .setup = jap_fill,
	  .prep = prep_register_refresh,
	  .run = run_register_refresh },
	{ .name = "jap_refresh",
	  .what = "JAP registry alone: pias_jap_find + pias_node_register of a registered target",
	  .kind = "diagnostic",
	  .setup = jap_fill,
	  .run = run_jap_refresh },
	{ .name = "bound",
	  .what = "RAP: dataplane BOUND event -> node -> BINDING",
	  .kind = "path",
	  .scale = PB_SCALE_FLAT,
	  .setup = setup_rap,
	  .prep = prep_bound,
	  .run = run_bound },
	{ .name = "query",
	  .what = "RAP: QUERY datagram -> node -> BINDING",
	  .kind = "path",
	  .scale = PB_SCALE_FLAT,
	  .setup = setup_rap,
	  .prep = prep_query,
	  .run = run_query },
	{ .name = "rap_report",
	  .what = "RAP: REPORT datagram (a JAP's refresh) -> node",
	  .kind = "path",
	  .setup = setup_rap,
	  .prep = prep_rap_report,
	  .run = run_rap_report },
	{ .name = "rap_report_wide",
	  .what = "RAP: REPORT changing a count in a group of 10,000 JAPs -> node",
	  .kind = "path",
	  .setup = setup_rap_wide,
	  .prep = prep_rap_wide,
	  .run = run_rap_report },
	{ .name = "iap_binding",
	  .what = "IAP: BINDING datagram -> node (install)",
	  .kind = "path",
	  .scale = PB_SCALE_FLAT,
	  .setup = setup_iap,
	  .prep = prep_iap_binding,
	  .run = run_iap_binding },
	{ .name = "jap_tick",
	  .what = "JAP: one node tick over the full JAP registry, nothing due",
	  .kind = "tick",
	  .scale = PB_SCALE_IDLE,
	  .setup = setup_jap_tick,
	  .run = run_tick },
	{ .name = "rap_tick",
	  .what = "RAP: one node tick over every RAP group, nothing expiring",
	  .kind = "tick",
	  .scale = PB_SCALE_IDLE,
	  .setup = setup_rap_tick,
	  .run = run_tick },
	{ .name = "iap_tick",
	  .what = "IAP: one node tick over every cached TA, nothing due",
	  .kind = "tick",
	  .scale = PB_SCALE_IDLE,
	  .setup = setup_iap_tick,
	  .run = run_tick },
	{ .name = "iap_tick_due",
	  .what = "IAP: one node tick with 16 refreshes due (QUERYs encoded)",
	  .kind = "tick",
	  .scale = PB_SCALE_FLAT,
	  .setup = setup_iap_tick_due,
	  .prep = prep_iap_tick_due,
	  .run = run_iap_tick_due },
	{ .name = "udp_loopback",
	  .what = "sendto + recvfrom of the 116-byte REGISTER over loopback",
	  .kind = "io",
	  .scale = PB_SCALE_NONE,
	  .setup = setup_udp,
	  .run = run_udp },
};

const unsigned int pb_nrows = sizeof(pb_rows) / sizeof(pb_rows[0]);
