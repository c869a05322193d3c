#!/usr/bin/env bash
# Namespace test of tunnel mode's host setup (tools/piasctl/tunnel_target.c)
# through its driver, selftests/tt_host_check.c: open and serve put the
# anycast addresses on lo, the filters on the interface and the pins in
# place; a kill -9 leaves all of it; the next start undoes it, but leaves an
# address that was on lo before. A clean leave takes everything down too.
. "$(dirname "$0")/lib.sh"

need_root
# a developer's run beside a test run may choose its own tag (TT_TAG=ttdev-$$)
PIAS_TAG=${TT_TAG:-$PIAS_TAG}
TMP=$(mktemp -d)
trap 'pias_cleanup; rm -rf "$TMP"' EXIT
mount_bpffs

DRV="$BUILD/selftests/tt_host_check"
ns_add t
ns_add j
link_add t eth0 j eth0
pin_root t ROOT
DIR="$ROOT/eth0"
V4=udp:203.0.113.10:53
V6='tcp:[2001:db8:a::10]:80'
# on lo before the driver runs, and served: it must stay on lo throughout
in_ns t ip addr add 203.0.113.99/32 dev lo

# lo_has ADDR: 1 if ADDR is on t's lo, 0 if not
lo_has() { in_ns t ip -o addr show dev lo | grep -c " $1/"; }
# ours: our filters and pins, "ingress egress pins" counts
ours() {
	echo "$(in_ns t tc filter show dev eth0 ingress | grep -c pias_tt_ingress)" \
		"$(in_ns t tc filter show dev eth0 egress | grep -c pias_tt_egress)" \
		"$(ls "$DIR" 2>/dev/null | wc -l)"
}
# serve: the driver in the background, serving V4, V6 and .99; .10:5353
# shares V4's address and leaves; .20 comes and goes
serve() {
	in_ns t "$DRV" "$ROOT" eth0 serve "+$V4" "+$V6" +udp:203.0.113.10:5353 \
		-udp:203.0.113.10:5353 +udp:203.0.113.20:53 -udp:203.0.113.20:53 \
		+udp:203.0.113.99:53 >"$TMP/out" 2>&1 &
	SHPID=$!
	wait_for 10 grep -q ready "$TMP/out" || fail "driver not ready: $(cat "$TMP/out")"
	# the driver's own pid: $! is the subshell that runs in_ns
	DPID=$(awk '/^ready/ { print $2 }' "$TMP/out")
}
check_served() {
	check_eq "$1: 203.0.113.10, 2001:db8:a::10, .99 on lo; .20 gone" "1 1 1 0" \
		"$(lo_has 203.0.113.10) $(lo_has 2001:db8:a::10) $(lo_has 203.0.113.99) $(lo_has 203.0.113.20)"
	check_eq "$1: both filters, five pins" "1 1 5" "$(ours)"
	check_eq "$1: three services" 3 "$(entries "$DIR" pias_tt_svc)"
}
check_clean() {
	check_eq "$1: .10 and ::10 gone, .99 kept" "0 0 1" \
		"$(lo_has 203.0.113.10) $(lo_has 2001:db8:a::10) $(lo_has 203.0.113.99)"
	check_eq "$1: no filter, no pin" "0 0 0" "$(ours)"
	check_eq "$1: pin directory gone" no "$([ -e "$DIR" ] && echo yes || echo no)"
	check_eq "$1: clsact (ours) gone" 0 "$(in_ns t tc qdisc show dev eth0 | grep -c clsact)"
}

echo "-- open, serve"
serve
check_served "served"
out=$(in_ns t "$DRV" "$ROOT" eth0 clean 2>&1)
check_eq "a second driver on eth0 is refused" "1 locked" \
	"$? $(grep -o locked <<<"$out")"

echo "-- kill -9"
kill -9 "$DPID"
wait "$SHPID" 2>/dev/null
check_eq "driver gone" 1 "$(kill -0 "$DPID" 2>/dev/null; echo $?)"
check_served "after kill -9"

echo "-- a later start undoes it"
in_ns t "$DRV" "$ROOT" eth0 clean
check_eq "clean exits 0" 0 $?
check_clean "after clean"

echo "-- leave (SIGTERM)"
serve
check_served "served again"
kill -TERM "$DPID"
wait "$SHPID"
check_eq "driver exits 0 and prints its counters" "0 1" "$? $(grep -c '^decap ' "$TMP/out")"
check_clean "after leave"

pias_summary
