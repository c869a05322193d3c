/* SPDX-License-Identifier: MIT */
/*
 * piasd's control messages, decoded: what proxies say to each other
 * (membership, reports, queries, bindings, invalidations) and what targets
 * say to their JAP (register, leave) and hear back (ack, nack, cookie).
 *
 * The state machines (membership, JAP, RAP, IAP) consume and produce these
 * structs; only the codec (msg.c) sees bytes. docs/protocol.md section 6 is
 * the normative wire format: a fixed header, a body, and a MAC over both.
 *
 *   proxy <-> proxy: MAC keyed with an overlay key named by header.key_id
 *                    (keys.h: a key ring, rotatable without a restart);
 *   target <-> JAP:  MAC keyed with the group's token (keys.h), which the
 *                    JAP derives from its group master key and the TA.
 *
 * Replay: header.seq grows strictly per sender (replay.h keeps a window per
 * sender); it starts from CLOCK_REALTIME in ns, so a restarted sender still
 * goes on above what it sent before.
 */
#ifndef PIAS_DAEMON_MSG_H
#define PIAS_DAEMON_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/addr.h>
#include <pias/maps.h>
#include <pias/policy.h>

#include "err.h"

#define PIAS_MSG_VERSION 1
#define PIAS_MSG_HDR_LEN 24 /* version, type, body length, sender, key id, seq */
#define PIAS_MSG_MAC_LEN 32 /* HMAC-SHA-512-256 (libsodium crypto_auth) */
#define PIAS_KEY_LEN	 32

/*
 * Datagram sizes. Every message but VIEW fits an IPv6 underlay of MTU 1500
 * without fragmentation; a VIEW page (joining proxies only) may be larger
 * and rely on IP fragmentation of unicast UDP.
 */
#define PIAS_MSG_MAX	     1400
#define PIAS_MSG_VIEW_MAX    16384

#define PIAS_MSG_MAX_UPDATES 20	 /* membership updates piggybacked per message */
#define PIAS_MSG_VIEW_PAGE   256 /* members per VIEW page at most */
#define PIAS_MSG_TEXT_LEN    96	 /* NACK reason, NUL-terminated (95 bytes on the wire at most) */
#define PIAS_MSG_COOKIE_LEN  16	 /* REG_COOKIE's proof of address (docs/protocol.md 6.7) */

enum pias_msg_type {
	/* membership (proxy <-> proxy) */
	PIAS_MSG_PING = 1,     /* probe; carries updates */
	PIAS_MSG_ACK = 2,      /* answer to a PING, direct or relayed */
	PIAS_MSG_PING_REQ = 3, /* probe target_id for me (indirect probe) */
	PIAS_MSG_VIEW_REQ = 4, /* send me your view from member offset on */
	PIAS_MSG_VIEW = 5,     /* a page of the view, zlib-compressed */
	/* groups (proxy <-> proxy) */
	PIAS_MSG_REPORT = 16,	  /* JAP -> RAP: my target count for ta */
	PIAS_MSG_QUERY = 17,	  /* IAP -> RAP: which JAP for ta? */
	PIAS_MSG_BINDING = 18,	  /* RAP -> IAP: ta -> jap (or negative) */
	PIAS_MSG_INVALIDATE = 19, /* JAP -> IAP: drop your binding of ta */
	/* affinity across IAPs (docs/design.md "Choosing a target") */
	PIAS_MSG_CONN_QUERY = 20, /* JAP -> RAP -> JAPs: who holds this client's connection? */
	PIAS_MSG_FLOW_PIN = 21,	  /* JAP -> IAP: send these flows of ta to me */
	PIAS_MSG_REPORTS = 22,	  /* JAP -> RAP: several REPORTs in one message */
	/* targets (target agent <-> JAP, keyed by the group token) */
	PIAS_MSG_REGISTER = 32, /* join or refresh */
	PIAS_MSG_LEAVE = 33,
	PIAS_MSG_REG_ACK = 34,
	PIAS_MSG_REG_NACK = 35,	  /* unauthenticated: advisory only */
	PIAS_MSG_REG_COOKIE = 36, /* JAP -> target: prove your address, send again */
	PIAS_MSG_REG_BATCH = 37,  /* refresh several registered targets at once */
	PIAS_MSG_REG_BATCH_ACK = 38,
};

