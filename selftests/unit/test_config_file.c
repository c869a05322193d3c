// SPDX-License-Identifier: MIT
/* daemon/config: piasd's INI configuration file, its defaults and its errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pias/maps.h>
#include <pias/tunnel.h>

#include "config.h"
#include "unit.h"

#define NAME "t.conf"

/* 9 lines: everything required and nothing else. */
#define MIN_NODE                                                                                   \
	"[node]\n"                                                                                 \
	"id = 7\n"                                                                                 \
	"address4 = 192.0.2.7\n"                                                                   \
	"interfaces = eth0\n"
#define MIN_ANYCAST                                                                                \
	"[anycast]\n"                                                                              \
	"prefix = 203.0.113.0/24\n"                                                                \
	"registration_address = 203.0.113.1\n"
#define MIN_KEYS                                                                                   \
	"[keys]\n"                                                                                 \
	"overlay_key_file = /etc/pias/overlay.key\n"
#define MINIMAL MIN_NODE MIN_ANYCAST MIN_KEYS

static struct piasd_config *new_config(void)
{
	struct piasd_config *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	return c;
}

/* text fails with exactly want; the config is left untouched. */
static void expect_error(const char *text, const char *want)
{
	struct piasd_config *c = new_config();
	struct pias_err e = {};
	int err;

	memset(c, 0xa5, sizeof(*c));
	err = piasd_config_load_string(NAME, text, c, &e);
	if (err >= 0 || strcmp(e.msg, want))
		fail_msg("got %d '%s', want '%s'", err, e.msg, want);
	for (size_t i = 0; i < sizeof(*c); i++)
		assert_int_equal(((unsigned char *)c)[i], 0xa5);
	free(c);
}

static void load_ok(const char *text, struct piasd_config *c)
{
	struct pias_err e = {};
	int err = piasd_config_load_string(NAME, text, c, &e);

	if (err)
		fail_msg("load failed: %d '%s'", err, e.msg);
}

static void assert_addr(const struct piasd_addr *a, const char *want)
{
	char buf[PIAS_ADDR_STRLEN];

	assert_string_equal(pias_addr_str(&a->addr, a->family, buf, sizeof(buf)), want);
}

