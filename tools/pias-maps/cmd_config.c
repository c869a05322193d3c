// SPDX-License-Identifier: MIT
/* config: show pias_config, and change the fields named by options. */
#include <string.h>

#include "commands.h"

enum {
	O_ID,
	O_ADDR4,
	O_ADDR6,
	O_NAT4,
	O_NAT6,
	O_PORT,
	O_MTU,
	O_NATPORTS,
	O_EVMS,
	O_ICMP,
	O_N
};

/* --addr4 and friends: an address of the named family, or "none" to clear. */
static int parse_family_addr(struct cli *c, const char *opt, const char *s, __u8 want,
			     union pias_addr *out)
{
	struct pias_err e;
	__u8 fam;

	if (!strcmp(s, "none")) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	if (pias_addr_parse(s, out, &fam, &e))
		return cli_bad(c, "%s: %s", opt, e.msg);
	if (fam != want)
		return cli_bad(c, "%s '%s' is not an IPv%u address", opt, s, want);
	return 0;
}

static int parse_nat_ports(struct cli *c, const char *s, struct pias_config *cfg)
{
	char lo[8], hi[8];
	const char *dash = strchr(s, '-');
	__u32 a, b;

	if (!dash || dash == s || (size_t)(dash - s) >= sizeof(lo) ||
	    strlen(dash + 1) >= sizeof(hi))
		return cli_bad(c, "--nat-ports '%s' is not LO-HI, like 16384-32767", s);
	memcpy(lo, s, (size_t)(dash - s));
	lo[dash - s] = '\0';
	strcpy(hi, dash + 1);
	if (cli_u32(c, "--nat-ports low end", lo, 1, 65535, &a) ||
	    cli_u32(c, "--nat-ports high end", hi, 1, 65535, &b))
		return EXIT_USAGE;
	if (a > b)
		return cli_bad(c, "--nat-ports '%s': low end above high end", s);
	cfg->nat_port_min = (__u16)a;
	cfg->nat_port_max = (__u16)b;
	return 0;
}

static void print_addr(const char *key, const union pias_addr *a, __u8 fam)
{
	static const union pias_addr zero;
	char s[PIAS_ADDR_STRLEN];

	printf("%-18s %s\n", key,
	       memcmp(a, &zero, sizeof(zero)) ? pias_addr_str(a, fam, s, sizeof(s)) : "none");
}

static void print_config(const struct pias_config *c)
{
	printf("%-18s %u%s\n", "id", c->self_id,
	       c->self_id ? "" : "  # 0: not configured, the dataplane passes everything");
	print_addr("addr4", &c->self4, PIAS_AF_INET);
	print_addr("addr6", &c->self6, PIAS_AF_INET6);
	print_addr("nat4", &c->nat4, PIAS_AF_INET);
	print_addr("nat6", &c->nat6, PIAS_AF_INET6);
	printf("%-18s %u\n", "tunnel-port", c->tunnel_port);
	printf("%-18s %u\n", "underlay-mtu", c->underlay_mtu);
	printf("%-18s %u\n", "tcp-mss4", c->tcp_mss4);
	printf("%-18s %u\n", "tcp-mss6", c->tcp_mss6);
	printf("%-18s %u-%u\n", "nat-ports", c->nat_port_min, c->nat_port_max);
	printf("%-18s %u\n", "event-interval-ms", c->event_interval_ms);
	printf("%-18s %u\n", "icmp-rate", c->icmp_rate);
}

