// SPDX-License-Identifier: Apache-2.0
/*
 * Devices of later versions (GPU, input, vhost-user): the configuration keeps what
 * the API was given, checked, so that the VM can be refused by name at start and, once the devices
 * exist, built from the same data.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"
#include "vmm/log.h"

void vm_config_release_pending(struct vm_config *cfg)
{
	(void)cfg;
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
	name_kind(buf, len, &kinds, "virtio-gpu", p->gpu + p->displays, "setting");
	name_kind(buf, len, &kinds, "virtio-input", p->input, "device");
	name_kind(buf, len, &kinds, "vhost-user", p->vhost_user, "device");
	return kinds;
}
