#!/usr/bin/env bash
# bench/compare.sh BASE [ROUNDS] [SCENARIOS]: this tree's dataplane paths
# against those of git revision BASE, side by side: BASE is built in a
# temporary worktree, then pias-bench runs alternate between the two builds
# for ROUNDS rounds (default 3), each run on the same scenarios (default the
# hit paths: iap_flow_hit, jap_conn_hit, reverse). Since the machine's speed
# wanders between runs, each path is compared as its ratio to floor (b),
# measured in the same run: the table gives, per scenario and working set,
# the median over rounds of this build's ratio, BASE's, and this / BASE.
# `make bench-compare BASE=REV` runs it (root).
set -euo pipefail
cd "$(dirname "$0")/.."

base=${1:?usage: bench/compare.sh BASE [ROUNDS] [SCENARIOS]}
rounds=${2:-3}
only=${3:-iap_flow_hit,jap_conn_hit,reverse}
build=${BUILD:-build}
work=$(mktemp -d /tmp/pias-bench-base.XXXXXX)
trap 'git worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

rev=$(git rev-parse --short "$base")
echo "== building $base ($rev) in $work/tree"
git worktree add --detach "$work/tree" "$rev" >/dev/null
make -s -C "$work/tree" "BUILD=$work/build" "$work/build/pias-bench" >/dev/null
make -s "$build/pias-bench" >/dev/null

for r in $(seq "$rounds"); do
	# alternate which build goes first, so that neither always runs warmer
	if [ $((r % 2)) = 1 ]; then order="new base"; else order="base new"; fi
	for who in $order; do
		if [ "$who" = new ]; then bin=$build/pias-bench; else bin=$work/build/pias-bench; fi
		echo "== round $r: $who"
		"$bin" --only "$only" --json "$work/$who.$r.json" >/dev/null
	done
done

python3 - "$work" "$rounds" "$rev" <<'EOF'
import json, statistics, sys
work, rounds, rev = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def rows(who):
    out = {}
    for r in range(1, rounds + 1):
        for row in json.load(open(f"{work}/{who}.{r}.json"))["results"]:
            if row["scenario"] in ("reset_only", "floor_a", "floor_b"):
                continue
            if row.get("ok"):
                out.setdefault((row["scenario"], row["working_set"]), []).append(row["x_floor_b"])
    return out

new, base = rows("new"), rows("base")
print(f"\n{'scenario':<17} {'set':>6} {'this x b':>9} {rev + ' x b':>12} {'this/base':>10}")
for key in sorted(new):
    if key not in base:
        continue
    n, b = statistics.median(new[key]), statistics.median(base[key])
    print(f"{key[0]:<17} {key[1]:>6} {n:>9.2f} {b:>12.2f} {n / b:>10.3f}")
print(f"\nmedians over {rounds} rounds; x b: the path's ns/packet over floor (b)'s in the same run")
EOF
