// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the virtio-blk request parser on descriptor layouts and
 * bytes the fuzzer chooses. Whatever it accepts must lie inside the
 * buffers, in capacity, and within the advertised limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/blk/request.h"

#define MAX_IOV 160

static int inside(const struct iovec *iov, const uint8_t *buf, size_t len)
{
	const uint8_t *p = iov->iov_base;

	return p >= buf && p + iov->iov_len <= buf + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct blk_request req;
	struct iovec rd[MAX_IOV], wr[MAX_IOV];
	struct blk_limits lim;
	unsigned int nrd, nwr;
	uint8_t *buf;
	size_t off = 0, len;
	int st;

	if (size < 8)
		return 0;
	lim.sectors = (uint64_t)data[0] << (data[1] % 40);
	lim.read_only = data[2] & 1;
	lim.discard = data[2] & 2;
	lim.write_zeroes = data[2] & 4;
	nrd = data[3] % MAX_IOV;
	nwr = data[4] % MAX_IOV;
	len = size - 8;
	buf = malloc(len + 1);
	memcpy(buf, data + 8, len);
	/* Descriptor lengths from the bytes themselves, cut to what is left. */
	for (unsigned int i = 0; i < nrd + nwr; i++) {
		size_t l = off < len ? (buf[off] * (size_t)(1 + (data[5] & 15))) : 0;

		if (l > len - off)
			l = len - off;
		(i < nrd ? rd : wr)[i < nrd ? i : i - nrd] = (struct iovec){buf + off, l};
		off += l;
	}
	st = blk_request_parse(rd, nrd, wr, nwr, &lim, &req);
	if (st == VIRTIO_BLK_S_OK) {
		uint64_t total = 0;

		for (unsigned int i = 0; i < req.ndata; i++) {
			if (!inside(&req.data[i], buf, len))
				abort();
			total += req.data[i].iov_len;
		}
		if (total != req.len && req.type != VIRTIO_BLK_T_GET_ID)
			abort();
		if ((req.type == VIRTIO_BLK_T_IN || req.type == VIRTIO_BLK_T_OUT) &&
		    (req.len % 512 || (req.offset + req.len) / 512 > lim.sectors))
			abort();
		if (req.type == VIRTIO_BLK_T_OUT && lim.read_only)
			abort();
		for (unsigned int i = 0; i < req.nranges; i++)
			if ((req.ranges[i].offset + req.ranges[i].len) / 512 > lim.sectors)
				abort();
	}
	if (st >= 0 && !(req.status >= buf && req.status < buf + len))
		abort();
	free(buf);
	return 0;
}
