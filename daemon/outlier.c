// SPDX-License-Identifier: MIT
/* Passive outlier detection's rules (outlier.h). */
#include <string.h>

#include "outlier.h"

void pias_outlier_defaults(struct pias_outlier_config *cfg)
{
	if (!cfg->no_reply_ns)
		cfg->no_reply_ns = PIAS_OUTLIER_NO_REPLY_NS;
	if (!cfg->base_eject_ns)
		cfg->base_eject_ns = PIAS_OUTLIER_BASE_EJECT_NS;
	if (!cfg->max_eject_ns)
		cfg->max_eject_ns = PIAS_OUTLIER_MAX_EJECT_NS;
	if (!cfg->max_percent)
		cfg->max_percent = PIAS_OUTLIER_MAX_PERCENT;
}

void pias_outlier_reset(struct pias_outlier *o)
{
	memset(o, 0, sizeof(*o));
}

/* Counting starts again from c: no failure, no silent flow, no history. */
static void restart(struct pias_outlier *o, const struct pias_outlier_counts *c)
{
	o->failures = 0;
	o->base_flows = c->new_flows;
	o->next = 0;
	memset(o->samples, 0, sizeof(o->samples));
}

/* New flows counted by 'at' or before, per the samples; 0 if none is that old. */
static __u64 flows_by(const struct pias_outlier *o, __u64 at)
{
	__u64 best_ns = 0, flows = 0;

	for (__u32 i = 0; i < PIAS_OUTLIER_SAMPLES; i++)
		if (o->samples[i].ns && o->samples[i].ns <= at && o->samples[i].ns >= best_ns) {
			best_ns = o->samples[i].ns;
			flows = o->samples[i].flows;
		}
	return flows;
}

enum pias_outlier_reason pias_outlier_observe(const struct pias_outlier_config *cfg,
					      struct pias_outlier *o,
					      const struct pias_outlier_counts *c, __u64 now)
{
	const struct pias_outlier_counts *l = &o->last;
	__u64 answered, failed, old;

	if (!o->seen || c->new_flows < l->new_flows || c->answered < l->answered ||
	    c->refused < l->refused || c->unreachable < l->unreachable) {
		o->seen = true;
		o->last = *c;
		restart(o, c);
		return PIAS_OUTLIER_NONE;
	}
	answered = c->answered - l->answered;
	failed = (c->refused - l->refused) + (c->unreachable - l->unreachable);
	o->last = *c;
	if (failed > 0xffff)
		failed = 0xffff;
	/*
	 * a tick's answers are taken to come before its failures: a server
	 * that dies answers its earlier flows first, and its host's ICMP
	 * errors are rate limited (6, then one a second per destination, on
	 * Linux), so a reset on every answer could let them trickle forever
	 */
	if (answered) {
		o->failures = (__u32)failed;
		o->base_flows = c->new_flows;
	} else {
		o->failures += (__u32)failed;
	}
	o->samples[o->next % PIAS_OUTLIER_SAMPLES].ns = now;
	o->samples[o->next % PIAS_OUTLIER_SAMPLES].flows = c->new_flows;
	o->next++;
	if (o->ejected)
		return PIAS_OUTLIER_NONE;
	/* a clean run as long as the longest time out: a fresh start */
	if (o->ejections && now - o->since_ns >= cfg->max_eject_ns)
		o->ejections = 0;
	if (cfg->consecutive && o->failures >= cfg->consecutive)
		return PIAS_OUTLIER_FAILURES;
	old = flows_by(o, now - cfg->no_reply_ns);
	if (cfg->no_reply_flows && now > cfg->no_reply_ns && old > o->base_flows &&
	    old - o->base_flows >= cfg->no_reply_flows)
		return PIAS_OUTLIER_NO_REPLY;
	return PIAS_OUTLIER_NONE;
}

__u64 pias_outlier_eject(const struct pias_outlier_config *cfg, struct pias_outlier *o,
			 enum pias_outlier_reason reason, __u64 now)
{
	__u64 t;

	o->ejections++;
	o->total++;
	t = cfg->base_eject_ns * o->ejections;
	if (t > cfg->max_eject_ns || t / o->ejections != cfg->base_eject_ns)
		t = cfg->max_eject_ns;
	o->ejected = true;
	o->reason = reason;
	o->since_ns = now;
	o->until_ns = now + t;
	return o->until_ns;
}

bool pias_outlier_due(const struct pias_outlier *o, __u64 now)
{
	return o->ejected && now >= o->until_ns;
}

void pias_outlier_readmit(struct pias_outlier *o, __u64 now)
{
	o->ejected = false;
	o->since_ns = now;
	restart(o, &o->last);
}

unsigned int pias_outlier_max_out(const struct pias_outlier_config *cfg, unsigned int n)
{
	unsigned int m = n * cfg->max_percent / 100;

	if (n < 2)
		return 0; /* a group's only target serves as well as it can */
	if (m < 1)
		m = 1;
	return m >= n ? n - 1 : m;
}

const char *pias_outlier_reason_name(enum pias_outlier_reason r)
{
	switch (r) {
	case PIAS_OUTLIER_FAILURES:
		return "refused or unreachable";
	case PIAS_OUTLIER_NO_REPLY:
		return "no reply";
	default:
		return "none";
	}
}
