// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-rng and virtio-balloon as the builders make them, on a VM without
 * KVM: the test is the driver (through the MMIO bus) and serves the event
 * loop by hand. Entropy fills the guest's buffers, capped per request;
 * the balloon finds its queues where the negotiated features put them and
 * really drops a reported page (it reads back as zeros); the host target
 * and the driver's "actual" go through the config space.
 */
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "devices/builders.h"
#include "devices/virtio/virtio.h"
#include "test.h"
#include "vmm/event_loop.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define Q_NUM	 8
#define RING_GPA (1 * MiB) /* queue i: desc, avail, used in the 4 KiB page i */
#define DATA_GPA (2 * MiB) /* above the boot area the balloon protects */
#define RAM	 (4 * MiB)

#define F_STATS	    (1u << 1)
#define F_REPORTING (1u << 5)

static const struct vm_config no_config;

static struct vm *fake_vm(void)
{
	struct vm *vm = vm_alloc(&no_config);

	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	CHECK_EQ(event_loop_init(&vm->loop), 0);
	CHECK_EQ(guest_mem_init(&vm->mem, RAM), 0);
	return vm;
}

static void serve_events(struct vm *vm, int timeout_ms)
{
	struct epoll_event ev[16];
	int n = epoll_wait(vm->loop.epfd, ev, 16, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct event_source *src = ev[i].data.ptr;

		src->handler(src, ev[i].events);
	}
}

static void mmio_w(struct vm *vm, uint64_t base, uint32_t off, uint32_t v)
{
	bus_write(&vm->mmio, base + off, &v, 4);
}

static uint32_t mmio_r(struct vm *vm, uint64_t base, uint32_t off)
{
	uint32_t v = 0;

	bus_read(&vm->mmio, base + off, &v, 4);
	return v;
}

static uint64_t ring(unsigned int q, unsigned int part)
{
	return RING_GPA + q * 0x1000 + part * 0x400;
}

