// SPDX-License-Identifier: GPL-2.0
/*
 * A program that passes everything. On veth, frames a peer sends with XDP_TX
 * are only delivered when the receiving veth runs an XDP program (the kernel
 * schedules the receiver's NAPI only then); the namespace tests attach this
 * to the veth ends facing a proxy. Real NICs do not need it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int pias_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
