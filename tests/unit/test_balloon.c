// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-balloon's judge of what the guest gives back: free page
 * reports (straight and through a real ring, indirect tables included),
 * inflate page frame numbers, statistics. Hostile ranges must be refused
 * one by one while the good ones around them still go back.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "arch/x86_64/layout.h"
#include "devices/virtio/balloon_report.h"
#include "test.h"
#include "vmm/util.h"

#define RAM	     (3 * GiB + 64 * MiB) /* [0, 3 GiB) and [4 GiB, 4 GiB + 64 MiB) */
#define KERNEL_START (16 * MiB)
#define KERNEL_END   (32 * MiB)

static struct guest_mem mem;
static struct balloon_guard guard;

#define MAX_SEEN 16
static struct {
	unsigned int ndiscard, nrefuse;
	struct {
		uint8_t *hva;
		size_t len;
	} discard[MAX_SEEN];
	struct {
		enum balloon_verdict why;
		uint64_t gpa, len;
	} refuse[MAX_SEEN];
} seen;

static void record_discard(void *opaque, uint8_t *hva, size_t len)
{
	(void)opaque;
	if (seen.ndiscard < MAX_SEEN)
		seen.discard[seen.ndiscard] = (typeof(seen.discard[0])){hva, len};
	seen.ndiscard++;
}

static void record_refuse(void *opaque, enum balloon_verdict why, uint64_t gpa, uint64_t len)
{
	(void)opaque;
	if (seen.nrefuse < MAX_SEEN)
		seen.refuse[seen.nrefuse] = (typeof(seen.refuse[0])){why, gpa, len};
	seen.nrefuse++;
}

static const struct balloon_sink recorder = {record_discard, record_refuse, NULL};

static void reset_seen(void)
{
	memset(&seen, 0, sizeof(seen));
}

static void setup(void)
{
	if (!mem.nregions && guest_mem_init(&mem, RAM) < 0)
		abort();
	guard = (struct balloon_guard){.mem = &mem, .host_page = 4096};
	guard.protect[guard.nprotect++] = (struct balloon_range){0, HIGH_MEMORY_START};
	guard.protect[guard.nprotect++] = (struct balloon_range){KERNEL_START, KERNEL_END};
	reset_seen();
}

static enum balloon_verdict check(uint64_t gpa, uint64_t len)
{
	return balloon_check_range(&guard, gpa, len);
}

static void test_verdicts(void)
{
	setup();
	CHECK_EQ(check(64 * MiB, 2 * MiB), BALLOON_RANGE_OK);
	CHECK_EQ(check(KERNEL_END, 4096), BALLOON_RANGE_OK);	    /* just after the kernel */
	CHECK_EQ(check(HIGH_MEMORY_START, 4096), BALLOON_RANGE_OK); /* just after the boot area */
	CHECK_EQ(check(MMIO_HOLE_END, 2 * MiB), BALLOON_RANGE_OK);  /* RAM above 4 GiB */
	CHECK_EQ(check(MMIO_HOLE_START - 4096, 4096), BALLOON_RANGE_OK);
	CHECK_EQ(check(MMIO_HOLE_END + 60 * MiB, 4 * MiB), BALLOON_RANGE_OK); /* the last page */

	CHECK_EQ(check(64 * MiB, 0), BALLOON_RANGE_EMPTY);
	CHECK_EQ(check(64 * MiB + 1, 4096), BALLOON_RANGE_UNALIGNED);
	CHECK_EQ(check(64 * MiB, 4095), BALLOON_RANGE_UNALIGNED);
	CHECK_EQ(check(64 * MiB + 2048, 2048), BALLOON_RANGE_UNALIGNED);

	CHECK_EQ(check(MMIO_HOLE_START, 4096), BALLOON_RANGE_NOT_RAM);	      /* in the hole */
	CHECK_EQ(check(VIRTIO_MMIO_BASE, 4096), BALLOON_RANGE_NOT_RAM);	      /* a device */
	CHECK_EQ(check(MMIO_HOLE_START - 4096, 8192), BALLOON_RANGE_NOT_RAM); /* into the hole */
	CHECK_EQ(check(MMIO_HOLE_END - 4096, 8192), BALLOON_RANGE_NOT_RAM);   /* out of it */
	CHECK_EQ(check(MMIO_HOLE_START - 4096, 1 * GiB + 8192), BALLOON_RANGE_NOT_RAM); /* across */
	CHECK_EQ(check(MMIO_HOLE_END + 64 * MiB, 4096), BALLOON_RANGE_NOT_RAM); /* past the end */
	CHECK_EQ(check(MMIO_HOLE_END + 62 * MiB, 4 * MiB), BALLOON_RANGE_NOT_RAM);
	CHECK_EQ(check(1ULL << 52, 4096), BALLOON_RANGE_NOT_RAM);
	/* Sums that would wrap around. */
	CHECK_EQ(check(64 * MiB, ~0xfffULL), BALLOON_RANGE_NOT_RAM);
	CHECK_EQ(check(~0xfffULL, 0x2000), BALLOON_RANGE_NOT_RAM);

	CHECK_EQ(check(0, 4096), BALLOON_RANGE_PROTECTED); /* real-mode area, GDT */
	CHECK_EQ(check(BOOT_ZERO_PAGE, 4096), BALLOON_RANGE_PROTECTED);
	CHECK_EQ(check(KERNEL_START, 4096), BALLOON_RANGE_PROTECTED);
	CHECK_EQ(check(KERNEL_START - 4096, 8192), BALLOON_RANGE_PROTECTED); /* its first page */
	CHECK_EQ(check(KERNEL_END - 4096, 8192), BALLOON_RANGE_PROTECTED);   /* its last page */
	CHECK_EQ(check(8 * MiB, 64 * MiB), BALLOON_RANGE_PROTECTED);	     /* all of it */
	CHECK_EQ(check(0, 1 * GiB), BALLOON_RANGE_PROTECTED);
}

