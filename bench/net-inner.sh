#!/bin/sh
# net-inner.sh BUILD: TCP through virtio-net, ours against QEMU's, in the
# same run, on the same kernel, with the same initramfs and guest program
# (tests/integration/guest/net-io), for each backend and guest MTU:
#   passt: krun-boot --net fd:N, Debian's passt --fd on the other end of a
#          socket pair; QEMU -M microvm + virtio-net-device, -netdev stream
#          on the same kind of socket pair to its own passt. The guest is
#          10.0.2.15 via 10.0.2.2 (passt maps it to the host's loopback,
#          where the peers listen).
#   tap:   a tap (krbench0, 10.0.3.1/24, persistent) that each VMM opens in
#          turn: krun-boot --net tap:krbench0; QEMU -netdev tap,vhost=off
#          (QEMU's device model; NETBENCH_VHOST=1 adds a labelled vhost=on
#          column, the host kernel's data path). The guest is 10.0.3.2, the
#          peers listen on 10.0.3.1.
# Offloads: ours are COMPAT_NET_FEATURES (checksums, TSO4, UFO, both ways)
# with both backends; QEMU's are its defaults (with -netdev stream none: it
# has no vnet header there; with a tap all of them).
# The guest sets eth0's MTU from the command line (nb_mtu=, NETBENCH_MTUS:
# passt's DHCP gives 65520, the default headline), sends MB MiB to a host
# sink, receives MB MiB from a host source, then makes RR one-byte
# request/response round trips on one connection (TCP_NODELAY). Times are
# taken on the host side (tests/net-peer; its sink first sends the guest one
# byte, without which this passt resets a guest->host transfer 24 s after
# the connect: see net-peer.c). The guest also prints its eth0 frame
# and byte counts per phase: the frame sizes each VMM really carried.
#
# Rounds alternate: each round runs every backend and MTU, the VMMs in turn
# (the first one alternates from round to round); the result of a cell is
# the median of its completed runs. A phase that did not complete (a reset,
# fewer bytes than sent, a timeout) is not counted: it is listed with its
# reason.
#
# Each phase runs in a VM of its own (NETBENCH_BOOT=phase, the default), so
# that no phase measures what the one before left behind: through this
# passt, a host->guest transfer can end in a storm of retransmissions whose
# tail slows the round trips measured after it in the same VM, and it does
# so for whichever VMM had the storm (run 10 in bench/RESULTS.md).
# NETBENCH_BOOT=all runs all phases in one VM, as runs 1-10 did.
build=$1
# passt sandboxes itself with pivot_root(): not on an initramfs root (the KVM
# test host's). As in tests/integration/net-tests.sh.
if [ -z "${NET_BENCH_REROOTED:-}" ] && [ "$(awk '$2 == "/" { print $3; exit }' /proc/mounts)" = rootfs ]; then
	mkdir -p /.net-bench-root
	exec unshare -m sh -c 'mount --make-rprivate / && mount -o rbind / /.net-bench-root &&
		cd /.net-bench-root && mount -o move . / && exec chroot . env NET_BENCH_REROOTED=1 sh -c "cd \"$1\" && exec sh \"$2\" \"$3\"" sh "$@"' \
		sh "$PWD" "$0" "$build"
fi
mb=${NETBENCH_MB:-16}
rr=${NETBENCH_RR:-1000}
runs=${NETBENCH_RUNS:-5}
mtus=${NETBENCH_MTUS:-65520 1500}
backends=${NETBENCH_BACKENDS:-passt tap}
vhost=${NETBENCH_VHOST:-0}
phases=${NETBENCH_PHASES:-send recv rr}
all_phases=$phases
boot=${NETBENCH_BOOT:-phase}
# passt's options. Not --debug: this passt then stops at the guest's first
# SYN. NETBENCH_PCAP_DIR=DIR: each passt writes DIR/CELL-rROUND.pcap.
passt_opts=${NETBENCH_PASST_OPTS:---quiet}
vm_timeout=${NETBENCH_VM_TIMEOUT:-240} # a run takes under 90 s; a stalled one fails
peer="$build/tests/net-peer"
work=$(mktemp -d /tmp/krun-netbench.XXXXXX)
size=$((mb * 1024 * 1024))
tap=krbench0
t_start=$(date +%s)

grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>/etc/passwd
grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >>/etc/group
if ! ip route | grep -q '^default'; then
	ip link add krun-dummy type dummy
	ip addr add 10.0.2.15/24 dev krun-dummy
	ip link set krun-dummy up
	ip route add default via 10.0.2.2 dev krun-dummy
