// SPDX-License-Identifier: MIT
/*
 * piasd-bench's rows: the JAP's, RAP's and IAP's receive paths as piasd
 * runs them (daemon/piasd/net.c, then proto.c), step for step, on the same
 * state machines and codec, with the I/O left out:
 *
 *  - no sockets: a datagram is handed over as recvfrom() would leave it,
 *    and an answer is encoded and MACed into the send buffer but not sent
 *    (the "udp_loopback" row measures that syscall pair on its own);
 *  - no BPF: the map writes the actions ask for are counted, not made, and
 *    the JAP tick's per-target stats read is left out;
 *  - no log lines (piasd logs every new target at level info).
 *
 * Everything else piasd does per message is here: header, key, MAC, replay
 * window and freshness checks, decode, the state machine with its action
 * list grown on -ENOBUFS, every answer and report encoded with its MAC,
 * the clock reads (CLOCK_REALTIME for seqs and freshness, the monotonic
 * clock for the state machines), and the periodic ticks every 50 ms of the
 * row's own time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <sodium.h>

#include <pias/events.h>

#include "addr.h"
#include "cookie.h"
#include "coords.h"
#include "iap.h"
#include "jap.h"
#include "keys.h"
#include "msg.h"
#include "rap_registry.h"
#include "replay.h"
#include "ring.h"
#include "paths.h"

#define SELF_ID 1
/* Proxies on the ring: the RAPs, JAPs and IAPs of the TAs. */
#define NPROXIES 1000
/*
 * The bound and query rows give every op an (IAP, TA) pair that comes back
 * only after at least this many ops, so that the RAP's rate limit (100 ms
 * per pair) never suppresses a binding (checked: every op must send one).
 * With few TAs that takes IAP ids beyond the ring's: they only name IAPs.
 */
#define PAIR_PERIOD  (1u << 20)
#define JAPS_PER_TA  4		 /* JAPs reporting each TA to the RAP */
#define RAP_REPLICAS 3		 /* piasd's default rap_replicas */
#define TICK_NS	     50000000ull /* PIASD_TICK_MS */
#define DGRAM_MAX    128	 /* the largest datagram built here is 116 bytes */
#define TARGET_PORT  8053

struct pb_stats pb_st;

static struct pb_params par;
static __u8 overlay_key[PIAS_KEY_LEN], group_key[PIAS_KEY_LEN];
static struct pias_keyring keys;
static struct pias_net prefix; /* the overlay's anycast prefix */
static struct pias_ta *tas;
static __u8 (*tokens)[PIAS_KEY_LEN];   /* what each TA's targets hold */
static struct pias_cookie_jar cookies; /* the JAP's; targets send back what it made */
static struct pias_ring ring;
static struct pias_rap_slot *rap_table;
static struct pias_coord coords[PIAS_MAX_PROXIES];
static unsigned int niaps; /* IAP ids 2..niaps + 1 */

static __u64 self_seq;	 /* this proxy's header seqs (net.c's next_seq) */
static __u64 peer_seq;	 /* the seqs of datagrams built as others' */
static __u64 report_seq; /* JAP: REPORT seqs */

/* What piasd keeps for receiving: one static message and send buffer (net.c). */
static struct pias_msg rx_msg;
static __u8 tx_buf[PIAS_MSG_VIEW_MAX];

struct dgram {
	__u16 len;
	__u8 buf[DGRAM_MAX];
};
static struct dgram *in; /* PB_BATCH prepared inputs */
static struct pias_event *events;

void pb_fail(const char *fmt, ...)
{
	va_list ap;

	if (pb_st.fail[0])
		return;
	va_start(ap, fmt);
	vsnprintf(pb_st.fail, sizeof(pb_st.fail), fmt, ap);
	va_end(ap);
}

static __u64 realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static __u64 mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* net.c's next_seq: the wall clock in ns, strictly above the last one. */
static __u64 next_seq(__u64 *last)
{
	__u64 now = realtime_ns();

	*last = now > *last ? now : *last + 1;
	return *last;
}

/*
 * Run call with list l emptied first; on -ENOBUFS grow l and run it again
 * (what proto.c does, so that a list that starts small costs the same).
 */
#define GROW_RUN(l, call)                                                                          \
	({                                                                                         \
		int _err;                                                                          \
		for (;;) {                                                                         \
			(l).n = 0;                                                                 \
			_err = (call);                                                             \
			if (_err != -ENOBUFS ||                                                    \
			    grow_list((void **)&(l).a, &(l).cap, sizeof((l).a[0])))                \
				break;                                                             \
		}                                                                                  \
		_err;                                                                              \
	})

static int grow_list(void **a, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? 2 * *cap : 256;
	void *p = realloc(*a, ncap * elem);

	if (!p)
		return -ENOMEM;
	*a = p;
	*cap = ncap;
	return 0;
}

/* ---- filling a registry at scale ------------------------------------------ */

/*
 * A registry whose inserts grow with its size (a scan per insert) takes
 * minutes to fill at 65,000 groups: after --fill-limit, the rows that need
 * it are skipped at this size, saying so, and the next ones do not try.
 */
static __u64 fill_t0;
static char jap_slow[200], rap_slow[200], iap_slow[200];

static void fill_begin(void)
{
	fill_t0 = mono_now();
}

