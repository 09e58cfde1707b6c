// SPDX-License-Identifier: Apache-2.0
/*
 * blk-zero DEVICE OFFSET LENGTH: fallocate(PUNCH_HOLE) on a block device,
 * which Linux turns into a WRITE_ZEROES request that may unmap, without
 * the fallback of writing zero pages (BLKDEV_ZERO_NOFALLBACK): the call
 * fails if the device did not do it. Prints "zeroed" on success.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

int main(int argc, char **argv)
{
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: blk-zero DEVICE OFFSET LENGTH\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0 || fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)strtoull(argv[2], NULL, 0),
				(off_t)strtoull(argv[3], NULL, 0)) < 0) {
		fprintf(stderr, "blk-zero: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	puts("zeroed");
	return 0;
}