static void full_file(void **state)
{
	static const char text[] = "; a full configuration\n"
				   "[node]\n"
				   "id = 131071\n"
				   "address4 = 192.0.2.7\n"
				   "address6 = 2001:db8::7\n"
				   "nat4 = 198.51.100.7-198.51.100.10\n"
				   "nat6 = 2001:db8:1::7\n"
				   "pin_root = /sys/fs/bpf/pias2\n"
				   "interfaces = eth0  eth1\teth2\n"
				   "control_socket = /run/pias/p7.sock\n"
				   "\n"
				   "[anycast]\n"
				   "prefix = 203.0.113.0/24\n"
				   "prefix = 2001:db8:a::/48 ; inline comment\n"
				   "registration_address = 2001:db8:a::53\n"
				   "registration_port = 7000\n"
				   "announce_command = /usr/lib/pias/announce --quiet\n"
				   "[overlay]\n"
				   "listen_port = 7001\n"
				   "seeds = 192.0.2.8 [2001:db8::9]:7100 192.0.2.10:7200\n"
				   "rap_replicas = 4\n"
				   "probe_interval_ms = 100\n"
				   "suspect_timeout_ms = 500\n"
				   "reconnect_ms = 750\n"
				   "dataplane_echo_ms = 100\n"
				   "dataplane_timeout_ms = 0\n"
				   "[jap]\n"
				   "target_timeout_ms = 999\n"
				   "report_threshold_percent = 50\n"
				   "drain_timeout_s = 600\n"
				   "nat_high_water_percent = 90\n"
				   "[connections]\n"
				   "tcp_syn_timeout_s = 5\n"
				   "tcp_established_timeout_s = 86400\n"
				   "tcp_fin_timeout_s = 30\n"
				   "tcp_close_timeout_s = 3\n"
				   "tcp_time_wait_timeout_s = 125\n"
				   "udp_timeout_s = 20\n"
				   "udp_reply_timeout_s = 1\n"
				   "udp_stream_timeout_s = 300\n"
				   "[rap]\n"
				   "proximity_percent = 30\n"
				   "[iap]\n"
				   "binding_ttl_s = 60\n"
				   "[dataplane]\n"
				   "tunnel_port = 7002\n"
				   "underlay_mtu = 9000\n"
				   "nat_ports = 1024-2047\n"
				   "[keys]\n"
				   "overlay_key_file = /etc/pias/overlay.key\n"
				   "group_key_file = /etc/pias/token\n";
	struct piasd_config *c = new_config();
	char buf[PIAS_ADDR_STRLEN];

	(void)state;
	load_ok(text, c);
	assert_int_equal(c->node_id, 131071);
	assert_addr(&c->addr4, "192.0.2.7");
	assert_addr(&c->addr6, "2001:db8::7");
	assert_addr(&c->nat4, "198.51.100.7");
	assert_int_equal(c->nat4_count, 4);
	assert_addr(&c->nat6, "2001:db8:1::7");
	assert_int_equal(c->nat6_count, 1);
	assert_string_equal(c->pin_root, "/sys/fs/bpf/pias2");
	assert_string_equal(c->control_socket, "/run/pias/p7.sock");
	assert_string_equal(c->announce_command, "/usr/lib/pias/announce --quiet");
	assert_int_equal(c->proximity_percent, 30);
	assert_int_equal(c->n_interfaces, 3);
	assert_string_equal(c->interfaces[0], "eth0");
	assert_string_equal(c->interfaces[1], "eth1");
	assert_string_equal(c->interfaces[2], "eth2");
	assert_int_equal(c->n_prefixes, 2);
	assert_string_equal(pias_net_str(&c->prefixes[0], buf, sizeof(buf)), "203.0.113.0/24");
	assert_string_equal(pias_net_str(&c->prefixes[1], buf, sizeof(buf)), "2001:db8:a::/48");
	assert_addr(&c->registration_addr, "2001:db8:a::53");
	assert_int_equal(c->registration_port, 7000);
	assert_int_equal(c->listen_port, 7001);
	assert_int_equal(c->n_seeds, 3);
	assert_string_equal(pias_endpoint_str(&c->seeds[0].addr, c->seeds[0].family,
					      c->seeds[0].port, buf, sizeof(buf)),
			    "192.0.2.8:7001"); /* no port: the listen port */
	assert_string_equal(pias_endpoint_str(&c->seeds[1].addr, c->seeds[1].family,
					      c->seeds[1].port, buf, sizeof(buf)),
			    "[2001:db8::9]:7100");
	assert_string_equal(pias_endpoint_str(&c->seeds[2].addr, c->seeds[2].family,
					      c->seeds[2].port, buf, sizeof(buf)),
			    "192.0.2.10:7200");
	assert_int_equal(c->rap_replicas, 4);
	assert_int_equal(c->probe_interval_ms, 100);
	assert_int_equal(c->suspect_timeout_ms, 500);
	assert_int_equal(c->reconnect_ms, 750);
	assert_int_equal(c->dataplane_echo_ms, 100);
	assert_int_equal(c->dataplane_timeout_ms, 0);
	assert_int_equal(c->target_timeout_ms, 999);
	assert_int_equal(c->report_threshold_percent, 50);
	assert_int_equal(c->drain_timeout_s, 600);
	assert_int_equal(c->nat_high_water_percent, 90);
	assert_int_equal(c->ct.tcp_syn, 5);
	assert_int_equal(c->ct.tcp_established, 86400);
	assert_int_equal(c->ct.tcp_fin, 30);
	assert_int_equal(c->ct.tcp_close, 3);
	assert_int_equal(c->ct.tcp_time_wait, 125);
	assert_int_equal(c->ct.udp, 20);
	assert_int_equal(c->ct.udp_reply, 1);
	assert_int_equal(c->ct.udp_stream, 300);
	assert_int_equal(c->binding_ttl_s, 60);
	assert_int_equal(c->tunnel_port, 7002);
	assert_int_equal(c->underlay_mtu, 9000);
	assert_int_equal(c->nat_port_min, 1024);
	assert_int_equal(c->nat_port_max, 2047);
	assert_string_equal(c->overlay_key_file, "/etc/pias/overlay.key");
	assert_string_equal(c->group_key_file, "/etc/pias/token");
	free(c);
}

