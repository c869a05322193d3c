/* SPDX-License-Identifier: MIT */
/*
 * The one path by which user space writes the dataplane's maps: tools, the
 * loader and the daemon open the pinned maps into a struct pias_maps and go
 * through the typed writers below, which check their input and say in one
 * line what was wrong. Nothing else calls bpf_map_update_elem on them.
 */
#ifndef PIAS_LIB_MAPS_H
#define PIAS_LIB_MAPS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <pias/maps.h>

#include "addr.h"
#include "err.h"

#define PIAS_M_ENUM(idx, ...) PIAS_M_##idx,

enum pias_map_idx {
	PIAS_MAP_LIST(PIAS_M_ENUM) PIAS_RINGBUF_LIST(PIAS_M_ENUM) PIAS_M_COUNT
};

/* What a pinned map must look like for this build (checked on open). */
struct pias_map_desc {
	const char *name;
	__u32 type;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
	__u32 flags;
};

extern const struct pias_map_desc pias_map_descs[PIAS_M_COUNT];
/*
 * Names of maps earlier versions pinned and this one has not: an upgraded
 * proxy may still hold their pins, which detach --all removes too. NULL-ended.
 */
extern const char *const pias_retired_maps[];

struct pias_maps {
	int fd[PIAS_M_COUNT];
	int ncpus;		   /* possible CPUs: per-CPU values come in this many copies */
	__u32 slot_next;	   /* where the search for a free group slot goes on (map_slot.c) */
	struct pias_count *counts; /* pias_grp_count, mapped: every CPU's stripe */
	size_t counts_len;
	struct pias_rap_slot *rap; /* pias_rap_table, mapped: PIAS_RAP_SLOTS slots */
	size_t rap_len;
	bool borrowed; /* fds are a loaded object's: close leaves them open */
	char root[PATH_MAX];
};

/*
 * Open every map pinned under root (NULL: PIAS_PIN_ROOT_DEFAULT) and check
 * its type and sizes against this build's ABI. On failure nothing stays open.
 */
int pias_maps_open(struct pias_maps *m, const char *root, struct pias_err *e);
void pias_maps_close(struct pias_maps *m);

struct bpf_object;
/*
 * Size obj's per-CPU-striped maps (pias_grp_count) for this machine's
 * possible CPUs; every loader calls it between open and load.
 */
int pias_maps_size_object(struct bpf_object *obj, struct pias_err *e);
/*
 * The library's handle on a loaded object's own (unpinned) maps, for tests
 * and benchmarks; label stands for the pin root in messages.
 */
int pias_maps_from_object(struct pias_maps *m, struct bpf_object *obj, const char *label,
			  struct pias_err *e);
/* Entries map i must have here: the list's, times the CPUs for a striped map. */
__u32 pias_map_entries(enum pias_map_idx i, int ncpus);

/* A map's name (its pin's). */
const char *pias_map_name(enum pias_map_idx i);
/*
 * Whether map i's size is the operator's (piasd-loader attach --flows,
 * --conns): then a pin of any size is this build's map.
 */
bool pias_map_sizable(enum pias_map_idx i);

/* Low-level, for the writers and readers below; messages name the map. */
int pias_map_update(struct pias_maps *m, enum pias_map_idx i, const void *key, const void *val,
		    struct pias_err *e);
int pias_map_lookup(struct pias_maps *m, enum pias_map_idx i, const void *key, void *val,
		    struct pias_err *e);
/* Delete key; what names the entry in the "not found" message. */
int pias_map_delete(struct pias_maps *m, enum pias_map_idx i, const void *key, const char *what,
		    struct pias_err *e);
/*
 * Write n entries (keys and vals: arrays of the map's key and value
 * sizes) in one batch where the kernel has them (Linux 5.6), else one by
 * one; stops at the first failure.
 */
int pias_map_update_many(struct pias_maps *m, enum pias_map_idx i, const void *keys,
			 const void *vals, size_t n, struct pias_err *e);
/* Delete n keys, batched where the kernel can; keys that are not there are no error. */
void pias_map_delete_many(struct pias_maps *m, enum pias_map_idx i, const void *keys, size_t n);
/* Delete every entry of a hash map (not for arrays). */
int pias_map_clear(struct pias_maps *m, enum pias_map_idx i, struct pias_err *e);

/* ids[0..n) each in 1..limit - 1 and none twice; what names them ("proxy"). */
int pias_ids_check(const __u32 *ids, size_t n, __u32 limit, const char *what, struct pias_err *e);

/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(). */
__u64 pias_now_ns(void);

/* --- pias_config ------------------------------------------------------ */

