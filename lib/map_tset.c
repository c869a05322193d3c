// SPDX-License-Identifier: MIT
/*
 * A JAP's target sets (include/pias/maps.h, struct pias_tset): a whole
 * set written at once, read back, deleted.
 *
 * Replacing a set never shows a reader half of it. Chunks and scope ranges
 * are keyed by the header's generation, and written in this order:
 *
 *   1. the new set's chunks and scope ranges, under a new generation (no
 *      header names it yet, so no reader looks at them);
 *   2. the header, one element replaced whole: from here a reader that
 *      looks the set up sees the new set, complete;
 *   3. the old generation's chunks and scope ranges deleted.
 *
 * A pick that read the old header just before step 2 may still look up an
 * old chunk: before step 3 it finds it and picks from the old set, as if
 * it had come a moment earlier; after, it finds none and picks nothing
 * (the flow bounces, once, to its RAP). What it picks is checked against
 * the target's own entry either way, and a target taken out of a set is
 * cleared (piasd: TARGET_DEL after SET_SET) only after the set's flip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include <pias/pick.h>

#include "maps.h"

/* A scoped set's entry while it is put in order: its prefix, then where it was. */
struct scoped_entry {
	union pias_addr prefix;
	__u32 at;
};

static int by_prefix(const void *a, const void *b)
{
	const struct scoped_entry *x = a, *y = b;
	int c = memcmp(&x->prefix, &y->prefix, sizeof(x->prefix));

	return c ? c : (x->at > y->at) - (x->at < y->at);
}

int pias_tset_build(const __u32 *ids, const __u32 *weights, const union pias_addr *addrs, size_t n,
		    const struct pias_policy *policy, struct pias_tset_built *out,
		    struct pias_err *e)
{
	bool scoped = policy && policy->kind == PIAS_POLICY_SCOPED;
	struct scoped_entry *order = NULL;
	__u32 *w;

	memset(out, 0, sizeof(*out));
	if (n < 1 || n > PIAS_TSET_MAX)
		return pias_err_set(e, -EINVAL, "a target set has 1-%u targets, not %zu",
				    PIAS_TSET_MAX, n);
	out->ids = calloc(n, sizeof(*out->ids));
	out->cum = calloc(n, sizeof(*out->cum));
	w = calloc(n, sizeof(*w));
	if (scoped)
		order = calloc(n, sizeof(*order));
	if (!out->ids || !out->cum || !w || (scoped && (!order || !addrs))) {
		free(w);
		free(order);
		pias_tset_built_free(out);
		return pias_err_set(e, scoped && !addrs ? -EINVAL : -ENOMEM,
				    scoped && !addrs ? "a scoped set needs its targets' addresses"
						     : "out of memory");
	}
	/* scoped: a prefix's targets together, in the order given among them */
	if (scoped) {
		for (size_t i = 0; i < n; i++) {
			order[i].prefix = pias_prefix_of(&addrs[i], policy->scope_len);
			order[i].at = (__u32)i;
		}
		qsort(order, n, sizeof(*order), by_prefix);
	}
	for (size_t i = 0; i < n; i++) {
		size_t from = scoped ? order[i].at : i;

		out->ids[i] = ids[from];
		w[i] = weights[from];
	}
	out->n = (__u32)n;
	out->total = pias_pick_sums(w, (__u32)n, out->cum);
	free(w);
	if (scoped) {
		out->ranges = calloc(n, sizeof(*out->ranges));
		out->prefixes = calloc(n, sizeof(*out->prefixes));
		if (!out->ranges || !out->prefixes) {
			free(order);
			pias_tset_built_free(out);
			return pias_err_set(e, -ENOMEM, "out of memory");
		}
		for (__u32 i = 0; i < n; i++) {
			struct pias_tset_range *r;

			if (i && !memcmp(&order[i].prefix, &order[i - 1].prefix,
					 sizeof(order[i].prefix))) {
				r = &out->ranges[out->nranges - 1];
			} else {
				out->prefixes[out->nranges] = order[i].prefix;
				r = &out->ranges[out->nranges++];
				r->lo = i;
				r->cum_lo = i ? out->cum[i - 1] : 0;
			}
			r->hi = i + 1;
			r->cum_hi = out->cum[i];
		}
	}
	free(order);
	return 0;
}

void pias_tset_built_free(struct pias_tset_built *b)
{
	free(b->ids);
	free(b->cum);
	free(b->ranges);
	free(b->prefixes);
	memset(b, 0, sizeof(*b));
}

/* The addresses of n targets, from pias_targets (a scoped set is ordered by them). */
static int target_addrs(struct pias_maps *m, const __u32 *ids, size_t n, union pias_addr *out,
			struct pias_err *e)
{
	for (size_t i = 0; i < n; i++) {
		struct pias_target t;
		int err = pias_map_lookup(m, PIAS_M_TARGETS, &ids[i], &t, e);

		if (err)
			return err;
		out[i] = t.addr;
	}
	return 0;
}

