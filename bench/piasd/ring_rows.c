// SPDX-License-Identifier: MIT
/*
 * piasd-bench's ring rows: the RAP table (2^20 slots) at 1e4 proxies, as
 * the node keeps it (daemon/node_ring.c). Recomputed whole, as at
 * start-up (and, before the incremental updates, after every join or
 * leave); or for one proxy joining or leaving, where only the slots it is
 * in are recomputed. No map is written: maps/op counts the slots piasd
 * would write.
 */
#include <stdlib.h>
#include <string.h>

#include "rows.h"
#include "ring.h"

#define RING_PROXIES 10000

static struct pias_ring ring;
static struct pias_rap_slot *table, *vals;
static struct pias_slot_set *dirty;
static __u32 *changed, ids[RING_PROXIES + 1];
static bool built, newcomer_on;
static size_t marked_next;

/* Distinct ids 1..PIAS_MAX_PROXIES-1, the same every run: a stride coprime to 131071. */
static void make_ids(void)
{
	for (__u32 i = 0; i <= RING_PROXIES; i++)
		ids[i] = 1 + (__u32)((i * 7919ull) % (PIAS_MAX_PROXIES - 1));
}

/* Once for all ring rows: the ring of RING_PROXIES and its table; ids[RING_PROXIES] is off. */
static int ring_setup(void)
{
	struct pias_err e;

	if (built)
		return 0;
	make_ids();
	table = calloc(PIAS_RAP_SLOTS, sizeof(*table));
	vals = calloc(PIAS_RAP_SLOTS, sizeof(*vals));
	changed = calloc(PIAS_RAP_SLOTS, sizeof(*changed));
	dirty = calloc(1, sizeof(*dirty));
	if (!table || !vals || !changed || !dirty) {
		pb_fail("out of memory for the RAP table");
		return -1;
	}
	if (pias_ring_init(&ring, 0, &e) || pias_ring_build(&ring, ids, RING_PROXIES, &e) ||
	    pias_ring_fill_table(&ring, PIAS_RING_DEFAULT_K, table, &e)) {
		pb_fail("ring: %s", e.msg);
		return -1;
	}
	built = true;
	return 0;
}

/* What the node's ring_write does once the slots are marked, the map write aside. */
static size_t refill_apply(void)
{
	struct pias_err e;
	size_t n;

	if (pias_ring_refill(&ring, PIAS_RING_DEFAULT_K, table, dirty, changed, vals, &n, &e)) {
		pb_fail("refill: %s", e.msg);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		table[changed[i]] = vals[i];
	memset(dirty, 0, sizeof(*dirty));
	pb_st.map_writes += n;
	return n;
}

static void run_ring_full(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		pias_slot_set_add_range(dirty, 0, PIAS_RAP_SLOTS);
		/* nothing changed: every slot computed and compared, none written */
		pb_st.ok += refill_apply() == 0;
	}
}

static void run_ring_update(unsigned int n)
{
	const __u32 id = ids[RING_PROXIES];

	for (unsigned int k = 0; k < n; k++) {
		struct pias_err e;
		int err = newcomer_on ? pias_ring_leave(&ring, id, PIAS_RING_DEFAULT_K, dirty, &e)
				      : pias_ring_join(&ring, id, PIAS_RING_DEFAULT_K, dirty, &e);

		if (err) {
			pb_fail("proxy %u %s: %s", id, newcomer_on ? "leaving" : "joining", e.msg);
			return;
		}
		newcomer_on = !newcomer_on;
		pb_st.ok += refill_apply() > 0;
	}
}

static void run_ring_slots(unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		__u32 id = ids[marked_next++ % RING_PROXIES];

		if (pias_ring_mark(&ring, id, PIAS_RING_DEFAULT_K, dirty)) {
			pb_fail("proxy %u: not on the ring", id);
			return;
		}
		/* the ring did not change: the slots are computed and found equal */
		pb_st.ok += refill_apply() == 0;
	}
}

const struct pb_row pb_ring_rows[] = {
	{ .name = "ring_full",
	  .what = "RAP table, 1e4 proxies: all 2^20 slots recomputed and compared (start-up)",
	  .kind = "ring",
	  .setup = ring_setup,
	  .run = run_ring_full },
	{ .name = "ring_update",
	  .what = "RAP table, 1e4 proxies: one joins or leaves; ring, its slots recomputed",
	  .kind = "ring",
	  .setup = ring_setup,
	  .run = run_ring_update },
	{ .name = "ring_slots",
	  .what = "RAP table, 1e4 proxies: one proxy's slots marked and recomputed only",
	  .kind = "diagnostic",
	  .setup = ring_setup,
	  .run = run_ring_slots },
};

const unsigned int pb_ring_nrows = sizeof(pb_ring_rows) / sizeof(pb_ring_rows[0]);
