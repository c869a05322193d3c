#!/usr/bin/env bash
# shellcheck disable=SC2154 # e2e_bg and download set pid variables by name
# End to end, targets (lab/e2e-targets.ini: no delays; every group's
# targets register with p1; cl1 enters at p1, cl2 at p2):
#   - load balancing: 1,000 new UDP flows (IPv4, IPv6) over weights 1:2:3
#     and 600 TCP connections over 1:1:1 follow the weights, and the JAP's
#     per-target flow counters agree with what the client saw;
#   - a target that is also a client of its groups reaches other targets;
#   - figures: TCP throughput of one stream through the overlay against
#     the same stream routed directly; first-packet latency (flat lab);
#   - target death (all its processes killed with -9, then a link cut):
#     new UDP and TCP flows avoid it within 1 s; an established UDP flow
#     and a slow download from live targets are untouched;
#   - drain: the drained target finishes its download and its UDP flow,
#     new flows go to the others;
#   - piasd killed with -9 on the JAP of a running TCP stream (iperf3),
#     then restarted: the stream survives.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh
# shellcheck source=selftests/ns/e2e_lib.sh
. selftests/ns/e2e_lib.sh

need_root
e2e_init e2et
ANY4=203.0.113.10
ANY6=2001:db8:a::10
TARGETS="t1 t2 t3"

e2e_up lab/e2e-targets.ini
status
declare -A A4 A6 # the targets' addresses
for t in t1 t2 t3 t4; do
	A4[$t]=$(addr $t 4)
	A6[$t]=$(addr $t 6)
done

echo "-- registrations"
ctl p1 show targets --json >"$TMP/targets.json"
check_eq "p1 holds 19 active registrations (3 targets x dns, web, lb x 2 families; t4 perf)" 19 \
	"$(jp "$TMP/targets.json" "sum(1 for t in d if t['state'] == 'active')")"
check_eq "cl1 enters at p1, cl2 at p2" "p1 p2" "$(st "d['clients']['cl1']['ipv4']['proxy'], d['clients']['cl2']['ipv4']['proxy']" | tr -d "()',")"

# shares FILE WEIGHTS TOLERANCE: "ok" if every target's share of the
# answers is within TOLERANCE percentage points of its weight's share;
# prints the shares either way
shares() {
	"$E2E_PY" - "$1" "$2" "$3" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
w = dict(x.split(":") for x in sys.argv[2].split())
tol = float(sys.argv[3])
tot = sum(int(v) for v in w.values())
n = d["answered"]
bad, out = [], []
for t, v in sorted(w.items()):
    exp = 100 * int(v) / tot
    got = 100 * d["by"].get(t, 0) / n if n else 0
    out.append(f"{t} {got:.1f}% (weight {v}: {exp:.1f}%)")
    if abs(got - exp) > tol:
        bad.append(t)
others = set(d["by"]) - set(w)
print(("ok" if not bad and not others else "off: " + " ".join(bad + sorted(others))) + ": " + ", ".join(out))
EOF
}

