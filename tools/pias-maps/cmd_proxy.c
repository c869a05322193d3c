// SPDX-License-Identifier: MIT
/* proxy set|del and rap fill: the overlay's members and the RAP table (lib/ring.h). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "commands.h"
#include "ring.h"

/*
 * --key HEX[,HEX...]: the overlay keys (64 hex digits each), the first the
 * send key; the tags between this proxy (config --id) and id come from them.
 */
static int parse_keys(struct cli *c, const char *list, __u8 (*keys)[PIAS_TUN_KEY_LEN], size_t *n)
{
	const char *p = list;

	for (*n = 0; *p; (*n)++) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p), got = 0;

		if (*n == PIAS_TUN_RX_TAGS)
			return cli_bad(c, "--key: more than %d keys", PIAS_TUN_RX_TAGS);
		if (len != 2 * PIAS_TUN_KEY_LEN ||
		    sodium_hex2bin(keys[*n], PIAS_TUN_KEY_LEN, p, len, NULL, &got, NULL) ||
		    got != PIAS_TUN_KEY_LEN)
			return cli_bad(c, "--key: key %zu is not 64 hex digits", *n + 1);
		p += len + (end ? 1 : 0);
	}
	return *n ? 0 : cli_bad(c, "--key: no key");
}

enum {
	P_ID,
	P_ADDR,
	P_STATE,
	O_KEY
};

/* in the order of enum pias_proxy_state's values they stand for */
static const char *const states[] = { "up", "down", "dp-only", NULL };
static const enum pias_proxy_state state_of[] = { PIAS_PROXY_UP, PIAS_PROXY_DOWN,
						  PIAS_PROXY_DP_ONLY };

static const struct cli_opt set_opts[] = {
	[P_ID] = { "ID", CLI_U32, .min = 1, .max = PIAS_MAX_PROXIES - 1, .what = "proxy id" },
	[P_ADDR] = { "ADDR", CLI_ADDR },
	[P_STATE] = { "up|down|dp-only", CLI_ENUM, .choices = states, .what = "state", .def = "up",
		      .flags = CLI_OPTIONAL },
	[O_KEY] = { "--key", CLI_STR, "HEX[,HEX...]",
		    "the overlay keys, the first the one this proxy sends with",
		    .flags = CLI_REQUIRED },
	CLI_OPT_END,
};

static int run_set(struct cli *c, const struct cli_args *a)
{
	__u8 keys[PIAS_TUN_RX_TAGS][PIAS_TUN_KEY_LEN];
	const struct cli_val *addr = &a->v[P_ADDR];
	struct pias_tun_tags tags;
	struct pias_config cfg;
	struct pias_maps *m;
	struct pias_err e;
	__u32 id = a->v[P_ID].n;
	size_t nkeys;
	bool was_zero;
	int r;

	if ((r = parse_keys(c, a->v[O_KEY].s, keys, &nkeys)))
		return r;
	if ((r = cli_maps(c, &m)))
		return r;
	if ((r = pias_config_get(m, &cfg, &was_zero, &e)))
		return cli_err(c, r, &e);
	if (!cfg.self_id)
		return cli_bad(c, "this proxy has no id yet (config --id): tags name both ends");
	pias_tun_tags_derive((const __u8(*)[PIAS_TUN_KEY_LEN])keys, nkeys, 0, cfg.self_id, id,
			     &tags);
	sodium_memzero(keys, sizeof(keys));
	r = pias_proxy_set(m, id, &addr->addr, addr->family, state_of[a->v[P_STATE].n], &tags, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static const struct cli_opt del_opts[] = {
	{ "ID", CLI_U32, .min = 1, .max = PIAS_MAX_PROXIES - 1, .what = "proxy id" },
	CLI_OPT_END,
};

static int run_del(struct cli *c, const struct cli_args *a)
{
	struct pias_maps *m;
	struct pias_err e;
	int r;

	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_proxy_del(m, a->v[0].n, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

/* A RAP that is not up is skipped by the IAP: likely a mistake, so say it. */
static void warn_not_up(struct cli *c, struct pias_maps *m, const __u32 *ids, int n)
{
	for (int i = 0; i < n; i++) {
		struct pias_proxy p;

		if (!pias_proxy_get(m, ids[i], &p, NULL) && p.state != PIAS_PROXY_UP)
			fprintf(cli_errf(c),
				"%s %s: warning: proxy %u is not up in %s; the IAP skips it\n",
				c->prog, c->cmd->name, ids[i], pias_map_name(PIAS_M_PROXIES));
	}
}

enum {
	P_IDS,
	O_REPLICAS
};

static const struct cli_opt fill_opts[] = {
	[P_IDS] = { "ID", CLI_U32, .min = 1, .max = PIAS_MAX_PROXIES - 1, .what = "proxy id",
		    .flags = CLI_REPEAT },
	[O_REPLICAS] = { "--replicas", CLI_U32, "K", "ids per slot, first RAP first", .min = 1,
			 .max = PIAS_RAP_REPLICAS, .def = CLI_XSTR(PIAS_RING_DEFAULT_K) },
	CLI_OPT_END,
};

static int run_rap_fill(struct cli *c, const struct cli_args *a)
{
	__u32 ids[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_err e;
	int r;

	for (int i = 0; i < a->nrep; i++) {
		ids[i] = a->rep[i].n;
		for (int j = 0; j < i; j++)
			if (ids[j] == ids[i])
				return cli_bad(c, "proxy id %u is listed twice", ids[i]);
	}
	if ((r = cli_maps(c, &m)))
		return r;
	warn_not_up(c, m, ids, a->nrep);
	r = pias_rap_fill(m, ids, (size_t)a->nrep, a->v[O_REPLICAS].n, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

const struct cmd cmd_proxy_set = {
	.name = "proxy set",
	.opts = set_opts,
	.summary = "set proxy ID's tunnel address, state (default up) and tags",
	.help = "Writes pias_proxies[ID] and pias_proxy_addr ADDR -> ID; tunnel packets\n"
		"are accepted only from addresses of known proxies, carrying a tag of one\n"
		"of the overlay keys (64 hex digits each, at most 8; the first is the one\n"
		"this proxy sends with). The tags name both ends: set this proxy's id\n"
		"(config --id) first. ID is 1-131071. dp-only: its piasd is gone but its\n"
		"dataplane answers; flows pinned to it go on, nothing new goes there.\n",
	.run = run_set,
};

const struct cmd cmd_proxy_del = {
	.name = "proxy del",
	.opts = del_opts,
	.summary = "forget proxy ID and its address",
	.run = run_del,
};

const struct cmd cmd_rap_fill = {
	.name = "rap fill",
	.opts = fill_opts,
	.summary = "fill the RAP table from the live proxy ids, K per slot (default 3)",
	.help = "Every slot of pias_rap_table gets the first K distinct ids clockwise from\n"
		"its key on piasd's consistent-hashing ring (the same code, 160 points per\n"
		"id): with the ids and K (rap_replicas) piasd has, this is the table piasd\n"
		"writes, and every proxy agrees on each group's RAPs. Removing one of N ids\n"
		"changes only the slots that listed it, about K/N of them.\n",
	.run = run_rap_fill,
};
