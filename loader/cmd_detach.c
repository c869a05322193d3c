// SPDX-License-Identifier: MIT
/*
 * detach: take PIAS off one interface (maps stay pinned: attaching again
 * finds the state as it was), or off all of them with --all, which also
 * removes the pins once no program anywhere uses the maps.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <xdp/libxdp.h>

#include "loader.h"
#include "maps.h"
#include "pin.h"

enum {
	O_DEV,
	O_ALL
};

static int detach_one(const struct xdp_att *a, struct pias_err *e)
{
	int err, fd;

	if (a->dispatcher) {
		struct xdp_program *p = xdp_program__from_id(a->prog_id);

		err = (int)libxdp_get_error(p);
		if (!err) {
			err = xdp_program__detach(p, a->ifindex, (enum xdp_attach_mode)a->mode, 0);
			xdp_program__close(p);
		}
	} else {
		fd = bpf_prog_get_fd_by_id(a->prog_id);
		if (fd < 0)
			return pias_err_set(e, -errno, "%s: program %u is gone: %s", a->ifname,
					    a->prog_id, strerror(errno));
		/* REPLACE: take off this program only, not one attached meanwhile. */
		LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = fd);
		err = bpf_xdp_detach(a->ifindex, mode_flags(a->mode) | XDP_FLAGS_REPLACE, &ao);
		close(fd);
	}
	if (err)
		return pias_err_set(e, err, "detaching from %s failed: %s", a->ifname,
				    strerror(-err));
	/* after XDP: nothing is handed up to TC any more */
	return tc_detach(a->ifindex, a->ifname, e);
}

static int detach_dev(struct cli *c, const char *dev)
{
	struct xdp_att att[IFACE_MAX_ATT];
	int ifindex = (int)if_nametoindex(dev), n, r = 0;
	struct root_maps rm;
	struct pias_err e;
	bool found = false;

	if (!ifindex)
		return cli_fail(c, "no such device %s in this network namespace", dev);
	iface_root_maps(c->pin_root, &rm);
	n = iface_query(ifindex, &rm, att, &e);
	if (n < 0)
		return cli_fail(c, "%s", e.msg);
	for (int i = 0; i < n; i++) {
		if (!att[i].is_pias)
			continue;
		if (!att[i].ours)
			return cli_fail(
				c,
				"the PIAS program on %s (prog id %u) uses the maps of another pin root than %s: give its --pin-root",
				dev, att[i].prog_id, c->pin_root);
		found = true;
		if (detach_one(&att[i], &e))
			r = cli_fail(c, "%s", e.msg);
		else
			printf("detached PIAS (prog id %u) from %s; maps stay pinned under %s\n",
			       att[i].prog_id, dev, c->pin_root);
	}
	if (!found)
		return cli_fail(c, "PIAS is not attached to %s", dev);
	return r;
}

/* Unpin every map of the ABI and the directory, unless a program still uses them. */
static int remove_pins(struct cli *c, const struct root_maps *rm)
{
	struct pias_err e;
	__u32 user;
	int r = 0;

	/*
	 * A TC program taken off a moment ago is freed after an RCU grace
	 * period, and lists as a user of the maps until then: wait a little.
	 */
	for (int i = 0; i < 50 && iface_maps_in_use(rm, &user); i++)
		usleep(20000);
	if (iface_maps_in_use(rm, &user)) {
		printf("maps under %s still used by program id %u (attached in another network namespace?): pins kept\n",
		       c->pin_root, user);
		return 0;
	}
	for (int i = 0; i < PIAS_M_COUNT; i++)
		if (pias_pin_unlink(c->pin_root, pias_map_descs[i].name, &e))
			r = cli_fail(c, "%s", e.msg);
	for (int i = 0; pias_retired_maps[i]; i++)
		if (pias_pin_unlink(c->pin_root, pias_retired_maps[i], &e))
			r = cli_fail(c, "%s", e.msg);
	if (!r && pias_pin_root_remove(c->pin_root, &e))
		return cli_fail(c, "%s (something else is pinned there; left in place)", e.msg);
	if (!r)
		printf("removed the pinned maps and %s\n", c->pin_root);
	return r;
}

static int detach_all(struct cli *c)
{
	struct xdp_att *att;
	struct root_maps rm;
	struct pias_err e;
	int n, r = 0, lock;

	if (access(c->pin_root, F_OK)) {
		printf("nothing pinned under %s\n", c->pin_root);
		return EXIT_OK;
	}
	lock = pias_pin_root_lock(c->pin_root, &e);
	if (lock < 0)
		return cli_fail(c, "%s", e.msg);
	iface_root_maps(c->pin_root, &rm);
	if (iface_query_all(&rm, &att, &n, &e)) {
		close(lock);
		return cli_fail(c, "%s", e.msg);
	}
	for (int i = 0; i < n; i++) {
		if (!att[i].ours)
			continue;
		if (detach_one(&att[i], &e))
			r = cli_fail(c, "%s", e.msg);
		else
			printf("detached PIAS (prog id %u) from %s\n", att[i].prog_id,
			       att[i].ifname);
	}
	free(att);
	if (!r)
		r = remove_pins(c, &rm);
	close(lock);
	return r;
}

static const struct cli_opt opts[] = {
	[O_DEV] = { "--dev", CLI_IFNAME, "IFACE",
		    "the maps stay pinned: attach again and the state is there" },
	[O_ALL] = { "--all", CLI_FLAG,
		    .help = "every interface of this network namespace running PIAS with\n"
			    "the pin root's maps; then unpin the maps and remove the pin\n"
			    "root, unless a program elsewhere still uses them" },
	CLI_OPT_END,
};

static int run(struct cli *c, const struct cli_args *a)
{
	struct pias_err e;

	if (a->v[O_DEV].seen == a->v[O_ALL].seen)
		return cli_bad(c, "give either --dev IFACE or --all");
	log_init(false);
	if (privs_check(&e))
		return cli_fail(c, "%s", e.msg);
	return a->v[O_ALL].seen ? detach_all(c) : detach_dev(c, a->v[O_DEV].s);
}

const struct cmd cmd_detach = {
	.name = "detach",
	/* one of the two: the table lists options, not alternatives */
	.args = "--dev IFACE | --all",
	.opts = opts,
	.summary = "take PIAS off IFACE, or off every interface (--all)",
	.run = run,
};
