#!/usr/bin/env bash
# Runs a command inside the "KVM test host": a QEMU TCG virtual machine with
# emulated AMD SVM, booting Debian's stock kernel with kvm_amd loaded, which
# gives the command a real /dev/kvm.  Needed because the /dev/kvm of the
# machines this project is developed on may be unable to boot normal guests.
# See usage() below for the interface.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
project=$(cd "$here/../.." && pwd -P)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/libkrun-c/kvm-host

# One CPU by default: Debian 12's QEMU (7.2) sets page-table accessed/dirty
# bits with a plain read-modify-write in its TCG page walker, which races
# with the other vCPU thread under thread=multi. Measured with 2 CPUs: 2 of
# 40 runs of a 2-vCPU guest failed (a KVM emulation failure on CPUID, the
# user page unmapped under the guest; a guest that died silently), and the
# test host's own kernel sometimes wedged. With 1 CPU: 0 of 40, twice.
cpus=${KVMHOST_CPUS:-1}
mem=${KVMHOST_MEM:-4G}
timeout_s=${KVMHOST_TIMEOUT:-1800}
idle_s=${KVMHOST_IDLE_TIMEOUT:-0}
compress=${KVMHOST_COMPRESS:-none}
# The test host's kernel ticks periodically (nohz=off highres=off). In its
# default tickless mode it wedged about once per 10 minutes under heavy guest
# exits: its timers stopped (even `timeout` never fired). The likely cause,
# not proven: QEMU's TCG emulation of SVM now and then loses the one-shot
# local APIC timer interrupt, and nothing re-arms it. Measured on a
# reproducer, 2000 lines of
# serial output from the guest, booted in a loop: wedged at run 2 and at
# run 9 when tickless; 30 of 30 runs with the periodic tick, where the next
# tick comes anyway.
append="nohz=off highres=off ${KVMHOST_APPEND:-}"

# Modules loaded by insmod, in this order, before anything else.
kvm_modules=(
	kernel/virt/lib/irqbypass.ko
	kernel/drivers/crypto/ccp/ccp.ko
	kernel/arch/x86/kvm/kvm.ko
	kernel/arch/x86/kvm/kvm-amd.ko
)

# Firmware the inner QEMU may need (-M microvm first of all).  Debian keeps
# SeaBIOS outside /usr/share/qemu; QEMU finds it there too.
qemu_firmware=(
	/usr/share/qemu/bios-microvm.bin
	/usr/share/qemu/qboot.rom
	/usr/share/qemu/pvh.bin
	/usr/share/qemu/linuxboot.bin
	/usr/share/qemu/linuxboot_dma.bin
	/usr/share/qemu/multiboot.bin
	/usr/share/qemu/multiboot_dma.bin
	/usr/share/qemu/kvmvapic.bin
	/usr/share/seabios/bios.bin
	/usr/share/seabios/bios-256k.bin
)

usage() {
	cat <<EOF
Usage: tests/kvm-host/run.sh [options] [--] COMMAND [ARGS...]

Runs COMMAND inside the KVM test host (QEMU TCG with emulated AMD SVM, Debian
kernel with kvm_amd) where /dev/kvm is real.  COMMAND runs under busybox sh,
in a directory with the same path as the caller's working directory, with
stdin empty.  Its stdout and stderr arrive, merged, on this script's stdout
(through the serial console: a text stream, trailing CRs removed).  The exit
status is COMMAND's; 124 on timeout, 125 if the test host failed.

The initramfs holds busybox, the kvm modules, qemu-system-x86_64 (+ microvm
firmware), /usr/lib/qemu/virtiofsd, and the project's build/ directory at its
host path ($project/build), minus kernel source/object trees
(directories holding a Kconfig file or an include/generated directory).
Shared libraries of every ELF file copied come along.

Options:
  --copy SRC[=DEST]  also copy file or directory SRC, to DEST (default: the
                     absolute path of SRC); repeatable
  --env K=V          export K=V to COMMAND; repeatable
  --module NAME      also modprobe kernel module NAME (+ dependencies)
  --no-build         do not copy build/
  -v, --verbose      show build steps and the test host's boot console
  -h, --help         this text

Environment:
  KVMHOST_IDLE_TIMEOUT (seconds without console output before the run counts
  as wedged and ends with 124; default 0, off),
  KVMHOST_CPUS (1), KVMHOST_MEM (4G), KVMHOST_TIMEOUT (1800 seconds, for the
  whole run), KVMHOST_COMPRESS (none or gzip; none boots faster under TCG).
Kernel and modules are cached in $cache_root.
EOF
}

