/* SPDX-License-Identifier: MIT */
/*
 * What the commands of piasd-loader, pias-maps and piasctl share: one
 * dispatcher over a command table per tool, typed options declared in the
 * table (checked before a command runs, with messages that name them),
 * usage and --help texts generated from the tables, the exit codes, and
 * opening the maps. One parser, so the three tools behave alike.
 *
 *   cli.c        messages, exit codes, number and TA helpers, the maps
 *   cli_value.c  one typed value: number with range, enum, interface, address
 *   cli_parse.c  a command's argv against its table
 *   cli_usage.c  synopsis, --help and the tool's usage, from the tables
 *   cli_main.c   the dispatcher: global options, command lookup, run
 *
 * Exit codes: 0 done, 1 runtime error (maps missing, kernel refused),
 * 2 bad argument (one line on stderr naming it).
 */
#ifndef PIAS_LIB_CLI_H
#define PIAS_LIB_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "err.h"
#include "maps.h"

#define EXIT_OK	     0
#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

/* A macro's value as a string, for defaults: CLI_XSTR(PIAS_RAP_REPLICAS). */
#define CLI_STR_(x)  #x
#define CLI_XSTR(x)  CLI_STR_(x)

#define CLI_MAX_POS  256
#define CLI_MAX_OPTS 32

enum cli_type {
	CLI_FLAG,     /* no value */
	CLI_STR,      /* any non-empty word: a file, a key list */
	CLI_U32,      /* decimal number in [min, max] */
	CLI_ENUM,     /* one of choices; the value is its index */
	CLI_IFNAME,   /* a network interface's name, as the kernel allows one */
	CLI_ADDR,     /* IPv4 or IPv6 address */
	CLI_ENDPOINT, /* ADDR:PORT, [ADDR6]:PORT */
	CLI_TA,	      /* a transport address, udp:203.0.113.10:53 */
};

/* Positionals: optional ones come last; a repeated one is the very last. */
#define CLI_REQUIRED (1u << 0) /* an option that must be given */
#define CLI_OPTIONAL (1u << 1) /* a positional that may be left out */
#define CLI_REPEAT   (1u << 2) /* a positional that takes the rest, one or more */

/*
 * One option ("--ttl") or positional ("TA") of a command, or a global
 * option of a tool. A command's table ends with an entry of NULL name;
 * positionals come in the order they are given.
 */
struct cli_opt {
	const char *name;
	enum cli_type type;
	const char *arg;	    /* the value's name in texts ("SECONDS"); enum: a|b|c */
	const char *help;	    /* one line, "\n" between lines; NULL: not listed */
	__u32 min, max;		    /* CLI_U32 */
	const char *const *choices; /* CLI_ENUM, NULL-terminated */
	const char *def;	    /* a default, parsed like a given value and shown */
	const char *what;	    /* a positional's name in messages ("proxy id") */
	const char *alias;	    /* a short form of a global option ("-s") */
	unsigned int flags;
};

#define CLI_OPT_END                                                                                \
	{                                                                                          \
		.name = NULL                                                                       \
	}

/* A value from the command line, or the option's default (seen false). */
struct cli_val {
	bool seen;
	const char *s; /* as given */
	__u32 n;       /* CLI_U32: the number; CLI_ENUM: the choice's index */
	struct pias_ta ta;
	union pias_addr addr; /* CLI_ADDR, CLI_ENDPOINT */
	__u8 family;
	__u16 port;
};

/* What a command gets: v[i] for its table's entry i; rep[] for a CLI_REPEAT one. */
struct cli_args {
	struct cli_val v[CLI_MAX_OPTS];
	struct cli_val rep[CLI_MAX_POS];
	int nrep;
};

struct cli;

struct cmd {
	const char *name;	    /* one or two words: "stats", "prefix add" */
	const struct cli_opt *opts; /* positionals and options; NULL: none */
	const char *args;	    /* a synopsis by hand, where the table cannot say it */
	const char *summary;	    /* one line for the command list */
	const char *help;	    /* details after the options in COMMAND --help */
	int (*run)(struct cli *c, const struct cli_args *a);
};

