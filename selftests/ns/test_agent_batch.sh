#!/usr/bin/env bash
# Batch refresh and packed reports at a thousand groups: one agent
# (`piasctl target join --file`) keeps N registrations (AGENT_BATCH_N,
# default 1,000), each its own group (udp:203.0.113.10, ports 20001 and
# up), with JAP 3 of three proxies. Once all are acknowledged, the agent
# refreshes them in REG_BATCHes: about N/33 datagrams per refresh interval
# (300 ms) where a REGISTER each went before, counted in the target's
# namespace (UDP OutDatagrams); JAP 3 refreshes every one (its counters),
# refuses none, and after 10 s all N are still active. JAP 3's periodic
# re-report of its N groups to the other two RAPs goes in packed REPORTS,
# spread over the 10 s period: the RAPs count N reports each per period in
# far fewer messages.
. "$(dirname "$0")/topo_piasd.sh"

need_root
trap piasd_cleanup EXIT
NPROXIES=3
N=${AGENT_BATCH_N:-1000}
BASE=20000
topo_up
for n in 1 2 3; do piasd_start "$n" || fail "piasd $n did not start"; done
wait_for 10 all_alive 3 || fail "overlay did not converge"

echo "-- $N registrations from one agent in tg3"
regs=$KEYDIR/regs
for i in $(seq 1 "$N"); do
	port=$((BASE + i))
	"$PIASCTL" token --group-key-file "$KEYDIR/group.key" --ta "udp:$ANY4:$port" >"$KEYDIR/tok-$port"
	echo "udp:$ANY4:$port ${TG4[tg3]}:$port $KEYDIR/tok-$port"
done >"$regs"
nsenter --net="/run/netns/$(pias_ns tg3)" "$PIASCTL" target join --file "$regs" \
	--registration "$REG4:6638" >>"$KEYDIR/agent-batch.log" 2>&1 &
PIAS_PIDS+=($!)
active() { ctl 3 show targets --json | jq_py "sum(1 for t in d if t['state'] == 'active')"; }
all_active() { [ "$(active)" = "$N" ]; }
wait_for 30 all_active || fail "JAP 3 does not hold the $N registrations: $(active) active"
check_eq "the agent says all are acknowledged" 1 "$(grep -c "all $N registrations acknowledged" "$KEYDIR/agent-batch.log")"
sleep 2 # a few refresh rounds: the refreshes fall into step

# udp NS FIELD: that namespace's UDP counter so far (5 OutDatagrams, 6 RcvbufErrors)
udp() { in_ns "$1" awk -v f="$2" '/^Udp:/ && $2 ~ /^[0-9]/ { print $f }' /proc/net/snmp; }
# c N NAME: piasd counter NAME of proxy N
c() { ctl "$1" show counters --json | jq_py "d['piasd']['$2']"; }
snap() {
	echo "$(udp tg3 5) $(c 3 reg_batch_refreshed) $(c 3 reg_batch_refused) $(c 3 reg_accepted)" \
		"$(c 3 report_msgs_sent) $(c 1 reports_rcvd) $(c 2 reports_rcvd) $(date +%s%N)"
}

echo "-- batch refresh"
read -r d0 ok0 ref0 acc0 rm0 r10 r20 t0 <<<"$(snap)"
sleep 10
read -r d1 ok1 ref1 acc1 rm1 r11 r21 t1 <<<"$(snap)"
ms=$(((t1 - t0) / 1000000))
dps=$(((d1 - d0) * 1000 / ms))
rps=$(((ok1 - ok0) * 1000 / ms))
echo "  figure $N registrations kept by one agent: $dps datagrams/s from its namespace (a REGISTER each would be $((N * 1000 / 300))/s), $rps refreshes/s taken by JAP 3 in REG_BATCHes"
# one refresh per registration per 300 ms is N * 3.33 a second, a little less
# with 50 ms ticks (due at 300 ms, sent at the next tick)
check_ge "JAP 3 refreshed each registration about every 300 ms by batches" $((N * 5 / 2)) "$rps"
check_le "  in about N/33 datagrams a refresh interval (at most twice that)" $((2 * (N / 33 + 1) * 1000 / 300)) "$dps"
check_eq "  no entry refused" 0 $((ref1 - ref0))
check_le "  REGISTERs meanwhile: none but for trouble" $((N / 100)) $((acc1 - acc0))
check_eq "all $N still active" "$N" "$(active)"
check_eq "the agent lost none" 0 "$(grep -c "lost registration" "$KEYDIR/agent-batch.log")"
check_eq "  and dropped no answer (its socket's RcvbufErrors)" 0 "$(udp tg3 6)"

