#!/usr/bin/env bash
# mkinitramfs.sh OUT.cpio INIT: the initramfs for the krun-init tests, not
# compressed (gunzip is slow in the nested test guest). /init is INIT, the
# real krun-init; /bin holds a static busybox and its applets, plus files
# for the exec-failure tests. No /proc, /sys, /dev, /tmp...: init creates
# them. Each test puts its config archive (krun-config.sh --cpio) in front.
set -euo pipefail
out=$1 init=$2
busybox=${BUSYBOX:-/bin/busybox}
file "$busybox" | grep -q 'statically linked' ||
	{ echo "mkinitramfs.sh: $busybox is not a static busybox (install busybox-static)" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

chmod 755 "$stage" # mktemp -d makes it 0700: the initramfs root
mkdir -p "$stage"/{bin,etc,root,home/user,work}
install -m 755 "$init" "$stage/init"
install -m 755 "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done
printf '#!/bin/sh\necho should not run\n' >"$stage/bin/not-executable"
chmod 644 "$stage/bin/not-executable"
printf '\177ELF but not really an ELF file\n' >"$stage/bin/bad-elf"
chmod 755 "$stage/bin/bad-elf"
cat >"$stage/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
PASSWD

(cd "$stage" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
