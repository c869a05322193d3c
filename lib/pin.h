/* SPDX-License-Identifier: MIT */
/*
 * The pin root: the bpffs directory under which the dataplane's maps are
 * pinned by name (PIAS_PIN_ROOT_DEFAULT unless --pin-root says otherwise).
 * Tools find the maps there; the loader creates it.
 */
#ifndef PIAS_LIB_PIN_H
#define PIAS_LIB_PIN_H

#include <stddef.h>

#include "err.h"

#define PIAS_BPFFS_DEFAULT "/sys/fs/bpf"

/* The hint every "map not found" message ends with. */
#define PIAS_HINT_ATTACH "is the dataplane attached? piasd-loader attach --dev IFACE --pin-root"

/* 0 if path, or its nearest existing parent, is on a BPF filesystem. */
int pias_bpffs_check(const char *path, struct pias_err *e);

/*
 * Make root usable for pinning: if it lies under /sys/fs/bpf and that is not
 * bpffs yet, mount it (root only; otherwise say how), then create root.
 * *mounted (may be NULL) tells whether this call mounted bpffs.
 */
int pias_pin_root_prepare(const char *root, int *mounted, struct pias_err *e);

/* root/name into buf; -ENAMETOOLONG if it does not fit. */
int pias_pin_path(const char *root, const char *name, char *buf, size_t len);

/* fd of the map pinned as root/name, or -errno with a message naming the fix. */
int pias_pin_open(const char *root, const char *name, struct pias_err *e);

/* Remove root/name if it exists (0 if it did not). */
int pias_pin_unlink(const char *root, const char *name, struct pias_err *e);

/* Remove root itself; fails (-ENOTEMPTY) if something else is pinned in it. */
int pias_pin_root_remove(const char *root, struct pias_err *e);

/*
 * Serialise loaders working on one pin root (two attaches at once would
 * both create the maps and one pin would fail). Returns an fd to close to
 * unlock, or -errno.
 */
int pias_pin_root_lock(const char *root, struct pias_err *e);

#endif
