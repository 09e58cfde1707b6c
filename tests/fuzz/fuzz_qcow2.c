// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: a qcow2 image whose every byte the fuzzer chooses,
 * opened read-write, then read, written, zeroed and discarded across its
 * whole virtual size. Nothing may crash, hang or touch memory it should
 * not. Seeds: small images made by qemu-img (tests/fuzz/corpus/fuzz_qcow2).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/blk/image.h"
#include "libkrun.h"
#include "vmm/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[3 * 65536];
	struct disk_config d = {(char *)"f", NULL,  KRUN_DISK_FORMAT_QCOW2,
				false,	     false, KRUN_SYNC_NONE};
	struct blk_image img;
	char path[64];
	int fd = memfd_create("qcow2", 0);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	d.path = path;
	if (blk_image_open(&img, &d) == 0) {
		uint64_t sz = img.size;
		uint64_t offs[] = {0, sz / 3, sz / 2, sz > 8192 ? sz - 8192 : 0};

		for (unsigned int i = 0; i < 4; i++) {
			uint64_t off = offs[i] & ~511ULL;
			uint64_t len = sz - off < sizeof(buf) ? sz - off : sizeof(buf);
			struct iovec v = {buf, len & ~511ULL};

			if (!v.iov_len)
				continue;
			img.ops->read(&img, &v, 1, off);
			memset(buf, (int)i, v.iov_len);
			if (i & 1)
				img.ops->write(&img, &v, 1, off);
			else
				img.ops->write_zeroes(&img, off, v.iov_len, true);
			img.ops->read(&img, &v, 1, off);
			if (i == 3)
				img.ops->discard(&img, off, v.iov_len);
		}
		blk_image_close(&img);
	}
	close(fd);
	return 0;
}
