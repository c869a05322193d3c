// SPDX-License-Identifier: MIT
/*
 * pias-delay: the lab's link-delay element. This kernel has no netem, so a
 * link with latency between two namespaces is two veths and this relay in a
 * namespace of its own: every frame received on one interface leaves by the
 * other, a fixed time later, like a wire with latency.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "relay.h"

#define DEFAULT_QUEUE (4u << 20)
#define MAX_DELAY_MS  60000.0
#define MAX_QUEUE     (1ull << 30)

static const char usage_text[] =
	"usage: pias-delay --a IF --b IF --delay-ms MS [options]\n"
	"\n"
	"Relays every frame received on interface A out of B and every frame\n"
	"received on B out of A, each after a fixed delay: a wire with latency.\n"
	"Runs in the network namespace that holds A and B, as root.\n"
	"\n"
	"  --a IF                first interface\n"
	"  --b IF                second interface\n"
	"  --delay-ms MS         delay of both directions (decimals allowed: 0.5)\n"
	"  --delay-ab-ms MS      delay of frames from A to B (instead of --delay-ms)\n"
	"  --delay-ba-ms MS      delay of frames from B to A (instead of --delay-ms)\n"
	"  --queue-bytes N       buffer of each direction, suffix k, m or g allowed\n"
	"                        (default 4m; a frame that does not fit is dropped)\n"
	"  --stats-interval S    print the counters every S seconds (default: at exit)\n"
	"  --gro                 GRO on on A and B instead of off: a burst of TCP\n"
	"                        segments crosses as one frame and is cut again on\n"
	"                        the way out; about 3 times the throughput, and\n"
	"                        better timing under load\n"
	"  --help                this text\n"
	"\n"
	"While it runs, A and B are up and promiscuous, and their GRO, GSO, TSO and\n"
	"transmit checksumming are off (each frame crosses on its own and leaves no\n"
	"larger than the MTU, with full checksums, whatever the peers' offloads);\n"
	"all of it is undone at exit. Give A and B no addresses; disabling IPv6 on\n"
	"them keeps the namespace's own chatter off the wire. A peer that sends with\n"
	"XDP_TX (a PIAS proxy) needs an XDP program on the interface facing it\n"
	"(xdp_pass), as any veth peer does.\n"
	"\n"
	"SIGTERM, SIGINT or SIGHUP: print the counters and exit. SIGUSR1: print them.\n"
	"Counters per direction: frames and bytes received and sent, frames still\n"
	"queued, drops (drop_full: queue full; drop_big: longer than the queue;\n"
	"drop_trunc: longer than the receive buffer; drop_send: refused by the\n"
	"kernel; drop_socket: socket buffer overflow), and how late frames left\n"
	"after their due time (average, maximum, how many by more than 0.2 ms, and\n"
	"a histogram in us).\n";

/* A delay in ms, decimals allowed, to ns. */
static int parse_ms(const char *opt, const char *s, uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.0) || v > MAX_DELAY_MS) {
		fprintf(stderr, "pias-delay: %s: '%s' is not a delay in ms from 0 to %.0f\n", opt,
			s, MAX_DELAY_MS);
		return -1;
	}
	*ns = (uint64_t)(v * 1e6 + 0.5);
	return 0;
}

static int parse_bytes(const char *s, size_t *out)
{
	unsigned long long v, mult = 1;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!errno && end != s && *s != '-') {
		switch (*end) {
		case 'k':
		case 'K':
			mult = 1ull << 10;
			end++;
			break;
		case 'm':
		case 'M':
			mult = 1ull << 20;
			end++;
			break;
		case 'g':
		case 'G':
			mult = 1ull << 30;
			end++;
			break;
		}
		if (!*end && v <= MAX_QUEUE / mult && v * mult >= DQ_MIN_BYTES) {
			*out = (size_t)(v * mult);
			return 0;
		}
	}
	fprintf(stderr, "pias-delay: --queue-bytes: '%s' is not a size from %u bytes to 1g\n", s,
		DQ_MIN_BYTES);
	return -1;
}

static int parse_interval(const char *s, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > 86400) {
		fprintf(stderr,
			"pias-delay: --stats-interval: '%s' is not seconds from 0 to 86400\n", s);
		return -1;
	}
	*out = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		O_A = 256,
		O_B,
		O_DELAY,
		O_AB,
		O_BA,
		O_QUEUE,
		O_STATS,
		O_GRO,
		O_HELP
	};
	static const struct option opts[] = {
		{ "a", required_argument, NULL, O_A },
		{ "b", required_argument, NULL, O_B },
		{ "delay-ms", required_argument, NULL, O_DELAY },
		{ "delay-ab-ms", required_argument, NULL, O_AB },
		{ "delay-ba-ms", required_argument, NULL, O_BA },
		{ "queue-bytes", required_argument, NULL, O_QUEUE },
		{ "stats-interval", required_argument, NULL, O_STATS },
		{ "gro", no_argument, NULL, O_GRO },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct relay_opts o = { .queue_bytes = DEFAULT_QUEUE };
	int have_delay = 0, have_ab = 0, have_ba = 0, c;
	uint64_t delay = 0;

	/* counters go to stdout, often a file or pipe: a line at a time */
	setvbuf(stdout, NULL, _IOLBF, 0);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case O_A:
			o.if_a = optarg;
			break;
		case O_B:
			o.if_b = optarg;
			break;
		case O_DELAY:
			if (parse_ms("--delay-ms", optarg, &delay))
				return 2;
			have_delay = 1;
			break;
		case O_AB:
			if (parse_ms("--delay-ab-ms", optarg, &o.delay_ab_ns))
				return 2;
			have_ab = 1;
			break;
		case O_BA:
			if (parse_ms("--delay-ba-ms", optarg, &o.delay_ba_ns))
				return 2;
			have_ba = 1;
			break;
		case O_QUEUE:
			if (parse_bytes(optarg, &o.queue_bytes))
				return 2;
			break;
		case O_STATS:
			if (parse_interval(optarg, &o.stats_interval_s))
				return 2;
			break;
		case O_GRO:
			o.gro = 1;
			break;
		case O_HELP:
			fputs(usage_text, stdout);
			return 0;
		case ':':
			fprintf(stderr, "pias-delay: option '%s' needs a value\n",
				argv[optind - 1]);
			fprintf(stderr, "run 'pias-delay --help' for the options\n");
			return 2;
		default:
			fprintf(stderr, "pias-delay: unknown option '%s'\n", argv[optind - 1]);
			fprintf(stderr, "run 'pias-delay --help' for the options\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pias-delay: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o.if_a || !o.if_b) {
		fprintf(stderr, "pias-delay: --a IF and --b IF are required (see --help)\n");
		return 2;
	}
	if (!have_ab)
		o.delay_ab_ns = delay;
	if (!have_ba)
		o.delay_ba_ns = delay;
	if (!have_delay && !(have_ab && have_ba)) {
		fprintf(stderr,
			"pias-delay: give --delay-ms, or both --delay-ab-ms and --delay-ba-ms\n");
		return 2;
	}
	return relay_run(&o);
}
