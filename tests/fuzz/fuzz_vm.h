/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A VM without KVM for the device fuzzers: 1 MiB of guest RAM, the buses,
 * an event loop served by hand, and a multiport virtio-console (a console
 * port and a named port, output to /dev/null, no input) at the first
 * virtio-mmio window. The fuzzer plays the driver.
 */
#ifndef KRUN_FUZZ_VM_H
#define KRUN_FUZZ_VM_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "devices/virtio/console.h"
#include "devices/virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define FUZZ_RAM  (1 * MiB)
#define MMIO_BASE VIRTIO_MMIO_BASE

static struct vm *fuzz_vm;
static const struct vm_config fuzz_no_config;

static void fuzz_vm_create(void)
{
	struct virtio_console *con;
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	log_set_level(0); /* guest-triggered warnings are the point, not news */
	fuzz_vm = vm_alloc(&fuzz_no_config);
	if (!fuzz_vm || event_loop_init(&fuzz_vm->loop) || guest_mem_init(&fuzz_vm->mem, FUZZ_RAM))
		abort();
	fuzz_vm->pio.name = "pio";
	fuzz_vm->mmio.name = "mmio";
	con = virtio_console_create(fuzz_vm);
	if (!con || virtio_console_add_port(con, NULL, true, -1, devnull) ||
	    virtio_console_add_port(con, "named", false, -1, devnull) ||
	    virtio_console_realize(con))
		abort();
}

static void mmio_write32(uint32_t off, uint32_t v)
{
	bus_write(&fuzz_vm->mmio, MMIO_BASE + off, &v, 4);
}

static uint32_t mmio_read32(uint32_t off)
{
	uint32_t v = 0;

	bus_read(&fuzz_vm->mmio, MMIO_BASE + off, &v, 4);
	return v;
}

/* Whatever the devices' event sources have to do now. */
static void fuzz_serve_events(void)
{
	struct epoll_event ev[16];
	int n = epoll_wait(fuzz_vm->loop.epfd, ev, 16, 0);

	for (int i = 0; i < n; i++) {
		struct event_source *src = ev[i].data.ptr;

		src->handler(src, ev[i].events);
	}
}

/* A fresh device and guest RAM for the next input. */
static void fuzz_vm_reset(void)
{
	mmio_write32(0x070, 0); /* STATUS 0: device reset */
	for (int i = 0; i < 4; i++)
		fuzz_serve_events(); /* consume kicks left over */
	memset(fuzz_vm->mem.regions[0].hva, 0, FUZZ_RAM);
}

/* ---- a well-behaved driver, for the targets that fuzz what comes after ---- */

#define FUZZ_QNUM     64
#define FUZZ_RING_GPA 0x10000 /* queue q: desc, avail, used pages at + 16 KiB q */
#define FUZZ_DATA_GPA 0x80000

static uint64_t fuzz_ring(unsigned int q, unsigned int part)
{
	return FUZZ_RING_GPA + q * 0x4000 + part * 0x1000;
}

/* Negotiate (VERSION_1, MULTIPORT), set up every queue, DRIVER_OK. */
static void fuzz_driver_setup(unsigned int nqueues)
{
	mmio_write32(0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_write32(0x024, 0);
	mmio_write32(0x020, 2);
	mmio_write32(0x024, 1);
	mmio_write32(0x020, 1);
	mmio_write32(0x070,
		     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned int q = 0; q < nqueues; q++) {
		mmio_write32(0x030, q);
		mmio_write32(0x038, FUZZ_QNUM);
		mmio_write32(0x080, (uint32_t)fuzz_ring(q, 0));
		mmio_write32(0x090, (uint32_t)fuzz_ring(q, 1));
		mmio_write32(0x0a0, (uint32_t)fuzz_ring(q, 2));
		mmio_write32(0x044, 1);
	}
	mmio_write32(0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

/* A one-descriptor chain on queue q, notified. */
static void fuzz_driver_give(unsigned int q, uint16_t id, uint64_t gpa, uint32_t len,
			     uint16_t flags)
{
	struct virtq_desc *d = guest_ptr(&fuzz_vm->mem, fuzz_ring(q, 0), 16 * FUZZ_QNUM);
	uint16_t *avail = guest_ptr(&fuzz_vm->mem, fuzz_ring(q, 1), 6 + 2 * FUZZ_QNUM);

	id %= FUZZ_QNUM;
	d[id] = (struct virtq_desc){gpa, len, flags, 0};
	avail[2 + avail[1] % FUZZ_QNUM] = id;
	__atomic_store_n(&avail[1], (uint16_t)(avail[1] + 1), __ATOMIC_RELEASE);
	mmio_write32(0x050, q);
}

#endif
