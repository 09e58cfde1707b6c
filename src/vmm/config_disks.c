// SPDX-License-Identifier: Apache-2.0
/*
 * Disks (virtio-blk): what krun_add_disk*() and krun_set_root_disk_remount()
 * were given, checked. The guest finds the disks in the order they were
 * added (vda, vdb, ...); the image format is the caller's word, never probed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libkrun.h"
#include "vmm/config.h"
#include "vmm/log.h"

static bool valid_disk(const struct disk_config *disk)
{
	if (!disk->id || !*disk->id || strlen(disk->id) > VM_MAX_DISK_ID) {
		pr_err("a disk needs an id of 1 to %d bytes", VM_MAX_DISK_ID);
		return false;
	}
	if (!disk->path || !*disk->path || strlen(disk->path) >= VM_MAX_PATH) {
		pr_err("disk \"%s\": no or an over-long image path", disk->id);
		return false;
	}
	if (disk->format > KRUN_DISK_FORMAT_VMDK || disk->sync_mode > KRUN_SYNC_FULL) {
		pr_err("disk \"%s\": unknown format %u or sync mode %u", disk->id, disk->format,
		       disk->sync_mode);
		return false;
	}
	return true;
}

int vm_config_add_disk(struct vm_config *cfg, const struct disk_config *disk)
{
	struct disk_config *d;

	if (!valid_disk(disk))
		return -EINVAL;
	for (unsigned int i = 0; i < cfg->ndisks; i++) {
		if (!strcmp(cfg->disks[i].id, disk->id)) {
			pr_err("disk \"%s\" was added already", disk->id);
			return -EEXIST;
		}
	}
	if (cfg->ndisks == VM_MAX_DISKS) {
		pr_err("at most %d disks", VM_MAX_DISKS);
		return -ENOSPC;
	}
	d = &cfg->disks[cfg->ndisks];
	*d = *disk;
	d->id = strdup(disk->id);
	d->path = strdup(disk->path);
	if (!d->id || !d->path) {
		free(d->id);
		free(d->path);
		return -ENOMEM;
	}
	cfg->ndisks++;
	return 0;
}

int vm_config_set_root_remount(struct vm_config *cfg, const char *device, const char *fstype,
			       const char *options)
{
	struct root_remount r = {0};

	if (!device || device[0] != '/') {
		pr_err("root disk remount: the device must be an absolute path (/dev/vda)");
		return -EINVAL;
	}
	if (config_dup_string(&r.device, device, VM_MAX_PATH) < 0 ||
	    config_dup_string(&r.fstype, fstype, 64) < 0 ||
	    config_dup_string(&r.options, options, VM_MAX_PATH) < 0) {
		free(r.device);
		free(r.fstype);
		pr_err("root disk remount: over-long device, fstype or options");
		return -EINVAL;
	}
	free(cfg->remount.device);
	free(cfg->remount.fstype);
	free(cfg->remount.options);
	cfg->remount = r;
	return 0;
}

void vm_config_release_disks(struct vm_config *cfg)
{
	for (unsigned int i = 0; i < cfg->ndisks; i++) {
		free(cfg->disks[i].id);
		free(cfg->disks[i].path);
	}
	cfg->ndisks = 0;
	free(cfg->remount.device);
	free(cfg->remount.fstype);
	free(cfg->remount.options);
	memset(&cfg->remount, 0, sizeof(cfg->remount));
}

int vm_config_scratch_root(struct vm_config *cfg)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	if (cfg->root_path || !cfg->remount.device)
		return 0;
	if (asprintf(&dir, "%s/krun-root.XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
		return -ENOMEM;
	if (!mkdtemp(dir)) {
		int err = -errno;

		pr_err("root disk: cannot create an empty root directory %s: %s", dir,
		       strerror(errno));
		free(dir);
		return err;
	}
	cfg->root_path = dir;
	cfg->root_read_only = true;
	cfg->root_is_scratch = true;
	return 0;
}
