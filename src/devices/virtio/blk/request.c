// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "devices/virtio/blk/request.h"
#include "vmm/iov.h"

/* The largest IN/OUT the device takes: what SEG_MAX x SIZE_MAX allow. */
#define BLK_MAX_REQUEST_BYTES ((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX)

struct blk_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
} __attribute__((packed));

struct blk_segment {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
} __attribute__((packed));

/*
 * Copy "iov" into req->data, skipping "skip" bytes at the start and "trim"
 * at the end; false when that takes more entries than req->data holds.
 */
static bool take_data(struct blk_request *req, const struct iovec *iov, unsigned int n, size_t skip,
		      size_t trim)
{
	size_t total = iov_length(iov, n);

	if (skip + trim > total)
		return false;
	total -= skip + trim;
	req->ndata = 0;
	req->len = total;
	for (unsigned int i = 0; i < n && total; i++) {
		size_t len = iov[i].iov_len;
		char *base = iov[i].iov_base;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		base += skip;
		len -= skip;
		skip = 0;
		if (len > total)
			len = total;
		if (!len)
			continue;
		if (req->ndata == sizeof(req->data) / sizeof(req->data[0]))
			return false;
		req->data[req->ndata++] = (struct iovec){base, len};
		total -= len;
	}
	return true;
}

/* The last writable byte, where the status goes. */
static uint8_t *status_byte(const struct iovec *wr, unsigned int nwr)
{
	for (unsigned int i = nwr; i-- > 0;)
		if (wr[i].iov_len)
			return (uint8_t *)wr[i].iov_base + wr[i].iov_len - 1;
	return NULL;
}

static bool in_capacity(const struct blk_limits *lim, uint64_t sector, uint64_t sectors)
{
	return sector <= lim->sectors && sectors <= lim->sectors - sector;
}

static int parse_rw(struct blk_request *req, const struct blk_header *h, const struct iovec *rd,
		    unsigned int nrd, const struct iovec *wr, unsigned int nwr,
		    const struct blk_limits *lim)
{
	bool ok = req->type == VIRTIO_BLK_T_IN ? take_data(req, wr, nwr, 0, 1)
					       : take_data(req, rd, nrd, sizeof(*h), 0);

	if (!ok || req->len % 512 || req->len > BLK_MAX_REQUEST_BYTES ||
	    !in_capacity(lim, h->sector, req->len >> BLK_SECTOR_SHIFT))
		return VIRTIO_BLK_S_IOERR;
	if (req->type == VIRTIO_BLK_T_OUT && lim->read_only)
		return VIRTIO_BLK_S_IOERR;
	req->offset = h->sector << BLK_SECTOR_SHIFT;
	if (req->type == VIRTIO_BLK_T_IN)
		req->used_len = (uint32_t)req->len + 1;
	return VIRTIO_BLK_S_OK;
}

static int parse_ranges(struct blk_request *req, const struct iovec *rd, unsigned int nrd,
			size_t rd_len, const struct blk_limits *lim)
{
	bool zeroes = req->type == VIRTIO_BLK_T_WRITE_ZEROES;
	size_t payload = rd_len - sizeof(struct blk_header);
	unsigned int n = (unsigned int)(payload / sizeof(struct blk_segment));

	if (!(zeroes ? lim->write_zeroes : lim->discard))
		return VIRTIO_BLK_S_UNSUPP;
	if (lim->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (payload % sizeof(struct blk_segment) || n == 0 || n > BLK_MAX_RANGES)
		return VIRTIO_BLK_S_IOERR;
	for (unsigned int i = 0; i < n; i++) {
		struct blk_segment s;

		iov_to_buf(rd, nrd, sizeof(struct blk_header) + i * sizeof(s), &s, sizeof(s));
		if (s.flags & ~(uint32_t)(zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0))
			return VIRTIO_BLK_S_UNSUPP;
		if (!s.num_sectors || s.num_sectors > BLK_MAX_RANGE_SECTORS ||
		    !in_capacity(lim, s.sector, s.num_sectors))
			return VIRTIO_BLK_S_IOERR;
		req->ranges[i] = (struct blk_range){s.sector << BLK_SECTOR_SHIFT,
						    (uint64_t)s.num_sectors << BLK_SECTOR_SHIFT,
						    s.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP};
	}
	req->nranges = n;
	return VIRTIO_BLK_S_OK;
}

int blk_request_parse(const struct iovec *rd, unsigned int nrd, const struct iovec *wr,
		      unsigned int nwr, const struct blk_limits *lim, struct blk_request *req)
{
	struct blk_header h;
	size_t rd_len = 0;

	req->ndata = 0;
	req->len = 0;
	req->nranges = 0;
	req->used_len = 1;
	req->type = UINT32_MAX;
	req->status = status_byte(wr, nwr);
	if (!req->status)
		return -1;
	for (unsigned int i = 0; i < nrd; i++)
		rd_len += rd[i].iov_len;
	if (iov_to_buf(rd, nrd, 0, &h, sizeof(h)) < sizeof(h))
		return VIRTIO_BLK_S_IOERR;
	req->type = h.type;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return parse_rw(req, &h, rd, nrd, wr, nwr, lim);
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		if (!take_data(req, wr, nwr, 0, 1))
			return VIRTIO_BLK_S_IOERR;
		if (req->len > VIRTIO_BLK_ID_BYTES)
			req->len = VIRTIO_BLK_ID_BYTES;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_ranges(req, rd, nrd, rd_len, lim);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}
