// SPDX-License-Identifier: Apache-2.0
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vmm/iov.h"
#include "vmm/util.h"

/* Copy between iov[] (from byte "skip" on) and buf, in either direction. */
static size_t iov_copy(const struct iovec *iov, unsigned int n, size_t skip, uint8_t *buf,
		       size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;
		uint8_t *p = (uint8_t *)iov[i].iov_base + skip;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l = MIN(l - skip, len - done);
		if (to_iov)
			memcpy(p, buf + done, l);
		else
			memcpy(buf + done, p, l);
		done += l;
		skip = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t skip, void *buf, size_t len)
{
	return iov_copy(iov, n, skip, buf, len, false);
}

size_t buf_to_iov(const struct iovec *iov, unsigned int n, size_t skip, const void *buf, size_t len)
{
	return iov_copy(iov, n, skip, (uint8_t *)buf, len, true);
}

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

unsigned int iov_slice_whole(const struct iovec *iov, unsigned int n, size_t off, size_t len,
			     struct iovec *dst, unsigned int dst_max)
{
	size_t got;
	unsigned int count = iov_slice(iov, n, off, len, dst, dst_max, &got);

	return got == len ? count : 0;
}

void iov_zero(const struct iovec *iov, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}
