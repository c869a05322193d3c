// SPDX-License-Identifier: MIT
/*
 * Checked up front because the kernel answers a missing capability with a
 * bare EPERM, which on this kernel also means "freplace refused" (libxdp's
 * dispatcher): knowing which one it is decides the message and the fallback.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* The effective capability set from /proc/self/status (no libcap needed). */
static int effective_caps(unsigned long long *caps)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", caps) == 1) {
			found = 0;
			break;
		}
	fclose(f);
	return found;
}

int privs_check(struct pias_err *e)
{
	unsigned long long caps = 0;
	bool bpf, net;

	if (effective_caps(&caps))
		return 0; /* cannot tell: let the kernel decide */
	bpf = caps & ((1ull << CAP_BPF) | (1ull << CAP_SYS_ADMIN));
	net = caps & (1ull << CAP_NET_ADMIN);
	if (bpf && net)
		return 0;
	return pias_err_set(
		e, -EPERM,
		"not allowed to load and attach XDP programs: run as root or with CAP_BPF and CAP_NET_ADMIN");
}
