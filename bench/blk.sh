#!/usr/bin/env bash
# blk.sh BUILD: the virtio-blk benchmark where KVM can boot standard guests.
# The BLKBENCH_* variables (see blk-inner.sh) reach it inside the KVM test host too.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
mkdir -p "$build/bench"
cp "$top/bench/blk-inner.sh" "$build/bench/"
vars=()
for v in BLKBENCH_SECS BLKBENCH_MB BLKBENCH_ROUNDS BLKBENCH_FORMATS BLKBENCH_PEERS BLKBENCH_STATS BLKBENCH_VARIANTS; do
	[ -n "${!v:-}" ] && vars+=("$v=${!v}")
done
exec "$top/tests/guest-env.sh" env "${vars[@]}" sh "$build/bench/blk-inner.sh" "$build"