echo "-- load balancing: new flows follow the targets' weights"
for fam in 4 6; do
	a=$ANY4
	[ $fam = 6 ] && a=$ANY6
	"$E2E_PY" "$E2E" tgtflows "${PINS}p1" >"$TMP/tf0.json"
	# distinct source ports: a repeated 5-tuple would be an old flow at the JAP
	py cl1 query "$a" 5353 --n 1000 --sport $((40000 + 1000 * fam)) >"$TMP/lb$fam.json"
	"$E2E_PY" "$E2E" tgtflows "${PINS}p1" >"$TMP/tf1.json"
	check_eq "IPv$fam: 1,000 new UDP flows to lb, all answered" 1000 "$(jp "$TMP/lb$fam.json" "d['answered']")"
	r=$(shares "$TMP/lb$fam.json" "t1:1 t2:2 t3:3" 5)
	case $r in ok*) ok "IPv$fam: shares within 5 points of the weights: ${r#ok: }" ;; *) fail "IPv$fam: $r" ;; esac
	# the JAP's view: new flows per target id, against the client's
	seen=$(jp "$TMP/lb$fam.json" "' '.join(f'{t}={d[\"by\"].get(t, 0)}' for t in ['t1', 't2', 't3'])")
	jap=$("$E2E_PY" - "$TMP/tf0.json" "$TMP/tf1.json" "$TMP/targets.json" "udp:$([ $fam = 6 ] && echo "[$a]" || echo "$a"):5353" <<EOF
import json, sys
a, b, tg = (json.load(open(f)) for f in sys.argv[1:4])
names = {"${A4[t1]}": "t1", "${A4[t2]}": "t2", "${A4[t3]}": "t3", "${A6[t1]}": "t1", "${A6[t2]}": "t2", "${A6[t3]}": "t3"}
out = {}
for t in tg:
    if t["ta"] == sys.argv[4]:
        host = t["endpoint"].rsplit(":", 1)[0].strip("[]")
        out[names[host]] = b.get(str(t["id"]), 0) - a.get(str(t["id"]), 0)
print(" ".join(f"{k}={out.get(k, 0)}" for k in ["t1", "t2", "t3"]))
EOF
)
	check_eq "IPv$fam: p1's per-target new_flows (pias_tgt_stats) match the answers" "$seen" "$jap"
done
py cl1 query $ANY4 80 --tcp --n 600 --sport 50000 >"$TMP/lbtcp.json"
check_eq "600 new TCP connections to web (IPv4), all answered" 600 "$(jp "$TMP/lbtcp.json" "d['answered']")"
r=$(shares "$TMP/lbtcp.json" "t1:1 t2:1 t3:1" 6)
case $r in ok*) ok "TCP: shares within 6 points of the weights: ${r#ok: }" ;; *) fail "TCP: $r" ;; esac

echo "-- a target that is a client of its own group"
for fam in 4 6; do
	a=$ANY4
	[ $fam = 6 ] && a=$ANY6
	py t1 query "$a" 5353 --n 60 >"$TMP/self.json"
	check_eq "t1 -> lb (IPv$fam): 60 new flows answered" 60 "$(jp "$TMP/self.json" "d['answered']")"
	check_ge "t1 -> lb (IPv$fam): answered by the other targets" 1 \
		"$(jp "$TMP/self.json" "d['by'].get('t2', 0) + d['by'].get('t3', 0)")"
	echo "  ..   t1 -> lb (IPv$fam): $(jp "$TMP/self.json" "d['by']") (t1 itself: the JAP sends it back)"
done
py t2 query $ANY6 80 --tcp --n 30 >"$TMP/self.json"
check_eq "t2 -> web (TCP, IPv6): 30 connections answered" 30 "$(jp "$TMP/self.json" "d['answered']")"
check_ge "t2 -> web (TCP, IPv6): answered by the other targets" 1 \
	"$(jp "$TMP/self.json" "d['by'].get('t1', 0) + d['by'].get('t3', 0)")"

echo "-- figures: throughput through the overlay and direct; first packets"
e2e_bg iperf_pid x t4 iperf3 -s -p 5201 --logfile "$TMP/iperf3-s.log"
wait_for 5 x t4 sh -c 'ss -Hltn | grep -q ":5201 "' || fail "iperf3 -s on t4 does not listen"
if x cl2 iperf3 -c $ANY4 -p 5201 -t 3 -J >"$TMP/ip-overlay.json" 2>&1 &&
	x cl2 iperf3 -c "${A4[t4]}" -p 5201 -t 3 -J >"$TMP/ip-direct.json" 2>&1; then
	ov=$(jp "$TMP/ip-overlay.json" "round(d['end']['sum_received']['bits_per_second'] / 1e6)")
	di=$(jp "$TMP/ip-direct.json" "round(d['end']['sum_received']['bits_per_second'] / 1e6)")
	ok "iperf3 -t 3 through the overlay and direct"
	figure "TCP throughput, one stream, iperf3 -t 3, cl2 -> t4: through the overlay (IAP p2 -> JAP p1) $ov Mbit/s; direct to t4's address $di Mbit/s (same run)"
