/* SPDX-License-Identifier: MIT */
/*
 * The target registration agent (paper section 2): a target, or a surrogate
 * host acting for a server that runs nothing of ours, keeps one
 * registration (TA, endpoint, weight) alive with its JAP.
 *
 * It sends REGISTER to the well-known anycast registration address; anycast
 * delivers it to the nearest proxy, which becomes the target's JAP and
 * answers REG_ACK (jap_id, target_id, refresh_ms) or REG_NACK (code, text),
 * after a REG_COOKIE round when it does not know the target yet.
 *
 * Pure state machine, in the style of daemon/iap.h: every input carries the
 * time (`now`, ns of a monotonic clock); the output is a list of actions for
 * the caller to apply in order: SEND a message (the caller encodes it and
 * MACs it with the group token) or report an EVENT. No I/O, no clock reads.
 *
 * States:
 *
 *   IDLE --start--> REGISTERING --ACK--> REGISTERED --silence--> LOST
 *                        |                  ^   |                  |
 *                        |                  |   +--ACK, other JAP  |
 *                        |                  +-------ACK------------+
 *                        +--NACK BAD_TOKEN/INVALID--> DONE (gave up)
 *   any but DONE --leave--> LEAVING --ACK or leave_tries sent--> DONE (left)
 *
 * Refresh: while REGISTERED, REGISTER goes out every refresh_ms / 3 of the
 * last ACK (clamped to [refresh_min_ns, refresh_max_ns]), so the JAP hears
 * us about three times per period it asked for.
 *
 * Loss: the registration is confirmed as of the time the acknowledged
 * REGISTER was sent (not when its ACK arrived, so a late ACK cannot make a
 * dead JAP look alive). It is lost when the last confirmation is older than
 * lost_periods refresh intervals, but at least lost_min_ns: with the
 * defaults (3 intervals = refresh_ms, at least 300 ms) and a JAP asking for
 * 900 ms, a dead JAP is noticed 900 ms after the last answered REGISTER
 * went out, plus one tick (about 1 s with 50 ms ticks). Then the agent
 * re-registers at once and with exponential backoff (retry_initial_ns
 * doubling up to retry_max_ns); anycast now routes the REGISTER to another
 * proxy, whose ACK names the new jap_id (event JAP_CHANGED). An ACK naming
 * another JAP while still REGISTERED (routing moved first) is a JAP change
 * too. Before the first ACK, REGISTER is retried with the same backoff.
 *
 * Acceptance: a REG_ACK counts only if its TA is ours, its echo_seq is the
 * seq of one of the last PIAS_AGENT_RECENT messages we sent (REGISTER for a
 * registration, LEAVE for a leave), sent at most ack_window_ns ago, and
 * newer than the last ACK accepted (so a reordered old ACK cannot undo a
 * JAP change). The caller checks the MAC with the token before; anything
 * else is ignored and counted. REG_NACK is unauthenticated, so it is only
 * advisory and matched the same way (TA and echo_seq): before the first
 * successful registration, BAD_TOKEN or INVALID makes the agent give up
 * (event GAVE_UP, state DONE, pias_agent_error() says why); any other NACK,
 * and every NACK after a registration, is reported (event NACK) and
 * otherwise ignored.
 *
 * Cookies: a JAP that does not know the target answers a REGISTER with
 * REG_COOKIE (a proof that we receive at our address); the agent takes
 * it, sends REGISTER again at once carrying it, and carries it in every
 * later message. A REGISTERED agent takes a cookie only from its own JAP
 * or for a REGISTER that no JAP acknowledged, so a copy of its REGISTER
 * replayed to another proxy registers nothing there (docs/protocol.md 6.5).
 *
 * Leave: LEAVE goes out at once and again every leave_retry_ns until it is
 * acknowledged or leave_tries went out and leave_retry_ns passed since the
 * last; then event LEFT (acked or not) and DONE.
 *
 * Batch refresh (cfg.batch; docs/protocol.md 6.4.18): an agent whose
 * registration stands (REGISTERED, with the target id of its JAP's last
 * REG_ACK) does not send its refreshes itself: when one is due, the caller
 * puts it in a REG_BATCH with the other registrations of the same JAP
 * (daemon/agent_batch.h), and tells the agent (pias_agent_batch_sent); the
 * JAP's answer for its entry comes back (pias_agent_batch_answer). OK
 * confirms the registration as a REG_ACK does. Anything else (unknown,
 * stale, refused) makes it send a REGISTER at once, and it refreshes with
 * REGISTERs until that is acknowledged: a first registration, a change,
 * a new JAP, a refusal all go through REGISTER and its cookie round. A
 * batch not answered by the time the next refresh is due (lost, or a JAP
 * that does not know REG_BATCH) makes it send a REGISTER then, and no
 * batch for batch_holdoff_ns.
 *
 * Sequence numbers: the agent numbers its messages (hdr.seq) from seq0, one
 * up per message; seq0 should be CLOCK_REALTIME in ns (msg.h), so that a
 * restarted agent goes on above what it sent before.
 *
 * Atomicity: every call either applies all of its changes and appends all
 * of its actions, or (on -ENOBUFS when the action list has no room for
 * PIAS_AGENT_MAX_ACTIONS more) changes nothing and appends nothing.
 *
 * Failing calls return a negative errno and fill e (may be NULL).
 */
