// SPDX-License-Identifier: Apache-2.0
/*
 * A hostile virtio-balloon driver, as a tiny bare-metal guest "kernel"
 * (a static ELF that krun-boot loads like a vmlinux and enters in 64-bit
 * mode on the VMM's identity-mapped page tables). It drives the balloon
 * over virtio-mmio by itself, the way no Linux driver would, and checks
 * from inside the guest what the device did:
 *  - a free page report mixing ranges outside RAM, of zero length, across
 *    the MMIO hole (both edges; the VM needs more than 3 GiB) and over its
 *    own image, with one good page: only the good page comes back (reads
 *    as zeros), the image is intact;
 *  - a second report after that: the queue still works;
 *  - an inflate buffer with a good page frame, one in the hole and one of
 *    the image: the same.
 * It prints one line per check on COM1 and reports 0 (all passed), or the
 * number of the first failed check, through the exit-status port.
 * Run by balloon-tests.sh, which also checks the VMM logged each kind of
 * refusal once.
 */
#include <stdint.h>

#include "guest_abi.h"

#define COM1		 0x3f8
#define VIRTIO_MMIO_BASE 0xd0000000ULL
#define MMIO_HOLE_START	 0xc0000000ULL
#define MMIO_HOLE_END	 0x100000000ULL

/* Pages outside our image, for the device to give back (identity mapped). */
#define VICTIM(n) ((volatile uint8_t *)(uintptr_t)(64ULL * 1024 * 1024 + 4096ULL * (n)))

enum {
	MAGIC = 0x000,
	DEVICE_ID = 0x008,
	DEVICE_FEATURES = 0x010,
	DEVICE_FEATURES_SEL = 0x014,
	DRIVER_FEATURES = 0x020,
	DRIVER_FEATURES_SEL = 0x024,
	QUEUE_SEL = 0x030,
	QUEUE_NUM_MAX = 0x034,
	QUEUE_NUM = 0x038,
	QUEUE_READY = 0x044,
	QUEUE_NOTIFY = 0x050,
	STATUS = 0x070,
	QUEUE_DESC = 0x080,
	QUEUE_DRIVER = 0x090,
	QUEUE_DEVICE = 0x0a0
};

#define F_REPORTING (1u << 5)
#define QSIZE	    8
#define D_NEXT	    1
#define D_WRITE	    2

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct queue {
	struct desc desc[QSIZE];
	struct {
		uint16_t flags, idx, ring[QSIZE], used_event;
	} avail __attribute__((aligned(2)));
	struct {
		uint16_t flags, idx;
		struct {
			uint32_t id, len;
		} ring[QSIZE];
		uint16_t avail_event;
	} used __attribute__((aligned(4)));
	unsigned int index;
} __attribute__((aligned(4096)));

static struct queue inflate_q, report_q;
static uint32_t pfns[4] __attribute__((aligned(64)));
static volatile uint8_t *dev;
/* Part of the image; it must read the same after the device was asked to drop it. */
static const volatile uint64_t marker __attribute__((aligned(4096))) = 0x6b72756e2d62616cULL;
uint8_t stack[16384] __attribute__((aligned(16), used));

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static void print(const char *s)
{
	for (; *s; s++)
		outb(COM1, (uint8_t)*s);
}

static uint32_t rd(unsigned int reg)
{
	return *(volatile uint32_t *)(dev + reg);
}

static void wr(unsigned int reg, uint32_t v)
{
	*(volatile uint32_t *)(dev + reg) = v;
}

static void wr64(unsigned int reg, uint64_t v)
{
	wr(reg, (uint32_t)v);
	wr(reg + 4, (uint32_t)(v >> 32));
}

static __attribute__((noreturn)) void finish(uint32_t status)
{
	print(status ? "balloon-hostile: FAILED\n" : "balloon-hostile: all checks passed\n");
	outl(KRUN_EXIT_STATUS_PORT, status);
	for (;;)
		__asm__ volatile("hlt");
}

static int check_count;

static void check(int ok, const char *what)
{
	check_count++;
	print(ok ? "balloon-hostile: ok   - " : "balloon-hostile: FAIL - ");
	print(what);
	print("\n");
	if (!ok)
		finish((uint32_t)check_count);
}

static int find_balloon(void)
{
	for (unsigned int i = 0; i < 32; i++) {
		dev = (volatile uint8_t *)(uintptr_t)(VIRTIO_MMIO_BASE + 0x1000ULL * i);
		if (rd(MAGIC) == 0x74726976 && rd(DEVICE_ID) == 5)
			return 1;
	}
	return 0;
}

static void setup_queue(struct queue *q, unsigned int index)
{
	q->index = index;
	wr(QUEUE_SEL, index);
	wr(QUEUE_NUM, QSIZE);
	wr64(QUEUE_DESC, (uintptr_t)q->desc);
	wr64(QUEUE_DRIVER, (uintptr_t)&q->avail);
	wr64(QUEUE_DEVICE, (uintptr_t)&q->used);
	wr(QUEUE_READY, 1);
}

