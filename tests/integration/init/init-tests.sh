#!/bin/sh
# init-tests.sh BUILD: boot guests whose PID 1 is the real krun-init and check
# what the workload sees and what comes out: exit status, stdout, timing.
# The root is an initramfs (BUILD/tests/init/base.cpio, made by
# mkinitramfs.sh: krun-init as /init, busybox) with, in front of it, a cpio
# archive holding each test's /.krun_config (made by krun-config.sh, found
# beside this script). The console is ttyS0, a terminal: no virtio ports.
# Needs a /dev/kvm that boots standard guests; tests/guest-env.sh picks where.
# POSIX sh: it also runs under busybox inside the KVM test host.
build=$1
here=$(cd "$(dirname "$0")" && pwd)
boot="$build/krun-boot"
base="$build/tests/init/base.cpio"
work=$(mktemp -d)
. "$here/../testlib.sh"
TIMEOUT=${GUEST_TEST_TIMEOUT:-300}
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# run NAME INITRD: krun-boot with a time limit; sets $status, $out (CRs
# removed: the console terminal turns \n into \r\n), $err and $ms.
run() {
	name=$1
	start=$(now_ms)
	# shellcheck disable=SC2086 # BOOT_ARGS: words for krun-boot
	timeout "$TIMEOUT" "$boot" ${BOOT_ARGS:-} "$2" >"$work/raw" 2>"$work/err"
	status=$?
	end=$(now_ms)
	tr -d '\r' <"$work/raw" >"$work/out"
	out=$(cat "$work/out")
	err=$(cat "$work/err")
	ms=$((end - start))
	echo "     $name: exit $status in $ms ms"
}

# guest NAME [--no-last-nul] RECORD...: boot with these config records.
guest() {
	name=$1
	shift
	sh "$here/krun-config.sh" --cpio "$work/config.cpio" "$@" || {
		fail "$name: cannot make the config"
		return
	}
	cat "$work/config.cpio" "$base" >"$work/initrd"
	run "$name" "$work/initrd"
}

# shell NAME SCRIPT [RECORD...]: run SCRIPT with /bin/sh -c.
shell() {
	name=$1 script=$2
	shift 2
	guest "$name" exec=/bin/sh arg=-c "arg=$script" "$@"
}

has() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }
is() { [ "$1" = "$2" ]; }
# line TEXT: TEXT is one whole line of the output.
line() { grep -qxF -- "$1" "$work/out"; }
# between A B: the output lines between marker lines A and B.
between() { sed -n "/^$1\$/,/^$2\$/p" "$work/out" | sed '1d;$d'; }

# --- exit status ---
for n in 0 7 255; do
	shell "exit $n" "exit $n"
	check "exit status $n passes through" [ "$status" -eq "$n" ]
done
shell "killed" 'kill -9 $$'
check "workload killed by SIGKILL: 128+9" [ "$status" -eq 137 ]
shell "terminated" 'kill -TERM $$'
check "workload killed by SIGTERM: 128+15" [ "$status" -eq 143 ]

# --- exec failures ---
guest "missing program" exec=/bin/nope
check "missing program: status 127" [ "$status" -eq 127 ]
check "missing program: message on stderr" \
	line "krun-init: /bin/nope: No such file or directory"
guest "missing in PATH" exec=nope-not-here
check "program not found in PATH: 127 and a message" \
	sh -c "[ $status -eq 127 ] && grep -q 'krun-init: nope-not-here: No such file' '$work/out'"
guest "not executable" exec=/bin/not-executable
check "file without x permission: status 126 and a message" \
	sh -c "[ $status -eq 126 ] && grep -q 'not-executable: Permission denied' '$work/out'"
guest "bad ELF" exec=/bin/bad-elf
check "file that is not a valid executable: status 126" [ "$status" -eq 126 ]
check "bad ELF: message" line "krun-init: /bin/bad-elf: Exec format error"
shell "exit 127 itself" "exit 127"
check "a program that exits 127 itself gets no exec-failure message" \
	sh -c "[ $status -eq 127 ] && ! grep -q krun-init '$work/out'"