static void minimal_defaults(void **state)
{
	struct piasd_config *c = new_config();

	(void)state;
	load_ok(MINIMAL, c);
	assert_int_equal(c->node_id, 7);
	assert_addr(&c->addr4, "192.0.2.7");
	assert_int_equal(c->addr6.family, 0);
	assert_addr(&c->nat4, "192.0.2.7"); /* default: the node address */
	assert_int_equal(c->nat6.family, 0);
	assert_string_equal(c->pin_root, PIAS_PIN_ROOT_DEFAULT);
	assert_string_equal(c->control_socket, PIASD_CONTROL_SOCKET_DEFAULT);
	assert_string_equal(c->announce_command, "");
	assert_int_equal(c->proximity_percent, PIASD_PROXIMITY_PERCENT_DEFAULT);
	assert_int_equal(c->n_interfaces, 1);
	assert_string_equal(c->interfaces[0], "eth0");
	assert_int_equal(c->n_prefixes, 1);
	assert_addr(&c->registration_addr, "203.0.113.1");
	assert_int_equal(c->registration_port, 6638);
	assert_int_equal(c->listen_port, 6639);
	assert_int_equal(c->n_seeds, 0);
	assert_int_equal(c->rap_replicas, 3);
	assert_int_equal(c->probe_interval_ms, 200);
	assert_int_equal(c->suspect_timeout_ms, 1000);
	assert_int_equal(c->reconnect_ms, 2000);
	assert_int_equal(c->dataplane_echo_ms, 250);
	assert_int_equal(c->dataplane_timeout_ms, 1500);
	assert_int_equal(c->target_timeout_ms, 900);
	assert_int_equal(c->report_threshold_percent, 25);
	assert_int_equal(c->drain_timeout_s, 300);
	assert_int_equal(c->nat_high_water_percent, 80);
	assert_int_equal(c->nat4_count, 1);
	/* conntrack.h's defaults, each its own value */
	assert_int_equal(c->ct.tcp_syn, 10);
	assert_int_equal(c->ct.tcp_established, 7875);
	assert_int_equal(c->ct.tcp_fin, 60);
	assert_int_equal(c->ct.tcp_close, 10);
	assert_int_equal(c->ct.tcp_time_wait, 65);
	assert_int_equal(c->ct.udp, 30);
	assert_int_equal(c->ct.udp_reply, 2);
	assert_int_equal(c->ct.udp_stream, 120);
	assert_int_equal(c->binding_ttl_s, 300);
	assert_int_equal(c->tunnel_port, PIAS_TUN_PORT_DEFAULT);
	assert_int_equal(c->underlay_mtu, PIAS_DEFAULT_UNDERLAY_MTU);
	assert_int_equal(c->nat_port_min, PIAS_DEFAULT_NAT_PORT_MIN);
	assert_int_equal(c->nat_port_max, PIAS_DEFAULT_NAT_PORT_MAX);
	assert_string_equal(c->overlay_key_file, "/etc/pias/overlay.key");
	assert_string_equal(c->group_key_file, "");
	assert_int_equal(c->metrics_port, 0); /* metrics off */
	assert_int_equal(c->metrics_addr.family, 0);

	/* IPv6 only: nat6 defaults to address6, nothing IPv4 is set */
	load_ok("[node]\nid = 1\naddress6 = 2001:db8::1\ninterfaces = eth0\n" MIN_ANYCAST MIN_KEYS,
		c);
	assert_int_equal(c->addr4.family, 0);
	assert_int_equal(c->nat4.family, 0);
	assert_addr(&c->nat6, "2001:db8::1");
	free(c);
}

