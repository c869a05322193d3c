// SPDX-License-Identifier: MIT
/* Opening the pinned maps, and the checked primitives the writers share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"
#include "pin.h"

#define DESC(idx, nm, ty, kt, vt, max, fl)                                                         \
	[PIAS_M_##idx] = { #nm, BPF_MAP_TYPE_##ty, sizeof(kt), sizeof(vt), max, fl },
#define DESC_RINGBUF(idx, nm, bytes) [PIAS_M_##idx] = { #nm, BPF_MAP_TYPE_RINGBUF, 0, 0, bytes, 0 },

const char *const pias_retired_maps[] = {
	"pias_grp_stats", /* per-CPU group counters, until pias_grp_count */
	NULL,
};

const struct pias_map_desc pias_map_descs[PIAS_M_COUNT] = { PIAS_MAP_LIST(DESC) PIAS_RINGBUF_LIST(
	DESC_RINGBUF) };

/*
 * A pin left by another build with a different struct would be read and
 * written with the wrong layout; refuse it and say how to start over.
 */
static int check_geometry(int fd, enum pias_map_idx i, int ncpus, const char *root,
			  struct pias_err *e)
{
	const struct pias_map_desc *d = &pias_map_descs[i];
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	__u32 want_entries;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return pias_err_set(e, -errno, "%s/%s: cannot read map info: %s", root, d->name,
				    strerror(errno));
	/* a table the operator sized is this build's at any size */
	want_entries = pias_map_sizable(i) && info.max_entries ? info.max_entries
							       : pias_map_entries(i, ncpus);
	if (info.type != d->type || info.key_size != d->key_size ||
	    info.value_size != d->value_size || info.max_entries != want_entries ||
	    info.map_flags != d->flags)
		return pias_err_set(
			e, -EPROTO,
			"%s/%s is not the map this build expects (type %u key %u value %u entries %u flags %#x, want type %u key %u value %u entries %u flags %#x): it was pinned by another PIAS version; piasd-loader detach --all --pin-root %s, then attach again",
			root, d->name, info.type, info.key_size, info.value_size, info.max_entries,
			info.map_flags, d->type, d->key_size, d->value_size, want_entries, d->flags,
			root);
	return 0;
}

/* An array map with BPF_F_MMAPABLE, mapped into this process: *len bytes at *out. */
static int map_array(struct pias_maps *m, enum pias_map_idx i, void **out, size_t *len,
		     struct pias_err *e)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t n = (size_t)pias_map_entries(i, m->ncpus) * pias_map_descs[i].value_size;
	void *p;

	n = (n + (size_t)page - 1) / (size_t)page * (size_t)page;
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd[i], 0);
	if (p == MAP_FAILED)
		return pias_err_set(e, -errno, "%s/%s: cannot map it: %s", m->root,
				    pias_map_name(i), strerror(errno));
	*out = p;
	*len = n;
	return 0;
}

/*
 * The maps piasd and the tools use without a syscall per entry: the group
 * counts, every CPU's stripe (a reader sums a group over CPUs, a new slot
 * is zeroed), and the RAP table (a ring change writes its slots).
 */
static int map_arrays(struct pias_maps *m, struct pias_err *e)
{
	void *counts, *rap;
	int err;

	err = map_array(m, PIAS_M_GROUP_COUNTS, &counts, &m->counts_len, e);
	if (err)
		return err;
	m->counts = counts;
	err = map_array(m, PIAS_M_RAP_TABLE, &rap, &m->rap_len, e);
	if (err)
		return err;
	m->rap = rap;
	return 0;
}

int pias_maps_open(struct pias_maps *m, const char *root, struct pias_err *e)
{
	int ncpus, err = 0;

	memset(m, 0, sizeof(*m));
	for (int i = 0; i < PIAS_M_COUNT; i++)
		m->fd[i] = -1;
	if (!root)
		root = PIAS_PIN_ROOT_DEFAULT;
	if (snprintf(m->root, sizeof(m->root), "%s", root) >= (int)sizeof(m->root))
		return pias_err_set(e, -ENAMETOOLONG, "pin root '%.60s...' is too long", root);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 1)
		return pias_err_set(e, ncpus ? ncpus : -EINVAL, "cannot count possible CPUs");
	m->ncpus = ncpus;
	for (int i = 0; i < PIAS_M_COUNT && !err; i++) {
		m->fd[i] = pias_pin_open(root, pias_map_descs[i].name, e);
		if (m->fd[i] < 0)
			err = m->fd[i];
		else
			err = check_geometry(m->fd[i], (enum pias_map_idx)i, ncpus, root, e);
	}
	if (!err)
		err = map_arrays(m, e);
	if (err)
		pias_maps_close(m);
	return err;
}

