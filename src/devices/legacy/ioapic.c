// SPDX-License-Identifier: Apache-2.0
/*
 * I/O APIC (82093AA programming model, version 0x20 with the EOI register),
 * for a split irqchip. Two kinds of pins:
 *
 *  - pins of virtio devices, signalled through KVM irqfds: KVM turns an edge
 *    into the pin's MSI by itself, following the routes this model gives it
 *    whenever the guest changes a redirection entry. A masked pin has no
 *    route, so an edge on it is dropped, as a real IOAPIC drops it.
 *  - pins the VMM drives itself (serial ports): ioapic_set_line() keeps the
 *    line level and sends the MSI, with remote-IRR for level-triggered pins.
 *
 * Registers: IOREGSEL at 0x00, IOWIN at 0x10, EOI at 0x40; through IOWIN,
 * 0x00 ID, 0x01 version, 0x02 arbitration, 0x10 + 2n / 0x11 + 2n the low
 * and high halves of redirection entry n.
 */
#include <string.h>

#include "devices/legacy/ioapic.h"
#include "vmm/log.h"

#define IOREGSEL 0x00
#define IOWIN	 0x10
#define IOEOI	 0x40

#define REG_ID	    0x00
#define REG_VERSION 0x01
#define REG_ARB	    0x02
#define REG_REDTBL  0x10

#define IOAPIC_VERSION 0x20

#define RTE_VECTOR	    0xffULL
#define RTE_DELIVERY_MODE   (7ULL << 8)
#define RTE_DEST_LOGICAL    (1ULL << 11)
#define RTE_DELIVERY_STATUS (1ULL << 12)
#define RTE_REMOTE_IRR	    (1ULL << 14)
#define RTE_LEVEL	    (1ULL << 15)
#define RTE_MASKED	    (1ULL << 16)
#define RTE_DEST_SHIFT	    56
#define RTE_READ_ONLY	    (RTE_DELIVERY_STATUS | RTE_REMOTE_IRR)

#define MSI_ADDR_BASE	      0xfee00000u
#define MSI_ADDR_DEST_SHIFT   12
#define MSI_ADDR_DEST_LOGICAL (1u << 2)
#define MSI_DATA_LEVEL_ASSERT (1u << 14)
#define MSI_DATA_LEVEL	      (1u << 15)

struct ioapic_msi ioapic_entry_msi(uint64_t entry)
{
	struct ioapic_msi msi;

	msi.address = MSI_ADDR_BASE | (uint32_t)(entry >> RTE_DEST_SHIFT) << MSI_ADDR_DEST_SHIFT;
	if (entry & RTE_DEST_LOGICAL)
		msi.address |= MSI_ADDR_DEST_LOGICAL;
	msi.data = (uint32_t)(entry & (RTE_VECTOR | RTE_DELIVERY_MODE));
	if (entry & RTE_LEVEL)
		msi.data |= MSI_DATA_LEVEL | MSI_DATA_LEVEL_ASSERT;
	return msi;
}

void ioapic_init(struct ioapic *io, uint8_t id, const struct ioapic_backend *backend, void *opaque)
{
	memset(io, 0, sizeof(*io));
	pthread_mutex_init(&io->lock, NULL);
	io->id = id;
	io->backend = backend;
	io->opaque = opaque;
	for (unsigned int pin = 0; pin < IOAPIC_NUM_PINS; pin++)
		io->redtbl[pin] = RTE_MASKED;
}

/* Tell KVM the messages of the unmasked pins, when they changed. */
static void update_routes(struct ioapic *io)
{
	struct ioapic_msi msi[IOAPIC_NUM_PINS] = {0};
	uint32_t routed = 0;

	for (unsigned int pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		if (io->redtbl[pin] & RTE_MASKED)
			continue;
		routed |= 1u << pin;
		msi[pin] = ioapic_entry_msi(io->redtbl[pin]);
	}
	if (io->routes_valid && routed == io->routed && !memcmp(msi, io->routes, sizeof(msi)))
		return;
	if (io->backend->set_routes(io->opaque, routed, msi) < 0) {
		/* Once: the guest decides how often this runs. */
		if (!io->route_error_logged)
			pr_warn("ioapic: KVM refused the interrupt routes; virtio interrupts may "
				"be lost");
		io->route_error_logged = true;
		io->routes_valid = false;
		return;
	}
	io->routed = routed;
	memcpy(io->routes, msi, sizeof(msi));
	io->routes_valid = true;
}

