// SPDX-License-Identifier: Apache-2.0
/*
 * Linux x86 boot protocol structures: the zero page with its e820 map, the
 * GDT and identity page tables the 64-bit entry point expects.
 * (Documentation/arch/x86/boot.rst of the kernel sources.)
 */
#include <errno.h>
#include <string.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"
#include "vmm/util.h"

#define HDRS_MAGIC     0x53726448 /* "HdrS" */
#define BOOT_FLAG      0xaa55
#define LOADER_UNKNOWN 0xff

static unsigned int add_e820(struct boot_e820_entry *t, unsigned int n, unsigned int max,
			     uint64_t addr, uint64_t size, uint32_t type)
{
	if (n >= max || !size)
		return n;
	t[n].addr = addr;
	t[n].size = size;
	t[n].type = type;
	return n + 1;
}

unsigned int x86_build_e820(struct boot_e820_entry *table, unsigned int max, uint64_t ram_size)
{
	uint64_t low_end = MIN(ram_size, MMIO_HOLE_START);
	unsigned int n = 0;

	/* Base memory, then the EBDA, VGA and BIOS areas (MP table) as reserved. */
	n = add_e820(table, n, max, 0, BASE_MEMORY_END, E820_RAM);
	n = add_e820(table, n, max, BASE_MEMORY_END, HIGH_MEMORY_START - BASE_MEMORY_END,
		     E820_RESERVED);
	n = add_e820(table, n, max, HIGH_MEMORY_START, low_end - HIGH_MEMORY_START, E820_RAM);
	if (ram_size > MMIO_HOLE_START)
		n = add_e820(table, n, max, MMIO_HOLE_END, ram_size - MMIO_HOLE_START, E820_RAM);
	return n;
}

int x86_build_zero_page(struct boot_params *bp, const struct boot_info *info)
{
	struct setup_header *hdr = &bp->hdr;

	if (info->cmdline_size == 0 || info->ram_size < HIGH_MEMORY_START + 16 * MiB)
		return -EINVAL;

	if (info->setup) {
		/* A bzImage: keep its header (init_size, alignment...), then patch. */
		*hdr = *info->setup;
	} else {
		hdr->boot_flag = BOOT_FLAG;
		hdr->header = HDRS_MAGIC;
		hdr->kernel_alignment = 0x1000000;
		hdr->cmdline_size = info->cmdline_size - 1;
	}
	hdr->type_of_loader = LOADER_UNKNOWN;
	hdr->loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	hdr->heap_end_ptr = 0xfe00;
	hdr->cmd_line_ptr = (uint32_t)info->cmdline_addr;
	bp->ext_cmd_line_ptr = (uint32_t)(info->cmdline_addr >> 32);
	hdr->ramdisk_image = (uint32_t)info->initrd_addr;
	hdr->ramdisk_size = (uint32_t)info->initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(info->initrd_addr >> 32);
	bp->ext_ramdisk_size = (uint32_t)(info->initrd_size >> 32);

	bp->e820_entries =
	    (uint8_t)x86_build_e820(bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE, info->ram_size);
	return 0;
}

/* A flat descriptor: base 0, limit 0xfffff in 4 KiB units. */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0x000f0000) << 32) | ((uint64_t)(base & 0x00ffffff) << 16) |
	       (uint64_t)(limit & 0x0000ffff);
}

void x86_build_gdt(uint64_t gdt[5])
{
	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = gdt_entry(0xa09b, 0, 0xfffff); /* 0x10: 64-bit code, G, present */
	gdt[3] = gdt_entry(0xc093, 0, 0xfffff); /* 0x18: data, 32-bit, G, present */
	gdt[4] = gdt_entry(0x808b, 0, 0xfffff); /* 0x20: busy 64-bit TSS */
}

#define PTE_PRESENT 0x1ULL
#define PTE_WRITE   0x2ULL
#define PTE_HUGE    0x80ULL

void x86_build_page_tables(void *tables)
{
	uint64_t *pml4 = tables;
	uint64_t *pdpt = pml4 + 512;
	uint64_t *pd = pdpt + 512;

	memset(tables, 0, 6 * 4096);
	pml4[0] = BOOT_PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
	for (int i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_ADDR + (uint64_t)i * 4096) | PTE_PRESENT | PTE_WRITE;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_HUGE;
}