# --- argv and PATH search ---
guest "argv" exec=/bin/sh arg=-c 'arg=printf "<%s>" "$0" "$@"; echo' \
	arg=zero "arg=a b" arg= "arg=  two  spaces " arg=last
check "argv with spaces and empty strings preserved" \
	line "<zero><a b><><  two  spaces ><last>"
guest "PATH search" exec=echo arg=found-in-path
check "a relative exec is searched in PATH" \
	sh -c "[ $status -eq 0 ] && grep -qx found-in-path '$work/out'"
guest "workload PATH" exec=echo arg=x env=PATH=/nowhere
check "the search uses the workload's PATH" [ "$status" -eq 127 ]

# --- environment ---
guest "env exact" exec=/bin/sh arg=-c 'arg=echo BEGIN; env; echo END' \
	env=PATH=/bin "env=A=one two" env=HOME=/work env=TERM=dumb env=EMPTY=
check "environment exactly as configured (+ PWD/SHLVL from sh)" is \
	"$(between BEGIN END | grep -v -e '^PWD=' -e '^SHLVL=' | sort | tr '\n' ' ')" \
	"A=one two EMPTY= HOME=/work PATH=/bin TERM=dumb "
guest "env defaults" exec=/bin/env
check "defaults without env records: PATH, HOME=/root, TERM (console)" is \
	"$(grep = "$work/out" | sort | tr '\n' ' ')" \
	"HOME=/root PATH=$DEFAULT_PATH TERM=xterm-256color "
guest "env partial" exec=/bin/env env=A=1 env=PATH=/bin
check "defaults only for what env records do not set" is \
	"$(grep = "$work/out" | sort | tr '\n' ' ')" \
	"A=1 HOME=/root PATH=/bin TERM=xterm-256color "
guest "HOME of uid" exec=/bin/env uid=1000 gid=1000
check "default HOME is the uid's home in /etc/passwd" line "HOME=/home/user"

# --- workdir, rlimits, ids, hostname ---
guest "workdir" exec=/bin/pwd workdir=/work
check "workdir" line "/work"
guest "default workdir" exec=/bin/pwd
check "default workdir is /" line "/"
guest "bad workdir" exec=/bin/pwd workdir=/does/not/exist
check "missing workdir: status 125 and a message" \
	sh -c "[ $status -eq 125 ] && grep -q 'working directory /does/not/exist' '$work/out'"
shell "rlimits" 'echo "n=$(ulimit -Sn):$(ulimit -Hn) c=$(ulimit -c)"' \
	rlimit=RLIMIT_NOFILE=1024:4096 rlimit=core=unlimited:unlimited
check "rlimits seen by the workload (ulimit)" line "n=1024:4096 c=unlimited"
shell "rlimit by number" 'echo "n=$(ulimit -Sn):$(ulimit -Hn)"' rlimit=7=100:200
check "rlimit given by number" line "n=100:200"
guest "bad rlimit" exec=/bin/true rlimit=NOFILE=lots
check "malformed rlimit: status 125" [ "$status" -eq 125 ]
shell "ids" 'echo "ids=$(id -u):$(id -g):$(id -G)"' uid=1000 gid=1001
check "uid, gid, no supplementary groups" line "ids=1000:1001:1001"
shell "root" 'echo "ids=$(id -u):$(id -g)"'
check "default uid and gid are 0" line "ids=0:0"
guest "bad uid" exec=/bin/true uid=-1
check "malformed uid: status 125" [ "$status" -eq 125 ]
guest "hostname" exec=/bin/hostname hostname=testvm
check "hostname from the config" line "testvm"
guest "default hostname" exec=/bin/hostname
check "default hostname krun" line "krun"

# --- output, terminal, signals, reaping ---
shell "seq 5000" 'seq 1 5000 | tail -1'
check "piped output: last line arrives" line "5000"
shell "seq 2000" 'echo BEGIN; seq 1 2000; echo END'
check "2000 lines written just before exit all arrive" is \
	"$(between BEGIN END | wc -l | tr -d ' '):$(between BEGIN END | tail -1)" "2000:2000"
shell "orphan" 'trap "" HUP; sleep 100 & echo started'
check "a background orphan does not delay the exit" \
	sh -c "[ $status -eq 0 ] && [ $ms -lt 30000 ]"
