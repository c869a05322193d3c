// SPDX-License-Identifier: MIT
/*
 * target join --file: the registration list. A target serving many groups
 * (a DNS server on a thousand ports, a surrogate for a farm) keeps all its
 * registrations in one agent process instead of one process per group.
 * Every error names FILE:LINE; a file with no registration is an error too,
 * since an agent with nothing to keep alive is surely a mistake.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "piasctl.h"
#include "policy.h"

#define FIELDS_MAX  7 /* TA ENDPOINT TOKEN-FILE [WEIGHT] [policy=POLICY] [serial=N] [check=CHECK] */
#define FIELDS_HELP "TA ENDPOINT TOKEN-FILE [WEIGHT] [policy=POLICY] [serial=N] [check=CHECK]"

/* Split line (comment cut off) into at most FIELDS_MAX fields; -1: too many. */
static int split(char *line, char **f)
{
	char *save = NULL, *tok;
	int n = 0;

	line[strcspn(line, "#\r\n")] = '\0';
	for (tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (n == FIELDS_MAX)
			return -1;
		f[n++] = tok;
	}
	return n;
}

static int parse_line(struct cli *c, const char *path, unsigned int ln, char **f, int nf,
		      struct agent_reg *r)
{
	struct pias_agent_target *t = &r->tgt;
	struct pias_err e;
	char what[64];

	int positional = nf;

	/* policy=, serial= and check= come after the positional fields */
	while (positional > 3 && strchr(f[positional - 1], '='))
		positional--;
	if (positional < 3 || positional > 4)
		return cli_bad(c, "%s:%u: want " FIELDS_HELP ", got %d field%s", path, ln, nf,
			       nf == 1 ? "" : "s");
	if (pias_ta_parse(f[0], &t->ta, &e))
		return cli_bad(c, "%s:%u: TA: %s", path, ln, e.msg);
	if (pias_endpoint_parse(f[1], &t->addr, &t->family, &t->port, &e))
		return cli_bad(c, "%s:%u: endpoint: %s", path, ln, e.msg);
	if (t->family != t->ta.family)
		return cli_bad(c, "%s:%u: endpoint %s is IPv%u but TA %s is IPv%u", path, ln, f[1],
			       t->family, f[0], t->ta.family);
	t->weight = 1;
	snprintf(what, sizeof(what), "%s:%u: weight", path, ln);
	if (positional == 4 && cli_u32(c, what, f[3], 1, UINT32_MAX, &t->weight))
		return EXIT_USAGE;
	for (int i = positional; i < nf; i++) {
		if (!strncmp(f[i], "policy=", 7)) {
			if (pias_policy_parse(f[i] + 7, t->ta.family, &t->policy, &e))
				return cli_bad(c, "%s:%u: %s", path, ln, e.msg);
		} else if (!strncmp(f[i], "serial=", 7)) {
			snprintf(what, sizeof(what), "%s:%u: serial", path, ln);
			if (cli_u32(c, what, f[i] + 7, 0, UINT32_MAX, &t->policy_serial))
				return EXIT_USAGE;
		} else if (!strncmp(f[i], "check=", 6)) {
			/* a field has no spaces: a command with them goes in a script */
			if (pias_check_parse(f[i] + 6, &r->check, &e))
				return cli_bad(c, "%s:%u: %s", path, ln, e.msg);
		} else {
			return cli_bad(c,
				       "%s:%u: '%s': want policy=POLICY, serial=N or check=CHECK",
				       path, ln, f[i]);
		}
	}
	if (pias_key_read_file(f[2], r->token, &e))
		return cli_fail(c, "%s:%u: token file: %s", path, ln, e.msg);
	return 0;
}

/* The same TA and endpoint twice would be one target registered by two agents. */
static int find_twin(const struct agent_reg *regs, size_t n, const struct agent_reg *r)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(&regs[i].tgt.ta, &r->tgt.ta, sizeof(r->tgt.ta)) &&
		    regs[i].tgt.port == r->tgt.port &&
		    !memcmp(&regs[i].tgt.addr, &r->tgt.addr, sizeof(r->tgt.addr)))
			return (int)i;
	return -1;
}

int reg_file_read(struct cli *c, const char *path, const union pias_addr *reg_addr, __u8 reg_family,
		  __u16 reg_port, struct agent_reg **regs, size_t *n)
{
	struct agent_reg *v = NULL;
	size_t cap = 0, len = 0, bufcap = 0;
	unsigned int *lines = NULL, ln = 0;
	char *buf = NULL, *f[FIELDS_MAX];
	FILE *fp = fopen(path, "r");
	int rc = 0;

	if (!fp)
		return cli_fail(c, "--file %s: %s", path, strerror(errno));
	while (!rc && getline(&buf, &bufcap, fp) >= 0) {
		int nf = split(buf, f), twin;

		ln++;
		if (nf == 0)
			continue;
		if (nf < 0) {
			rc = cli_bad(c, "%s:%u: want " FIELDS_HELP ", got more", path, ln);
			break;
		}
		if (len == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct agent_reg *nv = realloc(v, ncap * sizeof(*v));
			unsigned int *nl = realloc(lines, ncap * sizeof(*lines));

			if (nv)
				v = nv;
			if (nl)
				lines = nl;
			if (!nv || !nl) {
				rc = cli_fail(c, "out of memory");
				break;
			}
			cap = ncap;
		}
		memset(&v[len], 0, sizeof(v[len]));
		if ((rc = parse_line(c, path, ln, f, nf, &v[len])))
			break;
		/* O(n^2), once at start: 1e4 lines take well under a second */
		if ((twin = find_twin(v, len, &v[len])) >= 0) {
			rc = cli_bad(c, "%s:%u: the same TA and endpoint as line %u", path, ln,
				     lines[twin]);
			break;
		}
		agent_reg_service(&v[len], reg_addr, reg_family, reg_port);
		lines[len++] = ln;
	}
	if (!rc && ferror(fp))
		rc = cli_fail(c, "--file %s: %s", path, strerror(errno));
	if (!rc && !len)
		rc = cli_bad(c, "%s: no registration in the file", path);
	fclose(fp);
	free(buf);
	free(lines);
	if (rc) {
		if (v)
			sodium_memzero(v, cap * sizeof(*v)); /* tokens */
		free(v);
		return rc;
	}
	*regs = v;
	*n = len;
	return 0;
}
