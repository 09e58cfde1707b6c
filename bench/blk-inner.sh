#!/bin/sh
# blk-inner.sh BUILD: virtio-blk side by side, run where KVM boots standard
# guests (bench/blk.sh picks the place). The same images (raw, and qcow2
# fully allocated from it), the same kernel, the same guest tool
# (build/bench/blkbench: O_DIRECT + Linux AIO) under
#   krun:  krun-chroot --disk (1 vCPU, 512 MiB; raw through io_uring where
#          the file can do non-blocking I/O, else, as on tmpfs, and for qcow2,
#          the thread pool; a lone request runs on the queue thread);
#          BLKBENCH_VARIANTS adds raw runs with other engines (below)
#   qemu:  QEMU -M microvm with virtio-blk-device (1 vCPU, 512 MiB; QEMU's
#          defaults: cache=writeback, aio=threads)
# Each run: 4 KiB random read at QD1 and QD32, 1 MiB sequential read and
# write at QD1, flush latency (4 KiB write + fdatasync), BLKBENCH_SECS each.
build=$1
secs=${BLKBENCH_SECS:-5}
mb=${BLKBENCH_MB:-128}
work=$(mktemp -d /tmp/krun-blkbench.XXXXXX)
share="$work/share"
cp -a "$build/rootfs" "$share"
cp "$build/bench/blkbench" "$share/bin/"
qemu_img="$build/tests/bin/qemu-img"

head -c $((mb * 1048576)) /dev/urandom >"$work/disk.raw"
"$qemu_img" convert -O qcow2 "$work/disk.raw" "$work/disk.qcow2"

cat >"$share/bench.sh" <<EOS
blkbench /dev/vda randread 1 $secs
blkbench /dev/vda randread 32 $secs
blkbench /dev/vda seqread 1 $secs
blkbench /dev/vda seqwrite 1 $secs
blkbench /dev/vda flush 1 $secs
echo "blkstat \$(cat /sys/block/vda/stat)"
EOS

echo "host: $(uname -r), $(nproc) CPUs; images of $mb MiB in $(df -T /tmp | awk 'NR == 2 { print $2 }') ($work)"

formats=${BLKBENCH_FORMATS:-raw qcow2}
peers=${BLKBENCH_PEERS:-krun qemu}
# Rounds: the peers take turns (krun raw, QEMU raw, krun qcow2, QEMU qcow2,
# then the variants), BLKBENCH_ROUNDS times, and the summary gives each
# figure's median: on a shared machine the load moves by 2-3x within
# minutes, and runs far apart in time are not comparable.
rounds=${BLKBENCH_ROUNDS:-3}
# BLKBENCH_STATS=1: krun's own counters of each disk queue (KRUN_BLK_STATS=1), logged at the end.
stats=
[ "${BLKBENCH_STATS:-0}" = 1 ] && export KRUN_BLK_STATS=1 && stats="--log-level 3"

run_krun() { # run_krun FORMAT LABEL [VAR=VALUE...]
	fmt=$1 label=$2
	shift 2
	env "$@" timeout 600 "$build/krun-chroot" $stats --disk "bench:$work/disk.$fmt:$fmt" "$share" /bin/sh /bench.sh 2>&1 |
		sed "s/^/$label: /"
}

have_qemu=false
if command -v qemu-system-x86_64 >/dev/null; then
	have_qemu=true
	mkdir -p "$work/initrd/bin" "$work/initrd/proc" "$work/initrd/sys" "$work/initrd/dev"
	cp "$build/rootfs/bin/busybox" "$build/bench/blkbench" "$work/initrd/bin/"
	cp "$share/bench.sh" "$work/initrd/bench.sh"
	cat >"$work/initrd/init" <<'EOI'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
sh /bench.sh
reboot -f
EOI
	chmod +x "$work/initrd/init"
	(cd "$work/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz"
else
	echo "qemu: qemu-system-x86_64 missing, no peer figures"
fi

run_qemu() { # run_qemu FORMAT
	timeout 600 qemu-system-x86_64 -M microvm,acpi=off -enable-kvm -cpu host \
		-m 512 -smp 1 -nodefaults -no-user-config -nographic -no-reboot -serial stdio \
		-global virtio-mmio.force-legacy=false \
		-drive id=d,file="$work/disk.$1",format=$1,if=none \
		-device virtio-blk-device,drive=d \
		-kernel "$build/krunfw/vmlinux" -initrd "$work/initrd.gz" \
		-append "console=ttyS0 reboot=t panic=-1 quiet io_delay=none no_timer_check" 2>&1 |
		tr -d '\r' | grep -E '^(randread|seqread|seqwrite|flush|blkbench|blkstat)|qemu-system|[Ee]rror' | sed "s/^/qemu $1: /"
}

r=1
while [ $r -le "$rounds" ]; do
	echo "round $r of $rounds, $(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
	for fmt in $formats; do
		case " $peers " in *" krun "*) run_krun "$fmt" "krun $fmt" ;; esac
		case " $peers " in *" qemu "*) $have_qemu && run_qemu "$fmt" ;; esac
	done
	# BLKBENCH_VARIANTS: more krun raw runs to compare engines: "uring" (KRUN_BLK_IO=uring,
	# io_uring forced), "pool" (KRUN_BLK_INLINE=0: no request runs on the queue thread),
	# "thp" (KRUN_GUEST_THP=1: guest memory on transparent huge pages, as QEMU's).
	for v in ${BLKBENCH_VARIANTS:-}; do
		case $v in
		uring) run_krun raw "krun raw (KRUN_BLK_IO=uring)" KRUN_BLK_IO=uring ;;
		pool) run_krun raw "krun raw (KRUN_BLK_INLINE=0)" KRUN_BLK_INLINE=0 ;;
		thp) run_krun raw "krun raw (KRUN_GUEST_THP=1)" KRUN_GUEST_THP=1 ;;
		esac
	done
	r=$((r + 1))
done | tee "$work/log"

# The medians: randread IOPS, seqread/seqwrite MB/s, flush latency in us.
echo "medians of $rounds rounds:"
awk -F': ' '
	{
		label = $1; test = $2
		if (test !~ /^(randread|seqread|seqwrite|flush) qd=/) next
		split($0, w, " ")
		v = ""
		for (i = 1; i <= length(w); i++) {
			if (test ~ /^randread/ && w[i] == "IOPS,") v = w[i - 1]
			if (test ~ /^seq/ && w[i] == "MB/s,") v = w[i - 1]
			if (test ~ /^flush/ && w[i] == "latency") v = w[i + 1]
		}
		sub(/ bs=.*/, "", test)
		if (v != "") print label "|" test "|" v
	}' "$work/log" | sort -t'|' -k1,1 -k2,2 -k3,3n |
	awk -F'|' '
	function flush_group() {
		if (n) printf "  %-32s %-16s %s (of %s)\n", key1, key2, vals[int((n + 1) / 2)], list
	}
	{
		if ($1 != key1 || $2 != key2) { flush_group(); key1 = $1; key2 = $2; n = 0; list = "" }
		vals[++n] = $3; list = list (n > 1 ? " " : "") $3
	}
	END { flush_group() }'
rm -rf "$work"
