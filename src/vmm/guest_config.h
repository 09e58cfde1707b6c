/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_GUEST_CONFIG_H
#define KRUN_GUEST_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

/*
 * Serialize what init needs (src/guest_abi.h) from the VM configuration and
 * the NULL-terminated list of named console ports the workload's stdio uses.
 * Returns a malloc'd buffer and its length, or NULL.
 */
uint8_t *guest_config_build(const struct vm_config *cfg, const char *const ports[], size_t *len);

/* The guest init program embedded in the library. */
extern const uint8_t krun_init_blob[];
extern const size_t krun_init_blob_size;

#endif