/* done of total inserted into what: too slow? Then *memo and pb_st.fail say so. */
static bool fill_slow(char *memo, size_t len, const char *what, unsigned int done,
		      unsigned int total)
{
	if (mono_now() - fill_t0 < par.fill_limit_s * 1000000000ull)
		return false;
	snprintf(memo, len, "filling the %s: %u of %u groups after %u s (--fill-limit)", what, done,
		 total, par.fill_limit_s);
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

/* ---- the world: TAs, targets, keys, proxies ------------------------------ */

/* TA i: UDP 198.51.100.(1 + i % 254) port 1024 + i / 254, inside the prefix. */
static void ta_make(unsigned int i, struct pias_ta *ta)
{
	memset(ta, 0, sizeof(*ta));
	ta->addr.v4 = htonl(0xc6336400u | (1 + i % 254));
	ta->port = (__u16)(1024 + i / 254);
	ta->proto = 17;
	ta->family = PIAS_AF_INET;
}

/* Target slot j of TA i: in 10.0.0.0/8, one address per target (i below 2^19). */
static __be32 target_addr(unsigned int i, unsigned int j)
{
	return htonl(0x0a000000u | ((i * PIAS_SET_MAX_TARGETS + j + 1) & 0xffffffu));
}

/* Every proxy id on a plane of ~100 ms, for RTTs. */
static void coords_make(void)
{
	for (unsigned int id = 1; id < PIAS_MAX_PROXIES; id++) {
		__u32 h = id * 2654435761u;

		coords[id] = (struct pias_coord){ .x = (float)(h % 50000),
						  .y = (float)((h >> 16) % 50000),
						  .h = 500.0f,
						  .err = 0.2f };
	}
}

/* membership's RTT estimate from two Vivaldi coordinates, in ns. */
static __u64 rtt_of(void *ctx, __u32 a, __u32 b)
{
	(void)ctx;
	if (!a || !b || a >= PIAS_MAX_PROXIES || b >= PIAS_MAX_PROXIES)
		return 0;
	return (__u64)(pias_coord_distance_us(&coords[a], &coords[b]) * 1000.0f + 0.5f);
}

int pb_init(const struct pb_params *p)
{
	__u32 *ids = calloc(NPROXIES, sizeof(*ids));
	struct pias_err e;

	par = *p;
	jap_slow[0] = rap_slow[0] = iap_slow[0] = 0;
	tas = calloc(par.tas, sizeof(*tas));
	tokens = calloc(par.tas, sizeof(*tokens));
	rap_table = calloc(PIAS_RAP_SLOTS, sizeof(*rap_table));
	in = calloc(PB_BATCH, sizeof(*in));
	events = calloc(PB_BATCH, sizeof(*events));
	if (!ids || !tas || !tokens || !rap_table || !in || !events) {
		fprintf(stderr, "piasd-bench: out of memory\n");
		free(ids);
		return -ENOMEM;
	}
	pias_key_generate(overlay_key);
	pias_key_generate(group_key);
	keys.n = 1;
	keys.keys[0].id = 1;
	memcpy(keys.keys[0].key, overlay_key, PIAS_KEY_LEN);
	keys.send_id = 1;
	if (pias_net_parse("198.51.100.0/24", &prefix, &e))
		goto fail;
	for (unsigned int i = 0; i < par.tas; i++) {
		ta_make(i, &tas[i]);
		pias_token_derive(group_key, &tas[i], tokens[i]);
	}
	{
		__u8 secret[PIAS_COOKIE_SECRET_LEN];

		randombytes_buf(secret, sizeof(secret));
		pias_cookie_rotate(&cookies, 0, secret);
	}
	for (unsigned int k = 0; k < NPROXIES; k++)
		ids[k] = k + 1;
	if (pias_ring_init(&ring, 0, &e) || pias_ring_build(&ring, ids, NPROXIES, &e) ||
	    pias_ring_fill_table(&ring, RAP_REPLICAS, rap_table, &e))
		goto fail;
	free(ids);
	coords_make();
	niaps = (PAIR_PERIOD + par.tas - 1) / par.tas;
	niaps = niaps < NPROXIES - 1 ? NPROXIES - 1 : niaps;
	niaps = niaps > PIAS_MAX_PROXIES - 2 ? PIAS_MAX_PROXIES - 2 : niaps;
	self_seq = peer_seq = report_seq = realtime_ns();
	return 0;
fail:
	fprintf(stderr, "piasd-bench: setup: %s\n", e.msg);
	free(ids);
	return -EINVAL;
}

/* Encode m as someone else would send it; returns 0 or fails the run. */
static int build(struct pias_msg *m, const __u8 *key, struct dgram *d)
{
	struct pias_err e;
	int n = pias_msg_encode(m, key, d->buf, sizeof(d->buf), &e);

	if (n < 0) {
		pb_fail("building a %s: %s", pias_msg_type_name(m->hdr.type), e.msg);
		d->len = 0;
		return n;
	}
	d->len = (__u16)n;
	return 0;
}

/* A proxy message from sender, overlay key 1, the sender's next seq. */
static int build_proxy(struct pias_msg *m, __u32 sender, struct dgram *d)
{
	m->hdr.sender_id = sender;
	m->hdr.key_id = 1;
	m->hdr.seq = next_seq(&peer_seq);
	return build(m, overlay_key, d);
}

/*
 * net.c's piasd_send, less the membership lookup of the peer's address and
 * the sendto(): key, sender, seq, encode with MAC.
 */
static int send_proxy(struct pias_msg *m)
{
	struct pias_err e;
	const __u8 *key = pias_keyring_send(&keys, &m->hdr.key_id);
	int n;

	m->hdr.sender_id = SELF_ID;
	m->hdr.seq = next_seq(&self_seq);
	n = pias_msg_encode(m, key, tx_buf, sizeof(tx_buf), &e);
	if (n < 0) {
		pb_fail("encoding a %s: %s", pias_msg_type_name(m->hdr.type), e.msg);
		return n;
	}
	pb_st.msgs++;
	return 0;
}

/*
 * handle_proxy's checks in net.c, in its order: key id, MAC, not from
 * ourselves, replay window (fresh seq for a sender not yet known), body.
 */
static bool recv_proxy(struct pias_replay *rp, const struct dgram *d)
{
	struct pias_msg_hdr h;
	struct pias_err e;
	const __u8 *key;

	if (pias_msg_header(d->buf, d->len, &h, &e)) {
		pb_fail("header: %s", e.msg);
		return false;
	}
	if (pias_msg_is_target(h.type)) {
		pb_fail("a target message on the overlay socket");
		return false;
	}
	key = pias_keyring_find(&keys, h.key_id);
	if (!key || !pias_msg_mac_ok(d->buf, d->len, key)) {
		pb_fail("proxy datagram: bad key or MAC");
		return false;
	}
	if (h.sender_id == SELF_ID) {
		pb_fail("datagram from ourselves");
		return false;
	}
	if ((!pias_replay_known(rp, h.sender_id) &&
	     !pias_fresh_timestamp(h.seq, realtime_ns(), PIAS_REPLAY_FRESH_NS)) ||
	    !pias_replay_check_and_record(rp, h.sender_id, h.seq)) {
		pb_fail("replay check refused seq %llu from %u", (unsigned long long)h.seq,
			h.sender_id);
		return false;
	}
	if (pias_msg_decode(d->buf, d->len, &rx_msg, &e)) {
		pb_fail("decode: %s", e.msg);
		return false;
	}
	return true;
}

/* ---- baselines: one REGISTER datagram, over and over ---------------------- */

static struct dgram base_dg;

static int setup_base(void)
{
	struct pias_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_REGISTER;
	m.hdr.seq = next_seq(&peer_seq);
	m.reg.ta = tas[0];
	m.reg.family = PIAS_AF_INET;
	m.reg.addr.v4 = target_addr(0, 0);
	m.reg.port = TARGET_PORT;
	m.reg.weight = 1;
	return build(&m, tokens[0], &base_dg);
}

static void run_mac(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++)
		pb_st.ok += pias_msg_mac_ok(base_dg.buf, base_dg.len, tokens[0]);
}

