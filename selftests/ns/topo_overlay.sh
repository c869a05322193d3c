#!/usr/bin/env bash
# The dataplane's namespace scenario: a client, three proxies (IAP, RAP and
# JAP, ids 1-3) on a shared underlay segment, and a target behind the JAP.
# Maps are filled with pias-maps (the daemon is not there yet).
#
#   cl --- iap ==+== core bridge ==+== rap
#                 \\               /
#                  +==== jap ====+--- tg
#
# Addresses (documentation prefixes only):
#   anycast      203.0.113.0/26        2001:db8:a::/48
#   client LAN   192.0.2.0/26          2001:db8:c::/64      (client .10, IAP .1)
#   underlay     198.51.100.0/26       2001:db8:100::/64    (proxy N = .N / ::N)
#   target LAN   192.0.2.64/26         2001:db8:7::/64      (target .70, JAP .65)

# shellcheck source=selftests/ns/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ANY4=203.0.113.10
ANY6=2001:db8:a::10
CL4=192.0.2.10
CL6=2001:db8:c::10
TG4=192.0.2.70
TG6=2001:db8:7::70
UDP_PORT=5353
TCP_PORT=8080
IPERF_PORT=5201
MAPS="$BUILD/pias-maps"
LOADER="$BUILD/piasd-loader"

declare -A ID=([iap]=1 [rap]=2 [jap]=3)
declare -A ROOT

topo_up() {
	local n
	mount_bpffs
	for n in cl iap rap jap tg core; do ns_add "$n"; done
	in_ns core ip link add br0 type bridge
	in_ns core ip link set br0 up

	link_add cl eth0 iap c0
	addr_add cl eth0 $CL4/26
	addr_add cl eth0 $CL6/64
	addr_add iap c0 192.0.2.1/26
	addr_add iap c0 2001:db8:c::1/64
	in_ns cl ip route add default via 192.0.2.1
	in_ns cl ip -6 route add default via 2001:db8:c::1

	for n in iap rap jap; do
		link_add "$n" u0 core "p$n"
		in_ns core ip link set "p$n" master br0
		addr_add "$n" u0 "198.51.100.${ID[$n]}/26"
		addr_add "$n" u0 "2001:db8:100::${ID[$n]}/64"
	done
	# the client LAN is behind the IAP, the target LAN behind the JAP
	for n in rap jap; do
		in_ns "$n" ip route add 192.0.2.0/26 via 198.51.100.1
		in_ns "$n" ip -6 route add 2001:db8:c::/64 via 2001:db8:100::1
	done

	link_add jap t0 tg eth0
	addr_add jap t0 192.0.2.65/26
	addr_add jap t0 2001:db8:7::1/64
	addr_add tg eth0 $TG4/26
	addr_add tg eth0 $TG6/64
	in_ns tg ip route add default via 192.0.2.65
	in_ns tg ip -6 route add default via 2001:db8:7::1

	xdp_pass cl eth0
	xdp_pass tg eth0
	for n in iap rap jap; do xdp_pass core "p$n"; done
	for n in iap rap jap; do
		pin_root "$n" "ROOT[$n]"
		in_ns "$n" "$LOADER" attach --dev u0 --pin-root "${ROOT[$n]}" >/dev/null
	done
	in_ns iap "$LOADER" attach --dev c0 --pin-root "${ROOT[iap]}" >/dev/null
	in_ns jap "$LOADER" attach --dev t0 --pin-root "${ROOT[jap]}" >/dev/null
	# the proxies answer for nothing in the anycast prefix themselves
	wait_neigh
}

# Resolve neighbours once so the first packets are not waiting for ARP/ND.
wait_neigh() {
	local n
	for n in rap jap; do
		in_ns iap ping -c1 -W1 "198.51.100.${ID[$n]}" >/dev/null 2>&1
		in_ns iap ping -6 -c1 -W1 "2001:db8:100::${ID[$n]}" >/dev/null 2>&1
	done
	in_ns rap ping -c1 -W1 198.51.100.3 >/dev/null 2>&1
	in_ns rap ping -6 -c1 -W1 2001:db8:100::3 >/dev/null 2>&1
	in_ns jap ping -c1 -W1 $TG4 >/dev/null 2>&1
	in_ns jap ping -6 -c1 -W1 $TG6 >/dev/null 2>&1
	in_ns jap ping -c1 -W1 $CL4 >/dev/null 2>&1
	in_ns jap ping -6 -c1 -W1 $CL6 >/dev/null 2>&1
}

# maps_fill UNDERLAY(4|6): every proxy knows every other; RAP 2 owns every
# group; the RAP knows JAP 3 for both groups; the JAP knows the target.
# The overlay key of the three proxies: the tags of each pair come from it.
OVERLAY_KEY=$(printf '5c%.0s' $(seq 32))

