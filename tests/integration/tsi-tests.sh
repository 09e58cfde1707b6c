#!/bin/sh
# tsi-tests.sh BUILD: TSI in a real guest with no network interface, through
# krun-chroot: outbound TCP from busybox wget to busybox httpd on the test
# host's loopback (16 MiB, sha256), inbound to a guest busybox httpd on a
# mapped host port (and an unmapped guest port not reachable), UDP with
# sendto and with a connected socket, IPv6 loopback, the AF_UNIX hijack,
# 200 short connections, a server that closes first, and TSI off. POSIX sh:
# it runs under busybox inside the KVM test host too.
#
# Tests that need a guest kernel with TSI are skipped, loudly, only when the
# kernel has none: detected from outside, by the guest's
# /sys/module/kernel/parameters/tsi_hijack. Once it is there, they all run.
build=$1
chroot="$build/krun-chroot"
io="$build/tests/guest/tsi-io"
work=$(mktemp -d /tmp/krun-tsi-tests.XXXXXX)
root="$work/root"
. "$(dirname "$0")/testlib.sh"
skipped=0

vm() { run_timed krun-chroot "$chroot" "$@"; }

# bg NAME COMMAND...: a host-side server in the background, output in $work/NAME.
bg() {
	name=$1
	shift
	"$@" >"$work/$name" 2>&1 &
	bg_pid=$!
}

stop_bg() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

cp -a "$build/rootfs" "$root"
cp "$io" "$root/bin/tsi-io"

# --- what the VMM tells the guest kernel (no TSI kernel needed)
vm "$root" /bin/sh -c 'cat /proc/cmdline; echo "tsi_hijack=$(cat /sys/module/kernel/parameters/tsi_hijack 2>/dev/null || echo none)"'
cp "$work/out" "$work/implicit"
check "implicit TSI (no network interface, no krun_add_vsock): tsi_hijack on the kernel command line, not tsi_hijack_unix" \
	sh -c "[ $status -eq 0 ] && grep -qw tsi_hijack '$work/implicit' && ! grep -qw tsi_hijack_unix '$work/implicit'"
vm --tsi inet,unix "$root" /bin/cat /proc/cmdline
check "krun_add_vsock(INET|UNIX): tsi_hijack and tsi_hijack_unix on the command line" \
	sh -c "[ $status -eq 0 ] && grep -qw tsi_hijack '$work/out' && grep -qw tsi_hijack_unix '$work/out'"
vm --tsi off "$root" /bin/cat /proc/cmdline
check "TSI off (krun_disable_implicit_vsock): neither on the command line" \
	sh -c "[ $status -eq 0 ] && ! grep -q tsi_hijack '$work/out'"
vm --port-map 80 "$root" /bin/true
check "krun_set_port_map with a bad string: refused before the VM runs" \
	sh -c "[ $status -ne 0 ] && grep -q 'not HOST_PORT:GUEST_PORT' '$work/err'"

kernel_tsi=$(sed -n 's/^tsi_hijack=//p' "$work/implicit")
if [ "$kernel_tsi" = none ] || [ -z "$kernel_tsi" ]; then
	skipped=13
	echo "SKIP - the guest kernel has no TSI (no /sys/module/kernel/parameters/tsi_hijack in the guest):"
	echo "       $skipped tests that need it are skipped (the kernel half is issue 10's krunfw/patches)"
	rm -rf "$work"
	echo "tsi: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
fi
check "the guest kernel has TSI and tsi_hijack is on (Y)" [ "$kernel_tsi" = Y ]

# --- outbound: busybox wget in the guest, busybox httpd on the host's loopback
mkdir -p "$work/www"
dd if=/dev/urandom of="$work/www/f16" bs=1048576 count=16 2>/dev/null
want=$(sha256sum "$work/www/f16" | cut -d' ' -f1)
busybox httpd -f -p 127.0.0.1:18080 -h "$work/www" &
httpd_pid=$!
sleep 0.5
vm "$root" /bin/sh -c 'ip link show | grep -c "^[0-9]*: eth" ; wget -q -O - http://127.0.0.1:18080/f16 | sha256sum'
check "outbound TCP, no network interface in the guest: 16 MiB from the host's httpd, byte-exact (sha256)" \
	sh -c "[ $status -eq 0 ] && grep -q '^$want' '$work/out'"