shell "zombies" '(sleep 0.1 &); (sleep 0.1 &); sleep 1;
	echo "zombies=$(cat /proc/[0-9]*/stat | grep -c "^[0-9]* ([^)]*) Z")"'
check "orphans are reaped (no zombies)" line "zombies=0"
shell "forward" 'trap "echo got-TERM; exit 3" TERM; kill -TERM 1; sleep 5 & wait'
check "SIGTERM to PID 1 reaches the workload" \
	sh -c "[ $status -eq 3 ] && grep -qx got-TERM '$work/out'"
# /proc/PID/stat fields 5 and 8: process group, terminal's foreground group.
shell "ctty" 'echo "tty=$(tty)"; echo "pg=$(cut -d" " -f5,8 /proc/$$/stat) pid=$$";
	echo via-dev-tty >/dev/tty'
check "stdio is the console terminal" line "tty=/dev/ttyS0"
check "the workload is the terminal's foreground process group" \
	sh -c "grep -q '^pg=\([0-9]*\) \1 pid=\1\$' '$work/out'"
check "the console is its controlling terminal (/dev/tty opens)" line "via-dev-tty"

# --- mounts ---
shell "mounts" 'cat /proc/mounts; ls -l /dev/fd /dev/stdin /dev/stdout /dev/stderr'
for m in "/proc proc" "/sys sysfs" "/dev devtmpfs" "/dev/pts devpts" "/dev/shm tmpfs" \
	"/tmp tmpfs" "/run tmpfs"; do
	check "mounted: $m" grep -q " $m " "$work/out"
done
check "/dev/fd and /dev/std* links" sh -c "grep -c -- '-> /proc/self/fd' '$work/out' | grep -qx 4"
check "devpts is a new instance with ptmxmode=0666" grep -q "devpts.*ptmxmode=666" "$work/out"

# --- /.krun_config.json (init/oci_config.c) ---
# json NAME JSON RECORD...: boot with these records and this file.
json() {
	name=$1
	printf '%s' "$2" >"$work/config.json"
	shift 2
	sh "$here/krun-config.sh" --json "$work/config.json" --cpio "$work/config.cpio" "$@" || {
		fail "$name: cannot make the config"
		return
	}
	cat "$work/config.cpio" "$base" >"$work/initrd"
	run "$name" "$work/initrd"
}
json "oci config alone" '{"ociVersion":"1.0.2","process":{"terminal":false,
 "user":{"uid":1000,"gid":1000},"args":["sh","-c","echo \"x=$X\"; pwd; id -u; id -g; ulimit -n; hostname; echo \"home=$HOME\""],
 "env":["PATH=/bin","X=only in the file"],"cwd":"/work",
 "rlimits":[{"type":"RLIMIT_NOFILE","hard":123,"soft":100}]},"hostname":"ctr",
 "hooks":{"prestart":[{"path":"/bin/false","args":["hook"],"env":["X=hook"]}]}}' default_exec=/bin/false
got=$(tr '\n' ' ' <"$work/out")
check "config.json alone: args, env, cwd, uid/gid, rlimit, hostname" \
	[ "$status.$got" = "0.x=only in the file /work 1000 1000 100 ctr home=/home/user " ]
json "records win" '{"process":{"args":["/bin/false"],"env":["X=file","HOME=/file","Y=file"],"cwd":"/",
 "user":{"uid":1000,"gid":1000}}}' exec=/bin/sh arg=-c 'arg=echo "$X $Y $HOME"; pwd; id -u' \
	env=X=api env=HOME=/api workdir=/work uid=0
got=$(tr '\n' ' ' <"$work/out")
check "krun_set_exec/env/workdir/setuid win; the file adds Y and replaces HOME" \
	[ "$status.$got" = "0.api file /file /work 0 " ]
json "image config" '{"config":{"Entrypoint":["/bin/echo","entry"],"Cmd":["cmd"],"WorkingDir":"","Env":null}}' \
	default_exec=/bin/false
