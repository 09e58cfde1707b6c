#!/usr/bin/env bash
# boot.sh BUILD [RUNS]: the boot benchmark, where KVM can boot standard guests
# (this host, or the KVM test host). See bench/RESULTS.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
mkdir -p "$build/bench"
cp "$top/bench/boot-inner.sh" "$build/bench/"
exec "$top/tests/guest-env.sh" "$build/bench/boot-inner.sh" "$build" "${2:-5}"
