#!/usr/bin/env bash
# pias-delay, the lab's link delay (this kernel has no netem): x and y on one
# subnet, joined through namespace d where the relay forwards between two
# veths with 20 ms each way. Ping RTTs (IPv4, IPv6) must be 40 ms and a bit,
# TCP transfers must arrive whole, also when a peer hands the relay GSO
# frames with partial checksums (TSO on); one TCP stream's throughput is
# measured through the relay (GRO off, then --gro) and, for comparison, over
# a direct veth between x and y. At exit the relay must have undone its
# changes (promiscuity, offloads).
#
#   x.eth0 ---- d.tox [pias-delay 20 ms] d.toy ---- y.eth0    192.0.2.0/24, 2001:db8:d::/64
#   x.eth1 ---------------------------------------- y.eth1    198.51.100.0/24 (direct)
. "$(dirname "$0")/lib.sh"

need_root
TMP=$(mktemp -d)
trap 'pias_cleanup; rm -rf "$TMP"' EXIT
DELAY="$BUILD/pias-delay"
HTTP_PORT=8080
IPERF_PORT=5201

ns_add x
ns_add d
ns_add y
link_add x eth0 d tox
link_add d toy y eth0
link_add x eth1 y eth1
# d's own stack stays off the wire: no link-local addresses, no RS or MLD
in_ns d sysctl -qw net.ipv6.conf.tox.disable_ipv6=1 net.ipv6.conf.toy.disable_ipv6=1
addr_add x eth0 192.0.2.1/24
addr_add y eth0 192.0.2.2/24
addr_add x eth0 2001:db8:d::1/64
addr_add y eth0 2001:db8:d::2/64
addr_add x eth1 198.51.100.1/24
addr_add y eth1 198.51.100.2/24

# rc CMD...: exit status only
rc() { "$@" >/dev/null 2>&1; echo $?; }

echo "-- errors"
out=$(in_ns d "$DELAY" --a tox --b nosuch --delay-ms 20 2>&1)
check_eq "unknown interface: exit status" 1 $?
case $out in *"no interface 'nosuch'"*) ok "names the unknown interface" ;; *) fail "unknown interface: '$out'" ;; esac
out=$(in_ns d setpriv --reuid=65534 --regid=65534 --clear-groups "$DELAY" --a tox --b toy --delay-ms 20 2>&1)
check_eq "not root: exit status" 1 $?
case $out in *"needs root"*) ok "says it needs root" ;; *) fail "not root: '$out'" ;; esac
check_eq "no delay given: usage error" 2 "$(rc in_ns d "$DELAY" --a tox --b toy)"
check_eq "bad delay: usage error" 2 "$(rc in_ns d "$DELAY" --a tox --b toy --delay-ms -1)"
check_eq "--help" 0 "$(rc "$DELAY" --help)"

# relay_start ARGS...: the relay in d, its output in $TMP/relay.log, its pid
# in RELAY. nsenter itself, not in_ns: $! must be the relay (nsenter execs
# it) for the SIGTERM of relay_stop to reach it.
relay_start() {
	nsenter --net="/run/netns/$(pias_ns d)" "$DELAY" --a tox --b toy "$@" >"$TMP/relay.log" 2>&1 &
	RELAY=$!
	PIAS_PIDS+=("$RELAY")
	# generous: start-up is quick, but a loaded 2-core machine can stall it
	for _ in $(seq 150); do
		grep -q '^pias-delay: relaying' "$TMP/relay.log" && break
		sleep 0.1
	done
	check_eq "relay $* started" 1 "$(grep -c '^pias-delay: relaying' "$TMP/relay.log")"
}

relay_stop() {
	kill -TERM "$RELAY"
	wait "$RELAY"
	check_eq "SIGTERM: clean exit" 0 $?
	grep '^pias-delay: exit' "$TMP/relay.log" | sed 's/^/  /'
}

