/* SPDX-License-Identifier: MIT */
/*
 * pias-bench's map-write rows: piasd's writes of many targets, groups and
 * bindings one bpf() call each against the batched writers (lib/maps.h
 * *_many), side by side on the same maps (issue 13, point 6).
 */
#ifndef PIAS_BENCH_MAP_WRITES_H
#define PIAS_BENCH_MAP_WRITES_H

#include "maps.h"

/* Prints the table; n entries per run, median of runs. 0, or -1 if a write failed. */
int bench_map_writes(struct pias_maps *m, unsigned int n, unsigned int runs);

#endif