fi
ip link set lo up
case " $backends " in *" tap "*)
	tunctl -t $tap >/dev/null || { echo "tunctl -t $tap failed: no tap benchmark"; exit 1; }
	ip addr add 10.0.3.1/24 dev $tap
	ip link set $tap up
	;;
esac
if [ "$vhost" = 1 ] && [ ! -c /dev/vhost-net ]; then
	echo "NETBENCH_VHOST=1 but no /dev/vhost-net (module vhost_net): no vhost column"
	vhost=0
fi

mkdir -p "$work/initrd/bin" "$work/initrd/proc" "$work/initrd/sys" "$work/initrd/dev"
cp "$build/rootfs/bin/busybox" "$build/tests/guest/net-io" "$work/initrd/bin/"
cat >"$work/initrd/init" <<'EOI'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for a in $(cat /proc/cmdline); do
	case $a in
	nb_size=*) size=${a#nb_size=} ;; nb_rr=*) rr=${a#nb_rr=} ;; nb_mtu=*) mtu=${a#nb_mtu=} ;;
	nb_ip=*) ip=${a#nb_ip=} ;; nb_gw=*) gw=${a#nb_gw=} ;; nb_peer=*) peer=${a#nb_peer=} ;;
	nb_phases=*) phases=$(echo ${a#nb_phases=} | tr , ' ') ;;
	esac
done
s=/sys/class/net/eth0/statistics
# eth0's frame and byte counts, and its device's interrupts (virtio-mmio: one line per device)
dev=$(basename "$(readlink /sys/class/net/eth0/device)")
irqs() { awk -v d="$dev" '$NF == d { n = 0; for (i = 2; i < NF; i++) if ($i ~ /^[0-9]+$/) n += $i; print n }' /proc/interrupts; }
# The guest TCP's segments dropped because the socket's backlog was full (the
# receive queue and backlog over the socket's limit), and segments queued out of order.
tcpext() { awk '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) n[$i] = i; h = 1 } else { print $n["TCPBacklogDrop"] + 0, $n["TCPOFOQueue"] + 0 } }' /proc/net/netstat; }
counts() { echo $(cat $s/tx_packets $s/tx_bytes $s/rx_packets $s/rx_bytes) $(irqs) $(tcpext); }
# phase NAME CMD...: runs CMD, then prints the eth0 counts before and after.
phase() {
	name=$1; shift
	before=$(counts)
	"$@" || echo "BENCH-FAILED $name"
	echo "BENCH-STATS $name $before $(counts)"
}
ip link set lo up; ip link set eth0 mtu "$mtu" || echo "BENCH-FAILED mtu"
ip link set eth0 up; ip addr add "$ip/24" dev eth0; ip route add default via "$gw"
echo "BENCH-MTU $(cat /sys/class/net/eth0/mtu)"
for p in $phases; do
	case $p in
	send) phase send net-io send "$peer" 5001 "$size" ;;
	recv) phase recv net-io recv "$peer" 5002 ;;
	rr) phase rr net-io rr "$peer" 5003 "$rr" ;;
	esac
done
echo BENCH-DONE
reboot -f
EOI
chmod +x "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz"

# ---- one run: peers, the VM, what came out

has() { case " $phases " in *" $1 "*) return 0 ;; esac; return 1; }

peers() { # LISTEN-ADDRESS
	p1= p2= p3=
	rm -f "$work/sink" "$work/source" "$work/echo"
	if has send; then
		"$peer" tcp-sink "$1:5001" >"$work/sink" 2>&1 &
		p1=$!
	fi
	if has recv; then
		"$peer" tcp-source "$1:5002" "$size" >"$work/source" 2>&1 &
		p2=$!
	fi
	if has rr; then
		"$peer" tcp-echo "$1:5003" >"$work/echo" 2>&1 &
		p3=$!
	fi
	sleep 1
}

# The eth0 frame counts of phase $1 (BENCH-STATS NAME tx_p tx_b rx_p rx_b irqs
# backlog_drops ofo, before, after).
# "x" is what the guest sent (send) or received (recv) in bytes on eth0,
# over the payload: above 1.0 by the headers (~1.03 at MTU 1500), more for
# retransmissions.
frames() {
	awk -v p="$1" -v size="$size" '$1 == "BENCH-STATS" && $2 == p {
		tp = $10 - $3; tb = $11 - $4; rp = $12 - $5; rb = $13 - $6; irq = $14 - $7; bd = $15 - $8; ofo = $16 - $9
		printf "guest tx %d frames avg %d B, rx %d frames avg %d B (%.2fx), %d interrupts, TCP: %d backlog drops, %d out of order",
			tp, tp ? tb / tp : 0, rp, rp ? rb / rp : 0, (p == "send" ? tb : rb) / size, irq, bd, ofo
	}' "$work/vm"
}