# relay_counter DIR NAME: a counter of the relay's exit line of direction DIR (a->b, b->a)
relay_counter() {
	grep "^pias-delay: exit $1 " "$TMP/relay.log" | grep -o " $2=[0-9]*" | cut -d= -f2
}

echo "-- relay, 20 ms each way"
offloads() { in_ns d ethtool -k "$1" | grep -E '^(generic-receive-offload|tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload):'; }
off_before=$(offloads tox)
relay_start --delay-ms 20 --stats-interval 1
check_eq "tox promiscuous while relaying" 1 \
	"$(in_ns d ip -d -j link show tox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["promiscuity"])')"
check_eq "GRO off on tox while relaying" "generic-receive-offload: off" \
	"$(in_ns d ethtool -k tox | grep '^generic-receive-offload:')"

# rtts FAMILY ADDR: 20 pings 50 ms apart, after one that resolves the
# neighbour (its RTT carries the ARP/ND exchange); prints "min median max"
rtts() {
	in_ns x ping -"$1" -c 1 -W 2 "$2" >/dev/null 2>&1
	in_ns x ping -"$1" -c 20 -i 0.05 -W 2 "$2" 2>/dev/null | python3 -c '
import re, statistics, sys
t = [float(m.group(1)) for m in re.finditer(r"time=([0-9.]+) ms", sys.stdin.read())]
if len(t) < 20:
    print("lost %d" % (20 - len(t)))
else:
    print("%.3f %.3f %.3f" % (min(t), statistics.median(t), max(t)))'
}

# in_range DESCRIPTION LOW HIGH VALUE (decimals)
in_range() {
	if python3 -c 'import sys; sys.exit(not float(sys.argv[1]) <= float(sys.argv[3]) <= float(sys.argv[2]))' \
		"$2" "$3" "$4" 2>/dev/null; then
		ok "$1 ($4 in $2..$3)"
	else
		fail "$1: expected $2..$3, got '$4'"
	fi
}

for fam in 4 6; do
	[ $fam = 4 ] && addr=192.0.2.2 || addr=2001:db8:d::2
	r=$(rtts $fam "$addr")
	echo "  IPv$fam RTT min/median/max ms: $r"
	read -r min med _ <<<"$r"
	in_range "IPv$fam RTT min >= 40 ms" 40 1000 "$min"
	in_range "IPv$fam RTT median" 40 45 "$med"
done

# VLAN tags: the receiving kernel takes a tag out of the frame into the
# packet's metadata before AF_PACKET sees it; the relay must put it back.
# Two raw frames from x (802.1Q VLAN 100, 802.1ad VLAN 200), read in y with
# the tag from the same metadata (PACKET_AUXDATA); no 8021q module needed.
cat >"$TMP/vlan.py" <<'PY'
import socket, struct, sys
ETHERTYPE = 0x88b5  # local experimental
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind(("eth0", 0))
if sys.argv[1] == "send":
    for tpid, vid in ((0x8100, 100), (0x88a8, 200)):
        s.send(bytes.fromhex("02aabbccddee021122334455") + struct.pack("!HHH", tpid, vid, ETHERTYPE)
               + b"pias-delay vlan" + bytes(40))
    sys.exit(0)
s.setsockopt(263, 8, 1)  # SOL_PACKET, PACKET_AUXDATA
s.settimeout(3)
seen = []
try:
    while len(seen) < 2:
        data, anc, _, _ = s.recvmsg(2048, 256)
        if struct.unpack("!H", data[12:14])[0] != ETHERTYPE:
            continue
        for level, kind, aux in anc:
            if level == 263 and kind == 8:
                status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", aux[:20])
                if status & 0x10:  # TP_STATUS_VLAN_VALID
                    seen.append("%#x:%d" % (tpid if status & 0x40 else 0x8100, tci & 0xfff))
except socket.timeout:
    pass
print(" ".join(seen) or "none")
PY
in_ns y python3 "$TMP/vlan.py" recv >"$TMP/vlan" &
vlan_rx=$!
sleep 0.5
in_ns x python3 "$TMP/vlan.py" send
wait $vlan_rx
check_eq "802.1Q and 802.1ad tags relayed" "0x8100:100 0x88a8:200" "$(cat "$TMP/vlan")"