void pias_maps_close(struct pias_maps *m)
{
	if (m->counts)
		munmap(m->counts, m->counts_len);
	if (m->rap)
		munmap(m->rap, m->rap_len);
	m->counts = NULL;
	m->rap = NULL;
	for (int i = 0; i < PIAS_M_COUNT; i++) {
		if (m->fd[i] >= 0 && !m->borrowed)
			close(m->fd[i]);
		m->fd[i] = -1;
	}
}

__u32 pias_map_entries(enum pias_map_idx i, int ncpus)
{
	return pias_map_descs[i].max_entries * (i == PIAS_M_GROUP_COUNTS ? (__u32)ncpus : 1);
}

int pias_maps_size_object(struct bpf_object *obj, struct pias_err *e)
{
	const char *name = pias_map_name(PIAS_M_GROUP_COUNTS);
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);
	int ncpus = libbpf_num_possible_cpus(), err;

	if (!map) /* an object without group counters (the tunnel target's) */
		return 0;
	if (ncpus < 1)
		return pias_err_set(e, ncpus ? ncpus : -EINVAL, "cannot count possible CPUs");
	err = bpf_map__set_max_entries(map, pias_map_entries(PIAS_M_GROUP_COUNTS, ncpus));
	return err ? pias_err_set(e, err, "cannot size %s for %d CPUs", name, ncpus) : 0;
}

int pias_maps_from_object(struct pias_maps *m, struct bpf_object *obj, const char *label,
			  struct pias_err *e)
{
	int err;

	memset(m, 0, sizeof(*m));
	m->borrowed = true;
	snprintf(m->root, sizeof(m->root), "%s", label);
	m->ncpus = libbpf_num_possible_cpus();
	if (m->ncpus < 1)
		return pias_err_set(e, m->ncpus ? m->ncpus : -EINVAL, "cannot count possible CPUs");
	for (int i = 0; i < PIAS_M_COUNT; i++) {
		m->fd[i] = bpf_object__find_map_fd_by_name(obj, pias_map_descs[i].name);
		if (m->fd[i] < 0) {
			err = pias_err_set(e, -ENOENT, "%s: the object has no map %s", label,
					   pias_map_descs[i].name);
			pias_maps_close(m);
			return err;
		}
	}
	err = map_arrays(m, e);
	if (err)
		pias_maps_close(m);
	return err;
}

bool pias_map_sizable(enum pias_map_idx i)
{
	return i == PIAS_M_FLOWS || i == PIAS_M_CONNS || i == PIAS_M_CONNS_REV;
}

const char *pias_map_name(enum pias_map_idx i)
{
	return pias_map_descs[i].name;
}

int pias_map_update(struct pias_maps *m, enum pias_map_idx i, const void *key, const void *val,
		    struct pias_err *e)
{
	if (!bpf_map_update_elem(m->fd[i], key, val, BPF_ANY))
		return 0;
	if (errno == E2BIG || errno == ENOMEM || errno == ENOSPC)
		return pias_err_set(e, -errno, "%s is full (%s): delete entries first",
				    pias_map_name(i), strerror(errno));
	return pias_err_set(e, -errno, "writing %s failed: %s", pias_map_name(i), strerror(errno));
}

int pias_map_lookup(struct pias_maps *m, enum pias_map_idx i, const void *key, void *val,
		    struct pias_err *e)
{
	if (!bpf_map_lookup_elem(m->fd[i], key, val))
		return 0;
	return pias_err_set(e, -errno, "reading %s failed: %s", pias_map_name(i), strerror(errno));
}

