/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_X86_SMBIOS_H
#define KRUN_X86_SMBIOS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm/memory.h"

/* The 64-bit entry point is 24 bytes; the structure table follows at +32. */
#define SMBIOS_EP3_SIZE	    24
#define SMBIOS_TABLE_OFFSET 32

#define SMBIOS_TYPE_BIOS	0
#define SMBIOS_TYPE_SYSTEM	1
#define SMBIOS_TYPE_OEM_STRINGS 11
#define SMBIOS_TYPE_END		127

/*
 * Build the SMBIOS 3.0 tables into buf, which the guest sees at addr: the
 * "_SM3_" entry point at buf[0], the structure table at SMBIOS_TABLE_OFFSET
 * (BIOS, system, OEM strings when oem_strings has any, end of table).
 * oem_strings is NULL-terminated, or NULL. Returns the bytes used, -EINVAL
 * for an empty string or more than 255 of them, -ENOSPC if len is too small.
 */
ssize_t x86_build_smbios(void *buf, size_t len, uint64_t addr, const char *const *oem_strings);

/* Build them in guest memory at SMBIOS_ADDR. */
int x86_setup_smbios(const struct guest_mem *mem, const char *const *oem_strings);

#endif