/* Is type one that targets send or receive (group-token MAC, sender 0)? */
static inline bool pias_msg_is_target(__u8 type)
{
	return type >= PIAS_MSG_REGISTER && type <= PIAS_MSG_REG_BATCH_ACK;
}

struct pias_msg_hdr {
	__u8 version;
	__u8 type;
	__u16 body_len;
	__u32 sender_id; /* proxy id; 0 for target messages */
	__u32 key_id;	 /* overlay key; 0 for target messages */
	__u64 seq;	 /* strictly growing per sender (replay protection) */
};

/* Vivaldi coordinate: a 2-D position plus a height, in microseconds. */
struct pias_coord {
	float x, y, h;
	float err; /* local error estimate, 0..1.5 */
};

enum pias_member_state {
	PIAS_MEMBER_ALIVE = 1,
	PIAS_MEMBER_SUSPECT = 2,
	PIAS_MEMBER_DEAD = 3,
	PIAS_MEMBER_LEFT = 4, /* left on purpose (withdrawn) */
};

/* What one proxy says about another (or itself): SWIM's update record. */
struct pias_msg_member {
	__u32 id;
	__u32 incarnation;
	__u8 state;  /* enum pias_member_state */
	__u8 family; /* PIAS_AF_* of addr */
	__u16 port;  /* overlay port (host order) */
	union pias_addr addr;
	struct pias_coord coord;
};

/* PING, ACK, PING_REQ. */
struct pias_msg_probe {
	__u32 probe_seq;	 /* chosen by the prober, echoed in the ACK */
	__u32 target_id;	 /* PING/ACK: the probed proxy; PING_REQ: the one to probe */
	__u32 origin_id;	 /* relayed PING/ACK: who asked; 0: direct */
	struct pias_coord coord; /* the sender's own coordinate */
	__u32 n_updates;
	struct pias_msg_member updates[PIAS_MSG_MAX_UPDATES];
};

struct pias_msg_view_req {
	__u32 offset; /* first member wanted, in the responder's id order */
};

struct pias_msg_view {
	__u32 offset; /* of members[0] */
	__u32 total;  /* members in the responder's view */
	__u32 n;      /* in this page */
	struct pias_msg_member members[PIAS_MSG_VIEW_PAGE];
};

/* A JAP's whole share of the flows a RAP would give it (per mille). */
#define PIAS_SHARE_FULL 1000

struct pias_msg_report {
	struct pias_ta ta;
	__u32 count; /* approximate targets at the sender (JAP); 0: none left */
	__u64 seq;   /* the JAP's report sequence for ta */
	/* of the flows a RAP would give it by count and proximity, the share
	 * it takes, per mille: its operator's dial times its own shedding */
	__u16 share;
	struct pias_policy policy; /* the group's, as the JAP holds it */
	__u32 policy_serial;
	/* scoped: the prefixes (scope_len long) its targets are in */
	__u16 n_scopes;
	union pias_addr scopes[PIAS_GROUP_SCOPES];
};

/*
 * REPORTS: what a JAP tells one RAP about several groups, each entry a
 * REPORT of its own (its own seq), so that the periodic refresh of many
 * groups costs a message per RAP and PIAS_MSG_REPORTS_MAX groups, not a
 * message per group. The RAP takes each entry exactly as a REPORT.
 * pias_msg_reports_add() says what fits.
 */
#define PIAS_MSG_REPORTS_MAX 30 /* unscoped REPORTs in PIAS_MSG_MAX; scoped ones take more room */

struct pias_msg_reports {
	__u32 n; /* 1-PIAS_MSG_REPORTS_MAX */
	struct pias_msg_report r[PIAS_MSG_REPORTS_MAX];
};

/* Append r to rs if it fits a datagram (count and bytes); false: rs is full. */
bool pias_msg_reports_add(struct pias_msg_reports *rs, const struct pias_msg_report *r);

struct pias_msg_query {
	struct pias_ta ta;
};

#define PIAS_MSG_BINDING_F_NEGATIVE 0x1 /* the TA has no group: drop */
/* several JAPs with their shares follow: each new flow draws one */
#define PIAS_MSG_BINDING_F_SET 0x2

