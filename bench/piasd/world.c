// SPDX-License-Identifier: MIT
/*
 * The proxy the rows run (world.h): piasd's node with an io table that
 * counts instead of doing I/O, the keys, TAs and targets of the overlay,
 * and the datagrams others send it. What piasd's edge does per message
 * and is not the node's is done here as net.c does it: the checks of a
 * received datagram, the header seq from the wall clock, the encoding and
 * MAC of every message sent (the "udp_loopback" row measures the
 * sendto/recvfrom pair on its own).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include <sodium.h>

#include "addr.h"
#include "coords.h"
#include "replay.h"
#include "world.h"

struct pb_stats pb_st;
struct pb_params pb_par;
struct pias_ta *pb_tas;
__u8 (*pb_tokens)[PIAS_KEY_LEN];
__u8 pb_group_key[PIAS_KEY_LEN];
struct pias_cookie_jar pb_cookies;
struct pias_net pb_prefix;
struct pias_msg pb_rx;
__u64 pb_peer_seq;
struct pb_sent pb_queries[PB_BATCH];
unsigned int pb_nqueries;

static __u8 overlay_key[PIAS_KEY_LEN];
static struct pias_keyring keys;
static struct pias_replay replay;
static __u64 self_seq;		       /* this proxy's header seqs (net.c's next_seq) */
static __u8 tx_buf[PIAS_MSG_VIEW_MAX]; /* what piasd keeps for sending (net.c) */
static struct pias_node *node;	       /* the row's */
static __u64 last_tick;

void pb_fail(const char *fmt, ...)
{
	va_list ap;

	if (pb_st.fail[0])
		return;
	va_start(ap, fmt);
	vsnprintf(pb_st.fail, sizeof(pb_st.fail), fmt, ap);
	va_end(ap);
}

__u64 pb_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

__u64 pb_next_seq(__u64 *last)
{
	__u64 now = pb_realtime();

	*last = now > *last ? now : *last + 1;
	return *last;
}

/* ---- the node's io: messages encoded and MACed, map writes counted -------- */

/* net.c's piasd_send, less the peer's address and the sendto(): key, sender, seq, encode. */
static void io_send(void *ctx, __u32 to, struct pias_msg *m)
{
	const __u8 *key = pias_keyring_send(&keys, &m->hdr.key_id);
	struct pias_err e;

	(void)ctx;
	if (m->hdr.type == PIAS_MSG_QUERY && pb_nqueries < PB_BATCH)
		pb_queries[pb_nqueries++] = (struct pb_sent){ .to = to, .ta = m->query.ta };
	m->hdr.sender_id = PB_SELF_ID;
	m->hdr.seq = pb_next_seq(&self_seq);
	if (pias_msg_encode(m, key, tx_buf, sizeof(tx_buf), &e) < 0) {
		pb_fail("encoding a %s: %s", pias_msg_type_name(m->hdr.type), e.msg);
		return;
	}
	pb_st.msgs++;
}

static int wrote(void)
{
	pb_st.map_writes++;
	return 0;
}

static int target_put(void *ctx, __u32 id, const struct pias_target *t, struct pias_err *e)
{
	(void)ctx, (void)id, (void)t, (void)e;
	return wrote();
}

static int target_del(void *ctx, __u32 id, struct pias_err *e)
{
	(void)ctx, (void)id, (void)e;
	return wrote();
}

static int tgtset_put(void *ctx, const struct pias_ta *ta, const __u32 *ids, const __u32 *weights,
		      size_t n, const struct pias_policy *policy, struct pias_err *e)
{
	(void)ctx, (void)ta, (void)ids, (void)weights, (void)n, (void)policy, (void)e;
	return wrote();
}

static int ta_del(void *ctx, const struct pias_ta *ta, struct pias_err *e)
{
	(void)ctx, (void)ta, (void)e;
	return wrote();
}

static int group_put(void *ctx, const struct pias_ta *ta, const struct pias_group *g,
		     struct pias_err *e)
{
	(void)ctx, (void)ta, (void)g, (void)e;
	return wrote();
}

static int binding_put(void *ctx, const struct pias_ta *ta, const struct pias_binding *b,
		       const struct pias_group *set, struct pias_err *e)
{
	(void)ctx, (void)ta, (void)b, (void)set, (void)e;
	return wrote();
}

static __u32 rand_u32(void *ctx)
{
	(void)ctx;
	return randombytes_random();
}

/* ---- the row's proxy ------------------------------------------------------ */

/* Proxy id's coordinate: every proxy on a plane of ~100 ms, for RTTs. */
static struct pias_coord coord_of(__u32 id)
{
	__u32 h = id * 2654435761u;

	return (struct pias_coord){
		.x = (float)(h % 50000), .y = (float)((h >> 16) % 50000), .h = 500.0f, .err = 0.2f
	};
}

/* Proxy id's overlay address: 192.0.2.0/24 and up, port 7000. */
static struct pias_peer peer_of(__u32 id)
{
	struct pias_peer p = { .family = PIAS_AF_INET, .port = 7000 };

