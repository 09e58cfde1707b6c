#!/bin/sh
# demo.sh BUILD [COMMAND...]: run COMMAND (default: a greeting) with krun-chroot
# on the busybox root filesystem that `make rootfs` builds.
build=$1
shift
if [ $# -eq 0 ]; then
	set -- /bin/sh -c 'echo "hello from $(uname -sr) in a microVM with $(nproc) vCPUs"; ls /; exit 7'
fi
exec "$build/krun-chroot" --cpus 2 "$build/rootfs" "$@"
