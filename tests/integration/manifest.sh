#!/bin/sh
# manifest.sh DIR PROBE XATTR: one line per entry under DIR (type, mode, size,
# link count, mtime, checksum, the XATTR attribute), so two views of a tree
# compare.
cd "$1" || exit 1
probe=$2
xattr=$3
find . | LC_ALL=C sort | while read -r p; do
	if [ -L "$p" ]; then
		echo "$p link $(readlink "$p")"
	elif [ -d "$p" ]; then
		echo "$p dir $(stat -c %a "$p")"
	elif [ -p "$p" ]; then
		echo "$p fifo $(stat -c %a "$p")"
	else
		echo "$p file $(stat -c '%a %s %h %Y' "$p") $(sha256sum <"$p" | cut -c1-16)" \
			"$("$probe" getxattr "$p" "$xattr" 2>/dev/null)"
	fi
done
