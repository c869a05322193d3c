/* SPDX-License-Identifier: MIT */
/*
 * The network namespace C tests run in. The calling process unshares a new
 * network namespace, so everything here dies with the process: nothing to
 * clean up, nothing left behind by a crashed test, nothing touched outside.
 *
 * Two veth pairs give two links, so that a route out of the ingress link
 * (XDP_TX) and out of the other link (XDP_REDIRECT) can both be tested.
 * Neighbours are static with fixed MACs and forwarding is on, so that
 * bpf_fib_lookup answers the same way on every run.
 *
 *   link 0: pias0 (MAC 02:00:00:00:00:01) <-> pias0p
 *           192.0.2.1/25            2001:db8:1::1/64
 *     neighbours  .2  .3  .50  .126(gw)   ::2  ::3  ::50  ::fe(gw)
 *     MAC 02:00:00:00:00:NN, NN = last byte of the IPv4 address
 *     routes  203.0.113.128/25 via 192.0.2.126, 2001:db8:c::/48 via 2001:db8:1::fe
 *   link 1: pias1 (MAC 02:00:00:00:01:01) <-> pias1p
 *           198.51.100.1/25         2001:db8:2::1/64
 *     neighbours  .4  .10  .11  .12       ::4  ::10 ::11 ::12
 *     MAC 02:00:00:00:01:NN, NN = last byte of the IPv4 address
 *
 * Unrouted: 192.0.2.200 and 2001:db8:ffff::/48 (no default route). On-link
 * but without a neighbour: 192.0.2.99 and 2001:db8:1::99.
 */
#ifndef PIAS_TEST_NETNS_H
#define PIAS_TEST_NETNS_H

#include <stddef.h>
#include <stdint.h>

#define NS_LINK0 "pias0"
#define NS_LINK1 "pias1"

struct netns_env {
	int ifindex[2];	   /* pias0, pias1: where the XDP program "receives" */
	uint8_t mac[2][6]; /* their MACs: the source MAC of what leaves by them */
	int peer_ifindex[2];
};

/*
 * Unshares the network namespace of the calling process and builds the
 * links above. Returns 0, or -1 with the reason printed on stderr.
 */
int netns_setup(struct netns_env *env);

/*
 * Gives a neighbour of the plan another MAC (NULL: its own again), as a
 * host replaced behind the same address would; 0 or -1.
 */
int netns_neigh_set(const char *addr, const char *mac);

/* The fixed MAC of a neighbour in the plan above (address as text); 0 or -1. */
int netns_neigh_mac(const char *addr, uint8_t mac[6]);

/*
 * A packet socket on ifindex (a link's peer: what leaves by the link
 * arrives there) that sees every frame; the fd, or -1 with the reason
 * printed. Close it when done.
 */
int netns_capture_open(int ifindex);
/* The next frame into buf within timeout_ms: its length, 0 on timeout, or -1. */
int netns_capture_next(int fd, uint8_t *buf, size_t n, int timeout_ms);

#endif
