#!/bin/sh
# fs-inner.sh BUILD: virtio-fs side by side, run where KVM boots standard
# guests (bench/fs.sh picks the place). The same busybox workload, the same
# kernel and the same tree, under
#   krun:  krun-chroot (in-process FUSE server, root on virtio-fs)
#   qemu:  QEMU -M microvm + QEMU's virtiofsd, the share mounted by a
#          busybox initramfs
# Guest clocks are unreliable under nested emulation: the guest prints
# markers and tslines timestamps them on the host side.
build=$1
mb=${FSBENCH_MB:-16}
files=${FSBENCH_FILES:-100}
ts="$build/bench/tslines"
work=$(mktemp -d /tmp/krun-fsbench.XXXXXX)
share="$work/share"
cp -a "$build/rootfs" "$share"

# The workload, between markers. Runs in / of the share (krun) or in /mnt (qemu).
cat >"$share/bench.sh" <<EOS
cd "\${1:-/}"
echo MARK start
dd if=/dev/zero of=big bs=1M count=$mb 2>/dev/null; sync; echo MARK w1
echo 3 >/proc/sys/vm/drop_caches
dd if=big of=/dev/null bs=1M 2>/dev/null; echo MARK r1
mkdir many; i=0; while [ \$i -lt $files ]; do echo x >many/f\$i; i=\$((i + 1)); done; echo MARK c1
echo 3 >/proc/sys/vm/drop_caches
ls -l many >/dev/null; echo MARK s1
rm -rf many big
EOS

# elapsed FILE A B: ms between marker lines A and B of a tslines log.
elapsed() {
	awk -v a="$2" -v b="$3" '$0 ~ "MARK " a "$" { ta = $1 } $0 ~ "MARK " b "$" { tb = $1 }
		END { if (ta == "" || tb == "") print "n/a"; else printf "%.0f", tb - ta }' "$1"
}

report() {
	log=$1
	name=$2
	w=$(elapsed "$log" start w1)
	r=$(elapsed "$log" w1 r1)
	c=$(elapsed "$log" r1 c1)
	s=$(elapsed "$log" c1 s1)
	echo "$name: write $mb MiB ${w} ms ($(awk -v t="$w" -v m="$mb" 'BEGIN { if (t + 0 > 0) printf "%.1f", m * 1000 / t; else print "n/a" }') MiB/s)," \
		"read $mb MiB ${r} ms ($(awk -v t="$r" -v m="$mb" 'BEGIN { if (t + 0 > 0) printf "%.1f", m * 1000 / t; else print "n/a" }') MiB/s)," \
		"$files creates ${c} ms, cold ls -l of $files ${s} ms"
}

echo "host: $(uname -r), $(nproc) CPUs"

# /bin/true start to exit: 3 runs each.
for i in 1 2 3; do "$ts" "$build/krun-chroot" "$share" /bin/true | tail -1; done |
	awk '{ print $4 }' | sort -n | sed -n 2p | xargs -I{} echo "krun: /bin/true start to exit {} ms (median of 3)"

timeout 300 "$ts" "$build/krun-chroot" "$share" /bin/sh /bench.sh / >"$work/krun.log" 2>&1
report "$work/krun.log" "krun"

if [ -x /usr/lib/qemu/virtiofsd ] && command -v qemu-system-x86_64 >/dev/null; then
	mkdir -p "$work/initrd/bin" "$work/initrd/proc" "$work/initrd/sys" "$work/initrd/dev" "$work/initrd/mnt"
	cp "$build/rootfs/bin/busybox" "$work/initrd/bin/"
	cat >"$work/initrd/init" <<'EOI'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
case "$(cat /proc/cmdline)" in *fsbench=true*) mount -t virtiofs share /mnt && echo MARK true; reboot -f ;; esac
mount -t virtiofs share /mnt || echo MOUNT-FAILED
sh /mnt/bench.sh /mnt
reboot -f
EOI
	chmod +x "$work/initrd/init"
	(cd "$work/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz"
	qemu() {
		/usr/lib/qemu/virtiofsd --socket-path="$work/vfs.sock" -o source="$share" \
			-o cache=auto -o sandbox=chroot >/dev/null 2>&1 &
		sleep 1
		timeout 300 "$ts" qemu-system-x86_64 -M microvm,acpi=off,memory-backend=mem -enable-kvm -cpu host \
			-m 512 -smp 1 -nodefaults -no-user-config -nographic -no-reboot -serial stdio \
			-global virtio-mmio.force-legacy=false \
			-object memory-backend-memfd,id=mem,size=512M,share=on \
			-chardev socket,id=vfs,path="$work/vfs.sock" \
			-device vhost-user-fs-device,chardev=vfs,tag=share \
			-kernel "$build/krunfw/vmlinux" -initrd "$work/initrd.gz" \
			-append "console=ttyS0 reboot=t panic=-1 quiet io_delay=none no_timer_check $1"
		pkill -f qemu-system-x86_64 2>/dev/null # a run the timeout cut short
		wait
	}
	for i in 1 2 3; do qemu fsbench=true | tail -1; done | awk '{ print $4 }' | sort -n | sed -n 2p |
		xargs -I{} echo "qemu: mount + reboot start to exit {} ms (median of 3; vmlinux via PVH; virtiofsd started 1 s before)"
	qemu "" >"$work/qemu.log" 2>&1
	grep -q MOUNT-FAILED "$work/qemu.log" && echo "qemu: virtio-fs mount failed"
	report "$work/qemu.log" "qemu"
else
	echo "qemu: /usr/lib/qemu/virtiofsd or qemu-system-x86_64 missing, no peer figures"
fi
rm -rf "$work"
