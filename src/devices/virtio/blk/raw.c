// SPDX-License-Identifier: Apache-2.0
/*
 * Raw images: guest byte X is file byte X. A regular file or a block
 * device; discard and write-zeroes punch holes in a sparse file (or
 * discard / zero-out the range of a block device).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/blk/image.h"
#include "vmm/log.h"

struct raw_image {
	int fd;
	bool blkdev;
};

static int raw_read(struct blk_image *img, const struct iovec *iov, unsigned int n, uint64_t off)
{
	struct raw_image *r = img->priv;

	return blk_preadv_full(r->fd, iov, n, off);
}

static int raw_write(struct blk_image *img, const struct iovec *iov, unsigned int n, uint64_t off)
{
	struct raw_image *r = img->priv;

	return blk_pwritev_full(r->fd, iov, n, off);
}

static int raw_flush(struct blk_image *img)
{
	struct raw_image *r = img->priv;

	return blk_sync_fd(r->fd, img->sync_mode);
}

static int blkdev_range(int fd, unsigned long req, uint64_t off, uint64_t len)
{
	uint64_t range[2] = {off, len};

	return ioctl(fd, req, range) < 0 ? -errno : 0;
}

static int raw_discard(struct blk_image *img, uint64_t off, uint64_t len)
{
	struct raw_image *r = img->priv;

	if (r->blkdev)
		return blkdev_range(r->fd, BLKDISCARD, off, len);
	if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) <
	    0)
		return -errno;
	return 0;
}

static int raw_write_zeroes(struct blk_image *img, uint64_t off, uint64_t len, bool may_unmap)
{
	struct raw_image *r = img->priv;
	static const uint8_t zeroes[65536];

	if (r->blkdev)
		return blkdev_range(r->fd, BLKZEROOUT, off, len);
	if (may_unmap && raw_discard(img, off, len) == 0)
		return 0;
	if (fallocate(r->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) ==
	    0)
		return 0;
	/* A filesystem without either: write the zeroes. */
	while (len) {
		uint64_t n = len < sizeof(zeroes) ? len : sizeof(zeroes);
		int ret = blk_pwrite_full(r->fd, zeroes, n, off);

		if (ret < 0)
			return ret;
		off += n;
		len -= n;
	}
	return 0;
}

static void raw_close(struct blk_image *img)
{
	struct raw_image *r = img->priv;

	close(r->fd);
	free(r);
}

static const struct blk_image_ops raw_ops = {
    .name = "raw",
    .read = raw_read,
    .write = raw_write,
    .flush = raw_flush,
    .discard = raw_discard,
    .write_zeroes = raw_write_zeroes,
    .close = raw_close,
};

int blk_raw_open(struct blk_image *img, const char *path)
{
	int flags = (img->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct raw_image *r;
	struct stat st;
	uint64_t size;
	int fd, err;

	fd = open(path, flags | (img->direct_io ? O_DIRECT : 0));
	if (fd < 0 && errno == EINVAL && img->direct_io) {
		/* tmpfs before Linux 6.6, some FUSE filesystems. */
		pr_warn("disk image %s: its filesystem refuses O_DIRECT; using the page cache",
			path);
		fd = open(path, flags);
	}
	if (fd < 0) {
		err = -errno;
		pr_err("disk image %s: %s", path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		pr_err("disk image %s: not a regular file or a block device", path);
		close(fd);
		return -EINVAL;
	}
	size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0) {
		err = -errno;
		pr_err("disk image %s: BLKGETSIZE64: %s", path, strerror(errno));
		close(fd);
		return err;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		return -ENOMEM;
	}
	r->fd = fd;
	r->blkdev = S_ISBLK(st.st_mode);
	img->phys_block = (uint32_t)st.st_blksize;
	if (r->blkdev) {
		unsigned int pbs = 0, opt = 0;

		if (ioctl(fd, BLKPBSZGET, &pbs) == 0)
			img->phys_block = pbs;
		if (ioctl(fd, BLKIOOPT, &opt) == 0)
			img->opt_io = opt;
	}
	img->ops = &raw_ops;
	img->priv = r;
	img->size = size;
	img->flat = true;
	img->flat_fd = fd;
	img->flat_offset = 0;
	return 0;
}
