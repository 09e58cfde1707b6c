// SPDX-License-Identifier: Apache-2.0
/*
 * The device part of the VM configuration: consoles added one by one,
 * in-memory overlay entries of virtio-fs shares, and the shutdown request
 * eventfd. Plain data like the rest of config.c; vm.c builds the devices.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libkrun.h"
#include "vmm/config.h"
#include "vmm/log.h"

#define CONSOLE_NAME_MAX 31 /* the device keeps port names in 32 bytes */

void vm_config_release_devices(struct vm_config *cfg)
{
	for (unsigned int i = 0; i < cfg->nconsoles; i++)
		for (unsigned int j = 0; j < cfg->consoles[i].nports; j++)
			free(cfg->consoles[i].ports[j].name);
	for (unsigned int i = 0; i < cfg->noverlays; i++) {
		free(cfg->overlays[i].tag);
		free(cfg->overlays[i].path);
	}
	if (cfg->shutdown_efd >= 0)
		close(cfg->shutdown_efd);
}

int vm_config_disable_implicit_console(struct vm_config *cfg)
{
	cfg->no_implicit_console = true;
	return 0;
}

static bool valid_fd(int fd)
{
	return fd == -1 || (fd >= 0 && fcntl(fd, F_GETFD) != -1);
}

static int add_console(struct vm_config *cfg, enum console_kind kind, int in_fd, int out_fd,
		       int err_fd)
{
	struct console_config *con;

	if (!valid_fd(in_fd) || !valid_fd(out_fd) || !valid_fd(err_fd)) {
		pr_err("console: bad file descriptor (%d, %d, %d)", in_fd, out_fd, err_fd);
		return -EBADF;
	}
	if (cfg->nconsoles == VM_MAX_CONSOLES) {
		pr_err("console: at most %d consoles", VM_MAX_CONSOLES);
		return -ENOSPC;
	}
	con = &cfg->consoles[cfg->nconsoles];
	memset(con, 0, sizeof(*con));
	con->kind = kind;
	con->in_fd = in_fd;
	con->out_fd = out_fd;
	con->err_fd = err_fd;
	return (int)cfg->nconsoles++;
}

int vm_config_add_virtio_console(struct vm_config *cfg, int in_fd, int out_fd, int err_fd)
{
	return add_console(cfg, CONSOLE_VIRTIO_DEFAULT, in_fd, out_fd, err_fd);
}

unsigned int vm_config_serial_count(const struct vm_config *cfg)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < cfg->nconsoles; i++)
		n += cfg->consoles[i].kind == CONSOLE_SERIAL;
	return n;
}

int vm_config_add_serial_console(struct vm_config *cfg, int in_fd, int out_fd)
{
	/* The implicit console keeps COM1 unless it was disabled. */
	unsigned int max = cfg->no_implicit_console ? VM_MAX_SERIALS : VM_MAX_SERIALS - 1;

	if (vm_config_serial_count(cfg) >= max) {
		pr_err("console: no free serial port (COM1, COM2; COM1 belongs to the implicit "
		       "console unless krun_disable_implicit_console() was called)");
		return -ENOSPC;
	}
	return add_console(cfg, CONSOLE_SERIAL, in_fd, out_fd, -1);
}

int vm_config_add_multiport_console(struct vm_config *cfg)
{
	return add_console(cfg, CONSOLE_VIRTIO_MULTIPORT, -1, -1, -1);
}

static bool port_name_taken(const struct vm_config *cfg, const char *name)
{
	for (unsigned int i = 0; i < cfg->nconsoles; i++)
		for (unsigned int j = 0; j < cfg->consoles[i].nports; j++)
			if (!strcmp(cfg->consoles[i].ports[j].name, name))
				return true;
	return false;
}

int vm_config_add_console_port(struct vm_config *cfg, uint32_t console_id, const char *name,
			       int in_fd, int out_fd, bool tty)
{
	struct console_config *con;
	struct console_port_config *port;

	if (console_id >= cfg->nconsoles ||
	    cfg->consoles[console_id].kind != CONSOLE_VIRTIO_MULTIPORT) {
		pr_err("console %u is not a multi-port virtio console", console_id);
		return -EINVAL;
	}
	if (!name || strlen(name) > CONSOLE_NAME_MAX || (*name && port_name_taken(cfg, name))) {
		pr_err("console port name missing, longer than %d bytes, or already used",
		       CONSOLE_NAME_MAX);
		return -EINVAL;
	}
	if (!valid_fd(in_fd) || !valid_fd(out_fd)) {
		pr_err("console port %s: bad file descriptor (%d, %d)", name, in_fd, out_fd);
		return -EBADF;
	}
	if (tty && !isatty(in_fd)) {
		pr_err("console port %s: fd %d is not a terminal", name, in_fd);
		return -ENOTTY;
	}
	con = &cfg->consoles[console_id];
	if (con->nports == VM_MAX_CONSOLE_PORTS) {
		pr_err("console %u: at most %d ports", console_id, VM_MAX_CONSOLE_PORTS);
		return -ENOSPC;
	}
	port = &con->ports[con->nports];
	port->name = strdup(name);
	if (!port->name)
		return -ENOMEM;
	port->in_fd = in_fd;
	port->out_fd = out_fd;
	port->tty = tty;
	con->nports++;
	return 0;
}

static bool overlay_path_ok(const char *path)
{
	/* Relative to the share's root, no empty, "." or ".." component. */
	const char *p = path;

	if (!*p || *p == '/' || strlen(path) >= VM_MAX_PATH)
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p)
			p++;
		if (!*p && p[-1] == '/')
			return false;
	}
	return true;
}

int vm_config_add_overlay(struct vm_config *cfg, const char *tag, const char *path,
			  const uint8_t *data, size_t len, uint32_t mode, bool is_dir,
			  bool one_shot)
{
	uint32_t type = is_dir ? S_IFDIR : S_IFREG;
	struct overlay_config *o;

	if (*path == '/')
		path++; /* "/etc/x" and "etc/x" mean the same entry */
	if ((mode & S_IFMT) == type)
		mode &= ~(uint32_t)S_IFMT; /* a full st_mode is fine too */
	if (!tag || !*tag || !overlay_path_ok(path) || (!data && len) || (mode & ~07777u)) {
		pr_err("overlay %s: bad tag, path or mode", path);
		return -EINVAL;
	}
	if (cfg->noverlays == VM_MAX_OVERLAYS) {
		pr_err("at most %d overlay entries", VM_MAX_OVERLAYS);
		return -ENOSPC;
	}
	o = &cfg->overlays[cfg->noverlays];
	memset(o, 0, sizeof(*o));
	o->tag = strdup(tag);
	o->path = strdup(path);
	if (!o->tag || !o->path) {
		free(o->tag);
		free(o->path);
		return -ENOMEM;
	}
	o->data = data;
	o->len = len;
	o->mode = mode;
	o->is_dir = is_dir;
	o->one_shot = one_shot;
	cfg->noverlays++;
	return 0;
}

int vm_config_shutdown_eventfd(struct vm_config *cfg)
{
	if (cfg->shutdown_efd < 0) {
		cfg->shutdown_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (cfg->shutdown_efd < 0) {
			int err = errno;

			pr_err("shutdown eventfd: %s", strerror(err));
			return -err;
		}
	}
	return cfg->shutdown_efd;
}
