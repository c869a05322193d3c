#!/usr/bin/env bash
# make fuzz: runs each libFuzzer harness (fuzz/fuzz_NAME.c) for FUZZ_TIME
# seconds from its corpus in the tree (fuzz/corpus/NAME, only read: what a
# run finds goes to $BUILD/fuzz/found/NAME). A crash, a leak, a sanitizer
# report or a broken FUZZ_CHECK fails the run; the input is kept as
# $BUILD/fuzz/crash-NAME-* and the end of the log is printed.
# Usage: BUILD=build-fuzz FUZZ_TIME=30 bash fuzz/run.sh NAME...
set -u
cd "$(dirname "$0")/.." || exit 1
: "${BUILD:?}" "${FUZZ_TIME:=30}"
failed=0
for name in "$@"; do
	# absolute: a harness may chdir (reg_file does, to its token directory)
	bin="$PWD/$BUILD/fuzz/fuzz_$name"
	found="$PWD/$BUILD/fuzz/found/$name"
	log="$BUILD/fuzz/$name.log"
	mkdir -p "$found"
	start=$(date +%s)
	"$bin" -max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$PWD/$BUILD/fuzz/crash-$name-" "$found" "$PWD/fuzz/corpus/$name" \
		</dev/null >"$log" 2>&1
	rc=$?
	runs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	if [ $rc -ne 0 ]; then
		echo "=== fuzz $name: FAILED (exit $rc) after $(($(date +%s) - start)) s"
		grep -v '^#[0-9]' "$log" | tail -40
		failed=$((failed + 1))
	else
		echo "=== fuzz $name: ${runs:-?} inputs in $(($(date +%s) - start)) s, ${cov:-cov: ?}, no failure"
	fi
done
exit $failed