static void run_codec(unsigned int n)
{
	struct pias_err e;

	for (unsigned int k = 0; k < n; k++)
		pb_st.ok += !pias_msg_decode(base_dg.buf, base_dg.len, &rx_msg, &e);
}

/* ---- JAP: target REGISTER on the registration socket ---------------------- */

static struct pias_jap jap;
static struct pias_jap_actions jap_acts;
static __u64 *target_seq; /* piasd's per-target last seq (replay) */
static __u64 jap_last_tick;
static unsigned int jap_cursor; /* op index within the registry fill */

static unsigned int jap_round(void)
{
	return par.tas * par.targets;
}

static int jap_reset(void)
{
	struct pias_jap_config cfg = {
		.refresh_timeout_ns = 900ull * 1000000ull, /* target_timeout_ms default */
		.drain_timeout_ns = PIAS_JAP_DRAIN_TIMEOUT_NS,
		.down_expire_ns = PIAS_JAP_DOWN_EXPIRE_NS,
		.report_fraction = 0.25, /* report_threshold_percent default */
	};
	struct pias_err e;

	if (!target_seq)
		target_seq = calloc(PIAS_MAX_TARGETS, sizeof(*target_seq));
	if (!target_seq)
		return -ENOMEM;
	memset(target_seq, 0, PIAS_MAX_TARGETS * sizeof(*target_seq));
	pias_jap_free(&jap);
	if (pias_jap_init(&jap, &cfg, &e)) {
		fprintf(stderr, "piasd-bench: %s\n", e.msg);
		return -EINVAL;
	}
	jap_cursor = 0;
	jap_last_tick = pb_vnow();
	return 0;
}

/* proto.c's send_report: one REPORT to each of the TA's RAPs but ourselves. */
static void send_report(const struct pias_ta *ta, __u32 count)
{
	struct pias_rap_slot s;
	int n = pias_ring_raps_of_ta(rap_table, ta, &s);
	struct pias_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_REPORT;
	m.report.ta = *ta;
	m.report.count = count;
	m.report.seq = ++report_seq;
	for (int i = 0; i < n; i++)
		if (s.rap[i] != SELF_ID) /* to itself: a loopback queue, no datagram */
			send_proxy(&m);
}

static void jap_apply(void)
{
	for (size_t i = 0; i < jap_acts.n; i++) {
		const struct pias_jap_action *a = &jap_acts.a[i];

		if (a->kind == PIAS_JAP_REPORT)
			send_report(&a->ta, a->report.count);
		else
			pb_st.map_writes++; /* pias_target_set/del, pias_tgtset_set/del */
	}
}

/* proto.c's last_reply_of without its map read (no reply seen) */
static __u64 last_reply_of(void *ctx, __u32 id)
{
	(void)ctx;
	(void)id;
	return 0;
}

/* proto.c's jap_tick */
static void jap_tick(__u64 now)
{
	struct pias_err e;

	if (GROW_RUN(jap_acts, pias_jap_tick(&jap, now, last_reply_of, NULL, &jap_acts, &e)))
		pb_fail("jap tick: %s", e.msg);
	else
		jap_apply();
	pb_st.ticks++;
}

/* net.c's token_of: token(ta), the last one remembered (the reply's TA is the request's). */
static void token_of(const struct pias_ta *ta, __u8 token[PIAS_KEY_LEN])
{
	static struct pias_ta last_ta;
	static __u8 last[PIAS_KEY_LEN];
	static bool valid;

	if (!valid || memcmp(&last_ta, ta, sizeof(*ta))) {
		pias_token_derive(group_key, ta, last);
		last_ta = *ta;
		valid = true;
	}
	memcpy(token, last, PIAS_KEY_LEN);
}

/* net.c's send_target: the group's token (cached), then encode with it. */
static void send_target(struct pias_msg *m, const struct pias_ta *ta)
{
	__u8 token[PIAS_KEY_LEN], buf[PIAS_MSG_MAX];
	struct pias_err e;
	int n;

	token_of(ta, token);
	m->hdr.sender_id = 0;
	m->hdr.key_id = 0;
	m->hdr.seq = next_seq(&self_seq);
	n = pias_msg_encode(m, token, buf, sizeof(buf), &e);
	if (n < 0) {
		pb_fail("encoding a %s: %s", pias_msg_type_name(m->hdr.type), e.msg);
		return;
	}
	pb_st.msgs++;
}

/* Where the targets' datagrams come from (recvfrom's address), for the log strings. */
static const struct pias_peer d_from = { .addr.bytes = { 203, 0, 113, 7 },
					 .family = PIAS_AF_INET,
					 .port = 40000 };

static bool in_prefixes(const struct pias_ta *ta)
{
	return pias_net_contains(&prefix, &ta->addr, ta->family);
}