int pias_map_delete(struct pias_maps *m, enum pias_map_idx i, const void *key, const char *what,
		    struct pias_err *e)
{
	if (!bpf_map_delete_elem(m->fd[i], key))
		return 0;
	if (errno == ENOENT)
		return pias_err_set(e, -ENOENT, "%s is not in %s", what, pias_map_name(i));
	return pias_err_set(e, -errno, "deleting %s from %s failed: %s", what, pias_map_name(i),
			    strerror(errno));
}

int pias_ids_check(const __u32 *ids, size_t n, __u32 limit, const char *what, struct pias_err *e)
{
	/* one bit per possible id: cheaper than sorting a copy */
	unsigned char *seen = calloc(limit / 8 + 1, 1);
	int err = 0;

	if (!seen)
		return pias_err_set(e, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n && !err; i++) {
		__u32 id = ids[i];

		if (id < 1 || id >= limit)
			err = pias_err_set(e, -EINVAL, "%s id %u is out of range 1-%u", what, id,
					   limit - 1);
		else if (seen[id / 8] & (1u << (id % 8)))
			err = pias_err_set(e, -EINVAL, "%s id %u is listed twice", what, id);
		else
			seen[id / 8] |= (unsigned char)(1u << (id % 8));
	}
	free(seen);
	return err;
}

static bool no_batches(int err)
{
	return err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP || err == -ENOSYS;
}

int pias_map_update_many(struct pias_maps *m, enum pias_map_idx i, const void *keys,
			 const void *vals, size_t n, struct pias_err *e)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY, .flags = 0);
	size_t ksz = pias_map_descs[i].key_size, vsz = pias_map_descs[i].value_size;
	__u32 count = (__u32)n;
	int err;

	if (!n)
		return 0;
	if (!bpf_map_update_batch(m->fd[i], keys, vals, &count, &opts))
		return count == n ? 0
				  : pias_err_set(e, -EIO, "writing %s: %u of %zu entries",
						 pias_map_name(i), count, n);
	err = -errno;
	/*
	 * The batch stopped at entry count (or the kernel has no batches,
	 * before Linux 5.6, and wrote none): the rest one at a time, so that
	 * the failure names its entry and what follows it is not lost.
	 */
	for (size_t k = no_batches(err) ? 0 : count; k < n; k++) {
		err = pias_map_update(m, i, (const char *)keys + k * ksz,
				      (const char *)vals + k * vsz, e);
		if (err)
			return err;
	}
	return 0;
}

void pias_map_delete_many(struct pias_maps *m, enum pias_map_idx i, const void *keys, size_t n)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
	size_t ksz = pias_map_descs[i].key_size, at = 0;

	while (at < n) {
		__u32 count = (__u32)(n - at);

		if (!bpf_map_delete_batch(m->fd[i], (const char *)keys + at * ksz, &count, &opts))
			return;
		if (no_batches(-errno)) {
			for (; at < n; at++)
				bpf_map_delete_elem(m->fd[i], (const char *)keys + at * ksz);
			return;
		}
		/* a batch stops at a key that is not there: skip it, go on */
		at += count + 1;
	}
}

int pias_map_clear(struct pias_maps *m, enum pias_map_idx i, struct pias_err *e)
{
	size_t ksz = pias_map_descs[i].key_size, n = 0, cap = 0;
	unsigned char *keys = NULL;
	int err = 0;

	/*
	 * Collect first, delete after: deleting the key get_next_key walks
	 * from sends the walk back to the start.
	 */
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			unsigned char *nk = realloc(keys, ncap * ksz);

			if (!nk) {
				err = pias_err_set(e, -ENOMEM, "out of memory");
				goto out;
			}
			keys = nk;
			cap = ncap;
		}
		if (bpf_map_get_next_key(m->fd[i], n ? keys + (n - 1) * ksz : NULL, keys + n * ksz))
			break;
		n++;
	}
	if (errno != ENOENT) {
		err = pias_err_set(e, -errno, "walking %s failed: %s", pias_map_name(i),
				   strerror(errno));
		goto out;
	}
	for (size_t k = 0; k < n; k++)
		if (bpf_map_delete_elem(m->fd[i], keys + k * ksz) && errno != ENOENT) {
			err = pias_err_set(e, -errno, "clearing %s failed: %s", pias_map_name(i),
					   strerror(errno));
			goto out;
		}
out:
	free(keys);
	return err;
}

__u64 pias_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}
