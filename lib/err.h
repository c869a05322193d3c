/* SPDX-License-Identifier: MIT */
/*
 * Error reporting for the user-space library: every failing call returns a
 * negative errno and fills a one-line message that names what was wrong, so
 * that a tool can print it as is and a test can assert on it.
 */
#ifndef PIAS_LIB_ERR_H
#define PIAS_LIB_ERR_H

#define PIAS_ERR_LEN 512

struct pias_err {
	char msg[PIAS_ERR_LEN];
};

/*
 * Fill e (which may be NULL) and return code, so that a failure path is one
 * line: `return pias_err_set(e, -EINVAL, "bad port '%s'", s);`.
 */
int pias_err_set(struct pias_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