/*
 * One datagram on the registration socket: on_readable's header check,
 * handle_target (decode, token, MAC, freshness), piasd_proto_target
 * (find, per-target replay, the cookie of a new target, prefix, register,
 * actions) and the REG_ACK.
 */
static void register_one(const struct dgram *d)
{
	const struct pias_msg_register *r = &rx_msg.reg;
	struct pias_jap_endpoint ep;
	char ta_s[PIAS_ADDR_STRLEN + 16], src_s[PIAS_ADDR_STRLEN + 8], ep_s[PIAS_ADDR_STRLEN + 8];
	__u8 token[PIAS_KEY_LEN];
	struct pias_msg_hdr h;
	struct pias_err e;
	struct pias_msg ack;
	__u64 now;
	int id, err;

	if (pias_msg_header(d->buf, d->len, &h, &e)) {
		pb_fail("header: %s", e.msg);
		return;
	}
	if (!pias_msg_is_target(h.type)) {
		pb_fail("a proxy message on the registration socket");
		return;
	}
	if (pias_msg_decode(d->buf, d->len, &rx_msg, &e)) {
		pb_fail("decode: %s", e.msg);
		return;
	}
	if (rx_msg.hdr.type != PIAS_MSG_REGISTER && rx_msg.hdr.type != PIAS_MSG_LEAVE) {
		pb_fail("unexpected %s", pias_msg_type_name(rx_msg.hdr.type));
		return;
	}
	/* handle_target formats both for its log lines before it knows it needs them */
	pias_ta_str(&r->ta, ta_s, sizeof(ta_s));
	pias_endpoint_str(&d_from.addr, d_from.family, d_from.port, src_s, sizeof(src_s));
	token_of(&r->ta, token);
	if (!pias_msg_mac_ok(d->buf, d->len, token)) {
		pb_fail("REGISTER: bad token");
		return;
	}
	if (!pias_fresh_timestamp(rx_msg.hdr.seq, realtime_ns(), PIAS_REPLAY_FRESH_NS)) {
		pb_fail("REGISTER: stale seq");
		return;
	}
	/* piasd_proto_target */
	ep = (struct pias_jap_endpoint){ .addr = r->addr, .port = r->port, .family = r->family };
	now = pb_vnow();
	if (now - jap_last_tick >= TICK_NS) {
		jap_last_tick = now;
		jap_tick(now);
	}
	if (!in_prefixes(&r->ta)) {
		pb_fail("TA outside the prefix");
		return;
	}
	id = pias_jap_find(&jap, &r->ta, &ep);
	if (id > 0 && rx_msg.hdr.seq <= target_seq[id]) {
		pb_fail("REGISTER: seq replayed");
		return;
	}
	if (id <= 0 && !pias_cookie_ok(&cookies, r, &d_from)) {
		pb_fail("REGISTER: no cookie");
		return;
	}
	err = GROW_RUN(jap_acts,
		       pias_jap_register(&jap, &r->ta, &ep, r->weight, now, &jap_acts, &e));
	if (err < 0) {
		pb_fail("register refused: %s", e.msg);
		return;
	}
	id = err;
	jap_apply();
	if (!target_seq[id]) {
		/* LOG_I's arguments ("target %d joined %s at %s"); the line is not written */
		pias_ta_str(&r->ta, ta_s, sizeof(ta_s));
		pias_endpoint_str(&r->addr, r->family, r->port, ep_s, sizeof(ep_s));
	}
	target_seq[id] = rx_msg.hdr.seq;
	/* piasd_target_ack */
	memset(&ack, 0, sizeof(ack));
	ack.hdr.type = PIAS_MSG_REG_ACK;
	ack.ack.ta = r->ta;
	ack.ack.jap_id = SELF_ID;
	ack.ack.target_id = (__u32)id;
	ack.ack.refresh_ms = 900;
	ack.ack.echo_seq = rx_msg.hdr.seq;
	send_target(&ack, &r->ta);
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
static int build_register(unsigned int c, struct dgram *d)
{
	unsigned int i = c % par.tas, j = c / par.tas;
	struct pias_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_REGISTER;
	m.hdr.seq = next_seq(&peer_seq);
	m.reg.ta = tas[i];
	m.reg.family = PIAS_AF_INET;
	m.reg.addr.v4 = target_addr(i, j);
	m.reg.port = TARGET_PORT;
	m.reg.weight = 1;
	/* the second REGISTER of a join: the cookie the JAP's REG_COOKIE carried */
	pias_cookie_make(&cookies, &m.reg, &d_from, m.reg.cookie);
	return build(&m, tokens[i], d);
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
		pb_fail("%u TAs x %u targets: more than the JAP's %d target ids", par.tas,
			par.targets, PIAS_MAX_TARGETS - 1);
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
 * pias_jap_find + pias_jap_register of the next registered target, as
 * piasd_proto_target makes them, without the datagram around them: what
 * the registry costs per refresh, and times the registry's size the work
 * of a refresh round.
 */
static void run_jap_refresh(unsigned int n)
{
	struct pias_err e;

	for (unsigned int k = 0; k < n; k++) {
		unsigned int c = jap_cursor, i = c % par.tas, t = c / par.tas;
		struct pias_jap_endpoint ep = { .addr.v4 = target_addr(i, t),
						.port = TARGET_PORT,
						.family = PIAS_AF_INET };
		__u64 now = pb_vnow();
		int id;

		jap_cursor = jap_cursor + 1 == jap_round() ? 0 : jap_cursor + 1;
		if (now - jap_last_tick >= TICK_NS) {
			jap_last_tick = now;
			jap_tick(now);
		}
		jap_acts.n = 0;
		id = pias_jap_find(&jap, &tas[i], &ep);
		if (id > 0 && pias_jap_register(&jap, &tas[i], &ep, 1, now, &jap_acts, &e) == id &&
		    !jap_acts.n)
			pb_st.ok++;
		else
			pb_fail("refresh of target %u of TA %u: %s", t, i,
				id > 0 ? "refused or wrote maps" : "not found");
	}
}

/* ---- JAP tick alone: the full registry, nothing due -------------------- */

static __u64 tick_now;

static int setup_jap_tick(void)
{
	int err = jap_fill();

	if (err)
		return err;
	tick_now = pb_vnow();
	return 0;
}

static void run_jap_tick(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		unsigned long long w = pb_st.map_writes;

		jap_tick(tick_now);
		pb_st.ok += pb_st.map_writes == w;
	}
}

/* ---- RAP: dataplane BOUND events and IAP QUERYs --------------------------- */

static struct pias_rap rap;
static struct pias_rap_actions rap_acts;
static struct pias_replay replay;
static __u64 rap_last_tick;
static unsigned long long rap_cursor;

/* Op c: TA c % tas from IAP 2 + (c / tas) % niaps: pairs repeat rarely. */
static __u32 iap_of(unsigned long long c)
{
	return 2 + (__u32)((c / par.tas) % niaps);
}

/* The JAPs that serve TA i: JAPS_PER_TA distinct ids other than ours. */
static __u32 jap_of(unsigned int i, unsigned int k)
{
	return 2 + (i * 7 + k * 61) % (NPROXIES - 1);
}

static int setup_rap(void)
{
	struct pias_rap_config cfg = {
		.binding_ttl_ns = 300ull * 1000000000ull, /* binding_ttl_s default */
		.negative_ttl_ns = PIAS_RAP_NEGATIVE_TTL_NS,
		.report_expiry_ns = PIAS_RAP_REPORT_EXPIRY_NS,
		.bind_interval_ns = PIAS_RAP_BIND_INTERVAL_NS,
		.alpha = 0.5, /* proximity_percent default */
	};
	struct pias_err e;
	__u64 now = pb_vnow();

	if (skip_slow(rap_slow))
		return 1;
	pias_rap_free(&rap);
	pias_replay_free(&replay);
	pias_replay_init(&replay);
	if (pias_rap_init(&rap, &cfg, &e))
		goto fail;
	rap.next_generation = (__u32)(realtime_ns() / 1000000);
	fill_begin();
	for (unsigned int i = 0; i < par.tas; i++) {
		for (unsigned int k = 0; k < JAPS_PER_TA; k++)
			if (GROW_RUN(rap_acts, pias_rap_report(&rap, &tas[i], jap_of(i, k), 8u >> k,
							       1, now, &rap_acts, &e)))
				goto fail;
		if (i % 1024 == 1023 && fill_slow(rap_slow, sizeof(rap_slow), "RAP", i, par.tas))
			return 1;
	}
	rap_last_tick = now;
	return 0;
fail:
	fprintf(stderr, "piasd-bench: RAP setup: %s\n", e.msg);
	return -1;
}

/* proto.c's send_binding: a BINDING to the IAP (never ourselves here). */
static void send_binding(const struct pias_rap_action *a, bool negative)
{
	struct pias_msg m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = PIAS_MSG_BINDING;
	m.binding.ta = a->ta;
	m.binding.jap_id = negative ? 0 : a->jap_id;
	m.binding.generation = a->generation;
	m.binding.lifetime_ms = (__u32)(a->lifetime_ns / 1000000);
	m.binding.flags = negative ? PIAS_MSG_BINDING_F_NEGATIVE : 0;
	send_proxy(&m);
}

/* Apply rap_acts; returns the number of positive bindings sent. */
static unsigned int rap_apply(void)
{
	unsigned int sent = 0;

	for (size_t i = 0; i < rap_acts.n; i++) {
		const struct pias_rap_action *a = &rap_acts.a[i];

		switch (a->kind) {
		case PIAS_RAP_GROUP_SET:
		case PIAS_RAP_GROUP_DEL:
			pb_st.map_writes++;
			break;
		case PIAS_RAP_SEND_BINDING:
			send_binding(a, false);
			sent++;
			break;
		case PIAS_RAP_SEND_NEGATIVE:
			send_binding(a, true);
			break;
		}
	}
	return sent;
}

static void rap_tick(__u64 now)
{
	struct pias_err e;

	/* rate-limit records in use (a bounded table: at most sets x ways) */
	pb_st.sent_sum += rap.nsent;
	pb_st.sent_samples++;
	if (GROW_RUN(rap_acts, pias_rap_tick(&rap, now, &rap_acts, &e)))
		pb_fail("rap tick: %s", e.msg);
	else
		rap_apply();
	pb_st.ticks++;
}

static __u64 rap_now(void)
{
	__u64 now = pb_vnow();

	if (now - rap_last_tick >= TICK_NS) {
		rap_last_tick = now;
		rap_tick(now);
	}
	return now;
}

static unsigned int prep_bound(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++, rap_cursor++) {
		unsigned int i = (unsigned int)(rap_cursor % par.tas);

		events[k] =
			(struct pias_event){ .type = PIAS_EV_BOUND,
					     .iap_id = iap_of(rap_cursor),
					     .rap_id = SELF_ID,
					     .jap_id = jap_of(i, (unsigned int)(rap_cursor % 3)),
					     .ta = tas[i] };
	}
	return n;
}

