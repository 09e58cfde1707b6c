// SPDX-License-Identifier: Apache-2.0
/* Bounded copies between flat buffers and scattered guest buffers. */
#include <stdint.h>
#include <string.h>

#include "devices/virtio/fs/fuse_priv.h"

/* Total length, saturating instead of wrapping. */
size_t iov_length(const struct iovec *iov, unsigned int n)
{
	size_t total = 0;

	for (unsigned int i = 0; i < n; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/*
 * Describe bytes [off, off + len) of iov as at most dst_max iovecs in dst.
 * Returns the number of iovecs; *got is the number of bytes they cover
 * (less than len when iov is shorter or dst_max is reached).
 */
unsigned int iov_slice(const struct iovec *iov, unsigned int n, size_t off, size_t len,
		       struct iovec *dst, unsigned int dst_max, size_t *got)
{
	unsigned int count = 0;
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len && count < dst_max; i++) {
		size_t seg = iov[i].iov_len, chunk;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		chunk = MIN(seg - off, len - done);
		dst[count].iov_base = (uint8_t *)iov[i].iov_base + off;
		dst[count].iov_len = chunk;
		count++;
		done += chunk;
		off = 0;
	}
	*got = done;
	return count;
}