else
	fail "iperf3: $(tail -c 300 "$TMP/ip-overlay.json" "$TMP/ip-direct.json" 2>/dev/null)"
fi
status
check_eq "BGP sessions still Established after the streams" "[]" \
	"$(st "[f'{n}:{s}={v}' for n, x in d['nodes'].items() for s, v in (x.get('bgp') or {}).items() if v != 'Established']")"
# first packet of a TA with no binding (IAP p2 asks its RAP) against later
# new flows (binding hit); ten rounds, the binding flushed before each
: >"$TMP/first.txt"
for _ in 1 2 3 4 5 6 7 8 9 10; do
	ctl p2 flush bindings >/dev/null
	py cl2 query $ANY4 53 --n 6 | js "' '.join(map(str, d['rtt_ms']))" >>"$TMP/first.txt"
done
fp=$("$E2E_PY" - "$TMP/first.txt" <<'EOF'
import statistics, sys
rows = [[float(x) if x != "None" else None for x in l.split()] for l in open(sys.argv[1])]
first = [r[0] for r in rows if r[0] is not None]
later = [x for r in rows for x in r[1:] if x is not None]
lost = sum(1 for r in rows for x in r if x is None)
print(f"{statistics.median(first):.2f} {statistics.median(later):.2f} {len(first)} {len(later)} {lost}")
EOF
)
read -r f_med l_med n_first n_later lost <<<"$fp"
check_eq "first packets after a flush all answered (10 rounds x 6 new flows)" "10 50 0" "$n_first $n_later $lost"
figure "first-packet latency, flat lab, cl2 (IAP p2, JAP p1), dig-like UDP query: first new flow after 'flush bindings' median $f_med ms (IAP -> RAP -> JAP) vs later new flows median $l_med ms (IAP -> JAP), 10 rounds"

# --- target death -----------------------------------------------------------

# serving_tcp: the target holding an established connection on port 80
serving_tcp() {
	local t
	for t in $TARGETS; do
		if [ -n "$(x "$t" ss -Htn state established '( sport = :80 )')" ]; then
			echo "$t"
			return
		fi
	done
}
# download NAME: a 16 MiB download from cl1 at 4 MiB/s (4 s) in the background
download() {
	x cl1 curl -s -o /dev/null -m 20 --limit-rate 4M -w '%{http_code} %{size_download}' \
		"http://$ANY4/big.bin" >"$TMP/$1.dl" 2>&1 &
	printf -v "$1_pid" '%s' $!
}
# outage_check WHAT FILE FAULT_TIME VICTIM: new flows avoided the victim within 1 s
outage_check() {
	local r
	r=$("$E2E_PY" "$E2E" outage "$2" "$3")
	echo "$r" >"$2.outage"
	check_eq "$1: every new flow sent 1 s after the fault or later was answered" True \
		"$(js "d['last_fail_ms'] is None or d['last_fail_ms'] < 1000" <<<"$r")"
	check_eq "$1: none answered by $4 after the fault" 0 "$(js "d['after'].get('$4', 0)" <<<"$r")"
	check_ge "$1: answered after the last failure" 50 "$(js "d['answered_after_last_fail']" <<<"$r")"
}
fail_fig() { # fail_fig FILE: "N of M failed, the last X ms after the fault"
	jp "$1.outage" "f\"{d['failed']} of {d['probes']} new flows failed ({d['outage_ms']} ms of probes), the last sent {d['last_fail_ms']} ms after the fault\""
}

