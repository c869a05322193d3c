// SPDX-License-Identifier: GPL-2.0
/*
 * PIAS dataplane: one XDP program for every interface of a proxy. It plays
 * IAP, RAP and JAP as each packet requires; see bpf/lib/pias_main.h. A TC
 * program on the same interfaces sends the copies of a replicated group's
 * packets, which XDP cannot make (bpf/lib/replica.h).
 */
#include "lib/pias_main.h"
#include "lib/replica.h"

SEC("xdp")
int pias_xdp(struct xdp_md *ctx)
{
	return pias_process(ctx);
}

SEC("tc")
int pias_tc(struct __sk_buff *skb)
{
	return pias_replicate(skb);
}

char LICENSE[] SEC("license") = "GPL";
