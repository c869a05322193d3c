#!/usr/bin/env bash
# make test-deb: the Debian packages as a new machine gets them. Builds them
# (make deb), lints them on the host, installs them with apt-get into a fresh
# Debian 12 minbase chroot (dependencies from the mirror) and checks what an
# operator relies on: the example config passes --check-config, every tool
# and man page answers, the units verify, the BPF object and the conffiles
# are where the docs say. Root (debootstrap, chroot, mounts); needs the
# mirror http://deb.debian.org/debian. Every failed step fails the test.
#
# The minbase tree is cached as $BUILD/bookworm-minbase.tar.gz (delete it to
# bootstrap again); each run unpacks it into a fresh directory under $BUILD.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=selftests/pkg/chroot_lib.sh
. selftests/pkg/chroot_lib.sh
BUILD=${BUILD:-build}
CACHE=$BUILD/bookworm-minbase.tar.gz
T0=$(date +%s)

fail() {
	echo "test_deb: FAIL: $*" >&2
	exit 1
}
ok() { echo "test_deb: ok: $*"; }

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, mounts): sudo make test-deb"
for t in debootstrap lintian dpkg-buildpackage help2man; do
	command -v "$t" >/dev/null || fail "$t is not installed (make deps installs it)"
done
mkdir -p "$BUILD"

# --- the packages, and lintian on them ------------------------------------
make --no-print-directory BUILD="$BUILD" deb >"$BUILD/test-deb-build.log" 2>&1 ||
	fail "make deb failed (last lines below; all in $BUILD/test-deb-build.log)
$(tail -20 "$BUILD/test-deb-build.log")"
debs=("$BUILD"/deb/pias_*.deb)
[ -f "${debs[0]}" ] || fail "make deb made no pias_*.deb in $BUILD/deb"
ok "make deb: ${debs[*]##*/}"

# Overridden tags do not print; every E: or W: left is one nobody explained.
lint=$(lintian --pedantic -I "$BUILD"/deb/pias_*.changes 2>&1 | grep -v '^running with root' || true)
[ -n "$lint" ] && printf '%s\n' "$lint"
if grep -qE '^[EW]: ' <<<"$lint"; then
	fail "lintian: errors or warnings above (fix them, or override with a reason in debian/pias.lintian-overrides)"
fi
ok "lintian: no errors or warnings that debian/pias.lintian-overrides does not explain"

# --- a fresh chroot, unmounted and removed whatever happens -------------------
WORK=$(mktemp -d "$(realpath "$BUILD")/test-deb.XXXXXX")
ROOT=$WORK/root
cleanup() {
	chroot_umount "$ROOT" || true
	chroot_remove "$WORK" "$ROOT" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

chroot_unpack "$CACHE" "$ROOT" "$BUILD/test-deb-debootstrap.log" || fail "no chroot (above)"
chroot_mount "$ROOT" || fail "cannot mount /proc, /sys, /dev in $ROOT"

in_root() { chroot_run "$ROOT" "$@"; }

mkdir "$ROOT/tmp/debs"
cp "${debs[@]}" "$ROOT/tmp/debs/"
in_root apt-get update -q >"$WORK/apt.log" 2>&1 || fail "apt-get update in the chroot:
$(tail -5 "$WORK/apt.log")"
# man-db and systemd for the checks below; pias's own dependencies from its control file
in_root sh -c 'cd /tmp/debs && apt-get install -y -q --no-install-recommends ./pias_*.deb man-db systemd' \
	>"$WORK/apt.log" 2>&1 || fail "apt-get install ./pias_*.deb in the chroot:
$(tail -15 "$WORK/apt.log")"
ok "apt-get install ./pias_*.deb in a fresh bookworm minbase: $(in_root dpkg-query -W -f='${Version}' pias)"

# --- what an operator relies on --------------------------------------------
# the example config, once its key ring exists (README: piasctl keyring)
in_root sh -c 'umask 077 && piasctl keyring --id 1 > /etc/pias/overlay.key' ||
	fail "piasctl keyring --id 1 failed in the chroot"
out=$(in_root piasd --check-config /etc/pias/piasd.conf 2>&1) ||
	fail "piasd --check-config /etc/pias/piasd.conf: $out"
ok "piasd --check-config /etc/pias/piasd.conf (the shipped example) passes"

for t in piasd piasd-loader piasctl pias-maps; do
	out=$(in_root "$t" --help 2>&1) || fail "$t --help exited non-zero: $out"
	grep -q "^usage: $t " <<<"$out" || fail "$t --help printed no usage line: $out"
	# the page, as man shows it (LANG=C: ASCII hyphens): its name line and
	# the first option of --help
	page=$(in_root env MANPAGER=cat MANWIDTH=80 LANG=C man 8 "$t" 2>&1) || fail "man 8 $t: $page"
	grep -q "^NAME" <<<"$page" && grep -q "^SYNOPSIS" <<<"$page" && grep -q -- "$t - " <<<"$page" ||
		fail "man $t: no NAME and SYNOPSIS with '$t - ': $page"
	opt=$(grep -o -- ' --[a-z-]*' <<<"$out" | head -1)
	grep -q -- "$opt" <<<"$page" || fail "man $t does not list $opt from its --help"
done
ok "piasd, piasd-loader, piasctl, pias-maps: --help prints usage; man 8 shows NAME, SYNOPSIS, options"

# the units: syntax, the programs they run, their man: links (--man=yes)
for u in piasd.service pias-dataplane@eth0.service pias-target@web.service; do
	out=$(in_root systemd-analyze verify --man=yes "$u" 2>&1) ||
		fail "systemd-analyze verify $u: $out"
	[ -z "$out" ] || fail "systemd-analyze verify $u has something to say: $out"
done
[ -f "$ROOT/usr/share/doc/pias/README.md" ] || fail "the units' file:///usr/share/doc/pias/README.md is missing"
state=$(in_root systemctl is-enabled piasd.service 2>&1 || true)
[ "$state" = disabled ] || fail "piasd.service is '$state' after install; disabled expected (its config needs editing first)"
ok "systemd-analyze verify of the three units (programs and man pages found); piasd.service installed disabled"

# the BPF object the loader's --obj and man page name: listed, and eBPF (EM_BPF = 247)
obj=/usr/lib/pias/bpf/pias.bpf.o
in_root dpkg -L pias | grep -qx "$obj" || fail "dpkg -L pias does not list $obj"
grep -q "$obj" <<<"$(in_root env MANPAGER=cat LANG=C man 8 piasd-loader 2>&1)" || fail "man piasd-loader does not name $obj"
machine=$(od -An -tu2 -j18 -N2 "$ROOT$obj" | tr -d ' ')
[ "$machine" = 247 ] || fail "$obj is not an eBPF object (e_machine $machine)"
ok "dpkg -L lists $obj (eBPF), the object man piasd-loader names for --obj"

conff=$(in_root dpkg-query -W -f='${Conffiles}' pias)
for c in /etc/pias/piasd.conf /etc/bird/pias-anycast.conf; do
	grep -q "^ $c " <<<"$conff" || fail "$c is not a conffile of pias: $conff"
done
ok "/etc/pias/piasd.conf and /etc/bird/pias-anycast.conf are conffiles"

out=$(in_root dpkg --purge pias 2>&1) || fail "dpkg --purge pias: $out"
[ ! -e "$ROOT/etc/pias/piasd.conf" ] || fail "dpkg --purge left /etc/pias/piasd.conf"
ok "dpkg --purge pias removes it and its conffiles"

echo "test_deb: PASS in $(($(date +%s) - T0)) s"
