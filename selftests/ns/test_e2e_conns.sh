#!/usr/bin/env bash
# End to end, connection state that ends and NAT sized for load (issue 9;
# lab/e2e-conns.ini: no delays; cl1 enters at p1; the DNS target t1 is
# behind JAP p2 with the default NAT settings, the web target t2 behind
# JAP p3 with eight NAT addresses):
#   - DNS load: dnsperf from cl1, every query from a fresh socket (runs of
#     256 sockets, one query each, as stub resolvers do), at 2,400
#     queries/s for 60 s through p2 to t1: more than 120,000 flows, twenty
#     times what one target's ports held before state ended. PIAS loses
#     none: no drop on p1 or p2, every query sent reached the JAP, and
#     dnsperf's own timeouts stay under 0.1% (a loaded 2-core machine,
#     where dnsperf, unbound and three proxies share the CPUs);
#   - short TCP connections: ab -n 50000 -c 50, one connection per
#     request, to nginx through p3: no failed request;
#   - state that ends: while the load runs, the JAP's live connections stay
#     near rate x lifetime, not the flows' total; after it, the
#     connections of p2 and p3 and the flow entries of p1 fall back to
#     their baseline within the timeouts (2 s after a DNS answer, 65 s
#     nginx's TIME_WAIT, 60 s the IAP's closed flows, and the lab's short
#     5 s for an IAP's UDP flow and for a stream, where the defaults
#     are 30 s and 120 s: waiting those out would add two minutes to CI
#     and prove nothing more, the unit tests check the defaults).
# ab runs first: its connections' 65 s of TIME_WAIT end during the DNS load.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh
# shellcheck source=selftests/ns/e2e_lib.sh
. selftests/ns/e2e_lib.sh

need_root
for tool in dnsperf ab; do
	if ! command -v $tool >/dev/null; then
		echo "SKIP: $tool is not installed (make deps installs it)"
		exit 77
	fi
done
e2e_init e2ec
ANY4=203.0.113.10
DNS_RATE=${DNS_RATE:-2400}
DNS_SECONDS=${DNS_SECONDS:-60}

e2e_up lab/e2e-conns.ini
status
check_eq "cl1 enters at p1" p1 "$(enters cl1 4)"
# target TA-PROTO PROXY: the endpoint registered at PROXY for the TA (one target)
target_json() { ctl "$2" show targets --json | js "json.dumps([t for t in d if t['ta'] == '$1:$ANY4:$3'][0])"; }
check_eq "t1 serves DNS from p2, 16,384 NAT ports (one address)" "active 16384" \
	"$(target_json udp p2 53 | js "d['state'], d['nat_ports']" 2>/dev/null | tr -d "()',")"
check_eq "t2 serves HTTP from p3, 131,072 NAT ports (eight addresses)" "active 131072" \
	"$(target_json tcp p3 80 | js "d['state'], d['nat_ports']" 2>/dev/null | tr -d "()',")"
dig_ok() { x cl1 dig +short +tries=1 +time=1 @$ANY4 whoami.example TXT | grep -q t1; }
curl_ok() { x cl1 curl -s -m 2 "http://$ANY4/" | grep -q t2; }
if wait_for 20 dig_ok && wait_for 20 curl_ok; then
	ok "DNS and HTTP answer through the overlay"
else
	fail "DNS or HTTP through the overlay"
	e2e_done
	exit 1
fi

# conns NODE MAP: entries of one of NODE's maps (bpftool, as an operator would)
conns() { entries "$PINS$1" "$2"; }
# live TA-PROTO PROXY PORT: the target's live connections, from piasd's sweep
live() { target_json "$1" "$2" "$3" | js "d['conns']"; }
base_p2=$(conns p2 pias_conns) base_p3=$(conns p3 pias_conns) base_p1=$(conns p1 pias_flows)

