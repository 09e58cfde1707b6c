#!/usr/bin/env bash
# run.sh BUILD: every unit test binary in BUILD/tests/unit, plus the exported
# symbol check; one total line at the end.
set -uo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0

count() { # parse "name: N passed, M failed" lines from a test's output
	local line
	line=$(grep -E '^[a-z_-]+: [0-9]+ passed, [0-9]+ failed' <<<"$1" | tail -1)
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
	failed=$((failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
}

for t in "$build"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	log="$build/tests/unit/$(basename "$t").log"
	out=$("$t" 2>"$log") || cat "$log"
	echo "$out" | sed 's/^/  /'
	count "$out"
done
[ -e "$build/libkrun.so.1" ] && { out=$("$here/check-symbols.sh" "$build"); echo "$out" | sed 's/^/  /'; count "$out"; }
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