#ifndef PIAS_DAEMON_AGENT_H
#define PIAS_DAEMON_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pias/addr.h>

#include "err.h"
#include "msg.h"

#define PIAS_AGENT_REFRESH_MIN_NS   50000000ull	   /* 50 ms: the CLI's tick */
#define PIAS_AGENT_REFRESH_MAX_NS   30000000000ull /* 30 s */
#define PIAS_AGENT_LOST_PERIODS	    3
#define PIAS_AGENT_LOST_MIN_NS	    300000000ull  /* 300 ms */
#define PIAS_AGENT_RETRY_INIT_NS    200000000ull  /* 200 ms */
#define PIAS_AGENT_RETRY_MAX_NS	    1000000000ull /* 1 s */
#define PIAS_AGENT_ACK_WINDOW_NS    5000000000ull /* 5 s */
#define PIAS_AGENT_LEAVE_TRIES	    3
#define PIAS_AGENT_LEAVE_RETRY_NS   200000000ull   /* 200 ms */
#define PIAS_AGENT_REFRESH_MS	    900		   /* assumed until the first ACK says */
#define PIAS_AGENT_BATCH_HOLDOFF_NS 10000000000ull /* 10 s of REGISTERs after a batch unanswered */

#define PIAS_AGENT_RECENT	    32 /* sent messages remembered for ACK matching */
#define PIAS_AGENT_MAX_ACTIONS	    2  /* appended by one call at most */
#define PIAS_AGENT_ERR_LEN	    256

/* Timing; a zero field takes the default above. */
struct pias_agent_config {
	__u64 refresh_min_ns;
	__u64 refresh_max_ns;
	__u32 lost_periods; /* refresh intervals without confirmation: lost */
	__u64 lost_min_ns;
	__u64 retry_initial_ns; /* first REGISTER retry while not registered */
	__u64 retry_max_ns;	/* backoff cap */
	__u64 ack_window_ns;	/* ACKs of messages older than this are stale */
	__u32 leave_tries;
	__u64 leave_retry_ns;
	bool batch;		/* refreshes go in REG_BATCHes (see above); false: REGISTERs */
	__u64 batch_holdoff_ns; /* after a batch went unanswered */
};

/* What is registered: the group, where the target is reached, its weight. */
struct pias_agent_target {
	struct pias_ta ta;
	__u8 family; /* of the endpoint: the TA's */
	__u8 flags;  /* PIAS_MSG_REG_F_*: tunnel mode */
	union pias_addr addr;
	__u16 port; /* host order; tunnel mode: the TA's */
	__u32 weight;
	struct pias_policy policy; /* the group's, as its owner says (docs/design.md) */
	__u32 policy_serial;	   /* raised with each change of policy */
};

enum pias_agent_state {
	PIAS_AGENT_IDLE = 0,
	PIAS_AGENT_REGISTERING, /* no ACK yet */
	PIAS_AGENT_REGISTERED,
	PIAS_AGENT_LOST, /* was registered; re-registering */
	PIAS_AGENT_LEAVING,
	PIAS_AGENT_DONE, /* left or gave up */
};

enum pias_agent_action_kind {
	PIAS_AGENT_SEND = 1, /* encode (pias_agent_msg), MAC with the token, send */
	PIAS_AGENT_EVENT,    /* tell the operator (pias_agent_event_str) */
};

enum pias_agent_event {
	PIAS_AGENT_EV_REGISTERED = 1, /* first ACK, or again after LOST at the same JAP */
	PIAS_AGENT_EV_JAP_CHANGED,    /* an ACK from another JAP than the last */
	PIAS_AGENT_EV_LOST,	      /* no confirmation for lost timeout */
	PIAS_AGENT_EV_NACK,	      /* advisory NACK, ignored */
	PIAS_AGENT_EV_GAVE_UP,	      /* fatal NACK before the first registration */
	PIAS_AGENT_EV_LEFT,	      /* leave finished (acked or not) */
};

