#!/usr/bin/env bash
# Builds the libkrun-c guest kernel from Debian's linux-source-6.12, our
# patches (patches/*.patch, applied in name order) and config-fragment, and
# leaves vmlinux, bzImage, System.map and .config in OUTDIR.
#
# Builds are cached outside the tree, keyed by this script, the fragment, the
# patches and the linux-source package version, so a rebuild of the library
# (or a fresh clone) costs a copy instead of a kernel build:
#   ${KRUNFW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libkrun-c/kernel}/<key>/
set -euo pipefail

usage() {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}

log() { printf 'krunfw: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[ $# -eq 1 ] || usage
outdir=$1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
fragment=$here/config-fragment
patchdir=$here/patches
pkg=linux-source-6.12
tarball=/usr/src/$pkg.tar.xz

for tool in make gcc bc bison flex xz tar strip flock sha256sum dpkg-query patch; do
	command -v "$tool" >/dev/null || die "$tool not found (run scripts/deps.sh)"
done
[ -r "$tarball" ] || die "$tarball not found (run scripts/deps.sh)"
[ -r "$fragment" ] || die "$fragment not found"

pkgver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) ||
	die "package $pkg is not installed (run scripts/deps.sh)"
# The patches, in the order they are applied (the glob sorts by name).
patches=()
for p in "$patchdir"/*.patch; do
	[ -f "$p" ] && patches+=("$p")
done
hash=$(cat "$fragment" "$self" ${patches[@]+"${patches[@]}"} | sha256sum | cut -c1-16)
key=$hash-${pkgver//[^A-Za-z0-9.+_-]/_}

cache_root=${KRUNFW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libkrun-c/kernel}
cache=$cache_root/$key
products=(vmlinux bzImage System.map config)

# The kernel's make must not inherit anything from a make that runs us:
# command-line variables (CC=, O=, V=...) travel in MAKEFLAGS.
unset MAKEFLAGS MFLAGS GNUMAKEFLAGS MAKELEVEL MAKEOVERRIDES MAKEFILES
unset KBUILD_OUTPUT KCONFIG_CONFIG KCONFIG_ALLCONFIG CROSS_COMPILE ARCH O
# Same bytes from the same inputs, whoever builds it.
export KBUILD_BUILD_USER=libkrun-c KBUILD_BUILD_HOST=krunfw
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2025'
export KBUILD_BUILD_VERSION=1

# Fragment entries, in file order: names[i] wants vals[i] ("n" = not set).
names=()
vals=()

parse_fragment() {
	local line n=0 name
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		case $line in
		CONFIG_*=*)
			names+=("${line%%=*}")
			vals+=("${line#*=}")
			;;
		"# CONFIG_"*" is not set")
			name=${line#\# }
			names+=("${name%% *}")
			vals+=(n)
			;;
		"" | "#"*) ;;
		*) die "config-fragment:$n: cannot parse: $line" ;;
		esac
	done <"$fragment"
	[ ${#names[@]} -gt 0 ] || die "config-fragment has no options"
}

# scripts/config arguments that write every fragment entry into .config.
config_args() {
	local i
	for i in "${!names[@]}"; do
		case ${vals[$i]} in
		n) printf '%s\0' --disable "${names[$i]}" ;;
		*) printf '%s\0' --set-val "${names[$i]}" "${vals[$i]}" ;;
		esac
	done
}

# Lists (on stdout) every fragment entry whose value .config does not have.
check_config() {
	local config=$1 i name want got
	for i in "${!names[@]}"; do
		name=${names[$i]}
		want=${vals[$i]}
		got=$(grep -E "^(# )?${name}[= ]" "$config" || true)
		if [ "$want" = n ]; then
			[ -z "$got" ] || [ "$got" = "# $name is not set" ] && continue
		else
			[ "$got" = "$name=$want" ] && continue
		fi
		[ "$want" = n ] && want="not set"
		echo "  $name: wanted $want, got '${got:-<absent>}'"
	done
}

copy_out() {
	local f dst
	mkdir -p "$outdir"
	for f in "${products[@]}"; do
		dst=$f
		[ "$f" = config ] && dst=.config
		cp "$cache/$f" "$outdir/.$dst.tmp.$$"
		mv -f "$outdir/.$dst.tmp.$$" "$outdir/$dst"
	done
}

cache_complete() {
	local f
	for f in "${products[@]}"; do
		[ -f "$cache/$f" ] || return 1
	done
}

# Runs make in the source tree, output to the build log. On failure the log
# is kept next to the cache entry and its tail printed.
kmake() {
	if ! make -C "$src" ARCH=x86_64 "$@" >>"$buildlog" 2>&1; then
		cp "$buildlog" "$cache_root/$key.failed.log"
		tail -n 40 "$buildlog" >&2
		die "make $* failed; full log: $cache_root/$key.failed.log"
	fi
}

apply_patches() {
	local p
	for p in ${patches[@]+"${patches[@]}"}; do
		log "applying patches/$(basename "$p")"
		if ! patch -d "$src" -p1 --batch --forward --quiet <"$p" >>"$buildlog" 2>&1; then
			cp "$buildlog" "$cache_root/$key.failed.log"
			tail -n 20 "$buildlog" >&2
			die "patches/$(basename "$p") does not apply; log: $cache_root/$key.failed.log"
		fi
	done
}

configure() {
	local round bad
	local -a args
	mapfile -d '' args < <(config_args)

	log "configuring (tinyconfig + config-fragment)"
	kmake tinyconfig
	# Options depend on each other: olddefconfig drops a value whose
	# dependencies are not yet met, so reapply until nothing moves.
	for round in 1 2 3 4 5; do
		cp "$src/.config" "$tmp/config.prev"
		"$src/scripts/config" --file "$src/.config" "${args[@]}"
		kmake olddefconfig
		cmp -s "$src/.config" "$tmp/config.prev" && break
	done
	log "config settled after $round round(s)"

	bad=$(check_config "$src/.config")
	if [ -n "$bad" ]; then
		cp "$src/.config" "$cache_root/$key.failed.config"
		log "these config-fragment options did not take (unmet dependencies?):"
		printf '%s\n' "$bad" >&2
		die "config check failed; resulting config: $cache_root/$key.failed.config"
	fi
	log "config verified: all ${#names[@]} fragment options as requested"
}

# make with a heartbeat, so a 5-minute build does not look hung.
build() {
	local jobs pid start=$SECONDS next=60
	jobs=$(nproc)
	log "make -j$jobs vmlinux bzImage (log: $buildlog)"
	kmake -j"$jobs" vmlinux bzImage &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		if [ $((SECONDS - start)) -ge $next ]; then
			log "  ... ${next}s: $(tail -n 1 "$buildlog" | cut -c1-70)"
			next=$((next + 60))
		fi
	done
	wait "$pid"
}

store() {
	local out=$tmp/out
	mkdir "$out"
	# DEBUG_INFO is off; strip whatever debug sections remain. Symbols
	# are kept (they help when debugging the VMM); PT_LOADs are unchanged.
	strip --strip-debug -o "$out/vmlinux" "$src/vmlinux"
	cp "$src/arch/x86/boot/bzImage" "$out/bzImage"
	cp "$src/System.map" "$out/System.map"
	cp "$src/.config" "$out/config"
	# Atomic publish: the entry appears complete or not at all.
	mv -T "$out" "$cache"
}

main() {
	parse_fragment
	mkdir -p "$cache_root"

	if cache_complete; then
		log "kernel cache hit: $cache"
		copy_out
		return
	fi

	# One builder per key; a second caller waits and then takes the hit.
	exec 9>"$cache_root/$key.lock"
	if ! flock -n 9; then
		log "another build of $key is running; waiting"
		flock 9
	fi
	if cache_complete; then
		log "kernel cache hit: $cache"
		copy_out
		return
	fi

	local start=$SECONDS
	log "kernel cache miss: building $key"
	# Holding the lock, any tree left for this key is from a killed build.
	rm -rf "$cache_root/tmp.$key."*
	tmp=$(mktemp -d "$cache_root/tmp.$key.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 1' INT TERM HUP
	src=$tmp/src
	buildlog=$tmp/build.log
	mkdir "$src"

	log "extracting $tarball"
	tar -xf "$tarball" -C "$src" --strip-components=1 --no-same-owner
	apply_patches
	configure
	build
	store
	rm -f "$cache_root/$key.failed.log" "$cache_root/$key.failed.config"
	log "kernel built in $((SECONDS - start))s, cached in $cache"
	copy_out
}

main
