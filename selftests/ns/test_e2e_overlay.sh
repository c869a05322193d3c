#!/usr/bin/env bash
# shellcheck disable=SC2154 # e2e_bg sets pid variables by name
# End to end, the overlay (lab/e2e-overlay.ini: the default lab with its
# delays, RAPs binding by proximity only):
#   - each client enters at the proxy BGP makes nearest to it (kernel path
#     and AS path agree, as designed), and only that proxy's IAP counters
#     move for its requests;
#   - DNS (unbound, UDP) and HTTP (nginx, TCP), IPv4 and IPv6, from every
#     client: the first packet of a new flow to a TA with no binding is
#     answered the first time; the RAP relays only that first flow, later
#     flows go IAP -> JAP (binding hit, flow hit);
#   - proximity: every IAP's binding names the JAP nearest to it by RTT
#     (ping between the proxies);
#   - a TA with no group: the RAP drops one packet (NO_GROUP), the IAP
#     installs a negative binding and drops the rest;
#   - IAP withdrawal (piasctl withdraw) and IAP death (piasd kill -9): the
#     client moves to the next proxy through BGP, also when the proxy
#     vanishes (its link cut silently: BFD); JAP death (piasd and BIRD
#     killed, and its link cut silently, so that its dataplane is gone
#     too): its targets re-register elsewhere, IAPs rebind;
#   - figures: first-packet latency against later packets; the outage a
#     client probing every 10 ms sees in each failure.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh
# shellcheck source=selftests/ns/e2e_lib.sh
. selftests/ns/e2e_lib.sh

need_root
e2e_init e2eo
ANY4=203.0.113.10
ANY6=2001:db8:a::10
PROXIES="p1 p2 p3 p4"
declare -A IAP=([cl1]=p1 [cl2]=p2 [cl3]=p4) # docs/lab.md: BGP's choice
declare -A TA=([dns4]="udp:$ANY4:53" [dns6]="udp:[$ANY6]:53" [web4]="tcp:$ANY4:80" [web6]="tcp:[$ANY6]:80")
declare -A NAME ID

e2e_up lab/e2e-overlay.ini
status
for p in $PROXIES; do
	ID[$p]=$(st "d['nodes']['$p']['id']")
	NAME[${ID[$p]}]=$p
done
check_eq "every BGP session Established" "[]" \
	"$(st "[f'{n}:{s}={v}' for n, x in d['nodes'].items() for s, v in (x.get('bgp') or {}).items() if v != 'Established']")"
check_eq "every proxy announces" "True True True True" "$(st "' '.join(str(d['nodes'][p]['announced']) for p in '$PROXIES'.split())")"
regs0=$(st "sum(d['nodes'][p].get('registered_targets', 0) for p in '$PROXIES'.split())")
check_eq "12 registrations (dns on t2 t3 t4, web on t1 t2 t3, two families)" 12 "$regs0"

echo "-- each client enters at the proxy BGP makes nearest to it"
for cl in cl1 cl2 cl3; do
	check_eq "$cl: kernel path (IPv4, IPv6) and best AS path (IPv4, IPv6) end at ${IAP[$cl]}" \
		"${IAP[$cl]} ${IAP[$cl]} ${IAP[$cl]} ${IAP[$cl]}" \
		"$(st "' '.join(str(d['clients']['$cl'][f][k]) for k in ('proxy', 'bgp_proxy') for f in ('ipv4', 'ipv6'))")"
	echo "  ..   $cl: path $(st "' > '.join(d['clients']['$cl']['ipv4']['path'])"), AS path $(st "d['clients']['$cl']['ipv4']['as_path']")"
done

# bound IAP TA: the JAP name of IAP's binding for TA, if bound
bound() {
	ctl "$1" show bindings --json | js "next((str(b['jap']) for b in d if b['ta'] == '$2' and b['state'] == 'bound'), '')"
}
has_binding() { [ -n "$(bound "$1" "$2")" ]; }
# request CLIENT TAKEY N: N new flows (UDP: DNS queries; TCP: HTTP GETs)
request() {
	local a=$ANY4 port=53 tcp=""
	case $2 in *6) a=$ANY6 ;; esac
	case $2 in web*) port=80 tcp=--tcp ;; esac
	py "$1" query $a $port $tcp --n "$3" --timeout 2
}
iap_moved() { # the proxies whose IAP counters moved (delta file)
	awk '$2 ~ /^iap_(miss|binding_hit|flow_hit)$/ { print $1 }' "$TMP/delta" | sort -u | tr '\n' ' ' | sed 's/ $//'
}
# only_of "A B" X Y: true if the list is not empty and holds only X and Y
only_of() {
	local j
	[ -n "$1" ] || return 1
	for j in $1; do
		[ "$j" = "$2" ] || [ "$j" = "$3" ] || return 1
	done
}
declare -A FIRST # IAP.TA-KEY: the JAP of the binding installed after the first packet

