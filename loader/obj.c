// SPDX-License-Identifier: MIT
/*
 * The PIAS object: the one built into this binary by the skeleton, or a
 * file (--obj) so that replace can take a freshly built program without a
 * new loader. Maps are pinned by name under the pin root (LIBBPF_PIN_BY_NAME
 * in bpf/lib/maps.h): a second interface or a replacement program reuses
 * them, which is what keeps flows and connections across both.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "loader.h"
#include "maps.h"
#include "pias.skel.h"
#include "pin.h"

int obj_open(struct pias_obj *o, const char *file, const char *pin_root, struct pias_err *e)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);

	memset(o, 0, sizeof(*o));
	if (file) {
		snprintf(o->file, sizeof(o->file), "%s", file);
		o->obj = bpf_object__open_file(file, &opts);
		if (!o->obj)
			return pias_err_set(e, -errno, "cannot open BPF object %s: %s", file,
					    strerror(errno));
	} else {
		snprintf(o->file, sizeof(o->file), "built-in object");
		o->skel = pias__open_opts(&opts);
		if (!o->skel)
			return pias_err_set(e, -errno, "cannot open the built-in BPF object: %s",
					    strerror(errno));
		o->obj = o->skel->obj;
	}
	o->prog = bpf_object__find_program_by_name(o->obj, PIAS_PROG_NAME);
	if (!o->prog) {
		obj_close(o);
		return pias_err_set(e, -ENOENT, "%s has no program %s", file ? file : "object",
				    PIAS_PROG_NAME);
	}
	/* libxdp may have changed it for its dispatcher; say what it is. */
	bpf_program__set_type(o->prog, BPF_PROG_TYPE_XDP);
	return 0;
}

/* The size of the map pinned under name, 0 if none is. */
static __u32 pinned_entries(const char *pin_root, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	if (pias_pin_path(pin_root, name, path, sizeof(path)))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

int obj_set_sizes(struct pias_obj *o, const char *pin_root, __u32 flows, __u32 conns,
		  struct pias_err *e)
{
	int err = pias_maps_size_object(o->obj, e);

	if (err)
		return err;
	for (int i = 0; i < PIAS_M_COUNT; i++) {
		const char *name = pias_map_name((enum pias_map_idx)i);
		__u32 want = i == PIAS_M_FLOWS ? flows : conns, pinned;
		struct bpf_map *map;

		if (!pias_map_sizable((enum pias_map_idx)i))
			continue;
		map = bpf_object__find_map_by_name(o->obj, name);
		if (!map)
			continue;
		/* pinned already: the proxy's size, whatever this attach asks */
		pinned = pinned_entries(pin_root, name);
		if (pinned && want && want != pinned)
			return pias_err_set(
				e, -EEXIST,
				"%s/%s is pinned with %u entries, not %u: its state is kept at that size; to resize, piasd-loader detach --all --pin-root %s, then attach",
				pin_root, name, pinned, want, pin_root);
		if (pinned)
			want = pinned;
		if (want && bpf_map__set_max_entries(map, want))
			return pias_err_set(e, -EINVAL, "cannot size %s to %u entries", name, want);
	}
	return 0;
}

/* Compare one of the object's maps with what is pinned under its name. */
static int check_one(struct bpf_map *map, const char *pin_root, struct pias_err *e)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err = 0;

	if (pias_pin_path(pin_root, bpf_map__name(map), path, sizeof(path)))
		return pias_err_set(e, -ENAMETOOLONG, "pin root is too long");
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0; /* not pinned yet: the load creates it */
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = pias_err_set(e, -errno, "%s: cannot read map info: %s", path,
				   strerror(errno));
	else if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
		 info.value_size != bpf_map__value_size(map) ||
		 info.max_entries != bpf_map__max_entries(map) ||
		 info.map_flags != bpf_map__map_flags(map))
		err = pias_err_set(
			e, -EPROTO,
			"pinned map %s differs from the new program's (type %u/%u, key %u/%u, value %u/%u, entries %u/%u): its state cannot be kept; piasd-loader detach --all --pin-root %s, then attach",
			path, info.type, bpf_map__type(map), info.key_size, bpf_map__key_size(map),
			info.value_size, bpf_map__value_size(map), info.max_entries,
			bpf_map__max_entries(map), pin_root);
	close(fd);
	return err;
}

int obj_check_pins(struct pias_obj *o, const char *pin_root, struct pias_err *e)
{
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, o->obj)
	{
		if (!bpf_map__pin_path(map))
			continue; /* not pinned by name: private to the program */
		err = check_one(map, pin_root, e);
		if (err)
			return err;
	}
	return 0;
}

int obj_load(struct pias_obj *o, struct pias_err *e)
{
	int err = bpf_object__load(o->obj);

	if (!err)
		return 0;
	if (err == -EPERM)
		return pias_err_set(e, err,
				    "loading %s: %s: run as root or with CAP_BPF and CAP_NET_ADMIN",
				    o->file, strerror(-err));
	return pias_err_set(
		e, err,
		"loading %s failed: %s (the messages above say why; a verifier refusal ends with its reason)",
		o->file, strerror(-err));
}

void obj_close(struct pias_obj *o)
{
	if (o->skel)
		pias__destroy(o->skel);
	else if (o->obj)
		bpf_object__close(o->obj);
	memset(o, 0, sizeof(*o));
}
