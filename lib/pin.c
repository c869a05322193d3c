// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "pin.h"

/* Copy path into buf and cut it back to its nearest existing ancestor. */
static void existing_ancestor(const char *path, char *buf, size_t len)
{
	struct stat st;
	char *slash;

	snprintf(buf, len, "%s", path);
	while (stat(buf, &st) != 0) {
		slash = strrchr(buf, '/');
		if (!slash || slash == buf) {
			snprintf(buf, len, "/");
			return;
		}
		*slash = '\0';
	}
}

static int is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

int pias_bpffs_check(const char *path, struct pias_err *e)
{
	char anc[PATH_MAX];

	existing_ancestor(path, anc, sizeof(anc));
	if (is_bpffs(anc))
		return 0;
	if (!strncmp(path, PIAS_BPFFS_DEFAULT "/", strlen(PIAS_BPFFS_DEFAULT) + 1) ||
	    !strcmp(path, PIAS_BPFFS_DEFAULT))
		return pias_err_set(
			e, -ENOENT,
			"%s is not a BPF filesystem (bpffs not mounted): mount -t bpf bpf %s",
			PIAS_BPFFS_DEFAULT, PIAS_BPFFS_DEFAULT);
	return pias_err_set(
		e, -ENOENT,
		"%s is not on a BPF filesystem: use a pin root under %s (or mount -t bpf bpf on a directory above it)",
		path, PIAS_BPFFS_DEFAULT);
}

static int under_default(const char *root)
{
	size_t n = strlen(PIAS_BPFFS_DEFAULT);

	return !strncmp(root, PIAS_BPFFS_DEFAULT, n) && (root[n] == '/' || root[n] == '\0');
}

/* Mount bpffs at /sys/fs/bpf; only root may, others are told how. */
static int mount_default(struct pias_err *e)
{
	if (geteuid() != 0)
		return pias_err_set(
			e, -EPERM,
			"%s is not a BPF filesystem and only root can mount it: mount -t bpf bpf %s",
			PIAS_BPFFS_DEFAULT, PIAS_BPFFS_DEFAULT);
	/* 0700 like systemd's mount: pinned maps are the proxy's whole state. */
	if (mount("bpf", PIAS_BPFFS_DEFAULT, "bpf", 0, "mode=0700"))
		return pias_err_set(e, -errno,
				    "mounting bpffs at %s failed: %s (try: mount -t bpf bpf %s)",
				    PIAS_BPFFS_DEFAULT, strerror(errno), PIAS_BPFFS_DEFAULT);
	return 0;
}

/* mkdir -p for the part of path that does not exist yet. */
static int mkdir_p(const char *path, struct pias_err *e)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return pias_err_set(e, -ENAMETOOLONG, "pin root '%.60s...' is too long", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return pias_err_set(e, -errno, "cannot create %s: %s", buf,
					    strerror(errno));
		*p = c;
		if (!c)
			return 0;
	}
}

int pias_pin_root_prepare(const char *root, int *mounted, struct pias_err *e)
{
	int err;

	if (mounted)
		*mounted = 0;
	if (!root || root[0] != '/')
		return pias_err_set(e, -EINVAL, "pin root '%s' is not an absolute path",
				    root ? root : "");
	if (under_default(root) && !is_bpffs(PIAS_BPFFS_DEFAULT)) {
		err = mount_default(e);
		if (err)
			return err;
		if (mounted)
			*mounted = 1;
	}
	err = pias_bpffs_check(root, e);
	if (err)
		return err;
	return mkdir_p(root, e);
}

int pias_pin_path(const char *root, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", root, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pias_pin_open(const char *root, const char *name, struct pias_err *e)
{
	char path[PATH_MAX];
	int fd, err;

	if (pias_pin_path(root, name, path, sizeof(path)))
		return pias_err_set(e, -ENAMETOOLONG, "pin root '%.60s...' is too long", root);
	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	err = -errno;
	if (err == -ENOENT) {
		struct pias_err fs;

		if (pias_bpffs_check(root, &fs))
			return pias_err_set(e, err, "no map pinned at %s: %s; then %s %s", path,
					    fs.msg, PIAS_HINT_ATTACH, root);
		return pias_err_set(e, err, "no map pinned at %s: %s %s", path, PIAS_HINT_ATTACH,
				    root);
	}
	if (err == -EPERM || err == -EACCES)
		return pias_err_set(e, err, "cannot open %s: %s: run as root or with CAP_BPF", path,
				    strerror(-err));
	return pias_err_set(e, err, "cannot open %s: %s", path, strerror(-err));
}

int pias_pin_unlink(const char *root, const char *name, struct pias_err *e)
{
	char path[PATH_MAX];

	if (pias_pin_path(root, name, path, sizeof(path)))
		return pias_err_set(e, -ENAMETOOLONG, "pin root '%.60s...' is too long", root);
	if (unlink(path) && errno != ENOENT)
		return pias_err_set(e, -errno, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

int pias_pin_root_remove(const char *root, struct pias_err *e)
{
	if (rmdir(root) && errno != ENOENT)
		return pias_err_set(e, -errno, "cannot remove %s: %s", root, strerror(errno));
	return 0;
}

int pias_pin_root_lock(const char *root, struct pias_err *e)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return pias_err_set(e, -errno, "cannot open %s: %s", root, strerror(errno));
	if (flock(fd, LOCK_EX)) {
		int err = -errno;

		close(fd);
		return pias_err_set(e, err, "cannot lock %s: %s", root, strerror(-err));
	}
	return fd;
}
