// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

/* Inputs longer than this are not addresses; refusing them keeps buffers fixed. */
#define MAX_INPUT 128

int pias_addr_parse(const char *s, union pias_addr *a, __u8 *family, struct pias_err *e)
{
	union pias_addr out = {};

	if (!s || !*s)
		return pias_err_set(e, -EINVAL, "empty address");
	if (inet_pton(AF_INET, s, &out.v4) == 1) {
		*a = out;
		*family = PIAS_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out.bytes) == 1) {
		*a = out;
		*family = PIAS_AF_INET6;
		return 0;
	}
	return pias_err_set(e, -EINVAL, "'%s' is not an IPv4 or IPv6 address", s);
}

int pias_port_parse(const char *s, const char *what, __u16 *port, struct pias_err *e)
{
	unsigned long v;
	char *end;

	/* strtoul alone would take " +53" and "0x35"; ports are plain decimal. */
	if (!s || !*s || strspn(s, "0123456789") != strlen(s))
		return pias_err_set(e, -EINVAL, "%s '%s' is not a number 1-65535", what,
				    s ? s : "");
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || v < 1 || v > 65535)
		return pias_err_set(e, -EINVAL, "%s '%s' is out of range 1-65535", what, s);
	*port = (__u16)v;
	return 0;
}

/* Zero the bits of a beyond plen; return whether any were set. */
static int clear_host_bits(union pias_addr *a, unsigned int plen, unsigned int bits)
{
	int had = 0;

	for (unsigned int i = plen; i < bits; i++) {
		__u8 mask = (__u8)(0x80 >> (i % 8));

		if (a->bytes[i / 8] & mask)
			had = 1;
		a->bytes[i / 8] &= (__u8)~mask;
	}
	return had;
}

int pias_net_parse(const char *s, struct pias_net *n, struct pias_err *e)
{
	char buf[MAX_INPUT], fixed[PIAS_ADDR_STRLEN];
	struct pias_net out = {};
	unsigned long plen;
	unsigned int bits;
	char *slash, *end;
	int err;

	if (!s || !*s)
		return pias_err_set(e, -EINVAL, "empty prefix");
	if (strlen(s) >= sizeof(buf))
		return pias_err_set(e, -EINVAL, "prefix '%.40s...' is too long", s);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return pias_err_set(e, -EINVAL, "prefix '%s' has no /LENGTH (like 203.0.113.0/24)",
				    s);
	*slash = '\0';
	err = pias_addr_parse(buf, &out.addr, &out.family, NULL);
	if (err)
		return pias_err_set(e, err, "prefix '%s': '%s' is not an IPv4 or IPv6 address", s,
				    buf);
	bits = out.family == PIAS_AF_INET ? 32 : 128;
	errno = 0;
	plen = strtoul(slash + 1, &end, 10);
	if (!slash[1] || *end || errno || strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
	    plen > bits)
		return pias_err_set(e, -EINVAL, "prefix '%s': length '%s' is not a number 0-%u", s,
				    slash + 1, bits);
	out.plen = (__u8)plen;
	/*
	 * Host bits set usually mean a typo (a /24 where a /32 was meant); the
	 * LPM map would silently ignore them, so say what was probably meant.
	 */
	if (clear_host_bits(&out.addr, out.plen, bits))
		return pias_err_set(e, -EINVAL, "prefix '%s' has host bits set (did you mean %s?)",
				    s, pias_net_str(&out, fixed, sizeof(fixed)));
	*n = out;
	return 0;
}

/*
 * Split "ADDR:PORT" or "[V6]:PORT" (in place) into address and port text.
 * what names the whole input in messages ("endpoint 'x'").
 */
static int split_host_port(char *buf, const char *what, const char *s, char **host, char **port,
			   struct pias_err *e)
{
	char *colon;

	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close)
			return pias_err_set(e, -EINVAL, "%s '%s': '[' without ']'", what, s);
		if (close[1] != ':')
			return pias_err_set(e, -EINVAL, "%s '%s': expected ':PORT' after ']'", what,
					    s);
		*close = '\0';
		*host = buf + 1;
		*port = close + 2;
		return 0;
	}
	colon = strrchr(buf, ':');
	if (!colon)
		return pias_err_set(e, -EINVAL, "%s '%s': expected ADDR:PORT", what, s);
	*colon = '\0';
	if (strchr(buf, ':'))
		return pias_err_set(
			e, -EINVAL,
			"%s '%s': write an IPv6 address in brackets, like [2001:db8::1]:80", what,
			s);
	*host = buf;
	*port = colon + 1;
	return 0;
}

/* Parse "ADDR:PORT" / "[V6]:PORT"; brackets must hold IPv6 and only IPv6. */
static int parse_host_port(const char *in, const char *what, const char *s, union pias_addr *a,
			   __u8 *family, __u16 *port, struct pias_err *e)
{
	char buf[MAX_INPUT], pwhat[MAX_INPUT + 32];
	char *host = NULL, *ptext = NULL;
	int bracketed, err;

	if (strlen(in) >= sizeof(buf))
		return pias_err_set(e, -EINVAL, "%s '%.40s...' is too long", what, s);
	strcpy(buf, in);
	bracketed = buf[0] == '[';
	err = split_host_port(buf, what, s, &host, &ptext, e);
	if (err)
		return err;
	if (pias_addr_parse(host, a, family, NULL))
		return pias_err_set(e, -EINVAL, "%s '%s': '%s' is not an IPv4 or IPv6 address",
				    what, s, host);
	if (bracketed && *family != PIAS_AF_INET6)
		return pias_err_set(e, -EINVAL, "%s '%s': brackets are for IPv6 addresses only",
				    what, s);
	snprintf(pwhat, sizeof(pwhat), "%s '%s': port", what, s);
	return pias_port_parse(ptext, pwhat, port, e);
}

