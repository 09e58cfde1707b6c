#!/usr/bin/env bash
# mkrootfs.sh DIR: a minimal root filesystem from Debian's busybox-static:
# /bin/busybox with a link per applet, the usual top-level directories and
# just enough of /etc for a shell. Idempotent.
set -euo pipefail
root=$1
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "mkrootfs: $busybox missing (run scripts/deps.sh)" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$busybox" 2>&1 | grep -q 'not a dynamic' ||
	{ echo "mkrootfs: $busybox is not static (install busybox-static)" >&2; exit 1; }

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,home,mnt,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
install -m 755 "$busybox" "$root/bin/busybox"
# One symlink per applet, where busybox would install it.
"$busybox" --list-full | while read -r applet; do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
cat >"$root/etc/passwd" <<'EOP'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOP
cat >"$root/etc/group" <<'EOG'
root:x:0:
nogroup:x:65534:
EOG
echo "krun" >"$root/etc/hostname"
