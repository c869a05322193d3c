// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <pias/hash.h>

#include "ring.h"

#define LIVE_BYTES (PIAS_MAX_PROXIES / 8)

static bool bit_test(const unsigned char *map, __u32 id)
{
	return map[id / 8] & (1u << (id % 8));
}

static void bit_set(unsigned char *map, __u32 id)
{
	map[id / 8] |= (unsigned char)(1u << (id % 8));
}

static void bit_clear(unsigned char *map, __u32 id)
{
	map[id / 8] &= (unsigned char)~(1u << (id % 8));
}

__u32 pias_ring_point_hash(__u32 id, __u32 v)
{
	return pias_final(pias_mix(pias_mix(PIAS_RING_SEED, id), v), 8);
}

static int point_cmp(const void *a, const void *b)
{
	const struct pias_ring_point *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static bool point_less(const struct pias_ring_point *x, const struct pias_ring_point *y)
{
	return x->hash < y->hash || (x->hash == y->hash && x->id < y->id);
}

int pias_ring_init(struct pias_ring *r, unsigned int vnodes, struct pias_err *e)
{
	if (!r)
		return pias_err_set(e, -EINVAL, "no ring");
	memset(r, 0, sizeof(*r));
	if (vnodes > PIAS_RING_MAX_VNODES)
		return pias_err_set(e, -EINVAL, "vnodes %u is out of range 1-%u", vnodes,
				    PIAS_RING_MAX_VNODES);
	r->vnodes = vnodes ? vnodes : PIAS_RING_VNODES;
	r->alloc = malloc;
	r->live = calloc(LIVE_BYTES, 1);
	if (!r->live)
		return pias_err_set(e, -ENOMEM, "out of memory for the ring");
	return 0;
}

void pias_ring_free(struct pias_ring *r)
{
	if (!r)
		return;
	free(r->points);
	free(r->live);
	r->points = NULL;
	r->live = NULL;
	r->npoints = 0;
	r->cap = 0;
	r->nproxies = 0;
}

static int check_id(__u32 id, struct pias_err *e)
{
	if (id < 1 || id >= PIAS_MAX_PROXIES)
		return pias_err_set(e, -EINVAL, "proxy id %u is out of range 1-%u", id,
				    PIAS_MAX_PROXIES - 1);
	return 0;
}

/* A ring, a valid id, and id on it (live) or not (!live), as the call needs. */
static int check_member(const struct pias_ring *r, __u32 id, bool live, struct pias_err *e)
{
	int err;

	if (!r || !r->live)
		return pias_err_set(e, -EINVAL, "no ring");
	err = check_id(id, e);
	if (err)
		return err;
	if (live && !bit_test(r->live, id))
		return pias_err_set(e, -ENOENT, "proxy id %u is not on the ring", id);
	if (!live && bit_test(r->live, id))
		return pias_err_set(e, -EEXIST, "proxy id %u is already on the ring", id);
	return 0;
}

static void fill_points(struct pias_ring_point *p, __u32 id, unsigned int vnodes)
{
	for (unsigned int v = 0; v < vnodes; v++) {
		p[v].hash = pias_ring_point_hash(id, v);
		p[v].id = id;
	}
}

static int id_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Points in ascending id order, sorted by hash with a stable LSD radix
 * sort: (hash, id) order, three times faster than qsort for 1.6e7 points.
 */
static void radix_sort(struct pias_ring_point *p, struct pias_ring_point *tmp, size_t n)
{
	size_t count[1 << 11];

	/* Three 11-bit digits: the counts fit on the stack, the call is reentrant. */
	for (int shift = 0; shift < 32; shift += 11) {
		size_t sum = 0;

		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[(p[i].hash >> shift) & 0x7ff]++;
		for (size_t b = 0; b < (1 << 11); b++) {
			size_t c = count[b];

			count[b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(p[i].hash >> shift) & 0x7ff]++] = p[i];
		memcpy(p, tmp, n * sizeof(*p));
	}
}

int pias_ring_build(struct pias_ring *r, const __u32 *ids, size_t n, struct pias_err *e)
{
	struct pias_ring_point *points = NULL, *tmp = NULL;
	__u32 *sorted = NULL;
	unsigned char *live;
	int err = 0;

	if (!r || !r->live || (n && !ids))
		return pias_err_set(e, -EINVAL, "no ring or no ids");
	live = calloc(LIVE_BYTES, 1);
	if (!live)
		return pias_err_set(e, -ENOMEM, "out of memory for the ring");
	for (size_t i = 0; i < n && !err; i++) {
		err = check_id(ids[i], e);
		if (!err && bit_test(live, ids[i]))
			err = pias_err_set(e, -EINVAL, "proxy id %u is listed twice", ids[i]);
		if (!err)
			bit_set(live, ids[i]);
	}
	if (!err && n) {
		/* n < PIAS_MAX_PROXIES (distinct ids): no overflow on 32 or 64 bits. */
		points = r->alloc(n * r->vnodes * sizeof(*points));
		tmp = points ? r->alloc(n * r->vnodes * sizeof(*tmp)) : NULL;
		sorted = tmp ? r->alloc(n * sizeof(*sorted)) : NULL;
		if (!sorted)
			err = pias_err_set(e, -ENOMEM, "out of memory for %zu ring points",
					   n * r->vnodes);
	}
	if (err) {
		free(points);
		free(tmp);
		free(live);
		return err;
	}
	if (n) {
		memcpy(sorted, ids, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), id_cmp);
		for (size_t i = 0; i < n; i++)
			fill_points(points + i * r->vnodes, sorted[i], r->vnodes);
		radix_sort(points, tmp, n * r->vnodes);
	}
	free(sorted);
	free(tmp);
	free(r->points);
	free(r->live);
	r->points = points;
	r->live = live;
	r->npoints = n * r->vnodes;
	r->cap = r->npoints;
	r->nproxies = n;
	return 0;
}

