// SPDX-License-Identifier: MIT
/* piasd's configuration file: see config.h and docs/config.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include <pias/maps.h>
#include <pias/tunnel.h>

#include "config.h"
#include "ini_file.h"
#include "jap.h"
#include "outlier.h"

#define REQUIRED 0x1 /* must appear (address4/6 are checked together) */
#define REPEAT	 0x2 /* may appear more than once, values accumulate */

struct key;

typedef int (*parse_fn)(struct piasd_config *c, const struct key *k, const char *v,
			struct pias_err *why);

struct key {
	const char *section;
	const char *name;
	unsigned int flags;
	parse_fn parse;
	unsigned int min, max; /* for numbers */
	size_t off;	       /* field the generic parsers fill */
};

static const char *const sections[] = { "node",	       "iap",	  "jap",       "rap",
					"anycast",     "overlay", "dataplane", "keys",
					"connections", "metrics", "outlier",   NULL };

/* Reader and handler state. */
struct load {
	struct ini_file in; /* first: name, file, line, failure */
	struct piasd_config c;
	int line[64]; /* per key: where it was set, 0 if not */
};

#define FIELD(c, k, type) ((type *)((char *)(c) + (k)->off))

static int parse_uint_range(const char *v, unsigned int min, unsigned int max, unsigned int *out,
			    struct pias_err *why)
{
	unsigned long n;

	if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 9)
		return pias_err_set(why, -EINVAL, "'%s' is not a number %u-%u", v, min, max);
	n = strtoul(v, NULL, 10);
	if (n < min || n > max)
		return pias_err_set(why, -EINVAL, "%s is out of range %u-%u", v, min, max);
	*out = (unsigned int)n;
	return 0;
}

static int p_uint(struct piasd_config *c, const struct key *k, const char *v, struct pias_err *why)
{
	return parse_uint_range(v, k->min, k->max, FIELD(c, k, unsigned int), why);
}

static int p_u32(struct piasd_config *c, const struct key *k, const char *v, struct pias_err *why)
{
	unsigned int n;
	int err = parse_uint_range(v, k->min, k->max, &n, why);

	if (!err)
		*FIELD(c, k, __u32) = n;
	return err;
}

static int p_bool(struct piasd_config *c, const struct key *k, const char *v, struct pias_err *why)
{
	bool *b = FIELD(c, k, bool);

	if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))
		*b = true;
	else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"))
		*b = false;
	else
		return pias_err_set(why, -EINVAL, "'%s' is not on or off", v);
	return 0;
}

static int p_port(struct piasd_config *c, const struct key *k, const char *v, struct pias_err *why)
{
	return pias_port_parse(v, "port", FIELD(c, k, __u16), why);
}

/* An address of family k->min (0: either). */
static int p_addr(struct piasd_config *c, const struct key *k, const char *v, struct pias_err *why)
{
	struct piasd_addr a = {};
	int err = pias_addr_parse(v, &a.addr, &a.family, why);

	if (err)
		return err;
	if (k->min && a.family != k->min)
		return pias_err_set(why, -EINVAL, "'%s' is not an %s address", v,
				    k->min == PIAS_AF_INET ? "IPv4" : "IPv6");
	*FIELD(c, k, struct piasd_addr) = a;
	return 0;
}

static int p_path(struct piasd_config *c, const struct key *k, const char *v, struct pias_err *why)
{
	if (!*v)
		return pias_err_set(why, -EINVAL, "empty path");
	/* max, when set, is the field's size (a unix socket path is short) */
	size_t cap = k->max ? k->max : PATH_MAX;

	if (strlen(v) >= cap)
		return pias_err_set(why, -ENAMETOOLONG, "path is longer than %zu characters",
				    cap - 1);
	strcpy(FIELD(c, k, char), v);
	return 0;
}

/* [metrics] listen: off, or ADDR:PORT ([ADDR]:PORT for IPv6; the parser refuses port 0). */
static int p_listen(struct piasd_config *c, const struct key *k, const char *v,
		    struct pias_err *why)
{
	(void)k;
	if (!strcmp(v, "off")) {
		memset(&c->metrics_addr, 0, sizeof(c->metrics_addr));
		c->metrics_port = 0;
		return 0;
	}
	if (pias_endpoint_parse(v, &c->metrics_addr.addr, &c->metrics_addr.family, &c->metrics_port,
				why))
		return pias_err_set(why, -EINVAL,
				    "'%s': off, or ADDR:PORT like 127.0.0.1:9469 or [::1]:9469", v);
	return 0;
}

