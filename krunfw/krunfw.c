/*
 * libkrunfw - the guest kernel as a shared library.
 *
 * The flat kernel image made by mkbundle is embedded with .incbin, page
 * aligned and read-only, so a VMM gets it by dlopen() + one call, already
 * mapped (and shared between VMM processes through the page cache).
 * The ABI is that of the original libkrunfw: krunfw_get_kernel() and
 * krunfw_get_version() are the only exported symbols.
 *
 * Built by krunfw/Makefile with -DKRUNFW_IMAGE="path/to/kernel.bin" and
 * the generated kernel.h (load address, entry point, size) on the include
 * path.
 */
#include <stddef.h>
#include <stdint.h>

#include "kernel.h"

#define KRUNFW_API __attribute__((visibility("default")))
#define KRUNFW_ABI 5

#define KRUNFW_STR_(x) #x
#define KRUNFW_STR(x)  KRUNFW_STR_(x)

#ifndef KRUNFW_IMAGE
#error "KRUNFW_IMAGE must name the flat kernel image"
#endif

/*
 * Page alignment matters: the VMM may map or copy the image in page units.
 * The section is allocated but not writable, so it lands in a read-only
 * segment. The symbol is hidden: only the accessors are the ABI.
 */
__asm__(".pushsection .rodata.krunfw_image,\"a\",@progbits\n"
	".balign 4096\n"
	".globl krunfw_image\n"
	".hidden krunfw_image\n"
	".type krunfw_image, @object\n"
	"krunfw_image:\n"
	".incbin \"" KRUNFW_IMAGE "\"\n"
	"krunfw_image_end:\n"
	".size krunfw_image, krunfw_image_end - krunfw_image\n"
	".popsection\n");

extern const char krunfw_image[];

/* Catch a stale kernel.h / kernel.bin pair when building, not in a guest. */
#define IMAGE_SIZE_STR KRUNFW_STR(KRUNFW_IMAGE_SIZE)
__asm__(".ifne krunfw_image_end - krunfw_image - " IMAGE_SIZE_STR "\n"
	".error \"embedded image size does not match kernel.h\"\n"
	".endif\n");

KRUNFW_API char *krunfw_get_kernel(uint64_t *load_addr, uint64_t *entry_addr, size_t *size)
{
	*load_addr = KRUNFW_LOAD_ADDR;
	*entry_addr = KRUNFW_ENTRY_ADDR;
	*size = KRUNFW_IMAGE_SIZE;
	/* The ABI returns char *; callers must still treat it as read-only. */
	return (char *)krunfw_image;
}

KRUNFW_API int krunfw_get_version(void)
{
	return KRUNFW_ABI;
}
