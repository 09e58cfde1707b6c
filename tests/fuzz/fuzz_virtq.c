// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the virtqueue walker against rings whose every byte the
 * fuzzer chooses. Whatever it pops must lie inside guest RAM, and nothing
 * may crash or loop.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"
#include "vmm/util.h"

#define RAM (64 * 1024)

static struct guest_mem mem;
static struct virtq_chain chain;

static int inside_ram(const struct iovec *iov)
{
	uint8_t *base = mem.regions[0].hva;
	uint8_t *p = iov->iov_base;

	return p >= base && p + iov->iov_len <= base + RAM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq vq;

	if (!mem.nregions && guest_mem_init(&mem, RAM) < 0)
		abort();
	if (size < 8)
		return 0;
	memset(mem.regions[0].hva, 0, RAM);
	/* The first bytes choose the queue shape; the rest is guest RAM. */
	virtq_reset(&vq);
	vq.size = (uint16_t)(1u << (data[0] % 9));
	vq.desc_addr = (uint64_t)(data[1] % 16) * 0x1000;
	vq.avail_addr = (uint64_t)(data[2] % 16) * 0x1000 + (data[3] & 6);
	vq.used_addr = (uint64_t)(data[4] % 16) * 0x1000 + (data[5] & 4);
	memcpy(mem.regions[0].hva, data + 8, MIN(size - 8, (size_t)RAM));
	if (!virtq_activate(&vq, &mem))
		return 0;
	vq.ready = true;
	vq.event_idx = data[6] & 1;

	for (int n = 0; n < 64; n++) {
		int got = virtq_pop(&vq, &chain);

		if (got != 1)
			break;
		for (unsigned int i = 0; i < chain.nreadable; i++)
			if (!inside_ram(&chain.readable[i]))
				abort();
		for (unsigned int i = 0; i < chain.nwritable; i++)
			if (!inside_ram(&chain.writable[i]))
				abort();
		virtq_push(&vq, chain.head, (uint32_t)chain.writable_len);
		virtq_needs_notify(&vq);
	}
	return 0;
}