static __u32 nchunks_of(__u32 count)
{
	return count <= PIAS_TSET_INLINE ? 0 : (count + PIAS_TSET_CHUNK - 1) / PIAS_TSET_CHUNK;
}

/* Built set b's chunks, under generation gen. */
static int write_chunks(struct pias_maps *m, const struct pias_ta *ta, __u32 gen,
			const struct pias_tset_built *b, struct pias_tset *h, struct pias_err *e)
{
	struct pias_tset_chunk_key *keys;
	struct pias_tset_chunk *vals;
	int err;

	if (!h->nchunks)
		return 0; /* all in the header */
	keys = calloc(h->nchunks, sizeof(*keys));
	vals = calloc(h->nchunks, sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return pias_err_set(e, -ENOMEM, "out of memory");
	}
	for (__u32 c = 0; c < h->nchunks; c++) {
		__u32 lo = c * PIAS_TSET_CHUNK,
		      n = b->n - lo < PIAS_TSET_CHUNK ? b->n - lo : PIAS_TSET_CHUNK;

		keys[c].ta = *ta;
		keys[c].gen = gen;
		keys[c].chunk = c;
		vals[c].gen = gen;
		vals[c].n = n;
		memcpy(vals[c].ids, &b->ids[lo], n * sizeof(__u32));
		memcpy(vals[c].cum, &b->cum[lo], n * sizeof(__u32));
		h->cum[c] = b->cum[lo + n - 1];
	}
	err = pias_map_update_many(m, PIAS_M_TSET_CHUNKS, keys, vals, h->nchunks, e);
	free(keys);
	free(vals);
	return err;
}

static struct pias_tset_scope_key *scope_keys(const struct pias_ta *ta, __u32 gen,
					      const union pias_addr *prefixes, size_t n)
{
	struct pias_tset_scope_key *keys = calloc(n ? n : 1, sizeof(*keys));

	for (size_t i = 0; keys && i < n; i++) {
		keys[i].ta = *ta;
		keys[i].gen = gen;
		keys[i].prefix = prefixes[i];
	}
	return keys;
}

static int write_scopes(struct pias_maps *m, const struct pias_ta *ta, __u32 gen,
			const struct pias_tset_built *b, struct pias_err *e)
{
	struct pias_tset_scope_key *keys = scope_keys(ta, gen, b->prefixes, b->nranges);
	int err;

	if (!keys)
		return pias_err_set(e, -ENOMEM, "out of memory");
	err = pias_map_update_many(m, PIAS_M_TSET_SCOPES, keys, b->ranges, b->nranges, e);
	free(keys);
	return err;
}

/*
 * What a set keeps besides its header, to delete once no header names it:
 * its generation's chunks and (scoped) scope ranges.
 */
struct tset_rest {
	__u32 gen;
	__u32 nchunks;
	union pias_addr *prefixes; /* owned unless borrowed */
	size_t nprefixes;
	bool borrowed;
};

/*
 * The rest of set h, ta's current one: a scoped set's prefixes are its
 * targets' addresses cut to the scope (a scoped set is in prefix order, so
 * the repeats are neighbours). Read before the header changes. A prefix
 * that cannot be read now leaves its range behind, unreachable: keyed by
 * a generation no header will name.
 */
static void rest_of(struct pias_maps *m, const struct pias_ta *ta, const struct pias_tset *h,
		    struct tset_rest *r)
{
	__u32 *ids;

	memset(r, 0, sizeof(*r));
	r->gen = h->gen;
	r->nchunks = h->nchunks;
	if (h->policy.kind != PIAS_POLICY_SCOPED || !h->count)
		return;
	ids = calloc(h->count, sizeof(*ids));
	r->prefixes = calloc(h->count, sizeof(*r->prefixes));
	if (ids && r->prefixes && !pias_tset_read(m, ta, NULL, ids, NULL, h->count, NULL) &&
	    !target_addrs(m, ids, h->count, r->prefixes, NULL)) {
		for (__u32 i = 0; i < h->count; i++) {
			union pias_addr p = pias_prefix_of(&r->prefixes[i], h->policy.scope_len);

			if (!r->nprefixes || memcmp(&p, &r->prefixes[r->nprefixes - 1], sizeof(p)))
				r->prefixes[r->nprefixes++] = p;
		}
	}
	free(ids);
}

