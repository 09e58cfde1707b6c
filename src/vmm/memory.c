// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86_64/layout.h"
#include "vmm/log.h"
#include "vmm/memory.h"

int guest_mem_init(struct guest_mem *mem, uint64_t ram_size)
{
	uint64_t low = ram_size < MMIO_HOLE_START ? ram_size : MMIO_HOLE_START;
	void *map;

	memset(mem, 0, sizeof(*mem));
	/* Lazily backed: the guest only costs the host what it touches. */
	map = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED) {
		int err = errno;

		pr_err("cannot map %llu MiB of guest memory: %s",
		       (unsigned long long)(ram_size >> 20), strerror(err));
		return -err;
	}
	/*
	 * Never MADV_MERGEABLE: KSM merging and unmerging timings let one VM
	 * learn what another holds. A core dump of the VMM holds no guest
	 * memory.
	 */
	if (madvise(map, ram_size, MADV_DONTDUMP) < 0)
		pr_debug("guest memory: MADV_DONTDUMP: %s", strerror(errno));
	/*
	 * KRUN_GUEST_THP=1: transparent huge pages for guest memory, as QEMU
	 * asks for (MADV_HUGEPAGE). Off by default: a guest touching scattered
	 * pages would cost 2 MiB each. For comparisons (bench/blk.sh).
	 */
	if (getenv("KRUN_GUEST_THP") && !strcmp(getenv("KRUN_GUEST_THP"), "1") &&
	    madvise(map, ram_size, MADV_HUGEPAGE) < 0)
		pr_debug("guest memory: MADV_HUGEPAGE: %s", strerror(errno));

	mem->mapping = map;
	mem->ram_size = ram_size;
	mem->regions[0] = (struct guest_region){0, low, map};
	mem->nregions = 1;
	if (ram_size > low) {
		mem->regions[1] =
		    (struct guest_region){MMIO_HOLE_END, ram_size - low, (uint8_t *)map + low};
		mem->nregions = 2;
	}
	return 0;
}

void guest_mem_release(struct guest_mem *mem)
{
	if (mem->mapping)
		munmap(mem->mapping, mem->ram_size);
	memset(mem, 0, sizeof(*mem));
}

void *guest_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < mem->nregions; i++) {
		const struct guest_region *r = &mem->regions[i];

		/* Written so that no sum can overflow. */
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int guest_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = guest_ptr(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}