static void test_give_range(void)
{
	uint8_t *base = mem.mapping;

	setup();
	CHECK_EQ(balloon_give_range(&guard, &recorder, 64 * MiB, 2 * MiB), 2 * MiB);
	CHECK_EQ(seen.ndiscard, 1);
	CHECK(seen.discard[0].hva == base + 64 * MiB);
	CHECK_EQ(seen.discard[0].len, 2 * MiB);

	/* Above the hole, the host address is the second region's. */
	reset_seen();
	CHECK_EQ(balloon_give_range(&guard, &recorder, MMIO_HOLE_END + 4 * MiB, 4096), 4096);
	CHECK(seen.discard[0].hva == base + MMIO_HOLE_START + 4 * MiB);

	reset_seen();
	CHECK_EQ(balloon_give_range(&guard, &recorder, KERNEL_START, 2 * MiB), 0);
	CHECK_EQ(seen.ndiscard, 0);
	CHECK_EQ(seen.nrefuse, 1);
	CHECK_EQ(seen.refuse[0].why, BALLOON_RANGE_PROTECTED);
	CHECK_EQ(seen.refuse[0].gpa, KERNEL_START);
	CHECK_EQ(seen.refuse[0].len, 2 * MiB);

	/* 64 KiB host pages: only the ones wholly inside the guest's range. */
	setup();
	guard.host_page = 64 * KiB;
	CHECK_EQ(balloon_give_range(&guard, &recorder, 64 * MiB + 4096, 128 * KiB), 64 * KiB);
	CHECK(seen.discard[0].hva == base + 64 * MiB + 64 * KiB);
	CHECK_EQ(seen.discard[0].len, 64 * KiB);
	reset_seen();
	CHECK_EQ(balloon_give_range(&guard, &recorder, 64 * MiB + 4096, 32 * KiB), 0);
	CHECK_EQ(seen.ndiscard, 0);
	CHECK_EQ(seen.nrefuse, 0); /* not refused: just smaller than a host page */
}

/* MADV_DONTNEED really drops the page: it reads back as zeros. */
static void test_discard_anonymous(void)
{
	static const struct balloon_sink madvise_sink = {balloon_discard_anonymous, record_refuse,
							 NULL};
	uint8_t *page = guest_ptr(&mem, 100 * MiB, 8192);

	setup();
	memset(page, 0xa5, 8192);
	CHECK_EQ(balloon_give_range(&guard, &madvise_sink, 100 * MiB, 4096), 4096);
	CHECK_EQ(page[0], 0);
	CHECK_EQ(page[4095], 0);
	CHECK_EQ(page[4096], 0xa5); /* the next page is the guest's still */
}

/* ---- through a real ring ------------------------------------------------ */

#define QSIZE	     64
#define DESC_GPA     (40 * MiB)
#define AVAIL_GPA    (DESC_GPA + 0x1000)
#define USED_GPA     (DESC_GPA + 0x2000)
#define INDIRECT_GPA (DESC_GPA + 0x3000)

