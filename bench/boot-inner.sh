#!/bin/sh
# boot-inner.sh BUILD [RUNS]: boot the same kernel and initramfs with ours and
# with QEMU -M microvm, RUNS times each, on this host's /dev/kvm (run it where
# KVM boots standard guests: see bench/boot.sh). Prints the median time to the
# guest init's first line and to process exit, in ms.
build=$1
runs=${2:-5}
ts="$build/bench/tslines"
initrd="$build/tests/guest/hello.cpio.gz"
kernel="$build/krunfw/bzImage"
tmp=$(mktemp -d)

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure NAME COMMAND...: per run, ms to "hello from the guest" and to exit.
measure() {
	name=$1
	shift
	: >"$tmp/init" && : >"$tmp/exit"
	i=0
	while [ $i -lt "$runs" ]; do
		timeout 120 "$ts" "$@" >"$tmp/run" 2>/dev/null
		awk '/hello from the guest/ { print $1; exit }' "$tmp/run" >>"$tmp/init"
		awk '/^exit / { print $4 }' "$tmp/run" >>"$tmp/exit"
		i=$((i + 1))
	done
	n=$(wc -l <"$tmp/init")
	echo "$name: init line in $(median <"$tmp/init") ms, exit in $(median <"$tmp/exit") ms" \
		"(median of $runs runs, $n saw the line)"
}

echo "host: $(uname -r), $(nproc) CPUs; kernel $(basename "$kernel") + $(basename "$initrd")"
# Same guest work on both sides: init prints its line, then reboots. QEMU's
# microvm has no i8042, so its guest reboots by triple fault (reboot=t), which
# -no-reboot turns into an exit; ours takes the i8042 reset (reboot=k).
measure "krun  (bundled vmlinux, reboot)" "$build/krun-boot" --append krun_test_mode=reboot "$initrd"
measure "krun  (bzImage, reboot)" "$build/krun-boot" --kernel "$kernel" --kernel-format bzimage \
	--append krun_test_mode=reboot "$initrd"
measure "krun  (bundled vmlinux, exit-status port)" "$build/krun-boot" "$initrd"
measure "krun  (bundled vmlinux, reboot, split irqchip)" "$build/krun-boot" --split-irqchip \
	--append krun_test_mode=reboot "$initrd"
# The peer, as a script so that tslines can run it: qemu-microvm.sh KERNEL.
# QEMU_MACHINE and QEMU_ACCEL let the split-irqchip run reuse it.
cat >"$tmp/qemu-microvm.sh" <<EOQ
exec qemu-system-x86_64 -M microvm,acpi=off\${QEMU_MACHINE:-} -accel kvm\${QEMU_ACCEL:-} -cpu host -m 512 -smp 1 -nodefaults \\
	-no-user-config -nographic -no-reboot -serial stdio -kernel "\$1" -initrd "$initrd" \\
	-append "console=ttyS0 reboot=t panic=-1 quiet io_delay=none no_timer_check krun_test_mode=reboot"
EOQ
measure "qemu  (-M microvm, vmlinux via PVH, reboot)" sh "$tmp/qemu-microvm.sh" "$build/krunfw/vmlinux"
measure "qemu  (-M microvm, bzImage, reboot)" sh "$tmp/qemu-microvm.sh" "$kernel"
measure "qemu  (-M microvm, vmlinux via PVH, reboot, split irqchip)" \
	env QEMU_MACHINE=,pit=off,pic=off QEMU_ACCEL=,kernel-irqchip=split \
	sh "$tmp/qemu-microvm.sh" "$build/krunfw/vmlinux"
rm -rf "$tmp"
