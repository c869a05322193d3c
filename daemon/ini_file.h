/* SPDX-License-Identifier: MIT */
/*
 * Reading an INI file with libinih so that every error can name FILE:LINE:
 * the line reader handed to ini_parse_stream() counts lines, refuses lines
 * longer than inih's buffer (inih would split them silently) and catches
 * unknown sections even when they hold no key (inih reports keys, not
 * sections). Used by the config file (config.c) and the key ring (keys.c).
 */
#ifndef PIAS_DAEMON_INI_FILE_H
#define PIAS_DAEMON_INI_FILE_H

#include <stdbool.h>
#include <stdio.h>

#include "err.h"

struct ini_file {
	const char *name; /* for messages */
	FILE *f;
	int lineno; /* of the line being read */
	bool failed;
	int code; /* the first failure's */
	struct pias_err *e;
	const char *const *sections; /* known section names, NULL-terminated */
	const char *expected;	     /* "node, anycast or keys", for the message */
	bool dedent;		     /* drop indentation: no value continues on the next line */
	bool secret; /* a key file: an error never echoes a section name, which may be a key */
};

/* The first failure fills e as "NAME:LINE: WHAT: MSG"; returns code. */
int ini_file_fail(struct ini_file *f, int line, int code, const char *what, const char *msg);

/* Is s one of f->sections? */
bool ini_file_known_section(const struct ini_file *f, const char *s);

/* Fail at the current line: unknown section s. */
void ini_file_fail_section(struct ini_file *f, const char *s);

/* The reader for ini_parse_stream(reader, f, ...); stream is a struct ini_file. */
char *ini_file_reader(char *str, int num, void *stream);

#endif