/* The next space-separated word of *s into buf[size]; its length, 0 at the end. */
static size_t next_word(const char **s, char *buf, size_t size)
{
	const char *p = *s + strspn(*s, " \t");
	size_t n = strcspn(p, " \t");

	*s = p + n;
	snprintf(buf, size, "%.*s", (int)n, p);
	return n;
}

static int p_interfaces(struct piasd_config *c, const struct key *k, const char *v,
			struct pias_err *why)
{
	char w[64];
	size_t n, i;

	(void)k;
	c->n_interfaces = 0;
	while ((n = next_word(&v, w, sizeof(w)))) {
		if (n >= IF_NAMESIZE)
			return pias_err_set(why, -EINVAL,
					    "interface name '%s' is longer than %d characters", w,
					    IF_NAMESIZE - 1);
		for (i = 0; i < c->n_interfaces; i++)
			if (!strcmp(c->interfaces[i], w))
				return pias_err_set(why, -EINVAL, "interface '%s' listed twice", w);
		if (c->n_interfaces == PIASD_CONFIG_MAX_INTERFACES)
			return pias_err_set(why, -E2BIG, "more than %d interfaces",
					    PIASD_CONFIG_MAX_INTERFACES);
		strcpy(c->interfaces[c->n_interfaces++], w);
	}
	if (!c->n_interfaces)
		return pias_err_set(why, -EINVAL, "expected at least one interface name");
	return 0;
}

static int p_prefix(struct piasd_config *c, const struct key *k, const char *v,
		    struct pias_err *why)
{
	struct pias_net n = {};
	size_t i;
	int err;

	(void)k;
	err = pias_net_parse(v, &n, why);
	if (err)
		return err;
	for (i = 0; i < c->n_prefixes; i++)
		if (!memcmp(&c->prefixes[i], &n, sizeof(n)))
			return pias_err_set(why, -EINVAL, "prefix %s listed twice", v);
	if (c->n_prefixes == PIASD_CONFIG_MAX_PREFIXES)
		return pias_err_set(why, -E2BIG, "more than %d prefixes",
				    PIASD_CONFIG_MAX_PREFIXES);
	c->prefixes[c->n_prefixes++] = n;
	return 0;
}

/* ADDR (port 0: the listen port, filled in at the end) or ADDR:PORT / [ADDR]:PORT. */
static int p_seeds(struct piasd_config *c, const struct key *k, const char *v, struct pias_err *why)
{
	struct piasd_seed s;
	char w[PIAS_ADDR_STRLEN + 1];
	size_t n;
	int err;

	(void)k;
	c->n_seeds = 0;
	while ((n = next_word(&v, w, sizeof(w)))) {
		memset(&s, 0, sizeof(s));
		if (n >= sizeof(w) - 1)
			return pias_err_set(why, -EINVAL, "seed '%s...' is too long", w);
		if (pias_addr_parse(w, &s.addr, &s.family, NULL)) {
			err = pias_endpoint_parse(w, &s.addr, &s.family, &s.port, why);
			if (err)
				return err;
		}
		if (c->n_seeds == PIASD_CONFIG_MAX_SEEDS)
			return pias_err_set(why, -E2BIG, "more than %d seeds",
					    PIASD_CONFIG_MAX_SEEDS);
		c->seeds[c->n_seeds++] = s;
	}
	return 0;
}

static int p_port_range(struct piasd_config *c, const struct key *k, const char *v,
			struct pias_err *why)
{
	char lo[8], hi[8];
	const char *dash = strchr(v, '-');
	unsigned int a, b;

