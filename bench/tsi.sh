#!/usr/bin/env bash
# tsi.sh BUILD: the TSI benchmark (bench/tsi-inner.sh) where KVM boots
# standard guests: this host, or the KVM test host (with passt copied in
# for the passt figures). See bench/RESULTS.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
mkdir -p "$build/bench"
cp "$top/bench/tsi-inner.sh" "$build/bench/"
if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
	exec sh "$build/bench/tsi-inner.sh" "$build"
fi
copies=()
if command -v passt >/dev/null; then copies=(--copy "$(command -v passt)" --module dummy); fi
for v in TSIBENCH_MB TSIBENCH_CONNS TSIBENCH_RUNS; do
	if [ -n "${!v:-}" ]; then copies+=(--env "$v=${!v}"); fi
done
export KVMHOST_TIMEOUT=${KVMHOST_TIMEOUT:-1500}
exec "$top/tests/kvm-host/run.sh" "${copies[@]}" sh "$build/bench/tsi-inner.sh" "$build"
