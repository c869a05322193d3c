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

static int run(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[] = {
		[O_COUNT] = OPT_VALUE("--count"), [O_TIMEOUT] = OPT_VALUE("--timeout-ms"), OPT_END
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct pias_event_reader *rd;
	struct ev_ctx x = { 0 };
	__u32 timeout = 0;
	char *pos[CLI_MAX_POS];
	struct pias_maps *m;
	struct pias_err e;
	__u64 deadline = 0;
	int npos, r;

	if ((r = cli_parse(c, argc, argv, o, pos, &npos)))
		return r < 0 ? EXIT_OK : r;
	if ((r = cli_npos(c, npos, 0, 0)))
		return r;
	if (o[O_COUNT].seen &&
	    (r = cli_u32(c, "--count", o[O_COUNT].value, 1, UINT32_MAX, &x.want)))
		return r;
	if (o[O_TIMEOUT].seen &&
	    (r = cli_u32(c, "--timeout-ms", o[O_TIMEOUT].value, 1, UINT32_MAX, &timeout)))
		return r;
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
		fprintf(stderr,
			"%s %s: %lu records too short for an event skipped (dataplane of another version?)\n",
			c->prog, c->cmd->name, pias_event_reader_malformed(rd));
	pias_event_reader_free(rd);
	return r;
}

const struct cmd cmd_events = {
	.name = "events",
	.args = "[--count N] [--timeout-ms T]",
	.summary = "print events as they arrive, one line each",
	.help = "  --count N        exit after N events\n"
		"  --timeout-ms T   exit after T ms (also when fewer than N came)\n"
		"Without either, runs until interrupted; exit status 0 in all these cases.\n"
		"Lines look like: bound iap=1 rap=2 jap=3 ta=udp:203.0.113.10:53\n"
		"(types: miss, bound, no_group, invalidate). The ring buffer has one\n"
		"reader: events read here are not seen by a running piasd.\n",
	.run = run,
};
