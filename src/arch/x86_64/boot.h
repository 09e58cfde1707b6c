/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_X86_BOOT_H
#define KRUN_X86_BOOT_H

#include <asm/bootparam.h>
#include <stddef.h>
#include <stdint.h>

#define E820_RAM      1
#define E820_RESERVED 2

/* Where the loader put things, as the zero page must describe them. */
struct boot_info {
	uint64_t ram_size; /* bytes of guest RAM in total */
	uint64_t cmdline_addr;
	uint32_t cmdline_size; /* including the NUL */
	uint64_t initrd_addr;
	uint64_t initrd_size;
	const struct setup_header *setup; /* from a bzImage, or NULL for vmlinux */
};

/* Fill the e820 map for ram_size bytes of RAM; returns the number of entries. */
unsigned int x86_build_e820(struct boot_e820_entry *table, unsigned int max, uint64_t ram_size);

/* Fill a zeroed struct boot_params. */
int x86_build_zero_page(struct boot_params *bp, const struct boot_info *info);

/* The 5-entry GDT of the 64-bit boot protocol. */
void x86_build_gdt(uint64_t gdt[5]);

/*
 * Identity-map the first 4 GiB with 2 MiB pages. "tables" is 6 pages of
 * guest memory at BOOT_PML4_ADDR (PML4, PDPT, 4 PDs).
 */
void x86_build_page_tables(void *tables);

/* Write an Intel MP table for ncpus CPUs into buf (at guest address addr). */
/* level_pins: a bit per IOAPIC pin to mark level-triggered (active high). */
int x86_build_mptable(void *buf, size_t len, uint64_t addr, unsigned int ncpus,
		      uint32_t level_pins);
size_t x86_mptable_size(unsigned int ncpus);

#endif
