#!/usr/bin/env bash
# Namespace test of piasd's Prometheus endpoint ([metrics] listen;
# docs/metrics.md): three proxies with metrics on 127.0.0.1:9469 in their
# own namespaces, a target behind proxy 3, 50 UDP requests from the client
# through IAP 1. Every proxy's /metrics passes `promtool check metrics`
# (the Prometheus package's linter) and holds the series the requests
# moved: at the IAP its group's packets, at the JAP its target's packets
# and new flows, everywhere three proxies alive; piasd's counters agree
# with `piasctl show counters`; anything but GET /metrics is refused; the
# endpoint listens on the configured address only; a bad listen value is
# named with its line. And piasd's log targets: the journal's priority
# prefixes, syslog(3) (to a socat on /dev/log in a mount namespace).
. "$(dirname "$0")/topo_piasd.sh"

need_root
for tool in promtool curl; do
	if ! command -v $tool >/dev/null; then
		echo "SKIP: $tool is not installed (make deps installs it)"
		exit 77
	fi
done
trap piasd_cleanup EXIT
tf() { if "$@"; then echo True; else echo False; fi; }
NPROXIES=3
PIASD_CONF_EXTRA="[metrics]
listen = 127.0.0.1:9469"
N=50
topo_up
servers_up
for n in 1 2 3; do piasd_start "$n" || fail "piasd $n did not start"; done
if wait_for 10 all_alive 3; then ok "every proxy sees 3 alive"; else fail "overlay did not converge"; fi
agent_start tg3 udp $UDP_PORT
joined() { ctl 3 show targets --json | jq_py "len(d)" | grep -qx 1; }
wait_for 5 joined || fail "tg3 did not register at proxy 3"
answered=0
for _ in $(seq $N); do
	case $(udp_ask) in pong-from-tg3) answered=$((answered + 1)) ;; esac
done
check_eq "$N UDP requests through the overlay, all answered by tg3" $N $answered

# scrape N [PATH]: GET http://127.0.0.1:9469/PATH in proxy N's namespace
scrape() { in_ns "p$1" curl -s -m 3 "http://127.0.0.1:9469/${2:-metrics}"; }
# value N SERIES: the value of one series (name and labels exactly as exposed)
value() { scrape "$1" | awk -v s="$2" '$1 == s { print $2 }'; }
TA="udp:$ANY4:$UDP_PORT"
TG="${TG4[tg3]}:$UDP_PORT"

echo "-- every proxy's /metrics passes promtool"
for n in 1 2 3; do
	scrape $n >"$KEYDIR/metrics-$n"
	if lint=$(promtool check metrics <"$KEYDIR/metrics-$n" 2>&1); then
		ok "proxy $n: $(grep -c '^# TYPE' "$KEYDIR/metrics-$n") families, promtool check metrics clean"
	else
		fail "proxy $n: promtool check metrics: $lint"
	fi
	check_eq "  proxy $n: pias_info names it, 3 proxies alive" "1 3" \
		"$(value $n "pias_info{id=\"$n\"}") $(value $n 'pias_proxies{state="alive"}')"
done

echo "-- the series the requests moved"
# the first packet went to the RAP before the group had a counter slot here
check_ge "IAP 1: the group's packets at the IAP (pias_group_packets_total, role iap)" $((N - 1)) \
	"$(value 1 "pias_group_packets_total{ta=\"$TA\",role=\"iap\"}")"
check_ge "IAP 1: dataplane packets in (pias_dataplane_rx_packets_total)" $N \
	"$(value 1 pias_dataplane_rx_packets_total)"
check_ge "JAP 3: the target's packets (pias_target_packets_total)" $N \
	"$(value 3 "pias_target_packets_total{ta=\"$TA\",target=\"$TG\"}")"
check_ge "JAP 3: its replies sent on (pias_target_reply_packets_total)" $N \
	"$(value 3 "pias_target_reply_packets_total{ta=\"$TA\",target=\"$TG\"}")"
check_ge "JAP 3: its new flows (pias_target_new_flows_total)" 1 \
	"$(value 3 "pias_target_new_flows_total{ta=\"$TA\",target=\"$TG\"}")"