	p.addr.v4 = htonl(0xc0000200u + id);
	return p;
}

/*
 * The ring as piasd learns it: PINGs from proxy 2 carrying every other
 * proxy's record (ALIVE, with its coordinate), then a tick that writes
 * the RAP table.
 */
static int learn_ring(struct pias_node *n)
{
	struct pias_msg *m = calloc(1, sizeof(*m));
	struct pias_peer from = peer_of(2);
	struct pias_err e;

	if (!m)
		return -ENOMEM;
	for (__u32 id = 2; id <= PB_NPROXIES;) {
		memset(m, 0, sizeof(*m));
		m->hdr.type = PIAS_MSG_PING;
		m->hdr.sender_id = 2;
		m->probe.target_id = PB_SELF_ID;
		m->probe.coord = coord_of(2);
		for (; id <= PB_NPROXIES && m->probe.n_updates < PIAS_MSG_MAX_UPDATES; id++) {
			struct pias_msg_member *r = &m->probe.updates[m->probe.n_updates++];
			struct pias_peer p = peer_of(id);

			*r = (struct pias_msg_member){ .id = id,
						       .incarnation = 1,
						       .state = PIAS_MEMBER_ALIVE,
						       .family = p.family,
						       .port = p.port,
						       .addr = p.addr,
						       .coord = coord_of(id) };
		}
		if (pias_node_recv(n, m, &from, pb_vnow(), &e)) {
			fprintf(stderr, "piasd-bench: membership: %s\n", e.msg);
			free(m);
			return -EINVAL;
		}
	}
	free(m);
	pias_node_tick(n, pb_vnow());
	if (n->ring.nproxies != PB_NPROXIES || !pias_node_ready(n) || n->ring_dirty) {
		fprintf(stderr, "piasd-bench: the ring has %zu proxies, not %d\n", n->ring.nproxies,
			PB_NPROXIES);
		return -EINVAL;
	}
	return 0;
}

const struct pias_rap_config pb_rap_config = {
	.binding_ttl_ns = PB_LIFE_NS,
	.negative_ttl_ns = PIAS_RAP_NEGATIVE_TTL_NS,
	.report_expiry_ns = PIAS_RAP_REPORT_EXPIRY_NS,
	.bind_interval_ns = PIAS_RAP_BIND_INTERVAL_NS,
	.alpha = 0.5, /* proximity_percent */
};

struct pias_node *pb_node_new(const struct pias_iap_config *iap, const struct pias_rap_config *rap)
{
	struct pias_peer self = peer_of(PB_SELF_ID);
	struct pias_node_config cfg = {
		.id = PB_SELF_ID,
		.self = self,
		.incarnation = 1,
		.seq_base = pb_realtime(),
		.rap_k = 3,		       /* piasd's default rap_replicas */
		.report_period_ns = ~0ull / 2, /* not within a row: see world.h */
		.jap = { .refresh_timeout_ns = 900ull * 1000000ull, /* target_timeout_ms */
			 .drain_timeout_ns = PIAS_JAP_DRAIN_TIMEOUT_NS,
			 .down_expire_ns = PIAS_JAP_DOWN_EXPIRE_NS,
			 .report_fraction = 0.25 }, /* report_threshold_percent */
		.rap = rap ? *rap : pb_rap_config,
		.members = { .probe_interval_ns = 3600ull * 1000000000ull,
			     .reconnect_ns = 3600ull * 1000000000ull },
		.iap = iap ? *iap : (struct pias_iap_config){ 0 },
	};
	/* no last_reply (the JAP tick's stats reads are left out), no conns, no log lines */
	struct pias_node_io io = {
		.send = io_send,
		.target_put = target_put,
		.target_del = target_del,
		.tgtset_put = tgtset_put,
		.tgtset_del = ta_del,
		.group_put = group_put,
		.group_del = ta_del,
		.binding_put = binding_put,
		.binding_del = ta_del,
		.rand = rand_u32,
	};
	struct pias_err e;

	pb_node_free();
	node = calloc(1, sizeof(*node));
	if (!node)
		return NULL;
	if (pias_node_init(node, &cfg, &io, NULL, 0, pb_vnow(), &e)) {
		fprintf(stderr, "piasd-bench: the node: %s\n", e.msg);
		pb_node_free();
		return NULL;
	}
	if (learn_ring(node)) {
		pb_node_free();
		return NULL;
	}
	last_tick = pb_vnow();
	pb_replay_reset();
	return node;
}

void pb_node_free(void)
{
	if (!node)
		return;
	pias_node_free(node);
	free(node);
	node = NULL;
}

__u64 pb_now(void)
{
	__u64 now = pb_vnow();

	if (now - last_tick >= PB_TICK_NS) {
		last_tick = now;
		pias_node_tick(node, now);
		pb_st.ticks++;
	}
	return now;
}

/* ---- datagrams in --------------------------------------------------------- */

int pb_build(struct pias_msg *m, const __u8 *key, struct pb_dgram *d)
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

