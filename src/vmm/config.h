/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM configuration: plain data filled in by the API layer, validated as it
 * is set, and turned into a running VM by vm_run(). Nothing here touches KVM,
 * so it is unit-testable on any host.
 */
#ifndef KRUN_CONFIG_H
#define KRUN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#define VM_MAX_VCPUS   64 /* the guest kernel's NR_CPUS */
#define VM_MIN_RAM_MIB 32
#define VM_MAX_RAM_MIB (1u << 20) /* 1 TiB */
#define VM_MAX_PATH    4096
#define VM_MAX_CMDLINE 2048 /* COMMAND_LINE_SIZE of x86 Linux */
#define VM_MAX_ARGS    4096 /* entries in argv/envp/rlimit arrays */
#define VM_MAX_STRING  (128 * 1024)
/* SMBIOS OEM strings: the type 11 count is a byte; all of them, NULs included,
 * fit in the SMBIOS region of guest memory with room to spare. */
#define VM_MAX_OEM_STRINGS	255
#define VM_MAX_OEM_STRING_LEN	1024
#define VM_MAX_OEM_STRINGS_SIZE (48 * 1024)

#define VM_DEFAULT_VCPUS   1
#define VM_DEFAULT_RAM_MIB 512

enum kernel_source {
	KERNEL_BUNDLED, /* libkrunfw.so.5 */
	KERNEL_FILE,	/* krun_set_kernel() */
};

#define VM_MAX_SHARES 8

struct fs_share {
	char *tag;
	char *path;
	char *mount_point; /* where init mounts it, or NULL */
	bool read_only;
	bool strict; /* KRUN_SHARE_MODE_STRICT */
};

/* Consoles added through the API (krun_add_*_console*). */
#define VM_MAX_CONSOLES	     4
#define VM_MAX_SERIALS	     2 /* COM1 and COM2: COM3/4 would share their IRQs */
#define VM_MAX_CONSOLE_PORTS 16

enum console_kind {
	CONSOLE_VIRTIO_DEFAULT,	  /* like the implicit console, on given fds */
	CONSOLE_VIRTIO_MULTIPORT, /* ports added one by one */
	CONSOLE_SERIAL,		  /* a 16550A UART */
};

struct console_port_config {
	char *name;
	int in_fd, out_fd; /* -1: no input / output discarded */
	bool tty;	   /* a terminal: a console (hvc) port, raw mode, window size */
};

struct console_config {
	enum console_kind kind;
	int in_fd, out_fd, err_fd; /* default virtio and serial consoles */
	struct console_port_config ports[VM_MAX_CONSOLE_PORTS];
	unsigned int nports;
};

/* krun_fs_add_overlay_file/dir: in-memory entries of a virtio-fs share. */
#define VM_MAX_OVERLAYS 64

struct overlay_config {
	char *tag;
	char *path;
	const uint8_t *data; /* the caller's, not copied; NULL for a directory */
	size_t len;
	uint32_t mode;
	bool is_dir;
	bool one_shot;
};

/* Disks (virtio-blk), in the order they were added (config_disks.c). */
#define VM_MAX_DISKS   40
#define VM_MAX_DISK_ID 255 /* the guest sees the first 20 bytes as the serial */

struct disk_config {
	char *id; /* "root" and "data" for krun_set_root_disk/krun_set_data_disk */
	char *path;
	uint32_t format; /* KRUN_DISK_FORMAT_*, never probed */
	bool read_only, direct_io;
	uint32_t sync_mode; /* KRUN_SYNC_* */
};

/* krun_set_root_disk_remount: init mounts "device" as the workload's root. */
struct root_remount {
	char *device; /* /dev/vda, /dev/disk/by-id/virtio-ID... */
	char *fstype; /* NULL: let the kernel try each */
	char *options;
};

/*
 * Network interfaces (virtio-net, config_net.c), eth0, eth1... in the order
 * added. krun_set_passt_fd() and krun_set_gvproxy_path() add a "legacy"
 * interface whose MAC krun_set_net_mac() sets, before or after.
 */
#define VM_MAX_NETS 8

enum net_backend { NET_UNIXSTREAM, NET_UNIXGRAM, NET_TAP };

struct net_config {
	enum net_backend backend;
	char *path; /* socket path or tap name; NULL with an fd */
	int fd;	    /* a connected socket, or -1 */
	uint8_t mac[6];
	uint32_t features; /* NET_FEATURE_* (virtio-net feature bits 0..31) */
	uint32_t flags;	   /* NET_FLAG_* */
	bool legacy;	   /* krun_set_passt_fd / krun_set_gvproxy_path: the MAC comes later */
};

