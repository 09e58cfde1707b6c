/* SPDX-License-Identifier: Apache-2.0 */
/* qcow2 on-disk layout and the pure parsers (shared with the fuzzer and unit tests). */
#ifndef KRUN_BLK_QCOW2_H
#define KRUN_BLK_QCOW2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include <zstd.h>

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */

#define QCOW2_INCOMPAT_DIRTY	   (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT	   (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE   (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2	   (1ULL << 4)
#define QCOW2_INCOMPAT_KNOWN	   0x1fULL

#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau

#define QCOW2_COPIED	  (1ULL << 63)
#define QCOW2_COMPRESSED  (1ULL << 62)
#define QCOW2_ZERO_FLAG	  1ULL
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ULL
#define QCOW2_L1_RESERVED 0x7f000000000001ffULL
#define QCOW2_L2_RESERVED 0x3f000000000001feULL

/* Limits on what an image may ask of us. */
#define QCOW2_MAX_CLUSTER	 (2u << 20)
#define QCOW2_MAX_SIZE		 (1ULL << 56)
#define QCOW2_MAX_OFFSET	 (1ULL << 56)
#define QCOW2_MAX_L1_ENTRIES	 (32u << 20) / 8 /* 32 MiB of L1, as QEMU */
#define QCOW2_MAX_REFTABLE_BYTES (8ULL << 20)

struct qcow2_header {
	uint32_t version;
	uint64_t backing_file_offset;
	uint32_t backing_file_size;
	uint32_t cluster_bits;
	uint64_t size;
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_table_offset;
	uint64_t refcount_table_offset;
	uint32_t refcount_table_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t incompatible_features, compatible_features, autoclear_features;
	uint32_t refcount_order;
	uint32_t header_length;
	uint8_t compression_type; /* 0 deflate, 1 zstd */
};

/* 0, or -EINVAL (malformed) / -ENOTSUP (a feature we refuse), with why[] saying which. */
int qcow2_parse_header(const uint8_t *buf, size_t len, struct qcow2_header *h, char *why,
		       size_t why_len);
/* The backing file format extension into backing_fmt ("" when absent); -EINVAL if malformed. */
int qcow2_parse_extensions(const uint8_t *buf, size_t len, const struct qcow2_header *h,
			   char *backing_fmt, size_t fmt_len);
/* An L1 (or refcount table) entry's table offset: 0 none, -1 invalid. */
int64_t qcow2_table_offset(uint64_t entry, uint64_t cluster_size);
/* An L2 entry: 0 unallocated, 1 zero, 2 normal (*host set), 3 compressed; -1 invalid. */
int qcow2_classify(uint64_t entry, unsigned int version, uint64_t cluster_size, uint64_t *host);
/* Raw deflate (QEMU's window of 4 KiB) or zstd, filling out_len exactly. */
int qcow2_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len, bool zstd);

/* The same with decompressor state kept between calls (one cluster after another). */
struct qcow2_inflater {
	z_stream zlib;
	bool zlib_ready;
	ZSTD_DCtx *zstd;
};
int qcow2_inflate_with(struct qcow2_inflater *z, const uint8_t *in, size_t in_len, uint8_t *out,
		       size_t out_len, bool zstd);
void qcow2_inflater_free(struct qcow2_inflater *z);

#endif
