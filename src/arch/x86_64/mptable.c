// SPDX-License-Identifier: Apache-2.0
/*
 * Intel MultiProcessor Specification 1.4 table: how the guest learns how many
 * CPUs it has and where the IOAPIC is, without ACPI. One processor entry per
 * vCPU (APIC id = vCPU index), one ISA bus, one IOAPIC whose 24 pins take ISA
 * IRQ n on pin n (edge-triggered as the bus, but the level-triggered lines
 * that virtio devices share), and the LINT0/LINT1 wiring of every local APIC.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"
#include "vmm/util.h"

#define MP_APIC_VERSION	  0x14
#define MP_IOAPIC_VERSION 0x11
#define MP_IOAPIC_PINS	  24

enum mp_entry_type { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_IOINTR, MP_LINTR };
enum mp_irq_type { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
/* mp_irq flags: polarity in bits 0-1 (1: active high), trigger in 2-3 (3: level). */
#define MP_IRQ_LEVEL_HIGH (1 | 3 << 2)

struct mp_floating_pointer {
	char signature[4];
	uint32_t config_table;
	uint8_t length; /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mp_config_header {
	char signature[4];
	uint16_t length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_processor {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t flags; /* bit 0 enabled, bit 1 bootstrap processor */
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type;
	uint8_t apic_id;
	uint8_t version;
	uint8_t flags;
	uint32_t addr;
} __attribute__((packed));

struct mp_irq {
	uint8_t type;
	uint8_t irq_type;
	uint16_t flags; /* 0: polarity and trigger conform to the bus */
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_apic;
	uint8_t dst_pin;
} __attribute__((packed));

_Static_assert(sizeof(struct mp_floating_pointer) == 16, "MP floating pointer");
_Static_assert(sizeof(struct mp_config_header) == 44, "MP config header");
_Static_assert(sizeof(struct mp_processor) == 20, "MP processor entry");

size_t x86_mptable_size(unsigned int ncpus)
{
	return sizeof(struct mp_floating_pointer) + sizeof(struct mp_config_header) +
	       ncpus * sizeof(struct mp_processor) + sizeof(struct mp_bus) +
	       sizeof(struct mp_ioapic) + (MP_IOAPIC_PINS + 2) * sizeof(struct mp_irq);
}

int x86_build_mptable(void *buf, size_t len, uint64_t addr, unsigned int ncpus, uint32_t level_pins)
{
	struct mp_floating_pointer *fp = buf;
	struct mp_config_header *hdr = (void *)(fp + 1);
	uint8_t *p = (uint8_t *)(hdr + 1);
	uint8_t ioapic_id = (uint8_t)ncpus;
	uint16_t entries = 0;

	if (ncpus == 0 || ncpus > 254 || len < x86_mptable_size(ncpus))
		return -EINVAL;
	memset(buf, 0, x86_mptable_size(ncpus));

	for (unsigned int cpu = 0; cpu < ncpus; cpu++, entries++) {
		struct mp_processor *e = (void *)p;

		e->type = MP_PROCESSOR;
		e->apic_id = (uint8_t)cpu;
		e->apic_version = MP_APIC_VERSION;
		e->flags = 1 | (cpu == 0 ? 2 : 0);
		e->signature = 0x600; /* family 6 */
		e->features = 0x201;  /* FPU, APIC */
		p += sizeof(*e);
	}

	struct mp_bus *bus = (void *)p;
	bus->type = MP_BUS;
	memcpy(bus->bus_type, "ISA   ", 6);
	p += sizeof(*bus);
	entries++;

	struct mp_ioapic *io = (void *)p;
	io->type = MP_IOAPIC;
	io->apic_id = ioapic_id;
	io->version = MP_IOAPIC_VERSION;
	io->flags = 1;
	io->addr = (uint32_t)IOAPIC_ADDR;
	p += sizeof(*io);
	entries++;

	for (uint8_t pin = 0; pin < MP_IOAPIC_PINS; pin++, entries++) {
		struct mp_irq *e = (void *)p;

		/* A shared virtio line: level-triggered, active high. */
		uint16_t flags = (level_pins >> pin) & 1 ? MP_IRQ_LEVEL_HIGH : 0;

		*e = (struct mp_irq){MP_IOINTR, MP_INT, flags, 0, pin, ioapic_id, pin};
		p += sizeof(*e);
	}

	/* Every local APIC: LINT0 is the legacy PIC (ExtINT), LINT1 is NMI. */
	struct mp_irq *l = (void *)p;
	l[0] = (struct mp_irq){MP_LINTR, MP_EXTINT, 0, 0, 0, 0xff, 0};
	l[1] = (struct mp_irq){MP_LINTR, MP_NMI, 0, 0, 0, 0xff, 1};
	p += 2 * sizeof(*l);
	entries += 2;

	memcpy(hdr->signature, "PCMP", 4);
	hdr->length = (uint16_t)(p - (uint8_t *)hdr);
	hdr->spec_rev = 4;
	memcpy(hdr->oem, "KRUN    ", 8);
	memcpy(hdr->product, "MICROVM     ", 12);
	hdr->entry_count = entries;
	hdr->lapic_addr = (uint32_t)LAPIC_ADDR;
	hdr->checksum = checksum8(hdr, hdr->length);

	memcpy(fp->signature, "_MP_", 4);
	fp->config_table = (uint32_t)(addr + sizeof(*fp));
	fp->length = 1;
	fp->spec_rev = 4;
	fp->checksum = checksum8(fp, sizeof(*fp));
	return 0;
}
