#!/usr/bin/env bash
# Namespace test of piasd-loader and pias-maps: attach (maps shared between
# interfaces of one pin root), the errors an operator meets, default config,
# replace without packet loss and with state kept, events, detach and unpin.
# Two namespaces joined by a veth; a second veth pair inside the first.
. "$(dirname "$0")/lib.sh"

need_root
trap pias_cleanup EXIT
mount_bpffs

LOADER="$BUILD/piasd-loader"
MAPS="$BUILD/pias-maps"
# pin_root runs in $(...) at call sites elsewhere; record ours in this shell
ROOT="/sys/fs/bpf/$PIAS_TAG-a"
ROOT2="/sys/fs/bpf/$PIAS_TAG-b"
PIAS_PINS+=("$ROOT" "$ROOT2")
TMP=$(mktemp -d)
trap 'pias_cleanup; rm -rf "$TMP"' EXIT

ns_add a
ns_add b
link_add a v0 b v0
in_ns a ip link add v1 type veth peer name v2
in_ns a ip link set v1 up
in_ns a ip link set v2 up
addr_add a v0 192.0.2.1/24
addr_add b v0 192.0.2.2/24

L() { in_ns a "$LOADER" "$@"; }
M() { in_ns a "$MAPS" --pin-root "$ROOT" "$@"; }
# rc CMD...: exit status only
rc() { "$@" >/dev/null 2>&1; echo $?; }

echo "-- attach"
out=$(L attach --dev v0 --pin-root "$ROOT" 2>&1)
check_eq "attach v0" 0 $?
case $out in
*"libxdp dispatcher unavailable on this kernel (freplace refused): attached as the only XDP program on v0"*)
	ok "says the dispatcher is unavailable" ;;
*"through libxdp's dispatcher"*) ok "attached through libxdp's dispatcher" ;;
*) fail "attach output: $out" ;;
esac
check_eq "attach v1, same pin root" 0 "$(rc L attach --dev v1 --pin-root "$ROOT")"
ids=$(L status --pin-root "$ROOT" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(sorted(i["dev"] for i in s["interfaces"] if i["ours"]), s["maps_pinned"] == s["maps_expected"])')
check_eq "status lists both, all maps pinned" "['v0', 'v1'] True" "$ids"
m0=$(in_ns a ip -j -d link show v0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["xdp"]["prog"]["id"])')
m1=$(in_ns a ip -j -d link show v1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["xdp"]["prog"]["id"])')
# shared_maps PROG_ID: the program's maps but its private scratch rooms (the
# NAT search's and the target pick's; per program by design: nothing in
# them outlives a packet)
shared_maps() {
	bpftool -j map show >"$TMP_MAPS"
	bpftool -j prog show id "$1" | python3 -c '
import json, sys
names = {m["id"]: m.get("name", "") for m in json.load(open(sys.argv[1]))}
print(sorted(i for i in json.load(sys.stdin)["map_ids"] if names.get(i) not in ("pias_nat_scratc", "pias_tset_room")))' "$TMP_MAPS"
}
TMP_MAPS=$(mktemp)
maps0=$(shared_maps "$m0")
maps1=$(shared_maps "$m1")
rm -f "$TMP_MAPS"
check_eq "both interfaces use the same maps (their scratch room aside)" "$maps0" "$maps1"
check_eq "default config written (id 0)" "0 1392" "$(M config | awk '$1=="id"{i=$2} $1=="tcp-mss4"{m=$2} END{print i, m}')"

echo "-- errors"
out=$(L attach --dev v0 --pin-root "$ROOT" 2>&1)
check_eq "attach twice fails" "1 piasd-loader attach: PIAS already attached to v0: use replace, or detach first" "$? $out"
out=$(L attach --dev nosuch --pin-root "$ROOT" 2>&1)
check_eq "no such device" "1" "$?"
case $out in *"no such device nosuch"*) ok "names the device" ;; *) fail "$out" ;; esac
check_eq "bad --mode is a usage error" 2 "$(rc L attach --dev v0 --mode fast)"
check_eq "missing --dev is a usage error" 2 "$(rc L attach)"
out=$(L attach --dev lo --pin-root "$ROOT2" 2>&1)
check_eq "lo has no native XDP" "1 piasd-loader attach: lo does not support native XDP: try --mode skb" "$? $out"
check_eq "lo in skb mode works" 0 "$(rc L attach --dev lo --mode skb --pin-root "$ROOT2")"
out=$(L attach --dev lo --pin-root "$ROOT" 2>&1)
case $out in *"another pin root already attached to lo"*) ok "PIAS of another pin root named" ;; *) fail "$out" ;; esac
check_eq "detach --all of the other root" 0 "$(rc L detach --all --pin-root "$ROOT2")"
check_eq "its pin root is gone" 1 "$(rc test -e "$ROOT2")"
# a pin of another build (here: another size) is refused, and named
check_eq "lo in skb mode again" 0 "$(rc L attach --dev lo --mode skb --pin-root "$ROOT2")"
rm -f "$ROOT2/pias_anycast"
bpftool map create "$ROOT2/pias_anycast" type array key 4 value 328 entries 2 name pias_anycast
out=$(in_ns a "$MAPS" --pin-root "$ROOT2" stats 2>&1)
check_eq "a map of another size: pias-maps exits 1" 1 $?
case $out in *"pias_anycast is not the map this build expects"*"entries 2"*"entries 1"*"detach --all"*)
	ok "names the map, its size and the way out" ;;
