/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_MEMORY_H
#define KRUN_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#define GUEST_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	struct guest_region regions[GUEST_MAX_REGIONS];
	unsigned int nregions;
	uint64_t ram_size;
	uint8_t *mapping; /* one host mapping backs every region */
};

/* Lay out ram_size bytes around the MMIO hole and map them. */
int guest_mem_init(struct guest_mem *mem, uint64_t ram_size);
void guest_mem_release(struct guest_mem *mem);

/*
 * Host pointer to [gpa, gpa+len) if the whole range is RAM in one region,
 * NULL otherwise. Every guest-supplied address goes through this.
 */
void *guest_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy into guest RAM; -EFAULT if the range is not RAM. */
int guest_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);

#endif
