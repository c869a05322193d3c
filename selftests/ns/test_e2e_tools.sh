#!/usr/bin/env bash
# The end-to-end tests' own clients and responder (selftests/ns/e2e.py)
# against each other on loopback: no lab, no root. The e2e tests trust
# their counts of answered and failed requests; this is where those counts
# are checked against a known answer.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh
# shellcheck source=selftests/ns/e2e_lib.sh
. selftests/ns/e2e_lib.sh
TMP=$(mktemp -d /tmp/pias-e2e.XXXXXX)
trap 'kill $srv 2>/dev/null; rm -rf "$TMP"' EXIT
echo "-- e2e.py against itself on loopback"
port=$((20000 + $$ % 20000))
"$E2E_PY" "$E2E" serve lo "$port-$((port + 9))" 127.0.0.1 ::1 >/dev/null &
srv=$!
answering() { [ "$("$E2E_PY" "$E2E" query 127.0.0.1 "$port" --timeout 0.2 | js "d['answered']")" = 1 ]; }
wait_for 5 answering || fail "responder not answering"
check_eq "query: 20 new flows (IPv6) answered by NAME:PORT" "{'lo:$port': 20}" \
	"$("$E2E_PY" "$E2E" query ::1 "$port" --n 20 | js "d['by']")"
check_eq "query --same: one flow" 5 "$("$E2E_PY" "$E2E" query 127.0.0.1 "$port" --n 5 --same | js "d['answered']")"
check_eq "ports: 10 answered, 2 not (no responder)" "10 2" \
	"$("$E2E_PY" "$E2E" ports 127.0.0.1 "$port" $((port + 11)) --timeout 0.3 |
		js "sum(1 for v in d.values() if v), sum(1 for v in d.values() if not v)" | tr -d '(),')"
check_eq "answers: 5 queries, one after the other, each answered once" 5 \
	"$("$E2E_PY" "$E2E" answers 127.0.0.1 "$port" --n 5 --wait 0.2 | js "sum(1 for a in d['answers'] if a == ['lo:$port'])")"
check_eq "answers --window 20: 20 queries at once (IPv6), each answered once" 20 \
	"$("$E2E_PY" "$E2E" answers ::1 "$port" --n 20 --wait 0.3 --window 20 | js "sum(1 for a in d['answers'] if a == ['lo:$port'])")"
"$E2E_PY" "$E2E" probe 127.0.0.1 "$port" --duration 0.5 >"$TMP/p.json"
check_eq "probe: every 10 ms for 0.5 s (50 +- 1), all answered" "True 0" \
	"$("$E2E_PY" "$E2E" outage "$TMP/p.json" 0 | js "49 <= d['probes'] <= 51, d['failed']" | tr -d '(),')"
kill $srv
wait $srv 2>/dev/null
"$E2E_PY" "$E2E" probe 127.0.0.1 "$port" --duration 0.2 --same --timeout 0.1 >"$TMP/p.json"
check_eq "probe --same with the responder gone: every probe failed" "True" \
	"$("$E2E_PY" "$E2E" outage "$TMP/p.json" 0 | js "d['probes'] == d['failed'] >= 19")"
pias_summary
