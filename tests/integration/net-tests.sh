#!/bin/sh
# net-tests.sh BUILD: virtio-net in a real guest through krun-chroot --net,
# against real peers in the test host: Debian's passt (a file fetched from a
# host HTTP server byte-exact, a host client through a passt port forward,
# passt killed during a transfer), a tap device in a network namespace (ping
# and a transfer, offloads on and off), a vfkit-style datagram peer of ours
# bridged to a tap (the "VFKT" handshake checked), and a hostile stream peer.
# The guest's addresses are set statically, to what passt would give by DHCP.
# POSIX sh: it runs under busybox inside the KVM test host.
build=$1
# Everything in a network namespace of its own: the dummy uplink, passt, the
# taps and the servers never touch the host's network (a CI host with real
# KVM runs this directly).
if [ -z "${NET_TESTS_NETNS:-}" ]; then
	export NET_TESTS_NETNS=1
	exec unshare -n sh "$0" "$@"
fi
# passt sandboxes itself with pivot_root(), which fails on an initramfs root
# (the KVM test host's): rerun in a mount namespace whose root is a bind
# mount of it, moved over / (as switch_root does: a plain chroot would keep
# passt from making its user namespace).
if [ -z "${NET_TESTS_REROOTED:-}" ] && [ "$(awk '$2 == "/" { print $3; exit }' /proc/mounts)" = rootfs ]; then
	mkdir -p /.net-tests-root
	exec unshare -m sh -c 'mount --make-rprivate / && mount -o rbind / /.net-tests-root &&
		cd /.net-tests-root && mount -o move . / && exec chroot . env NET_TESTS_REROOTED=1 sh -c "cd \"$1\" && exec sh \"$2\" \"$3\"" sh "$@"' \
		sh "$PWD" "$0" "$build"