static struct virtq vq;
static struct virtq_raw_chain raw;

static void setup_ring(void)
{
	memset(guest_ptr(&mem, DESC_GPA, 0x4000), 0, 0x4000);
	virtq_reset(&vq);
	vq.size = QSIZE;
	vq.desc_addr = DESC_GPA;
	vq.avail_addr = AVAIL_GPA;
	vq.used_addr = USED_GPA;
	CHECK(virtq_activate(&vq, &mem));
	vq.ready = true;
}

static void put_desc(uint64_t table_gpa, unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct virtq_desc *d = guest_ptr(&mem, table_gpa + 16 * i, 16);

	*d = (struct virtq_desc){addr, len, flags, next};
}

static void make_available(uint16_t head)
{
	uint16_t *a = guest_ptr(&mem, AVAIL_GPA, 6 + 2 * QSIZE);

	a[2 + a[1] % QSIZE] = head;
	a[1]++;
}

static const struct {
	uint64_t gpa, len;
	enum balloon_verdict want;
} report[] = {
    {64 * MiB, 2 * MiB, BALLOON_RANGE_OK},
    {VIRTIO_MMIO_BASE, 2 * MiB, BALLOON_RANGE_NOT_RAM},		 /* outside RAM */
    {66 * MiB, 0, BALLOON_RANGE_EMPTY},				 /* zero length */
    {MMIO_HOLE_START - 1 * MiB, 2 * MiB, BALLOON_RANGE_NOT_RAM}, /* across the hole */
    {KERNEL_START + 2 * MiB, 2 * MiB, BALLOON_RANGE_PROTECTED},	 /* in the kernel */
    {MMIO_HOLE_END, 2 * MiB, BALLOON_RANGE_OK},			 /* high RAM */
    {68 * MiB + 512, 2 * MiB, BALLOON_RANGE_UNALIGNED},		 /* not pages */
    {70 * MiB, 4 * MiB, BALLOON_RANGE_OK},
};
#define NREPORT ARRAY_SIZE(report)

static void check_report_outcome(void)
{
	uint64_t given;
	unsigned int ok = 0, refused = 0;

	reset_seen();
	given = balloon_give_report(&guard, &recorder, &raw);
	CHECK_EQ(given, 8 * MiB);
	for (unsigned int i = 0; i < NREPORT; i++) {
		if (report[i].want == BALLOON_RANGE_OK) {
			CHECK(seen.discard[ok].hva ==
			      guest_ptr(&mem, report[i].gpa, report[i].len));
			CHECK_EQ(seen.discard[ok].len, report[i].len);
			ok++;
		} else {
			CHECK_EQ(seen.refuse[refused].why, report[i].want);
			CHECK_EQ(seen.refuse[refused].gpa, report[i].gpa);
			refused++;
		}
	}
	CHECK_EQ(seen.ndiscard, ok);
	CHECK_EQ(seen.nrefuse, refused);
}

