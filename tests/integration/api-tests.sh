#!/bin/sh
# api-tests.sh BUILD: the device-shaping calls of the public API, each through
# krun-api-client (one option per call) in a real guest: explicit consoles,
# overlay entries, the built-in init switched off, the shutdown eventfd, and
# devices of later versions refused at start.
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
mkfifo "$work/s.fifo"
: >"$work/s.out"
(exec >"$work/s.fifo"; while ! grep -q ready "$work/s.out"; do sleep 1; done
 printf 'typed on the serial line\n'; sleep 60) &
feeder=$!
api --no-implicit-console --serial-console "$work/s.fifo:@3" "$root" \
	/bin/sh -c 'echo ready; read line; echo "got: $line"; cat /sys/class/tty/console/active' 3>>"$work/s.out"
kill $feeder 2>/dev/null
check "serial console: the workload's terminal is ttyS0, both ways" \
	sh -c "[ $status -eq 0 ] && tr -d '\r' <'$work/s.out' | grep -qx 'got: typed on the serial line' && tr -d '\r' <'$work/s.out' | grep -qx ttyS0"

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

# --- devices of later versions: recorded, refused at start by name
api --disk /dev/null --vsock "$root" /bin/true
check "a disk and vsock: krun_start_enter fails with -ENOTSUP naming them" \
	sh -c "[ $status -eq 99 ] && grep -q 'virtio-blk (1 setting), virtio-vsock (1 setting)' '$work/err' && grep -q 'krun_start_enter: Operation not supported' '$work/err'"

rm -rf "$work"
echo "api: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
