// SPDX-License-Identifier: Apache-2.0
/* Boot-protocol structures: e820, zero page, GDT, page tables, MP table, loaders. */
#include <elf.h>
#include <stdlib.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/loader.h"
#include "elf_fixture.h"
#include "test.h"
#include "vmm/memory.h"
#include "vmm/util.h"

static uint64_t e820_ram_total(const struct boot_e820_entry *t, unsigned int n)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < n; i++)
		if (t[i].type == E820_RAM)
			sum += t[i].size;
	return sum;
}

static void test_e820(void)
{
	struct boot_e820_entry t[8];
	unsigned int n;

	/* 512 MiB: base memory, reserved EBDA/BIOS area, RAM from 1 MiB. */
	n = x86_build_e820(t, 8, 512 * MiB);
	CHECK_EQ(n, 3);
	CHECK_EQ(t[0].addr, 0);
	CHECK_EQ(t[0].size, BASE_MEMORY_END);
	CHECK_EQ(t[1].type, E820_RESERVED);
	CHECK_EQ(t[1].addr + t[1].size, HIGH_MEMORY_START);
	CHECK_EQ(t[2].addr, HIGH_MEMORY_START);
	CHECK_EQ(t[2].addr + t[2].size, 512 * MiB);
	/* Every byte of RAM but the reserved area is usable. */
	CHECK_EQ(e820_ram_total(t, n), 512 * MiB - (HIGH_MEMORY_START - BASE_MEMORY_END));

	/* 4 GiB: the MMIO hole moves the rest above 4 GiB. */
	n = x86_build_e820(t, 8, 4 * GiB);
	CHECK_EQ(n, 4);
	CHECK_EQ(t[2].addr + t[2].size, MMIO_HOLE_START);
	CHECK_EQ(t[3].addr, MMIO_HOLE_END);
	CHECK_EQ(t[3].size, 4 * GiB - MMIO_HOLE_START);
	CHECK_EQ(e820_ram_total(t, n), 4 * GiB - (HIGH_MEMORY_START - BASE_MEMORY_END));

	/* A table too small is truncated, never overrun. */
	n = x86_build_e820(t, 2, 4 * GiB);
	CHECK_EQ(n, 2);
}

static void test_zero_page(void)
{
	struct boot_params *bp = calloc(1, sizeof(*bp));
	struct setup_header setup = {0};
	struct boot_info info = {
	    .ram_size = 256 * MiB,
	    .cmdline_addr = BOOT_CMDLINE_ADDR,
	    .cmdline_size = 100,
	    .initrd_addr = 0x5000000,
	    .initrd_size = 12345,
	};

	CHECK_EQ(x86_build_zero_page(bp, &info), 0);
	CHECK_EQ(bp->hdr.boot_flag, 0xaa55);
	CHECK_EQ(bp->hdr.header, 0x53726448);
	CHECK_EQ(bp->hdr.type_of_loader, 0xff);
	CHECK_EQ(bp->hdr.cmd_line_ptr, BOOT_CMDLINE_ADDR);
	CHECK_EQ(bp->hdr.cmdline_size, 99);
	CHECK_EQ(bp->hdr.ramdisk_image, 0x5000000);
	CHECK_EQ(bp->hdr.ramdisk_size, 12345);
	CHECK_EQ(bp->e820_entries, 3);
	CHECK(bp->hdr.loadflags & LOADED_HIGH);

	/* A bzImage's own header is kept and patched. */
	memset(bp, 0, sizeof(*bp));
	setup.boot_flag = 0xaa55;
	setup.header = 0x53726448;
	setup.init_size = 0x1234000;
	setup.cmdline_size = 2047;
	info.setup = &setup;
	CHECK_EQ(x86_build_zero_page(bp, &info), 0);
	CHECK_EQ(bp->hdr.init_size, 0x1234000);
	CHECK_EQ(bp->hdr.cmdline_size, 2047);
	CHECK_EQ(bp->hdr.type_of_loader, 0xff);

	/* Nonsense is refused. */
	info.cmdline_size = 0;
	CHECK(x86_build_zero_page(bp, &info) < 0);
	free(bp);
}

static void test_gdt_and_page_tables(void)
{
	uint64_t gdt[5];
	uint64_t *tables = calloc(6, 4096);

	x86_build_gdt(gdt);
	CHECK_EQ(gdt[0], 0);
	CHECK_EQ(gdt[BOOT_CS_SELECTOR / 8], 0x00af9b000000ffffULL); /* 64-bit code */
	CHECK_EQ(gdt[BOOT_DS_SELECTOR / 8], 0x00cf93000000ffffULL); /* flat data */

	x86_build_page_tables(tables);
	CHECK_EQ(tables[0], BOOT_PDPT_ADDR | 3);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(tables[512 + i], (BOOT_PD_ADDR + 4096ULL * i) | 3);
	CHECK_EQ(tables[512 + 4], 0);
	/* 2 MiB identity pages: entry i maps i * 2 MiB, for all of 4 GiB. */
	CHECK_EQ(tables[1024], 0x83);
	CHECK_EQ(tables[1024 + 1], (2 * MiB) | 0x83);
	CHECK_EQ(tables[1024 + 2047], (4 * GiB - 2 * MiB) | 0x83);
	free(tables);
}

