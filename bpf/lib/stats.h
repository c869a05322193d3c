/* SPDX-License-Identifier: MIT */
/* Per-group and per-target counters (per CPU). */
#ifndef PIAS_BPF_STATS_H
#define PIAS_BPF_STATS_H

#include "context.h"

/* The counters of the group in this slot, on this CPU; NULL for no slot. */
static __always_inline struct pias_group_stats *group_stats(__u32 slot)
{
	if (!slot)
		return NULL;
	return bpf_map_lookup_elem(&pias_grp_stats, &slot);
}

static __always_inline struct pias_target_stats *target_stats(__u32 id)
{
	return bpf_map_lookup_elem(&pias_tgt_stats, &id);
}

#endif
