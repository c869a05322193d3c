// SPDX-License-Identifier: MIT
/*
 * Target registration agent. Every input checks the room for its actions
 * before it changes anything, so nothing is half-applied.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "agent.h"

static __u64 age(__u64 now, __u64 then)
{
	return now > then ? now - then : 0;
}

static __u64 dflt(__u64 v, __u64 d)
{
	return v ? v : d;
}

int pias_agent_init(struct pias_agent *a, const struct pias_agent_target *tgt,
		    const struct pias_agent_config *cfg, __u64 seq0, struct pias_err *e)
{
	struct pias_agent_config c = {};
	struct pias_err te;
	int err;

	err = pias_ta_check(&tgt->ta, &te);
	if (err)
		return pias_err_set(e, err, "agent: %s", te.msg);
	if (tgt->family != tgt->ta.family)
		return pias_err_set(e, -EINVAL, "agent: endpoint is IPv%u but the TA is IPv%u",
				    tgt->family, tgt->ta.family);
	if (!tgt->port)
		return pias_err_set(e, -EINVAL, "agent: endpoint port 0");
	if (!tgt->weight)
		return pias_err_set(e, -EINVAL, "agent: weight must be positive");
	if (cfg)
		c = *cfg;
	c.refresh_min_ns = dflt(c.refresh_min_ns, PIAS_AGENT_REFRESH_MIN_NS);
	c.refresh_max_ns = dflt(c.refresh_max_ns, PIAS_AGENT_REFRESH_MAX_NS);
	c.lost_periods = dflt(c.lost_periods, PIAS_AGENT_LOST_PERIODS);
	c.lost_min_ns = dflt(c.lost_min_ns, PIAS_AGENT_LOST_MIN_NS);
	c.retry_initial_ns = dflt(c.retry_initial_ns, PIAS_AGENT_RETRY_INIT_NS);
	c.retry_max_ns = dflt(c.retry_max_ns, PIAS_AGENT_RETRY_MAX_NS);
	c.ack_window_ns = dflt(c.ack_window_ns, PIAS_AGENT_ACK_WINDOW_NS);
	c.leave_tries = dflt(c.leave_tries, PIAS_AGENT_LEAVE_TRIES);
	c.leave_retry_ns = dflt(c.leave_retry_ns, PIAS_AGENT_LEAVE_RETRY_NS);
	c.batch_holdoff_ns = dflt(c.batch_holdoff_ns, PIAS_AGENT_BATCH_HOLDOFF_NS);
	if (c.refresh_min_ns > c.refresh_max_ns)
		return pias_err_set(e, -EINVAL, "agent: refresh minimum above maximum");
	if (c.retry_initial_ns > c.retry_max_ns)
		return pias_err_set(e, -EINVAL, "agent: initial retry above the backoff cap");
	memset(a, 0, sizeof(*a));
	a->cfg = c;
	a->tgt = *tgt;
	a->next_seq = seq0 ? seq0 : 1;
	a->refresh_ms = PIAS_AGENT_REFRESH_MS;
	a->interval_ns = (__u64)a->refresh_ms * 1000000ull / 3;
	a->state = PIAS_AGENT_IDLE;
	return 0;
}

/* The refresh interval for the period a JAP asked for: a third, clamped. */
static __u64 interval_of(const struct pias_agent *a, __u32 refresh_ms)
{
	__u64 ns = (__u64)refresh_ms * 1000000ull / 3;

	if (ns < a->cfg.refresh_min_ns)
		ns = a->cfg.refresh_min_ns;
	if (ns > a->cfg.refresh_max_ns)
		ns = a->cfg.refresh_max_ns;
	return ns;
}

static __u64 lost_timeout(const struct pias_agent *a)
{
	__u64 t = a->cfg.lost_periods * a->interval_ns;

	return t > a->cfg.lost_min_ns ? t : a->cfg.lost_min_ns;
}

static int room(const struct pias_agent_actions *acts, size_t need, struct pias_err *e)
{
	if (need > acts->cap - acts->n)
		return pias_err_set(e, -ENOBUFS, "agent: %zu actions, room for %zu", need,
				    acts->cap - acts->n);
	return 0;
}

