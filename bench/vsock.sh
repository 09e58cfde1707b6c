#!/usr/bin/env bash
# vsock.sh BUILD: the vsock benchmark (bench/vsock-inner.sh) where KVM boots
# standard guests: this host, or the KVM test host with vhost_vsock loaded
# for QEMU's vhost-vsock-device. See bench/RESULTS.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
mkdir -p "$build/bench"
cp "$top/bench/vsock-inner.sh" "$build/bench/"
if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
	modprobe vhost_vsock 2>/dev/null || echo "vsock bench: cannot load vhost_vsock: no QEMU peer" >&2
	exec sh "$build/bench/vsock-inner.sh" "$build"
fi
export KVMHOST_TIMEOUT=${KVMHOST_TIMEOUT:-1500}
exec "$top/tests/kvm-host/run.sh" --module vhost_vsock sh "$build/bench/vsock-inner.sh" "$build"
