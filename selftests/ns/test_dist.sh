#!/usr/bin/env bash
# What dist/ ships, as an operator installs it: the example piasd.conf
# passes piasd --check-config; the BIRD snippet parses with the BGP
# protocol its comment shows; and piasd under systemd (dist/systemd/): the units pass
# `systemd-analyze verify`; piasd tells $NOTIFY_SOCKET READY=1 and its
# status, pings the watchdog from its event loop at half $WATCHDOG_USEC
# and stops pinging while it hangs (SIGSTOP), says STOPPING=1 on its way
# out; `piasd --withdraw FILE` (the unit's ExecStopPost) runs the
# announce_command's withdraw and exits with its status. The notify socket
# is a socat datagram listener, as systemd's would be.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/topo_piasd.sh
. selftests/ns/topo_piasd.sh

need_root
trap 'piasd_cleanup; pkill -f "UNIX-RECV:$KEYDIR/notify.sock" 2>/dev/null; rm -rf "${UNITS:-}"' EXIT
tf() { if "$@"; then echo True; else echo False; fi; }
NPROXIES=3 # the topology's; only 1 and 2 run

echo "-- the example configuration and the BIRD snippet"
EX=$(mktemp -d /tmp/pias-dist.XXXXXX)
"$PIASCTL" keyring --id 1 >"$EX/overlay.key"
sed "s|/etc/pias/overlay.key|$EX/overlay.key|" dist/piasd.conf >"$EX/piasd.conf"
out=$("$PIASD" --check-config "$EX/piasd.conf" 2>&1)
check_eq "dist/piasd.conf (its key file made): piasd --check-config exit 0" "0 True" \
	"$? $(tf grep -q ': OK (proxy 1' <<<"$out")"
if command -v bird >/dev/null; then
	printf 'router id 198.51.100.7;\nprotocol device {}\ninclude "%s";\n%s\n' \
		"$PWD/dist/bird/pias-anycast.conf" \
		'protocol bgp upstream { local as 65001; neighbor 198.51.100.1 as 64601;
		ipv4 { import all; export where proto = "pias_anycast4"; };
		ipv6 { import all; export where proto = "pias_anycast6"; }; }' >"$EX/bird.conf"
	out=$(bird -p -c "$EX/bird.conf" 2>&1)
	check_eq "dist/bird/pias-anycast.conf parses (bird -p), with the BGP export it shows" "0 ''" "$? '$out'"
else
	echo "  SKIP (this check): bird is not installed (make deps installs bird2)"
fi
out=$(dist/bird/pias-announce-bird /nonexistent.ctl sideways 2>&1)
check_eq "pias-announce-bird with a wrong verb: exit 2, usage" "2 True" "$? $(tf grep -q usage <<<"$out")"
rm -rf "$EX"

echo "-- the units"
if command -v systemd-analyze >/dev/null; then
	UNITS=$(mktemp -d /tmp/pias-units.XXXXXX)
	B=$(realpath "$BUILD")
	for f in dist/systemd/*.service; do
		# the installed paths, here the build's: verify wants the programs to exist
		sed -e "s|/usr/sbin/piasd-loader|$B/piasd-loader|g; s|/usr/sbin/piasd|$B/piasd|g" \
			-e "s|/usr/bin/piasctl|$B/piasctl|g" "$f" >"$UNITS/$(basename "$f")"
	done
	for u in piasd.service pias-dataplane@eth0.service pias-target@web.service; do
		out=$(cd "$UNITS" && systemd-analyze verify --man=no "$u" 2>&1)
		rc=$?
		check_eq "systemd-analyze verify $u: exit 0, nothing to say" "0 ''" "$rc '$out'"
	done
	printf '[Service]\nExecStart=%s/piasd\nWatchdogSecs=5\n' "$B" >"$UNITS/typo.service"
	out=$(cd "$UNITS" && systemd-analyze verify --man=no typo.service 2>&1)
	check_eq "a typo in a unit is reported (the check can fail)" True "$(tf grep -q WatchdogSecs <<<"$out")"
else
	echo "  SKIP (this section): systemd-analyze is not installed (make deps installs systemd)"
fi

echo "-- readiness, watchdog, stopping"
topo_up
piasd_start 2 || fail "piasd 2 did not start"
# notified FILE: the datagrams piasd sent, one after another
in_bg() { "$@" & PIAS_PIDS+=($!); }
in_bg socat -u "UNIX-RECV:$KEYDIR/notify.sock" "OPEN:$KEYDIR/notify.out,creat,append"
wait_for 2 test -S "$KEYDIR/notify.sock" || fail "no notify socket"
NOTIFY_SOCKET=$KEYDIR/notify.sock WATCHDOG_USEC=400000 piasd_start 1 || fail "piasd 1 did not start"
pings() { grep -o 'WATCHDOG=1' "$KEYDIR/notify.out" | wc -l; }
if wait_for 5 grep -q "READY=1" "$KEYDIR/notify.out"; then
	ok "READY=1 once piasd 1 is up, with 'STATUS=proxy 1 running, ...'"
	check_eq "  STATUS says who it is" True "$(tf grep -q 'STATUS=proxy 1 running' "$KEYDIR/notify.out")"
else
	fail "no READY=1: '$(cat "$KEYDIR/notify.out")'"
fi
p0=$(pings)
sleep 2
p1=$(pings)
check_ge "watchdog pings at half of 400 ms: at least 8 in 2 s" 8 $((p1 - p0))
kill -STOP "${PIASD_PID[1]}"
sleep 0.3
p2=$(pings)
sleep 1.5
p3=$(pings)
check_eq "a hung piasd (SIGSTOP) sends no ping for 1.5 s" 0 $((p3 - p2))
kill -CONT "${PIASD_PID[1]}"
sleep 1
check_ge "running again, it pings again" 2 $(($(pings) - p3))
kill -TERM "${PIASD_PID[1]}"
wait "${PIASD_PID[1]}" 2>/dev/null
check_eq "STOPPING=1 on the way out" True "$(tf grep -q 'STOPPING=1' "$KEYDIR/notify.out")"
# without NOTIFY_SOCKET nothing is sent and nothing fails: proxy 2 runs
check_eq "without systemd (proxy 2): running" True "$(tf kill -0 "${PIASD_PID[2]}")"

echo "-- piasd --withdraw FILE: the announce_command's withdraw, its status"
echo announce >"$KEYDIR/announce-1"
out=$("$PIASD" --withdraw "$KEYDIR/p1.conf" 2>&1)
check_eq "exit 0, quiet; the command got 'withdraw' (PIAS_PROXY_ID 1)" "0 '' withdraw" "$? '$out' $(last_announce 1)"
sed "s|^announce_command = .*|announce_command = /bin/false|" "$KEYDIR/p1.conf" >"$KEYDIR/false.conf"
out=$("$PIASD" --withdraw "$KEYDIR/false.conf" 2>&1)
check_eq "a failing command: exit 1, said" "1 True" "$? $(tf grep -q 'withdraw: exit status 1' <<<"$out")"
out=$("$PIASD" --withdraw /nonexistent.conf 2>&1)
check_eq "a missing file: exit 2, named" "2 True" "$? $(tf grep -q '/nonexistent.conf' <<<"$out")"
pias_summary
