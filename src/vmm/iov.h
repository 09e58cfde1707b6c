/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded copies between flat buffers and scattered (guest) buffers. */
#ifndef KRUN_IOV_H
#define KRUN_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Copy up to len bytes from iov[], starting "skip" bytes in; returns bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t skip, void *buf, size_t len);
/* Copy up to len bytes into iov[], starting "skip" bytes in; returns bytes copied. */
size_t buf_to_iov(const struct iovec *iov, unsigned int n, size_t skip, const void *buf,
		  size_t len);

/* Total length, saturating instead of wrapping. */
size_t iov_length(const struct iovec *iov, unsigned int n);
/*
 * Describe bytes [off, off + len) of iov as at most dst_max iovecs in dst.
 * Returns the number of iovecs; *got is the number of bytes they cover
 * (less than len when iov is shorter or dst_max is reached).
 */
unsigned int iov_slice(const struct iovec *iov, unsigned int n, size_t off, size_t len,
		       struct iovec *dst, unsigned int dst_max, size_t *got);
/* The same, all or nothing: 0 unless the whole range fits in dst_max iovecs. */
unsigned int iov_slice_whole(const struct iovec *iov, unsigned int n, size_t off, size_t len,
			     struct iovec *dst, unsigned int dst_max);
/* Fill every buffer of iov with zeros. */
void iov_zero(const struct iovec *iov, unsigned int n);

#endif
