/* SPDX-License-Identifier: MIT */
/*
 * Replication (policy replicate/k, docs/design.md "Choosing a target"): XDP
 * cannot copy a packet, so the JAP's XDP program hands a replicated
 * group's packet, decapsulated, up to the TC program on the same
 * interface (bpf/lib/replica.h), which sends a copy to each of k targets.
 * This is the metadata in front of the packet that says so: only an XDP
 * program can put it there, so a packet from the wire never carries it.
 */
#ifndef PIAS_REPLICA_H
#define PIAS_REPLICA_H

#include "types.h"

#define PIAS_REPLICA_MAGIC 0x50525031u /* "PRP1" */

struct pias_replica_meta {
	__u32 magic;  /* PIAS_REPLICA_MAGIC */
	__u32 iap_id; /* the IAP the packet entered at, for its connections */
};
PIAS_STATIC_ASSERT(sizeof(struct pias_replica_meta) == 8, "pias_replica_meta layout");

#endif
