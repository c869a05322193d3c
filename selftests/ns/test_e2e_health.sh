#!/usr/bin/env bash
# End to end, health checks (lab/e2e-health.ini: t1-t4 serve dns and web;
# the agents of t1-t3 check their servers, dns with a query, web with GET /;
# t4's does not; every target registers with p1, cl1 enters at p1). A
# server is killed (-9) or hung (SIGSTOP) while its host and agent stay up.
# Active checks (t1-t3):
#   - with no client traffic at all, p1 takes its registrations of that
#     service out of new flows within 1 s (the check's bound: 2 failures at
#     200 ms), and leaves the target's other service in;
#   - new flows sent from 1 s after the fault on are all answered, by the
#     others;
#   - when the server serves again, its registrations are back within 2 s
#     with the same target ids, and new flows reach it again;
#   - 10 hang/resume rounds: the registrations end where they began (the
#     same ids, no duplicates), and each round took them out and back.
# Passive outlier detection at p1 (t4, whose agent goes on refreshing):
#   - unbound killed: new flows get ICMP port unreachable; nginx killed:
#     SYNs get RSTs; unbound hung: new flows get no reply. Each time p1
#     ejects t4's registration (state ejected), new flows sent from 1 s
#     (2 s for no reply) after the fault on are all answered, none by t4,
#     and the counts say why; t4 is back in after its ejection time once
#     it serves again.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh
# shellcheck source=selftests/ns/e2e_lib.sh
. selftests/ns/e2e_lib.sh

need_root
e2e_init e2eh
ANY4=203.0.113.10
ANY6=2001:db8:a::10
TARGETS="t1 t2 t3"

e2e_up lab/e2e-health.ini
status

# live TARGET PORT: "yes" while p1 gives TARGET's registrations for PORT new
# flows (any active); straight to the control socket, not through a
# namespace: polled every 10 ms to time the checks
live() {
	local a4 a6
	a4=$(addr "$1" 4):$2
	a6=[$(addr "$1" 6)]:$2
	"$BUILD/piasctl" -s "$STATE/p1/piasd.sock" show targets |
		awk -v a="$a4" -v b="$a6" '($3 == a || $3 == b) && $4 == "active" { n++ } END { print (n ? "yes" : "no") }'
}
# until_live TARGET PORT yes|no MAX_MS: ms until live says so (MAX_MS+ if never)
until_live() {
	local t0 ms
	t0=$(date +%s%N)
	while :; do
		ms=$(ms_since "$t0")
		if [ "$(live "$1" "$2")" = "$3" ] || [ "$ms" -gt "$4" ]; then
			echo "$ms"
			return
		fi
		sleep 0.01
	done
}
ids() { # ids TARGET PORT: p1's target ids of TARGET's registrations for PORT
	ctl p1 show targets --json | js "' '.join(str(t['id']) for t in d if t['endpoint'] in ('$(addr "$1" 4):$2', '[$(addr "$1" 6)]:$2'))"
}
# answered_by FILE: the targets that answered a probe run's requests, sorted
answered_by() { jp "$1" "' '.join(sorted(set(p[2] for p in d['probes'] if p[1])))"; }

echo "-- registrations and checks"
check_eq "p1 holds 16 active registrations (4 targets x dns, web x 2 families)" 16 \
	"$(ctl p1 show targets --json | js "sum(1 for t in d if t['state'] == 'active')")"
for t in $TARGETS; do
	log=$STATE/$t/agent.log
	check_eq "$t's agent runs 4 checks (dns and http:/, each family), all up" 4 \
		"$(grep -c ': up (' "$log" 2>/dev/null || echo 0)"
done
declare -A IDS
for t in $TARGETS; do
	IDS[$t]="$(ids "$t" 53) / $(ids "$t" 80)"
done

echo "-- nginx killed (-9), host and agent up, no client traffic"
"${PL[@]}" server kill t1 http >/dev/null || fail "server kill t1 http"
ms=$(until_live t1 80 no 3000)
check_le "t1's web registrations out of new flows (ms after the kill)" 1000 "$ms"
check_eq "t1's dns registrations stay in (unbound serves)" yes "$(live t1 53)"
figure "health check, nginx killed -9: p1 took t1's web registrations out $ms ms after the kill (no client traffic)"
sleep 0.5
py cl1 probe $ANY4 80 --tcp --duration 1.5 >"$TMP/kill.json"
check_eq "1.5 s of new TCP flows after it: every one answered" 0 "$(jp "$TMP/kill.json" "sum(1 for p in d['probes'] if not p[1])")"
check_eq "... by t2, t3 and t4 only" "t2 t3 t4" "$(answered_by "$TMP/kill.json")"