/* Chain descs[0..n) from descriptor 0, hand it over, and wait for the device. */
static int submit(struct queue *q, const struct desc *d, unsigned int n)
{
	uint16_t want = (uint16_t)(q->used.idx + 1);

	for (unsigned int i = 0; i < n; i++) {
		q->desc[i] = d[i];
		q->desc[i].next = (uint16_t)(i + 1);
		if (i + 1 < n)
			q->desc[i].flags |= D_NEXT;
	}
	q->avail.ring[q->avail.idx % QSIZE] = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->avail.idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr(QUEUE_NOTIFY, q->index);
	for (unsigned long spin = 0; spin < 4000000000UL; spin++) {
		if (*(volatile uint16_t *)&q->used.idx == want)
			return 1;
		__asm__ volatile("pause");
	}
	return 0;
}

static int zeroed(volatile uint8_t *p)
{
	for (unsigned int i = 0; i < 4096; i++)
		if (p[i])
			return 0;
	return 1;
}

static void fill(volatile uint8_t *p)
{
	for (unsigned int i = 0; i < 4096; i++)
		p[i] = 0xa5;
}

static void hostile_report(void)
{
	uint64_t image_page = (uintptr_t)&marker;
	const struct desc report[] = {
	    {VIRTIO_MMIO_BASE, 4096, D_WRITE, 0},	    /* a device, not RAM */
	    {(uintptr_t)VICTIM(0), 0, D_WRITE, 0},	    /* zero length */
	    {MMIO_HOLE_START - 4096, 8192, D_WRITE, 0},	    /* into the hole */
	    {MMIO_HOLE_END - 4096, 8192, D_WRITE, 0},	    /* out of it */
	    {image_page, 4096, D_WRITE, 0},		    /* our own image */
	    {(uintptr_t)VICTIM(1) + 512, 4096, D_WRITE, 0}, /* not whole pages */
	    {(uintptr_t)VICTIM(0), 4096, D_WRITE, 0},	    /* the good one */
	};

	fill(VICTIM(0));
	fill(VICTIM(1));
	check(submit(&report_q, report, sizeof(report) / sizeof(report[0])),
	      "the device returned the hostile report");
	check(zeroed(VICTIM(0)), "the good page of that report was given back");
	check(marker == 0x6b72756e2d62616cULL, "the page of our own image was not");
	check(VICTIM(1)[0] == 0xa5 && VICTIM(1)[4095] == 0xa5, "nor the unaligned range");
}

static void second_report(void)
{
	const struct desc report[] = {{(uintptr_t)VICTIM(1), 4096, D_WRITE, 0}};

	check(submit(&report_q, report, 1), "a report after the hostile one is served");
	check(zeroed(VICTIM(1)), "and its page given back");
}

static void hostile_inflate(void)
{
	const struct desc buf[] = {{(uintptr_t)pfns, sizeof(pfns), 0, 0}};

	fill(VICTIM(2));
	pfns[0] = (uint32_t)((uintptr_t)VICTIM(2) >> 12);
	pfns[1] = (uint32_t)(MMIO_HOLE_START >> 12);
	pfns[2] = (uint32_t)((uintptr_t)&marker >> 12);
	pfns[3] = 0xffffffffu;
	check(submit(&inflate_q, buf, 1), "the device returned the hostile inflate buffer");
	check(zeroed(VICTIM(2)), "the good frame was given back");
	check(marker == 0x6b72756e2d62616cULL, "the frame of our image was not");
}

void main_c(void)
{
	print("balloon-hostile: start\n");
	check(find_balloon(), "found the virtio-balloon");
	wr(STATUS, 0);
	wr(STATUS, 1 | 2); /* ACKNOWLEDGE | DRIVER */
	wr(DEVICE_FEATURES_SEL, 0);
	check(rd(DEVICE_FEATURES) & F_REPORTING, "the device offers free page reporting");
	wr(DRIVER_FEATURES_SEL, 0);
	wr(DRIVER_FEATURES, F_REPORTING);
	wr(DRIVER_FEATURES_SEL, 1);
	wr(DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
	wr(STATUS, 1 | 2 | 8);
	check(rd(STATUS) & 8, "FEATURES_OK with reporting only");
	wr(QUEUE_SEL, 2);
	check(rd(QUEUE_NUM_MAX) >= QSIZE, "queue 2 (reporting, without stats) exists");
	setup_queue(&inflate_q, 0);
	setup_queue(&report_q, 2);
	wr(STATUS, 1 | 2 | 8 | 4); /* DRIVER_OK */

	hostile_report();
	second_report();
	hostile_inflate();
	finish(0);
}

__asm__(".pushsection .text.start, \"ax\"\n"
	".globl _start\n"
	"_start:\n"
	"  lea stack+16384(%rip), %rsp\n"
	"  call main_c\n"
	"1: hlt\n"
	"  jmp 1b\n"
	".popsection\n");
