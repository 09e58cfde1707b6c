#!/usr/bin/env bash
# net.sh BUILD: the virtio-net benchmark (bench/net-inner.sh) where KVM boots
# standard guests: this host, or the KVM test host (with passt copied in and
# a dummy interface for its addresses). See bench/RESULTS.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
mkdir -p "$build/bench"
cp "$top/bench/net-inner.sh" "$build/bench/"
if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
	modprobe dummy 2>/dev/null || :
	exec sh "$build/bench/net-inner.sh" "$build"
fi
export KVMHOST_TIMEOUT=${KVMHOST_TIMEOUT:-1800}
exec "$top/tests/kvm-host/run.sh" --copy /usr/bin/passt --module dummy sh "$build/bench/net-inner.sh" "$build"
