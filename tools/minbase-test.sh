#!/usr/bin/env bash
# `make deps && make test` on a bare Debian 12: a fresh bookworm minbase
# chroot holding a clean clone of one revision of this repository, with
# nothing installed but minbase and what `make deps` installs, so that a
# package missing from tools/install-deps.sh fails here and not on the next
# engineer's new machine. The kernel is the host's: network namespaces, XDP
# and BPF work inside as they do outside. Root.
set -uo pipefail

usage() {
	cat <<'EOF'
usage: tools/minbase-test.sh [--rev REV] [--only NAME]... [--jobs N] [--keep] [--log FILE]
                            [--workdir DIR]

Runs `make deps && make test` as root in a fresh Debian 12 (bookworm) minbase
chroot that holds a clean `git clone` of REV of this repository, and says
which step failed. The minbase tree is cached as $BUILD/bookworm-minbase.tar.gz
(shared with make test-deb; delete it to bootstrap again); every run unpacks
it afresh. Everything mounted under the chroot is unmounted on exit, failure
or interrupt, and the chroot is removed unless --keep.

  --rev REV     the revision to test (default HEAD; uncommitted changes are
                never tested: commit them first)
  --only NAME   run `make test T=NAME` instead of the whole suite (a glob over
                unit, BPF_PROG_TEST_RUN and namespace test names); repeat it
                to run several, in order, in the same chroot
  --jobs N      build with `make -jN all` between `make deps` and `make test`
                (make test then builds nothing; default: make test builds,
                serially, exactly as the README says)
  --keep        keep the chroot (unmounted) and print where it is
  --log FILE    the whole run's output (default
                $BUILD/minbase-test-DATE.log), outside the chroot
  --workdir DIR where the chroot's directory is made (default /var/tmp;
                about 2 GB): not under $BUILD, whose *.d files the
                Makefile looks for, nor on a tmpfs
  -h, --help    this text

Steps: unpack the chroot; mount /proc, /sys, /dev (with /dev/pts), a bpffs
on /sys/fs/bpf and a tmpfs on /run (ip netns add keeps /run/netns there);
clone; apt-get install make (minbase has no make, and `make deps` needs it);
make deps; check that every command the tests and the lab call is there;
make test. Needs the mirror http://deb.debian.org/debian.
EOF
}

REPO=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$REPO" || exit 1
# shellcheck source=selftests/pkg/chroot_lib.sh
. selftests/pkg/chroot_lib.sh
BUILD=${BUILD:-build}

REV=HEAD
ONLY=()
JOBS=
KEEP=0
LOG=
WORKDIR=/var/tmp
while [ $# -gt 0 ]; do
	case $1 in
	--rev) REV=${2:?--rev needs a revision}; shift ;;
	--only) ONLY+=("${2:?--only needs a test name}"); shift ;;
	--jobs) JOBS=${2:?--jobs needs a number}; shift ;;
	--keep) KEEP=1 ;;
	--log) LOG=${2:?--log needs a file}; shift ;;
	--workdir) WORKDIR=${2:?--workdir needs a directory}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "minbase-test: unknown argument '$1' (--help)" >&2; exit 2 ;;
	esac
	shift
done
case $JOBS in '' | [1-9] | [1-9][0-9]) ;; *) echo "minbase-test: --jobs '$JOBS': want 1-99" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "minbase-test: needs root (chroot, mounts)" >&2; exit 1; }
for t in git tar chroot mount umount; do
	command -v "$t" >/dev/null || { echo "minbase-test: $t is not installed" >&2; exit 1; }
done
SHA=$(git rev-parse --verify -q "$REV^{commit}") ||
	{ echo "minbase-test: '$REV' is not a commit here" >&2; exit 2; }