int pb_build_proxy(struct pias_msg *m, __u32 sender, struct pb_dgram *d)
{
	m->hdr.sender_id = sender;
	m->hdr.key_id = 1;
	m->hdr.seq = pb_next_seq(&pb_peer_seq);
	return pb_build(m, overlay_key, d);
}

void pb_replay_reset(void)
{
	pias_replay_free(&replay);
	pias_replay_init(&replay);
}

bool pb_recv_proxy(const struct pb_dgram *d)
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
	if (h.sender_id == PB_SELF_ID) {
		pb_fail("datagram from ourselves");
		return false;
	}
	if ((!pias_replay_known(&replay, h.sender_id) &&
	     !pias_fresh_timestamp(h.seq, pb_realtime(), PIAS_REPLAY_FRESH_NS)) ||
	    !pias_replay_check_and_record(&replay, h.sender_id, h.seq)) {
		pb_fail("replay check refused seq %llu from %u", (unsigned long long)h.seq,
			h.sender_id);
		return false;
	}
	if (pias_msg_decode(d->buf, d->len, &pb_rx, &e)) {
		pb_fail("decode: %s", e.msg);
		return false;
	}
	return true;
}

int pb_node_recv(struct pias_node *n, __u64 now)
{
	struct pias_peer from = peer_of(pb_rx.hdr.sender_id);
	struct pias_err e;
	int err = pias_node_recv(n, &pb_rx, &from, now, &e);

	if (err)
		pb_fail("%s: %s", pias_msg_type_name(pb_rx.hdr.type), e.msg);
	return err;
}

void pb_token_of(const struct pias_ta *ta, __u8 token[PIAS_KEY_LEN])
{
	static struct pias_ta last_ta;
	static __u8 last[PIAS_KEY_LEN];
	static bool valid;

	if (!valid || memcmp(&last_ta, ta, sizeof(*ta))) {
		pias_token_derive(pb_group_key, ta, last);
		last_ta = *ta;
		valid = true;
	}
	memcpy(token, last, PIAS_KEY_LEN);
}

void pb_send_target(struct pias_msg *m, const struct pias_ta *ta)
{
	__u8 token[PIAS_KEY_LEN], buf[PIAS_MSG_MAX];
	struct pias_err e;

	pb_token_of(ta, token);
	m->hdr.sender_id = 0;
	m->hdr.key_id = 0;
	m->hdr.seq = pb_next_seq(&self_seq);
	if (pias_msg_encode(m, token, buf, sizeof(buf), &e) < 0) {
		pb_fail("encoding a %s: %s", pias_msg_type_name(m->hdr.type), e.msg);
		return;
	}
	pb_st.msgs++;
}

/* ---- the world: TAs, targets, keys ---------------------------------------- */

/* TA i: UDP 198.51.100.(1 + i % 254) port 1024 + i / 254, inside the prefix. */
static void ta_make(unsigned int i, struct pias_ta *ta)
{
	memset(ta, 0, sizeof(*ta));
	ta->addr.v4 = htonl(0xc6336400u | (1 + i % 254));
	ta->port = (__u16)(1024 + i / 254);
	ta->proto = 17;
	ta->family = PIAS_AF_INET;
}

__be32 pb_target_addr(unsigned int i, unsigned int j)
{
	return htonl(0x0a000000u | ((i * PIAS_JAP_GROUP_MAX_TARGETS + j + 1) & 0xffffffu));
}

int pb_init(const struct pb_params *p)
{
	__u8 secret[PIAS_COOKIE_SECRET_LEN];
	struct pias_err e;

	pb_par = *p;
	pb_tas = calloc(pb_par.tas, sizeof(*pb_tas));
	pb_tokens = calloc(pb_par.tas, sizeof(*pb_tokens));
	if (!pb_tas || !pb_tokens) {
		fprintf(stderr, "piasd-bench: out of memory\n");
		return -ENOMEM;
	}
	pias_key_generate(overlay_key);
	pias_key_generate(pb_group_key);
	keys.n = 1;
	keys.keys[0].id = 1;
	memcpy(keys.keys[0].key, overlay_key, PIAS_KEY_LEN);
	keys.send_id = 1;
	if (pias_net_parse("198.51.100.0/24", &pb_prefix, &e)) {
		fprintf(stderr, "piasd-bench: setup: %s\n", e.msg);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < pb_par.tas; i++) {
		ta_make(i, &pb_tas[i]);
		pias_token_derive(pb_group_key, &pb_tas[i], pb_tokens[i]);
	}
	randombytes_buf(secret, sizeof(secret));
	pias_cookie_rotate(&pb_cookies, 0, secret);
	self_seq = pb_peer_seq = pb_realtime();
	pias_replay_init(&replay);
	return pb_rows_init();
}

/* Everything freed and forgotten: pb_init may follow, for the next size. */
void pb_fini(void)
{
	pb_rows_fini();
	pb_node_free();
	pias_replay_free(&replay);
	memset(&replay, 0, sizeof(replay));
	free(pb_tas);
	free(pb_tokens);
	pb_tas = NULL;
	pb_tokens = NULL;
}