	(void)k;
	if (!dash || dash == v || (size_t)(dash - v) >= sizeof(lo) ||
	    strlen(dash + 1) >= sizeof(hi))
		return pias_err_set(why, -EINVAL,
				    "'%s' is not a port range LO-HI (like 16384-32767)", v);
	snprintf(lo, sizeof(lo), "%.*s", (int)(dash - v), v);
	snprintf(hi, sizeof(hi), "%s", dash + 1);
	if (parse_uint_range(lo, 1, 65535, &a, NULL) || parse_uint_range(hi, 1, 65535, &b, NULL))
		return pias_err_set(why, -EINVAL,
				    "'%s' is not a port range LO-HI with ports 1-65535", v);
	if (a > b)
		return pias_err_set(why, -EINVAL, "'%s': LO is above HI", v);
	c->nat_port_min = (__u16)a;
	c->nat_port_max = (__u16)b;
	return 0;
}

/*
 * A NAT pool: ADDR, or FIRST-LAST of one family that differ only in the
 * last 32 bits (the dataplane counts addresses there), at most
 * PIAS_NAT_POOL_MAX of them. k->off is the first address, k->max the
 * offset of the count.
 */
static int p_nat_pool(struct piasd_config *c, const struct key *k, const char *v,
		      struct pias_err *why)
{
	struct piasd_addr *first = FIELD(c, k, struct piasd_addr), last;
	unsigned int *count = (unsigned int *)((char *)c + k->max);
	const char *dash = strchr(v, '-');
	char a[PIAS_ADDR_STRLEN + 1];
	__u32 lo, hi;
	int err;

	if (!dash) {
		*count = 1;
		if (pias_addr_parse(v, &first->addr, &first->family, why) ||
		    first->family != k->min)
			return pias_err_set(why, -EINVAL, "'%s' is not an %s address or range", v,
					    k->min == PIAS_AF_INET ? "IPv4" : "IPv6");
		return 0;
	}
	if ((size_t)(dash - v) >= sizeof(a))
		return pias_err_set(why, -EINVAL, "'%s' is not an address range FIRST-LAST", v);
	snprintf(a, sizeof(a), "%.*s", (int)(dash - v), v);
	err = pias_addr_parse(a, &first->addr, &first->family, why);
	if (!err)
		err = pias_addr_parse(dash + 1, &last.addr, &last.family, why);
	if (err || first->family != k->min || last.family != k->min)
		return pias_err_set(why, -EINVAL, "'%s' is not an %s address range FIRST-LAST", v,
				    k->min == PIAS_AF_INET ? "IPv4" : "IPv6");
	if (memcmp(first->addr.bytes, last.addr.bytes, k->min == PIAS_AF_INET ? 0 : 12))
		return pias_err_set(why, -EINVAL,
				    "'%s': the addresses may differ only in their last 32 bits", v);
	lo = ntohl(k->min == PIAS_AF_INET ? first->addr.v4 : first->addr.v6[3]);
	hi = ntohl(k->min == PIAS_AF_INET ? last.addr.v4 : last.addr.v6[3]);
	if (hi < lo)
		return pias_err_set(why, -EINVAL, "'%s': FIRST is above LAST", v);
	if (hi - lo >= PIAS_NAT_POOL_MAX)
		return pias_err_set(why, -EINVAL, "'%s' is %u addresses, more than %d", v,
				    hi - lo + 1, PIAS_NAT_POOL_MAX);
	*count = hi - lo + 1;
	return 0;
}

#define OFF(f) offsetof(struct piasd_config, f)