static uint8_t sum_bytes(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static void test_mptable(void)
{
	size_t size = x86_mptable_size(4);
	uint8_t *buf = calloc(1, size);
	uint16_t len, entries;
	uint32_t ptr;

	CHECK(MPTABLE_ADDR + x86_mptable_size(64) <= MPTABLE_END);
	CHECK_EQ(x86_build_mptable(buf, size, MPTABLE_ADDR, 4, 0), 0);
	CHECK(!memcmp(buf, "_MP_", 4));
	CHECK_EQ(sum_bytes(buf, 16), 0);
	memcpy(&ptr, buf + 4, 4);
	CHECK_EQ(ptr, MPTABLE_ADDR + 16);
	CHECK(!memcmp(buf + 16, "PCMP", 4));
	memcpy(&len, buf + 16 + 4, 2);
	memcpy(&entries, buf + 16 + 34, 2);
	CHECK_EQ(len, size - 16);
	CHECK_EQ(sum_bytes(buf + 16, len), 0);
	/* 4 CPUs + bus + IOAPIC + 24 pins + 2 local interrupts */
	CHECK_EQ(entries, 4 + 1 + 1 + 24 + 2);
	/* First processor entry: APIC id 0, enabled, bootstrap. */
	CHECK_EQ(buf[16 + 44 + 0], 0);
	CHECK_EQ(buf[16 + 44 + 1], 0);
	CHECK_EQ(buf[16 + 44 + 3], 3);
	CHECK_EQ(buf[16 + 44 + 20 + 1], 1);
	CHECK_EQ(buf[16 + 44 + 20 + 3], 1);

	/* Pin n's entry: ISA IRQ n, conforming to the bus (edge) but for the level pins. */
	CHECK_EQ(buf[16 + 44 + 4 * 20 + 8 + 8 + 9 * 8 + 2], 0);
	CHECK_EQ(x86_build_mptable(buf, size, MPTABLE_ADDR, 4, 1u << 9 | 1u << 23), 0);
	for (unsigned int pin = 0; pin < 24; pin++) {
		const uint8_t *e = buf + 16 + 44 + 4 * 20 + 8 + 8 + pin * 8;
		uint16_t flags;

		memcpy(&flags, e + 2, 2);
		CHECK_EQ(e[0], 3); /* I/O interrupt */
		CHECK_EQ(e[5], pin);
		CHECK_EQ(e[7], pin);
		CHECK_EQ(flags, pin == 9 || pin == 23 ? 0x0d : 0); /* level, active high */
	}
	memcpy(&len, buf + 16 + 4, 2);
	CHECK_EQ(sum_bytes(buf + 16, len), 0);

	CHECK(x86_build_mptable(buf, size - 1, MPTABLE_ADDR, 4, 0) < 0);
	CHECK(x86_build_mptable(buf, size, MPTABLE_ADDR, 0, 0) < 0);
	free(buf);
}

/* A minimal ELF64 vmlinux: one PT_LOAD of 16 bytes at 16 MiB. */
static size_t make_elf(uint8_t *buf, size_t cap)
{
	memset(buf, 0, cap);
	write_test_elf_header(buf, 0x100, 16, 64);
	memcpy(buf + 0x100, "KERNEL-CODE-1234", 16);
	return 0x110;
}

static void test_elf_loader(void)
{
	uint8_t elf[0x200];
	size_t size = make_elf(elf, sizeof(elf));
	struct kernel_image img;
	struct guest_mem mem;
	Elf64_Phdr ph;

	CHECK_EQ(elf_parse_kernel(elf, size, &img), 0);
	CHECK_EQ(img.nsegs, 1);
	CHECK_EQ(img.entry, 0x1000000);
	CHECK_EQ(img.segs[0].mem_size, 64);

	CHECK_EQ(guest_mem_init(&mem, 64 * MiB), 0);
	memset(guest_ptr(&mem, 0x1000000, 64), 0xaa, 64);
	CHECK_EQ(kernel_image_load(&mem, &img, elf, size), 0);
	CHECK(!memcmp(guest_ptr(&mem, 0x1000000, 16), "KERNEL-CODE-1234", 16));
	CHECK_EQ(((uint8_t *)guest_ptr(&mem, 0x1000010, 1))[0], 0); /* bss zeroed */

	/* Truncated file: the segment's bytes are not all there. */
	CHECK(elf_parse_kernel(elf, 0x108, &img) < 0);
	/* Not ELF, wrong machine. */
	CHECK(elf_parse_kernel(elf, 10, &img) < 0);
	elf[18] = 3; /* EM_386 */
	CHECK(elf_parse_kernel(elf, size, &img) < 0);
	make_elf(elf, sizeof(elf));
	/* filesz > memsz, and a segment past the end of guest RAM. */
	memcpy(&ph, elf + sizeof(Elf64_Ehdr), sizeof(ph));
	ph.p_filesz = 128;
	memcpy(elf + sizeof(Elf64_Ehdr), &ph, sizeof(ph));
	CHECK(elf_parse_kernel(elf, sizeof(elf), &img) < 0);
	ph.p_filesz = 16;
	ph.p_paddr = 64 * MiB - 10; /* runs past the end of RAM */
	memcpy(elf + sizeof(Elf64_Ehdr), &ph, sizeof(ph));
	CHECK_EQ(elf_parse_kernel(elf, size, &img), 0);
	CHECK(kernel_image_load(&mem, &img, elf, size) < 0);
	/* A phdr table pointing past the file. */
	make_elf(elf, sizeof(elf));
	elf[32] = 0xf0; /* e_phoff */
	CHECK(elf_parse_kernel(elf, size, &img) < 0);
	guest_mem_release(&mem);
}

static void test_bzimage_parse(void)
{
	uint8_t *img_data = calloc(1, 64 * 1024);
	struct setup_header hdr = {0};
	struct kernel_image img;

	hdr.setup_sects = 4;
	hdr.boot_flag = 0xaa55;
	hdr.header = 0x53726448;
	hdr.version = 0x020f;
	hdr.loadflags = LOADED_HIGH;
	hdr.xloadflags = XLF_KERNEL_64;
	hdr.init_size = 0x200000;
	memcpy(img_data + 0x1f1, &hdr, sizeof(hdr));

	CHECK_EQ(bzimage_parse(img_data, 64 * 1024, &img), 0);
	CHECK_EQ(img.entry, BZIMAGE_LOAD_ADDR + 0x200);
	CHECK_EQ(img.segs[0].file_offset, 5 * 512);
	CHECK_EQ(img.segs[0].file_size, 64 * 1024 - 5 * 512);
	CHECK_EQ(img.segs[0].mem_size, 0x200000);

	hdr.xloadflags = 0; /* no 64-bit entry */
	memcpy(img_data + 0x1f1, &hdr, sizeof(hdr));
	CHECK(bzimage_parse(img_data, 64 * 1024, &img) < 0);
	hdr.xloadflags = XLF_KERNEL_64;
	hdr.setup_sects = 200; /* setup longer than the file */
	memcpy(img_data + 0x1f1, &hdr, sizeof(hdr));
	CHECK(bzimage_parse(img_data, 64 * 1024, &img) < 0);
	CHECK(bzimage_parse(img_data, 0x200, &img) < 0);
	free(img_data);
}

static void test_guest_memory(void)
{
	struct guest_mem mem;
	uint64_t addr;

	CHECK_EQ(guest_mem_init(&mem, 4 * GiB), 0);
	CHECK_EQ(mem.nregions, 2);
	CHECK(guest_ptr(&mem, 0, 4096) != NULL);
	CHECK(guest_ptr(&mem, MMIO_HOLE_START - 8, 8) != NULL);
	CHECK(guest_ptr(&mem, MMIO_HOLE_START - 8, 16) == NULL); /* runs into the hole */
	CHECK(guest_ptr(&mem, MMIO_HOLE_START, 1) == NULL);
	CHECK(guest_ptr(&mem, MMIO_HOLE_END, 1) != NULL);
	CHECK(guest_ptr(&mem, MMIO_HOLE_END + GiB - 1, 1) != NULL);
	CHECK(guest_ptr(&mem, MMIO_HOLE_END + GiB, 1) == NULL);
	CHECK(guest_ptr(&mem, UINT64_MAX - 1, 4) == NULL); /* wrap-around */
	CHECK(guest_ptr(&mem, 4096, UINT64_MAX) == NULL);

	/* Initrd at the top of low RAM, page aligned, under the limit. */
	CHECK_EQ(initrd_place(&mem, 10000, 0x7fffffff, &addr), 0);
	CHECK_EQ(addr, 0x80000000 - 12288);
	CHECK(initrd_place(&mem, 4 * GiB, 0x7fffffff, &addr) < 0);
	guest_mem_release(&mem);
}

TEST_MAIN("boot", test_e820(); test_zero_page(); test_gdt_and_page_tables(); test_mptable();
	  test_elf_loader(); test_bzimage_parse(); test_guest_memory())
