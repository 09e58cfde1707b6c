#!/bin/sh
# net-dhcp-tests.sh BUILD: the guest init's DHCP client in a real guest,
# against Debian's passt in the test host (krun-chroot --net passt, which
# adds the interface with NET_FLAG_DHCP_CLIENT): the address, netmask,
# default route, MTU and DNS server passt hands out, seen from inside the
# guest; a file fetched through that route byte-exact; "nodhcp" leaves the
# interface up but unconfigured; a peer that never answers DHCP costs a
# bounded time and one line, and the workload still runs.
# POSIX sh: it runs under busybox inside the KVM test host.
build=$1
# In network and mount namespaces of their own: the dummy uplink, passt and
# the resolv.conf passt reads never touch the host's (a CI host with real
# KVM runs this directly).
if [ -z "${NET_DHCP_TESTS_NS:-}" ]; then
	export NET_DHCP_TESTS_NS=1
	exec unshare -n -m sh "$0" "$@"
fi
# passt sandboxes itself with pivot_root(), which fails on an initramfs root
# (the KVM test host's): rerun in a mount namespace whose root is a bind
# mount of it, moved over / (as net-tests.sh does).
if [ -z "${NET_TESTS_REROOTED:-}" ] && [ "$(awk '$2 == "/" { print $3; exit }' /proc/mounts)" = rootfs ]; then
	mkdir -p /.net-dhcp-tests-root
	exec unshare -m sh -c 'mount --make-rprivate / && mount -o rbind / /.net-dhcp-tests-root &&
		cd /.net-dhcp-tests-root && mount -o move . / && exec chroot . env NET_TESTS_REROOTED=1 sh -c "cd \"$1\" && exec sh \"$2\" \"$3\"" sh "$@"' \
		sh "$PWD" "$0" "$build"
fi
chroot="$build/krun-chroot"
work=$(mktemp -d /tmp/krun-net-dhcp-tests.XXXXXX)
root="$work/root"
. "$(dirname "$0")/testlib.sh"
export GUEST_TEST_TIMEOUT=${GUEST_TEST_TIMEOUT:-240}

vm() { run_timed krun-chroot "$chroot" "$@"; }
has_line() { grep -qxF -- "$1" "$work/out"; }

cleanup() {
	[ -n "${httpd_pid:-}" ] && kill "$httpd_pid" 2>/dev/null
	[ -n "${silent_pid:-}" ] && kill "$silent_pid" 2>/dev/null
	ip link del krun-dhcp0 2>/dev/null
	rm -f "${sock:-}"
	[ -n "${resolv_saved:-}" ] && mv "$work/resolv.conf.host" /etc/resolv.conf
	[ -n "${resolv_made:-}" ] && rm -f /etc/resolv.conf
	rm -rf "$work"
}
trap cleanup EXIT

if ! command -v passt >/dev/null; then
	echo "FAIL - no passt in the test host (net-dhcp-tests.needs copies /usr/bin/passt)"
	echo "net-dhcp: 0 passed, 1 failed"
	exit 1
fi
cp -a "$build/rootfs" "$root"
rm -f "$root/etc/resolv.conf"
head -c 2000000 /dev/urandom >"$work/blob"
want=$(sha256sum <"$work/blob" | cut -d' ' -f1)

# passt, started as root, becomes "nobody": the test host's initramfs may
# have no /etc/passwd.
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>/etc/passwd
grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >>/etc/group

# The test host has no network: passt takes the guest's address, prefix
# and gateway from a dummy uplink, and its DNS server from resolv.conf.
ip link add krun-dhcp0 type dummy
ip addr add 10.0.2.15/24 dev krun-dhcp0
ip link set krun-dhcp0 up
ip route add default via 10.0.2.2 dev krun-dhcp0
ip link set lo up
# passt's DNS server: a resolv.conf bound over the host's, in our mount
# namespace (written, then restored, only where there is none to bind over).
mount --make-rprivate / 2>/dev/null
echo "nameserver 10.0.2.53" >"$work/resolv.conf"
if ! mount --bind "$work/resolv.conf" /etc/resolv.conf 2>/dev/null; then
	if [ -e /etc/resolv.conf ]; then
		cp /etc/resolv.conf "$work/resolv.conf.host" && resolv_saved=1
	else
		resolv_made=1
	fi
	cp "$work/resolv.conf" /etc/resolv.conf
fi
busybox httpd -f -p 127.0.0.1:8080 -h "$work" &
httpd_pid=$!

