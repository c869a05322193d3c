// SPDX-License-Identifier: MIT
/*
 * replace: load a new build of the program against the same pinned maps
 * and swap it in on every interface that runs PIAS with them. The swap is
 * one netlink request per interface with XDP_FLAGS_REPLACE and the old
 * program's fd: atomic (no packet meets an interface without a program) and
 * refused if someone changed the interface meanwhile. Flows, connections
 * and counters live in the maps, so they carry over.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "loader.h"
#include "pin.h"

enum {
	O_OBJ,
	O_VERBOSE
};

static int swap_one(const struct xdp_att *a, int new_fd, __u32 new_id, struct pias_err *e)
{
	int old_fd = bpf_prog_get_fd_by_id(a->prog_id), err;

	if (old_fd < 0)
		return pias_err_set(e, -errno, "%s: program %u is gone: %s", a->ifname, a->prog_id,
				    strerror(errno));
	LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = old_fd);
	err = bpf_xdp_attach(a->ifindex, new_fd, mode_flags(a->mode) | XDP_FLAGS_REPLACE, &ao);
	close(old_fd);
	if (err)
		return pias_err_set(e, err, "%s: swapping program %u for %u failed: %s%s",
				    a->ifname, a->prog_id, new_id, strerror(-err),
				    err == -EEXIST ? " (the interface changed meanwhile)" : "");
	return 0;
}

/* Swap on every interface in att; returns the exit code. */
static int swap_all(struct cli *c, struct xdp_att *att, int n, struct pias_obj *o)
{
	int fd = bpf_program__fd(o->prog), r = 0;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct pias_err e;

	bpf_obj_get_info_by_fd(fd, &info, &len);
	for (int i = 0; i < n; i++) {
		if (!att[i].ours)
			continue;
		if (att[i].dispatcher) {
			/* libxdp has no atomic swap of one program inside its dispatcher. */
			r = cli_fail(
				c,
				"%s runs PIAS inside libxdp's dispatcher: replace it with detach and attach",
				att[i].ifname);
			continue;
		}
		if (swap_one(&att[i], fd, info.id, &e)) {
			r = cli_fail(c, "%s", e.msg);
			continue;
		}
		/* the TC program of the same build: the metadata between them is its ABI */
		if (tc_prog_fd(o->obj) < 0 ||
		    tc_attach(att[i].ifindex, tc_prog_fd(o->obj), att[i].ifname, &e)) {
			r = cli_fail(c, "%s: XDP replaced, but the TC program not: %s",
				     att[i].ifname,
				     tc_prog_fd(o->obj) < 0 ? "none in the object" : e.msg);
			continue;
		}
		printf("replaced prog id %u with %u on %s (%s mode)\n", att[i].prog_id, info.id,
		       att[i].ifname, mode_name(att[i].mode));
	}
	return r;
}

static const struct cli_opt opts[] = {
	[O_OBJ] = { "--obj", CLI_STR, "FILE", "BPF object to load instead of the built-in one" },
	[O_VERBOSE] = { "--verbose", CLI_FLAG, .help = "print libbpf's messages as they come" },
	CLI_OPT_END,
};

static int run(struct cli *c, const struct cli_args *a)
{
	int r, n, lock, mine = 0;
	struct xdp_att *att;
	struct pias_obj obj;
	struct pias_err e;
	struct root_maps rm;

	log_init(a->v[O_VERBOSE].seen);
	if (privs_check(&e))
		return cli_fail(c, "%s", e.msg);
	iface_root_maps(c->pin_root, &rm);
	if (!rm.n)
		return cli_fail(
			c,
			"no PIAS maps pinned under %s: nothing to replace (piasd-loader attach --dev IFACE --pin-root %s)",
			c->pin_root, c->pin_root);
	lock = pias_pin_root_lock(c->pin_root, &e);
	if (lock < 0)
		return cli_fail(c, "%s", e.msg);
	if (iface_query_all(&rm, &att, &n, &e)) {
		r = cli_fail(c, "%s", e.msg);
		goto unlock;
	}
	for (int i = 0; i < n; i++)
		mine += att[i].ours;
	if (!mine) {
		r = cli_fail(
			c,
			"no interface in this network namespace runs PIAS with the maps under %s (attach first)",
			c->pin_root);
		goto out;
	}
	if ((r = obj_open(&obj, a->v[O_OBJ].s, c->pin_root, &e)) ||
	    (r = obj_set_sizes(&obj, c->pin_root, 0, 0, &e)) ||
	    (r = obj_check_pins(&obj, c->pin_root, &e)) || (r = obj_load(&obj, &e))) {
		if (r != -EPROTO)
			log_tail(stderr, 40);
		r = cli_fail(c, "%s; the running program is untouched", e.msg);
		obj_close(&obj);
		goto out;
	}
	r = swap_all(c, att, n, &obj);
	/* The interfaces hold the new program now; our references can go. */
	obj_close(&obj);
out:
	free(att);
unlock:
	close(lock);
	return r;
}

const struct cmd cmd_replace = {
	.name = "replace",
	.opts = opts,
	.summary = "swap in a new program on every interface, keeping the maps",
	.help = "The pinned maps (flows, connections, counters, config) stay as they are;\n"
		"each interface's program is swapped atomically (XDP_FLAGS_REPLACE).\n"
		"If the new program does not load, nothing changes.\n",
	.run = run,
};
