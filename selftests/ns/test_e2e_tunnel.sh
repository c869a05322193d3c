#!/usr/bin/env bash
# End to end, tunnel mode to targets (issue 9; lab/e2e-tunnel.ini: cl1
# enters at p1; t1, t2 and t3 serve DNS and HTTP behind JAP p2, t1 in
# tunnel mode, t2 and t3 in NAT mode):
#   - one group, both modes: every query and connection answered, by all
#     three targets;
#   - unbound's and nginx's logs on t1 name the client's own IPv4 and IPv6
#     address, while dig and curl see the anycast address answer;
#   - t1's program drops, and counts, a tunnel packet that is not from its
#     JAP, one from the JAP's address without the TA's tag, and a plain
#     packet to the anycast address that bypassed the JAP;
#   - p2 drops, and counts, tunnel packets forged with p1's address;
#   - a 16 MiB download from t1 (TCP segmentation through the wrapping);
#   - kill -9 of t1's agent leaves its program, pins and addresses in
#     place; a start after it sets up once, and serves; a leave removes
#     the program, its pins and the anycast addresses;
#   - t1's death (every process killed with -9) is detected as fast as a
#     NAT target's (t2), and new flows avoid it within a second.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh
# shellcheck source=selftests/ns/e2e_lib.sh
. selftests/ns/e2e_lib.sh

need_root
for tool in dig curl tc bpftool; do
	if ! command -v $tool >/dev/null; then
		echo "SKIP: $tool is not installed (make deps installs it)"
		exit 77
	fi
done
e2e_init e2et
ANY4=203.0.113.10
ANY6=2001:db8:a::10

e2e_up lab/e2e-tunnel.ini
status
check_eq "cl1 enters at p1" p1 "$(enters cl1 4)"
CL4=$(addr cl1 4) CL6=$(addr cl1 6)
T1IF=$(st "list(d['nodes']['t1']['interfaces'])[0]")
TTPIN=/sys/fs/bpf/pias-$LAB-t1-tt/$T1IF
# modes NODE: the modes of the registrations at p2 whose endpoint is NODE's
modes() {
	ctl p2 show targets --json | js "' '.join(sorted(t['mode'] for t in d if t['endpoint'] in ('$(addr "$1" 4):53', '$(addr "$1" 4):80', '[$(addr "$1" 6)]:53', '[$(addr "$1" 6)]:80')))"
}
check_eq "t1's four registrations at p2 are in tunnel mode" "tunnel tunnel tunnel tunnel" "$(modes t1)"
check_eq "t2's are in NAT mode" "nat nat nat nat" "$(modes t2)"

# ttstat NAME: a counter of t1's program, summed over CPUs (bpftool, as an operator would)
ttstat() {
	bpftool -j map dump pinned "$TTPIN/pias_tt_stats" |
		js "sum(v['value']['$1'] for e in d for v in e['formatted']['values'])"
}

echo "-- one group, both modes: new flows answered by all three targets"
for a in $ANY4 $ANY6; do
	r=$(py cl1 query "$a" 53 --n 300)
	check_eq "300 DNS queries to $a, each from a new socket: all answered" 300 "$(js "d['answered']" <<<"$r")"
	check_eq "  by t1, t2 and t3" "t1 t2 t3" "$(js "' '.join(sorted(d['by']))" <<<"$r")"
	r=$(py cl1 query "$a" 80 --tcp --n 150)
	check_eq "150 HTTP connections to $a: all answered" 150 "$(js "d['answered']" <<<"$r")"
	check_eq "  by t1, t2 and t3" "t1 t2 t3" "$(js "' '.join(sorted(d['by']))" <<<"$r")"
done