static void rest_delete(struct pias_maps *m, const struct pias_ta *ta, struct tset_rest *r)
{
	struct pias_tset_chunk_key ck = { .ta = *ta, .gen = r->gen };
	struct pias_tset_scope_key *keys = scope_keys(ta, r->gen, r->prefixes, r->nprefixes);

	if (keys)
		pias_map_delete_many(m, PIAS_M_TSET_SCOPES, keys, r->nprefixes);
	free(keys);
	for (ck.chunk = 0; ck.chunk < r->nchunks; ck.chunk++)
		bpf_map_delete_elem(m->fd[PIAS_M_TSET_CHUNKS], &ck);
	if (!r->borrowed)
		free(r->prefixes);
	r->prefixes = NULL;
}

/* A generation for a set that has none yet: unlike any a removed set left behind. */
static __u32 first_gen(void)
{
	return (__u32)(pias_now_ns() >> 10) | 1;
}

int pias_tset_write(struct pias_maps *m, const struct pias_ta *ta, const __u32 *ids,
		    const __u32 *weights, size_t n, const struct pias_policy *policy,
		    struct pias_err *e)
{
	bool scoped = policy && policy->kind == PIAS_POLICY_SCOPED;
	struct tset_rest old_rest, new_rest;
	struct pias_tset h, old;
	struct pias_tset_built b;
	union pias_addr *addrs = NULL;
	bool had;
	int err = pias_ta_check(ta, e);
	const char *why;

	if (err)
		return err;
	why = policy ? pias_policy_invalid(policy, ta->family) : NULL;
	if (why)
		return pias_err_set(e, -EINVAL, "policy: %s", why);
	if (n < 1 || n > PIAS_TSET_MAX)
		return pias_err_set(
			e, -EINVAL,
			"a target set has 1-%u targets, not %zu (to remove one: targets del)",
			PIAS_TSET_MAX, n);
	err = pias_ids_check(ids, n, PIAS_MAX_TARGETS, "target", e);
	if (err)
		return err;
	if (scoped) {
		addrs = calloc(n, sizeof(*addrs));
		if (!addrs)
			return pias_err_set(e, -ENOMEM, "out of memory");
		err = target_addrs(m, ids, n, addrs, e);
	}
	err = err ?: pias_tset_build(ids, weights, addrs, n, policy, &b, e);
	free(addrs);
	if (err)
		return err;

	had = !bpf_map_lookup_elem(m->fd[PIAS_M_TARGET_SETS], ta, &old);
	memset(&h, 0, sizeof(h));
	h.count = b.n;
	h.total = b.total;
	h.nchunks = (__u16)nchunks_of(b.n);
	h.gen = had ? old.gen + 1 : first_gen();
	if (policy)
		h.policy = *policy;
	if (!h.nchunks) {
		memcpy(h.ids, b.ids, b.n * sizeof(__u32));
		memcpy(h.cum, b.cum, b.n * sizeof(__u32));
	}
	new_rest = (struct tset_rest){ .gen = h.gen,
				       .nchunks = h.nchunks,
				       .prefixes = b.prefixes,
				       .nprefixes = b.nranges,
				       .borrowed = true };
	if (had)
		rest_of(m, ta, &old, &old_rest);
	/* 1. the new generation's chunks and ranges */
	err = write_chunks(m, ta, h.gen, &b, &h, e);
	if (!err && scoped)
		err = write_scopes(m, ta, h.gen, &b, e);
	/* 2. the flip */
	if (!err) {
		h.slot = pias_group_slot_take(m, ta);
		err = pias_map_update(m, PIAS_M_TARGET_SETS, ta, &h, e);
	}
	if (err)
		rest_delete(m, ta, &new_rest); /* what went in of the new generation */
	pias_tset_built_free(&b);
	/* 3. the old generation, unless the flip failed and its header still names it */
	if (had && !err)
		rest_delete(m, ta, &old_rest);
	else if (had)
		free(old_rest.prefixes);
	return err;
}

