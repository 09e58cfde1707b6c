// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the split irqchip's IOAPIC: a guest's register
 * accesses (any offset and length) mixed with line changes and EOIs, as a
 * sequence of 8-byte operations. After each one, the model must agree with
 * what it told KVM: a route exactly for each unmasked pin, carrying the
 * message of the entry the guest reads back, and every message it sends
 * that of an unmasked entry.
 *
 * Operation: byte 0 the kind (mod 5: read, write, line, EOI register, EOI
 * from KVM), byte 1 offset or pin, byte 2 length or level, bytes 4-7 data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/legacy/ioapic.h"

static struct ioapic io;
static uint32_t routed;
static struct ioapic_msi routes[IOAPIC_NUM_PINS];
static int routes_seen;

/* Every message sent is the message of an unmasked entry. */
static int send_msi(void *opaque, const struct ioapic_msi *msi)
{
	(void)opaque;
	/* The model's lock is held: peek at the table directly. */
	for (unsigned int pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		struct ioapic_msi m = ioapic_entry_msi(io.redtbl[pin]);

		if (!(io.redtbl[pin] & (1u << 16)) && m.address == msi->address &&
		    m.data == msi->data)
			return 0;
	}
	abort();
}

static int set_routes(void *opaque, uint32_t r, const struct ioapic_msi *msi)
{
	(void)opaque;
	routed = r;
	memcpy(routes, msi, sizeof(routes));
	routes_seen = 1;
	return 0;
}

static const struct ioapic_backend backend = {send_msi, set_routes};

static uint32_t read_reg(uint32_t reg)
{
	uint32_t v = reg;

	ioapic_mmio_write(&io, 0, &v, 4);
	ioapic_mmio_read(&io, 0x10, &v, 4);
	return v;
}

static void check_routes(void)
{
	if (!routes_seen)
		return;
	for (unsigned int pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		uint64_t e = read_reg(0x10 + 2 * pin) | (uint64_t)read_reg(0x11 + 2 * pin) << 32;
		int masked = !!(e & (1u << 16));

		if (masked == !!(routed & (1u << pin)))
			abort();
		if (!masked) {
			struct ioapic_msi m = ioapic_entry_msi(e);

			if (m.address != routes[pin].address || m.data != routes[pin].data)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ioapic_init(&io, 1, &backend, NULL);
	routes_seen = 0;
	for (; size >= 8; data += 8, size -= 8) {
		uint8_t buf[8];
		uint32_t len = data[2] % 9;
		uint32_t value;

		memcpy(&value, data + 4, 4);
		memset(buf, 0, sizeof(buf));
		memcpy(buf, data + 4, 4);
		switch (data[0] % 5) {
		case 0:
			ioapic_mmio_read(&io, data[1], buf, len);
			break;
		case 1:
			ioapic_mmio_write(&io, data[1], buf, len);
			break;
		case 2:
			ioapic_set_line(&io, data[1] % 32, data[2] & 1);
			break;
		case 3:
			value &= 0xff;
			ioapic_mmio_write(&io, 0x40, &value, 4);
			break;
		default:
			ioapic_eoi(&io, data[4]);
			break;
		}
		check_routes();
	}
	pthread_mutex_destroy(&io.lock);
	return 0;
}
