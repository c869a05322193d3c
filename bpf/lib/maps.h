/* SPDX-License-Identifier: MIT */
/*
 * The dataplane's maps. Types, sizes and names come from include/pias/maps.h;
 * this file only declares them for libbpf. Every map is pinned by name under
 * the pin root the loader chooses, so a replaced program finds the same state.
 */
#ifndef PIAS_BPF_MAPS_H
#define PIAS_BPF_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <pias/maps.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pias_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PIAS_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pias_prefix4_key);
	__type(value, struct pias_prefix);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_prefix4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PIAS_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pias_prefix6_key);
	__type(value, struct pias_prefix);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_prefix6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PIAS_MAX_PROXIES);
	__type(key, __u32);
	__type(value, struct pias_proxy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_proxies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PIAS_MAX_PROXIES);
	__type(key, struct pias_addr_key);
	__type(value, struct pias_proxy_ref);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_proxy_addr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PIAS_RAP_SLOTS);
	__type(key, __u32);
	__type(value, struct pias_rap_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_rap_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PIAS_MAX_BINDINGS);
	__type(key, struct pias_ta);
	__type(value, struct pias_binding);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_bindings SEC(".maps");

/*
 * Shared, not per-CPU: a flow's packets do not always reach the IAP on one
 * CPU (veth delivers on the sender's CPU, a client's process migrates, an
 * RSS table gets rebalanced), and a flow that missed its entry on another
 * CPU would follow the binding of the moment, which may name another JAP.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PIAS_MAX_FLOWS);
	__type(key, struct pias_flow);
	__type(value, struct pias_flow_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PIAS_MAX_GROUPS);
	__type(key, struct pias_ta);
	__type(value, struct pias_group);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PIAS_MAX_GROUPS);
	__type(key, struct pias_ta);
	__type(value, struct pias_target_set);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_tgt_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PIAS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct pias_target);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PIAS_MAX_CONNS);
	__type(key, struct pias_flow);
	__type(value, struct pias_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PIAS_MAX_CONNS);
	__type(key, struct pias_flow);
	__type(value, struct pias_conn_rev);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_conns_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pias_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pias_drops);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_drops SEC(".maps");

/* Indexed by the group's slot (PIAS_GROUP_SLOTS): no lookup by TA per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PIAS_GROUP_SLOTS);
	__type(key, __u32);
	__type(value, struct pias_group_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_grp_stats SEC(".maps");

/* Which group has which slot, both ways: kept by user space, read by none here. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PIAS_GROUP_SLOTS);
	__type(key, struct pias_ta);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_grp_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PIAS_GROUP_SLOTS);
	__type(key, __u32);
	__type(value, struct pias_ta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_grp_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PIAS_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct pias_target_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_tgt_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PIAS_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PIAS_EVENT_LIMIT_ENTRIES);
	__type(key, struct pias_event_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_ev_limit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pias_rate_limit);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_icmp_rl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PIAS_NH_SLOTS);
	__type(key, __u32);
	__type(value, struct pias_nh_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_nh_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pias_anycast);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pias_anycast SEC(".maps");

#endif