echo "-- first packets of new flows, then bindings (3 clients x DNS/HTTP x IPv4/IPv6)"
: >"$TMP/latency.txt"
for cl in cl1 cl2 cl3; do
	iap=${IAP[$cl]}
	for k in dns4 dns6 web4 web6; do
		ta=${TA[$k]}
		case $k in dns*) members="t2 t3 t4" n=5 ;; *) members="t1 t2 t3" n=3 ;; esac
		snap "$TMP/s0" $PROXIES
		request $cl $k 1 >"$TMP/first.json"
		who=$(jp "$TMP/first.json" "d['names'][0]")
		if [[ " $members " == *" $who "* ]]; then ok "$cl $ta: the first packet, no binding at $iap: answered by $who"; else fail "$cl $ta: first request: '$who'"; fi
		wait_for 3 has_binding "$iap" "$ta" || fail "$cl $ta: no binding at $iap"
		snap "$TMP/s1" $PROXIES
		FIRST[$iap.$k]=${NAME[$(bound "$iap" "$ta")]}
		delta "$TMP/s0" "$TMP/s1"
		rap=$(dnodes rap_relayed)
		if [ $k = dns4 ] || [ $k = dns6 ]; then
			check_eq "  $iap missed once (iap_miss), one RAP relayed it (rap_relayed), RAP $rap" "1 1" \
				"$(dv "$iap" iap_miss) $(dsum rap_relayed)"
		else
			check_eq "  $iap missed on the SYN (iap_miss), a RAP relayed it (rap_relayed), RAP $rap" "True True" \
				"$(tf [ "$(dv "$iap" iap_miss)" -ge 1 ]) $(tf [ "$(dsum rap_relayed)" -ge 1 ])"
		fi
		check_eq "  only $iap's IAP counters moved" "$iap" "$(iap_moved)"
		request $cl $k $n >"$TMP/later.json"
		snap "$TMP/s2" $PROXIES
		delta "$TMP/s1" "$TMP/s2"
		jap=${FIRST[$iap.$k]}
		# a first binding to a JAP that is not the nearest is provisional
		# (2 s): later flows go to it or to the nearest once rebound
		jap_now=${NAME[$(bound "$iap" "$ta")]:-none}
		check_eq "  $n later new flows answered; no RAP; $iap: no miss" "$n 0 0" \
			"$(jp "$TMP/later.json" "d['answered']") $(dsum rap_relayed) $(dv "$iap" iap_miss)"
		japs_hit=$(dnodes jap_new_conn)
		check_eq "  the JAPs that took them ($japs_hit) are the bound ones ($jap, now $jap_now)" True \
			"$(tf only_of "$japs_hit" "$jap" "$jap_now")"
		if [ "${k#dns}" != "$k" ]; then
			check_eq "  $iap -> JAP directly: iap_binding_hit, jap_new_conn" "$n $n" \
				"$(dv "$iap" iap_binding_hit) $(dsum jap_new_conn)"
		else
			check_eq "  $iap -> JAP directly: iap_binding_hit (one per SYN at least), iap_flow_hit, jap_new_conn" "True True $n" \
				"$(tf [ "$(dv "$iap" iap_binding_hit)" -ge $n ]) $(tf [ "$(dv "$iap" iap_flow_hit)" -gt 0 ]) $(dsum jap_new_conn)"
		fi
		check_eq "  only $iap's IAP counters moved" "$iap" "$(iap_moved)"
		echo "$cl $k $iap $rap $jap $(jp "$TMP/first.json" "d['rtt_ms'][0]") $(jp "$TMP/later.json" "' '.join(map(str, d['rtt_ms']))")" >>"$TMP/latency.txt"
	done
	# one UDP flow, several requests: the IAP's flow table after the first
	snap "$TMP/s0" "$iap"
	py $cl query $ANY4 53 --same --n 5 >"$TMP/same.json"
	snap "$TMP/s1" "$iap"
	delta "$TMP/s0" "$TMP/s1"
	check_eq "$cl: one UDP flow, 5 requests answered: $iap binding hit + flow hits = 5, flow hits > 0" "5 5 True" \
		"$(jp "$TMP/same.json" "d['answered']") $(($(dv "$iap" iap_binding_hit) + $(dv "$iap" iap_flow_hit))) $(tf [ "$(dv "$iap" iap_flow_hit)" -gt 0 ])"