/* piasd_proto_dp_event for BOUND: pias_rap_bound, then a BINDING to the IAP. */
static void run_bound(unsigned int n)
{
	struct pias_err e;

	for (unsigned int k = 0; k < n; k++) {
		const struct pias_event *ev = &events[k];
		__u64 now = rap_now();

		if (GROW_RUN(rap_acts, pias_rap_bound(&rap, ev->iap_id, &ev->ta, ev->jap_id, rtt_of,
						      NULL, now, &rap_acts, &e))) {
			pb_fail("BOUND: %s", e.msg);
			continue;
		}
		if (rap_apply() == 1)
			pb_st.ok++;
		else
			pb_fail("BOUND: no binding sent (rate limit?)");
	}
}

static unsigned int prep_query(unsigned int n)
{
	struct pias_msg m;

	for (unsigned int k = 0; k < n; k++, rap_cursor++) {
		memset(&m, 0, sizeof(m));
		m.hdr.type = PIAS_MSG_QUERY;
		m.query.ta = tas[rap_cursor % par.tas];
		build_proxy(&m, iap_of(rap_cursor), &in[k]);
	}
	return n;
}

/* handle_proxy, then recv_one for QUERY: pias_rap_query, then the BINDING. */
static void run_query(unsigned int n)
{
	struct pias_err e;

	for (unsigned int k = 0; k < n; k++) {
		__u64 now;

		if (!recv_proxy(&replay, &in[k]))
			continue;
		now = rap_now();
		if (GROW_RUN(rap_acts,
			     pias_rap_query(&rap, rx_msg.hdr.sender_id, &rx_msg.query.ta, rtt_of,
					    NULL, randombytes_random(), now, &rap_acts, &e))) {
			pb_fail("QUERY: %s", e.msg);
			continue;
		}
		if (rap_apply() == 1)
			pb_st.ok++;
		else
			pb_fail("QUERY: no binding sent");
	}
}

