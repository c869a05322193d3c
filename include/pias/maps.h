/* SPDX-License-Identifier: MIT */
/*
 * Values of the dataplane's maps, their sizes, and the map list
 * (PIAS_MAP_LIST, at the end): the BPF declarations (bpf/lib/maps.h), the
 * user-space index and descriptors (lib/maps.h, lib/maps.c) and the
 * loader's checks of a pin all come from it.
 */
#ifndef PIAS_MAPS_H
#define PIAS_MAPS_H

#include "addr.h"
#include "conntrack.h"
#include "counters.h"
#include "events.h"
#include "policy.h"
#include "tunnel.h"

#define PIAS_PIN_ROOT_DEFAULT "/sys/fs/bpf/pias"

/* Sizes. Proxy and target ids index arrays, so they are bounded by these. */
#define PIAS_MAX_PROXIES 131072 /* proxy ids 1..131071 */
#define PIAS_MAX_TARGETS                                                                           \
	131072 /* target ids 1..131071, per JAP: 100,000 live and ids to go round */
#define PIAS_RAP_SLOTS	    1048576 /* 2^20: consistent-hash table, power of two */
#define PIAS_RAP_REPLICAS   4	    /* RAPs kept per slot, first live one used */
#define PIAS_GROUP_MAX_JAPS 16	    /* JAPs a RAP keeps per group */
/*
 * Targets the JAP registry keeps per group, and the size of its action's
 * set (struct pias_target_set below); the dataplane's own limit is
 * PIAS_TSET_MAX.
 */
#define PIAS_SET_MAX_TARGETS 32
#define PIAS_MAX_PREFIXES    1024
#define PIAS_MAX_BINDINGS    262144
/*
 * The flow table's and the connection tables' sizes are defaults, for a
 * small proxy: piasd-loader attach --flows N --conns N sets them when it
 * first pins the maps (docs/design.md, "Sizing a proxy").
 */
#define PIAS_DEFAULT_FLOWS 262144
#define PIAS_MAX_GROUPS	   65536
/*
 * Group slots: each group this proxy holds in a role (an IAP binding, a
 * RAP group, a JAP target set) has a slot, 1..PIAS_MAX_GROUPS - 1, that
 * indexes its counters; 0 is no slot (nothing counted). The library takes
 * a slot when a role's entry is written and gives it back when the last
 * one goes (lib/map_slot.c); flow and connection entries copy their
 * group's slot, so that no packet looks its counters up by TA.
 */
#define PIAS_GROUP_SLOTS   PIAS_MAX_GROUPS
#define PIAS_DEFAULT_CONNS 262144 /* each direction */
#define PIAS_EVENTS_BYTES  (256 * 1024)
/* Rate-limiter entries: (type, TA, peer); twice the groups, so that a busy
 * proxy's limiter does not forget groups and flood the ring buffer. */
#define PIAS_EVENT_LIMIT_ENTRIES (2 * PIAS_MAX_GROUPS)

/* pias_config: ARRAY, one entry, written by the daemon or piasd-loader. */
struct pias_config {
	__u32 self_id;	    /* this proxy's id; 0: not configured, pass all */
	__u16 tunnel_port;  /* UDP port of the tunnel (host order) */
	__u16 underlay_mtu; /* largest outer IP packet the underlay carries */
	__u16 tcp_mss4;	    /* MSS clamp for TCP over IPv4 clients, 0: off */
	__u16 tcp_mss6;	    /* MSS clamp for TCP over IPv6 clients, 0: off */
	__u16 nat_port_min; /* JAP source ports towards targets */
	__u16 nat_port_max;
	__u32 event_interval_ms; /* at most one event per (kind, TA, peer) per interval */
	__u32 icmp_rate;	 /* ICMP errors per second per CPU */
	__u32 binding_ttl_hint;	 /* seconds; informational for the daemon */
	__u32 flags;		 /* PIAS_CFG_F_* */
	union pias_addr self4;	 /* tunnel endpoint, IPv4 (0: none) */
	union pias_addr self6;	 /* tunnel endpoint, IPv6 (0: none) */
	union pias_addr nat4; /* JAP source address towards IPv4 targets: the first of the pool */
	union pias_addr nat6; /* JAP source address towards IPv6 targets: the first of the pool */
	/*
	 * NAT pools: nat4 and the next nat4_count - 1 addresses (the last
	 * 32 bits counted up), the same for nat6; 0 counts as 1.
	 */
	__u16 nat4_count;
	__u16 nat6_count;
	__u32 pad;
	struct pias_ct_timeouts ct; /* connection and flow entry timeouts */
};