echo "-- JAP 3's periodic re-report of its $N groups"
msgs=$((rm1 - rm0))
reps=$((r11 - r10 + r21 - r20))
echo "  figure JAP 3 re-reported $N groups to 2 other RAPs in $ms ms: $reps reports in $msgs messages ($((msgs * 1000 / ms))/s; a REPORT each would be $((reps * 1000 / ms))/s)"
# every group to both other RAPs once a period (10 s), besides changes
check_ge "the RAPs heard every group about once a period" $((2 * N * 9 / 10)) "$reps"
check_le "  in packed REPORTS: at most a tenth as many messages" $((reps / 10)) "$msgs"
echo "-- REG_BATCH by hand: what a JAP takes and what it refuses"
# From tg3: a target of udp:ANY4:7777 registers (cookie round), then batches
# refresh it: a good one, its copy, a bad tag, an entry of another group
# (the agent's udp:ANY4:20001) tagged with this group's token, the datagram
# MACed with a wrong token, one for JAP 2, a malformed one.
other_id=$(ctl 3 show targets --json | jq_py "[t['id'] for t in d if t['ta'] == 'udp:$ANY4:$((BASE + 1))'][0]")
"$PIASCTL" token --group-key-file "$KEYDIR/group.key" --ta "udp:$ANY4:7777" >"$KEYDIR/token-7777"
read -r bt0 mal0 brs0 <<<"$(c 3 reg_bad_token) $(c 3 rx_malformed) $(c 3 reg_batch_refused)"
hand=$(nsenter --net="/run/netns/$(pias_ns tg3)" python3 - "$REG4" "$ANY4" "${TG4[tg3]}" \
	"$(cat "$KEYDIR/token-7777")" "$other_id" "$BASE" <<'PY'
import hashlib, hmac, json, socket, struct, sys, time
reg, any4, me, token = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4].strip())
other_id, base = int(sys.argv[5]), int(sys.argv[6])
def ta_of(port): return struct.pack("!BBH", 4, 17, port) + socket.inet_aton(any4) + bytes(12)
ta, other_ta = ta_of(7777), ta_of(base + 1)
def auth(key, b): return hmac.new(key, b, hashlib.sha512).digest()[:32]
def dgram(typ, seq, body, key=token):
    b = struct.pack("!BBHIIIQ", 1, typ, len(body), 0, 0, 0, seq) + body
    return b + auth(key, b)
def register(seq, cookie=bytes(16)):
    return dgram(32, seq, ta + struct.pack("!BBH", 4, 0, 7777) + socket.inet_aton(me) + bytes(12)
                 + struct.pack("!I", 1) + cookie + bytes(8))
def reg_of(t, port, addr):  # the registration as a tag covers it: weight 1, weighted, serial 0
    return t + struct.pack("!BBH", 4, 0, port) + socket.inet_aton(addr) + bytes(12) + struct.pack("!I", 1) + bytes(8)
def tag(seq, jap, tid, reg, key=token):
    return auth(key, b"PIAS batch v1" + struct.pack("!QII", seq, jap, tid) + reg)[:16]
def batch(seq, jap, entries, key=token, n=None):
    body = struct.pack("!IHH", jap, len(entries) if n is None else n, 0)
    body += b"".join(t + struct.pack("!I", tid) + tg for t, tid, tg in entries)
    return dgram(37, seq, body, key)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((me, 0))
