// SPDX-License-Identifier: MIT
/*
 * libbpf and libxdp talk a lot, and most of it is noise unless something
 * failed. Keep their messages in memory and print the end of them only when
 * an operation fails: the verifier's verdict is in the last lines.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <xdp/libxdp.h>

#include "loader.h"

#define KEEP_BYTES (1 << 20)

static bool verbose;
static char *buf;
static size_t used;

static void keep(const char *fmt, va_list ap)
{
	char line[4096];
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (!buf && !(buf = malloc(KEEP_BYTES)))
		return;
	/* Full: drop the older half; only the end matters. */
	if (used + (size_t)n > KEEP_BYTES) {
		memmove(buf, buf + used / 2, used - used / 2);
		used -= used / 2;
	}
	memcpy(buf + used, line, (size_t)n);
	used += (size_t)n;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (verbose)
		return vfprintf(stderr, fmt, ap);
	if (level != LIBBPF_DEBUG)
		keep(fmt, ap);
	return 0;
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (verbose)
		return vfprintf(stderr, fmt, ap);
	if (level != LIBXDP_DEBUG)
		keep(fmt, ap);
	return 0;
}

void log_init(bool v)
{
	verbose = v;
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}

void log_tail(FILE *f, int lines)
{
	size_t start = used;

	if (!used)
		return;
	/* Walk back over `lines` newlines (the last one ends the last line). */
	for (int seen = -1; start > 0; start--)
		if (buf[start - 1] == '\n' && ++seen == lines)
			break;
	fprintf(f, "--- last libbpf/libxdp messages (all of them with --verbose) ---\n");
	fwrite(buf + start, 1, used - start, f);
	if (buf[used - 1] != '\n')
		fputc('\n', f);
	fprintf(f, "---\n");
}

void log_forget(void)
{
	used = 0;
}
