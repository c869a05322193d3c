// SPDX-License-Identifier: MIT
/* piasd's log: one line per event on stderr, with wall time and level. */
#include <stdio.h>
#include <time.h>

#include "piasd.h"

static int log_level = PIASD_LOG_INFO;

void piasd_log_level(int level)
{
	log_level = level;
}

bool piasd_log_on(int level)
{
	return level <= log_level;
}

void piasd_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld piasd %s: ", when, ts.tv_nsec / 1000000, names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

__u64 piasd_now(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

__u64 piasd_realtime(void)
{
	return clock_ns(CLOCK_REALTIME);
}
