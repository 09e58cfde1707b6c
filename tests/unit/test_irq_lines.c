// SPDX-License-Identifier: Apache-2.0
/*
 * Interrupt lines of virtio-mmio devices, on a VM without KVM: the first
 * 18 devices get a line each (edges through their irqfd), later ones
 * share, round robin. A shared line is level-triggered in the MP table
 * and driven by the VMM (here into the split-irqchip IOAPIC model with a
 * recording backend): up while any device on it has InterruptStatus bits,
 * down once the guest acknowledged them all, delivered again after an EOI
 * while still up. No cause is lost, whichever device raises when.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "devices/legacy/ioapic.h"
#include "devices/virtio/virtio.h"
#include "test.h"
#include "vmm/event_loop.h"
#include "vmm/vm.h"

#define NDEVS 30

static const struct vm_config no_config;
static unsigned int msis[256]; /* MSIs sent, by vector */

static int record_msi(void *opaque, const struct ioapic_msi *msi)
{
	(void)opaque;
	msis[msi->data & 0xff]++;
	return 0;
}

static int accept_routes(void *opaque, uint32_t routed, const struct ioapic_msi *msi)
{
	(void)opaque;
	(void)routed;
	(void)msi;
	return 0;
}

static const struct ioapic_backend recording = {record_msi, accept_routes};

static void no_release(struct virtio_device *dev)
{
	(void)dev;
}

static int no_activate(struct virtio_device *dev)
{
	(void)dev;
	return 0;
}

static const struct virtio_device_ops test_ops = {
    .name = "test",
    .device_id = VIRTIO_ID_RNG,
    .activate = no_activate,
    .release = no_release,
};

static struct virtio_device devs[NDEVS];

static uint32_t mmio_r(struct vm *vm, const struct virtio_device *d, uint32_t off)
{
	uint32_t v = 0;

	bus_read(&vm->mmio, d->base + off, &v, 4);
	return v;
}

static void mmio_w(struct vm *vm, const struct virtio_device *d, uint32_t off, uint32_t v)
{
	bus_write(&vm->mmio, d->base + off, &v, 4);
}

