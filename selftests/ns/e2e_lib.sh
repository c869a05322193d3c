#!/usr/bin/env bash
# Helpers of the end-to-end tests (selftests/ns/test_e2e_*.sh), which source
# this file: a lab per test file (pias-lab up/down, down from the EXIT
# trap), commands in its nodes through `pias-lab exec`, counters of every
# proxy (pias_stats/pias_drops from the pinned maps with bpftool, piasd's
# own from `piasctl show counters --json`), and e2e.py, the tests' own
# clients and server (selftests/ns/e2e.py, standard library Python): a DNS
# client making a new flow per request, a prober sending a request every
# 10 ms around a fault, a DNS responder on many ports. test_e2e_tools.sh
# checks them against each other on loopback.
#
# Labs are shared machines' heavy guests: e2e_up waits until no other lab
# is up (/run/pias-lab/*), so that two labs never load the CPU together
# (BFD at 50 ms x 3 flaps under load).

E2E_PY=/usr/bin/python3 # python3 on PATH may be a slow shim
# e2e.py: the clients, server and counter readers (its docstring lists them)
E2E=$(realpath "$(dirname "${BASH_SOURCE[0]}")/e2e.py")
E2E_WAIT_LABS_S=${E2E_WAIT_LABS_S:-300}
E2E_BG=()

# e2e_init PREFIX: the lab's name (PREFIX and our pid: two runs of a test
# never share a lab), its paths, a temporary directory, the trap.
e2e_init() {
	LAB=$1$$
	STATE=/run/pias-lab/$LAB
	PINS=/sys/fs/bpf/pias-$LAB-
	BUILD=$(realpath "$BUILD")
	PL=(tools/pias-lab/pias-lab --name "$LAB" --build "$BUILD")
	TMP=$(mktemp -d /tmp/pias-e2e.XXXXXX)
	E2E_START=$(date +%s)
	trap e2e_cleanup EXIT
}

# E2E_KEEP=1: leave the lab up for a look (pias-lab --name LAB down removes it)
e2e_cleanup() {
	local p
	for p in "${E2E_BG[@]}"; do
		kill "$p" 2>/dev/null
	done
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		echo "  ..   E2E_KEEP=1: lab $LAB left up (${PL[*]} down), files in $TMP"
		return
	fi
	"${PL[@]}" down >/dev/null 2>&1
	rm -rf "$TMP"
}

# e2e_bg VAR CMD...: CMD in the background, its pid in VAR (killed by the trap).
e2e_bg() {
	local v=$1
	shift
	"$@" &
	E2E_BG+=($!)
	printf -v "$v" '%s' $!
}

# other labs than ours that are up (or being built). A state directory
# with no namespace left is a lab from before a reboot (/run kept on a
# snapshot): nothing runs there, so it does not hold us up.
e2e_other_labs() {
	local d out="" nss
	nss=$(ip netns list 2>/dev/null)
	for d in /run/pias-lab/*/; do
		[ -d "$d" ] || continue
		d=$(basename "$d")
		[ "$d" = "$LAB" ] && continue
		if ! grep -q "^pias-$d-" <<<"$nss" &&
			[ -z "$(find /run/pias-lab/"$d" -newermt '-10 seconds' 2>/dev/null)" ]; then
			continue
		fi
		out="$out $d"
	done
	echo "$out"
}

# e2e_up TOPOLOGY: waits until no other lab runs, then up; exits on failure.
e2e_up() {
	local t0 waited=0 others
	others=$(e2e_other_labs)
	if [ -n "$others" ]; then
		echo "  ..   waiting for other labs to go down:$others"
		while [ -n "$(e2e_other_labs)" ]; do
			if [ "$waited" -ge "$E2E_WAIT_LABS_S" ]; then
				fail "other labs still up after $E2E_WAIT_LABS_S s:$(e2e_other_labs)"
				exit 1
			fi
			sleep 2
			waited=$((waited + 2))
		done
	fi
	t0=$(date +%s%N)
	if "${PL[@]}" up "$1" >"$TMP/up.log" 2>&1; then
		ok "pias-lab up $1 in $(ms_since "$t0") ms"
	else
		fail "pias-lab up $1"
		cat "$TMP/up.log"
		exit 1
	fi
}

tf() { if "$@"; then echo True; else echo False; fi; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
now() { date +%s.%N; }
figure() { echo "  figure $*"; }

# x NODE CMD...: CMD in NODE (nsenter --net through pias-lab: bpffs stays usable).
x() {
	local n=$1
	shift
	"${PL[@]}" exec "$n" -- "$@"
}
# py NODE ARGS...: e2e.py in NODE
py() {
	local n=$1
	shift
	x "$n" "$E2E_PY" "$E2E" "$@"
}
# ctl NODE ARGS...: piasctl talking to NODE's piasd
ctl() {
	local n=$1
	shift
	x "$n" "$BUILD/piasctl" -s "$STATE/$n/piasd.sock" "$@"
}

# jp FILE EXPR: a Python expression on the JSON document in FILE (as d)
jp() {
	"$E2E_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
# js EXPR (stdin: JSON)
js() {
	"$E2E_PY" -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# status: `pias-lab status --json` into $TMP/status.json; st EXPR on it.
status() { "${PL[@]}" status --json >"$TMP/status.json"; }
st() { jp "$TMP/status.json" "$1"; }

# snap FILE NODE...: every counter of the nodes; delta OLD NEW: what moved,
# then dv NODE NAME (one node's) and dsum NAME (summed over nodes).
snap() {
	local f=$1
	shift
	"$E2E_PY" "$E2E" snap "$STATE" "$PINS" "$BUILD/piasctl" "$@" >"$f"
}
delta() { "$E2E_PY" "$E2E" delta "$1" "$2" >"$TMP/delta"; }
dv() { awk -v n="$1" -v k="$2" '$1 == n && $2 == k { v = $3 } END { print v + 0 }' "$TMP/delta"; }
dsum() { awk -v k="$1" '$2 == k { v += $3 } END { print v + 0 }' "$TMP/delta"; }
# dnodes NAME: the nodes where counter NAME moved
dnodes() { awk -v k="$1" '$2 == k { print $1 }' "$TMP/delta" | sort | tr '\n' ' ' | sed 's/ $//'; }

# enters CLIENT FAMILY: the proxy the client's anycast traffic enters now
enters() {
	status
	st "d['clients']['$1']['ipv$2']['proxy']"
}

# addr NODE FAMILY: a host's address (its one link's)
addr() { st "next(iter(d['nodes']['$1']['interfaces'].values()))['ipv$2'].split('/')[0]"; }
# states JAP PORT TARGET: the states of TARGET's registrations (IPv4, IPv6)
# for that port at JAP, in its order ("active active", "down", or none)
states() {
	ctl "$1" show targets --json | js "' '.join(t['state'] for t in d if t['endpoint'] in ('$(addr "$3" 4):$2', '[$(addr "$3" 6)]:$2'))"
}

# pid_of NODE PROC: a lab process's pid (pias-lab status --json, taken last)
pid_of() { st "d['nodes']['$1']['processes']['$2']['pid']"; }

# e2e_done: the summary and the file's run time
e2e_done() {
	echo "  ..   $(basename "$0"): $(($(date +%s) - E2E_START)) s"
	pias_summary
}
