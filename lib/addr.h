/* SPDX-License-Identifier: MIT */
/*
 * Text forms of addresses, prefixes, transport addresses and endpoints, as
 * operators type them and tools print them:
 *
 *   address    203.0.113.10            2001:db8:a::1
 *   prefix     203.0.113.0/24          2001:db8:a::/48
 *   TA         udp:203.0.113.10:53     tcp:[2001:db8:a::1]:80
 *   endpoint   198.51.100.7:8080       [2001:db8:b::7]:8080
 *
 * Parsed values follow include/pias/addr.h: IPv4 in .v4 with the other words
 * zero, ports in host order, keys zero-filled so they compare bytewise.
 */
#ifndef PIAS_LIB_ADDR_H
#define PIAS_LIB_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include <pias/addr.h>

#include "err.h"

/* Room for the longest text form: "tcp:[" + 45 + "]:65535" + NUL. */
#define PIAS_ADDR_STRLEN 64

/* A prefix: address (host bits zero) and length. */
struct pias_net {
	union pias_addr addr;
	__u8 family;
	__u8 plen;
};

int pias_addr_parse(const char *s, union pias_addr *a, __u8 *family, struct pias_err *e);
int pias_net_parse(const char *s, struct pias_net *n, struct pias_err *e);
int pias_ta_parse(const char *s, struct pias_ta *ta, struct pias_err *e);
int pias_endpoint_parse(const char *s, union pias_addr *a, __u8 *family, __u16 *port,
			struct pias_err *e);
/* A port 1-65535; what names the port in the error message. */
int pias_port_parse(const char *s, const char *what, __u16 *port, struct pias_err *e);

/*
 * A TA as a map key: udp or tcp, IPv4 (upper words zero) or IPv6, port
 * non-zero. Parsed TAs always pass; this guards keys built by hand.
 */
/* Is a (family) inside n? */
bool pias_net_contains(const struct pias_net *n, const union pias_addr *a, __u8 family);
int pias_ta_check(const struct pias_ta *ta, struct pias_err *e);

/* Formatters write into buf and return it; a bad family prints "?". */
const char *pias_addr_str(const union pias_addr *a, __u8 family, char *buf, size_t len);
const char *pias_net_str(const struct pias_net *n, char *buf, size_t len);
const char *pias_ta_str(const struct pias_ta *ta, char *buf, size_t len);
const char *pias_endpoint_str(const union pias_addr *a, __u8 family, __u16 port, char *buf,
			      size_t len);

/* Protocol name ("udp", "tcp") or NULL. */
const char *pias_proto_name(__u8 proto);

#endif
