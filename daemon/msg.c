// SPDX-License-Identifier: MIT
/*
 * piasd's control message codec: msg.h's structs to and from datagrams, as
 * docs/protocol.md section 6 specifies them.
 *
 * Every field is written and read one at a time in network byte order, so
 * the wire format does not depend on the compiler's struct layout. The
 * encoder checks the same rules the decoder enforces, so that whatever one
 * proxy sends the others accept, and a decoded message re-encodes to the
 * same bytes (VIEW pages too, with this zlib).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zlib.h>

#include <pias/maps.h>

#include "msg.h"

/* Wire sizes of the parts of bodies (docs/protocol.md section 6). */
#define COORD_LEN    16 /* x, y, h, err: IEEE-754 binary32 each */
#define MEMBER_LEN   (4 + 4 + 1 + 1 + 2 + 16 + COORD_LEN)
#define PROBE_LEN    (4 + 4 + 4 + COORD_LEN + 1 + 3) /* before the updates */
#define VIEW_REQ_LEN 4
#define VIEW_LEN     (4 + 4 + 2 + 2) /* before the zlib stream */
#define REPORT_LEN   (PIAS_MSG_TA_LEN + 4 + 8 + 2 + 2 + 4 + 4)
#define QUERY_LEN    PIAS_MSG_TA_LEN
#define BINDING_LEN  (PIAS_MSG_TA_LEN + 4 + 4 + 4 + 4)
/* policy, n, n_scopes, JAPs, prefixes with their JAPs */
#define BINDING_SET_LEN(n, s) (BINDING_LEN + 4 + 2 + 2 + 8 * (n) + 20 * (s))
#define SCOPE_LEN	      16 /* a prefix in a REPORT */
#define INVALIDATE_LEN	      (PIAS_MSG_TA_LEN + 4)
#define CONN_QUERY_LEN	      (PIAS_MSG_TA_LEN + 16 + 2 + 2 + 4 + 4)
#define FLOW_PIN_LEN(n)	      (PIAS_MSG_TA_LEN + 2 + 2 + 20 * (n)) /* client, port, ct, pad */
#define REGISTER_LEN	      (PIAS_MSG_TA_LEN + 1 + 1 + 2 + 16 + 4 + PIAS_MSG_COOKIE_LEN + 4 + 4)
#define REG_ACK_LEN	      (PIAS_MSG_TA_LEN + 4 + 4 + 4 + 8)
#define REG_ACK_TUN_LEN                                                                            \
	(REG_ACK_LEN + 1 + 1 + 2 + 16 + 8)	       /* tunnel mode: the JAP's endpoint, tag */
#define REG_NACK_LEN	     (PIAS_MSG_TA_LEN + 4 + 8) /* then 0-95 bytes of text */
#define REG_COOKIE_LEN	     (PIAS_MSG_TA_LEN + 8 + 4 + PIAS_MSG_COOKIE_LEN)
#define VIEW_RAW_MAX	     (PIAS_MSG_VIEW_PAGE * MEMBER_LEN)
#define OVERHEAD	     (PIAS_MSG_HDR_LEN + PIAS_MSG_MAC_LEN)
#define REPORTS_LEN	     (2 + 2) /* n, reserved; then the REPORTs, each as in a REPORT */
#define BATCH_ENTRY_LEN	     (PIAS_MSG_TA_LEN + 4 + PIAS_MSG_TAG_LEN)
#define REG_BATCH_LEN(n)     (4 + 2 + 2 + BATCH_ENTRY_LEN * (n)) /* jap_id, n, reserved */
#define BATCH_ANSWER_LEN     (1 + 3 + PIAS_MSG_TAG_LEN)		 /* status, reserved, tag */
#define REG_BATCH_ACK_LEN(n) (8 + 4 + 2 + 2 + BATCH_ANSWER_LEN * (n))

_Static_assert(PIAS_MSG_HDR_LEN == 1 + 1 + 2 + 4 + 4 + 4 + 8, "header: reserved u32 before seq");
_Static_assert(MEMBER_LEN == 44, "member record is 44 bytes on the wire");
/* what anyone can make a JAP send is never larger than what they sent */
_Static_assert(REG_NACK_LEN <= REGISTER_LEN && REG_COOKIE_LEN <= REGISTER_LEN,
	       "a text-less REG_NACK and a REG_COOKIE are no larger than a REGISTER");
_Static_assert(PROBE_LEN + PIAS_MSG_MAX_UPDATES * MEMBER_LEN + OVERHEAD <= PIAS_MSG_MAX,
	       "a PING with every update fits PIAS_MSG_MAX");
_Static_assert(FLOW_PIN_LEN(PIAS_MSG_PIN_MAX) + OVERHEAD <= PIAS_MSG_MAX,
	       "a full FLOW_PIN fits PIAS_MSG_MAX");
_Static_assert(REPORTS_LEN + PIAS_MSG_REPORTS_MAX * REPORT_LEN + OVERHEAD <= PIAS_MSG_MAX &&
		       REPORTS_LEN + (PIAS_MSG_REPORTS_MAX + 1) * REPORT_LEN + OVERHEAD >
			       PIAS_MSG_MAX,
	       "PIAS_MSG_REPORTS_MAX unscoped REPORTs fill a REPORTS");
_Static_assert(REG_BATCH_LEN(PIAS_MSG_BATCH_MAX) + OVERHEAD <= PIAS_MSG_MAX &&
		       REG_BATCH_LEN(PIAS_MSG_BATCH_MAX + 1) + OVERHEAD > PIAS_MSG_MAX,
	       "PIAS_MSG_BATCH_MAX entries fill a REG_BATCH");
/* per entry too (BATCH_ANSWER_LEN <= BATCH_ENTRY_LEN): so for every n */
_Static_assert(REG_BATCH_ACK_LEN(1) <= REG_BATCH_LEN(1) && BATCH_ANSWER_LEN <= BATCH_ENTRY_LEN,
	       "a REG_BATCH_ACK is no larger than the REG_BATCH it answers");
_Static_assert(VIEW_LEN + VIEW_RAW_MAX + VIEW_RAW_MAX / 100 + 64 + OVERHEAD <= PIAS_MSG_VIEW_MAX,
	       "a full VIEW page fits PIAS_MSG_VIEW_MAX even if it does not compress");

/*
 * crypto_auth needs no CPU dispatch today, but libsodium asks for
 * sodium_init() before any use; once per process is enough.
 */
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_start(void)
{
	if (sodium_init() < 0)
		abort(); /* no MACs without libsodium: nothing sensible to do */
}

static void sodium_ready(void)
{
	pthread_once(&sodium_once, sodium_start);
}

const char *pias_msg_type_name(__u8 type)
{
	switch (type) {
	case PIAS_MSG_PING:
		return "PING";
	case PIAS_MSG_ACK:
		return "ACK";
	case PIAS_MSG_PING_REQ:
		return "PING_REQ";
	case PIAS_MSG_VIEW_REQ:
		return "VIEW_REQ";
	case PIAS_MSG_VIEW:
		return "VIEW";
	case PIAS_MSG_REPORT:
		return "REPORT";
	case PIAS_MSG_QUERY:
		return "QUERY";
	case PIAS_MSG_BINDING:
		return "BINDING";
	case PIAS_MSG_INVALIDATE:
		return "INVALIDATE";
	case PIAS_MSG_CONN_QUERY:
		return "CONN_QUERY";
	case PIAS_MSG_FLOW_PIN:
		return "FLOW_PIN";
	case PIAS_MSG_REGISTER:
		return "REGISTER";
	case PIAS_MSG_LEAVE:
		return "LEAVE";
	case PIAS_MSG_REG_ACK:
		return "REG_ACK";
	case PIAS_MSG_REG_NACK:
		return "REG_NACK";
	case PIAS_MSG_REG_COOKIE:
		return "REG_COOKIE";
	case PIAS_MSG_REPORTS:
		return "REPORTS";
	case PIAS_MSG_REG_BATCH:
		return "REG_BATCH";
	case PIAS_MSG_REG_BATCH_ACK:
		return "REG_BATCH_ACK";
	}
	return "unknown";
}

static bool type_known(__u8 type)
{
	return strcmp(pias_msg_type_name(type), "unknown") != 0;
}

