// SPDX-License-Identifier: Apache-2.0
/*
 * The order devices are created in, which is also the order the guest finds
 * its virtio devices: the consoles come before the shares because init's
 * instructions (on the root share) name the stdio ports they made.
 */
#include <stddef.h>

#include "devices/builders.h"

const struct device_builder *const device_builders[] = {
    &legacy_devices_builder,
    &consoles_builder,
    &fs_shares_builder,
    NULL,
};
