#!/bin/sh
# tsi-kernel-tests.sh BUILD: the guest kernel's side of TSI (krunfw/patches)
# in a real guest through krun-chroot: that the families and parameters are
# there and change nothing while tsi_hijack is off, which sockets the hijack
# takes, and where our kernel goes beyond upstream's: a non-blocking connect
# that does not block (a black-hole destination too), SO_ERROR, getsockname
# equal to the address the host's server sees, getpeername, FIONREAD on TCP
# and UDP, connected UDP, bind(port 0) + listen reachable from the host on
# the port getsockname reports, getsockname while accept() blocks, and a
# connect to a guest listener that stays in the guest.
# The proxied-socket checks run twice: with our VMM's tsi_pipeline and in
# upstream's order (tsi_pipeline=0), the one the kernel uses with upstream's VMM.
# tsi-tests.sh covers the protocol end to end (wget, httpd, 16 MiB...).
#
# The tests that need the VMM's half are skipped, loudly, when the VMM does
# not turn TSI on (no tsi_hijack on the guest's command line). POSIX sh.
build=$1
chroot="$build/krun-chroot"
tk="$build/tests/guest/tsi-kernel"
work=$(mktemp -d /tmp/krun-tsi-kernel.XXXXXX)
root="$work/root"
. "$(dirname "$0")/testlib.sh"
skipped=0

vm() { run_timed krun-chroot "$chroot" "$@"; }

