#!/bin/sh
# examples-tests.sh BUILD: the example clients of examples/, built with
# pkg-config against an installed copy of the library (make examples), run
# as a user would run them.
build=$1
ex="$build/examples"
work=$(mktemp -d /tmp/krun-examples-tests.XXXXXX)
. "$(dirname "$0")/testlib.sh"
export LD_LIBRARY_PATH="$build/examples-prefix/lib"

cp -a "$build/rootfs" "$work/root"
run_timed chroot_vm "$ex/chroot_vm" "$work/root" /bin/sh -c 'echo "hi from $(uname -s)"; exit 3'
check "chroot_vm: the command's output and exit status (3)" \
	sh -c "[ $status -eq 3 ] && [ \"\$(cat '$work/out')\" = 'hi from Linux' ]"

run_timed external_kernel "$ex/external_kernel" "$build/tests/kernel/vmlinux.zst" image-zstd \
	"$build/tests/guest/hello.cpio.gz"
check "external_kernel: a zstd-compressed vmlinux with an initramfs boots (7)" \
	sh -c "[ $status -eq 7 ] && grep -q 'hello from the guest' '$work/out'"

run_timed multi_console "$ex/multi_console" "$work/root" "$work/log"
check "multi_console: named ports seen by the guest, data both ways" \
	sh -c "[ $status -eq 0 ] && grep -q 'ports: .*greeting' '$work/out' && grep -q 'ports: .*log' '$work/out' && [ \"\$(cat '$work/log')\" = 'HELLO FROM THE HOST' ]"

rm -rf "$work"
echo "examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
