#!/usr/bin/env bash
# The hop benchmark (make bench-hop) as a test of its rig, not of speed:
# one short round of every config at 1 and 16 flows; every config's output
# check passes (the sink got every frame the DUT received, as that config
# must emit it: PIAS's IAP, JAP and reverse hops included); the DUT's
# thread did the work; nothing is left behind (namespaces, the lwt pin).
# No figure is asserted: make bench-hop reports them.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh

need_root
TMP=$(mktemp -d /tmp/pias-hop-test.XXXXXX)
cleanup() {
	# a run killed hard leaves its namespaces: pias-hop-PID-{ends,dut}
	for ns in $(ip netns list | grep -o "^pias-hop-${pid:-none}-[a-z]*"); do ip netns del "$ns"; done
	rm -rf "$TMP"
}
trap cleanup EXIT

echo "-- arguments"
"$BUILD/pias-hop" --flows 0 >"$TMP/bad.out" 2>&1
check_eq "--flows 0: exit status 2" 2 $?
if grep -q "bad value '0'" "$TMP/bad.out"; then ok "says which value"; else fail "message: $(head -1 "$TMP/bad.out")"; fi
if "$BUILD/pias-hop" --help | grep -q "usage: pias-hop"; then ok "--help"; else fail "--help"; fi

echo "-- one round"
timeout 120 "$BUILD/pias-hop" --rounds 1 --ms 100 --flows 1,16 --json "$TMP/hop.json" \
	>"$TMP/out" 2>&1 &
pid=$!
wait $pid
rc=$?
check_eq "pias-hop exit status" 0 $rc
[ "$rc" -ne 0 ] && tail -20 "$TMP/out"
js() { python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$TMP/hop.json"; }
want="kernel nft_dnat lwt_ipip xdp_fwd min_xdp min_xdp_w pias_iap pias_jap pias_rev"
for flows in 1 16; do
	check_eq "every config ran with $flows flows" "$want" \
		"$(js "' '.join(r['config'] for r in d['rows'] if r['flows'] == $flows)")"
	check_eq "every output check passed ($flows flows)" "[]" \
		"$(js "[r['config'] for r in d['rows'] if r['flows'] == $flows and not r['ok']]")"
	check_eq "the DUT's thread did the work of every config ($flows flows)" "[]" \
		"$(js "[r['config'] for r in d['rows'] if r['flows'] == $flows and not r['ns_per_pkt'] > 0]")"
done
if grep -q "^pias_iap .* ok " "$TMP/out"; then
	ok "the table shows PIAS against the minimal proxy"
else
	fail "table: $(grep pias_iap "$TMP/out")"
fi

echo "-- nothing left"
check_eq "no namespace pias-hop-$pid-*" "" "$(ip netns list | grep "^pias-hop-$pid-")"
check_eq "no pin /sys/fs/bpf/pias-hop-$pid" "no" "$([ -e "/sys/fs/bpf/pias-hop-$pid" ] && echo yes || echo no)"
pias_summary