/*
 * Room for extra more points, with an eighth more to spare: joins one by
 * one then copy the array once per many joins, not each time.
 */
static int reserve(struct pias_ring *r, size_t extra)
{
	size_t cap = (r->npoints + extra) / 8 * 9 + extra;
	struct pias_ring_point *grown;

	if (r->npoints + extra <= r->cap)
		return 0;
	grown = r->alloc(cap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	if (r->npoints)
		memcpy(grown, r->points, r->npoints * sizeof(*grown));
	free(r->points);
	r->points = grown;
	r->cap = cap;
	return 0;
}

int pias_ring_add(struct pias_ring *r, __u32 id, struct pias_err *e)
{
	struct pias_ring_point *mine;
	size_t i, j, o;
	int err;

	err = check_member(r, id, false, e);
	if (err)
		return err;
	mine = r->alloc(r->vnodes * sizeof(*mine));
	if (!mine || reserve(r, r->vnodes)) {
		free(mine);
		return pias_err_set(e, -ENOMEM, "out of memory adding proxy %u", id);
	}
	fill_points(mine, id, r->vnodes);
	qsort(mine, r->vnodes, sizeof(*mine), point_cmp);
	/* Merge from the top down, in place: what is not yet moved is never overwritten. */
	i = r->npoints;
	j = r->vnodes;
	o = r->npoints + r->vnodes;
	while (j > 0) {
		if (i > 0 && point_less(&mine[j - 1], &r->points[i - 1]))
			r->points[--o] = r->points[--i];
		else
			r->points[--o] = mine[--j];
	}
	free(mine);
	r->npoints += r->vnodes;
	r->nproxies++;
	bit_set(r->live, id);
	return 0;
}

/* In place: removing cannot fail for lack of memory. */
int pias_ring_remove(struct pias_ring *r, __u32 id, struct pias_err *e)
{
	size_t o = 0;
	int err;

	err = check_member(r, id, true, e);
	if (err)
		return err;
	for (size_t i = 0; i < r->npoints; i++)
		if (r->points[i].id != id)
			r->points[o++] = r->points[i];
	r->npoints = o;
	r->nproxies--;
	bit_clear(r->live, id);
	return 0;
}

/*
 * Index of the first point with hash >= key (npoints if none: wrap to 0),
 * knowing that the points before from are all below key. It gallops from
 * there, so a sweep of ascending keys costs O(log distance) each.
 */
static size_t lower_bound_from(const struct pias_ring *r, __u32 key, size_t from)
{
	size_t lo = from, hi = from, step = 1;

	while (hi < r->npoints && r->points[hi].hash < key) {
		lo = hi + 1;
		hi += step;
		step *= 2;
	}
	if (hi > r->npoints)
		hi = r->npoints;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->points[mid].hash < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first want distinct owners from point i on, into out; 0 < want <= nproxies. */
static void walk(const struct pias_ring *r, size_t i, size_t want, __u32 *out)
{
	size_t got = 0;

	/* Every proxy has points, so want distinct ids turn up within one lap. */
	for (size_t step = 0; step < r->npoints && got < want; step++, i++) {
		__u32 id;
		size_t j = 0;

		if (i >= r->npoints)
			i = 0;
		id = r->points[i].id;
		while (j < got && out[j] != id)
			j++;
		if (j == got)
			out[got++] = id;
	}
}

static size_t wanted(const struct pias_ring *r, unsigned int k)
{
	return k < r->nproxies ? k : r->nproxies;
}

int pias_ring_raps(const struct pias_ring *r, __u32 key, unsigned int k, __u32 *out)
{
	size_t want;

	if (!r || !out || k < 1 || k > PIAS_RAP_REPLICAS)
		return -EINVAL;
	want = wanted(r, k);
	if (want)
		walk(r, lower_bound_from(r, key, 0), want, out);
	return (int)want;
}

#define ARC ((__u32)((1ull << 32) / PIAS_RAP_SLOTS))

__u32 pias_ring_slot_key(__u32 slot)
{
	return slot * ARC + ARC / 2;
}

/* How many slot keys are <= x: also the first slot whose key is above x. */
static __u32 slots_upto(__u32 x)
{
	return x < ARC / 2 ? 0 : (x - ARC / 2) / ARC + 1;
}

/*
 * Walking the slots in ascending order: where the ring is, and the value
 * of the last slot computed. Slots whose keys fall between the same two
 * points have the same RAPs (at 1,000 proxies, six slots per point), so
 * only the first of them walks the ring.
 */
struct sweep {
	size_t i;
	bool have;
	struct pias_rap_slot last;
};

static void slot_compute(const struct pias_ring *r, size_t want, __u32 s, struct sweep *w,
			 struct pias_rap_slot *out)
{
	size_t i;

	if (!want) {
		memset(out, 0, sizeof(*out));
		return;
	}
	i = lower_bound_from(r, pias_ring_slot_key(s), w->i);
	if (!w->have || i != w->i) {
		memset(&w->last, 0, sizeof(w->last));
		walk(r, i, want, w->last.rap);
		w->i = i;
		w->have = true;
	}
	*out = w->last;
}

static int check_k(unsigned int k, struct pias_err *e)
{
	if (k < 1 || k > PIAS_RAP_REPLICAS)
		return pias_err_set(e, -EINVAL, "replicas %u is out of range 1-%u", k,
				    PIAS_RAP_REPLICAS);
	return 0;
}

int pias_ring_fill_table(const struct pias_ring *r, unsigned int k, struct pias_rap_slot *table,
			 struct pias_err *e)
{
	struct sweep w = { 0 };

	if (!r || !table)
		return pias_err_set(e, -EINVAL, "no ring or no table");
	if (check_k(k, e))
		return -EINVAL;
	for (__u32 s = 0; s < PIAS_RAP_SLOTS; s++)
		slot_compute(r, wanted(r, k), s, &w, &table[s]);
	return 0;
}

void pias_slot_set_add_range(struct pias_slot_set *set, __u32 first, __u32 end)
{
	if (end > PIAS_RAP_SLOTS)
		end = PIAS_RAP_SLOTS;
	for (; first < end && first % 64; first++)
		pias_slot_set_add(set, first);
	for (; first + 64 <= end; first += 64)
		set->w[first / 64] = ~0ull;
	for (; first < end; first++)
		pias_slot_set_add(set, first);
}

/* The slots whose keys are in (a, b], or, wrapped round the top, above a or at most b. */
static void mark_keys(struct pias_slot_set *set, __u32 a, __u32 b, bool wrapped)
{
	if (!wrapped) {
		pias_slot_set_add_range(set, slots_upto(a), slots_upto(b));
		return;
	}
	pias_slot_set_add_range(set, slots_upto(a), PIAS_RAP_SLOTS);
	pias_slot_set_add_range(set, 0, slots_upto(b));
}

/* Index of point p, which is on the ring. */
static size_t find_point(const struct pias_ring *r, const struct pias_ring_point *p)
{
	size_t lo = 0, hi = r->npoints;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (point_less(&r->points[mid], p))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The keys whose walk meets point i before k other proxies, and before
 * another point of its own (which answers for the keys behind it): walk
 * back from i until either turns up at j; the keys are (hash j, hash i].
 * With more than k proxies the walk ends within one lap.
 */
static void mark_point(const struct pias_ring *r, size_t i, unsigned int k,
		       struct pias_slot_set *set)
{
	__u32 id = r->points[i].id, seen[PIAS_RAP_REPLICAS];
	unsigned int nseen = 0;
	bool wrapped = false;
	size_t j = i;

	for (;;) {
		__u32 o;
		unsigned int x = 0;

		if (j == 0) {
			j = r->npoints;
			wrapped = true;
		}
		o = r->points[--j].id;
		if (o == id)
			break;
		while (x < nseen && seen[x] != o)
			x++;
		if (x < nseen)
			continue;
		seen[nseen++] = o;
		if (nseen == k)
			break;
	}
	mark_keys(set, r->points[j].hash, r->points[i].hash, wrapped);
}

int pias_ring_mark(const struct pias_ring *r, __u32 id, unsigned int k, struct pias_slot_set *set)
{
	if (!r || !r->live || !set || k < 1 || k > PIAS_RAP_REPLICAS)
		return -EINVAL;
	if (id < 1 || id >= PIAS_MAX_PROXIES || !bit_test(r->live, id))
		return -ENOENT;
	if (r->nproxies <= k) {
		/* every slot lists every proxy, id among them */
		pias_slot_set_add_range(set, 0, PIAS_RAP_SLOTS);
		return 0;
	}
	for (unsigned int v = 0; v < r->vnodes; v++) {
		struct pias_ring_point p = { .hash = pias_ring_point_hash(id, v), .id = id };

		mark_point(r, find_point(r, &p), k, set);
	}
	return 0;
}

/*
 * A join or a leave of id with its slots marked: checked first (a slot set,
 * k, id off the ring for a join and on it for a leave), so that a failure
 * changes nothing; the slots are those that list id while it is on.
 */
static int change(struct pias_ring *r, __u32 id, unsigned int k, struct pias_slot_set *dirty,
		  bool join, struct pias_err *e)
{
	int err;

	if (!dirty)
		return pias_err_set(e, -EINVAL, "no slot set");
	err = check_k(k, e);
	if (!err)
		err = check_member(r, id, !join, e);
	if (!err && join)
		err = pias_ring_add(r, id, e);
	if (err)
		return err;
	pias_ring_mark(r, id, k, dirty); /* id is on the ring: cannot fail */
	return join ? 0 : pias_ring_remove(r, id, e);
}

int pias_ring_join(struct pias_ring *r, __u32 id, unsigned int k, struct pias_slot_set *dirty,
		   struct pias_err *e)
{
	return change(r, id, k, dirty, true, e);
}

int pias_ring_leave(struct pias_ring *r, __u32 id, unsigned int k, struct pias_slot_set *dirty,
		    struct pias_err *e)
{
	return change(r, id, k, dirty, false, e);
}

int pias_ring_refill(const struct pias_ring *r, unsigned int k, const struct pias_rap_slot *table,
		     const struct pias_slot_set *dirty, __u32 *changed, struct pias_rap_slot *vals,
		     size_t *n, struct pias_err *e)
{
	struct sweep sw = { 0 };
	size_t c = 0;

	if (!r || !table || !dirty || !changed || !vals || !n)
		return pias_err_set(e, -EINVAL, "no ring, table, slot set or output");
	if (check_k(k, e))
		return -EINVAL;
	for (size_t w = 0; w < PIAS_SLOT_SET_WORDS; w++)
		for (__u64 x = dirty->w[w]; x; x &= x - 1) {
			__u32 s = (__u32)(w * 64 + (size_t)__builtin_ctzll(x));

			slot_compute(r, wanted(r, k), s, &sw, &vals[c]);
			if (memcmp(&vals[c], &table[s], sizeof(vals[c])))
				changed[c++] = s;
		}
	*n = c;
	return 0;
}

int pias_ring_raps_of_ta(const struct pias_rap_slot *table, const struct pias_ta *ta,
			 struct pias_rap_slot *out)
{
	int count = 0;

	if (!table || !ta || !out)
		return -EINVAL;
	*out = table[pias_rap_slot_of(ta)];
	while (count < PIAS_RAP_REPLICAS && out->rap[count])
		count++;
	return count;
}
