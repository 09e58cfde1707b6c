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
tmp=$(mktemp -d)
passed=0
failed=0
TIMEOUT=${GUEST_TEST_TIMEOUT:-300}
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

ok() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; }

# Milliseconds since boot, from /proc/uptime ("123.45"): busybox date has no %N.
now_ms() {
	read -r up _ </proc/uptime
	echo $((${up%.*}${up#*.} * 10))
}

# run NAME INITRD: krun-boot with a time limit; sets $status, $out (CRs
# removed: the console terminal turns \n into \r\n), $err and $ms.
run() {
	name=$1
	start=$(now_ms)
	timeout "$TIMEOUT" "$boot" "$2" >"$tmp/raw" 2>"$tmp/err"
	status=$?
	end=$(now_ms)
	tr -d '\r' <"$tmp/raw" >"$tmp/out"
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
	ms=$((end - start))
	echo "     $name: exit $status in $ms ms"
}

# guest NAME [--no-last-nul] RECORD...: boot with these config records.
guest() {
	name=$1
	shift
	sh "$here/krun-config.sh" --cpio "$tmp/config.cpio" "$@" || {
		fail "$name: cannot make the config"
		return
	}
	cat "$tmp/config.cpio" "$base" >"$tmp/initrd"
	run "$name" "$tmp/initrd"
}

# shell NAME SCRIPT [RECORD...]: run SCRIPT with /bin/sh -c.
shell() {
	name=$1 script=$2
	shift 2
	guest "$name" exec=/bin/sh arg=-c "arg=$script" "$@"
}

expect() { # expect DESCRIPTION CONDITION...
	desc=$1
	shift
	if "$@"; then ok "$desc"; else
		fail "$desc"
		echo "     status: $status"
		echo "     stdout: $(head -c 2000 "$tmp/out")"
		echo "     stderr: $(head -c 2000 "$tmp/err")"
	fi
}

has() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }
is() { [ "$1" = "$2" ]; }
# line TEXT: TEXT is one whole line of the output.
line() { grep -qxF -- "$1" "$tmp/out"; }
# between A B: the output lines between marker lines A and B.
between() { sed -n "/^$1\$/,/^$2\$/p" "$tmp/out" | sed '1d;$d'; }

# --- exit status ---
for n in 0 7 255; do
	shell "exit $n" "exit $n"
	expect "exit status $n passes through" [ "$status" -eq "$n" ]
done
shell "killed" 'kill -9 $$'
expect "workload killed by SIGKILL: 128+9" [ "$status" -eq 137 ]
shell "terminated" 'kill -TERM $$'
expect "workload killed by SIGTERM: 128+15" [ "$status" -eq 143 ]

# --- exec failures ---
guest "missing program" exec=/bin/nope
expect "missing program: status 127" [ "$status" -eq 127 ]
expect "missing program: message on stderr" \
	line "krun-init: /bin/nope: No such file or directory"
guest "missing in PATH" exec=nope-not-here
expect "program not found in PATH: 127 and a message" \
	sh -c "[ $status -eq 127 ] && grep -q 'krun-init: nope-not-here: No such file' '$tmp/out'"
guest "not executable" exec=/bin/not-executable
expect "file without x permission: status 126 and a message" \
	sh -c "[ $status -eq 126 ] && grep -q 'not-executable: Permission denied' '$tmp/out'"
guest "bad ELF" exec=/bin/bad-elf
expect "file that is not a valid executable: status 126" [ "$status" -eq 126 ]
expect "bad ELF: message" line "krun-init: /bin/bad-elf: Exec format error"
shell "exit 127 itself" "exit 127"
expect "a program that exits 127 itself gets no exec-failure message" \
	sh -c "[ $status -eq 127 ] && ! grep -q krun-init '$tmp/out'"

# --- argv and PATH search ---
guest "argv" exec=/bin/sh arg=-c 'arg=printf "<%s>" "$0" "$@"; echo' \
	arg=zero "arg=a b" arg= "arg=  two  spaces " arg=last
expect "argv with spaces and empty strings preserved" \
	line "<zero><a b><><  two  spaces ><last>"
guest "PATH search" exec=echo arg=found-in-path
expect "a relative exec is searched in PATH" \
	sh -c "[ $status -eq 0 ] && grep -qx found-in-path '$tmp/out'"
guest "workload PATH" exec=echo arg=x env=PATH=/nowhere
expect "the search uses the workload's PATH" [ "$status" -eq 127 ]

# --- environment ---
guest "env exact" exec=/bin/sh arg=-c 'arg=echo BEGIN; env; echo END' \
	env=PATH=/bin "env=A=one two" env=HOME=/work env=TERM=dumb env=EMPTY=
expect "environment exactly as configured (+ PWD/SHLVL from sh)" is \
	"$(between BEGIN END | grep -v -e '^PWD=' -e '^SHLVL=' | sort | tr '\n' ' ')" \
	"A=one two EMPTY= HOME=/work PATH=/bin TERM=dumb "
guest "env defaults" exec=/bin/env
expect "defaults without env records: PATH, HOME=/root, TERM (console)" is \
	"$(grep = "$tmp/out" | sort | tr '\n' ' ')" \
	"HOME=/root PATH=$DEFAULT_PATH TERM=xterm-256color "
guest "env partial" exec=/bin/env env=A=1 env=PATH=/bin
expect "defaults only for what env records do not set" is \
	"$(grep = "$tmp/out" | sort | tr '\n' ' ')" \
	"A=1 HOME=/root PATH=/bin TERM=xterm-256color "
guest "HOME of uid" exec=/bin/env uid=1000 gid=1000
expect "default HOME is the uid's home in /etc/passwd" line "HOME=/home/user"

# --- workdir, rlimits, ids, hostname ---
guest "workdir" exec=/bin/pwd workdir=/work
expect "workdir" line "/work"
guest "default workdir" exec=/bin/pwd
expect "default workdir is /" line "/"
guest "bad workdir" exec=/bin/pwd workdir=/does/not/exist
expect "missing workdir: status 125 and a message" \
	sh -c "[ $status -eq 125 ] && grep -q 'working directory /does/not/exist' '$tmp/out'"
shell "rlimits" 'echo "n=$(ulimit -Sn):$(ulimit -Hn) c=$(ulimit -c)"' \
	rlimit=RLIMIT_NOFILE=1024:4096 rlimit=core=unlimited:unlimited
expect "rlimits seen by the workload (ulimit)" line "n=1024:4096 c=unlimited"
shell "rlimit by number" 'echo "n=$(ulimit -Sn):$(ulimit -Hn)"' rlimit=7=100:200
expect "rlimit given by number" line "n=100:200"
guest "bad rlimit" exec=/bin/true rlimit=NOFILE=lots
expect "malformed rlimit: status 125" [ "$status" -eq 125 ]
shell "ids" 'echo "ids=$(id -u):$(id -g):$(id -G)"' uid=1000 gid=1001
expect "uid, gid, no supplementary groups" line "ids=1000:1001:1001"
shell "root" 'echo "ids=$(id -u):$(id -g)"'
expect "default uid and gid are 0" line "ids=0:0"
guest "bad uid" exec=/bin/true uid=-1
expect "malformed uid: status 125" [ "$status" -eq 125 ]
guest "hostname" exec=/bin/hostname hostname=testvm
expect "hostname from the config" line "testvm"
guest "default hostname" exec=/bin/hostname
expect "default hostname krun" line "krun"

# --- output, terminal, signals, reaping ---
shell "seq 5000" 'seq 1 5000 | tail -1'
expect "piped output: last line arrives" line "5000"
shell "seq 2000" 'echo BEGIN; seq 1 2000; echo END'
expect "2000 lines written just before exit all arrive" is \
	"$(between BEGIN END | wc -l | tr -d ' '):$(between BEGIN END | tail -1)" "2000:2000"
shell "orphan" 'trap "" HUP; sleep 100 & echo started'
expect "a background orphan does not delay the exit" \
	sh -c "[ $status -eq 0 ] && [ $ms -lt 30000 ]"
shell "zombies" '(sleep 0.1 &); (sleep 0.1 &); sleep 1;
	echo "zombies=$(cat /proc/[0-9]*/stat | grep -c "^[0-9]* ([^)]*) Z")"'
expect "orphans are reaped (no zombies)" line "zombies=0"
shell "forward" 'trap "echo got-TERM; exit 3" TERM; kill -TERM 1; sleep 5 & wait'
expect "SIGTERM to PID 1 reaches the workload" \
	sh -c "[ $status -eq 3 ] && grep -qx got-TERM '$tmp/out'"
# /proc/PID/stat fields 5 and 8: process group, terminal's foreground group.
shell "ctty" 'echo "tty=$(tty)"; echo "pg=$(cut -d" " -f5,8 /proc/$$/stat) pid=$$";
	echo via-dev-tty >/dev/tty'
expect "stdio is the console terminal" line "tty=/dev/ttyS0"
expect "the workload is the terminal's foreground process group" \
	sh -c "grep -q '^pg=\([0-9]*\) \1 pid=\1\$' '$tmp/out'"
expect "the console is its controlling terminal (/dev/tty opens)" line "via-dev-tty"

# --- mounts ---
shell "mounts" 'cat /proc/mounts; ls -l /dev/fd /dev/stdin /dev/stdout /dev/stderr'
for m in "/proc proc" "/sys sysfs" "/dev devtmpfs" "/dev/pts devpts" "/dev/shm tmpfs" \
	"/tmp tmpfs" "/run tmpfs"; do
	expect "mounted: $m" grep -q " $m " "$tmp/out"
done
expect "/dev/fd and /dev/std* links" sh -c "grep -c -- '-> /proc/self/fd' '$tmp/out' | grep -qx 4"
expect "devpts is a new instance with ptmxmode=0666" grep -q "devpts.*ptmxmode=666" "$tmp/out"

# --- config robustness ---
run "no config" "$base"
expect "missing config: status 125 and a message" \
	sh -c "[ $status -eq 125 ] && grep -q 'cannot read the config' '$tmp/out'"
guest "no exec" arg=x
expect "config without exec: status 125" [ "$status" -eq 125 ]
guest "last NUL missing" --no-last-nul exec=/bin/sh arg=-c "arg=exit 9"
expect "the last record may lack its NUL" [ "$status" -eq 9 ]
guest "junk records" "" junk unknown=1 "=x" exec=/bin/sh arg=-c "arg=exit 4"
expect "empty, key-less and unknown records are skipped" [ "$status" -eq 4 ]
guest "long value" exec=/bin/sh arg=-c 'arg=echo ${#1}' arg=zero \
	"arg=$(head -c 100000 /dev/zero | tr '\0' x)"
expect "a 100 kB argument passes intact" line "100000"

rm -rf "$tmp"
echo "init: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
