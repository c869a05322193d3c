/* SPDX-License-Identifier: MIT */
/* Shared by the JAP and reverse-path tests: a group with targets, and NAT. */
#ifndef PIAS_TEST_JAP_UTIL_H
#define PIAS_TEST_JAP_UTIL_H

#include "world.h"

/* The client packet as it reaches the JAP: TTL 63 after the IAP. */
struct pkt_spec jap_inner(const struct tcase *tc, uint16_t sport);
uint16_t target_port(uint8_t proto);
/* Target 'id' (ACTIVE, weight) in the target set of tc's TA, with others. */
void jap_targets(const struct tcase *tc, const uint32_t *ids, const uint32_t *weights, int n);
/* The tunnel frame a RAP sends us for inner: kind 2, hops 2, iap IAP_FAR. */
void jap_tunnel(struct pkt *out, const struct tcase *tc, const struct pkt_spec *inner,
		uint8_t flags, uint32_t excl);
/* The frame the JAP must send to target tid, NAT port nat_port. */
void expect_nat(struct pkt *out, const struct pkt_spec *inner, uint32_t tid, uint16_t tport,
		uint16_t nat_port);
/* Key of the reverse entry for a connection. */
struct pias_flow rev_key_of(const struct pkt_spec *inner, uint32_t tid, uint16_t tport,
			    uint16_t nat_port);
/*
 * Checks the connection of inner: forward entry to tid, reverse entry back
 * to the client flow, NAT port in range. Returns the NAT port.
 */
#define assert_conn(inner, tid, tport) check_conn(__FILE__, __LINE__, inner, tid, tport)
uint16_t check_conn(const char *file, int line, const struct pkt_spec *inner, uint32_t tid,
		    uint16_t tport);
/* Which target a NATed frame went to (by destination address), 0 if none. */
uint32_t target_of_frame(const struct pr_result *res);

/* Opens a connection of the client flow c to target tid (alone in its
 * set); its NAT port. Counters are zeroed afterwards. */
uint16_t open_conn(const struct tcase *tc, const struct pkt_spec *c, uint32_t tid);
/* The target's reply to client flow c, as it arrives at the JAP (to NAT
 * address nat, or the pool's first). */
struct pkt_spec reply_to(const struct pkt_spec *c, uint32_t tid, const char *nat, uint16_t nat_port,
			 uint8_t tcp_flags);
struct pkt_spec reply_of(const struct pkt_spec *c, uint32_t tid, uint16_t nat_port,
			 uint8_t tcp_flags);
/* What the client must receive for reply r of client flow c. */
void expect_to_client(struct pkt *out, const struct pkt_spec *r, const struct pkt_spec *c);

#endif
