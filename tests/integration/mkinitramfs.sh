#!/usr/bin/env bash
# mkinitramfs.sh OUT.cpio.gz INIT [FILE=DEST...]: a gzip'd newc initramfs whose
# /init is INIT, plus optional extra files. No device nodes are needed: init
# mounts devtmpfs itself.
set -euo pipefail
out=$1 init=$2
shift 2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{dev,proc,sys,tmp}
install -m 755 "$init" "$stage/init"
for pair in "$@"; do
	install -D "${pair%%=*}" "$stage/${pair#*=}"
done
(cd "$stage" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -9 > "$out.tmp"
mv "$out.tmp" "$out"
