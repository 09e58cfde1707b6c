// SPDX-License-Identifier: Apache-2.0
/*
 * The order devices are created in, which is also the order the guest finds
 * its virtio devices: the consoles come before the shares because init's
 * instructions (on the root share) name the stdio ports they made. vsock,
 * the entropy source and the balloon come next: every VM has them, and the
 * other devices keep their places. The disks come last, in the order they
 * were added (vda, vdb, ...).
 */
#include <stddef.h>

#include "devices/builders.h"

const struct device_builder *const device_builders[] = {
    &legacy_devices_builder,
    &consoles_builder,
    &fs_shares_builder,
    &vsock_builder,
    &rng_builder,     /* implicit */
    &balloon_builder, /* implicit */
    &disks_builder,
    &net_builder, /* eth0, eth1... after the disks */
    NULL,
};