finish() {
	rm -rf "$work"
	echo "tsi-kernel: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

cp -a "$build/rootfs" "$root"
cp "$tk" "$root/bin/tsi-kernel"

vm "$root" /bin/sh -c 'p=/sys/module/kernel/parameters
	echo "hijack=$(cat $p/tsi_hijack 2>/dev/null || echo none)"
	echo "hijack_unix=$(cat $p/tsi_hijack_unix 2>/dev/null || echo none)"
	echo "pipeline=$(cat $p/tsi_pipeline 2>/dev/null || echo none)"
	tsi-kernel domains'
cp "$work/out" "$work/params"
hijack=$(sed -n 's/^hijack=//p' "$work/params")
check "the guest kernel has the tsi_hijack and tsi_hijack_unix parameters" \
	sh -c "[ $status -eq 0 ] && grep -Eq '^hijack=(Y|N)$' '$work/params' && grep -Eq '^hijack_unix=(Y|N)$' '$work/params'"
check "the TSI families exist (AF_TSI 46, AF_TSI6 47, AF_TSIU 48 create stream and datagram sockets)" \
	grep -qx 'families 46:ok 47:ok 48:ok' "$work/params"

# TSI off (krun_disable_implicit_vsock): the parameters off, nothing changes.
vm --tsi off "$root" /bin/sh -c 'p=/sys/module/kernel/parameters
	echo "hijack=$(cat $p/tsi_hijack) hijack_unix=$(cat $p/tsi_hijack_unix) pipeline=$(cat $p/tsi_pipeline)"
	tsi-kernel domains'
check "TSI off: tsi_hijack, tsi_hijack_unix and tsi_pipeline N, AF_INET, AF_INET6 and AF_UNIX sockets keep their family" \
	sh -c "[ $status -eq 0 ] && grep -qx 'hijack=N hijack_unix=N pipeline=N' '$work/out' &&
		grep -qx 'domains inet:2 inet6:10 unix:1 udp:2 unixdgram:1 raw:2' '$work/out'"

if [ "$hijack" != Y ]; then
	skipped=8
	echo "SKIP - the VMM does not turn TSI on (no tsi_hijack on the guest's command line):"
	echo "       $skipped tests of the proxied sockets are skipped (TSI's VMM half is issue 10)"
	finish
fi

check "tsi_hijack on: TCP and UDP sockets are TSI ones, raw ones and AF_UNIX ones keep their family" \
	grep -qx 'domains inet:46 inet6:47 unix:1 udp:46 unixdgram:1 raw:2' "$work/params"
check "TSI on: our VMM sets tsi_pipeline (a proxy's vsock connect goes before CONNECT)" \
	grep -qx 'pipeline=Y' "$work/params"
vm --tsi unix "$root" /bin/sh -c 'p=/sys/module/kernel/parameters
	echo "hijack=$(cat $p/tsi_hijack) hijack_unix=$(cat $p/tsi_hijack_unix)"; tsi-kernel domains'
check "tsi_hijack_unix alone: AF_UNIX sockets are TSI ones (48), AF_INET ones keep their family" \
	sh -c "[ $status -eq 0 ] && grep -qx 'hijack=N hijack_unix=Y' '$work/out' &&
		grep -qx 'domains inet:2 inet6:10 unix:48 udp:2 unixdgram:48 raw:2' '$work/out'"

# --- against a server on the test host's loopback
"$tk" host 127.0.0.1 18190 >"$work/host" 2>&1 &
host_pid=$!
wait_for_line "$work/host" '^listening' 10
vm "$root" tsi-kernel guest 127.0.0.1 18190
kill "$host_pid" 2>/dev/null
wait "$host_pid" 2>/dev/null
check "proxied sockets: non-blocking connect (and to a black hole), SO_ERROR, getsockname = what the host sees, getpeername, FIONREAD (TCP, UDP), connected UDP" \
	sh -c "[ $status -eq 0 ] && grep -qx 'all checks passed' '$work/out' && ! grep -q '^FAIL' '$work/out'"
grep '^FAIL' "$work/out"

# The same with upstream's order (tsi_pipeline=0 after ours on the command
# line): what the kernel does with upstream's VMM. krun-boot, an initramfs.
mkdir -p "$work/initrd/bin" "$work/initrd/proc" "$work/initrd/sys" "$work/initrd/dev"
cp "$build/rootfs/bin/busybox" "$tk" "$work/initrd/bin/"
cat >"$work/initrd/init" <<'EOI'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
ip link set lo up
echo "pipeline=$(cat /sys/module/kernel/parameters/tsi_pipeline)"
tsi-kernel guest 127.0.0.1 18191
reboot -f
EOI
chmod +x "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz"
"$tk" host 127.0.0.1 18191 >"$work/host" 2>&1 &
host_pid=$!
wait_for_line "$work/host" '^listening' 10
run_timed krun-boot "$build/krun-boot" --append tsi_pipeline=0 "$work/initrd.gz"
kill "$host_pid" 2>/dev/null
wait "$host_pid" 2>/dev/null
check "the same in upstream's order (tsi_pipeline=0: CONNECT's result before the vsock connect)" \
	sh -c "grep -q '^pipeline=N' '$work/out' && grep -q '^all checks passed' '$work/out' && ! grep -q '^FAIL' '$work/out'"
grep '^FAIL' "$work/out"

# --- the guest's own listeners: a connect to a local destination stays in
# the guest when something listens there (the kernel looks the listener up
# instead of sending a loopback SYN), goes to the VMM otherwise. The port map
# leaves the ports out, so only the guest's own stack can answer.
vm -P 18197:18197 "$root" tsi-kernel local
check "local destinations: a guest listener is reached in the guest (127.0.0.1, 0.0.0.0, the guest's address, dual-stack ::, ::ffff:127.0.0.1, ::1); one on another address is not" \
	sh -c "[ $status -eq 0 ] && grep -qx 'all checks passed' '$work/out' && ! grep -q '^FAIL' '$work/out'"
grep '^FAIL' "$work/out"

# --- bind(port 0) + listen in the guest, reached from the host
"$chroot" "$root" tsi-kernel listen </dev/null >"$work/listen" 2>"$work/listen-err" &
vm_pid=$!
port= greeting=
if wait_for_line "$work/listen" '^port [0-9]' 120; then
	port=$(sed -n 's/^port //p' "$work/listen")
	i=0
	while [ $i -lt 50 ]; do
		greeting=$("$tk" connect 127.0.0.1 "$port" 2>/dev/null) && break
		i=$((i + 1))
		sleep 0.2
	done
fi
wait "$vm_pid"
status=$?
check "bind(port 0) + listen: the host reaches the guest on the port getsockname reported ($port)" \
	[ -n "$port" ] && [ "$greeting" = "guest $port" ]
check "getsockname on the listener while accept() blocks: answered at once" \
	sh -c "[ $status -eq 0 ] && grep -qx 'ok getsockname-during-accept' '$work/listen' && grep -qx 'all checks passed' '$work/listen'"
grep '^FAIL' "$work/listen"

finish