/* Defaults: tunnel port, MTU 1500 with its MSS clamps, NAT ports, rates. */
void pias_config_defaults(struct pias_config *c);
/* Set the underlay MTU and the MSS clamps that follow from it. */
void pias_config_set_mtu(struct pias_config *c, __u16 mtu);
bool pias_config_is_zero(const struct pias_config *c);
int pias_config_check(const struct pias_config *c, struct pias_err *e);
/* Read the config; an all-zero (never written) entry reads as the defaults. */
int pias_config_get(struct pias_maps *m, struct pias_config *c, bool *was_zero, struct pias_err *e);
int pias_config_set(struct pias_maps *m, const struct pias_config *c, struct pias_err *e);
/* Write the defaults if the entry is still all zero; *written says if it was. */
int pias_config_init(struct pias_maps *m, bool *written, struct pias_err *e);

/* --- anycast prefixes --------------------------------------------------- */

int pias_prefix_add(struct pias_maps *m, const struct pias_net *n, struct pias_err *e);
int pias_prefix_del(struct pias_maps *m, const struct pias_net *n, struct pias_err *e);
/* pias_anycast again from the LPM maps (the prefix writers call it; tests that clear them too). */
int pias_anycast_sync(struct pias_maps *m, struct pias_err *e);

/* --- proxies and the RAP table ----------------------------------------- */

/*
 * Tunnel tags for one peer (include/pias/tunnel.h): tx on our packets to
 * it, rx[] accepted from it. Overlay keys are 32 bytes.
 */
#define PIAS_TUN_KEY_LEN 32
struct pias_tun_tags {
	__u64 tx;
	__u32 n_rx;
	__u64 rx[PIAS_TUN_RX_TAGS];
};

/* The tag on packets from proxy 'from' to proxy 'to' under key (lib/tun_tag.c). */
__u64 pias_tun_tag(const __u8 key[PIAS_TUN_KEY_LEN], __u32 from, __u32 to);

/*
 * Tags between self and peer for a ring of n keys (the first
 * PIAS_TUN_RX_TAGS) of which keys[send] is the one to send with.
 */
void pias_tun_tags_derive(const __u8 (*keys)[PIAS_TUN_KEY_LEN], size_t n, size_t send, __u32 self,
			  __u32 peer, struct pias_tun_tags *t);

/*
 * Writes pias_proxies[id] and pias_proxy_addr addr -> id together, with the
 * tags of that pair, dropping the id's previous address. An address may
 * belong to one proxy only.
 */
int pias_proxy_set(struct pias_maps *m, __u32 id, const union pias_addr *a, __u8 family,
		   enum pias_proxy_state state, const struct pias_tun_tags *tags,
		   struct pias_err *e);
int pias_proxy_get(struct pias_maps *m, __u32 id, struct pias_proxy *p, struct pias_err *e);
int pias_proxy_del(struct pias_maps *m, __u32 id, struct pias_err *e);

/* Write slots keys[i] = slots[i], i < n, into the mapped table (m->rap): no syscall. */
int pias_rap_slots_write(struct pias_maps *m, const __u32 *keys, const struct pias_rap_slot *slots,
			 size_t n, struct pias_err *e);
/*
 * Fill all PIAS_RAP_SLOTS slots from the live proxy ids with k replicas,
 * as piasd's ring does (lib/ring.h, default vnodes).
 */
int pias_rap_fill(struct pias_maps *m, const __u32 *ids, size_t n, unsigned int k,
		  struct pias_err *e);

/* --- IAP bindings and flows -------------------------------------------- */

/* ttl_s 0: the binding never expires. */
int pias_binding_set(struct pias_maps *m, const struct pias_ta *ta, __u32 jap_id, __u32 generation,
		     __u32 ttl_s, struct pias_err *e);
/*
 * Binding b as it is (its deadline, flags), with the group's counter slot;
 * with a set of count > 0 (pias_group_fill's rules), PIAS_BINDING_F_SET and
 * the set in pias_bind_sets; without, any old set deleted.
 */
int pias_binding_put(struct pias_maps *m, const struct pias_ta *ta, const struct pias_binding *b,
		     const struct pias_group *set, struct pias_err *e);
/*
 * A binding to several JAPs with their shares (japs[0]: the largest), from
 * which each new flow draws one (PIAS_BINDING_F_SET, pias_bind_sets); one
 * JAP under a policy other than random is the plain binding.
 */
int pias_binding_set_japs(struct pias_maps *m, const struct pias_ta *ta,
			  const struct pias_group_jap *japs, size_t n,
			  const struct pias_policy *policy, __u32 generation, __u32 ttl_s,
			  struct pias_err *e);