*) fail "$out" ;; esac
# an upgraded proxy may hold the pin of a map earlier versions had
bpftool map create "$ROOT2/pias_grp_stats" type percpu_array key 4 value 64 entries 16 name pias_grp_stats
check_eq "detach --all of it" 0 "$(rc L detach --all --pin-root "$ROOT2")"
check_eq "the pin of an earlier version's map went too, and the pin root with it" 1 "$(rc test -e "$ROOT2")"
cat >"$TMP/other.bpf.c" <<'C'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int other_xdp(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
C
if clang -O2 -target bpf -I/usr/include/x86_64-linux-gnu -c "$TMP/other.bpf.c" -o "$TMP/other.bpf.o" 2>/dev/null; then
	# bpftool, not `ip link ... obj`: iproute2 would leave /sys/fs/bpf/tc behind
	OTHER="/sys/fs/bpf/$PIAS_TAG-other"
	PIAS_PINS+=("$OTHER")
	bpftool prog load "$TMP/other.bpf.o" "$OTHER"
	in_ns a bpftool net attach xdpgeneric pinned "$OTHER" dev v2
	out=$(L attach --dev v2 --pin-root "$ROOT" 2>&1)
	case $out in *"v2 already runs XDP program other_xdp"*) ok "another XDP program named" ;; *) fail "$out" ;; esac
	in_ns a bpftool net detach xdpgeneric dev v2
else
	echo "  skip another XDP program: clang could not build one"
fi
check_eq "pias-maps: bad argument exits 2" 2 "$(rc M prefix add 203.0.113.5/24)"
check_eq "pias-maps: unknown pin root exits 1" 1 "$(rc in_ns a "$MAPS" --pin-root /sys/fs/bpf/nonexistent-pias stats)"

echo "-- configure, replace, events"
M config --id 1 --addr4 192.0.2.1 >/dev/null
M prefix add 203.0.113.0/24
KEY=$(printf 'a5%.0s' $(seq 32))
check_eq "pias-maps: proxy set without --key exits 2" 2 "$(rc M proxy set 2 192.0.2.2)"
check_eq "pias-maps: proxy set with a short key exits 2" 2 "$(rc M proxy set --key a5a5 2 192.0.2.2)"
M proxy set --key "$KEY" 1 192.0.2.1
M proxy set --key "$KEY" 2 192.0.2.2
M rap fill 2
in_ns b ip route add 203.0.113.0/24 via 192.0.2.1
in_ns a "$MAPS" --pin-root "$ROOT" events --count 1 --timeout-ms 3000 >"$TMP/events" &
ev=$!
sleep 0.3
echo x | in_ns b timeout 2 socat - UDP:203.0.113.10:53 2>/dev/null
wait $ev
check_eq "miss event" "miss iap=1 rap=2 jap=0 ta=udp:203.0.113.10:53" "$(cat "$TMP/events")"
rx0=$(M stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["rx_packets"])')
in_ns a ping -q -i 0.01 -c 300 192.0.2.2 >"$TMP/ping" 2>&1 &
png=$!
sleep 0.5
for i in 1 2; do
	out=$(L replace --pin-root "$ROOT" 2>&1) || fail "replace: $out"