/* In the order missing keys are reported. */
static const struct key keys[] = {
	{ "node", "id", REQUIRED, p_u32, 1, PIAS_MAX_PROXIES - 1, OFF(node_id) },
	{ "node", "address4", 0, p_addr, PIAS_AF_INET, 0, OFF(addr4) },
	{ "node", "address6", 0, p_addr, PIAS_AF_INET6, 0, OFF(addr6) },
	{ "node", "nat4", 0, p_nat_pool, PIAS_AF_INET, OFF(nat4_count), OFF(nat4) },
	{ "node", "nat6", 0, p_nat_pool, PIAS_AF_INET6, OFF(nat6_count), OFF(nat6) },
	{ "node", "pin_root", 0, p_path, 0, 0, OFF(pin_root) },
	{ "node", "interfaces", REQUIRED, p_interfaces, 0, 0, 0 },
	{ "anycast", "prefix", REQUIRED | REPEAT, p_prefix, 0, 0, 0 },
	{ "anycast", "registration_address", REQUIRED, p_addr, 0, 0, OFF(registration_addr) },
	{ "anycast", "registration_port", 0, p_port, 0, 0, OFF(registration_port) },
	{ "overlay", "listen_port", 0, p_port, 0, 0, OFF(listen_port) },
	{ "overlay", "seeds", 0, p_seeds, 0, 0, 0 },
	{ "overlay", "rap_replicas", 0, p_uint, 1, PIAS_RAP_REPLICAS, OFF(rap_replicas) },
	{ "overlay", "probe_interval_ms", 0, p_uint, 10, 60000, OFF(probe_interval_ms) },
	{ "overlay", "suspect_timeout_ms", 0, p_uint, 20, 600000, OFF(suspect_timeout_ms) },
	{ "overlay", "reconnect_ms", 0, p_uint, 100, 600000, OFF(reconnect_ms) },
	{ "jap", "target_timeout_ms", 0, p_uint, 1, 999, OFF(target_timeout_ms) },
	{ "jap", "report_threshold_percent", 0, p_uint, 1, 100, OFF(report_threshold_percent) },
	{ "iap", "binding_ttl_s", 0, p_uint, 1, 86400, OFF(binding_ttl_s) },
	{ "dataplane", "tunnel_port", 0, p_port, 0, 0, OFF(tunnel_port) },
	{ "dataplane", "underlay_mtu", 0, p_uint, PIASD_UNDERLAY_MTU_MIN, PIASD_UNDERLAY_MTU_MAX,
	  OFF(underlay_mtu) },
	{ "dataplane", "nat_ports", 0, p_port_range, 0, 0, 0 },
	{ "keys", "overlay_key_file", REQUIRED, p_path, 0, 0, OFF(overlay_key_file) },
	{ "keys", "group_key_file", 0, p_path, 0, 0, OFF(group_key_file) },
	/* appended, not grouped by section: the K_* indexes below count positions */
	{ "node", "control_socket", 0, p_path, 0, 108, OFF(control_socket) },
	{ "rap", "proximity_percent", 0, p_uint, 0, 100, OFF(proximity_percent) },
	{ "anycast", "announce_command", 0, p_path, 0, 0, OFF(announce_command) },
	{ "jap", "drain_timeout_s", 0, p_uint, 1, 86400, OFF(drain_timeout_s) },
	{ "jap", "nat_high_water_percent", 0, p_uint, 1, 100, OFF(nat_high_water_percent) },
	{ "connections", "tcp_syn_timeout_s", 0, p_uint, 1, 3600, OFF(ct.tcp_syn) },
	{ "connections", "tcp_established_timeout_s", 0, p_uint, 60, 864000,
	  OFF(ct.tcp_established) },
	{ "connections", "tcp_fin_timeout_s", 0, p_uint, 1, 3600, OFF(ct.tcp_fin) },
	{ "connections", "tcp_close_timeout_s", 0, p_uint, 1, 3600, OFF(ct.tcp_close) },
	{ "connections", "tcp_time_wait_timeout_s", 0, p_uint, 1, 3600, OFF(ct.tcp_time_wait) },
	{ "connections", "udp_timeout_s", 0, p_uint, 1, 3600, OFF(ct.udp) },
	{ "connections", "udp_reply_timeout_s", 0, p_uint, 1, 3600, OFF(ct.udp_reply) },
	{ "connections", "udp_stream_timeout_s", 0, p_uint, 1, 86400, OFF(ct.udp_stream) },
	{ "overlay", "peer_msgs_per_s", 0, p_uint, 1, 10000000, OFF(peer_msgs_per_s) },
	{ "overlay", "peer_msgs_burst", 0, p_uint, 1, 100000000, OFF(peer_msgs_burst) },
	{ "anycast", "source_registrations_per_s", 0, p_uint, 1, 1000000, OFF(source_regs_per_s) },
	{ "anycast", "source_registrations_burst", 0, p_uint, 1, 10000000, OFF(source_regs_burst) },
	{ "overlay", "dataplane_echo_ms", 0, p_uint, 10, 60000, OFF(dataplane_echo_ms) },
	{ "overlay", "dataplane_timeout_ms", 0, p_uint, 0, 600000, OFF(dataplane_timeout_ms) },
	{ "jap", "group_size", 0, p_uint, 1, PIAS_JAP_GROUP_MAX_TARGETS, OFF(group_size) },
	{ "jap", "group_joins_per_s", 0, p_uint, 1, 1000000, OFF(group_joins_per_s) },
	{ "jap", "group_joins_burst", 0, p_uint, 1, 10000000, OFF(group_joins_burst) },
	{ "jap", "shed_threshold_percent", 0, p_uint, 0, 99, OFF(shed_threshold_percent) },
	{ "jap", "shed_hold_s", 0, p_uint, 1, 86400, OFF(shed_hold_s) },
	{ "jap", "conn_budget", 0, p_uint, 0, 100000000, OFF(conn_budget) },
	{ "jap", "affinity", 0, p_bool, 0, 0, OFF(affinity) },
	{ "jap", "affinity_queries_per_s", 0, p_uint, 1, 1000000, OFF(affinity_queries_per_s) },
	{ "metrics", "listen", 0, p_listen, 0, 0, 0 },
	{ "outlier", "consecutive_failures", 0, p_uint, 0, 1000000, OFF(outlier_consecutive) },
	{ "outlier", "no_reply_flows", 0, p_uint, 0, 1000000, OFF(outlier_no_reply_flows) },
	{ "outlier", "no_reply_ms", 0, p_uint, 100, 3000, OFF(outlier_no_reply_ms) },
	{ "outlier", "base_ejection_s", 0, p_uint, 1, 3600, OFF(outlier_base_ejection_s) },
	{ "outlier", "max_ejection_s", 0, p_uint, 1, 86400, OFF(outlier_max_ejection_s) },
	{ "outlier", "max_ejection_percent", 0, p_uint, 1, 100, OFF(outlier_max_percent) },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= sizeof(((struct load *)0)->line) / sizeof(int), "line[] too small");

