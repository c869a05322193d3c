#!/usr/bin/env bash
# piasd-loader replace under load: new programs on every proxy while a TCP
# download and a stream of UDP requests run through IAP -> JAP; the download
# completes, every request is answered, the JAP keeps its connections and
# the counters keep counting (same maps).
. "$(dirname "$0")/topo_overlay.sh"

need_root
WEBROOT=$(mktemp -d)
trap 'pias_cleanup; rm -rf "$WEBROOT"' EXIT
head -c $((8 * 1024 * 1024)) /dev/urandom >"$WEBROOT/big"
topo_up
servers_up
maps_fill 4
bind_all

# 8 MiB at 2 MiB/s: about 4 s, bounded at 20 s
in_ns cl curl -s -o /dev/null -m 20 --limit-rate 2M -w '%{size_download}' \
	"http://$ANY4:$TCP_PORT/big" >"$WEBROOT/size" &
dl=$!
# 30 requests, 100 ms apart, each bounded at 2 s
(
	for i in $(seq 30); do
		udp_ask $ANY4
		sleep 0.1
	done
) >"$WEBROOT/udp" &
udp=$!
sleep 1
conns0=$(entries "${ROOT[jap]}" pias_conns)
rx0=$(counter "${ROOT[jap]}" pias_stats rx_packets)
for n in iap rap jap; do
	in_ns "$n" "$LOADER" replace --pin-root "${ROOT[$n]}" >/dev/null &&
		ok "replaced the program at $n" || fail "replace at $n"
done
check_ge "JAP kept its connections" "$conns0" "$(entries "${ROOT[jap]}" pias_conns)"
check_ge "JAP counters kept counting" "$rx0" "$(counter "${ROOT[jap]}" pias_stats rx_packets)"
wait $dl
wait $udp
check_eq "download finished across the replace" $((8 * 1024 * 1024)) "$(cat "$WEBROOT/size")"
check_eq "every UDP request answered" 30 "$(grep -c pong-from-target "$WEBROOT/udp")"
check_eq "no drops at the JAP" 0 "$(counter "${ROOT[jap]}" pias_drops jap_no_target)"

pias_summary