s.settimeout(1.0)
def ask(d):
    s.sendto(d, (reg, 6638))
    try:
        return s.recv(2048)
    except socket.timeout:
        return None
out = {}
c = ask(register(time.time_ns()))
a = ask(register(time.time_ns(), c[24 + 32:24 + 48]))
jap, tid = struct.unpack("!II", a[24 + 20:24 + 28])
mine = reg_of(ta, 7777, me)
def answer(r, seq, tids):
    """statuses of a REG_BATCH_ACK, each checked against its tag (None: bad)"""
    if r is None or r[1] != 38:
        return None
    assert auth(token, r[:-32]) == r[-32:], "answer MAC"
    echo, refresh, n = struct.unpack("!QIH", r[24:38])
    assert echo == seq and n == len(tids)
    sts = []
    for i, (t, k) in enumerate(tids):
        st, tg = r[40 + 20 * i], r[44 + 20 * i:60 + 20 * i]
        want = auth(k, b"PIAS batch ack v1" + struct.pack("!QII", echo, jap, refresh) + t
                    + struct.pack("!IB", tid if t == ta else other_id, st))[:16]
        sts.append(st if tg == want else None)
    return sts
seq = time.time_ns()
good = batch(seq, jap, [(ta, tid, tag(seq, jap, tid, mine))])
r = ask(good)
out["good"] = answer(r, seq, [(ta, token)])
out["sizes"] = [len(good), len(r or b"")]
out["copy"] = answer(ask(good), seq, [(ta, token)])
seq = time.time_ns()
out["bad_tag"] = answer(ask(batch(seq, jap, [(ta, tid, bytes(16))])), seq, [(ta, token)])
seq = time.time_ns()
# entry 1 names the agent's target of another group with this group's token
cross = batch(seq, jap, [(ta, tid, tag(seq, jap, tid, mine)),
                         (other_ta, other_id, tag(seq, jap, other_id, reg_of(other_ta, base + 1, me)))])
r = ask(cross)
out["cross"] = [struct.unpack("!B", r[40 + 20 * i:41 + 20 * i])[0] for i in range(2)] if r else None
seq = time.time_ns()
out["wrong_key"] = ask(batch(seq, jap, [(ta, tid, tag(seq, jap, tid, mine))], key=bytes(32)))
seq = time.time_ns()
out["other_jap"] = ask(batch(seq, 2, [(ta, tid, tag(seq, 2, tid, mine))]))
seq = time.time_ns()
out["malformed"] = ask(batch(seq, jap, [(ta, tid, tag(seq, jap, tid, mine))], n=2))
print(json.dumps(out))
PY
)
echo "  ..   $hand"
hv() { echo "$hand" | jq_py "d['$1']"; }
check_eq "a good batch refreshes the target: OK, its tag verifies" "[1]" "$(hv good)"
check_le "  its answer is no larger than the batch" "$(echo "$hand" | jq_py "d['sizes'][0]")" \
	"$(echo "$hand" | jq_py "d['sizes'][1]")"
check_eq "its copy is stale" "[3]" "$(hv copy)"
check_eq "a bad tag: unknown, nothing refreshed" "[2]" "$(hv bad_tag)"
check_eq "another group's target tagged with this group's token: unknown (the first entry OK)" \
	"[1, 2]" "$(hv cross)"
check_eq "a MAC under a wrong token: no answer" None "$(hv wrong_key)"
check_eq "a batch for JAP 2: no answer" None "$(hv other_jap)"
check_eq "a malformed batch: no answer" None "$(hv malformed)"
check_eq "  counted: bad token, malformed, 3 entries refused" "1 1 3" \
	"$(($(c 3 reg_bad_token) - bt0)) $(($(c 3 rx_malformed) - mal0)) $(($(c 3 reg_batch_refused) - brs0))"
pias_summary
