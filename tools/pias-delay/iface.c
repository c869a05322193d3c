// SPDX-License-Identifier: MIT
/* Interface set-up for pias-delay: index, MTU, up, offloads (iface.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>

#include "iface.h"

/* Set in this order (GRO first: its index is 0), restored in reverse: the
 * kernel refuses TSO while checksumming is off, so checksumming comes back
 * before TSO. */
static const struct {
	uint32_t get, set;
	const char *name;
} offloads[IFACE_OFFLOADS] = {
	{ ETHTOOL_GGRO, ETHTOOL_SGRO, "gro" },
	{ ETHTOOL_GGSO, ETHTOOL_SGSO, "gso" },
	{ ETHTOOL_GTSO, ETHTOOL_STSO, "tso" },
	{ ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM, "tx" },
};

/* Any socket carries the interface ioctls (the kernel's dev_ioctl). */
static int ctl_socket(void)
{
	return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static void ifr_init(struct ifreq *ifr, const struct iface *i)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", i->name);
}

int iface_lookup(struct iface *i, const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, r = 0;

	memset(i, 0, sizeof(*i));
	if (strlen(name) >= sizeof(i->name)) {
		snprintf(err, errlen, "interface name '%s' is too long", name);
		return -EINVAL;
	}
	snprintf(i->name, sizeof(i->name), "%s", name);
	i->ifindex = (int)if_nametoindex(name);
	if (!i->ifindex) {
		r = -errno;
		if (r == -ENODEV || r == -ENXIO)
			snprintf(err, errlen, "no interface '%s' in this network namespace", name);
		else
			snprintf(err, errlen, "interface '%s': %s", name, strerror(-r));
		return r == -ENXIO ? -ENODEV : r;
	}
	fd = ctl_socket();
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(-r));
		return r;
	}
	ifr_init(&ifr, i);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) {
		r = -errno;
		snprintf(err, errlen, "interface '%s': MTU: %s", name, strerror(-r));
	} else {
		i->mtu = ifr.ifr_mtu;
	}
	close(fd);
	return r;
}

int iface_up(struct iface *i, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, r = 0;

	fd = ctl_socket();
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(-r));
		return r;
	}
	ifr_init(&ifr, i);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		r = -errno;
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
		else
			i->brought_up = 1;
	}
	if (r)
		snprintf(err, errlen, "interface '%s': setting it up: %s", i->name, strerror(-r));
	close(fd);
	return r;
}

static int ethtool_value(int fd, const struct iface *i, uint32_t cmd, uint32_t *val)
{
	struct ethtool_value ev = { .cmd = cmd, .data = *val };
	struct ifreq ifr;

	ifr_init(&ifr, i);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return -errno;
	*val = ev.data;
	return 0;
}

int iface_offloads(struct iface *i, int gro, char *err, size_t errlen)
{
	int fd, failed = 0;
	size_t n = 0;

	err[0] = 0;
	fd = ctl_socket();
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return IFACE_OFFLOADS;
	}
	for (int k = 0; k < IFACE_OFFLOADS; k++) {
		uint32_t want = k == 0 && gro, v = 0, set = want;
		int r = ethtool_value(fd, i, offloads[k].get, &v);

		if (!r && !v == !want)
			continue; /* already so */
		if (!r)
			r = ethtool_value(fd, i, offloads[k].set, &set);
		if (r) {
			failed++;
			if (n < errlen)
				n += (size_t)snprintf(err + n, errlen - n, "%s%s (%s)",
						      n ? ", " : "", offloads[k].name,
						      strerror(-r));
			continue;
		}
		i->changed[k] = 1;
		i->was[k] = v;
	}
	close(fd);
	return failed;
}

void iface_restore(struct iface *i)
{
	struct ifreq ifr;
	int fd = ctl_socket();

	if (fd < 0)
		return;
	for (int k = IFACE_OFFLOADS - 1; k >= 0; k--) {
		if (i->changed[k]) {
			uint32_t v = i->was[k];

			ethtool_value(fd, i, offloads[k].set, &v);
			i->changed[k] = 0;
		}
	}
	if (i->brought_up) {
		ifr_init(&ifr, i);
		if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
			ifr.ifr_flags &= ~IFF_UP;
			ioctl(fd, SIOCSIFFLAGS, &ifr);
		}
		i->brought_up = 0;
	}
	close(fd);
}