/* ---- RAP tick alone: every group, nothing expiring ----------------------- */

static int setup_rap_tick(void)
{
	int err = setup_rap();

	if (err)
		return err;
	tick_now = pb_vnow();
	return 0;
}

static void run_rap_tick(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		unsigned long long w = pb_st.map_writes;

		rap_tick(tick_now);
		pb_st.ok += pb_st.map_writes == w;
	}
}

/* ---- RAP: REPORTs from the JAPs ------------------------------------------- */

/* Op c: JAP k = (c / tas) % JAPS_PER_TA of TA c % tas re-reports its count. */
static unsigned int prep_rap_report(unsigned int n)
{
	struct pias_msg m;

	for (unsigned int k = 0; k < n; k++, rap_cursor++) {
		unsigned int i = (unsigned int)(rap_cursor % par.tas);
		unsigned int j = (unsigned int)((rap_cursor / par.tas) % JAPS_PER_TA);

		memset(&m, 0, sizeof(m));
		m.hdr.type = PIAS_MSG_REPORT;
		m.report.ta = tas[i];
		m.report.count = 8u >> j;
		m.report.share = PIAS_RAP_SHARE_FULL;
		m.report.seq = ++report_seq;
		build_proxy(&m, jap_of(i, j), &in[k]);
	}
	return n;
}

/* handle_proxy, then recv_one for REPORT: pias_rap_report_ex, then its actions. */
static void run_rap_report(unsigned int n)
{
	struct pias_err e;

	for (unsigned int k = 0; k < n; k++) {
		__u64 now;

		if (!recv_proxy(&replay, &in[k]))
			continue;
		now = rap_now();
		if (GROW_RUN(rap_acts,
			     pias_rap_report_ex(
				     &rap, &rx_msg.report.ta, rx_msg.hdr.sender_id,
				     &(struct pias_rap_report_in){
					     .count = rx_msg.report.count,
					     .seq = rx_msg.report.seq,
					     .share = rx_msg.report.share,
					     .policy = rx_msg.report.policy,
					     .policy_serial = rx_msg.report.policy_serial },
				     rtt_of, NULL, now, &rap_acts, &e))) {
			pb_fail("REPORT: %s", e.msg);
			continue;
		}
		rap_apply();
		pb_st.ok++;
	}
}

/*
 * One TA served by WIDE_JAPS JAPs (ids 2.., counts 1-4): each op is the
 * next JAP's report, with a count that differs from its last one, so that
 * every report changes the group's weights.
 */
#define WIDE_JAPS 10000

static int setup_rap_wide(void)
{
	struct pias_err e;
	__u64 now;

	if (setup_rap())
		return -1;
	pias_rap_free(&rap);
	if (pias_rap_init(&rap, NULL, &e))
		goto fail;
	now = pb_vnow();
	for (__u32 j = 0; j < WIDE_JAPS; j++)
		if (GROW_RUN(rap_acts, pias_rap_report(&rap, &tas[0], 2 + j, 1 + j % 4, 1, now,
						       &rap_acts, &e)))
			goto fail;
	rap_cursor = 0;
	return 0;
fail:
	fprintf(stderr, "piasd-bench: wide RAP setup: %s\n", e.msg);
	return -1;
}

static unsigned int prep_rap_wide(unsigned int n)
{
	struct pias_msg m;

	for (unsigned int k = 0; k < n; k++, rap_cursor++) {
		__u32 j = (__u32)(rap_cursor % WIDE_JAPS);

		memset(&m, 0, sizeof(m));
		m.hdr.type = PIAS_MSG_REPORT;
		m.report.ta = tas[0];
		m.report.count = 1 + (j + 1 + (__u32)(rap_cursor / WIDE_JAPS) % 2) % 4;
		m.report.share = PIAS_RAP_SHARE_FULL;
		m.report.seq = ++report_seq;
		build_proxy(&m, 2 + j, &in[k]);
	}
	return n;
}

/* ---- IAP: BINDING from the RAP -------------------------------------------- */

static struct pias_iap iap;
static struct pias_iap_actions iap_acts;
static __u32 *generation; /* per TA: the last one the RAP sent */
static __u64 iap_last_tick;
static unsigned long long iap_cursor;

/* The RAP that answers for TA i: its first RAP on the ring that is not us. */
static __u32 rap_of_index(unsigned int i)
{
	struct pias_rap_slot s;
	int n = pias_ring_raps_of_ta(rap_table, &tas[i], &s);

	for (int k = 0; k < n; k++)
		if (s.rap[k] != SELF_ID)
			return s.rap[k];
	return 2;
}

/* proto.c's rap_of for pias_iap_tick. */
static __u32 rap_of(void *ctx, const struct pias_ta *ta)
{
	struct pias_rap_slot s;

	(void)ctx;
	return pias_ring_raps_of_ta(rap_table, ta, &s) > 0 ? s.rap[0] : 0;
}

static int iap_apply(void)
{
	int set = 0;

	for (size_t i = 0; i < iap_acts.n; i++) {
		switch (iap_acts.a[i].kind) {
		case PIAS_IAP_SEND_QUERY: {
			struct pias_msg m;

			memset(&m, 0, sizeof(m));
			m.hdr.type = PIAS_MSG_QUERY;
			m.query.ta = iap_acts.a[i].ta;
			send_proxy(&m);
			break;
		}
		case PIAS_IAP_BINDING_SET:
			set++;
			pb_st.map_writes++;
			break;
		case PIAS_IAP_BINDING_DEL:
			pb_st.map_writes++;
			break;
		}
	}
	return set;
}

