/* SPDX-License-Identifier: MIT */
/*
 * Names and explanations of the dataplane's counters, generated from the
 * X-macros in include/pias/counters.h so that adding a counter there is the
 * only change needed for tools to print it.
 */
#ifndef PIAS_LIB_COUNTERS_H
#define PIAS_LIB_COUNTERS_H

#include <stdbool.h>
#include <stdio.h>

#include <pias/counters.h>

struct pias_counter_info {
	const char *name;
	const char *desc;
};

extern const struct pias_counter_info pias_stat_info[PIAS_STAT_MAX];
extern const struct pias_counter_info pias_drop_info[PIAS_DROP_MAX];

/* Index of the counter called name in table (n entries), or -1. */
int pias_counter_find(const struct pias_counter_info *table, int n, const char *name);

/*
 * Print totals: as text, one "name value  # explanation" line per non-zero
 * counter under a "stats:"/"drops:" heading; as JSON, every counter, in one
 * object {"stats":{...},"drops":{...}} (scripts need not test for absence).
 */
void pias_counters_print(FILE *f, const struct pias_stats *st, const struct pias_drops *dr,
			 bool json);

/* Just the two members "stats":{...},"drops":{...}, for a larger JSON object. */
void pias_counters_print_json_members(FILE *f, const struct pias_stats *st,
				      const struct pias_drops *dr);

#endif
