// SPDX-License-Identifier: MIT
/*
 * Passive outlier detection, its I/O (daemon/outlier.h has the rules):
 * every tick, each target's counts from the dataplane (pias_tgt_stats) go
 * to its rules; a target they pick is ejected (pias_jap_eject) if its
 * group may lose one more, and let back when its time is up. One line in
 * the log for each, and counts for `show targets` and /metrics.
 *
 * Cost: one map read per target per tick, as the JAP's liveness check
 * does for targets whose refresh is late. With thousands of targets a
 * batched read would do better (noted in docs/design.md).
 */
#include <stdlib.h>
#include <string.h>

#include "piasd.h"

static struct pias_outlier_config outlier_cfg(const struct piasd *d)
{
	struct pias_outlier_config c = {
		.consecutive = d->cfg.outlier_consecutive,
		.no_reply_flows = d->cfg.outlier_no_reply_flows,
		.no_reply_ns = (__u64)d->cfg.outlier_no_reply_ms * 1000000ull,
		.base_eject_ns = (__u64)d->cfg.outlier_base_ejection_s * 1000000000ull,
		.max_eject_ns = (__u64)d->cfg.outlier_max_ejection_s * 1000000000ull,
		.max_percent = d->cfg.outlier_max_percent,
	};

	pias_outlier_defaults(&c);
	return c;
}

/* Target t's state, set up afresh when its id went to another registration. */
static struct pias_outlier *state_of(struct piasd *d, const struct pias_jap_group *g,
				     const struct pias_jap_target *t)
{
	struct piasd_outlier *s = &d->outliers[t->id];

	if (!s->o) {
		s->o = calloc(1, sizeof(*s->o));
		if (!s->o)
			return NULL;
	}
	if (memcmp(&s->ta, &g->ta, sizeof(s->ta)) || s->family != t->t.family ||
	    s->port != t->t.port || memcmp(&s->addr, &t->t.addr, sizeof(s->addr))) {
		pias_outlier_reset(s->o);
		s->ta = g->ta;
		s->addr = t->t.addr;
		s->family = t->t.family;
		s->port = t->t.port;
	}
	return s->o;
}

static void eject(struct piasd *d, const struct pias_outlier_config *c,
		  const struct pias_jap_group *g, const struct pias_jap_target *t,
		  struct pias_outlier *o, enum pias_outlier_reason why, __u64 now)
{
	char ta[PIAS_ADDR_STRLEN + 16], ep[PIAS_ADDR_STRLEN + 8];
	struct pias_err e;
	__u64 until;

	pias_ta_str(&g->ta, ta, sizeof(ta));
	pias_endpoint_str(&t->t.addr, t->t.family, t->t.port, ep, sizeof(ep));
	if (piasd_target_eject(d, &g->ta, t->id, true, &e)) {
		LOG_W("outlier: cannot eject target %u of %s: %s", t->id, ta, e.msg);
		return;
	}
	until = pias_outlier_eject(c, o, why, now);
	PIASD_INC(d, outlier_ejections);
	LOG_W("target %u of %s at %s ejected (%s) for %llu s", t->id, ta, ep,
	      pias_outlier_reason_name(why), (unsigned long long)((until - now) / 1000000000ull));
}

static void readmit(struct piasd *d, const struct pias_jap_group *g,
		    const struct pias_jap_target *t, struct pias_outlier *o, __u64 now)
{
	char ta[PIAS_ADDR_STRLEN + 16];
	struct pias_err e;

	if (piasd_target_eject(d, &g->ta, t->id, false, &e)) {
		LOG_W("outlier: cannot let target %u back: %s", t->id, e.msg);
		return;
	}
	pias_outlier_readmit(o, now);
	LOG_I("target %u of %s back in, on probation", t->id, pias_ta_str(&g->ta, ta, sizeof(ta)));
}

/* One group: readmissions first, then ejections within its allowance. */
static void group_tick(struct piasd *d, const struct pias_outlier_config *c,
		       const struct pias_jap_group *g, __u64 now)
{
	/* ACTIVE targets, and those of them ejected */
	unsigned int out = g->up - g->active, max = pias_outlier_max_out(c, g->up);

	/* ejections change a target's flag in place: the array stays as it is */
	for (__u32 i = 0; i < g->count; i++) {
		const struct pias_jap_target *t = &g->targets[i];
		struct pias_target_stats s;
		struct pias_outlier_counts k;
		struct pias_outlier *o;
		enum pias_outlier_reason why;
		struct pias_err e;

		if (!(o = state_of(d, g, t)))
			continue;
		/* a target DOWN or draining is judged afresh once it is ACTIVE again */
		if (t->t.state != PIAS_TARGET_ACTIVE) {
			o->seen = false;
			continue;
		}
		if (pias_target_stats_get(&d->maps, t->id, &s, &e))
			continue;
		k = (struct pias_outlier_counts){ .new_flows = s.new_flows,
						  .answered = s.answered,
						  .refused = s.refused,
						  .unreachable = s.unreachable };
		if (o->ejected && !t->ejected)
			pias_outlier_readmit(o, now); /* the registry let it back: it was DOWN */
		if (pias_outlier_due(o, now)) {
			readmit(d, g, t, o, now);
			out--;
			continue;
		}
		why = pias_outlier_observe(c, o, &k, now);
		if (why != PIAS_OUTLIER_NONE && out < max) {
			eject(d, c, g, t, o, why, now);
			out++;
		}
	}
}

void piasd_outliers_tick(struct piasd *d, __u64 now)
{
	struct pias_outlier_config c = outlier_cfg(d);

	if (!c.consecutive && !c.no_reply_flows)
		return;
	pias_jap_each_group(&d->node.jap, g) group_tick(d, &c, g, now);
}

const struct pias_outlier *piasd_outlier_of(const struct piasd *d, __u32 id)
{
	return d->outliers && id < PIAS_MAX_TARGETS ? d->outliers[id].o : NULL;
}

int piasd_outliers_init(struct piasd *d, struct pias_err *e)
{
	d->outliers = calloc(PIAS_MAX_TARGETS, sizeof(*d->outliers));
	return d->outliers ? 0 : pias_err_set(e, -ENOMEM, "out of memory (outlier state)");
}

void piasd_outliers_free(struct piasd *d)
{
	if (!d->outliers)
		return;
	for (__u32 i = 0; i < PIAS_MAX_TARGETS; i++)
		free(d->outliers[i].o);
	free(d->outliers);
	d->outliers = NULL;
}
