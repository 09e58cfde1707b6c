/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libkrun.h - run a process inside a KVM microVM, with the VMM in-process.
 *
 * A drop-in replacement for the libkrun 1.x C API: same function names,
 * signatures and constant values, so programs written for libkrun build and
 * run against this implementation unchanged.
 *
 * How to use it: create a configuration context, describe the VM with the
 * krun_set_* / krun_add_* calls, then call krun_start_enter(), which turns
 * the calling process into the VMM and never returns on success: when the
 * guest workload ends, the process exits with the workload's exit status.
 *
 * Every VM also has, without being asked, as with upstream libkrun: a
 * virtio-rng (the guest's /dev/hwrng, filled from the host's getrandom())
 * and a virtio-balloon with free page reporting, which hands the memory the
 * guest frees back to the host within seconds (plus inflate/deflate with
 * DEFLATE_ON_OOM, and memory statistics in the log at debug level). Guest
 * memory is never offered to KSM and is left out of the process's core
 * dumps.
 *
 * Conventions:
 *  - Every int32_t-returning call returns 0 (or a documented non-negative
 *    value) on success and a negative errno value on failure. Nothing here
 *    aborts the process on bad input.
 *  - Strings are NUL-terminated and copied; the caller may free them after the
 *    call returns (krun_fs_add_overlay_file() is the one exception, see there).
 *  - Arrays of strings (argv, envp, rlimits...) end with a NULL pointer.
 *  - A feature that this build or this host cannot provide is refused with
 *    -ENOTSUP, either at once or from krun_start_enter(), together with a log
 *    line naming what is missing. Devices that come in a later version
 *    (GPU and displays, input, vhost-user) are checked
 *    and recorded by their calls; krun_start_enter() then refuses the VM by
 *    naming them, rather than start it without them.
 */
#ifndef _LIBKRUN_H
#define _LIBKRUN_H