static size_t type_limit(__u8 type)
{
	return type == PIAS_MSG_VIEW ? PIAS_MSG_VIEW_MAX : PIAS_MSG_MAX;
}

/* Writer: bounded; once something does not fit, everything after is dropped. */
struct wr {
	__u8 *p;
	size_t cap, off;
	bool over;
};

static __u8 *wr_room(struct wr *w, size_t n)
{
	__u8 *r;

	if (w->over || w->cap - w->off < n) {
		w->over = true;
		return NULL;
	}
	r = w->p + w->off;
	w->off += n;
	return r;
}

static void put8(struct wr *w, __u8 v)
{
	__u8 *p = wr_room(w, 1);

	if (p)
		p[0] = v;
}

static void put16(struct wr *w, __u16 v)
{
	__u8 *p = wr_room(w, 2);

	if (p) {
		p[0] = v >> 8;
		p[1] = v;
	}
}

static void put32(struct wr *w, __u32 v)
{
	__u8 *p = wr_room(w, 4);

	if (p) {
		p[0] = v >> 24;
		p[1] = v >> 16;
		p[2] = v >> 8;
		p[3] = v;
	}
}

static void put64(struct wr *w, __u64 v)
{
	put32(w, v >> 32);
	put32(w, (__u32)v);
}

static void put_bytes(struct wr *w, const void *src, size_t n)
{
	__u8 *p = wr_room(w, n);

	if (p)
		memcpy(p, src, n);
}

static void put_zero(struct wr *w, size_t n)
{
	__u8 *p = wr_room(w, n);

	if (p)
		memset(p, 0, n);
}

/* A float travels as its IEEE-754 bits, like a u32. */
static void put_float(struct wr *w, float f)
{
	__u32 u;

	memcpy(&u, &f, sizeof(u));
	put32(w, u);
}

/* Only the first 4 bytes of an IPv4 address travel as data; the rest are zero. */
static void put_addr(struct wr *w, const union pias_addr *a, __u8 family)
{
	if (family == PIAS_AF_INET) {
		put_bytes(w, a->bytes, 4);
		put_zero(w, 12);
	} else {
		put_bytes(w, a->bytes, 16);
	}
}

static void put_ta(struct wr *w, const struct pias_ta *ta)
{
	put8(w, ta->family);
	put8(w, ta->proto);
	put16(w, ta->port);
	put_addr(w, &ta->addr, ta->family);
}

/* A policy: kind, scope length, copies, flags, a byte each. */
static void put_policy(struct wr *w, const struct pias_policy *p)
{
	put8(w, p->kind);
	put8(w, p->scope_len);
	put8(w, p->copies);
	put8(w, p->flags);
}

void pias_msg_ta_put(const struct pias_ta *ta, __u8 out[PIAS_MSG_TA_LEN])
{
	struct wr w = { .p = out, .cap = PIAS_MSG_TA_LEN };

	put_ta(&w, ta);
}

static void put_coord(struct wr *w, const struct pias_coord *c)
{
	put_float(w, c->x);
	put_float(w, c->y);
	put_float(w, c->h);
	put_float(w, c->err);
}

static void put_member(struct wr *w, const struct pias_msg_member *m)
{
	put32(w, m->id);
	put32(w, m->incarnation);
	put8(w, m->state);
	put8(w, m->family);
	put16(w, m->port);
	put_addr(w, &m->addr, m->family);
	put_coord(w, &m->coord);
}

/*
 * Reader: never reads past len; a short read yields zeros and marks the
 * reader so that the caller reports the body length (bodies are sized
 * exactly before they are parsed, so this is a second line of defence).
 */
struct rd {
	const __u8 *p;
	size_t len, off;
	bool short_read;
};

