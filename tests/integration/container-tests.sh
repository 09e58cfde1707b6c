#!/bin/sh
# container-tests.sh BUILD: containers in microVMs, the way users run them:
#  - Debian's crun 1.8.1, built from its source package with --with-libkrun
#    against our header (BUILD/crun/, scripts/build-crun.sh) and started as
#    `krun`, runs OCI bundles whose rootfs is busybox (no libkrunfw in it);
#  - krun-oci-client, which calls the library as newer crun does
#    (krun_add_virtiofs2 on /dev/root, the workload only in
#    /.krun_config.json);
#  - podman 4.3 from Debian with `--runtime BUILD/crun/krun`.
# Neither crun nor podman is modified or wrapped: the library is found via
# LD_LIBRARY_PATH (podman: conmon_env_vars in containers.conf), as for an
# install in a non-standard prefix. Needs root, cgroup2 (mounted here if
# absent) and a /dev/kvm that boots standard guests (tests/guest-env.sh).
# POSIX sh: it also runs under busybox inside the KVM test host.
build=$(cd "$1" && pwd -P)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/testlib.sh"
krun="$build/crun/krun"
client="$build/tests/krun-oci-client"
work=$(mktemp -d)
TIMEOUT=${GUEST_TEST_TIMEOUT:-300}
export LD_LIBRARY_PATH="$build"
state="$work/crun-state"

