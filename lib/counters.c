// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <string.h>

#include "counters.h"

#define X_INFO(name, desc) { #name, desc },

const struct pias_counter_info pias_stat_info[PIAS_STAT_MAX] = { PIAS_STATS(X_INFO) };
const struct pias_counter_info pias_drop_info[PIAS_DROP_MAX] = { PIAS_DROPS(X_INFO) };

int pias_counter_find(const struct pias_counter_info *table, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(table[i].name, name))
			return i;
	return -1;
}

/* The counter structs are arrays of __u64 in X-macro order (see counters.h). */
static void print_text(FILE *f, const char *title, const struct pias_counter_info *info,
		       const __u64 *v, int n)
{
	int shown = 0;

	fprintf(f, "%s:\n", title);
	for (int i = 0; i < n; i++) {
		if (!v[i])
			continue;
		fprintf(f, "  %-20s %14" PRIu64 "  # %s\n", info[i].name, (uint64_t)v[i],
			info[i].desc);
		shown++;
	}
	if (!shown)
		fprintf(f, "  (all zero)\n");
}

static void print_json(FILE *f, const char *title, const struct pias_counter_info *info,
		       const __u64 *v, int n)
{
	fprintf(f, "\"%s\":{", title);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", info[i].name, (uint64_t)v[i]);
	fprintf(f, "}");
}

void pias_counters_print_json_members(FILE *f, const struct pias_stats *st,
				      const struct pias_drops *dr)
{
	print_json(f, "stats", pias_stat_info, (const __u64 *)st, PIAS_STAT_MAX);
	fprintf(f, ",");
	print_json(f, "drops", pias_drop_info, (const __u64 *)dr, PIAS_DROP_MAX);
}

void pias_counters_print(FILE *f, const struct pias_stats *st, const struct pias_drops *dr,
			 bool json)
{
	if (json) {
		fprintf(f, "{");
		pias_counters_print_json_members(f, st, dr);
		fprintf(f, "}\n");
		return;
	}
	print_text(f, "stats", pias_stat_info, (const __u64 *)st, PIAS_STAT_MAX);
	print_text(f, "drops", pias_drop_info, (const __u64 *)dr, PIAS_DROP_MAX);
}