/*
 * pias_config.flags. AFFINITY: a JAP's mid-stream TCP segment with no
 * connection emits CONN_MISS, so that piasd asks the group's other JAPs.
 */
#define PIAS_CFG_F_AFFINITY 0x1

/* Defaults for pias_config fields that have one. */
#define PIAS_DEFAULT_UNDERLAY_MTU      1500
#define PIAS_DEFAULT_NAT_PORT_MIN      16384
#define PIAS_DEFAULT_NAT_PORT_MAX      32767
#define PIAS_DEFAULT_EVENT_INTERVAL_MS 100
#define PIAS_DEFAULT_ICMP_RATE	       1000
#define PIAS_NAT_POOL_MAX	       256 /* addresses per family */

/* pias_prefix4 / pias_prefix6: LPM, value says what the prefix is. */
struct pias_prefix {
	__u32 flags; /* reserved, 0 */
};

/*
 * pias_anycast: ARRAY, one entry: the anycast prefixes of pias_prefix4/6
 * again, as masks, while a family has at most PIAS_ANYCAST_INLINE of them:
 * a handful of compares tell a client's packet where an LPM lookup cost
 * 18 ns (make bench). The library's prefix writers rebuild it from the
 * LPM maps after every change; a family with more prefixes says
 * PIAS_ANYCAST_MANY and the dataplane asks its LPM map.
 */
#define PIAS_ANYCAST_INLINE 8
#define PIAS_ANYCAST_MANY   0xffffffffu

struct pias_anycast {
	__u32 n4; /* used entries of v4[], or PIAS_ANYCAST_MANY */
	__u32 n6;
	struct {
		__be32 addr; /* masked */
		__be32 mask;
	} v4[PIAS_ANYCAST_INLINE];
	struct {
		__be32 addr[4];
		__be32 mask[4];
	} v6[PIAS_ANYCAST_INLINE];
};

/* pias_proxies: ARRAY indexed by proxy id. */
enum pias_proxy_state {
	PIAS_PROXY_UNKNOWN = 0,
	PIAS_PROXY_UP = 1,
	PIAS_PROXY_DOWN = 2,
	/*
	 * Its piasd is gone (membership: dead or left) but its dataplane
	 * answers echoes: flows already pinned to it go on, nothing new goes
	 * there (no binding, no RAP relay, not a RAP).
	 */
	PIAS_PROXY_DP_ONLY = 3,
};

struct pias_proxy {
	union pias_addr addr; /* unicast tunnel endpoint */
	__u8 family;	      /* PIAS_AF_* of addr */
	__u8 state;	      /* enum pias_proxy_state */
	__u16 pad;
	__u32 pad2;
	__u64 tx_tag; /* the tag on our packets to it (send key); aligned: written whole */
};

/*
 * pias_proxy_addr: HASH pias_addr_key -> ref; who may send us tunnel
 * packets, and the tags we accept from it, one per key of our ring.
 */
struct pias_proxy_ref {
	__u32 id;
	__u32 n_rx; /* tags in rx, at most PIAS_TUN_RX_TAGS */
	__u64 rx_tag[PIAS_TUN_RX_TAGS];
};

/*
 * pias_rap_table: ARRAY of PIAS_RAP_SLOTS; slot = pias_ta_hash(ta) & (SLOTS-1).
 * Mapped (BPF_F_MMAPABLE): the daemon writes the slots a ring change moved
 * with plain stores, no syscall per slot or batch (a small overlay changes
 * most of the 2^20 slots at once: half a second as a bpf() batch, which
 * stalled piasd's loop, against milliseconds). The kernel's own update copies a value without a
 * lock too: a packet may read a slot half written, and then goes to its old
 * or its new RAP.
 */
struct pias_rap_slot {
	__u32 rap[PIAS_RAP_REPLICAS]; /* proxy ids in preference order, 0: end */
};

