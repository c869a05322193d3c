// SPDX-License-Identifier: MIT
/*
 * Which XDP programs run on which interface, and whether one is PIAS with
 * the maps of a given pin root. A PIAS program is recognised by its name and
 * told apart from another proxy's PIAS (another pin root, same namespace)
 * by the ids of the maps it uses.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <xdp/libxdp.h>

#include "loader.h"
#include "pin.h"
#include "maps.h"

const char *mode_name(int mode)
{
	switch (mode) {
	case XDP_MODE_NATIVE:
		return "native";
	case XDP_MODE_SKB:
		return "skb";
	case XDP_MODE_HW:
		return "hw";
	}
	return "?";
}

__u32 mode_flags(int mode)
{
	switch (mode) {
	case XDP_MODE_NATIVE:
		return XDP_FLAGS_DRV_MODE;
	case XDP_MODE_SKB:
		return XDP_FLAGS_SKB_MODE;
	case XDP_MODE_HW:
		return XDP_FLAGS_HW_MODE;
	}
	return 0;
}

static __u32 fd_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

void iface_root_maps(const char *pin_root, struct root_maps *rm)
{
	char path[PATH_MAX];

	rm->n = 0;
	for (int i = 0; i < PIAS_M_COUNT && rm->n < PIAS_ROOT_MAX_MAPS; i++) {
		int fd;

		if (pias_pin_path(pin_root, pias_map_descs[i].name, path, sizeof(path)))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		rm->ids[rm->n] = fd_id(fd);
		rm->n += rm->ids[rm->n] != 0;
		close(fd);
	}
}

static bool in_root(const struct root_maps *rm, __u32 id)
{
	for (int i = 0; rm && i < rm->n; i++)
		if (rm->ids[i] == id)
			return true;
	return false;
}

/* Name of program id and whether it uses one of the root's maps. */
static int prog_describe(__u32 id, const struct root_maps *rm, char *name, bool *uses)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64];
	int fd = bpf_prog_get_fd_by_id(id), err = 0;

	*uses = false;
	if (fd < 0)
		return -errno;
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	memcpy(name, info.name, BPF_OBJ_NAME_LEN);
	name[BPF_OBJ_NAME_LEN - 1] = '\0';
	for (__u32 i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++)
		if (in_root(rm, ids[i]))
			*uses = true;
out:
	close(fd);
	return err;
}

/* A dispatcher: look for PIAS among the programs libxdp chains in it. */
static void look_inside_dispatcher(int ifindex, const struct root_maps *rm, struct xdp_att *a)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p = NULL;

	if (libxdp_get_error(mp) || !mp)
		return;
	while ((p = xdp_multiprog__next_prog(p, mp))) {
		if (strcmp(xdp_program__name(p), PIAS_PROG_NAME))
			continue;
		a->prog_id = xdp_program__id(p);
		snprintf(a->name, sizeof(a->name), "%s", PIAS_PROG_NAME);
		a->is_pias = true;
		prog_describe(a->prog_id, rm, a->name, &a->ours);
		break;
	}
	xdp_multiprog__close(mp);
}

int iface_query(int ifindex, const struct root_maps *rm, struct xdp_att *out, struct pias_err *e)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	static const int modes[IFACE_MAX_ATT] = { XDP_MODE_NATIVE, XDP_MODE_SKB, XDP_MODE_HW };
	char ifname[IF_NAMESIZE] = "";
	__u32 ids[IFACE_MAX_ATT];
	int n = 0;

	if (bpf_xdp_query(ifindex, 0, &q))
		return pias_err_set(e, -errno, "cannot query XDP on ifindex %d: %s", ifindex,
				    strerror(errno));
	if_indextoname((unsigned int)ifindex, ifname);
	ids[0] = q.drv_prog_id;
	ids[1] = q.skb_prog_id;
	ids[2] = q.hw_prog_id;
	for (int i = 0; i < IFACE_MAX_ATT; i++) {
		struct xdp_att *a = &out[n];

		if (!ids[i])
			continue;
		memset(a, 0, sizeof(*a));
		a->ifindex = ifindex;
		memcpy(a->ifname, ifname, sizeof(a->ifname));
		a->mode = modes[i];
		a->attached_id = a->prog_id = ids[i];
		if (prog_describe(ids[i], rm, a->name, &a->ours))
			snprintf(a->name, sizeof(a->name), "?");
		a->is_pias = !strcmp(a->name, PIAS_PROG_NAME);
		a->ours = a->is_pias && a->ours;
		if (!strcmp(a->name, XDP_DISPATCHER_NAME)) {
			a->dispatcher = true;
			look_inside_dispatcher(ifindex, rm, a);
		}
		n++;
	}
	return n;
}

int iface_query_all(const struct root_maps *rm, struct xdp_att **out, int *n, struct pias_err *e)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	struct xdp_att *all;
	size_t count = 0;
	int got;

	*out = NULL;
	*n = 0;
	if (!ifs)
		return pias_err_set(e, -errno, "cannot list interfaces: %s", strerror(errno));
	for (i = ifs; i->if_index; i++)
		count++;
	all = calloc(count * IFACE_MAX_ATT + 1, sizeof(*all));
	if (!all) {
		if_freenameindex(ifs);
		return pias_err_set(e, -ENOMEM, "out of memory");
	}
	for (i = ifs; i->if_index; i++) {
		got = iface_query((int)i->if_index, rm, all + *n, NULL);
		if (got > 0)
			*n += got;
	}
	if_freenameindex(ifs);
	*out = all;
	return 0;
}

bool iface_maps_in_use(const struct root_maps *rm, __u32 *prog_id)
{
	__u32 id = 0;

	while (!bpf_prog_get_next_id(id, &id)) {
		char name[BPF_OBJ_NAME_LEN];
		bool uses;

		if (!prog_describe(id, rm, name, &uses) && uses) {
			*prog_id = id;
			return true;
		}
	}
	return false;
}
