/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How devices come to exist: each device file owns a builder that reads the
 * VM config and creates what it asks for (nothing, when it asks for none).
 * vm_build() runs the builders of device_builders[] in order; a new device
 * adds its builder there, and nowhere else.
 */
#ifndef KRUN_DEVICE_BUILDERS_H
#define KRUN_DEVICE_BUILDERS_H

struct vm;

struct device_builder {
	const char *name;
	/* 0, or -errno after logging why (the VM is then not started). */
	int (*create)(struct vm *vm);
};

/* NULL-terminated, in creation order (builders.c). */
extern const struct device_builder *const device_builders[];

extern const struct device_builder legacy_devices_builder; /* arch: UARTs, i8042, RTC... */
extern const struct device_builder consoles_builder;	   /* virtio consoles, shutdown */
extern const struct device_builder fs_shares_builder;	   /* root share with init, others */
extern const struct device_builder vsock_builder;	   /* virtio-vsock, unless disabled */
extern const struct device_builder rng_builder;		   /* virtio-rng, always */
extern const struct device_builder balloon_builder;	   /* virtio-balloon, always */
extern const struct device_builder disks_builder;	   /* virtio-blk, one per disk */
extern const struct device_builder net_builder;		   /* virtio-net, one per interface */

#endif
