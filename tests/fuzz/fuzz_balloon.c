// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the virtio-balloon's free page report and inflate
 * parsers, behind the raw virtqueue walker, on rings whose every byte the
 * fuzzer chooses. Guest RAM has the MMIO hole (3 GiB below, 64 KiB above
 * 4 GiB, lazily mapped). Whatever is discarded must be whole host pages of
 * guest RAM outside the protected ranges; nothing may crash or loop.
 *
 * Input: byte 0 queue size (2^(n%9)), 1-2 ring offsets, 3 host page shift,
 * then 60 KiB of guest RAM at 0, the rest at 4 GiB.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "devices/virtio/balloon_report.h"
#include "vmm/util.h"

#define LOW_COPY (60 * 1024)
#define HIGH_RAM (64 * 1024)
#define RAM	 (MMIO_HOLE_START + HIGH_RAM)

static struct guest_mem mem;
static struct virtq_raw_chain raw;
static struct balloon_guard guard;

/* Back from host address to guest physical, through the regions. */
static uint64_t to_gpa(const uint8_t *hva)
{
	for (unsigned int i = 0; i < mem.nregions; i++) {
		const struct guest_region *r = &mem.regions[i];

		if (hva >= r->hva && hva < r->hva + r->size)
			return r->gpa + (uint64_t)(hva - r->hva);
	}
	abort(); /* not guest RAM */
}

static void check_discard(void *opaque, uint8_t *hva, size_t len)
{
	uint64_t gpa = to_gpa(hva);

	(void)opaque;
	if (!len || ((uintptr_t)hva | len) & (guard.host_page - 1))
		abort();
	if (to_gpa(hva + len - 1) != gpa + len - 1) /* one region, no hole inside */
		abort();
	for (unsigned int i = 0; i < guard.nprotect; i++)
		if (gpa < guard.protect[i].end && guard.protect[i].start < gpa + len)
			abort();
}

static void refused(void *opaque, enum balloon_verdict why, uint64_t gpa, uint64_t len)
{
	(void)opaque;
	(void)gpa;
	(void)len;
	if (why == BALLOON_RANGE_OK || why >= BALLOON_RANGE_NR)
		abort();
}

static const struct balloon_sink sink = {check_discard, refused, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq vq;
	size_t low, high;

	if (!mem.nregions && guest_mem_init(&mem, RAM) < 0)
		abort();
	if (size < 4)
		return 0;
	guard = (struct balloon_guard){.mem = &mem};
	guard.host_page = (size_t)4096 << (data[3] % 5); /* 4 KiB .. 64 KiB */
	guard.protect[guard.nprotect++] = (struct balloon_range){0, 0x2000};
	guard.protect[guard.nprotect++] = (struct balloon_range){0x8000, 0xa000};

	low = MIN(size - 4, (size_t)LOW_COPY);
	high = MIN(size - 4 - low, (size_t)HIGH_RAM);
	memset(mem.regions[0].hva, 0, LOW_COPY);
	memcpy(mem.regions[0].hva, data + 4, low);
	memset(mem.regions[1].hva, 0, HIGH_RAM);
	memcpy(mem.regions[1].hva, data + 4 + low, high);

	virtq_reset(&vq);
	vq.size = (uint16_t)(1u << (data[0] % 9));
	vq.desc_addr = (uint64_t)(data[1] % 14) * 0x1000;
	vq.avail_addr = (uint64_t)(data[2] % 14) * 0x1000 + 0x800;
	vq.used_addr = (uint64_t)(data[2] / 14 % 14) * 0x1000 + 0x400;
	if (!virtq_activate(&vq, &mem))
		return 0;
	vq.ready = true;

	for (int n = 0; n < 64; n++) {
		if (virtq_pop_raw(&vq, &raw) != 1)
			break;
		if (raw.ndesc > VIRTQ_MAX_CHAIN)
			abort();
		balloon_give_report(&guard, &sink, &raw);
		/* The same descriptors read as an inflate buffer's frame numbers. */
		balloon_give_pfns(&guard, &sink, (const uint8_t *)raw.desc,
				  raw.ndesc * sizeof(raw.desc[0]));
		virtq_push(&vq, raw.head, 0);
	}
	return 0;
}
