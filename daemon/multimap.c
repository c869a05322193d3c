// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "multimap.h"
#include "registry.h"

#define NONE PIAS_MULTIMAP_NONE

void pias_multimap_init(struct pias_multimap *m, __u32 key_limit, const char *who)
{
	*m = (struct pias_multimap){ .who = who, .key_limit = key_limit, .free = NONE };
}

void pias_multimap_free(struct pias_multimap *m)
{
	free(m->links);
	free(m->key_head);
	free(m->h_head);
	pias_multimap_init(m, m->key_limit, m->who);
}

/* *a (of *n heads) covers need heads; new ones empty. */
static int heads_grow(struct pias_multimap *m, __u32 **a, size_t *n, size_t need,
		      struct pias_err *e)
{
	size_t old = *n;
	int err = pias_grow((void **)a, n, sizeof(**a), need, m->who, "links", e);

	if (!err)
		memset(*a + old, 0xff, (*n - old) * sizeof(**a));
	return err;
}

int pias_multimap_reserve(struct pias_multimap *m, size_t nh, __u32 max_key, size_t nlinks,
			  struct pias_err *e)
{
	int err;

	if (max_key >= m->key_limit)
		return pias_err_set(e, -EINVAL, "%s: id %u out of range (below %u)", m->who,
				    max_key, m->key_limit);
	err = heads_grow(m, &m->key_head, &m->nkeys, (size_t)max_key + 1, e);
	if (!err)
		err = heads_grow(m, &m->h_head, &m->nh, nh, e);
	if (!err && nlinks > m->nfree + (m->lcap - m->hwm))
		err = pias_grow((void **)&m->links, &m->lcap, sizeof(*m->links),
				m->hwm + nlinks - m->nfree, m->who, "links", e);
	return err;
}

bool pias_multimap_add(struct pias_multimap *m, __u32 key, __u32 h)
{
	struct pias_multimap_link *l;
	__u32 k;

	for (k = m->h_head[h]; k != NONE; k = m->links[k].hnext)
		if (m->links[k].key == key)
			return false;
	if (m->free != NONE) {
		k = m->free;
		m->free = m->links[k].hnext;
		m->nfree--;
	} else {
		k = (__u32)m->hwm++;
	}
	l = &m->links[k];
	*l = (struct pias_multimap_link){
		.key = key, .h = h, .kprev = NONE, .knext = m->key_head[key], .hnext = m->h_head[h]
	};
	if (l->knext != NONE)
		m->links[l->knext].kprev = k;
	m->key_head[key] = k;
	m->h_head[h] = k;
	return true;
}

void pias_multimap_clear(struct pias_multimap *m, __u32 h)
{
	__u32 k, next;

	if (h >= m->nh)
		return;
	for (k = m->h_head[h]; k != NONE; k = next) {
		struct pias_multimap_link *l = &m->links[k];

		next = l->hnext;
		if (l->kprev != NONE)
			m->links[l->kprev].knext = l->knext;
		else
			m->key_head[l->key] = l->knext;
		if (l->knext != NONE)
			m->links[l->knext].kprev = l->kprev;
		l->hnext = m->free;
		m->free = k;
		m->nfree++;
	}
	m->h_head[h] = NONE;
}

long pias_multimap_first(const struct pias_multimap *m, __u32 key)
{
	if (key >= m->nkeys || m->key_head[key] == NONE)
		return -1;
	return m->links[m->key_head[key]].h;
}

size_t pias_multimap_count(const struct pias_multimap *m, __u32 key)
{
	size_t n = 0;

	if (key >= m->nkeys)
		return 0;
	for (__u32 k = m->key_head[key]; k != NONE; k = m->links[k].knext)
		n++;
	return n;
}
