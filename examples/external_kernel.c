// SPDX-License-Identifier: Apache-2.0
/*
 * external_kernel: boot a kernel of your own, with an initramfs, in a
 * microVM whose console is this terminal (or this process's stdio).
 *
 *   external_kernel KERNEL FORMAT INITRAMFS [CMDLINE]
 *
 * FORMAT: elf, bzimage, image-gz, image-bz2 or image-zstd.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libkrun.h>

static const struct {
	const char *name;
	uint32_t format;
} formats[] = {
    {"elf", KRUN_KERNEL_FORMAT_ELF},
    {"bzimage", KRUN_KERNEL_FORMAT_RAW},
    {"image-gz", KRUN_KERNEL_FORMAT_IMAGE_GZ},
    {"image-bz2", KRUN_KERNEL_FORMAT_IMAGE_BZ2},
    {"image-zstd", KRUN_KERNEL_FORMAT_IMAGE_ZSTD},
};

static void check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "external_kernel: %s: %s\n", what, strerror(-ret));
		exit(125);
	}
}

static uint32_t parse_format(const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (!strcmp(name, formats[i].name))
			return formats[i].format;
	fprintf(stderr, "external_kernel: unknown kernel format %s\n", name);
	exit(2);
}

int main(int argc, char *argv[])
{
	int ctx;

	if (argc < 4) {
		fprintf(stderr, "usage: %s KERNEL FORMAT INITRAMFS [CMDLINE]\n", argv[0]);
		return 2;
	}
	ctx = krun_create_ctx();
	check(ctx, "krun_create_ctx");
	check(krun_set_vm_config(ctx, 1, 256), "krun_set_vm_config");
	check(krun_set_kernel(ctx, argv[1], parse_format(argv[2]), argv[3],
			      argc > 4 ? argv[4] : NULL),
	      "krun_set_kernel");
	check(krun_start_enter(ctx), "krun_start_enter");
	return 125;
}
