// SPDX-License-Identifier: MIT
/*
 * Many map writes at once, as piasd makes them when a JAP loses its
 * targets (targets DOWN), a RAP takes over groups, or an IAP installs
 * many bindings: each kind written n times one entry at a time (the
 * writers piasd used before), then in one batch (its map queue's), on the
 * benchmark's own unpinned maps. ns per entry, median of the runs; the
 * ratio is single / batched in the same run.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "map_writes.h"

struct writes {
	__u32 *ids;
	struct pias_target *targets;
	struct pias_ta *tas;
	struct pias_group *groups;
	struct pias_binding *bindings;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void fill(struct writes *w, unsigned int n)
{
	for (__u32 i = 0; i < n; i++) {
		struct pias_target *t = &w->targets[i];
		struct pias_ta *ta = &w->tas[i];

		w->ids[i] = i + 1;
		*t = (struct pias_target){
			.family = PIAS_AF_INET, .port = 80, .state = PIAS_TARGET_DOWN, .weight = 1
		};
		t->addr.v4 = htonl(0xc6336400u + i % 250); /* 198.51.100.x */
		*ta = (struct pias_ta){ .family = PIAS_AF_INET,
					.proto = PIAS_PROTO_UDP,
					.port = (__u16)(1000 + i / 200) };
		ta->addr.v4 = htonl(0xcb007100u + i % 200); /* 203.0.113.x */
		w->groups[i] = (struct pias_group){ .count = 1 };
		w->groups[i].japs[0] = (struct pias_group_jap){ .jap_id = 2, .weight = 1 };
		w->bindings[i] = (struct pias_binding){ .jap_id = 2, .generation = i };
	}
}

enum row {
	TARGETS,
	GROUPS,
	BINDINGS,
	NROWS
};
static const char *const row_names[NROWS] = { "targets_put", "groups_put", "bindings_put" };

/* One run of row r, single or batched: ns per entry, or < 0 on a failed write. */
static double run(struct pias_maps *m, struct writes *w, unsigned int n, enum row r, bool batch)
{
	struct pias_err e;
	double t0 = now_ns();
	int err = 0;

	for (unsigned int i = 0; i < (batch ? 1 : n) && !err; i++) {
		switch (r) {
		case TARGETS:
			err = batch ? pias_targets_set_many(m, w->ids, w->targets, n, &e)
				    : pias_target_set(m, w->ids[i], &w->targets[i], &e);
			break;
		case GROUPS:
			err = batch ? pias_groups_put_many(m, w->tas, w->groups, n, &e)
				    : pias_group_put(m, &w->tas[i], &w->groups[i], &e);
			break;
		case BINDINGS:
			err = batch ? pias_bindings_put_many(m, w->tas, w->bindings, NULL, n, &e)
				    : pias_binding_put(m, &w->tas[i], &w->bindings[i], NULL, &e);
			break;
		case NROWS:
			break;
		}
	}
	double t = (now_ns() - t0) / n;

	if (err) {
		fprintf(stderr, "pias-bench: %s: %s\n", row_names[r], e.msg);
		return -1;
	}
	/* gone again, so that each run writes new entries (slots taken anew) */
	if (r == GROUPS)
		pias_groups_del_many(m, w->tas, n);
	if (r == BINDINGS)
		pias_bindings_del_many(m, w->tas, n);
	return t;
}

int bench_map_writes(struct pias_maps *m, unsigned int n, unsigned int runs)
{
	struct writes w = {
		.ids = calloc(n, sizeof(*w.ids)),
		.targets = calloc(n, sizeof(*w.targets)),
		.tas = calloc(n, sizeof(*w.tas)),
		.groups = calloc(n, sizeof(*w.groups)),
		.bindings = calloc(n, sizeof(*w.bindings)),
	};
	double *t = calloc(runs, sizeof(*t));
	int rc = 0;

	if (!w.ids || !w.targets || !w.tas || !w.groups || !w.bindings || !t) {
		rc = -1;
		goto out;
	}
	fill(&w, n);
	printf("\nmap writes, %u entries a run, median of %u runs (ns per entry):\n", n, runs);
	printf("%-14s %10s %10s %8s\n", "op", "single", "batched", "ratio");
	for (int r = 0; r < NROWS && !rc; r++) {
		double med[2];

		for (int batch = 0; batch < 2 && !rc; batch++) {
			for (unsigned int k = 0; k < runs && !rc; k++) {
				t[k] = run(m, &w, n, (enum row)r, batch);
				rc = t[k] < 0 ? -1 : 0;
			}
			qsort(t, runs, sizeof(*t), cmp);
			med[batch] = t[runs / 2];
		}
		if (!rc)
			printf("%-14s %10.0f %10.0f %7.2fx\n", row_names[r], med[0], med[1],
			       med[0] / med[1]);
	}
	/* the targets written back to unused: the scenarios' own come after */
	if (!rc)
		rc = pias_targets_del_many(m, w.ids, n, NULL) ? -1 : 0;
out:
	free(w.ids);
	free(w.targets);
	free(w.tas);
	free(w.groups);
	free(w.bindings);
	free(t);
	return rc;
}
