#!/usr/bin/env bash
# Installs every Debian package the build, the guest kernel, the tests and the
# benchmarks need. Idempotent; a no-op when everything is already there.
set -euo pipefail

packages=(
	# library, CLI, guest init
	make gcc libc6-dev pkg-config musl-tools
	zlib1g-dev libzstd-dev libbz2-dev liburing-dev
	# guest kernel (libkrunfw)
	linux-source-6.12 bc bison flex libelf-dev libssl-dev cpio xz-utils
	# default rootfs and test initramfs; compressed test kernels
	busybox-static file bzip2 zstd
	# disk images for the virtio-blk tests (qemu-img, mkfs.ext4 -d)
	qemu-utils e2fsprogs
	# KVM test host, QEMU peer for the benchmarks, fuzzers
	qemu-system-x86 qemu-system-data clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "deps: installing ${missing[*]}" >&2
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