int pias_binding_set_negative(struct pias_maps *m, const struct pias_ta *ta, __u32 ttl_s,
			      struct pias_err *e);
/* ta is served by this proxy's own stack (registration): passed up, never expires. */
int pias_binding_set_local(struct pias_maps *m, const struct pias_ta *ta, struct pias_err *e);
int pias_binding_del(struct pias_maps *m, const struct pias_ta *ta, struct pias_err *e);
/*
 * n bindings at once, as pias_binding_put each (sets NULL: none has a
 * set), in a few batched writes: every one is checked before any is
 * written. The deletes likewise; a TA with no binding is no error.
 */
int pias_bindings_put_many(struct pias_maps *m, const struct pias_ta *tas,
			   const struct pias_binding *b, const struct pias_group *sets, size_t n,
			   struct pias_err *e);
void pias_bindings_del_many(struct pias_maps *m, const struct pias_ta *tas, size_t n);
/*
 * The client's flow f (as the dataplane keys it) goes to jap_id whatever
 * the binding says: affinity across IAPs, the JAP that holds its
 * connection pins it here. ct: the connection's state there (PIAS_CT_*).
 */
int pias_flow_pin(struct pias_maps *m, const struct pias_flow *f, __u32 jap_id, __u8 ct,
		  struct pias_err *e);
/* Forget every flow's JAP (tests: make the next packet use the binding). */
int pias_flows_clear(struct pias_maps *m, struct pias_err *e);

/* --- RAP groups ---------------------------------------------------------- */

int pias_group_set(struct pias_maps *m, const struct pias_ta *ta, const struct pias_group_jap *japs,
		   size_t n, struct pias_err *e);
/* The same with the group's policy (NULL: weighted). */
int pias_group_set_policy(struct pias_maps *m, const struct pias_ta *ta,
			  const struct pias_group_jap *japs, size_t n,
			  const struct pias_policy *policy, struct pias_err *e);
/* g from japs (1-16, ids valid, none twice) and policy (NULL: weighted). */
int pias_group_fill(struct pias_group *g, const struct pias_group_jap *japs, size_t n,
		    const struct pias_policy *policy, __u8 family, struct pias_err *e);
/*
 * Is g a group (RAP) or binding set (IAP) the dataplane may hold: its JAPs
 * as above, its policy, and a scoped group's prefixes (at most
 * PIAS_GROUP_SCOPES, host bits zero, each naming some of its JAPs)?
 */
int pias_group_check(const struct pias_group *g, __u8 family, struct pias_err *e);
/* The whole group g, checked, with ta's counter slot. */
int pias_group_put(struct pias_maps *m, const struct pias_ta *ta, const struct pias_group *g,
		   struct pias_err *e);
int pias_group_del(struct pias_maps *m, const struct pias_ta *ta, struct pias_err *e);
/* n groups at once, as pias_group_put / _del each, batched (all checked first). */
int pias_groups_put_many(struct pias_maps *m, const struct pias_ta *tas, const struct pias_group *g,
			 size_t n, struct pias_err *e);
void pias_groups_del_many(struct pias_maps *m, const struct pias_ta *tas, size_t n);

/* --- JAP targets and target sets ----------------------------------------- */

const char *pias_target_state_name(__u8 state);
int pias_target_state_parse(const char *s, __u8 *state, struct pias_err *e);
/* t->family must match the address; state ACTIVE, DRAINING or DOWN. */
int pias_target_set(struct pias_maps *m, __u32 id, const struct pias_target *t, struct pias_err *e);
int pias_target_del(struct pias_maps *m, __u32 id, struct pias_err *e);
/*
 * n targets at once, in one batched write (a JAP losing its targets, a
 * restart): each checked as pias_target_set before any is written. The
 * deletes likewise; an id already unused is no error.
 */
int pias_targets_set_many(struct pias_maps *m, const __u32 *ids, const struct pias_target *t,
			  size_t n, struct pias_err *e);
int pias_targets_del_many(struct pias_maps *m, const __u32 *ids, size_t n, struct pias_err *e);

/* --- JAP target sets (lib/map_tset.c) ---------------------------------- */

/*
 * Group ta's target set, whole: n targets (1..PIAS_TSET_MAX), ids[i] with
 * weight weights[i] (0: in the set, for its flows and for readers, but
 * never drawn for a new flow), under policy (NULL: weighted), in place of
 * the set ta had, if any. A scoped set is put in its targets' address
 * order (they must be in pias_targets: the addresses are read there).
 * Chunks and scope ranges are written in batches under a new generation,
 * then the header flips to it, then the old generation goes: a reader
 * never sees half a set (the file's comment says how).
 */
