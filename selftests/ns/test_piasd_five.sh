#!/usr/bin/env bash
# Five piasd processes (issue: piasd, multi-process test): they form an
# overlay and agree on the ring; a target registers and a RAP hands out a
# binding; a target with the wrong group token is refused and counted; the
# overlay key is rotated on every proxy without a restart; the operator
# drains a target, flushes bindings and withdraws a proxy; a killed proxy
# is declared dead by all the others; the anycast announcement (through
# announce_command) follows whether a proxy can serve.
. "$(dirname "$0")/topo_piasd.sh"

need_root
trap piasd_cleanup EXIT
NPROXIES=5
topo_up
servers_up
for n in 1 2 3 4 5; do piasd_start "$n" || fail "piasd $n did not start"; done

echo "-- five proxies form an overlay"
if wait_for 15 all_alive 5; then ok "every proxy sees 5 alive"; else fail "overlay did not converge"; fi
ring_views() { for n in "${!PIASD_PID[@]}"; do ctl "$n" show ring --json; done | sort -u | wc -l; }
same_ring() { [ "$(ring_views)" = 1 ]; }
if wait_for 5 same_ring; then ok "all five agree on the ring"; else fail "rings differ ($(ring_views) views)"; fi
check_eq "each of the 5 proxies is primary RAP for some slots" 5 \
	"$(ctl 1 show ring --json | jq_py 'len(d["proxies"])')"

echo "-- each proxy announces the anycast prefixes once it serves"
announced_all() { local n; for n in 1 2 3 4 5; do [ "$(last_announce "$n")" = announce ] || return 1; done; }
if wait_for 5 announced_all; then ok "all five ran announce_command announce"; else fail "announce missing"; fi
in_ns p4 "$LOADER" detach --dev u0 --pin-root "${ROOT[4]}" >/dev/null
is_last() { [ "$(last_announce "$1")" = "$2" ]; }
if wait_for 3 is_last 4 withdraw; then ok "dataplane detached on proxy 4: it withdrew"; else fail "no withdraw after detach"; fi
check_eq "piasctl status says it does not serve" false "$(ctl 4 show status --json | jq_py 'str(d["serving"]).lower()')"
in_ns p4 "$LOADER" attach --dev u0 --pin-root "${ROOT[4]}" >/dev/null
if wait_for 3 is_last 4 announce; then ok "attached again: it announced again"; else fail "no announce after attach"; fi

echo "-- a target registers, a RAP hands out a binding"
agent_start tg3 udp $UDP_PORT
registered() { ctl 3 show targets --json | jq_py "len(d)" | grep -qx 1; }
if wait_for 5 registered; then ok "target registered at proxy 3"; else fail "target not registered"; fi
ans=$(udp_ask)
check_eq "client reaches the target through the overlay" pong-from-tg3 "$ans"
bound() { ctl 1 show bindings --json | jq_py "[b['jap'] for b in d if b['state']=='bound'][0]"; }
if wait_for 2 bound; then check_eq "the IAP's binding, from a RAP, names JAP 3" 3 "$(bound)"; else fail "no binding"; fi
sent=0
for n in 1 2 3 4 5; do
	sent=$((sent + $(ctl "$n" show counters --json | jq_py 'd["piasd"]["bindings_sent"]')))
done
check_ge "a RAP sent bindings" 1 "$sent"

echo "-- a target without the group's token is refused and counted"
"$PIASCTL" keygen >"$KEYDIR/wrong-token"
out=$(in_ns tg2 "$PIASCTL" target join --once --timeout 3 --ta "udp:$ANY4:$UDP_PORT" \
	--endpoint "${TG4[tg2]}:$UDP_PORT" --token-file "$KEYDIR/wrong-token" --registration "$REG4:6638" 2>&1)
rc=$?
check_eq "piasctl target join exits 1" 1 "$rc"
case $out in *"bad token"*) ok "it says why: bad token" ;; *) fail "no clear error: $out" ;; esac
check_eq "JAP 2 counted the refusal" 1 "$(ctl 2 show counters --json | jq_py 'd["piasd"]["reg_bad_token"]')"
check_eq "and registered nothing" 0 "$(ctl 2 show targets --json | jq_py 'len(d)')"