echo "-- target death: every process of a target killed (-9)"
# established flows first: one UDP flow (one socket), one slow download;
# the victim is a target serving neither
e2e_bg same_pid py cl1 probe $ANY4 53 --same --duration 4.5 --first-to "$TMP/same.first" >"$TMP/same.json"
download dl1
wait_for 5 test -s "$TMP/same.first" || fail "the established UDP flow got no answer"
wait_for 5 serving_tcp || fail "no target holds the download"
u_t=$(cat "$TMP/same.first")
d_t=$(serving_tcp)
victim=$(for t in $TARGETS; do [ "$t" != "$u_t" ] && [ "$t" != "$d_t" ] && echo "$t"; done | head -1)
echo "  ..   established: UDP flow on $u_t, download from $d_t; killing $victim"
e2e_bg pu_pid py cl1 probe $ANY4 53 --duration 3 >"$TMP/kill-udp.json"
e2e_bg pt_pid py cl1 probe $ANY4 80 --tcp --duration 3 >"$TMP/kill-tcp.json"
sleep 0.8
status
vpids=$(st "' '.join(str(p['pid']) for p in d['nodes']['$victim']['processes'].values())")
vids=$(ctl p1 show targets --json | js "' '.join(str(t['id']) for t in d if t['endpoint'] in ('${A4[$victim]}:80', '[${A6[$victim]}]:80'))")
# shellcheck disable=SC2086
kill -9 $vpids
# the fault's time is when every signal is queued, not before: a query sent
# while kill still walked the list could be answered by the victim
tk=$(now)
sleep 0.2
"$E2E_PY" "$E2E" tgtflows "${PINS}p1" rev_packets >"$TMP/rev0.json"
wait "$pu_pid" "$pt_pid" "$same_pid" "$dl1_pid"
"$E2E_PY" "$E2E" tgtflows "${PINS}p1" rev_packets >"$TMP/rev1.json"
# what p1 saw come back from the dead target's web registrations after the kill
rev=$("$E2E_PY" -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:3]); print(sum(b.get(i,0)-a.get(i,0) for i in sys.argv[3:]))' "$TMP/rev0.json" "$TMP/rev1.json" $vids)
echo "  ..   packets from $victim's web registrations translated back by p1 from 0.2 s after the kill: $rev (its kernel answers SYNs to the dead nginx with RSTs; each counts as a reply, the liveness p1 checks)"
outage_check "UDP" "$TMP/kill-udp.json" "$tk" "$victim"
outage_check "TCP" "$TMP/kill-tcp.json" "$tk" "$victim"
check_eq "p1 holds $victim's dns and web registrations down" "down down down down" "$(states p1 53 "$victim") $(states p1 80 "$victim")"
r=$("$E2E_PY" "$E2E" outage "$TMP/same.json" "$tk")
check_eq "the established UDP flow: every request answered, all by $u_t" "0 ['$u_t']" \
	"$(js "d['failed'], sorted(set(d['before']) | set(d['after']))" <<<"$r" | tr -d '(),')"
check_eq "the slow download from $d_t completed (16 MiB)" "200 16777216" "$(cat "$TMP/dl1.dl")"
figure "target failover (host killed, -9): UDP $(fail_fig "$TMP/kill-udp.json"); TCP $(fail_fig "$TMP/kill-tcp.json")"