echo "-- short TCP connections: ab -n 50000 -c 50, one connection per request"
snap "$TMP/c2" p1 p2 p3
t0=$(date +%s%N)
x cl1 ab -n 50000 -c 50 -s 10 -r "http://$ANY4/" >"$TMP/ab.txt" 2>&1
ab_end=$(date +%s%N)
secs=$(((ab_end - t0) / 1000000))
snap "$TMP/c3" p1 p3
delta "$TMP/c2" "$TMP/c3"
check_eq "ab: 50,000 requests complete" 50000 "$(awk '/^Complete requests:/ { print $3 }' "$TMP/ab.txt")"
check_eq "ab: no failed request" 0 "$(awk '/^Failed requests:/ { print $3 }' "$TMP/ab.txt")"
check_eq "ab: no non-2xx response" "" "$(grep '^Non-2xx' "$TMP/ab.txt")"
figure "ab: 50,000 connections in $secs ms ($(awk '/^Requests per second:/ { print $4 }' "$TMP/ab.txt") a second)"
check_eq "p3: no drop for want of a NAT port, no segment without a connection" "0 0" \
	"$(dv p3 nat_no_port) $(dv p3 jap_no_conn)"
check_ge "p3: 50,000 new connections" 50000 "$(dv p3 jap_new_conn)"
figure "p3: $(live tcp p3 80) connections held after the run (each for nginx's TIME_WAIT), of 131,072 NAT (address, port) pairs"

echo "-- DNS load: dnsperf, a fresh socket per query, $DNS_RATE queries/s for $DNS_SECONDS s"
snap "$TMP/c0" p1 p2 p3
# runs of 256 sockets with one query each, started RATE/256 times a second
for _ in $(seq 256); do echo "whoami.example TXT"; done >"$TMP/q.txt"
mkdir "$TMP/dp"
t0=$(date +%s%N)
e2e_bg loadpid x cl1 bash -c '
	runs=$(($2 * $3 / 256)); gap=$(awk "BEGIN { print 256 / $2 }")
	for i in $(seq "$runs"); do
		dnsperf -s "$4" -d "$1/q.txt" -c 256 -q 256 -n 1 -t 3 >"$1/dp/$i" 2>&1 &
		sleep "$gap"
	done
	wait' _ "$TMP" "$DNS_RATE" "$DNS_SECONDS" "$ANY4"
peak=0
while kill -0 "$loadpid" 2>/dev/null; do
	sleep 5
	n=$(live udp p2 53)
	[ "$n" -gt "$peak" ] 2>/dev/null && peak=$n
done
wait "$loadpid"
secs=$((($(date +%s%N) - t0) / 1000000))
dns_end=$(date +%s%N)
snap "$TMP/c1" p1 p2 p3
delta "$TMP/c0" "$TMP/c1"
read -r sent done lost <<<"$(cat "$TMP"/dp/* | awk '
	/Queries sent:/ { s += $3 } /Queries completed:/ { c += $3 } /Queries lost:/ { l += $3 }
	END { print s + 0, c + 0, l + 0 }')"
figure "dnsperf: $sent queries in $secs ms ($((sent * 1000 / secs)) a second, each a new flow), $done answered, $lost timed out"
check_ge "at least 120,000 queries, from fresh sockets" 120000 "$sent"
# the load's pace is the machine's: the loop that starts dnsperf runs late
# when the 2-core machine is busy (2,110-2,124 a second in three runs, 1,730
# in a fourth, its 60 s stretched to 83 s). What matters is that thousands
# of fresh flows were live at once, which the peak below shows; this only
# makes sure the load was not a trickle
check_ge "at least 1,500 queries a second" 1500 $((sent * 1000 / secs))
# dnsperf's timeouts on a loaded machine: under 0.1%, and none of them PIAS's
check_eq "dnsperf's timeouts under 0.1% ($lost of $sent)" True "$(tf [ $((lost * 1000)) -lt "$sent" ])"
drops=$(for n in p1 p2; do for k in truncated_eth truncated_ip bad_ip_header bad_ip_length \
	ipv4_options ipv6_ext_header fragment truncated_l4 bad_l4_header ttl_expired \
	negative_binding no_rap unknown_proxy tunnel_not_proxy tunnel_bad_tag tunnel_truncated \
	tunnel_bad_version tunnel_bad_kind tunnel_loop rap_no_group rap_no_jap_left \
	jap_no_target jap_no_conn nat_no_port nat_no_addr too_big adjust_failed; do
	echo "$n:$k=$(dv $n $k)"; done; done | grep -v '=0$' | tr '\n' ' ' | sed 's/ $//')