void pias_agent_reg(const struct pias_agent *a, struct pias_msg_register *r)
{
	memset(r, 0, sizeof(*r));
	r->ta = a->tgt.ta;
	r->family = a->tgt.family;
	r->flags = a->tgt.flags;
	r->addr = a->tgt.addr;
	r->port = a->tgt.port;
	r->weight = a->tgt.weight;
	r->policy = a->tgt.policy;
	r->policy_serial = a->tgt.policy_serial;
	memcpy(r->cookie, a->cookie, sizeof(a->cookie));
}

/* A message of type went out with seq at now: remembered for its answers. */
static void remember(struct pias_agent *a, __u8 type, __u64 seq, __u64 now)
{
	unsigned int slot = a->recent_next++ % PIAS_AGENT_RECENT;

	a->recent[slot].seq = seq;
	a->recent[slot].sent_ns = now;
	a->recent[slot].type = type;
	a->recent[slot].nacked = false;
	a->recent[slot].acked = false;
	a->recent[slot].cookied = false;
	a->last_send_ns = now;
}

static void send_msg(struct pias_agent *a, __u8 type, __u64 now, struct pias_agent_actions *acts)
{
	struct pias_agent_action *act = &acts->a[acts->n++];

	*act = (struct pias_agent_action){ .kind = PIAS_AGENT_SEND };
	act->hdr.type = type;
	act->hdr.seq = a->next_seq++;
	pias_agent_reg(a, &act->reg);
	if (type == PIAS_MSG_LEAVE && a->leave_down)
		act->reg.flags |= PIAS_MSG_REG_F_DOWN;
	remember(a, type, act->hdr.seq, now);
	if (type == PIAS_MSG_REGISTER)
		a->stats.registers++;
	else
		a->stats.leaves++;
}

/* May a's refreshes go in batches now? */
static bool batching(const struct pias_agent *a, __u64 now)
{
	return a->cfg.batch && a->state == PIAS_AGENT_REGISTERED && a->target_id &&
	       !a->batch_refused && now >= a->batch_after_ns;
}

/*
 * REGISTERED and a refresh due: batched, the caller's batch takes it
 * (nothing to do here), unless the last batch went unanswered: then a
 * REGISTER, and REGISTERs for a while.
 */
static void refresh(struct pias_agent *a, __u64 now, struct pias_agent_actions *acts)
{
	if (batching(a, now) && !(a->batch_seq && !a->batch_answered))
		return;
	if (batching(a, now)) {
		a->stats.batch_unanswered++;
		a->batch_after_ns = now + a->cfg.batch_holdoff_ns;
	}
	a->batch_seq = 0;
	send_msg(a, PIAS_MSG_REGISTER, now, acts);
}

static struct pias_agent_action *event(struct pias_agent *a, enum pias_agent_event ev,
				       struct pias_agent_actions *acts)
{
	struct pias_agent_action *act = &acts->a[acts->n++];

	*act = (struct pias_agent_action){ .kind = PIAS_AGENT_EVENT, .event = ev };
	act->jap_id = a->jap_id;
	act->target_id = a->target_id;
	act->refresh_ms = a->refresh_ms;
	act->tun_family = a->tun_family;
	act->tun_port = a->tun_port;
	act->tun_addr = a->tun_addr;
	act->tun_tag = a->tun_tag;
	return act;
}

int pias_agent_start(struct pias_agent *a, __u64 now, struct pias_agent_actions *acts,
		     struct pias_err *e)
{
	int err;

	if (a->state != PIAS_AGENT_IDLE)
		return pias_err_set(e, -EALREADY, "agent: already %s",
				    pias_agent_state_name(a->state));
	err = room(acts, 1, e);
	if (err)
		return err;
	a->state = PIAS_AGENT_REGISTERING;
	a->backoff_ns = a->cfg.retry_initial_ns;
	send_msg(a, PIAS_MSG_REGISTER, now, acts);
	return 0;
}