echo "-- target death: a target's link cut"
alive=$(for t in $TARGETS; do [ "$t" != "$victim" ] && echo "$t"; done | tr '\n' ' ')
rm -f "$TMP/same.first"
e2e_bg same_pid py cl1 probe $ANY4 53 --same --duration 3.5 --first-to "$TMP/same.first" >"$TMP/same.json"
wait_for 5 test -s "$TMP/same.first" || fail "the established UDP flow got no answer"
u_t=$(cat "$TMP/same.first")
cut=$(for t in $alive; do [ "$t" != "$u_t" ] && echo "$t"; done | head -1)
echo "  ..   established: UDP flow on $u_t; cutting $cut's link"
e2e_bg pu_pid py cl1 probe $ANY6 53 --duration 2.5 >"$TMP/cut-udp.json"
e2e_bg pt_pid py cl1 probe $ANY6 80 --tcp --duration 2.5 >"$TMP/cut-tcp.json"
sleep 0.8
"${PL[@]}" link cut "$cut" r1 >/dev/null || fail "link cut $cut r1"
tk=$(now) # once both ends are down
wait "$pu_pid" "$pt_pid" "$same_pid"
outage_check "UDP (IPv6)" "$TMP/cut-udp.json" "$tk" "$cut"
outage_check "TCP (IPv6)" "$TMP/cut-tcp.json" "$tk" "$cut"
r=$("$E2E_PY" "$E2E" outage "$TMP/same.json" "$tk")
check_eq "the established UDP flow: every request answered, all by $u_t" "0 ['$u_t']" \
	"$(js "d['failed'], sorted(set(d['before']) | set(d['after']))" <<<"$r" | tr -d '(),')"
figure "target failover (link cut): UDP $(fail_fig "$TMP/cut-udp.json"); TCP $(fail_fig "$TMP/cut-tcp.json")"
"${PL[@]}" link restore "$cut" r1 >/dev/null || fail "link restore $cut r1"
routes=$(x "$cut" ip -4 route show default | wc -l)$(x "$cut" ip -6 route show default | wc -l)
check_eq "link restored: $cut has its default routes back (IPv4, IPv6)" 11 "$routes"
cut_active() { [ "$(states p1 53 "$cut") $(states p1 80 "$cut")" = "active active active active" ]; }
if wait_for 10 cut_active; then ok "$cut's dns and web registrations active again"; else fail "$cut's registrations: $(states p1 53 "$cut") $(states p1 80 "$cut")"; fi

echo "-- drain: the drained target finishes its flows, new ones go elsewhere"
download dl2
rm -f "$TMP/same.first"
wait_for 5 serving_tcp || fail "no target holds the download"
dr=$(serving_tcp)
# an established UDP flow to the target to be drained: a socket whose flow reaches it
e2e_bg same_pid py cl1 probe $ANY4 53 --same --want "$dr" --duration 3 --first-to "$TMP/same.first" >"$TMP/same.json"
wait_for 5 test -s "$TMP/same.first" || fail "the established UDP flow got no answer"
u_t=$(cat "$TMP/same.first")
dr4=${A4[$dr]}
out=$(ctl p1 drain tcp:$ANY4:80 "$dr4:80" 2>&1) || fail "piasctl drain tcp:$ANY4:80 $dr4:80: $out"
out=$(ctl p1 drain udp:$ANY4:53 "$dr4:53" 2>&1) || fail "piasctl drain udp:$ANY4:53 $dr4:53: $out"
ok "drained $dr (web and dns, IPv4) during its download; the UDP flow is on $u_t"
sleep 0.5
ctl p1 show targets --json >"$TMP/targets.json"
check_eq "p1 shows $dr draining (web, dns IPv4), 0.5 s later" "draining draining" \
	"$(jp "$TMP/targets.json" "' '.join(t['state'] for t in d if t['endpoint'] in ('$dr4:80', '$dr4:53'))")"