done
while read -r cl k iap rap jap first later; do
	figure "first-packet latency $cl $k (IAP $iap, RAP $rap, JAP $jap): first new flow $first ms (IAP -> RAP -> JAP), later new flows $(echo "$later" | tr ' ' '/') ms (IAP -> JAP)"
done <"$TMP/latency.txt"

echo "-- proximity: each IAP bound to the JAP nearest to it by RTT"
# RTT between proxies, measured with ping from each IAP to each proxy's address
declare -A RTT
for iap in p1 p2 p4; do
	for p in $PROXIES; do
		if [ $p = $iap ]; then
			RTT[$iap.$p]=0
		else
			RTT[$iap.$p]=$(x $iap ping -n -q -c 3 -i 0.2 "$(addr $p 4)" | awk -F/ '/^rtt/ { print $5 }')
		fi
	done
done
echo "  ..   RTT ms: $(for i in p1 p2 p4; do printf '%s->{' $i; for p in $PROXIES; do printf ' %s %s' $p "${RTT[$i.$p]}"; done; printf ' } '; done)"
declare -A JAPS=([dns]="" [web]="")
for p in $PROXIES; do
	ctl $p show targets --json >"$TMP/t.json"
	for g in dns web; do
		port=53
		[ $g = web ] && port=80
		[ "$(jp "$TMP/t.json" "sum(1 for t in d if t['ta'].endswith(':$port'))")" -gt 0 ] && JAPS[$g]="${JAPS[$g]} $p"
	done
done
declare -A NEAR
for iap in p1 p2 p4; do
	for k in dns4 dns6 web4 web6; do
		g=${k%?}
		NEAR[$iap.$k]=$(for p in ${JAPS[$g]}; do echo "${RTT[$iap.$p]} $p"; done | sort -g | head -1 | cut -d' ' -f2)
	done
done
# The RAP knows RTTs only from Vivaldi coordinates, which need probes to
# settle: the first packets above came seconds after up. Wait until each
# IAP's coordinates rank the JAPs as ping does, then ask again.
coords_rank() {
	local iap g p near
	for iap in p1 p2 p4; do
		ctl $iap show proxies --json >"$TMP/px.json" || return 1
		for g in dns web; do
			near=$(for p in ${JAPS[$g]}; do
				echo "$(jp "$TMP/px.json" "next(0 if x['self'] else x['rtt_ms'] for x in d if x['id'] == ${ID[$p]})") $p"
			done | sort -g | head -1 | cut -d' ' -f2)
			[ "$near" = "${NEAR[$iap.${g}4]}" ] || return 1
		done
	done
}
if wait_for 30 coords_rank; then
	figure "Vivaldi coordinates rank the JAPs as ping does at every IAP $(($(date +%s) - E2E_START)) s after the test began (up took about 6 s)"
else
	fail "coordinates still rank the JAPs unlike ping 30 s on"
	for iap in p1 p2 p4; do
		echo "  ..   $iap predicts (ms): $(ctl $iap show proxies --json | js "' '.join(f\"{x['id']}={x['rtt_ms']}\" for x in d)")"
	done
fi
early=0
for iap in p1 p2 p4; do
	for k in dns4 dns6 web4 web6; do
		[ "${FIRST[$iap.$k]}" = "${NEAR[$iap.$k]}" ] && early=$((early + 1))
	done
