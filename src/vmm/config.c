// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libkrun.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "guest_abi.h"

extern char **environ;

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vcpus = VM_DEFAULT_VCPUS;
	cfg->ram_mib = VM_DEFAULT_RAM_MIB;
	cfg->kernel_source = KERNEL_BUNDLED;
	cfg->shutdown_efd = -1;
}

void vm_config_release(struct vm_config *cfg)
{
	free(cfg->kernel_path);
	free(cfg->initramfs_path);
	free(cfg->extra_cmdline);
	free(cfg->kernel_console);
	free(cfg->console_output);
	free(cfg->root_path);
	free(cfg->exec_path);
	free(cfg->workdir);
	config_free_string_array(cfg->argv);
	config_free_string_array(cfg->envp);
	config_free_string_array(cfg->rlimits);
	config_free_string_array(cfg->oem_strings);
	vm_config_release_devices(cfg);
	vm_config_release_pending(cfg);
	vm_config_release_net(cfg);
	vm_config_release_vsock(cfg);
	vm_config_release_disks(cfg);
	for (unsigned int i = 0; i < cfg->nshares; i++) {
		free(cfg->shares[i].tag);
		free(cfg->shares[i].path);
		free(cfg->shares[i].mount_point);
	}
	vm_config_init(cfg);
}

