// SPDX-License-Identifier: MIT
/*
 * Reading the per-CPU counters. The kernel hands a per-CPU value over as one
 * copy per possible CPU, each rounded up to 8 bytes; all counter structs are
 * arrays of __u64, so summing is word by word.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "maps.h"

/* Sum ncpus copies of a words-long __u64 array from per into out. */
static void sum_words(const __u64 *per, int ncpus, size_t words, __u64 *out)
{
	memset(out, 0, words * sizeof(__u64));
	for (int c = 0; c < ncpus; c++)
		for (size_t w = 0; w < words; w++)
			out[w] += per[(size_t)c * words + w];
}

static int read_percpu(struct pias_maps *m, enum pias_map_idx i, const void *key, void *out,
		       size_t size, struct pias_err *e)
{
	__u64 *per = calloc((size_t)m->ncpus, size);
	int err;

	if (!per)
		return pias_err_set(e, -ENOMEM, "out of memory");
	err = pias_map_lookup(m, i, key, per, e);
	if (!err)
		sum_words(per, m->ncpus, size / sizeof(__u64), out);
	free(per);
	return err;
}

int pias_stats_read(struct pias_maps *m, struct pias_stats *st, struct pias_drops *dr,
		    struct pias_err *e)
{
	__u32 key = 0;
	int err = read_percpu(m, PIAS_M_STATS, &key, st, sizeof(*st), e);

	return err ? err : read_percpu(m, PIAS_M_DROPS, &key, dr, sizeof(*dr), e);
}

static bool all_zero(const void *p, size_t size)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < size; i++)
		if (b[i])
			return false;
	return true;
}

/* The slot's counts summed over CPUs, from the mapped stripes. */
static void group_sum(const struct pias_maps *m, __u32 slot, struct pias_group_stats *s)
{
	struct pias_count *out = (struct pias_count *)s;

	memset(s, 0, sizeof(*s));
	for (int cpu = 0; cpu < m->ncpus; cpu++)
		for (int role = 0; role < PIAS_ROLES; role++) {
			const volatile struct pias_count *c =
				&m->counts[PIAS_GROUP_COUNT_KEY(cpu, role, slot)];

			out[role].packets += c->packets;
			out[role].bytes += c->bytes;
		}
}

int pias_group_stats_get(struct pias_maps *m, const struct pias_ta *ta, struct pias_group_stats *s,
			 struct pias_err *e)
{
	__u32 slot = pias_group_slot_of(m, ta);

	if (!slot)
		return pias_err_set(e, -ENOENT, "the group has no counters here");
	if (!m->counts)
		return pias_err_set(e, -EBADF, "%s is not mapped",
				    pias_map_name(PIAS_M_GROUP_COUNTS));
	group_sum(m, slot, s);
	return 0;
}

int pias_group_stats_each(struct pias_maps *m, pias_group_stats_fn fn, void *arg,
			  struct pias_err *e)
{
	struct pias_ta key, next;
	struct pias_group_stats s;
	bool first = true;
	__u32 slot;
	int err;

	/* the groups with a slot; one given back meanwhile just ends or restarts the walk */
	while (!bpf_map_get_next_key(m->fd[PIAS_M_GROUP_SLOTS], first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (bpf_map_lookup_elem(m->fd[PIAS_M_GROUP_SLOTS], &key, &slot) || !slot ||
		    slot >= PIAS_GROUP_SLOTS)
			continue;
		if (!m->counts)
			return pias_err_set(e, -EBADF, "%s is not mapped",
					    pias_map_name(PIAS_M_GROUP_COUNTS));
		group_sum(m, slot, &s);
		if (!all_zero(&s, sizeof(s)) && (err = fn(&key, &s, arg)))
			return err;
	}
	if (errno != ENOENT)
		return pias_err_set(e, -errno, "walking %s failed: %s",
				    pias_map_name(PIAS_M_GROUP_SLOTS), strerror(errno));
	return 0;
}

/* One target's counters, summed over CPUs (per: room for ncpus values). */
static int target_stats_read(struct pias_maps *m, __u32 id, struct pias_target_stats *per,
			     struct pias_target_stats *s, struct pias_err *e)
{
	size_t words = sizeof(struct pias_target_stats) / sizeof(__u64);
	__u64 last = 0;
	int err = pias_map_lookup(m, PIAS_M_TARGET_STATS, &id, per, e);

	if (err)
		return err;
	sum_words((const __u64 *)per, m->ncpus, words, (__u64 *)s);
	/* A time, not a count: the latest CPU's value is the answer. */
	for (int c = 0; c < m->ncpus; c++)
		if (per[c].last_reply_ns > last)
			last = per[c].last_reply_ns;
	s->last_reply_ns = last;
	return 0;
}

int pias_target_stats_get(struct pias_maps *m, __u32 id, struct pias_target_stats *s,
			  struct pias_err *e)
{
	struct pias_target_stats *per = calloc((size_t)m->ncpus, sizeof(*per));
	int err;

	if (!per)
		return pias_err_set(e, -ENOMEM, "out of memory");
	err = target_stats_read(m, id, per, s, e);
	free(per);
	return err;
}

int pias_target_stats_each(struct pias_maps *m, pias_target_stats_fn fn, void *arg,
			   struct pias_err *e)
{
	struct pias_target_stats *per = calloc((size_t)m->ncpus, sizeof(*per));
	int err = 0;

	if (!per)
		return pias_err_set(e, -ENOMEM, "out of memory");
	/* Id 0 is never a target; its slot stays unused. */
	for (__u32 id = 1; id < PIAS_MAX_TARGETS && !err; id++) {
		struct pias_target_stats s;

		err = target_stats_read(m, id, per, &s, e);
		if (!err && !all_zero(&s, sizeof(s)))
			err = fn(id, &s, arg);
	}
	free(per);
	return err;
}
