#!/usr/bin/env bash
# piasctl target join's health checks, each kind against a real server in
# a namespace of the test's own (no JAP: the agent's REGISTERs and LEAVEs
# go unanswered; what it decides shows in its log): an HTTP server
# (python3 -m http.server) checked with http:/ and tcp, a DNS server
# (e2e.py serve) with dns, and commands with exec. Each server is killed
# (-9), started again, and stopped (SIGSTOP); each check must fall within
# 1 s and rise again, and say why. test_e2e_health.sh has the JAP's side.
# make test-asan runs it with piasctl built with ASan and UBSan.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh

need_root
P=$BUILD/piasctl
NS=pias-check$$
A=192.0.2.10
TMP=$(mktemp -d /tmp/pias-check.XXXXXX)
E2E=selftests/ns/e2e.py
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add $A/32 dev lo
"$P" token --group-key-file <("$P" keygen) --ta tcp:203.0.113.10:80 >"$TMP/tok"

# start_http, start_dns: the servers, pids in HTTP_PID and DNS_PID
start_http() {
	ip netns exec "$NS" python3 -m http.server -b $A 8080 >/dev/null 2>&1 &
	HTTP_PID=$!
	PIDS+=("$HTTP_PID")
}
start_dns() {
	ip netns exec "$NS" /usr/bin/python3 "$E2E" serve chk 5353-5353 $A >/dev/null 2>&1 &
	DNS_PID=$!
	PIDS+=("$DNS_PID")
}
start_http
start_dns
wait_for 5 sh -c "ip netns exec $NS ss -Hltn | grep -q ':8080 '" || fail "the HTTP server does not listen"
wait_for 5 sh -c "ip netns exec $NS ss -Hlun | grep -q ':5353 '" || fail "the DNS server does not listen"
touch "$TMP/ok"
T=$TMP/tok
printf '%s\n' \
	"tcp:203.0.113.10:80 $A:8080 $T check=http:/" \
	"tcp:203.0.113.10:81 $A:8080 $T check=tcp" \
	"udp:203.0.113.10:53 $A:5353 $T check=dns:whoami.example" \
	"udp:203.0.113.10:54 $A:5354 $T check=exec:$TMP/ok.sh" \
	"udp:203.0.113.10:55 $A:5355 $T check=exec:/bin/false" >"$TMP/regs"
# exec: passes while $TMP/ok exists, and sees the endpoint in its environment
printf '#!/bin/sh\necho "$PIAS_CHECK_ADDR:$PIAS_CHECK_PORT" >%s\ntest -e %s\n' \
	"$TMP/env" "$TMP/ok" >"$TMP/ok.sh"
chmod +x "$TMP/ok.sh"
ip netns exec "$NS" "$P" target join --file "$TMP/regs" --registration $A:6638 >"$TMP/log" 2>&1 &
AGENT=$!
PIDS+=("$AGENT")

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# until_said WHAT MAX_MS: ms until the agent's log has a line with WHAT (more than before)
until_said() {
	local t0 ms before
	before=$(grep -cF -- "$1" "$TMP/log")
	t0=$(date +%s%N)
	while :; do
		ms=$(ms_since "$t0")
		if [ "$(grep -cF -- "$1" "$TMP/log")" -gt "$before" ] || [ "$ms" -gt "$2" ]; then
			echo "$ms"
			return
		fi
		sleep 0.01
	done
}
said() { grep -cF -- "$1" "$TMP/log"; }

echo "-- the first check decides"
wait_for 3 grep -qF "check exec:/bin/false at $A:5355: down (exit status 1)" "$TMP/log"
for c in "http:/ at $A:8080: up (HTTP 200)" "tcp at $A:8080: up (connected)" \
	"dns:whoami.example at $A:5353: up (DNS no records in the reply)" "exec:$TMP/ok.sh at $A:5354: up (exit status 0)" \
	"exec:/bin/false at $A:5355: down (exit status 1)"; do
	check_eq "check $c" 1 "$(said "check $c")"
done
check_eq "exec sees the endpoint" "$A:5354" "$(cat "$TMP/env")"
check_eq "a target whose first check fails never registers" 0 "$(grep -c 'registered.*:5355' "$TMP/log")"

echo "-- the HTTP server killed (-9)"
kill -9 "$HTTP_PID"
wait "$HTTP_PID" 2>/dev/null # reaped here, not reported
ms=$(until_said "http:/ at $A:8080: down (no HTTP answer" 3000)
check_le "http:/ down (ms)" 1000 "$ms"
wait_for 2 grep -qF "tcp at $A:8080: down (connect: Connection refused)" "$TMP/log" &&
	ok "tcp down: connection refused" || fail "tcp not down: $(tail -3 "$TMP/log")"
start_http
ms=$(until_said "http:/ at $A:8080: up (HTTP 200)" 3000)
check_le "http:/ up again after the start (ms)" 1500 "$ms"

echo "-- the HTTP server stopped (SIGSTOP): its kernel still takes connections"
kill -STOP "$HTTP_PID"
ms=$(until_said "http:/ at $A:8080: down (timed out after 200 ms)" 3000)
check_le "http:/ down, timed out (ms)" 1000 "$ms"
check_eq "tcp stays up (the kernel completes the handshakes)" 1 "$(said "tcp at $A:8080: down")"
kill -CONT "$HTTP_PID"
ms=$(until_said "http:/ at $A:8080: up (HTTP 200)" 3000)
check_le "http:/ up again after SIGCONT (ms)" 1500 "$ms"

echo "-- the DNS server stopped (SIGSTOP), then killed"
kill -STOP "$DNS_PID"
ms=$(until_said "dns:whoami.example at $A:5353: down (" 3000)
check_le "dns down (ms)" 1000 "$ms"
kill -CONT "$DNS_PID"
ms=$(until_said "dns:whoami.example at $A:5353: up (" 3000)
check_le "dns up again after SIGCONT (ms)" 1500 "$ms"
kill -9 "$DNS_PID"
wait "$DNS_PID" 2>/dev/null
ms=$(until_said "dns:whoami.example at $A:5353: down (" 3000)
check_le "dns down after a kill (ms)" 1000 "$ms"

echo "-- exec: the command's status"
rm "$TMP/ok"
ms=$(until_said "exec:$TMP/ok.sh at $A:5354: down (exit status 1)" 3000)
check_le "exec down (ms)" 1000 "$ms"
touch "$TMP/ok"
ms=$(until_said "exec:$TMP/ok.sh at $A:5354: up (exit status 0)" 3000)
check_le "exec up again (ms)" 1500 "$ms"

echo "-- SIGTERM: the agent leaves and says what its checks did"
kill -TERM "$AGENT"
wait_for 5 sh -c "! kill -0 $AGENT 2>/dev/null" || fail "the agent did not exit"
wait "$AGENT"
check_eq "exit status 0" 0 "$?"
check_eq "one summary line per check (5)" 5 "$(grep -c 'checks, .* failed' "$TMP/log")"
pias_summary