die() {
	printf 'kvm-host: %s\n' "$*" >&2
	exit 125
}

note() {
	[[ $verbose == 1 ]] || return 0
	printf 'kvm-host: %s\n' "$*" >&2
}

now() {
	printf '%s' "$EPOCHREALTIME"
}

# Seconds between two EPOCHREALTIME values, with one decimal.
elapsed() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

# Shell-quotes one word for busybox sh.
quote() {
	printf "'%s'" "${1//\'/\'\\\'\'}"
}

parse_args() {
	copies=() envs=() extra_modules=() verbose=0 copy_build=1
	while (($#)); do
		case $1 in
		--copy) (($# >= 2)) || die "--copy needs an argument"; copies+=("$2"); shift ;;
		--copy=*) copies+=("${1#*=}") ;;
		--env) (($# >= 2)) || die "--env needs an argument"; envs+=("$2"); shift ;;
		--env=*) envs+=("${1#*=}") ;;
		--module) (($# >= 2)) || die "--module needs an argument"; extra_modules+=("$2"); shift ;;
		--module=*) extra_modules+=("${1#*=}") ;;
		--no-build) copy_build=0 ;;
		-v | --verbose) verbose=1 ;;
		-h | --help) usage; exit 0 ;;
		--) shift; break ;;
		-*) die "unknown option $1 (see --help)" ;;
		*) break ;;
		esac
		shift
	done
	(($#)) || die "no command given (see --help)"
	command_argv=("$@")
	local e
	for e in "${envs[@]}"; do
		[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants K=V, got '$e'"
	done
	[[ $compress == none || $compress == gzip ]] || die "KVMHOST_COMPRESS must be none or gzip"
}

check_tools() {
	local t
	for t in qemu-system-x86_64 busybox cpio file ldd apt-cache apt-get dpkg-deb timeout; do
		command -v "$t" >/dev/null || die "$t not found (run scripts/deps.sh)"
	done
	[[ -x /usr/bin/qemu-system-x86_64 ]] || die "/usr/bin/qemu-system-x86_64 missing"
}

# Sets kdir (cache directory of one kernel version) and krel (its release,
# e.g. 6.1.0-56-amd64), downloading and unpacking the kernel if needed.
fetch_kernel() {
	local dep pkg debver
	# e.g. "Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)"
	dep=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
		sed -nE 's/^Depends:.*(linux-image-[0-9][^ ,]*)( \(= ([^)]*)\))?.*/\1 \3/p' | head -n 1) || dep=
	read -r pkg debver <<<"$dep" || :
	if [[ -z $pkg ]]; then
		# No apt metadata: fall back to whatever was cached before.
		kdir=$(find "$cache_root" -mindepth 1 -maxdepth 1 -type d ! -name '.*' 2>/dev/null | sort -V | tail -n 1)
		[[ -n $kdir ]] || die "cannot find the kernel package linux-image-amd64 depends on"
	else
		kdir=$cache_root/$(sed -E 's/^linux-image-(.*)-amd64$/\1/' <<<"$pkg")
		if [[ ! -f $kdir/.deb-version || $(<"$kdir/.deb-version") != "$debver" ]]; then
			unpack_kernel "$pkg" "$debver"
		fi
	fi
	krel=$(basename "$(find "$kdir/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n 1)")
	kernel=$kdir/boot/vmlinux-$krel
	[[ -f $kernel ]] || kernel=$kdir/boot/vmlinuz-$krel
	[[ -f $kernel ]] || die "no kernel image in $kdir"
}

# Writes the uncompressed ELF vmlinux inside bzImage $1 to $2.  QEMU boots it
# through its PVH entry point, which skips the kernel's own decompression:
# about 5 s faster under TCG.  Fails quietly if no known payload is found.
extract_vmlinux() {
	local bz=$1 out=$2 magic tool off
	for magic in '\xfd7zXZ\x00:xz' '\x28\xb5\x2f\xfd:zstd' '\x1f\x8b\x08:gzip'; do
		tool=${magic##*:}
		command -v "$tool" >/dev/null || continue
		off=$(LC_ALL=C grep -obUaP "${magic%:*}" "$bz" | head -n 1 | cut -d: -f1) || continue
		[[ -n $off ]] || continue
		# The payload is followed by more of bzImage: ignore the complaint.
		tail -c +"$((off + 1))" "$bz" | "$tool" -dc >"$out" 2>/dev/null || :
		# QEMU needs the PVH ELF note (CONFIG_PVH) to boot a vmlinux.
		if [[ $(head -c 4 "$out" | od -An -c | tr -d ' ') == 177ELF ]] &&
			LC_ALL=C grep -q Xen "$out"; then
			return 0
		fi
	done
	rm -f "$out"
	return 1
}

# Downloads the .deb, extracts boot/ and lib/modules/ into the cache, and adds
# a modules.dep (the .deb has none; depmod normally runs at install time) and
# the uncompressed kernel.
unpack_kernel() {
	local pkg=$1 debver=$2 work log rel
	printf 'kvm-host: fetching %s %s into %s\n' "$pkg" "$debver" "$kdir" >&2
	mkdir -p "$cache_root"
	work=$(mktemp -d "$cache_root/.unpack.XXXXXX")
	log=$work/log
	# apt-get download writes to the current directory.
	(cd "$work" && apt-get download "$pkg" >"$log" 2>&1) ||
		{ cat "$log" >&2; rm -rf "$work"; die "apt-get download $pkg failed"; }
	mkdir "$work/x" "$work/tree"
	dpkg-deb -x "$work"/*.deb "$work/x" || { rm -rf "$work"; die "dpkg-deb -x failed"; }
	mv "$work/x/boot" "$work/tree/"
	mkdir "$work/tree/lib"
	mv "$work/x/lib/modules" "$work/tree/lib/" 2>/dev/null ||
		mv "$work/x/usr/lib/modules" "$work/tree/lib/"
	rel=$(basename "$(find "$work/tree/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n 1)")
	busybox depmod -b "$work/tree" "$rel" || { rm -rf "$work"; die "depmod failed"; }
	extract_vmlinux "$work/tree/boot/vmlinuz-$rel" "$work/tree/boot/vmlinux-$rel" ||
		printf 'kvm-host: no PVH vmlinux in the kernel image; booting the slower bzImage\n' >&2
	printf '%s\n' "$debver" >"$work/tree/.deb-version"
	# Replace atomically; a concurrent run that won the race is fine too.
	rm -rf "$kdir.old"
	[[ ! -d $kdir ]] || mv -T "$kdir" "$kdir.old"
	mv -T "$work/tree" "$kdir" 2>/dev/null || :
	rm -rf "$work" "$kdir.old"
}

# Recreates the host's top-level symlinks (/lib -> usr/lib on merged-/usr
# systems) so that library paths reported by ldd resolve inside as well.
make_skeleton() {
	local d
	for d in bin sbin lib lib32 lib64 libx32; do
		if [[ -L /$d ]]; then
			ln -s "$(readlink "/$d")" "$root/$d"
			mkdir -p "$root/$(readlink -f "/$d")"
		elif [[ -d /$d ]]; then
			mkdir -p "$root/$d"
		fi
	done
	mkdir -p "$root"/{proc,sys,dev,tmp,run,root,etc,mnt,kvmhost} "$root"/usr/{bin,sbin}
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	# Lets the loader find libraries from non-default directories the same
	# way it does on the host; stale entries are simply skipped.
	[[ -f /etc/ld.so.cache ]] && cp /etc/ld.so.cache "$root/etc/"
	return 0
}

# Copies file or directory $1 to absolute path $2 inside the initramfs,
# keeping symlinks; extra arguments are paths (relative to $1) to leave out.
copy_in() {
	local src=$1 dst=$2 x
	shift 2
	[[ -e $src ]] || die "cannot copy $src: no such file or directory"
	mkdir -p "$root$(dirname "$dst")"
	if [[ -d $src ]]; then
		local excl=()
		for x in "$@"; do excl+=("--exclude=./$x"); done
		mkdir -p "$root$dst"
		tar -C "$src" --anchored "${excl[@]}" -cf - . | tar -C "$root$dst" -xf -
	else
		cp -a "$src" "$root$dst"
	fi
}

# Directories under $1 that are kernel source trees (a Kconfig) or kernel
# object trees (include/generated): huge, and never what a test wants.  A
# directory holding just a .config next to a bzImage is neither.  Prints
# their paths relative to $1.
kernel_trees() {
	(cd "$1" && find . -mindepth 1 -type d \
		\( -exec test -e '{}/Kconfig' \; -o -exec test -d '{}/include/generated' \; \) \
		-prune -print) | sed 's|^\./||'
}

copy_build() {
	local build=$project/build t skip=()
	[[ $copy_build == 1 && -d $build ]] || return 0
	while IFS= read -r t; do
		note "not copying kernel tree build/$t"
		skip+=("$t")
	done < <(kernel_trees "$build")
	copy_in "$build" "$build" "${skip[@]}"
}

copy_extras() {
	local c src dst
	for c in "${copies[@]}"; do
		src=${c%%=*}
		dst=${c#*=}
		[[ $c == *=* ]] || dst=$(realpath -s "$src")
		[[ $dst == /* ]] || die "--copy destination must be absolute: $c"
		copy_in "$src" "$dst"
	done
}

copy_qemu() {
	local f
	copy_in /usr/bin/qemu-system-x86_64 /usr/bin/qemu-system-x86_64
	for f in "${qemu_firmware[@]}"; do
		[[ -e $f ]] || continue
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
	done
	# QEMU's loadable accelerator modules, should anyone want TCG inside.
	for f in /usr/lib/x86_64-linux-gnu/qemu/accel-*.so; do
		[[ -e $f ]] && copy_in "$f" "$f"
	done
	[[ -x /usr/lib/qemu/virtiofsd ]] && copy_in /usr/lib/qemu/virtiofsd /usr/lib/qemu/virtiofsd
	return 0
}

# Copies the kvm modules and any --module (with the dependencies that
# modules.dep lists), and writes the list of modules init.sh loads.
copy_modules() {
	local mdir=$kdir/lib/modules/$krel dst=/lib/modules/$krel m name line insmod=() deps
	mkdir -p "$root$dst"
	cp "$mdir"/modules.{dep,alias,builtin,order,symbols} "$root$dst/" 2>/dev/null || :
	for m in "${kvm_modules[@]}"; do
		copy_in "$mdir/$m" "$dst/$m"
		insmod+=("$dst/$m")
	done
	for name in "${extra_modules[@]}"; do
		# modules.dep spells names with - or _ as in the file name.
		line=$(grep -E "/(${name//[-_]/[-_]})\.ko:" "$mdir/modules.dep" | head -n 1) ||
			die "kernel module $name not found in $krel (built in, or misspelt?)"
		deps=${line/:/}
		for m in $deps; do
			copy_in "$mdir/$m" "$dst/$m"
		done
	done
	{
		printf 'KVMHOST_INSMOD=%s\n' "$(quote "${insmod[*]}")"
		printf 'KVMHOST_MODPROBE=%s\n' "$(quote "${extra_modules[*]}")"
	} >>"$root/kvmhost/config"
}

# Prints the dynamically linked ELF executables and shared objects under
# $root, NUL-separated.
dynamic_elves() {
	local name desc
	find "$root" -type f \( -perm /111 -o -name '*.so' -o -name '*.so.*' \) -print0 |
		xargs -0r file -N -0 -- |
		while IFS= read -r -d '' name && IFS= read -r desc; do
			case $desc in
			*ELF*x86-64*dynamically\ linked* | *ELF*x86-64*shared\ object*)
				[[ $desc == *executable* || $desc == *shared\ object* ]] &&
					printf '%s\0' "$name"
				;;
			esac
		done
}

# Brings the shared libraries (and the dynamic loader) of every ELF file in
# the initramfs.  Each host library is copied once; a second path to the
# same file becomes a symlink.
copy_libraries() {
	local -A seen=()
	local line lib canon owner='' lib_re='(^|=>)[[:space:]]*(/[^ ]+) \(0x'
	while IFS= read -r line; do
		if [[ $line != [[:space:]]* ]]; then
			owner=${line%:}
			continue
		fi
		if [[ $line == *"=> not found"* ]]; then
			printf 'kvm-host: warning: %s needs %s, not found on the host\n' \
				"${owner#"$root"}" "$(awk '{ print $1 }' <<<"$line")" >&2
			continue
		fi
		# "name => /path (0x...)" or, for the loader, "/path (0x...)"
		[[ $line =~ $lib_re ]] || continue
		lib=${BASH_REMATCH[2]}
		[[ $lib == "$root"/* ]] && continue # found inside (rpath $ORIGIN)
		[[ -e $root$lib || -L $root$lib ]] && continue
		canon=$(readlink -f "$lib")
		mkdir -p "$root$(dirname "$lib")"
		if [[ -n ${seen[$canon]:-} ]]; then
			ln -s "${seen[$canon]}" "$root$lib"
		else
			cp -L "$lib" "$root$lib"
			seen[$canon]=$lib
		fi
	done < <(dynamic_elves | xargs -0r ldd 2>/dev/null || :)
}

# Busybox goes in as /bin/busybox and /bin/sh; init.sh adds the other
# applet symlinks at boot (busybox --install, one process instead of ~270
# ln here), which never replaces anything copied in.
install_busybox() {
	file -L "$(command -v busybox)" | grep -q 'statically linked' ||
		die "busybox is not static (install busybox-static)"
	cp -L "$(command -v busybox)" "$root/bin/busybox"
	[[ -e $root/bin/sh ]] || ln -s busybox "$root/bin/sh"
}

# The script init.sh runs: environment, working directory, command.
write_command() {
	local e a words=() cwd
	# Physical, like the path build/ is copied to.
	cwd=$(pwd -P)
	{
		for e in "${envs[@]}"; do
			printf 'export %s=%s\n' "${e%%=*}" "$(quote "${e#*=}")"
		done
		printf 'mkdir -p %s && cd %s || exit 125\n' "$(quote "$cwd")" "$(quote "$cwd")"
		for a in "${command_argv[@]}"; do words+=("$(quote "$a")"); done
		printf 'exec %s\n' "${words[*]}"
	} >"$root/kvmhost/command"
}

build_initramfs() {
	root=$tmp/root
	mkdir "$root"
	make_skeleton
	marker=KVMHOST-$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
	printf 'KVMHOST_MARKER=%s\n' "$marker" >"$root/kvmhost/config"
	copy_modules
	copy_qemu
	copy_build
	copy_extras
	copy_libraries
	install_busybox
	cp "$here/init.sh" "$root/init"
	chmod 755 "$root/init"
	write_command
	initrd=$tmp/initrd.cpio
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$initrd"
	if [[ $compress == gzip ]]; then
		gzip -1 "$initrd"
		initrd=$initrd.gz
	fi
	note "initramfs: $(du -h "$initrd" | cut -f1), $(find "$root" -mindepth 1 | wc -l) entries"
	rm -rf "$root" # halves what a run keeps in $TMPDIR
}

# Reads the test host's console: hides boot noise, forwards the command's
# output, and records the markers' contents in files under $tmp.  awk, as a
# bash read loop costs more CPU than the TCG vCPUs can spare.
forward_console() {
	local opts=()
	# Unless told otherwise, mawk fills its whole input buffer before it
	# processes a line: no streaming.
	awk -W version 2>&1 | grep -q mawk && opts=(-W interactive)
	awk "${opts[@]}" -v marker="$marker" -v dir="$tmp" -v verbose="$verbose" -v t0="$t_start" '
	function now(   cmd, t) {
		cmd = "date +%s.%N"
		cmd | getline t
		close(cmd)
		return t
	}
	function note(s) {
		if (!verbose) return
		printf "kvm-host: console +%.1fs: %s\n", now() - t0, s > "/dev/stderr"
		fflush("/dev/stderr")
	}
	# Writes s as the only line of file dir/name.
	function record(name, s) {
		print s > (dir "/" name)
		close(dir "/" name)
	}
	{ sub(/\r$/, "") }
	state == "" && (i = index($0, marker "-READY ")) {
		split(substr($0, i + length(marker "-READY ")), f, " ")
		printf "kvm-host: running inside the KVM test host (QEMU TCG + nested SVM), kernel %s, ready after %ss guest uptime (%.1fs wall)\n", \
			f[2], f[1], now() - t0 > "/dev/stderr"
		fflush("/dev/stderr")
		record("ready", "")
		state = "run"
		next
	}
	state == "" && (i = index($0, marker "-FAIL ")) {
		record("fail", substr($0, i + length(marker "-FAIL ")))
		state = "done"
		next
	}
	state == "" {
		print > (dir "/boot.log")
		note($0)
		next
	}
	state == "run" && (i = index($0, marker "-EXIT ")) {
		# Output that did not end in a newline shares the line.
		printf "%s", substr($0, 1, i - 1)
		fflush()
		record("status", substr($0, i + length(marker "-EXIT ")) + 0)
		state = "done"
		next
	}
	state == "run" {
		print
		fflush()
		next
	}
	{ note($0) }
	'
}

# Prefixes console lines for stderr, minus SeaBIOS's terminal escapes.
show_console() {
	sed -E $'s/\e(\\[[0-9;?]*[a-zA-Z]|c)//g; s/^/kvm-host: | /'
}

# With KVMHOST_IDLE_TIMEOUT set, stops QEMU once its console has been silent
# that long: in some runs the test host wedges (its timers seem to stop, so
# even timeout(1) inside never fires) and would sit out KVMHOST_TIMEOUT.
watch_idle() {
	local size last=-1 quiet=0
	while kill -0 "$qemu_pid" 2>/dev/null; do
		sleep 5
		size=$(stat -c %s "$tmp/console" 2>/dev/null || echo 0)
		if [[ $size != "$last" ]]; then
			last=$size quiet=0
		else
			quiet=$((quiet + 5))
		fi
		if ((quiet >= idle_s)); then
			: >"$tmp/idle"
			kill "$qemu_pid" 2>/dev/null
			return
		fi
	done
}

run_qemu() {
	local qrc
	# The console goes to a file, not a pipe: QEMU's serial port drops (and
	# can even stall) output when its chardev would block, which a pipe
	# does whenever our reader or its consumer falls behind.
	: >"$tmp/console"
	timeout -k 10 "$((timeout_s > SECONDS ? timeout_s - SECONDS : 1))" qemu-system-x86_64 \
		-accel tcg,thread=multi -cpu EPYC,+svm,+npt -smp "$cpus" -m "$mem" \
		-nographic -no-reboot -vga none -nic none \
		-serial file:"$tmp/console" -monitor none \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 quiet panic=-1 $append" \
		</dev/null >"$tmp/qemu.err" 2>&1 &
	qemu_pid=$!
	((idle_s > 0)) && watch_idle &
	# In the background because bash runs traps only between commands, and
	# wait, unlike a foreground pipeline, is cut short by a signal.
	tail -s 0.1 -n +1 -f --pid="$qemu_pid" "$tmp/console" | forward_console &
	wait "$!" || :
	qrc=0
	wait "$qemu_pid" || qrc=$?
	qemu_pid=
	# QEMU warns about each EPYC feature TCG lacks, and says it was killed
	# when the timeout strikes: noise.
	grep -v -e "TCG doesn't support requested feature" -e 'terminating on signal' "$tmp/qemu.err" |
		sed 's/^/kvm-host: /' >&2 || :
	if [[ -f $tmp/status ]]; then
		exit "$(<"$tmp/status")"
	elif [[ -f $tmp/fail ]]; then
		tail -n 10 "$tmp/boot.log" 2>/dev/null | show_console >&2 || :
		die "test host setup failed: $(<"$tmp/fail")"
	elif [[ -f $tmp/idle ]]; then
		printf 'kvm-host: no output for %ss: the test host wedged (KVMHOST_IDLE_TIMEOUT)\n' \
			"$idle_s" >&2
		exit 124
	elif ((qrc == 124 || qrc == 137)); then
		printf 'kvm-host: timed out after %ss (KVMHOST_TIMEOUT)\n' "$timeout_s" >&2
		exit 124
	fi
	if [[ -f $tmp/ready ]]; then
		printf 'kvm-host: the test host died while running the command (kernel panic?); its last output is above\n' >&2
	else
		printf 'kvm-host: the test host died while booting; last console lines:\n' >&2
		tail -n 30 "$tmp/boot.log" 2>/dev/null | show_console >&2 || :
	fi
	exit 125
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	[[ -z $qemu_pid ]] || kill "$qemu_pid" 2>/dev/null || :
	rm -rf "$tmp"
}

main() {
	parse_args "$@"
	check_tools
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvm-host.XXXXXX")
	qemu_pid=
	# timeout(1) runs QEMU in a process group of its own, so Ctrl-C does
	# not reach it: stop it here.
	trap 'cleanup' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	t_start=$(now)
	fetch_kernel
	build_initramfs
	note "initramfs built in $(elapsed "$t_start" "$(now)")s; booting $krel"
	run_qemu
}

main "$@"
