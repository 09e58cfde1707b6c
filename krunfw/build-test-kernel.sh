#!/usr/bin/env bash
# Builds a variant of the guest kernel for the tests: our config-fragment
# with CONFIG_X86_IOPL_IOPERM turned off, as in upstream libkrunfw's config,
# so that the tests can show the exit status leaving the guest without the
# I/O port. Leaves vmlinux, bzImage, System.map and .config in OUTDIR.
#
# build-kernel.sh keys its cache on its own bytes and on the config-fragment
# next to it. This script runs a copy of it from a temporary directory with
# the variant fragment beside it: the variant gets a cache entry of its own
# and the main kernel's key is untouched.
set -euo pipefail

[ $# -eq 1 ] || {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
outdir=$(mkdir -p "$1" && cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/krunfw-noioperm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cp "$here/build-kernel.sh" "$tmp/build-kernel.sh"
# The same patches: build-kernel.sh reads them from beside itself.
mkdir "$tmp/patches"
for p in "$here"/patches/*.patch; do
	[ -f "$p" ] && cp "$p" "$tmp/patches/"
done
grep -q '^CONFIG_X86_IOPL_IOPERM=y$' "$here/config-fragment" || {
	echo "krunfw: config-fragment no longer sets CONFIG_X86_IOPL_IOPERM=y" >&2
	exit 1
}
{
	grep -v '^CONFIG_X86_IOPL_IOPERM=' "$here/config-fragment"
	echo
	echo '# Test variant (krunfw/build-test-kernel.sh): no ioperm()/iopl(),'
	echo "# like upstream libkrunfw's kernel."
	echo '# CONFIG_X86_IOPL_IOPERM is not set'
} >"$tmp/config-fragment"

"$tmp/build-kernel.sh" "$outdir"
