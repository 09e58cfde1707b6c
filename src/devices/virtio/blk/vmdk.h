/* SPDX-License-Identifier: Apache-2.0 */
/* The vmdk text descriptor parser (shared with the fuzzer and unit tests). */
#ifndef KRUN_BLK_VMDK_H
#define KRUN_BLK_VMDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMDK_MAX_DESCRIPTOR (64u << 10)
#define VMDK_MAX_EXTENTS    256
#define VMDK_MAX_SECTORS    (1ULL << 47) /* 64 PiB */

struct vmdk_extent {
	uint64_t sectors;
	uint64_t offset; /* sectors into the file */
	bool zero, read_only;
	char file[1024];
};

struct vmdk_descriptor {
	struct vmdk_extent extents[VMDK_MAX_EXTENTS];
	unsigned int nextents;
	uint64_t sectors;
};

/* 0, -EINVAL (malformed) or -ENOTSUP (refused), with why[] saying what. */
int vmdk_parse_descriptor(const char *text, size_t len, struct vmdk_descriptor *d, char *why,
			  size_t why_len);

#endif
