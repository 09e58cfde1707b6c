#!/bin/sh
# blk-tests.sh BUILD: virtio-blk disks end to end, in a real guest, through
# krun-chroot (krun_add_disk3, krun_set_root_disk_remount) and
# krun-api-client (the older calls). Images are made and checked on the host
# side with qemu-img and mke2fs (copied into build/tests/bin, as the test
# host only has build/): bytes the guest reads and writes are compared with
# what the host expects, images are checked with `qemu-img check`.
# POSIX sh: it runs under busybox inside the KVM test host.
build=$1
chroot="$build/krun-chroot"
client="$build/tests/krun-api-client"
qemu_img="$build/tests/bin/qemu-img"
mke2fs="$build/tests/bin/mke2fs"
work=$(mktemp -d /tmp/krun-blk-tests.XXXXXX)
root="$work/root"
. "$(dirname "$0")/testlib.sh"
# Images of 32 MiB through nested emulation on a shared machine: more time per VM.
GUEST_TEST_TIMEOUT=${GUEST_TEST_TIMEOUT:-900}

vm() { run_timed krun-chroot "$chroot" "$@"; }
api() { run_timed krun-api-client "$client" "$@"; }
md5() { md5sum "$1" | cut -d' ' -f1; }
# range_md5 FILE OFFSET_KIB LENGTH_KIB
range_md5() { dd if="$1" bs=1024 skip="$2" count="$3" 2>/dev/null | md5sum | cut -d' ' -f1; }

cp -a "$build/rootfs" "$root"
mkdir -p "$work/img"

# A 32 MiB raw image of random bytes, and 4 KiB blocks the guest writes.
head -c 33554432 /dev/urandom >"$work/img/pattern.raw"
head -c 16384 /dev/urandom >"$root/blocks"

# --- raw: reads, writes, read-only, by-id, two disks
cp "$work/img/pattern.raw" "$work/img/a.raw"
vm --disk "data:$work/img/a.raw" "$root" /bin/sh -c '
	cat /sys/block/vda/size; echo "$(cat /sys/block/vda/serial)"
	md5sum /dev/vda | cut -d" " -f1
	dd if=/dev/vda bs=1024 skip=12345 count=77 2>/dev/null | md5sum | cut -d" " -f1
	ls -l /dev/disk/by-id/ | grep -o "virtio-data -> ../../vda"'
