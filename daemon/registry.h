/* SPDX-License-Identifier: MIT */
/*
 * What the JAP registry, the RAP registry and the IAP cache share, written
 * once: TA comparison and checks, ages on the dataplane's clock, serial
 * number order of generations, and array growth. Pure; no I/O.
 */
#ifndef PIAS_DAEMON_REGISTRY_H
#define PIAS_DAEMON_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <pias/addr.h>

#include "err.h"

static inline bool pias_ta_eq(const struct pias_ta *a, const struct pias_ta *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* now - then, 0 if then is later (a clock read before an event's stamp). */
static inline __u64 pias_age(__u64 now, __u64 then)
{
	return now > then ? now - then : 0;
}

/* a is older than b, as serial numbers (RFC 1982): wrap-around safe. */
static inline bool pias_serial_older(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

/* -EINVAL, naming who ("jap", "rap", "iap"), unless ta's family is 4 or 6. */
int pias_registry_ta_check(const struct pias_ta *ta, const char *who, struct pias_err *e);

/*
 * Room for need elements of elem bytes in *a (*cap of them now): doubles
 * (from at least 16) until they fit. Nothing changes on failure (-ENOMEM,
 * naming who and what).
 */
int pias_grow(void **a, size_t *cap, size_t elem, size_t need, const char *who, const char *what,
	      struct pias_err *e);

/* The same, doubling from at least first (arrays that are mostly small). */
int pias_grow_from(void **a, size_t *cap, size_t elem, size_t need, size_t first, const char *who,
		   const char *what, struct pias_err *e);

#endif
