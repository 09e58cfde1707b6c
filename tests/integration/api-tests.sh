#!/bin/sh
# api-tests.sh BUILD: the device-shaping calls of the public API, each through
# krun-api-client (one option per call) in a real guest: explicit consoles,
# overlay entries, the built-in init switched off, the shutdown eventfd, the
# vsock device's presence, and devices of later versions refused at start.
build=$1
client="$build/tests/krun-api-client"
work=$(mktemp -d /tmp/krun-api-tests.XXXXXX)
root="$work/root"
. "$(dirname "$0")/testlib.sh"

api() { run_timed krun-api-client "$client" "$@"; }

cp -a "$build/rootfs" "$root"
find_port='for d in /sys/class/virtio-ports/*; do [ "$(cat $d/name)" = "$1" ] && echo /dev/${d##*/}; done'

# --- consoles
printf 'line from the host\n' >"$work/c.in"
api --no-implicit-console --virtio-console "$work/c.in:$work/c.out:$work/c.err" "$root" \
	/bin/sh -c 'cat; echo to-stdout; echo to-stderr >&2'
check "virtio console on given fds (implicit one disabled): stdin, stdout, stderr" \
	sh -c "[ $status -eq 0 ] && [ \"\$(cat '$work/c.out')\" = 'line from the host
to-stdout' ] && [ \"\$(cat '$work/c.err')\" = to-stderr ] && [ ! -s '$work/out' ]"

printf 'ping\n' >"$work/a.in"
api --multiport --port "alpha:$work/a.in:$work/a.out" --port "beta:-:$work/b.out" "$root" \
	/bin/sh -c "port() { $find_port; }
	a=\$(port alpha); b=\$(port beta); echo \"alpha=\$a beta=\$b\"
	read -r line <\$a; echo \$line | tr a-z A-Z >\$a; echo to-beta >\$b"
check "multi-port console: named ports in /sys/class/virtio-ports, data both ways" \
	sh -c "[ $status -eq 0 ] && grep -q 'alpha=/dev/vport[0-9]p[0-9] beta=/dev/vport' '$work/out' && [ \"\$(cat '$work/a.out')\" = PING ] && [ \"\$(cat '$work/b.out')\" = to-beta ]"

# A terminal port is an hvc console of the guest; which hvcN depends on the
# order the guest sets the devices up: it is the one with the pty's size.
api --multiport --port-tty "term:$work/t.out:typed at the terminal" "$root" /bin/sh -c \
	'for t in /dev/hvc[0-9]; do [ "$(stty size <$t 2>/dev/null)" = "33 101" ] && tty=$t; done; echo "tty=$tty"
	exec 3<>$tty; echo ready >&3; read -r line <&3; echo "got: $line" >&3'
for i in 1 2 3 4 5; do grep -q "got:" "$work/t.out" && break; sleep 1; done
check "terminal port (a pty): an hvc console with the pty's size (33x101), both ways" \
	sh -c "[ $status -eq 0 ] && tr -d '\r' <'$work/t.out' | grep -qx 'got: typed at the terminal' && grep -q 'tty=/dev/hvc' '$work/out'"

# The serial line is typed once the guest's shell said "ready".
# serial_console DESCRIPTION [OPTIONS...]
serial_console() {
	desc=$1
	shift
	rm -f "$work/s.fifo"
	mkfifo "$work/s.fifo"
	: >"$work/s.out"
	(exec >"$work/s.fifo"; while ! grep -q ready "$work/s.out"; do sleep 1; done
	 printf 'typed on the serial line\n'; sleep 60) &
	feeder=$!
	api "$@" --no-implicit-console --serial-console "$work/s.fifo:@3" "$root" \
		/bin/sh -c 'echo ready; read line; echo "got: $line"; cat /sys/class/tty/console/active' 3>>"$work/s.out"
	kill $feeder 2>/dev/null
	check "$desc" \
		sh -c "[ $status -eq 0 ] && tr -d '\r' <'$work/s.out' | grep -qx 'got: typed on the serial line' && tr -d '\r' <'$work/s.out' | grep -qx ttyS0"
}
serial_console "serial console: the workload's terminal is ttyS0, both ways"

api --kernel-console ttyS0 "$root" /bin/sh -c 'cat /sys/class/tty/console/active; tr " " "\n" </proc/cmdline | grep ^console='
check "krun_set_kernel_console: console=ttyS0 is the kernel's console" \
	sh -c "[ $status -eq 0 ] && [ \"\$(cat '$work/out')\" = 'ttyS0
