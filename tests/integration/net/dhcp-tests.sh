#!/bin/sh
# dhcp-tests.sh BUILD: the guest init's DHCP client (init/dhcp.c, init/net.c,
# built for this host as BUILD/tests/net/dhcp-client) in a network namespace,
# against a real DHCP server (busybox udhcpd) in another, over a veth pair:
# the address, mask, default route and resolv.conf it sets; a server that
# never answers (bounded time, one line); a server sending broken replies
# (BUILD/tests/net/dhcp-garbage), alone and before a good reply.
# Needs root and ip(8) (iproute2); skipped with a reason otherwise.
build=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
. "$here/../testlib.sh"
skipped=0
client=$build/tests/net/dhcp-client
garbage=$build/tests/net/dhcp-garbage
busybox=$(command -v busybox)
cns=kdhcp-c$$ sns=kdhcp-s$$
srv_pid=

finish() {
	echo "dhcp: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

cleanup() {
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
	ip netns del "$cns" 2>/dev/null
	ip netns del "$sns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

skip_all() {
	echo "skip - DHCP client tests: $1"
	skipped=$((skipped + 1))
	finish
}

[ "$(id -u)" -eq 0 ] || skip_all "not root (network namespaces need it)"
command -v ip >/dev/null || skip_all "no ip(8) (iproute2)"
[ -x "$client" ] && [ -x "$garbage" ] || skip_all "$client not built"
# A veth pair: the client's end in $cns, the server's (10.66.0.1/24) in $sns.
ip netns add "$cns" 2>"$work/err" && ip netns add "$sns" 2>>"$work/err" &&
	ip -n "$cns" link add vc0 type veth peer name vs0 netns "$sns" 2>>"$work/err" ||
	skip_all "cannot make network namespaces and a veth pair: $(head -c 200 "$work/err")"
ip -n "$sns" addr add 10.66.0.1/24 dev vs0
ip -n "$sns" link set vs0 up
ip -n "$sns" link set lo up

# server_start COMMAND...: in $sns, in the background.
server_start() {
	ip netns exec "$sns" "$@" >"$work/server.log" 2>&1 &
	srv_pid=$!
	sleep 0.5
}
server_stop() {
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	srv_pid=
}
# dhcp NAME TIMEOUT_MS: the client in $cns, its resolv.conf at $work/resolv.conf.
dhcp() {
	rm -f "$work/resolv.conf"
	run_timed "$1" ip netns exec "$cns" "$client" vc0 "$2" "$work/resolv.conf"
}
one_line() { [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "$1" "$work/err"; }
lease_is() { grep -qxF "$1" "$work/out"; }

# --- a real server: busybox udhcpd ---
if [ -z "$busybox" ] || ! "$busybox" --list | grep -qx udhcpd; then
	echo "skip - udhcpd: no busybox with udhcpd"
	skipped=$((skipped + 1))
else
	cat >"$work/udhcpd.conf" <<CONF
start 10.66.0.100
end 10.66.0.110
interface vs0
lease_file $work/udhcpd.leases
pidfile $work/udhcpd.pid
option subnet 255.255.255.0
option router 10.66.0.1
option dns 10.66.0.53 10.66.0.54
option mtu 1400
option lease 3600
CONF
	: >"$work/udhcpd.leases"
	server_start "$busybox" udhcpd -f "$work/udhcpd.conf"
	dhcp "udhcpd" 5000
	# udhcpd picks an address of its range from the client's MAC.
	got=$(sed -n 's/^lease \(10\.66\.0\.1[01][0-9]\)\/24 router 10.66.0.1 mtu 1400 dns 10.66.0.53 10.66.0.54$/\1/p' "$work/out")
	check "udhcpd: a lease from the range, with mask, router, MTU, DNS (exit 0)" \
		sh -c '[ "$1" -eq 0 ] && [ -n "$2" ]' - "$status" "$got"
	check "udhcpd: the lease noted for the kernel log, nothing on stderr" \
		sh -c 'grep -q "^note: vc0: DHCP lease $2/24 router 10.66.0.1 dns 10.66.0.53 ... in [0-9]* ms$" "$1" &&
			[ ! -s "$3" ]' - "$work/out" "$got" "$work/err"
	addr=$(ip -n "$cns" -4 -o addr show dev vc0)
	check "udhcpd: $got/24 on the interface" \
		sh -c 'echo "$1" | grep -q "inet $2/24 brd 10.66.0.255"' - "$addr" "$got"
	route=$(ip -n "$cns" -4 route show default)
	check "udhcpd: default route via the router ($route)" \
		sh -c 'echo "$1" | grep -q "^default via 10.66.0.1 dev vc0"' - "$route"
	mtu=$(ip -n "$cns" -o link show dev vc0 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
	check "udhcpd: MTU 1400 from the server ($mtu)" [ "$mtu" = 1400 ]
	check "udhcpd: resolv.conf names both DNS servers" \
		sh -c 'grep -qx "nameserver 10.66.0.53" "$1" && grep -qx "nameserver 10.66.0.54" "$1" &&
			[ "$(grep -c nameserver "$1")" -eq 2 ]' - "$work/resolv.conf"
	check "udhcpd: the client reaches the server at its new address" \
		sh -c 'ip netns exec "$1" "$2" ping -c 1 -W 2 10.66.0.1 >/dev/null' - "$cns" "$busybox"
	# Again, on a configured interface: the address replaced, not
	# duplicated; the default route there already kept.
	dhcp "udhcpd again" 5000
	n=$(ip -n "$cns" -4 -o addr show dev vc0 | wc -l)
	check "udhcpd: a second run keeps one address ($n)" sh -c '[ "$1" -eq 1 ] && [ "$2" -eq 0 ]' - "$n" "$status"
	check "udhcpd: a second run keeps the default route there" \
		sh -c 'grep -q "^note: vc0: a default route exists already: kept" "$1" &&
			[ "$(ip -n "$2" -4 route show default | wc -l)" -eq 1 ]' - "$work/out" "$cns"
	# A read-only root: the lease still applies, DNS is not written, one line.
	mkdir -p "$work/ro"
	run_timed "udhcpd, read-only /etc" ip netns exec "$cns" unshare -m sh -c \
		'mount -t tmpfs -o ro none "$1" && exec "$2" vc0 5000 "$1/resolv.conf"' - "$work/ro" "$client"
	check "udhcpd, read-only root: lease taken (exit 0), one line says DNS was not written" \
		sh -c '[ "$1" -eq 0 ] && [ "$(wc -l <"$2")" -eq 1 ] &&
			grep -q "vc0: DNS servers from DHCP not written to .*: Read-only file system" "$2"' - "$status" "$work/err"
	server_stop
	ip -n "$cns" addr flush dev vc0
fi

# --- nobody answers: bounded, one line, exit 1 ---
dhcp "silence" 2000
check "silence: gives up (exit 1) after 2 s, not before, not much later ($elapsed ms)" \
	sh -c '[ "$1" -eq 1 ] && [ "$2" -ge 1900 ] && [ "$2" -lt 3500 ]' - "$status" "$elapsed"
check "silence: one line says so" one_line "vc0: no DHCP lease within 2000 ms ([0-9]* requests sent, 0 replies rejected)"
check "silence: retransmitted (3 or more DISCOVERs in 2 s)" \
	sh -c 'n=$(sed -n "s/.*(\([0-9]*\) requests.*/\1/p" "$1"); [ "$n" -ge 3 ]' - "$work/err"
check "silence: no resolv.conf written" [ ! -e "$work/resolv.conf" ]

# --- broken replies only: rejected, bounded, one line ---
server_start "$garbage" vs0 only
dhcp "garbage" 2000
check "garbage only: no lease, exit 1 in bounded time ($elapsed ms)" \
	sh -c '[ "$1" -eq 1 ] && [ "$2" -lt 3500 ]' - "$status" "$elapsed"
check "garbage only: one line counts the rejected replies" \
	one_line "no DHCP lease within 2000 ms ([0-9]* requests sent, [1-9][0-9]* replies rejected, last: "
# dhcp-garbage answers each request with 15 broken replies: all rejected.
check "garbage only: every broken reply rejected ($(cat "$work/err"))" \
	sh -c 'sed -n "s/.*(\([0-9]*\) requests sent, \([0-9]*\) replies.*/\1 \2/p" "$1" |
		{ read -r sent rej; [ "$rej" -eq $((sent * 15)) ] || [ "$rej" -eq $(((sent - 1) * 15)) ]; }' - "$work/err"
check "garbage only: nothing configured" \
	sh -c '! ip -n "$1" -4 -o addr show dev vc0 | grep -q inet' - "$cns"
server_stop

# --- broken replies, then a good one: the good one is taken ---
server_start "$garbage" vs0 then-valid
dhcp "garbage then valid" 5000
check "garbage then valid: the good lease" \
	lease_is "lease 10.77.0.50/24 router 10.77.0.1 mtu 0 dns 10.77.0.1 9.9.9.9"
addr=$(ip -n "$cns" -4 -o addr show dev vc0)
check "garbage then valid: 10.77.0.50/24 on the interface" \
	sh -c 'echo "$1" | grep -q "inet 10.77.0.50/24"' - "$addr"
server_stop
finish