static const __u8 *rd_take(struct rd *r, size_t n)
{
	const __u8 *p;

	if (r->short_read || r->len - r->off < n) {
		r->short_read = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static __u8 get8(struct rd *r)
{
	const __u8 *p = rd_take(r, 1);

	return p ? p[0] : 0;
}

static __u16 get16(struct rd *r)
{
	const __u8 *p = rd_take(r, 2);

	return p ? (__u16)(p[0] << 8 | p[1]) : 0;
}

static __u32 get32(struct rd *r)
{
	const __u8 *p = rd_take(r, 4);

	return p ? (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3] : 0;
}

static __u64 get64(struct rd *r)
{
	__u64 hi = get32(r);

	return hi << 32 | get32(r);
}

static float get_float(struct rd *r)
{
	__u32 u = get32(r);
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static void get_bytes(struct rd *r, void *dst, size_t n)
{
	const __u8 *p = rd_take(r, n);

	if (p)
		memcpy(dst, p, n);
	else
		memset(dst, 0, n);
}

static void get_ta(struct rd *r, struct pias_ta *ta)
{
	ta->family = get8(r);
	ta->proto = get8(r);
	ta->port = get16(r);
	get_bytes(r, ta->addr.bytes, 16);
}

static void get_policy(struct rd *r, struct pias_policy *p)
{
	p->kind = get8(r);
	p->scope_len = get8(r);
	p->copies = get8(r);
	p->flags = get8(r);
}

static void get_coord(struct rd *r, struct pias_coord *c)
{
	c->x = get_float(r);
	c->y = get_float(r);
	c->h = get_float(r);
	c->err = get_float(r);
}

static void get_member(struct rd *r, struct pias_msg_member *m)
{
	m->id = get32(r);
	m->incarnation = get32(r);
	m->state = get8(r);
	m->family = get8(r);
	m->port = get16(r);
	get_bytes(r, m->addr.bytes, 16);
	get_coord(r, &m->coord);
}

/*
 * Field checks, shared by encoder (code -EINVAL: the caller built a bad
 * struct) and decoder (code -EBADMSG: the peer sent one). `t` is the type
 * name and `f` the field path prefix ("ta.", "updates[3].", "") so that
 * the message names the exact field.
 */
static int check_addr(const union pias_addr *a, __u8 family, const char *t, const char *f, int code,
		      struct pias_err *e)
{
	if (family != PIAS_AF_INET && family != PIAS_AF_INET6)
		return pias_err_set(e, code, "%s: %sfamily %u is not %u (IPv4) or %u (IPv6)", t, f,
				    family, PIAS_AF_INET, PIAS_AF_INET6);
	if (family == PIAS_AF_INET && (a->v6[1] || a->v6[2] || a->v6[3]))
		return pias_err_set(e, code, "%s: %saddr: IPv4 address with nonzero bytes 4-15", t,
				    f);
	return 0;
}

static int check_ta(const struct pias_ta *ta, const char *t, int code, struct pias_err *e)
{
	int err = check_addr(&ta->addr, ta->family, t, "ta.", code, e);

	if (err)
		return err;
	if (ta->proto != PIAS_PROTO_TCP && ta->proto != PIAS_PROTO_UDP)
		return pias_err_set(e, code, "%s: ta.proto %u is not %u (tcp) or %u (udp)", t,
				    ta->proto, PIAS_PROTO_TCP, PIAS_PROTO_UDP);
	if (!ta->port)
		return pias_err_set(e, code, "%s: ta.port is 0", t);
	return 0;
}

/* Vivaldi arithmetic on NaN or infinity would poison every coordinate it touches. */
static int check_coord(const struct pias_coord *c, const char *t, const char *f, int code,
		       struct pias_err *e)
{
	const char *bad = !isfinite(c->x)     ? "x"
			  : !isfinite(c->y)   ? "y"
			  : !isfinite(c->h)   ? "h"
			  : !isfinite(c->err) ? "err"
					      : NULL;

	if (bad)
		return pias_err_set(e, code, "%s: %scoord.%s is not a finite number", t, f, bad);
	return 0;
}

static int check_proxy_id(__u32 id, bool zero_ok, const char *t, const char *f, int code,
			  struct pias_err *e)
{
	if ((id == 0 && !zero_ok) || id >= PIAS_MAX_PROXIES)
		return pias_err_set(e, code, "%s: %s %u is not a proxy id 1-%u%s", t, f, id,
				    PIAS_MAX_PROXIES - 1, zero_ok ? " or 0" : "");
	return 0;
}

/*
 * A scoped group's prefixes: at most PIAS_GROUP_SCOPES, only with scoped,
 * each clean (pias_prefix_clean) and, in a set (japs != NULL), naming some
 * of its n_japs JAPs.
 */
static int check_scopes(const struct pias_policy *pol, __u8 family, const union pias_addr *addrs,
			const struct pias_group_scope *set, __u32 n, __u32 n_japs, const char *t,
			int code, struct pias_err *e)
{
	if (n > PIAS_GROUP_SCOPES)
		return pias_err_set(e, code, "%s: %u prefixes, at most %u", t, n,
				    PIAS_GROUP_SCOPES);
	if (n && pol->kind != PIAS_POLICY_SCOPED)
		return pias_err_set(e, code, "%s: prefixes for a group that is not scoped", t);
	for (__u32 i = 0; i < n; i++) {
		const union pias_addr *a = set ? &set[i].prefix : &addrs[i];

		if (!pias_prefix_clean(a->v6, pol->scope_len, family))
			return pias_err_set(e, code,
					    "%s: prefix %u is not a /%u with host bits zero", t, i,
					    pol->scope_len);
		if (set && (!set[i].japs || (n_japs < 32 && set[i].japs >> n_japs)))
			return pias_err_set(e, code, "%s: prefix %u names JAPs 0x%x of %u", t, i,
					    set[i].japs, n_japs);
	}
	return 0;
}

/* A binding's set: 1-16 JAPs, valid and distinct, the first the binding's. */
static int check_binding_set(const struct pias_msg_binding *b, const char *t, int code,
			     struct pias_err *e)
{
	const char *why = pias_policy_invalid(&b->policy, b->ta.family);

	if (why)
		return pias_err_set(e, code, "%s: policy: %s", t, why);
	if (b->n_japs < 1 || b->n_japs > PIAS_GROUP_MAX_JAPS)
		return pias_err_set(e, code, "%s: a set of %u JAPs, not 1-%u", t, b->n_japs,
				    PIAS_GROUP_MAX_JAPS);
	if (b->japs[0].jap_id != b->jap_id)
		return pias_err_set(e, code, "%s: the set's first JAP %u is not jap_id %u", t,
				    b->japs[0].jap_id, b->jap_id);
	for (__u32 i = 0; i < b->n_japs; i++) {
		int err = check_proxy_id(b->japs[i].jap_id, false, t, "set jap_id", code, e);

		if (err)
			return err;
		for (__u32 k = 0; k < i; k++)
			if (b->japs[k].jap_id == b->japs[i].jap_id)
				return pias_err_set(e, code, "%s: JAP %u twice in the set", t,
						    b->japs[i].jap_id);
	}
	return check_scopes(&b->policy, b->ta.family, NULL, b->scopes, b->n_scopes, b->n_japs, t,
			    code, e);
}

static int check_member(const struct pias_msg_member *m, const char *t, const char *f, int code,
			struct pias_err *e)
{
	char id[64];
	int err;

	snprintf(id, sizeof(id), "%sid", f);
	err = check_proxy_id(m->id, false, t, id, code, e);
	if (err)
		return err;
	if (m->state < PIAS_MEMBER_ALIVE || m->state > PIAS_MEMBER_LEFT)
		return pias_err_set(e, code, "%s: %sstate %u is not a member state 1-4", t, f,
				    m->state);
	err = check_addr(&m->addr, m->family, t, f, code, e);
	if (err)
		return err;
	return check_coord(&m->coord, t, f, code, e);
}

static int check_members(const struct pias_msg_member *m, __u32 n, const char *t, const char *name,
			 int code, struct pias_err *e)
{
	char f[48];
	__u32 i;
	int err;

	for (i = 0; i < n; i++) {
		snprintf(f, sizeof(f), "%s[%u].", name, i);
		err = check_member(&m[i], t, f, code, e);
		if (err)
			return err;
	}
	return 0;
}

static int check_header(const struct pias_msg_hdr *h, int code, struct pias_err *e)
{
	const char *t = pias_msg_type_name(h->type);

	if (!type_known(h->type))
		return pias_err_set(e, code, "header.type %u is unknown", h->type);
	if (pias_msg_is_target(h->type)) {
		if (h->sender_id)
			return pias_err_set(e, code,
					    "%s: header.sender_id %u is not 0 (target message)", t,
					    h->sender_id);
		if (h->key_id)
			return pias_err_set(e, code,
					    "%s: header.key_id %u is not 0 (target message)", t,
					    h->key_id);
		return 0;
	}
	if (!h->key_id)
		return pias_err_set(e, code, "%s: header.key_id 0 is not a key id", t);
	return check_proxy_id(h->sender_id, false, t, "header.sender_id", code, e);
}

static int check_report(const struct pias_msg_report *rp, const char *t, int code,
			struct pias_err *e)
{
	const char *why;
	int err = check_ta(&rp->ta, t, code, e);

	if (err)
		return err;
	if (rp->share > PIAS_SHARE_FULL)
		return pias_err_set(e, code, "%s: share %u is over %u per mille", t, rp->share,
				    PIAS_SHARE_FULL);
	why = pias_policy_invalid(&rp->policy, rp->ta.family);
	if (why)
		return pias_err_set(e, code, "%s: policy: %s", t, why);
	return check_scopes(&rp->policy, rp->ta.family, rp->scopes, NULL, rp->n_scopes, 0, t, code,
			    e);
}

static int check_batch(const struct pias_msg_reg_batch *b, const char *t, int code,
		       struct pias_err *e)
{
	int err = check_proxy_id(b->jap_id, false, t, "jap_id", code, e);

	if (err)
		return err;
	if (b->n < 1 || b->n > PIAS_MSG_BATCH_MAX)
		return pias_err_set(e, code, "%s: n %u is not 1-%d", t, b->n, PIAS_MSG_BATCH_MAX);
	for (__u32 i = 0; i < b->n; i++) {
		char te[32];

		snprintf(te, sizeof(te), "%s[%u]", t, i);
		err = check_ta(&b->e[i].ta, te, code, e);
		if (err)
			return err;
		if (!b->e[i].target_id || b->e[i].target_id >= PIAS_MAX_TARGETS)
			return pias_err_set(e, code, "%s: target_id %u is not a target id 1-%u", te,
					    b->e[i].target_id, PIAS_MAX_TARGETS - 1);
	}
	return 0;
}

static int check_batch_ack(const struct pias_msg_reg_batch_ack *a, const char *t, int code,
			   struct pias_err *e)
{
	if (a->n < 1 || a->n > PIAS_MSG_BATCH_MAX)
		return pias_err_set(e, code, "%s: n %u is not 1-%d", t, a->n, PIAS_MSG_BATCH_MAX);
	for (__u32 i = 0; i < a->n; i++)
		if (a->e[i].status < PIAS_BATCH_OK || a->e[i].status > PIAS_BATCH_REFUSED)
			return pias_err_set(e, code, "%s[%u]: status %u is not 1-%d", t, i,
					    a->e[i].status, PIAS_BATCH_REFUSED);
	return 0;
}

/* Everything a decoded message must satisfy; the encoder refuses the same. */
static int check_body(const struct pias_msg *m, int code, struct pias_err *e)
{
	const char *t = pias_msg_type_name(m->hdr.type);
	int err;

	switch (m->hdr.type) {
	case PIAS_MSG_PING:
	case PIAS_MSG_ACK:
	case PIAS_MSG_PING_REQ: {
		const struct pias_msg_probe *p = &m->probe;

		err = check_proxy_id(p->target_id, false, t, "target_id", code, e);
		if (!err)
			err = check_proxy_id(p->origin_id, true, t, "origin_id", code, e);
		if (!err)
			err = check_coord(&p->coord, t, "", code, e);
		if (err)
			return err;
		if (p->n_updates > PIAS_MSG_MAX_UPDATES)
			return pias_err_set(e, code, "%s: n_updates %u is over the limit of %d", t,
					    p->n_updates, PIAS_MSG_MAX_UPDATES);
		return check_members(p->updates, p->n_updates, t, "updates", code, e);
	}
	case PIAS_MSG_VIEW_REQ:
		return 0;
	case PIAS_MSG_VIEW: {
		const struct pias_msg_view *v = &m->view;

		if (v->n > PIAS_MSG_VIEW_PAGE)
			return pias_err_set(e, code, "%s: n %u is over the limit of %d", t, v->n,
					    PIAS_MSG_VIEW_PAGE);
		if (v->total >= PIAS_MAX_PROXIES)
			return pias_err_set(e, code, "%s: total %u is over the limit of %u", t,
					    v->total, PIAS_MAX_PROXIES - 1);
		if ((__u64)v->offset + v->n > v->total)
			return pias_err_set(e, code, "%s: offset %u + n %u is beyond total %u", t,
					    v->offset, v->n, v->total);
		return check_members(v->members, v->n, t, "members", code, e);
	}
	case PIAS_MSG_REPORT:
		return check_report(&m->report, t, code, e);
	case PIAS_MSG_REPORTS:
		if (m->reports.n < 1 || m->reports.n > PIAS_MSG_REPORTS_MAX)
			return pias_err_set(e, code, "%s: n %u is not 1-%d", t, m->reports.n,
					    PIAS_MSG_REPORTS_MAX);
		for (__u32 i = 0; i < m->reports.n; i++) {
			char te[32];

			snprintf(te, sizeof(te), "%s[%u]", t, i);
			err = check_report(&m->reports.r[i], te, code, e);
			if (err)
				return err;
		}
		return 0;
	case PIAS_MSG_REG_BATCH:
		return check_batch(&m->batch, t, code, e);
	case PIAS_MSG_REG_BATCH_ACK:
		return check_batch_ack(&m->batch_ack, t, code, e);
	case PIAS_MSG_QUERY:
		return check_ta(&m->query.ta, t, code, e);
	case PIAS_MSG_BINDING: {
		const struct pias_msg_binding *b = &m->binding;

		err = check_ta(&b->ta, t, code, e);
		if (err)
			return err;
		if (b->flags & ~(__u32)(PIAS_MSG_BINDING_F_NEGATIVE | PIAS_MSG_BINDING_F_SET))
			return pias_err_set(e, code, "%s: flags 0x%x has unknown bits", t,
					    b->flags);
		if (b->flags & PIAS_MSG_BINDING_F_NEGATIVE) {
			if (b->jap_id || (b->flags & PIAS_MSG_BINDING_F_SET))
				return pias_err_set(e, code,
						    "%s: jap_id %u or a set in a negative binding",
						    t, b->jap_id);
			return 0;
		}
		err = check_proxy_id(b->jap_id, false, t, "jap_id", code, e);
		if (err || !(b->flags & PIAS_MSG_BINDING_F_SET))
			return err;
		return check_binding_set(b, t, code, e);
	}
	case PIAS_MSG_INVALIDATE:
		return check_ta(&m->inval.ta, t, code, e);
	case PIAS_MSG_CONN_QUERY: {
		const struct pias_msg_conn_query *q = &m->cq;

		err = check_ta(&q->ta, t, code, e);
		if (!err)
			err = check_addr(&q->client, q->ta.family, t, "client.", code, e);
		if (!err)
			err = check_proxy_id(q->iap_id, false, t, "iap_id", code, e);
		if (!err)
			err = check_proxy_id(q->asker_id, false, t, "asker_id", code, e);
		if (err)
			return err;
		if (q->flags & ~PIAS_MSG_CQ_F_KNOWN)
			return pias_err_set(e, code, "%s: flags 0x%x has unknown bits", t,
					    q->flags);
		if (!q->client_port)
			return pias_err_set(e, code, "%s: client_port is 0", t);
		return 0;
	}
	case PIAS_MSG_FLOW_PIN: {
		const struct pias_msg_flow_pin *p = &m->pin;

		err = check_ta(&p->ta, t, code, e);
		if (err)
			return err;
		if (p->n < 1 || p->n > PIAS_MSG_PIN_MAX)
			return pias_err_set(e, code, "%s: n %u is not 1-%d", t, p->n,
					    PIAS_MSG_PIN_MAX);
		for (__u32 i = 0; i < p->n; i++) {
			char f[32];

			snprintf(f, sizeof(f), "flows[%u].", i);
			err = check_addr(&p->flows[i].client, p->ta.family, t, f, code, e);
			if (err)
				return err;
			if (!p->flows[i].client_port)
				return pias_err_set(e, code, "%s: %sclient_port is 0", t, f);
			if (p->flows[i].ct & ~PIAS_CT_KNOWN)
				return pias_err_set(e, code, "%s: %sct 0x%x has unknown bits", t, f,
						    p->flows[i].ct);
		}
		return 0;
	}
	case PIAS_MSG_REGISTER:
	case PIAS_MSG_LEAVE:
		err = check_ta(&m->reg.ta, t, code, e);
		if (!err)
			err = check_addr(&m->reg.addr, m->reg.family, t, "", code, e);
		if (!err) {
			const char *why = pias_policy_invalid(&m->reg.policy, m->reg.ta.family);

			if (why)
				err = pias_err_set(e, code, "%s: policy: %s", t, why);
		}
		return err;
	case PIAS_MSG_REG_ACK: {
		const struct pias_msg_reg_ack *a = &m->ack;

		err = check_ta(&a->ta, t, code, e);
		if (!err)
			err = check_proxy_id(a->jap_id, false, t, "jap_id", code, e);
		if (err)
			return err;
		/* 0: the answer to a LEAVE of a target the JAP does not know */
		if (a->target_id >= PIAS_MAX_TARGETS)
			return pias_err_set(e, code, "%s: target_id %u is not a target id 0-%u", t,
					    a->target_id, PIAS_MAX_TARGETS - 1);
		if (!a->tun_family)
			return 0;
		if (!a->tun_port)
			return pias_err_set(e, code, "%s: tunnel port 0", t);
		return check_addr(&a->tun_addr, a->tun_family, t, "tunnel ", code, e);
	}
	case PIAS_MSG_REG_NACK: {
		const struct pias_msg_reg_nack *n = &m->nack;

		err = check_ta(&n->ta, t, code, e);
		if (err)
			return err;
		if (n->code < PIAS_NACK_BAD_TOKEN || n->code > PIAS_NACK_NOT_SERVING)
			return pias_err_set(e, code, "%s: code %u is not a NACK code 1-%d", t,
					    n->code, PIAS_NACK_NOT_SERVING);
		if (!memchr(n->text, '\0', sizeof(n->text)))
			return pias_err_set(e, code,
					    "%s: text is not NUL-terminated within %d bytes", t,
					    PIAS_MSG_TEXT_LEN);
		return 0;
	}
	case PIAS_MSG_REG_COOKIE:
		err = check_ta(&m->cookie.ta, t, code, e);
		if (!err)
			err = check_proxy_id(m->cookie.jap_id, false, t, "jap_id", code, e);
		return err;
	}
	return pias_err_set(e, code, "header.type %u is unknown", m->hdr.type);
}

static void put_report(struct wr *w, const struct pias_msg_report *r)
{
	put_ta(w, &r->ta);
	put32(w, r->count);
	put64(w, r->seq);
	put16(w, r->share);
	put16(w, r->n_scopes);
	put_policy(w, &r->policy);
	put32(w, r->policy_serial);
	for (__u32 i = 0; i < r->n_scopes; i++)
		put_addr(w, &r->scopes[i], r->ta.family);
}

static int encode_view(struct wr *w, const struct pias_msg_view *v)
{
	__u8 raw[VIEW_RAW_MAX];
	struct wr rw = { .p = raw, .cap = sizeof(raw) };
	uLongf zlen;
	__u32 i;
	int zerr;

	put32(w, v->offset);
	put32(w, v->total);
	put16(w, (__u16)v->n);
	put16(w, 0);
	for (i = 0; i < v->n; i++)
		put_member(&rw, &v->members[i]);
	if (w->over)
		return -EMSGSIZE;
	zlen = w->cap - w->off;
	zerr = compress2(w->p + w->off, &zlen, raw, rw.off, Z_BEST_COMPRESSION);
	if (zerr == Z_BUF_ERROR)
		return -EMSGSIZE;
	if (zerr != Z_OK)
		return -ENOMEM;
	w->off += zlen;
	return 0;
}

static int encode_body(struct wr *w, const struct pias_msg *m)
{
	__u32 i;

	switch (m->hdr.type) {
	case PIAS_MSG_PING:
	case PIAS_MSG_ACK:
	case PIAS_MSG_PING_REQ:
		put32(w, m->probe.probe_seq);
		put32(w, m->probe.target_id);
		put32(w, m->probe.origin_id);
		put_coord(w, &m->probe.coord);
		put8(w, (__u8)m->probe.n_updates);
		put_zero(w, 3);
		for (i = 0; i < m->probe.n_updates; i++)
			put_member(w, &m->probe.updates[i]);
		break;
	case PIAS_MSG_VIEW_REQ:
		put32(w, m->view_req.offset);
		break;
	case PIAS_MSG_VIEW:
		return encode_view(w, &m->view);
	case PIAS_MSG_REPORT:
		put_report(w, &m->report);
		break;
	case PIAS_MSG_REPORTS:
		put16(w, (__u16)m->reports.n);
		put16(w, 0);
		for (i = 0; i < m->reports.n; i++)
			put_report(w, &m->reports.r[i]);
		break;
	case PIAS_MSG_REG_BATCH:
		put32(w, m->batch.jap_id);
		put16(w, (__u16)m->batch.n);
		put16(w, 0);
		for (i = 0; i < m->batch.n; i++) {
			put_ta(w, &m->batch.e[i].ta);
			put32(w, m->batch.e[i].target_id);
			put_bytes(w, m->batch.e[i].tag, PIAS_MSG_TAG_LEN);
		}
		break;
	case PIAS_MSG_REG_BATCH_ACK:
		put64(w, m->batch_ack.echo_seq);
		put32(w, m->batch_ack.refresh_ms);
		put16(w, (__u16)m->batch_ack.n);
		put16(w, 0);
		for (i = 0; i < m->batch_ack.n; i++) {
			put8(w, m->batch_ack.e[i].status);
			put_zero(w, 3);
			put_bytes(w, m->batch_ack.e[i].tag, PIAS_MSG_TAG_LEN);
		}
		break;
	case PIAS_MSG_QUERY:
		put_ta(w, &m->query.ta);
		break;
	case PIAS_MSG_BINDING:
		put_ta(w, &m->binding.ta);
		put32(w, m->binding.jap_id);
		put32(w, m->binding.generation);
		put32(w, m->binding.lifetime_ms);
		put32(w, m->binding.flags);
		if (!(m->binding.flags & PIAS_MSG_BINDING_F_SET))
			break;
		put_policy(w, &m->binding.policy);
		put16(w, (__u16)m->binding.n_japs);
		put16(w, (__u16)m->binding.n_scopes);
		for (__u32 i = 0; i < m->binding.n_japs; i++) {
			put32(w, m->binding.japs[i].jap_id);
			put32(w, m->binding.japs[i].weight);
		}
		for (__u32 i = 0; i < m->binding.n_scopes; i++) {
			put_addr(w, &m->binding.scopes[i].prefix, m->binding.ta.family);
			put32(w, m->binding.scopes[i].japs);
		}
		break;
	case PIAS_MSG_INVALIDATE:
		put_ta(w, &m->inval.ta);
		put32(w, m->inval.generation);
		break;
	case PIAS_MSG_CONN_QUERY:
		put_ta(w, &m->cq.ta);
		put_addr(w, &m->cq.client, m->cq.ta.family);
		put16(w, m->cq.client_port);
		put16(w, m->cq.flags);
		put32(w, m->cq.iap_id);
		put32(w, m->cq.asker_id);
		break;
	case PIAS_MSG_FLOW_PIN:
		put_ta(w, &m->pin.ta);
		put16(w, (__u16)m->pin.n);
		put16(w, 0);
		for (i = 0; i < m->pin.n; i++) {
			put_addr(w, &m->pin.flows[i].client, m->pin.ta.family);
			put16(w, m->pin.flows[i].client_port);
			put8(w, m->pin.flows[i].ct);
			put8(w, 0);
		}
		break;
	case PIAS_MSG_REGISTER:
	case PIAS_MSG_LEAVE:
		put_ta(w, &m->reg.ta);
		put8(w, m->reg.family);
		put8(w, m->reg.flags);
		put16(w, m->reg.port);
		put_addr(w, &m->reg.addr, m->reg.family);
		put32(w, m->reg.weight);
		put_bytes(w, m->reg.cookie, sizeof(m->reg.cookie));
		put_policy(w, &m->reg.policy);
		put32(w, m->reg.policy_serial);
		break;
	case PIAS_MSG_REG_ACK:
		put_ta(w, &m->ack.ta);
		put32(w, m->ack.jap_id);
		put32(w, m->ack.target_id);
		put32(w, m->ack.refresh_ms);
		put64(w, m->ack.echo_seq);
		if (m->ack.tun_family) {
			put8(w, m->ack.tun_family);
			put8(w, 0);
			put16(w, m->ack.tun_port);
			put_addr(w, &m->ack.tun_addr, m->ack.tun_family);
			put_bytes(w, &m->ack.tun_tag, sizeof(m->ack.tun_tag));
		}
		break;
	case PIAS_MSG_REG_NACK: {
		/* The text without its NUL: body_len says where it ends. */
		size_t n = strnlen(m->nack.text, sizeof(m->nack.text));

		put_ta(w, &m->nack.ta);
		put32(w, m->nack.code);
		put64(w, m->nack.echo_seq);
		put_bytes(w, m->nack.text, n);
		break;
	}
	case PIAS_MSG_REG_COOKIE:
		put_ta(w, &m->cookie.ta);
		put64(w, m->cookie.echo_seq);
		put32(w, m->cookie.jap_id);
		put_bytes(w, m->cookie.cookie, sizeof(m->cookie.cookie));
		break;
	}
	return w->over ? -EMSGSIZE : 0;
}

int pias_msg_encode(const struct pias_msg *m, const __u8 key[PIAS_KEY_LEN], void *buf, size_t cap,
		    struct pias_err *e)
{
	const char *t = pias_msg_type_name(m->hdr.type);
	struct wr w = { .p = buf };
	size_t limit;
	int err;

	err = check_header(&m->hdr, -EINVAL, e);
	if (!err)
		err = check_body(m, -EINVAL, e);
	if (err)
		return err;
	limit = type_limit(m->hdr.type);
	w.cap = cap < limit ? cap : limit;
	if (w.cap < OVERHEAD)
		return pias_err_set(e, -EMSGSIZE, "%s: %zu bytes of room is less than %d", t, w.cap,
				    OVERHEAD);
	w.cap -= PIAS_MSG_MAC_LEN; /* the MAC always fits behind the body */

	put8(&w, PIAS_MSG_VERSION);
	put8(&w, m->hdr.type);
	put16(&w, 0); /* body_len, known at the end */
	put32(&w, m->hdr.sender_id);
	put32(&w, m->hdr.key_id);
	put32(&w, 0); /* reserved: keeps seq 8-byte aligned, room for flags */
	put64(&w, m->hdr.seq);
	err = encode_body(&w, m);
	if (err == -EMSGSIZE)
		return pias_err_set(e, err, "%s: does not fit %zu bytes (buffer %zu, limit %zu)", t,
				    w.cap + PIAS_MSG_MAC_LEN, cap, limit);
	if (err)
		return pias_err_set(e, err, "%s: zlib could not compress the members", t);
	((__u8 *)buf)[2] = (w.off - PIAS_MSG_HDR_LEN) >> 8;
	((__u8 *)buf)[3] = (w.off - PIAS_MSG_HDR_LEN) & 0xff;

	sodium_ready();
	crypto_auth((__u8 *)buf + w.off, buf, w.off, key);
	return (int)(w.off + PIAS_MSG_MAC_LEN);
}

int pias_msg_header(const void *buf, size_t len, struct pias_msg_hdr *h, struct pias_err *e)
{
	struct rd r = { .p = buf, .len = len };
	struct pias_msg_hdr out = {};
	const char *t;
	__u32 reserved;
	int err;

	if (len < OVERHEAD)
		return pias_err_set(e, -EBADMSG,
				    "datagram of %zu bytes is shorter than header and MAC (%d)",
				    len, OVERHEAD);
	out.version = get8(&r);
	out.type = get8(&r);
	out.body_len = get16(&r);
	out.sender_id = get32(&r);
	out.key_id = get32(&r);
	reserved = get32(&r);
	out.seq = get64(&r);
	if (out.version != PIAS_MSG_VERSION)
		return pias_err_set(e, -EBADMSG, "header.version %u is not %d", out.version,
				    PIAS_MSG_VERSION);
	if (reserved)
		return pias_err_set(e, -EBADMSG, "header.reserved 0x%08x is not zero", reserved);
	if (!type_known(out.type))
		return pias_err_set(e, -EBADMSG, "header.type %u is unknown", out.type);
	t = pias_msg_type_name(out.type);
	if (len > type_limit(out.type))
		return pias_err_set(e, -EBADMSG,
				    "%s: datagram of %zu bytes is over the limit of %zu", t, len,
				    type_limit(out.type));
	if (out.body_len != len - OVERHEAD)
		return pias_err_set(e, -EBADMSG,
				    "%s: header.body_len %u disagrees with the datagram (%zu bytes "
				    "of body)",
				    t, out.body_len, len - OVERHEAD);
	err = check_header(&out, -EBADMSG, e);
	if (err)
		return err;
	*h = out;
	return 0;
}

bool pias_msg_mac_ok(const void *buf, size_t len, const __u8 key[PIAS_KEY_LEN])
{
	const __u8 *p = buf;

	if (len < OVERHEAD)
		return false;
	sodium_ready();
	return crypto_auth_verify(p + len - PIAS_MSG_MAC_LEN, p, len - PIAS_MSG_MAC_LEN, key) == 0;
}

static int expect_len(size_t body_len, size_t want, const char *t, struct pias_err *e)
{
	if (body_len != want)
		return pias_err_set(e, -EBADMSG, "%s: body of %zu bytes, expected %zu", t, body_len,
				    want);
	return 0;
}

static bool all_zero(const void *p, size_t n)
{
	const __u8 *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

enum inflate_result {
	INFLATE_OK,	 /* one complete stream, output exactly filled */
	INFLATE_SHORT,	 /* complete, but less output than wanted */
	INFLATE_MORE,	 /* would produce more than wanted */
	INFLATE_CORRUPT, /* not zlib, truncated, bad checksum, or needs a dictionary */
	INFLATE_NOMEM,
};

/*
 * Inflate the zlib stream src into dst, which must come out exactly want
 * bytes long. Output never goes beyond dst (plus one probe byte on the
 * stack), so a stream that would inflate to much more stops there: no
 * allocation depends on what the peer sent, and at most srclen bytes
 * (< PIAS_MSG_VIEW_MAX) are ever read. *used: bytes of src consumed.
 */
static enum inflate_result inflate_exact(const __u8 *src, size_t srclen, __u8 *dst, size_t want,
					 size_t *got, size_t *used)
{
	z_stream zs = {};
	enum inflate_result res;
	__u8 probe;
	int zerr;

	if (inflateInit(&zs) != Z_OK)
		return INFLATE_NOMEM;
	zs.next_in = (Bytef *)src;
	zs.avail_in = srclen;
	zs.next_out = dst;
	zs.avail_out = want;
	zerr = inflate(&zs, Z_FINISH);
	if (zerr == Z_BUF_ERROR && !zs.avail_out) {
		/* dst is full: does the stream end here (only its checksum left) or go on? */
		zs.next_out = &probe;
		zs.avail_out = 1;
		zerr = inflate(&zs, Z_FINISH);
		if (!zs.avail_out) {
			res = INFLATE_MORE;
			goto out;
		}
	}
	if (zerr == Z_STREAM_END)
		res = zs.total_out == want ? INFLATE_OK : INFLATE_SHORT;
	else if (zerr == Z_MEM_ERROR)
		res = INFLATE_NOMEM;
	else
		res = INFLATE_CORRUPT; /* Z_DATA_ERROR, Z_NEED_DICT, Z_BUF_ERROR: input ran out */
out:
	*got = zs.total_out;
	*used = srclen - zs.avail_in;
	inflateEnd(&zs);
	return res;
}

/* The zlib stream of a VIEW must inflate to exactly n member records. */
static int decode_view(struct rd *r, struct pias_msg_view *v, const char *t, struct pias_err *e)
{
	__u8 raw[VIEW_RAW_MAX];
	size_t want, got, used;
	struct rd rr;
	__u16 reserved;
	__u32 i;

	if (r->len < VIEW_LEN)
		return pias_err_set(e, -EBADMSG, "%s: body of %zu bytes, expected at least %d", t,
				    r->len, VIEW_LEN);
	v->offset = get32(r);
	v->total = get32(r);
	v->n = get16(r);
	reserved = get16(r);
	if (reserved)
		return pias_err_set(e, -EBADMSG, "%s: reserved 0x%04x is not zero", t, reserved);
	if (v->n > PIAS_MSG_VIEW_PAGE)
		return pias_err_set(e, -EBADMSG, "%s: n %u is over the limit of %d", t, v->n,
				    PIAS_MSG_VIEW_PAGE);
	want = (size_t)v->n * MEMBER_LEN;
	switch (inflate_exact(r->p + r->off, r->len - r->off, raw, want, &got, &used)) {
	case INFLATE_OK:
		break;
	case INFLATE_SHORT:
		return pias_err_set(e, -EBADMSG,
				    "%s: members inflate to %zu bytes, not n (%u) * %d = %zu", t,
				    got, v->n, MEMBER_LEN, want);
	case INFLATE_MORE:
		return pias_err_set(e, -EBADMSG,
				    "%s: members inflate to more than n (%u) records of %d bytes",
				    t, v->n, MEMBER_LEN);
	case INFLATE_CORRUPT:
		return pias_err_set(
			e, -EBADMSG,
			"%s: members are not a complete zlib stream (corrupt or truncated)", t);
	case INFLATE_NOMEM:
		return pias_err_set(e, -ENOMEM, "%s: zlib: out of memory", t);
	}
	if (used != r->len - r->off)
		return pias_err_set(e, -EBADMSG, "%s: %zu bytes after the zlib stream", t,
				    r->len - r->off - used);
	r->off = r->len;
	rr = (struct rd){ .p = raw, .len = got };
	for (i = 0; i < v->n; i++)
		get_member(&rr, &v->members[i]);
	return 0;
}

/*
 * A count (16 bits) of 1-max entries and 16 reserved bits: how every list
 * starts. A list of entries of item bytes each must then fill the body
 * exactly, after head bytes (item 0: entries of their own lengths).
 */
static int get_count(struct rd *r, __u32 *n, __u32 max, size_t head, size_t item, const char *t,
		     struct pias_err *e)
{
	*n = get16(r);
	if (get16(r))
		return pias_err_set(e, -EBADMSG, "%s: reserved 16 bits are not zero", t);
	if (*n < 1 || *n > max)
		return pias_err_set(e, -EBADMSG, "%s: n %u is not 1-%u", t, *n, max);
	return item ? expect_len(r->len, head + item * *n, t, e) : 0;
}

/*
 * A REPORT's fields from where r is: the fixed part, then as many prefixes
 * as it says (a REPORT's body, or one entry of a REPORTS).
 */
static int get_report(struct rd *r, struct pias_msg_report *rp, const char *t, struct pias_err *e)
{
	size_t need;

	if (r->len - r->off < REPORT_LEN)
		return pias_err_set(e, -EBADMSG, "%s: body of %zu bytes, expected at least %zu", t,
				    r->len, r->off + REPORT_LEN);
	get_ta(r, &rp->ta);
	rp->count = get32(r);
	rp->seq = get64(r);
	rp->share = get16(r);
	rp->n_scopes = get16(r);
	if (rp->n_scopes > PIAS_GROUP_SCOPES)
		return pias_err_set(e, -EBADMSG, "%s: %u prefixes, at most %u", t, rp->n_scopes,
				    PIAS_GROUP_SCOPES);
	need = 4 + 4 + (size_t)SCOPE_LEN * rp->n_scopes; /* policy, serial, prefixes */
	if (r->len - r->off < need)
		return pias_err_set(e, -EBADMSG, "%s: body of %zu bytes, expected %zu", t, r->len,
				    r->off + need);
	get_policy(r, &rp->policy);
	rp->policy_serial = get32(r);
	for (__u32 i = 0; i < rp->n_scopes; i++)
		get_bytes(r, rp->scopes[i].bytes, 16);
	return 0;
}

static int decode_body(struct rd *r, struct pias_msg *m, const char *t, struct pias_err *e)
{
	__u8 reserved[3];
	__u32 i;
	int err;

	switch (m->hdr.type) {
	case PIAS_MSG_PING:
	case PIAS_MSG_ACK:
	case PIAS_MSG_PING_REQ: {
		struct pias_msg_probe *p = &m->probe;

		if (r->len < PROBE_LEN)
			return pias_err_set(e, -EBADMSG,
					    "%s: body of %zu bytes, expected at least %d", t,
					    r->len, PROBE_LEN);
		p->probe_seq = get32(r);
		p->target_id = get32(r);
		p->origin_id = get32(r);
		get_coord(r, &p->coord);
		p->n_updates = get8(r);
		get_bytes(r, reserved, sizeof(reserved));
		if (!all_zero(reserved, sizeof(reserved)))
			return pias_err_set(e, -EBADMSG, "%s: reserved bytes are not zero", t);
		if (p->n_updates > PIAS_MSG_MAX_UPDATES)
			return pias_err_set(e, -EBADMSG, "%s: n_updates %u is over the limit of %d",
					    t, p->n_updates, PIAS_MSG_MAX_UPDATES);
		err = expect_len(r->len, PROBE_LEN + (size_t)p->n_updates * MEMBER_LEN, t, e);
		if (err)
			return err;
		for (i = 0; i < p->n_updates; i++)
			get_member(r, &p->updates[i]);
		return 0;
	}
	case PIAS_MSG_VIEW_REQ:
		err = expect_len(r->len, VIEW_REQ_LEN, t, e);
		if (!err)
			m->view_req.offset = get32(r);
		return err;
	case PIAS_MSG_VIEW:
		return decode_view(r, &m->view, t, e);
	case PIAS_MSG_REPORT:
		err = get_report(r, &m->report, t, e);
		if (!err && r->off != r->len)
			err = expect_len(r->len, r->off, t, e);
		return err;
	case PIAS_MSG_REPORTS:
		if (r->len < REPORTS_LEN + REPORT_LEN)
			return pias_err_set(e, -EBADMSG,
					    "%s: body of %zu bytes, expected at least %d", t,
					    r->len, REPORTS_LEN + REPORT_LEN);
		err = get_count(r, &m->reports.n, PIAS_MSG_REPORTS_MAX, REPORTS_LEN, 0, t, e);
		if (err)
			return err;
		/* each entry's length follows from its own count of prefixes */
		for (i = 0; i < m->reports.n; i++) {
			char te[32];

			snprintf(te, sizeof(te), "%s[%u]", t, i);
			err = get_report(r, &m->reports.r[i], te, e);
			if (err)
				return err;
		}
		return 0;
	case PIAS_MSG_REG_BATCH:
		if (r->len < REG_BATCH_LEN(1))
			return expect_len(r->len, REG_BATCH_LEN(1), t, e);
		m->batch.jap_id = get32(r);
		err = get_count(r, &m->batch.n, PIAS_MSG_BATCH_MAX, REG_BATCH_LEN(0),
				BATCH_ENTRY_LEN, t, e);
		if (err)
			return err;
		for (i = 0; i < m->batch.n; i++) {
			get_ta(r, &m->batch.e[i].ta);
			m->batch.e[i].target_id = get32(r);
			get_bytes(r, m->batch.e[i].tag, PIAS_MSG_TAG_LEN);
		}
		return 0;
	case PIAS_MSG_REG_BATCH_ACK:
		if (r->len < REG_BATCH_ACK_LEN(1))
			return expect_len(r->len, REG_BATCH_ACK_LEN(1), t, e);
		m->batch_ack.echo_seq = get64(r);
		m->batch_ack.refresh_ms = get32(r);
		err = get_count(r, &m->batch_ack.n, PIAS_MSG_BATCH_MAX, REG_BATCH_ACK_LEN(0),
				BATCH_ANSWER_LEN, t, e);
		if (err)
			return err;
		for (i = 0; i < m->batch_ack.n; i++) {
			m->batch_ack.e[i].status = get8(r);
			get_bytes(r, reserved, sizeof(reserved));
			if (!all_zero(reserved, sizeof(reserved)))
				return pias_err_set(e, -EBADMSG,
						    "%s[%u]: reserved bytes are not zero", t, i);
			get_bytes(r, m->batch_ack.e[i].tag, PIAS_MSG_TAG_LEN);
		}
		return 0;
	case PIAS_MSG_QUERY:
		err = expect_len(r->len, QUERY_LEN, t, e);
		if (!err)
			get_ta(r, &m->query.ta);
		return err;
	case PIAS_MSG_BINDING:
		if (r->len < BINDING_LEN)
			return expect_len(r->len, BINDING_LEN, t, e);
		get_ta(r, &m->binding.ta);
		m->binding.jap_id = get32(r);
		m->binding.generation = get32(r);
		m->binding.lifetime_ms = get32(r);
		m->binding.flags = get32(r);
		if (!(m->binding.flags & PIAS_MSG_BINDING_F_SET))
			return expect_len(r->len, BINDING_LEN, t, e);
		/* one encoding per binding: the set's length follows from its counts */
		if (r->len < BINDING_SET_LEN(1, 0))
			return expect_len(r->len, BINDING_SET_LEN(1, 0), t, e);
		get_policy(r, &m->binding.policy);
		m->binding.n_japs = get16(r);
		m->binding.n_scopes = get16(r);
		if (m->binding.n_japs < 1 || m->binding.n_japs > PIAS_GROUP_MAX_JAPS)
			return pias_err_set(e, -EBADMSG, "%s: a set of %u JAPs, not 1-%u", t,
					    m->binding.n_japs, PIAS_GROUP_MAX_JAPS);
		if (m->binding.n_scopes > PIAS_GROUP_SCOPES)
			return pias_err_set(e, -EBADMSG, "%s: %u prefixes, at most %u", t,
					    m->binding.n_scopes, PIAS_GROUP_SCOPES);
		err = expect_len(r->len, BINDING_SET_LEN(m->binding.n_japs, m->binding.n_scopes), t,
				 e);
		if (err)
			return err;
		for (__u32 i = 0; i < m->binding.n_japs; i++) {
			m->binding.japs[i].jap_id = get32(r);
			m->binding.japs[i].weight = get32(r);
		}
		for (__u32 i = 0; i < m->binding.n_scopes; i++) {
			get_bytes(r, m->binding.scopes[i].prefix.bytes, 16);
			m->binding.scopes[i].japs = get32(r);
		}
		return 0;
	case PIAS_MSG_INVALIDATE:
		err = expect_len(r->len, INVALIDATE_LEN, t, e);
		if (err)
			return err;
		get_ta(r, &m->inval.ta);
		m->inval.generation = get32(r);
		return 0;
	case PIAS_MSG_CONN_QUERY:
		err = expect_len(r->len, CONN_QUERY_LEN, t, e);
		if (err)
			return err;
		get_ta(r, &m->cq.ta);
		get_bytes(r, m->cq.client.bytes, 16);
		m->cq.client_port = get16(r);
		m->cq.flags = get16(r);
		m->cq.iap_id = get32(r);
		m->cq.asker_id = get32(r);
		return 0;
	case PIAS_MSG_FLOW_PIN:
		if (r->len < FLOW_PIN_LEN(0))
			return expect_len(r->len, FLOW_PIN_LEN(1), t, e);
		get_ta(r, &m->pin.ta);
		err = get_count(r, &m->pin.n, PIAS_MSG_PIN_MAX, FLOW_PIN_LEN(0),
				FLOW_PIN_LEN(1) - FLOW_PIN_LEN(0), t, e);
		if (err)
			return err;
		for (i = 0; i < m->pin.n; i++) {
			get_bytes(r, m->pin.flows[i].client.bytes, 16);
			m->pin.flows[i].client_port = get16(r);
			m->pin.flows[i].ct = get8(r);
			if (get8(r))
				return pias_err_set(e, -EBADMSG,
						    "%s: flows[%u]: reserved byte is not zero", t,
						    i);
		}
		return 0;
	case PIAS_MSG_REGISTER:
	case PIAS_MSG_LEAVE:
		err = expect_len(r->len, REGISTER_LEN, t, e);
		if (err)
			return err;
		get_ta(r, &m->reg.ta);
		m->reg.family = get8(r);
		m->reg.flags = get8(r);
		if (m->reg.flags & ~PIAS_MSG_REG_F_KNOWN)
			return pias_err_set(e, -EBADMSG, "%s: flags 0x%x has unknown bits", t,
					    m->reg.flags);
		if (m->hdr.type == PIAS_MSG_REGISTER && (m->reg.flags & PIAS_MSG_REG_F_DOWN))
			return pias_err_set(e, -EBADMSG, "%s: flag DOWN goes with LEAVE only", t);
		m->reg.port = get16(r);
		get_bytes(r, m->reg.addr.bytes, 16);
		m->reg.weight = get32(r);
		get_bytes(r, m->reg.cookie, sizeof(m->reg.cookie));
		get_policy(r, &m->reg.policy);
		m->reg.policy_serial = get32(r);
		return 0;
	case PIAS_MSG_REG_ACK:
		if (r->len != REG_ACK_TUN_LEN) {
			err = expect_len(r->len, REG_ACK_LEN, t, e);
			if (err)
				return err;
		}
		get_ta(r, &m->ack.ta);
		m->ack.jap_id = get32(r);
		m->ack.target_id = get32(r);
		m->ack.refresh_ms = get32(r);
		m->ack.echo_seq = get64(r);
		if (r->len == REG_ACK_TUN_LEN) {
			m->ack.tun_family = get8(r);
			/* the long form is for a tunnel endpoint only: one encoding */
			if (!m->ack.tun_family)
				return pias_err_set(e, -EBADMSG,
						    "%s: tunnel family 0 in a %d-byte body", t,
						    REG_ACK_TUN_LEN);
			if (get8(r))
				return pias_err_set(e, -EBADMSG, "%s: reserved byte is not zero",
						    t);
			m->ack.tun_port = get16(r);
			get_bytes(r, m->ack.tun_addr.bytes, 16);
			get_bytes(r, &m->ack.tun_tag, sizeof(m->ack.tun_tag));
		}
		return 0;
	case PIAS_MSG_REG_NACK: {
		size_t n;

		if (r->len < REG_NACK_LEN || r->len >= REG_NACK_LEN + PIAS_MSG_TEXT_LEN)
			return pias_err_set(e, -EBADMSG, "%s: body of %zu bytes is not %d-%d", t,
					    r->len, REG_NACK_LEN,
					    REG_NACK_LEN + PIAS_MSG_TEXT_LEN - 1);
		n = r->len - REG_NACK_LEN;
		get_ta(r, &m->nack.ta);
		m->nack.code = get32(r);
		m->nack.echo_seq = get64(r);
		get_bytes(r, m->nack.text, n); /* the rest stays zero: NUL-terminated */
		/* One encoding per text: no NUL inside it. */
		if (memchr(m->nack.text, '\0', n))
			return pias_err_set(e, -EBADMSG, "%s: text holds a NUL byte", t);
		return 0;
	}
	case PIAS_MSG_REG_COOKIE:
		err = expect_len(r->len, REG_COOKIE_LEN, t, e);
		if (err)
			return err;
		get_ta(r, &m->cookie.ta);
		m->cookie.echo_seq = get64(r);
		m->cookie.jap_id = get32(r);
		get_bytes(r, m->cookie.cookie, sizeof(m->cookie.cookie));
		return 0;
	}
	return pias_err_set(e, -EBADMSG, "header.type %u is unknown", m->hdr.type);
}

int pias_msg_decode(const void *buf, size_t len, struct pias_msg *m, struct pias_err *e)
{
	struct rd r;
	const char *t;
	int err;

	memset(m, 0, sizeof(*m));
	err = pias_msg_header(buf, len, &m->hdr, e);
	if (err)
		return err;
	t = pias_msg_type_name(m->hdr.type);
	r = (struct rd){ .p = (const __u8 *)buf + PIAS_MSG_HDR_LEN, .len = m->hdr.body_len };
	err = decode_body(&r, m, t, e);
	if (!err && (r.short_read || r.off != r.len))
		err = pias_err_set(e, -EBADMSG, "%s: body of %zu bytes does not match its fields",
				   t, r.len);
	if (!err)
		err = check_body(m, -EBADMSG, e);
	return err;
}

static size_t report_len(const struct pias_msg_report *r)
{
	return REPORT_LEN + (size_t)SCOPE_LEN * r->n_scopes;
}

bool pias_msg_reports_add(struct pias_msg_reports *rs, const struct pias_msg_report *r)
{
	size_t used = OVERHEAD + REPORTS_LEN + report_len(r);

	if (rs->n >= PIAS_MSG_REPORTS_MAX)
		return false;
	for (__u32 i = 0; i < rs->n; i++)
		used += report_len(&rs->r[i]);
	if (used > PIAS_MSG_MAX)
		return false;
	rs->r[rs->n++] = *r;
	return true;
}

/*
 * Tags under a group token. Their inputs begin with a label, never with
 * the version byte 1 that begins every datagram, so no tag is ever a
 * datagram's MAC under the same token, nor one kind of tag the other.
 */
#define BATCH_LABEL	"PIAS batch v1"
#define BATCH_ACK_LABEL "PIAS batch ack v1"
#define TAG_INPUT_MAX	(sizeof(BATCH_ACK_LABEL) + 8 + 4 + 4 + REGISTER_LEN + 4 + 1)

static void tag_of(const __u8 token[PIAS_KEY_LEN], const struct wr *w, __u8 tag[PIAS_MSG_TAG_LEN])
{
	__u8 full[crypto_auth_BYTES];

	sodium_ready();
	crypto_auth(full, w->p, w->off, token);
	memcpy(tag, full, PIAS_MSG_TAG_LEN);
}

void pias_msg_batch_tag(const __u8 token[PIAS_KEY_LEN], __u64 seq, __u32 jap_id, __u32 target_id,
			const struct pias_msg_register *reg, __u8 tag[PIAS_MSG_TAG_LEN])
{
	__u8 in[TAG_INPUT_MAX];
	struct wr w = { .p = in, .cap = sizeof(in) };
	bool tunnel = reg->flags & PIAS_MSG_REG_F_TUNNEL;

	put_bytes(&w, BATCH_LABEL, strlen(BATCH_LABEL));
	put64(&w, seq);
	put32(&w, jap_id);
	put32(&w, target_id);
	put_ta(&w, &reg->ta);
	put8(&w, reg->family);
	put8(&w, tunnel ? PIAS_MSG_REG_F_TUNNEL : 0);
	/* a tunnel-mode target is reached at the TA's port, whatever the field says */
	put16(&w, tunnel ? reg->ta.port : reg->port);
	put_addr(&w, &reg->addr, reg->family);
	put32(&w, reg->weight);
	put_policy(&w, &reg->policy);
	put32(&w, reg->policy_serial);
	tag_of(token, &w, tag);
}

void pias_msg_batch_ack_tag(const __u8 token[PIAS_KEY_LEN], __u64 echo_seq, __u32 jap_id,
			    __u32 refresh_ms, const struct pias_ta *ta, __u32 target_id,
			    __u8 status, __u8 tag[PIAS_MSG_TAG_LEN])
{
	__u8 in[TAG_INPUT_MAX];
	struct wr w = { .p = in, .cap = sizeof(in) };

	put_bytes(&w, BATCH_ACK_LABEL, strlen(BATCH_ACK_LABEL));
	put64(&w, echo_seq);
	put32(&w, jap_id);
	put32(&w, refresh_ms);
	put_ta(&w, ta);
	put32(&w, target_id);
	put8(&w, status);
	tag_of(token, &w, tag);
}

bool pias_msg_tag_eq(const __u8 a[PIAS_MSG_TAG_LEN], const __u8 b[PIAS_MSG_TAG_LEN])
{
	sodium_ready();
	return crypto_verify_16(a, b) == 0;
}
