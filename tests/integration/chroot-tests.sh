#!/bin/sh
# chroot-tests.sh BUILD: krun-chroot end to end — a busybox root shared from
# the host through the in-process virtio-fs server, the built-in init, the
# console — checked from the outside: bytes, exit statuses, files on both
# sides. POSIX sh: it also runs under busybox inside the KVM test host.
build=$1
chroot="$build/krun-chroot"
probe="$build/tests/guest/krun-probe"
work=$(mktemp -d /tmp/krun-chroot-tests.XXXXXX)
root="$work/root"
. "$(dirname "$0")/testlib.sh"

# vm ARGS...: krun-chroot with a time limit, stdin from $work/in (or empty).
vm() { run_timed krun-chroot "$chroot" "$@"; }

cp -a "$build/rootfs" "$root"
cp "$probe" "$root/bin/krun-probe"
cp "$build/tests/manifest.sh" "$root/bin/krun-manifest"
# user.* xattrs need a host filesystem that has them (tmpfs only since Linux
# 6.6); trusted.* works on tmpfs for root.
xattr=user.tag
"$probe" setxattr "$root/bin/krun-manifest" user.tag x 2>/dev/null || xattr=trusted.tag
echo "     xattrs tested in the $xattr namespace"
manifest() { sh "$build/tests/manifest.sh" "$1" "$probe" "$xattr"; }

# --- the basic contract
vm "$root" /bin/sh -c 'echo hello; exit 7'
check "echo hello; exit 7: prints hello, exits 7" sh -c "[ $status -eq 7 ] && [ \"\$(cat '$work/out')\" = hello ]"

vm "$root" /bin/true
check "/bin/true exits 0" [ "$status" -eq 0 ]

vm "$root" /bin/sh -c 'kill -9 $$'
check "a workload killed by SIGKILL: 137" [ "$status" -eq 137 ]

vm "$root" /nonexistent/program
check "a missing program: 127 and a message" sh -c "[ $status -eq 127 ] && grep -q 'nonexistent/program' '$work/err'"

vm "$root" /etc/passwd
check "a non-executable file: 126" [ "$status" -eq 126 ]

# --- stdio
echo data >"$work/in"
vm "$root" /bin/cat
check "stdin piped from the host reaches the guest" sh -c "[ $status -eq 0 ] && [ \"\$(cat '$work/out')\" = data ]"

head -c 6291456 /dev/urandom >"$work/blob"
cp "$work/blob" "$work/in"
vm "$root" /bin/cat
check "6 MiB of binary stdin come back byte-exact" cmp -s "$work/blob" "$work/out"

vm "$root" /bin/sh -c 'echo to-stderr >&2; echo to-stdout'
check "stdout and stderr stay apart" sh -c "grep -qx to-stdout '$work/out' && grep -qx to-stderr '$work/err' && ! grep -q to-stderr '$work/out'"

vm "$root" /bin/sh -c 'seq 1 20000'
check "20000 lines written just before exit all arrive" sh -c "[ \$(wc -l <'$work/out') -eq 20000 ] && [ \"\$(tail -1 '$work/out')\" = 20000 ]"

# --- the API's workload settings
vm --env FOO=bar --env 'SPACED=a b  c' --workdir /tmp "$root" /bin/sh -c 'echo "$FOO|$SPACED|$(pwd)"; env | grep -c .'
check "--env and --workdir are what the workload sees" sh -c "head -1 '$work/out' | grep -qx 'bar|a b  c|/tmp'"

vm --rlimit RLIMIT_NOFILE=123:456 "$root" /bin/sh -c 'ulimit -n; ulimit -Hn'
check "rlimits reach the workload" sh -c "[ \"\$(tr '\n' ' ' <'$work/out')\" = '123 456 ' ]"

vm --user 1000:1001 "$root" /bin/sh -c 'id -u; id -g'
check "uid/gid reach the workload" sh -c "[ \"\$(tr '\n' ' ' <'$work/out')\" = '1000 1001 ' ]"

vm "$root" /bin/sh -c 'printf "%s|" "$@"' argv0 "a b" "" "c"
check "arguments with spaces and empty ones survive" sh -c "[ \"\$(cat '$work/out')\" = 'a b||c|' ]"

vm --cpus 2 "$root" /bin/sh -c 'nproc; cat /proc/mounts | cut -d" " -f2,3 | tr "\n" ";"'
check "2 vCPUs; /proc /sys /dev /dev/pts /tmp mounted" sh -c "grep -qx 2 '$work/out' && grep -q '/proc proc' '$work/out' && grep -q '/dev/pts devpts' '$work/out' && grep -q '/tmp tmpfs' '$work/out'"

# --- more shares: krun_set_mapped_volumes, mounted by init
mkdir -p "$work/vol" "$work/ro"
echo from-host >"$work/vol/file"
echo ro-data >"$work/ro/file"
vm --volume "$work/vol:/data" --volume "$work/ro:/srv/ro:ro" "$root" /bin/sh -c \
	'cat /data/file /srv/ro/file; echo from-guest >/data/new; echo x >/srv/ro/bad || echo refused'
check "--volume: init mounts the shares; writes reach the host; :ro refuses them" \
	sh -c "[ \"\$(cat '$work/out' | tr '\n' ' ')\" = 'from-host ro-data refused ' ] && [ \"\$(cat '$work/vol/new')\" = from-guest ] && [ ! -e '$work/ro/bad' ]"

