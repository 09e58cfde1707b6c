#!/usr/bin/env bash
# run-all.sh BUILD: the whole test suite, as `make check` runs it. Prints each
# part's result and a final "N passed, N failed" line.
set -uo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0

tally() { # add up every "suite: N passed, M failed[, K skipped]" line of $1
	local line found=0
	while read -r line; do
		found=1
		passed=$((passed + $(sed -E 's/^[a-z-]+: ([0-9]+) passed.*/\1/' <<<"$line")))
		failed=$((failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
		if grep -q skipped <<<"$line"; then
			skipped=$((skipped + $(sed -E 's/.* ([0-9]+) skipped.*/\1/' <<<"$line")))
		fi
	done < <(grep -aE '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' <<<"$1")
	if [ $found -eq 0 ]; then
		echo "run-all: $2 printed no result line: counted as a failure"
		failed=$((failed + 1))
	fi
}

section() { echo; echo "=== $1"; }

section "unit tests (host)"
out=$("$here/unit/run.sh" "$build" 2>&1); echo "$out"; tally "$out" unit

section "host tests"
out=$("$here/integration/host-tests.sh" "$build" 2>&1); echo "$out"; tally "$out" host
out=$("$here/integration/net/dhcp-tests.sh" "$build" 2>&1); echo "$out"; tally "$out" dhcp

section "guest-booting tests"
# One test-host run per script, so that a run lost to a wedged test host is
# retried (by guest-env.sh) without redoing the others. Streamed as it comes
# (they take a while) and kept in a file to count. (Not tee /dev/stderr: that
# reopens a redirected stderr and truncates it.)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in guest-tests chroot-tests api-tests exit-tests examples-tests hardening-tests vsock-tests tsi-tests tsi-kernel-tests balloon-tests init/init-tests \
	blk-tests container-tests net-tests net-dhcp-tests; do
	# A test's host files for the test host: BUILD/tests/NAME.needs, one path
	# a line, or "module NAME" for a kernel module to load there.
	needs=()
	if [ -f "$build/tests/$t.needs" ]; then
		while read -r path; do
			case $path in
			'' | '#'*) ;;
			"module "*) needs+=(--module "${path#module }") ;;
			*) needs+=(--copy "$path") ;;
			esac
		done <"$build/tests/$t.needs"
	fi
	"$here/guest-env.sh" "${needs[@]}" sh "$build/tests/$t.sh" "$build" 2>&1 | tee "$log"
	rc=$? # pipefail: the status of guest-env.sh
	out=$(cat "$log")
	before=$failed
	tally "$out" "$t"
	[ $rc -ne 0 ] && [ "$failed" -eq "$before" ] && { echo "run-all: $t exited $rc"; failed=$((failed + 1)); }
done
echo
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
