#!/bin/sh
# tsi-inner.sh BUILD: TCP from a guest with no network interface through TSI,
# against QEMU's user networking (-netdev user, slirp) and passt (QEMU
# -netdev stream to passt), in the same run, on the same kernel, with the
# same initramfs and guest program (tests/integration/guest/tsi-io):
#   krun:  krun-boot, implicit TSI (tsi_hijack); the host at 127.0.0.1
#   slirp: QEMU -M microvm + virtio-net-device, -netdev user; host 10.0.2.2
#   passt: QEMU -M microvm + virtio-net-device, -netdev stream to passt's
#          socket; the host at the gateway passt gives (its loopback)
#   krun-passt: krun-boot --net fd:N (our virtio-net) to passt --fd on a
#          socket pair (tests/net-peer pair); the same addresses as passt's
# The guest fetches MB MiB (host: tsi-io serve-tcp), sends MB MiB (host:
# tsi-io sink-tcp), then makes CONNS connections one after another, 1 byte
# each, the server closing first (host: tsi-io serve-tcp). Times are taken
# on the host side, from the first accept.
build=$1
# passt sandboxes itself with pivot_root(), which fails on an initramfs root
# (the KVM test host's): rerun in a mount namespace whose root is a bind
# mount of it moved over / (as net-tests.sh does).
if command -v passt >/dev/null && [ -z "${TSIBENCH_REROOTED:-}" ] &&
	[ "$(awk '$2 == "/" { print $3; exit }' /proc/mounts)" = rootfs ]; then
	mkdir -p /.tsibench-root
	exec unshare -m sh -c 'mount --make-rprivate / && mount -o rbind / /.tsibench-root &&
		cd /.tsibench-root && mount -o move . / && exec chroot . env TSIBENCH_REROOTED=1 sh -c "cd \"$1\" && exec sh \"$2\" \"$3\"" sh "$@"' \
		sh "$PWD" "$0" "$build"
fi
mb=${TSIBENCH_MB:-32}
conns=${TSIBENCH_CONNS:-200}
runs=${TSIBENCH_RUNS:-3}
io="$build/tests/guest/tsi-io"
work=$(mktemp -d /tmp/krun-tsibench.XXXXXX)
size=$((mb * 1024 * 1024))

