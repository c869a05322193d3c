#!/usr/bin/env bash
# End to end, the group owner's selection policy (issue 12; lab/e2e-policy.ini:
# every host behind r1, p1 the clients' IAP and the targets' JAP; the /29s
# pair cl1 with t1, cl2 with t2, cl3 with t3, and leave cl4 alone). Real
# DNS servers on the targets, queries from fresh sockets (new flows):
#   - scoped/29: each client in a target's /29 reaches that target only;
#     cl4 falls back to all three, and p1 counts the fallbacks;
#   - scoped/29,strict: cl4 gets no answer, p1 counts the drops; cl1 is
#     still answered by t1;
#   - random: 1,200 new flows from one client spread over the three
#     targets as a fair three-sided die would.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh
# shellcheck source=selftests/ns/e2e_lib.sh
. selftests/ns/e2e_lib.sh

need_root
e2e_init e2ep
SCOPED=203.0.113.11
STRICT=203.0.113.12
RANDOM_TA=203.0.113.13

e2e_up lab/e2e-policy.ini
status
for c in cl1 cl2 cl3 cl4; do
	check_eq "$c enters at p1" p1 "$(enters "$c" 4)"
done
check_eq "the /29 pairs: cl1 t1 cl2 t2 cl3 t3 cl4" \
	"192.0.2.2 192.0.2.6 192.0.2.14 192.0.2.10 192.0.2.22 192.0.2.18 192.0.2.26" \
	"$(for n in cl1 t1 cl2 t2 cl3 t3 cl4; do addr $n 4; done | tr '\n' ' ' | sed 's/ $//')"

# by CLIENT TA N [TIMEOUT]: "answered targets...", each target as often as it answered
by() {
	py "$1" query "$2" 53 --n "$3" --timeout "${4:-1}" |
		js "' '.join([str(d['answered'])] + sorted(f'{k}:{v}' for k, v in d['by'].items()))"
}

echo "-- scoped/29: a client in a target's prefix reaches that target only"
snap "$TMP/s0" p1
check_eq "cl1: 100 queries, all answered by t1" "100 t1:100" "$(by cl1 $SCOPED 100)"
check_eq "cl2: 100 queries, all answered by t2" "100 t2:100" "$(by cl2 $SCOPED 100)"
check_eq "cl3: 100 queries, all answered by t3" "100 t3:100" "$(by cl3 $SCOPED 100)"
snap "$TMP/s1" p1
delta "$TMP/s0" "$TMP/s1"
check_eq "  no fallback at p1" 0 "$(dv p1 jap_scope_fallback)"
r=$(by cl4 $SCOPED 150)
read -r n rest <<<"$r"
check_eq "cl4 (no target in its /29): 150 queries, all answered" 150 "$n"
check_eq "  by all three targets (any live target)" "t1 t2 t3" \
	"$(tr ' ' '\n' <<<"$rest" | cut -d: -f1 | tr '\n' ' ' | sed 's/ $//')"
snap "$TMP/s2" p1
delta "$TMP/s1" "$TMP/s2"
# a fresh socket may reuse the 5-tuple of a flow still alive: no new pick
check_eq "  p1 counts a fallback for each of its new connections" "$(dv p1 jap_new_conn)" \
	"$(dv p1 jap_scope_fallback)"
check_ge "  which are most of the 150 queries" 140 "$(dv p1 jap_scope_fallback)"

echo "-- scoped/29,strict: no target in the client's prefix, no answer"
check_eq "cl4: 20 queries, none answered" 0 "$(by cl4 $STRICT 20 0.3 | cut -d' ' -f1)"
snap "$TMP/s3" p1
delta "$TMP/s2" "$TMP/s3"
check_eq "  p1 drops them as jap_no_scope" 20 "$(dv p1 jap_no_scope)"
check_eq "  and starts no connection for them" 0 "$(dv p1 jap_new_conn)"
check_eq "cl1: 50 queries, all answered by t1" "50 t1:50" "$(by cl1 $STRICT 50)"

echo "-- random: new flows spread as a fair die would"
N=1200
r=$(by cl1 $RANDOM_TA $N)
echo "  $r"
read -r n rest <<<"$r"
check_eq "cl1: $N queries to the random group, all answered" $N "$n"
# each target's count: mean 400, sd 16.3; 5 sd either way (320-480) fails
# a fair die once in 1e6 runs; a deterministic pick by client (one target)
# or by weight would fail it at once
for t in t1 t2 t3; do
	c=$(tr ' ' '\n' <<<"$rest" | awk -F: -v t=$t '$1 == t { print $2 }')
	if [ "${c:-0}" -ge 320 ] && [ "${c:-0}" -le 480 ]; then
		ok "  $t answered $c (320-480)"
	else
		fail "  $t answered ${c:-0}, not 320-480"
	fi
done
e2e_done
