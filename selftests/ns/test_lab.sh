#!/usr/bin/env bash
# pias-lab end to end, on lab/test-small.ini (no link delays, so no
# pias-delay needed): up; every BGP session Established; each client enters
# at its own ISP's proxy; dig and curl through the anycast address (IPv4,
# IPv6) reach a target; piasd killed with -9 on a client's IAP: the
# watchdog withdraws the announcement, BGP moves the client to the other
# proxy, dig still answers; piasd restarted: the client comes back. Then
# down leaves nothing (namespaces, pins, processes, state), and an up that
# fails half-way removes what it made. Bounded: every wait has a deadline.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh

need_root
LAB="labt$$"
PL=(tools/pias-lab/pias-lab --name "$LAB" --build "$BUILD")
TOPO=lab/test-small.ini
TMP=$(mktemp -d /tmp/pias-lab-test.XXXXXX)
ANY4=203.0.113.10
ANY6=2001:db8:a::10

cleanup() {
	"${PL[@]}" down >/dev/null 2>&1
	"${PL[@]}" --name "${LAB}f" down >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

# snap: takes `pias-lab status --json`; st EXPR: a Python expression on it (as d)
snap() { "${PL[@]}" status --json >"$TMP/status.json"; }
st() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$TMP/status.json"
}

# dig_txt CLIENT ADDR: the TXT record whoami.example, answered by a target.
dig_txt() {
	"${PL[@]}" exec "$1" -- dig +short +time=1 +tries=1 @"$2" whoami.example TXT 2>/dev/null | tr -d '"'
}

http_code() { # http_code CLIENT URL
	"${PL[@]}" exec "$1" -- curl -s -o /dev/null -m 3 -w '%{http_code}' "$2"
}

# entry CLIENT ADDR: the next node from the client's router toward ADDR
# (in test-small.ini client clN hangs off router rN; interfaces are named
# after the node at their other end). nsenter, not pias-lab exec: polled.
entry() {
	nsenter --net="/run/netns/pias-$LAB-r${1#cl}" ip -o route get "$2" | grep -o 'dev [^ ]*' | cut -d' ' -f2
}
is_target() { case $1 in t1 | t2) return 0 ;; *) return 1 ;; esac }
answers() { is_target "$(dig_txt "$1" "$2")"; }
enters_at() { [ "$(entry "$1" "$2")" = "$3" ]; }

echo "-- topology errors name the file and line"
printf '[router r1]\nas = 64512\n[link r1 r9]\n' >"$TMP/bad.ini"
out=$("${PL[@]}" up "$TMP/bad.ini" 2>&1)
check_eq "bad topology: exit status 2" 2 $?
case $out in *"bad.ini:3: [link r1 r9]: no node named 'r9'"*) ok "names file, line, section" ;; *) fail "message: '$out'" ;; esac

echo "-- up"
t0=$(date +%s%N)
if "${PL[@]}" up "$TOPO" >"$TMP/up.log" 2>&1; then
	ok "pias-lab up $TOPO in $((($(date +%s%N) - t0) / 1000000)) ms"
else
	fail "pias-lab up failed"
	cat "$TMP/up.log"
	exit 1
fi
"${PL[@]}" up "$TOPO" >/dev/null 2>&1
check_eq "a second up of the same lab: exit status 1" 1 $?

echo "-- BGP"
# up waits for every session at its end; one that flaps later (BFD at
# 50 ms x 3 on a loaded 2-core machine) is back after BIRD's error wait
# (1-4 s): a flap is reported, a session still down after 8 s fails
bgp_down() {
	snap
	st "[f'{n}:{s}={v}' for n, x in d['nodes'].items() for s, v in (x.get('bgp') or {}).items() if v != 'Established']"
}
all_up() { [ "$(bgp_down)" = "[]" ]; }
down=$(bgp_down)
if [ "$down" != "[]" ]; then
	t0=$(date +%s%N)
	wait_for 8 all_up
	echo "  ..   a flap: $down right after up; $(bgp_down) after $((($(date +%s%N) - t0) / 1000000)) ms"
	down=$(bgp_down)