enum {
	K_ID,
	K_ADDR4,
	K_ADDR6,
	K_NAT4,
	K_NAT6,
	K_REG_ADDR = 8,
	K_PROBE = 13,
	K_SUSPECT
};

static void defaults(struct piasd_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->pin_root, sizeof(c->pin_root), "%s", PIAS_PIN_ROOT_DEFAULT);
	snprintf(c->control_socket, sizeof(c->control_socket), "%s", PIASD_CONTROL_SOCKET_DEFAULT);
	c->registration_port = PIASD_REGISTRATION_PORT_DEFAULT;
	c->listen_port = PIASD_OVERLAY_PORT_DEFAULT;
	c->rap_replicas = PIASD_RAP_REPLICAS_DEFAULT;
	c->probe_interval_ms = PIASD_PROBE_INTERVAL_MS_DEFAULT;
	c->suspect_timeout_ms = PIASD_SUSPECT_TIMEOUT_MS_DEFAULT;
	c->reconnect_ms = PIASD_RECONNECT_MS_DEFAULT;
	c->peer_msgs_per_s = PIASD_PEER_MSGS_PER_S_DEFAULT;
	c->peer_msgs_burst = PIASD_PEER_MSGS_BURST_DEFAULT;
	c->dataplane_echo_ms = PIASD_DATAPLANE_ECHO_MS_DEFAULT;
	c->dataplane_timeout_ms = PIASD_DATAPLANE_TIMEOUT_MS_DEFAULT;
	c->source_regs_per_s = PIASD_SOURCE_REGS_PER_S_DEFAULT;
	c->source_regs_burst = PIASD_SOURCE_REGS_BURST_DEFAULT;
	c->target_timeout_ms = PIASD_TARGET_TIMEOUT_MS_DEFAULT;
	c->report_threshold_percent = PIASD_REPORT_THRESHOLD_PCT_DEFAULT;
	c->proximity_percent = PIASD_PROXIMITY_PERCENT_DEFAULT;
	c->binding_ttl_s = PIASD_BINDING_TTL_S_DEFAULT;
	c->tunnel_port = PIAS_TUN_PORT_DEFAULT;
	c->underlay_mtu = PIAS_DEFAULT_UNDERLAY_MTU;
	c->nat_port_min = PIAS_DEFAULT_NAT_PORT_MIN;
	c->nat_port_max = PIAS_DEFAULT_NAT_PORT_MAX;
	c->nat4_count = c->nat6_count = 1;
	c->drain_timeout_s = PIASD_DRAIN_TIMEOUT_S_DEFAULT;
	c->nat_high_water_percent = PIASD_NAT_HIGH_WATER_PCT_DEFAULT;
	c->group_size = PIASD_GROUP_SIZE_DEFAULT;
	c->group_joins_per_s = PIASD_GROUP_JOINS_PER_S_DEFAULT;
	c->group_joins_burst = PIASD_GROUP_JOINS_BURST_DEFAULT;
	c->shed_threshold_percent = PIASD_SHED_THRESHOLD_PCT_DEFAULT;
	c->shed_hold_s = PIASD_SHED_HOLD_S_DEFAULT;
	c->affinity = true;
	c->outlier_consecutive = PIAS_OUTLIER_CONSECUTIVE;
	c->outlier_no_reply_flows = PIAS_OUTLIER_NO_REPLY_FLOWS;
	c->outlier_no_reply_ms = PIAS_OUTLIER_NO_REPLY_NS / 1000000;
	c->outlier_base_ejection_s = PIAS_OUTLIER_BASE_EJECT_NS / 1000000000;
	c->outlier_max_ejection_s = PIAS_OUTLIER_MAX_EJECT_NS / 1000000000;
	c->outlier_max_percent = PIAS_OUTLIER_MAX_PERCENT;
	c->affinity_queries_per_s = PIASD_AFFINITY_QUERIES_PER_S_DEFAULT;
	c->ct = (struct pias_ct_timeouts){
		.tcp_syn = PIAS_CT_TCP_SYN_S,
		.tcp_established = PIAS_CT_TCP_ESTABLISHED_S,
		.tcp_fin = PIAS_CT_TCP_FIN_S,
		.tcp_close = PIAS_CT_TCP_CLOSE_S,
		.tcp_time_wait = PIAS_CT_TCP_TIME_WAIT_S,
		.udp = PIAS_CT_UDP_S,
		.udp_reply = PIAS_CT_UDP_REPLY_S,
		.udp_stream = PIAS_CT_UDP_STREAM_S,
	};
}