cleanup() {
	for id in $("$krun" --root "$state" list -q 2>/dev/null); do
		"$krun" --root "$state" delete -f "$id" >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT

if ! grep -q '^cgroup2 /sys/fs/cgroup ' /proc/mounts; then
	mount -t cgroup2 cgroup2 /sys/fs/cgroup || echo "container-tests: cannot mount cgroup2"
fi
mkdir -p /var/tmp /run

# A busybox root (BUILD/rootfs) with a user 1000 and a directory of its own.
rootfs() {
	mkdir -p "$1"
	cp -a "$build/rootfs/." "$1/"
	echo "user:x:1000:1000:user:/home/user:/bin/sh" >>"$1/etc/passwd"
	mkdir -p "$1/home/user" "$1/work"
}

# bundle DIR ARGS ENV CWD UID GID [CAP]: an OCI bundle; ARGS and ENV are
# JSON arrays, CAP one more capability (also ambient: it survives crun's
# switch to UID). Namespaces and mounts as `crun spec` makes them, a
# read-write root, no terminal.
bundle() {
	caps='"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"'
	ambient=
	[ -z "${7:-}" ] || { caps="$caps, \"$7\""; ambient="\"$7\""; }
	rootfs "$1/rootfs"
	cat >"$1/config.json" <<EOF
{
  "ociVersion": "1.0.0",
  "process": {
    "terminal": false,
    "user": {"uid": $5, "gid": $6},
    "args": $2,
    "env": $3,
    "cwd": "$4",
    "capabilities": {
      "bounding": [$caps], "effective": [$caps], "permitted": [$caps],
      "inheritable": [$ambient], "ambient": [$ambient]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": false},
  "hostname": "ctr",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                   {"type": "uts"}, {"type": "mount"}]
  }
}
EOF
}

# crun_run NAME ID BUNDLE: `krun run` in the foreground, stdin from
# $work/in; sets $status, $out, $err.
crun_run() {
	name=$1
	[ -e "$work/in" ] || : >"$work/in"
	start=$(now_ms)
	timeout "$TIMEOUT" "$krun" --root "$state" run --no-pivot --bundle "$3" "$2" \
		<"$work/in" >"$work/out" 2>"$work/err"
	status=$?
	out=$(cat "$work/out")
	echo "     $name: exit $status in $(($(now_ms) - start)) ms"
}

# line TEXT: TEXT is one whole line of the output.
line() { grep -qxF -- "$1" "$work/out"; }

# VMMs still alive: crun names the handler's process "krun".
vmms() {
	grep -lx krun /proc/[0-9]*/comm 2>/dev/null | wc -l
}

[ -x "$krun" ] || { fail "no $krun (make tests builds it)"; echo "containers: $passed passed, $failed failed"; exit 1; }
"$krun" --version | grep -q '+LIBKRUN' || fail "crun was built without libkrun support"
echo "     $("$krun" --version | head -n 1), libkrun from $build"

# --- crun 1.8.1 ---------------------------------------------------------
b="$work/b1"
bundle "$b" '["sh", "-c", "echo \"X=$X\"; pwd; echo \"argc=$#\" \"$0\" \"$1\"; hostname; exit 42", "zero", "one two"]' \
	'["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "X=only in config.json"]' /work 0 0
crun_run "crun: args, env, cwd, status" c1 "$b"
check "the container's root has no libkrunfw" sh -c "! find '$b/rootfs' -name 'libkrunfw*' | grep -q ."
check "crun: exit status of the workload (42)" [ "$status" -eq 42 ]
check "crun: a variable only in config.json reaches the workload" line "X=only in config.json"
check "crun: process.cwd" line "/work"
check "crun: process.args with spaces" line "argc=1 zero one two"
check "crun: hostname" line "ctr"
"$krun" --root "$state" delete c1 >/dev/null 2>&1

# crun runs the VMM as process.user: it reads the root-owned (0700)
# /.krun_config.json crun wrote only with CAP_DAC_OVERRIDE.
b="$work/b2"
bundle "$b" '["sh", "-c", "id -u; id -g; echo HOME=$HOME; ulimit -n"]' '["PATH=/bin"]' / 1000 1000 \
	CAP_DAC_OVERRIDE
crun_run "crun: uid/gid" c2 "$b"
check "crun: process.user uid/gid and rlimits in the guest" \
	sh -c "[ $status -eq 0 ] && [ \"\$(tr '\n' ' ' <'$work/out')\" = '1000 1000 HOME=/home/user 4096 ' ]"
"$krun" --root "$state" delete c2 >/dev/null 2>&1
b="$work/b2b"
bundle "$b" '["id", "-u"]' '["PATH=/bin"]' / 1000 1000
crun_run "crun: uid without DAC_OVERRIDE" c2b "$b"
check "crun: a VMM that cannot read /.krun_config.json: status 125 and why" \
	sh -c "[ $status -eq 125 ] && grep -q 'cannot read /.krun_config.json: Permission denied' '$work/err'"
"$krun" --root "$state" delete c2b >/dev/null 2>&1

b="$work/b3"
bundle "$b" '["cat"]' '["PATH=/bin"]' / 0 0
head -c 262144 /dev/urandom >"$work/in"
printf 'tail\r\n\000\377' >>"$work/in"
crun_run "crun: stdin to stdout" c3 "$b"
check "crun: stdin reaches the workload and stdout comes back byte-exact (256 KiB)" \
	sh -c "[ $status -eq 0 ] && cmp -s '$work/in' '$work/out'"
rm -f "$work/in"
"$krun" --root "$state" delete c3 >/dev/null 2>&1

# crun kill: SIGTERM to the VMM reaches the workload, whose status is the container's.
b="$work/b4"
bundle "$b" '["sh", "-c", "trap \"echo got TERM; exit 3\" TERM; echo ready; while :; do sleep 1; done"]' \
	'["PATH=/bin"]' / 0 0
: >"$work/out"
"$krun" --root "$state" run --no-pivot --bundle "$b" c4 </dev/null >"$work/out" 2>"$work/err" &
pid=$!
if wait_for_line "$work/out" ready "$TIMEOUT"; then
	"$krun" --root "$state" kill c4 TERM
	wait $pid
	status=$?
else
	kill -9 $pid
	status=timeout
fi
out=$(cat "$work/out")
echo "     crun kill: exit $status"
check "crun kill (SIGTERM) reaches the workload's trap; its exit status is the container's" \
	sh -c "[ '$status' = 3 ] && grep -qx 'got TERM' '$work/out'"
"$krun" --root "$state" delete c4 >/dev/null 2>&1

# Other signals pass as they are: crun kill USR1.
b="$work/b6"
bundle "$b" '["sh", "-c", "trap \"echo got USR1; exit 4\" USR1; echo ready; while :; do sleep 1; done"]' \
	'["PATH=/bin"]' / 0 0
: >"$work/out"
"$krun" --root "$state" run --no-pivot --bundle "$b" c6 </dev/null >"$work/out" 2>"$work/err" &
pid=$!
if wait_for_line "$work/out" ready "$TIMEOUT"; then
	"$krun" --root "$state" kill c6 USR1
	wait $pid
	status=$?
else
	kill -9 $pid
	status=timeout
fi
echo "     crun kill USR1: exit $status"
check "crun kill USR1 reaches the workload as SIGUSR1" \
	sh -c "[ '$status' = 4 ] && grep -qx 'got USR1' '$work/out'"
"$krun" --root "$state" delete c6 >/dev/null 2>&1

b="$work/b5"
bundle "$b" '["sh", "-c", "echo ready; exec sleep 1000"]' '["PATH=/bin"]' / 0 0
"$krun" --root "$state" run --no-pivot --bundle "$b" c5 </dev/null >"$work/out" 2>"$work/err" &
pid=$!
if wait_for_line "$work/out" ready "$TIMEOUT"; then
	"$krun" --root "$state" delete -f c5
	wait $pid
	status=$?
else
	kill -9 $pid
	status=timeout
fi
sleep 1
echo "     crun delete -f: exit $status, VMMs left: $(vmms)"
check "crun delete -f: the container ends and no VMM is left" \
	sh -c "[ '$status' != timeout ] && [ $(vmms) -eq 0 ] && ! '$krun' --root '$state' state c5 >/dev/null 2>&1"

# --- a client like newer crun: krun_add_virtiofs2 on /dev/root, only the file ---
r="$work/newroot"
rootfs "$r"
# What a runtime puts in the container: /dev/kvm (crun's handler) and /proc.
mknod "$r/dev/kvm" c 10 232
mount -t proc proc "$r/proc"
cat >"$r/.krun_config.json" <<'EOF'
{"ociVersion": "1.0.0", "process": {"args": ["sh", "-c", "echo \"Y=$Y\"; pwd; id -u; exit 7"],
 "env": ["PATH=/bin", "Y=from the file"], "cwd": "/work", "user": {"uid": 1000, "gid": 1000}},
 "hostname": "newer"}
EOF
start=$(now_ms)
timeout "$TIMEOUT" "$client" "$r" </dev/null >"$work/out" 2>"$work/err"
status=$?
out=$(cat "$work/out")
echo "     krun-oci-client: exit $status in $(($(now_ms) - start)) ms"
check "newer-crun client: args, env, cwd, uid and status from /.krun_config.json only" \
	sh -c "[ $status -eq 7 ] && [ \"\$(tr '\n' ' ' <'$work/out')\" = 'Y=from the file /work 1000 ' ]"
printf '{"process": {"args": ["sh", }' >"$r/.krun_config.json"
timeout "$TIMEOUT" "$client" "$r" </dev/null >"$work/out" 2>&1
status=$?
check "a malformed /.krun_config.json: status 125 and where" \
	sh -c "[ $status -eq 125 ] && grep -q 'krun_config.json:1:29: invalid JSON' '$work/out'"
umount "$r/proc"

# --- podman 4.3 ------------------------------------------------------------
if command -v podman >/dev/null && command -v conmon >/dev/null; then
	mkdir -p "$work/podman"
	cat >"$work/podman/containers.conf" <<EOF
[containers]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
no_pivot_root = true
runtime = "krun"
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LD_LIBRARY_PATH=$build"]
[engine.runtimes]
krun = ["$krun"]
[network]
network_backend = "cni"
EOF
	cat >"$work/podman/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$work/podman/run"
graphroot = "$work/podman/graph"
EOF
	export CONTAINERS_CONF="$work/podman/containers.conf"
	export CONTAINERS_STORAGE_CONF="$work/podman/storage.conf"
	export TMPDIR="$work/podman"
	rootfs "$work/podman/rootfs"
	(cd "$work/podman/rootfs" && tar -cf "$work/podman/rootfs.tar" .)
	podman import -q "$work/podman/rootfs.tar" localhost/krun-busybox >"$work/podman/import.log" 2>&1
	status=$?
	check "podman import of the busybox rootfs" [ $status -eq 0 ] || cat "$work/podman/import.log"
	start=$(now_ms)
	timeout "$TIMEOUT" podman --runtime "$krun" run --rm --network none -e Z=from-podman \
		localhost/krun-busybox sh -c 'echo "hello from podman Z=$Z"; exit 5' \
		</dev/null >"$work/out" 2>"$work/err"
	status=$?
	out=$(cat "$work/out")
	echo "     podman run: exit $status in $(($(now_ms) - start)) ms"
	check "podman run --runtime krun: output and exit status of the container" \
		sh -c "[ $status -eq 5 ] && grep -qx 'hello from podman Z=from-podman' '$work/out'"
	podman --runtime "$krun" ps -a >"$work/ps" 2>&1
	check "podman run --rm: no container left" sh -c "! grep -q krun-busybox '$work/ps'"
	# podman stop: SIGTERM through conmon and crun to the VMM, then the workload.
	id=$(podman --runtime "$krun" run -d --network none localhost/krun-busybox \
		sh -c 'trap "exit 9" TERM; echo up; while :; do sleep 1; done' 2>"$work/err")
	n=0
	until podman logs "$id" 2>/dev/null | grep -q up || [ $n -gt $((TIMEOUT * 2)) ]; do
		n=$((n + 1))
		sleep 0.5
	done
	podman stop -t 60 "$id" >/dev/null 2>>"$work/err"
	status=$(podman inspect -f '{{.State.ExitCode}}' "$id" 2>>"$work/err")
	echo "     podman stop: exit code $status"
	check "podman stop reaches the workload's SIGTERM trap; its status is the container's" \
		[ "$status" = 9 ]
	podman rm -f "$id" >/dev/null 2>&1
else
	fail "podman and conmon are needed (scripts/deps.sh installs them)"
fi

echo "containers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