# --- passt's DHCP: what the guest sees ---
vm --net passt "$root" /bin/sh -c 'ip -4 -o addr show eth0 | sed "s/^[0-9]*: //"
	echo "route=$(ip -4 route show default)"; echo "mtu=$(cat /sys/class/net/eth0/mtu)"
	cat /etc/resolv.conf; echo "got=$(wget -q -O - http://10.0.2.2:8080/blob | sha256sum | cut -d" " -f1)"
	dmesg | grep -o "krun-init: eth0: DHCP.*"'
check "passt DHCP: eth0 has 10.0.2.15/24 (passt hands out the host's address)" \
	sh -c 'grep -q "^eth0 *inet 10.0.2.15/24" "$1"' - "$work/out"
check "passt DHCP: default route via the host's gateway" \
	sh -c 'grep -q "^route=default via 10.0.2.2 dev eth0" "$1"' - "$work/out"
check "passt DHCP: resolv.conf in the (writable) root names passt's DNS server" \
	sh -c 'grep -qx "nameserver 10.0.2.53" "$1" && grep -qx "nameserver 10.0.2.53" "$2/etc/resolv.conf"' - "$work/out" "$root"
check "passt DHCP: the lease in the kernel log (not on stderr), in well under the timeout" \
	sh -c '[ "$(grep -c "^krun-init: eth0: DHCP lease 10.0.2.15/24 router 10.0.2.2 dns 10.0.2.53" "$1")" -eq 1 ] &&
		ms=$(sed -n "s/.*DHCP lease.* in \([0-9]*\) ms$/\1/p" "$1") && [ "$ms" -lt 3000 ] &&
		! grep -q DHCP "$2"' - "$work/out" "$work/err"
check "passt DHCP: a 2 MB file through the route, byte-exact" has_line "got=$want"
echo "     eth0 MTU after DHCP: $(sed -n 's/^mtu=//p' "$work/out"); init noted: $(grep "DHCP lease" "$work/out")"

# --- two interfaces, each its own passt: both configured, eth0 keeps the route ---
vm --net passt --net passt "$root" /bin/sh -c 'for i in eth0 eth1; do ip -4 -o addr show $i | sed "s/^[0-9]*: //"; done
	ip -4 route show default | sed "s/^/route=/"; dmesg | grep -o "krun-init: eth.*"'
check "two passt interfaces: eth0 and eth1 both get 10.0.2.15/24 by DHCP" \
	sh -c 'grep -q "^eth0 *inet 10.0.2.15/24" "$1" && grep -q "^eth1 *inet 10.0.2.15/24" "$1"' - "$work/out"
check "two passt interfaces: one default route, the first interface's" \
	sh -c '[ "$(grep -c "^route=" "$1")" -eq 1 ] && grep -q "^route=default via 10.0.2.2 dev eth0" "$1" &&
		grep -q "eth1: a default route exists already: kept" "$1"' - "$work/out"

# --- nodhcp: up, no address, no route, no resolv.conf written ---
rm -f "$root/etc/resolv.conf"
vm --net passt,nodhcp "$root" /bin/sh -c 'ip -o link show eth0; echo "addrs=$(ip -4 -o addr show eth0 | wc -l)"
	echo "routes=$(ip -4 route | wc -l)"; [ -e /etc/resolv.conf ] && echo resolv-conf'
check "nodhcp: eth0 up but unconfigured, no resolv.conf, no DHCP line" \
	sh -c 'grep -q "eth0: <.*UP" "$1" && grep -qx addrs=0 "$1" && grep -qx routes=0 "$1" &&
		! grep -qx resolv-conf "$1" && ! grep -q DHCP "$2"' - "$work/out" "$work/err"

# --- a peer that never answers DHCP: bounded, one line, the workload runs ---
# passt itself, with its DHCP server off; its socket in /tmp, where passt,
# once it is "nobody", may create it.
sock=/tmp/krun-net-dhcp-silent.$$.sock
passt --foreground --quiet --no-dhcp --socket "$sock" >"$work/passt.log" 2>&1 &
silent_pid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$sock" ] || echo "     passt --no-dhcp did not make $sock: $(head -c 500 "$work/passt.log")"
vm --net "unixstream:$sock,dhcp" "$root" /bin/sh -c 'echo ran; exit 4'
check "silent peer: the workload still runs (exit 4)" sh -c '[ "$1" -eq 4 ] && grep -qx ran "$2"' - "$status" "$work/out"
check "silent peer: one line says no lease within 5000 ms" \
	sh -c '[ "$(grep -c "eth0: no DHCP lease within 5000 ms" "$1")" -eq 1 ]' - "$work/err"

echo "net-dhcp: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