fi
check_eq "every BGP session Established" "[]" "$down"
check_eq "every proxy announces" "True True" "$(st "d['nodes']['p1']['announced'], d['nodes']['p2']['announced']" | tr -d '(),')"
for c in cl1:p1 cl2:p2; do
	cl=${c%:*} px=${c#*:}
	check_eq "$cl enters at $px (IPv4, IPv6: hops)" "$px $px" \
		"$(st "d['clients']['$cl']['ipv4']['proxy'], d['clients']['$cl']['ipv6']['proxy']" | tr -d "()',")"
	check_eq "$cl's router's best AS path ends at $px" "$px $px" \
		"$(st "d['clients']['$cl']['ipv4']['bgp_proxy'], d['clients']['$cl']['ipv6']['bgp_proxy']" | tr -d "()',")"
done

echo "-- services through the anycast address"
for cl in cl1 cl2; do
	for a in $ANY4 $ANY6; do
		ans=$(dig_txt $cl "$a")
		if is_target "$ans"; then ok "$cl: dig @$a answered by target $ans"; else fail "$cl: dig @$a: '$ans'"; fi
	done
	check_eq "$cl: curl http://$ANY4/" 200 "$(http_code $cl "http://$ANY4/")"
	check_eq "$cl: curl http://[$ANY6]/" 200 "$(http_code $cl "http://[$ANY6]/")"
done

echo "-- piasd kill -9 on cl1's IAP p1: the watchdog withdraws, BGP moves cl1"
t0=$(date +%s%N)
"${PL[@]}" piasd kill p1 >/dev/null
if wait_for 5 enters_at cl1 $ANY4 r2; then
	ok "cl1's router sends $ANY4 to r2 (toward p2) $((($(date +%s%N) - t0) / 1000000)) ms after the kill"
else
	fail "cl1 still enters at $(entry cl1 $ANY4)"
fi
snap
check_eq "p1 no longer announces" False "$(st "d['nodes']['p1']['announced']")"
check_eq "cl1 enters at p2 (IPv4, IPv6)" "p2 p2" \
	"$(st "d['clients']['cl1']['ipv4']['proxy'], d['clients']['cl1']['ipv6']['proxy']" | tr -d "()',")"
t0=$(date +%s%N)
if wait_for 15 answers cl1 $ANY4; then
	ok "dig from cl1 answered by $(dig_txt cl1 $ANY4), $((($(date +%s%N) - t0) / 1000000)) ms after the move"
else
	fail "dig from cl1 after the move: '$(dig_txt cl1 $ANY4)'"
fi
check_eq "curl from cl1 after the move" 200 "$(http_code cl1 "http://$ANY4/")"

echo "-- piasd start on p1: it announces again, cl1 comes back"
"${PL[@]}" piasd start p1 >/dev/null || fail "piasd start p1"
if wait_for 10 enters_at cl1 $ANY4 p1; then ok "cl1 enters at p1 again"; else fail "cl1 enters at $(entry cl1 $ANY4)"; fi

echo "-- down leaves nothing"
pids=$(python3 -c 'import json,sys; print(" ".join(str(p["pid"]) for p in json.load(open(sys.argv[1]))["procs"].values()))' \
	"/run/pias-lab/$LAB/state.json")
"${PL[@]}" down >/dev/null
check_eq "down: exit status 0" 0 $?
gone() { # gone PID...: none of them runs (a zombie waiting for init is gone)
	local p
	for p in "$@"; do
		[ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && return 1
	done
	return 0
}
check_eq "no namespace pias-$LAB-*" "" "$(ip netns list | grep "^pias-$LAB-")"
check_eq "no pin /sys/fs/bpf/pias-$LAB-*" "" "$(ls -d /sys/fs/bpf/pias-"$LAB"-* 2>/dev/null)"
check_eq "no state directory" no "$([ -e "/run/pias-lab/$LAB" ] && echo yes || echo no)"
# shellcheck disable=SC2086
if wait_for 2 gone $pids; then ok "none of the lab's $(wc -w <<<"$pids") processes runs"; else fail "processes left"; fi
"${PL[@]}" down >/dev/null
check_eq "down again: exit status 0" 0 $?

echo "-- an up that fails half-way removes what it made"
# a build directory whose piasd refuses every config: up fails after
# namespaces, pins and BIRD exist
mkdir -p "$TMP/build/bpf"
for f in piasctl piasd-loader bpf/xdp_pass.bpf.o; do ln -s "$(realpath "$BUILD/$f")" "$TMP/build/$f"; done
printf '#!/bin/sh\necho "piasd: broken on purpose" >&2\nexit 1\n' >"$TMP/build/piasd"
chmod +x "$TMP/build/piasd"
out=$(tools/pias-lab/pias-lab --name "${LAB}f" --build "$TMP/build" up "$TOPO" 2>&1)
check_eq "failed up: exit status 1" 1 $?
case $out in *"broken on purpose"*) ok "says why" ;; *) fail "message: '$out'" ;; esac
check_eq "no namespace left" "" "$(ip netns list | grep "^pias-${LAB}f-")"
check_eq "no pin left" "" "$(ls -d /sys/fs/bpf/pias-"${LAB}"f-* 2>/dev/null)"
check_eq "no state directory left" no "$([ -e "/run/pias-lab/${LAB}f" ] && echo yes || echo no)"

pias_summary