console=ttyS0' ]"

# --- overlay entries of the root share
api --overlay-dir extra:0750 --overlay-file extra/hello.txt:0640:hello-overlay \
	--overlay-one-shot once.txt:0600:secret "$root" /bin/sh -c \
	'cat /extra/hello.txt; echo; stat -c %A /extra /extra/hello.txt; cat /once.txt; echo; cat /once.txt 2>/dev/null || echo gone'
check "overlay dir, file and one-shot file: seen in the guest, not on the host" \
	sh -c "[ $status -eq 0 ] && [ \"\$(cat '$work/out')\" = 'hello-overlay
drwxr-x---
-rw-r-----
secret
gone' ] && [ ! -e '$root/extra' ] && [ ! -e '$root/once.txt' ]"

# --- the built-in init switched off: the kernel runs the root's own. It may
# start before the virtio console is there (no fds 0-2), so it reports
# through a file.
printf '#!/bin/sh\n{ echo "custom init as pid $$"; [ -e /init.krun ] || echo "no /init.krun"; } >/init-ran; reboot -f\n' >"$work/myinit"
api --no-implicit-init --overlay-file "myinit:0755:$(cat "$work/myinit")" --cmdline init=/myinit \
	"$root" /bin/true
check "krun_disable_implicit_init: the root's init runs, no /init.krun" \
	sh -c "[ \"\$(cat '$root/init-ran')\" = 'custom init as pid 1
no /init.krun' ]"

# --- the shutdown eventfd, written by the client once the guest made $root/up
api --shutdown-when "$root/up" "$root" /bin/sh -c 'trap "echo got SIGTERM; exit 42" TERM; echo up; touch /up; while :; do sleep 1; done'
check "shutdown eventfd: the workload gets SIGTERM and its status is the VM's (42)" \
	sh -c "[ $status -eq 42 ] && [ \"\$(cat '$work/out')\" = 'up
got SIGTERM' ]"

rm -f "$root/up"
api --shutdown-when "$root/up" "$root" /bin/sh -c 'trap "" TERM; touch /up; while :; do sleep 1; done'
check "shutdown eventfd: a workload that ignores SIGTERM is killed after the grace period (137)" \
	sh -c "[ $status -eq 137 ] && grep -q 'killing everything' '$work/err'"

rm -f "$root/up"
printf '#!/bin/sh\necho looping; touch /up; while :; do sleep 1; done\n' >"$work/loop"
api --no-implicit-init --overlay-file "loop:0755:$(cat "$work/loop")" --cmdline init=/loop \
	--shutdown-when "$root/up" "$root" /bin/true
check "shutdown eventfd without our init: the VMM stops the VM itself (143)" \
	sh -c "[ $status -eq 143 ] && grep -q 'did not stop within' '$work/err'"
rm -f "$root/up"

# --- nested virtualization: what krun_check_nested_virt() says is what the guest gets
api --nested-virt "$root" /bin/sh -c 'grep -qwE "svm|vmx" /proc/cpuinfo && echo guest-has-hw-virt'
nested=$(head -1 "$work/out")
echo "     $nested"
if [ "$nested" = "krun_check_nested_virt: 1" ]; then
	check "nested virtualization on: the guest sees SVM/VMX" \
		sh -c "[ $status -eq 0 ] && grep -qx guest-has-hw-virt '$work/out'"
else
	check "nested virtualization unavailable: krun_start_enter refuses it" \
		sh -c "[ $status -eq 99 ] && grep -q 'does not offer it' '$work/err'"
fi
api "$root" /bin/sh -c 'grep -qwE "svm|vmx" /proc/cpuinfo || echo no-hw-virt'
check "nested virtualization off (default): no SVM/VMX in the guest" \
	sh -c "[ $status -eq 0 ] && grep -qx no-hw-virt '$work/out'"

