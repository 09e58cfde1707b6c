// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel image parsing and loading. Images are host files but may come from
 * anywhere, so every offset and size is checked before use.
 */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "arch/x86_64/loader.h"
#include "libkrun.h"
#include "vmm/log.h"
#include "vmm/util.h"

static int range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

int elf_parse_kernel(const uint8_t *data, size_t size, struct kernel_image *img)
{
	Elf64_Ehdr eh;

	memset(img, 0, sizeof(*img));
	if (size < sizeof(eh))
		return -ENOEXEC;
	memcpy(&eh, data, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC)
		return -ENOEXEC;
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    !range_ok(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), size))
		return -ENOEXEC;

	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, data + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (img->nsegs == KERNEL_MAX_SEGMENTS || ph.p_filesz > ph.p_memsz ||
		    !range_ok(ph.p_offset, ph.p_filesz, size) ||
		    ph.p_paddr + ph.p_memsz < ph.p_paddr)
			return -ENOEXEC;
		img->segs[img->nsegs++] =
		    (struct kernel_segment){ph.p_paddr, ph.p_offset, ph.p_filesz, ph.p_memsz};
	}
	if (!img->nsegs)
		return -ENOEXEC;
	img->entry = eh.e_entry;
	return 0;
}

#define SETUP_HEADER_OFFSET 0x1f1
#define HDRS_MAGIC	    0x53726448
#define BOOT_FLAG	    0xaa55
#define BZIMAGE_MIN_VERSION 0x020c /* 2.12: xloadflags, 64-bit entry */
#define BZIMAGE_ENTRY64	    0x200  /* startup_64 relative to the load address */

int bzimage_parse(const uint8_t *data, size_t size, struct kernel_image *img)
{
	struct setup_header *hdr = &img->setup;
	uint64_t setup_size, pm_size;

	memset(img, 0, sizeof(*img));
	if (size < SETUP_HEADER_OFFSET + sizeof(*hdr))
		return -ENOEXEC;
	memcpy(hdr, data + SETUP_HEADER_OFFSET, sizeof(*hdr));
	if (hdr->boot_flag != BOOT_FLAG || hdr->header != HDRS_MAGIC)
		return -ENOEXEC;
	if (hdr->version < BZIMAGE_MIN_VERSION || !(hdr->xloadflags & XLF_KERNEL_64) ||
	    !(hdr->loadflags & LOADED_HIGH)) {
		pr_err("bzImage: boot protocol %x without a 64-bit entry point is not supported",
		       hdr->version);
		return -ENOTSUP;
	}
	setup_size = ((uint64_t)(hdr->setup_sects ? hdr->setup_sects : 4) + 1) * 512;
	if (setup_size >= size)
		return -ENOEXEC;
	pm_size = size - setup_size;

	img->is_bzimage = 1;
	img->nsegs = 1;
	/* The decompressor needs init_size bytes from the load address. */
	img->segs[0] = (struct kernel_segment){BZIMAGE_LOAD_ADDR, setup_size, pm_size,
					       MAX(pm_size, (uint64_t)hdr->init_size)};
	img->entry = BZIMAGE_LOAD_ADDR + BZIMAGE_ENTRY64;
	return 0;
}

#define HDRS_MAGIC_OFFSET (SETUP_HEADER_OFFSET + offsetof(struct setup_header, header))

int kernel_parse_any(const uint8_t *data, size_t size, struct kernel_image *img)
{
	uint32_t magic;

	if (size >= SELFMAG && !memcmp(data, ELFMAG, SELFMAG))
		return elf_parse_kernel(data, size, img);
	if (size >= HDRS_MAGIC_OFFSET + sizeof(magic)) {
		memcpy(&magic, data + HDRS_MAGIC_OFFSET, sizeof(magic));
		if (magic == HDRS_MAGIC)
			return bzimage_parse(data, size, img);
	}
	pr_err("the decompressed kernel is neither an ELF vmlinux nor a bzImage "
	       "(no ELF magic at 0, no \"HdrS\" at 0x%zx)",
	       (size_t)HDRS_MAGIC_OFFSET);
	return -ENOEXEC;
}

int kernel_parse(uint32_t format, const uint8_t *data, size_t size, struct kernel_image *img)
{
	if (format == KRUN_KERNEL_FORMAT_ELF)
		return elf_parse_kernel(data, size, img);
	if (format == KRUN_KERNEL_FORMAT_RAW)
		return bzimage_parse(data, size, img);
	return kernel_parse_any(data, size, img);
}

const char *kernel_format_name(uint32_t format)
{
	static const char *const names[] = {
	    [KRUN_KERNEL_FORMAT_RAW] = "bzImage",
	    [KRUN_KERNEL_FORMAT_ELF] = "x86_64 ELF vmlinux",
	    [KRUN_KERNEL_FORMAT_PE_GZ] = "PE image with a gzip-compressed kernel",
	    [KRUN_KERNEL_FORMAT_IMAGE_BZ2] = "bzip2-compressed kernel",
	    [KRUN_KERNEL_FORMAT_IMAGE_GZ] = "gzip-compressed kernel",
	    [KRUN_KERNEL_FORMAT_IMAGE_ZSTD] = "zstd-compressed kernel",
	};

	return format < ARRAY_SIZE(names) ? names[format] : "kernel image";
}

int kernel_image_load(const struct guest_mem *mem, const struct kernel_image *img,
		      const uint8_t *data, size_t size)
{
	for (unsigned int i = 0; i < img->nsegs; i++) {
		const struct kernel_segment *s = &img->segs[i];
		uint8_t *dst = guest_ptr(mem, s->paddr, s->mem_size);

		if (!range_ok(s->file_offset, s->file_size, size))
			return -ENOEXEC;
		if (!dst || s->paddr < HIGH_MEMORY_START) {
			pr_err("kernel segment at 0x%llx (%llu bytes) does not fit in guest RAM",
			       (unsigned long long)s->paddr, (unsigned long long)s->mem_size);
			return -ENOMEM;
		}
		memcpy(dst, data + s->file_offset, s->file_size);
		memset(dst + s->file_size, 0, s->mem_size - s->file_size);
	}
	return 0;
}

int initrd_place(const struct guest_mem *mem, uint64_t size, uint64_t max_addr, uint64_t *addr)
{
	const struct guest_region *low = &mem->regions[0];
	uint64_t top = MIN(low->gpa + low->size, max_addr + 1);
	uint64_t aligned = ALIGN_UP(size, 4096);

	if (aligned > top || top - aligned < HIGH_MEMORY_START)
		return -ENOMEM;
	*addr = ALIGN_DOWN(top - aligned, 4096);
	return 0;
}