done
echo "  ..   bindings made right after up that named the nearest JAP: $early of 12 (coordinates not settled yet)"
# The first packets of all 12 TAs go out first, the waits for the refresh
# after: each binding has its own provisional 2 s, so waiting them out one
# after the other would only add up the 2 s
declare -A T0 FIRSTB
for cl in cl1 cl2 cl3; do
	iap=${IAP[$cl]}
	ctl "$iap" flush bindings >/dev/null
	for k in dns4 dns6 web4 web6; do
		T0[$iap.$k]=$(date +%s%N)
		request $cl $k 1 >/dev/null
		wait_for 3 has_binding "$iap" "${TA[$k]}"
		FIRSTB[$iap.$k]=${NAME[$(bound "$iap" "${TA[$k]}")]:-none}
	done
done
# the first binding follows the first flow's JAP (the RAP's dataplane
# picks by load); not the nearest, it is provisional (2 s) and the IAP's
# refresh asks the RAP, which answers by proximity
near() { [ "${NAME[$(bound "$1" "$2")]:-none}" = "$3" ]; }
for cl in cl1 cl2 cl3; do
	iap=${IAP[$cl]}
	for k in dns4 dns6 web4 web6; do
		# within 8 s of the first packet (3 s for the first binding, 5 s more)
		left=$(((8000000000 - ($(date +%s%N) - ${T0[$iap.$k]})) / 1000000000))
		wait_for $((left > 1 ? left : 1)) near "$iap" "${TA[$k]}" "${NEAR[$iap.$k]}"
		check_eq "$iap ${TA[$k]}: bound to the nearest JAP of${JAPS[${k%?}]} within $(ms_since "${T0[$iap.$k]}") ms of a first packet (first binding: ${FIRSTB[$iap.$k]})" \
			"${NEAR[$iap.$k]}" "${NAME[$(bound "$iap" "${TA[$k]}")]:-none}"
	done
done
echo "-- a TA with no group: the RAP sees one packet, the IAP drops the rest"
for k in udp4 udp6 tcp4; do
	case $k in
	udp4) ta="udp:$ANY4:54" a=$ANY4 port=54 tcp="" ;;
	udp6) ta="udp:[$ANY6]:54" a=$ANY6 port=54 tcp="" ;;
	tcp4) ta="tcp:$ANY4:81" a=$ANY4 port=81 tcp=--tcp ;;
	esac
	snap "$TMP/s0" $PROXIES
	py cl3 query $a $port $tcp --n 1 --timeout 0.5 >"$TMP/ng1.json"
	neg() { ctl p4 show bindings --json | js "any(b['ta'] == '$ta' and b['state'] == 'negative' for b in d)" | grep -qx True; }
	wait_for 3 neg || fail "$ta: no negative binding at p4"
	py cl3 query $a $port $tcp --n 4 --timeout 0.5 >"$TMP/ng2.json"
	snap "$TMP/s1" $PROXIES
	delta "$TMP/s0" "$TMP/s1"
	check_eq "cl3 -> $ta: 5 requests, none answered" 0 "$(($(jp "$TMP/ng1.json" "d['answered']") + $(jp "$TMP/ng2.json" "d['answered']")))"
	check_eq "  IAP p4 missed once; one RAP ($(dnodes rap_no_group)) dropped it (rap_no_group); p4 dropped 4 (negative_binding)" "1 1 4" \
		"$(dv p4 iap_miss) $(dsum rap_no_group) $(dv p4 negative_binding)"
	check_eq "  no other drop of that kind anywhere" "p4" "$(dnodes negative_binding)"
done