static void unknown_section(void **state)
{
	(void)state;
	expect_error(MINIMAL "[nodes]\nid = 1\n",
		     NAME ":10: [nodes]: unknown section (expected node, anycast, overlay, jap, "
			  "rap, iap, connections, dataplane or keys)");
	/* caught even when it holds no key */
	expect_error(MIN_NODE "[extra]\n" MIN_ANYCAST MIN_KEYS,
		     NAME ":5: [extra]: unknown section (expected node, anycast, overlay, jap, "
			  "rap, iap, connections, dataplane or keys)");
}

static void unknown_key(void **state)
{
	(void)state;
	expect_error(MIN_NODE "pin_rot = /x\n" MIN_ANYCAST MIN_KEYS,
		     NAME ":5: [node] pin_rot: unknown key");
	/* a key of another section */
	expect_error(MIN_NODE "tunnel_port = 1\n", NAME ":5: [node] tunnel_port: unknown key");
	expect_error("id = 1\n" MINIMAL, NAME ":1: id: key outside any [section]");
}

static void duplicate_key(void **state)
{
	(void)state;
	expect_error(MIN_NODE "id = 7\n",
		     NAME ":5: [node] id: duplicate key (first set on line 2)");
	/* also across two [node] sections */
	expect_error(MINIMAL "[node]\ninterfaces = eth1\n",
		     NAME ":11: [node] interfaces: duplicate key (first set on line 4)");
	expect_error(MINIMAL "[overlay]\nseeds = 192.0.2.1\nseeds = 192.0.2.2\n",
		     NAME ":12: [overlay] seeds: duplicate key (first set on line 11)");
}

/* MINIMAL plus "[section]\nline\n": the error is on line 11. */
static void expect_bad(const char *section, const char *line, const char *want)
{
	char text[1024], full[512];

	snprintf(text, sizeof(text), MINIMAL "[%s]\n%s\n", section, line);
	snprintf(full, sizeof(full), NAME ":11: [%s] %s", section, want);
	expect_error(text, full);
}

