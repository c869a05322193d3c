/* SPDX-License-Identifier: MIT */
/*
 * The dataplane's maps, declared for libbpf from the one map list
 * (PIAS_MAP_LIST in include/pias/maps.h). Every map is pinned by name under
 * the pin root the loader chooses, so a replaced program finds the same
 * state.
 */
#ifndef PIAS_BPF_MAPS_H
#define PIAS_BPF_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <pias/maps.h>

#define PIAS_BPF_MAP(idx, nm, ty, kt, vt, max, fl)                                                 \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_##ty);                                                   \
		__uint(max_entries, max);                                                          \
		__uint(map_flags, fl);                                                             \
		__type(key, kt);                                                                   \
		__type(value, vt);                                                                 \
		__uint(pinning, LIBBPF_PIN_BY_NAME);                                               \
	} nm SEC(".maps");

#define PIAS_BPF_RINGBUF(idx, nm, bytes)                                                           \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                                \
		__uint(max_entries, bytes);                                                        \
		__uint(pinning, LIBBPF_PIN_BY_NAME);                                               \
	} nm SEC(".maps");

PIAS_MAP_LIST(PIAS_BPF_MAP)
PIAS_RINGBUF_LIST(PIAS_BPF_RINGBUF)

#endif
