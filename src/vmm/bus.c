// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>

#include "vmm/bus.h"
#include "vmm/log.h"

static struct bus_device *bus_find(struct bus *bus, uint64_t addr, uint32_t len)
{
	for (unsigned int i = 0; i < bus->ndevices; i++) {
		struct bus_device *d = &bus->devices[i];

		if (addr >= d->base && addr - d->base < d->len && len <= d->len - (addr - d->base))
			return d;
	}
	return NULL;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_device_ops *ops,
		 void *priv)
{
	if (!len || base + len < base || bus->ndevices == BUS_MAX_DEVICES)
		return -EINVAL;
	for (unsigned int i = 0; i < bus->ndevices; i++) {
		struct bus_device *d = &bus->devices[i];

		if (base < d->base + d->len && d->base < base + len) {
			pr_err("%s bus: %s at 0x%llx overlaps %s", bus->name, ops->name,
			       (unsigned long long)base, d->ops->name);
			return -EBUSY;
		}
	}
	bus->devices[bus->ndevices++] = (struct bus_device){ops, base, len, priv};
	return 0;
}

int bus_read(struct bus *bus, uint64_t addr, void *data, uint32_t len)
{
	struct bus_device *d = bus_find(bus, addr, len);

	if (!d || !d->ops->read) {
		memset(data, 0xff, len);
		pr_trace("%s bus: unclaimed read at 0x%llx/%u", bus->name, (unsigned long long)addr,
			 len);
		return -ENOENT;
	}
	d->ops->read(d, addr - d->base, data, len);
	return 0;
}

int bus_write(struct bus *bus, uint64_t addr, const void *data, uint32_t len)
{
	struct bus_device *d = bus_find(bus, addr, len);

	if (!d || !d->ops->write) {
		pr_trace("%s bus: unclaimed write at 0x%llx/%u", bus->name,
			 (unsigned long long)addr, len);
		return -ENOENT;
	}
	d->ops->write(d, addr - d->base, data, len);
	return 0;
}
