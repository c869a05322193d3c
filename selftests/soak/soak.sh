#!/usr/bin/env bash
# make soak: the default lab under real load for SOAK_MINUTES (default 10),
# with a fault a minute, round and round:
#
#   - a target leaves (its agent, SIGTERM) and joins again 20 s later;
#   - a target is killed (its agent, SIGKILL) and started again 20 s later;
#   - a JAP's piasd is killed (-9) and started again 10 s later;
#   - a client moves by BGP (its IAP's uplink cut, restored 20 s later);
#   - the overlay key rotates (add, send, retire; every proxy reloads);
#
# while cl1 runs dnsperf (a fresh socket per query), cl2 wrk (keep-alive
# HTTP) and cl3 ab (a connection per request). Every 30 s it samples each
# piasd's RSS and the JAPs' and IAPs' map occupancy. At the end it prints
# the client-side errors next to what the design allows for each fault, and
# whether memory stayed flat and the maps bounded. Not part of make test:
# minutes, and one lab at a time (BFD at 50 ms).
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh
# shellcheck source=selftests/ns/e2e_lib.sh
. selftests/ns/e2e_lib.sh

need_root
for tool in dnsperf wrk ab; do
	if ! command -v $tool >/dev/null; then
		echo "soak: $tool is not installed (make deps installs it)"
		exit 77
	fi
done
MINUTES=${SOAK_MINUTES:-10}
DNS_RATE=${SOAK_DNS_RATE:-300}
e2e_init soak
ANY4=203.0.113.10
e2e_up lab/default.ini
status
end=$(($(date +%s) + MINUTES * 60))
echo "-- load for $MINUTES min: dnsperf $DNS_RATE q/s (cl1), wrk 8 connections (cl2), ab -c 8 (cl3)"
for _ in $(seq 64); do echo "whoami.example TXT"; done >"$TMP/q.txt"
mkdir -p "$TMP/dp" "$TMP/ab"
e2e_bg dnspid x cl1 bash -c '
	i=0
	while [ "$(date +%s)" -lt "$2" ]; do
		i=$((i + 1))
		dnsperf -s "$4" -d "$1/q.txt" -c 64 -q 64 -n 1 -t 3 >"$1/dp/$i" 2>&1 &
		sleep "$(awk "BEGIN { print 64 / $3 }")"
	done
	wait' _ "$TMP" "$end" "$DNS_RATE" "$ANY4"
e2e_bg wrkpid x cl2 wrk -t 2 -c 8 -d "$((MINUTES * 60))s" --timeout 2s "http://$ANY4/" \
	>"$TMP/wrk.out" 2>&1
e2e_bg abpid x cl3 bash -c '
	i=0
	while [ "$(date +%s)" -lt "$2" ]; do
		i=$((i + 1))
		ab -q -n 2000 -c 8 -s 2 -r "http://$3/" >"$1/ab/$i" 2>&1
	done' _ "$TMP" "$end" "$ANY4"

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$(pid_of "$1" piasd)/status" 2>/dev/null || echo 0; }
sample() {
	local n line
	status # piasd's pid changes when it is restarted
	line="$(date +%s)"
	for n in p1 p2 p3 p4; do
		line+=" $n:rss=$(rss $n):conns=$(entries "$PINS$n" pias_conns 2>/dev/null || echo -):flows=$(entries "$PINS$n" pias_flows 2>/dev/null || echo -)"
	done
	echo "$line" >>"$TMP/samples"
	echo "  ..   sample $line"
}
log_fault() { echo "$(date +%s) $*" >>"$TMP/faults"; echo "  ..   $(date +%T) fault: $*"; }
# a target's agent: the lab's, or the one this script started again
declare -A AGENT
agent_pid() { echo "${AGENT[$1]:-$(pid_of "$1" agent)}"; }
agent_cmd() { tr '\0' ' ' <"/proc/$(agent_pid "$1")/cmdline"; }
agent_again() { # NODE CMDLINE: in NODE's namespace, killed by the trap
	# shellcheck disable=SC2086 # the command line, word by word
	nsenter --net="/run/netns/pias-$LAB-$1" $2 >>"$STATE/$1/agent.log" 2>&1 </dev/null &
	AGENT[$1]=$!
	E2E_BG+=($!)
}
rotate_keys() {
	local ring=$STATE/keys/overlay.keys old new n
	old=$(awk -F' = ' '$1 ~ /^[0-9]+$/ { print $1 " = " $2 }' "$ring")
	new=$("$BUILD/piasctl" keyring --id "$KEYID" | awk -F' = ' '$1 ~ /^[0-9]+$/ { print $1 " = " $2 }')
	printf '[keys]\n%s\n%s\nsend = %s\n' "$old" "$new" "${old%% =*}" >"$ring"
	for n in p1 p2 p3 p4; do ctl $n keys reload >/dev/null; done
	printf '[keys]\n%s\n%s\nsend = %s\n' "$old" "$new" "$KEYID" >"$ring"
	for n in p1 p2 p3 p4; do ctl $n keys reload >/dev/null; done
	sleep 2
	printf '[keys]\n%s\nsend = %s\n' "$new" "$KEYID" >"$ring"
	for n in p1 p2 p3 p4; do ctl $n keys reload >/dev/null; done
	KEYID=$((KEYID + 1))
}
KEYID=2
round=0
sample
while [ "$(date +%s)" -lt $((end - 45)) ]; do
	case $((round % 5)) in
	0)
		cmd=$(agent_cmd t4)
		log_fault "t4's agent leaves (SIGTERM), joins again in 20 s"
		kill -TERM "$(agent_pid t4)"
		sleep 20
		agent_again t4 "$cmd"
		;;
	1)
		cmd=$(agent_cmd t3)
		log_fault "t3's agent killed (-9), started again in 20 s"
		kill -9 "$(agent_pid t3)"
		sleep 20
		agent_again t3 "$cmd"
		;;
	2)
		log_fault "p2's piasd killed (-9), started again in 10 s"
		"${PL[@]}" piasd kill p2 >/dev/null
		sleep 10
		"${PL[@]}" piasd start p2 >/dev/null
		;;
	3)
		log_fault "p1's uplink cut (cl1 moves by BGP), restored in 20 s"
		"${PL[@]}" link cut p1 a1 >/dev/null
		sleep 20
		"${PL[@]}" link restore p1 a1 >/dev/null
		;;
	4)
		log_fault "overlay key rotation to key $KEYID"
		rotate_keys
		;;
	esac
	round=$((round + 1))
	sleep 25
	sample