/* pias_bindings: HASH pias_ta -> binding (IAP). */
#define PIAS_BINDING_F_NEGATIVE 0x1 /* the TA has no group: drop */
/*
 * The TA is a service of this proxy's own stack (piasd's registration
 * service on the anycast registration address): pass it up, no tunnel.
 */
#define PIAS_BINDING_F_LOCAL 0x2
/*
 * The RAP bound this IAP to several JAPs (a random group, a JAP whose
 * share is dialled or shed): they are in pias_bind_sets[ta], and each new
 * flow draws one; jap_id is the one with the largest share.
 */
#define PIAS_BINDING_F_SET 0x4

struct pias_binding {
	__u32 jap_id;
	__u32 generation; /* from the RAP; echoed in invalidations */
	__u64 expires_ns; /* bpf_ktime_get_ns() deadline; 0: no expiry */
	__u32 flags;	  /* PIAS_BINDING_F_* */
	__u16 slot;	  /* the group's counters (PIAS_GROUP_SLOTS) */
	__u16 pad;
};

/* pias_flows: LRU_HASH pias_flow -> flow entry (IAP); ends as conntrack.h says. */
struct pias_flow_entry {
	__u32 jap_id;
	__u32 generation;
	__u16 tun_sport; /* outer UDP source port, from the flow hash (cached) */
	__u8 ct;	 /* PIAS_CT_*: what the client sent */
	__u8 pad;
	__u16 slot; /* the group's counters, from the binding */
	__u16 pad2;
	__u64 last_ns;	  /* CLOCK_MONOTONIC_COARSE of the last packet (PIAS_CT_TOUCH_NS) */
	__u64 created_ns; /* of the first: a UDP flow still going 2 s later is a stream */
};

/* pias_groups: HASH pias_ta -> JAPs and weights (RAP). */
struct pias_group_jap {
	__u32 jap_id;
	__u32 weight; /* approximate target count; 0: skip */
};

/*
 * A scoped group's prefixes (policy.scope_len long, host bits zero): each
 * with the JAPs (bit i: japs[i]) that have a target in it, so that a
 * client's flow goes to a JAP with a target in its prefix.
 */
#define PIAS_GROUP_SCOPES 8

struct pias_group_scope {
	union pias_addr prefix;
	__u32 japs;
};

struct pias_group {
	__u32 count; /* used entries of japs[] */
	__u16 slot;  /* the group's counters */
	__u16 pad;
	struct pias_policy policy; /* the group owner's, as its JAPs report it */
	__u32 nscopes;		   /* used entries of scopes[] (scoped groups) */
	struct pias_group_jap japs[PIAS_GROUP_MAX_JAPS];
	struct pias_group_scope scopes[PIAS_GROUP_SCOPES];
};

/*
 * pias_bind_sets: HASH pias_ta -> pias_group (IAP): the JAPs and shares of
 * a binding with PIAS_BINDING_F_SET. Not preallocated: most bindings name
 * one JAP and need no entry here.
 */

/*
 * A JAP's target sets (docs/design.md, "A JAP's target sets"): each
 * group's targets in pick order with the running sum of their weights,
 * so that a new flow's target is a binary search, O(log n), not a walk.
 *
 * pias_tgt_sets: HASH pias_ta -> header. A set of at most
 * PIAS_TSET_INLINE targets is all in its header (one lookup); a larger one
 * is cut into chunks of PIAS_TSET_CHUNK entries in pias_tgt_chunks, and the
 * header holds each chunk's last running sum, which the search goes down
 * first. Chunks and scope ranges are keyed by the header's generation: a
 * writer puts the new ones under a new generation, then replaces the
 * header (the flip), then deletes the old ones, so that a header only ever
 * names complete chunks (lib/map_tset.c).
 */
#define PIAS_TSET_INLINE 32
/*
 * 500: a chunk's hash element (value, key, the kernel's element header
 * and allocator link) then fits a 4 KiB allocation; 512 would take 8 KiB.
 */
#define PIAS_TSET_CHUNK 500
#define PIAS_TSET_MAX	(PIAS_TSET_INLINE * PIAS_TSET_CHUNK) /* 16,000 targets per set */
/*
 * Chunks held at once, at most: a JAP's 65,535 target ids in sets of 33
 * (the smallest that has a chunk) take 1,986, a set being rewritten 32
 * more.
 */