check_eq "JAP 3: the target active, 16,384 NAT ports, one group here" "1 16384 1" \
	"$(value 3 "pias_target_state{ta=\"$TA\",target=\"$TG\",state=\"active\"}") $(value 3 "pias_target_nat_ports{ta=\"$TA\",target=\"$TG\"}") $(value 3 pias_jap_groups)"
check_eq "IAP 1: one binding, bound" 1 "$(value 1 'pias_iap_bindings{state="bound"}')"
check_eq "no drop for lack of a NAT port anywhere" "0 0 0" \
	"$(for n in 1 2 3; do value $n 'pias_dataplane_drops_total{reason="nat_no_port"}'; done | tr '\n' ' ' | sed 's/ $//')"
# reg_accepted moves with every refresh: read between two piasctl readings
acc() { ctl 3 show counters --json | jq_py "d['piasd']['reg_accepted']"; }
a0=$(acc) m=$(value 3 pias_piasd_reg_accepted_total) a1=$(acc)
check_eq "piasd's counters agree with piasctl show counters (reg_accepted at JAP 3: $a0 <= $m <= $a1)" \
	True "$(tf test "$a0" -le "$m" -a "$m" -le "$a1")"

echo "-- HTTP: GET /metrics only, on the configured address only"
s0=$(value 2 pias_piasd_metrics_scrapes_total)
check_eq "a scrape counts (pias_piasd_metrics_scrapes_total)" $((s0 + 1)) "$(value 2 pias_piasd_metrics_scrapes_total)"
check_eq "GET / is 404" 404 "$(in_ns p2 curl -s -o /dev/null -m 3 -w '%{http_code}' http://127.0.0.1:9469/)"
check_eq "POST /metrics refused: 501 (not GET or HEAD), with a body 413" "501 413" \
	"$(in_ns p2 curl -s -o /dev/null -m 3 -w '%{http_code}' -X POST http://127.0.0.1:9469/metrics) $(in_ns p2 curl -s -o /dev/null -m 3 -w '%{http_code}' -X POST -d x http://127.0.0.1:9469/metrics)"
check_eq "nothing on the proxy's underlay address (198.51.100.2:9469)" 000 \
	"$(in_ns p2 curl -s -o /dev/null -m 3 -w '%{http_code}' http://198.51.100.2:9469/metrics)"
check_eq "Content-Type is the text format's" "text/plain; version=0.0.4; charset=utf-8" \
	"$(in_ns p2 curl -s -o /dev/null -m 3 -w '%{content_type}' http://127.0.0.1:9469/metrics)"

echo "-- malformed requests: refused, and piasd serves on"
# raw bytes at the endpoint (socat, bounded: 3 s each)
raw() { printf "$1" | in_ns p2 timeout 3 socat -t 2 - TCP:127.0.0.1:9469 2>/dev/null | head -c 200 | head -n 1 | tr -d '\r'; }
check_eq "a request line of garbage: 400" "HTTP/1.1 400 Bad Request" "$(raw 'GARBAGE\r\n\r\n')"
big=$(head -c 20000 /dev/zero | tr '\0' a)
# evhttp answers 400 or 413, or closes before the answer is read: never 200
r=$(raw "GET /metrics HTTP/1.1\r\nX: $big\r\n\r\n")
check_eq "a 20 KB header: refused (answer: '$r')" True "$(tf test -z "$(grep ' 200 ' <<<"$r")")"
check_eq "binary noise: no answer or an error, no crash" True \
	"$(tf test -z "$(raw '\x00\xff\x16\x03\x01\x02\x00\x01\x00\r\n\r\n' | grep ' 200 ')")"
# 20 connections that send half a request and wait: the 5 s timeout ends them
for _ in $(seq 20); do
	(printf 'GET /metr' | in_ns p2 timeout 8 socat -t 7 - TCP:127.0.0.1:9469 >/dev/null 2>&1 &)