struct net_setup {
	struct net_config nets[VM_MAX_NETS];
	unsigned int nnets;
	uint8_t legacy_mac[6]; /* krun_set_net_mac */
	bool has_legacy_mac;
};

/*
 * Devices whose emulation comes in a later version: the API checks and
 * records them; krun_start_enter() refuses to start a VM that has any
 * (vm_config_pending_devices) rather than run it without them.
 */
struct pending_devices {
	/* Counted only, until their devices exist. */
	unsigned int gpu, displays, input, vhost_user;
};

/*
 * virtio-vsock (config_vsock.c): guest ports mapped to host unix sockets. A
 * VM has the device unless krun_disable_implicit_vsock() was called or it
 * has a virtio-net interface; krun_add_vsock() adds it explicitly.
 */
#define VM_MAX_VSOCK_PORTS 64

struct vsock_port_config {
	uint32_t port;
	char *path;
	bool listen; /* the VMM listens on path; host connections reach the guest's port */
};

/* krun_set_port_map: at most this many pairs. */
#define VM_MAX_PORT_MAP 1024

struct vsock_port_pair {
	uint16_t host, guest;
};

struct vsock_config {
	bool added;	  /* krun_add_vsock */
	bool no_implicit; /* krun_disable_implicit_vsock */
	uint32_t tsi_features;
	struct vsock_port_config ports[VM_MAX_VSOCK_PORTS];
	unsigned int nports;
	/* TSI listeners: false = every guest port on the same host port. */
	bool port_map_set;
	struct vsock_port_pair *port_map;
	unsigned int nport_map;
};

struct vm_config {
	unsigned int vcpus;
	unsigned int ram_mib;

	enum kernel_source kernel_source;
	char *kernel_path;
	uint32_t kernel_format;
	char *initramfs_path;
	char *extra_cmdline;  /* appended to the VMM's own command line */
	char *kernel_console; /* value of console=, NULL for the default */

	char *console_output; /* implicit console writes here instead of stdout */
	bool no_implicit_console;
	struct console_config consoles[VM_MAX_CONSOLES];
	unsigned int nconsoles;
	int shutdown_efd; /* krun_get_shutdown_eventfd(), or -1 */

	char *root_path;
	bool root_read_only;
	bool root_is_scratch;		       /* an empty directory made for a root disk remount */
	bool root_strict;		       /* KRUN_SHARE_MODE_STRICT */
	struct fs_share shares[VM_MAX_SHARES]; /* krun_add_virtiofs*, besides the root */
	unsigned int nshares;
	struct overlay_config overlays[VM_MAX_OVERLAYS];
	unsigned int noverlays;
	bool no_implicit_init; /* no /init.krun: the kernel runs the root's own init */
	char *exec_path;
	char **argv; /* NULL-terminated, without argv[0] */
	char **envp; /* NULL-terminated */
	char *workdir;
	char **rlimits;

	bool has_uid, has_gid;
	uid_t uid;
	gid_t gid;

	bool nested_virt;
	bool split_irqchip;

	char **oem_strings; /* SMBIOS type 11, NULL-terminated; NULL for none */

	struct vsock_config vsock;

	struct disk_config disks[VM_MAX_DISKS];
	unsigned int ndisks;
	struct root_remount remount;

	struct net_setup net;

	struct pending_devices pending;
};

void vm_config_init(struct vm_config *cfg);
void vm_config_release(struct vm_config *cfg);
void vm_config_release_devices(struct vm_config *cfg); /* consoles, overlays, eventfd */

int vm_config_set_shape(struct vm_config *cfg, unsigned int vcpus, unsigned int ram_mib);
int vm_config_set_kernel(struct vm_config *cfg, const char *path, uint32_t format,
			 const char *initramfs, const char *cmdline);
int vm_config_set_kernel_console(struct vm_config *cfg, const char *console);
int vm_config_set_console_output(struct vm_config *cfg, const char *path);
int vm_config_set_root(struct vm_config *cfg, const char *path);
/* A virtio-fs share; the tag KRUN_FS_ROOT_TAG sets the root. */
int vm_config_add_share(struct vm_config *cfg, const char *tag, const char *path, bool read_only);
/* krun_set_share_mode(): tag NULL means the root and every share so far. */
int vm_config_set_share_mode(struct vm_config *cfg, const char *tag, uint32_t mode);
/* "HOST:GUEST[:ro]" entries: shares that init mounts at GUEST. */
int vm_config_set_mapped_volumes(struct vm_config *cfg, const char *const volumes[]);
int vm_config_set_exec(struct vm_config *cfg, const char *path, const char *const argv[],
		       const char *const envp[]);