done
wait $png
check_eq "no ping lost during two replaces" "0%" "$(grep -o '[0-9.]*% packet loss' "$TMP/ping" | cut -d' ' -f1)"
case $out in *"replaced prog id"*"on v0"*) ok "replace swapped v0" ;; *) fail "$out" ;; esac
check_eq "config kept across replace" "1 192.0.2.1" "$(M config | awk '$1=="id"{i=$2} $1=="addr4"{a=$2} END{print i, a}')"
rx1=$(M stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["rx_packets"])')
check_ge "counters kept across replace" "$((rx0 + 300))" "$rx1"

echo "-- table sizes"
ROOT3="/sys/fs/bpf/$PIAS_TAG-c"
PIAS_PINS+=("$ROOT3")
entries() { bpftool map show pinned "$1" | grep -o 'max_entries [0-9]*' | cut -d' ' -f2; }
check_eq "--conns 10 is a usage error" 2 "$(rc L attach --dev lo --mode skb --conns 10 --pin-root "$ROOT3")"
check_eq "attach with --flows 2048 --conns 4096" 0 \
	"$(rc L attach --dev lo --mode skb --flows 2048 --conns 4096 --pin-root "$ROOT3")"
check_eq "tables of that size" "2048 4096 4096" \
	"$(entries "$ROOT3/pias_flows") $(entries "$ROOT3/pias_conns") $(entries "$ROOT3/pias_conns_rev")"
check_eq "pias-maps takes them for this build's" 0 "$(rc in_ns a "$MAPS" --pin-root "$ROOT3" stats)"
out=$(L attach --dev v2 --conns 8192 --pin-root "$ROOT3" 2>&1)
check_eq "another size on a second interface: exit status 1" 1 $?
case $out in *"pias_conns is pinned with 4096 entries, not 8192"*"detach --all"*) ok "says the pinned size and how to resize" ;; *) fail "$out" ;; esac
check_eq "a second interface without a size takes the pinned one" 0 \
	"$(rc L attach --dev v2 --pin-root "$ROOT3")"
check_eq "replace keeps the sizes" 0 "$(rc L replace --pin-root "$ROOT3")"
check_eq "still 4096 after replace" 4096 "$(entries "$ROOT3/pias_conns")"
check_eq "detach --all of it" 0 "$(rc L detach --all --pin-root "$ROOT3")"
check_eq "default size otherwise" "$(grep -o 'PIAS_DEFAULT_CONNS [0-9]*' include/pias/maps.h | cut -d' ' -f2)" \
	"$(entries "$ROOT/pias_conns")"

echo "-- detach"
check_eq "detach v1" 0 "$(rc L detach --dev v1 --pin-root "$ROOT")"
check_eq "detach v1 again fails" 1 "$(rc L detach --dev v1 --pin-root "$ROOT")"
check_eq "maps stay pinned after detach --dev" 0 "$(rc test -e "$ROOT/pias_config")"
check_eq "attach in namespace b, same pin root" 0 "$(rc in_ns b "$LOADER" attach --dev v0 --pin-root "$ROOT")"
out=$(L detach --all --pin-root "$ROOT" 2>&1)
case $out in *"pins kept"*) ok "detach --all keeps pins another namespace uses" ;; *) fail "$out" ;; esac
check_eq "detach --all in namespace b" 0 "$(rc in_ns b "$LOADER" detach --all --pin-root "$ROOT")"
check_eq "pin root removed" 1 "$(rc test -e "$ROOT")"

pias_summary
