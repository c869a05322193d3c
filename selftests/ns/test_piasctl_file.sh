#!/usr/bin/env bash
# piasctl target join --file: the registration list's errors name FILE:LINE
# and exit 2 (usage) or 1 (a file that cannot be read), before anything is
# sent; a good list runs one agent for all its lines. The agents' protocol
# is tested where a JAP answers (every lab test registers through --file;
# test_e2e_groups.sh keeps 1,333 registrations in two agents); here the
# agent runs in a network namespace of its own with no route, so that it
# sends nothing anywhere and gives up after --timeout, naming how many of
# its registrations went unacknowledged.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh

P=$BUILD/piasctl
tf() { if "$@"; then echo True; else echo False; fi; }
TMP=$(mktemp -d /tmp/pias-file.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$P" token --group-key-file <("$P" keygen) --ta udp:203.0.113.10:53 >"$TMP/tok"

# run EXPECTED-STATUS EXPECTED-MESSAGE-PART FILE-CONTENT [EXTRA ARGS]
run() {
	local want=$1 msg=$2 content=$3 rc
	shift 3
	printf '%b' "$content" >"$TMP/regs"
	"$P" target join --file "$TMP/regs" "$@" >"$TMP/out" 2>&1
	rc=$?
	if [ "$rc" = "$want" ] && grep -qF -- "$msg" "$TMP/out"; then
		ok "exit $rc, says: $(head -1 "$TMP/out" | cut -c1-110)"
	else
		fail "want exit $want and '$msg', got exit $rc: $(cat "$TMP/out")"
	fi
}

T="$TMP/tok"
echo "-- errors name FILE:LINE"
run 2 "regs:3: TA: " "# comment\n\nudp:203.0.113.10 198.51.100.10:53 $T\n"
run 2 "regs:1: want TA ENDPOINT TOKEN-FILE [WEIGHT] [policy=POLICY] [serial=N] [check=CHECK], got 2 fields" "udp:203.0.113.10:53 198.51.100.10:53\n"
run 2 "regs:1: want TA ENDPOINT TOKEN-FILE [WEIGHT] [policy=POLICY] [serial=N] [check=CHECK], got 5 fields" "udp:203.0.113.10:53 198.51.100.10:53 $T 1 x\n"
run 2 "regs:1: want TA ENDPOINT TOKEN-FILE [WEIGHT] [policy=POLICY] [serial=N] [check=CHECK], got more" "udp:203.0.113.10:53 198.51.100.10:53 $T 1 policy=random serial=1 check=dns x=1\n"
run 2 "regs:1: policy 'roundrobin': want weighted, random" "udp:203.0.113.10:53 198.51.100.10:53 $T policy=roundrobin\n"
run 2 "regs:2: policy 'scoped/33': scope longer than the family's addresses" "udp:203.0.113.10:53 198.51.100.10:53 $T\nudp:203.0.113.10:54 198.51.100.10:54 $T 2 policy=scoped/33\n"
run 2 "regs:1: 'polcy=random': want policy=POLICY, serial=N or check=CHECK" "udp:203.0.113.10:53 198.51.100.10:53 $T 3 polcy=random\n"
run 2 "regs:1: serial" "udp:203.0.113.10:53 198.51.100.10:53 $T policy=random serial=-1\n"
run 2 "regs:2: check 'ping': want tcp, http[:PATH], dns[:NAME] or exec:COMMAND" "udp:203.0.113.10:53 198.51.100.10:53 $T check=dns\ntcp:203.0.113.10:80 198.51.100.10:80 $T check=ping\n"
run 2 "regs:1: check 'http:healthz': the path starts with '/'" "tcp:203.0.113.10:80 198.51.100.10:80 $T 2 check=http:healthz\n"
run 2 "--check-interval '5' is out of range 20-3600000" "tcp:203.0.113.10:80 198.51.100.10:80 $T check=tcp\n" --check-interval 5
run 2 "--check goes with a running agent" "tcp:203.0.113.10:80 198.51.100.10:80 $T\n" --once --check tcp
run 2 "regs:2: endpoint [2001:db8::10]:53 is IPv6 but TA udp:203.0.113.10:53 is IPv4" \
	"udp:203.0.113.10:53 198.51.100.10:53 $T\nudp:203.0.113.10:53 [2001:db8::10]:53 $T\n"
run 2 "regs:1: weight" "udp:203.0.113.10:53 198.51.100.10:53 $T 0\n"
run 1 "regs:2: token file: " "udp:203.0.113.10:53 198.51.100.10:53 $T\nudp:203.0.113.10:54 198.51.100.10:54 $TMP/none\n"
run 2 "regs:4: the same TA and endpoint as line 1" \
	"udp:203.0.113.10:53 198.51.100.10:53 $T\nudp:203.0.113.10:53 198.51.100.11:53 $T\n\nudp:203.0.113.10:53 198.51.100.10:53 $T  # again\n"
run 2 "no registration in the file" "# nothing\n\n"
run 2 "--file and --ta exclude each other" "udp:203.0.113.10:53 198.51.100.10:53 $T\n" --ta udp:203.0.113.10:53
run 2 "--source 2001:db8::1 is IPv6 but the registration address 203.0.113.10:6638 is not" \
	"udp:203.0.113.10:53 198.51.100.10:53 $T\n" --source 2001:db8::1
"$P" target join --file "$TMP/nofile" >"$TMP/out" 2>&1
check_eq "a missing file: exit 1, named" "1 True" "$? $(tf grep -qF "$TMP/nofile: No such file" "$TMP/out")"

echo "-- a good list: one agent, every line"
if [ "$(id -u)" -ne 0 ]; then
	echo "  ..   skipped: running the agent in a namespace of its own needs root"
else
	printf '%s\n' "# three groups, both families" \
		"udp:203.0.113.10:53 198.51.100.10:53 $T 2 policy=scoped/24,strict serial=4" \
		"tcp:203.0.113.10:80 198.51.100.10:80 $T" \
		"udp:[2001:db8:a::10]:53 [2001:db8:1::10]:53 $T # v6" >"$TMP/regs"
	unshare -n "$P" target join --file "$TMP/regs" --once --timeout 1 >"$TMP/out" 2>&1
	rc=$?
	check_eq "no route anywhere: exit 1 after --timeout 1" 1 "$rc"
	check_eq "says how many of the 3 went unacknowledged" True \
		"$(tf grep -qF "3 of 3 registrations not acknowledged within 1 s" "$TMP/out")"
	check_eq "one 'sending ... retrying' line per address family and cause, not per registration or retry" 2 \
		"$(grep -c retrying "$TMP/out")"
fi
pias_summary
