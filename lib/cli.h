/* SPDX-License-Identifier: MIT */
/*
 * What the commands of pias-maps and piasd-loader share: option splitting,
 * number parsing with messages that name the argument, the exit codes, and
 * opening the maps. One parser, so both tools behave alike.
 *
 * Exit codes: 0 done, 1 runtime error (maps missing, kernel refused),
 * 2 bad argument (one line on stderr naming it).
 */
#ifndef PIAS_LIB_CLI_H
#define PIAS_LIB_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "maps.h"

#define EXIT_OK	     0
#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

struct cli;

struct cmd {
	const char *name;    /* one or two words: "stats", "prefix add" */
	const char *args;    /* synopsis after the name */
	const char *summary; /* one line for the command list */
	const char *help;    /* options and details for COMMAND --help */
	int (*run)(struct cli *c, int argc, char **argv);
};

struct cli {
	const char *prog;      /* "pias-maps", "piasd-loader" */
	const struct cmd *cmd; /* the command running */
	const char *pin_root;
	struct pias_maps maps;
	bool maps_open;
};

/* An option a command accepts; value/seen are filled by cli_parse. */
struct cli_opt {
	const char *name; /* "--ttl" */
	bool has_value;
	const char *value;
	bool seen;
};

#define OPT_VALUE(n)                                                                               \
	{                                                                                          \
		.name = (n), .has_value = true                                                     \
	}
#define OPT_FLAG(n)                                                                                \
	{                                                                                          \
		.name = (n)                                                                        \
	}
#define OPT_END                                                                                    \
	{                                                                                          \
		.name = NULL                                                                       \
	}

#define CLI_MAX_POS 256

/*
 * Split argv into the command's options (opts, NULL-name terminated) and
 * positionals. Also takes --pin-root DIR and --help anywhere. Returns 0,
 * EXIT_USAGE after printing the error, or -1 when --help was printed.
 */
int cli_parse(struct cli *c, int argc, char **argv, struct cli_opt *opts, char **pos, int *npos);

/* Print "pias-maps CMD: message" on stderr; return EXIT_USAGE / EXIT_RUNTIME. */
int cli_bad(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A library error: EINVAL is the caller's input (2), anything else runtime (1). */
int cli_err(struct cli *c, int err, const struct pias_err *e);

/* Check the positional count; what says what was expected ("PREFIX"). */
int cli_npos(struct cli *c, int npos, int min, int max);

/* Decimal number in [min, max]; what names it in the message. */
int cli_u32(struct cli *c, const char *what, const char *s, __u32 min, __u32 max, __u32 *out);

/* A transport address (udp:203.0.113.10:53); EXIT_USAGE naming what is wrong. */
int cli_ta(struct cli *c, const char *s, struct pias_ta *ta);

/*
 * The whole of a "COMMAND TA" subcommand that removes what TA maps to:
 * parses exactly one TA, opens the maps, calls del.
 */
typedef int (*cli_ta_del_fn)(struct pias_maps *m, const struct pias_ta *ta, struct pias_err *e);
int cli_run_ta_del(struct cli *c, int argc, char **argv, cli_ta_del_fn del);

/* Open the pinned maps under the pin root (once); EXIT_RUNTIME on failure. */
int cli_maps(struct cli *c, struct pias_maps **m);

void cli_print_help(FILE *f, const struct cmd *cmd, const char *prog);

#endif
