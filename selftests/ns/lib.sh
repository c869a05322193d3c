#!/usr/bin/env bash
# The one helper for namespace tests: namespaces, veths, pins and processes
# made through it are recorded and removed by pias_cleanup (run from a trap),
# so a test leaves nothing behind even when it fails half-way.
#
# Rules: namespaces are named pias-t<pid>-<name>; only documentation
# prefixes; every load bounded in packets and seconds.

set -o pipefail

BUILD=${BUILD:-build}
PIAS_TAG="pias-t$$"
PIAS_NS=()
PIAS_PINS=()
PIAS_PIDS=()
PIAS_FAILS=0
PIAS_PASSES=0

pias_ns() { echo "$PIAS_TAG-$1"; }

# Runs a command in node $1's namespace. nsenter, not `ip netns exec`: the
# latter remounts /sys, hiding bpffs (architecture.md).
in_ns() {
	local n=$1
	shift
	nsenter --net="/run/netns/$(pias_ns "$n")" "$@"
}

ns_add() {
	local ns
	ns=$(pias_ns "$1")
	ip netns add "$ns"
	PIAS_NS+=("$ns")
	in_ns "$1" ip link set lo up
	in_ns "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
}

# veth between node $1 (interface $2) and node $3 (interface $4).
# GRO on both ends gives each a NAPI context, which frames sent by
# XDP_REDIRECT need. Checksum offload off: veth would otherwise hand over
# packets whose L4 checksum is only the pseudo-header part (CHECKSUM_PARTIAL),
# which is all an XDP program sees; a real wire carries full checksums.
link_add() {
	local a=$1 ai=$2 b=$3 bi=$4
	ip link add "$PIAS_TAG-x" type veth peer name "$PIAS_TAG-y"
	ip link set "$PIAS_TAG-x" netns "$(pias_ns "$a")" name "$ai"
	ip link set "$PIAS_TAG-y" netns "$(pias_ns "$b")" name "$bi"
	in_ns "$a" ip link set "$ai" up
	in_ns "$b" ip link set "$bi" up
	in_ns "$a" ethtool -K "$ai" gro on tx off >/dev/null 2>&1 || true
	in_ns "$b" ethtool -K "$bi" gro on tx off >/dev/null 2>&1 || true
}

# xdp_pass NODE IFACE: a pass-everything XDP program on a veth end that
# receives frames a proxy sends with XDP_TX; veth delivers those only to a
# peer that runs XDP (bpf/xdp_pass.bpf.c).
xdp_pass() {
	in_ns "$1" ip link set dev "$2" xdpdrv obj "$BUILD/bpf/xdp_pass.bpf.o" sec xdp
}

# addr NODE IFACE ADDR/LEN: IPv6 without duplicate address detection.
addr_add() {
	case $3 in
	*:*) in_ns "$1" ip -6 addr add "$3" dev "$2" nodad ;;
	*) in_ns "$1" ip addr add "$3" dev "$2" ;;
	esac
}

# pin_root NODE VAR: VAR = a pin directory of the test's own, recorded for
# cleanup (no $(...): a subshell could not record it).
pin_root() {
	local d="/sys/fs/bpf/$PIAS_TAG-$1"
	PIAS_PINS+=("$d")
	printf -v "$2" '%s' "$d"
}

# Starts a background command in a node; its pid is recorded for cleanup,
# its output goes to $PIAS_LOG (servers' chatter is not the test's output).
PIAS_LOG=${PIAS_LOG:-/dev/null}
bg_ns() {
	local n=$1
	shift
	in_ns "$n" "$@" >>"$PIAS_LOG" 2>&1 &
	PIAS_PIDS+=($!)
}

pias_cleanup() {
	local p ns d
	for p in "${PIAS_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIAS_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	for ns in "${PIAS_NS[@]}"; do
		# killing what still runs in the namespace, then the namespace
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	for d in "${PIAS_PINS[@]}"; do
		[ -d "$d" ] && "$BUILD/piasd-loader" detach --all --pin-root "$d" >/dev/null 2>&1
		rm -rf "$d"
	done
}

mount_bpffs() {
	if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
		mount -t bpf bpf /sys/fs/bpf
	fi
}

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: $0 needs root (network namespaces, XDP)"
		exit 77
	fi
}

ok() {
	PIAS_PASSES=$((PIAS_PASSES + 1))
	echo "  ok   $*"
}

fail() {
	PIAS_FAILS=$((PIAS_FAILS + 1))
	echo "  FAIL $*"
}

# check DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1 ($3)"; else fail "$1: expected '$2', got '$3'"; fi
}

# check_ge DESCRIPTION MIN ACTUAL
check_ge() {
	if [ "$3" -ge "$2" ] 2>/dev/null; then ok "$1 ($3 >= $2)"; else fail "$1: expected >= $2, got '$3'"; fi
}

# check_le DESCRIPTION MAX ACTUAL
check_le() {
	if [ "$3" -le "$2" ] 2>/dev/null; then ok "$1 ($3 <= $2)"; else fail "$1: expected <= $2, got '$3'"; fi
}

# wait_for SECONDS COMMAND...: retry every 50 ms until COMMAND succeeds.
wait_for() {
	local deadline=$(($(date +%s%N) + $1 * 1000000000))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -gt "$deadline" ] && return 1
		sleep 0.05
	done
}

pias_summary() {
	echo "== $PIAS_PASSES passed, $PIAS_FAILS failed"
	[ "$PIAS_FAILS" -eq 0 ]
}

# counter PIN_ROOT MAP FIELD: a per-CPU counter summed over CPUs, read the
# way an operator would, with bpftool and the maps' BTF.
counter() {
	bpftool -j map dump pinned "$1/$2" | python3 -c '
import json, sys
field = sys.argv[1]
total = 0
for entry in json.load(sys.stdin):
    for v in entry["formatted"]["values"]:
        total += v["value"].get(field, 0)
print(total)' "$3"
}

# entries PIN_ROOT MAP: how many entries a map holds.
entries() {
	bpftool -j map dump pinned "$1/$2" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# snapshot PIN_ROOT FILE: every counter of pias_stats and pias_drops, summed
# over CPUs, as "name value" lines.
snapshot() {
	{
		bpftool -j map dump pinned "$1/pias_stats"
		echo
		bpftool -j map dump pinned "$1/pias_drops"
	} | python3 -c '
import json, sys
t = {}
for chunk in sys.stdin.read().split("\n\n"):
    if not chunk.strip():
        continue
    for e in json.loads(chunk):
        for v in e["formatted"]["values"]:
            for k, x in v["value"].items():
                t[k] = t.get(k, 0) + x
for k, x in t.items():
    print(k, x)' >"$2"
}

# delta OLD NEW: the counters that moved, "name+N" separated by spaces.
delta() {
	python3 -c '
import sys
old = dict(l.split() for l in open(sys.argv[1]))
new = dict(l.split() for l in open(sys.argv[2]))
skip = {"rx_packets", "fwd_tx", "fwd_redirect", "events_sent", "local_hop"}
out = [f"{k}+{int(v) - int(old.get(k, 0))}" for k, v in new.items()
       if int(v) != int(old.get(k, 0)) and k not in skip]
print(" ".join(out) or "-")' "$1" "$2"
}
