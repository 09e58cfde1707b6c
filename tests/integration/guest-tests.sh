#!/bin/sh
# guest-tests.sh BUILD: boot real guests through the public API (krun-boot)
# and check what comes out: bytes on stdout, the exit status, files.
# Needs a /dev/kvm that boots standard guests; tests/guest-env.sh picks where.
# POSIX sh: it also runs under busybox inside the KVM test host.
build=$1
boot="$build/krun-boot"
initrd="$build/tests/guest/hello.cpio.gz"
work=$(mktemp -d)
. "$(dirname "$0")/testlib.sh"

# run NAME ARGS...: krun-boot with a time limit; sets $status, $out, $err.
run() {
	name=$1
	shift
	run_timed "$name:" "$boot" "$@"
	out=$(cat "$work/out")
	err=$(cat "$work/err")
}

has() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }

run "bundled kernel" "$initrd"
check "bundled kernel: the guest's line reaches stdout" has "$out" "hello from the guest"
check "bundled kernel: exit status 7 from the guest" [ "$status" -eq 7 ]
check "bundled kernel: one vCPU" has "$out" "cpus=1"

run "status 0" --append krun_test_status=0 "$initrd"
check "exit status 0 propagates" [ "$status" -eq 0 ]
run "status 255" --append krun_test_status=255 "$initrd"
check "exit status 255 propagates" [ "$status" -eq 255 ]

run "ELF vmlinux" --kernel "$build/krunfw/vmlinux" --kernel-format elf "$initrd"
check "ELF vmlinux from a file boots: line and status 7" \
	sh -c "[ $status -eq 7 ] && grep -q 'hello from the guest' '$work/out'"

run "bzImage" --kernel "$build/krunfw/bzImage" --kernel-format bzimage "$initrd"
check "bzImage boots: line and status 7" \
	sh -c "[ $status -eq 7 ] && grep -q 'hello from the guest' '$work/out'"

# Compressed kernel files (made by the Makefile into $build/tests/kernel):
# decompressed by the library, then recognised as a vmlinux or a bzImage.
boot_compressed() { # FORMAT FILE
	run "$1 ($2)" --kernel "$build/tests/kernel/$2" --kernel-format "$1" "$initrd"
	check "$1 ($2) boots: line and status 7" \
		sh -c "[ $status -eq 7 ] && grep -q 'hello from the guest' '$work/out'"
}
boot_compressed image-gz vmlinux.gz
boot_compressed image-bz2 bzImage.bz2
boot_compressed image-zstd vmlinux.zst
boot_compressed pe-gz bzImage.zboot

head -c 200000 "$build/tests/kernel/vmlinux.gz" >"$work/cut.gz"
run "truncated gzip kernel" --kernel "$work/cut.gz" --kernel-format image-gz "$initrd"
check "a truncated compressed kernel is refused before boot, saying so" \
	sh -c "[ $status -ne 0 ] && grep -q 'truncated' '$work/err' && ! grep -q hello '$work/out'"
run "zstd kernel as gzip" --kernel "$build/tests/kernel/vmlinux.zst" --kernel-format image-gz "$initrd"
check "a kernel in another compression than announced is refused" \
	sh -c "[ $status -ne 0 ] && grep -q 'gzip' '$work/err' && ! grep -q hello '$work/out'"

run "2 vCPUs" --cpus 2 "$initrd"
check "2 vCPUs: the guest sees 2 CPUs (MP table)" has "$out" "cpus=2"
check "2 vCPUs: status 7" [ "$status" -eq 7 ]

run "4 vCPUs, 1 GiB" --cpus 4 --memory 1024 "$initrd"
check "4 vCPUs: the guest sees 4 CPUs" has "$out" "cpus=4"

run "guest panics" --append krun_test_mode=panic "$initrd"
check "a guest that dies without a status: exit 1 and a warning" \
	sh -c "[ $status -eq 1 ] && grep -q 'without reporting an exit status' '$work/err'"

run "console to file" --console-output "$work/console.txt" "$initrd"
check "console output goes to the file, not stdout" \
	sh -c "grep -q 'hello from the guest' '$work/console.txt' && ! grep -q hello '$work/out'"

run "bad kernel" --kernel "$initrd" --kernel-format elf "$initrd"
check "a kernel that is not ELF is refused before boot" \
	sh -c "[ $status -ne 0 ] && grep -q 'not a valid' '$work/err'"

rm -rf "$work"
echo "guest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
