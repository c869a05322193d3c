// SPDX-License-Identifier: MIT
/* events: print the dataplane's events as they arrive. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "events.h"
#include "commands.h"

enum {
	O_COUNT,
	O_TIMEOUT
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct ev_ctx {
	__u32 want; /* 0: no limit */
	__u32 seen;
};

static int print_event(const struct pias_event *ev, void *arg)
{
	struct ev_ctx *x = arg;
	char line[160];

	printf("%s\n", pias_event_format(ev, line, sizeof(line)));
	/* Scripts read this through a pipe: each event as soon as it is known. */
	fflush(stdout);
	x->seen++;
	return x->want && x->seen >= x->want;
}

static const struct cli_opt opts[] = {
	[O_COUNT] = { "--count", CLI_U32, "N", "exit after N events", .min = 1, .max = UINT32_MAX },
	[O_TIMEOUT] = { "--timeout-ms", CLI_U32, "T",
			"exit after T ms (also when fewer than N came)", .min = 1,
			.max = UINT32_MAX },
	CLI_OPT_END,
};

static int run(struct cli *c, const struct cli_args *a)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct ev_ctx x = { .want = a->v[O_COUNT].n };
	__u32 timeout = a->v[O_TIMEOUT].n;
	struct pias_event_reader *rd;
	struct pias_maps *m;
	struct pias_err e;
	__u64 deadline = 0;
	int r;

	if ((r = cli_maps(c, &m)))
		return r;
	rd = pias_event_reader_new(m->fd[PIAS_M_EVENTS], print_event, &x, &e);
	if (!rd)
		return cli_fail(c, "%s", e.msg);
	/* No SA_RESTART: a signal must end the wait in epoll. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (timeout)
		deadline = pias_now_ns() + (__u64)timeout * 1000000ull;
	r = EXIT_OK;
	while (!interrupted && !(x.want && x.seen >= x.want)) {
		int wait_ms = 1000;

		if (deadline) {
			__u64 now = pias_now_ns();

			if (now >= deadline)
				break;
			if ((deadline - now) / 1000000ull < (__u64)wait_ms)
				wait_ms = (int)((deadline - now + 999999ull) / 1000000ull);
		}
		int n = pias_event_reader_poll(rd, wait_ms, &e);

		if (n == -EINTR)
			continue;
		if (n < 0) {
			r = cli_fail(c, "%s", e.msg);
			break;
		}
	}
	if (pias_event_reader_malformed(rd))
		fprintf(cli_errf(c),
			"%s %s: %lu records too short for an event skipped (dataplane of another version?)\n",
			c->prog, c->cmd->name, pias_event_reader_malformed(rd));
	pias_event_reader_free(rd);
	return r;
}

const struct cmd cmd_events = {
	.name = "events",
	.opts = opts,
	.summary = "print events as they arrive, one line each",
	.help = "Without either, runs until interrupted; exit status 0 in all these cases.\n"
		"Lines look like: bound iap=1 rap=2 jap=3 ta=udp:203.0.113.10:53\n"
		"(types: miss, bound, no_group, invalidate). The ring buffer has one\n"
		"reader: events read here are not seen by a running piasd.\n",
	.run = run,
};
