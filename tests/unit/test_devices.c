// SPDX-License-Identifier: Apache-2.0
/*
 * Device corner cases a guest can drive, on a VM without KVM (no vCPU: the
 * test plays the driver through the buses, and serves the event loop by
 * hand): the 16550A's loopback against host input; a virtio-console
 * receive buffer without room.
 */
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "devices/legacy/legacy.h"
#include "devices/virtio/console.h"
#include "devices/virtio/virtio.h"
#include "test.h"
#include "vmm/event_loop.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define COM1 0x3f8

enum { THR = 0, LSR = 5, MCR = 4 };

static const struct vm_config no_config;

/* vm_free() releases it, devices included. */
static struct vm *fake_vm(void)
{
	struct vm *vm = vm_alloc(&no_config);

	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	CHECK_EQ(event_loop_init(&vm->loop), 0);
	return vm;
}

/* Serve whatever the event loop has within timeout_ms; returns the events handled. */
static int serve_events(struct vm *vm, int timeout_ms)
{
	struct epoll_event ev[16];
	int n = epoll_wait(vm->loop.epfd, ev, 16, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct event_source *src = ev[i].data.ptr;

		src->handler(src, ev[i].events);
	}
	return n < 0 ? 0 : n;
}

static void outb(struct vm *vm, uint16_t port, uint8_t v)
{
	bus_write(&vm->pio, port, &v, 1);
}

static uint8_t inb(struct vm *vm, uint16_t port)
{
	uint8_t v = 0;

	bus_read(&vm->pio, port, &v, 1);
	return v;
}

/*
 * The guest fills the receive FIFO through loopback; host input that comes
 * meanwhile must wait, not be taken for the end of input (a read() of zero
 * bytes), and reach the guest once loopback is off and the FIFO drained.
 */
static void test_serial_loopback_keeps_host_input(void)
{
	struct vm *vm = fake_vm();
	int p[2];

	CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	CHECK_EQ(serial_create(vm, COM1, 4, p[0], -1), 0);
	outb(vm, COM1 + MCR, 0x10); /* loopback */
	for (int i = 0; i < 64; i++)
		outb(vm, COM1 + THR, (uint8_t)('a' + i % 26));
	CHECK(inb(vm, COM1 + LSR) & 1);
	CHECK_EQ(write(p[1], "x", 1), 1);
	serve_events(vm, 100);
	for (int i = 0; i < 64; i++)
		CHECK_EQ(inb(vm, COM1 + THR), 'a' + i % 26);
	outb(vm, COM1 + MCR, 0);
	serve_events(vm, 100);
	CHECK(inb(vm, COM1 + LSR) & 1); /* the host's byte arrived */
	CHECK_EQ(inb(vm, COM1 + THR), 'x');
	vm_free(vm);
	close(p[0]);
	close(p[1]);
}

/* ---- a virtio-mmio driver, just enough to set up queues ---- */

#define Q_NUM	 128
#define RING_GPA 0x10000 /* queue i: desc, avail, used in 4 KiB pages from RING_GPA + 16 KiB i */
#define DATA_GPA 0x80000 /* to the end of the 1 MiB of guest RAM */

static void mmio_w(struct vm *vm, uint64_t base, uint32_t off, uint32_t v)
{
	bus_write(&vm->mmio, base + off, &v, 4);
}

static uint64_t ring(unsigned int q, unsigned int part)
{
	return RING_GPA + q * 0x4000 + part * 0x1000;
}

static void driver_setup_queue(struct vm *vm, uint64_t base, unsigned int q)
{
	mmio_w(vm, base, 0x030, q);
	mmio_w(vm, base, 0x038, Q_NUM);
	mmio_w(vm, base, 0x080, (uint32_t)ring(q, 0));
	mmio_w(vm, base, 0x090, (uint32_t)ring(q, 1));
	mmio_w(vm, base, 0x0a0, (uint32_t)ring(q, 2));
	mmio_w(vm, base, 0x044, 1);
}

