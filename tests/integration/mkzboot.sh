#!/bin/sh
# mkzboot.sh KERNEL OUT: gzip KERNEL and wrap it the way Linux's EFI "zboot"
# images do (drivers/firmware/efi/libstub/zboot-header.S): "MZ", "zimg" at 4,
# the payload's offset (8) and size (12), the compression's name (24), the
# PE signature's offset (0x3c) and the signature. Only the header a loader
# reads, not a PE that firmware could run: for KRUN_KERNEL_FORMAT_PE_GZ tests.
set -eu
kernel=$1
out=$2
payload_at=128

le32() {
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) \
		$(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"
}
zeros() { head -c "$1" /dev/zero; }

mkdir -p "$(dirname "$out")"
gzip -9 -n -c "$kernel" >"$out.payload"
size=$(wc -c <"$out.payload")
{
	printf 'MZ\000\000zimg'
	le32 $payload_at
	le32 "$size"
	zeros 8
	printf 'gzip'
	zeros 28 # the name's NUL, padding up to 0x38
	le32 $((0x818223cd)) # Linux's PE magic
	le32 $((0x40)) # where "PE\0\0" is
	printf 'PE\000\000'
	zeros $((payload_at - 0x44))
	cat "$out.payload"
	zeros 512 # the rest of a real image
} >"$out.tmp"
rm -f "$out.payload"
mv "$out.tmp" "$out"