/* Copy src (NULL allowed: clears dst). Over-long strings are refused. */
int config_dup_string(char **dst, const char *src, size_t max_len)
{
	char *copy = NULL;

	if (src) {
		size_t len = strnlen(src, max_len + 1);

		if (len > max_len)
			return -ENAMETOOLONG;
		copy = strndup(src, len);
		if (!copy)
			return -ENOMEM;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

void config_free_string_array(char **arr)
{
	if (!arr)
		return;
	for (char **p = arr; *p; p++)
		free(*p);
	free(arr);
}

int config_dup_string_array(char ***dst, const char *const src[])
{
	size_t n = 0;
	char **copy;

	while (src[n]) {
		if (++n > VM_MAX_ARGS)
			return -E2BIG;
	}
	copy = calloc(n + 1, sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int ret = config_dup_string(&copy[i], src[i], VM_MAX_STRING);

		if (ret < 0) {
			config_free_string_array(copy);
			return ret;
		}
	}
	config_free_string_array(*dst);
	*dst = copy;
	return 0;
}

int vm_config_set_shape(struct vm_config *cfg, unsigned int vcpus, unsigned int ram_mib)
{
	if (vcpus < 1 || vcpus > VM_MAX_VCPUS) {
		pr_err("vCPU count %u out of range 1..%u", vcpus, VM_MAX_VCPUS);
		return -EINVAL;
	}
	if (ram_mib < VM_MIN_RAM_MIB || ram_mib > VM_MAX_RAM_MIB) {
		pr_err("RAM size %u MiB out of range %u..%u MiB", ram_mib, VM_MIN_RAM_MIB,
		       VM_MAX_RAM_MIB);
		return -EINVAL;
	}
	cfg->vcpus = vcpus;
	cfg->ram_mib = ram_mib;
	return 0;
}

static int check_readable_file(const char *what, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		int err = errno;

		pr_err("%s %s: %s", what, path, strerror(err));
		return -err;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("%s %s is not a regular file", what, path);
		return -EINVAL;
	}
	if (access(path, R_OK) < 0) {
		int err = errno;

		pr_err("%s %s: %s", what, path, strerror(err));
		return -err;
	}
	return 0;
}

static bool kernel_format_supported(uint32_t format)
{
	/*
	 * On x86_64 every format means something: ELF (vmlinux), RAW (bzImage),
	 * IMAGE_GZ/BZ2/ZSTD (either, compressed) and PE_GZ (either, in a PE
	 * image). The file's contents are checked when the VM is built.
	 */
	return format <= KRUN_KERNEL_FORMAT_IMAGE_ZSTD;
}

int vm_config_set_kernel(struct vm_config *cfg, const char *path, uint32_t format,
			 const char *initramfs, const char *cmdline)
{
	struct vm_config tmp = {0};
	int ret;

	if (!path)
		format = KRUN_KERNEL_FORMAT_ELF; /* bundled kernel: only initramfs/cmdline */
	if (format > KRUN_KERNEL_FORMAT_IMAGE_ZSTD) {
		pr_err("unknown kernel format %u", format);
		return -EINVAL;
	}
	if (!kernel_format_supported(format)) {
		pr_err("kernel format %u is not supported on x86_64 by this build", format);
		return -ENOTSUP;
	}
	if (cmdline && strnlen(cmdline, VM_MAX_CMDLINE + 1) > VM_MAX_CMDLINE) {
		pr_err("kernel command line longer than %u bytes", VM_MAX_CMDLINE);
		return -E2BIG;
	}
	ret = config_dup_string(&tmp.kernel_path, path, VM_MAX_PATH);
	if (!ret && path)
		ret = check_readable_file("kernel", path);
	if (!ret && initramfs)
		ret = config_dup_string(&tmp.initramfs_path, initramfs, VM_MAX_PATH);
	if (!ret && initramfs)
		ret = check_readable_file("initramfs", initramfs);
	if (!ret)
		ret = config_dup_string(&tmp.extra_cmdline, cmdline, VM_MAX_CMDLINE);
	if (ret < 0) {
		vm_config_release(&tmp);
		return ret;
	}

	free(cfg->kernel_path);
	free(cfg->initramfs_path);
	free(cfg->extra_cmdline);
	cfg->kernel_source = path ? KERNEL_FILE : KERNEL_BUNDLED;
	cfg->kernel_path = tmp.kernel_path;
	cfg->kernel_format = format;
	cfg->initramfs_path = tmp.initramfs_path;
	cfg->extra_cmdline = tmp.extra_cmdline;
	return 0;
}

int vm_config_set_kernel_console(struct vm_config *cfg, const char *console)
{
	if (!console || !*console || strpbrk(console, " \t\n"))
		return -EINVAL;
	return config_dup_string(&cfg->kernel_console, console, 64);
}

int vm_config_set_console_output(struct vm_config *cfg, const char *path)
{
	if (!path || !*path)
		return -EINVAL;
	return config_dup_string(&cfg->console_output, path, VM_MAX_PATH);
}

static int check_directory(const char *what, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		int err = errno;

		pr_err("%s %s: %s", what, path, strerror(err));
		return -err;
	}
	if (!S_ISDIR(st.st_mode)) {
		pr_err("%s %s is not a directory", what, path);
		return -ENOTDIR;
	}
	return 0;
}

int vm_config_set_root(struct vm_config *cfg, const char *path)
{
	int ret;

	if (!path || !*path)
		return -EINVAL;
	ret = check_directory("root", path);
	if (!ret)
		ret = config_dup_string(&cfg->root_path, path, VM_MAX_PATH);
	if (!ret)
		cfg->root_read_only = false;
	return ret;
}

#define VIRTIO_FS_TAG_MAX 36

int vm_config_set_share_mode(struct vm_config *cfg, const char *tag, uint32_t mode)
{
	bool strict = mode == KRUN_SHARE_MODE_STRICT, found = false;

	if (mode != KRUN_SHARE_MODE_COMPAT && mode != KRUN_SHARE_MODE_STRICT)
		return -EINVAL;
	if ((!tag || !strcmp(tag, KRUN_FS_ROOT_TAG)) && cfg->root_path) {
		cfg->root_strict = strict;
		found = true;
	}
	for (unsigned int i = 0; i < cfg->nshares; i++) {
		if (!tag || !strcmp(cfg->shares[i].tag, tag)) {
			cfg->shares[i].strict = strict;
			found = true;
		}
	}
	if (!found && tag) {
		pr_err("krun_set_share_mode: no virtio-fs share with tag \"%.40s\"", tag);
		return -ENOENT;
	}
	return 0;
}

