#!/usr/bin/env bash
# host-tests.sh BUILD: what the library does on this host without booting a
# guest. On a host whose KVM cannot boot standard guests (kvm_pvm), starting
# a VM must fail fast with a clear message and -ENOTSUP, not hang.
set -uo pipefail
build=$1
passed=0 failed=0 skipped=0

if grep -qwE 'vmx|svm' /proc/cpuinfo; then
	echo "skip - PVM error path: this host has hardware virtualization"
	skipped=1
else
	start=$(date +%s%N)
	err=$(timeout 20 "$build/krun-boot" "$build/tests/guest/hello.cpio.gz" 2>&1 >/dev/null)
	status=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	echo "     krun-boot on this host: exit $status in $ms ms: $err"
	if [ $status -eq 1 ] && [ $ms -lt 5000 ] && grep -q 'cannot run standard' <<<"$err" &&
		grep -q '(-95)' <<<"$err"; then
		echo "ok   - PVM host: krun_start_enter fails fast with -ENOTSUP and says why"
		passed=1
	else
		echo "FAIL - PVM host: expected a fast -ENOTSUP with an explanation"
		failed=1
	fi
fi
echo "host: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