done
sleep 1
check_eq "with 20 half requests open, a scrape is answered" 1 "$(value 2 "pias_info{id=\"2\"}")"
check_eq "piasd 2 still running" True "$(tf kill -0 "${PIASD_PID[2]}")"

echo "-- logging: --log-to journal and syslog, --log-level"
stop3() {
	kill -TERM "${PIASD_PID[3]}"
	wait "${PIASD_PID[3]}" 2>/dev/null
}
stop3
: >"$KEYDIR/piasd-3.log"
PIASD_LOG_ARGS="--log-to journal --log-level info" piasd_start 3 || fail "piasd 3 (journal) did not start"
if wait_for 5 grep -qx "<6>info: metrics on http://127.0.0.1:9469/metrics" "$KEYDIR/piasd-3.log"; then
	ok "journal: '<6>info: metrics on ...' (priority prefix, no time stamp)"
else
	fail "journal: $(head -3 "$KEYDIR/piasd-3.log")"
fi
check_eq "journal: every line '<N>level: ...', none of debug at level info" "0 0" \
	"$(grep -cEv '^<[3467]>(error|warning|info|debug): ' "$KEYDIR/piasd-3.log") $(grep -c '^<7>' "$KEYDIR/piasd-3.log")"
stop3
# syslog(3) writes to /dev/log: in a mount namespace of its own, piasd's
# /dev is a tmpfs where socat listens there
: >"$KEYDIR/piasd-3.log"
nsenter --net="/run/netns/$(pias_ns p3)" unshare -m --propagation private sh -c '
	mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 || exit 1
	socat -u UNIX-RECV:/dev/log "OPEN:$1,creat,append" &
	sleep 0.3
	exec "$2" --log-to syslog --config "$3"' _ "$KEYDIR/syslog.out" "$PIASD" "$KEYDIR/p3.conf" \
	>>"$KEYDIR/piasd-3.log" 2>&1 &
PIASD_PID[3]=$!
PIAS_PIDS+=($!)
# (socat writes the datagrams one after another, no newline between)
if wait_for 5 grep -qE "<30>[^<]* piasd\[[0-9]+\]: metrics on http://127.0.0.1:9469/metrics" "$KEYDIR/syslog.out"; then
	ok "syslog: '<30>... piasd[PID]: metrics on ...' (facility daemon, priority info)"
else
	fail "syslog: $(head -3 "$KEYDIR/syslog.out" 2>&1)"
fi
check_eq "syslog: nothing on stderr" 0 "$(wc -c <"$KEYDIR/piasd-3.log")"
stop3
pkill -f "OPEN:$KEYDIR/syslog.out" 2>/dev/null
# at level warning the start's info lines (metrics, running, joined) are left out
: >"$KEYDIR/piasd-3.log"
PIASD_LOG_ARGS="--log-to journal --log-level warning" piasd_start 3 || fail "piasd 3 (warning) did not start"
wait_for 5 all_alive 3 || fail "proxy 3 did not rejoin"
check_eq "--log-level warning: no info line (<6>) from a start that logs several" 0 \
	"$(grep -c '^<6>' "$KEYDIR/piasd-3.log")"
check_eq "a bad --log-level or --log-to: exit 2, named" "2 2" \
	"$("$PIASD" --log-level loud --config "$KEYDIR/p3.conf" 2>/dev/null; echo $?) $("$PIASD" --log-to file --config "$KEYDIR/p3.conf" 2>/dev/null; echo $?)"

echo "-- a bad listen value is named with its line"
for v in 127.0.0.1 127.0.0.1:0 localhost:9469 on; do
	sed "s|^listen = 127.0.0.1:9469$|listen = $v|" "$KEYDIR/p1.conf" >"$KEYDIR/bad.conf"
	line=$(grep -n "^listen = $v$" "$KEYDIR/bad.conf" | cut -d: -f1)
	out=$("$PIASD" --check-config "$KEYDIR/bad.conf" 2>&1)
	rc=$?
	case $out in
	*"bad.conf:$line: [metrics] listen"*) ok "listen = $v: exit $rc, '$out'" ;;
	*) fail "listen = $v: exit $rc, '$out'" ;;
	esac
done
pias_summary
