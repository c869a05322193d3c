// SPDX-License-Identifier: MIT
/*
 * Restart (kill -9 included): the dataplane never stopped, so its maps hold
 * what the previous piasd decided. Take that over instead of starting empty:
 * targets registered here (they keep refreshing, or time out as usual),
 * groups this proxy is RAP for (until their JAPs report again), bindings
 * this IAP holds (refreshed before they expire); the RAP table is the
 * node's as it is (node_io.c), so its first rewrite changes only what
 * moved. Nothing is written back, so established flows see no change.
 * The node's membership starts afresh and rejoins through the seeds; the
 * table is not rewritten until it has (daemon/node_ring.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "piasd.h"

/* Every key of hash map fd, in kernel order: fn(key, arg); a non-zero return stops. */
static int each_key(int fd, void *key, void *next, size_t klen,
		    int (*fn)(struct piasd *d, const void *key), struct piasd *d)
{
	int err = bpf_map_get_next_key(fd, NULL, next);

	while (!err) {
		memcpy(key, next, klen);
		err = fn(d, key);
		if (err)
			return err;
		err = bpf_map_get_next_key(fd, key, next);
	}
	return 0;
}

static int restore_targets(struct piasd *d, const void *key)
{
	const struct pias_ta *ta = key;
	struct pias_tset set;
	struct pias_err e;
	__u64 now = piasd_now();
	__u32 *ids;

	if (bpf_map_lookup_elem(d->maps.fd[PIAS_M_TARGET_SETS], ta, &set) || !set.count)
		return 0;
	ids = calloc(set.count, sizeof(*ids));
	if (!ids || pias_tset_read(&d->maps, ta, &set, ids, NULL, set.count, &e)) {
		LOG_W("restore: a target set not taken over: %s", ids ? e.msg : "out of memory");
		free(ids);
		return 0;
	}
	for (__u32 i = 0; i < set.count; i++) {
		struct pias_target t;

		if (bpf_map_lookup_elem(d->maps.fd[PIAS_M_TARGETS], &ids[i], &t) ||
		    pias_node_restore_target(&d->node, ta, ids[i], &t, &set.policy, now, &e))
			LOG_W("restore: target %u not taken over: %s", ids[i],
			      t.state ? e.msg : "empty entry");
		else
			/* its next REGISTER must be newer than anything before the restart */
			d->target_seq[ids[i]].seq = piasd_realtime() - PIAS_REPLAY_FRESH_NS;
	}
	free(ids);
	return 0;
}

static int restore_group(struct piasd *d, const void *key)
{
	const struct pias_ta *ta = key;
	struct pias_group g;
	struct pias_err e;

	if (!bpf_map_lookup_elem(d->maps.fd[PIAS_M_GROUPS], ta, &g) &&
	    pias_node_restore_group(&d->node, ta, &g, piasd_now(), &e))
		LOG_W("restore: group not taken over: %s", e.msg);
	return 0;
}

static int restore_binding(struct piasd *d, const void *key)
{
	const struct pias_ta *ta = key;
	struct pias_binding b;
	struct pias_group set;
	struct pias_err e;
	__u64 ttl = (__u64)d->cfg.binding_ttl_s * 1000000000ull;

	if (bpf_map_lookup_elem(d->maps.fd[PIAS_M_BINDINGS], ta, &b) ||
	    (b.flags & PIAS_BINDING_F_LOCAL))
		return 0;
	/* a binding to several JAPs: its set too, or the next refresh finds none */
	if ((b.flags & PIAS_BINDING_F_SET) &&
	    bpf_map_lookup_elem(d->maps.fd[PIAS_M_BIND_SETS], ta, &set)) {
		LOG_W("restore: a binding to a set without its set: not taken over");
		return 0;
	}
	if (pias_node_restore_binding(&d->node, ta, &b,
				      (b.flags & PIAS_BINDING_F_SET) ? &set : NULL, ttl, &e))
		LOG_W("restore: binding not taken over: %s", e.msg);
	return 0;
}

int piasd_restore(struct piasd *d, struct pias_err *e)
{
	const struct pias_node *n = &d->node;
	struct pias_ta key, next;

	(void)e;
	each_key(d->maps.fd[PIAS_M_TARGET_SETS], &key, &next, sizeof(key), restore_targets, d);
	each_key(d->maps.fd[PIAS_M_GROUPS], &key, &next, sizeof(key), restore_group, d);
	each_key(d->maps.fd[PIAS_M_BINDINGS], &key, &next, sizeof(key), restore_binding, d);
	if (pias_jap_ngroups(&n->jap) || pias_rap_ngroups(&n->rap) || pias_iap_count(&n->iap))
		LOG_I("restart: took over %zu groups with targets, %zu RAP groups, %zu bindings "
		      "from the pinned maps",
		      pias_jap_ngroups(&n->jap), pias_rap_ngroups(&n->rap),
		      pias_iap_count(&n->iap));
	return 0;
}
