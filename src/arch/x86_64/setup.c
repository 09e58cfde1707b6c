// SPDX-License-Identifier: Apache-2.0
/*
 * Put everything the guest kernel needs into guest memory: the kernel
 * (bundled libkrunfw, ELF vmlinux or bzImage), the initramfs, the command
 * line, the zero page, GDT, page tables, MP table and SMBIOS tables.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86_64/arch.h"
#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/loader.h"
#include "arch/x86_64/smbios.h"
#include "libkrun.h"
#include "vmm/decompress.h"
#include "vmm/krunfw.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define KERNEL_FILE_MAX (512 * MiB)
#define INITRD_FILE_MAX (2 * GiB)
#define INITRD_MAX_ADDR 0x7fffffffULL

/* The bundled kernel: a flat image already laid out as it sits in memory. */
/*
 * The bundle stays loaded (krunfw.c), but once the kernel is in guest memory
 * its ~15 MiB of file pages are of no use to this VM: drop them from the
 * process (they stay in the page cache for the next VM to map).
 */
static void release_image(const char *data, size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t start, end;

	if (page <= 0)
		return;
	start = ALIGN_UP((uintptr_t)data, (uintptr_t)page);
	end = ALIGN_DOWN((uintptr_t)data + size, (uintptr_t)page);
	if (end > start && madvise((void *)start, end - start, MADV_DONTNEED) < 0)
		pr_debug("%s: madvise(MADV_DONTNEED): %s", KRUNFW_SONAME, strerror(errno));
}

static int load_bundled_kernel(struct vm *vm, struct kernel_image *img)
{
	uint64_t load_addr, entry;
	const char *data;
	size_t size;
	int ret;

	ret = krunfw_kernel(&data, &load_addr, &entry, &size);
	if (ret < 0)
		return ret;
	memset(img, 0, sizeof(*img));
	img->nsegs = 1;
	img->segs[0] = (struct kernel_segment){load_addr, 0, size, size};
	img->entry = entry;
	if (entry < load_addr || entry - load_addr >= size) {
		pr_err("%s: entry point outside the image", KRUNFW_SONAME);
		return -ENOEXEC;
	}
	ret = kernel_image_load(&vm->mem, img, (const uint8_t *)data, size);
	release_image(data, size);
	return ret;
}

static int load_kernel_file(struct vm *vm, struct kernel_image *img)
{
	const struct vm_config *cfg = vm->cfg;
	const char *what = kernel_format_name(cfg->kernel_format);
	uint8_t *data, *raw;
	size_t size;
	int ret;

	ret = read_file(cfg->kernel_path, KERNEL_FILE_MAX, &data, &size);
	if (ret < 0) {
		pr_err("kernel %s: %s", cfg->kernel_path, strerror(-ret));
		return ret;
	}
	if (kernel_format_compressed(cfg->kernel_format)) {
		/* The decompressed kernel is bounded like a kernel file. */
		ret =
		    kernel_decompress(cfg->kernel_format, data, size, KERNEL_FILE_MAX, &raw, &size);
		free(data);
		if (ret < 0) {
			pr_err("kernel %s: cannot unpack it as a %s", cfg->kernel_path, what);
			return ret;
		}
		data = raw;
	}
	ret = kernel_parse(cfg->kernel_format, data, size, img);
	if (ret == -ENOEXEC)
		pr_err("kernel %s is not a valid %s", cfg->kernel_path, what);
	if (!ret)
		ret = kernel_image_load(&vm->mem, img, data, size);
	free(data);
	return ret;
}

static uint64_t kernel_end(const struct kernel_image *img)
{
	uint64_t end = 0;

	for (unsigned int i = 0; i < img->nsegs; i++)
		end = MAX(end, img->segs[i].paddr + img->segs[i].mem_size);
	return end;
}

static uint64_t kernel_start(const struct kernel_image *img)
{
	uint64_t start = UINT64_MAX;

	for (unsigned int i = 0; i < img->nsegs; i++)
		start = MIN(start, img->segs[i].paddr);
	return img->nsegs ? start : 0;
}