int pias_tset_read(struct pias_maps *m, const struct pias_ta *ta, struct pias_tset *hdr, __u32 *ids,
		   __u32 *cum, size_t cap, struct pias_err *e)
{
	char what[PIAS_ADDR_STRLEN + 24] = "target set of ";
	struct pias_tset_chunk_key k = { .ta = *ta };
	struct pias_tset_chunk *ch;
	struct pias_tset h;
	size_t n;
	int err = 0;

	if (bpf_map_lookup_elem(m->fd[PIAS_M_TARGET_SETS], ta, &h)) {
		err = -errno;
		pias_ta_str(ta, what + strlen(what), sizeof(what) - strlen(what));
		return err == -ENOENT
			       ? pias_err_set(e, err, "%s is not in %s", what,
					      pias_map_name(PIAS_M_TARGET_SETS))
			       : pias_err_set(e, err, "reading %s failed: %s",
					      pias_map_name(PIAS_M_TARGET_SETS), strerror(-err));
	}
	if (hdr)
		*hdr = h;
	n = h.count < cap ? h.count : cap;
	if (!h.nchunks) {
		if (n > PIAS_TSET_INLINE)
			n = PIAS_TSET_INLINE;
		if (ids)
			memcpy(ids, h.ids, n * sizeof(__u32));
		if (cum)
			memcpy(cum, h.cum, n * sizeof(__u32));
		return 0;
	}
	ch = malloc(sizeof(*ch));
	if (!ch)
		return pias_err_set(e, -ENOMEM, "out of memory");
	k.gen = h.gen;
	for (size_t at = 0; at < n && !err; at += PIAS_TSET_CHUNK, k.chunk++) {
		size_t take = n - at < PIAS_TSET_CHUNK ? n - at : PIAS_TSET_CHUNK;

		err = pias_map_lookup(m, PIAS_M_TSET_CHUNKS, &k, ch, e);
		if (!err && (ch->gen != h.gen || ch->n < take))
			err = pias_err_set(e, -EAGAIN, "%s changed while read",
					   pias_map_name(PIAS_M_TSET_CHUNKS));
		if (err)
			break;
		if (ids)
			memcpy(&ids[at], ch->ids, take * sizeof(__u32));
		if (cum)
			memcpy(&cum[at], ch->cum, take * sizeof(__u32));
	}
	free(ch);
	return err;
}

int pias_tgtset_del(struct pias_maps *m, const struct pias_ta *ta, struct pias_err *e)
{
	char what[PIAS_ADDR_STRLEN + 24] = "target set of ";
	struct tset_rest rest = { 0 };
	struct pias_tset old;
	int err;

	pias_ta_str(ta, what + strlen(what), sizeof(what) - strlen(what));
	if (!bpf_map_lookup_elem(m->fd[PIAS_M_TARGET_SETS], ta, &old))
		rest_of(m, ta, &old, &rest);
	/* the header first: from then on no reader reaches the rest */
	err = pias_map_delete(m, PIAS_M_TARGET_SETS, ta, what, e);
	if (!err) {
		rest_delete(m, ta, &rest);
		pias_group_slot_release(m, ta);
	}
	free(rest.prefixes);
	return err;
}

/* Weights of n targets as pias_targets holds them (0: no such target). */
static int target_weights(struct pias_maps *m, const __u32 *ids, size_t n, __u32 *out)
{
	for (size_t i = 0; i < n; i++) {
		struct pias_target t;

		out[i] = ids[i] < PIAS_MAX_TARGETS &&
					 !bpf_map_lookup_elem(m->fd[PIAS_M_TARGETS], &ids[i], &t)
				 ? t.weight
				 : 0;
	}
	return 0;
}

int pias_tgtset_set(struct pias_maps *m, const struct pias_ta *ta, const __u32 *ids, size_t n,
		    struct pias_err *e)
{
	return pias_tgtset_set_policy(m, ta, ids, n, NULL, e);
}

int pias_tgtset_set_policy(struct pias_maps *m, const struct pias_ta *ta, const __u32 *ids,
			   size_t n, const struct pias_policy *policy, struct pias_err *e)
{
	__u32 *w = calloc(n ? n : 1, sizeof(*w));
	int err;

	if (!w)
		return pias_err_set(e, -ENOMEM, "out of memory");
	target_weights(m, ids, n, w);
	err = pias_tset_write(m, ta, ids, w, n, policy, e);
	free(w);
	return err;
}

int pias_tgtset_reweigh(struct pias_maps *m, const struct pias_ta *ta, struct pias_err *e)
{
	__u32 *ids = NULL, *cum = NULL, *w = NULL;
	struct pias_tset h;
	bool same = true;
	int err;

	if (bpf_map_lookup_elem(m->fd[PIAS_M_TARGET_SETS], ta, &h))
		return 0; /* no set: nothing to follow */
	ids = calloc(h.count ? h.count : 1, sizeof(*ids));
	cum = calloc(h.count ? h.count : 1, sizeof(*cum));
	w = calloc(h.count ? h.count : 1, sizeof(*w));
	err = ids && cum && w ? pias_tset_read(m, ta, &h, ids, cum, h.count, e)
			      : pias_err_set(e, -ENOMEM, "out of memory");
	if (!err) {
		__u32 *now = calloc(h.count ? h.count : 1, sizeof(*now));

		/* the set's sums again from the targets' weights now: rewritten if they differ */
		target_weights(m, ids, h.count, w);
		if (!now) {
			err = pias_err_set(e, -ENOMEM, "out of memory");
		} else {
			pias_pick_sums(w, h.count, now);
			same = !memcmp(now, cum, h.count * sizeof(*now));
			free(now);
		}
	}
	if (!err && !same)
		err = pias_tset_write(m, ta, ids, w, h.count, &h.policy, e);
	free(ids);
	free(cum);
	free(w);
	return err;
}
