#!/usr/bin/env bash
# Installs every Debian package the build, the guest kernel, the tests and the
# benchmarks need. Idempotent; a no-op when everything is already there.
set -euo pipefail

packages=(
	# library, CLI, guest init
	make gcc libc6-dev pkg-config musl-tools linux-libc-dev
	zlib1g-dev libzstd-dev libbz2-dev liburing-dev libseccomp-dev
	# guest kernel (libkrunfw)
	linux-source-6.12 bc bison flex libelf-dev libssl-dev cpio xz-utils patch
	# default rootfs and test initramfs; compressed test kernels
	busybox-static file bzip2 zstd
	# disk images for the virtio-blk tests (qemu-img, mkfs.ext4 -d)
	qemu-utils e2fsprogs
	# virtio-net tests and benchmark: a real passt peer
	passt
	# the guest DHCP client's host test: network namespaces and veth pairs
	# (ip); the DHCP server is busybox's udhcpd (busybox-static)
	iproute2
	# KVM test host, QEMU peer for the benchmarks, fuzzers
	qemu-system-x86 qemu-system-data clang libclang-rt-14-dev
	# container tests: crun built from its Debian source package against our
	# header (tests/containers/build-crun.sh), podman + conmon in the test host
	dpkg-dev libyajl-dev libcap-dev podman conmon
)

# `apt-get source crun` needs a deb-src entry; add one for the running
# release if apt has none.
add_deb_src() {
	local list=/etc/apt/sources.list.d/libkrun-c-src.sources codename
	apt-cache showsrc crun >/dev/null 2>&1 && return 0
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	echo "deps: adding a deb-src entry for $codename ($list)" >&2
	$sudo tee "$list" >/dev/null <<EOF2
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF2
	$sudo apt-get update -q
}

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
add_deb_src
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
