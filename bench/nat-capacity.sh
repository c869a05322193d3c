#!/usr/bin/env bash
# make bench-nat: how many new flows per second one JAP sustains to one
# target without loss, against docs/design.md's formula
#
#   new flows/s per target = NAT ports x NAT addresses / lifetime
#
# In a lab (lab/e2e-conns.ini) whose JAP p2 gets only PORTS NAT ports
# (default 256), so that the limit is within what this machine can send:
# cl1 sends DNS queries to t1 through p2, each from a fresh socket (a new
# flow, as stub resolvers do), at rates around the formula's (a DNS flow
# lives about 2 s: the reply timeout). For each rate it prints the queries
# lost and p2's nat_no_port. With the default 16,384 ports the formula gives
# 8,192 flows/s; test_e2e_conns.sh sends 2,400/s with no loss.
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh
# shellcheck source=selftests/ns/e2e_lib.sh
. selftests/ns/e2e_lib.sh

need_root
PORTS=${PORTS:-256}
SECONDS_PER_RATE=${SECONDS_PER_RATE:-20}
LIFETIME_S=2 # [connections] udp_reply_timeout_s: a DNS flow's life after its answer
CAP=$((PORTS / LIFETIME_S))
RATES=${RATES:-"$((CAP / 2)) $((CAP * 3 / 4)) $((CAP * 7 / 8)) $CAP $((CAP * 5 / 4)) $((CAP * 3 / 2))"}
e2e_init nat
ANY4=203.0.113.10

# the lab's [piasd] section with our port range added to it, and without
# the test's short connection timeouts: the bench measures the defaults
python3 - lab/e2e-conns.ini "$TMP/lab.ini" "$PORTS" <<'EOF'
import sys
src, path, ports = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(src).readlines()
out = []
for l in lines:
    if l.startswith("connections."):
        continue
    out.append(l)
    if l.strip() == "[piasd]":
        out.append(f"dataplane.nat_ports = 16384-{16384 + ports - 1}\n")
open(path, "w").writelines(out)
EOF
e2e_up "$TMP/lab.ini"
dig_ok() { x cl1 dig +short +tries=1 +time=1 @$ANY4 whoami.example TXT | grep -q t1; }
wait_for 20 dig_ok || {
	fail "DNS through the overlay"
	exit 1
}
echo "JAP p2 -> t1: $PORTS NAT ports, one address; formula: $PORTS x 1 / ${LIFETIME_S} s = $CAP new flows/s"
# hw: piasd's count of targets found past nat_high_water_percent (a log line each)
hw() { ctl p2 show counters --json | js "d['piasd']['nat_high_water']"; }
printf '%-10s %-10s %-10s %-8s %-19s %s\n' "rate/s" "x formula" "queries" "lost" "nat_no_port at p2" \
	"high-water warnings"
for r in $RATES; do
	sleep $((LIFETIME_S + 1)) # the last rate's ports free again
	n0=$(counter "${PINS}p2" pias_drops nat_no_port) h0=$(hw)
	out=$(py cl1 probe $ANY4 53 --duration "$SECONDS_PER_RATE" --interval "$(awk "BEGIN { print 1 / $r }")" --timeout 1)
	n1=$(counter "${PINS}p2" pias_drops nat_no_port) h1=$(hw)
	read -r sent lost <<<"$(js "len(d['probes']), sum(1 for p in d['probes'] if not p[1])" <<<"$out" | tr -d '(),')"
	printf '%-10s %-10s %-10s %-8s %-19s %s\n' "$r" "$(awk "BEGIN { printf \"%.2f\", $r / $CAP }")" \
		"$sent" "$lost" $((n1 - n0)) $((h1 - h0))
done
e2e_done >/dev/null
