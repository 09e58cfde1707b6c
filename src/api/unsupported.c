// SPDX-License-Identifier: Apache-2.0
/*
 * Entry points whose device or platform this build does not have yet. Each
 * checks its context and arguments like the real thing, then refuses with
 * -ENOTSUP and a log line naming what is missing: never a silent no-op.
 */
#include <errno.h>
#include <string.h>

#include "api/ctx.h"
#include "libkrun.h"
#include "vmm/log.h"
#include "vmm/util.h"

static int32_t refuse(uint32_t ctx_id, const char *fn, const char *what)
{
	struct vm_config *cfg = ctx_get(ctx_id, fn);

	ctx_put();
	if (!cfg)
		return -EINVAL;
	pr_err("%s: %s is not supported by this build", fn, what);
	return -ENOTSUP;
}

/* Disks (virtio-blk) */

KRUN_EXPORT int32_t krun_set_root_disk(uint32_t ctx_id, const char *disk_path)
{
	NEED(disk_path && *disk_path);
	return refuse(ctx_id, __func__, "virtio-blk");
}

KRUN_EXPORT int32_t krun_set_data_disk(uint32_t ctx_id, const char *disk_path)
{
	NEED(disk_path && *disk_path);
	return refuse(ctx_id, __func__, "virtio-blk");
}

KRUN_EXPORT int32_t krun_add_disk(uint32_t ctx_id, const char *block_id, const char *disk_path,
				  bool read_only)
{
	(void)read_only;
	NEED(block_id && *block_id && disk_path && *disk_path);
	return refuse(ctx_id, __func__, "virtio-blk");
}

KRUN_EXPORT int32_t krun_add_disk2(uint32_t ctx_id, const char *block_id, const char *disk_path,
				   uint32_t disk_format, bool read_only)
{
	(void)read_only;
	NEED(block_id && *block_id && disk_path && *disk_path);
	NEED(disk_format <= KRUN_DISK_FORMAT_VMDK);
	return refuse(ctx_id, __func__, "virtio-blk");
}

KRUN_EXPORT int32_t krun_add_disk3(uint32_t ctx_id, const char *block_id, const char *disk_path,
				   uint32_t disk_format, bool read_only, bool direct_io,
				   uint32_t sync_mode)
{
	(void)read_only;
	(void)direct_io;
	NEED(block_id && *block_id && disk_path && *disk_path);
	NEED(disk_format <= KRUN_DISK_FORMAT_VMDK && sync_mode <= KRUN_SYNC_FULL);
	return refuse(ctx_id, __func__, "virtio-blk");
}

KRUN_EXPORT int32_t krun_set_root_disk_remount(uint32_t ctx_id, const char *device,
					       const char *fstype, const char *options)
{
	(void)fstype;
	(void)options;
	NEED(device && *device);
	return refuse(ctx_id, __func__, "virtio-blk");
}

/* Networking */

static bool valid_net_endpoint(const char *path, int fd)
{
	return (path && *path && fd == -1) || (!path && fd >= 0);
}

KRUN_EXPORT int32_t krun_add_net_unixstream(uint32_t ctx_id, const char *c_path, int fd,
					    uint8_t *const c_mac, uint32_t features,
					    uint32_t flags)
{
	(void)features;
	(void)flags;
	NEED(valid_net_endpoint(c_path, fd) && c_mac);
	return refuse(ctx_id, __func__, "virtio-net");
}

KRUN_EXPORT int32_t krun_add_net_unixgram(uint32_t ctx_id, const char *c_path, int fd,
					  uint8_t *const c_mac, uint32_t features, uint32_t flags)
{
	(void)features;
	(void)flags;
	NEED(valid_net_endpoint(c_path, fd) && c_mac);
	return refuse(ctx_id, __func__, "virtio-net");
}

KRUN_EXPORT int32_t krun_add_net_tap(uint32_t ctx_id, char *c_tap_name, uint8_t *const c_mac,
				     uint32_t features, uint32_t flags)
{
	(void)features;
	(void)flags;
	NEED(c_tap_name && *c_tap_name && strlen(c_tap_name) < 16 && c_mac);
	return refuse(ctx_id, __func__, "virtio-net");
}

KRUN_EXPORT int32_t krun_set_passt_fd(uint32_t ctx_id, int fd)
{
	NEED(fd >= 0);
	return refuse(ctx_id, __func__, "virtio-net");
}

KRUN_EXPORT int32_t krun_set_gvproxy_path(uint32_t ctx_id, char *c_path)
{
	NEED(c_path && *c_path);
	return refuse(ctx_id, __func__, "virtio-net");
}

KRUN_EXPORT int32_t krun_set_net_mac(uint32_t ctx_id, uint8_t *const c_mac)
{
	NEED(c_mac);
	return refuse(ctx_id, __func__, "virtio-net");
}

KRUN_EXPORT int32_t krun_set_port_map(uint32_t ctx_id, const char *const port_map[])
{
	(void)port_map;
	return refuse(ctx_id, __func__, "TSI port mapping (vsock)");
}

/* vsock */