static void bad_values(void **state)
{
	(void)state;
	expect_error("[node]\nid = 0\n", NAME ":2: [node] id: 0 is out of range 1-131071");
	expect_error("[node]\nid = 131072\n",
		     NAME ":2: [node] id: 131072 is out of range 1-131071");
	expect_error("[node]\nid = seven\n",
		     NAME ":2: [node] id: 'seven' is not a number 1-131071");
	expect_error("[node]\nid = -1\n", NAME ":2: [node] id: '-1' is not a number 1-131071");
	expect_error("[node]\nid =\n", NAME ":2: [node] id: '' is not a number 1-131071");
	expect_error("[node]\naddress4 = 2001:db8::1\n",
		     NAME ":2: [node] address4: '2001:db8::1' is not an IPv4 address");
	expect_error("[node]\naddress6 = 192.0.2.1\n",
		     NAME ":2: [node] address6: '192.0.2.1' is not an IPv6 address");
	expect_error("[node]\nnat4 = host\n",
		     NAME ":2: [node] nat4: 'host' is not an IPv4 address or range");
	expect_error("[node]\nnat6 = 192.0.2.1\n",
		     NAME ":2: [node] nat6: '192.0.2.1' is not an IPv6 address or range");
	expect_error("[node]\nnat4 = 192.0.2.9-192.0.2.8\n",
		     NAME ":2: [node] nat4: '192.0.2.9-192.0.2.8': FIRST is above LAST");
	expect_error("[node]\nnat4 = 192.0.2.0-192.0.3.0\n",
		     NAME ":2: [node] nat4: '192.0.2.0-192.0.3.0' is 257 addresses, more than 256");
	expect_error("[node]\nnat4 = 192.0.2.1-2001:db8::1\n",
		     NAME ":2: [node] nat4: '192.0.2.1-2001:db8::1' is not an IPv4 address range "
			  "FIRST-LAST");
	expect_error("[node]\nnat6 = 2001:db8::1-2001:db9::1\n",
		     NAME ":2: [node] nat6: '2001:db8::1-2001:db9::1': the addresses may differ "
			  "only in their last 32 bits");
	expect_error("[node]\ninterfaces = \n",
		     NAME ":2: [node] interfaces: expected at least one interface name");
	expect_error("[node]\ninterfaces = eth0 abcdefghijklmnop\n",
		     NAME ":2: [node] interfaces: interface name 'abcdefghijklmnop' is longer "
			  "than 15 characters");
	expect_error("[node]\ninterfaces = eth0 eth0\n",
		     NAME ":2: [node] interfaces: interface 'eth0' listed twice");
	expect_bad("anycast", "prefix = 203.0.113.1/24",
		   "prefix: prefix '203.0.113.1/24' has host bits set (did you mean "
		   "203.0.113.0/24?)");
	expect_bad("anycast", "prefix = 203.0.113.0/24",
		   "prefix: prefix 203.0.113.0/24 listed twice");
	expect_bad("anycast", "registration_port = 0",
		   "registration_port: port '0' is out of range 1-65535");
	expect_bad("overlay", "listen_port = x", "listen_port: port 'x' is not a number 1-65535");
	expect_bad("overlay", "seeds = 192.0.2.1 [192.0.2.2]:80",
		   "seeds: endpoint '[192.0.2.2]:80': brackets are for IPv6 addresses only");
	expect_bad("overlay", "rap_replicas = 5", "rap_replicas: 5 is out of range 1-4");
	expect_bad("overlay", "reconnect_ms = 50", "reconnect_ms: 50 is out of range 100-600000");
	expect_bad("jap", "target_timeout_ms = 1000",
		   "target_timeout_ms: 1000 is out of range 1-999");
	expect_bad("jap", "report_threshold_percent = 101",
		   "report_threshold_percent: 101 is out of range 1-100");
	expect_bad("iap", "binding_ttl_s = 0", "binding_ttl_s: 0 is out of range 1-86400");
	expect_bad("jap", "drain_timeout_s = 0", "drain_timeout_s: 0 is out of range 1-86400");
	expect_bad("jap", "nat_high_water_percent = 0",
		   "nat_high_water_percent: 0 is out of range 1-100");
	expect_bad("connections", "tcp_established_timeout_s = 59",
		   "tcp_established_timeout_s: 59 is out of range 60-864000");
	expect_bad("connections", "udp_reply_timeout_s = 0",
		   "udp_reply_timeout_s: 0 is out of range 1-3600");
	expect_bad("connections", "tcp_time_wait = 60", "tcp_time_wait: unknown key");
	expect_bad("dataplane", "underlay_mtu = 575", "underlay_mtu: 575 is out of range 576-9000");
	expect_bad("dataplane", "underlay_mtu = 9001",
		   "underlay_mtu: 9001 is out of range 576-9000");
	expect_bad("dataplane", "nat_ports = 32767-16384",
		   "nat_ports: '32767-16384': LO is above HI");
	expect_bad("dataplane", "nat_ports = 1024",
		   "nat_ports: '1024' is not a port range LO-HI (like 16384-32767)");
	expect_bad("dataplane", "nat_ports = 0-10",
		   "nat_ports: '0-10' is not a port range LO-HI with ports 1-65535");
	expect_bad("keys", "group_key_file =", "group_key_file: empty path");
	expect_bad("node",
		   "control_socket = /run/pias/"
		   "0123456789012345678901234567890123456789"
		   "0123456789012345678901234567890123456789"
		   "0123456789012345678901234567890123456789",
		   "control_socket: path is longer than 107 characters");
	expect_bad("metrics", "listen = 127.0.0.1",
		   "listen: '127.0.0.1': off, or ADDR:PORT like 127.0.0.1:9469 or [::1]:9469");
	expect_bad("metrics", "listen = 127.0.0.1:0",
		   "listen: '127.0.0.1:0': off, or ADDR:PORT like 127.0.0.1:9469 or [::1]:9469");
	expect_bad("metrics", "listen = localhost:9469",
		   "listen: 'localhost:9469': off, or ADDR:PORT like 127.0.0.1:9469 or "
		   "[::1]:9469");
	expect_bad("overlay", "suspect_timeout_ms = 200",
		   "suspect_timeout_ms: suspect_timeout_ms (200) must be above probe_interval_ms "
		   "(200)");
}