/* proto.c's IAP tick: pias_iap_tick, then its actions; returns the QUERYs sent. */
static unsigned int iap_tick(__u64 now)
{
	unsigned int queries = 0;
	struct pias_err e;

	if (GROW_RUN(iap_acts, pias_iap_tick(&iap, now, rap_of, NULL, &iap_acts, &e))) {
		pb_fail("iap tick: %s", e.msg);
		return 0;
	}
	iap_apply();
	pb_st.ticks++;
	for (size_t i = 0; i < iap_acts.n; i++)
		queries += iap_acts.a[i].kind == PIAS_IAP_SEND_QUERY;
	return queries;
}

static __u64 life_default(unsigned int i)
{
	(void)i;
	return 300ull * 1000000000ull; /* binding_ttl_s default */
}

/*
 * Every TA bound once (generation 1) at now, TA i for life(i), as an IAP
 * (cfg, NULL: piasd's) serving all of them would be. 1: skipped (too slow
 * to fill).
 */
static int iap_fill(const struct pias_iap_config *cfg, __u64 (*life)(unsigned int i), __u64 now)
{
	struct pias_err e;

	if (skip_slow(iap_slow))
		return 1;
	pias_iap_free(&iap);
	pias_replay_free(&replay);
	pias_replay_init(&replay);
	free(generation);
	generation = calloc(par.tas, sizeof(*generation));
	if (!generation || pias_iap_init(&iap, cfg, &e))
		return -1;
	fill_begin();
	for (unsigned int i = 0; i < par.tas; i++) {
		generation[i] = 1;
		if (GROW_RUN(iap_acts,
			     pias_iap_binding(&iap, rap_of_index(i), &tas[i], jap_of(i, 0), 1,
					      life(i), now, &iap_acts, &e))) {
			fprintf(stderr, "piasd-bench: IAP setup: %s\n", e.msg);
			return -1;
		}
		if (i % 1024 == 1023 && fill_slow(iap_slow, sizeof(iap_slow), "IAP", i, par.tas))
			return 1;
	}
	return 0;
}

static int setup_iap(void)
{
	int err = iap_fill(NULL, life_default, pb_vnow());

	iap_last_tick = pb_vnow();
	return err;
}

/* Op c: the RAP of TA c % tas re-binds it with its next generation. */
static unsigned int prep_iap_binding(unsigned int n)
{
	struct pias_msg m;

	for (unsigned int k = 0; k < n; k++, iap_cursor++) {
		unsigned int i = (unsigned int)(iap_cursor % par.tas);

		memset(&m, 0, sizeof(m));
		m.hdr.type = PIAS_MSG_BINDING;
		m.binding.ta = tas[i];
		m.binding.jap_id = jap_of(i, (unsigned int)(iap_cursor % 3));
		m.binding.generation = ++generation[i];
		m.binding.lifetime_ms = 300000;
		build_proxy(&m, rap_of_index(i), &in[k]);
	}
	return n;
}

/* handle_proxy, then recv_one for BINDING: pias_iap_binding and its map write. */
static void run_iap_binding(unsigned int n)
{
	struct pias_err e;

	for (unsigned int k = 0; k < n; k++) {
		const struct pias_msg_binding *b = &rx_msg.binding;
		__u64 now, life;

		if (!recv_proxy(&replay, &in[k]))
			continue;
		now = pb_vnow();
		if (now - iap_last_tick >= TICK_NS) {
			iap_last_tick = now;
			iap_tick(now);
		}
		life = (__u64)b->lifetime_ms * 1000000ull;
		if (GROW_RUN(iap_acts,
			     pias_iap_binding(&iap, rx_msg.hdr.sender_id, &b->ta, b->jap_id,
					      b->generation, life, now, &iap_acts, &e))) {
			pb_fail("BINDING: %s", e.msg);
			continue;
		}
		if (iap_apply() == 1)
			pb_st.ok++;
		else
			pb_fail("BINDING: not installed");
	}
}

/* ---- IAP ticks: every TA bound; nothing due, or a few refreshes due ------- */

#define IAP_DUE 16 /* refreshes due per tick in iap_tick_due */

static struct pias_iap_actions answer_acts;
static unsigned int iap_slots; /* ticks per refresh cycle: TA i is due in tick i % slots */
static __u64 iap_tick_at;      /* iap_tick_due's clock: a tick every TICK_NS */
static __u32 iap_gen;	       /* the RAPs' generations: each answer newer */

static int setup_iap_tick(void)
{
	int err = iap_fill(NULL, life_default, pb_vnow());

	tick_now = pb_vnow();
	return err;
}

/* Nothing is due for minutes: the tick must do nothing. */
static void run_iap_tick(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++)
		pb_st.ok += !iap_tick(tick_now) && !iap_acts.n;
}

/*
 * Refreshed REFRESH_BEFORE before expiry, a binding installed at t for
 * x + REFRESH_BEFORE is due at t + x + 1: TA i halfway through tick
 * i % slots, so each tick finds tas / slots due (and none expires first).
 */
#define REFRESH_BEFORE (10 * 1000000000ull)

static __u64 life_due(unsigned int i)
{
	return (i % iap_slots) * TICK_NS + TICK_NS / 2 + REFRESH_BEFORE;
}

static int setup_iap_tick_due(void)
{
	struct pias_iap_config cfg = { .refresh_before_ns = REFRESH_BEFORE,
				       .query_retry_ns = PIAS_IAP_QUERY_RETRY_NS,
				       .max_pending = PIAS_IAP_MAX_PENDING };

	iap_slots = par.tas / IAP_DUE ? par.tas / IAP_DUE : 1;
	iap_tick_at = pb_vnow();
	iap_gen = 1;
	return iap_fill(&cfg, life_due, iap_tick_at);
}

/*
 * Outside the clock, the RAPs answer the last tick's QUERYs (the rest of
 * a refresh's cost is the iap_binding row's): each TA is due again one
 * cycle later, halfway through the tick.
 */