echo "-- nginx started again"
"${PL[@]}" server start t1 http >/dev/null || fail "server start t1 http"
ms=$(until_live t1 80 yes 5000)
check_le "t1's web registrations back (ms after the start)" 2000 "$ms"
py cl1 probe $ANY4 80 --tcp --duration 1 >"$TMP/back.json"
check_eq "new TCP flows reach t1 again, all answered" "0 True" \
	"$(jp "$TMP/back.json" "f\"{sum(1 for p in d['probes'] if not p[1])} {'t1' in set(p[2] for p in d['probes'])}\"")"

# hang_case TARGET SERVICE PORT OTHER-PORT PROBE-ARGS...: hang TARGET's
# server under a stream of new flows (PROBE-ARGS), check it goes out
# within 1 s while its other service stays in, the flows, and its return
hang_case() {
	local t=$1 svc=$2 port=$3 other=$4 pid r ms tk
	shift 4
	e2e_bg pid py cl1 probe "$@" --duration 3 >"$TMP/hang-$svc.json"
	sleep 0.8
	"${PL[@]}" server hang "$t" "$svc" >/dev/null || fail "server hang $t $svc"
	tk=$(now)
	ms=$(until_live "$t" "$port" no 3000)
	wait "$pid"
	check_le "$t's $svc registrations out of new flows (ms after the hang)" 1000 "$ms"
	check_eq "$t's registrations for port $other stay in" yes "$(live "$t" "$other")"
	r=$("$E2E_PY" "$E2E" outage "$TMP/hang-$svc.json" "$tk")
	check_eq "every new flow sent 1 s after the hang or later was answered" True \
		"$(js "d['last_fail_ms'] is None or d['last_fail_ms'] < 1000" <<<"$r")"
	check_eq "none answered by $t after the hang" 0 "$(js "d['after'].get('$t', 0)" <<<"$r")"
	check_ge "answered after the last failure" 50 "$(js "d['answered_after_last_fail']" <<<"$r")"
	figure "health check, $svc server hung (SIGSTOP): out of new flows $ms ms after; new flows ($*): $(js "f\"{d['failed']} of {d['probes']} failed, the last sent {d['last_fail_ms']} ms after the hang\"" <<<"$r")"
	"${PL[@]}" server resume "$t" "$svc" >/dev/null || fail "server resume $t $svc"
	ms=$(until_live "$t" "$port" yes 5000)
	check_le "$t's $svc registrations back after SIGCONT (ms)" 2000 "$ms"
}

echo "-- unbound hung (SIGSTOP) under a stream of new UDP flows (IPv6)"
hang_case t2 dns 53 80 $ANY6 53
echo "-- nginx hung (SIGSTOP): its kernel still completes handshakes"
hang_case t3 http 80 53 $ANY4 80 --tcp

echo "-- 10 rounds of hang and resume (t1's unbound)"
outs=0 backs=0
for _ in $(seq 10); do
	"${PL[@]}" server hang t1 dns >/dev/null || fail "server hang t1 dns"
	[ "$(until_live t1 53 no 3000)" -le 1500 ] && outs=$((outs + 1))
	"${PL[@]}" server resume t1 dns >/dev/null || fail "server resume t1 dns"
	[ "$(until_live t1 53 yes 5000)" -le 2500 ] && backs=$((backs + 1))
done
check_eq "each round took t1's dns registrations out, and back" "10 10" "$outs $backs"
for t in $TARGETS; do
	check_eq "$t's registrations kept their target ids" "${IDS[$t]}" "$(ids "$t" 53) / $(ids "$t" 80)"
done
check_eq "p1 holds the 16 registrations, all active" "16 16" \
	"$(ctl p1 show targets --json | js "f\"{len(d)} {sum(1 for t in d if t['state'] == 'active')}\"")"
py cl1 probe $ANY4 53 --duration 1 >"$TMP/after.json"
check_eq "new UDP flows after the rounds: all answered, by all four" "0 t1 t2 t3 t4" \
	"$(jp "$TMP/after.json" "sum(1 for p in d['probes'] if not p[1])") $(answered_by "$TMP/after.json")"
downs=$(grep -c ': down (' "$STATE/t1/agent.log" 2>/dev/null || echo 0)
check_ge "t1's agent logged the falls (a kill and 10 hangs, each seen by its IPv4 or IPv6 check or both)" 11 "$downs"