static void deliver(struct ioapic *io, unsigned int pin)
{
	struct ioapic_msi msi = ioapic_entry_msi(io->redtbl[pin]);

	if (io->redtbl[pin] & RTE_LEVEL)
		io->redtbl[pin] |= RTE_REMOTE_IRR;
	if (io->backend->send_msi(io->opaque, &msi) < 0)
		pr_debug("ioapic: pin %u: the MSI was not delivered", pin);
}

/* A level-triggered pin whose line is up interrupts until the guest EOIs it. */
static void service_level(struct ioapic *io, unsigned int pin)
{
	uint64_t e = io->redtbl[pin];

	if ((e & RTE_LEVEL) && !(e & (RTE_MASKED | RTE_REMOTE_IRR)) && (io->line & (1u << pin)))
		deliver(io, pin);
}

static uint32_t read_reg(struct ioapic *io, uint32_t reg)
{
	switch (reg) {
	case REG_ID:
	case REG_ARB:
		return (uint32_t)io->id << 24;
	case REG_VERSION:
		return IOAPIC_VERSION | (IOAPIC_NUM_PINS - 1) << 16;
	}
	if (reg >= REG_REDTBL && reg < REG_REDTBL + 2 * IOAPIC_NUM_PINS) {
		uint64_t e = io->redtbl[(reg - REG_REDTBL) / 2];

		return (uint32_t)((reg & 1) ? e >> 32 : e);
	}
	return 0;
}

static void write_redtbl(struct ioapic *io, unsigned int pin, bool high, uint32_t value)
{
	uint64_t e = io->redtbl[pin];

	if (high)
		e = (e & 0xffffffffULL) | (uint64_t)value << 32;
	else
		e = (e & (~0xffffffffULL | RTE_READ_ONLY)) | ((uint64_t)value & ~RTE_READ_ONLY);
	/* An edge-triggered pin has no remote IRR. */
	if (!(e & RTE_LEVEL))
		e &= ~RTE_REMOTE_IRR;
	io->redtbl[pin] = e;
	update_routes(io);
	service_level(io, pin);
}

static void write_reg(struct ioapic *io, uint32_t reg, uint32_t value)
{
	if (reg == REG_ID)
		io->id = (uint8_t)(value >> 24);
	else if (reg >= REG_REDTBL && reg < REG_REDTBL + 2 * IOAPIC_NUM_PINS)
		write_redtbl(io, (reg - REG_REDTBL) / 2, reg & 1, value);
	/* The version and arbitration registers are read-only. */
}

void ioapic_mmio_read(struct ioapic *io, uint64_t offset, void *data, uint32_t len)
{
	uint32_t v = 0;

	memset(data, 0, len);
	if (len != 4)
		return;
	pthread_mutex_lock(&io->lock);
	if (offset == IOREGSEL)
		v = io->regsel;
	else if (offset == IOWIN)
		v = read_reg(io, io->regsel);
	pthread_mutex_unlock(&io->lock);
	memcpy(data, &v, 4);
}

void ioapic_mmio_write(struct ioapic *io, uint64_t offset, const void *data, uint32_t len)
{
	uint32_t v;

	if (len != 4)
		return;
	memcpy(&v, data, 4);
	if (offset == IOEOI) {
		ioapic_eoi(io, (uint8_t)v);
		return;
	}
	pthread_mutex_lock(&io->lock);
	if (offset == IOREGSEL)
		io->regsel = v & 0xff;
	else if (offset == IOWIN)
		write_reg(io, io->regsel, v);
	pthread_mutex_unlock(&io->lock);
}

void ioapic_set_line(struct ioapic *io, unsigned int pin, int level)
{
	uint32_t bit;
	bool was_up;

	if (pin >= IOAPIC_NUM_PINS)
		return;
	bit = 1u << pin;
	pthread_mutex_lock(&io->lock);
	was_up = io->line & bit;
	io->line = level ? io->line | bit : io->line & ~bit;
	if (io->redtbl[pin] & RTE_LEVEL)
		service_level(io, pin);
	else if (level && !was_up && !(io->redtbl[pin] & RTE_MASKED))
		deliver(io, pin);
	pthread_mutex_unlock(&io->lock);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	pthread_mutex_lock(&io->lock);
	for (unsigned int pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		uint64_t e = io->redtbl[pin];

		if (!(e & RTE_REMOTE_IRR) || (e & RTE_VECTOR) != vector)
			continue;
		io->redtbl[pin] = e & ~RTE_REMOTE_IRR;
		service_level(io, pin);
	}
	pthread_mutex_unlock(&io->lock);
}