struct pias_msg_binding {
	struct pias_ta ta;
	__u32 jap_id; /* 0 when negative; with a set, its first JAP */
	__u32 generation;
	__u32 lifetime_ms;
	__u32 flags; /* PIAS_MSG_BINDING_F_* */
	/* F_SET only (on the wire only then) */
	struct pias_policy policy; /* the group's */
	__u32 n_japs;		   /* 1-PIAS_GROUP_MAX_JAPS */
	struct pias_group_jap japs[PIAS_GROUP_MAX_JAPS];
	__u32 n_scopes; /* scoped: prefixes and their JAPs (bit i: japs[i]) */
	struct pias_group_scope scopes[PIAS_GROUP_SCOPES];
};

struct pias_msg_invalidate {
	struct pias_ta ta;
	__u32 generation;
};

/* CONN_QUERY flags: FORWARDED, sent on by the RAP: a JAP answers it, never forwards it. */
#define PIAS_MSG_CQ_F_FORWARDED 0x1
#define PIAS_MSG_CQ_F_KNOWN	(PIAS_MSG_CQ_F_FORWARDED)

/*
 * A JAP got a mid-stream TCP segment of a connection it does not hold: the
 * client's flow (ta and the client's address and port) entered at iap_id.
 */
struct pias_msg_conn_query {
	struct pias_ta ta;
	union pias_addr client; /* of ta's family */
	__u16 client_port;
	__u16 flags;	/* PIAS_MSG_CQ_F_* */
	__u32 iap_id;	/* where the client's packets enter now */
	__u32 asker_id; /* the JAP that missed: the RAP does not ask it back */
};

/* Flows of one TA per FLOW_PIN at most (fits PIAS_MSG_MAX). */
#define PIAS_MSG_PIN_MAX 64

struct pias_msg_pin_flow {
	union pias_addr client; /* of ta's family */
	__u16 client_port;
	__u8 ct; /* PIAS_CT_*: the connection's state at its JAP */
};

/*
 * The sender, a JAP, holds these connections of ta: the IAP sends their
 * packets to it, whatever its binding says. Only the JAP itself can pin
 * flows to itself (the sender's id is the JAP).
 */
struct pias_msg_flow_pin {
	struct pias_ta ta;
	__u32 n; /* 1-PIAS_MSG_PIN_MAX */
	struct pias_msg_pin_flow flows[PIAS_MSG_PIN_MAX];
};

/* REGISTER flags: the target de-tunnels (tunnel mode, include/pias/target.h). */
#define PIAS_MSG_REG_F_TUNNEL 0x01
/*
 * LEAVE only: the target fails its health check. The JAP takes it DOWN, as
 * a dead one (its flows move), where a plain LEAVE drains it.
 */
#define PIAS_MSG_REG_F_DOWN  0x02
#define PIAS_MSG_REG_F_KNOWN (PIAS_MSG_REG_F_TUNNEL | PIAS_MSG_REG_F_DOWN)

struct pias_msg_register {
	struct pias_ta ta;
	__u8 family; /* of the target's endpoint */
	__u8 flags;  /* PIAS_MSG_REG_F_* */
	union pias_addr addr;
	__u16 port;
	__u32 weight; /* REGISTER: > 0; LEAVE: ignored */
	/* the JAP's last REG_COOKIE (zeros: none yet); a JAP that does not know
	 * the target registers it only with a valid one */
	__u8 cookie[PIAS_MSG_COOKIE_LEN];
	/* the group's selection policy as the owner sets it, and its serial:
	 * raised with each change, the highest wins (docs/design.md) */
	struct pias_policy policy;
	__u32 policy_serial;
};

struct pias_msg_reg_ack {
	struct pias_ta ta;
	__u32 jap_id;
	__u32 target_id;
	__u32 refresh_ms; /* refresh at least this often */
	__u64 echo_seq;	  /* header.seq of the REGISTER/LEAVE answered */
	/*
	 * Tunnel mode only (0 otherwise; on the wire only then): the JAP's
	 * tunnel endpoint, where the target's replies go and the only source
	 * its packets may come from.
	 */
	__u8 tun_family;
	__u16 tun_port;
	union pias_addr tun_addr;
	__u64 tun_tag; /* the tag of this TA's tunnel packets both ways (opaque bytes) */
};

