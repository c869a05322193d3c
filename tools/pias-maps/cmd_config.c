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

static const struct cli_opt opts[O_N + 1] = {
	[O_ID] = { "--id", CLI_U32, "N", "this proxy's id, 0: pass everything",
		   .max = PIAS_MAX_PROXIES - 1 },
	[O_ADDR4] = { "--addr4", CLI_STR, "A", "tunnel endpoint IPv4 address ('none' clears)" },
	[O_ADDR6] = { "--addr6", CLI_STR, "A", "tunnel endpoint IPv6 address ('none' clears)" },
	[O_NAT4] = { "--nat4", CLI_STR, "A",
		     "JAP source IPv4 address towards targets ('none' clears)" },
	[O_NAT6] = { "--nat6", CLI_STR, "A",
		     "JAP source IPv6 address towards targets ('none' clears)" },
	[O_PORT] = { "--tunnel-port", CLI_U32, "P", "UDP port of the tunnel", .min = 1,
		     .max = 65535, .def = "6637" },
	[O_MTU] = { "--underlay-mtu", CLI_U32, "M",
		    "also sets the TCP MSS clamps to M-100 (IPv4)\n"
		    "and M-120 (IPv6)",
		    .min = 576, .max = 65535, .def = "1500" },
	[O_NATPORTS] = { "--nat-ports", CLI_STR, "LO-HI", "JAP NAT source ports",
			 .def = "16384-32767" },
	[O_EVMS] = { "--event-interval-ms", CLI_U32, "N",
		     "at most one event per kind, group and peer\nper N ms", .max = 3600000,
		     .def = "100" },
	[O_ICMP] = { "--icmp-rate", CLI_U32, "N", "ICMP errors per second per CPU",
		     .max = 1000000000, .def = "1000" },
	CLI_OPT_END,
};

/* Apply the options that were given to cfg; EXIT_USAGE on a bad value. */
static int apply(struct cli *c, const struct cli_val *v, struct pias_config *cfg)
{
	if (v[O_ID].seen)
		cfg->self_id = v[O_ID].n;
	if ((v[O_ADDR4].seen &&
	     parse_family_addr(c, "--addr4", v[O_ADDR4].s, PIAS_AF_INET, &cfg->self4)) ||
	    (v[O_ADDR6].seen &&
	     parse_family_addr(c, "--addr6", v[O_ADDR6].s, PIAS_AF_INET6, &cfg->self6)) ||
	    (v[O_NAT4].seen &&
	     parse_family_addr(c, "--nat4", v[O_NAT4].s, PIAS_AF_INET, &cfg->nat4)) ||
	    (v[O_NAT6].seen &&
	     parse_family_addr(c, "--nat6", v[O_NAT6].s, PIAS_AF_INET6, &cfg->nat6)))
		return EXIT_USAGE;
	if (v[O_PORT].seen)
		cfg->tunnel_port = (__u16)v[O_PORT].n;
	if (v[O_MTU].seen)
		pias_config_set_mtu(cfg, (__u16)v[O_MTU].n);
	if (v[O_NATPORTS].seen && parse_nat_ports(c, v[O_NATPORTS].s, cfg))
		return EXIT_USAGE;
	if (v[O_EVMS].seen)
		cfg->event_interval_ms = v[O_EVMS].n;
	if (v[O_ICMP].seen)
		cfg->icmp_rate = v[O_ICMP].n;
	return 0;
}

static int run(struct cli *c, const struct cli_args *a)
{
	struct pias_config cfg;
	struct pias_maps *m;
	struct pias_err e;
	bool zero, changed = false;
	int r;

	for (int i = 0; i < O_N; i++)
		changed |= a->v[i].seen;
	/* Check the arguments before touching the maps: a typo must not need root. */
	pias_config_defaults(&cfg);
	if ((r = apply(c, a->v, &cfg)))
		return r;
	if ((r = cli_maps(c, &m)))
		return r;
	if ((r = pias_config_get(m, &cfg, &zero, &e)))
		return cli_err(c, r, &e);
	if (changed) {
		apply(c, a->v, &cfg);
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
	.opts = opts,
	.summary = "show the proxy's configuration; options change the fields they name",
	.help = "Options not given keep their current value (the default if the config\n"
		"was never written).\n"
		"Prints the resulting configuration, one 'key value' line per field.\n",
	.run = run,
};
