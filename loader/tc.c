// SPDX-License-Identifier: MIT
/*
 * The TC half of the dataplane: pias_tc at clsact ingress of every
 * interface that runs the XDP program, where it sends the copies of a
 * replicated group's packets (bpf/lib/replica.h), which XDP cannot make.
 * Ours is the filter at TC_HANDLE and TC_PRIO; other filters on the
 * interface are left alone, and so is the clsact qdisc, which others may
 * share.
 */
#include <errno.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "loader.h"

#define TC_HANDLE 0x5049 /* "PI" */
#define TC_PRIO	  0x5041 /* "PA" */

int tc_attach(int ifindex, int prog_fd, const char *ifname, struct pias_err *e)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	/* REPLACE: attach and replace alike put this build's program in place */
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return pias_err_set(e, err, "%s: no clsact qdisc for the TC program: %s", ifname,
				    strerror(-err));
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		return pias_err_set(e, err, "%s: attaching the TC program failed: %s", ifname,
				    strerror(-err));
	return 0;
}

int tc_detach(int ifindex, const char *ifname, struct pias_err *e)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
	int err = bpf_tc_detach(&hook, &opts);

	/* none there (an attach from before the TC program, or gone with the qdisc) */
	if (err && err != -ENOENT && err != -EINVAL)
		return pias_err_set(e, err, "%s: detaching the TC program failed: %s", ifname,
				    strerror(-err));
	return 0;
}

int tc_prog_fd(struct bpf_object *obj)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, PIAS_TC_PROG_NAME);

	return p ? bpf_program__fd(p) : -ENOENT;
}