# The "x" of phase $1: what the guest carried over the payload.
carried() {
	awk -v p="$1" -v size="$size" '$1 == "BENCH-STATS" && $2 == p {
		printf "%.2f\n", (p == "send" ? $11 - $4 : $13 - $6) / size }' "$work/vm"
}

fail() { # CELL WHAT REASON
	why=$3
	[ "$vmrc" = 124 ] && why="$why (stalled: the VM was stopped after $vm_timeout s)"
	echo "    $2 not counted: $why"
	echo "run $round: $why" >>"$work/$1.$2.fail"
}

report() { # CELL LABEL
	kill $p1 $p2 $p3 2>/dev/null
	wait $p1 $p2 $p3 2>/dev/null
	cell=$1
	touch "$work/sink" "$work/source" "$work/echo"
	g2h=$(sed -n 's/.*: \([0-9.]*\) MiB\/s/\1/p' "$work/sink")
	got=$(sed -n 's/^sink: \([0-9]*\) bytes.*/\1/p' "$work/sink")
	h2g=$(sed -n 's/.*: \([0-9.]*\) MiB\/s/\1/p' "$work/source")
	rate=$(sed -n 's/.*: \([0-9.]*\) round trips\/s/\1/p' "$work/echo")
	echo "  $2 (MTU $(sed -n 's/^BENCH-MTU //p' "$work/vm" | tr -d '\r')): guest->host ${g2h:-?} MiB/s, host->guest ${h2g:-?} MiB/s, ${rate:-?} round trips/s"
	echo "    send: $(frames send); recv: $(frames recv)"
	sed -n 's/.*\(virtio-net eth0: .*\)/    krun: \1/p' "$work/vm"
	grep -q BENCH-DONE "$work/vm" || echo "    the guest did not finish: $(tail -3 "$work/vm" | tr '\r\n' '  ')"
	grep -i -m3 -e 'reset by peer' -e 'BENCH-FAILED' -e 'error' "$work/vm" | sed 's/^/    guest: /'
	if ! has send; then
		:
	elif grep -q 'BENCH-FAILED send' "$work/vm" || [ "${got:-0}" != "$size" ] || [ -z "$g2h" ]; then
		fail "$cell" g2h "guest->host: the sink got ${got:-no} of $size bytes$(grep -q 'BENCH-FAILED send' "$work/vm" && echo ', send failed in the guest')"
	else
		echo "$g2h" >>"$work/$cell.g2h"
		carried send >>"$work/$cell.g2hx"
	fi
	if ! has recv; then
		:
	elif grep -q 'BENCH-FAILED recv' "$work/vm" || [ -z "$h2g" ]; then
		fail "$cell" h2g "host->guest: $(grep -q 'BENCH-FAILED recv' "$work/vm" && echo 'recv failed in the guest' || echo "the source did not finish: $(tail -1 "$work/source")")"
	else
		echo "$h2g" >>"$work/$cell.h2g"
		carried recv >>"$work/$cell.h2gx"
	fi
	if ! has rr; then
		:
	elif grep -q 'BENCH-FAILED rr' "$work/vm" || [ -z "$rate" ]; then
		fail "$cell" rr "round trips: $(grep -q 'BENCH-FAILED rr' "$work/vm" && echo 'failed in the guest' || echo 'no rate')"
	else
		echo "$rate" >>"$work/$cell.rr"
	fi
}

qemu_common="-M microvm,acpi=off -accel kvm -cpu host -m 512 -smp 1 -nodefaults -no-user-config
	-nographic -no-reboot -serial stdio -global virtio-mmio.force-legacy=false"
qemu_append="console=ttyS0 reboot=t panic=-1 quiet io_delay=none no_timer_check"

passt_pcap() { # CELL
	[ -n "${NETBENCH_PCAP_DIR:-}" ] && echo "--pcap $NETBENCH_PCAP_DIR/$1-r$round.pcap"
}