int pias_endpoint_parse(const char *s, union pias_addr *a, __u8 *family, __u16 *port,
			struct pias_err *e)
{
	if (!s || !*s)
		return pias_err_set(e, -EINVAL, "empty endpoint (expected ADDR:PORT)");
	return parse_host_port(s, "endpoint", s, a, family, port, e);
}

int pias_ta_parse(const char *s, struct pias_ta *ta, struct pias_err *e)
{
	struct pias_ta out = {};
	const char *colon;
	size_t plen;
	int err;

	if (!s || !*s)
		return pias_err_set(
			e, -EINVAL,
			"empty transport address (expected PROTO:ADDR:PORT, like udp:203.0.113.10:53)");
	colon = strchr(s, ':');
	plen = colon ? (size_t)(colon - s) : 0;
	if (plen == 3 && !strncasecmp(s, "udp", 3))
		out.proto = PIAS_PROTO_UDP;
	else if (plen == 3 && !strncasecmp(s, "tcp", 3))
		out.proto = PIAS_PROTO_TCP;
	else if (!colon)
		return pias_err_set(
			e, -EINVAL,
			"transport address '%s': expected PROTO:ADDR:PORT, like udp:203.0.113.10:53",
			s);
	else
		return pias_err_set(e, -EINVAL,
				    "transport address '%s': protocol '%.*s' is not udp or tcp", s,
				    (int)plen, s);
	err = parse_host_port(colon + 1, "transport address", s, &out.addr, &out.family, &out.port,
			      e);
	if (err)
		return err;
	*ta = out;
	return 0;
}

int pias_ta_check(const struct pias_ta *ta, struct pias_err *e)
{
	if (ta->proto != PIAS_PROTO_UDP && ta->proto != PIAS_PROTO_TCP)
		return pias_err_set(e, -EINVAL, "transport address: protocol %u is not udp or tcp",
				    ta->proto);
	if (ta->family != PIAS_AF_INET && ta->family != PIAS_AF_INET6)
		return pias_err_set(e, -EINVAL, "transport address: family %u is not IPv4 or IPv6",
				    ta->family);
	if (ta->family == PIAS_AF_INET && (ta->addr.v6[1] || ta->addr.v6[2] || ta->addr.v6[3]))
		return pias_err_set(e, -EINVAL,
				    "transport address: IPv4 address with more than 4 bytes");
	if (!ta->port)
		return pias_err_set(e, -EINVAL, "transport address: port 0 is not valid");
	return 0;
}

const char *pias_addr_str(const union pias_addr *a, __u8 family, char *buf, size_t len)
{
	const char *r = NULL;

	if (family == PIAS_AF_INET)
		r = inet_ntop(AF_INET, &a->v4, buf, (socklen_t)len);
	else if (family == PIAS_AF_INET6)
		r = inet_ntop(AF_INET6, a->bytes, buf, (socklen_t)len);
	if (!r)
		snprintf(buf, len, "?");
	return buf;
}

const char *pias_net_str(const struct pias_net *n, char *buf, size_t len)
{
	char a[PIAS_ADDR_STRLEN];

	snprintf(buf, len, "%s/%u", pias_addr_str(&n->addr, n->family, a, sizeof(a)), n->plen);
	return buf;
}

const char *pias_endpoint_str(const union pias_addr *a, __u8 family, __u16 port, char *buf,
			      size_t len)
{
	char s[INET6_ADDRSTRLEN];

	pias_addr_str(a, family, s, sizeof(s));
	if (family == PIAS_AF_INET6)
		snprintf(buf, len, "[%s]:%u", s, port);
	else
		snprintf(buf, len, "%s:%u", s, port);
	return buf;
}

const char *pias_proto_name(__u8 proto)
{
	switch (proto) {
	case PIAS_PROTO_UDP:
		return "udp";
	case PIAS_PROTO_TCP:
		return "tcp";
	}
	return NULL;
}

const char *pias_ta_str(const struct pias_ta *ta, char *buf, size_t len)
{
	char ep[INET6_ADDRSTRLEN + 8];
	const char *p = pias_proto_name(ta->proto);
	char num[8];

	if (!p) {
		snprintf(num, sizeof(num), "%u", ta->proto);
		p = num;
	}
	snprintf(buf, len, "%s:%s", p,
		 pias_endpoint_str(&ta->addr, ta->family, ta->port, ep, sizeof(ep)));
	return buf;
}

bool pias_net_contains(const struct pias_net *n, const union pias_addr *a, __u8 family)
{
	unsigned int bits = n->plen;

	if (n->family != family)
		return false;
	for (unsigned int i = 0; i < 16 && bits; i++) {
		unsigned int take = bits < 8 ? bits : 8;
		__u8 mask = (__u8)(0xff00 >> take);

		if ((a->bytes[i] ^ n->addr.bytes[i]) & mask)
			return false;
		bits -= take;
	}
	return true;
}