#define PIAS_TSET_CHUNKS 4096
/* Scope ranges held at once: one per target, twice (a set rewritten). */
#define PIAS_TSET_SCOPES (2 * PIAS_MAX_TARGETS)

struct pias_tset {
	__u32 count;		   /* targets, 1..PIAS_TSET_MAX */
	__u16 slot;		   /* the group's counters */
	__u16 nchunks;		   /* 0: inline (count <= PIAS_TSET_INLINE) */
	struct pias_policy policy; /* the group owner's (policy.h) */
	__u32 gen;		   /* generation of the chunks and scope ranges it names */
	__u32 total;		   /* the weights' sum: the last running sum */
	__u32 pad;
	/*
	 * Inline: the targets and their running sums (cum[i]: the weights of
	 * ids[0..i]). Chunked: ids unused (0), cum[c] the running sum at the
	 * end of chunk c.
	 */
	__u32 ids[PIAS_TSET_INLINE];
	__u32 cum[PIAS_TSET_INLINE];
};

/* pias_tgt_chunks: HASH (TA, generation, chunk number) -> PIAS_TSET_CHUNK entries. */
struct pias_tset_chunk_key {
	struct pias_ta ta;
	__u32 gen;
	__u32 chunk;
};

struct pias_tset_chunk {
	__u32 gen; /* its key's again: a chunk whose element was reused says so */
	__u32 n;   /* entries used: PIAS_TSET_CHUNK but in the last chunk */
	__u32 ids[PIAS_TSET_CHUNK];
	__u32 cum[PIAS_TSET_CHUNK]; /* running sums over the whole set */
};

/*
 * pias_tgt_scopes: HASH (TA, generation, prefix) -> range (scoped sets).
 * A scoped set's targets are in address order, so that those of one
 * prefix (policy.scope_len bits) are one run of entries: the client's
 * prefix finds its run with one lookup.
 */
struct pias_tset_scope_key {
	struct pias_ta ta;
	__u32 gen;
	union pias_addr prefix; /* host bits zero */
};

/* Entries [lo, hi) of a set, and the running sums before lo and at hi - 1. */
struct pias_tset_range {
	__u32 lo;
	__u32 hi;
	__u32 cum_lo;
	__u32 cum_hi;
};

/*
 * A set as the JAP registry hands it over (PIAS_JAP_SET_SET) and
 * pias_tgtset_set_policy takes it: ids only, weights from pias_targets.
 * Not a map value.
 */
struct pias_target_set {
	__u16 count;
	__u16 slot;
	struct pias_policy policy;
	__u32 ids[PIAS_SET_MAX_TARGETS];
};

/* pias_targets: ARRAY indexed by target id (JAP). */
enum pias_target_state {
	PIAS_TARGET_UNUSED = 0,
	PIAS_TARGET_ACTIVE = 1,
	PIAS_TARGET_DRAINING = 2, /* keeps its flows, gets no new ones */
	PIAS_TARGET_DOWN = 3,	  /* gets nothing; its flows move */
};

/*
 * The target de-tunnels (target.h): it gets the client's own packet in a
 * kind 5 tunnel packet and wraps its replies as kind 6; no NAT port.
 */
#define PIAS_TARGET_F_TUNNEL 0x1

struct pias_target {
	union pias_addr addr;
	__u16 port;   /* host order; tunnel mode: unused (the TA's port) */
	__u8 family;  /* PIAS_AF_* */
	__u8 state;   /* enum pias_target_state */
	__u32 weight; /* relative share of new flows */
	__u32 flags;  /* PIAS_TARGET_F_* */
	__u32 pad;
	__u64 tag; /* tunnel mode: on our kind 5 packets to it, required on its kind 6 */
};

/*
 * pias_conns: LRU_HASH client-side pias_flow -> connection (JAP). The
 * connection's state (conntrack.h) lives here; the client's packets keep
 * last_ns, the target's keep the reverse entry's.
 */
