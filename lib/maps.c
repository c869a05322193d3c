// SPDX-License-Identifier: MIT
/* Opening the pinned maps, and the checked primitives the writers share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"
#include "pin.h"

#define DESC(idx, nm, ty, k, v) [idx] = { nm, ty, k, v }

const struct pias_map_desc pias_map_descs[PIAS_M_COUNT] = {
	DESC(PIAS_M_CONFIG, PIAS_MAP_CONFIG, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct pias_config)),
	DESC(PIAS_M_PREFIX4, PIAS_MAP_PREFIX4, BPF_MAP_TYPE_LPM_TRIE,
	     sizeof(struct pias_prefix4_key), sizeof(struct pias_prefix)),
	DESC(PIAS_M_PREFIX6, PIAS_MAP_PREFIX6, BPF_MAP_TYPE_LPM_TRIE,
	     sizeof(struct pias_prefix6_key), sizeof(struct pias_prefix)),
	DESC(PIAS_M_PROXIES, PIAS_MAP_PROXIES, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct pias_proxy)),
	DESC(PIAS_M_PROXY_ADDRS, PIAS_MAP_PROXY_ADDRS, BPF_MAP_TYPE_HASH,
	     sizeof(struct pias_addr_key), sizeof(struct pias_proxy_ref)),
	DESC(PIAS_M_RAP_TABLE, PIAS_MAP_RAP_TABLE, BPF_MAP_TYPE_ARRAY, 4,
	     sizeof(struct pias_rap_slot)),
	DESC(PIAS_M_BINDINGS, PIAS_MAP_BINDINGS, BPF_MAP_TYPE_HASH, sizeof(struct pias_ta),
	     sizeof(struct pias_binding)),
	DESC(PIAS_M_FLOWS, PIAS_MAP_FLOWS, BPF_MAP_TYPE_LRU_HASH, sizeof(struct pias_flow),
	     sizeof(struct pias_flow_entry)),
	DESC(PIAS_M_GROUPS, PIAS_MAP_GROUPS, BPF_MAP_TYPE_HASH, sizeof(struct pias_ta),
	     sizeof(struct pias_group)),
	DESC(PIAS_M_TARGET_SETS, PIAS_MAP_TARGET_SETS, BPF_MAP_TYPE_HASH, sizeof(struct pias_ta),
	     sizeof(struct pias_target_set)),
	DESC(PIAS_M_TARGETS, PIAS_MAP_TARGETS, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct pias_target)),
	DESC(PIAS_M_CONNS, PIAS_MAP_CONNS, BPF_MAP_TYPE_LRU_HASH, sizeof(struct pias_flow),
	     sizeof(struct pias_conn)),
	DESC(PIAS_M_CONNS_REV, PIAS_MAP_CONNS_REV, BPF_MAP_TYPE_LRU_HASH, sizeof(struct pias_flow),
	     sizeof(struct pias_conn_rev)),
	DESC(PIAS_M_STATS, PIAS_MAP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct pias_stats)),
	DESC(PIAS_M_DROPS, PIAS_MAP_DROPS, BPF_MAP_TYPE_PERCPU_ARRAY, 4, sizeof(struct pias_drops)),
	DESC(PIAS_M_GROUP_STATS, PIAS_MAP_GROUP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, 4,
	     sizeof(struct pias_group_stats)),
	DESC(PIAS_M_GROUP_SLOTS, PIAS_MAP_GROUP_SLOTS, BPF_MAP_TYPE_HASH, sizeof(struct pias_ta),
	     sizeof(__u32)),
	DESC(PIAS_M_GROUP_NAMES, PIAS_MAP_GROUP_NAMES, BPF_MAP_TYPE_ARRAY, 4,
	     sizeof(struct pias_ta)),
	DESC(PIAS_M_TARGET_STATS, PIAS_MAP_TARGET_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, 4,
	     sizeof(struct pias_target_stats)),
	DESC(PIAS_M_EVENTS, PIAS_MAP_EVENTS, BPF_MAP_TYPE_RINGBUF, 0, 0),
	DESC(PIAS_M_EVENT_LIMIT, PIAS_MAP_EVENT_LIMIT, BPF_MAP_TYPE_LRU_HASH,
	     sizeof(struct pias_event_key), sizeof(__u64)),
	DESC(PIAS_M_ICMP_LIMIT, PIAS_MAP_ICMP_LIMIT, BPF_MAP_TYPE_PERCPU_ARRAY, 4,
	     sizeof(struct pias_rate_limit)),
	DESC(PIAS_M_NH_CACHE, PIAS_MAP_NH_CACHE, BPF_MAP_TYPE_PERCPU_ARRAY, 4,
	     sizeof(struct pias_nh_entry)),
	DESC(PIAS_M_ANYCAST, PIAS_MAP_ANYCAST, BPF_MAP_TYPE_ARRAY, 4, sizeof(struct pias_anycast)),
};

/*
 * A pin left by another build with a different struct would be read and
 * written with the wrong layout; refuse it and say how to start over.
 */
