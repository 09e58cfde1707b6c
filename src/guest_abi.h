/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract between the VMM and the guest's init (init/init.c): how init
 * finds its instructions and how it reports the workload's exit status.
 * Included by both sides; plain C, no host-only types.
 *
 * Instructions: a file that exists only in the VMM's memory, served by the
 * root virtio-fs device at KRUN_CONFIG_PATH (read-only, root only). It is a
 * sequence of records "key=value", each ended by a NUL byte; values are raw
 * bytes up to the NUL. Repeated keys ("arg", "env", "rlimit") keep their
 * order. Unknown keys are ignored, so either side can grow.
 *
 *   exec=PATH          program to run (inside the guest's root)
 *   default_exec=PATH  program to run when neither exec nor the OCI config
 *                      below names one
 *   arg=VALUE          argv[1], argv[2]... (argv[0] is the exec path)
 *   env=NAME=VALUE     the workload's environment, exactly
 *   workdir=PATH       working directory (default /)
 *   rlimit=RES=CUR:MAX RLIMIT_* name or number; CUR/MAX numbers or "unlimited"
 *   uid=N, gid=N       the workload's ids (default 0)
 *   hostname=NAME
 *   mount=TAG:PATH     mount virtio-fs TAG at PATH before running
 *   root_disk=DEV      mount block device DEV (/dev/vda, /dev/disk/by-id/...)
 *                      and run the workload with it as the root
 *   root_fstype=TYPE   its filesystem type (default: each the kernel knows)
 *   root_options=OPTS  its mount options
 *   net_dhcp=ethN      interface ethN (virtio-net, krun_add_net_* order) was
 *                      added with NET_FLAG_DHCP_CLIENT: init configures it
 *                      by DHCP (init brings up lo and every ethN in any case)
 *   port=NAME          a named virtio-console port (KRUN_PORT_*) exists for
 *                      the workload's stdio or for shutdown requests: the
 *                      guest names ports asynchronously, so init waits for
 *                      each one to appear in /sys/class/virtio-ports
 *
 * Networking: init always brings up lo and every virtio-net interface. For
 * each net_dhcp record (an interface added with NET_FLAG_DHCP_CLIENT) it runs
 * its own DHCP client (init/dhcp.c) for a few seconds at most: address,
 * netmask, router as the default route, MTU, and the DNS servers into
 * /etc/resolv.conf when the root is writable; the hostname is left alone;
 * the first interface configured keeps the default route. The lease is
 * noted in the kernel log (dmesg); a failure is one line on the workload's
 * stderr, and the workload runs anyway (each interface costs 5 s at most). An interface without a record is left unconfigured, for the
 * workload. When the kernel hijacks sockets for TSI (its tsi_hijack
 * parameter, /sys/module/kernel/parameters/tsi_hijack, is Y: "tsi_hijack"
 * on the command line of a kernel with TSI), init gives the dummy interface
 * dummy0 the address 203.0.113.1/24 (no route, so that TSI sockets do not
 * stay in the guest) and, where the root is writable and has no
 * /etc/resolv.conf, writes one naming a public resolver (1.1.1.1).
 *
 * Then init reads KRUN_OCI_CONFIG_PATH if the root has it: the container's
 * config (an OCI config.json as crun writes it, or an image config), for what
 * the records leave open: argv, environment (added to the records', HOME and
 * TERM replaced), working directory, uid/gid, rlimits, hostname. See
 * init/oci_config.c.
 *
 * Shutdown requests: a byte below KRUN_SIGNAL_BYTE_BASE arriving on the
 * KRUN_PORT_SHUTDOWN port asks init to end the workload: SIGTERM to every
 * process, SIGKILL after KRUN_SHUTDOWN_GRACE_S seconds, then the usual
 * exit-status report. The VMM stops the VM itself if that report has not come
 * KRUN_SHUTDOWN_TIMEOUT_S seconds after the request. A byte
 * KRUN_SIGNAL_BYTE_BASE + N passes signal N to the workload's process group
 * (a signal the VMM process received).
 *
 * Exit status, once the workload's output has reached the host; the VM
 * stops on the report, with the low 8 bits as the process's exit status:
 *  - on a virtio-fs root, ioctl(KRUN_EXIT_STATUS_IOCTL, status) on a
 *    directory fd of "/" (open("/", O_RDONLY)), by uid 0: the root share's
 *    FUSE server takes it (FUSE_IOCTL on its root node) and refuses it from
 *    another uid (EPERM), on another node (ENOTTY) or with a size (EINVAL).
 *    Upstream libkrun's request number; it needs no kernel option, so it
 *    works on kernels without CONFIG_X86_IOPL_IOPERM (upstream libkrunfw's).
 *  - otherwise (a root disk, or an old VMM that answers the ioctl with
 *    ENOTTY), as a 32-bit write to I/O port KRUN_EXIT_STATUS_PORT, after
 *    ioperm(), which needs CONFIG_X86_IOPL_IOPERM.
 */
#ifndef KRUN_GUEST_ABI_H
#define KRUN_GUEST_ABI_H

#define KRUN_EXIT_STATUS_PORT 0x501
#define KRUN_CONFIG_PATH      "/.krun_config"
#define KRUN_OCI_CONFIG_PATH  "/.krun_config.json" /* in the guest's root, if any */
#define KRUN_INIT_PATH	      "/init.krun"

/* Names of the virtio-console ports that carry non-terminal stdio. */
#define KRUN_PORT_STDIN	   "krun-stdin"
#define KRUN_PORT_STDOUT   "krun-stdout"
#define KRUN_PORT_STDERR   "krun-stderr"
#define KRUN_PORT_SHUTDOWN "krun-shutdown"

/* A byte KRUN_SIGNAL_BYTE_BASE + N on the shutdown port: pass signal N on. */
#define KRUN_SIGNAL_BYTE_BASE 0x80

#define KRUN_SHUTDOWN_GRACE_S	5
#define KRUN_SHUTDOWN_TIMEOUT_S 10

/* _IO('v', 2): no data, the status is the ioctl's argument. */
#define KRUN_EXIT_STATUS_IOCTL 0x7602

/* Exit statuses init uses for its own failures (those of a shell). */
#define KRUN_STATUS_SETUP_FAILED 125 /* could not set up the environment */
#define KRUN_STATUS_NOT_EXEC	 126 /* found, but could not be executed */
#define KRUN_STATUS_NOT_FOUND	 127 /* no such program */

#endif
