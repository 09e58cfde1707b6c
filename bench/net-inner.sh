#!/bin/sh
# net-inner.sh BUILD: TCP through virtio-net to Debian's passt, ours against
# QEMU's, in the same run, on the same kernel, with the same passt, initramfs
# and guest program (tests/integration/guest/net-io):
#   krun:  krun-boot --net fd:N, passt --fd on the other end of a socket pair
#   qemu:  QEMU -M microvm + virtio-net-device, -netdev stream on the same
#          kind of socket pair to passt (QEMU's default offloads; ours are
#          COMPAT_NET_FEATURES: checksums, TSO4, UFO, both ways)
# The guest (10.0.2.15, gateway 10.0.2.2: passt maps it to the host's
# loopback) sends MB MiB to a host sink, receives MB MiB from a host source,
# then makes RR one-byte request/response round trips on one connection
# (TCP_NODELAY). Times are taken on the host side (tests/net-peer).
build=$1
# passt sandboxes itself with pivot_root(): not on an initramfs root (the KVM
# test host's). As in tests/integration/net-tests.sh.
if [ -z "${NET_BENCH_REROOTED:-}" ] && [ "$(awk '$2 == "/" { print $3; exit }' /proc/mounts)" = rootfs ]; then
	mkdir -p /.net-bench-root
	exec unshare -m sh -c 'mount --make-rprivate / && mount -o rbind / /.net-bench-root &&
		cd /.net-bench-root && mount -o move . / && exec chroot . env NET_BENCH_REROOTED=1 sh -c "cd \"$1\" && exec sh \"$2\" \"$3\"" sh "$@"' \
		sh "$PWD" "$0" "$build"
fi
mb=${NETBENCH_MB:-64}
rr=${NETBENCH_RR:-2000}
runs=${NETBENCH_RUNS:-3}
peer="$build/tests/net-peer"
work=$(mktemp -d /tmp/krun-netbench.XXXXXX)
size=$((mb * 1024 * 1024))

grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>/etc/passwd
grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >>/etc/group
if ! ip route | grep -q '^default'; then
	ip link add krun-dummy type dummy
	ip addr add 10.0.2.15/24 dev krun-dummy
	ip link set krun-dummy up
	ip route add default via 10.0.2.2 dev krun-dummy
fi
ip link set lo up

mkdir -p "$work/initrd/bin" "$work/initrd/proc" "$work/initrd/sys" "$work/initrd/dev"
cp "$build/rootfs/bin/busybox" "$build/tests/guest/net-io" "$work/initrd/bin/"
cat >"$work/initrd/init" <<'EOI'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for a in $(cat /proc/cmdline); do
	case $a in nb_size=*) size=${a#nb_size=} ;; nb_rr=*) rr=${a#nb_rr=} ;; esac
done
ip link set lo up; ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
net-io send 10.0.2.2 5001 "$size" || echo BENCH-FAILED send
net-io recv 10.0.2.2 5002 >/dev/null || echo BENCH-FAILED recv
net-io rr 10.0.2.2 5003 "$rr" || echo BENCH-FAILED rr
echo BENCH-DONE
reboot -f
EOI
chmod +x "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz"
args="nb_size=$size nb_rr=$rr"

peers() {
	"$peer" tcp-sink 5001 >"$work/sink" 2>&1 &
	p1=$!
	"$peer" tcp-source 5002 "$size" >"$work/source" 2>&1 &
	p2=$!
	"$peer" tcp-echo 5003 >"$work/echo" 2>&1 &
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
	rate=$(sed -n 's/.*: \([0-9.]*\) round trips\/s/\1/p' "$work/echo")
	echo "$1: guest->host ${g2h:-?} MiB/s, host->guest ${h2g:-?} MiB/s, ${rate:-?} round trips/s"
	[ -n "$g2h" ] && [ -n "$h2g" ] && [ -n "$rate" ] && echo "$g2h $h2g $rate" >>"$work/$2.runs"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

summary() {
	for col in 1 2 3; do awk -v c=$col '{ print $c }' "$work/$1.runs" | median; done | tr '\n' ' '
}

passt_cmd="passt --foreground --quiet --fd {fd}"

krun() {
	peers
	timeout 900 "$peer" pair $passt_cmd -- "$build/krun-boot" --net "fd:{fd}" \
		--append "$args" "$work/initrd.gz" >"$work/vm" 2>&1
	report "krun (virtio-net, unixstream)" krun
}

qemu() {
	peers
	timeout 900 "$peer" pair $passt_cmd -- qemu-system-x86_64 -M microvm,acpi=off -accel kvm \
		-cpu host -m 512 -smp 1 -nodefaults -no-user-config -nographic -no-reboot -serial stdio \
		-global virtio-mmio.force-legacy=false \
		-netdev "stream,id=n0,addr.type=fd,addr.str={fd}" -device virtio-net-device,netdev=n0 \
		-kernel "$build/krunfw/vmlinux" -initrd "$work/initrd.gz" \
		-append "console=ttyS0 reboot=t panic=-1 quiet io_delay=none no_timer_check $args" \
		>"$work/vm" 2>&1
	report "qemu (virtio-net-device, -netdev stream)" qemu
}

echo "host: $(uname -r), $(nproc) CPUs; $mb MiB each way, $rr round trips; $runs runs each, alternating"
i=0
while [ $i -lt "$runs" ]; do
	krun
	qemu
	i=$((i + 1))
done
set -- $(summary krun)
echo "krun median: guest->host $1 MiB/s, host->guest $2 MiB/s, $3 round trips/s"
if [ -s "$work/qemu.runs" ]; then
	k1=$1 k2=$2 k3=$3
	set -- $(summary qemu)
	echo "qemu median: guest->host $1 MiB/s, host->guest $2 MiB/s, $3 round trips/s"
	awk -v k1=$k1 -v k2=$k2 -v k3=$k3 -v q1=$1 -v q2=$2 -v q3=$3 'BEGIN {
		printf "krun / qemu: guest->host %.2fx, host->guest %.2fx, round trips %.2fx\n",
			k1 / q1, k2 / q2, k3 / q3 }'
fi
rm -rf "$work"
