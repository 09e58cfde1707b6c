/* SPDX-License-Identifier: Apache-2.0 */
/*
 * krun-init: the guest's PID 1. It reads its instructions from
 * KRUN_CONFIG_PATH (see src/guest_abi.h), prepares the guest, runs the
 * workload, and reports the workload's exit status to the VMM.
 *
 * Shared declarations of the init/ files:
 *   init.c      main: order of the steps, signal forwarding, reaping, exit
 *   config.c    reading and checking the config records
 *   oci_config.c  /.krun_config.json (an OCI runtime's or image's config)
 *   json.c      the JSON reader oci_config.c uses
 *   mounts.c    pseudo filesystems, /dev links, virtio-fs mounts
 *   rootdisk.c  /dev/disk/by-id links, the switch to a root on a disk
 *   stdio.c     the workload's fds 0-2: virtio-console ports or the console
 *   workload.c  the child: ids, limits, terminal, exec with a PATH search
 *   exit_status.c  the workload's status to the VMM
 *   net_setup.c the network before the workload: loopback, virtio-net, TSI
 *   net.c, dhcp.c  rtnetlink and the DHCP client (their own header, net.h)
 */
#ifndef KRUN_INIT_H
#define KRUN_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

struct krun_rlimit {
	int resource;
	struct rlimit limit;
};

struct krun_mount {
	const char *tag;
	const char *path;
};

struct config {
	const char *exec;	  /* NULL until a record or /.krun_config.json names it */
	const char *default_exec; /* when neither does */
	char **argv;		  /* argv[0] is exec, NULL-terminated */
	char **envp;		  /* NULL-terminated, with room for the defaults */
	size_t nenv;
	const char *workdir;
	const char *hostname;
	uid_t uid;
	gid_t gid;
	struct krun_rlimit *rlimits;
	size_t nrlimits;
	struct krun_mount *mounts;
	size_t nmounts;
	unsigned int ports;    /* bit i: the port for fd i exists ("port" records) */
	const char *root_disk; /* "root_disk": switch to the filesystem on it, or NULL */
	const char *root_fstype, *root_options;
	const char **net_dhcp; /* "net_dhcp" records: interfaces to configure by DHCP */
	size_t nnet_dhcp;
	/* Given by a record (the API), so /.krun_config.json does not override. */
	bool workdir_set, uid_set, gid_set, hostname_set;
	bool terminal; /* the OCI process.terminal */
};

/* Number of variables env_add_defaults() may append to envp. */
#define ENV_DEFAULTS_MAX 3

/* The workload's standard fds, as opened by PID 1 (all O_CLOEXEC). */
struct stdio {
	int fd[3];
	bool on_console[3];
	int console_fd;	 /* the console terminal, or -1 if no fd uses it */
	int shutdown_fd; /* KRUN_PORT_SHUTDOWN, or -1 */
};

/* init.c */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void say_to(int fd);
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void signals_default(void);

/* config.c */
int config_load(const char *path, struct config *cfg);
int config_finish(struct config *cfg, const char *path);
int rlimit_resource(const char *name, size_t len);
void env_add_defaults(struct config *cfg, bool terminal);
const char *env_lookup(char *const envp[], const char *name);

/* oci_config.c */
int oci_config_load(const char *path, struct config *cfg);
int oci_config_apply(struct config *cfg, const char *path, char *text, size_t len);

/* mounts.c */
void mount_dev(void);
void mount_system_filesystems(void);
int mount_shares(const struct config *cfg);
void dev_node(const char *class, const char *name);

/* rootdisk.c */
void disks_make_links(void);
int root_disk_switch(const struct config *cfg);

/* net_setup.c */
void network_setup(const struct config *cfg);

/* stdio.c */
void console_as_init_stdio(void);
void stdio_open(struct stdio *io, unsigned int expected_ports);
/* Bit for a "port" record's value, 0 if the name is not a known port. */
unsigned int stdio_port_bit(const char *name);
bool stdio_uses_console(const struct stdio *io);
void stdio_flush_and_close(struct stdio *io);

/* exit_status.c: prepare before the workload runs; report stops the VM. */
void exit_status_prepare(void);
void exit_status_report(int status) __attribute__((noreturn));

/* workload.c */
pid_t workload_start(const struct config *cfg, const struct stdio *io, int *failed_status);

#endif
