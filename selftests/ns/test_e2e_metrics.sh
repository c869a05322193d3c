#!/usr/bin/env bash
# End to end, Prometheus metrics (docs/metrics.md; lab/e2e-metrics.ini:
# [lab] metrics = 9469, so every proxy's piasd serves /metrics on its own
# address): the real Prometheus server (Debian's) runs in cl2 and scrapes
# the three proxies every second. Then 200 DNS queries and 50 HTTP
# requests from cl1 (IAP p1, JAP p2, target t1), and Prometheus's HTTP API
# is asked for the series they moved: the groups' packets at p1 as IAP
# and at p2 as JAP, t1's packets and new flows at p2, no drop anywhere,
# each proxy seeing the other two alive, every scrape up.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=selftests/ns/lib.sh
. selftests/ns/lib.sh
# shellcheck source=selftests/ns/e2e_lib.sh
. selftests/ns/e2e_lib.sh

need_root
for tool in prometheus curl; do
	if ! command -v $tool >/dev/null; then
		echo "SKIP: $tool is not installed (make deps installs it)"
		exit 77
	fi
done
e2e_init e2em
ANY4=203.0.113.10
DNS=udp:$ANY4:53
WEB=tcp:$ANY4:80
NQ=200
NH=50

e2e_up lab/e2e-metrics.ini
status
check_eq "cl1 enters at p1" p1 "$(enters cl1 4)"
PORT=$(st "d['metrics_port']")
check_eq "the lab's metrics port" 9469 "$PORT"
declare -A INST
for p in p1 p2 p3; do INST[$p]="$(addr $p 4):$PORT"; done

echo "-- Prometheus in cl2 scrapes every proxy each second"
cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pias
    static_configs:
      - targets: ['${INST[p1]}', '${INST[p2]}', '${INST[p3]}']
YML
# nsenter directly: $! is Prometheus itself, killed at the end
e2e_bg prom nsenter --net="/run/netns/pias-$LAB-cl2" prometheus \
	--config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
	--web.listen-address=127.0.0.1:9090 --log.level=warn >"$TMP/prometheus.log" 2>&1
# api PATH: Prometheus's HTTP API from cl2 (JSON)
api() { x cl2 curl -s -m 3 "http://127.0.0.1:9090/api/v1/$1"; }
# q PROMQL: the value of an instant query with one result, else "none"
q() {
	x cl2 curl -s -m 3 -G --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query |
		js "d['data']['result'][0]['value'][1] if len(d['data']['result']) == 1 else 'none'"
}
all_up() { [ "$(q 'sum(up{job="pias"})')" = 3 ]; }
if wait_for 30 all_up; then
	ok "Prometheus scrapes p1, p2 and p3 (up = 1 for each)"
else
	fail "targets not all up: $(api targets | head -c 600); log: $(tail -5 "$TMP/prometheus.log")"
	e2e_done
	exit 1
fi
# the series of proxy P
at() { echo "instance=\"${INST[$1]}\""; }
for p in p1 p2 p3; do
	check_eq "$p sees 3 proxies alive (pias_proxies), is serving" "3 1" \
		"$(q "pias_proxies{$(at $p),state=\"alive\"}") $(q "pias_serving{$(at $p)}")"
done

