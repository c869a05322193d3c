#!/usr/bin/env bash
# Runs every namespace test (selftests/ns/test_*.sh), or with an argument
# only those whose name (test_piasd, no .sh) matches it as a glob; each
# cleans up after itself. NS_SKIP: names not to run (make test: those that
# make test-asan ran with the sanitizer build). Exit status: number of
# failed tests (0: all passed).
cd "$(dirname "$0")/../.." || exit 1
export BUILD=${BUILD:-build}
failed=0
only=${1:-}
for t in selftests/ns/test_*.sh; do
	name=$(basename "$t" .sh)
	# shellcheck disable=SC2053 # a glob on purpose
	[ -n "$only" ] && [[ $name != $only ]] && continue
	if [[ " ${NS_SKIP:-} " == *" $name "* ]]; then
		echo "=== $t: not run (NS_SKIP: make test runs it in test-asan)"
		continue
	fi
	echo "=== $t"
	start=$(date +%s)
	timeout 600 bash "$t"
	rc=$?
	if [ $rc -eq 77 ]; then
		echo "=== $t: skipped"
	elif [ $rc -ne 0 ]; then
		echo "=== $t: FAILED (exit $rc) in $(($(date +%s) - start)) s"
		failed=$((failed + 1))
	else
		echo "=== $t: passed in $(($(date +%s) - start)) s"
	fi
done
exit $failed
