/* SPDX-License-Identifier: MIT */
/*
 * The two interfaces pias-delay relays between: looked up, brought up, and
 * their offloads set for the relay's life, each change undone at exit.
 */
#ifndef PIAS_DELAY_IFACE_H
#define PIAS_DELAY_IFACE_H

#include <net/if.h>
#include <stdint.h>

enum {
	IFACE_OFFLOADS = 4
};

struct iface {
	char name[IF_NAMESIZE];
	int ifindex;
	int mtu;
	int brought_up; /* it was down: set down again at exit */
	/* offloads changed, and what they were (ETHTOOL_G* values) */
	int changed[IFACE_OFFLOADS];
	uint32_t was[IFACE_OFFLOADS];
};

/*
 * Fills i for interface name of this network namespace: 0, or -errno with a
 * message in err (-ENODEV: no such interface).
 */
int iface_lookup(struct iface *i, const char *name, char *err, size_t errlen);

/* Sets the interface up if it is not: 0 or -errno with a message. */
int iface_up(struct iface *i, char *err, size_t errlen);

/*
 * Turns GSO, TSO and transmit checksumming off (SIOCETHTOOL), so that what
 * the relay sends leaves as the frames a wire carries: none larger than
 * the MTU, all with full checksums (the kernel cuts and sums in software).
 * GRO is set to gro: off, every frame crosses the relay on its own; on,
 * back-to-back TCP segments cross as one (far cheaper under load) and are
 * cut again on the way out. A setting the driver cannot change is left as
 * it is (the relay copes with whatever arrives): returns how many, their
 * names in err.
 */
int iface_offloads(struct iface *i, int gro, char *err, size_t errlen);

/* Undoes iface_offloads_off and iface_up; best effort (exit path). */
void iface_restore(struct iface *i);

#endif
