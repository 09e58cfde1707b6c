// SPDX-License-Identifier: Apache-2.0
/*
 * Disks (virtio-blk): krun_add_disk*(), the older root/data disk calls, and
 * the root disk remount. Arguments are checked here and in the config.
 */
#include <errno.h>
#include <string.h>

#include "api/ctx.h"
#include "libkrun.h"
#include "vmm/log.h"
#include "vmm/util.h"

static int add_disk(uint32_t ctx_id, const char *id, const char *path, uint32_t format,
		    bool read_only, bool direct_io, uint32_t sync_mode)
{
	struct disk_config disk = {(char *)id, (char *)path, format,
				   read_only,  direct_io,    sync_mode};

	NEED(id && *id && path && *path && strlen(path) < VM_MAX_PATH);
	NEED(format <= KRUN_DISK_FORMAT_VMDK && sync_mode <= KRUN_SYNC_FULL);
	return WITH_CONFIG(ctx_id, cfg, vm_config_add_disk(cfg, &disk));
}

KRUN_EXPORT int32_t krun_set_root_disk(uint32_t ctx_id, const char *disk_path)
{
	return add_disk(ctx_id, "root", disk_path, KRUN_DISK_FORMAT_RAW, false, false,
			KRUN_SYNC_FULL);
}

KRUN_EXPORT int32_t krun_set_data_disk(uint32_t ctx_id, const char *disk_path)
{
	return add_disk(ctx_id, "data", disk_path, KRUN_DISK_FORMAT_RAW, false, false,
			KRUN_SYNC_FULL);
}

KRUN_EXPORT int32_t krun_add_disk(uint32_t ctx_id, const char *block_id, const char *disk_path,
				  bool read_only)
{
	return add_disk(ctx_id, block_id, disk_path, KRUN_DISK_FORMAT_RAW, read_only, false,
			KRUN_SYNC_FULL);
}

KRUN_EXPORT int32_t krun_add_disk2(uint32_t ctx_id, const char *block_id, const char *disk_path,
				   uint32_t disk_format, bool read_only)
{
	return add_disk(ctx_id, block_id, disk_path, disk_format, read_only, false, KRUN_SYNC_FULL);
}

KRUN_EXPORT int32_t krun_add_disk3(uint32_t ctx_id, const char *block_id, const char *disk_path,
				   uint32_t disk_format, bool read_only, bool direct_io,
				   uint32_t sync_mode)
{
	return add_disk(ctx_id, block_id, disk_path, disk_format, read_only, direct_io, sync_mode);
}

KRUN_EXPORT int32_t krun_set_root_disk_remount(uint32_t ctx_id, const char *device,
					       const char *fstype, const char *options)
{
	NEED(device && *device);
	return WITH_CONFIG(ctx_id, cfg, vm_config_set_root_remount(cfg, device, fstype, options));
}