int pias_tset_write(struct pias_maps *m, const struct pias_ta *ta, const __u32 *ids,
		    const __u32 *weights, size_t n, const struct pias_policy *policy,
		    struct pias_err *e);
/*
 * Group ta's set as the dataplane picks from it: the header into hdr, and
 * the first cap entries in pick order with their running sums into ids
 * and cum (any of the three NULL: not wanted). -ENOENT: no set;
 * -EAGAIN: it was replaced while read.
 */
int pias_tset_read(struct pias_maps *m, const struct pias_ta *ta, struct pias_tset *hdr, __u32 *ids,
		   __u32 *cum, size_t cap, struct pias_err *e);
int pias_tgtset_del(struct pias_maps *m, const struct pias_ta *ta, struct pias_err *e);

/*
 * A set as the dataplane will hold it, computed and not written: its n
 * entries in pick order (a scoped set ordered by prefix: addrs[i], the
 * address of ids[i], is needed then and only then) with their running
 * sums (include/pias/pick.h, pias_pick_sums), and a scoped set's prefixes
 * with their ranges of entries. What pias_tset_write writes; a simulator
 * can pick from it with include/pias/pick.h.
 */
struct pias_tset_built {
	__u32 *ids;
	__u32 *cum;
	__u32 n;
	__u32 total;
	union pias_addr *prefixes; /* scoped: nranges of them, in order */
	struct pias_tset_range *ranges;
	__u32 nranges;
};
int pias_tset_build(const __u32 *ids, const __u32 *weights, const union pias_addr *addrs, size_t n,
		    const struct pias_policy *policy, struct pias_tset_built *out,
		    struct pias_err *e);
void pias_tset_built_free(struct pias_tset_built *b);

/*
 * A set of ids alone, as the operator's `targets set` (pias-maps) and the
 * BPF tests give it: each target's weight is what pias_targets holds for
 * it now (one lookup each). piasd gives pias_tset_write the weights its
 * registry holds (daemon/jap.h, pias_jap_set_read).
 */
int pias_tgtset_set(struct pias_maps *m, const struct pias_ta *ta, const __u32 *ids, size_t n,
		    struct pias_err *e);
/* The same with the group's selection policy (NULL: weighted). */
int pias_tgtset_set_policy(struct pias_maps *m, const struct pias_ta *ta, const __u32 *ids,
			   size_t n, const struct pias_policy *policy, struct pias_err *e);

/* --- group slots (lib/map_slot.c) ----------------------------------------- */

/*
 * The slot of group ta's counters, taken (its counters zeroed) if it has
 * none. 0 when every slot is taken: the group's packets go uncounted, and
 * nothing else changes. The writers of bindings, RAP groups and target
 * sets call it; so does nothing else.
 */
__u16 pias_group_slot_take(struct pias_maps *m, const struct pias_ta *ta);
/* Gives ta's slot back if no binding, RAP group or target set holds ta now. */
void pias_group_slot_release(struct pias_maps *m, const struct pias_ta *ta);
/* ta's slot, or 0 if it has none. */
__u16 pias_group_slot_of(struct pias_maps *m, const struct pias_ta *ta);
/* Zeroes the slot's counts on every CPU (slot_take does it for a new group). */
void pias_group_counts_zero(struct pias_maps *m, __u32 slot);

/* --- counters (summed over CPUs) ---------------------------------------- */

int pias_stats_read(struct pias_maps *m, struct pias_stats *st, struct pias_drops *dr,
		    struct pias_err *e);

/* Called per group / per target with a non-zero counter; non-zero return stops. */
typedef int (*pias_group_stats_fn)(const struct pias_ta *ta, const struct pias_group_stats *s,
				   void *arg);
typedef int (*pias_target_stats_fn)(__u32 id, const struct pias_target_stats *s, void *arg);

int pias_group_stats_each(struct pias_maps *m, pias_group_stats_fn fn, void *arg,
			  struct pias_err *e);
/* Group ta's counters; -ENOENT if it has no slot. */
int pias_group_stats_get(struct pias_maps *m, const struct pias_ta *ta, struct pias_group_stats *s,
			 struct pias_err *e);
/* last_reply_ns is the latest over CPUs, the other fields are sums. */
int pias_target_stats_get(struct pias_maps *m, __u32 id, struct pias_target_stats *s,
			  struct pias_err *e);
int pias_target_stats_each(struct pias_maps *m, pias_target_stats_fn fn, void *arg,
			   struct pias_err *e);

#endif
