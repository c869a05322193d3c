// SPDX-License-Identifier: GPL-2.0
/*
 * PIAS dataplane: one XDP program for every interface of a proxy. It plays
 * IAP, RAP and JAP as each packet requires; see bpf/lib/pias_main.h.
 */
#include "lib/pias_main.h"

SEC("xdp")
int pias_xdp(struct xdp_md *ctx)
{
	return pias_process(ctx);
}

char LICENSE[] SEC("license") = "GPL";
