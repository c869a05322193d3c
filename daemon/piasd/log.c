// SPDX-License-Identifier: MIT
/*
 * piasd's log: one line per event. On stderr with wall time and level (a
 * terminal, a file); on stderr with a syslog priority prefix, "<6>", for
 * systemd's journal, which stamps and ranks lines itself
 * (sd-daemon(3)); or to syslog(3).
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "piasd.h"

static int log_level = PIASD_LOG_INFO;
static enum piasd_log_to log_to = PIASD_LOG_TO_STDERR;

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const char *const to_names[] = { "stderr", "journal", "syslog" };
/* syslog(3) priorities, by level */
static const int priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

static int find(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

int piasd_log_level_parse(const char *s)
{
	return find(level_names, 4, s);
}

int piasd_log_to_parse(const char *s)
{
	return find(to_names, 3, s);
}

void piasd_log_level(int level)
{
	log_level = level;
}

void piasd_log_to(enum piasd_log_to to)
{
	log_to = to;
	if (to == PIASD_LOG_TO_SYSLOG)
		openlog("piasd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

bool piasd_log_on(int level)
{
	return level <= log_level;
}

void piasd_log(int level, const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	if (level > log_level || level < 0)
		return;
	va_start(ap, fmt);
	switch (log_to) {
	case PIASD_LOG_TO_SYSLOG:
		vsyslog(priorities[level], fmt, ap);
		break;
	case PIASD_LOG_TO_JOURNAL:
		fprintf(stderr, "<%d>%s: ", priorities[level], level_names[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		break;
	case PIASD_LOG_TO_STDERR:
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld piasd %s: ", when, ts.tv_nsec / 1000000,
			level_names[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		break;
	}
	va_end(ap);
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
