/* SPDX-License-Identifier: MIT */
/* Per-group and per-target counters (per CPU). */
#ifndef PIAS_BPF_STATS_H
#define PIAS_BPF_STATS_H

#include "context.h"

/*
 * Creates the group's counters on this CPU. A global subprogram so that the
 * zeroed value does not take stack space in every role that counts.
 */
__noinline int pias_group_stats_init(const struct pias_ta *ta)
{
	struct pias_group_stats zero = {};

	if (!ta)
		return -1;
	return bpf_map_update_elem(&pias_grp_stats, ta, &zero, BPF_NOEXIST);
}

/* The group's counters on this CPU, created on first use. */
static __always_inline struct pias_group_stats *group_stats(const struct pias_ta *ta)
{
	struct pias_group_stats *s = bpf_map_lookup_elem(&pias_grp_stats, ta);

	if (likely(s))
		return s;
	pias_group_stats_init(ta);
	return bpf_map_lookup_elem(&pias_grp_stats, ta);
}

static __always_inline struct pias_target_stats *target_stats(__u32 id)
{
	return bpf_map_lookup_elem(&pias_tgt_stats, &id);
}

#endif