int vm_config_add_share(struct vm_config *cfg, const char *tag, const char *path, bool read_only)
{
	struct fs_share share = {0};
	int ret;

	if (!tag || !*tag || !path || !*path)
		return -EINVAL;
	if (strlen(tag) > VIRTIO_FS_TAG_MAX) {
		pr_err("virtio-fs tag '%.40s...' longer than %d bytes", tag, VIRTIO_FS_TAG_MAX);
		return -ENAMETOOLONG;
	}
	if (!strcmp(tag, KRUN_FS_ROOT_TAG)) {
		ret = vm_config_set_root(cfg, path);
		if (!ret)
			cfg->root_read_only = read_only;
		return ret;
	}
	for (unsigned int i = 0; i < cfg->nshares; i++) {
		if (!strcmp(cfg->shares[i].tag, tag)) {
			pr_err("virtio-fs tag %s is already used", tag);
			return -EEXIST;
		}
	}
	if (cfg->nshares == VM_MAX_SHARES)
		return -ENOSPC;
	ret = check_directory("shared directory", path);
	if (!ret)
		ret = config_dup_string(&share.tag, tag, VIRTIO_FS_TAG_MAX);
	if (!ret)
		ret = config_dup_string(&share.path, path, VM_MAX_PATH);
	if (ret) {
		free(share.tag);
		free(share.path);
		return ret;
	}
	share.read_only = read_only;
	cfg->shares[cfg->nshares++] = share;
	return 0;
}

static int add_volume(struct vm_config *cfg, const char *spec)
{
	char *copy = strndup(spec, VM_MAX_PATH * 2 + 4), *guest, *mode, tag[16];
	bool ro = false;
	int ret = -EINVAL;

	if (!copy)
		return -ENOMEM;
	guest = strchr(copy, ':');
	if (!guest)
		goto out;
	*guest++ = 0;
	mode = strchr(guest, ':');
	if (mode) {
		*mode++ = 0;
		if (strcmp(mode, "ro") && strcmp(mode, "rw"))
			goto out;
		ro = !strcmp(mode, "ro");
	}
	if (!*copy || guest[0] != '/' || !strcmp(guest, "/"))
		goto out;
	snprintf(tag, sizeof(tag), "krun-vol%u", cfg->nshares);
	ret = vm_config_add_share(cfg, tag, copy, ro);
	if (!ret)
		ret = config_dup_string(&cfg->shares[cfg->nshares - 1].mount_point, guest,
					VM_MAX_PATH);
out:
	if (ret == -EINVAL)
		pr_err("bad volume '%.80s' (want HOST:GUEST[:ro], GUEST absolute)", spec);
	free(copy);
	return ret;
}

int vm_config_set_mapped_volumes(struct vm_config *cfg, const char *const volumes[])
{
	if (!volumes)
		return -EINVAL;
	for (size_t i = 0; volumes[i]; i++) {
		int ret = add_volume(cfg, volumes[i]);

		if (ret < 0)
			return ret;
	}
	return 0;
}

int vm_config_set_env(struct vm_config *cfg, const char *const envp[])
{
	if (!envp)
		envp = (const char *const *)environ;
	for (size_t i = 0; envp[i]; i++) {
		if (!strchr(envp[i], '=')) {
			pr_err("environment entry '%.64s' has no '='", envp[i]);
			return -EINVAL;
		}
	}
	return config_dup_string_array(&cfg->envp, envp);
}

