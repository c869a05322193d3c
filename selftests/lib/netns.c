// SPDX-License-Identifier: MIT
/*
 * Test network namespace (see netns.h). Configured with `ip -batch` rather
 * than raw netlink: the commands read like the plan in netns.h, and iproute2
 * is part of the platform. Sysctls are written through /proc/sys, which is
 * per namespace for the process that opens it.
 */
#define _GNU_SOURCE
#include "netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct neigh {
	const char *addr;
	int link;
	const char *mac;
};

/* The same host answers on IPv4 and IPv6 with one MAC, as a real one would. */
static const struct neigh neighbours[] = {
	{ "192.0.2.2", 0, "02:00:00:00:00:02" },     { "2001:db8:1::2", 0, "02:00:00:00:00:02" },
	{ "192.0.2.3", 0, "02:00:00:00:00:03" },     { "2001:db8:1::3", 0, "02:00:00:00:00:03" },
	{ "192.0.2.50", 0, "02:00:00:00:00:32" },    { "2001:db8:1::50", 0, "02:00:00:00:00:32" },
	{ "192.0.2.126", 0, "02:00:00:00:00:7e" },   { "2001:db8:1::fe", 0, "02:00:00:00:00:7e" },
	{ "198.51.100.4", 1, "02:00:00:00:01:04" },  { "2001:db8:2::4", 1, "02:00:00:00:01:04" },
	{ "198.51.100.10", 1, "02:00:00:00:01:0a" }, { "2001:db8:2::10", 1, "02:00:00:00:01:0a" },
	{ "198.51.100.11", 1, "02:00:00:00:01:0b" }, { "2001:db8:2::11", 1, "02:00:00:00:01:0b" },
	{ "198.51.100.12", 1, "02:00:00:00:01:0c" }, { "2001:db8:2::12", 1, "02:00:00:00:01:0c" },
};

static const char *const link_mac[2] = { "02:00:00:00:00:01", "02:00:00:00:01:01" };

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

int netns_neigh_mac(const char *addr, uint8_t mac[6])
{
	for (size_t i = 0; i < sizeof(neighbours) / sizeof(neighbours[0]); i++)
		if (!strcmp(neighbours[i].addr, addr))
			return parse_mac(neighbours[i].mac, mac);
	return -1;
}

static int write_sysctl(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f) {
		fprintf(stderr, "netns: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = fputs(val, f) < 0 ? -1 : 0;
	if (fclose(f))
		rc = -1;
	if (rc)
		fprintf(stderr, "netns: write %s=%s failed\n", path, val);
	return rc;
}

static int run_ip_batch(const char *cmds)
{
	FILE *p = popen("ip -batch -", "w");
	int st;

	if (!p) {
		fprintf(stderr, "netns: cannot run ip: %s\n", strerror(errno));
		return -1;
	}
	fputs(cmds, p);
	st = pclose(p);
	if (st) {
		fprintf(stderr, "netns: ip -batch failed (status %d) on:\n%s", st, cmds);
		return -1;
	}
	return 0;
}

int netns_neigh_set(const char *addr, const char *mac)
{
	char cmd[160];

	for (size_t i = 0; i < sizeof(neighbours) / sizeof(neighbours[0]); i++) {
		if (strcmp(neighbours[i].addr, addr))
			continue;
		snprintf(cmd, sizeof(cmd), "neigh replace %s lladdr %s nud permanent dev pias%d\n",
			 addr, mac ? mac : neighbours[i].mac, neighbours[i].link);
		return run_ip_batch(cmd);
	}
	fprintf(stderr, "netns: %s is no neighbour of the plan\n", addr);
	return -1;
}

int netns_setup(struct netns_env *env)
{
	char cmds[8192];
	size_t n = 0;

	memset(env, 0, sizeof(*env));
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "netns: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	/* no DAD: addresses must be usable at once, not after a second of probing */
	if (write_sysctl("/proc/sys/net/ipv6/conf/default/accept_dad", "0") ||
	    write_sysctl("/proc/sys/net/ipv6/conf/all/accept_dad", "0"))
		return -1;

#define ADD(...) n += (size_t)snprintf(cmds + n, sizeof(cmds) - n, __VA_ARGS__)
	ADD("link set lo up\n");
	for (int l = 0; l < 2; l++) {
		ADD("link add pias%d address %s type veth peer name pias%dp\n", l, link_mac[l], l);
		ADD("link set pias%d up\nlink set pias%dp up\n", l, l);
	}
	ADD("addr add 192.0.2.1/25 dev pias0\n");
	ADD("addr add 2001:db8:1::1/64 dev pias0 nodad\n");
	ADD("addr add 198.51.100.1/25 dev pias1\n");
	ADD("addr add 2001:db8:2::1/64 dev pias1 nodad\n");
	for (size_t i = 0; i < sizeof(neighbours) / sizeof(neighbours[0]); i++)
		ADD("neigh replace %s lladdr %s nud permanent dev pias%d\n", neighbours[i].addr,
		    neighbours[i].mac, neighbours[i].link);
	ADD("route add 203.0.113.128/25 via 192.0.2.126 dev pias0\n");
	ADD("route add 2001:db8:c::/48 via 2001:db8:1::fe dev pias0\n");
#undef ADD
	if (n >= sizeof(cmds)) {
		fprintf(stderr, "netns: command buffer too small\n");
		return -1;
	}
	if (run_ip_batch(cmds))
		return -1;

	/* after the links exist: "all" propagates to every existing device */
	if (write_sysctl("/proc/sys/net/ipv4/ip_forward", "1") ||
	    write_sysctl("/proc/sys/net/ipv4/conf/all/forwarding", "1") ||
	    write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1") ||
	    write_sysctl("/proc/sys/net/ipv6/conf/default/forwarding", "1"))
		return -1;

	for (int l = 0; l < 2; l++) {
		char name[IFNAMSIZ];

		snprintf(name, sizeof(name), "pias%d", l);
		env->ifindex[l] = (int)if_nametoindex(name);
		snprintf(name, sizeof(name), "pias%dp", l);
		env->peer_ifindex[l] = (int)if_nametoindex(name);
		if (!env->ifindex[l] || !env->peer_ifindex[l]) {
			fprintf(stderr, "netns: pias%d missing after setup\n", l);
			return -1;
		}
		parse_mac(link_mac[l], env->mac[l]);
	}
	return 0;
}

int netns_capture_open(int ifindex)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = ifindex };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		fprintf(stderr, "netns: packet socket on ifindex %d: %s\n", ifindex,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int netns_capture_next(int fd, uint8_t *buf, size_t n, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t len;
	int rc = poll(&p, 1, timeout_ms);

	if (rc <= 0)
		return rc;
	len = recv(fd, buf, n, 0);
	return len < 0 ? -1 : (int)len;
}