check "an image config: Entrypoint + Cmd" [ "$out" = "entry cmd" ]
json "malformed" '{"process": {"args": ["sh",]}}' default_exec=/bin/false
check "malformed config.json: status 125, where and why" \
	sh -c "[ $status -eq 125 ] && grep -q '/.krun_config.json:1:28: invalid JSON' '$work/out'"
json "wrong type" '{"process": {"user": {"uid": -1}}}' default_exec=/bin/false
check "uid -1 in config.json: status 125 and a message" \
	sh -c "[ $status -eq 125 ] && grep -q 'uid.* must be an id' '$work/out'"
guest "default program" default_exec=/bin/echo
check "no exec record and no file: the default program" [ "$status" -eq 0 ]

# --- network (init/net_setup.c) ---
shell "loopback" 'ip -o link show lo; ping -c 1 -W 2 127.0.0.1 >/dev/null && echo ping-ok'
check "loopback is up and answers" sh -c "grep -q '<LOOPBACK,UP' '$work/out' && grep -qx ping-ok '$work/out'"
shell "net_dhcp without the interface" 'echo ran' net_dhcp=eth0
check "net_dhcp for a missing interface: one line, the workload runs" \
	sh -c "[ $status -eq 0 ] && grep -qx ran '$work/out' &&
		[ \$(grep -c 'net_dhcp: no interface eth0 in the guest' '$work/out') -eq 1 ]"
# TSI on (a kernel with TSI: its tsi_hijack parameter in sysfs): dummy0
# gets 203.0.113.1/24 if the kernel has CONFIG_DUMMY, else one line says it
# has not; the writable root without resolv.conf gets one. A kernel without
# TSI ignores "tsi_hijack", and so does init.
BOOT_ARGS="--append tsi_hijack" shell "tsi_hijack" \
	'[ -e /sys/module/kernel/parameters/tsi_hijack ] && echo "tsi-kernel=$(cat /sys/module/kernel/parameters/tsi_hijack)"
	cat /etc/resolv.conf 2>/dev/null || echo no-resolv-conf
	if [ -e /sys/class/net/dummy0 ]; then ip -o -4 addr show dummy0; ip -o link show dummy0; else echo no-dummy0; fi
	echo "default-routes=$(ip -4 route show default | wc -l)"'
if line "tsi-kernel=Y"; then
	check "tsi_hijack: resolv.conf written with a public resolver" line "nameserver 1.1.1.1"
	if line no-dummy0; then
		check "tsi_hijack, kernel without CONFIG_DUMMY: one line says so" \
			sh -c "[ \$(grep -c 'TSI: no dummy interface dummy0' '$work/out') -eq 1 ]"
	else
		check "tsi_hijack: dummy0 up with 203.0.113.1/24" \
			sh -c "grep -q 'inet 203.0.113.1/24' '$work/out' && grep -q 'dummy0: <.*,UP' '$work/out'"
	fi
	check "tsi_hijack: no default route (TSI sockets must not stay in the guest)" \
		line "default-routes=0"
else
	check "tsi_hijack on a kernel without TSI: no resolv.conf, no dummy network, no message" \
		sh -c "grep -qx no-resolv-conf '$work/out' && ! grep -q 'inet 203.0.113.1' '$work/out' &&
			! grep -q 'TSI:' '$work/out'"
fi

# --- config robustness ---
run "no config" "$base"
check "missing config: status 125 and a message" \
	sh -c "[ $status -eq 125 ] && grep -q 'cannot read the config' '$work/out'"
guest "no exec" arg=x
check "config without exec: status 125" [ "$status" -eq 125 ]
guest "last NUL missing" --no-last-nul exec=/bin/sh arg=-c "arg=exit 9"
check "the last record may lack its NUL" [ "$status" -eq 9 ]
guest "junk records" "" junk unknown=1 "=x" exec=/bin/sh arg=-c "arg=exit 4"
check "empty, key-less and unknown records are skipped" [ "$status" -eq 4 ]
guest "long value" exec=/bin/sh arg=-c 'arg=echo ${#1}' arg=zero \
	"arg=$(head -c 100000 /dev/zero | tr '\0' x)"
check "a 100 kB argument passes intact" line "100000"

rm -rf "$work"
echo "init: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
