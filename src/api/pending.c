// SPDX-License-Identifier: Apache-2.0
/*
 * Entry points whose device comes in a later version (GPU and displays, input,
 * vhost-user). Each checks its context and arguments like the real thing and records the
 * configuration; the VM is then refused by krun_start_enter(), with a log line naming the devices,
 * instead of starting without them. Platform-only features (firmware, TEE)
 * are refused at once.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/ctx.h"
#include "libkrun.h"
#include "vmm/log.h"
#include "vmm/util.h"

/* GPU, displays, input, vhost-user: counted until their devices exist. */

#define COUNT(ctx_id, field) WITH_CONFIG(ctx_id, cfg, (cfg->pending.field++, 0))

KRUN_EXPORT int32_t krun_set_gpu_options(uint32_t ctx_id, uint32_t virgl_flags)
{
	(void)virgl_flags;
	return COUNT(ctx_id, gpu);
}

KRUN_EXPORT int32_t krun_set_gpu_options2(uint32_t ctx_id, uint32_t virgl_flags, uint64_t shm_size)
{
	(void)virgl_flags;
	(void)shm_size;
	return COUNT(ctx_id, gpu);
}

static int add_display(struct vm_config *cfg)
{
	if (cfg->pending.displays == KRUN_MAX_DISPLAYS) {
		pr_err("krun_add_display: at most %d displays", KRUN_MAX_DISPLAYS);
		return -ENOSPC;
	}
	return (int)cfg->pending.displays++;
}

/* Returns the display id. */
KRUN_EXPORT int32_t krun_add_display(uint32_t ctx_id, uint32_t width, uint32_t height)
{
	NEED(width && height && width <= 16384 && height <= 16384);
	return WITH_CONFIG(ctx_id, cfg, add_display(cfg));
}

/* The display_id must name a display added earlier. */
static int display_exists(struct vm_config *cfg, uint32_t display_id)
{
	if (display_id >= cfg->pending.displays) {
		pr_err("no display %u", display_id);
		return -EINVAL;
	}
	return 0;
}

KRUN_EXPORT int32_t krun_display_set_edid(uint32_t ctx_id, uint32_t display_id,
					  const uint8_t *edid_blob, size_t blob_size)
{
	NEED(display_id < KRUN_MAX_DISPLAYS && edid_blob && blob_size && blob_size % 128 == 0);
	return WITH_CONFIG(ctx_id, cfg, display_exists(cfg, display_id));
}

KRUN_EXPORT int32_t krun_display_set_dpi(uint32_t ctx_id, uint32_t display_id, uint32_t dpi)
{
	NEED(display_id < KRUN_MAX_DISPLAYS && dpi);
	return WITH_CONFIG(ctx_id, cfg, display_exists(cfg, display_id));
}

KRUN_EXPORT int32_t krun_display_set_physical_size(uint32_t ctx_id, uint32_t display_id,
						   uint16_t width_mm, uint16_t height_mm)
{
	NEED(display_id < KRUN_MAX_DISPLAYS && width_mm && height_mm);
	return WITH_CONFIG(ctx_id, cfg, display_exists(cfg, display_id));
}

KRUN_EXPORT int32_t krun_display_set_refresh_rate(uint32_t ctx_id, uint32_t display_id,
						  uint32_t refresh_rate)
{
	NEED(display_id < KRUN_MAX_DISPLAYS && refresh_rate);
	return WITH_CONFIG(ctx_id, cfg, display_exists(cfg, display_id));
}

KRUN_EXPORT int32_t krun_set_display_backend(uint32_t ctx_id, const void *display_backend,
					     size_t backend_size)
{
	NEED(display_backend && backend_size);
	return COUNT(ctx_id, gpu);
}

KRUN_EXPORT int krun_add_input_device(uint32_t ctx_id, const void *config_backend,
				      size_t config_backend_size, const void *events_backend,
				      size_t events_backend_size)
{
	NEED(config_backend && config_backend_size && events_backend && events_backend_size);
	return COUNT(ctx_id, input);
}

KRUN_EXPORT int krun_add_input_device_fd(uint32_t ctx_id, int input_fd)
{
	NEED(input_fd >= 0);
	return COUNT(ctx_id, input);
}

KRUN_EXPORT int32_t krun_add_vhost_user_device(uint32_t ctx_id, uint32_t device_type,
					       const char *socket_path, const char *name,
					       uint16_t num_queues, const uint16_t *queue_sizes)
{
	(void)name;
	NEED(device_type && socket_path && *socket_path);
	NEED(!num_queues || queue_sizes);
	return COUNT(ctx_id, vhost_user);
}

/* Platform features this VMM does not offer on x86_64 Linux: refused at once. */

static int32_t refuse(uint32_t ctx_id, const char *fn, const char *what)
{
	struct vm_config *cfg = ctx_get(ctx_id, fn);

	ctx_put();
	if (!cfg)
		return -EINVAL;
	pr_err("%s: %s is not supported by this build", fn, what);
	return -ENOTSUP;
}

KRUN_EXPORT int32_t krun_set_firmware(uint32_t ctx_id, const char *firmware_path)
{
	NEED(firmware_path && *firmware_path);
	return refuse(ctx_id, __func__, "booting firmware (EFI)");
}

KRUN_EXPORT int32_t krun_set_tee_config_file(uint32_t ctx_id, const char *filepath)
{
	NEED(filepath && *filepath);
	return refuse(ctx_id, __func__, "confidential computing (TEE)");
}