struct pias_agent_action {
	enum pias_agent_action_kind kind;
	/* SEND: hdr.type (REGISTER or LEAVE) and hdr.seq set, the rest 0 */
	struct pias_msg_hdr hdr;
	struct pias_msg_register reg;
	/* EVENT */
	enum pias_agent_event event;
	__u32 jap_id;	  /* REGISTERED, JAP_CHANGED: the new; LOST, LEFT: the last known */
	__u32 old_jap_id; /* JAP_CHANGED */
	__u32 target_id;  /* REGISTERED, JAP_CHANGED */
	__u32 refresh_ms; /* REGISTERED, JAP_CHANGED */
	/* REGISTERED, JAP_CHANGED of a tunnel-mode target: the JAP's tunnel endpoint */
	__u8 tun_family;
	__u16 tun_port;
	union pias_addr tun_addr;
	__u64 tun_tag;		      /* and the tag of the TA's tunnel packets */
	__u64 silence_ms;	      /* LOST: since the last confirmed REGISTER went out */
	__u32 nack_code;	      /* NACK, GAVE_UP */
	bool acked;		      /* LEFT */
	char text[PIAS_MSG_TEXT_LEN]; /* NACK, GAVE_UP: the JAP's reason, printable */
};

/* A caller-provided action buffer: n used of cap. */
struct pias_agent_actions {
	struct pias_agent_action *a;
	size_t cap;
	size_t n;
};

struct pias_agent_stats {
	__u64 registers;	/* REGISTERs sent */
	__u64 leaves;		/* LEAVEs sent */
	__u64 acks;		/* accepted */
	__u64 nacks;		/* matched (advisory or fatal) */
	__u64 cookies;		/* REG_COOKIEs taken (each answered with a REGISTER) */
	__u64 ignored;		/* ACKs/NACKs not matching, stale, or for another TA */
	__u64 batched;		/* refreshes sent in REG_BATCHes */
	__u64 batch_ok;		/* of those, answered OK */
	__u64 batch_refused;	/* answered otherwise (a REGISTER followed) */
	__u64 batch_unanswered; /* not answered before the next refresh (a REGISTER followed) */
};

struct pias_agent {
	struct pias_agent_config cfg;
	struct pias_agent_target tgt;
	enum pias_agent_state state;
	__u64 next_seq;
	struct {
		__u64 seq;
		__u64 sent_ns;
		__u8 type;
		bool nacked;	     /* a NACK for it was taken already */
		bool acked;	     /* a JAP acknowledged it */
		bool cookied;	     /* a REG_COOKIE for it was taken already */
	} recent[PIAS_AGENT_RECENT]; /* ring; seq 0: empty */
	unsigned int recent_next;
	bool ever_registered;
	__u32 jap_id, target_id; /* of the last accepted ACK; 0: none yet */
	__u32 refresh_ms;
	__u8 tun_family; /* of the last accepted ACK: the JAP's tunnel endpoint (tunnel mode) */
	__u16 tun_port;
	union pias_addr tun_addr;
	__u64 tun_tag;
	__u64 interval_ns;		  /* refresh interval from refresh_ms */
	__u64 confirmed_ns;		  /* send time of the last acknowledged REGISTER */
	__u64 last_ack_seq;		  /* echo_seq of the last accepted ACK */
	__u64 last_send_ns;		  /* of the last REGISTER or LEAVE */
	__u64 backoff_ns;		  /* wait before the next retry while not registered */
	__u32 leave_sent;		  /* LEAVEs sent since leave() */
	bool leave_down;		  /* the LEAVEs carry DOWN (pias_agent_fail) */
	__u8 cookie[PIAS_MSG_COOKIE_LEN]; /* the last REG_COOKIE taken: sent in every message */
	__u64 batch_seq;		  /* the last REG_BATCH it went in; 0: none pending */
	bool batch_answered;		  /* that batch answered its entry */
	bool batch_refused;		  /* answered other than OK: REGISTERs until a REG_ACK */
	__u64 batch_after_ns;		  /* a batch unanswered: no batch before then */
	int err;			  /* DONE after giving up: negative errno */
	char errmsg[PIAS_AGENT_ERR_LEN];
	struct pias_agent_stats stats;
};

/*
 * Set up the agent for target tgt (IDLE). cfg NULL: defaults. seq0: the
 * first hdr.seq (0 counts as 1). -EINVAL: a bad TA, an endpoint family
 * other than the TA's, port 0, weight 0, or bounds that contradict.
 */