enum pias_reg_nack_code {
	PIAS_NACK_BAD_TOKEN = 1,   /* the MAC did not verify with the group's token */
	PIAS_NACK_STALE = 2,	   /* seq too old or replayed */
	PIAS_NACK_FULL = 3,	   /* no room for another target */
	PIAS_NACK_INVALID = 4,	   /* family/weight/TA not acceptable */
	PIAS_NACK_DRAINING = 5,	   /* the endpoint is being drained */
	PIAS_NACK_NOT_SERVING = 6, /* this proxy does not accept registrations */
};

/* text: "" to a sender that has not proved its address (never larger than the request) */
struct pias_msg_reg_nack {
	struct pias_ta ta;
	__u32 code; /* enum pias_reg_nack_code */
	__u64 echo_seq;
	char text[PIAS_MSG_TEXT_LEN];
};

/*
 * A JAP that does not know the target asks it to prove that it receives
 * at its source address before it registers anything: REGISTER again,
 * carrying this cookie. Keyed like REG_ACK, by the group token.
 */
struct pias_msg_reg_cookie {
	struct pias_ta ta;
	__u64 echo_seq; /* header.seq of the REGISTER answered */
	__u32 jap_id;	/* who asks: a registered target takes cookies only from its JAP */
	__u8 cookie[PIAS_MSG_COOKIE_LEN];
};

/*
 * REG_BATCH: an agent refreshes several targets it registered with one JAP
 * in one message (docs/protocol.md 6.4.18). Only targets the JAP knows
 * (their target ids are from its REG_ACKs): a first registration, a change
 * or any trouble goes as a REGISTER, with its cookie round.
 *
 * Each entry proves knowledge of its own group's token with a tag
 * (pias_msg_batch_tag) over the batch's seq, the JAP's id, the target id
 * and the registration as the agent made it (endpoint, weight, policy),
 * which the JAP recomputes from what it holds: an entry cut out and put in
 * another batch, sent to another JAP, or naming a target id that now
 * belongs to another registration does not verify. header.seq is every
 * entry's seq (the per-target replay rule of a REGISTER applies). The
 * datagram's own MAC is keyed with the token of the first entry's TA, so a
 * batch from someone holding no token costs the JAP one MAC.
 */
#define PIAS_MSG_TAG_LEN   16 /* HMAC-SHA-512-256 truncated to 128 bits */
#define PIAS_MSG_BATCH_MAX 33 /* entries per REG_BATCH: fits PIAS_MSG_MAX */

struct pias_msg_batch_entry {
	struct pias_ta ta;
	__u32 target_id; /* at jap_id, from its REG_ACK: 1..PIAS_MAX_TARGETS-1 */
	__u8 tag[PIAS_MSG_TAG_LEN];
};

struct pias_msg_reg_batch {
	__u32 jap_id; /* the JAP it is for: another one ignores it */
	__u32 n;      /* 1-PIAS_MSG_BATCH_MAX */
	struct pias_msg_batch_entry e[PIAS_MSG_BATCH_MAX];
};

/* What a JAP did with a REG_BATCH entry. */
enum pias_batch_status {
	PIAS_BATCH_OK = 1,	/* refreshed */
	PIAS_BATCH_UNKNOWN = 2, /* no such registration here (or its tag did not verify) */
	PIAS_BATCH_STALE = 3,	/* seq not above the target's last */
	PIAS_BATCH_REFUSED = 4, /* draining, or not in an anycast prefix: REGISTER says why */
};

struct pias_msg_batch_answer {
	__u8 status; /* enum pias_batch_status */
	__u8 tag[PIAS_MSG_TAG_LEN];
};

/*
 * REG_BATCH_ACK: the JAP's answer, one per batch, an entry per entry in
 * the same order, each with a tag (pias_msg_batch_ack_tag) under its
 * group's token; MACed, like the batch, with the first entry's token.
 * Never larger than the REG_BATCH it answers.
 */
struct pias_msg_reg_batch_ack {
	__u64 echo_seq;	  /* header.seq of the REG_BATCH */
	__u32 refresh_ms; /* refresh at least this often (as REG_ACK) */
	__u32 n;	  /* the batch's n */
	struct pias_msg_batch_answer e[PIAS_MSG_BATCH_MAX];
};

/*
 * The tag of a REG_BATCH entry: HMAC-SHA-512-256 keyed with token (of
 * reg->ta) over "PIAS batch v1", seq, jap_id, target_id and reg's ta,
 * family, TUNNEL flag, port (tunnel mode: the TA's), addr, weight, policy
 * and policy_serial (not its cookie), truncated to PIAS_MSG_TAG_LEN.
 */