static unsigned int prep_iap_tick_due(unsigned int n)
{
	__u64 life = (__u64)iap_slots * TICK_NS - TICK_NS / 2 + REFRESH_BEFORE;
	struct pias_err e;

	(void)n;
	for (size_t i = 0; i < iap_acts.n; i++) {
		const struct pias_iap_action *a = &iap_acts.a[i];

		if (a->kind == PIAS_IAP_SEND_QUERY &&
		    GROW_RUN(answer_acts,
			     pias_iap_binding(&iap, a->rap_id, &a->ta, jap_of(0, 0), ++iap_gen,
					      life, iap_tick_at, &answer_acts, &e)))
			pb_fail("answering a refresh: %s", e.msg);
	}
	iap_acts.n = 0;
	return 1;
}

/* One tick, TICK_NS after the last: it sends the QUERYs of one tick's refreshes. */
static void run_iap_tick_due(unsigned int n)
{
	unsigned int want = par.tas / iap_slots;

	for (unsigned int k = 0; k < n; k++) {
		unsigned int q;

		iap_tick_at += TICK_NS;
		q = iap_tick(iap_tick_at);
		if (q == want || q == want + 1)
			pb_st.ok++;
		else
			pb_fail("iap tick: %u refreshes, %u due", q, want);
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

/* Everything freed and forgotten: pb_init may follow, for the next size. */
void pb_fini(void)
{
	if (udp_tx >= 0)
		close(udp_tx);
	if (udp_rx >= 0)
		close(udp_rx);
	udp_tx = udp_rx = -1;
	pias_jap_free(&jap);
	pias_rap_free(&rap);
	pias_iap_free(&iap);
	pias_replay_free(&replay);
	pias_ring_free(&ring);
	memset(&jap, 0, sizeof(jap));
	memset(&rap, 0, sizeof(rap));
	memset(&replay, 0, sizeof(replay));
	memset(&ring, 0, sizeof(ring));
	free(jap_acts.a);
	free(rap_acts.a);
	free(iap_acts.a);
	free(answer_acts.a);
	jap_acts = (struct pias_jap_actions){ 0 };
	rap_acts = (struct pias_rap_actions){ 0 };
	iap_acts = answer_acts = (struct pias_iap_actions){ 0 };
	free(target_seq);
	free(generation);
	free(tas);
	free(tokens);
	free(rap_table);
	free(in);
	free(events);
	target_seq = NULL;
	generation = NULL;
	tas = NULL;
	tokens = NULL;
	rap_table = NULL;
	in = NULL;
	events = NULL;
}

/* ---- the rows, in the order they run; "mac" first: every ratio is to it ---- */

/* A trial fill: at a size the JAP cannot hold, or too slow to fill, the row is skipped. */
static int setup_register_new(void)
{
	int err = jap_fill();

	return err ? err : jap_reset();
}

static int setup_bound(void)
{
	rap_cursor = 0;
	return setup_rap();
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
	  .what = "JAP: REGISTER of a new target -> REPORTs when due -> REG_ACK",
	  .kind = "path",
	  .scale = PB_SCALE_FLAT,
	  .setup = setup_register_new,
	  .begin_run = begin_register_new,
	  .prep = prep_register_new,
	  .run = run_register,
	  .round = jap_round },
	{ .name = "register_refresh",
	  .what = "JAP: REGISTER of a registered target (refresh) -> REG_ACK",
	  .kind = "path",
	  .scale = PB_SCALE_FLAT,
	  .setup = jap_fill,
	  .prep = prep_register_refresh,
	  .run = run_register_refresh },
	{ .name = "jap_refresh",
	  .what = "JAP registry alone: pias_jap_find + pias_jap_register of a registered target",
	  .kind = "diagnostic",
	  .setup = jap_fill,
	  .run = run_jap_refresh },
	{ .name = "bound",
	  .what = "RAP: dataplane BOUND event -> pias_rap_bound -> BINDING",
	  .kind = "path",
	  .scale = PB_SCALE_FLAT,
	  .setup = setup_bound,
	  .prep = prep_bound,
	  .run = run_bound },
	{ .name = "query",
	  .what = "RAP: QUERY datagram -> pias_rap_query -> BINDING",
	  .kind = "path",
	  .scale = PB_SCALE_FLAT,
	  .setup = setup_bound,
	  .prep = prep_query,
	  .run = run_query },
	{ .name = "rap_report",
	  .what = "RAP: REPORT datagram (a JAP's refresh) -> pias_rap_report_ex",
	  .kind = "path",
	  .setup = setup_bound,
	  .prep = prep_rap_report,
	  .run = run_rap_report },
	{ .name = "rap_report_wide",
	  .what = "RAP: REPORT changing a count in a group of 10,000 JAPs",
	  .kind = "path",
	  .setup = setup_rap_wide,
	  .prep = prep_rap_wide,
	  .run = run_rap_report },
	{ .name = "iap_binding",
	  .what = "IAP: BINDING datagram -> pias_iap_binding (install)",
	  .kind = "path",
	  .scale = PB_SCALE_FLAT,
	  .setup = setup_iap,
	  .prep = prep_iap_binding,
	  .run = run_iap_binding },
	{ .name = "jap_tick",
	  .what = "JAP: one pias_jap_tick over the full registry, nothing due",
	  .kind = "tick",
	  .scale = PB_SCALE_IDLE,
	  .setup = setup_jap_tick,
	  .run = run_jap_tick },
	{ .name = "rap_tick",
	  .what = "RAP: one pias_rap_tick over every group, nothing expiring",
	  .kind = "tick",
	  .scale = PB_SCALE_IDLE,
	  .setup = setup_rap_tick,
	  .run = run_rap_tick },
	{ .name = "iap_tick",
	  .what = "IAP: one pias_iap_tick over every cached TA, nothing due",
	  .kind = "tick",
	  .scale = PB_SCALE_IDLE,
	  .setup = setup_iap_tick,
	  .run = run_iap_tick },
	{ .name = "iap_tick_due",
	  .what = "IAP: one pias_iap_tick with 16 refreshes due (QUERYs encoded)",
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
