// SPDX-License-Identifier: MIT
/* status: where PIAS runs, which maps are pinned, config and counters. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "counters.h"
#include "loader.h"
#include "maps.h"
#include "pin.h"

struct status {
	struct xdp_att *att;
	int n;
	bool pinned[PIAS_M_COUNT];
	int npinned;
	bool have_maps; /* all pinned and opened: config and counters known */
	struct pias_config cfg;
	bool cfg_zero;
	struct pias_stats st;
	struct pias_drops dr;
};

static void gather(const char *root, struct status *s)
{
	char path[PATH_MAX];
	struct pias_maps m;

	for (int i = 0; i < PIAS_M_COUNT; i++) {
		pias_pin_path(root, pias_map_descs[i].name, path, sizeof(path));
		s->pinned[i] = !access(path, F_OK);
		s->npinned += s->pinned[i];
	}
	if (s->npinned && !pias_maps_open(&m, root, NULL)) {
		s->have_maps = !pias_config_get(&m, &s->cfg, &s->cfg_zero, NULL) &&
			       !pias_stats_read(&m, &s->st, &s->dr, NULL);
		pias_maps_close(&m);
	}
}

static void print_text(const char *root, const struct status *s)
{
	char a4[PIAS_ADDR_STRLEN], a6[PIAS_ADDR_STRLEN];
	int shown = 0;

	printf("pin root %s: %d of %d maps pinned\n", root, s->npinned, PIAS_M_COUNT);
	for (int i = 0; s->npinned && i < PIAS_M_COUNT; i++)
		if (!s->pinned[i])
			printf("  missing: %s\n", pias_map_descs[i].name);
	printf("interfaces running PIAS with these maps:\n");
	for (int i = 0; i < s->n; i++) {
		const struct xdp_att *a = &s->att[i];

		if (!a->ours)
			continue;
		printf("  %s (ifindex %d): prog id %u %s, %s mode%s\n", a->ifname, a->ifindex,
		       a->prog_id, a->name, mode_name(a->mode),
		       a->dispatcher ? ", in libxdp's dispatcher" : "");
		shown++;
	}
	if (!shown)
		printf("  none\n");
	for (int i = 0; i < s->n; i++) {
		const struct xdp_att *a = &s->att[i];

		if (a->ours)
			continue;
		printf("  (%s: prog id %u %s, %s mode%s)\n", a->ifname, a->prog_id, a->name,
		       mode_name(a->mode),
		       a->is_pias ? ": PIAS of another pin root" : ": not PIAS");
	}
	if (!s->have_maps)
		return;
	printf("config: id %u%s, tunnel %s / %s port %u, underlay mtu %u\n", s->cfg.self_id,
	       s->cfg.self_id ? "" : " (not configured: passes all traffic)",
	       pias_addr_str(&s->cfg.self4, PIAS_AF_INET, a4, sizeof(a4)),
	       pias_addr_str(&s->cfg.self6, PIAS_AF_INET6, a6, sizeof(a6)), s->cfg.tunnel_port,
	       s->cfg.underlay_mtu);
	pias_counters_print(stdout, &s->st, &s->dr, false);
}

static void print_json(const char *root, const struct status *s)
{
	int first = 1;

	printf("{\"pin_root\":\"%s\",\"maps_pinned\":%d,\"maps_expected\":%d,\"missing\":[", root,
	       s->npinned, PIAS_M_COUNT);
	for (int i = 0; i < PIAS_M_COUNT; i++)
		if (!s->pinned[i]) {
			printf("%s\"%s\"", first ? "" : ",", pias_map_descs[i].name);
			first = 0;
		}
	printf("],\"interfaces\":[");
	first = 1;
	for (int i = 0; i < s->n; i++) {
		const struct xdp_att *a = &s->att[i];

		printf("%s{\"dev\":\"%s\",\"ifindex\":%d,\"prog_id\":%u,\"prog_name\":\"%s\",\"mode\":\"%s\",\"dispatcher\":%s,\"pias\":%s,\"ours\":%s}",
		       first ? "" : ",", a->ifname, a->ifindex, a->prog_id, a->name,
		       mode_name(a->mode), a->dispatcher ? "true" : "false",
		       a->is_pias ? "true" : "false", a->ours ? "true" : "false");
		first = 0;
	}
	printf("]");
	if (s->have_maps) {
		printf(",\"config\":{\"id\":%u,\"tunnel_port\":%u,\"underlay_mtu\":%u},",
		       s->cfg.self_id, s->cfg.tunnel_port, s->cfg.underlay_mtu);
		pias_counters_print_json_members(stdout, &s->st, &s->dr);
	}
	printf("}\n");
}

static const struct cli_opt opts[] = {
	{ "--json", CLI_FLAG, .help = "one JSON document, for scripts (all counters)" },
	CLI_OPT_END,
};

static int run(struct cli *c, const struct cli_args *a)
{
	struct status s = { 0 };
	struct root_maps rm;
	struct pias_err e;
	log_init(false);
	if (privs_check(&e))
		return cli_fail(c, "%s", e.msg);
	if (pias_bpffs_check(c->pin_root, &e))
		return cli_fail(c, "%s", e.msg);
	iface_root_maps(c->pin_root, &rm);
	if (iface_query_all(&rm, &s.att, &s.n, &e))
		return cli_fail(c, "%s", e.msg);
	gather(c->pin_root, &s);
	if (a->v[0].seen)
		print_json(c->pin_root, &s);
	else
		print_text(c->pin_root, &s);
	free(s.att);
	return EXIT_OK;
}

const struct cmd cmd_status = {
	.name = "status",
	.opts = opts,
	.summary = "interfaces running PIAS, maps pinned, config, non-zero counters",
	.help = "Lists the XDP programs of this network namespace's interfaces: PIAS\n"
		"with the pin root's maps, and any other program (named). Exit status 0\n"
		"whether or not PIAS is attached.\n",
	.run = run,
};