struct pias_conn {
	__u32 target_id;
	__u16 nat_port;	 /* host order; 0: a tunnel-mode target's (no NAT, no reverse entry) */
	__u16 nat_index; /* which address of the family's NAT pool */
	__u32 iap_id;
	__u8 ct; /* PIAS_CT_*, both directions */
	__u8 pad;
	__u16 slot;    /* the group's counters, from the target set */
	__u64 last_ns; /* CLOCK_MONOTONIC_COARSE of the client's last packet (tunnel: either side's) */
	__u64 created_ns; /* of its first: a UDP flow still going 2 s later is a stream */
};

/* pias_conns_rev: LRU_HASH target-side pias_flow -> client side (JAP). */
struct pias_conn_rev {
	struct pias_flow client; /* the client's flow as it arrived at the IAP */
	__u32 target_id;
	__u8 ct; /* PIAS_CT_* the target's packets set (copied into the conn) */
	__u8 pad;
	__u16 slot;    /* the group's counters, as the connection's */
	__u64 last_ns; /* CLOCK_MONOTONIC_COARSE of the target's last packet */
};

/*
 * pias_nh_cache: PERCPU_ARRAY of PIAS_NH_SLOTS, direct-mapped by a hash of
 * the destination: what bpf_fib_lookup answered for a destination, kept
 * for PIAS_NH_TTL_MS on each CPU, so that a busy destination (a JAP, a
 * target) costs one route lookup per CPU per PIAS_NH_TTL_MS instead of one
 * per packet. A route or neighbour that changes is followed within that
 * time. Only successful lookups are kept.
 */
#define PIAS_NH_SLOTS  1024 /* a power of two */
#define PIAS_NH_TTL_MS 50

struct pias_nh_entry {
	union pias_addr dst;
	__u64 expires_ns; /* CLOCK_MONOTONIC_COARSE; 0: empty */
	__u32 ifindex_in; /* the lookup's input: the frame's ingress interface */
	__u32 ifindex_out;
	__u8 dmac[6];
	__u8 smac[6];
	__u8 family;
	__u8 pad[3];
};

/* pias_icmp_rl: PERCPU_ARRAY, one entry: token bucket of ICMP errors. */
struct pias_rate_limit {
	__u64 last_ns;
	__u64 tokens;
};

/*
 * Group counters: a plain array striped by CPU, each CPU's stripe one run of
 * PIAS_GROUP_SLOTS counts per role. A packet finds its count by arithmetic,
 * one cache line: a per-CPU array would first read its table of per-CPU
 * pointers, a second cache miss for a packet of a cold group, and with 16
 * bytes per role four groups share a line, not one. At 64k groups that took
 * the IAP flow hit from 1.42 to 1.05 times its one-group cost (make bench).
 * The list gives the entries of one stripe; loaders create the map with one
 * stripe per possible CPU (pias_maps_size_object), and readers map it
 * (BPF_F_MMAPABLE) to sum a group's counts without a syscall per CPU.
 */
#define PIAS_GROUP_COUNTS_PER_CPU (PIAS_ROLES * PIAS_GROUP_SLOTS)
#define PIAS_GROUP_COUNT_KEY(cpu, role, slot)                                                      \
	((__u32)(cpu)*PIAS_GROUP_COUNTS_PER_CPU + (__u32)(role)*PIAS_GROUP_SLOTS + (__u32)(slot))

/*
 * The map list, once: X(IDX, name, TYPE, key type, value type, max_entries,
 * map_flags) per map, TYPE the BPF_MAP_TYPE_ suffix; the name is the BPF
 * map's and its pin's (at most 15 characters). The ring buffer has no key
 * or value: PIAS_RINGBUF_LIST, R(IDX, name, bytes). docs/design.md says
 * why each map is of its kind.
 */