# --- files: guest -> host
# A setuid bit and a trusted.* xattr are part of the tree: compat share mode
# (krun-chroot's default, strict, refuses them: hardening-tests.sh).
vm --share-mode=compat "$root" /bin/sh -c '
	set -e; mkdir -p /t/a/b; echo one >/t/a/f1; echo two >/t/a/b/f2
	mv /t/a/f1 /t/a/f1r; ln /t/a/f1r /t/a/hl; ln -s f1r /t/a/sl; ln -s /abs/target /t/a/abs
	chmod 640 /t/a/b/f2; chmod 4755 /t/a/hl
	head -c 300000 /dev/urandom >/t/big; truncate -s 5000 /t/big
	krun-probe setxattr /t/a/f1r '"$xattr"' hello; mkdir /t/gone; rmdir /t/gone
	mkfifo /t/fifo; touch -d "2001-02-03 04:05:06" /t/a/b/f2'
check "file operations in the guest succeed" [ "$status" -eq 0 ]


manifest "$root/t" >"$work/host-view"
vm "$root" /bin/krun-manifest /t /bin/krun-probe "$xattr"
cp "$work/out" "$work/guest-view"
check "guest-made tree: identical listing on host and guest (modes, sizes, links, sums, xattrs)" \
	sh -c "[ -s '$work/host-view' ] && cmp -s '$work/host-view' '$work/guest-view' && grep -q 'f1r file 4755 4 2 .* hello' '$work/host-view'"
[ "$failed" -eq 0 ] || diff "$work/host-view" "$work/guest-view" | head -20

# --- files: host -> guest
mkdir -p "$root/h/d"
echo host-made >"$root/h/d/file"
ln -s d/file "$root/h/link"
head -c 100000 /dev/urandom >"$root/h/rand"
chmod 600 "$root/h/rand"
"$probe" setxattr "$root/h/rand" "$xattr" from-host
manifest "$root/h" >"$work/host-view"
vm "$root" /bin/krun-manifest /h /bin/krun-probe "$xattr"
check "host-made tree: identical listing in the guest" cmp -s "$work/host-view" "$work/out"

# --- a hostile guest
outside="$work/outside"
mkdir -p "$outside"
echo TOPSECRET >"$outside/secret"
mkdir -p "$root/d"
echo inside >"$root/d/secret"
ln -s "$outside/secret" "$root/abs-link"
ln -s ../../../../../../../../"$outside/secret" "$root/rel-link"
# Host side: swap d for a symlink to the outside, again and again.
# The swapping starts once the guest is up (it creates /up): it attacks the
# guest's walks, not the kernel's mount of the root.
(while [ ! -e "$root/up" ] && [ ! -e "$work/stop" ]; do sleep 0.1; done
	while [ ! -e "$work/stop" ]; do mv "$root/d" "$root/d.real" 2>/dev/null; ln -s "$outside" "$root/d" 2>/dev/null
	rm -f "$root/d" 2>/dev/null; mv "$root/d.real" "$root/d" 2>/dev/null; done) &
swapper=$!
vm "$root" /bin/sh -c "
	touch /up; cat /../../..$outside/secret /abs-link /rel-link 2>/dev/null
	i=0; while [ \$i -lt 100 ]; do cat /d/secret 2>/dev/null; echo pwned >/d/secret 2>/dev/null; ls /d >/dev/null 2>&1; i=\$((i + 1)); done
	krun-probe handles /d/secret 2>&1; krun-probe handles / 2>&1; true"
touch "$work/stop"
wait $swapper 2>/dev/null
check "hostile guest: nothing outside the share is read" sh -c "! grep -q TOPSECRET '$work/out'"
check "hostile guest: nothing outside the share is written" sh -c "[ \"\$(cat '$outside/secret')\" = TOPSECRET ] && [ \$(ls '$outside' | wc -l) -eq 1 ]"
# Handles the guest kernel still has cached may open files of the share itself;
# whatever they open must be inside it.
grep "read via" "$work/out" | sort | uniq -c | sed 's/^/     /'
check "hostile guest: file-handle tricks reach nothing outside (status $status)" \
	sh -c "[ $status -eq 0 ] && ! grep 'read via' '$work/out' | grep -q TOPSECRET"

# --- SMBIOS OEM strings (krun_set_smbios_oem_strings) as the guest kernel reads them
vm --oem-string hello --oem-string "with space" "$root" /bin/cat /sys/firmware/dmi/entries/11-0/raw
printf 'hello\000with space\000\000' >"$work/oem-want"
od -An -tx1 "$work/out" | head -1 | sed 's/^ */     type 11: /'
check "--oem-string: a type 11 structure (count 2) holds both strings byte-exact" \
	sh -c "[ $status -eq 0 ] && [ \"\$(head -c 2 '$work/out' | od -An -tx1 | tr -d ' ')\" = 0b05 ] && [ \"\$(tail -c +5 '$work/out' | head -c 1 | od -An -tx1 | tr -d ' ')\" = 02 ] && tail -c +6 '$work/out' | cmp -s - '$work/oem-want'"
vm "$root" /bin/sh -c 'cat /sys/class/dmi/id/sys_vendor; ls /sys/firmware/dmi/entries | tr "\n" " "'
check "no --oem-string: SMBIOS from libkrun-c, no type 11" \
	sh -c "[ $status -eq 0 ] && head -1 '$work/out' | grep -qx libkrun-c && grep -q '0-0 1-0 127-0' '$work/out' && ! grep -q '11-0' '$work/out'"

rm -rf "$work"
echo "chroot: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
