#!/usr/bin/env bash
# net.sh BUILD: the virtio-net benchmark (bench/net-inner.sh) where KVM boots
# standard guests: this host, or the KVM test host (with passt copied in, a
# dummy interface for its addresses, the tap driver, vhost-net for the
# optional QEMU vhost column). NETBENCH_* variables are passed on (see
# net-inner.sh); KVMHOST_CPUS (default 1) sets the test host's CPUs. See
# bench/RESULTS.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
mkdir -p "$build/bench"
cp "$top/bench/net-inner.sh" "$build/bench/"
if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
	modprobe dummy 2>/dev/null || :
	modprobe tun 2>/dev/null || :
	exec sh "$build/bench/net-inner.sh" "$build"
fi
envs=()
while IFS= read -r v; do
	envs+=(--env "$v")
done < <(env | grep '^NETBENCH_[A-Z_]*=' || :)
modules=(--module dummy --module tun)
[ "${NETBENCH_VHOST:-0}" = 1 ] && modules+=(--module vhost_net)
export KVMHOST_TIMEOUT=${KVMHOST_TIMEOUT:-2400}
exec "$top/tests/kvm-host/run.sh" --copy /usr/bin/passt "${modules[@]}" "${envs[@]}" \
	sh "$build/bench/net-inner.sh" "$build"
