#!/usr/bin/env bash
# fs.sh BUILD: the virtio-fs benchmark where KVM can boot standard guests.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
mkdir -p "$build/bench"
cp "$top/bench/fs-inner.sh" "$build/bench/"
exec "$top/tests/guest-env.sh" "$build/bench/fs-inner.sh" "$build"
