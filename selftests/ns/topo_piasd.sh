#!/usr/bin/env bash
# Namespace topology run by piasd (no pias-maps): N proxies (ids 1..N) on a
# shared underlay bridge, a client behind proxy 1 (its IAP by routing), and
# targets behind proxies 3 and 2, which register with `piasctl target join`
# through the anycast registration address and so join there.
#
#   cl --- p1 ==+== core bridge ==+== p2 --- tg2
#               |                 |
#               +==== p3 ==== p4 ... pN
#                     |
#                     tg3
#
# Addresses (documentation prefixes only):
#   anycast        203.0.113.0/26 (groups .10), 2001:db8:a::/48 (::10);
#                  registration service 203.0.113.1 / 2001:db8:a::1, port 6638
#   client LAN     192.0.2.0/26    2001:db8:c::/64  (client .10, p1 .1)
#   target LAN 3   192.0.2.64/26   2001:db8:7::/64  (tg3 .70, p3 .65)
#   target LAN 2   192.0.2.128/26  2001:db8:8::/64  (tg2 .130, p2 .129)
#   underlay       198.51.100.0/26 2001:db8:100::/64 (proxy N = .N / ::N)

# shellcheck source=selftests/ns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ANY4=203.0.113.10
ANY6=2001:db8:a::10
REG4=203.0.113.1
REG6=2001:db8:a::1
CL4=192.0.2.10
CL6=2001:db8:c::10
declare -A TG4=([tg3]=192.0.2.70 [tg2]=192.0.2.130)
declare -A TG6=([tg3]=2001:db8:7::70 [tg2]=2001:db8:8::70)
UDP_PORT=5353
TCP_PORT=8080
PIASD="$BUILD/piasd"
PIASCTL="$BUILD/piasctl"
LOADER="$BUILD/piasd-loader"
NPROXIES=${NPROXIES:-3}

declare -A ROOT SOCK PIASD_PID AGENT_PID
KEYDIR=

# ctl N ARGS...: piasctl against proxy N's control socket.
ctl() {
	local n=$1
	shift
	"$PIASCTL" -s "${SOCK[$n]}" "$@"
}

