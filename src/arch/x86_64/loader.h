/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KRUN_X86_LOADER_H
#define KRUN_X86_LOADER_H

#include <asm/bootparam.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"

#define KERNEL_MAX_SEGMENTS 16

struct kernel_segment {
	uint64_t paddr;
	uint64_t file_offset;
	uint64_t file_size;
	uint64_t mem_size;
};

/* A parsed kernel image, ready to be copied into guest memory. */
struct kernel_image {
	struct kernel_segment segs[KERNEL_MAX_SEGMENTS];
	unsigned int nsegs;
	uint64_t entry;
	struct setup_header setup; /* valid when is_bzimage */
	int is_bzimage;
};

/* Parse an x86_64 ELF vmlinux: PT_LOAD segments and entry, all bounds-checked. */
int elf_parse_kernel(const uint8_t *data, size_t size, struct kernel_image *img);

/* Parse a bzImage (boot protocol >= 2.12 with a 64-bit entry point). */
int bzimage_parse(const uint8_t *data, size_t size, struct kernel_image *img);

/*
 * An uncompressed kernel of either kind, told apart by its magic: an ELF
 * header, or the boot protocol's "HdrS". Anything else is -ENOEXEC.
 */
int kernel_parse_any(const uint8_t *data, size_t size, struct kernel_image *img);

/*
 * Parse a kernel file's contents for KRUN_KERNEL_FORMAT_* "format": ELF is a
 * vmlinux, RAW a bzImage, and the compressed formats, once decompressed,
 * either one (kernel_parse_any()).
 */
int kernel_parse(uint32_t format, const uint8_t *data, size_t size, struct kernel_image *img);

/* What the format expects, for messages ("bzImage", "gzip-compressed kernel"...). */
const char *kernel_format_name(uint32_t format);

/* Copy the segments into guest RAM. */
int kernel_image_load(const struct guest_mem *mem, const struct kernel_image *img,
		      const uint8_t *data, size_t size);

/* Where an initrd of "size" bytes goes: the top of low RAM, page aligned. */
int initrd_place(const struct guest_mem *mem, uint64_t size, uint64_t max_addr, uint64_t *addr);

#endif
