// SPDX-License-Identifier: MIT
/* The end of connection state in the dataplane's tables: see sweep.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

int pias_sweep_init(struct pias_sweep *s, const struct pias_ct_timeouts *to, struct pias_err *e)
{
	memset(s, 0, sizeof(*s));
	if (to)
		s->to = *to;
	s->count = calloc(PIAS_MAX_TARGETS, sizeof(*s->count));
	s->last = calloc(PIAS_MAX_TARGETS, sizeof(*s->last));
	if (!s->count || !s->last) {
		pias_sweep_free(s);
		return pias_err_set(e, -ENOMEM, "sweep: no memory for the per-target counts");
	}
	return 0;
}

void pias_sweep_free(struct pias_sweep *s)
{
	free(s->count);
	free(s->last);
	s->count = s->last = NULL;
}

void pias_sweep_pass_begin(struct pias_sweep *s, __u64 now)
{
	memset(s->count, 0, PIAS_MAX_TARGETS * sizeof(*s->count));
	s->pass_start_ns = now;
}

void pias_sweep_pass_end(struct pias_sweep *s, __u64 now)
{
	__u32 *t = s->last;
	__u64 live = 0;

	for (__u32 i = 0; i < PIAS_MAX_TARGETS; i++)
		live += s->count[i];
	s->last = s->count;
	s->count = t;
	s->last_start_ns = s->pass_start_ns;
	s->last_end_ns = now;
	s->live_last = live;
	s->passes++;
	pias_sweep_pass_begin(s, now);
}

enum pias_sweep_verdict pias_sweep_conn(struct pias_sweep *s, __u8 proto, const struct pias_conn *c,
					const struct pias_conn_rev *rv, bool target_in_use,
					__u64 now)
{
	__u64 last = c->last_ns;
	__u8 ct = c->ct;

	if (target_in_use) {
		if (rv) {
			ct |= rv->ct;
			if (rv->last_ns > last)
				last = rv->last_ns;
		}
		if (!pias_ct_expired(&s->to, proto, ct, last, now)) {
			if (c->target_id < PIAS_MAX_TARGETS)
				s->count[c->target_id]++;
			return PIAS_SWEEP_KEEP;
		}
		/* the target's side may have spoken since: only its entry says
		 * (a tunnel-mode target's has none: its replies touch c) */
		if (!rv && c->nat_port)
			return PIAS_SWEEP_CHECK_REV;
	}
	s->conns_ended++;
	return PIAS_SWEEP_DELETE;
}

enum pias_sweep_verdict pias_sweep_rev(struct pias_sweep *s, const struct pias_conn_rev *rv,
				       enum pias_sweep_fwd fwd, __u64 now)
{
	if (fwd == PIAS_SWEEP_FWD_MINE)
		return PIAS_SWEEP_KEEP;
	if (fwd == PIAS_SWEEP_FWD_UNREAD)
		return now > rv->last_ns && now - rv->last_ns > PIAS_SWEEP_REV_IDLE_NS
			       ? PIAS_SWEEP_CHECK_FWD
			       : PIAS_SWEEP_KEEP;
	if (!pias_ct_leftover_free(&s->to, rv->ct, rv->last_ns, now))
		return PIAS_SWEEP_KEEP;
	s->leftovers_ended++;
	return PIAS_SWEEP_DELETE;
}

bool pias_sweep_flow(struct pias_sweep *s, __u8 proto, const struct pias_flow_entry *fe, __u64 now)
{
	if (!pias_ct_expired(&s->to, proto, fe->ct, fe->last_ns, now))
		return false;
	s->flows_ended++;
	return true;
}

long pias_sweep_target_conns(const struct pias_sweep *s, __u32 id, __u64 since)
{
	if (!s->passes || s->last_start_ns < since || id >= PIAS_MAX_TARGETS)
		return -1;
	return s->last[id];
}
