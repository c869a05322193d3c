// SPDX-License-Identifier: MIT
/*
 * Driver of selftests/ns/test_tt_host.sh: tunnel mode's host setup
 * (tools/piasctl/tunnel_target.c) without the agent around it.
 *
 *   tt_host_check PIN_ROOT IFNAME serve [+TA|-TA]...
 *       open, serve (+) or unserve (-) each TA in turn, print "ready PID",
 *       then on SIGTERM or SIGINT print the counters and close
 *   tt_host_check PIN_ROOT IFNAME clean
 *       open (undoing what a killed driver left), then close
 *
 * Service entries point at documentation addresses: JAP 198.51.100.1 or
 * 2001:db8:1::1, self .2 or ::2, default tunnel port, MTU 1500.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "tunnel_target.h"

static int service(const struct pias_ta *ta, struct pias_tt_service *svc, struct pias_err *e)
{
	bool v4 = ta->family == PIAS_AF_INET;
	__u8 family;
	int rc;

	memset(svc, 0, sizeof(*svc));
	if ((rc = pias_addr_parse(v4 ? "198.51.100.1" : "2001:db8:1::1", &svc->jap, &family, e)) ||
	    (rc = pias_addr_parse(v4 ? "198.51.100.2" : "2001:db8:1::2", &svc->self, &family, e)))
		return rc;
	svc->tunnel_port = PIAS_TUN_PORT_DEFAULT;
	svc->mtu = 1500;
	svc->family = ta->family;
	return 0;
}

static int step(struct tt_host *h, const char *arg, struct pias_err *e)
{
	struct pias_tt_service svc;
	struct pias_ta ta;
	int rc;

	if (arg[0] != '+' && arg[0] != '-')
		return pias_err_set(e, -EINVAL, "'%s': +TA or -TA", arg);
	if ((rc = pias_ta_parse(arg + 1, &ta, e)))
		return rc;
	if (arg[0] == '-')
		return tt_host_unserve(h, &ta, e);
	if ((rc = service(&ta, &svc, e)))
		return rc;
	return tt_host_serve(h, &ta, &svc, e);
}

static void wait_signal(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready %d\n", (int)getpid()); /* the test's kill -9 needs our pid, not its shell's */
	fflush(stdout);
	sigwait(&set, &sig);
}

static void print_stats(struct tt_host *h)
{
	struct pias_tt_stats st;
	struct pias_err e;

	if (tt_host_stats(h, &st, &e)) {
		fprintf(stderr, "tt_host_check: %s\n", e.msg);
		return;
	}
#define TT_PRINT(name, text) printf("%s %llu\n", #name, (unsigned long long)st.name);
	PIAS_TT_STATS(TT_PRINT)
#undef TT_PRINT
}

int main(int argc, char **argv)
{
	struct tt_host *h;
	struct pias_err e;
	bool serve = argc >= 4 && !strcmp(argv[3], "serve");

	if (argc < 4 || (!serve && (strcmp(argv[3], "clean") || argc != 4))) {
		fprintf(stderr, "usage: tt_host_check PIN_ROOT IFNAME serve [+TA|-TA]...\n"
				"       tt_host_check PIN_ROOT IFNAME clean\n");
		return 2;
	}
	if (tt_host_open(argv[1], argv[2], &h, &e))
		goto fail;
	for (int i = 4; serve && i < argc; i++)
		if (step(h, argv[i], &e)) {
			tt_host_close(h, NULL);
			goto fail;
		}
	if (serve) {
		wait_signal();
		print_stats(h);
	}
	if (tt_host_close(h, &e))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "tt_host_check: %s\n", e.msg);
	return 1;
}
