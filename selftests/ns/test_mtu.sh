#!/usr/bin/env bash
# The underlay MTU (protocol.md 3.4) on real kernels: with 1500 bytes
# everywhere, a bulk TCP transfer through the overlay does not stall (the
# IAP clamps the client's SYN, the JAP the target's SYN-ACK), and a UDP
# datagram that cannot be encapsulated is answered with ICMP, which the
# client's kernel turns into a path MTU.
. "$(dirname "$0")/topo_overlay.sh"

need_root
WEBROOT=$(mktemp -d)
trap 'pias_cleanup; rm -rf "$WEBROOT"' EXIT
head -c $((16 * 1024 * 1024)) /dev/urandom >"$WEBROOT/big"
topo_up
servers_up
maps_fill 4

# bulk: 16 MiB, at most 30 s; a stall (segments too big for the tunnel,
# dropped without a word) would end in a timeout with a short file
bulk() { # bulk ADDR -> bytes received
	local a=$1
	case $a in *:*) a="[$a]" ;; esac
	in_ns cl curl -s -o /dev/null -m 30 -w '%{size_download}' "http://$a:$TCP_PORT/big"
}

# upload: client -> target is the encapsulated direction. iperf3 sends for
# 2 s; a stall (full-size segments dropped in the tunnel) would leave the
# target with a few kilobytes, a working path with hundreds of megabytes
upload() { # upload ADDR -> MiB the target received
	in_ns cl timeout 20 iperf3 -c "$1" -p "$IPERF_PORT" -t 2 -J 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bytes"] >> 20)' 2>/dev/null
}

for phase in "via the RAP" "IAP -> JAP"; do
	[ "$phase" = "IAP -> JAP" ] && bind_all
	for any in $ANY4 $ANY6; do
		c0=$(counter "${ROOT[iap]}" pias_stats iap_mss_clamped)
		r0=$(counter "${ROOT[jap]}" pias_stats rev_mss_clamped)
		check_eq "16 MiB over HTTP to $any, $phase" $((16 * 1024 * 1024)) "$(bulk $any)"
		check_ge "iperf3 upload for 2 s to $any, $phase: MiB received" 8 "$(upload $any)"
		check_ge "IAP clamped the clients' SYNs" $((c0 + 1)) "$(counter "${ROOT[iap]}" pias_stats iap_mss_clamped)"
		check_ge "JAP clamped the target's SYN-ACK" $((r0 + 1)) "$(counter "${ROOT[jap]}" pias_stats rev_mss_clamped)"
	done
done
check_eq "nothing dropped as too big" 0 "$(counter "${ROOT[iap]}" pias_drops too_big)"

# a full-size UDP datagram with DF: the IAP answers "too big" with the MTU
# that fits (1500 - 48 bytes of IPv4 underlay = 1452)
big_udp() { # big_udp FAMILY ADDR PAYLOAD
	in_ns cl python3 - "$@" <<'PY'
import socket, sys
fam = socket.AF_INET if sys.argv[1] == "4" else socket.AF_INET6
s = socket.socket(fam, socket.SOCK_DGRAM)
if fam == socket.AF_INET:
    s.setsockopt(socket.IPPROTO_IP, 10, 2)      # IP_MTU_DISCOVER = IP_PMTUDISC_DO
else:
    s.setsockopt(socket.IPPROTO_IPV6, 23, 2)    # IPV6_MTU_DISCOVER = IPV6_PMTUDISC_DO
s.sendto(b"x" * int(sys.argv[3]), (sys.argv[2], 5353))
PY
}
i0=$(counter "${ROOT[iap]}" pias_stats icmp_too_big_sent)
big_udp 4 $ANY4 1472
big_udp 6 $ANY6 1452
sleep 0.5
check_eq "IAP sent two ICMP too-big" $((i0 + 2)) "$(counter "${ROOT[iap]}" pias_stats icmp_too_big_sent)"
check_eq "client learnt the IPv4 path MTU" 1452 \
	"$(in_ns cl ip route get $ANY4 | grep -o 'mtu [0-9]*' | cut -d' ' -f2)"
check_eq "client learnt the IPv6 path MTU" 1452 \
	"$(in_ns cl ip -6 route get $ANY6 | grep -o 'mtu [0-9]*' | cut -d' ' -f2)"

pias_summary
