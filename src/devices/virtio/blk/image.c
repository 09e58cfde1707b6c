// SPDX-License-Identifier: Apache-2.0
/* Opening an image in the format the caller named, and I/O helpers. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/blk/image.h"
#include "libkrun.h"
#include "vmm/config.h"
#include "vmm/log.h"

int blk_image_open(struct blk_image *img, const struct disk_config *disk)
{
	return blk_image_open_depth(img, disk, 0);
}

int blk_image_open_depth(struct blk_image *img, const struct disk_config *disk, unsigned int depth)
{
	int ret;

	memset(img, 0, sizeof(*img));
	img->path = disk->path;
	img->read_only = disk->read_only;
	img->direct_io = disk->direct_io;
	img->sync_mode = disk->sync_mode;
	img->flat_fd = -1;
	/* The format is the caller's word: a guest can make any image look like another. */
	switch (disk->format) {
	case KRUN_DISK_FORMAT_RAW:
		ret = blk_raw_open(img, disk->path);
		break;
	case KRUN_DISK_FORMAT_QCOW2:
		ret = blk_qcow2_open_depth(img, disk->path, depth);
		break;
	case KRUN_DISK_FORMAT_VMDK:
		ret = blk_vmdk_open(img, disk->path);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret < 0)
		return ret;
	if (!img->phys_block && img->flat_fd >= 0) {
		struct stat st;

		if (fstat(img->flat_fd, &st) == 0)
			img->phys_block = (uint32_t)st.st_blksize;
	}
	if (img->size % 512) {
		pr_warn("disk %s: %s image size %llu is not a multiple of 512; the last %llu "
			"bytes are not shown to the guest",
			disk->id, img->ops->name, (unsigned long long)img->size,
			(unsigned long long)(img->size % 512));
		img->size -= img->size % 512;
	}
	return 0;
}

void blk_image_close(struct blk_image *img)
{
	if (img->ops && img->ops->close)
		img->ops->close(img);
	img->ops = NULL;
}

/* Advance an iovec array by "done" bytes; returns the new first index. */
static unsigned int iov_advance(struct iovec *iov, unsigned int n, unsigned int i, size_t done)
{
	while (i < n && done >= iov[i].iov_len) {
		done -= iov[i].iov_len;
		i++;
	}
	if (i < n) {
		iov[i].iov_base = (char *)iov[i].iov_base + done;
		iov[i].iov_len -= done;
	}
	return i;
}

static int rw_full(int fd, const struct iovec *iov, unsigned int n, uint64_t off, bool write)
{
	struct iovec v[IOV_MAX];
	unsigned int i = 0;

	if (n > IOV_MAX)
		return -EINVAL;
	memcpy(v, iov, n * sizeof(*v));
	while (i < n) {
		unsigned int cnt = n - i;
		ssize_t r = write ? pwritev(fd, v + i, (int)cnt, (off_t)off)
				  : preadv(fd, v + i, (int)cnt, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* end of file inside the range */
		off += (uint64_t)r;
		i = iov_advance(v, n, i, (size_t)r);
	}
	return 0;
}

int blk_preadv_full(int fd, const struct iovec *iov, unsigned int n, uint64_t off)
{
	return rw_full(fd, iov, n, off, false);
}

int blk_pwritev_full(int fd, const struct iovec *iov, unsigned int n, uint64_t off)
{
	return rw_full(fd, iov, n, off, true);
}

int blk_pread_full(int fd, void *buf, uint64_t len, uint64_t off)
{
	struct iovec v = {buf, len};

	return len ? rw_full(fd, &v, 1, off, false) : 0;
}

int blk_pwrite_full(int fd, const void *buf, uint64_t len, uint64_t off)
{
	struct iovec v = {(void *)buf, len};

	return len ? rw_full(fd, &v, 1, off, true) : 0;
}

int blk_sync_fd(int fd, uint32_t sync_mode)
{
	int r = 0;

	if (sync_mode == KRUN_SYNC_RELAXED)
		r = fdatasync(fd);
	else if (sync_mode == KRUN_SYNC_FULL)
		r = fsync(fd);
	return r < 0 ? -errno : 0;
}