mkdir -p "$work/initrd/bin" "$work/initrd/proc" "$work/initrd/sys" "$work/initrd/dev"
cp "$build/rootfs/bin/busybox" "$io" "$work/initrd/bin/"
cat >"$work/initrd/init" <<'EOI'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
ip link set lo up
host=127.0.0.1
for a in $(cat /proc/cmdline); do
	case $a in tb_size=*) size=${a#tb_size=} ;; tb_conns=*) conns=${a#tb_conns=} ;;
	tb_net=*) net=${a#tb_net=} ;; esac
done
if [ -n "$net" ]; then
	# virtio-net: a static address in QEMU's user network (passt takes it too)
	ip link set eth0 up
	ip addr add 10.0.2.15/24 dev eth0
	ip route add default via 10.0.2.2
	host=$net
fi
tsi-io fetch-tcp $host 5001 "$size" 1 30 || echo BENCH-FAILED fetch
tsi-io send-tcp $host 5002 "$size" || echo BENCH-FAILED send
tsi-io fetch-tcp $host 5003 1 "$conns" 30 || echo BENCH-FAILED rate
echo BENCH-DONE
reboot -f
EOI
chmod +x "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz"
args="tb_size=$size tb_conns=$conns"

servers() {
	"$io" serve-tcp 127.0.0.1 5001 "$size" 1 >"$work/fetch" 2>&1 &
	p1=$!
	"$io" sink-tcp 127.0.0.1 5002 >"$work/sink" 2>&1 &
	p2=$!
	"$io" serve-tcp 127.0.0.1 5003 1 "$conns" >"$work/rate" 2>&1 &
	p3=$!
	sleep 1
}

report() {
	ok=1
	if ! grep -q BENCH-DONE "$work/vm" || grep -q BENCH-FAILED "$work/vm"; then
		echo "$1: the guest did not finish (not counted):"; tail -5 "$work/vm"
		ok=0
	fi
	kill $p1 $p2 $p3 2>/dev/null
	wait $p1 $p2 $p3 2>/dev/null
	h2g=$(sed -n 's/^time .*: \([0-9.]*\) MiB\/s.*/\1/p' "$work/fetch")
	g2h=$(sed -n 's/^sink .*: \([0-9.]*\) MiB\/s/\1/p' "$work/sink")
	rate=$(sed -n 's/^time .* \([0-9.]*\) connections\/s/\1/p' "$work/rate")
	echo "$1: host->guest ${h2g:-?} MiB/s, guest->host ${g2h:-?} MiB/s, ${rate:-?} connections/s"
	[ $ok = 1 ] && [ -n "$h2g" ] && [ -n "$g2h" ] && [ -n "$rate" ] && echo "$h2g $g2h $rate" >>"$work/$2.runs"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

summary() {
	for col in 1 2 3; do awk -v c=$col '{ print $c }' "$work/$1.runs" | median; done | tr '\n' ' '
}

krun() {
	servers
	timeout 600 "$build/krun-boot" --append "$args" "$work/initrd.gz" >"$work/vm" 2>&1
	report "krun (TSI)          " krun
}

qemu_net() { # qemu_net NETDEV HOST
	timeout 600 qemu-system-x86_64 -M microvm,acpi=off -accel kvm -cpu host -m 512 -smp 1 \
		-nodefaults -no-user-config -nographic -no-reboot -serial stdio \
		-global virtio-mmio.force-legacy=false -netdev "$1" -device virtio-net-device,netdev=n0 \
		-kernel "$build/krunfw/vmlinux" -initrd "$work/initrd.gz" \
		-append "console=ttyS0 reboot=t panic=-1 quiet io_delay=none no_timer_check $args tb_net=$2" \
		>"$work/vm" 2>&1
}

# Ours through passt: the guest has eth0 and its own TCP stack, no TSI.
krun_passt() {
	servers
	timeout 600 "$build/tests/net-peer" pair passt -f -q -a 10.0.2.15 -n 24 -g 10.0.2.2 -4 \
		--fd {fd} -- "$build/krun-boot" --net "fd:{fd}" --append "$args tb_net=10.0.2.2" \
		"$work/initrd.gz" >"$work/vm" 2>&1
	report "krun + passt        " krun-passt
}

slirp() {
	servers
	qemu_net user,id=n0 10.0.2.2
	report "qemu -netdev user   " slirp
}

# passt wants an interface with a default route to take its template from;
# the KVM test host has only its loopback: a dummy one then.
passt_iface() {
	# passt, started as root, becomes nobody: the test host may have no passwd
	grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>/etc/passwd
	grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >>/etc/group
	if ! ip route show default | grep -q .; then
		ip link add tb0 type dummy 2>/dev/null && ip addr add 192.0.2.1/24 dev tb0 &&
			ip link set tb0 up && ip route add default via 192.0.2.254
	fi
}

passt_run() {
	servers
	sock=/tmp/tsibench-passt.$$.sock # passt runs as nobody: not in $work
	rm -f "$sock"
	# The guest's address and gateway as QEMU's user network has them; the
	# gateway is the host's loopback (passt's default mapping).
	passt -f -q -s "$sock" -a 10.0.2.15 -n 24 -g 10.0.2.2 -4 >"$work/passt.log" 2>&1 &
	pp=$!
	w=0 # (not $i: the caller's loop counter)
	while [ ! -S "$sock" ] && [ $w -lt 50 ]; do sleep 0.1; w=$((w + 1)); done
	if [ -S "$sock" ]; then
		qemu_net "stream,id=n0,server=off,addr.type=unix,addr.path=$sock" 10.0.2.2
	else
		echo "passt did not start:"; grep -v syslog "$work/passt.log" | tail -3
		: >"$work/vm"
	fi
	kill $pp 2>/dev/null
	wait $pp 2>/dev/null
	rm -f "$sock"
	report "qemu + passt        " passt
}

echo "host: $(uname -r), $(nproc) CPUs; $mb MiB each way, $conns connections; $runs runs each, alternating"
have_passt=0
command -v passt >/dev/null && passt_iface && have_passt=1
i=0
while [ $i -lt "$runs" ]; do
	krun
	slirp
	if [ $have_passt = 1 ]; then
		passt_run
		krun_passt
	else
		echo "passt: not installed: no figures"
	fi
	i=$((i + 1))
done
[ -s "$work/krun.runs" ] || { echo "no krun figures"; rm -rf "$work"; exit 1; }
set -- $(summary krun)
k1=$1 k2=$2 k3=$3
echo "krun median: host->guest $k1 MiB/s, guest->host $k2 MiB/s, $k3 connections/s"
for peer in slirp passt krun-passt; do
	[ -s "$work/$peer.runs" ] || continue
	set -- $(summary $peer)
	echo "$peer median: host->guest $1 MiB/s, guest->host $2 MiB/s, $3 connections/s"
	awk -v p=$peer -v k1=$k1 -v k2=$k2 -v k3=$k3 -v q1=$1 -v q2=$2 -v q3=$3 'BEGIN {
		printf "krun TSI / %s: host->guest %.2fx, guest->host %.2fx, connections %.2fx\n",
			p, k1 / q1, k2 / q2, k3 / q3 }'
done
rm -rf "$work"
