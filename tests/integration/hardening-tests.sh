#!/bin/sh
# hardening-tests.sh BUILD: what a hostile guest or a careless host setup
# must not do to the VMM (issue 14): kill it with SIGPIPE, grow its memory
# and fds without bound, use privileged files from a root VMM. Checked from
# the outside through krun-chroot. POSIX sh (busybox in the KVM test host).
build=$1
chroot="$build/krun-chroot"
stress="$build/tests/guest/krun-stress"
work=$(mktemp -d /tmp/krun-hardening-tests.XXXXXX)
root="$work/root"
. "$(dirname "$0")/testlib.sh"

vm() { run_timed krun-chroot "$chroot" "$@"; }

cp -a "$build/rootfs" "$root"
cp "$stress" "$root/bin/krun-stress"
: >"$work/err"

# --- SIGPIPE: the host end of stdout closes while the workload writes
timeout 120 "$stress" wstatus "$work/wst" "$chroot" "$root" /usr/bin/yes | head -1 >"$work/out"
echo "     krun-chroot ROOT yes | head -1: $(tr '\n' ' ' <"$work/wst" 2>/dev/null)"
check "krun-chroot ROOT yes | head -1: not killed by SIGPIPE, the workload's status (141) reported" \
	sh -c "grep -qx 'exit 141' '$work/wst' && [ \"\$(cat '$work/out')\" = y ]"

rm -rf "$work"
echo "hardening: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
