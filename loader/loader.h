/* SPDX-License-Identifier: MIT */
/*
 * piasd-loader: puts the PIAS XDP program on interfaces, with its maps
 * pinned under a pin root, takes it off, reports, and swaps in a new build
 * of the program without losing state. Shared declarations of its files.
 */
#ifndef PIAS_LOADER_H
#define PIAS_LOADER_H

#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>

#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "cli.h"
#include "err.h"

/* The program's name in bpf/pias.bpf.c, as the kernel reports it. */
#define PIAS_PROG_NAME "pias_xdp"
/* Its TC program (replication's copies), on the same interfaces. */
#define PIAS_TC_PROG_NAME "pias_tc"
/* The name libxdp gives its dispatcher program. */
#define XDP_DISPATCHER_NAME "xdp_dispatcher"

/* --- log.c: libbpf/libxdp messages, kept until we know they matter ------ */

/* verbose: print everything as it comes; otherwise keep it for log_tail. */
void log_init(bool verbose);
/* Print the last lines kept (the end of a verifier log says why). */
void log_tail(FILE *f, int lines);
void log_forget(void);

/* --- tc.c: the TC program at clsact ingress ------------------------------ */

/* Put prog_fd at ifindex's ingress (or in place of ours there). */
int tc_attach(int ifindex, int prog_fd, const char *ifname, struct pias_err *e);
/* Take ours off; none there is no error. */
int tc_detach(int ifindex, const char *ifname, struct pias_err *e);
/* The loaded object's TC program, or -ENOENT. */
int tc_prog_fd(struct bpf_object *obj);

/* --- privs.c ---------------------------------------------------------- */

/* 0 if we may load and attach XDP programs; else the one-line fix. */
int privs_check(struct pias_err *e);

/* --- obj.c: the PIAS object (built in, or --obj FILE) ------------------- */

struct pias;

struct pias_obj {
	struct pias *skel;	/* when built in */
	struct bpf_object *obj; /* the object either way */
	struct bpf_program *prog;
	char file[256]; /* "built-in" or the path, for messages */
};

int obj_open(struct pias_obj *o, const char *file, const char *pin_root, struct pias_err *e);
/*
 * The flow and connection tables' sizes: what is pinned already (a second
 * interface, a replace), else flows and conns (0: the object's default).
 * A size asked for that differs from a pinned one is refused.
 */
int obj_set_sizes(struct pias_obj *o, const char *pin_root, __u32 flows, __u32 conns,
		  struct pias_err *e);
/* Pinned maps the object would reuse must match it exactly (libbpf would refuse). */
int obj_check_pins(struct pias_obj *o, const char *pin_root, struct pias_err *e);
/* Load (and pin the maps); on a verifier refusal the message says where to look. */
int obj_load(struct pias_obj *o, struct pias_err *e);
void obj_close(struct pias_obj *o);

/* --- iface.c: which XDP programs run where ------------------------------ */

struct xdp_att {
	int ifindex;
	char ifname[IF_NAMESIZE];
	int mode;		     /* XDP_MODE_NATIVE, XDP_MODE_SKB, XDP_MODE_HW */
	__u32 attached_id;	     /* program on the interface (maybe the dispatcher) */
	__u32 prog_id;		     /* the PIAS program, or attached_id if not PIAS */
	char name[BPF_OBJ_NAME_LEN]; /* name of prog_id */
	bool dispatcher;	     /* attached_id is libxdp's dispatcher */
	bool is_pias;
	bool ours; /* PIAS using the maps under the pin root asked for */
};

#define IFACE_MAX_ATT	   3 /* native, skb, hw */
#define PIAS_ROOT_MAX_MAPS 64

/*
 * Ids of the maps pinned under a pin root: a PIAS program using any of them
 * is "ours" (another proxy in the same namespace has its own pin root).
 */
struct root_maps {
	__u32 ids[PIAS_ROOT_MAX_MAPS];
	int n;
};

void iface_root_maps(const char *pin_root, struct root_maps *rm);
/* What runs on ifindex, one entry per mode in use; returns how many. */
int iface_query(int ifindex, const struct root_maps *rm, struct xdp_att *out, struct pias_err *e);
/* The same for every interface of this network namespace; *n entries, caller frees. */
int iface_query_all(const struct root_maps *rm, struct xdp_att **out, int *n, struct pias_err *e);
/* Whether any loaded BPF program (any namespace) uses one of the maps; its id in *prog_id. */
bool iface_maps_in_use(const struct root_maps *rm, __u32 *prog_id);

const char *mode_name(int mode);
/* XDP_FLAGS_*_MODE for an XDP_MODE_* value. */
__u32 mode_flags(int mode);

/* --- commands ------------------------------------------------------------- */

extern const struct cmd cmd_attach, cmd_detach, cmd_status, cmd_replace;

#endif