echo "-- overlay key rotation without a restart"
new=$("$PIASCTL" keyring --id 2 | sed -n 's/^2 = //p')
old=$(sed -n 's/^1 = //p' "$KEYDIR/overlay.keys")
reload_all() {
	local n
	for n in 1 2 3 4 5; do ctl "$n" keys reload >/dev/null || fail "keys reload on $n"; done
}
# queries all through the rotation: tunnel tags change with the send key,
# and no packet between proxies may be refused for it
(for _ in $(seq 40); do udp_ask; echo; sleep 0.1; done) >"$KEYDIR/rotation.answers" 2>/dev/null &
asker=$!
sleep 0.5
printf '[keys]\n1 = %s\n2 = %s\nsend = 1\n' "$old" "$new" >"$KEYDIR/overlay.keys"
reload_all
printf '[keys]\n1 = %s\n2 = %s\nsend = 2\n' "$old" "$new" >"$KEYDIR/overlay.keys"
reload_all
sleep 1
printf '[keys]\n2 = %s\nsend = 2\n' "$new" >"$KEYDIR/overlay.keys"
reload_all
sleep 1.5
check_eq "all five still see 5 alive after the rotation" 5 "$(ctl 4 show status --json | jq_py 'd["proxies_alive"]')"
check_eq "proxy 4 sends with key 2" 2 "$(ctl 4 show status --json | jq_py 'd["send_key"]')"
bad=0
for n in 1 2 3 4 5; do
	bad=$((bad + $(ctl "$n" show counters --json | jq_py 'd["piasd"]["rx_bad_mac"] + d["piasd"]["rx_unknown_key"]')))
done
check_eq "no datagram was refused during the rotation" 0 "$bad"
wait "$asker"
check_eq "40 queries during the rotation: all answered" 40 "$(grep -c pong-from-tg3 "$KEYDIR/rotation.answers")"
bad=0
for n in 1 2 3 4 5; do
	bad=$((bad + $(ctl "$n" show counters --json | jq_py 'd["drops"]["tunnel_bad_tag"]')))
done
check_eq "no tunnel packet refused for its tag during the rotation" 0 "$bad"
check_eq "and the client still gets answers" pong-from-tg3 "$(udp_ask)"

echo "-- operator actions: drain, flush bindings, withdraw"
ctl 3 drain "udp:$ANY4:$UDP_PORT" "${TG4[tg3]}:$UDP_PORT" >/dev/null
check_eq "drained target is draining" draining "$(ctl 3 show targets --json | jq_py 'd[0]["state"]')"
ctl 1 flush bindings >/dev/null
check_eq "flush leaves no binding" 0 "$(ctl 1 show bindings --json | jq_py 'len(d)')"
ctl 5 withdraw >/dev/null
left_at() { ctl "$1" show proxies --json | jq_py '[m["state"] for m in d if m["id"]==5][0]' | grep -qx left; }
all_left() { local n; for n in 1 2 3 4; do left_at "$n" || return 1; done; }
if wait_for 5 all_left; then ok "the others see proxy 5 as left"; else fail "withdrawal not seen"; fi
if wait_for 3 is_last 5 withdraw; then ok "proxy 5 withdrew its anycast announcement"; else fail "proxy 5 still announces"; fi
no5() { ctl 1 show ring --json | jq_py '[p["id"] for p in d["proxies"]]' | grep -qv 5; }
if wait_for 3 no5; then ok "proxy 5 is off the ring"; else fail "proxy 5 still on the ring"; fi

echo "-- a proxy is killed; the others agree it is dead"
t0=$(now_ms)
kill -9 "${PIASD_PID[4]}"
wait "${PIASD_PID[4]}" 2>/dev/null
unset "PIASD_PID[4]"
dead_at() { ctl "$1" show proxies --json | jq_py '[m["state"] for m in d if m["id"]==4][0]' | grep -qx dead; }
all_dead() { local n; for n in 1 2 3; do dead_at "$n" || return 1; done; }
if wait_for 5 all_dead; then
	worst=0
	for n in 1 2 3; do
		t=$(($(log_ms "$KEYDIR/piasd-$n.log" "proxy 4 down") - t0))
		[ "$t" -gt "$worst" ] && worst=$t
	done
	ok "proxies 1-3 declared proxy 4 dead, the last after $worst ms"
else
	fail "proxy 4 not declared dead everywhere"
fi

echo "-- piasd stopped cleanly withdraws the announcement on its way out"
kill -TERM "${PIASD_PID[3]}"
wait "${PIASD_PID[3]}" 2>/dev/null
unset "PIASD_PID[3]"
check_eq "proxy 3's last word to BGP" withdraw "$(last_announce 3)"

pias_summary