mkdir -p "$BUILD"
BUILD=$(realpath "$BUILD")
CACHE=$BUILD/bookworm-minbase.tar.gz
LOG=$(realpath -m "${LOG:-$BUILD/minbase-test-$(date +%Y%m%d-%H%M%S).log}")
mkdir -p "$(dirname "$LOG")"
: >"$LOG" || exit 1
# Everything from here on goes to the terminal and to LOG. tee ignores
# SIGINT and SIGTERM, so that an interrupted run still logs its cleanup (and
# cleanup never dies of SIGPIPE writing to a tee that went first).
exec > >(
	trap '' INT TERM
	exec tee -a "$LOG"
) 2>&1
TEE_PID=$!

# Outside $BUILD: the Makefile includes every *.d file under $BUILD, and a
# make on the host while this runs must neither read the clone's nor walk
# the chroot's /proc and /sys. realpath: chroot_umount compares it with
# /proc/PID/root, which is canonical.
WORK=$(mktemp -d "$(realpath "$WORKDIR")/pias-minbase.XXXXXX") || exit 1
ROOT=$WORK/root
SRC=/root/pias # the clone, as seen inside the chroot
T0=$(date +%s)
STEPS=()  # "name seconds status" of each step run, for the summary
RESULT=1

cleanup() {
	local rc=$?
	# a second ^C must not cut the unmounting short
	trap '' INT TERM PIPE
	echo "== minbase-test: cleaning up $WORK"
	chroot_umount "$ROOT" || rc=1
	if [ "$KEEP" = 1 ] && [ -d "$ROOT" ]; then
		echo "== minbase-test: kept $ROOT (unmounted; the clone is in $ROOT$SRC)"
	elif [ -d "$WORK" ]; then
		chroot_remove "$WORK" "$ROOT" || rc=1
	fi
	echo "== minbase-test: steps (wall time):"
	printf '   %s\n' "${STEPS[@]}"
	if [ "$RESULT" = 0 ] && [ "$rc" = 0 ]; then
		echo "== minbase-test: PASS in $(($(date +%s) - T0)) s ($SHA); log: $LOG"
	else
		echo "== minbase-test: FAIL in $(($(date +%s) - T0)) s ($SHA); log: $LOG"
		[ "$rc" = 0 ] && rc=1
	fi
	# let tee write the last lines before the shell's prompt comes back
	exec >&- 2>&-
	wait "$TEE_PID" 2>/dev/null
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "== minbase-test: interrupted"; exit 130' INT TERM

# step NAME COMMAND: COMMAND (a shell line) in the clone inside the chroot, at
# nice 19, timed. In the background and waited for, so that a signal reaches
# the trap at once instead of after the step (cleanup ends what it started).
step() {
	local name=$1 cmd=$2 t rc
	echo "== minbase-test: $name: $cmd"
	t=$(date +%s)
	chroot_run "$ROOT" nice -n 19 bash -c "cd $SRC && $cmd" </dev/null &
	wait $!
	rc=$?
	STEPS+=("$name: $(($(date +%s) - t)) s, $([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)")")
	echo "== minbase-test: $name: $([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)") in $(($(date +%s) - t)) s"
	return $rc
}

echo "== minbase-test: $(date -u +%FT%TZ), revision $SHA, kernel $(uname -r), log $LOG"
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	echo "== minbase-test: note: this tree has uncommitted changes; the chroot tests $SHA without them"
fi

t=$(date +%s)
chroot_unpack "$CACHE" "$ROOT" "$BUILD/minbase-debootstrap.log" || exit 1
chroot_mount "$ROOT" || { echo "minbase-test: cannot mount /proc, /sys, /dev in $ROOT" >&2; exit 1; }
# BPF: a bpffs of the chroot's own (every bpffs mount is a new instance), so
# that pins made inside neither see nor collide with the host's, and vanish at
# unmount; the tests' mount_bpffs finds it mounted. /run: ip netns add binds
# namespaces under /run/netns and makes it a shared mount; on a tmpfs of the
# chroot's own they stay inside the chroot, and a real Debian has a tmpfs there.
if ! { mount -t bpf bpf "$ROOT/sys/fs/bpf" &&
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$ROOT/run" &&
	install -d -m 1777 "$ROOT/run/lock"; }; then
	echo "minbase-test: cannot mount bpffs or /run in $ROOT" >&2
	exit 1