#ifdef __cplusplus
extern "C" {
#endif

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------
 * Logging
 */

#define KRUN_LOG_TARGET_DEFAULT -1

#define KRUN_LOG_LEVEL_OFF   0
#define KRUN_LOG_LEVEL_ERROR 1
#define KRUN_LOG_LEVEL_WARN  2
#define KRUN_LOG_LEVEL_INFO  3
#define KRUN_LOG_LEVEL_DEBUG 4
#define KRUN_LOG_LEVEL_TRACE 5

#define KRUN_LOG_STYLE_AUTO   0
#define KRUN_LOG_STYLE_ALWAYS 1
#define KRUN_LOG_STYLE_NEVER  2

#define KRUN_LOG_OPTION_NO_ENV 1

/*
 * Set how verbose the library is (KRUN_LOG_LEVEL_*). Messages go to stderr
 * unless krun_init_log() chose another file descriptor.
 */
int32_t krun_set_log_level(uint32_t level);

/*
 * Configure logging in one call.
 *  target_fd: where log lines are written; KRUN_LOG_TARGET_DEFAULT is stderr.
 *  level:     KRUN_LOG_LEVEL_*.
 *  style:     KRUN_LOG_STYLE_*: colour escapes when the target is a terminal
 *             (AUTO), always, or never.
 *  options:   0, or KRUN_LOG_OPTION_NO_ENV to stop the KRUN_LOG_LEVEL
 *             environment variable from overriding "level".
 */
int32_t krun_init_log(int target_fd, uint32_t level, uint32_t style, uint32_t options);

/* ---------------------------------------------------------------------------
 * Contexts and basic VM shape
 */

/* Create a configuration context. Returns its id (>= 0) or a negative errno. */
int32_t krun_create_ctx(void);

/* Release a context and everything it holds. */
int32_t krun_free_ctx(uint32_t ctx_id);

/* Number of vCPUs (at least 1) and guest RAM in MiB. */
int32_t krun_set_vm_config(uint32_t ctx_id, uint8_t num_vcpus, uint32_t ram_mib);

/* The virtio-fs tag under which the guest finds its root filesystem. */
#define KRUN_FS_ROOT_TAG "/dev/root"

/*
 * Use a host directory as the guest's root filesystem (shared through
 * virtio-fs under the tag KRUN_FS_ROOT_TAG). The guest cannot reach host
 * files outside this directory.
 *
 * Security: when the process runs as root, the guest's root user acts as
 * root on the shared directories, as with upstream libkrun (what containers
 * need): by default (KRUN_SHARE_MODE_COMPAT) it can create device nodes,
 * setuid and setgid files owned by anyone, and set security.* (file
 * capabilities, SELinux labels) and trusted.* extended attributes, all of
 * which the host then honours for host processes that use those files.
 * Share a directory that no host process trusts, or use
 * krun_set_share_mode(KRUN_SHARE_MODE_STRICT), as krun-chroot does unless
 * told --share-mode=compat.
 */
int32_t krun_set_root(uint32_t ctx_id, const char *root_path);

/* What the guest may create on a share (see the security note above). */
#define KRUN_SHARE_MODE_COMPAT 0 /* everything the VMM's own user may (the default) */
/*
 * No device nodes (EPERM), setuid and setgid bits stripped from files (new
 * ones and chmod), no security.* or trusted.* extended attributes set or
 * removed (EPERM).
 */
#define KRUN_SHARE_MODE_STRICT 1

/*
 * Set the mode of the virtio-fs share "c_tag" (KRUN_FS_ROOT_TAG for the
 * root), or of the root and every share configured so far when c_tag is
 * NULL. -ENOENT when there is no such share, -EINVAL for an unknown mode.
 * (An extension of this implementation.)
 */
int32_t krun_set_share_mode(uint32_t ctx_id, const char *c_tag, uint32_t mode);

/* Deprecated: raw disk image holding the root filesystem. Use krun_add_disk(). */
int32_t krun_set_root_disk(uint32_t ctx_id, const char *disk_path);

/* Deprecated: raw disk image used as a data disk. Use krun_add_disk(). */
int32_t krun_set_data_disk(uint32_t ctx_id, const char *disk_path);

/*
 * Attach a raw disk image as a virtio-blk device named "block_id": the
 * guest sees the disks in the order they were added (/dev/vda, vdb...), and
 * block_id (its first 20 bytes) as the disk's serial, linked by init as
 * /dev/disk/by-id/virtio-<block_id>. A regular file or a block device.
 * Do not mix with krun_set_root_disk()/krun_set_data_disk().
 */
int32_t krun_add_disk(uint32_t ctx_id, const char *block_id, const char *disk_path, bool read_only);

#define KRUN_DISK_FORMAT_RAW   0
#define KRUN_DISK_FORMAT_QCOW2 1
/* VMDK: only monolithic FLAT/ZERO extents, no delta links. */
#define KRUN_DISK_FORMAT_VMDK 2

/*
 * Like krun_add_disk() with an explicit image format (KRUN_DISK_FORMAT_*).
 *
 * Security: formats other than raw can name further files that the VMM would
 * open on the guest's behalf. Only pass a non-raw format for an image you
 * trust, and never re-probe an image's format after a guest could write to
 * it: a guest can make a raw image look like anything.
 */
int32_t krun_add_disk2(uint32_t ctx_id, const char *block_id, const char *disk_path,
		       uint32_t disk_format, bool read_only);

/* How guest flush requests on a disk are honoured. */
#define KRUN_SYNC_NONE	  0 /* ignore flushes: fast, may lose data on a host crash */
#define KRUN_SYNC_RELAXED 1 /* flush host buffers (same as FULL on Linux) */
#define KRUN_SYNC_FULL	  2 /* flush all the way to stable storage */

/* Like krun_add_disk2() with O_DIRECT ("direct_io") and a KRUN_SYNC_* mode. */
int32_t krun_add_disk3(uint32_t ctx_id, const char *block_id, const char *disk_path,
		       uint32_t disk_format, bool read_only, bool direct_io, uint32_t sync_mode);

/*
 * Share more host directories: each entry is "HOST_PATH:GUEST_PATH", with an
 * optional ":ro" suffix. Each becomes a virtio-fs device that the built-in
 * init mounts at GUEST_PATH before starting the workload. (Upstream retired
 * this call, which was macOS-only; here it works on Linux.)
 */
int32_t krun_set_mapped_volumes(uint32_t ctx_id, const char *const mapped_volumes[]);

/* Share a host directory with the guest as a virtio-fs device with tag "c_tag". */
int32_t krun_add_virtiofs(uint32_t ctx_id, const char *c_tag, const char *c_path);

/* As krun_add_virtiofs(), with the size in bytes of a DAX window. */
int32_t krun_add_virtiofs2(uint32_t ctx_id, const char *c_tag, const char *c_path,
			   uint64_t shm_size);

/* As krun_add_virtiofs2(), optionally read-only for the guest. */
int32_t krun_add_virtiofs3(uint32_t ctx_id, const char *c_tag, const char *c_path,
			   uint64_t shm_size, bool read_only);

/* ---------------------------------------------------------------------------
 * Networking
 */

/* Network flags. */
#define NET_FLAG_VFKIT	     (1 << 0) /* send the vfkit magic (gvproxy in vfkit mode) */
#define NET_FLAG_DHCP_CLIENT (1 << 1)

/*
 * Transparent Socket Impersonation (TSI) over vsock: with a kernel that has
 * it (the bundled libkrunfw), the guest's AF_INET/AF_INET6 stream and
 * datagram sockets (KRUN_TSI_HIJACK_INET) and AF_UNIX sockets with absolute
 * paths (KRUN_TSI_HIJACK_UNIX) are made by the VMM on the host and their
 * data carried over vsock: the guest has networking with no network
 * interface. A VM with no network interface and no krun_add_vsock() call
 * gets HIJACK_INET (its implicit vsock device serves it); krun_add_vsock()
 * chooses the features explicitly, krun_disable_implicit_vsock() turns it
 * off. The guest kernel is told by "tsi_hijack" / "tsi_hijack_unix" on its
 * command line; a kernel without TSI ignores them.
 *
 * Security: with TSI the VMM process *is* the guest's network identity.
 * Every connection, datagram and listening socket of the guest is made by
 * the VMM, with its credentials, in its network namespace, subject to its
 * firewall rules and LSM labels: the guest reaches exactly what the calling
 * process could reach (the host's loopback services and unix sockets
 * included), and nothing more, and whatever it reaches sees the VMM's
 * address. Guest listeners bind host ports (see krun_set_port_map()) on the
 * address the guest asked for. To confine a guest's network, confine the
 * process (network namespace, seccomp, firewall), or turn TSI off. The VMM
 * creates only sockets of the families the features enable, at most 512 at
 * once, checks every address the guest sends, never sets SO_REUSEPORT (no
 * guest can share a port with another process), and only removes unix
 * sockets (never other files) at the paths the guest listens on.
 */
#define KRUN_TSI_HIJACK_INET (1 << 0)
#define KRUN_TSI_HIJACK_UNIX (1 << 1)

/* virtio-net feature bits (values of the virtio-net specification). */
#define NET_FEATURE_CSUM       1 << 0
#define NET_FEATURE_GUEST_CSUM 1 << 1
#define NET_FEATURE_GUEST_TSO4 1 << 7
#define NET_FEATURE_GUEST_TSO6 1 << 8
#define NET_FEATURE_GUEST_UFO  1 << 10
#define NET_FEATURE_HOST_TSO4  1 << 11
#define NET_FEATURE_HOST_TSO6  1 << 12
#define NET_FEATURE_HOST_UFO   1 << 14

/* The feature set used by krun_set_passt_fd() and krun_set_gvproxy_path(). */
#define COMPAT_NET_FEATURES                                                                        \
	NET_FEATURE_CSUM | NET_FEATURE_GUEST_CSUM | NET_FEATURE_GUEST_TSO4 |                       \
	    NET_FEATURE_GUEST_UFO | NET_FEATURE_HOST_TSO4 | NET_FEATURE_HOST_UFO

/*
 * Add a virtio-net interface backed by a stream socket to a userspace network
 * proxy (passt, socket_vmnet...) speaking QEMU's stream framing (a 4-byte
 * big-endian length before each frame). Give either a socket path (fd = -1)
 * or a connected fd (c_path = NULL). Interfaces appear as eth0, eth1... in
 * the order added (at most 8); a network interface replaces the implicit
 * vsock. c_mac is 6 bytes, a unicast address. "features" are NET_FEATURE_*
 * offloads offered to the guest (TSO/UFO only with their checksum feature);
 * a peer without a virtio-net header gets the checksums the guest left to
 * the device filled in, and TSO super-frames as they are (passt takes them).
 * With NET_FLAG_DHCP_CLIENT the guest's init configures the interface by
 * DHCP. A peer that goes away is logged once and the guest sees the link
 * down; the VM runs on.
 */
int32_t krun_add_net_unixstream(uint32_t ctx_id, const char *c_path, int fd, uint8_t *const c_mac,
				uint32_t features, uint32_t flags);

/*
 * As krun_add_net_unixstream(), for a datagram socket proxy (gvproxy,
 * vmnet-helper): one frame per datagram. A path is connected from an
 * autobound abstract address the peer can answer to. With NET_FLAG_VFKIT the
 * first datagram is "VFKT", as gvproxy's vfkit mode expects.
 */
int32_t krun_add_net_unixgram(uint32_t ctx_id, const char *c_path, int fd, uint8_t *const c_mac,
			      uint32_t features, uint32_t flags);

/*
 * Add a virtio-net interface on the host tap device "c_tap_name" (an existing
 * one, or a new one that lives as long as the VM; CAP_NET_ADMIN to create),
 * opened with IFF_VNET_HDR so that offloads pass both ways.
 */
int32_t krun_add_net_tap(uint32_t ctx_id, char *c_tap_name, uint8_t *const c_mac, uint32_t features,
			 uint32_t flags);

/* Deprecated: use krun_add_net_unixstream(). COMPAT_NET_FEATURES, no DHCP. */
int32_t krun_set_passt_fd(uint32_t ctx_id, int fd);

/* Deprecated: use krun_add_net_unixgram(). COMPAT_NET_FEATURES, NET_FLAG_VFKIT. */
int32_t krun_set_gvproxy_path(uint32_t ctx_id, char *c_path);

/*
 * MAC address (6 bytes) of the interface set up by krun_set_passt_fd() or
 * krun_set_gvproxy_path(), before or after it (default 5a:94:ef:e4:0c:ee).
 */
int32_t krun_set_net_mac(uint32_t ctx_id, uint8_t *const c_mac);

/*
 * TSI: which guest TCP listeners are reachable on the host, as
 * "HOST_PORT:GUEST_PORT" strings (decimal, 1..65535; a host or guest port
 * given twice, or anything else, is -EINVAL at this call). A guest listen on
 * a mapped guest port makes the VMM listen on the host port; on an unmapped
 * one it is refused, and the guest's listener stays its own (not reachable
 * from the host). NULL, or never called: every guest listener on the same
 * host port, as upstream. An empty array: none.
 */
int32_t krun_set_port_map(uint32_t ctx_id, const char *const port_map[]);

/* ---------------------------------------------------------------------------
 * GPU, displays, input
 */

/* virglrenderer flags. */
#define VIRGLRENDERER_USE_EGL		 1 << 0
#define VIRGLRENDERER_THREAD_SYNC	 1 << 1
#define VIRGLRENDERER_USE_GLX		 1 << 2
#define VIRGLRENDERER_USE_SURFACELESS	 1 << 3
#define VIRGLRENDERER_USE_GLES		 1 << 4
#define VIRGLRENDERER_USE_EXTERNAL_BLOB	 1 << 5
#define VIRGLRENDERER_VENUS		 1 << 6
#define VIRGLRENDERER_NO_VIRGL		 1 << 7
#define VIRGLRENDERER_USE_ASYNC_FENCE_CB 1 << 8
#define VIRGLRENDERER_RENDER_SERVER	 1 << 9
#define VIRGLRENDERER_DRM		 1 << 10

/* Enable a virtio-gpu device with the given virglrenderer flags. */
int32_t krun_set_gpu_options(uint32_t ctx_id, uint32_t virgl_flags);

/* As krun_set_gpu_options(), with the size of the host-visible memory window. */
int32_t krun_set_gpu_options2(uint32_t ctx_id, uint32_t virgl_flags, uint64_t shm_size);

#define KRUN_MAX_DISPLAYS 16

/* Add a display of the given size. Returns its id (0..KRUN_MAX_DISPLAYS-1). */
int32_t krun_add_display(uint32_t ctx_id, uint32_t width, uint32_t height);

/* Replace the generated EDID of a display with "edid_blob". */
int32_t krun_display_set_edid(uint32_t ctx_id, uint32_t display_id, const uint8_t *edid_blob,
			      size_t blob_size);

/* DPI reported to the guest for one display. */
int32_t krun_display_set_dpi(uint32_t ctx_id, uint32_t display_id, uint32_t dpi);

/* Physical size in millimetres reported to the guest for one display. */
int32_t krun_display_set_physical_size(uint32_t ctx_id, uint32_t display_id, uint16_t width_mm,
				       uint16_t height_mm);

/* Refresh rate in Hz of one display. */
int32_t krun_display_set_refresh_rate(uint32_t ctx_id, uint32_t display_id, uint32_t refresh_rate);

/* Display backend callbacks (struct krun_display_backend of libkrun_display.h). */
int32_t krun_set_display_backend(uint32_t ctx_id, const void *display_backend, size_t backend_size);

/* Add a virtio-input device from a configuration and an event provider object. */
int krun_add_input_device(uint32_t ctx_id, const void *config_backend, size_t config_backend_size,
			  const void *events_backend, size_t events_backend_size);

/* Pass a host /dev/input/event* device through to the guest. */
int krun_add_input_device_fd(uint32_t ctx_id, int input_fd);

/* ---------------------------------------------------------------------------
 * vhost-user devices
 */

/* Device types (the virtio device ids). */
#define KRUN_VIRTIO_DEVICE_CONSOLE 3
#define KRUN_VIRTIO_DEVICE_RNG	   4
#define KRUN_VIRTIO_DEVICE_GPU	   16
#define KRUN_VIRTIO_DEVICE_RTC	   17
#define KRUN_VIRTIO_DEVICE_INPUT   18
#define KRUN_VIRTIO_DEVICE_VSOCK   19
#define KRUN_VIRTIO_DEVICE_SND	   25
#define KRUN_VIRTIO_DEVICE_CAN	   36

/* Default queue layouts per device type. */
#define KRUN_VHOST_USER_CONSOLE_NUM_QUEUES  4
#define KRUN_VHOST_USER_CONSOLE_QUEUE_SIZES ((uint16_t[]){128, 128, 64, 64})
#define KRUN_VHOST_USER_RNG_NUM_QUEUES	    1
#define KRUN_VHOST_USER_RNG_QUEUE_SIZES	    ((uint16_t[]){256})
#define KRUN_VHOST_USER_RTC_NUM_QUEUES	    2
#define KRUN_VHOST_USER_RTC_QUEUE_SIZES	    ((uint16_t[]){1024, 1024})
#define KRUN_VHOST_USER_INPUT_NUM_QUEUES    2
#define KRUN_VHOST_USER_INPUT_QUEUE_SIZES   ((uint16_t[]){1024, 1024})
#define KRUN_VHOST_USER_SND_NUM_QUEUES	    4
#define KRUN_VHOST_USER_SND_QUEUE_SIZES	    ((uint16_t[]){64, 64, 64, 64})
#define KRUN_VHOST_USER_VSOCK_NUM_QUEUES    3
#define KRUN_VHOST_USER_VSOCK_QUEUE_SIZES   ((uint16_t[]){128, 128, 128})
#define KRUN_VHOST_USER_CAN_NUM_QUEUES	    3
#define KRUN_VHOST_USER_CAN_QUEUE_SIZES	    ((uint16_t[]){64, 64, 64})
#define KRUN_VHOST_USER_GPU_NUM_QUEUES	    2
#define KRUN_VHOST_USER_GPU_QUEUE_SIZES	    ((uint16_t[]){1024, 1024})

/*
 * Add a device served by an external vhost-user backend listening on
 * "socket_path". num_queues = 0 asks the backend (then queue_sizes, if not
 * NULL, ends with a 0); otherwise queue_sizes has num_queues entries or is
 * NULL for 256 each. "name" may be NULL.
 */
int32_t krun_add_vhost_user_device(uint32_t ctx_id, uint32_t device_type, const char *socket_path,
				   const char *name, uint16_t num_queues,
				   const uint16_t *queue_sizes);

/* ---------------------------------------------------------------------------
 * The workload
 */

/* Resource limits for the workload, as "RESOURCE=CUR:MAX" strings (e.g. "RLIMIT_NOFILE=1024:4096").
 */
int32_t krun_set_rlimits(uint32_t ctx_id, const char *const rlimits[]);

/*
 * Strings the guest finds in an SMBIOS type 11 (OEM Strings) structure, e.g.
 * /sys/firmware/dmi/entries/11-0/raw on Linux. "oem_strings" ends with a
 * NULL pointer; at most 255 strings, each 1 to 1024 bytes, 48 KiB in all.
 * A new call replaces the earlier list; an empty list means no type 11.
 * Returns 0, or -EINVAL (logged) for a NULL array or strings out of bounds.
 */
int32_t krun_set_smbios_oem_strings(uint32_t ctx_id, const char *const oem_strings[]);

/* Working directory of the workload, inside the guest's root. */
int32_t krun_set_workdir(uint32_t ctx_id, const char *workdir_path);

/*
 * The program to run (a path inside the guest's root), its arguments (not
 * counting argv[0], which is exec_path) and environment. envp = NULL means
 * the calling process's environment.
 */
int32_t krun_set_exec(uint32_t ctx_id, const char *exec_path, const char *const argv[],
		      const char *const envp[]);

/* Firmware image to boot instead of a kernel (not supported on this platform). */
int32_t krun_set_firmware(uint32_t ctx_id, const char *firmware_path);

/*
 * Kernel image formats for krun_set_kernel(), as this x86_64 build reads them.
 * The compressed formats hold either kind of uncompressed kernel, an ELF
 * vmlinux or a bzImage; which one is told by its magic once decompressed.
 */
#define KRUN_KERNEL_FORMAT_RAW	      0 /* bzImage (x86 boot protocol >= 2.12) */
#define KRUN_KERNEL_FORMAT_ELF	      1 /* vmlinux: a 64-bit x86 ELF executable */
#define KRUN_KERNEL_FORMAT_PE_GZ      2 /* PE/EFI image with a compressed kernel inside */
#define KRUN_KERNEL_FORMAT_IMAGE_BZ2  3 /* the file is a bzip2 stream */
#define KRUN_KERNEL_FORMAT_IMAGE_GZ   4 /* the file is a gzip stream */
#define KRUN_KERNEL_FORMAT_IMAGE_ZSTD 5 /* the file is a zstd stream */

/*
 * Boot this kernel instead of the bundled one (libkrunfw). "initramfs" may be
 * NULL; "cmdline" (may be NULL) is appended to the library's own kernel
 * command line.
 *
 * kernel_format is one of KRUN_KERNEL_FORMAT_*; all of them work on x86_64:
 * - ELF: a vmlinux; RAW: a bzImage.
 * - IMAGE_GZ, IMAGE_BZ2, IMAGE_ZSTD: the whole file is one gzip, bzip2 or
 *   zstd stream (several concatenated streams of that kind are accepted),
 *   whose contents are a vmlinux or a bzImage.
 * - PE_GZ: a PE/EFI executable. A Linux EFI "zboot" image (the "zimg" header
 *   naming the payload's offset, size and compression: gzip, bzip2 or zstd)
 *   is unpacked as its header says; any other PE image must hold a gzip
 *   member, and the first one in the file that decodes is used. Its contents
 *   are again a vmlinux or a bzImage.
 * This call checks the format number and that the file is readable; the file
 * itself is read when the VM is built, by krun_start_enter(), which then fails
 * with -ENOEXEC (and a log line saying why) for a corrupt or truncated stream,
 * a PE header pointing outside the file, or contents that are neither kind of
 * kernel; with -EFBIG when the kernel file or its decompressed contents pass
 * 512 MiB; with -ENOTSUP for a zboot payload in another compression.
 *
 * Extension: kernel_path = NULL keeps the bundled kernel and only sets the
 * initramfs and command line (kernel_format is then ignored).
 */
int32_t krun_set_kernel(uint32_t ctx_id, const char *kernel_path, uint32_t kernel_format,
			const char *initramfs, const char *cmdline);

/* Environment of the workload; NULL means the calling process's environment. */
int32_t krun_set_env(uint32_t ctx_id, const char *const envp[]);

/* Confidential-computing configuration file (not supported on this platform). */
int32_t krun_set_tee_config_file(uint32_t ctx_id, const char *filepath);

/*
 * virtio-vsock: the guest is CID 3, the host CID 2. Every VM has the device
 * unless krun_disable_implicit_vsock() was called or a network interface was
 * added. A guest connect to a host port nothing is mapped to is reset at once.
 *
 * Bridge guest vsock "port" to the host unix stream socket "c_filepath": a
 * guest connect(AF_VSOCK, CID 2, port) makes the VMM connect to c_filepath
 * (which must be listening then) and carry the bytes both ways, with flow
 * control: a slow reader on either side holds the writer back.
 */
int32_t krun_add_vsock_port(uint32_t ctx_id, uint32_t port, const char *c_filepath);

/*
 * As krun_add_vsock_port() when listen is false. With listen = true the VMM
 * creates c_filepath (-EEXIST if it exists, at this call or at start),
 * listens on it while the VM runs and removes it when the VM stops; each
 * connection to it becomes a connection to the guest's vsock "port".
 */
int32_t krun_add_vsock_port2(uint32_t ctx_id, uint32_t port, const char *c_filepath, bool listen);

/*
 * Add the VM's vsock device explicitly (it takes the implicit one's place,
 * and is made even with a network interface), with KRUN_TSI_* features (0 for
 * none: no TSI). Only one is allowed (-EEXIST).
 */
int32_t krun_add_vsock(uint32_t ctx_id, uint32_t tsi_features);

/*
 * An eventfd that, when written, asks the guest to shut down cleanly. Call it
 * before krun_start_enter() (again: the same fd) and write it from another
 * thread once the VM runs. The built-in init then sends SIGTERM to every
 * guest process, SIGKILL to what is left 5 s later, and the process exits
 * with the workload's status as usual (143 for a workload that SIGTERM
 * ended). A guest without our init gets 10 s, then the VMM stops it and the
 * process exits 143. Returns the fd (owned by the context) or a negative
 * errno.
 */
int32_t krun_get_shutdown_eventfd(uint32_t ctx_id);

/*
 * Send the implicit console's output to a file and give the guest no input.
 * Has no effect on consoles added with krun_add_*_console_default().
 */
int32_t krun_set_console_output(uint32_t ctx_id, const char *c_filepath);

/*
 * uid the workload runs as inside the guest (the built-in init switches to
 * it before exec; default 0). The VMM itself keeps its own ids.
 */
int32_t krun_setuid(uint32_t ctx_id, uid_t uid);

/* gid the workload runs as inside the guest (see krun_setuid()). */
int32_t krun_setgid(uint32_t ctx_id, gid_t gid);

/* Ask for nested virtualization in the guest (checked when the VM starts). */
int32_t krun_set_nested_virt(uint32_t ctx_id, bool enabled);

/* 1 if this host can give guests nested virtualization, 0 if not, < 0 on error. */
int32_t krun_check_nested_virt(void);

/* Feature ids for krun_has_feature(). */
#define KRUN_FEATURE_NET		 0
#define KRUN_FEATURE_BLK		 1
#define KRUN_FEATURE_GPU		 2
#define KRUN_FEATURE_INPUT		 4
#define KRUN_FEATURE_TEE		 6
#define KRUN_FEATURE_AMD_SEV		 7
#define KRUN_FEATURE_INTEL_TDX		 8
#define KRUN_FEATURE_AWS_NITRO		 9
#define KRUN_FEATURE_VIRGL_RESOURCE_MAP2 10
#define KRUN_FEATURE_INIT_BLOB		 11

/* 1 if the feature is built in, 0 if not, -EINVAL for an unknown id. */
int32_t krun_has_feature(uint64_t feature);

/* Highest vCPU count the hypervisor allows, or a negative errno. */
int32_t krun_get_max_vcpus(void);

/*
 * Keep only the local APICs in KVM and emulate the IOAPIC in the VMM
 * ("split irqchip"). The guest then has no 8259 PIC and no PIT (KVM has a
 * PIT only with its own PIC): it keeps time with kvm-clock and the local
 * APIC timer. Off by default; krun_start_enter() fails with -ENOTSUP if
 * the host's KVM cannot split its irqchip.
 */
int32_t krun_split_irqchip(uint32_t ctx_id, bool enable);

/*
 * Create no console device implicitly; add the ones you want yourself. The
 * implicit console is a virtio-console on stdin/stdout/stderr for a VM with
 * a root directory, and the serial port COM1 on stdin/stdout for a plain
 * kernel + initramfs. Without it, console= names the first console added
 * (krun_set_kernel_console() overrides), and COM1 exists but is unwired
 * unless a serial console is added.
 */
int32_t krun_disable_implicit_console(uint32_t ctx_id);

/*
 * Do not expose the built-in init as /init.krun in the root filesystem: the
 * kernel then runs the root's own init (or init= from the command line).
 * Such an init may start without fds 0-2 (the virtio console can register
 * after the kernel opened /dev/console; /dev is a devtmpfs, so it can open
 * /dev/console itself). It reports an exit status as the built-in one does,
 * with upstream libkrun's request: as uid 0,
 *     int fd = open("/", O_RDONLY);
 *     ioctl(fd, 0x7602, status);    (_IO('v', 2), the status as argument)
 * on the virtio-fs root; the VM stops at once and the process exits with
 * status & 0xff. An init that does not report makes the process exit 1
 * when the guest stops.
 */
int32_t krun_disable_implicit_init(uint32_t ctx_id);

/*
 * The built-in guest init program (a static executable). The bytes stay
 * valid for the life of the process.
 */
int32_t krun_get_default_init(const uint8_t **data_out, size_t *len_out);

/*
 * Add a file that exists only in memory to the virtio-fs device "fs_tag"
 * (KRUN_FS_ROOT_TAG for the root), at "path", relative to the share's root
 * (a leading '/' is allowed; no "." or ".." components). Intermediate
 * directories must have been added with krun_fs_add_overlay_dir(). The data
 * is NOT copied and must stay valid while the VM runs. mode: permission bits
 * (S_IFREG may be included). The file is read-only and hides a host file of
 * the same name. one_shot: the file can be looked up only once; the guest
 * does not cache it. At most 64 overlay entries; a tag that names no share
 * makes krun_start_enter() fail with -ENOENT.
 */
int32_t krun_fs_add_overlay_file(uint32_t ctx_id, const char *fs_tag, const char *path,
				 const uint8_t *data, size_t data_len, uint32_t mode,
				 bool one_shot);

/* Add an empty, read-only directory that exists only in memory (a mount point). */
int32_t krun_fs_add_overlay_dir(uint32_t ctx_id, const char *fs_tag, const char *path,
				uint32_t mode);

/* Create no vsock device implicitly (krun_add_vsock() still adds one). */
int32_t krun_disable_implicit_vsock(uint32_t ctx_id);

/* The value of console= on the kernel command line (e.g. "ttyS0", "hvc0"). */
int32_t krun_set_kernel_console(uint32_t ctx_id, const char *console_id);

/*
 * Add a virtio-console device wired to these fds (-1: none). It has a
 * console port (hvc) on the terminals among them; each non-terminal fd gets
 * a named port ("krun-stdin", "krun-stdout", "krun-stderr") that init
 * connects to the workload, unless an earlier console made that port.
 * Returns the console id (>= 0).
 */
int32_t krun_add_virtio_console_default(uint32_t ctx_id, int input_fd, int output_fd, int err_fd);

/*
 * Add a 16550A serial port wired to these fds (-1: none). Ports are COM1
 * (ttyS0, IRQ 4) and COM2 (ttyS1, IRQ 3); COM1 belongs to the implicit
 * console unless it was disabled. Returns the console id, -ENOSPC when no
 * port is left. Input must be pollable (a tty, pipe or socket).
 */
int32_t krun_add_serial_console_default(uint32_t ctx_id, int input_fd, int output_fd);

/*
 * Add an empty multi-port virtio-console device; fill it with
 * krun_add_console_port_tty()/krun_add_console_port_inout() (up to 16
 * ports). Returns the console id (>= 0); at most 4 consoles in all. The
 * guest finds each port by name in /sys/class/virtio-ports/vportNpM/name,
 * its device as /dev/vportNpM.
 */
int32_t krun_add_virtio_console_multiport(uint32_t ctx_id);

/*
 * Add a terminal port: a console (hvcN) of the guest, fed from tty_fd, which
 * is in raw mode for the VM's lifetime. The guest's terminal gets tty_fd's
 * window size, and its changes when tty_fd is the process's stdin (SIGWINCH).
 * Which hvcN depends on the order the guest sets up the consoles. tty_fd must
 * be a terminal (-ENOTTY otherwise). Names are unique, at most 31 bytes.
 */
int32_t krun_add_console_port_tty(uint32_t ctx_id, uint32_t console_id, const char *name,
				  int tty_fd);

/*
 * Add a plain data port: the guest reads what arrives on input_fd and its
 * writes go to output_fd (either may be -1). When input_fd reaches its end on
 * a port without output_fd, the guest reads end-of-file.
 */
int32_t krun_add_console_port_inout(uint32_t ctx_id, uint32_t console_id, const char *name,
				    int input_fd, int output_fd);

/*
 * Boot through the virtio-fs root as usual, then have init switch to the
 * filesystem on block device "device" (/dev/vda, /dev/disk/by-id/virtio-ID,
 * ...), mounted with fstype and options (either may be NULL: every block
 * filesystem the guest kernel knows is tried; "ro,noatime" style options)
 * and run the workload there. Without krun_set_root(), the virtio-fs root
 * is an empty directory that only carries init.
 */
int32_t krun_set_root_disk_remount(uint32_t ctx_id, const char *device, const char *fstype,
				   const char *options);

/*
 * Build the VM from the context and run it. Returns only on failure before
 * the guest starts (negative errno). Once the guest runs, the process exits
 * with the workload's status when the VM stops. Exit statuses chosen by init:
 *   125  the guest environment could not be set up
 *   126  the program exists but could not be executed
 *   127  the program was not found
 * The context is consumed.
 *
 * Seccomp: once the VM is built, every VMM thread (vCPUs, device workers,
 * and last the calling thread, which runs the event loop and later exit())
 * installs a seccomp allowlist for its role. A syscall outside it logs
 * "seccomp: a ROLE thread made syscall N ..." and kills the process with
 * SIGSYS. Since the calling thread is filtered too, atexit() handlers and
 * destructors the caller registered run under its list when the process
 * exits. KRUN_SECCOMP=0 in the environment turns the filter off and
 * KRUN_SECCOMP=log lets violations through, logged by the kernel's audit: both for
 * debugging.
 */
int32_t krun_start_enter(uint32_t ctx_id);

#ifdef __cplusplus
}
#endif

#endif /* _LIBKRUN_H */
