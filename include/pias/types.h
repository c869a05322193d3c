/* SPDX-License-Identifier: MIT */
/*
 * Integer types for headers shared by BPF programs and user space.
 *
 * BPF objects include vmlinux.h first, which already defines __u8..__u64 and
 * __be16/__be32; user space takes them from the kernel UAPI headers.
 */
#ifndef PIAS_TYPES_H
#define PIAS_TYPES_H

#if defined(__bpf__)
/* types come from vmlinux.h */
#else
#include <linux/types.h>
#endif

#define PIAS_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

#endif
