#!/usr/bin/env bash
# Installs the Debian packages that PIAS's build, tests and demo need.
# Idempotent: skips apt-get when everything is already there.
set -euo pipefail

pkgs=(
	clang llvm clang-format libclang-rt-14-dev make gcc build-essential pkg-config
	libbpf-dev libxdp-dev libelf-dev zlib1g-dev libevent-dev libcmocka-dev
	libinih-dev libsodium-dev libsystemd-dev systemd
	bpftool xdp-tools iproute2 ethtool nftables
	iputils-ping socat curl dnsutils iperf3 nginx-light unbound bird2 graphviz
	dnsperf apache2-utils wrk procps
	prometheus
	debhelper dpkg-dev help2man lintian debootstrap
	python3
	# the Makefile's file lists (format-check, deb) come from git ls-files,
	# and a bare Debian 12 has no git
	git
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get needs it): sudo make deps" >&2
	exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#pkgs[@]} packages present"
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# The distribution starts these services on install; the tests start their
# own instances inside namespaces.
for s in nginx unbound bird prometheus; do
	systemctl disable --now "$s" >/dev/null 2>&1 || true
done
