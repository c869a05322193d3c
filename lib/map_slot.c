// SPDX-License-Identifier: MIT
/*
 * Group slots (include/pias/maps.h, PIAS_GROUP_SLOTS): the index of a
 * group's counters in pias_grp_count (one count per CPU and role). Two maps keep the
 * assignment, so that every process that writes the maps (piasd, the
 * tools) sees the same one, and a restarted piasd finds it again:
 * pias_grp_slots (TA -> slot) and pias_grp_names (slot -> TA, a zero TA
 * for a free slot).
 *
 * The search for a free slot goes round from where the last one ended, so
 * that a slot just given back is the last to be taken again: flow and
 * connection entries that copied it may still count into it for a while.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "maps.h"

__u16 pias_group_slot_of(struct pias_maps *m, const struct pias_ta *ta)
{
	__u32 slot;

	if (bpf_map_lookup_elem(m->fd[PIAS_M_GROUP_SLOTS], ta, &slot) || !slot ||
	    slot >= PIAS_GROUP_SLOTS)
		return 0;
	return (__u16)slot;
}

static bool name_free(const struct pias_ta *t)
{
	return !t->proto;
}

void pias_group_counts_zero(struct pias_maps *m, __u32 slot)
{
	if (!m->counts || !slot || slot >= PIAS_GROUP_SLOTS)
		return;
	for (int cpu = 0; cpu < m->ncpus; cpu++)
		for (int role = 0; role < PIAS_ROLES; role++)
			memset(&m->counts[PIAS_GROUP_COUNT_KEY(cpu, role, slot)], 0,
			       sizeof(struct pias_count));
}

__u16 pias_group_slot_take(struct pias_maps *m, const struct pias_ta *ta)
{
	const struct pias_ta none = { 0 };
	__u16 have = pias_group_slot_of(m, ta);
	__u32 slot = m->slot_next;

	if (have)
		return have;
	for (__u32 tries = 1; tries < PIAS_GROUP_SLOTS; tries++, slot++) {
		struct pias_ta name;

		if (slot < 1 || slot >= PIAS_GROUP_SLOTS)
			slot = 1;
		if (bpf_map_lookup_elem(m->fd[PIAS_M_GROUP_NAMES], &slot, &name) ||
		    !name_free(&name))
			continue;
		pias_group_counts_zero(m, slot);
		if (bpf_map_update_elem(m->fd[PIAS_M_GROUP_NAMES], &slot, ta, BPF_ANY))
			return 0;
		if (bpf_map_update_elem(m->fd[PIAS_M_GROUP_SLOTS], ta, &slot, BPF_NOEXIST)) {
			/* another writer gave ta a slot meanwhile: use that one */
			bpf_map_update_elem(m->fd[PIAS_M_GROUP_NAMES], &slot, &none, BPF_ANY);
			return pias_group_slot_of(m, ta);
		}
		m->slot_next = slot + 1;
		return (__u16)slot;
	}
	return 0;
}

static bool held(struct pias_maps *m, enum pias_map_idx i, const struct pias_ta *ta, void *val)
{
	return !bpf_map_lookup_elem(m->fd[i], ta, val);
}

void pias_group_slot_release(struct pias_maps *m, const struct pias_ta *ta)
{
	const struct pias_ta none = { 0 };
	union {
		struct pias_binding b;
		struct pias_group g;
		struct pias_tset s;
	} v;
	__u32 slot = pias_group_slot_of(m, ta);

	if (!slot || held(m, PIAS_M_BINDINGS, ta, &v) || held(m, PIAS_M_GROUPS, ta, &v) ||
	    held(m, PIAS_M_TARGET_SETS, ta, &v))
		return;
	bpf_map_delete_elem(m->fd[PIAS_M_GROUP_SLOTS], ta);
	bpf_map_update_elem(m->fd[PIAS_M_GROUP_NAMES], &slot, &none, BPF_ANY);
}