/* Record the first error as "NAME:LINE: ..." and stop. */
static int fail(struct load *l, int line, int code, const char *what, const char *msg)
{
	return ini_file_fail(&l->in, line, code, what, msg);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct load *l = user;
	struct pias_err why;
	char what[160];
	const struct key *k = NULL;
	size_t i;
	int err;

	if (l->in.failed)
		return 0;
	if (!*section) {
		snprintf(what, sizeof(what), "%.80s", name);
		return !fail(l, l->in.lineno, -EINVAL, what, "key outside any [section]");
	}
	if (!ini_file_known_section(&l->in, section)) {
		ini_file_fail_section(&l->in, section);
		return 0;
	}
	snprintf(what, sizeof(what), "[%s] %.80s", section, name);
	for (i = 0; i < NKEYS && !k; i++)
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
			k = &keys[i];
	if (!k)
		return !fail(l, l->in.lineno, -EINVAL, what, "unknown key");
	if (l->line[k - keys] && !(k->flags & REPEAT)) {
		snprintf(why.msg, sizeof(why.msg), "duplicate key (first set on line %d)",
			 l->line[k - keys]);
		return !fail(l, l->in.lineno, -EINVAL, what, why.msg);
	}
	l->line[k - keys] = l->in.lineno;
	err = k->parse(&l->c, k, value, &why);
	if (err)
		return !fail(l, l->in.lineno, err, what, why.msg);
	return 1;
}

static bool net_contains(const struct pias_net *n, const struct piasd_addr *a)
{
	unsigned int bytes = n->plen / 8, bits = n->plen % 8;

	if (n->family != a->family)
		return false;
	if (memcmp(n->addr.bytes, a->addr.bytes, bytes))
		return false;
	return !bits || !((n->addr.bytes[bytes] ^ a->addr.bytes[bytes]) & (0xff00 >> bits));
}

