// SPDX-License-Identifier: MIT
/*
 * attach: put PIAS on an interface. Through libxdp, so that PIAS can share
 * the interface with other XDP programs where libxdp's dispatcher works;
 * where it cannot (this kernel refuses freplace), as the only program.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xdp/libxdp.h>

#include "loader.h"
#include "maps.h"
#include "pin.h"

enum {
	O_DEV,
	O_MODE,
	O_OBJ,
	O_FLOWS,
	O_CONNS,
	O_VERBOSE
};

/* Table sizes a proxy may ask for (0: the object's default). */
#define TABLE_MIN 1024u
#define TABLE_MAX (64u << 20)

struct sizes {
	__u32 flows, conns;
};

/* One attempt; single: tell libxdp to skip its dispatcher. */
static int attach_once(const char *root, const char *file, const struct sizes *sz, int ifindex,
		       int mode, bool single, struct pias_err *e)
{
	struct xdp_program *xp;
	struct pias_obj o;
	int err;

	err = obj_open(&o, file, root, e);
	if (err)
		return err;
	err = obj_set_sizes(&o, root, sz->flows, sz->conns, e);
	if (!err)
		err = obj_check_pins(&o, root, e);
	if (err)
		goto out;
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xo, .obj = o.obj, .prog_name = PIAS_PROG_NAME);
	xp = xdp_program__create(&xo);
	err = (int)libxdp_get_error(xp);
	if (err) {
		err = pias_err_set(e, err, "libxdp cannot use %s: %s", o.file, strerror(-err));
		goto out;
	}
	/* libxdp reads this switch from the environment only. */
	if (single)
		setenv("LIBXDP_SKIP_DISPATCHER", "1", 1);
	err = xdp_program__attach(xp, ifindex, (enum xdp_attach_mode)mode, 0);
	if (single)
		unsetenv("LIBXDP_SKIP_DISPATCHER");
	if (err) {
		pias_err_set(e, err, "%s", strerror(-err));
	} else {
		char ifname[IF_NAMESIZE] = "?";
		int tc = tc_prog_fd(xdp_program__bpf_obj(xp));

		if_indextoname(ifindex, ifname);
		err = tc < 0 ? pias_err_set(e, tc, "the object has no program %s",
					    PIAS_TC_PROG_NAME)
			     : tc_attach(ifindex, tc, ifname, e);
		/* half a dataplane is none: the XDP program comes off again */
		if (err)
			xdp_program__detach(xp, ifindex, (enum xdp_attach_mode)mode, 0);
	}
	xdp_program__close(xp);
out:
	obj_close(&o);
	return err;
}

/* Turn the kernel's errno into what the operator should do. */
static int explain(struct cli *c, int err, const char *dev, int mode, const struct pias_err *e)
{
	switch (-err) {
	case EOPNOTSUPP:
		if (mode == XDP_MODE_NATIVE)
			return cli_fail(c, "%s does not support native XDP: try --mode skb", dev);
		break;
	case EEXIST:
	case EBUSY:
		return cli_fail(
			c,
			"%s already has an XDP program: piasd-loader status shows it; detach it first",
			dev);
	case EPERM:
		return cli_fail(c, "%s: run as root or with CAP_BPF and CAP_NET_ADMIN", e->msg);
	case ENODEV:
		return cli_fail(c, "no such device %s", dev);
	case ERANGE:
		return cli_fail(c, "%s: the MTU of %s is too large for XDP in %s mode", e->msg, dev,
				mode_name(mode));
	}
	log_tail(stderr, 40);
	return cli_fail(c, "attaching to %s failed: %s", dev, e->msg);
}

/* Refuse when something already runs there: say what, and what to do. */
static int check_free(struct cli *c, int ifindex, const char *dev, const char *root)
{
	struct xdp_att att[IFACE_MAX_ATT];
	struct root_maps rm;
	struct pias_err e;
	int n;

	iface_root_maps(root, &rm);
	n = iface_query(ifindex, &rm, att, &e);

	if (n < 0)
		return cli_fail(c, "%s", e.msg);
	for (int i = 0; i < n; i++) {
		if (att[i].is_pias && att[i].ours)
			return cli_fail(c,
					"PIAS already attached to %s: use replace, or detach first",
					dev);
		if (att[i].is_pias)
			return cli_fail(
				c,
				"PIAS with maps of another pin root already attached to %s (prog id %u): detach it with its --pin-root first",
				dev, att[i].prog_id);
		if (!att[i].dispatcher)
			return cli_fail(
				c,
				"%s already runs XDP program %s (id %u, %s mode): remove it first (ip link set dev %s xdp off), or load both through libxdp",
				dev, att[i].name, att[i].prog_id, mode_name(att[i].mode), dev);
	}
	return 0;
}

