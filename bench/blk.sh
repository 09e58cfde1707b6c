#!/usr/bin/env bash
# blk.sh BUILD: the virtio-blk benchmark where KVM can boot standard guests.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
mkdir -p "$build/bench"
cp "$top/bench/blk-inner.sh" "$build/bench/"
exec "$top/tests/guest-env.sh" "$build/bench/blk-inner.sh" "$build"