# --- passive: t4, whose agent does not check ---------------------------------

# state4 PORT: the state of t4's IPv4 registration for PORT at p1
state4() { ctl p1 show targets --json | js "next(t['state'] for t in d if t['endpoint'] == '$(addr t4 4):$1')"; }
# counts4 PORT FIELD: pias_tgt_stats FIELD of that registration at p1
counts4() {
	local id
	id=$(ctl p1 show targets --json | js "next(t['id'] for t in d if t['endpoint'] == '$(addr t4 4):$1')")
	"$E2E_PY" "$E2E" tgtflows "${PINS}p1" "$2" | js "d.get('$id', 0)"
}
# passive_case WHAT ACTION SERVICE PORT LAST_FAIL_MS PROBE-ARGS...: the fault
# under a stream of new flows; p1 ejects t4's registration
passive_case() {
	local what=$1 action=$2 svc=$3 port=$4 within=$5 pid r tk
	shift 5
	e2e_bg pid py cl1 probe "$@" --duration 3.5 >"$TMP/ej-$svc-$action.json"
	sleep 0.8
	"${PL[@]}" server "$action" t4 "$svc" >/dev/null || fail "server $action t4 $svc"
	tk=$(now)
	wait "$pid"
	check_eq "$what: p1 ejected t4's registration" ejected "$(state4 "$port")"
	r=$("$E2E_PY" "$E2E" outage "$TMP/ej-$svc-$action.json" "$tk")
	check_eq "$what: every new flow sent $within ms after the fault or later was answered" True \
		"$(js "d['last_fail_ms'] is None or d['last_fail_ms'] < $within" <<<"$r")"
	check_eq "$what: none answered by t4 after the fault" 0 "$(js "d['after'].get('t4', 0)" <<<"$r")"
	figure "outlier detection, $what: $(js "f\"{d['failed']} of {d['probes']} new flows failed, the last sent {d['last_fail_ms']} ms after the fault\"" <<<"$r")"
}
back4() { [ "$(state4 "$1")" = active ]; }

echo "-- t4's unbound killed (-9): ICMP port unreachable"
# 1.5 s: t4's kernel sends p1 6 port unreachables, then one a second
# (icmp_ratelimit); if answers to earlier flows came amid the 6, the
# fifth failure may be a second later, or the no-reply rule's (1 s here)
passive_case "unbound killed" kill dns 53 1500 $ANY4 53
check_ge "p1 counted port unreachables for it" 5 "$(counts4 53 unreachable)"
grep -q "ejected (refused or unreachable)" "$STATE/p1/piasd.log" &&
	ok "p1 logged the ejection and why" || fail "no ejection line in p1's log"
"${PL[@]}" server start t4 dns >/dev/null || fail "server start t4 dns"
if wait_for 8 back4 53; then ok "t4's dns registration back in after its ejection (3 s)"; else fail "t4's dns registration: $(state4 53)"; fi
py cl1 probe $ANY4 53 --duration 1 >"$TMP/ej-back.json"
check_eq "new UDP flows reach t4 again, all answered" "0 True" \
	"$(jp "$TMP/ej-back.json" "f\"{sum(1 for p in d['probes'] if not p[1])} {'t4' in set(p[2] for p in d['probes'])}\"")"

echo "-- t4's unbound hung (SIGSTOP): new flows with no reply"
passive_case "unbound hung" hang dns 53 2000 $ANY4 53
"${PL[@]}" server resume t4 dns >/dev/null || fail "server resume t4 dns"
if wait_for 10 back4 53; then ok "t4's dns registration back in after its second ejection (6 s)"; else fail "t4's dns registration: $(state4 53)"; fi

echo "-- t4's nginx killed (-9): SYNs answered by RST"
passive_case "nginx killed" kill http 80 1000 $ANY4 80 --tcp
check_ge "p1 counted refused flows for it" 5 "$(counts4 80 refused)"
check_ge "and answered ones before the kill" 1 "$(counts4 80 answered)"
"${PL[@]}" server start t4 http >/dev/null || fail "server start t4 http"
if wait_for 8 back4 80; then ok "t4's web registration back in"; else fail "t4's web registration: $(state4 80)"; fi
check_ge "p1 counts its ejections (show targets)" 1 \
	"$(ctl p1 show targets --json | js "next(t['ejections'] for t in d if t['endpoint'] == '$(addr t4 4):80')")"

e2e_done
