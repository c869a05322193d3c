#!/usr/bin/env bash
# make demo: the dataplane's namespace scenario, told packet by packet.
# A client sends real UDP requests and HTTP requests to anycast groups; for
# each, the demo prints which proxies handled it and how (their counters
# and the events the daemon would receive), then takes everything down.
. "$(dirname "$0")/topo_overlay.sh"

need_root
trap pias_cleanup EXIT
TMP=$(mktemp -d)
trap 'pias_cleanup; rm -rf "$TMP"' EXIT

echo "PIAS demo: client $CL4 / $CL6, proxies IAP=1 RAP=2 JAP=3, target $TG4 / $TG6"
echo "building the namespaces and attaching the dataplane ..."
topo_up
servers_up
maps_fill 4

step=0
# run TITLE COMMAND...: one client request, then what each proxy did.
run() {
	local title=$1 n out
	shift
	step=$((step + 1))
	for n in iap rap jap; do snapshot "${ROOT[$n]}" "$TMP/$n.0"; done
	out=$("$@")
	for n in iap rap jap; do snapshot "${ROOT[$n]}" "$TMP/$n.1"; done
	printf '\n[%d] %s\n    client got: %s\n' "$step" "$title" "${out:-nothing}"
	for n in iap rap jap; do delta "$TMP/$n.0" "$TMP/$n.1" >"$TMP/$n.d"; done
	printf '    path: %s\n' "$(path_of)"
	for n in iap rap jap; do
		# pass_*: ARP, ND and routed traffic the proxies' kernels handle
		printf '    %-4s %s\n' "$n" "$(tr ' ' '\n' <"$TMP/$n.d" | grep -v '^pass_' | tr '\n' ' ')"
	done
	for n in iap rap jap; do
		"$MAPS" --pin-root "${ROOT[$n]}" events --timeout-ms 100 2>/dev/null |
			sed "s/^/    $n event: /"
	done
}

http() { echo "HTTP $(tcp_get "$1")"; }

# moved NODE COUNTER: did the counter move in the last request?
moved() { grep -q "\b$2+" "$TMP/$1.d"; }

# The path the request's packets took, from the counters that moved.
path_of() {
	local p="client"
	if moved iap negative_binding; then
		echo "client -> IAP 1: dropped, the TA has no group (negative binding)"
		return
	fi
	moved iap iap_miss && p="$p -> IAP 1 (no binding) -> RAP 2"
	{ moved iap iap_binding_hit || moved iap iap_flow_hit; } && p="$p -> IAP 1 (binding/flow)"
	moved rap rap_relayed && p="$p -> JAP 3"
	! moved rap rap_relayed && { moved iap iap_binding_hit || moved iap iap_flow_hit; } && p="$p -> JAP 3"
	{ moved jap jap_new_conn || moved jap jap_conn_hit; } && p="$p -> target (NAT)"
	moved jap rev_translated && p="$p; reply: target -> JAP 3 (source = anycast) -> client"
	echo "$p"
}

run "UDP $CL4 -> udp:$ANY4:$UDP_PORT, no binding: IAP -> RAP -> JAP -> target" udp_ask $ANY4
run "HTTP $CL4 -> tcp:$ANY4:$TCP_PORT, no binding: every packet via the RAP" http $ANY4
echo
echo "installing the bindings the RAP's daemon would send (TA -> JAP 3) at the IAP"
"$MAPS" --pin-root "${ROOT[iap]}" binding set "udp:$ANY4:$UDP_PORT" 3
"$MAPS" --pin-root "${ROOT[iap]}" binding set "tcp:$ANY4:$TCP_PORT" 3
run "UDP again: binding hit, IAP -> JAP directly" udp_ask $ANY4
run "HTTP again: binding for the SYN, flow table for the rest" http $ANY4
run "UDP over IPv6 $CL6 -> udp:[$ANY6]:$UDP_PORT, no binding" udp_ask $ANY6
"$MAPS" --pin-root "${ROOT[iap]}" binding negative "udp:$ANY4:9999"
run "UDP to udp:$ANY4:9999, a TA with no group (negative binding)" \
	bash -c "echo x | nsenter --net=/run/netns/$(pias_ns cl) timeout 2 socat -T 1 - UDP:$ANY4:9999"
echo
echo "counters: iap_* at the IAP, rap_* at the RAP, jap_*/rev_* at the JAP; the full"
echo "map state is readable with: bpftool map dump pinned <pin root>/pias_stats"
echo "taking the namespaces down"