/* A tool: its commands and global options, for cli_main. */
struct cli_tool {
	const char *prog;
	const char *about;		   /* what the tool does, after its usage line */
	const struct cmd *const *commands; /* NULL-terminated */
	const struct cli_opt *globals;	   /* before the command */
	bool globals_anywhere;		   /* also among a command's options */
	/* after the globals and before the command runs; returns an exit code or 0 */
	int (*ready)(struct cli *c, const struct cli_val *globals);
};

struct cli {
	const char *prog;      /* "pias-maps", "piasd-loader" */
	const struct cmd *cmd; /* the command running */
	const struct cli_tool *tool;
	const char *pin_root;
	struct pias_maps maps;
	bool maps_open;
	FILE *out, *err; /* NULL: stdout, stderr (tests catch them) */
	struct cli_val globals[CLI_MAX_OPTS];
};

/*
 * The dispatcher: global options, the command (one or two words), its
 * options checked against its table, then its run. Returns the exit code.
 */
int cli_main(struct cli *c, const struct cli_tool *t, int argc, char **argv);

/*
 * argv (after the command's name) against c->cmd's table into a. Returns 0,
 * EXIT_USAGE after printing the error, or -1 when --help was printed.
 */
int cli_parse(struct cli *c, int argc, char **argv, struct cli_args *a);

/* One value of o's type from s into v; EXIT_USAGE after a message naming o. */
int cli_value(struct cli *c, const struct cli_opt *o, const char *s, struct cli_val *v);

/* Texts generated from the tables. */
void cli_synopsis(FILE *f, const struct cmd *cmd, bool short_form);
void cli_print_help(struct cli *c, FILE *f, const struct cmd *cmd);
void cli_print_usage(struct cli *c, FILE *f);
/* "  --name ARG   help (MIN-MAX, default D)", for each listed entry of opts. */
void cli_print_opts(FILE *f, const struct cli_opt *opts);

/* Print "pias-maps CMD: message" on stderr; return EXIT_USAGE / EXIT_RUNTIME. */
int cli_bad(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A library error: EINVAL is the caller's input (2), anything else runtime (1). */
int cli_err(struct cli *c, int err, const struct pias_err *e);
/* "--dev IFACE is required" unless v was given. */
int cli_required(struct cli *c, const struct cli_opt *o, const struct cli_val *v);

FILE *cli_out(const struct cli *c);
FILE *cli_errf(const struct cli *c);

/* Decimal number in [min, max]; what names it in the message. */
int cli_u32(struct cli *c, const char *what, const char *s, __u32 min, __u32 max, __u32 *out);

/* One number of cli_u32_pair: what it is, its range, where it goes. */
struct cli_u32_part {
	const char *what;
	__u32 min, max;
	__u32 *out;
};

/*
 * "A" or "A<sep>B" (JAP_ID:WEIGHT, FIRST-LAST): A into first->out, B if
 * given into second->out (left as it is if not).
 */
int cli_u32_pair(struct cli *c, const char *arg, char sep, const struct cli_u32_part *first,
		 const struct cli_u32_part *second);

/*
 * The whole of a "COMMAND TA" subcommand that removes what TA maps to:
 * opens the maps, calls del with the command's one positional (CLI_TA).
 */
typedef int (*cli_ta_del_fn)(struct pias_maps *m, const struct pias_ta *ta, struct pias_err *e);
int cli_run_ta_del(struct cli *c, const struct cli_args *a, cli_ta_del_fn del);
/* The table of such a command: one TA. */
extern const struct cli_opt cli_opts_ta[];

/* The global options of the tools on the pinned maps: --pin-root DIR. */
extern const struct cli_opt cli_opts_pin_root[];
int cli_ready_pin_root(struct cli *c, const struct cli_val *globals);

/* Open the pinned maps under the pin root (once); EXIT_RUNTIME on failure. */
int cli_maps(struct cli *c, struct pias_maps **m);

#endif
