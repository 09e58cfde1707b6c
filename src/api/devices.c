// SPDX-License-Identifier: Apache-2.0
/*
 * Entry points that add or shape devices: consoles, in-memory overlay
 * entries of virtio-fs shares, the built-in init, and the shutdown eventfd.
 * Each is a check of its arguments and one call into the configuration.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "api/ctx.h"
#include "libkrun.h"
#include "vmm/log.h"
#include "vmm/util.h"

KRUN_EXPORT int32_t krun_disable_implicit_console(uint32_t ctx_id)
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_disable_implicit_console(cfg));
}

KRUN_EXPORT int32_t krun_add_virtio_console_default(uint32_t ctx_id, int input_fd, int output_fd,
						    int err_fd)
{
	return WITH_CONFIG(ctx_id, cfg,
			   vm_config_add_virtio_console(cfg, input_fd, output_fd, err_fd));
}

KRUN_EXPORT int32_t krun_add_serial_console_default(uint32_t ctx_id, int input_fd, int output_fd)
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_add_serial_console(cfg, input_fd, output_fd));
}

KRUN_EXPORT int32_t krun_add_virtio_console_multiport(uint32_t ctx_id)
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_add_multiport_console(cfg));
}

KRUN_EXPORT int32_t krun_add_console_port_tty(uint32_t ctx_id, uint32_t console_id,
					      const char *name, int tty_fd)
{
	NEED(name && tty_fd >= 0);
	return WITH_CONFIG(ctx_id, cfg,
			   vm_config_add_console_port(cfg, console_id, name, tty_fd, tty_fd, true));
}

KRUN_EXPORT int32_t krun_add_console_port_inout(uint32_t ctx_id, uint32_t console_id,
						const char *name, int input_fd, int output_fd)
{
	NEED(name);
	return WITH_CONFIG(
	    ctx_id, cfg,
	    vm_config_add_console_port(cfg, console_id, name, input_fd, output_fd, false));
}

KRUN_EXPORT int32_t krun_fs_add_overlay_file(uint32_t ctx_id, const char *fs_tag, const char *path,
					     const uint8_t *data, size_t data_len, uint32_t mode,
					     bool one_shot)
{
	NEED(fs_tag && path && (data || !data_len));
	return WITH_CONFIG(
	    ctx_id, cfg,
	    vm_config_add_overlay(cfg, fs_tag, path, data, data_len, mode, false, one_shot));
}

KRUN_EXPORT int32_t krun_fs_add_overlay_dir(uint32_t ctx_id, const char *fs_tag, const char *path,
					    uint32_t mode)
{
	NEED(fs_tag && path);
	return WITH_CONFIG(ctx_id, cfg,
			   vm_config_add_overlay(cfg, fs_tag, path, NULL, 0, mode, true, false));
}

KRUN_EXPORT int32_t krun_disable_implicit_init(uint32_t ctx_id)
{
	return WITH_CONFIG(ctx_id, cfg, (cfg->no_implicit_init = true, 0));
}

KRUN_EXPORT int32_t krun_get_shutdown_eventfd(uint32_t ctx_id)
{
	return WITH_CONFIG(ctx_id, cfg, vm_config_shutdown_eventfd(cfg));
}
