/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Disk images behind a virtio-blk device: one file per format (raw.c,
 * qcow2.c, vmdk.c), each a small table of synchronous operations on guest
 * byte offsets. An image may also say that it is "flat": guest byte X is
 * byte flat_offset + X of file flat_fd, always. The device then moves the
 * data itself, with many requests in flight (io_uring); every other image
 * is served by its operations on a thread pool.
 *
 * Images are untrusted input: a guest may have written the file in an
 * earlier boot. Every open function validates what it reads and fails with
 * a log line and -errno rather than trust a field.
 */
#ifndef KRUN_BLK_IMAGE_H
#define KRUN_BLK_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct blk_image;

struct blk_image_ops {
	const char *name;
	/* All return 0 or -errno; reads and writes move the whole length. */
	int (*read)(struct blk_image *img, const struct iovec *iov, unsigned int n, uint64_t off);
	int (*write)(struct blk_image *img, const struct iovec *iov, unsigned int n, uint64_t off);
	int (*flush)(struct blk_image *img);
	/* Optional: NULL where the format cannot. */
	int (*discard)(struct blk_image *img, uint64_t off, uint64_t len);
	int (*write_zeroes)(struct blk_image *img, uint64_t off, uint64_t len, bool may_unmap);
	void (*close)(struct blk_image *img);
};

struct blk_image {
	const struct blk_image_ops *ops;
	void *priv;
	const char *path; /* for log lines; the config's string */
	uint64_t size;	  /* bytes the guest sees, a multiple of 512 */
	bool read_only;
	bool direct_io;
	uint32_t sync_mode; /* KRUN_SYNC_* */
	bool flat;
	int flat_fd;
	uint64_t flat_offset;
	/*
	 * What the guest should align to (TOPOLOGY), bytes, 0 if unknown: the
	 * host's physical block (a block device's, a file system's block), and
	 * the optimal I/O size (a block device's, a qcow2 cluster).
	 */
	uint32_t phys_block;
	uint32_t opt_io;
};

struct disk_config;

/* iovec entries an image operation takes at most (a request has fewer). */
#define BLK_IOV_MAX 256

/* Open the image a disk names, in the format it names; logs why on failure. */
int blk_image_open(struct blk_image *img, const struct disk_config *disk);
/* The same for a backing file "depth" levels down a chain. */
int blk_image_open_depth(struct blk_image *img, const struct disk_config *disk, unsigned int depth);
void blk_image_close(struct blk_image *img);

/* The formats' open functions: fill img (ops, priv, size, flat...). */
int blk_raw_open(struct blk_image *img, const char *path);
int blk_qcow2_open_depth(struct blk_image *img, const char *path, unsigned int depth);
int blk_vmdk_open(struct blk_image *img, const char *path);

/* Helpers for the formats: the whole range, or -errno (-EIO at end of file). */
int blk_preadv_full(int fd, const struct iovec *iov, unsigned int n, uint64_t off);
int blk_pwritev_full(int fd, const struct iovec *iov, unsigned int n, uint64_t off);
int blk_pread_full(int fd, void *buf, uint64_t len, uint64_t off);
int blk_pwrite_full(int fd, const void *buf, uint64_t len, uint64_t off);
/* fdatasync or fsync as sync_mode says (KRUN_SYNC_NONE: nothing). */
int blk_sync_fd(int fd, uint32_t sync_mode);

#endif