KRUN_EXPORT int32_t krun_add_vsock_port(uint32_t ctx_id, uint32_t port, const char *c_filepath)
{
	(void)port;
	NEED(c_filepath && *c_filepath);
	return refuse(ctx_id, __func__, "virtio-vsock");
}

KRUN_EXPORT int32_t krun_add_vsock_port2(uint32_t ctx_id, uint32_t port, const char *c_filepath,
					 bool listen)
{
	(void)port;
	(void)listen;
	NEED(c_filepath && *c_filepath);
	return refuse(ctx_id, __func__, "virtio-vsock");
}

KRUN_EXPORT int32_t krun_add_vsock(uint32_t ctx_id, uint32_t tsi_features)
{
	NEED(!(tsi_features & ~(uint32_t)(KRUN_TSI_HIJACK_INET | KRUN_TSI_HIJACK_UNIX)));
	return refuse(ctx_id, __func__, "virtio-vsock");
}

KRUN_EXPORT int32_t krun_disable_implicit_vsock(uint32_t ctx_id)
{
	return refuse(ctx_id, __func__, "virtio-vsock");
}

/* GPU, displays, input */

KRUN_EXPORT int32_t krun_set_gpu_options(uint32_t ctx_id, uint32_t virgl_flags)
{
	(void)virgl_flags;
	return refuse(ctx_id, __func__, "virtio-gpu");
}

KRUN_EXPORT int32_t krun_set_gpu_options2(uint32_t ctx_id, uint32_t virgl_flags,
					  uint64_t shm_size)
{
	(void)virgl_flags;
	(void)shm_size;
	return refuse(ctx_id, __func__, "virtio-gpu");
}

KRUN_EXPORT int32_t krun_add_display(uint32_t ctx_id, uint32_t width, uint32_t height)
{
	NEED(width && height);
	return refuse(ctx_id, __func__, "virtio-gpu displays");
}

KRUN_EXPORT int32_t krun_display_set_edid(uint32_t ctx_id, uint32_t display_id,
					  const uint8_t *edid_blob, size_t blob_size)
{
	NEED(display_id < KRUN_MAX_DISPLAYS && edid_blob && blob_size);
	return refuse(ctx_id, __func__, "virtio-gpu displays");
}

KRUN_EXPORT int32_t krun_display_set_dpi(uint32_t ctx_id, uint32_t display_id, uint32_t dpi)
{
	NEED(display_id < KRUN_MAX_DISPLAYS && dpi);
	return refuse(ctx_id, __func__, "virtio-gpu displays");
}

KRUN_EXPORT int32_t krun_display_set_physical_size(uint32_t ctx_id, uint32_t display_id,
						   uint16_t width_mm, uint16_t height_mm)
{
	NEED(display_id < KRUN_MAX_DISPLAYS && width_mm && height_mm);
	return refuse(ctx_id, __func__, "virtio-gpu displays");
}

KRUN_EXPORT int32_t krun_display_set_refresh_rate(uint32_t ctx_id, uint32_t display_id,
						  uint32_t refresh_rate)
{
	NEED(display_id < KRUN_MAX_DISPLAYS && refresh_rate);
	return refuse(ctx_id, __func__, "virtio-gpu displays");
}

KRUN_EXPORT int32_t krun_set_display_dpi(uint32_t ctx_id, uint32_t dpi)
{
	NEED(dpi);
	return refuse(ctx_id, __func__, "virtio-gpu displays");
}

KRUN_EXPORT int32_t krun_set_display_physical_size(uint32_t ctx_id, uint16_t width_mm,
						   uint16_t height_mm)
{
	NEED(width_mm && height_mm);
	return refuse(ctx_id, __func__, "virtio-gpu displays");
}

KRUN_EXPORT int32_t krun_set_display_backend(uint32_t ctx_id, const void *display_backend,
					     size_t backend_size)
{
	NEED(display_backend && backend_size);
	return refuse(ctx_id, __func__, "display backends");
}

KRUN_EXPORT int krun_add_input_device(uint32_t ctx_id, const void *config_backend,
				      size_t config_backend_size, const void *events_backend,
				      size_t events_backend_size)
{
	NEED(config_backend && config_backend_size && events_backend && events_backend_size);
	return refuse(ctx_id, __func__, "virtio-input");
}

KRUN_EXPORT int krun_add_input_device_fd(uint32_t ctx_id, int input_fd)
{
	NEED(input_fd >= 0);
	return refuse(ctx_id, __func__, "virtio-input");
}

KRUN_EXPORT int32_t krun_add_vhost_user_device(uint32_t ctx_id, uint32_t device_type,
					       const char *socket_path, const char *name,
					       uint16_t num_queues, const uint16_t *queue_sizes)
{
	(void)name;
	(void)num_queues;
	(void)queue_sizes;
	NEED(device_type && socket_path && *socket_path);
	return refuse(ctx_id, __func__, "vhost-user");
}

/* Other VM features */

KRUN_EXPORT int32_t krun_split_irqchip(uint32_t ctx_id, bool enable)
{
	if (!enable)
		return WITH_CONFIG(ctx_id, cfg, (cfg->split_irqchip = false, 0));
	return refuse(ctx_id, __func__, "a split irqchip");
}

/* Platform features this VMM does not offer on x86_64 Linux */

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
