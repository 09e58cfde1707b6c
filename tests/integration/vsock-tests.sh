#!/bin/sh
# vsock-tests.sh BUILD: virtio-vsock in a real guest, through krun-chroot's
# --vsock-port: guest ports bridged to host unix sockets both ways, bytes
# checked with sha256, many connections, the VMM's fds counted, connections
# left open at exit, unmapped ports. POSIX sh: it runs under busybox inside
# the KVM test host too.
build=$1
chroot="$build/krun-chroot"
peer="$build/tests/vsock-peer"
work=$(mktemp -d /tmp/krun-vsock-tests.XXXXXX)
root="$work/root"
. "$(dirname "$0")/testlib.sh"

vm() { run_timed krun-chroot "$chroot" "$@"; }

# vm_bg ARGS...: krun-chroot in the background (output in $work/out,
# $work/err); $vmpid is krun-chroot itself, so its fds can be counted.
vm_bg() {
	"$chroot" "$@" </dev/null >"$work/out" 2>"$work/err" &
	vmpid=$!
	(sleep "${GUEST_TEST_TIMEOUT:-300}"; kill "$vmpid" 2>/dev/null) &
	watchdog=$!
}

vm_wait() {
	wait "$vmpid"
	status=$?
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
}

fds() { ls "/proc/$vmpid/fd" | wc -l; }

cp -a "$build/rootfs" "$root"
cp "$build/tests/guest/vsock-io" "$root/bin/vsock-io"

# --- guest to a host unix socket: 64 MiB each way, a deliberately slow host reader
size=67108864
"$peer" gen $size 1 | sha256sum | cut -d' ' -f1 >"$work/want-to-guest"
"$peer" gen $size 2 | sha256sum | cut -d' ' -f1 >"$work/want-to-host"
"$peer" exchange "$work/x.sock" $size 1 slow 2>"$work/peer-err" | sha256sum | cut -d' ' -f1 >"$work/got-on-host" &
peer_pid=$!
i=0
while [ ! -S "$work/x.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
vm --vsock-port "1234:$work/x.sock" "$root" /bin/sh -c \
	"vsock-io send-recv 2 1234 $size 2 | sha256sum | cut -d' ' -f1"
wait "$peer_pid"
echo "     host peer: $(cat "$work/peer-err")"
check "64 MiB guest -> host unix socket, byte-exact (sha256), slow host reader" \
	sh -c "[ $status -eq 0 ] && [ \"\$(cat '$work/got-on-host')\" = \"\$(cat '$work/want-to-host')\" ]"
check "64 MiB host unix socket -> guest on the same connection, byte-exact (sha256)" \
	sh -c "[ \"\$(head -1 '$work/out')\" = \"\$(cat '$work/want-to-guest')\" ]"

# --- unmapped port: refused at once
vm "$root" /bin/sh -c 'vsock-io refused 2 9999; vsock-io refused 2 1234'
check "a connect to an unmapped host port fails at once (ECONNRESET/ECONNREFUSED)" \
	sh -c "[ $status -eq 0 ] && [ \$(grep -c '^refused: ECONN' '$work/out') -eq 2 ]"

# --- a flood of connects: the VMM's table holds 256, the rest are reset at once
"$peer" echo "$work/f.sock" 256 >"$work/flood-echo" 2>&1 &
flood_pid=$!
i=0
while [ ! -S "$work/f.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
vm --vsock-port "1236:$work/f.sock" "$root" /bin/sh -c 'vsock-io flood 2 1236 300'
check "300 connects held open: 256 connected (the table's cap), 44 reset at once" \
	sh -c "[ $status -eq 0 ] && grep -qx 'flood: 256 connected, 44 reset, 0 other' '$work/out'"
i=0
while kill -0 "$flood_pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "the flood's 256 host connections all ended with the VM" grep -q '^served 256' "$work/flood-echo"
kill "$flood_pid" 2>/dev/null

# --- listen=true: the VMM creates the socket; a host client reaches a guest server
vm_bg --vsock-port "6000:$work/l.sock:listen" "$root" /bin/sh -c 'vsock-io serve 6000 2'
if wait_for_line "$work/out" '^listening'; then
	"$peer" connect "$work/l.sock" 4194304 3 >"$work/client1" 2>&1
	"$peer" connect "$work/l.sock" 1 4 >"$work/client2" 2>&1
fi
sock_type=none
[ -S "$work/l.sock" ] && sock_type=socket
vm_wait
check "listen=true: host clients of the VMM's socket reach a guest vsock server (4 MiB echoed byte-exact, then 1 byte)" \
	sh -c "[ $status -eq 0 ] && grep -qx 'echo ok 4194304' '$work/client1' && grep -qx 'echo ok 1' '$work/client2' && [ \$(grep -c '^echoed' '$work/out') -eq 2 ]"
check "listen=true: the socket was a socket while the VM ran, and is gone after" \
	sh -c "[ '$sock_type' = socket ] && [ ! -e '$work/l.sock' ]"

: >"$work/exists"
vm --vsock-port "6001:$work/exists:listen" "$root" /bin/true
check "listen=true on an existing path: refused with EEXIST before the VM runs" \
	sh -c "[ $status -eq 125 ] && grep -q 'File exists' '$work/err' && [ -f '$work/exists' ]"

# --- 2 x 100 concurrent short connections; the VMM's fds before and after
# (vsock-io runs once before: the shared root opens a host fd for what the
# guest uses, once); then one connection held open while the workload exits.
"$peer" echo "$work/e.sock" 201 >"$work/echo-out" 2>&1 &
echo_pid=$!
i=0
while [ ! -S "$work/e.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
vm_bg --vsock-port "1235:$work/e.sock" "$root" /bin/sh -c \
	'vsock-io refused 2 9999 >/dev/null; echo ready; sleep 2; vsock-io many 2 1235 100; sleep 1; echo batch1; sleep 2;
	 vsock-io many 2 1235 100; sleep 1; echo batch2; sleep 2;
	 vsock-io hold 2 1235 & sleep 2; exit 3'
fd0= fd1= fd2=
wait_for_line "$work/out" '^ready' && fd0=$(fds)
wait_for_line "$work/out" '^batch1' && fd1=$(fds)
wait_for_line "$work/out" '^batch2' && fd2=$(fds)
vm_wait
echo "     VMM fds: $fd0 before, $fd1 after 100 connections, $fd2 after 200"
check "100 concurrent connections, twice: every line echoed" \
	sh -c "[ \$(grep -c '^many ok 100' '$work/out') -eq 2 ]"
# The shared root's fds move by one or two as the guest looks up or forgets
# inodes (sleep, the page cache); a leak per connection would be 100 or 200.
check "the VMM's fds after 100 and 200 closed connections: none left per connection (within 4 of before)" \
	sh -c "[ -n '$fd0' ] && [ -n '$fd1' ] && [ -n '$fd2' ] && [ $((${fd0:-0} + 4)) -ge ${fd1:-999} ] && [ $((${fd0:-0} + 4)) -ge ${fd2:-999} ]"
check "a connection held open while the workload exits: the VM stops with the status (3)" \
	[ "$status" -eq 3 ]
i=0
while kill -0 "$echo_pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "the host server saw all 201 connections end (the held one when the VMM exited)" \
	grep -q '^served 201' "$work/echo-out"
kill "$echo_pid" 2>/dev/null

rm -rf "$work"
echo "vsock: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