check_eq "no packet dropped by p1 (IAP) or p2 (JAP)" "" "$drops"
reached=$(($(dv p2 jap_new_conn) + $(dv p2 jap_conn_hit)))
check_eq "every query sent reached the JAP and went to t1" True "$(tf [ "$reached" -ge "$sent" ])"
# a fresh socket may get a source port still in the table: a continuation
# (the client's 28,232 ephemeral ports, 2,000 new sockets a second and 2 s
# lifetimes make that about one query in seven)
check_ge "at least 3 queries in 4 a new connection" $((sent * 3 / 4)) "$(dv p2 jap_new_conn)"
check_eq "p2's live connections stayed far below the flows' total (peak $peak < 20,000)" True \
	"$(tf [ "$peak" -lt 20000 ])"
figure "p2: peak $peak live connections (rate x 2 s reply timeout = $((DNS_RATE * 2))), $(dv p2 jap_new_conn) new, $(dv p2 nat_reclaimed) ports reclaimed by new flows, $(dv p2 d.conns_ended) connections ended by the sweep"

echo "-- state that ends"
back() { [ "$(conns "$1" "$2")" -le $(($3 + 4)) ]; }
# wait_back NODE MAP BASE FROM_NS SECONDS WHAT: the map back to its
# baseline within SECONDS of FROM_NS
wait_back() {
	local left=$((($5 * 1000000000 - ($(date +%s%N) - $4)) / 1000000000))
	if wait_for $((left > 1 ? left : 1)) back "$1" "$2" "$3"; then
		ok "$1's $2 back to the baseline ($(conns "$1" "$2")) $(ms_since "$4") ms after $6"
	else
		fail "$1's $2: $(conns "$1" "$2") entries $(ms_since "$4") ms after $6, baseline $3"
	fi
}
# TIME_WAIT (65 s) and a sweep pass
wait_back p3 pias_conns "$base_p3" "$ab_end" 75 "ab ended (TIME_WAIT: 65 s)"
wait_back p3 pias_conns_rev "$base_p3" "$ab_end" 75 "ab ended"
# a reused 5-tuple that went on past 2 s is a stream (the lab's 5 s), at
# the JAP and at the IAP (which never sees replies; its other UDP flows:
# 5 s too). ab's flows at the IAP (60 s) ended before: the DNS load took more
# than 60 s after ab
wait_back p2 pias_conns "$base_p2" "$dns_end" 15 "the DNS load ended (streams: 5 s)"
wait_back p2 pias_conns_rev "$base_p2" "$dns_end" 15 "the DNS load ended"
wait_back p1 pias_flows "$base_p1" "$dns_end" 15 "the DNS load ended"
check_eq "the sweep's view agrees: t1 and t2 hold no connection" "0 0" "$(live udp p2 53) $(live tcp p3 80)"
snap "$TMP/c4" p1 p2 p3
delta "$TMP/c2" "$TMP/c4"
figure "during and after the loads: p2 swept $(dv p2 d.conns_ended) connections; p3 swept $(dv p3 d.conns_ended) connections and $(dv p3 d.nat_leftovers_ended) left over reverse entries; p1 swept $(dv p1 d.flows_ended) flow entries"
check_eq "DNS and HTTP still answer" "True True" "$(tf dig_ok) $(tf curl_ok)"

e2e_done