static int load_initrd(struct vm *vm, const struct kernel_image *img, struct boot_info *info)
{
	uint64_t max_addr = INITRD_MAX_ADDR;
	uint8_t *data;
	size_t size;
	int ret;

	if (!vm->cfg->initramfs_path)
		return 0;
	ret = read_file(vm->cfg->initramfs_path, INITRD_FILE_MAX, &data, &size);
	if (ret < 0) {
		pr_err("initramfs %s: %s", vm->cfg->initramfs_path, strerror(-ret));
		return ret;
	}
	if (img->is_bzimage && img->setup.initrd_addr_max)
		max_addr = MIN(max_addr, (uint64_t)img->setup.initrd_addr_max);
	ret = initrd_place(&vm->mem, size, max_addr, &info->initrd_addr);
	if (!ret && info->initrd_addr < kernel_end(img))
		ret = -ENOMEM;
	if (ret < 0)
		pr_err("initramfs of %zu bytes does not fit in guest RAM above the kernel", size);
	else
		ret = guest_write(&vm->mem, info->initrd_addr, data, size);
	info->initrd_size = size;
	free(data);
	return ret;
}

static int write_boot_tables(struct vm *vm, struct boot_info *info)
{
	struct boot_params *bp = guest_ptr(&vm->mem, BOOT_ZERO_PAGE, sizeof(*bp));
	uint64_t *gdt = guest_ptr(&vm->mem, BOOT_GDT_ADDR, 5 * sizeof(uint64_t));
	void *tables = guest_ptr(&vm->mem, BOOT_PML4_ADDR, 6 * 4096);
	size_t mp_size = x86_mptable_size(vm->nvcpus);
	void *mp = guest_ptr(&vm->mem, MPTABLE_ADDR, mp_size);
	int ret;

	if (!bp || !gdt || !tables || !mp || MPTABLE_ADDR + mp_size > MPTABLE_END)
		return -ENOMEM;
	x86_build_gdt(gdt);
	x86_build_page_tables(tables);
	ret = x86_build_mptable(mp, mp_size, MPTABLE_ADDR, vm->nvcpus, vm->level_irqs);
	if (!ret) {
		memset(bp, 0, sizeof(*bp));
		ret = x86_build_zero_page(bp, info);
	}
	return ret;
}

int arch_load_guest(struct vm *vm)
{
	struct kernel_image img;
	struct boot_info info = {.ram_size = vm->mem.ram_size};
	char cmdline[VM_MAX_CMDLINE + 1];
	int len, ret;

	if (vm->cfg->kernel_source == KERNEL_BUNDLED)
		ret = load_bundled_kernel(vm, &img);
	else
		ret = load_kernel_file(vm, &img);
	if (ret < 0)
		return ret;
	if (img.is_bzimage)
		info.setup = &img.setup;

	ret = load_initrd(vm, &img, &info);
	if (ret < 0)
		return ret;

	len = vm_config_cmdline(vm->cfg, vm->device_cmdline, cmdline, sizeof(cmdline));
	if (len < 0 || (img.is_bzimage && (uint32_t)len > img.setup.cmdline_size)) {
		pr_err("kernel command line too long");
		return -E2BIG;
	}
	pr_debug("kernel command line: %s", cmdline);
	info.cmdline_addr = BOOT_CMDLINE_ADDR;
	info.cmdline_size = (uint32_t)len + 1;
	ret = guest_write(&vm->mem, BOOT_CMDLINE_ADDR, cmdline, info.cmdline_size);
	if (!ret)
		ret = write_boot_tables(vm, &info);
	if (!ret)
		ret = x86_setup_smbios(&vm->mem, (const char *const *)vm->cfg->oem_strings);
	vm->kernel_entry = img.entry;
	/* A bzImage moves itself while unpacking: only a flat image stays where it was put. */
	if (!img.is_bzimage) {
		vm->kernel_start = kernel_start(&img);
		vm->kernel_end = kernel_end(&img);
	}
	return ret;
}