# jq_py EXPR: evaluate a Python expression on the JSON document on stdin (as d).
jq_py() {
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

piasd_conf() {
	local n=$1
	cat <<CONF
[node]
id = $n
address4 = 198.51.100.$n
address6 = 2001:db8:100::$n
pin_root = ${ROOT[$n]}
interfaces = u0
control_socket = ${SOCK[$n]}

[anycast]
prefix = 203.0.113.0/26
prefix = 2001:db8:a::/48
registration_address = $REG4
announce_command = $KEYDIR/announce.sh
${PIASD_CONF_ANYCAST:-}

[overlay]
seeds = 198.51.100.1 198.51.100.2
probe_interval_ms = 100
suspect_timeout_ms = 500
${PIASD_CONF_OVERLAY:-}

[jap]
${PIASD_CONF_JAP:-}

[keys]
overlay_key_file = $KEYDIR/overlay.keys
group_key_file = $KEYDIR/group.key

${PIASD_CONF_EXTRA:-}
CONF
}

topo_up() {
	local n
	mount_bpffs
	KEYDIR=$(mktemp -d /tmp/pias-keys.XXXXXX)
	"$PIASCTL" keyring --id 1 >"$KEYDIR/overlay.keys"
	"$PIASCTL" keygen >"$KEYDIR/group.key"
	# what piasd would tell the BGP speaker, one line per change, per proxy
	printf '#!/bin/sh\necho "$1" >>"%s/announce-$PIAS_PROXY_ID"\n' "$KEYDIR" >"$KEYDIR/announce.sh"
	chmod +x "$KEYDIR/announce.sh"
	for n in cl core tg3 tg2; do ns_add "$n"; done
	for n in $(seq "$NPROXIES"); do ns_add "p$n"; done
	in_ns core ip link add br0 type bridge
	in_ns core ip link set br0 up

	link_add cl eth0 p1 c0
	addr_add cl eth0 $CL4/26
	addr_add cl eth0 $CL6/64
	addr_add p1 c0 192.0.2.1/26
	addr_add p1 c0 2001:db8:c::1/64
	in_ns cl ip route add default via 192.0.2.1
	in_ns cl ip -6 route add default via 2001:db8:c::1

	for n in $(seq "$NPROXIES"); do
		link_add "p$n" u0 core "pp$n"
		in_ns core ip link set "pp$n" master br0
		addr_add "p$n" u0 "198.51.100.$n/26"
		addr_add "p$n" u0 "2001:db8:100::$n/64"
		# the registration service answers on the anycast address
		addr_add "p$n" lo $REG4/32
		addr_add "p$n" lo $REG6/128
		[ "$n" != 1 ] && in_ns "p$n" ip route add 192.0.2.0/26 via 198.51.100.1
		[ "$n" != 1 ] && in_ns "p$n" ip -6 route add 2001:db8:c::/64 via 2001:db8:100::1
		[ "$n" != 3 ] && in_ns "p$n" ip route add 192.0.2.64/26 via 198.51.100.3
		[ "$n" != 3 ] && in_ns "p$n" ip -6 route add 2001:db8:7::/64 via 2001:db8:100::3
		[ "$n" != 2 ] && in_ns "p$n" ip route add 192.0.2.128/26 via 198.51.100.2
		[ "$n" != 2 ] && in_ns "p$n" ip -6 route add 2001:db8:8::/64 via 2001:db8:100::2
		xdp_pass core "pp$n"
		pin_root "p$n" "ROOT[$n]"
		SOCK[$n]="/run/pias/$PIAS_TAG-p$n.sock"
		in_ns "p$n" "$LOADER" attach --dev u0 --pin-root "${ROOT[$n]}" >/dev/null
	done
	in_ns p1 "$LOADER" attach --dev c0 --pin-root "${ROOT[1]}" >/dev/null

	target_lan tg3 p3 192.0.2.65/26 2001:db8:7::1/64 192.0.2.65 2001:db8:7::1
	target_lan tg2 p2 192.0.2.129/26 2001:db8:8::1/64 192.0.2.129 2001:db8:8::1
	xdp_pass cl eth0
}

# target_lan TG PROXY PROXY4/LEN PROXY6/LEN GW4 GW6
target_lan() {
	local tg=$1 p=$2
	link_add "$p" t0 "$tg" eth0
	addr_add "$p" t0 "$3"
	addr_add "$p" t0 "$4"
	addr_add "$tg" eth0 "${TG4[$tg]}/26"
	addr_add "$tg" eth0 "${TG6[$tg]}/64"
	in_ns "$tg" ip route add default via "$5"
	in_ns "$tg" ip -6 route add default via "$6"
	xdp_pass "$tg" eth0
	in_ns "$p" "$LOADER" attach --dev t0 --pin-root "${ROOT[${p#p}]}" >/dev/null
}

# piasd_start N: piasd on proxy N, its log in $PIAS_TMPDIR/piasd-N.log.
piasd_start() {
	local n=$1
	piasd_conf "$n" >"$KEYDIR/p$n.conf"
	# nsenter directly, not through in_ns: $! must be piasd itself (kill -9)
	# shellcheck disable=SC2086 # PIASD_LOG_ARGS: words
	nsenter --net="/run/netns/$(pias_ns "p$n")" "$PIASD" ${PIASD_LOG_ARGS:--v} --config "$KEYDIR/p$n.conf" \
		>>"$KEYDIR/piasd-$n.log" 2>&1 &
	PIASD_PID[$n]=$!
	PIAS_PIDS+=($!)
	# a sanitizer build (make test-asan) restores its maps several times slower
	wait_for "${PIASD_START_S:-5}" ctl "$n" show status
}

# all_alive N: every proxy sees N proxies alive.
all_alive() {
	local want=$1 n
	for n in "${!PIASD_PID[@]}"; do
		[ "$(ctl "$n" show status --json | jq_py 'd["proxies_alive"]')" = "$want" ] || return 1
	done
}

# agent_start TG PROTO PORT: `piasctl target join` in TG for its server.
agent_start() {
	local tg=$1 proto=$2 port=$3
	local token="$KEYDIR/token-$tg-$proto-$port" # one per agent: no agent reads a half-written one
	"$PIASCTL" token --group-key-file "$KEYDIR/group.key" --ta "$proto:$ANY4:$port" >"$token"
	nsenter --net="/run/netns/$(pias_ns "$tg")" "$PIASCTL" target join --ta "$proto:$ANY4:$port" \
		--endpoint "${TG4[$tg]}:$port" --token-file "$token" \
		--registration "$REG4:6638" >>"$KEYDIR/agent-$tg-$proto.log" 2>&1 &
	AGENT_PID[$tg-$proto]=$!
	PIAS_PIDS+=($!)
}

# Real servers: a UDP responder naming its target, and an HTTP server.
servers_up() {
	local tg
	mkdir -p "$KEYDIR/www"
	cp /usr/share/doc/socat/copyright "$KEYDIR/www/copyright"
	head -c 16777216 /dev/urandom >"$KEYDIR/www/big.bin"
	for tg in tg3 tg2; do
		bg_ns "$tg" socat -T 5 "UDP6-RECVFROM:$UDP_PORT,ipv6only=0,fork" \
			SYSTEM:"read -r line; echo pong-from-$tg"
		bg_ns "$tg" python3 -m http.server "$TCP_PORT" --bind :: --directory "$KEYDIR/www"
	done
	for tg in tg3 tg2; do
		wait_for 5 sh -c "nsenter --net=/run/netns/$(pias_ns "$tg") ss -ltn | grep -q ':$TCP_PORT '"
	done
}

# udp_ask: one request from the client (bounded: 2 s); prints the answer.
udp_ask() {
	echo ping | in_ns cl timeout 3 socat -T 2 - "UDP:$ANY4:$UDP_PORT" 2>/dev/null
}

# tcp_get: one HTTP request (bounded: 3 s); prints the status code.
tcp_get() {
	in_ns cl curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$ANY4:$TCP_PORT/copyright"
}

# last_announce N: the last thing proxy N's piasd asked the BGP speaker to do.
last_announce() { tail -n1 "$KEYDIR/announce-$1" 2>/dev/null; }

stat_of() { # stat_of N FIELD: pias_stats counter of proxy N
	counter "${ROOT[$1]}" pias_stats "$2"
}

# log_ms FILE REGEX: when the first line of a piasd log matching REGEX was
# written, in ms since the epoch (piasd logs UTC times of day).
log_ms() {
	local t
	t=$(grep -m1 -E "$2" "$1" | cut -d' ' -f1) || return 1
	[ -n "$t" ] && TZ=UTC date -d "today $t" +%s%3N
}

now_ms() { date +%s%3N; }

piasd_cleanup() {
	local rc=$?
	if [ "$rc" -ne 0 ] || [ "$PIAS_FAILS" -ne 0 ]; then
		for f in "$KEYDIR"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f (last 15 lines)"
			tail -n 15 "$f"
		done
	fi
	pias_cleanup
	rm -f /run/pias/"$PIAS_TAG"-*.sock
	[ -n "$KEYDIR" ] && rm -rf "$KEYDIR"
}