/* Apply the options that were given to cfg; EXIT_USAGE on a bad value. */
static int apply(struct cli *c, struct cli_opt *o, struct pias_config *cfg)
{
	__u32 v;

	if (o[O_ID].seen) {
		if (cli_u32(c, "--id", o[O_ID].value, 0, PIAS_MAX_PROXIES - 1, &v))
			return EXIT_USAGE;
		cfg->self_id = v;
	}
	if ((o[O_ADDR4].seen &&
	     parse_family_addr(c, "--addr4", o[O_ADDR4].value, PIAS_AF_INET, &cfg->self4)) ||
	    (o[O_ADDR6].seen &&
	     parse_family_addr(c, "--addr6", o[O_ADDR6].value, PIAS_AF_INET6, &cfg->self6)) ||
	    (o[O_NAT4].seen &&
	     parse_family_addr(c, "--nat4", o[O_NAT4].value, PIAS_AF_INET, &cfg->nat4)) ||
	    (o[O_NAT6].seen &&
	     parse_family_addr(c, "--nat6", o[O_NAT6].value, PIAS_AF_INET6, &cfg->nat6)))
		return EXIT_USAGE;
	if (o[O_PORT].seen) {
		if (cli_u32(c, "--tunnel-port", o[O_PORT].value, 1, 65535, &v))
			return EXIT_USAGE;
		cfg->tunnel_port = (__u16)v;
	}
	if (o[O_MTU].seen) {
		if (cli_u32(c, "--underlay-mtu", o[O_MTU].value, 576, 65535, &v))
			return EXIT_USAGE;
		pias_config_set_mtu(cfg, (__u16)v);
	}
	if (o[O_NATPORTS].seen && parse_nat_ports(c, o[O_NATPORTS].value, cfg))
		return EXIT_USAGE;
	if (o[O_EVMS].seen) {
		if (cli_u32(c, "--event-interval-ms", o[O_EVMS].value, 0, 3600000, &v))
			return EXIT_USAGE;
		cfg->event_interval_ms = v;
	}
	if (o[O_ICMP].seen) {
		if (cli_u32(c, "--icmp-rate", o[O_ICMP].value, 0, 1000000000, &v))
			return EXIT_USAGE;
		cfg->icmp_rate = v;
	}
	return 0;
}

static int run(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[O_N + 1] = {
		[O_ID] = OPT_VALUE("--id"),
		[O_ADDR4] = OPT_VALUE("--addr4"),
		[O_ADDR6] = OPT_VALUE("--addr6"),
		[O_NAT4] = OPT_VALUE("--nat4"),
		[O_NAT6] = OPT_VALUE("--nat6"),
		[O_PORT] = OPT_VALUE("--tunnel-port"),
		[O_MTU] = OPT_VALUE("--underlay-mtu"),
		[O_NATPORTS] = OPT_VALUE("--nat-ports"),
		[O_EVMS] = OPT_VALUE("--event-interval-ms"),
		[O_ICMP] = OPT_VALUE("--icmp-rate"),
	};
	struct pias_config cfg;
	struct pias_maps *m;
	struct pias_err e;
	char *pos[CLI_MAX_POS];
	bool zero, changed = false;
	int npos, r;

	if ((r = cli_parse(c, argc, argv, o, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 0, 0)))
		return r;
	for (int i = 0; i < O_N; i++)
		changed |= o[i].seen;
	/* Check the arguments before touching the maps: a typo must not need root. */
	pias_config_defaults(&cfg);
	if ((r = apply(c, o, &cfg)))
		return r;
	if ((r = cli_maps(c, &m)))
		return r;
	if ((r = pias_config_get(m, &cfg, &zero, &e)))
		return cli_err(c, r, &e);
	if (changed) {
		apply(c, o, &cfg);
		if ((r = pias_config_set(m, &cfg, &e)))
			return cli_err(c, r, &e);
	} else if (zero) {
		printf("# never written: these are the defaults the loader writes\n");
	}
	print_config(&cfg);
	return EXIT_OK;
}

const struct cmd cmd_config = {
	.name = "config",
	.args = "[OPTIONS]",
	.summary = "show the proxy's configuration; options change the fields they name",
	.help = "options (unset ones keep their current value, or the default):\n"
		"  --id N                  this proxy's id, 1-131071 (0: pass everything)\n"
		"  --addr4 A, --addr6 A    tunnel endpoint addresses ('none' clears)\n"
		"  --nat4 A, --nat6 A      JAP source addresses towards targets ('none' clears)\n"
		"  --tunnel-port P         UDP port of the tunnel (default 6637)\n"
		"  --underlay-mtu M        576-65535 (default 1500); also sets the TCP MSS\n"
		"                          clamps to M-100 (IPv4) and M-120 (IPv6)\n"
		"  --nat-ports LO-HI       JAP NAT source ports (default 16384-32767)\n"
		"  --event-interval-ms N   at most one event per kind, group and peer per N ms\n"
		"                          (default 100)\n"
		"  --icmp-rate N           ICMP errors per second per CPU (default 1000)\n"
		"Prints the resulting configuration, one 'key value' line per field.\n",
	.run = run,
};