/* The config map starts all zero; give it the defaults (self_id stays 0). */
static int init_config(struct cli *c, const char *root)
{
	struct pias_maps m;
	struct pias_err e;
	bool written;
	int err = pias_maps_open(&m, root, &e);

	if (!err) {
		err = pias_config_init(&m, &written, &e);
		pias_maps_close(&m);
	}
	if (err)
		return cli_fail(c, "attached, but writing the default config failed: %s", e.msg);
	if (written)
		printf("wrote the default config: proxy id 0 passes all traffic until configured (pias-maps --pin-root %s config --id N ...)\n",
		       root);
	return 0;
}

/* in the order of their XDP modes below */
static const char *const modes[] = { "native", "skb", NULL };
static const int mode_of[] = { XDP_MODE_NATIVE, XDP_MODE_SKB };

static const struct cli_opt opts[] = {
	[O_DEV] = { "--dev", CLI_IFNAME, "IFACE", "interface in this network namespace",
		    .flags = CLI_REQUIRED },
	[O_MODE] = { "--mode", CLI_ENUM, "native|skb", "native: in the driver; skb: generic",
		     .choices = modes, .def = "native" },
	[O_OBJ] = { "--obj", CLI_STR, "FILE", "BPF object to load instead of the built-in one" },
	/* no default here: 0 leaves the size to the pinned maps, or the object */
	[O_FLOWS] = { "--flows", CLI_U32, "N",
		      "IAP flow table entries, when the maps are first\n"
		      "pinned; default " CLI_XSTR(PIAS_DEFAULT_FLOWS),
		      .min = TABLE_MIN, .max = TABLE_MAX },
	[O_CONNS] = { "--conns", CLI_U32, "N",
		      "JAP connections, each direction, when first pinned;\n"
		      "default " CLI_XSTR(
			      PIAS_DEFAULT_CONNS) ". docs/design.md says how to size a proxy",
		      .min = TABLE_MIN, .max = TABLE_MAX },
	[O_VERBOSE] = { "--verbose", CLI_FLAG,
			.help = "print libbpf's and libxdp's messages as they come" },
	CLI_OPT_END,
};

static int run(struct cli *c, const struct cli_args *a)
{
	const char *dev = a->v[O_DEV].s, *obj = a->v[O_OBJ].s;
	struct sizes sz = { a->v[O_FLOWS].n, a->v[O_CONNS].n };
	int mode = mode_of[a->v[O_MODE].n], r, ifindex, lock, n;
	struct xdp_att att[IFACE_MAX_ATT];
	struct root_maps rm;
	struct pias_err e;
	int mounted;

	log_init(a->v[O_VERBOSE].seen);
	if (privs_check(&e))
		return cli_fail(c, "%s", e.msg);
	ifindex = (int)if_nametoindex(dev);
	if (!ifindex)
		return cli_fail(
			c,
			"no such device %s in this network namespace (ip link shows the ones there)",
			dev);
	if (pias_pin_root_prepare(c->pin_root, &mounted, &e))
		return cli_fail(c, "%s", e.msg);
	if (mounted)
		printf("mounted bpffs at %s (it was missing)\n", PIAS_BPFFS_DEFAULT);
	lock = pias_pin_root_lock(c->pin_root, &e);
	if (lock < 0)
		return cli_fail(c, "%s", e.msg);
	r = check_free(c, ifindex, dev, c->pin_root);
	if (r)
		goto out;
	r = attach_once(c->pin_root, obj, &sz, ifindex, mode, false, &e);
	if (r == -EPERM) {
		/*
		 * Privileges were checked above, so EPERM is the kernel refusing
		 * libxdp's dispatcher (freplace). libxdp 1.3 falls back by itself
		 * when its compatibility probe fails; this covers a refusal later on.
		 */
		log_forget();
		r = attach_once(c->pin_root, obj, &sz, ifindex, mode, true, &e);
	}
	if (r) {
		r = r == -EPROTO || r == -EEXIST ? cli_fail(c, "%s", e.msg)
						 : explain(c, r, dev, mode, &e);
		goto out;
	}
	iface_root_maps(c->pin_root, &rm);
	n = iface_query(ifindex, &rm, att, &e);
	for (int i = 0; i < n; i++) {
		if (!att[i].is_pias)
			continue;
		if (!att[i].dispatcher)
			printf("libxdp dispatcher unavailable on this kernel (freplace refused): attached as the only XDP program on %s\n",
			       dev);
		printf("attached PIAS (prog id %u) to %s in %s mode%s; maps pinned under %s\n",
		       att[i].prog_id, dev, mode_name(att[i].mode),
		       att[i].dispatcher ? " through libxdp's dispatcher" : "", c->pin_root);
	}
	r = init_config(c, c->pin_root);
out:
	close(lock);
	return r;
}

const struct cmd cmd_attach = {
	.name = "attach",
	.opts = opts,
	.summary = "attach PIAS to IFACE, maps pinned under the pin root",
	.help = "Interfaces attached with the same pin root share the maps (one proxy).\n"
		"Mounts bpffs at /sys/fs/bpf if it is missing. Writes the default\n"
		"config if the config map was never written.\n",
	.run = run,
};
