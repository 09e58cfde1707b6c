/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Port I/O and MMIO buses. A device registers address ranges with an ops
 * table; the vCPU threads dispatch exits to it. The bus is built before the
 * vCPUs start and never changes after, so dispatch takes no lock: devices
 * lock their own state.
 */
#ifndef KRUN_BUS_H
#define KRUN_BUS_H

#include <stdint.h>

#define BUS_MAX_DEVICES 64

struct bus_device;

struct bus_device_ops {
	const char *name;
	/* offset is relative to the range base; len is 1, 2, 4 or 8. */
	void (*read)(struct bus_device *dev, uint64_t offset, void *data, uint32_t len);
	void (*write)(struct bus_device *dev, uint64_t offset, const void *data, uint32_t len);
};

struct bus_device {
	const struct bus_device_ops *ops;
	uint64_t base;
	uint64_t len;
	void *priv;
};

struct bus {
	const char *name;
	struct bus_device devices[BUS_MAX_DEVICES];
	unsigned int ndevices;
};

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_device_ops *ops,
		 void *priv);
/* Returns false when nothing claims addr (reads then see all-ones). */
int bus_read(struct bus *bus, uint64_t addr, void *data, uint32_t len);
int bus_write(struct bus *bus, uint64_t addr, const void *data, uint32_t len);

#endif
