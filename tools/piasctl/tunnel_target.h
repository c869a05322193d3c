/* SPDX-License-Identifier: MIT */
/*
 * Tunnel mode on the target host (include/pias/target.h): what `piasctl
 * target join --mode tunnel` sets up on one interface, and takes down.
 *
 *   bpf/target.bpf.c   loaded; pias_tt_ingress and pias_tt_egress attached
 *                      as tc filters (clsact, TT_TC_HANDLE/TT_TC_PRIO)
 *   PIN_ROOT/IFNAME/   pias_tt_svc, pias_tt_stats, pias_tt_owned (below),
 *                      pias_tt_ingress, pias_tt_egress
 *   lo                 each served TA's address (/32, /128 nodad)
 *
 * A killed agent leaves all of it in place (the filters keep serving); the
 * next open on the same interface first undoes what the pins record, so a
 * start always begins from a clean host. PIN_ROOT/IFNAME is flock()ed while
 * open: a second agent on the same interface is refused instead of undoing
 * a live one's state.
 */
#ifndef PIAS_PIASCTL_TUNNEL_TARGET_H
#define PIAS_PIASCTL_TUNNEL_TARGET_H

#include <pias/target.h>

#include "err.h"

/*
 * Our tc filters, on ingress and egress: handle and priority are what
 * identifies them (with the program's name) to a later start. Priority 3:
 * before filters other tools add at tc's defaults (49152 and up), so a plain
 * packet to a served TA meets our drop before anyone's TC_ACT_OK.
 */
#define TT_TC_HANDLE 0x7474
#define TT_TC_PRIO   3

/*
 * pias_tt_owned: HASH pias_addr_key -> __u32 TT_OWN_* flags, created here
 * (the BPF program never reads it). One entry per anycast address of a
 * served TA, written before the address goes on lo; the key with family
 * PIAS_AF_NONE (address zero) holds the host's flags.
 *
 * Why a pinned map and not a file under /run: it must live and die with
 * the services map it qualifies. Both are pinned in one directory, removed
 * together, and both vanish on reboot with the addresses they describe; a
 * file elsewhere could outlive the pins (bpffs remounted) or be lost
 * without them (/run cleaned) and then disagree with them.
 */
#define TT_PIN_OWNED	     "pias_tt_owned"
#define TT_PIN_INGRESS	     "pias_tt_ingress" /* also the program's name */
#define TT_PIN_EGRESS	     "pias_tt_egress"  /* also the program's name */
#define TT_OWN_ADDED	     0x1 /* address: we put it on lo (absent: it was there, leave it) */
#define TT_OWN_QDISC	     0x2 /* host key: we created the clsact qdisc */
#define TT_OWNED_MAX_ENTRIES (PIAS_TT_MAX_SERVICES + 1)

/* Everything tunnel mode set up on this host for one interface. */
struct tt_host;

/*
 * Undo whatever a killed earlier agent left under pin_root/ifname (its
 * filters, the addresses it added to lo, its clsact qdisc, its pins), then
 * load bpf/target.bpf.c, pin its maps and programs there, create clsact
 * if missing and attach both filters. pin_root NULL: PIAS_TT_PIN_ROOT.
 * 0, or -errno with a message that names what failed (and nothing of this
 * call left behind).
 */
int tt_host_open(const char *pin_root, const char *ifname, struct tt_host **out,
		 struct pias_err *e);

/*
 * Serve ta: its address goes on lo unless it is there already (then it is
 * recorded as not ours and never removed), and its service entry (JAP,
 * own address, tunnel port, MTU) is written. Called again for a TA already
 * served (its JAP changed): the entry is replaced.
 */
int tt_host_serve(struct tt_host *h, const struct pias_ta *ta, const struct pias_tt_service *svc,
		  struct pias_err *e);

/* Stop serving ta: its entry goes, and its address too if we added it and no other served TA has it. */
int tt_host_unserve(struct tt_host *h, const struct pias_ta *ta, struct pias_err *e);

/* The counters, summed over CPUs (for a log line on leave). */
int tt_host_stats(struct tt_host *h, struct pias_tt_stats *out, struct pias_err *e);

/*
 * Leave: detach both filters, remove the addresses we added, delete clsact
 * if we created it, unpin, free h (always, even on an error). On an error
 * the pins stay, so the next open retries what failed.
 */
int tt_host_close(struct tt_host *h, struct pias_err *e);

#endif