static void syntax_errors(void **state)
{
	char text[512];

	(void)state;
	expect_error(MIN_NODE "just words\n",
		     NAME ":5: syntax error: expected '[section]' or 'key = value'");
	expect_error(MIN_NODE "[anycast\n",
		     NAME ":5: syntax error: expected '[section]' or 'key = value'");
	/* inih would split a long line; it is refused instead */
	snprintf(text, sizeof(text), MIN_NODE "pin_root = /%0300d\n", 0);
	expect_error(text, NAME ":5: syntax error: line is longer than 198 characters");
}

static void missing_keys(void **state)
{
	(void)state;
	expect_error("", NAME ":0: [node] id: missing (required)");
	expect_error("[node]\naddress4 = 192.0.2.7\ninterfaces = eth0\n" MIN_ANYCAST MIN_KEYS,
		     NAME ":8: [node] id: missing (required)");
	expect_error("[node]\nid = 7\naddress4 = 192.0.2.7\n" MIN_ANYCAST MIN_KEYS,
		     NAME ":8: [node] interfaces: missing (required)");
	expect_error("[node]\nid = 7\ninterfaces = eth0\n" MIN_ANYCAST MIN_KEYS,
		     NAME ":8: [node] address4: missing (required: address4, address6 or both)");
	expect_error(MIN_NODE "[anycast]\nregistration_address = 203.0.113.1\n" MIN_KEYS,
		     NAME ":8: [anycast] prefix: missing (required)");
	expect_error(MIN_NODE "[anycast]\nprefix = 203.0.113.0/24\n" MIN_KEYS,
		     NAME ":8: [anycast] registration_address: missing (required)");
	expect_error(MIN_NODE MIN_ANYCAST, NAME ":7: [keys] overlay_key_file: missing (required)");
	expect_error(
		"[node]\nid = 7\naddress6 = 2001:db8::7\nnat4 = 192.0.2.7\ninterfaces = eth0\n" MIN_ANYCAST
			MIN_KEYS,
		NAME ":4: [node] nat4: set without address4");
}

static void prefixes_accumulate(void **state)
{
	size_t size = 64 * 1024, len;
	char *text = malloc(size);
	struct piasd_config *c = new_config();
	char buf[PIAS_ADDR_STRLEN], want[128];
	int i;

	(void)state;
	assert_non_null(text);
	len = snprintf(text, size,
		       MIN_NODE MIN_KEYS "[anycast]\n"
					 "registration_address = 10.0.63.1\n");
	for (i = 0; i < PIASD_CONFIG_MAX_PREFIXES; i++)
		len += snprintf(text + len, size - len, "prefix = 10.0.%d.0/24\n", i);
	load_ok(text, c);
	assert_int_equal(c->n_prefixes, PIASD_CONFIG_MAX_PREFIXES);
	assert_string_equal(pias_net_str(&c->prefixes[0], buf, sizeof(buf)), "10.0.0.0/24");
	assert_string_equal(pias_net_str(&c->prefixes[63], buf, sizeof(buf)), "10.0.63.0/24");

	/* header 8 lines, then prefixes on lines 9..72: the 65th is line 73 */
	snprintf(text + len, size - len, "prefix = 10.1.0.0/24\n");
	snprintf(want, sizeof(want), NAME ":73: [anycast] prefix: more than 64 prefixes");
	expect_error(text, want);
	free(c);
	free(text);
}

