/* SPDX-License-Identifier: MIT */
/*
 * The anycast addresses a tunnel-mode target puts on lo, over rtnetlink
 * (one request, one acknowledgement; no library). An address is host-sized:
 * IPv4 /32, IPv6 /128 without duplicate address detection (every target of
 * a group holds the same address; DAD would mark it tentative, then failed).
 */
#ifndef PIAS_PIASCTL_LO_ADDR_H
#define PIAS_PIASCTL_LO_ADDR_H

#include "addr.h"
#include "err.h"

/* Bring lo up (a no-op when it is): a down lo delivers nothing to its addresses. */
int lo_up(struct pias_err *e);

/* 1 if a is on lo (with any prefix length), 0 if not, or -errno. */
int lo_addr_has(const union pias_addr *a, __u8 family, struct pias_err *e);

/* Add a to lo: 0 if added, 1 if it was there already (EEXIST), or -errno. */
int lo_addr_add(const union pias_addr *a, __u8 family, struct pias_err *e);

/* Remove a (/32 or /128) from lo: 0 if removed or not there, or -errno. */
int lo_addr_del(const union pias_addr *a, __u8 family, struct pias_err *e);

#endif
