#!/bin/sh
# exit-tests.sh BUILD: how the workload's exit status leaves the guest
# (src/guest_abi.h), on two kernels booted through krun_set_kernel() with the
# usual virtio-fs root and init: ours (BUILD/krunfw/vmlinux) and a variant
# without CONFIG_X86_IOPL_IOPERM, like upstream libkrunfw's
# (BUILD/krunfw-noioperm/vmlinux, krunfw/build-test-kernel.sh). On both the
# status must arrive through the root share's FUSE ioctl; the VMM's debug log
# says so ("fuse: guest reported exit status N"). Then a hostile workload
# tries the ioctl where it must be refused: nothing may stop.
# POSIX sh: it also runs under busybox inside the KVM test host.
build=$1
client="$build/tests/krun-api-client"
chroot="$build/krun-chroot"
work=$(mktemp -d /tmp/krun-exit-tests.XXXXXX)
root="$work/root"
. "$(dirname "$0")/testlib.sh"

cp -a "$build/rootfs" "$root"
cp "$build/tests/guest/exit-ioctl" "$root/bin/exit-ioctl"

# The client's VMM logs at debug level (krun-chroot ignores the variable).
KRUN_LOG_LEVEL=4
export KRUN_LOG_LEVEL
# api [--kernel FILE] [OPTIONS...] ROOT COMMAND...
api() { run_timed krun-api-client "$client" "$@"; }

# exit_statuses NAME KERNEL-ARGS...: statuses 0, 7, 128+N and a shutdown.
exit_statuses() {
	kname=$1
	shift
	for n in 0 7; do
		api "$@" "$root" /bin/sh -c "echo out-$n; exit $n"
		check "$kname: exit $n arrives through the FUSE ioctl, output first" \
			sh -c "[ $status -eq $n ] && [ \"\$(cat '$work/out')\" = out-$n ] && grep -q 'fuse: guest reported exit status $n\$' '$work/err'"
	done
	api "$@" "$root" /bin/sh -c 'kill -9 $$'
	check "$kname: a workload killed by SIGKILL: 137 through the FUSE ioctl" \
		sh -c "[ $status -eq 137 ] && grep -q 'fuse: guest reported exit status 137\$' '$work/err'"
	rm -f "$root/up"
	api "$@" --shutdown-when "$root/up" "$root" /bin/sh -c \
		'trap "echo got SIGTERM; exit 42" TERM; touch /up; while :; do sleep 1; done'
	check "$kname: shutdown eventfd: SIGTERM, then status 42 through the FUSE ioctl" \
		sh -c "[ $status -eq 42 ] && [ \"\$(cat '$work/out')\" = 'got SIGTERM' ] && grep -q 'fuse: guest reported exit status 42\$' '$work/err'"
	rm -f "$root/up"
}

# --- our kernel: the port exists, yet the ioctl carries the status
exit_statuses "our kernel"
api "$root" /bin/exit-ioctl ioperm
check "our kernel: ioperm() of the exit-status port works (the fallback is there)" \
	sh -c "[ $status -eq 0 ] && [ \"\$(cat '$work/out')\" = 'ioperm: ok' ]"

# --- the kernel without ioperm(): the ioctl is the only way out
noioperm="$build/krunfw-noioperm/vmlinux"
if [ -f "$noioperm" ] && grep -qx '# CONFIG_X86_IOPL_IOPERM is not set' "$build/krunfw-noioperm/.config"; then
	api --kernel "$noioperm" "$root" /bin/sh -c '/bin/exit-ioctl ioperm; exit 3'
	check "no-ioperm kernel: ioperm() of the port fails (ENOSYS), status 3 arrives anyway" \
		sh -c "[ $status -eq 3 ] && [ \"\$(cat '$work/out')\" = 'ioperm: Function not implemented' ] && grep -q 'fuse: guest reported exit status 3\$' '$work/err'"
	exit_statuses "no-ioperm kernel" --kernel "$noioperm"
else
	fail "no-ioperm kernel: $noioperm missing or not built without CONFIG_X86_IOPL_IOPERM (make tests builds it)"
fi

# --- hostile workload: refused reports stop nothing
api "$root" /bin/sh -c '/bin/exit-ioctl nonroot node=/bin node=/bin/busybox iow ior; echo still-running; exit 3'
check "refused: from uid 65534 (EPERM), on a subdirectory or a file (ENOTTY), with size bits (ENOTTY); the VM runs on" \
	sh -c "[ $status -eq 3 ] && [ \"\$(cat '$work/out')\" = 'nonroot: Operation not permitted
node=/bin: Not a tty
node=/bin/busybox: Not a tty
iow: Not a tty
ior: Not a tty
still-running' ] && grep -q 'fuse: guest reported exit status 3\$' '$work/err'"
check "refused reports are logged once" \
	sh -c "[ \$(grep -c 'exit-status ioctl refused' '$work/err') -eq 1 ]"

mkdir "$work/vol"
run_timed krun-chroot "$chroot" -v "$work/vol:/vol" "$root" /bin/sh -c '/bin/exit-ioctl node=/vol; echo still-running; exit 4'
check "refused: on the root of another share (ENOTTY); the VM runs on" \
	sh -c "[ $status -eq 4 ] && [ \"\$(cat '$work/out')\" = 'node=/vol: Not a tty
still-running' ]"

api "$root" /bin/sh -c '/bin/exit-ioctl report=5; echo not-reached'
check "a root workload's own report stops the VM with its status (5)" \
	sh -c "[ $status -eq 5 ] && [ ! -s '$work/out' ] && grep -q 'fuse: guest reported exit status 5\$' '$work/err'"

rm -rf "$work"
echo "exit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