check "raw: the guest sees the size and serial, reads every byte, and a range at an odd offset" \
	sh -c "[ $status -eq 0 ] && [ \"\$(sed -n 1p '$work/out')\" = 65536 ] && [ \"\$(sed -n 2p '$work/out')\" = data ] &&
	[ \"\$(sed -n 3p '$work/out')\" = $(md5 "$work/img/a.raw") ] &&
	[ \"\$(sed -n 4p '$work/out')\" = $(range_md5 "$work/img/a.raw" 12345 77) ] &&
	grep -qx 'virtio-data -> ../../vda' '$work/out'"

# Scattered writes: 4 KiB blocks at odd sector offsets, one across the 16 MiB mark.
scatter='dd if=/blocks of=$1 bs=512 count=8 seek=1 conv=notrunc,fsync 2>/dev/null &&
	dd if=/blocks of=$1 bs=512 skip=8 count=8 seek=32767 conv=notrunc,fsync 2>/dev/null &&
	dd if=/blocks of=$1 bs=512 skip=16 count=16 seek=65520 conv=notrunc,fsync 2>/dev/null && echo written'
# The same writes on the host side, from $root/blocks.
cp "$work/img/pattern.raw" "$work/img/scattered.raw"
for spec in "0 1 8" "8 32767 8" "16 65520 16"; do
	set -- $spec
	dd if="$root/blocks" of="$work/img/scattered.raw" bs=512 skip="$1" seek="$2" count="$3" conv=notrunc 2>/dev/null
done
vm --disk "data:$work/img/a.raw:raw" "$root" /bin/sh -c "set -- /dev/vda; $scatter"
check "raw: scattered writes land where they should (qemu-img compare with the expected image)" \
	sh -c "[ $status -eq 0 ] && grep -q written '$work/out' && '$qemu_img' compare -q -f raw -F raw '$work/img/scattered.raw' '$work/img/a.raw'"

cp "$work/img/pattern.raw" "$work/img/ro.raw"
vm --disk "data:$work/img/ro.raw:ro" "$root" /bin/sh -c '
	cat /sys/block/vda/ro
	dd if=/blocks of=/dev/vda bs=4096 count=1 conv=notrunc,fsync 2>&1 && echo write-succeeded
	blockdev --setrw /dev/vda; dd if=/blocks of=/dev/vda bs=4096 count=1 oflag=direct conv=notrunc 2>&1 && echo forced-write-succeeded
	dd if=/dev/vda bs=4096 count=1 2>/dev/null | md5sum'
check "raw read-only: the disk is ro, writes fail (also after blockdev --setrw), the file is unchanged" \
	sh -c "[ $status -eq 0 ] && [ \"\$(head -1 '$work/out')\" = 1 ] && ! grep -q succeeded '$work/out' && [ \$(grep -ciE 'I/O error|not permitted' '$work/out') -eq 2 ] && cmp -s '$work/img/ro.raw' '$work/img/pattern.raw'"

head -c 1048576 /dev/urandom >"$work/img/b.raw"
cp "$work/img/pattern.raw" "$work/img/a.raw"
vm --disk "first:$work/img/a.raw" --disk "second:$work/img/b.raw:ro" "$root" /bin/sh -c '
	for d in vda vdb; do echo "$d $(cat /sys/block/$d/serial) $(cat /sys/block/$d/ro) $(md5sum </dev/$d | cut -d" " -f1)"; done
	readlink /dev/disk/by-id/virtio-second'
check "two disks: in the order added, each with its serial, mode and bytes; by-id links" \
	sh -c "[ $status -eq 0 ] && grep -qx 'vda first 0 $(md5 "$work/img/a.raw")' '$work/out' && grep -qx 'vdb second 1 $(md5 "$work/img/b.raw")' '$work/out' && grep -qx ../../vdb '$work/out'"

# --- 30 disks: more virtio devices (36 with the implicit ones) than interrupt lines (18): lines are
# shared (level-triggered); every disk read byte-exact, all at once with direct
# I/O, and written at once; with the in-kernel irqchip and the split one.
many_disks() { # many_disks PREFIX: sets $disks (krun-chroot) and $api_disks; the md5s in many.want
	disks= api_disks= i=0
	: >"$work/many.want"
	while [ $i -lt 30 ]; do
		head -c 262144 /dev/urandom >"$work/img/$1$i.raw"
		echo "d$i $(md5 "$work/img/$1$i.raw")" >>"$work/many.want"
		disks="$disks --disk d$i:$work/img/$1$i.raw"
		api_disks="$api_disks --disk d$i=$work/img/$1$i.raw"
		i=$((i + 1))
	done
	sort "$work/many.want" -o "$work/many.want"
}
# For each disk: its serial and the md5 of its bytes, read 3 times with
# O_DIRECT by 30 readers at once; then each writes its serial at 4 KiB, at
# once; then the shared lines of /proc/interrupts ("fasteoi": level) with
# their counts.
many_script='
	for d in /sys/block/vd*; do n=${d##*/}; (s=$(cat $d/serial)
		for r in 1 2 3; do dd if=/dev/$n bs=65536 iflag=direct 2>/dev/null | md5sum | cut -d" " -f1; done | sort -u | sed "s/^/$s /" >/tmp/$n.md5) &
	done; wait
	cat /tmp/*.md5
	for d in /sys/block/vd*; do n=${d##*/}; (cat $d/serial | dd of=/dev/$n bs=4096 seek=1 conv=sync,notrunc oflag=direct 2>/dev/null) & done; wait
	echo "devices $(ls /sys/bus/virtio/devices | wc -l)"
	echo "shared-lines $(grep virtio /proc/interrupts | grep fasteoi | grep -c ,)"
	grep virtio /proc/interrupts | grep fasteoi | awk "{ s += \$2 } END { print \"shared-irqs \" s }"'
# check_many PREFIX DESCRIPTION
check_many() {
	want="$work/many.want"
	grep '^d[0-9]' "$work/out" | sort >"$work/many.got"
	written=0
	i=0
	while [ $i -lt 30 ]; do
		[ "$(dd if="$work/img/$1$i.raw" bs=4096 skip=1 count=1 2>/dev/null | tr -d '\0')" = "d$i" ] && written=$((written + 1))
		i=$((i + 1))
	done
	devices=$(sed -n 's/^devices //p' "$work/out")
	echo "     $(grep -c . "$work/many.got") disk lines, $written writes found; $devices virtio devices, $(grep -E 'shared-(lines|irqs)' "$work/out" | tr '\n' ' ')"
	# Every line past the 18th device is shared (each line has 2 devices at most here).
	check "$2" sh -c "[ $status -eq 0 ] && cmp -s '$want' '$work/many.got' && [ $written -eq 30 ] &&
		grep -qx 'shared-lines $((${devices:-0} - 18))' '$work/out' && grep -qE 'shared-irqs [1-9]' '$work/out'"
}
many_disks many_a
vm $disks "$root" /bin/sh -c "$many_script"
check_many many_a "30 disks (36 virtio devices: 18 lines shared, level-triggered): each read byte-exact by 30 readers at once, each written"
many_disks many_b
api --split-irqchip $api_disks "$root" /bin/sh -c "$many_script"
check_many many_b "30 disks with the split irqchip (the VMM's IOAPIC): the same"
rm -f "$work"/img/many_*.raw

# --- MQ: a queue per vCPU, both busy at once
cp "$work/img/pattern.raw" "$work/img/a.raw"
vm --cpus 2 --disk "data:$work/img/a.raw" "$root" /bin/sh -c '
	ls /sys/block/vda/mq | wc -l
	for c in 0 1; do (taskset -c $c sh -c "for i in 1 2; do echo 3 >/proc/sys/vm/drop_caches; md5sum /dev/vda; done" >/tmp/md5.$c) & done; wait
	sort -u /tmp/md5.0 /tmp/md5.1 | cut -d" " -f1'
check "MQ with 2 vCPUs: 2 queues, concurrent reads from both CPUs all correct" \
	sh -c "[ $status -eq 0 ] && [ \"\$(head -1 '$work/out')\" = 2 ] && [ \"\$(sed -n '2,\$p' '$work/out')\" = $(md5 "$work/img/a.raw") ]"

# --- discard punches holes; write-zeroes (unmap) reads back zeroes and punches too
head -c 16777216 /dev/urandom >"$work/img/sparse.raw"
du_before=$(du -k "$work/img/sparse.raw" | cut -f1)
vm --disk "data:$work/img/sparse.raw" "$root" /bin/sh -c '
	cat /sys/block/vda/queue/discard_max_bytes /sys/block/vda/queue/write_zeroes_max_bytes
	q=/sys/block/vda/queue; echo topo $(cat $q/logical_block_size $q/physical_block_size $q/minimum_io_size $q/optimal_io_size)
	blkdiscard -o 1048576 -l 8388608 /dev/vda && echo discarded'
du_after=$(du -k "$work/img/sparse.raw" | cut -f1)
hole=$(range_md5 "$work/img/sparse.raw" 1024 8192)
zeroes=$(head -c 8388608 /dev/zero | md5sum | cut -d' ' -f1)
echo "     du before ${du_before} KiB, after ${du_after} KiB"
check "discard: blkdiscard of 8 MiB punches a hole (du shrinks by ~8 MiB, zeroes read back)" \
	sh -c "[ $status -eq 0 ] && grep -q discarded '$work/out' && [ $du_after -le $((du_before - 8000)) ] && [ \"\$(sed -n 1p '$work/out')\" != 0 ] && [ $hole = $zeroes ]"
cp "$work/out" "$work/topo-raw" # the discard run's topology line, checked below
# WRITE_ZEROES that may unmap: fallocate(PUNCH_HOLE) on /dev/vda (Linux sends
# WRITE_ZEROES with the unmap flag and no fallback of its own: the call fails
# if the device did not do it); the file shrinks, the range reads back zeroes,
# the bytes around it are unchanged.
cp "$build/tests/guest/blk-zero" "$root/bin/blk-zero"
head -c 16777216 /dev/urandom >"$work/img/wz.raw"
cp "$work/img/wz.raw" "$work/img/wz.orig"
du_before=$(du -k "$work/img/wz.raw" | cut -f1)
vm --disk "data:$work/img/wz.raw" "$root" /bin/sh -c 'blk-zero /dev/vda 2097152 8388608'
du_after=$(du -k "$work/img/wz.raw" | cut -f1)
echo "     write-zeroes: du before ${du_before} KiB, after ${du_after} KiB"
check "write-zeroes (unmap): 8 MiB read back as zeroes, the file shrinks, the rest is unchanged" \
	sh -c "[ $status -eq 0 ] && grep -qx zeroed '$work/out' && [ $du_after -le $((du_before - 8000)) ] &&
	[ $(range_md5 "$work/img/wz.raw" 2048 8192) = $zeroes ] &&
	[ $(range_md5 "$work/img/wz.raw" 0 2048) = $(range_md5 "$work/img/wz.orig" 0 2048) ] &&
	[ $(range_md5 "$work/img/wz.raw" 10240 6144) = $(range_md5 "$work/img/wz.orig" 10240 6144) ]"
rm -f "$work/img/wz.raw" "$work/img/wz.orig"
# TOPOLOGY: 512-byte logical blocks on a file whose file system has bigger
# ones (st_blksize, 4096 on tmpfs and most others): the guest sees that as
# its physical block and minimum I/O.
host_block=$(stat -c %o "$work/img/sparse.raw")
[ "$host_block" -gt 4096 ] && host_block=512 # not offered past the guest's page
echo "     guest: $(grep topo "$work/topo-raw") (logical, physical, minimum, optimal); host block $host_block"
check "topology (raw file): physical block and minimum I/O are the host file system's block" \
	grep -qx "topo 512 $host_block $host_block 0" "$work/topo-raw"

# --- sync modes: a guest flush reaches fsync (full) / fdatasync (relaxed) / nothing (none);
# counted by an LD_PRELOAD shim around the thread pool (KRUN_BLK_IO=threads).
for mode in full relaxed none; do
	cp "$work/img/pattern.raw" "$work/img/s.raw"
	rm -f "$work/sync.$mode"
	SYNCCOUNT_FILE="$work/sync.$mode" LD_PRELOAD="$build/tests/libsynccount.so" KRUN_BLK_IO=threads \
		vm --disk "data:$work/img/s.raw:sync=$mode" "$root" /bin/sh -c '
		for i in 1 2 3; do dd if=/blocks of=/dev/vda bs=4096 count=1 seek=$i conv=notrunc,fsync 2>/dev/null; done; echo done'
	echo "     sync=$mode: $(cat "$work/sync.$mode" 2>/dev/null)"
done
check "sync=full: guest flushes become fsync() calls; relaxed: fdatasync(); none: neither" \
	sh -c "grep -qE 'fsync=[3-9]' '$work/sync.full' && grep -qE 'fdatasync=[3-9]' '$work/sync.relaxed' && grep -qx 'fsync=0 fdatasync=0' '$work/sync.none'"
cp "$work/img/pattern.raw" "$work/img/expected.raw"
for i in 1 2 3; do dd if="$root/blocks" of="$work/img/expected.raw" bs=4096 count=1 seek=$i conv=notrunc 2>/dev/null; done
check "thread-pool engine (KRUN_BLK_IO=threads): the writes are all there" \
	cmp -s "$work/img/expected.raw" "$work/img/s.raw"

# --- the same through io_uring (KRUN_BLK_IO=uring: the test host's tmpfs has
# no non-blocking I/O, so the default picks the pool): a flush is an
# IORING_OP_FSYNC that io_uring's own workers (iou-wrk-*) run, invisible to
# an LD_PRELOAD shim; a kprobe on vfs_fsync_range counts them, by its
# datasync argument.
tr=/sys/kernel/tracing
[ -d "$tr/events" ] || mount -t tracefs nodev "$tr" 2>/dev/null
if echo 'p:krunblk/fsync vfs_fsync_range datasync=$arg4:s32' >>"$tr/kprobe_events" 2>/dev/null; then
	for mode in full relaxed none; do
		cp "$work/img/pattern.raw" "$work/img/s.raw"
		: >"$tr/trace"
		echo 1 >"$tr/events/krunblk/fsync/enable"
		KRUN_BLK_IO=uring vm --disk "data:$work/img/s.raw:sync=$mode" "$root" /bin/sh -c '
			for i in 1 2 3; do dd if=/blocks of=/dev/vda bs=4096 count=1 seek=$i conv=notrunc,fsync 2>/dev/null; done; echo done'
		echo 0 >"$tr/events/krunblk/fsync/enable"
		echo "fsync=$(grep iou-wrk "$tr/trace" | grep -c 'datasync=0') fdatasync=$(grep iou-wrk "$tr/trace" | grep -c 'datasync=1')" >"$work/usync.$mode"
		echo "     io_uring sync=$mode: $(cat "$work/usync.$mode") (in io_uring workers)"
	done
	echo '-:krunblk/fsync' >>"$tr/kprobe_events"
	check "sync modes through io_uring: full flushes are fsync in io_uring's workers, relaxed fdatasync, none neither" \
		sh -c "grep -qE '^fsync=[3-9]' '$work/usync.full' && grep -qE 'fdatasync=[3-9]' '$work/usync.relaxed' && grep -qx 'fsync=0 fdatasync=0' '$work/usync.none'"
	check "io_uring engine (KRUN_BLK_IO=uring): the writes are all there" \
		cmp -s "$work/img/expected.raw" "$work/img/s.raw"
else
	fail "sync modes through io_uring: no kprobe events here ($tr/kprobe_events), the flushes cannot be counted"
fi

# --- direct I/O
cp "$work/img/pattern.raw" "$work/img/d.raw"
vm --disk "data:$work/img/d.raw:direct" "$root" /bin/sh -c '
	cat /sys/block/vda/queue/logical_block_size; md5sum </dev/vda | cut -d" " -f1
	dd if=/blocks of=/dev/vda bs=4096 count=1 seek=3 conv=notrunc,fsync 2>/dev/null && echo written'
cp "$work/img/pattern.raw" "$work/img/expected.raw"
dd if="$root/blocks" of="$work/img/expected.raw" bs=4096 count=1 seek=3 conv=notrunc 2>/dev/null
# (The test host's /tmp is a tmpfs, which takes no O_DIRECT before Linux 6.6:
# then the disk falls back to the page cache, with a warning.)
grep -q 'refuses O_DIRECT' "$work/err" && echo "     O_DIRECT refused by the filesystem of $work: fell back to the page cache"
check "direct I/O (krun_add_disk3): 4096-byte logical blocks, reads and writes correct" \
	sh -c "[ $status -eq 0 ] && [ \"\$(head -1 '$work/out')\" = 4096 ] && [ \"\$(sed -n 2p '$work/out')\" = $(md5 "$work/img/pattern.raw") ] && cmp -s '$work/img/expected.raw' '$work/img/d.raw'"

# --- the older calls: krun_set_root_disk / krun_set_data_disk
cp "$work/img/pattern.raw" "$work/img/a.raw"
api --set-root-disk "$work/img/a.raw" --set-data-disk "$work/img/b.raw" "$root" /bin/sh -c \
	'echo "$(cat /sys/block/vda/serial) $(cat /sys/block/vdb/serial) $(md5sum </dev/vdb | cut -d" " -f1)"'
check "krun_set_root_disk + krun_set_data_disk: disks \"root\" and \"data\", in that order" \
	sh -c "[ $status -eq 0 ] && grep -qx 'root data $(md5 "$work/img/b.raw")' '$work/out'"

# --- qcow2: compressed clusters (deflate), a backing chain, writes, discard
"$qemu_img" convert -c -O qcow2 "$work/img/pattern.raw" "$work/img/comp.qcow2"
"$qemu_img" convert -c -O qcow2 -o compression_type=zstd "$work/img/pattern.raw" "$work/img/zstd.qcow2"
mkdir -p "$work/img/top"
"$qemu_img" create -q -f qcow2 -b ../comp.qcow2 -F qcow2 "$work/img/top/top.qcow2"
comp_md5=$(md5 "$work/img/comp.qcow2")
vm --disk "top:$work/img/top/top.qcow2:qcow2" --disk "zstd:$work/img/zstd.qcow2:qcow2:ro" "$root" /bin/sh -c '
	md5sum </dev/vda | cut -d" " -f1; md5sum </dev/vdb | cut -d" " -f1
	q=/sys/block/vda/queue; echo "topo $(cat $q/optimal_io_size)"'
check "qcow2: reads through a backing chain (relative name) of deflate-compressed clusters, and zstd ones" \
	sh -c "[ $status -eq 0 ] && [ \"\$(sed -n 1,2p '$work/out')\" = \"$(md5 "$work/img/pattern.raw")
$(md5 "$work/img/pattern.raw")\" ]"
check "topology (qcow2): the optimal I/O size is the cluster (64 KiB)" grep -qx "topo 65536" "$work/out"
api --disk2 "packed:$work/img/comp.qcow2:qcow2:ro" "$root" /bin/sh -c \
	'echo "$(cat /sys/block/vda/serial) $(cat /sys/block/vda/ro) $(md5sum </dev/vda | cut -d" " -f1)"'
check "krun_add_disk2: a compressed qcow2, read-only, by the format given" \
	sh -c "[ $status -eq 0 ] && grep -qx 'packed 1 $(md5 "$work/img/pattern.raw")' '$work/out' && [ \"\$(md5sum <'$work/img/comp.qcow2' | cut -d' ' -f1)\" = $comp_md5 ]"

vm --disk "top:$work/img/top/top.qcow2:qcow2" "$root" /bin/sh -c "set -- /dev/vda; $scatter"
check "qcow2: scattered writes over the backing chain: qemu-img check clean, compare identical, backing unchanged" \
	sh -c "[ $status -eq 0 ] && grep -q written '$work/out' && '$qemu_img' check -q '$work/img/top/top.qcow2' &&
	'$qemu_img' compare -q -f qcow2 -F raw '$work/img/top/top.qcow2' '$work/img/scattered.raw' && [ \"\$(md5sum <'$work/img/comp.qcow2' | cut -d' ' -f1)\" = $comp_md5 ]"

"$qemu_img" convert -O qcow2 "$work/img/pattern.raw" "$work/img/full.qcow2"
du_before=$(du -k "$work/img/full.qcow2" | cut -f1)
vm --disk "data:$work/img/full.qcow2:qcow2" "$root" /bin/sh -c 'blkdiscard -o 1048576 -l 16777216 /dev/vda && echo discarded'
du_after=$(du -k "$work/img/full.qcow2" | cut -f1)
echo "     qcow2 du before ${du_before} KiB, after ${du_after} KiB"
check "qcow2: discard frees 16 MiB of clusters (du shrinks), qemu-img check clean" \
	sh -c "[ $status -eq 0 ] && grep -q discarded '$work/out' && [ $du_after -le $((du_before - 15000)) ] && '$qemu_img' check -q '$work/img/full.qcow2'"

# --- vmdk: a monolithicFlat image (io_uring path) and one of FLAT + ZERO extents
"$qemu_img" convert -O vmdk -o subformat=monolithicFlat "$work/img/pattern.raw" "$work/img/flat.vmdk"
printf '# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 8192 FLAT "pattern.raw" 2048\nRW 4096 ZERO\n' >"$work/img/two.vmdk"
vm --disk "flat:$work/img/flat.vmdk:vmdk" --disk "two:$work/img/two.vmdk:vmdk:ro" "$root" /bin/sh -c "
	md5sum </dev/vda | cut -d' ' -f1; md5sum </dev/vdb | cut -d' ' -f1; set -- /dev/vda; $scatter"
two_md5=$( (dd if="$work/img/pattern.raw" bs=512 skip=2048 count=8192 2>/dev/null; head -c 2097152 /dev/zero) | md5sum | cut -d' ' -f1)
check "vmdk: monolithicFlat reads and scattered writes (qemu-img compare), FLAT + ZERO extents read" \
	sh -c "[ $status -eq 0 ] && [ \"\$(sed -n 1p '$work/out')\" = $(md5 "$work/img/pattern.raw") ] && [ \"\$(sed -n 2p '$work/out')\" = $two_md5 ] &&
	grep -q written '$work/out' && '$qemu_img' compare -q -f vmdk -F raw '$work/img/flat.vmdk' '$work/img/scattered.raw'"

# --- a root filesystem on a disk (krun_set_root_disk_remount): boot, write, boot again
mkdir -p "$work/rootsrc" && cp -a "$build/rootfs/." "$work/rootsrc/" && echo from-the-disk >"$work/rootsrc/marker"
"$mke2fs" -q -t ext4 -d "$work/rootsrc" "$work/img/root.ext4" 65536 2>&1 | tail -2
vm --root-disk "$work/img/root.ext4" --root-fstype ext4 /bin/sh -c '
	cat /marker; grep " / " /proc/mounts | cut -d" " -f1,3; echo persisted >/persist'
vm --root-disk "$work/img/root.ext4:raw" --root-options noatime /bin/sh -c 'cat /persist; ls /init.krun 2>&1 | grep -c "No such"'
check "root disk (ext4 on raw): the workload runs on it, a file written in one boot is there in the next" \
	sh -c "[ $status -eq 0 ] && [ \"\$(cat '$work/out')\" = 'persisted
1' ]"
api --disk "$work/img/root.ext4" --remount /dev/disk/by-id/virtio-data:ext4:ro "$root" /bin/sh -c 'cat /marker /persist; touch /x 2>&1 | grep -c Read-only'
check "krun_add_disk + krun_set_root_disk_remount by the by-id name, mounted ro as asked" \
	sh -c "[ $status -eq 0 ] && [ \"\$(cat '$work/out')\" = 'from-the-disk
persisted
1' ]"
"$qemu_img" convert -O qcow2 "$work/img/root.ext4" "$work/img/root.qcow2"
vm --root-disk "$work/img/root.qcow2:qcow2" /bin/sh -c 'cat /persist; echo again >/persist2; sync'
check "root disk on qcow2: boots, writes; qemu-img check clean" \
	sh -c "[ $status -eq 0 ] && grep -qx persisted '$work/out' && '$qemu_img' check -q '$work/img/root.qcow2'"

# --- crash consistency: kill -9 the VMM in a write storm on qcow2 (4 KiB clusters:
# allocations, new L2 tables and refcount blocks all the time); the image must
# check clean but for leaks, and every write the guest saw flushed must be there.
"$qemu_img" create -q -f qcow2 -o cluster_size=4096 "$work/img/crash.qcow2" 256M
# The output file exists before the background job opens it: the wait loop's
# first grep must not find it missing ("bad number" ended the wait at once).
: >"$work/crash.out"
"$chroot" --disk "crash:$work/img/crash.qcow2:qcow2" "$root" /bin/sh -c '
	(while :; do dd if=/dev/urandom of=/dev/vda bs=65536 count=4 seek=$((RANDOM % 1500 + 2000)) oflag=direct 2>/dev/null; done) &
	(while :; do dd if=/dev/urandom of=/dev/vda bs=4096 count=8 seek=$((RANDOM % 20000 + 40000)) 2>/dev/null; done) &
	i=0; while :; do yes "blk-$i" | head -c 4096 | dd of=/dev/vda bs=4096 seek=$((i * 17 + 1)) conv=notrunc,fsync 2>/dev/null && echo "synced $i"; i=$((i + 1)); done' \
	</dev/null >"$work/crash.out" 2>"$work/crash.err" &
crash_pid=$!
n=0
while [ "$(grep -c synced "$work/crash.out")" -lt 30 ] && [ $n -lt 240 ]; do sleep 1; n=$((n + 1)); done
sleep 2
kill -9 $crash_pid
wait $crash_pid 2>/dev/null
last=$(grep synced "$work/crash.out" | tail -1 | cut -d' ' -f2)
"$qemu_img" check "$work/img/crash.qcow2" >"$work/crash.check" 2>&1
check_rc=$?
echo "     killed after flushed write ${last:-none}; qemu-img check: exit $check_rc, $(grep -E 'leaked|corrupt|ERROR' "$work/crash.check" | head -2 | tr '\n' ' ')"
"$qemu_img" convert -O raw "$work/img/crash.qcow2" "$work/img/crash.raw"
missing=0
i=0
while [ -n "$last" ] && [ $i -le "$last" ]; do
	yes "blk-$i" | head -c 4096 >"$work/want"
	dd if="$work/img/crash.raw" bs=4096 skip=$((i * 17 + 1)) count=1 2>/dev/null | cmp -s - "$work/want" || missing=$((missing + 1))
	i=$((i + 1))
done
check "qcow2 crash (kill -9 in a write storm): qemu-img check finds no corruption, all ${last:-0} flushed writes are there" \
	sh -c "[ -n '$last' ] && [ $last -ge 20 ] && { [ $check_rc -eq 0 ] || [ $check_rc -eq 3 ]; } && ! grep -qi corrupt '$work/crash.check' && [ $missing -eq 0 ]"

# --- bad input
vm --disk "data:$work/img/missing.raw" "$root" /bin/true
check "a missing image: the VM is not started, the log names the file" \
	sh -c "[ $status -ne 0 ] && grep -q 'missing.raw' '$work/err'"

printf 'KDMV' >"$work/img/fake.vmdk"
vm --disk "data:$work/img/fake.vmdk:vmdk" "$root" /bin/true
check "a sparse vmdk: refused at start with a log line saying so" \
	sh -c "[ $status -ne 0 ] && grep -q 'fake.vmdk: sparse vmdk' '$work/err'"
vm --disk "data:$work/img/pattern.raw:qcow2" "$root" /bin/true
check "a raw file said to be qcow2: refused at start (never probed), the log says why" \
	sh -c "[ $status -ne 0 ] && grep -q 'pattern.raw: not a qcow2 image' '$work/err'"

rm -rf "$work"
echo "blk: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
