/* SPDX-License-Identifier: MIT */
/*
 * Text form of a group's selection policy (include/pias/policy.h), as the
 * group's owner writes it and tools print it:
 *
 *   weighted             random
 *   scoped/24            scoped/48,strict      (a prefix length, and strict:
 *                                               no target in the client's
 *                                               prefix means none, not any)
 *   replicate/3
 *   weighted+quic        scoped/24,strict+quic (a UDP group speaking QUIC:
 *                                               include/pias/policy.h)
 */
#ifndef PIAS_LIB_POLICY_H
#define PIAS_LIB_POLICY_H

#include <stddef.h>

#include <pias/policy.h>

#include "err.h"

/* Room for the longest text form, "scoped/128,strict+quic" and its NUL. */
#define PIAS_POLICY_STRLEN 24

/* s for a group of family (PIAS_AF_*): 0, or -EINVAL naming what is wrong. */
int pias_policy_parse(const char *s, __u8 family, struct pias_policy *p, struct pias_err *e);
const char *pias_policy_str(const struct pias_policy *p, char *buf, size_t n);

#endif
