#!/usr/bin/env bash
# shellcheck disable=SC2154 # e2e_bg sets pid variables by name
# End to end, a JAP's control plane down while its dataplane lives
# (issue 10; lab/e2e-outage.ini: cl1 enters at p1; t1 (tunnel mode), t2
# and t3 (NAT) are behind JAP p2). For an outage of 10 s and one of 60 s,
# p2's piasd is killed (-9: its watchdog withdraws p2's route, the targets
# register elsewhere, p1 and p3 find p2 dead) under running flows, then
# started again:
#   - iperf3 -R from t2 (NAT) and from t1 (tunnel mode), and a rate-limited
#     16 MiB curl download, all through p1 -> p2, finish intact, every
#     second carrying data;
#   - p1 kept p2 for those flows only while p2's dataplane answered its
#     echoes (dp-only), sent nothing new there, and never gave p2 up.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh
# shellcheck source=selftests/ns/e2e_lib.sh
. selftests/ns/e2e_lib.sh

need_root
for tool in curl iperf3; do
	if ! command -v $tool >/dev/null; then
		echo "SKIP: $tool is not installed (make deps installs it)"
		exit 77
	fi
done
e2e_init e2eo
ANY4=203.0.113.10

e2e_up lab/e2e-outage.ini
status
check_eq "cl1 enters at p1" p1 "$(enters cl1 4)"
e2e_bg srv_nat x t2 iperf3 -s -p 5201 --logfile "$TMP/iperf3-t2.log"
e2e_bg srv_tun x t1 iperf3 -s -p 5202 --logfile "$TMP/iperf3-t1.log"
wait_for 5 x t2 sh -c 'ss -Hltn | grep -q ":5201 "' || fail "iperf3 -s on t2 does not listen"
wait_for 5 x t1 sh -c 'ss -Hltn | grep -q ":5202 "' || fail "iperf3 -s on t1 does not listen"

# intervals FILE: iperf3's per-second Mbit/s
intervals() {
	jp "$1" "' '.join(str(round(i['sum']['bits_per_second'] / 1e6)) for i in d['intervals'])"
}
# to FILE CMD...: CMD's output in FILE
to() {
	local f=$1
	shift
	"$@" >"$f" 2>&1
}
# p2_held: p1 holds p2 for the flows pinned to it (piasd gone, dataplane answering)
p2_held() {
	ctl p1 show proxies --json | js "[p['dataplane_only'] for p in d if p['id'] == $P2][0]" |
		grep -q True
}
P2=$(ctl p2 show status --json | js "d['id']")

# iperf_ok NAME FILE RC: the stream finished and every second carried data
iperf_ok() {
	check_eq "$1: iperf3 exit status" 0 "$3"
	if [ "$3" = 0 ]; then
		check_eq "$1: every 1 s interval carried data" True \
			"$(jp "$2" "all(i['sum']['bytes'] > 0 for i in d['intervals'])")"
		echo "  ..   $1: Mbit/s a second: $(intervals "$2")"
	else
		tail -c 400 "$2"
	fi
}

# outage SECONDS: p2's piasd down that long under the three flows
outage() {
	local d=$1 len=$(($1 + 10)) rate rn rt t0
	# the download lasts about as long as the streams: bytes a second
	rate=$((16777216 / len))
	echo "-- p2's piasd down for $d s under iperf3 -R (t2 NAT, t1 tunnel) and a download"
	snap "$TMP/o0" p1 p3
	e2e_bg ipn to "$TMP/ipn.json" x cl1 iperf3 -c $ANY4 -p 5201 -R -t $len -b 20M -J
	e2e_bg ipt to "$TMP/ipt.json" x cl1 iperf3 -c $ANY4 -p 5202 -R -t $len -b 20M -J
	e2e_bg cu to "$TMP/curl" x cl1 curl -s -m $((len + 30)) --limit-rate "$rate" -o /dev/null \
		-w '%{http_code} %{size_download}' "http://$ANY4/big.bin"
	sleep 3
	"${PL[@]}" piasd kill p2 >/dev/null || fail "piasd kill p2"
	t0=$(date +%s%N)
	if wait_for 5 p2_held; then
		echo "  ..   p1 holds p2 for its flows (dataplane only) $(ms_since "$t0") ms after the kill"
	else
		fail "p1 never held p2 for its flows"
	fi
	sleep "$d"
	"${PL[@]}" piasd start p2 >/dev/null || fail "piasd start p2"
	echo "  ..   p2's piasd back after $(ms_since "$t0") ms"
	wait "$ipn"
	rn=$?
	wait "$ipt"
	rt=$?
	wait "$cu"
	snap "$TMP/o1" p1 p3
	delta "$TMP/o0" "$TMP/o1"
	iperf_ok "iperf3 -R -t $len from t2 (NAT) through p1 -> p2" "$TMP/ipn.json" $rn
	iperf_ok "iperf3 -R -t $len from t1 (tunnel mode) through p1 -> p2" "$TMP/ipt.json" $rt
	check_eq "curl --limit-rate $rate of 16 MiB through p1 -> p2: complete" "200 16777216" \
		"$(cat "$TMP/curl")"
	check_ge "p1 held p2 for its flows (dp_only)" 1 "$(dv p1 d.dp_only)"
	check_ge "p1's echoes to p2 were answered by p2's dataplane ($d s: about 4 a second)" \
		$((d * 3)) "$(dv p1 d.dp_echo_answers)"
	check_eq "p1 never gave p2 up (dp_only_ended)" 0 "$(dv p1 d.dp_only_ended)"
	check_ge "p1 sent the flows on to p2 (iap_flow_hit)" 1000 "$(dv p1 iap_flow_hit)"
	check_eq "p1 found p2 back: it is no longer held" False "$(tf p2_held)"
}

outage 10
outage 60

e2e_done