int vm_config_set_env(struct vm_config *cfg, const char *const envp[]);
int vm_config_set_workdir(struct vm_config *cfg, const char *path);
int vm_config_set_rlimits(struct vm_config *cfg, const char *const rlimits[]);
/* SMBIOS type 11 strings (NULL-terminated); replaces any earlier list. */
int vm_config_set_oem_strings(struct vm_config *cfg, const char *const strings[]);

/* Consoles (config_devices.c); the add functions return the console id. */
int vm_config_disable_implicit_console(struct vm_config *cfg);
int vm_config_add_virtio_console(struct vm_config *cfg, int in_fd, int out_fd, int err_fd);
int vm_config_add_serial_console(struct vm_config *cfg, int in_fd, int out_fd);
int vm_config_add_multiport_console(struct vm_config *cfg);
int vm_config_add_console_port(struct vm_config *cfg, uint32_t console_id, const char *name,
			       int in_fd, int out_fd, bool tty);
unsigned int vm_config_serial_count(const struct vm_config *cfg); /* added ones */
unsigned int vm_config_uart_count(const struct vm_config *cfg);	  /* all of them */
/* Overlay entries of share "tag" (KRUN_FS_ROOT_TAG for the root). */
int vm_config_add_overlay(struct vm_config *cfg, const char *tag, const char *path,
			  const uint8_t *data, size_t len, uint32_t mode, bool is_dir,
			  bool one_shot);
/* The eventfd that asks the guest to shut down; created on first use. */
int vm_config_shutdown_eventfd(struct vm_config *cfg);

/* Disks (config_disks.c). */
int vm_config_add_disk(struct vm_config *cfg, const struct disk_config *disk);
int vm_config_set_root_remount(struct vm_config *cfg, const char *device, const char *fstype,
			       const char *options);
void vm_config_release_disks(struct vm_config *cfg);
/*
 * A root disk remount without a root directory: an empty directory (to be
 * removed once it is open) becomes the virtio-fs root that carries init.
 */
int vm_config_scratch_root(struct vm_config *cfg);

/* Network interfaces (config_net.c). */
int vm_config_add_net(struct vm_config *cfg, const struct net_config *net);
int vm_config_set_net_mac(struct vm_config *cfg, const uint8_t mac[6]);
/* The MAC interface i gets: its own, or the legacy one's (set or default). */
void vm_config_net_mac(const struct vm_config *cfg, unsigned int i, uint8_t mac[6]);
/* The guest's name of interface i ("eth0"...). */
void vm_config_net_name(unsigned int i, char *buf, size_t len);
void vm_config_release_net(struct vm_config *cfg);

/* Devices of later versions (config_pending.c). */
void vm_config_release_pending(struct vm_config *cfg);
/*
 * Names the recorded devices this build cannot run into buf ("virtio-blk
 * (2 disks), virtio-net"); returns how many kinds there are.
 */
int vm_config_pending_devices(const struct vm_config *cfg, char *buf, size_t len);

/* virtio-vsock (config_vsock.c). listen: path must not exist yet (-EEXIST). */
int vm_config_add_vsock_port(struct vm_config *cfg, uint32_t port, const char *path, bool listen);
int vm_config_add_vsock(struct vm_config *cfg, uint32_t tsi_features);
int vm_config_disable_implicit_vsock(struct vm_config *cfg);
/* Does the VM get a vsock device (explicit, or the implicit one)? */
bool vm_config_has_vsock(const struct vm_config *cfg);
/*
 * The TSI features (KRUN_TSI_*) the VM's vsock device serves: those of
 * krun_add_vsock(), or HIJACK_INET for the implicit device; 0 for none.
 */
uint32_t vm_config_tsi_features(const struct vm_config *cfg);
/*
 * krun_set_port_map: "HOST:GUEST" decimal pairs, ports 1..65535, no host
 * port and no guest port twice; NULL = every guest port on the same host
 * port (as never called); an empty list = none. -EINVAL (and one log line)
 * for anything else, the map unchanged.
 */
int vm_config_set_port_map(struct vm_config *cfg, const char *const map[]);
int vm_config_validate_vsock(const struct vm_config *cfg);
void vm_config_release_vsock(struct vm_config *cfg);

/* The guest kernel's command line; returns its length or -E2BIG. */
int vm_config_cmdline(const struct vm_config *cfg, const char *devices, char *buf, size_t len);
/* console= for the guest kernel. */
const char *vm_config_console(const struct vm_config *cfg);

/* Checks that need the whole picture; run by krun_start_enter(). */
int vm_config_validate(const struct vm_config *cfg);

/* Helpers shared with the API layer. */
int config_dup_string(char **dst, const char *src, size_t max_len);
int config_dup_string_array(char ***dst, const char *const src[]);
void config_free_string_array(char **arr);
int config_parse_rlimit(const char *spec, int *resource, uint64_t *cur, uint64_t *max);

#endif
