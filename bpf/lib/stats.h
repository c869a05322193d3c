/* SPDX-License-Identifier: MIT */
/* Per-group and per-target counters (per CPU). */
#ifndef PIAS_BPF_STATS_H
#define PIAS_BPF_STATS_H

#include "context.h"

/* Counts a packet of len bytes for the group in this slot, in this role (no slot: none). */
static __always_inline void group_count(enum pias_group_role role, __u32 slot, __u32 len)
{
	__u32 key = PIAS_GROUP_COUNT_KEY(bpf_get_smp_processor_id(), role, slot);
	struct pias_count *n;

	if (!slot)
		return;
	/* this CPU's stripe: plain increments, no other CPU writes here */
	n = bpf_map_lookup_elem(&pias_grp_count, &key);
	if (n) {
		n->packets++;
		n->bytes += len;
	}
}

static __always_inline struct pias_target_stats *target_stats(__u32 id)
{
	return bpf_map_lookup_elem(&pias_tgt_stats, &id);
}

#endif
