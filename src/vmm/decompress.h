/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded in-memory decompression (gzip, bzip2, zstd) and the unwrapping of
 * compressed kernel files. Input is treated as hostile: output is capped,
 * truncated or corrupt streams are errors, never a crash.
 */
#ifndef KRUN_DECOMPRESS_H
#define KRUN_DECOMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum compression {
	COMPRESSION_GZIP,
	COMPRESSION_BZIP2,
	COMPRESSION_ZSTD,
};

/*
 * Decompress all of in[0..in_size): one stream, or several of the same kind
 * back to back. On success *out is a malloc'd buffer of *out_size bytes.
 * Errors: -ENOEXEC (corrupt, truncated, or followed by other bytes), -EFBIG
 * (more than max_out bytes of output), -ENOMEM.
 */
int decompress(enum compression comp, const uint8_t *in, size_t in_size, size_t max_out,
	       uint8_t **out, size_t *out_size);

/* True for the KRUN_KERNEL_FORMAT_* values whose files are compressed. */
bool kernel_format_compressed(uint32_t format);

/*
 * The kernel inside a file of a compressed format: IMAGE_GZ/BZ2/ZSTD are one
 * compressed stream; PE_GZ is an EFI zboot image, or else a PE image holding
 * a gzip member. Errors as decompress(), plus -ENOTSUP for a zboot image
 * compressed with something else, -EINVAL for an uncompressed format.
 */
int kernel_decompress(uint32_t format, const uint8_t *data, size_t size, size_t max_out,
		      uint8_t **out, size_t *out_size);

#endif
