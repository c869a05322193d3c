// SPDX-License-Identifier: MIT
/* proxy set|del and rap fill: the overlay's members and the RAP table. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "commands.h"

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

static int run_set(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[] = { OPT_VALUE("--key"), OPT_END };
	__u8 keys[PIAS_TUN_RX_TAGS][PIAS_TUN_KEY_LEN];
	enum pias_proxy_state st = PIAS_PROXY_UP;
	char *pos[CLI_MAX_POS];
	struct pias_tun_tags tags;
	struct pias_config cfg;
	union pias_addr a;
	struct pias_maps *m;
	struct pias_err e;
	int npos, r;
	size_t nkeys;
	bool was_zero;
	__u32 id;
	__u8 fam;

	if ((r = cli_parse(c, argc, argv, o, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if (!o[0].seen)
		return cli_bad(c, "--key is required: tunnel packets carry tags derived from the "
				  "overlay keys");
	if ((r = parse_keys(c, o[0].value, keys, &nkeys)))
		return r;
	if ((r = cli_npos(c, npos, 2, 3)))
		return r;
	if ((r = cli_u32(c, "proxy id", pos[0], 1, PIAS_MAX_PROXIES - 1, &id)))
		return r;
	if (pias_addr_parse(pos[1], &a, &fam, &e))
		return cli_bad(c, "%s", e.msg);
	if (npos == 3) {
		if (!strcmp(pos[2], "up"))
			st = PIAS_PROXY_UP;
		else if (!strcmp(pos[2], "down"))
			st = PIAS_PROXY_DOWN;
		else if (!strcmp(pos[2], "dp-only"))
			st = PIAS_PROXY_DP_ONLY;
		else
			return cli_bad(c, "state '%s' is not up, down or dp-only", pos[2]);
	}
	if ((r = cli_maps(c, &m)))
		return r;
	if ((r = pias_config_get(m, &cfg, &was_zero, &e)))
		return cli_err(c, r, &e);
	if (!cfg.self_id)
		return cli_bad(c, "this proxy has no id yet (config --id): tags name both ends");
	pias_tun_tags_derive((const __u8(*)[PIAS_TUN_KEY_LEN])keys, nkeys, 0, cfg.self_id, id,
			     &tags);
	sodium_memzero(keys, sizeof(keys));
	r = pias_proxy_set(m, id, &a, fam, st, &tags, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

static int run_del(struct cli *c, int argc, char **argv)
{
	char *pos[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_err e;
	int npos, r;
	__u32 id;

	if ((r = cli_parse(c, argc, argv, NULL, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 1, 1)))
		return r;
	if ((r = cli_u32(c, "proxy id", pos[0], 1, PIAS_MAX_PROXIES - 1, &id)))
		return r;
	if ((r = cli_maps(c, &m)))
		return r;
	r = pias_proxy_del(m, id, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

/* A RAP that is not up is skipped by the IAP: likely a mistake, so say it. */
static void warn_not_up(struct cli *c, struct pias_maps *m, const __u32 *ids, int n)
{
	for (int i = 0; i < n; i++) {
		struct pias_proxy p;

		if (!pias_proxy_get(m, ids[i], &p, NULL) && p.state != PIAS_PROXY_UP)
			fprintf(stderr,
				"%s %s: warning: proxy %u is not up in %s; the IAP skips it\n",
				c->prog, c->cmd->name, ids[i], pias_map_name(PIAS_M_PROXIES));
	}
}

static int run_rap_fill(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[] = { OPT_VALUE("--replicas"), OPT_END };
	__u32 k = PIAS_RAP_REPLICAS, ids[CLI_MAX_POS];
	char *pos[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_err e;
	int npos, r;

	if ((r = cli_parse(c, argc, argv, o, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 1, -1)))
		return r;
	if (o[0].seen && (r = cli_u32(c, "--replicas", o[0].value, 1, PIAS_RAP_REPLICAS, &k)))
		return r;
	for (int i = 0; i < npos; i++) {
		if ((r = cli_u32(c, "proxy id", pos[i], 1, PIAS_MAX_PROXIES - 1, &ids[i])))
			return r;
		for (int j = 0; j < i; j++)
			if (ids[j] == ids[i])
				return cli_bad(c, "proxy id %u is listed twice", ids[i]);
	}
	if ((r = cli_maps(c, &m)))
		return r;
	warn_not_up(c, m, ids, npos);
	r = pias_rap_fill(m, ids, (size_t)npos, k, &e);
	return r ? cli_err(c, r, &e) : EXIT_OK;
}

const struct cmd cmd_proxy_set = {
	.name = "proxy set",
	.args = "--key HEX[,HEX...] ID ADDR [up|down|dp-only]",
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
	.args = "ID",
	.summary = "forget proxy ID and its address",
	.help = "",
	.run = run_del,
};

const struct cmd cmd_rap_fill = {
	.name = "rap fill",
	.args = "[--replicas K] ID...",
	.summary = "fill the RAP table from the live proxy ids, K per slot (default 4)",
	.help = "Every slot of pias_rap_table gets the K ids with the highest rendezvous\n"
		"score for that slot, best first: proxies that fill it from the same ids\n"
		"agree on each group's RAP, and removing one of N ids moves only about\n"
		"1/N of the slots' first choice.\n",
	.run = run_rap_fill,
};