echo "-- t1 sees the client's own address; the client sees the anycast address"
# dig and curl drop answers from any other source than the one they asked
dig_t1() { [ "$(x cl1 dig +short +tries=1 +time=1 @"$1" whoami.example TXT)" = '"t1"' ]; }
curl_t1() { [ "$(x cl1 curl -s -m 2 "http://$1/")" = t1 ]; }
for a in $ANY4 $ANY6; do
	u=$a
	[ "$a" = $ANY6 ] && u="[$a]"
	if wait_for 10 dig_t1 "$a"; then ok "dig @$a answered by t1"; else fail "dig @$a never answered by t1"; fi
	if wait_for 10 curl_t1 "$u"; then ok "curl http://$u/ answered by t1"; else fail "curl http://$u/ never answered by t1"; fi
done
logs() { # logs FILE: which of cl1's addresses and p2's appear in t1's FILE
	local f=$STATE/t1/$1 p24 p26
	p24=$(addr p2 4) p26=$(addr p2 6)
	echo "$(grep -c " $CL4 \|^$CL4 " "$f") $(grep -c " $CL6 \|^$CL6 " "$f") $(grep -c "$p24\|$p26" "$f")"
}
read -r q4 q6 qp <<<"$(logs queries.log)"
check_eq "unbound's log on t1 names cl1's IPv4 and IPv6 address, never p2's" "True True 0" \
	"$([ "$q4" -gt 0 ] && echo True || echo False) $([ "$q6" -gt 0 ] && echo True || echo False) $qp"
read -r a4 a6 ap <<<"$(logs access.log)"
check_eq "nginx's access log on t1 names cl1's IPv4 and IPv6 address, never p2's" "True True 0" \
	"$([ "$a4" -gt 0 ] && echo True || echo False) $([ "$a6" -gt 0 ] && echo True || echo False) $ap"
echo "  ..   t1's logs: $q4 queries from $CL4 and $q6 from $CL6; $a4 requests from $CL4 and $a6 from $CL6"
snap "$TMP/s1" p1 p2 p3
check_ge "p2 wrapped client packets to t1 (jap_tunnel_sent)" 1 "$(jp "$TMP/s1" "d['p2']['jap_tunnel_sent']")"
check_ge "p2 unwrapped t1's replies (jap_tunnel_reply)" 1 "$(jp "$TMP/s1" "d['p2']['jap_tunnel_reply']")"
check_eq "no tunnel packet refused at p2 (tunnel_not_target, tunnel_not_proxy)" "0 0" \
	"$(jp "$TMP/s1" "d['p2']['tunnel_not_target'], d['p2']['tunnel_not_proxy']" | tr -d '(),')"
check_ge "t1's program unwrapped (decap)" 1 "$(ttstat decap)"
check_ge "t1's program wrapped replies (encap)" 1 "$(ttstat encap)"
check_eq "t1's program dropped nothing yet" "0 0 0 0 0 0" \
	"$(for c in drop_not_jap drop_bad_tag drop_not_served drop_bad_header drop_not_tunnelled drop_too_big; do ttstat $c; done | tr '\n' ' ' | sed 's/ $//')"

echo "-- packets that did not come through the JAP are dropped at t1"
T14=$(addr t1 4)
before=$(ttstat drop_not_jap)
# a well-formed kind 5 packet to t1's tunnel port, from cl1 instead of p2
x cl1 "$E2E_PY" -c '
import socket, struct, sys
any4, t1 = sys.argv[1], sys.argv[2]
q = struct.pack("!HHHHHH", 7, 0x100, 1, 0, 0, 0) + b"\x06whoami\x07example\x00\x00\x10\x00\x01"
udp = struct.pack("!HHHH", 40000, 53, 8 + len(q), 0) + q
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                 socket.inet_aton("192.0.2.2"), socket.inet_aton(any4))
s = sum(struct.unpack("!10H", ip))
s = (s & 0xffff) + (s >> 16)
ip = ip[:10] + struct.pack("!H", ~((s & 0xffff) + (s >> 16)) & 0xffff) + ip[12:]
hdr = struct.pack("!BBBBII", 2, 5, 0, 1, 1, 0) + bytes(8)
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as so:
    for _ in range(5):
        so.sendto(hdr + ip + udp, (t1, 6637))
' $ANY4 "$T14"
wait_for 3 test "$(ttstat drop_not_jap)" -ge $((before + 5))
check_eq "5 kind 5 packets from cl1 (not t1's JAP): dropped as drop_not_jap" 5 $(($(ttstat drop_not_jap) - before))
# the same with p2's address as source (a raw socket: anyone can), and tags guessed
before=$(ttstat drop_bad_tag)
x cl1 "$E2E_PY" -c '
import os, socket, struct, sys
any4, t1, p2 = sys.argv[1:4]
def ip4(src, dst, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, 17, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    s = sum(struct.unpack("!10H", h))
    s = (s & 0xffff) + (s >> 16)
    return h[:10] + struct.pack("!H", ~((s & 0xffff) + (s >> 16)) & 0xffff) + h[12:] + payload
q = struct.pack("!HHHHHH", 7, 0x100, 1, 0, 0, 0) + b"\x06whoami\x07example\x00\x00\x10\x00\x01"
inner = ip4("192.0.2.2", any4, struct.pack("!HHHH", 40000, 53, 8 + len(q), 0) + q)
with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as so:
    for _ in range(50):
        hdr = struct.pack("!BBBBII", 2, 5, 0, 1, 1, 0) + os.urandom(8)
        udp = struct.pack("!HHHH", 0xc123, 6637, 8 + len(hdr) + len(inner), 0) + hdr + inner
        so.sendto(ip4(p2, t1, udp), (t1, 0))
' $ANY4 "$T14" "$(addr p2 4)"
wait_for 3 test "$(ttstat drop_bad_tag)" -ge $((before + 50))
check_eq "50 kind 5 packets from cl1 with p2's address, tags guessed: dropped as drop_bad_tag" 50 \
	$(($(ttstat drop_bad_tag) - before))
# a plain query to the anycast address straight at t1, from its router r2
R2T1=$(st "d['nodes']['r2']['interfaces']['t1']['ipv4'].split('/')[0]")
before=$(ttstat drop_not_tunnelled)
x r2 ip rule add from "$R2T1" lookup 7474 pref 7474
x r2 ip route add $ANY4/32 via "$T14" table 7474
x r2 dig +tries=1 +time=1 -b "$R2T1" @$ANY4 whoami.example TXT >/dev/null 2>&1
x r2 ip route del $ANY4/32 via "$T14" table 7474
x r2 ip rule del from "$R2T1" lookup 7474 pref 7474
check_eq "a plain query to $ANY4 routed straight to t1: dropped as drop_not_tunnelled" 1 \
	$(($(ttstat drop_not_tunnelled) - before))

echo "-- tunnel packets forged with a proxy's address are dropped at the JAP"
# cl1 sends p2 what p1 would (kind 3, a DNS query for the group), with p1's
# address as source, as a blind spoofer anywhere could; its tags are guesses
P14=$(addr p1 4) P24=$(addr p2 4)
snap "$TMP/f0" p2
x cl1 "$E2E_PY" -c '
import os, socket, struct, sys
any4, cl, p1, p2 = sys.argv[1:5]
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16)
    return ~((s & 0xffff) + (s >> 16)) & 0xffff
def ip4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload
with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as so:
    for i in range(200):
        q = struct.pack("!HHHHHH", i, 0x100, 1, 0, 0, 0) + b"\x06whoami\x07example\x00\x00\x10\x00\x01"
        inner = ip4(cl, any4, 17, struct.pack("!HHHH", 41000 + i, 53, 8 + len(q), 0) + q)
        # version 2, kind 3 (IAP to JAP), 1 hop, IAP id 1; 8 random bytes of tag
        hdr = struct.pack("!BBBBII", 2, 3, 0, 1, 1, 0) + os.urandom(8)
        udp = struct.pack("!HHHH", 0xc123, 6637, 8 + len(hdr) + len(inner), 0) + hdr + inner
        so.sendto(ip4(p1, p2, 17, udp), (p2, 0))
' $ANY4 "$CL4" "$P14" "$P24"
bad_tag() { snap "$TMP/f1" p2 && [ "$(jp "$TMP/f1" "d['p2']['tunnel_bad_tag']")" -ge $(($(jp "$TMP/f0" "d['p2']['tunnel_bad_tag']") + 200)) ]; }
wait_for 5 bad_tag
delta "$TMP/f0" "$TMP/f1"
check_eq "200 kind 3 packets from cl1 with p1's address and guessed tags: all dropped as tunnel_bad_tag" \
	200 "$(dv p2 tunnel_bad_tag)"
check_eq "  none of them reached a target (no new or known connection at p2)" 0 \
	$(($(dv p2 jap_new_conn) + $(dv p2 jap_conn_hit)))

echo "-- 16 MiB downloads: segments wrapped to fit the tunnel"
big_t1() { [ "$(grep -c 'GET /big.bin' "$STATE/t1/access.log")" -ge "$1" ]; }
n=0 bad=0
for _ in $(seq 12); do
	r=$(x cl1 curl -s -m 20 -o /dev/null -w '%{http_code} %{size_download}' "http://$ANY4/big.bin")
	[ "$r" = "200 16777216" ] || bad=$((bad + 1))
	n=$((n + 1))
	big_t1 1 && break
done
check_eq "downloads intact ($n), one of them from t1" "0 True" "$bad $(tf big_t1 1)"
check_eq "no reply too big for the tunnel at t1" 0 "$(ttstat drop_too_big)"

echo "-- t1's agent killed (-9) and started again"
status
apid=$(pid_of t1 agent)
read -r -a argv < <(tr '\0' ' ' <"/proc/$apid/cmdline")
filters() { # filters: our filters on t1's interface, ingress and egress
	echo "$(x t1 tc filter show dev "$T1IF" ingress | grep -c pias_tt_ingress) $(x t1 tc filter show dev "$T1IF" egress | grep -c pias_tt_egress)"
}
on_lo() { # on_lo: how often each anycast address is on t1's lo
	echo "$(x t1 ip -4 addr show dev lo | grep -c " $ANY4/32") $(x t1 ip -6 addr show dev lo | grep -c " $ANY6/128")"
}
check_eq "t1 set up: one filter each way, the anycast addresses on lo" "1 1 1 1" "$(filters) $(on_lo)"
kill -9 "$apid"
wait_for 3 sh -c "! kill -0 $apid 2>/dev/null"
check_eq "after kill -9: filters, addresses and pins stay (the program keeps serving)" "1 1 1 1 True" \
	"$(filters) $(on_lo) $(tf test -e "$TTPIN/pias_tt_svc")"
# agent AGENT_VAR LOG: t1's agent as the lab started it, in the background
agent() { e2e_bg "$1" bash -c 'exec "${@:2}" 2>"$1"' _ "$2" "${PL[@]}" exec t1 -- "${argv[@]}"; }
agent agent2 "$TMP/agent2.log"
wait_for 10 grep -q "all 4 registrations acknowledged" "$TMP/agent2.log"
sleep 1
check_eq "started again: still one filter each way, each address once on lo" "1 1 1 1" "$(filters) $(on_lo)"
if wait_for 10 dig_t1 $ANY4 && wait_for 10 curl_t1 $ANY4; then
	ok "t1 answers DNS and HTTP after the restart"
else
	fail "t1 answers DNS and HTTP after the restart"
fi
echo "-- a target's death: tunnel mode (t1) against NAT mode (t2)"
# down_ms NODE T0: ms from T0 (date +%s%N) until p2 holds NODE's four registrations down
down_ms() {
	local end=$(($(date +%s%N) + 5000000000))
	while [ "$(date +%s%N)" -lt $end ]; do
		if [ "$(ctl p2 show targets --json | js "' '.join(sorted(t['state'] for t in d if t['endpoint'].startswith(('$(addr "$1" 4):', '[$(addr "$1" 6)]:'))))")" = "down down down down" ]; then
			echo $((($(date +%s%N) - $2) / 1000000))
			return
		fi
		sleep 0.02
	done
	echo timeout
}
# death NODE: kill every process of NODE (-9) while cl1 probes; $TMP/NODE.down: ms until p2 knew
death() {
	local victim=$1 pids tk t0 r
	e2e_bg pu py cl1 probe $ANY4 53 --duration 3 >"$TMP/$victim-udp.json"
	e2e_bg pt py cl1 probe $ANY4 80 --tcp --duration 3 >"$TMP/$victim-tcp.json"
	sleep 0.8
	pids=$(ip netns pids "pias-$LAB-$victim")
	t0=$(date +%s%N)
	# shellcheck disable=SC2086
	kill -9 $pids 2>/dev/null
	tk=$(now) # dead from here on: a probe answered while the signals went out is no failure
	down_ms "$victim" "$t0" >"$TMP/$victim.down"
	wait "$pu" "$pt"
	r=$("$E2E_PY" "$E2E" outage "$TMP/$victim-udp.json" "$tk")
	check_eq "$victim: every new UDP flow sent 1 s after the kill or later answered, none by $victim" "True 0" \
		"$(js "d['last_fail_ms'] is None or d['last_fail_ms'] < 1000, d['after'].get('$victim', 0)" <<<"$r" | tr -d '(),')"
	r=$("$E2E_PY" "$E2E" outage "$TMP/$victim-tcp.json" "$tk")
	check_eq "$victim: every new TCP connection 1 s after the kill or later answered, none by $victim" "True 0" \
		"$(js "d['last_fail_ms'] is None or d['last_fail_ms'] < 1000, d['after'].get('$victim', 0)" <<<"$r" | tr -d '(),')"
}
death t1
death t2
ms1=$(cat "$TMP/t1.down") ms2=$(cat "$TMP/t2.down")
check_eq "p2 found both dead" "True True" "$([ "$ms1" != timeout ] && echo True || echo False) $([ "$ms2" != timeout ] && echo True || echo False)"
if [ "$ms1" != timeout ] && [ "$ms2" != timeout ]; then
	# both are found by the same refresh timeout (900 ms) and 100 ms ticks
	check_eq "tunnel-mode t1 found dead as fast as NAT t2 (within 300 ms of it)" True \
		"$([ "$ms1" -le $((ms2 + 300)) ] && echo True || echo False)"
fi
figure "target death detected at the JAP: tunnel mode ${ms1} ms, NAT mode ${ms2} ms after kill -9 (refresh timeout 900 ms)"

echo "-- after its death: t1's agent started again cleans up, then leaves"
check_eq "the killed agent left its filters, addresses and pins" "1 1 1 1 True" \
	"$(filters) $(on_lo) $(tf test -e "$TTPIN/pias_tt_svc")"
agent agent3 "$TMP/agent3.log"
wait_for 10 grep -q "all 4 registrations acknowledged" "$TMP/agent3.log"
check_eq "started again: one filter each way, each address once on lo" "1 1 1 1" "$(filters) $(on_lo)"
kill -TERM "$agent3"
wait_for 10 sh -c "! kill -0 $agent3 2>/dev/null"
check_eq "after leaving: no filter, no anycast address on lo, no pin" "0 0 0 0 False" \
	"$(filters) $(on_lo) $(tf test -e "$TTPIN")"
grep "tunnel mode:" "$TMP/agent3.log" | sed 's/^/  ..   agent: /'

e2e_done