/*
 * The wall clock (CLOCK_REALTIME ns) as the edge reads it: the next seq
 * becomes max(next, realtime), as docs/protocol.md 6.5 requires. Without it
 * seqs would drift behind the clock and a JAP refuses a REGISTER whose seq is
 * more than 30 s from its own clock. Call before every other call.
 */
void pias_agent_clock(struct pias_agent *a, __u64 realtime_ns);

int pias_agent_init(struct pias_agent *a, const struct pias_agent_target *tgt,
		    const struct pias_agent_config *cfg, __u64 seq0, struct pias_err *e);

/* IDLE -> REGISTERING: SEND REGISTER. -EALREADY if not IDLE. */
int pias_agent_start(struct pias_agent *a, __u64 now, struct pias_agent_actions *acts,
		     struct pias_err *e);

/*
 * Periodic (every 50 ms or so; the timing above is only as fine as the
 * ticks): refreshes, retries, detects loss, retries or ends a leave.
 */
int pias_agent_tick(struct pias_agent *a, __u64 now, struct pias_agent_actions *acts,
		    struct pias_err *e);

/*
 * A decoded REG_ACK or REG_COOKIE (MAC already checked with the token)
 * or REG_NACK arrived. Anything not acceptable (see above) is counted in
 * stats.ignored and returns 0 with no action. -EINVAL: another type.
 */
int pias_agent_recv(struct pias_agent *a, const struct pias_msg *m, __u64 now,
		    struct pias_agent_actions *acts, struct pias_err *e);

/*
 * Leave: LEAVING, SEND LEAVE (from any state but DONE, so that a
 * registration whose ACK was lost is withdrawn too). Idempotent while
 * LEAVING; -EALREADY when DONE.
 */
int pias_agent_leave(struct pias_agent *a, __u64 now, struct pias_agent_actions *acts,
		     struct pias_err *e);

/* The full message of a SEND action, for pias_msg_encode. */
/*
 * As pias_agent_leave, for a target that fails its health check: the
 * LEAVEs carry PIAS_MSG_REG_F_DOWN, and the JAP takes the target DOWN (its
 * flows move to others) instead of draining it. An agent LEAVING already
 * goes on as it was.
 */
int pias_agent_fail(struct pias_agent *a, __u64 now, struct pias_agent_actions *acts,
		    struct pias_err *e);

void pias_agent_msg(const struct pias_agent_action *act, struct pias_msg *m);

/* The registration as a's REGISTERs make it (what a REG_BATCH entry's tag covers). */
void pias_agent_reg(const struct pias_agent *a, struct pias_msg_register *r);

#define PIAS_AGENT_NOT_BATCHED UINT64_MAX

/*
 * How long until a's refresh is due to go in a batch (0: due now), or
 * PIAS_AGENT_NOT_BATCHED: it may not (not cfg.batch, not REGISTERED, a
 * refusal since the last REG_ACK, holding off, or its last batch not
 * answered yet).
 */
__u64 pias_agent_batch_wait(const struct pias_agent *a, __u64 now);

/*
 * a's refresh went in the REG_BATCH of header.seq seq (above every seq a
 * sent before) to its JAP at now.
 */
void pias_agent_batch_sent(struct pias_agent *a, __u64 seq, __u64 now);

/*
 * The JAP's answer (status, enum pias_batch_status; refresh_ms as in a
 * REG_ACK) to a's entry in the batch of echo_seq, its tag checked by the
 * caller (daemon/agent_batch.h). Taken only while REGISTERED, for a batch
 * a went in within the ACK window, once, and newer than the last answer
 * accepted; else counted in stats.ignored. Anything but OK: SEND REGISTER.
 */
int pias_agent_batch_answer(struct pias_agent *a, __u64 echo_seq, __u8 status, __u32 refresh_ms,
			    __u64 now, struct pias_agent_actions *acts, struct pias_err *e);

static inline bool pias_agent_done(const struct pias_agent *a)
{
	return a->state == PIAS_AGENT_DONE;
}

/* After giving up: the negative errno (-EACCES bad token, -EINVAL refused); else 0. */
static inline int pias_agent_error(const struct pias_agent *a, const char **msg)
{
	if (msg)
		*msg = a->errmsg;
	return a->err;
}

const char *pias_agent_state_name(enum pias_agent_state s);
const char *pias_agent_nack_name(__u32 code);

/*
 * One line for an EVENT action, naming TA and endpoint, e.g.
 * "registered udp:203.0.113.1:53 198.51.100.10:53 with JAP 2 as target 5".
 * Returns buf.
 */
const char *pias_agent_event_str(const struct pias_agent *a, const struct pias_agent_action *act,
				 char *buf, size_t len);

#endif