done
echo "-- waiting for the load to finish"
wait "$dnspid" "$wrkpid" "$abpid" 2>/dev/null
sample

echo "-- results"
read -r sent done lost <<<"$(cat "$TMP"/dp/* | awk '
	/Queries sent:/ { s += $3 } /Queries completed:/ { c += $3 } /Queries lost:/ { l += $3 }
	END { print s + 0, c + 0, l + 0 }')"
figure "dnsperf (cl1, a fresh socket per query): $sent sent, $done answered, $lost lost ($(awk -v l="$lost" -v s="$sent" 'BEGIN { printf "%.3f", s ? 100 * l / s : 0 }')%)"
wrk_req=$(awk '/requests in/ { print $1 }' "$TMP/wrk.out")
wrk_err=$(awk '/Socket errors/ { print }' "$TMP/wrk.out")
wrk_non2xx=$(awk '/Non-2xx/ { print $NF }' "$TMP/wrk.out")
figure "wrk (cl2, keep-alive): ${wrk_req:-?} requests; ${wrk_err:-no socket errors}; non-2xx ${wrk_non2xx:-0}"
read -r ab_done ab_failed <<<"$(cat "$TMP"/ab/* | awk '
	/Complete requests:/ { c += $3 } /Failed requests:/ { f += $3 } END { print c + 0, f + 0 }')"
figure "ab (cl3, a connection per request): $ab_done completed, $ab_failed failed"
echo "  ..   faults:"
sed 's/^/  ..     /' "$TMP/faults"
echo "  ..   what the design allows (docs/e2e.md): a target leaving or dying loses the"
echo "  ..   flows it held and new flows for up to 1 s; a JAP's piasd down loses no"
echo "  ..   pinned flow while its dataplane lives (it answers the other proxies'"
echo "  ..   echoes); a BGP move loses up to the convergence time (0.2-1 s);"
echo "  ..   a key rotation loses nothing"
# memory: the last sample against the first after warm-up (the second)
python3 - "$TMP/samples" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
def val(row, node, what):
    for f in row[1:]:
        parts = dict(p.split("=") for p in f.split(":")[1:])
        if f.startswith(node + ":"):
            v = parts.get(what, "-")
            return int(v) if v.isdigit() else None
for node in ("p1", "p2", "p3", "p4"):
    rss = [val(r, node, "rss") for r in rows]
    rss = [v for v in rss if v]
    conns = [val(r, node, "conns") for r in rows]
    conns = [v for v in conns if v is not None]
    flows = [val(r, node, "flows") for r in rows]
    flows = [v for v in flows if v is not None]
    if len(rss) > 2:
        print(f"  figure {node}: piasd RSS {rss[1]} kB after warm-up, {rss[-1]} kB at the end "
              f"(max {max(rss)} kB); conns max {max(conns) if conns else '-'}, at the end {conns[-1] if conns else '-'}; "
              f"flows max {max(flows) if flows else '-'}, at the end {flows[-1] if flows else '-'}")
PY
e2e_done