# --- split irqchip: the VMM's IOAPIC (version 0x20; KVM's own says 0x11),
# no PIC and no PIT; time from kvm-clock and the TSC-deadline APIC timer.
# `sleep 1` must not end early; the upper bound only catches a stuck timer
# (starting three programs takes seconds in the test host).
api --split-irqchip --cpus 2 "$root" /bin/sh -c '
	dmesg | grep -o -e "Using NULL legacy PIC" -e "IOAPIC\[0\]: apic_id 2, version [0-9]*"
	echo "xt-pic lines: $(grep -c XT-PIC /proc/interrupts)"
	t0=$(cut -d" " -f1 /proc/uptime); sleep 1; t1=$(cut -d" " -f1 /proc/uptime)
	echo "slept: $(awk "BEGIN { d = $t1 - $t0; print (d >= 0.9 && d < 10) ? \"ok\" : d }")"
	exit 7'
check "split irqchip: the guest uses our IOAPIC, has no PIC, sleeps 1 s, exits 7" \
	sh -c "[ $status -eq 7 ] && [ \"\$(cat '$work/out')\" = 'IOAPIC[0]: apic_id 2, version 32
Using NULL legacy PIC
xt-pic lines: 0
slept: ok' ]"

# The guest moves the virtio-fs interrupt from one vCPU to the other and back:
# each move rewrites the redirection entry, which the VMM turns into a new
# KVM route; file reads (caches dropped) must keep working and their
# interrupts arrive where the guest asked.
api --split-irqchip --cpus 2 "$root" /bin/sh -c '
	fs=$(basename /sys/bus/virtio/drivers/virtiofs/virtio*)
	irq=$(awk -v d="$fs" "\$NF == d { sub(\":\", \"\", \$1); print \$1 }" /proc/interrupts)
	counts() { awk -v d="$fs" "\$NF == d { print \$2, \$3 }" /proc/interrupts; }
	reads() { for i in 1 2 3 4 5; do echo 3 >/proc/sys/vm/drop_caches; md5sum /bin/busybox >/dev/null || echo read-failed; done; }
	echo 2 >/proc/irq/$irq/smp_affinity; reads; set -- $(counts); a0=$1 a1=$2
	reads; set -- $(counts); b0=$1 b1=$2
	echo 1 >/proc/irq/$irq/smp_affinity; reads; set -- $(counts); c0=$1 c1=$2
	reads; set -- $(counts); d0=$1 d1=$2
	echo "irq $irq on cpu1: +$((b0 - a0)) +$((b1 - a1)); on cpu0: +$((d0 - c0)) +$((d1 - c1))"
	[ $((b0 - a0)) -eq 0 ] && [ $((b1 - a1)) -gt 5 ] && [ $((d1 - c1)) -eq 0 ] && [ $((d0 - c0)) -gt 5 ] && echo followed'
check "split irqchip: interrupts follow the guest's affinity changes (2 vCPUs), reads keep working" \
	sh -c "[ $status -eq 0 ] && tail -1 '$work/out' | grep -qx followed && ! grep -q read-failed '$work/out'"
head -1 "$work/out" | sed 's/^/     /'

serial_console "split irqchip: the serial console's interrupts (a line the VMM drives) both ways" \
	--split-irqchip

# --- vsock: implicit, disabled, explicit with TSI features
virtio_ids='cat /sys/bus/virtio/devices/*/device | tr "\n" " "'
api "$root" /bin/sh -c "$virtio_ids"
check "every VM gets the implicit vsock device (virtio id 19)" \
	sh -c "[ $status -eq 0 ] && grep -q 0x0013 '$work/out'"
api --no-implicit-vsock "$root" /bin/sh -c "$virtio_ids"
check "krun_disable_implicit_vsock: no vsock device" \
	sh -c "[ $status -eq 0 ] && grep -q 0x001a '$work/out' && ! grep -q 0x0013 '$work/out'"
api --no-implicit-vsock --vsock-tsi "$root" /bin/sh -c "$virtio_ids; echo; cat /proc/cmdline"
check "krun_add_vsock with TSI flags: the device, and tsi_hijack on the guest's command line (tsi-tests.sh has the rest)" \
	sh -c "[ $status -eq 0 ] && grep -q 0x0013 '$work/out' && grep -qw tsi_hijack '$work/out'"

# --- a network interface whose peer is not there: the start fails, naming it
api --net-unixstream "$work/net.sock" "$root" /bin/true
check "krun_add_net_unixstream to a missing socket: krun_start_enter fails naming the path" \
	sh -c "[ $status -eq 99 ] && grep -q 'connect to $work/net.sock: No such file or directory' '$work/err' && grep -q 'krun_start_enter: No such file or directory' '$work/err'"

rm -rf "$work"
echo "api: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
