#!/bin/sh
# krun-config.sh [--cpio] [--no-last-nul] OUT RECORD...: writes the krun-init
# config (see src/guest_abi.h): each RECORD ("key=value") followed by a NUL
# byte. With --cpio, OUT is instead a newc cpio archive holding that file as
# /.krun_config, to put before an initramfs (the kernel unpacks a sequence
# of archives). --no-last-nul leaves the last record unterminated, to test
# init's parser. --json FILE (with --cpio) adds FILE as /.krun_config.json.
# POSIX sh: runs under busybox in the KVM test host.
set -e
cpio=0
last_nul=1
json=
while :; do
	case "$1" in
	--cpio) cpio=1 ;;
	--no-last-nul) last_nul=0 ;;
	--json) json=$2; shift ;;
	*) break ;;
	esac
	shift
done
out=$1
shift

write_records() {
	n=$#
	for rec in "$@"; do
		n=$((n - 1))
		if [ "$n" -gt 0 ] || [ "$last_nul" = 1 ]; then
			printf '%s\0' "$rec"
		else
			printf '%s' "$rec"
		fi
	done
}

# pad N: NUL bytes up to the next multiple of 4 after N bytes.
pad() {
	n=$(((4 - $1 % 4) % 4))
	while [ "$n" -gt 0 ]; do
		printf '\0'
		n=$((n - 1))
	done
}

# entry NAME MODE SIZE: a newc header and name (the data follows).
entry() {
	namesize=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		1 "$2" 0 0 1 0 "$3" 0 0 0 0 "$namesize" 0
	printf '%s\0' "$1"
	pad $((110 + namesize))
}

if [ "$cpio" = 0 ]; then
	write_records "$@" >"$out"
	exit 0
fi
data="$out.data"
write_records "$@" >"$data"
size=$(wc -c <"$data")
{
	entry .krun_config $((0100400)) "$size"
	cat "$data"
	pad "$size"
	if [ -n "$json" ]; then
		jsize=$(wc -c <"$json")
		entry .krun_config.json $((0100644)) "$jsize"
		cat "$json"
		pad "$jsize"
	fi
	entry TRAILER!!! 0 0
} >"$out"
rm -f "$data"