static void test_report_chain(void)
{
	setup();
	setup_ring();
	/* A direct chain, device-writable as Linux queues it. */
	for (unsigned int i = 0; i < NREPORT; i++)
		put_desc(DESC_GPA, i, report[i].gpa, (uint32_t)report[i].len,
			 VIRTQ_DESC_F_WRITE | (i + 1 < NREPORT ? VIRTQ_DESC_F_NEXT : 0), i + 1);
	make_available(0);
	CHECK_EQ(virtq_pop_raw(&vq, &raw), 1);
	CHECK_EQ(raw.head, 0);
	CHECK_EQ(raw.ndesc, NREPORT);
	check_report_outcome();
	/* Hostile addresses do not break the queue: the device judges them. */
	CHECK(!vq.broken);
	virtq_push(&vq, raw.head, 0);

	/* The same through an indirect table. */
	for (unsigned int i = 0; i < NREPORT; i++)
		put_desc(INDIRECT_GPA, i, report[i].gpa, (uint32_t)report[i].len,
			 VIRTQ_DESC_F_WRITE | (i + 1 < NREPORT ? VIRTQ_DESC_F_NEXT : 0), i + 1);
	put_desc(DESC_GPA, 10, INDIRECT_GPA, 16 * NREPORT, VIRTQ_DESC_F_INDIRECT, 0);
	make_available(10);
	CHECK_EQ(virtq_pop_raw(&vq, &raw), 1);
	CHECK_EQ(raw.head, 10);
	CHECK_EQ(raw.ndesc, NREPORT);
	check_report_outcome();
	CHECK(!vq.broken);

	/* The ring itself must still be sound: a looping chain breaks it. */
	put_desc(DESC_GPA, 20, 64 * MiB, 4096, VIRTQ_DESC_F_NEXT, 21);
	put_desc(DESC_GPA, 21, 64 * MiB, 4096, VIRTQ_DESC_F_NEXT, 20);
	make_available(20);
	CHECK_EQ(virtq_pop_raw(&vq, &raw), -EINVAL);
	CHECK(vq.broken);
	CHECK_EQ(virtq_pop_raw(&vq, &raw), 0);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void test_pfns(void)
{
	static const uint32_t pfns[] = {
	    0x4000,
	    0x4001,
	    0x4002,		     /* one run: 12 KiB at 64 MiB */
	    0x5000,		     /* alone */
	    0xffffffff,		     /* 16 TiB: outside RAM */
	    5,			     /* the boot area */
	    KERNEL_START / 4096 + 1, /* the kernel */
	    MMIO_HOLE_START / 4096,  /* the hole */
	    MMIO_HOLE_END / 4096,
	    MMIO_HOLE_END / 4096 + 1, /* high RAM, one run */
	};
	uint8_t buf[sizeof(pfns) + 2];

	setup();
	for (size_t i = 0; i < ARRAY_SIZE(pfns); i++)
		put_le32(buf + 4 * i, pfns[i]);
	buf[sizeof(pfns)] = buf[sizeof(pfns) + 1] = 0x01; /* a partial number: ignored */
	CHECK_EQ(balloon_give_pfns(&guard, &recorder, buf, sizeof(buf)),
		 12 * KiB + 4 * KiB + 8 * KiB);
	CHECK_EQ(seen.ndiscard, 3);
	CHECK(seen.discard[0].hva == mem.mapping + 64 * MiB);
	CHECK_EQ(seen.discard[0].len, 12 * KiB);
	CHECK(seen.discard[1].hva == mem.mapping + 0x5000ULL * 4096);
	CHECK(seen.discard[2].hva == mem.mapping + MMIO_HOLE_START);
	CHECK_EQ(seen.discard[2].len, 8 * KiB);
	CHECK_EQ(seen.nrefuse, 4);
	CHECK_EQ(seen.refuse[0].why, BALLOON_RANGE_NOT_RAM);
	CHECK_EQ(seen.refuse[1].why, BALLOON_RANGE_PROTECTED);
	CHECK_EQ(seen.refuse[2].why, BALLOON_RANGE_PROTECTED);
	CHECK_EQ(seen.refuse[3].why, BALLOON_RANGE_NOT_RAM);

	reset_seen();
	CHECK_EQ(balloon_give_pfns(&guard, &recorder, buf, 3), 0); /* less than one number */
	CHECK_EQ(seen.ndiscard + seen.nrefuse, 0);
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	p[0] = (uint8_t)tag;
	p[1] = (uint8_t)(tag >> 8);
	for (int i = 0; i < 8; i++)
		p[2 + i] = (uint8_t)(val >> (8 * i));
}

static void test_stats(void)
{
	uint8_t buf[4 * 10 + 3];
	char line[128], tiny[24];

	put_stat(buf, 4, 123456789); /* free-memory */
	put_stat(buf + 10, 999, 1);  /* unknown: skipped */
	put_stat(buf + 20, 5, 1ULL << 40);
	put_stat(buf + 30, 10, 2); /* oom-kills */
	CHECK_EQ(balloon_format_stats(buf, sizeof(buf), line, sizeof(line)), 3);
	CHECK(!strcmp(line, "free-memory=123456789 total-memory=1099511627776 oom-kills=2"));
	CHECK_EQ(balloon_format_stats(buf, 9, line, sizeof(line)), 0);
	CHECK(!strcmp(line, ""));
	/* A line too short stops at the last statistic that fits. */
	CHECK_EQ(balloon_format_stats(buf, sizeof(buf), tiny, sizeof(tiny)), 1);
	CHECK(!strcmp(tiny, "free-memory=123456789"));
	CHECK_EQ(balloon_format_stats(buf, sizeof(buf), line, 0), 0);
}

TEST_MAIN("balloon", test_verdicts(); test_give_range(); test_discard_anonymous();
	  test_report_chain(); test_pfns(); test_stats())