echo "-- first-packet latency, repeated: 'piasctl flush bindings' on p1, then cl1's new flows"
# Each round: one flush, then a first new flow alone, its misses at p1
# counted around it, then three more. Neither a binding nor a flow entry
# may answer the first flow:
#   - piasd drops the answer of a refresh that was in flight at the flush
#     (it used to install the binding again: the round's first flow hit
#     it, a round in 8 now and then; daemon/iap.h, "Flush");
#   - the flows come from source ports no earlier flow used (--sport,
#     below the kernel's ephemeral range), not the kernel's choice, which
#     may repeat a 5-tuple p1's flow table still holds (a flow hit).
: >"$TMP/first.txt"
japs="" misses="" missed=True
for r in 1 2 3 4 5 6 7 8; do
	sport=$((20000 + 10 * r))
	ctl p1 flush bindings >/dev/null
	snap "$TMP/r0" p1
	py cl1 query $ANY4 53 --n 1 --sport $sport --timeout 2 >"$TMP/r1.json"
	snap "$TMP/r1" p1
	delta "$TMP/r0" "$TMP/r1"
	m=$(dv p1 iap_miss)
	misses="$misses $m"
	if [ "$m" -lt 1 ]; then
		missed=False
		echo "  ..   round $r: no miss at p1; flow hits $(dv p1 iap_flow_hit), binding hits $(dv p1 iap_binding_hit); p1's bindings now: $(ctl p1 show bindings --json | js "[(b['ta'], b['state'], b['jap']) for b in d]")"
	fi
	py cl1 query $ANY4 53 --n 3 --sport $((sport + 1)) --timeout 2 >"$TMP/r2.json"
	echo "$(jp "$TMP/r1.json" "d['rtt_ms'][0]") $(jp "$TMP/r2.json" "' '.join(map(str, d['rtt_ms']))")" >>"$TMP/first.txt"
	japs="$japs ${NAME[$(bound p1 "${TA[dns4]}")]}"
done
read -r f_med l_med lost <<<"$("$E2E_PY" - "$TMP/first.txt" <<'EOF'
import statistics, sys
rows = [[float(x) if x != "None" else None for x in l.split()] for l in open(sys.argv[1])]
first = [r[0] for r in rows if r[0] is not None]
later = [x for r in rows for x in r[1:] if x is not None]
print(f"{statistics.median(first):.1f} {statistics.median(later):.1f} {sum(1 for r in rows for x in r if x is None)}")
EOF
)"
check_eq "8 rounds: every request answered; p1 missed (the first packet went to a RAP) in every round (misses on the first flows:$misses)" "0 True" "$lost $missed"
figure "first-packet latency cl1 dns4 over 8 flushes of p1's bindings: first new flow median $f_med ms (IAP -> RAP -> JAP) vs later new flows median $l_med ms (IAP -> JAP; JAPs of the rounds:$japs)"

# around FAULT: probes from cl1 (UDP DNS and TCP HTTP, IPv4, a new flow every
# 10 ms) and from cl2 (UDP) while FAULT runs; results in $TMP/NAME-*.json
around() {
	local name=$1 dur=$2 pa pb pc
	shift 2
	e2e_bg pa py cl1 probe $ANY4 53 --duration "$dur" --timeout 1 >"$TMP/$name-udp.json"
	e2e_bg pb py cl1 probe $ANY4 80 --tcp --duration "$dur" --timeout 1 >"$TMP/$name-tcp.json"
	e2e_bg pc py cl2 probe $ANY4 53 --duration "$dur" --timeout 1 >"$TMP/$name-cl2.json"
	sleep 1
	FAULT_T=$(now)
	"$@" >/dev/null || fail "$*"
	wait "$pa" "$pb" "$pc"
}
# outage NAME KIND: "N failed (M ms)"; recovered NAME KIND: the last 1 s of probes all answered
outage() { "$E2E_PY" "$E2E" outage "$TMP/$1-$2.json" "$FAULT_T" | js "f\"{d['failed']} of {d['probes']} failed = {d['outage_ms']} ms\""; }
recovered() {
	local r
	r=$(jp "$TMP/$1-$2.json" "all(p[1] for p in d['probes'] if p[0] > d['probes'][-1][0] - 1.0)")
	# say when the failures were, relative to the fault, for whoever reads a FAIL
	[ "$r" = True ] || echo "  ..   $1 $2: failed probes sent at (ms after the fault): $(jp "$TMP/$1-$2.json" "[round((p[0] - $FAULT_T) * 1000) for p in d['probes'] if not p[1]]")" >&2
	echo "$r"
}

echo "-- IAP withdrawal: piasctl withdraw on p1; cl1 moves through BGP"
around wd 5 ctl p1 withdraw
check_eq "cl1 now enters at p3 (IPv4, IPv6)" "p3 p3" "$(enters cl1 4) $(enters cl1 6)"
check_eq "p1 no longer announces" False "$(st "d['nodes']['p1']['announced']")"
check_eq "cl1's UDP and TCP probes answered again (the last second)" "True True" "$(recovered wd udp) $(recovered wd tcp)"
figure "IAP withdrawal (piasctl withdraw p1, cl1 -> p3), probes every 10 ms: UDP $(outage wd udp); TCP $(outage wd tcp)"
"${PL[@]}" piasd stop p1 >/dev/null
"${PL[@]}" piasd start p1 >/dev/null
back() { [ "$(enters cl1 4)" = p1 ]; }
if wait_for 15 back; then ok "p1 restarted: announces again, cl1 back at p1"; else fail "cl1 still enters at $(enters cl1 4)"; fi

