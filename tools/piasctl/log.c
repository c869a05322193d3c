// SPDX-License-Identifier: MIT
/* Timestamped lines on stderr, so that a long-running join leaves a readable log. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "piasctl.h"

void log_line(const char *fmt, ...)
{
	char stamp[32] = "";
	struct timespec ts;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (localtime_r(&ts.tv_sec, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	/* one fprintf for the prefix, one for the rest: stderr is unbuffered */
	flockfile(stderr);
	fprintf(stderr, "%s.%03ld %s: ", stamp, ts.tv_nsec / 1000000, PIASCTL);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}
