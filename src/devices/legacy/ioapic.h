/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The I/O APIC of a split irqchip: KVM keeps the local APICs, the VMM models
 * the IOAPIC. The model is pure state plus two callbacks, so it is tested
 * without KVM; the KVM side (routes and MSIs) lives in the arch code.
 */
#ifndef KRUN_IOAPIC_H
#define KRUN_IOAPIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IOAPIC_NUM_PINS	 24
#define IOAPIC_MMIO_SIZE 0x1000

/* The message a redirection entry sends to the local APICs. */
struct ioapic_msi {
	uint32_t address;
	uint32_t data;
};

struct ioapic_backend {
	/* Deliver one message now (the pins the VMM drives itself). */
	int (*send_msi)(void *opaque, const struct ioapic_msi *msi);
	/*
	 * The pins KVM delivers by itself (irqfds): msi[pin] is what an edge
	 * on the pin sends, for the pins set in "routed"; the others drop it.
	 */
	int (*set_routes)(void *opaque, uint32_t routed, const struct ioapic_msi *msi);
};

struct ioapic {
	pthread_mutex_t lock;
	uint32_t regsel;
	uint8_t id;
	uint64_t redtbl[IOAPIC_NUM_PINS];
	uint32_t line;	 /* level of the pins the VMM drives, a bit per pin */
	uint32_t routed; /* what KVM was last told */
	struct ioapic_msi routes[IOAPIC_NUM_PINS];
	bool routes_valid;
	bool route_error_logged;
	const struct ioapic_backend *backend;
	void *opaque;
};

void ioapic_init(struct ioapic *io, uint8_t id, const struct ioapic_backend *backend, void *opaque);

/* Register window: offset from the base, any length (only 4 means something). */
void ioapic_mmio_read(struct ioapic *io, uint64_t offset, void *data, uint32_t len);
void ioapic_mmio_write(struct ioapic *io, uint64_t offset, const void *data, uint32_t len);

/* Drive a pin from the VMM (legacy devices); level is 0 or 1. */
void ioapic_set_line(struct ioapic *io, unsigned int pin, int level);

/* A local APIC acknowledged a level-triggered vector. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

/* The message for a redirection entry (pure; for the model and its tests). */
struct ioapic_msi ioapic_entry_msi(uint64_t entry);

#endif
