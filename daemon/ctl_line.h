/* SPDX-License-Identifier: MIT */
/*
 * The control socket's request line (daemon/ctl_proto.h), parsed: what the
 * server checks before it looks up a command. Pure, so that it can be
 * fuzzed without a daemon around it.
 */
#ifndef PIAS_DAEMON_CTL_LINE_H
#define PIAS_DAEMON_CTL_LINE_H

#include <stddef.h>

#include "err.h"

#define PIAS_CTL_WORDS_MAX 8 /* words of a request at most */

/*
 * Split line (len bytes, the "\n" already taken off; a NUL at line[len])
 * into words at single or repeated spaces, in place: words[] point into
 * line. Returns the number of words (0 for an empty line); -EINVAL for a
 * NUL or another control character inside the line, -E2BIG for more than
 * PIAS_CTL_WORDS_MAX words or a line of PIAS_CTL_REQUEST_MAX bytes or more.
 */
int pias_ctl_split(char *line, size_t len, char *words[PIAS_CTL_WORDS_MAX], struct pias_err *e);

#endif
