// SPDX-License-Identifier: Apache-2.0
/*
 * Devices of later versions (disks, networking, TSI, GPU, input,
 * vhost-user): the configuration keeps what the API was given, checked, so
 * that the VM can be refused by name at start and, once the devices exist,
 * built from the same data.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"
#include "vmm/log.h"

int vm_config_add_disk(struct vm_config *cfg, const struct disk_config *disk)
{
	struct pending_devices *p = &cfg->pending;
	struct disk_config *d;

	for (unsigned int i = 0; i < p->ndisks; i++) {
		if (!strcmp(p->disks[i].id, disk->id)) {
			pr_err("disk \"%s\" was added already", disk->id);
			return -EEXIST;
		}
	}
	if (p->ndisks == VM_MAX_DISKS) {
		pr_err("at most %d disks", VM_MAX_DISKS);
		return -ENOSPC;
	}
	d = &p->disks[p->ndisks];
	*d = *disk;
	d->id = strdup(disk->id);
	d->path = strdup(disk->path);
	if (!d->id || !d->path) {
		free(d->id);
		free(d->path);
		return -ENOMEM;
	}
	p->ndisks++;
	return 0;
}

int vm_config_set_root_remount(struct vm_config *cfg, const char *device, const char *fstype,
			       const char *options)
{
	const char *in[3] = {device, fstype, options};
	char **out = cfg->pending.remount;

	for (int i = 0; i < 3; i++) {
		free(out[i]);
		out[i] = NULL;
		if (in[i] && config_dup_string(&out[i], in[i], VM_MAX_PATH) < 0)
			return -EINVAL;
	}
	return 0;
}

int vm_config_add_net(struct vm_config *cfg, const struct net_config *net)
{
	struct pending_devices *p = &cfg->pending;
	struct net_config *n;

	if (p->nnets == VM_MAX_NETS) {
		pr_err("at most %d network interfaces", VM_MAX_NETS);
		return -ENOSPC;
	}
	n = &p->nets[p->nnets];
	*n = *net;
	n->path = NULL;
	if (net->path && !(n->path = strdup(net->path)))
		return -ENOMEM;
	p->nnets++;
	return 0;
}

void vm_config_release_pending(struct vm_config *cfg)
{
	struct pending_devices *p = &cfg->pending;

	for (unsigned int i = 0; i < p->ndisks; i++) {
		free(p->disks[i].id);
		free(p->disks[i].path);
	}
	for (int i = 0; i < 3; i++)
		free(p->remount[i]);
	for (unsigned int i = 0; i < p->nnets; i++)
		free(p->nets[i].path);
	config_free_string_array(p->port_map);
}

static void name_kind(char *buf, size_t len, int *kinds, const char *name, unsigned int count,
		      const char *unit)
{
	size_t used = strlen(buf);

	if (!count || used >= len)
		return;
	snprintf(buf + used, len - used, "%s%s (%u %s%s)", *kinds ? ", " : "", name, count, unit,
		 count == 1 ? "" : "s");
	(*kinds)++;
}

int vm_config_pending_devices(const struct vm_config *cfg, char *buf, size_t len)
{
	const struct pending_devices *p = &cfg->pending;
	int kinds = 0;

	if (!len)
		return -EINVAL;
	buf[0] = '\0';
	name_kind(buf, len, &kinds, "virtio-blk", p->ndisks + (p->remount[0] != NULL), "setting");
	name_kind(buf, len, &kinds, "virtio-net", p->nnets + p->has_net_mac, "setting");
	name_kind(buf, len, &kinds, "TSI port map", p->port_map != NULL, "setting");
	name_kind(buf, len, &kinds, "virtio-gpu", p->gpu + p->displays, "setting");
	name_kind(buf, len, &kinds, "virtio-input", p->input, "device");
	name_kind(buf, len, &kinds, "vhost-user", p->vhost_user, "device");
	return kinds;
}