/* Checks across keys, once the whole file is read. */
static int finish(struct load *l)
{
	struct piasd_config *c = &l->c;
	int eof = l->in.lineno;
	char what[96], msg[160];
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (!(keys[i].flags & REQUIRED) || l->line[i])
			continue;
		snprintf(what, sizeof(what), "[%s] %s", keys[i].section, keys[i].name);
		return fail(l, eof, -EINVAL, what, "missing (required)");
	}
	if (!l->line[K_ADDR4] && !l->line[K_ADDR6])
		return fail(l, eof, -EINVAL, "[node] address4",
			    "missing (required: address4, address6 or both)");
	if (l->line[K_NAT4] && !l->line[K_ADDR4])
		return fail(l, l->line[K_NAT4], -EINVAL, "[node] nat4", "set without address4");
	if (l->line[K_NAT6] && !l->line[K_ADDR6])
		return fail(l, l->line[K_NAT6], -EINVAL, "[node] nat6", "set without address6");
	if (!l->line[K_NAT4])
		c->nat4 = c->addr4;
	if (!l->line[K_NAT6])
		c->nat6 = c->addr6;

	for (i = 0; i < c->n_prefixes; i++)
		if (net_contains(&c->prefixes[i], &c->registration_addr))
			break;
	if (i == c->n_prefixes) {
		char a[PIAS_ADDR_STRLEN];

		snprintf(msg, sizeof(msg), "%s is not inside any [anycast] prefix",
			 pias_addr_str(&c->registration_addr.addr, c->registration_addr.family, a,
				       sizeof(a)));
		return fail(l, l->line[K_REG_ADDR], -EINVAL, "[anycast] registration_address", msg);
	}

	if (c->suspect_timeout_ms <= c->probe_interval_ms) {
		bool s = l->line[K_SUSPECT];

		snprintf(msg, sizeof(msg),
			 "suspect_timeout_ms (%u) must be above probe_interval_ms (%u)",
			 c->suspect_timeout_ms, c->probe_interval_ms);
		return fail(l, s ? l->line[K_SUSPECT] : l->line[K_PROBE], -EINVAL,
			    s ? "[overlay] suspect_timeout_ms" : "[overlay] probe_interval_ms",
			    msg);
	}

	for (i = 0; i < c->n_seeds; i++)
		if (!c->seeds[i].port)
			c->seeds[i].port = c->listen_port;
	return 0;
}

static int load_file(const char *name, FILE *f, struct piasd_config *out, struct pias_err *e)
{
	struct load *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return pias_err_set(e, -ENOMEM, "%s: out of memory", name);
	l->in.name = name;
	l->in.f = f;
	l->in.e = e;
	l->in.sections = sections;
	l->in.expected = "node, anycast, overlay, jap, rap, iap, connections, dataplane or keys";
	defaults(&l->c);
	ret = ini_parse_stream(ini_file_reader, &l->in, handler, l);
	if (l->in.failed) {
		/* the error is in e */
	} else if (ret > 0) {
		fail(l, ret, -EINVAL, "syntax error", "expected '[section]' or 'key = value'");
	} else if (ret < 0) {
		fail(l, l->in.lineno, -ENOMEM, "error", "out of memory");
	} else if (ferror(f)) {
		fail(l, l->in.lineno, -EIO, "error", "read failed");
	} else if (!finish(l)) {
		*out = l->c;
		free(l);
		return 0;
	}
	ret = -EINVAL;
	free(l);
	return ret;
}

int piasd_config_load(const char *path, struct piasd_config *out, struct pias_err *e)
{
	FILE *f = fopen(path, "r");
	int ret, err;

	if (!f) {
		err = errno;
		return pias_err_set(e, -err, "%s: cannot open: %s", path, strerror(err));
	}
	ret = load_file(path, f, out, e);
	fclose(f);
	return ret;
}

int piasd_config_load_string(const char *name, const char *text, struct piasd_config *out,
			     struct pias_err *e)
{
	FILE *f;
	int ret;

	f = fmemopen((void *)text, strlen(text), "r");
	if (!f)
		return pias_err_set(e, -errno, "%s: cannot read: %s", name, strerror(errno));
	ret = load_file(name, f, out, e);
	fclose(f);
	return ret;
}