void pias_msg_batch_tag(const __u8 token[PIAS_KEY_LEN], __u64 seq, __u32 jap_id, __u32 target_id,
			const struct pias_msg_register *reg, __u8 tag[PIAS_MSG_TAG_LEN]);

/* The tag of a REG_BATCH_ACK entry: as above over "PIAS batch ack v1",
 * echo_seq, jap_id, refresh_ms, ta, target_id and status. */
void pias_msg_batch_ack_tag(const __u8 token[PIAS_KEY_LEN], __u64 echo_seq, __u32 jap_id,
			    __u32 refresh_ms, const struct pias_ta *ta, __u32 target_id,
			    __u8 status, __u8 tag[PIAS_MSG_TAG_LEN]);

/* Do two tags agree? Constant time. */
bool pias_msg_tag_eq(const __u8 a[PIAS_MSG_TAG_LEN], const __u8 b[PIAS_MSG_TAG_LEN]);

struct pias_msg {
	struct pias_msg_hdr hdr;
	union {
		struct pias_msg_probe probe;		 /* PING, ACK, PING_REQ */
		struct pias_msg_view_req view_req;	 /* VIEW_REQ */
		struct pias_msg_view view;		 /* VIEW */
		struct pias_msg_report report;		 /* REPORT */
		struct pias_msg_reports reports;	 /* REPORTS */
		struct pias_msg_query query;		 /* QUERY */
		struct pias_msg_binding binding;	 /* BINDING */
		struct pias_msg_invalidate inval;	 /* INVALIDATE */
		struct pias_msg_conn_query cq;		 /* CONN_QUERY */
		struct pias_msg_flow_pin pin;		 /* FLOW_PIN */
		struct pias_msg_register reg;		 /* REGISTER, LEAVE */
		struct pias_msg_reg_ack ack;		 /* REG_ACK */
		struct pias_msg_reg_nack nack;		 /* REG_NACK */
		struct pias_msg_reg_cookie cookie;	 /* REG_COOKIE */
		struct pias_msg_reg_batch batch;	 /* REG_BATCH */
		struct pias_msg_reg_batch_ack batch_ack; /* REG_BATCH_ACK */
	};
};

/* Where a datagram came from or goes to (overlay or registration socket). */
struct pias_peer {
	union pias_addr addr;
	__u8 family; /* PIAS_AF_* */
	__u16 port;  /* host order */
};

/*
 * Encode m (m->hdr.type, sender_id, key_id, seq as given; version and
 * body_len are filled) into buf and append the MAC keyed with key. Returns
 * the datagram length; -EMSGSIZE if it does not fit cap or the type's limit
 * (PIAS_MSG_MAX, PIAS_MSG_VIEW_MAX for VIEW); -EINVAL for a bad field.
 */
int pias_msg_encode(const struct pias_msg *m, const __u8 key[PIAS_KEY_LEN], void *buf, size_t cap,
		    struct pias_err *e);

/* Parse only the header of a datagram (to pick the key). Never trusts a length. */
int pias_msg_header(const void *buf, size_t len, struct pias_msg_hdr *h, struct pias_err *e);

/* Does the datagram's MAC verify with key? Constant time. */
bool pias_msg_mac_ok(const void *buf, size_t len, const __u8 key[PIAS_KEY_LEN]);

/*
 * Decode header and body into m (the MAC is not checked here: call
 * pias_msg_mac_ok first for proxy messages; for target messages, after
 * decoding, with the token of m->reg.ta, or for REG_BATCH and
 * REG_BATCH_ACK of the batch's first entry's TA). -EBADMSG with a message naming
 * the field for anything malformed: wrong version, unknown type, lengths
 * that disagree, counts over their limits, bad families, a VIEW page that
 * does not inflate to exactly its members.
 */
int pias_msg_decode(const void *buf, size_t len, struct pias_msg *m, struct pias_err *e);

const char *pias_msg_type_name(__u8 type);

/* A TA in its 20-byte wire form (section 6), also what group tokens MAC. */
#define PIAS_MSG_TA_LEN 20
void pias_msg_ta_put(const struct pias_ta *ta, __u8 out[PIAS_MSG_TA_LEN]);

#endif
