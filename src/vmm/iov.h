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

#endif