#define PIAS_MAP_LIST(X)                                                                           \
	X(CONFIG, pias_config, ARRAY, __u32, struct pias_config, 1, 0)                             \
	X(PREFIX4, pias_prefix4, LPM_TRIE, struct pias_prefix4_key, struct pias_prefix,            \
	  PIAS_MAX_PREFIXES, BPF_F_NO_PREALLOC)                                                    \
	X(PREFIX6, pias_prefix6, LPM_TRIE, struct pias_prefix6_key, struct pias_prefix,            \
	  PIAS_MAX_PREFIXES, BPF_F_NO_PREALLOC)                                                    \
	X(ANYCAST, pias_anycast, ARRAY, __u32, struct pias_anycast, 1, 0)                          \
	X(PROXIES, pias_proxies, ARRAY, __u32, struct pias_proxy, PIAS_MAX_PROXIES, 0)             \
	X(PROXY_ADDRS, pias_proxy_addr, HASH, struct pias_addr_key, struct pias_proxy_ref,         \
	  PIAS_MAX_PROXIES, 0)                                                                     \
	X(RAP_TABLE, pias_rap_table, ARRAY, __u32, struct pias_rap_slot, PIAS_RAP_SLOTS,           \
	  BPF_F_MMAPABLE)                                                                          \
	X(BINDINGS, pias_bindings, HASH, struct pias_ta, struct pias_binding, PIAS_MAX_BINDINGS,   \
	  0)                                                                                       \
	/* shared, not per-CPU: a flow's packets do not always arrive on one CPU */                \
	X(FLOWS, pias_flows, LRU_HASH, struct pias_flow, struct pias_flow_entry,                   \
	  PIAS_DEFAULT_FLOWS, 0)                                                                   \
	X(GROUPS, pias_groups, HASH, struct pias_ta, struct pias_group, PIAS_MAX_GROUPS,           \
	  BPF_F_NO_PREALLOC)                                                                       \
	X(BIND_SETS, pias_bind_sets, HASH, struct pias_ta, struct pias_group, PIAS_MAX_BINDINGS,   \
	  BPF_F_NO_PREALLOC)                                                                       \
	/* not preallocated: 64k headers of 280 bytes, held whether or not groups exist */         \
	X(TARGET_SETS, pias_tgt_sets, HASH, struct pias_ta, struct pias_tset, PIAS_MAX_GROUPS,     \
	  BPF_F_NO_PREALLOC)                                                                       \
	X(TSET_CHUNKS, pias_tgt_chunks, HASH, struct pias_tset_chunk_key, struct pias_tset_chunk,  \
	  PIAS_TSET_CHUNKS, BPF_F_NO_PREALLOC)                                                     \
	X(TSET_SCOPES, pias_tgt_scopes, HASH, struct pias_tset_scope_key, struct pias_tset_range,  \
	  PIAS_TSET_SCOPES, BPF_F_NO_PREALLOC)                                                     \
	X(TARGETS, pias_targets, ARRAY, __u32, struct pias_target, PIAS_MAX_TARGETS, 0)            \
	X(CONNS, pias_conns, LRU_HASH, struct pias_flow, struct pias_conn, PIAS_DEFAULT_CONNS, 0)  \
	X(CONNS_REV, pias_conns_rev, LRU_HASH, struct pias_flow, struct pias_conn_rev,             \
	  PIAS_DEFAULT_CONNS, 0)                                                                   \
	X(STATS, pias_stats, PERCPU_ARRAY, __u32, struct pias_stats, 1, 0)                         \
	X(DROPS, pias_drops, PERCPU_ARRAY, __u32, struct pias_drops, 1, 0)                         \
	X(GROUP_COUNTS, pias_grp_count, ARRAY, __u32, struct pias_count,                           \
	  PIAS_GROUP_COUNTS_PER_CPU, BPF_F_MMAPABLE)                                               \
	X(GROUP_SLOTS, pias_grp_slots, HASH, struct pias_ta, __u32, PIAS_GROUP_SLOTS, 0)           \
	X(GROUP_NAMES, pias_grp_names, ARRAY, __u32, struct pias_ta, PIAS_GROUP_SLOTS, 0)          \
	X(TARGET_STATS, pias_tgt_stats, PERCPU_ARRAY, __u32, struct pias_target_stats,             \
	  PIAS_MAX_TARGETS, 0)                                                                     \
	X(EVENT_LIMIT, pias_ev_limit, LRU_HASH, struct pias_event_key, __u64,                      \
	  PIAS_EVENT_LIMIT_ENTRIES, 0)                                                             \
	X(ICMP_LIMIT, pias_icmp_rl, PERCPU_ARRAY, __u32, struct pias_rate_limit, 1, 0)             \
	X(NH_CACHE, pias_nh_cache, PERCPU_ARRAY, __u32, struct pias_nh_entry, PIAS_NH_SLOTS, 0)

#define PIAS_RINGBUF_LIST(R) R(EVENTS, pias_events, PIAS_EVENTS_BYTES)

#endif
