#!/usr/bin/env bash
# Namespace test of the dataplane (issue: dataplane). Real UDP request/
# response and real TCP connections from a client to a target through
# IAP -> RAP -> JAP, the first packet included; with a binding installed at
# the IAP, IAP -> JAP directly. IPv4 and IPv6 clients over IPv4 and IPv6
# underlays. Counters are read with bpftool from the pinned maps.
. "$(dirname "$0")/topo_overlay.sh"

need_root
trap pias_cleanup EXIT
topo_up
servers_up

snap() { # snap NODE FIELD -> value in pias_stats
	counter "${ROOT[$1]}" pias_stats "$2"
}

for under in 4 6; do
	maps_fill $under
	for fam in 4 6; do
		if [ $fam = 4 ]; then any=$ANY4; ta_any=$ANY4; else any=$ANY6; ta_any="[$ANY6]"; fi
		echo "-- client IPv$fam, underlay IPv$under"
		"$MAPS" --pin-root "${ROOT[iap]}" binding del "udp:$ta_any:$UDP_PORT" 2>/dev/null
		"$MAPS" --pin-root "${ROOT[iap]}" binding del "tcp:$ta_any:$TCP_PORT" 2>/dev/null

		# no binding: every packet goes IAP -> RAP -> JAP -> target
		miss0=$(snap iap iap_miss)
		relay0=$(snap rap rap_relayed)
		rev0=$(snap jap rev_translated)
		check_eq "UDP answer via the RAP" pong-from-target "$(udp_ask $any)"
		check_ge "IAP sent the first packet to the RAP" $((miss0 + 1)) "$(snap iap iap_miss)"
		check_ge "RAP relayed it to the JAP" $((relay0 + 1)) "$(snap rap rap_relayed)"
		check_ge "JAP translated the reply" $((rev0 + 1)) "$(snap jap rev_translated)"
		relay1=$(snap rap rap_relayed)
		check_eq "TCP (HTTP) via the RAP" 200 "$(tcp_get $any)"
		check_ge "RAP relayed the TCP connection (SYN first)" $((relay1 + 3)) "$(snap rap rap_relayed)"

		# binding installed: IAP -> JAP directly, the RAP sees nothing
		"$MAPS" --pin-root "${ROOT[iap]}" binding set "udp:$ta_any:$UDP_PORT" "${ID[jap]}" --generation 7
		"$MAPS" --pin-root "${ROOT[iap]}" binding set "tcp:$ta_any:$TCP_PORT" "${ID[jap]}" --generation 7
		relay2=$(snap rap rap_relayed)
		bind0=$(snap iap iap_binding_hit)
		flow0=$(snap iap iap_flow_hit)
		check_eq "UDP answer with the binding" pong-from-target "$(udp_ask $any)"
		check_eq "TCP (HTTP) with the binding" 200 "$(tcp_get $any)"
		check_eq "RAP saw none of it" "$relay2" "$(snap rap rap_relayed)"
		check_ge "IAP used the binding for new flows" $((bind0 + 2)) "$(snap iap iap_binding_hit)"
		check_ge "IAP used its flow table for later packets" $((flow0 + 2)) "$(snap iap iap_flow_hit)"
	done
done

for n in iap rap jap; do
	d=$(bpftool -j map dump pinned "${ROOT[$n]}/pias_drops" | python3 -c '
import json, sys
t = {}
for e in json.load(sys.stdin):
    for v in e["formatted"]["values"]:
        for k, x in v["value"].items():
            t[k] = t.get(k, 0) + x
print(" ".join(f"{k}={x}" for k, x in t.items() if x) or "none")')
	check_eq "no drops at $n" none "$d"
done

# the per-group counters, read from the pinned (per-CPU-striped, mapped) array
# by pias-maps: each proxy counted the UDP group in its role
gs() { # gs NODE FIELD: FIELD of the UDP group (IPv4 TA) in pias-maps group-stats --json
	"$MAPS" --pin-root "${ROOT[$1]}" group-stats --json | python3 -c '
import json, sys
print(sum(g[sys.argv[1]] for g in json.load(sys.stdin) if g["ta"] == sys.argv[2]))' "$2" "udp:$ANY4:$UDP_PORT"
}
# (the IAP's binding was set again for the last round: its count began there)
ip=$(gs iap iap_packets)
check_ge "group-stats: the IAP counted the UDP group's query since its binding" 1 "$ip"
check_ge "group-stats: the RAP counted its first packets" 1 "$(gs rap rap_packets)"
check_ge "group-stats: the JAP counted packets to its target" 2 "$(gs jap jap_packets)"
check_ge "group-stats: the JAP counted the target's replies" 2 "$(gs jap rev_packets)"
check_ge "group-stats: IP and UDP headers at least in the IAP's bytes" $((28 * ip)) "$(gs iap iap_bytes)"

pias_summary