/* Not registered: REGISTER again once the backoff has passed, then back off more. */
static void retry(struct pias_agent *a, __u64 now, struct pias_agent_actions *acts)
{
	if (age(now, a->last_send_ns) < a->backoff_ns)
		return;
	send_msg(a, PIAS_MSG_REGISTER, now, acts);
	a->backoff_ns =
		a->backoff_ns > a->cfg.retry_max_ns / 2 ? a->cfg.retry_max_ns : 2 * a->backoff_ns;
}

int pias_agent_tick(struct pias_agent *a, __u64 now, struct pias_agent_actions *acts,
		    struct pias_err *e)
{
	struct pias_agent_action *ev;
	int err = room(acts, PIAS_AGENT_MAX_ACTIONS, e);

	if (err)
		return err;
	switch (a->state) {
	case PIAS_AGENT_REGISTERING:
	case PIAS_AGENT_LOST:
		retry(a, now, acts);
		break;
	case PIAS_AGENT_REGISTERED:
		if (age(now, a->confirmed_ns) > lost_timeout(a)) {
			ev = event(a, PIAS_AGENT_EV_LOST, acts);
			ev->silence_ms = age(now, a->confirmed_ns) / 1000000ull;
			a->state = PIAS_AGENT_LOST;
			/* At once: anycast may already lead to another proxy. */
			send_msg(a, PIAS_MSG_REGISTER, now, acts);
			a->backoff_ns = a->cfg.retry_initial_ns;
		} else if (age(now, a->last_send_ns) >= a->interval_ns) {
			refresh(a, now, acts);
		}
		break;
	case PIAS_AGENT_LEAVING:
		if (age(now, a->last_send_ns) < a->cfg.leave_retry_ns)
			break;
		if (a->leave_sent < a->cfg.leave_tries) {
			a->leave_sent++;
			send_msg(a, PIAS_MSG_LEAVE, now, acts);
			break;
		}
		ev = event(a, PIAS_AGENT_EV_LEFT, acts);
		ev->acked = false;
		a->state = PIAS_AGENT_DONE;
		break;
	case PIAS_AGENT_IDLE:
	case PIAS_AGENT_DONE:
		break;
	}
	return 0;
}

int pias_agent_leave(struct pias_agent *a, __u64 now, struct pias_agent_actions *acts,
		     struct pias_err *e)
{
	int err;

	if (a->state == PIAS_AGENT_DONE)
		return pias_err_set(e, -EALREADY, "agent: done already");
	if (a->state == PIAS_AGENT_LEAVING)
		return 0;
	err = room(acts, 1, e);
	if (err)
		return err;
	a->state = PIAS_AGENT_LEAVING;
	a->leave_sent = 1;
	send_msg(a, PIAS_MSG_LEAVE, now, acts);
	return 0;
}

int pias_agent_fail(struct pias_agent *a, __u64 now, struct pias_agent_actions *acts,
		    struct pias_err *e)
{
	bool was = a->leave_down;
	int err;

	if (a->state != PIAS_AGENT_LEAVING)
		a->leave_down = true;
	err = pias_agent_leave(a, now, acts, e);
	if (err)
		a->leave_down = was; /* all or nothing */
	return err;
}

/* The remembered message seq, if sent within the ACK window; else -1. */
static int recent_find(const struct pias_agent *a, __u64 seq, __u64 now)
{
	if (!seq)
		return -1;
	for (int i = 0; i < PIAS_AGENT_RECENT; i++)
		if (a->recent[i].seq == seq &&
		    age(now, a->recent[i].sent_ns) <= a->cfg.ack_window_ns)
			return i;
	return -1;
}