maps_fill() {
	local fam=$1 n m addr
	for n in iap rap jap; do
		"$MAPS" --pin-root "${ROOT[$n]}" config --id "${ID[$n]}" \
			--addr4 "198.51.100.${ID[$n]}" --addr6 "2001:db8:100::${ID[$n]}" >/dev/null
		"$MAPS" --pin-root "${ROOT[$n]}" prefix add 203.0.113.0/26
		"$MAPS" --pin-root "${ROOT[$n]}" prefix add 2001:db8:a::/48
		for m in iap rap jap; do
			if [ "$fam" = 4 ]; then addr="198.51.100.${ID[$m]}"; else addr="2001:db8:100::${ID[$m]}"; fi
			"$MAPS" --pin-root "${ROOT[$n]}" proxy set --key "$OVERLAY_KEY" "${ID[$m]}" "$addr" up
		done
		"$MAPS" --pin-root "${ROOT[$n]}" rap fill --replicas 1 "${ID[rap]}"
	done
	local ta
	for ta in "udp:$ANY4:$UDP_PORT" "tcp:$ANY4:$TCP_PORT" "udp:[$ANY6]:$UDP_PORT" \
		"tcp:[$ANY6]:$TCP_PORT" "tcp:$ANY4:$IPERF_PORT" "tcp:[$ANY6]:$IPERF_PORT"; do
		"$MAPS" --pin-root "${ROOT[rap]}" group set "$ta" "${ID[jap]}:1"
	done
	"$MAPS" --pin-root "${ROOT[jap]}" target set 1 "$TG4:$UDP_PORT"
	"$MAPS" --pin-root "${ROOT[jap]}" target set 2 "$TG4:$TCP_PORT"
	"$MAPS" --pin-root "${ROOT[jap]}" target set 3 "[$TG6]:$UDP_PORT"
	"$MAPS" --pin-root "${ROOT[jap]}" target set 4 "[$TG6]:$TCP_PORT"
	"$MAPS" --pin-root "${ROOT[jap]}" targets set "udp:$ANY4:$UDP_PORT" 1
	"$MAPS" --pin-root "${ROOT[jap]}" targets set "tcp:$ANY4:$TCP_PORT" 2
	"$MAPS" --pin-root "${ROOT[jap]}" targets set "udp:[$ANY6]:$UDP_PORT" 3
	"$MAPS" --pin-root "${ROOT[jap]}" targets set "tcp:[$ANY6]:$TCP_PORT" 4
	"$MAPS" --pin-root "${ROOT[jap]}" target set 5 "$TG4:$IPERF_PORT"
	"$MAPS" --pin-root "${ROOT[jap]}" target set 6 "[$TG6]:$IPERF_PORT"
	"$MAPS" --pin-root "${ROOT[jap]}" targets set "tcp:$ANY4:$IPERF_PORT" 5
	"$MAPS" --pin-root "${ROOT[jap]}" targets set "tcp:[$ANY6]:$IPERF_PORT" 6
}

# Real servers on the target: a UDP responder and an HTTP server.
servers_up() {
	bg_ns tg socat -T 5 "UDP6-RECVFROM:$UDP_PORT,ipv6only=0,fork" SYSTEM:'read -r line; echo pong-from-target'
	bg_ns tg python3 -m http.server "$TCP_PORT" --bind :: --directory "${WEBROOT:-/usr/share/doc/socat}"
	bg_ns tg iperf3 -s -p "$IPERF_PORT"
	local i
	for i in $(seq 50); do
		in_ns tg ss -ltn | grep -q ":$TCP_PORT " && break
		sleep 0.1
	done
}

# udp_ask ADDR: one request, one answer (bounded: 2 s).
udp_ask() {
	local a=$1
	case $a in *:*) a="[$a]" ;; esac
	echo ping | in_ns cl timeout 3 socat -T 2 - "UDP:$a:$UDP_PORT" 2>/dev/null
}

# bind_all: bindings at the IAP for every group, to JAP 3 (what the RAP's
# daemon would send): later flows go IAP -> JAP directly.
bind_all() {
	local ta
	for ta in "udp:$ANY4:$UDP_PORT" "tcp:$ANY4:$TCP_PORT" "udp:[$ANY6]:$UDP_PORT" \
		"tcp:[$ANY6]:$TCP_PORT" "tcp:$ANY4:$IPERF_PORT" "tcp:[$ANY6]:$IPERF_PORT"; do
		"$MAPS" --pin-root "${ROOT[iap]}" binding set "$ta" "${ID[jap]}"
	done
}

# tcp_get ADDR: one HTTP request (bounded: 3 s); prints the status code.
tcp_get() {
	local a=$1
	case $a in *:*) a="[$a]" ;; esac
	in_ns cl curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$a:$TCP_PORT/copyright"
}
