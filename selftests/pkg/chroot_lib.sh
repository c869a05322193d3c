# shellcheck shell=bash
# A fresh Debian 12 (bookworm) minbase chroot, shared by
# selftests/pkg/test_deb.sh (the packages installed on a bare system) and
# tools/minbase-test.sh (`make deps && make test` on a bare system). Sourced;
# root. The caller sets a trap that runs chroot_umount and chroot_remove.
#
# The minbase tree is bootstrapped once and cached as a tarball (delete it to
# bootstrap again); every run unpacks it into a directory of its own, so no
# run sees what an earlier one installed.

CHROOT_MIRROR=${CHROOT_MIRROR:-http://deb.debian.org/debian}
CHROOT_SUITE=bookworm

# chroot_unpack CACHE ROOT LOG: ROOT (which must not exist) = the cached
# minbase tree; CACHE is made first with debootstrap if it is missing, its
# output in LOG. Returns non-zero with a message on stderr on failure.
chroot_unpack() {
	local cache=$1 root=$2 log=$3 boot
	if [ ! -s "$cache" ]; then
		command -v debootstrap >/dev/null ||
			{ echo "chroot: debootstrap is not installed (make deps installs it)" >&2; return 1; }
		echo "chroot: debootstrap --variant=minbase $CHROOT_SUITE (once; cached in $cache)"
		# beside ROOT, so that the caller's cleanup of ROOT's parent removes it
		boot=$(dirname "$root")/boot
		nice -n 19 debootstrap --variant=minbase "$CHROOT_SUITE" "$boot" "$CHROOT_MIRROR" >"$log" 2>&1 ||
			{ echo "chroot: debootstrap failed: see $log" >&2; return 1; }
		# numeric owners: the host's user names must not remap the tree's files
		if ! { tar -C "$boot" --numeric-owner -czf "$cache.tmp" . && mv "$cache.tmp" "$cache"; }; then
			echo "chroot: cannot write $cache" >&2
			return 1
		fi
		rm -rf --one-file-system "$boot"
	fi
	if ! { mkdir "$root" && tar -C "$root" --numeric-owner -xzf "$cache"; }; then
		echo "chroot: cannot unpack $cache (delete it to bootstrap again)" >&2
		return 1
	fi
	# apt inside resolves the mirror's name as the host does
	cp /etc/resolv.conf "$root/etc/resolv.conf" || return 1
	# A chroot has no init: packages must not start their services in it,
	# where they would run in the host's network namespace and keep the
	# chroot busy. This is how Debian tells invoke-rc.d so (policy-rc.d(8)).
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" &&
		chmod 755 "$root/usr/sbin/policy-rc.d"
}

# chroot_mount ROOT: /proc, /sys and /dev in ROOT. ROOT is first bound onto
# itself and made private, so that nothing mounted under it propagates to the
# host or to other mount namespaces (on a systemd host / is shared), and the
# host's /dev, bound recursively (/dev/pts, /dev/shm), is made a slave: an
# unmount under ROOT/dev must never propagate back to the host's /dev.
chroot_mount() {
	local root=$1
	mount --bind "$root" "$root" &&
		mount --make-private "$root" &&
		mount -t proc proc "$root/proc" &&
		mount -t sysfs sysfs "$root/sys" &&
		mount --rbind /dev "$root/dev" &&
		mount --make-rslave "$root/dev"
}

# chroot_mounts ROOT: the mount points at or under ROOT, deepest first (a
# mount point stacked twice is listed twice).
chroot_mounts() {
	# field 5 of mountinfo is the mount point, octal-escaped (\040 a space);
	# ROOT comes from mktemp, so it holds no character that needs escaping
	awk -v r="$1" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# chroot_umount ROOT: ends what still runs inside ROOT (processes the run
# started: nothing else has ROOT as its root), then unmounts everything at or
# under ROOT, deepest first, lazily if a plain unmount fails. Returns non-zero
# if anything is still mounted there.
chroot_umount() {
	local root=$1 p pids=() m mounts=() try
	[ -d "$root" ] || return 0
	for try in TERM KILL; do
		pids=()
		for p in /proc/[0-9]*; do
			# a chroot within (test_deb.sh run by make test inside) counts too
			case $(readlink "$p/root" 2>/dev/null) in
			"$root" | "$root"/*) pids+=("${p#/proc/}") ;;
			esac
		done
		[ ${#pids[@]} -eq 0 ] && break
		echo "chroot: ending ${#pids[@]} process(es) still running in $root (SIG$try)" >&2
		kill "-$try" "${pids[@]}" 2>/dev/null
		sleep 1
	done
	mapfile -t mounts < <(chroot_mounts "$root")
	for m in "${mounts[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	m=$(chroot_mounts "$root")
	[ -z "$m" ] || { echo "chroot: still mounted: $m" >&2; return 1; }
}

# chroot_remove DIR ROOT: removes DIR (ROOT's parent), but never while
# anything is mounted under ROOT (a bound /dev is the host's).
chroot_remove() {
	local dir=$1 root=$2
	if [ -n "$(chroot_mounts "$root")" ]; then
		echo "chroot: left $dir in place: still mounted under it" >&2
		return 1
	fi
	rm -rf --one-file-system "$dir"
}

# chroot_run ROOT COMMAND...: COMMAND in ROOT as root, with a clean
# environment (nothing of the caller's leaks in).
chroot_run() {
	local root=$1
	shift
	chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}