int vm_config_set_exec(struct vm_config *cfg, const char *path, const char *const argv[],
		       const char *const envp[])
{
	static const char *const no_args[] = {NULL};
	char **saved_argv = NULL;
	int ret;

	if (!path || !*path)
		return -EINVAL;
	ret = config_dup_string_array(&saved_argv, argv ? argv : no_args);
	if (ret < 0)
		return ret;
	ret = vm_config_set_env(cfg, envp);
	if (!ret)
		ret = config_dup_string(&cfg->exec_path, path, VM_MAX_PATH);
	if (ret < 0) {
		config_free_string_array(saved_argv);
		return ret;
	}
	config_free_string_array(cfg->argv);
	cfg->argv = saved_argv;
	return 0;
}

int vm_config_set_workdir(struct vm_config *cfg, const char *path)
{
	if (!path || !*path)
		return -EINVAL;
	return config_dup_string(&cfg->workdir, path, VM_MAX_PATH);
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},		  {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},	  {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},	  {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},	  {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},	  {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},	  {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},	  {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static int parse_rlimit_value(const char *s, char **end, uint64_t *out)
{
	if (!strncmp(s, "unlimited", 9) || !strncmp(s, "-1", 2)) {
		*end = (char *)s + (s[0] == '-' ? 2 : 9);
		*out = UINT64_MAX;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, end, 10);
	return errno ? -EINVAL : 0;
}

/*
 * "RESOURCE=CUR:MAX": RESOURCE is an RLIMIT_* name, its number, or the name
 * without the RLIMIT_ prefix; CUR and MAX are numbers or "unlimited".
 */
int config_parse_rlimit(const char *spec, int *resource, uint64_t *cur, uint64_t *max)
{
	const char *eq = strchr(spec, '=');
	char name[32], *end;
	size_t len;

	if (!eq || eq == spec || (len = (size_t)(eq - spec)) >= sizeof(name))
		return -EINVAL;
	memcpy(name, spec, len);
	name[len] = 0;

	*resource = -1;
	for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++) {
		if (!strcasecmp(name, rlimit_names[i].name) ||
		    !strcasecmp(name, rlimit_names[i].name + 7))
			*resource = rlimit_names[i].resource;
	}
	if (*resource < 0) {
		long n = strtol(name, &end, 10);

		if (*end || n < 0 || n >= RLIM_NLIMITS)
			return -EINVAL;
		*resource = (int)n;
	}
	if (parse_rlimit_value(eq + 1, &end, cur) < 0 || *end != ':')
		return -EINVAL;
	if (parse_rlimit_value(end + 1, &end, max) < 0 || *end)
		return -EINVAL;
	if (*cur > *max)
		return -EINVAL;
	return 0;
}

int vm_config_set_rlimits(struct vm_config *cfg, const char *const rlimits[])
{
	if (!rlimits)
		return -EINVAL;
	for (size_t i = 0; rlimits[i]; i++) {
		int resource;
		uint64_t cur, max;

		if (config_parse_rlimit(rlimits[i], &resource, &cur, &max) < 0) {
			pr_err("bad rlimit '%.64s' (want RESOURCE=CUR:MAX)", rlimits[i]);
			return -EINVAL;
		}
	}
	return config_dup_string_array(&cfg->rlimits, rlimits);
}

int vm_config_validate(const struct vm_config *cfg)
{
	if (cfg->kernel_source == KERNEL_FILE && !cfg->kernel_path)
		return -EINVAL;
	return vm_config_validate_vsock(cfg);
}

/* The first console added through the API that has a console (hvc) port. */
static const char *first_added_console(const struct vm_config *cfg)
{
	for (unsigned int i = 0; i < cfg->nconsoles; i++) {
		const struct console_config *c = &cfg->consoles[i];

		if (c->kind == CONSOLE_SERIAL)
			return "ttyS0";
		if (c->kind == CONSOLE_VIRTIO_DEFAULT)
			return "hvc0";
		for (unsigned int j = 0; j < c->nports; j++)
			if (c->ports[j].tty)
				return "hvc0";
	}
	return NULL;
}

