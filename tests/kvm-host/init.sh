#!/bin/sh
# PID 1 of the KVM test host: run.sh copies this file to /init of the
# initramfs.  It runs under busybox sh with the serial console as stdio.
#
# It talks to run.sh through marker lines on the console, all prefixed by a
# per-run random token so that no command output can be mistaken for them:
#   <marker>-READY <uptime> <kernel release>   setup done, command starts now
#   <marker>-EXIT <status>                     command finished
#   <marker>-FAIL <message>                    setup failed, no command run
# Everything printed before READY is boot noise that run.sh hides.

# Written by run.sh: KVMHOST_MARKER, KVMHOST_INSMOD (module paths, in load
# order), KVMHOST_MODPROBE (extra module names).
# shellcheck disable=SC1091 # exists only inside the initramfs
. /kvmhost/config

# Waits until the console has transmitted everything queued so far: busybox
# stty applies settings with TCSADRAIN, so re-applying one is a tcdrain(1).
# Without this, output still in the UART buffer is lost at reboot.
drain_console() {
	stty -F /dev/console -onlcr 2>/dev/null || :
}

# QEMU runs with -no-reboot, so a reboot makes it exit.
finish() {
	drain_console
	reboot -f
	sleep 60 # reboot -f returns before the machine is gone
}

# The message must stay on the marker's line.
fail() {
	printf '%s-FAIL %s\n' "$KVMHOST_MARKER" "$(printf '%s' "$*" | tr '\n' ' ')"
	finish
}

# Mounts a tmpfs (mode $2) on $1, moving into it what run.sh --copy put
# there, which would otherwise be hidden (and still take memory).
mount_tmpfs() {
	mkdir -p /mnt/.tmpfs
	mount -t tmpfs -o mode="$2" tmpfs /mnt/.tmpfs
	cp -a "$1/." /mnt/.tmpfs/
	chmod "$2" /mnt/.tmpfs # cp -a copied the mode of $1 itself
	find "$1" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
	mount --move /mnt/.tmpfs "$1"
}

mount_filesystems() {
	# busybox --install finds itself through /proc/self/exe.
	/bin/busybox mount -t proc proc /proc
	/bin/busybox --install -s
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mkdir -p /dev/pts /dev/shm
	mount -t devpts devpts /dev/pts
	mount -t tmpfs tmpfs /dev/shm
	mount_tmpfs /tmp 1777
	mount_tmpfs /run 755
	# devtmpfs has none of these; bash process substitution needs /dev/fd.
	ln -sf /proc/self/fd /dev/fd
	ln -sf /proc/self/fd/0 /dev/stdin
	ln -sf /proc/self/fd/1 /dev/stdout
	ln -sf /proc/self/fd/2 /dev/stderr
}

load_modules() {
	for m in $KVMHOST_INSMOD; do
		insmod "$m" || fail "insmod $m failed: $(dmesg | tail -n 3)"
	done
	[ -c /dev/kvm ] ||
		fail "/dev/kvm missing after loading kvm-amd (SVM not exposed to the test host?): $(dmesg | grep -i -E 'kvm|svm' | tail -n 3)"
	for m in $KVMHOST_MODPROBE; do
		modprobe "$m" || fail "modprobe $m failed: $(dmesg | tail -n 3)"
	done
}

mount_filesystems
# Only emergencies reach the console from now on, so kernel messages cannot
# interleave with the command's output.
dmesg -n 1
drain_console # also switches off CR insertion: fewer bytes over the UART
load_modules
hostname kvm-host
ip link set lo up 2>/dev/null || :

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root

read -r uptime _ </proc/uptime
printf '%s-READY %s %s\n' "$KVMHOST_MARKER" "$uptime" "$(uname -r)"
# The console never delivers input (run.sh connects the serial port to an
# output file), so a command reading stdin would hang; give it an empty one.
sh /kvmhost/command </dev/null
status=$?
drain_console
printf '%s-EXIT %d\n' "$KVMHOST_MARKER" "$status"
finish