# --- TSI off: the same fetch fails, clearly
vm --tsi off "$root" /bin/sh -c 'wget -q -T 10 -O /dev/null http://127.0.0.1:18080/f16; echo "wget status $?"'
check "TSI off: the same outbound fetch fails (wget non-zero), the VM runs on" \
	sh -c "[ $status -eq 0 ] && grep -q '^wget status [1-9]' '$work/out'"
stop_bg "$httpd_pid"

# --- inbound: a guest httpd on guest port 80, mapped to host port 18081;
# guest port 81 unmapped (its listener stays the guest's)
mkdir -p "$root/www"
cp "$work/www/f16" "$root/www/f16"
rm -f "$root/done"
"$chroot" --port-map 18081:80 "$root" /bin/sh -c \
	'httpd -p 80 -h /www && httpd -p 81 -h /www && echo started; i=0; while [ ! -e /done ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done' \
	</dev/null >"$work/vm-out" 2>"$work/vm-err" &
vm_pid=$!
got= unmapped=
if wait_for_line "$work/vm-out" '^started' 120; then
	got=$(wget -q -O - http://127.0.0.1:18081/f16 | sha256sum | cut -d' ' -f1)
	unmapped=$("$io" refused 127.0.0.1 81)
	same=$("$io" refused 127.0.0.1 80)
fi
: >"$root/done"
wait "$vm_pid"
status=$?
check "inbound: the guest's httpd on the mapped host port 18081, 16 MiB byte-exact" \
	sh -c "[ '$got' = '$want' ] && [ $status -eq 0 ]"
check "inbound: the unmapped guest port 81 is not reachable from the host (and host port 80 neither)" \
	sh -c "echo '$unmapped' | grep -q '^refused' && echo '${same:-}' | grep -q '^refused'"

# --- UDP: unconnected sendto and connected send, to a server on the host
bg udp "$io" udp-echo 127.0.0.1 18082 2
wait_for_line "$work/udp" '^listening' 10
vm "$root" /bin/sh -c 'tsi-io udp-sendto 127.0.0.1 18082 query1; tsi-io udp-connect 127.0.0.1 18082 query2'
stop_bg "$bg_pid"
check "UDP: an unconnected sendto gets its answer" grep -qx 'answer: re:query1' "$work/out"
check "UDP: a connected socket (send/recv, as glibc's resolver) gets its answer" \
	grep -qx 'answer: re:query2' "$work/out"

# --- IPv6 loopback
bg tcp6 "$io" serve-tcp ::1 18083 1048576 1
wait_for_line "$work/tcp6" '^listening' 10
vm "$root" tsi-io fetch-tcp ::1 18083 1048576 1
stop_bg "$bg_pid"
check "IPv6: 1 MiB from [::1] on the host, byte-exact" grep -qx 'fetched 1 ok' "$work/out"

# --- 200 short connections; a server that closes first (all data, then EOF)
bg many "$io" serve-tcp 127.0.0.1 18084 1000 200
wait_for_line "$work/many" '^listening' 10
vm "$root" tsi-io fetch-tcp 127.0.0.1 18084 1000 200
stop_bg "$bg_pid"
check "200 short connections in a loop, each 1000 bytes then the server's close" \
	sh -c "grep -qx 'fetched 200 ok' '$work/out' && grep -qx 'served 200' '$work/many'"
bg big "$io" serve-tcp 127.0.0.1 18085 8388608 1
wait_for_line "$work/big" '^listening' 10
vm "$root" tsi-io fetch-tcp 127.0.0.1 18085 8388608 1
stop_bg "$bg_pid"
check "a server that sends 8 MiB and closes at once: the guest reads every byte, then EOF" \
	grep -qx 'fetched 1 ok' "$work/out"

# --- AF_UNIX hijack: a host unix socket by its absolute path
bg unix "$io" unix-echo "$work/u.sock"
wait_for_line "$work/unix" '^listening' 10
vm --tsi inet,unix "$root" tsi-io unix-client "$work/u.sock" hello-unix
stop_bg "$bg_pid"
check "AF_UNIX hijack: the guest reaches a host unix socket by its absolute path" \
	grep -qx 'answer: hello-unix' "$work/out"
bg unix2 "$io" unix-echo "$work/u2.sock"
wait_for_line "$work/unix2" '^listening' 10
vm "$root" tsi-io unix-client "$work/u2.sock" hello-unix
stop_bg "$bg_pid"
check "without KRUN_TSI_HIJACK_UNIX the host unix socket stays out of reach" \
	sh -c "! grep -q 'answer: hello-unix' '$work/out'"

rm -rf "$work"
echo "tsi: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