echo "-- $NQ DNS queries and $NH HTTP requests from cl1 move their series"
# the last scraped value of a series (0 if it does not exist yet)
v() { local r; r=$(q "$1"); [ "$r" = none ] && echo 0 || echo "$r"; }
S_IAP_DNS="pias_group_packets_total{$(at p1),ta=\"$DNS\",role=\"iap\"}"
S_JAP_DNS="pias_group_packets_total{$(at p2),ta=\"$DNS\",role=\"jap\"}"
S_JAP_WEB="pias_group_packets_total{$(at p2),ta=\"$WEB\",role=\"jap\"}"
S_TGT="pias_target_packets_total{$(at p2),ta=\"$DNS\"}"
S_NEW="pias_target_new_flows_total{$(at p2),ta=\"$DNS\"}"
S_REV="pias_group_packets_total{$(at p2),ta=\"$DNS\",role=\"reverse\"}"
S_RAP="sum(pias_group_packets_total{ta=\"$DNS\",role=\"rap\"})"
b_iap=$(v "$S_IAP_DNS") b_jap=$(v "$S_JAP_DNS") b_web=$(v "$S_JAP_WEB") b_tgt=$(v "$S_TGT")
b_new=$(v "$S_NEW") b_rev=$(v "$S_REV") b_rap=$(v "$S_RAP")
# source ports 40000-40199: each query a flow of its own (the kernel's
# choice may reuse a port whose flow is still live, which is no new flow)
answered=$(py cl1 query $ANY4 53 --n $NQ --sport 40000 | js "d['answered']")
check_eq "$NQ queries from fresh sockets (distinct ports) answered" $NQ "$answered"
http=$(py cl1 query $ANY4 80 --tcp --n $NH | js "d['answered']")
check_eq "$NH HTTP requests answered" $NH "$http"
# two scrapes later every count is in
moved() { [ "$(($(v "$S_JAP_WEB") - b_web))" -ge $((NH * 3)) ] && [ "$(($(v "$S_JAP_DNS") - b_jap))" -ge $NQ ]; }
wait_for 10 moved || true
d_iap=$(($(v "$S_IAP_DNS") - b_iap)) d_jap=$(($(v "$S_JAP_DNS") - b_jap)) d_web=$(($(v "$S_JAP_WEB") - b_web))
d_tgt=$(($(v "$S_TGT") - b_tgt)) d_new=$(($(v "$S_NEW") - b_new)) d_rev=$(($(v "$S_REV") - b_rev))
d_rap=$(($(v "$S_RAP") - b_rap))
figure "through Prometheus: DNS at p1 as IAP +$d_iap, relayed by a RAP +$d_rap, at p2 as JAP +$d_jap, t1 +$d_tgt packets and +$d_new new flows, replies +$d_rev; HTTP at p2 as JAP +$d_web packets"
# a first packet that goes to the RAP before p1 has the group's binding
# counts at the RAP (role rap), not at p1
check_ge "p1 as IAP and the RAP: the DNS group's packets (pias_group_packets_total, roles iap + rap)" \
	$NQ $((d_iap + d_rap))
check_ge "  most of them at p1 as IAP" $((NQ / 2)) "$d_iap"
check_ge "p2 as JAP: the DNS group's packets (role jap)" $NQ "$d_jap"
check_ge "p2: t1's packets (pias_target_packets_total)" $NQ "$d_tgt"
check_ge "p2: t1's new flows, one a query (pias_target_new_flows_total)" $NQ "$d_new"
check_ge "p2: the replies sent back (role reverse)" $NQ "$d_rev"
check_ge "p2 as JAP: the web group's packets, at least 3 a request" $((NH * 3)) "$d_web"
check_eq "no packet dropped anywhere for want of a NAT port or a target" "0" \
	"$(q 'sum(pias_dataplane_drops_total{reason=~"nat_no_port|jap_no_target"})')"
check_eq "p2: t1's two registrations (DNS, web) active, its NAT ports known" "2 16384" \
	"$(q "sum(pias_target_state{$(at p2),state=\"active\"})") $(q "pias_target_nat_ports{$(at p2),ta=\"$DNS\"}")"
check_eq "every scrape answered in time (scrape_samples_scraped > 0 for each)" 3 \
	"$(q 'count(scrape_samples_scraped{job="pias"} > 0)')"

echo "-- the Grafana dashboard's queries (dist/grafana/pias-dashboard.json), run by Prometheus"
# each expression with \$job as the scrape job: valid PromQL (status
# success), and series behind each (its metric names scraped)
"$E2E_PY" -c '
import json, sys
for p in json.load(open(sys.argv[1]))["panels"]:
    for t in p["targets"]:
        print(t["expr"].replace("$job", "pias"))' dist/grafana/pias-dashboard.json >"$TMP/exprs"
bad=0 empty=""
while read -r e; do
	r=$(x cl2 curl -s -m 3 -G --data-urlencode "query=$e" http://127.0.0.1:9090/api/v1/query)
	[ "$(js "d['status']" <<<"$r")" = success ] || { bad=$((bad + 1)); echo "  ..   not valid: $e: $r"; }
	[ "$(js "len(d['data']['result'])" <<<"$r" 2>/dev/null)" = 0 ] && empty="$empty; $e"
done <"$TMP/exprs"
check_eq "$(wc -l <"$TMP/exprs") expressions, every one valid PromQL" 0 $bad
# the drops panel shows rates above 0 only, and nothing dropped here
check_eq "every expression has series now but the drops panel's (nothing dropped)" \
	'; sum by (reason) (rate(pias_dataplane_drops_total{job="pias"}[5m])) > 0' "$empty"
names=$(grep -o 'pias_[a-z0-9_]*' "$TMP/exprs" | sort -u)
missing=""
for n in $names; do
	[ "$(q "count($n)")" = none ] && missing="$missing $n"
done
check_eq "every metric the dashboard names is scraped" "" "$missing"
e2e_done