/*
 * The guest console: krun_set_kernel_console() if given; else the implicit
 * console: virtio-console (hvc0) when the guest runs a workload from a root
 * share, the 8250 UART (ttyS0) for a plain kernel + initramfs; without the
 * implicit console, the first console added through the API.
 */
const char *vm_config_console(const struct vm_config *cfg)
{
	const char *added = first_added_console(cfg);

	if (cfg->kernel_console)
		return cfg->kernel_console;
	if (cfg->no_implicit_console && added)
		return added;
	return cfg->root_path && !cfg->no_implicit_console ? "hvc0" : "ttyS0";
}

/* UARTs the VM has: the implicit console's COM1 and the added ones, at least one. */
unsigned int vm_config_uart_count(const struct vm_config *cfg)
{
	unsigned int n = vm_config_serial_count(cfg) + !cfg->no_implicit_console;

	return n ? n : 1;
}

/*
 * The kernel command line: ours first, the user's (krun_set_kernel) last so
 * that it wins where the kernel takes the last value of a parameter.
 *  reboot=k        reboot through the i8042 reset line: the VMM sees it
 *  panic=-1        a panic reboots at once instead of hanging
 *  io_delay=none   no port 0x80 writes (each one would be a VM exit)
 *  no_timer_check  skip the IOAPIC timer check; the in-kernel PIT is fine
 */
int vm_config_cmdline(const struct vm_config *cfg, const char *devices, char *buf, size_t len)
{
	bool init = cfg->root_path && !cfg->no_implicit_init;
	int n = snprintf(buf, len,
			 "reboot=k panic=-1 panic_print=0 nomodule io_delay=none no_timer_check "
			 "8250.nr_uarts=%u console=%s quiet%s%s%s%s%s",
			 vm_config_uart_count(cfg), vm_config_console(cfg), devices ? devices : "",
			 cfg->root_path ? " rootfstype=virtiofs root=" KRUN_FS_ROOT_TAG " rw" : "",
			 init ? " init=" KRUN_INIT_PATH : "", cfg->extra_cmdline ? " " : "",
			 cfg->extra_cmdline ? cfg->extra_cmdline : "");

	if (n < 0 || (size_t)n >= len || (size_t)n >= VM_MAX_CMDLINE)
		return -E2BIG;
	return n;
}

/*
 * Each string is 1..VM_MAX_OEM_STRING_LEN bytes (an empty one would end the
 * structure's string set early), at most VM_MAX_OEM_STRINGS of them and
 * VM_MAX_OEM_STRINGS_SIZE bytes in all, NULs included. An empty list clears.
 */
int vm_config_set_oem_strings(struct vm_config *cfg, const char *const strings[])
{
	size_t n, total = 0;

	if (!strings) {
		pr_err("SMBIOS OEM strings: NULL array");
		return -EINVAL;
	}
	for (n = 0; strings[n]; n++) {
		size_t len = strnlen(strings[n], VM_MAX_OEM_STRING_LEN + 1);

		if (n == VM_MAX_OEM_STRINGS) {
			pr_err("more than %d SMBIOS OEM strings", VM_MAX_OEM_STRINGS);
			return -EINVAL;
		}
		if (!len || len > VM_MAX_OEM_STRING_LEN) {
			pr_err("SMBIOS OEM string #%zu is empty or longer than %d bytes", n,
			       VM_MAX_OEM_STRING_LEN);
			return -EINVAL;
		}
		total += len + 1;
		if (total > VM_MAX_OEM_STRINGS_SIZE) {
			pr_err("SMBIOS OEM strings longer than %d bytes in all",
			       VM_MAX_OEM_STRINGS_SIZE);
			return -EINVAL;
		}
	}
	if (n)
		return config_dup_string_array(&cfg->oem_strings, strings);
	config_free_string_array(cfg->oem_strings);
	cfg->oem_strings = NULL;
	return 0;
}
