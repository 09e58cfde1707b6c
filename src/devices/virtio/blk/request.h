/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk requests (virtio 1.2, section 5.2.6) taken apart from a
 * descriptor chain. The chain's layout is the guest's choice: a 16-byte
 * header somewhere at the start of the device-readable part, the data
 * (readable for writes, writable for reads), and the status byte as the
 * last writable byte. Everything is checked here, in one pure function
 * that the fuzzer drives, before the device acts on it.
 */
#ifndef KRUN_BLK_REQUEST_H
#define KRUN_BLK_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define BLK_SECTOR_SHIFT    9

/* Limits the device advertises (SEG_MAX, SIZE_MAX, discard segments). */
/* SEG_MAX: a chain of the 256-entry queue minus header and status, as QEMU offers. */
#define BLK_SEG_MAX	      254
#define BLK_SIZE_MAX	      (1u << 20)
#define BLK_MAX_RANGES	      16
#define BLK_MAX_RANGE_SECTORS (1u << 22) /* 2 GiB per discard/write-zeroes segment */

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1

struct blk_range {
	uint64_t offset, len; /* bytes */
	bool unmap;
};

struct blk_request {
	uint32_t type;
	uint64_t offset; /* bytes, for IN and OUT */
	/* IN and OUT: the data; GET_ID: the id buffer. Never the status byte. */
	struct iovec data[BLK_SEG_MAX + 2];
	unsigned int ndata;
	uint64_t len;
	uint8_t *status;
	uint32_t used_len; /* what the device reports written, status byte included */
	struct blk_range ranges[BLK_MAX_RANGES];
	unsigned int nranges;
};

/* What the device offers, for the checks. */
struct blk_limits {
	uint64_t sectors; /* capacity */
	bool read_only;
	bool discard, write_zeroes;
};

/*
 * Parse and check a chain: VIRTIO_BLK_S_OK when "req" is ready to run,
 * VIRTIO_BLK_S_IOERR / UNSUPP when the status byte (req->status) should
 * carry that answer at once, -1 when the chain has no writable byte for a
 * status at all (the chain is then returned with nothing written).
 */
int blk_request_parse(const struct iovec *rd, unsigned int nrd, const struct iovec *wr,
		      unsigned int nwr, const struct blk_limits *lim, struct blk_request *req);

#endif
