// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the vmdk descriptor parser on arbitrary bytes. What it
 * accepts must add up (extent sizes, names inside their buffers). Seeds:
 * descriptors made by qemu-img (tests/fuzz/corpus/fuzz_vmdk).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/blk/vmdk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmdk_descriptor d;
	char why[200];
	uint64_t total = 0;

	if (vmdk_parse_descriptor((const char *)data, size, &d, why, sizeof(why)) < 0)
		return 0;
	if (!d.nextents || d.nextents > VMDK_MAX_EXTENTS)
		abort();
	for (unsigned int i = 0; i < d.nextents; i++) {
		if (!d.extents[i].sectors ||
		    strnlen(d.extents[i].file, sizeof(d.extents[i].file)) ==
			sizeof(d.extents[i].file))
			abort();
		if (!d.extents[i].zero && !d.extents[i].file[0])
			abort();
		total += d.extents[i].sectors;
	}
	if (total != d.sectors || total > VMDK_MAX_SECTORS)
		abort();
	return 0;
}