echo "-- TCP through the relay"
mkdir "$TMP/www"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$TMP/www/big"
in_ns y python3 -m http.server -b :: -d "$TMP/www" $HTTP_PORT >/dev/null 2>&1 &
PIAS_PIDS+=($!)
in_ns y iperf3 -s -p $IPERF_PORT >/dev/null 2>&1 &
PIAS_PIDS+=($!)
for _ in $(seq 50); do
	in_ns y ss -Htln | grep -q ":$HTTP_PORT " && in_ns y ss -Htln | grep -q ":$IPERF_PORT " && break
	sleep 0.1
done
want=$(sha256sum <"$TMP/www/big" | cut -d' ' -f1)
for addr in 192.0.2.2 "[2001:db8:d::2]"; do
	sum=$(in_ns x curl -s -m 20 "http://$addr:$HTTP_PORT/big" | sha256sum | cut -d' ' -f1)
	check_eq "8 MiB over HTTP from $addr, intact" "$want" "$sum"
done
# y with TSO and checksum offload on: y's TCP hands the relay 64 KiB GSO
# frames whose checksums are only the pseudo-header's; x must still get
# MTU-sized frames with full checksums
in_ns y ethtool -K eth0 tx on >/dev/null 2>&1
sum=$(in_ns x curl -s -m 20 "http://192.0.2.2:$HTTP_PORT/big" | sha256sum | cut -d' ' -f1)
check_eq "8 MiB from a sender with TSO on, intact" "$want" "$sum"
in_ns y ethtool -K eth0 tx off >/dev/null 2>&1

# mbps ADDR: one TCP stream x -> y for 3 s, Mbit/s the receiver got
mbps() {
	in_ns x timeout 15 iperf3 -c "$1" -p $IPERF_PORT -t 3 -J 2>/dev/null |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))' 2>/dev/null
}
via=$(mbps 192.0.2.2)
check_ge "TCP stream through the relay, Mbit/s" 10 "${via:-0}"
direct=$(mbps 198.51.100.2)

echo "-- exit"
relay_stop
check_eq "counters printed for both directions" 2 "$(grep -c '^pias-delay: exit' "$TMP/relay.log")"
check_ge "periodic counters (--stats-interval 1), lines" 4 "$(grep -c '^pias-delay: now' "$TMP/relay.log")"
check_ge "GSO frames from y relayed" 1 "$(relay_counter b-\>a gso_frames)"
for c in drop_full drop_big drop_trunc drop_send; do
	check_eq "$c, both directions" "0 0" "$(relay_counter a-\>b $c) $(relay_counter b-\>a $c)"
done
check_eq "tox no longer promiscuous" 0 \
	"$(in_ns d ip -d -j link show tox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["promiscuity"])')"
check_eq "offloads of tox restored" "$off_before" "$(offloads tox)"

echo "-- relay with --gro"
relay_start --delay-ms 20 --gro
r=$(rtts 4 192.0.2.2)
echo "  IPv4 RTT min/median/max ms: $r"
read -r _ med _ <<<"$r"
in_range "IPv4 RTT median with --gro" 40 45 "$med"
gro=$(mbps 192.0.2.2)
check_ge "TCP stream through the relay with --gro, Mbit/s" 10 "${gro:-0}"
relay_stop
echo "  one TCP stream x -> y, Mbit/s: direct veth ${direct:-?}; through the relay, 20 ms each way" \
	"(window-bound): ${via:-?}, with --gro ${gro:-?}"
check_eq "offloads of tox restored after --gro" "$off_before" "$(offloads tox)"
if in_ns x ping -c 1 -W 1 192.0.2.2 >/dev/null 2>&1; then
	fail "x still reaches y with the relay stopped"
else
	ok "no relay, no path"
fi

pias_summary