/* The JAP's text is unauthenticated input headed for a terminal: printable ASCII only. */
static void copy_text(char *dst, const char *src)
{
	size_t i;

	for (i = 0; i < PIAS_MSG_TEXT_LEN - 1 && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static int ignore(struct pias_agent *a)
{
	a->stats.ignored++;
	return 0;
}

static int recv_ack(struct pias_agent *a, const struct pias_msg_reg_ack *ack, int slot,
		    struct pias_agent_actions *acts)
{
	__u8 type = a->recent[slot].type;
	struct pias_agent_action *ev;
	__u32 old_jap = a->jap_id;
	bool announce;

	if (ack->echo_seq <= a->last_ack_seq)
		return ignore(a); /* reordered or replayed */
	if (a->state == PIAS_AGENT_LEAVING) {
		if (type != PIAS_MSG_LEAVE)
			return ignore(a);
		a->stats.acks++;
		a->last_ack_seq = ack->echo_seq;
		if (ack->jap_id)
			a->jap_id = ack->jap_id;
		ev = event(a, PIAS_AGENT_EV_LEFT, acts);
		ev->acked = true;
		a->state = PIAS_AGENT_DONE;
		return 0;
	}
	if (type != PIAS_MSG_REGISTER || !ack->jap_id || !ack->target_id)
		return ignore(a);
	/* a new tunnel endpoint is news too: the target's program must follow it */
	announce = !a->ever_registered || a->state == PIAS_AGENT_LOST || ack->jap_id != old_jap ||
		   ack->target_id != a->target_id || ack->tun_family != a->tun_family ||
		   ack->tun_port != a->tun_port || ack->tun_tag != a->tun_tag ||
		   memcmp(&ack->tun_addr, &a->tun_addr, sizeof(a->tun_addr));
	a->stats.acks++;
	a->last_ack_seq = ack->echo_seq;
	a->recent[slot].acked = true;
	if (a->recent[slot].sent_ns > a->confirmed_ns)
		a->confirmed_ns = a->recent[slot].sent_ns;
	a->jap_id = ack->jap_id;
	a->target_id = ack->target_id;
	a->refresh_ms = ack->refresh_ms;
	a->tun_family = ack->tun_family;
	a->tun_port = ack->tun_port;
	a->tun_addr = ack->tun_addr;
	a->tun_tag = ack->tun_tag;
	a->interval_ns = interval_of(a, ack->refresh_ms);
	if (announce) {
		bool changed = a->ever_registered && ack->jap_id != old_jap;

		ev = event(a, changed ? PIAS_AGENT_EV_JAP_CHANGED : PIAS_AGENT_EV_REGISTERED, acts);
		ev->old_jap_id = changed ? old_jap : 0;
	}
	a->ever_registered = true;
	a->state = PIAS_AGENT_REGISTERED;
	a->batch_refused = false; /* a REGISTER went through: batches may take over again */
	return 0;
}

static int recv_nack(struct pias_agent *a, const struct pias_msg_reg_nack *nack, int slot,
		     struct pias_agent_actions *acts)
{
	bool fatal = nack->code == PIAS_NACK_BAD_TOKEN || nack->code == PIAS_NACK_INVALID;
	struct pias_agent_action *ev;

	/* One NACK per message we sent, so that forged NACKs cannot flood the log. */
	if (a->recent[slot].nacked)
		return ignore(a);
	a->recent[slot].nacked = true;
	a->stats.nacks++;
	if (fatal && !a->ever_registered && a->state == PIAS_AGENT_REGISTERING) {
		ev = event(a, PIAS_AGENT_EV_GAVE_UP, acts);
		ev->nack_code = nack->code;
		copy_text(ev->text, nack->text);
		a->err = nack->code == PIAS_NACK_BAD_TOKEN ? -EACCES : -EINVAL;
		snprintf(a->errmsg, sizeof(a->errmsg), "registration refused: %s%s%s",
			 pias_agent_nack_name(nack->code), ev->text[0] ? ": " : "", ev->text);
		a->state = PIAS_AGENT_DONE;
		return 0;
	}
	ev = event(a, PIAS_AGENT_EV_NACK, acts);
	ev->nack_code = nack->code;
	copy_text(ev->text, nack->text);
	return 0;
}

/*
 * A JAP that does not know us wants proof of our address: REGISTER again
 * at once, with its cookie. A registered agent takes cookies only from its
 * own JAP, or for a REGISTER no JAP acknowledged (routing moved to another
 * proxy): a copy of a REGISTER that its JAP did acknowledge, replayed to
 * another proxy, makes that proxy send a cookie we ignore, so the copy
 * registers nothing there.
 */
static int recv_cookie(struct pias_agent *a, const struct pias_msg_reg_cookie *c, int slot,
		       __u64 now, struct pias_agent_actions *acts)
{
	if (a->recent[slot].type != PIAS_MSG_REGISTER || a->recent[slot].cookied ||
	    a->state == PIAS_AGENT_LEAVING)
		return ignore(a);
	if (a->state == PIAS_AGENT_REGISTERED && c->jap_id != a->jap_id && a->recent[slot].acked)
		return ignore(a);
	a->recent[slot].cookied = true;
	a->stats.cookies++;
	memcpy(a->cookie, c->cookie, sizeof(a->cookie));
	send_msg(a, PIAS_MSG_REGISTER, now, acts);
	return 0;
}

int pias_agent_recv(struct pias_agent *a, const struct pias_msg *m, __u64 now,
		    struct pias_agent_actions *acts, struct pias_err *e)
{
	const struct pias_ta *ta;
	__u64 echo;
	int slot, err;

	if (m->hdr.type == PIAS_MSG_REG_ACK) {
		ta = &m->ack.ta;
		echo = m->ack.echo_seq;
	} else if (m->hdr.type == PIAS_MSG_REG_NACK) {
		ta = &m->nack.ta;
		echo = m->nack.echo_seq;
	} else if (m->hdr.type == PIAS_MSG_REG_COOKIE) {
		ta = &m->cookie.ta;
		echo = m->cookie.echo_seq;
	} else {
		return pias_err_set(e, -EINVAL, "agent: cannot take a %s message",
				    pias_msg_type_name(m->hdr.type));
	}
	err = room(acts, 1, e);
	if (err)
		return err;
	if (a->state == PIAS_AGENT_IDLE || a->state == PIAS_AGENT_DONE)
		return ignore(a);
	if (memcmp(ta, &a->tgt.ta, sizeof(*ta)))
		return ignore(a);
	slot = recent_find(a, echo, now);
	if (slot < 0)
		return ignore(a);
	if (m->hdr.type == PIAS_MSG_REG_ACK)
		return recv_ack(a, &m->ack, slot, acts);
	if (m->hdr.type == PIAS_MSG_REG_COOKIE)
		return recv_cookie(a, &m->cookie, slot, now, acts);
	return recv_nack(a, &m->nack, slot, acts);
}

__u64 pias_agent_batch_wait(const struct pias_agent *a, __u64 now)
{
	__u64 since = age(now, a->last_send_ns);

	if (!batching(a, now) || (a->batch_seq && !a->batch_answered))
		return PIAS_AGENT_NOT_BATCHED;
	return since >= a->interval_ns ? 0 : a->interval_ns - since;
}

void pias_agent_batch_sent(struct pias_agent *a, __u64 seq, __u64 now)
{
	remember(a, PIAS_MSG_REG_BATCH, seq, now);
	if (seq >= a->next_seq)
		a->next_seq = seq + 1;
	a->batch_seq = seq;
	a->batch_answered = false;
	a->stats.batched++;
}

int pias_agent_batch_answer(struct pias_agent *a, __u64 echo_seq, __u8 status, __u32 refresh_ms,
			    __u64 now, struct pias_agent_actions *acts, struct pias_err *e)
{
	int slot, err = room(acts, 1, e);

	if (err)
		return err;
	slot = recent_find(a, echo_seq, now);
	if (a->state != PIAS_AGENT_REGISTERED || slot < 0 ||
	    a->recent[slot].type != PIAS_MSG_REG_BATCH || a->recent[slot].acked ||
	    a->recent[slot].nacked || echo_seq <= a->last_ack_seq)
		return ignore(a);
	if (echo_seq == a->batch_seq)
		a->batch_answered = true;
	if (status != PIAS_BATCH_OK) {
		/* the JAP does not take it as it stands: a REGISTER sorts it out */
		a->recent[slot].nacked = true;
		a->stats.batch_refused++;
		a->batch_refused = true;
		send_msg(a, PIAS_MSG_REGISTER, now, acts);
		return 0;
	}
	a->recent[slot].acked = true;
	a->stats.batch_ok++;
	a->last_ack_seq = echo_seq;
	if (a->recent[slot].sent_ns > a->confirmed_ns)
		a->confirmed_ns = a->recent[slot].sent_ns;
	a->refresh_ms = refresh_ms;
	a->interval_ns = interval_of(a, refresh_ms);
	return 0;
}

void pias_agent_msg(const struct pias_agent_action *act, struct pias_msg *m)
{
	memset(&m->hdr, 0, sizeof(m->hdr));
	m->hdr.type = act->hdr.type;
	m->hdr.seq = act->hdr.seq;
	m->reg = act->reg;
}

const char *pias_agent_state_name(enum pias_agent_state s)
{
	switch (s) {
	case PIAS_AGENT_IDLE:
		return "idle";
	case PIAS_AGENT_REGISTERING:
		return "registering";
	case PIAS_AGENT_REGISTERED:
		return "registered";
	case PIAS_AGENT_LOST:
		return "lost";
	case PIAS_AGENT_LEAVING:
		return "leaving";
	case PIAS_AGENT_DONE:
		return "done";
	}
	return "?";
}

const char *pias_agent_nack_name(__u32 code)
{
	switch (code) {
	case PIAS_NACK_BAD_TOKEN:
		return "bad token (the MAC did not verify with the group's token)";
	case PIAS_NACK_STALE:
		return "stale sequence number";
	case PIAS_NACK_FULL:
		return "no room for another target";
	case PIAS_NACK_INVALID:
		return "invalid registration (family, weight or TA not acceptable)";
	case PIAS_NACK_DRAINING:
		return "the endpoint is being drained";
	case PIAS_NACK_NOT_SERVING:
		return "the proxy does not accept registrations";
	}
	return "unknown refusal code";
}

const char *pias_agent_event_str(const struct pias_agent *a, const struct pias_agent_action *act,
				 char *buf, size_t len)
{
	char ta[PIAS_ADDR_STRLEN], ep[PIAS_ADDR_STRLEN];

	pias_ta_str(&a->tgt.ta, ta, sizeof(ta));
	pias_endpoint_str(&a->tgt.addr, a->tgt.family, a->tgt.port, ep, sizeof(ep));
	switch (act->event) {
	case PIAS_AGENT_EV_REGISTERED:
		snprintf(buf, len, "registered %s %s with JAP %u as target %u (refresh %u ms)", ta,
			 ep, act->jap_id, act->target_id, act->refresh_ms);
		break;
	case PIAS_AGENT_EV_JAP_CHANGED:
		snprintf(buf, len, "JAP changed for %s %s: JAP %u -> JAP %u, now target %u", ta, ep,
			 act->old_jap_id, act->jap_id, act->target_id);
		break;
	case PIAS_AGENT_EV_LOST:
		snprintf(
			buf, len,
			"lost registration of %s %s with JAP %u: no acknowledgement for %llu ms; re-registering",
			ta, ep, act->jap_id, (unsigned long long)act->silence_ms);
		break;
	case PIAS_AGENT_EV_NACK:
		snprintf(buf, len, "refusal for %s %s ignored: %s (code %u)%s%s", ta, ep,
			 pias_agent_nack_name(act->nack_code), act->nack_code,
			 act->text[0] ? ": " : "", act->text);
		break;
	case PIAS_AGENT_EV_GAVE_UP:
		snprintf(buf, len, "gave up on %s %s: %s", ta, ep, a->errmsg);
		break;
	case PIAS_AGENT_EV_LEFT:
		if (act->acked)
			snprintf(buf, len, "left %s %s (JAP %u acknowledged)", ta, ep, act->jap_id);
		else
			snprintf(buf, len, "left %s %s without acknowledgement after %u LEAVEs", ta,
				 ep, a->leave_sent);
		break;
	default:
		snprintf(buf, len, "event %d for %s %s", act->event, ta, ep);
		break;
	}
	return buf;
}

void pias_agent_clock(struct pias_agent *a, __u64 realtime_ns)
{
	if (a->next_seq < realtime_ns)
		a->next_seq = realtime_ns;
}