echo "-- IAP death: piasd kill -9 on p1; cl1 moves through BGP"
around kill 4 "${PL[@]}" piasd kill p1
check_eq "cl1 now enters at p3 (IPv4, IPv6)" "p3 p3" "$(enters cl1 4) $(enters cl1 6)"
check_eq "cl1's UDP and TCP probes answered again (the last second)" "True True" "$(recovered kill udp) $(recovered kill tcp)"
figure "IAP death (piasd kill -9 p1, watchdog withdraws, cl1 -> p3): UDP $(outage kill udp); TCP $(outage kill tcp)"
around back 5 "${PL[@]}" piasd start p1
check_eq "p1 restarted: cl1 back at p1" p1 "$(enters cl1 4)"
figure "IAP return (piasd start p1, cl1 p3 -> p1): UDP $(outage back udp); TCP $(outage back tcp)"

echo "-- JAP death: p2 (the JAP of cl1's DNS, cl2's IAP) vanishes: link cut silently, piasd and BIRD killed"
status
p1_to_p2() { [ "$(bound p1 "${TA[dns4]}")" = "${ID[p2]}" ]; }
wait_for 12 p1_to_p2
check_eq "p1 binds cl1's DNS (IPv4) to p2 (nearest, once refreshed)" p2 "${NAME[$(bound p1 "${TA[dns4]}")]}"
kpids="$(pid_of p2 piasd) $(pid_of p2 bird)"
# the link first: with only piasd and BIRD dead, p2's dataplane would go on
# forwarding as a JAP (nothing is lost: measured 0 failures), which is not a
# dead proxy
vanish() {
	"${PL[@]}" link cut --silent p2 b1 || return 1
	# shellcheck disable=SC2086
	kill -9 $kpids
}
around jap 5 vanish
rebound() { local j; j=$(bound p1 "${TA[dns4]}"); [ -n "$j" ] && [ "$j" != "${ID[p2]}" ]; }
if wait_for 5 rebound; then ok "p1 rebound cl1's DNS to ${NAME[$(bound p1 "${TA[dns4]}")]}"; else fail "p1's DNS binding: '$(bound p1 "${TA[dns4]}")'"; fi
changed=$(grep -c "JAP changed" "$STATE"/t2/agent.log)
check_eq "t2's agent: 'JAP changed' for each of its 4 registrations" 4 "$changed"
grep -h "JAP changed" "$STATE"/t2/agent.log | head -1 | sed 's/^/  ..   /'
check_eq "cl2 now enters at another proxy" True "$(tf [ "$(enters cl2 4)" != p2 ])"
check_eq "cl1 and cl2 answered again (the last second)" "True True True" "$(recovered jap udp) $(recovered jap tcp) $(recovered jap cl2)"
figure "JAP death (p2 vanishes: link cut silently, piasd and BIRD killed -9): cl1 (IAP p1 survives, rebinds) UDP $(outage jap udp), TCP $(outage jap tcp); cl2 (its IAP died too, moved to $(enters cl2 4)) UDP $(outage jap cl2)"

echo "-- IAP vanishes: p1's link cut silently (only BFD notices); cl1 moves through BGP"
around gone 4 "${PL[@]}" link cut --silent p1 a1
check_eq "cl1 now enters at p3 (IPv4, IPv6)" "p3 p3" "$(enters cl1 4) $(enters cl1 6)"
check_eq "cl1's UDP and TCP probes answered again (the last second)" "True True" "$(recovered gone udp) $(recovered gone tcp)"
figure "IAP vanishes (p1's link cut silently, BFD 50 ms x 3, cl1 -> p3): UDP $(outage gone udp); TCP $(outage gone tcp)"