fi
# A clean clone of exactly SHA, whatever branch it is on (or none): fetch it
# by id into an empty repository, so the host tree's uncommitted and
# untracked files never reach the chroot.
if ! { git init -q "$ROOT$SRC" &&
	git -C "$ROOT$SRC" fetch -q --no-tags "$REPO" "$SHA" &&
	git -C "$ROOT$SRC" checkout -q --detach "$SHA"; }; then
	echo "minbase-test: cannot clone $SHA into $ROOT$SRC" >&2
	exit 1
fi
STEPS+=("chroot (unpack, mount, clone): $(($(date +%s) - t)) s, ok")
echo "== minbase-test: chroot ready in $(($(date +%s) - t)) s: $ROOT"

# minbase has no make, so a bare Debian 12 cannot run `make deps` as it is;
# the one package installed before it is make (install-deps.sh installs it
# too, and `make deps` checks that).
if ! chroot_run "$ROOT" sh -c 'command -v make' >/dev/null; then
	step "bootstrap make (minbase has none)" \
		"apt-get update -q && apt-get install -y -q --no-install-recommends make" || exit 1
fi
step "make deps" "make deps" || exit 1

# Every command the tests, the lab and the build call, with the package that
# has it (collected from selftests/, tools/pias-lab/, bench/ and the Makefile;
# a test that skips for a missing tool would hide the gap, hence a check of
# its own). Shell builtins are left out.
CMDS="make:make gcc:gcc clang:clang ar:binutils pkg-config:pkg-config
bpftool:bpftool clang-format:clang-format git:git help2man:help2man
dpkg-parsechangelog:dpkg-dev dpkg-buildpackage:dpkg-dev lintian:lintian
debootstrap:debootstrap ip:iproute2 ss:iproute2 tc:iproute2 ethtool:ethtool
nft:nftables ping:iputils-ping socat:socat curl:curl dig:dnsutils
iperf3:iperf3 nginx:nginx-light unbound:unbound bird:bird2 birdc:bird2
dot:graphviz dnsperf:dnsperf ab:apache2-utils wrk:wrk sysctl:procps ps:procps
pkill:procps prometheus:prometheus promtool:prometheus systemctl:systemd
systemd-analyze:systemd /usr/bin/python3:python3 nsenter:util-linux
unshare:util-linux setpriv:util-linux mountpoint:util-linux mount:mount
umount:mount getconf:libc-bin timeout:coreutils sha256sum:coreutils
od:coreutils chroot:coreutils mknod:coreutils realpath:coreutils
mktemp:coreutils seq:coreutils awk:mawk sed:sed grep:grep xargs:findutils
find:findutils tar:tar"
t=$(date +%s)
# shellcheck disable=SC2016 # expanded by the shell inside the chroot
missing=$(chroot_run "$ROOT" bash -c 'for cp in $0; do
	command -v "${cp%%:*}" >/dev/null || printf "%s (package %s) " "${cp%%:*}" "${cp#*:}"
done' "$(tr '\n' ' ' <<<"$CMDS")")
if [ -n "$missing" ]; then
	STEPS+=("commands after make deps: $(($(date +%s) - t)) s, FAILED")
	echo "== minbase-test: missing after make deps (add the package to tools/install-deps.sh): $missing"
	exit 1
fi
STEPS+=("commands after make deps: $(($(date +%s) - t)) s, ok ($(wc -w <<<"$CMDS") present)")
echo "== minbase-test: every command the tests, the lab and the build call is there ($(wc -w <<<"$CMDS"))"

if [ -n "$JOBS" ]; then
	step "make -j$JOBS all" "make -j$JOBS all" || exit 1
fi
if [ ${#ONLY[@]} -eq 0 ]; then
	step "make test" "make test" || exit 1
else
	failed=0
	for n in "${ONLY[@]}"; do
		# T= goes through one shell inside: quote it there
		step "make test T=$n" "make test T=$(printf '%q' "$n")" || failed=1
	done
	[ "$failed" = 0 ] || exit 1
fi
RESULT=0
