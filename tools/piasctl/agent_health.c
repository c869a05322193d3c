// SPDX-License-Identifier: MIT
/* Health checkers of the agent: runs on a timer, results into rise/fall (agent_health.h). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "agent_health.h"
#include "check_probe.h"

struct checker {
	struct check_opts o;
	struct pias_health h;
	struct probe *p;
	struct event *next;
	struct timespec started;
	checker_changed_fn changed;
	void *arg;
	char name[PIAS_CHECK_ARG_LEN + 80];
};

static long long ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000LL + (now.tv_nsec - t->tv_nsec) / 1000000LL;
}

static void on_done(void *arg, bool pass, const char *why)
{
	struct checker *c = arg;
	enum pias_health_state s = pias_health_result(&c->h, pass);
	long long wait = (long long)c->o.interval_ms - ms_since(&c->started);
	struct timeval tv = { 0, 0 };

	if (wait > 0) {
		tv.tv_sec = wait / 1000;
		tv.tv_usec = (wait % 1000) * 1000;
	}
	event_add(c->next, &tv);
	if (s != PIAS_HEALTH_UNKNOWN)
		c->changed(c->arg, c, s, why); /* last: it may log and send, not free us */
}

static void on_next(evutil_socket_t fd, short what, void *arg)
{
	struct checker *c = arg;

	(void)fd;
	(void)what;
	clock_gettime(CLOCK_MONOTONIC, &c->started);
	probe_run(c->p, c->o.timeout_ms);
}

struct checker *checker_new(struct event_base *base, const struct check_opts *o,
			    const struct sockaddr_storage *to, socklen_t to_len, const char *to_str,
			    checker_changed_fn changed, void *arg)
{
	struct checker *c = calloc(1, sizeof(*c));
	struct timeval now = { 0, 0 };
	char spec[PIAS_CHECK_ARG_LEN + 8];

	if (!c)
		return NULL;
	c->o = *o;
	c->changed = changed;
	c->arg = arg;
	pias_health_init(&c->h, o->rise, o->fall);
	snprintf(c->name, sizeof(c->name), "check %s at %s",
		 pias_check_str(&o->spec, spec, sizeof(spec)), to_str);
	c->p = probe_new(base, &o->spec, to, to_len, on_done, c);
	c->next = evtimer_new(base, on_next, c);
	if (!c->p || !c->next || event_add(c->next, &now)) {
		checker_free(c);
		return NULL;
	}
	return c;
}

enum pias_health_state checker_state(const struct checker *c)
{
	return c->h.state;
}

const char *checker_name(const struct checker *c)
{
	return c->name;
}

void checker_counts(const struct checker *c, unsigned long long *checks, unsigned long long *failed)
{
	*checks = c->h.checks;
	*failed = c->h.failed;
}

void checker_free(struct checker *c)
{
	if (!c)
		return;
	if (c->next)
		event_free(c->next);
	probe_free(c->p);
	free(c);
}
