#!/bin/sh
# manifest.sh DIR PROBE: one line per entry under DIR (type, mode, size, link
# count, mtime, checksum, user.tag xattr), so two views of a tree compare.
cd "$1" || exit 1
probe=$2
find . | LC_ALL=C sort | while read -r p; do
	if [ -L "$p" ]; then
		echo "$p link $(readlink "$p")"
	elif [ -d "$p" ]; then
		echo "$p dir $(stat -c %a "$p")"
	elif [ -p "$p" ]; then
		echo "$p fifo $(stat -c %a "$p")"
	else
		echo "$p file $(stat -c '%a %s %h %Y' "$p") $(sha256sum <"$p" | cut -c1-16)" \
			"$("$probe" getxattr "$p" user.tag 2>/dev/null)"
	fi
done