echo "  ..   live for new flows: $(for t in $TARGETS; do echo "$t: $(states p1 80 "$t")"; done | tr '\n' ' ')"
py cl1 query $ANY4 80 --tcp --n 40 >"$TMP/new-tcp.json"
# distinct source ports: a port reused from an earlier flow to $dr would be
# that flow, which the JAP rightly keeps on $dr
py cl1 query $ANY4 53 --n 40 --sport 31000 >"$TMP/new-udp.json"
check_eq "40 new TCP connections answered, none by $dr" "40 0" "$(jp "$TMP/new-tcp.json" "d['answered'], d['by'].get('$dr', 0)" | tr -d '(),')"
check_eq "40 new UDP flows answered, none by $dr" "40 0" "$(jp "$TMP/new-udp.json" "d['answered'], d['by'].get('$dr', 0)" | tr -d '(),')"
wait "$dl2_pid" "$same_pid"
check_eq "the download from the drained $dr completed (16 MiB)" "200 16777216" "$(cat "$TMP/dl2.dl")"
r=$("$E2E_PY" "$E2E" outage "$TMP/same.json" 0)
check_eq "the established UDP flow: every request answered, all by $u_t" "0 ['$u_t']" \
	"$(js "d['failed'], sorted(d['after'])" <<<"$r" | tr -d '(),')"
check_eq "p1 still shows $dr draining at the end" "draining draining" \
	"$(ctl p1 show targets --json | js "' '.join(t['state'] for t in d if t['endpoint'] in ('$dr4:80', '$dr4:53'))")"

echo "-- undrain (through pias-lab ctl): the target takes new flows again"
for ta in tcp:$ANY4:80 udp:$ANY4:53; do
	out=$("${PL[@]}" ctl p1 undrain "$ta" "$dr4:${ta##*:}" 2>&1) || fail "pias-lab ctl p1 undrain $ta $dr4:${ta##*:}: $out"
done
check_eq "p1 shows $dr active again" "active active" \
	"$(ctl p1 show targets --json | js "' '.join(t['state'] for t in d if t['endpoint'] in ('$dr4:80', '$dr4:53'))")"
# 60 new flows over the live targets: none to $dr has a chance below 1e-7
py cl1 query $ANY4 53 --n 60 --sport 32000 >"$TMP/undrained.json"
check_ge "60 new UDP flows: $dr answers some again" 1 "$(jp "$TMP/undrained.json" "d['by'].get('$dr', 0)")"
out=$("${PL[@]}" ctl p1 undrain udp:$ANY4:53 "$dr4:53" 2>&1)
check_eq "a second undrain: exit 1, says it is not drained" "1 True" \
	"$? $(tf grep -q 'not drained here' <<<"$out")"
out=$("${PL[@]}" ctl cl1 show status 2>&1)
check_eq "pias-lab ctl on a client: exit 2, names the proxies" "2 True" \
	"$? $(tf grep -q 'not a proxy' <<<"$out")"

echo "-- piasd killed (-9) and restarted on the JAP (p1) of a running TCP stream"
snap "$TMP/s0" p1
x cl2 iperf3 -c $ANY4 -p 5201 -t 8 -b 200M -J >"$TMP/ip9.json" 2>&1 &
ip9=$!
sleep 2
"${PL[@]}" piasd kill p1 >/dev/null || fail "piasd kill p1"
tk=$(date +%s%N)
"${PL[@]}" piasd start p1 >/dev/null || fail "piasd start p1"
echo "  ..   piasd on p1 serving its control socket again $(ms_since "$tk") ms after the kill"
wait $ip9
rc=$?
check_eq "iperf3 -t 8 from cl2 through p2 -> p1 -> t4: exit status" 0 $rc
if [ $rc = 0 ]; then
	check_eq "every 1 s interval carried data" True \
		"$(jp "$TMP/ip9.json" "all(i['sum']['bytes'] > 0 for i in d['intervals'])")"
	echo "  ..   per-second Mbit/s: $(jp "$TMP/ip9.json" "' '.join(str(round(i['sum']['bits_per_second'] / 1e6)) for i in d['intervals'])")"
else
	tail -c 400 "$TMP/ip9.json"
fi
snap "$TMP/s1" p1
delta "$TMP/s0" "$TMP/s1"
check_ge "p1's dataplane forwarded the stream (jap_conn_hit)" 1000 "$(dv p1 jap_conn_hit)"
check_eq "p1's piasd answers again" True "$(ctl p1 show status --json | js "d['serving']")"

e2e_done
