// SPDX-License-Identifier: MIT
/* Dataplane liveness of proxies whose piasd is gone: see dplive.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dplive.h"

int pias_dplive_init(struct pias_dplive *dl, const struct pias_dplive_config *cfg,
		     struct pias_err *e)
{
	memset(dl, 0, sizeof(*dl));
	if (cfg->timeout_ns && !cfg->echo_interval_ns)
		return pias_err_set(e, -EINVAL, "dplive: an echo interval of 0");
	dl->cfg = *cfg;
	return 0;
}

void pias_dplive_free(struct pias_dplive *dl)
{
	free(dl->p);
	memset(dl, 0, sizeof(*dl));
}

static struct pias_dplive_peer *find(const struct pias_dplive *dl, __u32 id)
{
	for (size_t i = 0; i < dl->n; i++)
		if (dl->p[i].id == id)
			return &dl->p[i];
	return NULL;
}

bool pias_dplive_watched(const struct pias_dplive *dl, __u32 id)
{
	return find(dl, id) != NULL;
}

bool pias_dplive_watch(struct pias_dplive *dl, __u32 id, __u64 now)
{
	if (!dl->cfg.timeout_ns)
		return false;
	if (find(dl, id))
		return true;
	if (dl->n == dl->cap) {
		size_t cap = dl->cap ? 2 * dl->cap : 8;
		struct pias_dplive_peer *p = realloc(dl->p, cap * sizeof(*p));

		if (!p)
			return false;
		dl->p = p;
		dl->cap = cap;
	}
	dl->p[dl->n++] = (struct pias_dplive_peer){ .id = id,
						    .deadline_ns = now + dl->cfg.timeout_ns,
						    .next_echo_ns = now };
	return true;
}

void pias_dplive_forget(struct pias_dplive *dl, __u32 id)
{
	struct pias_dplive_peer *p = find(dl, id);

	if (p)
		*p = dl->p[--dl->n];
}

bool pias_dplive_answer(struct pias_dplive *dl, __u32 id, __u64 now)
{
	struct pias_dplive_peer *p = find(dl, id);

	if (!p)
		return false;
	if (now + dl->cfg.timeout_ns > p->deadline_ns)
		p->deadline_ns = now + dl->cfg.timeout_ns;
	return true;
}

int pias_dplive_tick(struct pias_dplive *dl, __u64 now, struct pias_dplive_actions *acts)
{
	size_t need = 0;

	acts->n = 0;
	for (size_t i = 0; i < dl->n; i++)
		need += now >= dl->p[i].deadline_ns || now >= dl->p[i].next_echo_ns;
	if (need > acts->cap)
		return -ENOBUFS;
	for (size_t i = 0; i < dl->n;) {
		struct pias_dplive_peer *p = &dl->p[i];

		if (now >= p->deadline_ns) {
			acts->a[acts->n++] = (struct pias_dplive_action){ .kind = PIAS_DPLIVE_DEAD,
									  .id = p->id };
			*p = dl->p[--dl->n];
			continue;
		}
		if (now >= p->next_echo_ns) {
			acts->a[acts->n++] = (struct pias_dplive_action){ .kind = PIAS_DPLIVE_ECHO,
									  .id = p->id };
			p->next_echo_ns = now + dl->cfg.echo_interval_ns;
		}
		i++;
	}
	return 0;
}
