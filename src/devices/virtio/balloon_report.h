/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the virtio-balloon's guest hands back, judged before the host acts
 * on it: ranges of free page reporting (one descriptor per range), the page
 * frame numbers of the inflate queue, the memory statistics. Pure code over
 * guest memory, so that the unit tests and the fuzzer drive it directly.
 */
#ifndef KRUN_BALLOON_REPORT_H
#define KRUN_BALLOON_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/virtqueue.h"
#include "vmm/memory.h"

#define BALLOON_PAGE_SIZE     4096ULL /* VIRTIO_BALLOON_PFN_SHIFT 12, whatever the host's */
#define BALLOON_MAX_PROTECTED 4

/* Why a range is not given back; BALLOON_RANGE_OK when it is. */
enum balloon_verdict {
	BALLOON_RANGE_OK = 0,
	BALLOON_RANGE_EMPTY,	 /* zero length */
	BALLOON_RANGE_UNALIGNED, /* not whole 4 KiB guest pages */
	BALLOON_RANGE_NOT_RAM,	 /* outside guest RAM, or across the MMIO hole */
	BALLOON_RANGE_PROTECTED, /* overlaps the kernel image or the boot tables */
	BALLOON_RANGE_NR
};

struct balloon_range {
	uint64_t start, end; /* [start, end) guest physical */
};

struct balloon_guard {
	const struct guest_mem *mem;
	struct balloon_range protect[BALLOON_MAX_PROTECTED];
	unsigned int nprotect;
	size_t host_page; /* only whole host pages are discarded */
};

/* What happens to each range: the device madvises, the tests record. */
struct balloon_sink {
	void (*discard)(void *opaque, uint8_t *hva, size_t len);
	void (*refuse)(void *opaque, enum balloon_verdict why, uint64_t gpa, uint64_t len);
	void *opaque;
};

const char *balloon_verdict_name(enum balloon_verdict v);

enum balloon_verdict balloon_check_range(const struct balloon_guard *g, uint64_t gpa, uint64_t len);

/*
 * Check [gpa, gpa+len) and give it back: the host pages wholly inside it go
 * to sink->discard, a refused range to sink->refuse. Returns the bytes
 * discarded.
 */
uint64_t balloon_give_range(const struct balloon_guard *g, const struct balloon_sink *sink,
			    uint64_t gpa, uint64_t len);

/* A free page report: every descriptor of the chain is one free range. */
uint64_t balloon_give_report(const struct balloon_guard *g, const struct balloon_sink *sink,
			     const struct virtq_raw_chain *chain);

/*
 * An inflate buffer: little-endian 32-bit page frame numbers of 4 KiB
 * pages; runs of consecutive frames are given back as one range. A
 * trailing partial number is ignored.
 */
uint64_t balloon_give_pfns(const struct balloon_guard *g, const struct balloon_sink *sink,
			   const uint8_t *buf, size_t len);

/*
 * Format the guest's memory statistics (struct virtio_balloon_stat: a
 * 16-bit tag and a 64-bit value, packed) as "name=value ..." into out.
 * Unknown tags are skipped. Returns the number of statistics formatted.
 */
unsigned int balloon_format_stats(const uint8_t *buf, size_t len, char *out, size_t out_len);

/* madvise(MADV_DONTNEED): the sink the device uses for anonymous guest memory. */
void balloon_discard_anonymous(void *opaque, uint8_t *hva, size_t len);

#endif