fi
chroot="$build/krun-chroot"
if [ "${NET_TESTS_ROLE:-}" = round ]; then
	# net_round's half, inside its own network namespace: $2 work dir, $3
	# tap or gram, $4 the --net spec. Prints "ok" when everything matched.
	work=$2 root=$2/root peer="$build/tests/net-peer"
	ip link set lo up
	if [ "$3" = tap ]; then
		tunctl -t krtap0 >/dev/null || exit 1
		dev=krtap0
	else
		"$peer" gram-tap "$work/gram.sock" krtap1 2>"$work/gram.log" &
		gram_pid=$!
		i=0
		while [ ! -e /sys/class/net/krtap1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		dev=krtap1
	fi
	ip addr add 10.1.0.1/24 dev $dev && ip link set $dev up || exit 1
	busybox httpd -f -p 10.1.0.1:8090 -h "$work/www" &
	httpd_pid=$!
	cmd="ip link set lo up; ip link set eth0 up; ip addr add 10.1.0.2/24 dev eth0
	ping -c 2 -W 20 10.1.0.1 >/dev/null && echo ping-ok
	echo got=\$(wget -q -O - http://10.1.0.1:8090/blob | sha256sum | cut -d' ' -f1)
	httpd -p 80 -h /www; touch /ready; i=0; while [ ! -e /done ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done; exit 3"
	"$build/krun-chroot" --net "$4" "$root" /bin/sh -c "$cmd" >"$work/round-out" 2>"$work/round-err" &
	vmpid=$!
	i=0
	while [ ! -e "$root/ready" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
	back=$(wget -q -O - http://10.1.0.2/guestblob | sha256sum | cut -d' ' -f1)
	touch "$root/done"
	wait $vmpid
	status=$?
	kill $httpd_pid ${gram_pid:-} 2>/dev/null
	wait 2>/dev/null
	[ "$3" = tap ] && tunctl -d krtap0 >/dev/null
	cat "$work/round-out" "$work/round-err"
	[ "$3" = gram ] && cat "$work/gram.log"
	echo "status $status"
	if [ $status -eq 3 ] && grep -qx ping-ok "$work/round-out" &&
		grep -qx "got=$(cat "$work/blob.sha")" "$work/round-out" &&
		[ "$back" = "$(cat "$work/guestblob.sha")" ] &&
		{ [ "$3" = tap ] || grep -qx 'vfkit handshake: ok' "$work/gram.log"; }; then
		echo ok
	fi
	exit 0
fi
peer="$build/tests/net-peer"
work=$(mktemp -d /tmp/krun-net-tests.XXXXXX)
root="$work/root"
. "$(dirname "$0")/testlib.sh"
export GUEST_TEST_TIMEOUT=${GUEST_TEST_TIMEOUT:-240}

vm() { run_timed krun-chroot "$chroot" "$@"; }
# NET_TESTS_ONLY=passt|publish|death|hostile|tap: one part only (debugging).
want() { [ -z "${NET_TESTS_ONLY:-}" ] || [ "$NET_TESTS_ONLY" = "$1" ]; }

# wait_for FILE [SECONDS]: until FILE exists.
wait_for() {
	i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1))
		[ $i -gt $((${2:-120} * 10)) ] && return 1
		sleep 0.1
	done
}

cleanup() {
	for p in $bg_pids; do kill "$p" 2>/dev/null; done
	ip link del krun-dummy 2>/dev/null
	rm -rf "$work"
}
bg_pids=
trap cleanup EXIT

cp -a "$build/rootfs" "$root"
mkdir -p "$work/www" "$root/www"
head -c 3000000 /dev/urandom >"$work/www/blob"
sha256sum <"$work/www/blob" | cut -d' ' -f1 >"$work/blob.sha"
head -c 1000000 /dev/urandom >"$root/www/guestblob"
sha256sum <"$root/www/guestblob" | cut -d' ' -f1 >"$work/guestblob.sha"

# passt, started as root, becomes "nobody": the test host's initramfs may
# have no /etc/passwd.
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>/etc/passwd
grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >>/etc/group

# The test host has no network: passt takes its addresses and routes from
# a dummy interface with a default route, as from a real uplink.
ip link add krun-dummy type dummy
ip addr add 10.0.2.15/24 dev krun-dummy
ip link set krun-dummy up
ip route add default via 10.0.2.2 dev krun-dummy
ip link set lo up

# What passt tells the guest by DHCP: the host's address, its gateway (through
# which the guest reaches the host's own loopback).
guest_net="ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2"

busybox httpd -p 127.0.0.1:8080 -h "$work/www"

if want passt; then
# --- passt started by krun-chroot: a host file fetched byte-exact
vm --net passt,nodhcp "$root" /bin/sh -c "$guest_net; wget -q -O - http://10.0.2.2:8080/blob | sha256sum | cut -d' ' -f1"
check "passt: the guest fetches 3 MB from a host HTTP server byte-exact (sha256)" \
	sh -c "[ $status -eq 0 ] && [ \"\$(tail -1 '$work/out')\" = \"\$(cat '$work/blob.sha')\" ]"

fi

if want publish; then
# --- a host client reaches a guest server through passt's port forward
rm -f "$root/ready" "$root/done"
vm_cmd="$guest_net; httpd -p 80 -h /www; touch /ready; i=0; while [ ! -e /done ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done; exit 3"
"$chroot" --net passt,nodhcp --publish 8081:80 "$root" /bin/sh -c "$vm_cmd" >"$work/out" 2>"$work/err" &
vmpid=$!
wait_for "$root/ready" 120
got=$(wget -q -O - http://127.0.0.1:8081/guestblob | sha256sum | cut -d' ' -f1)
touch "$root/done"
wait "$vmpid"
status=$?
check "passt --publish: a host client fetches 1 MB from the guest's server byte-exact, exit status 3 back" \
	sh -c "[ $status -eq 3 ] && [ '$got' = \"\$(cat '$work/guestblob.sha')\" ]"

fi

if want death; then
# --- krun-chroot's passt killed during a transfer: link down seen by the guest, logged
# once; the VM runs on and its exit status reaches the host
truncate -s 1G "$work/www/big"
rm -f "$root/started"
vm_cmd="$guest_net; wget -q -O /dev/null http://10.0.2.2:8080/big & touch /started; i=0
while [ \$(cat /sys/class/net/eth0/carrier) = 1 ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done
echo carrier=\$(cat /sys/class/net/eth0/carrier); kill %1; exit 7"
"$chroot" --net passt,nodhcp "$root" /bin/sh -c "$vm_cmd" >"$work/out" 2>"$work/err" &
vmpid=$!
wait_for "$root/started" 120 && sleep 2
# The passt krun-chroot started (its child).
for p in $(pidof passt); do
	[ "$(cut -d' ' -f4 "/proc/$p/stat")" = "$vmpid" ] && kill "$p" && echo "     killed passt $p mid-transfer"
done
wait "$vmpid"
status=$?
echo "     $(grep -c 'link down' "$work/err") link-down line(s): $(grep 'link down' "$work/err" | head -1)"
check "passt killed mid-transfer: the guest sees carrier 0, the VM exits 7, link down logged once" \
	sh -c "[ $status -eq 7 ] && grep -qx 'carrier=0' '$work/out' && [ \$(grep -c 'link down' '$work/err') -eq 1 ]"

fi

if want hostile; then
# --- a hostile stream peer: empty, short, oversized and 4 GiB length
# prefixes, a truncated one, then a hang-up; the good frames between them
# arrive, the VM runs on
"$peer" stream-hostile "$work/hostile.sock" 2>"$work/peer-err" &
bg_pids="$bg_pids $!"
wait_for "$work/hostile.sock" 30
vm --net "unixstream:$work/hostile.sock,nodhcp" "$root" /bin/sh -c \
	'ip link set eth0 up; i=0; while [ $(cat /sys/class/net/eth0/carrier) = 1 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
	echo rx=$(cat /sys/class/net/eth0/statistics/rx_packets); cat /sys/bus/virtio/devices/*/device | tr "\n" " "; echo; exit 0'
echo "     $(grep -c 'bad length\|dropped' "$work/err") drop warning(s) logged (rate-limited); guest: $(tr '\n' ' ' <"$work/out")"
check "hostile stream peer: 50 good frames reach the guest, the bad ones are dropped, the VM exits 0" \
	sh -c "[ $status -eq 0 ] && grep -qx 'rx=50' '$work/out' && grep -q 'bad length' '$work/err' && [ \$(grep -c 'bad length\|dropped' '$work/err') -le 20 ]"
check "a network interface replaces the implicit vsock (no virtio id 19; virtio-net, id 1, is there)" \
	sh -c "grep -q 0x0001 '$work/out' && ! grep -q 0x0013 '$work/out'"

fi

if want tap; then
# --- tap and unixgram, each in a network namespace of its own: the host end
# is a tap with 10.1.0.1, the guest 10.1.0.2; ping, a file each way
net_round() { # net_round DESCRIPTION KIND NETSPEC: in a fresh network namespace
	rm -f "$root/ready" "$root/done"
	NET_TESTS_ROLE=round unshare -n sh "$0" "$build" "$work" "$2" "$3" >"$work/round" 2>&1
	round_status=$?
	sed 's/^/     /' "$work/round" | grep -v '^     ok\|^     got' | head -20
	check "$1: ping, 3 MB host -> guest and 1 MB guest -> host byte-exact, exit 3" \
		sh -c "[ $round_status -eq 0 ] && grep -qx 'ok' '$work/round'"
}
net_round "tap with offloads (checksum, TSO)" tap "tap:krtap0,nodhcp"
net_round "tap without offloads" tap "tap:krtap0,nodhcp,nooffload"
net_round "unixgram to a vfkit-style peer bridged to a tap, VFKT handshake checked" gram \
	"unixgram:$work/gram.sock,vfkit,nodhcp,nooffload"

fi

echo "net-tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
