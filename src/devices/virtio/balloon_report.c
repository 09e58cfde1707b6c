// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtio/balloon_report.h"
#include "vmm/log.h"
#include "vmm/util.h"

const char *balloon_verdict_name(enum balloon_verdict v)
{
	static const char *const names[BALLOON_RANGE_NR] = {
	    [BALLOON_RANGE_OK] = "given back",
	    [BALLOON_RANGE_EMPTY] = "zero length",
	    [BALLOON_RANGE_UNALIGNED] = "not whole 4 KiB pages",
	    [BALLOON_RANGE_NOT_RAM] = "outside guest RAM or across the MMIO hole",
	    [BALLOON_RANGE_PROTECTED] = "overlaps the kernel or the boot tables",
	};

	return (unsigned int)v < BALLOON_RANGE_NR ? names[v] : "?";
}

enum balloon_verdict balloon_check_range(const struct balloon_guard *g, uint64_t gpa, uint64_t len)
{
	if (!len)
		return BALLOON_RANGE_EMPTY;
	if ((gpa | len) & (BALLOON_PAGE_SIZE - 1))
		return BALLOON_RANGE_UNALIGNED;
	/* One region, so gpa + len cannot overflow from here on. */
	if (!guest_ptr(g->mem, gpa, len))
		return BALLOON_RANGE_NOT_RAM;
	for (unsigned int i = 0; i < g->nprotect; i++)
		if (gpa < g->protect[i].end && g->protect[i].start < gpa + len)
			return BALLOON_RANGE_PROTECTED;
	return BALLOON_RANGE_OK;
}

uint64_t balloon_give_range(const struct balloon_guard *g, const struct balloon_sink *sink,
			    uint64_t gpa, uint64_t len)
{
	enum balloon_verdict v = balloon_check_range(g, gpa, len);
	uintptr_t start, end;
	uint8_t *hva;

	if (v != BALLOON_RANGE_OK) {
		sink->refuse(sink->opaque, v, gpa, len);
		return 0;
	}
	hva = guest_ptr(g->mem, gpa, len);
	/* A host page larger than the guest's is discarded only when wholly free. */
	start = ALIGN_UP((uintptr_t)hva, g->host_page);
	end = ALIGN_DOWN((uintptr_t)hva + len, g->host_page);
	if (end <= start)
		return 0;
	sink->discard(sink->opaque, (uint8_t *)start, end - start);
	return end - start;
}

uint64_t balloon_give_report(const struct balloon_guard *g, const struct balloon_sink *sink,
			     const struct virtq_raw_chain *chain)
{
	uint64_t given = 0;

	for (unsigned int i = 0; i < chain->ndesc && i < VIRTQ_MAX_CHAIN; i++)
		given += balloon_give_range(g, sink, chain->desc[i].addr, chain->desc[i].len);
	return given;
}

static uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t balloon_give_pfns(const struct balloon_guard *g, const struct balloon_sink *sink,
			   const uint8_t *buf, size_t len)
{
	size_t n = len / 4;
	uint64_t given = 0, run_start = 0, run_pages = 0;

	for (size_t i = 0; i <= n; i++) {
		/* Read each number once: the guest may be rewriting the buffer. */
		uint64_t pfn = i < n ? load_le32(buf + 4 * i) : 0;

		if (run_pages && i < n && pfn == run_start + run_pages) {
			run_pages++;
			continue;
		}
		if (run_pages)
			given += balloon_give_range(g, sink, run_start * BALLOON_PAGE_SIZE,
						    run_pages * BALLOON_PAGE_SIZE);
		run_start = pfn;
		run_pages = i < n;
	}
	return given;
}

static const char *const stat_names[] = {
    "swap-in",		"swap-out",	"major-faults",
    "minor-faults",	"free-memory",	"total-memory",
    "available-memory", "disk-caches",	"hugetlb-allocations",
    "hugetlb-failures", "oom-kills",	"alloc-stalls",
    "async-scans",	"direct-scans", "async-reclaims",
    "direct-reclaims",
};

#define STAT_SIZE 10 /* __le16 tag, __le64 val, packed */

unsigned int balloon_format_stats(const uint8_t *buf, size_t len, char *out, size_t out_len)
{
	size_t used = 0;
	unsigned int n = 0;

	if (!out_len)
		return 0;
	out[0] = 0;
	for (size_t off = 0; off + STAT_SIZE <= len; off += STAT_SIZE) {
		uint8_t s[STAT_SIZE];
		uint16_t tag;
		uint64_t val = 0;
		int w;

		memcpy(s, buf + off, sizeof(s));
		tag = (uint16_t)(s[0] | s[1] << 8);
		for (int i = 7; i >= 0; i--)
			val = val << 8 | s[2 + i];
		if (tag >= ARRAY_SIZE(stat_names))
			continue;
		w = snprintf(out + used, out_len - used, "%s%s=%llu", n ? " " : "", stat_names[tag],
			     (unsigned long long)val);
		if (w < 0 || (size_t)w >= out_len - used) {
			out[used] = 0; /* no half statistic */
			break;
		}
		used += (size_t)w;
		n++;
	}
	return n;
}

void balloon_discard_anonymous(void *opaque, uint8_t *hva, size_t len)
{
	static int warned;

	(void)opaque;
	if (madvise(hva, len, MADV_DONTNEED) < 0 && !warned) {
		warned = 1;
		pr_warn("virtio-balloon: madvise(MADV_DONTNEED): %s", strerror(errno));
	}
}
