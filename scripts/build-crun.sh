#!/usr/bin/env bash
# build-crun.sh OUTDIR: crun from Debian's source package (apt-get source,
# through the deb-src entry scripts/deps.sh adds), built with its libkrun
# handler against this tree's include/libkrun.h. Writes OUTDIR/crun and
# OUTDIR/krun (a link: crun started as "krun" runs containers in a microVM
# through libkrun.so.1).
#
# The build is cached outside the tree, like the guest kernel, in
# ~/.cache/libkrun-c/crun/VERSION-KEY/ (KEY: a hash of this script, which
# holds the configure options); a cache hit only copies a file. Only what
# the tests need is built: the crun binary, with libcap and libseccomp
# (podman's configs ask for capabilities and a seccomp filter), without
# systemd, CRIU, man pages or the shared libcrun.
set -euo pipefail

out=$1
top=$(cd "$(dirname "$0")/.." && pwd -P)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/libkrun-c/crun

die() {
	echo "build-crun: $*" >&2
	exit 1
}

command -v apt-get >/dev/null || die "apt-get not found: a Debian system is needed"
version=$(apt-cache showsrc crun 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1)
[[ -n $version ]] || die "no source package for crun (run scripts/deps.sh: it adds a deb-src entry)"
key=$(sha256sum "$0" | cut -c1-12)
cache=$cache_root/$version-$key

build() {
	local work src jobs
	work=$(mktemp -d "$cache_root/.build.XXXXXX")
	trap 'rm -rf "$work"' RETURN
	echo "build-crun: building crun $version with --with-libkrun (cached in $cache)" >&2
	(cd "$work" && apt-get source --download-only "crun=$version" >"$work/log" 2>&1) ||
		{ cat "$work/log" >&2; die "apt-get source crun=$version failed"; }
	dpkg-source -x "$work"/crun_*.dsc "$work/src" >>"$work/log" 2>&1 ||
		{ cat "$work/log" >&2; die "dpkg-source -x failed"; }
	src=$work/src
	# Generated from git in crun's own tree; Debian's tarball lacks it.
	printf '/* written by build-crun.sh */\n#define GIT_VERSION "debian-%s"\n' "$version" \
		>"$src/git-version.h"
	jobs=$(nproc)
	(
		cd "$src"
		./configure -q --with-libkrun --disable-systemd --disable-criu --disable-shared \
			--enable-static CPPFLAGS="-I$top/include" CFLAGS="-O2 -g0" >>"$work/log" 2>&1
		make -j"$jobs" crun >>"$work/log" 2>&1
	) || { tail -n 40 "$work/log" >&2; die "building crun failed (log above)"; }
	"$src/crun" --version | grep -q '+LIBKRUN' || die "crun was built without libkrun support"
	mkdir -p "$work/out"
	install -m 755 "$src/crun" "$work/out/crun"
	printf '%s\n' "$version" >"$work/out/.version"
	rm -rf "$cache"
	mv -T "$work/out" "$cache"
}

mkdir -p "$cache_root"
if [[ ! -x $cache/crun ]]; then
	exec 9>"$cache_root/.lock"
	flock 9
	[[ -x $cache/crun ]] || build
	flock -u 9
fi
mkdir -p "$out"
install -m 755 "$cache/crun" "$out/crun"
ln -sfn crun "$out/krun"