static int check_geometry(int fd, const struct pias_map_desc *d, const char *root,
			  struct pias_err *e)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return pias_err_set(e, -errno, "%s/%s: cannot read map info: %s", root, d->name,
				    strerror(errno));
	if (info.type != d->type || info.key_size != d->key_size ||
	    info.value_size != d->value_size)
		return pias_err_set(
			e, -EPROTO,
			"%s/%s is not the map this build expects (type %u key %u value %u, want type %u key %u value %u): it was pinned by another PIAS version; piasd-loader detach --all --pin-root %s, then attach again",
			root, d->name, info.type, info.key_size, info.value_size, d->type,
			d->key_size, d->value_size, root);
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
			err = check_geometry(m->fd[i], &pias_map_descs[i], root, e);
	}
	if (err)
		pias_maps_close(m);
	return err;
}

void pias_maps_close(struct pias_maps *m)
{
	for (int i = 0; i < PIAS_M_COUNT; i++) {
		if (m->fd[i] >= 0)
			close(m->fd[i]);
		m->fd[i] = -1;
	}
}

static const char *name_of(enum pias_map_idx i)
{
	return pias_map_descs[i].name;
}

int pias_map_update(struct pias_maps *m, enum pias_map_idx i, const void *key, const void *val,
		    struct pias_err *e)
{
	if (!bpf_map_update_elem(m->fd[i], key, val, BPF_ANY))
		return 0;
	if (errno == E2BIG || errno == ENOMEM || errno == ENOSPC)
		return pias_err_set(e, -errno, "%s is full (%s): delete entries first", name_of(i),
				    strerror(errno));
	return pias_err_set(e, -errno, "writing %s failed: %s", name_of(i), strerror(errno));
}

int pias_map_lookup(struct pias_maps *m, enum pias_map_idx i, const void *key, void *val,
		    struct pias_err *e)
{
	if (!bpf_map_lookup_elem(m->fd[i], key, val))
		return 0;
	return pias_err_set(e, -errno, "reading %s failed: %s", name_of(i), strerror(errno));
}

int pias_map_delete(struct pias_maps *m, enum pias_map_idx i, const void *key, const char *what,
		    struct pias_err *e)
{
	if (!bpf_map_delete_elem(m->fd[i], key))
		return 0;
	if (errno == ENOENT)
		return pias_err_set(e, -ENOENT, "%s is not in %s", what, name_of(i));
	return pias_err_set(e, -errno, "deleting %s from %s failed: %s", what, name_of(i),
			    strerror(errno));
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
		err = pias_err_set(e, -errno, "walking %s failed: %s", name_of(i), strerror(errno));
		goto out;
	}
	for (size_t k = 0; k < n; k++)
		if (bpf_map_delete_elem(m->fd[i], keys + k * ksz) && errno != ENOENT) {
			err = pias_err_set(e, -errno, "clearing %s failed: %s", name_of(i),
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