/* Negotiate VERSION_1 + features_lo, set up queues 0..nq-1, DRIVER_OK. */
static void driver_start(struct vm *vm, uint64_t base, uint32_t features_lo, unsigned int nq)
{
	mmio_w(vm, base, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_w(vm, base, 0x024, 0);
	mmio_w(vm, base, 0x020, features_lo);
	mmio_w(vm, base, 0x024, 1);
	mmio_w(vm, base, 0x020, 1);
	mmio_w(vm, base, 0x070,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	CHECK(mmio_r(vm, base, 0x070) & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned int q = 0; q < nq; q++) {
		mmio_w(vm, base, 0x030, q);
		mmio_w(vm, base, 0x038, Q_NUM);
		mmio_w(vm, base, 0x080, (uint32_t)ring(q, 0));
		mmio_w(vm, base, 0x090, (uint32_t)ring(q, 1));
		mmio_w(vm, base, 0x0a0, (uint32_t)ring(q, 2));
		mmio_w(vm, base, 0x044, 1);
	}
	mmio_w(vm, base, 0x070,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		   VIRTIO_STATUS_DRIVER_OK);
}

static void driver_give(struct vm *vm, uint64_t base, unsigned int q, uint16_t id, uint64_t gpa,
			uint32_t len, uint16_t flags)
{
	struct virtq_desc *d = guest_ptr(&vm->mem, ring(q, 0), 16 * Q_NUM);
	uint16_t *avail = guest_ptr(&vm->mem, ring(q, 1), 6 + 2 * Q_NUM);

	d[id] = (struct virtq_desc){gpa, len, flags, 0};
	avail[2 + avail[1] % Q_NUM] = id;
	__atomic_store_n(&avail[1], (uint16_t)(avail[1] + 1), __ATOMIC_RELEASE);
	mmio_w(vm, base, 0x050, q);
}

static uint16_t used_idx(struct vm *vm, unsigned int q)
{
	uint16_t *used = guest_ptr(&vm->mem, ring(q, 2), 4 + 8 * Q_NUM);

	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

static struct virtq_used_elem used_elem(struct vm *vm, unsigned int q, unsigned int i)
{
	struct virtq_used_elem *e = guest_ptr(&vm->mem, ring(q, 2) + 4, 8 * Q_NUM);

	return e[i % Q_NUM];
}

static bool wait_used(struct vm *vm, unsigned int q, uint16_t want)
{
	for (int i = 0; i < 200 && used_idx(vm, q) != want; i++)
		serve_events(vm, 10);
	return used_idx(vm, q) == want;
}

static unsigned int distinct_bytes(const uint8_t *p, size_t len)
{
	bool seen[256] = {false};
	unsigned int n = 0;

	for (size_t i = 0; i < len; i++)
		if (!seen[p[i]]) {
			seen[p[i]] = true;
			n++;
		}
	return n;
}

static void test_rng(void)
{
	struct vm *vm = fake_vm();
	uint64_t base = VIRTIO_MMIO_BASE;
	uint8_t *data = guest_ptr(&vm->mem, DATA_GPA, 1 * MiB);

	CHECK_EQ(rng_builder.create(vm), 0);
	CHECK_EQ(mmio_r(vm, base, 0x008), VIRTIO_ID_RNG);
	driver_start(vm, base, 0, 1);

	driver_give(vm, base, 0, 0, DATA_GPA, 4096, VIRTQ_DESC_F_WRITE);
	CHECK(wait_used(vm, 0, 1));
	CHECK_EQ(used_elem(vm, 0, 0).id, 0);
	CHECK_EQ(used_elem(vm, 0, 0).len, 4096);
	CHECK(distinct_bytes(data, 4096) > 200);

	/* A huge request gets the per-request cap; the driver asks again. */
	driver_give(vm, base, 0, 1, DATA_GPA, 1 * MiB, VIRTQ_DESC_F_WRITE);
	CHECK(wait_used(vm, 0, 2));
	CHECK_EQ(used_elem(vm, 0, 1).len, 64 * 1024);

	/* Nothing writable: returned empty, the queue serves on. */
	driver_give(vm, base, 0, 2, DATA_GPA, 64, 0);
	CHECK(wait_used(vm, 0, 3));
	CHECK_EQ(used_elem(vm, 0, 2).len, 0);
	driver_give(vm, base, 0, 3, DATA_GPA + 8192, 16, VIRTQ_DESC_F_WRITE);
	CHECK(wait_used(vm, 0, 4));
	CHECK_EQ(used_elem(vm, 0, 3).len, 16);
	vm_free(vm);
}

/* Report the page at DATA_GPA on queue q; it must come back as zeros. */
static void check_report(struct vm *vm, uint64_t base, unsigned int q, uint16_t want)
{
	uint8_t *page = guest_ptr(&vm->mem, DATA_GPA, 8192);

	memset(page, 0x5a, 8192);
	driver_give(vm, base, q, 0, DATA_GPA, 4096, VIRTQ_DESC_F_WRITE);
	CHECK(wait_used(vm, q, want));
	CHECK_EQ(page[0], 0);
	CHECK_EQ(page[4095], 0);
	CHECK_EQ(page[4096], 0x5a);
}

static void test_balloon_queues(void)
{
	struct vm *vm = fake_vm();
	uint64_t base = VIRTIO_MMIO_BASE;
	uint32_t target = 1234, actual = 77, v = 0;

	unsetenv("KRUN_TEST_BALLOON");
	CHECK_EQ(balloon_builder.create(vm), 0);
	CHECK_EQ(mmio_r(vm, base, 0x008), VIRTIO_ID_BALLOON);
	mmio_w(vm, base, 0x014, 0);
	CHECK_EQ(mmio_r(vm, base, 0x010) & (F_STATS | F_REPORTING | 4), F_STATS | F_REPORTING | 4);
	CHECK(strstr(vm->device_cmdline, "page_reporting.page_reporting_order=9") != NULL);

	/* Stats and reporting: the reporting queue is the fourth. */
	driver_start(vm, base, F_STATS | F_REPORTING, 4);
	check_report(vm, base, 3, 1);

	/* The driver writes "actual"; it cannot write the host's target. */
	bus_write(&vm->mmio, base + 0x100, &target, 4);
	bus_write(&vm->mmio, base + 0x104, &actual, 4);
	bus_read(&vm->mmio, base + 0x100, &v, 4);
	CHECK_EQ(v, 0);
	bus_read(&vm->mmio, base + 0x104, &v, 4);
	CHECK_EQ(v, 77);

	/* Reset, then reporting alone: the reporting queue is the third. */
	mmio_w(vm, base, 0x070, 0);
	memset(guest_ptr(&vm->mem, RING_GPA, 4 * 4096), 0, 4 * 4096);
	driver_start(vm, base, F_REPORTING, 3);
	check_report(vm, base, 2, 1);
	vm_free(vm);
}

static void test_balloon_test_switch(void)
{
	struct vm *vm = fake_vm();
	uint64_t base = VIRTIO_MMIO_BASE;
	uint32_t v = 0;

	setenv("KRUN_TEST_BALLOON", "no-reporting,target=3", 1);
	CHECK_EQ(balloon_builder.create(vm), 0);
	unsetenv("KRUN_TEST_BALLOON");
	mmio_w(vm, base, 0x014, 0);
	CHECK_EQ(mmio_r(vm, base, 0x010) & F_REPORTING, 0);
	CHECK(strstr(vm->device_cmdline, "page_reporting") == NULL);
	bus_read(&vm->mmio, base + 0x100, &v, 4);
	CHECK_EQ(v, 3 * 256); /* num_pages: 3 MiB of 4 KiB pages */
	vm_free(vm);
}

TEST_MAIN("rng_balloon", test_rng(); test_balloon_queues(); test_balloon_test_switch())
