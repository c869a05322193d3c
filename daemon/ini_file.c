// SPDX-License-Identifier: MIT
/* Line reader for libinih with FILE:LINE errors: see ini_file.h. */
#include <errno.h>
#include <string.h>

#include "ini_file.h"

int ini_file_fail(struct ini_file *f, int line, int code, const char *what, const char *msg)
{
	if (!f->failed) {
		pias_err_set(f->e, code, "%s:%d: %s: %s", f->name, line, what, msg);
		f->code = code;
	}
	f->failed = true;
	return code;
}

bool ini_file_known_section(const struct ini_file *f, const char *s)
{
	for (const char *const *k = f->sections; *k; k++)
		if (!strcmp(s, *k))
			return true;
	return false;
}

void ini_file_fail_section(struct ini_file *f, const char *s)
{
	char what[96], msg[160];

	if (f->secret)
		snprintf(what, sizeof(what), "section");
	else
		snprintf(what, sizeof(what), "[%.80s]", s);
	snprintf(msg, sizeof(msg), "unknown section (expected %s)", f->expected);
	ini_file_fail(f, f->lineno, -EINVAL, what, msg);
}

char *ini_file_reader(char *str, int num, void *stream)
{
	struct ini_file *f = stream;
	size_t n;
	char *p, *end;

	if (f->failed || !fgets(str, num, f->f))
		return NULL;
	f->lineno++;
	n = strlen(str);
	if (n && str[n - 1] != '\n' && !feof(f->f)) {
		char msg[64];

		snprintf(msg, sizeof(msg), "line is longer than %d characters", num - 2);
		ini_file_fail(f, f->lineno, -EINVAL, "syntax error", msg);
		return NULL;
	}
	p = str;
	if (f->lineno == 1 && !strncmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	p += strspn(p, " \t");
	if (f->dedent) {
		/* inih would take an indented line for a continuation */
		memmove(str, p, strlen(p) + 1);
		p = str;
	}
	if (*p == '[' && (end = strchr(p, ']'))) {
		*end = '\0';
		if (!ini_file_known_section(f, p + 1))
			ini_file_fail_section(f, p + 1);
		*end = ']';
		if (f->failed)
			return NULL;
	}
	return str;
}
