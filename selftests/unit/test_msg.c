// SPDX-License-Identifier: MIT
/* daemon/msg: the control message codec (docs/protocol.md section 6). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include <pias/maps.h>

#include "msg.h"
#include "unit.h"

#define HDR	 PIAS_MSG_HDR_LEN
#define MAC	 PIAS_MSG_MAC_LEN
#define MEMBER	 44 /* wire size of a member record */
#define BUF_SIZE (PIAS_MSG_VIEW_MAX + 64)

static const __u8 key1[PIAS_KEY_LEN] = { 1,  2,	 3,  4,	 5,  6,	 7,  8,	 9,  10, 11,
					 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
					 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const __u8 key2[PIAS_KEY_LEN] = { 1,  2,	 3,  4,	 5,  6,	 7,  8,	 9,  10, 11,
					 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
					 23, 24, 25, 26, 27, 28, 29, 30, 31, 33 };

static const __u8 all_types[] = {
	PIAS_MSG_PING,	     PIAS_MSG_ACK,	  PIAS_MSG_PING_REQ,	  PIAS_MSG_VIEW_REQ,
	PIAS_MSG_VIEW,	     PIAS_MSG_REPORT,	  PIAS_MSG_QUERY,	  PIAS_MSG_BINDING,
	PIAS_MSG_INVALIDATE, PIAS_MSG_REGISTER,	  PIAS_MSG_LEAVE,	  PIAS_MSG_REG_ACK,
	PIAS_MSG_REG_NACK,   PIAS_MSG_REG_COOKIE, PIAS_MSG_CONN_QUERY,	  PIAS_MSG_FLOW_PIN,
	PIAS_MSG_REPORTS,    PIAS_MSG_REG_BATCH,  PIAS_MSG_REG_BATCH_ACK,
};
#define N_TYPES	   (sizeof(all_types) / sizeof(all_types[0]))
#define N_VARIANTS 3

/* Messages are big (a VIEW page is 14 KiB): keep them off the stack. */
static struct pias_msg *new_msg(void)
{
	struct pias_msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	return m;
}

static void set_ta(struct pias_ta *ta, int variant)
{
	memset(ta, 0, sizeof(*ta));
	if (variant == 1) {
		ta->family = PIAS_AF_INET6;
		memset(ta->addr.bytes, 0xff, 16);
		ta->proto = PIAS_PROTO_TCP;
		ta->port = 65535;
	} else {
		ta->family = PIAS_AF_INET;
		ta->addr.bytes[0] = variant ? 203 : 0;
		ta->addr.bytes[3] = variant ? 255 : 0;
		ta->proto = PIAS_PROTO_UDP;
		ta->port = 1;
	}
}

static void set_coord(struct pias_coord *c, int variant, unsigned int i)
{
	switch (variant) {
	case 0:
		*c = (struct pias_coord){ 0.0f, -0.0f, 0.0f, 0.0f };
		break;
	case 1:
		*c = (struct pias_coord){ FLT_MAX, -FLT_MAX, FLT_TRUE_MIN, -FLT_MIN };
		break;
	default:
		*c = (struct pias_coord){ 1.5f * i, -2.25f * i, 0.125f, 1.5f };
	}
}

static void set_member(struct pias_msg_member *mb, int variant, unsigned int i)
{
	memset(mb, 0, sizeof(*mb));
	mb->id = variant == 1 ? PIAS_MAX_PROXIES - 1 - i : 1 + i;
	mb->incarnation = variant == 1 ? UINT32_MAX - i : i;
	mb->state = PIAS_MEMBER_ALIVE + i % 4;
	mb->port = variant == 1 ? 65535 : (__u16)i;
	if (i % 2) {
		mb->family = PIAS_AF_INET6;
		memset(mb->addr.bytes, 0xa0 + (i & 0xf), 16);
	} else {
		mb->family = PIAS_AF_INET;
		mb->addr.bytes[0] = 10;
		mb->addr.bytes[3] = (__u8)i;
	}
	set_coord(&mb->coord, variant, i);
}

/* A REPORT's fields, alone or as an entry of a REPORTS; variants as build's. */
static void set_report(struct pias_msg_report *r, int variant)
{
	memset(r, 0, sizeof(*r));
	set_ta(&r->ta, variant);
	r->count = variant == 1 ? UINT32_MAX : 0;
	r->seq = variant == 1 ? UINT64_MAX : 0;
	r->share = variant == 1 ? PIAS_SHARE_FULL : variant ? 250 : 0;
	if (variant == 1) {
		r->policy = (struct pias_policy){ .kind = PIAS_POLICY_SCOPED,
						  .scope_len = 128,
						  .flags = PIAS_POLICY_F_STRICT };
		/* every prefix a report may carry, full length */
		r->n_scopes = PIAS_GROUP_SCOPES;
		for (unsigned int i = 0; i < PIAS_GROUP_SCOPES; i++)
			memset(r->scopes[i].bytes, 0xf0 + (int)i, 16);
	} else if (variant) {
		r->policy.kind = PIAS_POLICY_RANDOM;
	}
	r->policy_serial = variant == 1 ? UINT32_MAX : (__u32)variant;
}

/*
 * m of type with extreme values: variant 0 the smallest of everything,
 * 1 the largest, 2 a mix (IPv4, negative binding, half-full lists).
 */
static void build(struct pias_msg *m, __u8 type, int variant)
{
	unsigned int i, n;

	memset(m, 0, sizeof(*m));
	m->hdr.type = type;
	m->hdr.seq = variant == 1 ? UINT64_MAX : variant ? 1700000000123456789ull : 1;
	if (!pias_msg_is_target(type)) {
		m->hdr.sender_id = variant == 1 ? PIAS_MAX_PROXIES - 1 : 1;
		m->hdr.key_id = variant == 1 ? UINT32_MAX : 1;
	}
	switch (type) {
	case PIAS_MSG_PING:
	case PIAS_MSG_ACK:
	case PIAS_MSG_PING_REQ:
		m->probe.probe_seq = variant == 1 ? UINT32_MAX : (__u32)variant;
		m->probe.target_id = variant == 1 ? PIAS_MAX_PROXIES - 1 : 1;
		m->probe.origin_id = variant == 1 ? PIAS_MAX_PROXIES - 1 : 0;
		set_coord(&m->probe.coord, variant, 3);
		n = variant == 1 ? PIAS_MSG_MAX_UPDATES : variant ? 7 : 0;
		m->probe.n_updates = n;
		for (i = 0; i < n; i++)
			set_member(&m->probe.updates[i], variant, i);
		break;
	case PIAS_MSG_VIEW_REQ:
		m->view_req.offset = variant == 1 ? UINT32_MAX : (__u32)variant;
		break;
	case PIAS_MSG_VIEW:
		n = variant == 1 ? PIAS_MSG_VIEW_PAGE : variant ? 100 : 0;
		m->view.n = n;
		m->view.total = variant == 1 ? PIAS_MAX_PROXIES - 1 : variant ? 300 : 0;
		m->view.offset = m->view.total - n;
		for (i = 0; i < n; i++)
			set_member(&m->view.members[i], variant, i);
		break;
	case PIAS_MSG_REPORT:
		set_report(&m->report, variant);
		break;
	case PIAS_MSG_REPORTS:
		/* 1: the most entries (unscoped, at their widest); 2: one of each kind */
		n = variant == 1 ? PIAS_MSG_REPORTS_MAX : variant ? 3 : 1;
		m->reports.n = n;
		for (i = 0; i < n; i++) {
			set_report(&m->reports.r[i], variant == 1 ? 1 : (int)i % N_VARIANTS);
			if (variant == 1) {
				m->reports.r[i].n_scopes = 0;
				memset(m->reports.r[i].scopes, 0, sizeof(m->reports.r[i].scopes));
				m->reports.r[i].policy = (struct pias_policy){ 0 };
				m->reports.r[i].seq -= i;
			}
		}
		break;
	case PIAS_MSG_REG_BATCH:
		n = variant == 1 ? PIAS_MSG_BATCH_MAX : variant ? 5 : 1;
		m->batch.jap_id = variant == 1 ? PIAS_MAX_PROXIES - 1 : variant ? 7 : 1;
		m->batch.n = n;
		for (i = 0; i < n; i++) {
			set_ta(&m->batch.e[i].ta, variant == 1 ? 1 : (int)i % N_VARIANTS);
			m->batch.e[i].target_id = variant == 1 ? PIAS_MAX_TARGETS - 1 - i : i + 1;
			memset(m->batch.e[i].tag, variant == 1 ? 0xff : (int)(0x10 * variant + i),
			       PIAS_MSG_TAG_LEN);
		}
		break;
	case PIAS_MSG_REG_BATCH_ACK:
		n = variant == 1 ? PIAS_MSG_BATCH_MAX : variant ? 4 : 1;
		m->batch_ack.echo_seq = variant == 1 ? UINT64_MAX : (__u64)variant;
		m->batch_ack.refresh_ms = variant == 1 ? UINT32_MAX : 900 * (__u32)variant;
		m->batch_ack.n = n;
		for (i = 0; i < n; i++) {
			m->batch_ack.e[i].status = PIAS_BATCH_OK + i % 4;
			memset(m->batch_ack.e[i].tag,
			       variant == 1 ? 0xff : (int)(0x20 * variant + i), PIAS_MSG_TAG_LEN);
		}
		break;
	case PIAS_MSG_QUERY:
		set_ta(&m->query.ta, variant);
		break;
	case PIAS_MSG_BINDING:
		set_ta(&m->binding.ta, variant);
		m->binding.generation = variant == 1 ? UINT32_MAX : 0;
		m->binding.lifetime_ms = variant == 1 ? UINT32_MAX : 0;
		if (variant == 2) {
			m->binding.flags = PIAS_MSG_BINDING_F_NEGATIVE;
		} else {
			m->binding.jap_id = variant == 1 ? PIAS_MAX_PROXIES - 1 : 1;
		}
		/* the widest: a set of every JAP a group holds */
		if (variant == 1) {
			m->binding.flags = PIAS_MSG_BINDING_F_SET;
			m->binding.policy = (struct pias_policy){ .kind = PIAS_POLICY_SCOPED,
								  .scope_len = 120 };
			m->binding.n_japs = PIAS_GROUP_MAX_JAPS;
			for (i = 0; i < PIAS_GROUP_MAX_JAPS; i++)
				m->binding.japs[i] =
					(struct pias_group_jap){ .jap_id = PIAS_MAX_PROXIES - 1 - i,
								 .weight = UINT32_MAX - i };
			/* every prefix a set may carry: /120s, naming all the JAPs */
			m->binding.n_scopes = PIAS_GROUP_SCOPES;
			for (i = 0; i < PIAS_GROUP_SCOPES; i++) {
				memset(m->binding.scopes[i].prefix.bytes, 0x20 + (int)i, 15);
				m->binding.scopes[i].japs = 0xffff;
			}
		}
		break;
	case PIAS_MSG_INVALIDATE:
		set_ta(&m->inval.ta, variant);
		m->inval.generation = variant == 1 ? UINT32_MAX : 0;
		break;
	case PIAS_MSG_CONN_QUERY:
		set_ta(&m->cq.ta, variant);
		if (variant == 1)
			memset(m->cq.client.bytes, 0xfe, 16);
		else
			m->cq.client.bytes[0] = 192;
		m->cq.client_port = variant == 1 ? 65535 : 1;
		m->cq.flags = variant == 1 ? PIAS_MSG_CQ_F_FORWARDED : 0;
		m->cq.iap_id = variant == 1 ? PIAS_MAX_PROXIES - 1 : 1;
		m->cq.asker_id = variant == 1 ? PIAS_MAX_PROXIES - 1 : 2;
		break;
	case PIAS_MSG_FLOW_PIN:
		set_ta(&m->pin.ta, variant);
		/* variant 1: the most flows, IPv6; others: a few IPv4 */
		m->pin.n = variant == 1 ? PIAS_MSG_PIN_MAX : (__u32)variant + 1;
		for (__u32 i = 0; i < m->pin.n; i++) {
			if (variant == 1)
				memset(m->pin.flows[i].client.bytes, (int)i + 1, 16);
			else
				m->pin.flows[i].client.bytes[3] = (__u8)(i + 1);
			m->pin.flows[i].client_port = (__u16)(variant == 2 ? i + 1 : 40000 + i);
			m->pin.flows[i].ct = variant == 1 ? PIAS_CT_KNOWN : (__u8)i;
		}
		break;
	case PIAS_MSG_REGISTER:
	case PIAS_MSG_LEAVE:
		set_ta(&m->reg.ta, variant);
		m->reg.family = variant == 1 ? PIAS_AF_INET6 : PIAS_AF_INET;
		if (variant == 1)
			memset(m->reg.addr.bytes, 0xfe, 16);
		else
			m->reg.addr.bytes[0] = 192;
		m->reg.port = variant == 1 ? 65535 : 0;
		m->reg.flags = variant == 1 ? PIAS_MSG_REG_F_TUNNEL : 0;
		m->reg.weight = variant == 1 ? UINT32_MAX : (__u32)variant;
		if (variant)
			memset(m->reg.cookie, variant == 1 ? 0xff : 0x5a, sizeof(m->reg.cookie));
		/* every field of the policy at its widest, and a plain one */
		if (variant == 1)
			m->reg.policy = (struct pias_policy){ .kind = PIAS_POLICY_SCOPED,
							      .scope_len = 128,
							      .flags = PIAS_POLICY_F_STRICT };
		else if (variant)
			m->reg.policy = (struct pias_policy){ .kind = PIAS_POLICY_REPLICATE,
							      .copies = PIAS_REPLICATE_MAX };
		m->reg.policy_serial = variant == 1 ? UINT32_MAX : (__u32)variant;
		break;
	case PIAS_MSG_REG_ACK:
		set_ta(&m->ack.ta, variant);
		m->ack.jap_id = variant == 1 ? PIAS_MAX_PROXIES - 1 : 1;
		m->ack.target_id = variant == 1 ? PIAS_MAX_TARGETS - 1 : 1;
		m->ack.refresh_ms = variant == 1 ? UINT32_MAX : 0;
		m->ack.echo_seq = variant == 1 ? UINT64_MAX : 0;
		if (variant == 1) { /* tunnel mode: the JAP's endpoint */
			m->ack.tun_family = PIAS_AF_INET6;
			m->ack.tun_port = 65535;
			memset(m->ack.tun_addr.bytes, 0xfe, 16);
			m->ack.tun_tag = 0x0123456789abcdefull;
		}
		break;
	case PIAS_MSG_REG_NACK:
		set_ta(&m->nack.ta, variant);
		m->nack.code = variant == 1 ? PIAS_NACK_NOT_SERVING : PIAS_NACK_BAD_TOKEN;
		m->nack.echo_seq = variant == 1 ? UINT64_MAX : 0;
		if (variant == 1)
			memset(m->nack.text, 'x', PIAS_MSG_TEXT_LEN - 1);
		else if (variant == 2)
			strcpy(m->nack.text, "no room for another target");
		break;
	case PIAS_MSG_REG_COOKIE:
		set_ta(&m->cookie.ta, variant);
		m->cookie.echo_seq = variant == 1 ? UINT64_MAX : (__u64)variant;
		m->cookie.jap_id = variant == 1 ? PIAS_MAX_PROXIES - 1 : 1;
		memset(m->cookie.cookie, variant == 1 ? 0xff : 0x11 * variant,
		       sizeof(m->cookie.cookie));
		break;
	}
}

static int encode_ok(const struct pias_msg *m, __u8 *buf)
{
	struct pias_err e = {};
	int len = pias_msg_encode(m, key1, buf, BUF_SIZE, &e);

	if (len < 0)
		fail_msg("encode %s: %d %s", pias_msg_type_name(m->hdr.type), len, e.msg);
	return len;
}

/* A valid datagram of type (variant 1: the largest) into buf; its length. */
static int datagram(__u8 type, int variant, __u8 *buf)
{
	struct pias_msg *m = new_msg();
	int len;

	build(m, type, variant);
	len = encode_ok(m, buf);
	free(m);
	return len;
}

static void put_be16(__u8 *p, unsigned int v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put_be32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Decoding buf must fail with -EBADMSG and a message containing want. */
static void assert_bad(const __u8 *buf, size_t len, const char *want)
{
	struct pias_msg *m = new_msg();
	struct pias_err e = {};

	assert_int_equal(pias_msg_decode(buf, len, m, &e), -EBADMSG);
	assert_msg_has(e.msg, want);
	free(m);
}

static void test_roundtrip(void **state)
{
	struct pias_msg *m = new_msg(), *d = new_msg();
	static __u8 buf[BUF_SIZE], buf2[BUF_SIZE];
	struct pias_msg_hdr h;
	struct pias_err e = {};
	size_t t;
	int v, len, len2;

	(void)state;
	for (t = 0; t < N_TYPES; t++) {
		for (v = 0; v < N_VARIANTS; v++) {
			build(m, all_types[t], v);
			len = encode_ok(m, buf);
			assert_true(len >= HDR + MAC);
			assert_true(len <= (all_types[t] == PIAS_MSG_VIEW ? PIAS_MSG_VIEW_MAX
									  : PIAS_MSG_MAX));
			assert_true(pias_msg_mac_ok(buf, len, key1));

			assert_int_equal(pias_msg_header(buf, len, &h, &e), 0);
			assert_int_equal(h.version, PIAS_MSG_VERSION);
			assert_int_equal(h.type, all_types[t]);
			assert_int_equal(h.body_len, len - HDR - MAC);
			assert_int_equal(h.sender_id, m->hdr.sender_id);
			assert_int_equal(h.key_id, m->hdr.key_id);
			assert_true(h.seq == m->hdr.seq);

			if (pias_msg_decode(buf, len, d, &e))
				fail_msg("decode %s variant %d: %s",
					 pias_msg_type_name(all_types[t]), v, e.msg);
			assert_int_equal(d->hdr.version, PIAS_MSG_VERSION);
			assert_int_equal(d->hdr.body_len, len - HDR - MAC);
			assert_int_equal(d->hdr.type, m->hdr.type);
			assert_int_equal(d->hdr.sender_id, m->hdr.sender_id);
			assert_int_equal(d->hdr.key_id, m->hdr.key_id);
			assert_true(d->hdr.seq == m->hdr.seq);
			/* Every body field, bit for bit (floats included, -0.0 too). */
			if (memcmp(&d->probe, &m->probe,
				   sizeof(*m) - offsetof(struct pias_msg, probe)))
				fail_msg("%s variant %d: decoded body differs",
					 pias_msg_type_name(all_types[t]), v);
			/* And back to the same bytes. */
			len2 = encode_ok(d, buf2);
			assert_int_equal(len2, len);
			assert_memory_equal(buf2, buf, len);
		}
	}
	free(m);
	free(d);
}

/* Fixed wire sizes: the tables of docs/protocol.md section 6. */
static void test_wire_sizes(void **state)
{
	static __u8 buf[BUF_SIZE];
	static const struct {
		__u8 type;
		int body;
	} sizes[] = {
		{ PIAS_MSG_PING, 32 },		{ PIAS_MSG_VIEW_REQ, 4 },
		{ PIAS_MSG_REPORT, 44 },	{ PIAS_MSG_QUERY, 20 },
		{ PIAS_MSG_BINDING, 36 },	{ PIAS_MSG_INVALIDATE, 24 },
		{ PIAS_MSG_REGISTER, 68 },	{ PIAS_MSG_LEAVE, 68 },
		{ PIAS_MSG_REG_ACK, 40 },	{ PIAS_MSG_REG_NACK, 32 },
		{ PIAS_MSG_REG_COOKIE, 48 },	{ PIAS_MSG_CONN_QUERY, 48 },
		{ PIAS_MSG_FLOW_PIN, 24 + 20 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		assert_int_equal(datagram(sizes[i].type, 0, buf), HDR + sizes[i].body + MAC);
	assert_int_equal(datagram(PIAS_MSG_PING, 1, buf),
			 HDR + 32 + PIAS_MSG_MAX_UPDATES * MEMBER + MAC);
	/* a binding to a set: policy, n, n_scopes, 8 bytes per JAP, 20 per prefix */
	assert_int_equal(datagram(PIAS_MSG_BINDING, 1, buf),
			 HDR + 36 + 8 + 8 * PIAS_GROUP_MAX_JAPS + 20 * PIAS_GROUP_SCOPES + MAC);
	/* a report of a scoped group: 16 bytes per prefix */
	assert_int_equal(datagram(PIAS_MSG_REPORT, 1, buf),
			 HDR + 44 + 16 * PIAS_GROUP_SCOPES + MAC);
	/* a tunnel-mode target's REG_ACK carries the JAP's tunnel endpoint and tag */
	assert_int_equal(datagram(PIAS_MSG_REG_ACK, 1, buf), HDR + 68 + MAC);
	/* a FLOW_PIN: 20 bytes per flow, the most still fits PIAS_MSG_MAX */
	assert_int_equal(datagram(PIAS_MSG_FLOW_PIN, 1, buf),
			 HDR + 24 + 20 * PIAS_MSG_PIN_MAX + MAC);
	assert_true(datagram(PIAS_MSG_FLOW_PIN, 1, buf) <= PIAS_MSG_MAX);
	/* REPORTS: n and reserved, then REPORTs; the most unscoped ones fit PIAS_MSG_MAX */
	assert_int_equal(datagram(PIAS_MSG_REPORTS, 0, buf), HDR + 4 + 44 + MAC);
	assert_int_equal(datagram(PIAS_MSG_REPORTS, 1, buf),
			 HDR + 4 + 44 * PIAS_MSG_REPORTS_MAX + MAC);
	assert_true(datagram(PIAS_MSG_REPORTS, 1, buf) <= PIAS_MSG_MAX);
	assert_int_equal(datagram(PIAS_MSG_REPORTS, 2, buf),
			 HDR + 4 + 44 + (44 + 16 * PIAS_GROUP_SCOPES) + 44 + MAC);
	/* REG_BATCH: jap_id, n, reserved; 40 bytes per entry (TA, target id, tag) */
	assert_int_equal(datagram(PIAS_MSG_REG_BATCH, 0, buf), HDR + 8 + 40 + MAC);
	assert_int_equal(datagram(PIAS_MSG_REG_BATCH, 1, buf),
			 HDR + 8 + 40 * PIAS_MSG_BATCH_MAX + MAC);
	assert_true(datagram(PIAS_MSG_REG_BATCH, 1, buf) <= PIAS_MSG_MAX);
	/* its answer: echo_seq, refresh_ms, n, reserved; 20 bytes per entry; never larger */
	assert_int_equal(datagram(PIAS_MSG_REG_BATCH_ACK, 0, buf), HDR + 16 + 20 + MAC);
	assert_int_equal(datagram(PIAS_MSG_REG_BATCH_ACK, 1, buf),
			 HDR + 16 + 20 * PIAS_MSG_BATCH_MAX + MAC);
	for (int v = 0; v < 2; v++)
		assert_true(datagram(PIAS_MSG_REG_BATCH_ACK, v, buf) <=
			    datagram(PIAS_MSG_REG_BATCH, v, buf));
	/* a NACK's text (at most 95 bytes) follows the fixed part */
	assert_int_equal(datagram(PIAS_MSG_REG_NACK, 1, buf), HDR + 32 + 95 + MAC);
	assert_int_equal(datagram(PIAS_MSG_REG_NACK, 2, buf), HDR + 32 + 26 + MAC);
	/* what a JAP sends to a sender it has not verified is no larger than a REGISTER */
	assert_true(datagram(PIAS_MSG_REG_NACK, 0, buf) <= datagram(PIAS_MSG_REGISTER, 0, buf));
	assert_true(datagram(PIAS_MSG_REG_COOKIE, 0, buf) <= datagram(PIAS_MSG_REGISTER, 0, buf));
	/* Byte order of the header: big-endian. */
	assert_int_equal(datagram(PIAS_MSG_PING, 1, buf), 968);
	assert_int_equal(buf[0], 1);
	assert_int_equal(buf[1], PIAS_MSG_PING);
	assert_int_equal(buf[2] << 8 | buf[3], 968 - HDR - MAC);
	assert_int_equal(buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7], PIAS_MAX_PROXIES - 1);
	assert_int_equal(buf[8] & buf[9] & buf[10] & buf[11], 0xff);
	assert_int_equal(buf[12] | buf[13] | buf[14] | buf[15], 0); /* reserved */
	assert_int_equal(buf[16] & buf[17] & buf[18] & buf[19] & buf[20] & buf[21] & buf[22] &
				 buf[23],
			 0xff); /* seq UINT64_MAX */
	assert_int_equal(datagram(PIAS_MSG_PING, 2, buf), HDR + 32 + 7 * MEMBER + MAC);
	assert_int_equal(buf[16], 1700000000123456789ull >> 56);
	assert_int_equal(buf[23], 1700000000123456789ull & 0xff);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(pias_msg_type_name(PIAS_MSG_PING), "PING");
	assert_string_equal(pias_msg_type_name(PIAS_MSG_VIEW), "VIEW");
	assert_string_equal(pias_msg_type_name(PIAS_MSG_INVALIDATE), "INVALIDATE");
	assert_string_equal(pias_msg_type_name(PIAS_MSG_REG_NACK), "REG_NACK");
	assert_string_equal(pias_msg_type_name(PIAS_MSG_REG_COOKIE), "REG_COOKIE");
	assert_string_equal(pias_msg_type_name(PIAS_MSG_CONN_QUERY), "CONN_QUERY");
	assert_string_equal(pias_msg_type_name(PIAS_MSG_FLOW_PIN), "FLOW_PIN");
	assert_string_equal(pias_msg_type_name(PIAS_MSG_REPORTS), "REPORTS");
	assert_string_equal(pias_msg_type_name(PIAS_MSG_REG_BATCH), "REG_BATCH");
	assert_string_equal(pias_msg_type_name(PIAS_MSG_REG_BATCH_ACK), "REG_BATCH_ACK");
	assert_true(pias_msg_is_target(PIAS_MSG_REG_BATCH));
	assert_true(pias_msg_is_target(PIAS_MSG_REG_BATCH_ACK));
	assert_false(pias_msg_is_target(PIAS_MSG_REPORTS));
	assert_false(pias_msg_is_target(PIAS_MSG_REG_BATCH_ACK + 1));
	assert_string_equal(pias_msg_type_name(0), "unknown");
	assert_string_equal(pias_msg_type_name(6), "unknown");
	assert_string_equal(pias_msg_type_name(255), "unknown");
}

/* Any single bit flipped anywhere (header, body, MAC) fails the MAC. */
static void test_mac_bit_flips(void **state)
{
	static const __u8 types[] = { PIAS_MSG_PING, PIAS_MSG_VIEW, PIAS_MSG_REGISTER,
				      PIAS_MSG_REG_NACK };
	static __u8 buf[BUF_SIZE];
	size_t t, bit;
	int len;

	(void)state;
	for (t = 0; t < sizeof(types); t++) {
		len = datagram(types[t], types[t] == PIAS_MSG_VIEW ? 2 : 1, buf);
		for (bit = 0; bit < (size_t)len * 8; bit++) {
			buf[bit / 8] ^= 1 << (bit % 8);
			if (pias_msg_mac_ok(buf, len, key1))
				fail_msg("%s: MAC still verifies with bit %zu flipped",
					 pias_msg_type_name(types[t]), bit);
			buf[bit / 8] ^= 1 << (bit % 8);
		}
		assert_true(pias_msg_mac_ok(buf, len, key1));
	}
}

static void test_wrong_key(void **state)
{
	static __u8 buf[BUF_SIZE];
	size_t t;
	int len;

	(void)state;
	for (t = 0; t < N_TYPES; t++) {
		len = datagram(all_types[t], 1, buf);
		assert_true(pias_msg_mac_ok(buf, len, key1));
		assert_false(pias_msg_mac_ok(buf, len, key2));
		/* The MAC is bound to the length too. */
		assert_false(pias_msg_mac_ok(buf, len - 1, key1));
		assert_false(pias_msg_mac_ok(buf + 1, len - 1, key1));
	}
	assert_false(pias_msg_mac_ok(buf, 0, key1));
	assert_false(pias_msg_mac_ok(buf, HDR + MAC - 1, key1));
}

/* Every prefix of a valid datagram, and one byte more, is malformed. */
static void test_truncation(void **state)
{
	struct pias_msg *m = new_msg();
	static __u8 buf[BUF_SIZE];
	struct pias_msg_hdr h;
	struct pias_err e;
	size_t t, cut;
	int v, len;

	(void)state;
	for (t = 0; t < N_TYPES; t++) {
		for (v = 0; v < N_VARIANTS; v++) {
			len = datagram(all_types[t], v, buf);
			for (cut = 0; cut < (size_t)len; cut++) {
				/* Copy so that reading past cut would show under a sanitizer. */
				__u8 *c = malloc(cut ? cut : 1);

				assert_non_null(c);
				memcpy(c, buf, cut);
				e.msg[0] = '\0';
				assert_int_equal(pias_msg_decode(c, cut, m, &e), -EBADMSG);
				assert_true(e.msg[0] != '\0');
				assert_int_equal(pias_msg_header(c, cut, &h, NULL), -EBADMSG);
				assert_false(pias_msg_mac_ok(c, cut, key1));
				free(c);
			}
			buf[len] = 0;
			assert_int_equal(pias_msg_decode(buf, len + 1, m, &e), -EBADMSG);
		}
	}
	assert_bad(buf, 0, "shorter than header and MAC");
	assert_bad(buf, HDR + MAC - 1, "shorter than header and MAC");
	free(m);
}

static void test_body_len_lies(void **state)
{
	static __u8 buf[BUF_SIZE];
	static const unsigned int lies[] = { 0, 1, 31, 33, 0x7fff, 0xffff };
	size_t i;
	int len;

	(void)state;
	len = datagram(PIAS_MSG_PING, 0, buf); /* body_len 32 */
	for (i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		put_be16(buf + 2, lies[i]);
		assert_bad(buf, len, "header.body_len");
	}
	/* Consistent header, datagram padded to match: the body does not fit its fields. */
	put_be16(buf + 2, 33);
	buf[len] = 0;
	assert_bad(buf, len + 1, "PING: body of 33 bytes, expected 32");
	len = datagram(PIAS_MSG_QUERY, 0, buf);
	put_be16(buf + 2, 19);
	assert_bad(buf, len - 1, "QUERY: body of 19 bytes, expected 20");
	/* Over the type's size limit: rejected before anything else is read. */
	len = datagram(PIAS_MSG_QUERY, 0, buf);
	put_be16(buf + 2, PIAS_MSG_MAX - HDR - MAC + 1);
	assert_bad(buf, PIAS_MSG_MAX + 1, "over the limit of 1400");
	len = datagram(PIAS_MSG_VIEW, 0, buf);
	put_be16(buf + 2, PIAS_MSG_VIEW_MAX - HDR - MAC + 1);
	assert_bad(buf, PIAS_MSG_VIEW_MAX + 1, "over the limit of 16384");
}

static void test_header_fields(void **state)
{
	static __u8 buf[BUF_SIZE];
	struct pias_msg_hdr h;
	struct pias_err e;
	int len;

	(void)state;
	len = datagram(PIAS_MSG_QUERY, 0, buf);
	buf[0] = 2;
	assert_bad(buf, len, "header.version 2 is not 1");
	buf[0] = 0;
	assert_bad(buf, len, "header.version 0");
	buf[0] = 1;
	buf[1] = 0;
	assert_bad(buf, len, "header.type 0 is unknown");
	buf[1] = 6;
	assert_bad(buf, len, "header.type 6 is unknown");
	buf[1] = 255;
	assert_bad(buf, len, "header.type 255 is unknown");
	buf[1] = PIAS_MSG_QUERY;
	buf[15] = 1;
	assert_bad(buf, len, "header.reserved 0x00000001 is not zero");
	buf[15] = 0;
	buf[12] = 0x80;
	assert_bad(buf, len, "header.reserved 0x80000000 is not zero");
	buf[12] = 0;
	put_be32(buf + 4, 0);
	assert_bad(buf, len, "QUERY: header.sender_id 0 is not a proxy id");
	put_be32(buf + 4, PIAS_MAX_PROXIES);
	assert_bad(buf, len, "header.sender_id 131072 is not a proxy id 1-131071");
	assert_int_equal(pias_msg_header(buf, len, &h, &e), -EBADMSG);
	put_be32(buf + 4, 5);
	put_be32(buf + 8, 0);
	assert_bad(buf, len, "QUERY: header.key_id 0 is not a key id");
	put_be32(buf + 8, 9);
	assert_int_equal(pias_msg_header(buf, len, &h, &e), 0);
	assert_int_equal(h.sender_id, 5);
	assert_int_equal(h.key_id, 9);

	/* Target messages: sender and key id are 0. */
	len = datagram(PIAS_MSG_REGISTER, 1, buf);
	put_be32(buf + 4, 1);
	assert_bad(buf, len, "REGISTER: header.sender_id 1 is not 0 (target message)");
	put_be32(buf + 4, 0);
	put_be32(buf + 8, 1);
	assert_bad(buf, len, "REGISTER: header.key_id 1 is not 0 (target message)");
}

/* Patch one body byte of a valid datagram of type: decoding names field. */
static void patch_bad(__u8 type, int variant, size_t off, __u8 val, const char *want)
{
	static __u8 buf[BUF_SIZE];
	int len = datagram(type, variant, buf);

	assert_true(off < (size_t)len - MAC);
	buf[off] = val;
	assert_bad(buf, len, want);
}

/*
 * REPORTS, REG_BATCH, REG_BATCH_ACK: counts, reserved bytes, lengths that
 * disagree with the counts, and a bad field in an entry past the first,
 * named by its index. Variant 2 of REPORTS: entries of 44, 172, 44 bytes.
 */
static void test_bad_batches(void)
{
	const size_t b = HDR;
	const size_t r1 = b + 4 + 44, r2 = r1 + 44 + 16 * PIAS_GROUP_SCOPES; /* REPORTS entries */
	const size_t e2 = b + 8 + 2 * 40;				     /* REG_BATCH entry 2 */
	static __u8 buf[BUF_SIZE];
	int len;

	patch_bad(PIAS_MSG_REPORTS, 0, b + 1, 0, "REPORTS: n 0 is not 1-30");
	patch_bad(PIAS_MSG_REPORTS, 0, b + 1, 31, "REPORTS: n 31 is not 1-30");
	patch_bad(PIAS_MSG_REPORTS, 0, b + 3, 1, "REPORTS: reserved 16 bits are not zero");
	patch_bad(PIAS_MSG_REPORTS, 2, r2 + 32, 0x04, "REPORTS[2]: share 1274 is over 1000");
	patch_bad(PIAS_MSG_REPORTS, 2, r1 + 1, 1, "REPORTS[1]: ta.proto 1");
	patch_bad(PIAS_MSG_REPORTS, 2, r2 + 35, 9, "REPORTS[2]: 9 prefixes, at most 8");
	/* entry 2 claims a prefix it does not have: the body runs out */
	patch_bad(PIAS_MSG_REPORTS, 2, r2 + 35, 1, "REPORTS[2]: body of 264 bytes, expected 280");
	/* entry 1 claims fewer prefixes than it has: bytes left over */
	patch_bad(PIAS_MSG_REPORTS, 2, r1 + 35, 7, "REPORTS: body of 264 bytes does not match");
	patch_bad(PIAS_MSG_REPORTS, 2, b + 1, 2, "REPORTS: body of 264 bytes does not match");
	patch_bad(PIAS_MSG_REPORTS, 2, b + 1, 4,
		  "REPORTS[3]: body of 264 bytes, expected at least");

	patch_bad(PIAS_MSG_REG_BATCH, 0, b + 3, 0, "REG_BATCH: jap_id 0 is not a proxy id");
	patch_bad(PIAS_MSG_REG_BATCH, 0, b + 5, 0, "REG_BATCH: n 0 is not 1-33");
	patch_bad(PIAS_MSG_REG_BATCH, 0, b + 5, 34, "REG_BATCH: n 34 is not 1-33");
	patch_bad(PIAS_MSG_REG_BATCH, 0, b + 5, 2, "REG_BATCH: body of 48 bytes, expected 88");
	patch_bad(PIAS_MSG_REG_BATCH, 0, b + 7, 1, "REG_BATCH: reserved 16 bits are not zero");
	patch_bad(PIAS_MSG_REG_BATCH, 2, e2 + 3, 0, "REG_BATCH[2]: ta.port is 0");
	patch_bad(PIAS_MSG_REG_BATCH, 2, e2 + 20 + 3, 0, "REG_BATCH[2]: target_id 0 is not");
	patch_bad(PIAS_MSG_REG_BATCH, 2, e2 + 20 + 1, 2, "REG_BATCH[2]: target_id 131075 is not");

	patch_bad(PIAS_MSG_REG_BATCH_ACK, 0, b + 13, 0, "REG_BATCH_ACK: n 0 is not 1-33");
	patch_bad(PIAS_MSG_REG_BATCH_ACK, 0, b + 13, 2,
		  "REG_BATCH_ACK: body of 36 bytes, expected 56");
	patch_bad(PIAS_MSG_REG_BATCH_ACK, 0, b + 15, 1, "REG_BATCH_ACK: reserved 16 bits");
	patch_bad(PIAS_MSG_REG_BATCH_ACK, 2, b + 16 + 40, 0,
		  "REG_BATCH_ACK[2]: status 0 is not 1-4");
	patch_bad(PIAS_MSG_REG_BATCH_ACK, 2, b + 16 + 40, 5,
		  "REG_BATCH_ACK[2]: status 5 is not 1-4");
	patch_bad(PIAS_MSG_REG_BATCH_ACK, 2, b + 16 + 40 + 2, 1,
		  "REG_BATCH_ACK[2]: reserved bytes are not zero");
	/* too short for one entry */
	len = datagram(PIAS_MSG_REG_BATCH, 0, buf);
	put_be16(buf + 2, 8);
	assert_bad(buf, HDR + 8 + MAC, "REG_BATCH: body of 8 bytes, expected 48");
	(void)len;
}

static void test_bad_fields(void **state)
{
	const size_t b = HDR, ta = HDR; /* body and TA offsets */
	const size_t upd = b + 32;	/* PING's first update record */
	static __u8 buf[BUF_SIZE];
	int len;

	(void)state;
	/* TA: family, IPv4 padding, protocol, port. */
	patch_bad(PIAS_MSG_QUERY, 0, ta, 5, "QUERY: ta.family 5 is not 4 (IPv4) or 6 (IPv6)");
	patch_bad(PIAS_MSG_QUERY, 0, ta, 0, "ta.family 0");
	patch_bad(PIAS_MSG_REPORT, 0, ta + 4 + 4, 1, "REPORT: ta.addr: IPv4 address with nonzero");
	patch_bad(PIAS_MSG_REPORT, 0, ta + 4 + 15, 1, "ta.addr");
	patch_bad(PIAS_MSG_BINDING, 0, ta + 1, 1, "BINDING: ta.proto 1 is not 6 (tcp) or 17 (udp)");
	patch_bad(PIAS_MSG_INVALIDATE, 0, ta + 3, 0, "INVALIDATE: ta.port is 0");
	/* CONN_QUERY: client padding, port, flags, ids. */
	patch_bad(PIAS_MSG_CONN_QUERY, 0, b + 20 + 5, 1,
		  "CONN_QUERY: client.addr: IPv4 address with nonzero bytes");
	patch_bad(PIAS_MSG_CONN_QUERY, 0, b + 37, 0, "CONN_QUERY: client_port is 0");
	patch_bad(PIAS_MSG_CONN_QUERY, 0, b + 39, 0x80, "CONN_QUERY: flags 0x80 has unknown bits");
	patch_bad(PIAS_MSG_CONN_QUERY, 0, b + 43, 0, "CONN_QUERY: iap_id 0 is not a proxy id");
	patch_bad(PIAS_MSG_CONN_QUERY, 0, b + 47, 0, "CONN_QUERY: asker_id 0 is not a proxy id");
	/* FLOW_PIN: count, reserved, each flow's address, port, state. */
	patch_bad(PIAS_MSG_FLOW_PIN, 0, b + 21, 0, "FLOW_PIN: n 0 is not 1-64");
	patch_bad(PIAS_MSG_FLOW_PIN, 0, b + 21, 65, "FLOW_PIN: n 65 is not 1-64");
	patch_bad(PIAS_MSG_FLOW_PIN, 0, b + 21, 2, "FLOW_PIN: body of 44 bytes, expected 64");
	patch_bad(PIAS_MSG_FLOW_PIN, 0, b + 23, 1, "FLOW_PIN: reserved 16 bits are not zero");
	patch_bad(PIAS_MSG_FLOW_PIN, 2, b + 24 + 20 + 4, 1,
		  "FLOW_PIN: flows[1].addr: IPv4 address with nonzero bytes");
	patch_bad(PIAS_MSG_FLOW_PIN, 2, b + 24 + 2 * 20 + 17, 0,
		  "FLOW_PIN: flows[2].client_port is 0");
	patch_bad(PIAS_MSG_FLOW_PIN, 2, b + 24 + 18, 0x80,
		  "FLOW_PIN: flows[0].ct 0x80 has unknown");
	patch_bad(PIAS_MSG_FLOW_PIN, 2, b + 24 + 19, 1, "FLOW_PIN: flows[0]: reserved byte");
	/* Probe: ids, reserved, counts. */
	patch_bad(PIAS_MSG_PING, 0, b + 7, 0, "PING: target_id 0 is not a proxy id");
	patch_bad(PIAS_MSG_PING_REQ, 0, b + 9, 0x02,
		  "PING_REQ: origin_id 131072 is not a proxy id");
	patch_bad(PIAS_MSG_ACK, 0, b + 29, 1, "ACK: reserved bytes are not zero");
	patch_bad(PIAS_MSG_PING, 1, b + 28, PIAS_MSG_MAX_UPDATES + 1,
		  "PING: n_updates 21 is over the limit of 20");
	patch_bad(PIAS_MSG_PING, 1, b + 28, 255, "n_updates 255");
	patch_bad(PIAS_MSG_PING, 1, b + 28, PIAS_MSG_MAX_UPDATES - 1,
		  "PING: body of 912 bytes, expected 868");
	/* Member records: id, state, family, address padding, coordinates. */
	patch_bad(PIAS_MSG_PING, 2, upd + 3, 0, "PING: updates[0].id 0 is not a proxy id");
	patch_bad(PIAS_MSG_PING, 2, upd + MEMBER + 8, 0,
		  "PING: updates[1].state 0 is not a member state");
	patch_bad(PIAS_MSG_PING, 2, upd + 2 * MEMBER + 8, 5, "updates[2].state 5");
	patch_bad(PIAS_MSG_PING, 2, upd + 3 * MEMBER + 9, 7, "PING: updates[3].family 7 is not");
	patch_bad(PIAS_MSG_PING, 2, upd + 4 * MEMBER + 12 + 5, 1,
		  "PING: updates[4].addr: IPv4 address with nonzero bytes");
	/* NaN (0x7fc00000), infinity (0x7f800000), -infinity (0xff800000). */
	len = datagram(PIAS_MSG_PING, 2, buf);
	put_be32(buf + upd + 5 * MEMBER + 28, 0x7fc00000);
	assert_bad(buf, len, "PING: updates[5].coord.x is not a finite number");
	len = datagram(PIAS_MSG_PING, 2, buf);
	put_be32(buf + upd + 6 * MEMBER + 28 + 12, 0x7f800000);
	assert_bad(buf, len, "PING: updates[6].coord.err is not a finite number");
	len = datagram(PIAS_MSG_ACK, 0, buf);
	put_be32(buf + b + 12 + 8, 0xff800000);
	assert_bad(buf, len, "ACK: coord.h is not a finite number");
	len = datagram(PIAS_MSG_PING, 0, buf);
	put_be32(buf + b + 12 + 4, 0x7f800001); /* signalling NaN */
	assert_bad(buf, len, "PING: coord.y is not a finite number");
	/* BINDING: flags, negative with a JAP, positive without. */
	patch_bad(PIAS_MSG_BINDING, 0, b + 20 + 12 + 3, 0x4, "BINDING: flags 0x4 has unknown bits");
	/* a set announced with no room for it */
	patch_bad(PIAS_MSG_BINDING, 0, b + 20 + 12 + 3, 0x2,
		  "BINDING: body of 36 bytes, expected 52");
	/* the set: its count, the length it implies, its first JAP, twins, policy */
	patch_bad(PIAS_MSG_BINDING, 1, b + 41, 0, "BINDING: a set of 0 JAPs, not 1-16");
	patch_bad(PIAS_MSG_BINDING, 1, b + 41, 17, "BINDING: a set of 17 JAPs");
	patch_bad(PIAS_MSG_BINDING, 1, b + 41, 15, "BINDING: body of 332 bytes, expected 324");
	patch_bad(PIAS_MSG_BINDING, 1, b + 43, 9, "BINDING: 9 prefixes, at most 8");
	patch_bad(PIAS_MSG_BINDING, 1, b + 43, 7, "BINDING: body of 332 bytes, expected 312");
	/* a prefix with host bits, one naming no JAP, a prefix of a random group */
	patch_bad(PIAS_MSG_BINDING, 1, b + 44 + 128 + 15, 1,
		  "BINDING: prefix 0 is not a /120 with host bits zero");
	patch_bad(PIAS_MSG_BINDING, 1, b + 44 + 128 + 17, 1,
		  "BINDING: prefix 0 names JAPs 0x1ffff");
	patch_bad(PIAS_MSG_REPORT, 1, b + 36, PIAS_POLICY_RANDOM,
		  "REPORT: policy: options on a policy");
	patch_bad(PIAS_MSG_REPORT, 1, b + 35, 9, "REPORT: 9 prefixes, at most 8");
	patch_bad(PIAS_MSG_BINDING, 1, b + 44 + 3, 7, "BINDING: the set's first JAP");
	patch_bad(PIAS_MSG_BINDING, 1, b + 44 + 8 + 3, 0xff,
		  "BINDING: JAP 131071 twice in the set");
	patch_bad(PIAS_MSG_BINDING, 1, b + 44 + 8 + 1, 0x02,
		  "BINDING: set jap_id 196606 is not a proxy id");
	patch_bad(PIAS_MSG_BINDING, 1, b + 36, 9, "BINDING: policy: unknown policy");
	/* REPORT: share, reserved, policy */
	patch_bad(PIAS_MSG_REPORT, 1, b + 32, 0x04, "REPORT: share 1256 is over 1000 per mille");
	patch_bad(PIAS_MSG_REPORT, 0, b + 35, 1, "REPORT: body of 44 bytes, expected 60");
	patch_bad(PIAS_MSG_REPORT, 0, b + 36, 4, "REPORT: policy: unknown policy");
	patch_bad(PIAS_MSG_BINDING, 0, b + 20 + 12, 0x80, "BINDING: flags 0x80000000");
	patch_bad(PIAS_MSG_BINDING, 2, b + 20 + 3, 9,
		  "BINDING: jap_id 9 or a set in a negative binding");
	patch_bad(PIAS_MSG_BINDING, 0, b + 20 + 3, 0, "BINDING: jap_id 0 is not a proxy id");
	/* REGISTER: endpoint family, reserved byte, padding. */
	patch_bad(PIAS_MSG_REGISTER, 0, b + 20, 0, "REGISTER: family 0 is not 4 (IPv4) or 6");
	patch_bad(PIAS_MSG_LEAVE, 0, b + 21, 0x82, "LEAVE: flags 0x82 has unknown bits");
	patch_bad(PIAS_MSG_LEAVE, 0, b + 21, 0x04, "LEAVE: flags 0x4 has unknown bits");
	patch_bad(PIAS_MSG_REGISTER, 0, b + 21, 0x02, "REGISTER: flag DOWN goes with LEAVE only");
	patch_bad(PIAS_MSG_REGISTER, 0, b + 24 + 4, 1, "REGISTER: addr: IPv4 address with nonzero");
	/* REGISTER's policy: kind, a scope beyond the TA's family, stray options */
	patch_bad(PIAS_MSG_REGISTER, 0, b + 60, 9, "REGISTER: policy: unknown policy");
	patch_bad(PIAS_MSG_REGISTER, 1, b + 61, 129,
		  "REGISTER: policy: scope longer than the family's addresses");
	patch_bad(PIAS_MSG_REGISTER, 0, b + 61, 8, "REGISTER: policy: options on a policy");
	patch_bad(PIAS_MSG_LEAVE, 1, b + 63, 0x4, "LEAVE: policy: scoped takes a prefix length");
	patch_bad(PIAS_MSG_REGISTER, 2, b + 62, 5, "REGISTER: policy: replicate takes 2-4 copies");
	/* REG_ACK ids. */
	patch_bad(PIAS_MSG_REG_ACK, 0, b + 23, 0, "REG_ACK: jap_id 0 is not a proxy id");
	/* target_id 0 is allowed (a LEAVE of an unknown target); 131072 up is not */
	patch_bad(PIAS_MSG_REG_ACK, 0, b + 25, 2,
		  "REG_ACK: target_id 131073 is not a target id 0-131071");
	/* REG_ACK's tunnel endpoint: family, reserved byte, port, address. */
	patch_bad(PIAS_MSG_REG_ACK, 1, b + 40, 5, "REG_ACK: tunnel family 5 is not 4 (IPv4) or 6");
	patch_bad(PIAS_MSG_REG_ACK, 1, b + 41, 1, "REG_ACK: reserved byte is not zero");
	/* the long form only with a tunnel endpoint: one encoding per REG_ACK (found by fuzz_msg) */
	patch_bad(PIAS_MSG_REG_ACK, 1, b + 40, 0, "REG_ACK: tunnel family 0 in a 68-byte body");
	len = datagram(PIAS_MSG_REG_ACK, 1, buf);
	buf[b + 42] = buf[b + 43] = 0;
	assert_bad(buf, len, "REG_ACK: tunnel port 0");
	len = datagram(PIAS_MSG_REG_ACK, 1, buf);
	buf[b + 40] = PIAS_AF_INET;
	assert_bad(buf, len, "REG_ACK: tunnel addr: IPv4 address with nonzero");
	/* REG_NACK: code, text. */
	patch_bad(PIAS_MSG_REG_NACK, 0, b + 23, 0, "REG_NACK: code 0 is not a NACK code 1-6");
	patch_bad(PIAS_MSG_REG_NACK, 0, b + 23, 7, "REG_NACK: code 7");
	patch_bad(PIAS_MSG_REG_NACK, 2, b + 32 + 5, 0, "REG_NACK: text holds a NUL byte");
	/* 96 bytes of text: one too many (the struct keeps room for its NUL) */
	len = datagram(PIAS_MSG_REG_NACK, 1, buf); /* 95 x */
	memmove(buf + len - MAC + 1, buf + len - MAC, MAC);
	buf[len - MAC] = 'x';
	len++;
	put_be16(buf + 2, 32 + 96);
	assert_bad(buf, len, "REG_NACK: body of 128 bytes is not 32-127");
	/* REG_COOKIE: the asking JAP's id. */
	patch_bad(PIAS_MSG_REG_COOKIE, 0, b + 20 + 8 + 3, 0,
		  "REG_COOKIE: jap_id 0 is not a proxy id");
	test_bad_batches();
}

static void test_encode_rejects(void **state)
{
	struct pias_msg *m = new_msg();
	static __u8 buf[BUF_SIZE];
	struct pias_err e;
	int len;

	(void)state;
#define REJECT(code, want)                                                                         \
	do {                                                                                       \
		e.msg[0] = '\0';                                                                   \
		assert_int_equal(pias_msg_encode(m, key1, buf, BUF_SIZE, &e), (code));             \
		assert_msg_has(e.msg, (want));                                                     \
	} while (0)

	build(m, PIAS_MSG_PING, 1);
	m->probe.n_updates = PIAS_MSG_MAX_UPDATES + 1;
	REJECT(-EINVAL, "PING: n_updates 21 is over the limit of 20");
	build(m, PIAS_MSG_PING, 1);
	m->probe.updates[19].state = 0;
	REJECT(-EINVAL, "PING: updates[19].state 0");
	build(m, PIAS_MSG_PING, 1);
	m->probe.coord.x = NAN;
	REJECT(-EINVAL, "PING: coord.x is not a finite number");
	build(m, PIAS_MSG_PING, 1);
	m->probe.updates[0].coord.h = INFINITY;
	REJECT(-EINVAL, "updates[0].coord.h");
	build(m, PIAS_MSG_VIEW, 1);
	m->view.n = PIAS_MSG_VIEW_PAGE + 1;
	REJECT(-EINVAL, "VIEW: n 257 is over the limit of 256");
	build(m, PIAS_MSG_VIEW, 2);
	m->view.offset = m->view.total - m->view.n + 1;
	REJECT(-EINVAL, "VIEW: offset 201 + n 100 is beyond total 300");
	build(m, PIAS_MSG_VIEW, 2);
	m->view.offset = UINT32_MAX;
	m->view.total = PIAS_MAX_PROXIES - 1;
	REJECT(-EINVAL, "beyond total");
	build(m, PIAS_MSG_VIEW, 2);
	m->view.total = PIAS_MAX_PROXIES;
	REJECT(-EINVAL, "VIEW: total 131072 is over the limit of 131071");
	build(m, PIAS_MSG_QUERY, 0);
	m->query.ta.addr.v6[2] = 1;
	REJECT(-EINVAL, "QUERY: ta.addr: IPv4 address with nonzero bytes 4-15");
	build(m, PIAS_MSG_REG_NACK, 0);
	memset(m->nack.text, 'a', sizeof(m->nack.text));
	REJECT(-EINVAL, "REG_NACK: text is not NUL-terminated");
	build(m, PIAS_MSG_REGISTER, 0);
	m->hdr.sender_id = 3;
	REJECT(-EINVAL, "REGISTER: header.sender_id 3 is not 0");
	build(m, PIAS_MSG_REPORT, 0);
	m->hdr.key_id = 0;
	REJECT(-EINVAL, "REPORT: header.key_id 0");
	build(m, PIAS_MSG_REPORTS, 2);
	m->reports.n = 0;
	REJECT(-EINVAL, "REPORTS: n 0 is not 1-30");
	build(m, PIAS_MSG_REPORTS, 2);
	m->reports.r[1].share = PIAS_SHARE_FULL + 1;
	REJECT(-EINVAL, "REPORTS[1]: share 1001");
	/* 30 scoped ones are within the count, not the bytes */
	build(m, PIAS_MSG_REPORTS, 1);
	for (unsigned int i = 0; i < PIAS_MSG_REPORTS_MAX; i++)
		set_report(&m->reports.r[i], 1);
	REJECT(-EMSGSIZE, "REPORTS: does not fit");
	build(m, PIAS_MSG_REG_BATCH, 2);
	m->batch.e[4].target_id = PIAS_MAX_TARGETS;
	REJECT(-EINVAL, "REG_BATCH[4]: target_id 131072 is not a target id 1-131071");
	build(m, PIAS_MSG_REG_BATCH, 2);
	m->batch.n = PIAS_MSG_BATCH_MAX + 1;
	REJECT(-EINVAL, "REG_BATCH: n 34 is not 1-33");
	build(m, PIAS_MSG_REG_BATCH, 2);
	m->hdr.key_id = 1;
	REJECT(-EINVAL, "REG_BATCH: header.key_id 1 is not 0 (target message)");
	build(m, PIAS_MSG_REG_BATCH_ACK, 2);
	m->batch_ack.e[3].status = 0;
	REJECT(-EINVAL, "REG_BATCH_ACK[3]: status 0");
	build(m, PIAS_MSG_REPORT, 0);
	m->hdr.type = 99;
	REJECT(-EINVAL, "header.type 99 is unknown");

	/* Room: exactly enough works, one byte less does not. */
	build(m, PIAS_MSG_PING, 1);
	len = pias_msg_encode(m, key1, buf, BUF_SIZE, &e);
	assert_int_equal(len, 968);
	assert_int_equal(pias_msg_encode(m, key1, buf, len, &e), len);
	assert_int_equal(pias_msg_encode(m, key1, buf, len - 1, &e), -EMSGSIZE);
	assert_msg_has(e.msg, "PING: does not fit");
	assert_int_equal(pias_msg_encode(m, key1, buf, 10, &e), -EMSGSIZE);
	build(m, PIAS_MSG_VIEW, 1);
	len = pias_msg_encode(m, key1, buf, BUF_SIZE, &e);
	assert_true(len > 0);
	assert_int_equal(pias_msg_encode(m, key1, buf, len, &e), len);
	assert_int_equal(pias_msg_encode(m, key1, buf, len - 1, &e), -EMSGSIZE);
	assert_msg_has(e.msg, "VIEW: does not fit");
	/* The NACK text is canonical: garbage after the NUL is not sent. */
	build(m, PIAS_MSG_REG_NACK, 2);
	len = encode_ok(m, buf);
	m->nack.text[80] = 'z';
	assert_int_equal(encode_ok(m, buf + BUF_SIZE / 2), len);
	assert_memory_equal(buf + BUF_SIZE / 2, buf, len);
#undef REJECT
	free(m);
}

/* A VIEW datagram around a hand-made zlib payload (MAC included, valid). */
static int view_dgram(__u8 *buf, __u32 offset, __u32 total, unsigned int n, const void *z,
		      size_t zlen)
{
	struct pias_msg *m = new_msg();
	size_t body = 12 + zlen;
	int len;

	build(m, PIAS_MSG_VIEW, 0);
	len = encode_ok(m, buf); /* a header to start from */
	assert_true(len > 0);
	put_be16(buf + 2, body);
	put_be32(buf + HDR, offset);
	put_be32(buf + HDR + 4, total);
	put_be16(buf + HDR + 8, n);
	put_be16(buf + HDR + 10, 0);
	memcpy(buf + HDR + 12, z, zlen);
	free(m);
	return HDR + body + MAC;
}

/* n well-formed member records, zlib-compressed into z; the compressed size. */
static size_t members_z(unsigned int n, unsigned int extra_bytes, __u8 *z, size_t cap)
{
	struct pias_msg *m = new_msg();
	static __u8 buf[BUF_SIZE];
	uLongf zlen = cap;
	size_t raw;
	unsigned int i;
	int len;

	/* Encode a real page and take its records back out of the zlib stream. */
	build(m, PIAS_MSG_VIEW, 1);
	len = encode_ok(m, buf);
	raw = PIAS_MSG_VIEW_PAGE * MEMBER;
	{
		static __u8 rec[PIAS_MSG_VIEW_PAGE * MEMBER + 4096];
		uLongf rl = raw;

		assert_int_equal(uncompress(rec, &rl, buf + HDR + 12, len - HDR - 12 - MAC), Z_OK);
		assert_int_equal(rl, raw);
		for (i = 0; i < extra_bytes; i++)
			rec[n * MEMBER + i] = rec[i];
		assert_int_equal(compress2(z, &zlen, rec, n * MEMBER + extra_bytes, 9), Z_OK);
	}
	free(m);
	return zlen;
}

static void test_view_zlib(void **state)
{
	static __u8 buf[BUF_SIZE], z[BUF_SIZE];
	struct pias_msg *m = new_msg();
	struct pias_err e;
	size_t zlen;
	int len;

	(void)state;
	/* A good hand-made page decodes. */
	zlen = members_z(3, 0, z, sizeof(z));
	len = view_dgram(buf, 0, 3, 3, z, zlen);
	assert_int_equal(pias_msg_decode(buf, len, m, &e), 0);
	assert_int_equal(m->view.n, 3);
	assert_int_equal(m->view.members[2].id, PIAS_MAX_PROXIES - 3);

	/* Inflates to fewer bytes than n records, or to a partial record. */
	len = view_dgram(buf, 0, 4, 4, z, zlen);
	assert_bad(buf, len, "VIEW: members inflate to 132 bytes, not n (4) * 44 = 176");
	zlen = members_z(3, 1, z, sizeof(z));
	len = view_dgram(buf, 0, 4, 4, z, zlen);
	assert_bad(buf, len, "inflate to 133 bytes");
	/* Inflates to more than n records. */
	zlen = members_z(3, 0, z, sizeof(z));
	len = view_dgram(buf, 0, 3, 2, z, zlen);
	assert_bad(buf, len, "VIEW: members inflate to more than n (2) records");
	len = view_dgram(buf, 0, 3, 0, z, zlen);
	assert_bad(buf, len, "more than n (0)");
	zlen = members_z(3, 1, z, sizeof(z)); /* one byte over */
	len = view_dgram(buf, 0, 3, 3, z, zlen);
	assert_bad(buf, len, "VIEW: members inflate to more than n (3) records");
	/* A wrong checksum (the stream's last 4 bytes are its Adler-32). */
	zlen = members_z(3, 0, z, sizeof(z));
	z[zlen - 1] ^= 1;
	len = view_dgram(buf, 0, 3, 3, z, zlen);
	assert_bad(buf, len, "VIEW: members are not a complete zlib stream");
	/* A stream that needs a preset dictionary. */
	{
		z_stream zs = {};
		__u8 rec[3 * MEMBER] = {};

		assert_int_equal(deflateInit(&zs, 9), Z_OK);
		assert_int_equal(deflateSetDictionary(&zs, (const Bytef *)"pias", 4), Z_OK);
		zs.next_in = rec;
		zs.avail_in = sizeof(rec);
		zs.next_out = z;
		zs.avail_out = sizeof(z);
		assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
		len = view_dgram(buf, 0, 3, 3, z, zs.total_out);
		deflateEnd(&zs);
		assert_bad(buf, len, "VIEW: members are not a complete zlib stream");
	}
	/* Trailing bytes after the stream. */
	zlen = members_z(3, 0, z, sizeof(z));
	z[zlen] = 0;
	len = view_dgram(buf, 0, 3, 3, z, zlen + 1);
	assert_bad(buf, len, "VIEW: 1 bytes after the zlib stream");
	/* Truncated stream, garbage, no stream at all. */
	len = view_dgram(buf, 0, 3, 3, z, zlen - 1);
	assert_bad(buf, len, "VIEW: members are not a complete zlib stream");
	memset(z, 0xa5, 200);
	len = view_dgram(buf, 0, 3, 3, z, 200);
	assert_bad(buf, len, "not a complete zlib stream");
	len = view_dgram(buf, 0, 0, 0, z, 0);
	assert_bad(buf, len, "not a complete zlib stream");
	/* Header checks of the page. */
	zlen = members_z(3, 0, z, sizeof(z));
	len = view_dgram(buf, 0, 3, 3, z, zlen);
	buf[HDR + 11] = 1;
	assert_bad(buf, len, "VIEW: reserved 0x0001 is not zero");
	len = view_dgram(buf, 1, 3, 3, z, zlen);
	assert_bad(buf, len, "VIEW: offset 1 + n 3 is beyond total 3");
	len = view_dgram(buf, UINT32_MAX, UINT32_MAX, 3, z, zlen);
	assert_bad(buf, len, "VIEW: total 4294967295 is over the limit");
	len = view_dgram(buf, 0, 300, PIAS_MSG_VIEW_PAGE + 1, z, zlen);
	assert_bad(buf, len, "VIEW: n 257 is over the limit of 256");
	len = view_dgram(buf, 0, 3, 0xffff, z, zlen);
	assert_bad(buf, len, "n 65535");
	len = view_dgram(buf, 0, 3, 3, z, 0);
	buf[2] = 0;
	buf[3] = 11;
	assert_bad(buf, HDR + 11 + MAC, "VIEW: body of 11 bytes, expected at least 12");
	/* Inflated records are checked like any other. */
	{
		__u8 rec[3 * MEMBER];
		uLongf rl = sizeof(rec), zl = sizeof(z);

		zlen = members_z(3, 0, z, sizeof(z));
		assert_int_equal(uncompress(rec, &rl, z, zlen), Z_OK);
		rec[MEMBER + 8] = 9; /* members[1].state */
		assert_int_equal(compress2(z, &zl, rec, sizeof(rec), 9), Z_OK);
		len = view_dgram(buf, 0, 3, 3, z, zl);
		assert_bad(buf, len, "VIEW: members[1].state 9 is not a member state");
	}
	free(m);
}

/*
 * A zip bomb: 16 MiB of zeros compress to ~16 KiB, the most a VIEW can
 * carry. The decoder inflates into its fixed n-record buffer and stops.
 */
static void test_view_bomb(void **state)
{
	static __u8 buf[BUF_SIZE];
	const size_t big = 15u << 20;
	__u8 *zeros = calloc(1, big), *z = malloc(compressBound(big));
	uLongf zlen = compressBound(big);
	int len;

	(void)state;
	assert_non_null(zeros);
	assert_non_null(z);
	assert_int_equal(compress2(z, &zlen, zeros, big, 9), Z_OK);
	free(zeros);
	assert_true(zlen < PIAS_MSG_VIEW_MAX - HDR - 12 - MAC);
	len = view_dgram(buf, 0, PIAS_MSG_VIEW_PAGE, PIAS_MSG_VIEW_PAGE, z, zlen);
	assert_bad(buf, len, "VIEW: members inflate to more than n (256) records");
	len = view_dgram(buf, 0, 1, 1, z, zlen);
	assert_bad(buf, len, "more than n (1)");
	free(z);
}

/* A page of random coordinates hardly compresses: it must still fit. */
static void test_view_incompressible(void **state)
{
	struct pias_msg *m = new_msg(), *d = new_msg();
	static __u8 buf[BUF_SIZE];
	struct pias_err e;
	unsigned int i, s = 12345;
	__u32 bits[4];
	int len, k;

	(void)state;
	build(m, PIAS_MSG_VIEW, 1);
	for (i = 0; i < PIAS_MSG_VIEW_PAGE; i++) {
		for (k = 0; k < 4; k++) {
			s = s * 1103515245 + 12345;
			bits[k] = (s >> 8) & 0x3fffffff; /* positive, finite */
			s = s * 1103515245 + 12345;
			bits[k] ^= s << 16;
			bits[k] &= 0xbfffffff; /* exponent below all-ones: finite */
		}
		memcpy(&m->view.members[i].coord, bits, sizeof(bits));
		m->view.members[i].incarnation = s;
		for (k = 0; k < 16; k++) {
			s = s * 1103515245 + 12345;
			m->view.members[i].addr.bytes[k] = s >> 16;
		}
		m->view.members[i].family = PIAS_AF_INET6;
	}
	len = encode_ok(m, buf);
	assert_true(len <= PIAS_MSG_VIEW_MAX);
	assert_int_equal(pias_msg_decode(buf, len, d, &e), 0);
	assert_memory_equal(d->view.members, m->view.members, sizeof(m->view.members));
	free(m);
	free(d);
}

/* What fits a REPORTS: PIAS_MSG_REPORTS_MAX unscoped reports, fewer scoped ones, always encodable. */
static void test_reports_add(void **state)
{
	struct pias_msg *m = new_msg();
	static __u8 buf[BUF_SIZE];
	struct pias_msg_report r;
	int len, n;

	(void)state;
	for (int v = 0; v < N_VARIANTS; v++) {
		build(m, PIAS_MSG_REPORTS, 0);
		m->reports.n = 0;
		set_report(&r, v);
		for (n = 0; pias_msg_reports_add(&m->reports, &r); n++)
			r.seq++;
		/* a REPORT of a scoped group with 8 prefixes is 172 bytes: 7 fit */
		assert_int_equal(n, v == 1 ? (PIAS_MSG_MAX - HDR - MAC - 4) / 172
					   : PIAS_MSG_REPORTS_MAX);
		assert_int_equal(m->reports.n, n);
		len = encode_ok(m, buf);
		assert_true(len <= PIAS_MSG_MAX);
		/* full (by count): one more unscoped one does not fit either, nothing changed */
		set_report(&r, 0);
		assert_int_equal(pias_msg_reports_add(&m->reports, &r), v == 1);
	}
	/* mixed: stops at the byte limit, not the count */
	build(m, PIAS_MSG_REPORTS, 0);
	m->reports.n = 0;
	for (n = 0;; n++) {
		set_report(&r, n % 2);
		if (!pias_msg_reports_add(&m->reports, &r))
			break;
	}
	/* 4 + 7 * 44 + 6 * 172 = 1344: exactly PIAS_MSG_MAX with header and MAC */
	assert_int_equal(n, 13);
	assert_int_equal(encode_ok(m, buf), PIAS_MSG_MAX);
	free(m);
}

/*
 * A REG_BATCH entry's tag covers the batch's seq, the JAP, the target id
 * and every field of the registration but its cookie; a tunnel-mode
 * target's port field is not its own (the TA's is). An answer's tag covers
 * its status. Both depend on the token.
 */
static void test_batch_tags(void **state)
{
	struct pias_msg_register reg = {}, r2;
	__u8 t0[PIAS_MSG_TAG_LEN], t1[PIAS_MSG_TAG_LEN];

	(void)state;
	set_ta(&reg.ta, 2);
	reg.family = PIAS_AF_INET;
	reg.addr.bytes[0] = 198;
	reg.port = 53;
	reg.weight = 3;
	reg.policy_serial = 9;
	pias_msg_batch_tag(key1, 100, 2, 5, &reg, t0);
	pias_msg_batch_tag(key1, 100, 2, 5, &reg, t1);
	assert_true(pias_msg_tag_eq(t0, t1));
#define DIFFERS(call)                                                                              \
	do {                                                                                       \
		call;                                                                              \
		assert_false(pias_msg_tag_eq(t0, t1));                                             \
	} while (0)
	DIFFERS(pias_msg_batch_tag(key2, 100, 2, 5, &reg, t1));
	DIFFERS(pias_msg_batch_tag(key1, 101, 2, 5, &reg, t1));
	DIFFERS(pias_msg_batch_tag(key1, 100, 3, 5, &reg, t1));
	DIFFERS(pias_msg_batch_tag(key1, 100, 2, 6, &reg, t1));
	r2 = reg;
	r2.weight = 4;
	DIFFERS(pias_msg_batch_tag(key1, 100, 2, 5, &r2, t1));
	r2 = reg;
	r2.addr.bytes[3] = 1;
	DIFFERS(pias_msg_batch_tag(key1, 100, 2, 5, &r2, t1));
	r2 = reg;
	r2.port = 54;
	DIFFERS(pias_msg_batch_tag(key1, 100, 2, 5, &r2, t1));
	r2 = reg;
	r2.policy.kind = PIAS_POLICY_RANDOM;
	DIFFERS(pias_msg_batch_tag(key1, 100, 2, 5, &r2, t1));
	r2 = reg;
	r2.policy_serial = 10;
	DIFFERS(pias_msg_batch_tag(key1, 100, 2, 5, &r2, t1));
	r2 = reg;
	r2.ta.port++;
	DIFFERS(pias_msg_batch_tag(key1, 100, 2, 5, &r2, t1));
	r2 = reg;
	r2.flags = PIAS_MSG_REG_F_TUNNEL;
	DIFFERS(pias_msg_batch_tag(key1, 100, 2, 5, &r2, t1));
	/* the cookie is not the registration; neither is DOWN (a LEAVE's) */
	r2 = reg;
	memset(r2.cookie, 0xab, sizeof(r2.cookie));
	r2.flags = PIAS_MSG_REG_F_DOWN;
	pias_msg_batch_tag(key1, 100, 2, 5, &r2, t1);
	assert_true(pias_msg_tag_eq(t0, t1));
	/* tunnel mode: the port field is not used */
	r2 = reg;
	r2.flags = PIAS_MSG_REG_F_TUNNEL;
	pias_msg_batch_tag(key1, 100, 2, 5, &r2, t0);
	r2.port = 4242;
	pias_msg_batch_tag(key1, 100, 2, 5, &r2, t1);
	assert_true(pias_msg_tag_eq(t0, t1));

	pias_msg_batch_ack_tag(key1, 100, 2, 900, &reg.ta, 5, PIAS_BATCH_OK, t0);
	pias_msg_batch_ack_tag(key1, 100, 2, 900, &reg.ta, 5, PIAS_BATCH_OK, t1);
	assert_true(pias_msg_tag_eq(t0, t1));
	DIFFERS(pias_msg_batch_ack_tag(key1, 100, 2, 900, &reg.ta, 5, PIAS_BATCH_STALE, t1));
	DIFFERS(pias_msg_batch_ack_tag(key1, 100, 2, 901, &reg.ta, 5, PIAS_BATCH_OK, t1));
	DIFFERS(pias_msg_batch_ack_tag(key1, 101, 2, 900, &reg.ta, 5, PIAS_BATCH_OK, t1));
	DIFFERS(pias_msg_batch_ack_tag(key1, 100, 1, 900, &reg.ta, 5, PIAS_BATCH_OK, t1));
	DIFFERS(pias_msg_batch_ack_tag(key1, 100, 2, 900, &reg.ta, 4, PIAS_BATCH_OK, t1));
	DIFFERS(pias_msg_batch_ack_tag(key2, 100, 2, 900, &reg.ta, 5, PIAS_BATCH_OK, t1));
	/* an entry's tag is never its answer's */
	pias_msg_batch_tag(key1, 100, 2, 5, &reg, t1);
	assert_false(pias_msg_tag_eq(t0, t1));
#undef DIFFERS
}

/*
 * Random mutations of valid datagrams and random bytes: decode either
 * fails with -EBADMSG or yields a message that re-encodes and decodes to
 * the same thing. It never crashes (run under ASan/valgrind to be sure).
 */
static void test_fuzz(void **state)
{
	struct pias_msg *m = new_msg(), *d = new_msg();
	static __u8 buf[BUF_SIZE], buf2[BUF_SIZE];
	unsigned int s = 4242, i, k, flips;
	struct pias_err e;
	int len, len2, ret, ok = 0;

	(void)state;
	for (i = 0; i < 20000; i++) {
		s = s * 1103515245 + 12345;
		if (i % 10 == 9) {
			len = (s >> 8) % 300;
			for (k = 0; k < (unsigned int)len; k++) {
				s = s * 1103515245 + 12345;
				buf[k] = s >> 16;
			}
			if (len >= 2) {
				buf[0] = 1;
				buf[1] = all_types[(s >> 4) % N_TYPES];
			}
		} else {
			len = datagram(all_types[(s >> 8) % N_TYPES], (s >> 16) % N_VARIANTS, buf);
			flips = 1 + (s >> 20) % 3;
			for (k = 0; k < flips; k++) {
				s = s * 1103515245 + 12345;
				buf[(s >> 8) % (len - MAC)] ^= 1 << ((s >> 4) % 8);
			}
		}
		ret = pias_msg_decode(buf, len, m, &e);
		if (ret) {
			assert_int_equal(ret, -EBADMSG);
			continue;
		}
		ok++;
		len2 = pias_msg_encode(m, key1, buf2, sizeof(buf2), &e);
		if (len2 < 0)
			fail_msg("decoded %s does not re-encode: %s",
				 pias_msg_type_name(m->hdr.type), e.msg);
		assert_int_equal(pias_msg_decode(buf2, len2, d, &e), 0);
		if (memcmp(&d->probe, &m->probe, sizeof(*m) - offsetof(struct pias_msg, probe)))
			fail_msg("%s: fuzzed message does not round-trip",
				 pias_msg_type_name(m->hdr.type));
	}
	assert_true(ok > 0); /* some mutations land in free fields */
	free(m);
	free(d);
}

int test_msg(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),	    cmocka_unit_test(test_wire_sizes),
		cmocka_unit_test(test_type_names),	    cmocka_unit_test(test_mac_bit_flips),
		cmocka_unit_test(test_wrong_key),	    cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_body_len_lies),	    cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_bad_fields),	    cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_view_zlib),	    cmocka_unit_test(test_view_bomb),
		cmocka_unit_test(test_view_incompressible), cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_reports_add),	    cmocka_unit_test(test_batch_tags),
	};

	return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