/* The driver's start: VERSION_1, FEATURES_OK, DRIVER_OK (the device's activate does nothing). */
static void driver_ok(struct vm *vm, const struct virtio_device *d)
{
	mmio_w(vm, d, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_w(vm, d, 0x024, 1);
	mmio_w(vm, d, 0x020, 1);
	mmio_w(vm, d, 0x070,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	mmio_w(vm, d, 0x070,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		   VIRTIO_STATUS_DRIVER_OK);
	CHECK(mmio_r(vm, d, 0x070) & VIRTIO_STATUS_DRIVER_OK);
}

/* What the guest's IOAPIC setup does with the MP table: vector 0x30 + pin. */
static void program_pin(struct ioapic *io, unsigned int pin, bool level)
{
	uint32_t sel = 0x10 + 2 * pin, lo = (0x30 + pin) | (level ? 1u << 15 : 0), hi = 0;

	ioapic_mmio_write(io, 0x00, &sel, 4);
	ioapic_mmio_write(io, 0x10, &lo, 4);
	sel++;
	ioapic_mmio_write(io, 0x00, &sel, 4);
	ioapic_mmio_write(io, 0x10, &hi, 4);
}

static uint64_t irqfd_count(const struct virtio_device *d)
{
	uint64_t v = 0;

	if (read(d->irq_fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void test_shared_lines(void)
{
	struct vm *vm = vm_alloc(&no_config);
	struct ioapic io;
	struct virtio_device *a, *b, *alone;
	unsigned int vec;

	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	CHECK_EQ(event_loop_init(&vm->loop), 0);
	ioapic_init(&io, 1, &recording, NULL);
	vm->ioapic = &io;

	for (unsigned int i = 0; i < NDEVS; i++) {
		devs[i].ops = &test_ops;
		devs[i].nqueues = 1;
		devs[i].queue_max = 8;
		CHECK_EQ(virtio_mmio_add(vm, &devs[i]), 0);
	}
	/* 5, 6, 7, then 9..23 (8 is the RTC's); device 18 shares with device 0... */
	CHECK_EQ(devs[0].irq, 5);
	CHECK_EQ(devs[2].irq, 7);
	CHECK_EQ(devs[3].irq, 9);
	CHECK_EQ(devs[17].irq, 23);
	CHECK_EQ(devs[18].irq, 5);
	CHECK_EQ(devs[29].irq, devs[11].irq);
	CHECK(devs[11].line == devs[29].line && devs[11].line->shared);
	CHECK(!devs[12].line->shared && devs[12].line->ndevs == 1);
	/* Level in the MP table: exactly the shared lines (devices 0..11's). */
	for (unsigned int i = 0; i < 18; i++)
		CHECK_EQ(!!(vm->level_irqs & (1u << devs[i].irq)), i < 12);
	CHECK(strstr(vm->device_cmdline, "virtio_mmio.device=4K@0xd0011000:23 ") != NULL);
	CHECK(strstr(vm->device_cmdline, "virtio_mmio.device=4K@0xd001d000:17") != NULL);
	for (unsigned int pin = 0; pin < 24; pin++)
		program_pin(&io, pin, vm->level_irqs & (1u << pin));

	/* Alone on its line: an edge through the irqfd, the IOAPIC line untouched. */
	alone = &devs[12];
	virtio_notify_used(alone);
	CHECK_EQ(irqfd_count(alone), 1);
	CHECK_EQ(io.line, 0);
	CHECK_EQ(mmio_r(vm, alone, 0x060), 1);

	/* Shared: the first cause raises the line once, the second adds nothing. */
	a = &devs[3];
	b = &devs[21];
	vec = 0x30 + a->irq;
	CHECK_EQ(a->line, b->line);
	/* Before its driver is ready (no DRIVER_OK), a cause does not hold the line... */
	virtio_notify_config(a);
	CHECK(!(io.line & (1u << a->irq)));
	CHECK_EQ(msis[vec], 0);
	/* ...and once it is, the pending cause raises it. */
	driver_ok(vm, b);
	driver_ok(vm, a);
	CHECK(io.line & (1u << a->irq));
	CHECK_EQ(msis[vec], 1);
	mmio_w(vm, a, 0x064, 2);
	CHECK(!(io.line & (1u << a->irq)));
	ioapic_eoi(&io, (uint8_t)vec);
	msis[vec] = 0;
	virtio_notify_used(a);
	CHECK(io.line & (1u << a->irq));
	CHECK_EQ(msis[vec], 1);
	virtio_notify_config(b);
	CHECK_EQ(msis[vec], 1);
	CHECK_EQ(irqfd_count(a), 0); /* no edges on a shared line */
	/* The handler reads both statuses, acknowledges a: b still holds the line. */
	CHECK_EQ(mmio_r(vm, a, 0x060), 1);
	CHECK_EQ(mmio_r(vm, b, 0x060), 2);
	mmio_w(vm, a, 0x064, 1);
	CHECK(io.line & (1u << a->irq));
	/* An EOI while the line is up: delivered again (b's cause is not lost). */
	ioapic_eoi(&io, (uint8_t)vec);
	CHECK_EQ(msis[vec], 2);
	mmio_w(vm, b, 0x064, 2);
	CHECK(!(io.line & (1u << a->irq)));
	ioapic_eoi(&io, (uint8_t)vec);
	CHECK_EQ(msis[vec], 2);

	/* A cause raised after the handler read it, before the EOI: after the EOI. */
	virtio_notify_used(a);
	CHECK_EQ(msis[vec], 3);
	mmio_w(vm, a, 0x064, 1);
	virtio_notify_used(b); /* the line goes up again; remote IRR holds it */
	CHECK_EQ(msis[vec], 3);
	ioapic_eoi(&io, (uint8_t)vec);
	CHECK_EQ(msis[vec], 4);

	/* A device reset drops its causes: the line follows. */
	mmio_w(vm, a, 0x064, 1);
	CHECK(io.line & (1u << a->irq)); /* b's */
	mmio_w(vm, b, 0x070, 0);
	CHECK_EQ(mmio_r(vm, b, 0x060), 0);
	CHECK(!(io.line & (1u << a->irq)));
	/* Reset, b's causes no longer hold the line. */
	virtio_notify_used(b);
	CHECK(!(io.line & (1u << a->irq)));

	/* A third device on a line (devices 0, 18, and one more past 36). */
	CHECK_EQ(devs[0].line->ndevs, 2);

	vm->ioapic = NULL;
	vm_free(vm);
}

static void test_too_many(void)
{
	static struct virtio_device many[VM_MAX_VIRTIO + 1];
	struct vm *vm = vm_alloc(&no_config);
	unsigned int added = 0;
	int ret = 0;

	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	CHECK_EQ(event_loop_init(&vm->loop), 0);
	for (unsigned int i = 0; i <= VM_MAX_VIRTIO && ret == 0; i++) {
		many[i].ops = &test_ops;
		many[i].nqueues = 1;
		many[i].queue_max = 8;
		ret = virtio_mmio_add(vm, &many[i]);
		added += ret == 0;
	}
	/* The kernel command line is full first (about 36 bytes a device), with a clear error. */
	CHECK_EQ(ret, -E2BIG);
	CHECK(added >= 48 && added < VM_MAX_VIRTIO);
	CHECK(strlen(vm->device_cmdline) < VM_MAX_CMDLINE);
	CHECK_EQ(vm->nvirtio, added);
	/* Three devices on the first line now. */
	CHECK_EQ(many[0].line->ndevs, 3);
	vm_free(vm);
}

TEST_MAIN("irq-lines", test_shared_lines(); test_too_many())