# VMM BACKEND MTU: one run, into $work/vm
vm() {
	if [ "$2" = passt ]; then
		args="nb_ip=10.0.2.15 nb_gw=10.0.2.2 nb_peer=10.0.2.2"
		peers 127.0.0.1
	else
		args="nb_ip=10.0.3.2 nb_gw=10.0.3.1 nb_peer=10.0.3.1"
		ip link set $tap mtu "$3"
		peers 10.0.3.1
	fi
	args="$args nb_size=$size nb_rr=$rr nb_mtu=$3 nb_phases=$(echo $phases | tr ' ' ,)"
	case $1-$2 in
	krun-passt)
		timeout "$vm_timeout" "$peer" pair passt --foreground $passt_opts $(passt_pcap "$2-$3-$1") --fd {fd} -- \
			"$build/krun-boot" --log-level 4 --net "fd:{fd}" --append "$args" "$work/initrd.gz" ;;
	krun-tap)
		timeout "$vm_timeout" "$build/krun-boot" --log-level 4 --net "tap:$tap" \
			--append "$args" "$work/initrd.gz" ;;
	qemu-passt)
		timeout "$vm_timeout" "$peer" pair passt --foreground $passt_opts $(passt_pcap "$2-$3-$1") --fd {fd} -- \
			qemu-system-x86_64 $qemu_common \
			-netdev "stream,id=n0,addr.type=fd,addr.str={fd}" -device virtio-net-device,netdev=n0 \
			-kernel "$build/krunfw/vmlinux" -initrd "$work/initrd.gz" -append "$qemu_append $args" ;;
	qemu-tap | qemuvhost-tap)
		vhost_on=off
		[ "$1" = qemuvhost ] && vhost_on=on
		timeout "$vm_timeout" qemu-system-x86_64 $qemu_common \
			-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=$vhost_on" \
			-device virtio-net-device,netdev=n0 \
			-kernel "$build/krunfw/vmlinux" -initrd "$work/initrd.gz" -append "$qemu_append $args" ;;
	esac >"$work/vm" 2>&1
	vmrc=$?
	report "$2-$3-$1" "$1 $2"
}

vmms() { # BACKEND: the VMMs of a round, the first one alternating
	if [ $((round % 2)) = 1 ]; then set -- krun qemu; else set -- qemu krun; fi
	[ "$vhost" = 1 ] && [ "$backend" = tap ] && set -- "$@" qemuvhost
	echo "$@"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; else print "-" }'; }

cellmed() { # CELL METRIC: "median (n/runs)"
	if [ -s "$work/$1.$2" ]; then
		echo "$(median <"$work/$1.$2") ($(wc -l <"$work/$1.$2")/$runs)"
	else
		echo "- (0/$runs)"
	fi
}

ratio() { # A B
	awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx\n", a / b }'
}

echo "host: $(uname -r), $(nproc) CPUs; $mb MiB each way, $rr round trips ($phases; a VM for $([ "$boot" = phase ] && echo each phase || echo all)); backends: $backends; MTUs: $mtus; $runs rounds"
round=1
while [ $round -le "$runs" ]; do
	echo "round $round:"
	for backend in $backends; do
		for mtu in $mtus; do
			for v in $(vmms); do
				if [ "$boot" = phase ]; then
					for phases in $all_phases; do # has() reads $phases
						vm "$v" "$backend" "$mtu"
					done
					phases=$all_phases
				else
					vm "$v" "$backend" "$mtu"
				fi
			done
		done
	done
	round=$((round + 1))
done

echo "results (medians of completed runs, n/$runs counted): MiB/s, round trips/s"
for backend in $backends; do
	for mtu in $mtus; do
		vs="krun qemu"
		[ "$vhost" = 1 ] && [ "$backend" = tap ] && vs="$vs qemuvhost"
		for m in g2h h2g rr; do
			line="$backend MTU $mtu $m:"
			for v in $vs; do
				x=
				[ -s "$work/$backend-$mtu-$v.${m}x" ] && x=" carried $(median <"$work/$backend-$mtu-$v.${m}x")x"
				line="$line $v $(cellmed "$backend-$mtu-$v" $m)$x,"
			done
			echo "$line krun/qemu $(ratio "$(cellmed "$backend-$mtu-krun" $m)" "$(cellmed "$backend-$mtu-qemu" $m)")"
		done
	done
done
fails=$(cat "$work"/*.fail 2>/dev/null | wc -l)
if [ "$fails" -gt 0 ]; then
	echo "not counted:"
	for f in "$work"/*.fail; do
		sed "s|^|  $(basename "$f" .fail): |" "$f"
	done
fi
echo "benchmark time: $(($(date +%s) - t_start)) s"
case " $backends " in *" tap "*) tunctl -d $tap >/dev/null ;; esac
rm -rf "$work"
