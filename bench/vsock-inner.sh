#!/bin/sh
# vsock-inner.sh BUILD: guest vsock to a host socket, ours against QEMU's
# vhost-vsock-device (the data path in the host kernel), in the same run, on
# the same kernel, with the same initramfs and guest program
# (tests/integration/guest/vsock-io):
#   krun:  krun-boot, guest ports 5001-5003 mapped to host unix sockets
#   qemu:  QEMU -M microvm + vhost-vsock-device, guest CID 3, the host side
#          AF_VSOCK sockets on the same ports
# The guest sends MB MiB (host: vsock-peer sink), receives MB MiB (host:
# vsock-peer source, which counts until the guest's one-byte answer), then
# makes CONNS connections one after another, one byte echoed on each (host:
# vsock-peer echo). Times are taken on the host side, from the first byte
# (sink), the accept (source) and the first accept (echo).
build=$1
mb=${VSOCKBENCH_MB:-32}
conns=${VSOCKBENCH_CONNS:-100}
runs=${VSOCKBENCH_RUNS:-4}
peer="$build/tests/vsock-peer"
work=$(mktemp -d /tmp/krun-vsockbench.XXXXXX)
size=$((mb * 1024 * 1024))

mkdir -p "$work/initrd/bin" "$work/initrd/proc" "$work/initrd/sys" "$work/initrd/dev"
cp "$build/rootfs/bin/busybox" "$build/tests/guest/vsock-io" "$work/initrd/bin/"
cat >"$work/initrd/init" <<'EOI'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for a in $(cat /proc/cmdline); do
	case $a in vb_size=*) size=${a#vb_size=} ;; vb_conns=*) conns=${a#vb_conns=} ;; esac
done
vsock-io send 2 5001 "$size" || echo BENCH-FAILED send
vsock-io recv-ack 2 5002 || echo BENCH-FAILED recv
vsock-io rate 2 5003 "$conns" || echo BENCH-FAILED rate
echo BENCH-DONE
reboot -f
EOI
chmod +x "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz"
args="vb_size=$size vb_conns=$conns"

# peers PREFIX: the three host servers, on PREFIX1..3.
peers() {
	"$peer" sink "${1}1" >"$work/sink" 2>&1 &
	p1=$!
	"$peer" source "${1}2" "$size" >"$work/source" 2>&1 &
	p2=$!
	"$peer" echo "${1}3" "$conns" >"$work/echo" 2>&1 &
	p3=$!
	sleep 1
}

report() {
	if ! grep -q BENCH-DONE "$work/vm" || grep -q BENCH-FAILED "$work/vm"; then
		echo "$1: the guest did not finish:"; tail -5 "$work/vm"
	fi
	kill $p1 $p2 $p3 2>/dev/null
	wait $p1 $p2 $p3 2>/dev/null
	g2h=$(sed -n 's/.*: \([0-9.]*\) MiB\/s/\1/p' "$work/sink")
	h2g=$(sed -n 's/.*: \([0-9.]*\) MiB\/s/\1/p' "$work/source")
	rate=$(sed -n 's/.*: \([0-9.]*\) connections\/s/\1/p' "$work/echo")
	echo "$1: guest->host $g2h MiB/s, host->guest $h2g MiB/s, $rate connections/s"
	echo "$g2h $h2g $rate" >>"$work/$2.runs"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# summary NAME: the medians of each figure over the runs.
summary() {
	for col in 1 2 3; do awk -v c=$col '{ print $c }' "$work/$1.runs" | median; done | tr '\n' ' '
}

krun() {
	peers "$work/s"
	timeout 600 "$build/krun-boot" --vsock-port "5001:$work/s1" --vsock-port "5002:$work/s2" \
		--vsock-port "5003:$work/s3" --append "$args" "$work/initrd.gz" >"$work/vm" 2>&1
	report "krun (unix sockets)  " krun
}

qemu() {
	peers vsock:500
	timeout 600 qemu-system-x86_64 -M microvm,acpi=off -accel kvm -cpu host -m 512 -smp 1 \
		-nodefaults -no-user-config -nographic -no-reboot -serial stdio \
		-global virtio-mmio.force-legacy=false -device vhost-vsock-device,guest-cid=3 \
		-kernel "$build/krunfw/vmlinux" -initrd "$work/initrd.gz" \
		-append "console=ttyS0 reboot=t panic=-1 quiet io_delay=none no_timer_check $args" \
		>"$work/vm" 2>&1
	report "qemu (vhost-vsock)   " qemu
}

echo "host: $(uname -r), $(nproc) CPUs; $mb MiB each way, $conns connections; $runs runs each, alternating"
have_vhost=1
[ -c /dev/vhost-vsock ] && command -v qemu-system-x86_64 >/dev/null || have_vhost=0
i=0
while [ $i -lt "$runs" ]; do
	krun
	if [ $have_vhost = 1 ]; then qemu; else echo "qemu: no /dev/vhost-vsock or QEMU: no peer figures"; fi
	i=$((i + 1))
done
set -- $(summary krun)
echo "krun median: guest->host $1 MiB/s, host->guest $2 MiB/s, $3 connections/s"
if [ -s "$work/qemu.runs" ]; then
	k1=$1 k2=$2 k3=$3
	set -- $(summary qemu)
	echo "qemu median: guest->host $1 MiB/s, host->guest $2 MiB/s, $3 connections/s"
	awk -v k1=$k1 -v k2=$k2 -v k3=$k3 -v q1=$1 -v q2=$2 -v q3=$3 'BEGIN {
		printf "krun / qemu: guest->host %.2fx, host->guest %.2fx, connections %.2fx\n",
			k1 / q1, k2 / q2, k3 / q3 }'
fi
rm -rf "$work"
