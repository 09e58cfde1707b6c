#!/usr/bin/env bash
# balloon.sh BUILD [RUNS]: the memory benchmark (free page reporting, idle
# footprint) where KVM can boot standard guests; see bench/balloon-inner.sh.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
mkdir -p "$build/bench"
cp "$top/bench/balloon-inner.sh" "$build/bench/"
exec "$top/tests/guest-env.sh" sh "$build/bench/balloon-inner.sh" "$build" "${2:-3}"