echo "-- the partition heals: p1's link restored"
# Cut off, p1 held every other proxy dead: it must not announce (it would
# be the RAP of every group and know no target) until the overlay merged
# again, within reconnect_ms (2 s); then BGP brings cl1 back to p1.
check_eq "p1 knew itself cut off during the partition (piasd.log)" True \
	"$(tf grep -q "cut off: every other proxy is dead to us" "$STATE/p1/piasd.log")"
snap "$TMP/h0" p1 p3 p4
e2e_bg ph py cl1 probe $ANY4 53 --duration 12 --timeout 1 >"$TMP/heal-udp.json"
sleep 1
FAULT_T=$(now)
t0=$(date +%s%N)
"${PL[@]}" link restore p1 a1 >/dev/null || fail "link restore p1 a1"
merged() {
	[ "$(ctl p1 show status --json | js "d['proxies_alive']")" = 3 ] &&
		[ "$(ctl p3 show proxies --json | js "next(x['state'] for x in d if x['id'] == ${ID[p1]})")" = alive ]
}
if wait_for 10 merged; then
	heal=$(ms_since "$t0")
	ok "overlay merged again: p1 sees p3 and p4, p3 sees p1 ($heal ms after the restore)"
else
	heal="more than 10000"
	fail "overlay not merged 10 s after the restore: p1 sees $(ctl p1 show status --json | js "d['proxies_alive']") proxies alive"
fi
if wait_for 10 back; then ok "cl1 back at p1 $(ms_since "$t0") ms after the restore"; else fail "cl1 enters at $(enters cl1 4)"; fi
wait "$ph"
"$E2E_PY" "$E2E" outage "$TMP/heal-udp.json" "$FAULT_T" >"$TMP/heal.outage"
if [ "$(jp "$TMP/heal.outage" "d['failed_after_fault'] <= 50")" = True ]; then
	ok "cl1's new flows across the heal: at most 50 of about 1,100 failed (no lone proxy served)"
else
	fail "cl1's new flows across the heal: $(jp "$TMP/heal.outage" "f\"{d['failed_after_fault']} failed, from {d['first_fail_ms']} to {d['last_fail_ms']} ms after the restore\"")"
	echo "  ..   link restored at $(date -d "@$FAULT_T" +%T.%3N)"
	snap "$TMP/h1" p1 p3 p4
	delta "$TMP/h0" "$TMP/h1"
	grep -E "drop|negative|no_group|miss|not_rap|query|binding" "$TMP/delta" | sed 's/^/  ..   /'
	echo "  ..   p1's bindings: $(ctl p1 show bindings --json | js "[(b['ta'], b['state'], b['jap']) for b in d]")"
	grep -E "ring:|cut off|touch|announced|withdrawn" "$STATE/p1/piasd.log" | tail -8 | sed 's/^/  ..   /'
fi
check_eq "cl1 answered again (the last second)" True "$(recovered heal udp)"
figure "partition heal (p1's link restored; p1 announces once merged, cl1 back at p1 through BGP): overlay merged after $heal ms; cl1's new UDP flows over the 11 s after the restore: $(jp "$TMP/heal.outage" "f\"{d['failed_after_fault']} of {d['probes']} failed\"")"

echo "-- targets stayed registered all along"
status
active_regs() { for p in p1 p3 p4; do ctl $p show targets --json | js "sum(1 for t in d if t['state'] == 'active')"; done | awk '{ s += $1 } END { print s }'; }
twelve() { [ "$(active_regs)" = 12 ]; }
if ! wait_for 10 twelve; then
	# for whoever reads the FAIL: where each registration stands, and what its agent last said
	for p in p1 p3 p4; do
		echo "  ..   $p: $(ctl $p show targets --json | js "' '.join(f\"{t['ta']}>{t['endpoint']}={t['state']}({t['refreshed_ms_ago']}ms)\" for t in d)")"
	done
	for t in t1 t2 t3 t4; do
		grep -hE "JAP changed|lost|registered|refused|NACK" "$STATE/$t/agent.log" 2>/dev/null | tail -4 | sed "s/^/  ..   $t: /"
	done
fi
check_eq "12 active registrations on the live proxies p1 p3 p4, $(($(date +%s) - E2E_START)) s after up" 12 "$(active_regs)"
check_eq "no agent was refused as stale" 0 "$(cat "$STATE"/t*/agent.log | grep -c stale)"

e2e_done