static void registration_outside(void **state)
{
	(void)state;
	expect_error(MIN_NODE MIN_KEYS "[anycast]\n"
				       "prefix = 203.0.113.0/25\n"
				       "prefix = 2001:db8:a::/48\n"
				       "registration_address = 203.0.113.128\n",
		     NAME ":10: [anycast] registration_address: 203.0.113.128 is not inside any "
			  "[anycast] prefix");
	expect_error(MIN_NODE MIN_KEYS "[anycast]\n"
				       "registration_address = 2001:db8:b::1\n"
				       "prefix = 2001:db8:a::/48\n",
		     NAME ":8: [anycast] registration_address: 2001:db8:b::1 is not inside any "
			  "[anycast] prefix");
}

/* [metrics] listen: off, an IPv4 or an IPv6 address and port. */
static void metrics_listen(void **state)
{
	struct piasd_config *c = new_config();

	(void)state;
	load_ok(MINIMAL "[metrics]\nlisten = 127.0.0.1:9469\n", c);
	assert_addr(&c->metrics_addr, "127.0.0.1");
	assert_int_equal(c->metrics_port, 9469);
	load_ok(MINIMAL "[metrics]\nlisten = [::1]:9100\n", c);
	assert_addr(&c->metrics_addr, "::1");
	assert_int_equal(c->metrics_port, 9100);
	load_ok(MINIMAL "[metrics]\nlisten = off\n", c);
	assert_int_equal(c->metrics_port, 0);
	assert_int_equal(c->metrics_addr.family, 0);
	free(c);
}

static void from_file(void **state)
{
	char path[] = "/tmp/pias-config-XXXXXX";
	struct piasd_config *c = new_config();
	struct pias_err e = {};
	char want[256];
	int fd;
	FILE *f;

	(void)state;
	assert_int_equal(piasd_config_load("/nonexistent/piasd.conf", c, &e), -ENOENT);
	assert_string_equal(e.msg,
			    "/nonexistent/piasd.conf: cannot open: No such file or directory");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(MINIMAL "[jap]\ntarget_timeout_ms = 950\n", f);
	fclose(f);
	assert_int_equal(piasd_config_load(path, c, &e), 0);
	assert_int_equal(c->target_timeout_ms, 950);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(MINIMAL "[jap]\ntarget_timeout_ms = 1s\n", f);
	fclose(f);
	assert_int_equal(piasd_config_load(path, c, &e), -EINVAL);
	snprintf(want, sizeof(want), "%s:11: [jap] target_timeout_ms: '1s' is not a number 1-999",
		 path);
	assert_string_equal(e.msg, want);
	unlink(path);
	free(c);
}

int test_config_file(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_file),	       cmocka_unit_test(minimal_defaults),
		cmocka_unit_test(unknown_section),     cmocka_unit_test(unknown_key),
		cmocka_unit_test(duplicate_key),       cmocka_unit_test(bad_values),
		cmocka_unit_test(syntax_errors),       cmocka_unit_test(missing_keys),
		cmocka_unit_test(prefixes_accumulate), cmocka_unit_test(registration_outside),
		cmocka_unit_test(from_file),	       cmocka_unit_test(metrics_listen),
	};

	return cmocka_run_group_tests_name("config_file", tests, NULL, NULL);
}
