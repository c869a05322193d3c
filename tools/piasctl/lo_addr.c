// SPDX-License-Identifier: MIT
/* Addresses on lo over rtnetlink: RTM_NEWADDR/RTM_DELADDR/RTM_GETADDR, RTM_NEWLINK for up. */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lo_addr.h"

/* Big enough for any dump part the kernel sends (it sizes them to the reader, up to 32 KiB). */
#define NL_BUF 65536

struct nl_req {
	struct nlmsghdr nh;
	union {
		struct ifaddrmsg ifa;
		struct ifinfomsg ifi;
	};
	char attrs[64];
};

static int lo_index(struct pias_err *e)
{
	unsigned int i = if_nametoindex("lo");

	return i ? (int)i : pias_err_set(e, -errno, "no lo interface: %s", strerror(errno));
}

static int nl_open(struct pias_err *e)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	return fd >= 0 ? fd : pias_err_set(e, -errno, "rtnetlink socket: %s", strerror(errno));
}

static void nl_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/*
 * Send one request or dump; call fn on each answer until the ACK (0 or the
 * kernel's -errno) or NLMSG_DONE. fn returns nonzero to note a match; the
 * dump is read to its end either way, so the socket is left clean.
 */
static int nl_talk(struct nlmsghdr *req, int (*fn)(const struct nlmsghdr *, void *), void *arg,
		   int *matched)
{
	static char buf[NL_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
	int fd = nl_open(NULL), rc = -EPROTO;

	if (fd < 0)
		return fd;
	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	req->nlmsg_seq = 1;
	if (send(fd, req, req->nlmsg_len, 0) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *m = (struct nlmsghdr *)buf;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EPROTO;
			goto out;
		}
		for (; NLMSG_OK(m, (unsigned int)n); m = NLMSG_NEXT(m, n)) {
			if (m->nlmsg_seq != req->nlmsg_seq)
				continue;
			if (m->nlmsg_type == NLMSG_DONE) {
				rc = 0;
				goto out;
			}
			if (m->nlmsg_type == NLMSG_ERROR) {
				rc = ((struct nlmsgerr *)NLMSG_DATA(m))->error;
				goto out;
			}
			if (fn && fn(m, arg) && matched)
				*matched = 1;
		}
	}
out:
	close(fd);
	return rc;
}

static int addr_len(__u8 family)
{
	return family == PIAS_AF_INET ? 4 : 16;
}

static void addr_req(struct nl_req *r, __u16 type, __u16 flags, const union pias_addr *a,
		     __u8 family, int ifindex)
{
	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r->nh.nlmsg_type = type;
	r->nh.nlmsg_flags = flags;
	r->ifa.ifa_family = family == PIAS_AF_INET ? AF_INET : AF_INET6;
	r->ifa.ifa_prefixlen = family == PIAS_AF_INET ? 32 : 128;
	r->ifa.ifa_flags = family == PIAS_AF_INET ? 0 : IFA_F_NODAD;
	r->ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	r->ifa.ifa_index = ifindex;
	/* IFA_LOCAL is the address itself; IFA_ADDRESS the same on a non-p2p link. */
	nl_attr(&r->nh, IFA_LOCAL, a->bytes, addr_len(family));
	nl_attr(&r->nh, IFA_ADDRESS, a->bytes, addr_len(family));
}

int lo_up(struct pias_err *e)
{
	struct nl_req r;
	int idx = lo_index(e), rc;

	if (idx < 0)
		return idx;
	memset(&r, 0, sizeof(r));
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.nh.nlmsg_type = RTM_NEWLINK;
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = idx;
	r.ifi.ifi_flags = IFF_UP;
	r.ifi.ifi_change = IFF_UP;
	rc = nl_talk(&r.nh, NULL, NULL, NULL);
	return rc ? pias_err_set(e, rc, "setting lo up: %s", strerror(-rc)) : 0;
}

struct has_arg {
	const union pias_addr *a;
	__u8 family;
	int ifindex;
};

static int has_one(const struct nlmsghdr *m, void *arg)
{
	const struct has_arg *h = arg;
	const struct ifaddrmsg *ifa = NLMSG_DATA(m);
	int len = (int)IFA_PAYLOAD(m);
	const void *local = NULL, *address = NULL;

	if (m->nlmsg_type != RTM_NEWADDR || (int)ifa->ifa_index != h->ifindex)
		return 0;
	for (const struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if ((int)RTA_PAYLOAD(rta) != addr_len(h->family))
			continue;
		if (rta->rta_type == IFA_LOCAL)
			local = RTA_DATA(rta);
		else if (rta->rta_type == IFA_ADDRESS)
			address = RTA_DATA(rta);
	}
	if (!local)
		local = address;
	return local && !memcmp(local, h->a->bytes, addr_len(h->family));
}

int lo_addr_has(const union pias_addr *a, __u8 family, struct pias_err *e)
{
	struct has_arg h = { .a = a, .family = family, .ifindex = lo_index(e) };
	struct nl_req r;
	int found = 0, rc;

	if (h.ifindex < 0)
		return h.ifindex;
	memset(&r, 0, sizeof(r));
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r.nh.nlmsg_type = RTM_GETADDR;
	r.nh.nlmsg_flags = NLM_F_DUMP;
	r.ifa.ifa_family = family == PIAS_AF_INET ? AF_INET : AF_INET6;
	rc = nl_talk(&r.nh, has_one, &h, &found);
	if (rc)
		return pias_err_set(e, rc, "listing the addresses of lo: %s", strerror(-rc));
	return found;
}

int lo_addr_add(const union pias_addr *a, __u8 family, struct pias_err *e)
{
	char s[PIAS_ADDR_STRLEN];
	struct nl_req r;
	int idx = lo_index(e), rc;

	if (idx < 0)
		return idx;
	addr_req(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, a, family, idx);
	rc = nl_talk(&r.nh, NULL, NULL, NULL);
	if (rc == -EEXIST)
		return 1;
	if (rc)
		return pias_err_set(e, rc, "adding %s to lo: %s",
				    pias_addr_str(a, family, s, sizeof(s)), strerror(-rc));
	return 0;
}

int lo_addr_del(const union pias_addr *a, __u8 family, struct pias_err *e)
{
	char s[PIAS_ADDR_STRLEN];
	struct nl_req r;
	int idx = lo_index(e), rc;

	if (idx < 0)
		return idx;
	addr_req(&r, RTM_DELADDR, 0, a, family, idx);
	rc = nl_talk(&r.nh, NULL, NULL, NULL);
	if (rc == -EADDRNOTAVAIL || rc == -ENOENT)
		return 0;
	if (rc)
		return pias_err_set(e, rc, "removing %s from lo: %s",
				    pias_addr_str(a, family, s, sizeof(s)), strerror(-rc));
	return 0;
}
