// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "registry.h"

int pias_registry_ta_check(const struct pias_ta *ta, const char *who, struct pias_err *e)
{
	if (ta->family != PIAS_AF_INET && ta->family != PIAS_AF_INET6)
		return pias_err_set(e, -EINVAL, "%s: TA family %u is neither 4 nor 6", who,
				    ta->family);
	return 0;
}

int pias_grow(void **a, size_t *cap, size_t elem, size_t need, const char *who, const char *what,
	      struct pias_err *e)
{
	return pias_grow_from(a, cap, elem, need, 16, who, what, e);
}

int pias_grow_from(void **a, size_t *cap, size_t elem, size_t need, size_t first, const char *who,
		   const char *what, struct pias_err *e)
{
	size_t ncap = *cap ? *cap : first;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*a, ncap * elem);
	if (!p)
		return pias_err_set(e, -ENOMEM, "%s: no memory for %zu %s", who, ncap, what);
	*a = p;
	*cap = ncap;
	return 0;
}