/* Status and features up to FEATURES_OK: VERSION_1 plus "features_lo". */
static void driver_negotiate(struct vm *vm, uint64_t base, uint32_t features_lo)
{
	mmio_w(vm, base, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_w(vm, base, 0x024, 0);
	mmio_w(vm, base, 0x020, features_lo);
	mmio_w(vm, base, 0x024, 1);
	mmio_w(vm, base, 0x020, 1); /* VERSION_1 */
	mmio_w(vm, base, 0x070,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
}

static void driver_ok(struct vm *vm, uint64_t base)
{
	mmio_w(vm, base, 0x070,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		   VIRTIO_STATUS_DRIVER_OK);
}

/* Put a one-descriptor chain (head "id") on queue q and notify the device. */
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

/* Serve events until queue q's used index reaches want, for up to 2 s. */
static bool wait_used(struct vm *vm, unsigned int q, uint16_t want)
{
	for (int i = 0; i < 200 && used_idx(vm, q) != want; i++)
		serve_events(vm, 10);
	return used_idx(vm, q) == want;
}

/*
 * Port 1 of a multiport console reads host input. The guest gives it a
 * receive buffer without a writable byte: the device must return it and
 * keep serving input, not take the empty read() for the end of input and
 * stop the port's reader for good.
 */
static void test_console_rx_without_room(void)
{
	enum { CTRL_TX = 3, PORT1_RX = 4 };
	struct vm *vm = fake_vm();
	struct virtio_console *con = virtio_console_create(vm);
	uint64_t base = VIRTIO_MMIO_BASE;
	struct {
		uint32_t id;
		uint16_t event, value;
	} ready = {1, 3, 1}, open = {1, 6, 1};
	int p[2];

	CHECK_EQ(guest_mem_init(&vm->mem, 1 * MiB), 0);
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	CHECK_EQ(virtio_console_add_port(con, NULL, true, -1, -1), 0);
	CHECK_EQ(virtio_console_add_port(con, "in", false, p[0], -1), 0);
	CHECK_EQ(virtio_console_realize(con), 0);

	driver_negotiate(vm, base, 2 /* MULTIPORT */);
	for (unsigned int q = 0; q < 6; q++)
		driver_setup_queue(vm, base, q);
	driver_ok(vm, base);
	/* PORT_READY and PORT_OPEN for port 1. */
	memcpy(guest_ptr(&vm->mem, DATA_GPA, 8), &ready, 8);
	memcpy(guest_ptr(&vm->mem, DATA_GPA + 8, 8), &open, 8);
	driver_give(vm, base, CTRL_TX, 0, DATA_GPA, 8, 0);
	driver_give(vm, base, CTRL_TX, 1, DATA_GPA + 8, 8, 0);
	CHECK(wait_used(vm, CTRL_TX, 2));

	/* A receive buffer the device may only read. */
	driver_give(vm, base, PORT1_RX, 0, DATA_GPA + 0x100, 64, 0);
	CHECK(wait_used(vm, PORT1_RX, 1));
	CHECK_EQ(used_elem(vm, PORT1_RX, 0).len, 0);
	/* Input still flows into the next, proper buffer. */
	CHECK_EQ(write(p[1], "hello", 5), 5);
	driver_give(vm, base, PORT1_RX, 1, DATA_GPA + 0x200, 64, VIRTQ_DESC_F_WRITE);
	CHECK(wait_used(vm, PORT1_RX, 2));
	CHECK_EQ(used_elem(vm, PORT1_RX, 1).id, 1);
	CHECK_EQ(used_elem(vm, PORT1_RX, 1).len, 5);
	CHECK(!memcmp(guest_ptr(&vm->mem, DATA_GPA + 0x200, 5), "hello", 5));
}

/* A test that blocks instead of failing must still end, as a failure. */
static void *watchdog(void *arg)
{
	sleep(60);
	fprintf(stderr, "%s: blocked for 60 s\n", (const char *)arg);
	_exit(1);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * A guest that floods a console port whose host reader stopped reading (a
 * full pipe): the event loop's handler takes what fits in the port's ring and
 * returns, a bounded number of buffers per wakeup; at the end the drain gives
 * up at the deadline. Before, the loop blocked in write() for good and never
 * served the stop or shutdown requests.
 */
static void test_console_flood(void)
{
	enum { PORT0_TX = 1, CHUNK = 64 * 1024 };
	struct vm *vm = fake_vm();
	struct virtio_console *con = virtio_console_create(vm);
	uint64_t base = VIRTIO_MMIO_BASE;
	struct timespec deadline;
	pthread_t dog;
	double t0;
	int p[2], devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	uint16_t done;

	pthread_create(&dog, NULL, watchdog, "console flood");
	CHECK_EQ(guest_mem_init(&vm->mem, 1 * MiB), 0);
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0); /* nobody reads p[0] */
	CHECK_EQ(virtio_console_add_port(con, NULL, true, -1, p[1]), 0);
	CHECK_EQ(virtio_console_add_port(con, "fast", false, -1, devnull), 0);
	CHECK_EQ(virtio_console_realize(con), 0);
	driver_negotiate(vm, base, 2 /* MULTIPORT */);
	for (unsigned int q = 0; q < 6; q++)
		driver_setup_queue(vm, base, q);
	driver_ok(vm, base);

	/* 8 x 64 KiB into a pipe that holds 64 KiB: the handler must not wait. */
	for (uint16_t i = 0; i < 8; i++)
		driver_give(vm, base, PORT0_TX, i, DATA_GPA, CHUNK, 0);
	t0 = now_s();
	for (int i = 0; i < 20; i++)
		serve_events(vm, 10);
	CHECK(now_s() - t0 < 5);
	done = used_idx(vm, PORT0_TX);
	printf("  flood into a full pipe: %u of 8 buffers taken, the loop went on\n", done);
	CHECK(done >= 1 && done < 8); /* the ring's worth, then back-pressure */

	/* A fast port with 100 buffers waiting: at most the budget per wakeup. */
	for (uint16_t i = 0; i < 100; i++)
		driver_give(vm, base, 5 /* port 1 tx */, i, DATA_GPA, 16, 0);
	CHECK_EQ(serve_events(vm, 100), 1);
	CHECK_EQ(used_idx(vm, 5), 64);
	CHECK(wait_used(vm, 5, 100)); /* it came back for the rest by itself */

	/* The VM stops: the drain gives up on the stuck pipe at the deadline. */
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 1;
	vm->drain_deadline = deadline;
	t0 = now_s();
	vm->virtio[0]->ops->drain(vm->virtio[0]);
	printf("  drain with a stuck reader: %.2f s (deadline 1 s)\n", now_s() - t0);
	CHECK(now_s() - t0 < 3);
	pthread_cancel(dog);
	pthread_join(dog, NULL);
}

TEST_MAIN("devices", test_serial_loopback_keeps_host_input(); test_console_rx_without_room();
	  test_console_flood())
