// SPDX-License-Identifier: Apache-2.0
/*
 * The split irqchip's IOAPIC model, seen through its register window the
 * way a guest sees it, with a backend that records what KVM would be told:
 * the messages the redirection entries make, routes only for unmasked pins,
 * edge and level pins driven by the VMM, remote IRR and EOI, and accesses a
 * hostile guest may make.
 */
#include "devices/legacy/ioapic.h"
#include "test.h"
#include "vmm/log.h"

#define LOW(pin)  (0x10 + 2 * (pin))
#define HIGH(pin) (0x11 + 2 * (pin))

#define MASKED	   (1u << 16)
#define LEVEL	   (1u << 15)
#define REMOTE_IRR (1u << 14)

static struct {
	unsigned int nmsi;
	struct ioapic_msi last_msi;
	unsigned int nroutes;
	uint32_t routed;
	struct ioapic_msi routes[IOAPIC_NUM_PINS];
	bool refuse_routes;
} rec;

static int record_msi(void *opaque, const struct ioapic_msi *msi)
{
	(void)opaque;
	rec.nmsi++;
	rec.last_msi = *msi;
	return 0;
}

static int record_routes(void *opaque, uint32_t routed, const struct ioapic_msi *msi)
{
	(void)opaque;
	if (rec.refuse_routes)
		return -EINVAL;
	rec.nroutes++;
	rec.routed = routed;
	memcpy(rec.routes, msi, sizeof(rec.routes));
	return 0;
}

static const struct ioapic_backend recorder = {record_msi, record_routes};

static void fresh(struct ioapic *io)
{
	memset(&rec, 0, sizeof(rec));
	ioapic_init(io, 3, &recorder, NULL);
}

static void write32(struct ioapic *io, uint64_t offset, uint32_t v)
{
	ioapic_mmio_write(io, offset, &v, 4);
}

static uint32_t read32(struct ioapic *io, uint64_t offset)
{
	uint32_t v;

	ioapic_mmio_read(io, offset, &v, 4);
	return v;
}

static void set_reg(struct ioapic *io, uint32_t reg, uint32_t v)
{
	write32(io, 0x00, reg);
	write32(io, 0x10, v);
}

static uint32_t get_reg(struct ioapic *io, uint32_t reg)
{
	write32(io, 0x00, reg);
	return read32(io, 0x10);
}

static void test_identity(void)
{
	struct ioapic io;

	fresh(&io);
	CHECK_EQ(get_reg(&io, 0x00), 3u << 24);
	CHECK_EQ(get_reg(&io, 0x01), 0x00170020); /* version 0x20, entries 0..23 */
	CHECK_EQ(read32(&io, 0x00), 0x01);	  /* IOREGSEL reads back */
	for (unsigned int pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		CHECK_EQ(get_reg(&io, LOW(pin)), MASKED);
		CHECK_EQ(get_reg(&io, HIGH(pin)), 0);
	}
	set_reg(&io, 0x00, 9u << 24);
	CHECK_EQ(get_reg(&io, 0x00), 9u << 24);
	set_reg(&io, 0x01, 0);
	CHECK_EQ(get_reg(&io, 0x01), 0x00170020);
	CHECK_EQ(get_reg(&io, 0x10 + 2 * IOAPIC_NUM_PINS), 0); /* past the table */
	CHECK_EQ(rec.nroutes, 0);
}

static void test_messages(void)
{
	struct ioapic_msi m;

	m = ioapic_entry_msi(0x31 | (uint64_t)1 << 56);
	CHECK_EQ(m.address, 0xfee01000);
	CHECK_EQ(m.data, 0x31);
	/* Lowest priority, logical destination 0x0f. */
	m = ioapic_entry_msi(0x40 | 1 << 8 | 1 << 11 | (uint64_t)0x0f << 56);
	CHECK_EQ(m.address, 0xfee0f004);
	CHECK_EQ(m.data, 0x140);
	/* Level-triggered: trigger and assert bits; polarity and mask do not show. */
	m = ioapic_entry_msi(0x22 | LEVEL | 1 << 13 | MASKED);
	CHECK_EQ(m.address, 0xfee00000);
	CHECK_EQ(m.data, 0x22 | 1 << 15 | 1 << 14);
	/* NMI delivery keeps its mode bits. */
	m = ioapic_entry_msi(4 << 8);
	CHECK_EQ(m.data, 0x400);
}

static void test_routes(void)
{
	struct ioapic io;

	fresh(&io);
	/* Linux writes the high half (destination) first, then unmasks. */
	set_reg(&io, HIGH(5), 2u << 24);
	CHECK_EQ(rec.nroutes, 1);
	CHECK_EQ(rec.routed, 0);
	set_reg(&io, LOW(5), 0x35);
	CHECK_EQ(rec.nroutes, 2);
	CHECK_EQ(rec.routed, 1u << 5);
	CHECK_EQ(rec.routes[5].address, 0xfee02000);
	CHECK_EQ(rec.routes[5].data, 0x35);

	/* The same value again: KVM is not asked again. */
	set_reg(&io, LOW(5), 0x35);
	CHECK_EQ(rec.nroutes, 2);

	/* A second pin; then masking the first takes its route away. */
	set_reg(&io, LOW(6), 0x36);
	CHECK_EQ(rec.routed, 1u << 5 | 1u << 6);
	set_reg(&io, LOW(5), 0x35 | MASKED);
	CHECK_EQ(rec.routed, 1u << 6);
	CHECK_EQ(rec.routes[6].data, 0x36);

	/* Moving a pin to another CPU updates its route. */
	set_reg(&io, HIGH(6), 1u << 24);
	CHECK_EQ(rec.routes[6].address, 0xfee01000);
	CHECK_EQ(rec.nmsi, 0); /* routes are KVM's business: nothing sent */
}

static void test_refused_routes(void)
{
	struct ioapic io;
	unsigned int before;

	fresh(&io);
	rec.refuse_routes = true;
	set_reg(&io, LOW(7), 0x47);
	rec.refuse_routes = false;
	before = rec.nroutes;
	/* The next change of any entry tries again with the whole table. */
	set_reg(&io, HIGH(8), 0);
	CHECK_EQ(rec.nroutes, before + 1);
	CHECK_EQ(rec.routed, 1u << 7);
}

static void test_read_only_bits(void)
{
	struct ioapic io;

	fresh(&io);
	set_reg(&io, LOW(2), 0x50 | 1 << 12 | REMOTE_IRR);
	CHECK_EQ(get_reg(&io, LOW(2)), 0x50);
}

static void test_edge_line(void)
{
	struct ioapic io;

	fresh(&io);
	set_reg(&io, HIGH(4), 0);
	set_reg(&io, LOW(4), 0x24);
	ioapic_set_line(&io, 4, 1);
	CHECK_EQ(rec.nmsi, 1);
	CHECK_EQ(rec.last_msi.data, 0x24);
	ioapic_set_line(&io, 4, 1); /* no new edge */
	ioapic_set_line(&io, 4, 0);
	CHECK_EQ(rec.nmsi, 1);
	ioapic_set_line(&io, 4, 1);
	CHECK_EQ(rec.nmsi, 2);
	CHECK_EQ(get_reg(&io, LOW(4)), 0x24); /* no remote IRR on edge pins */

	/* An edge on a masked pin is dropped, not held for the unmask. */
	ioapic_set_line(&io, 4, 0);
	set_reg(&io, LOW(4), 0x24 | MASKED);
	ioapic_set_line(&io, 4, 1);
	set_reg(&io, LOW(4), 0x24);
	CHECK_EQ(rec.nmsi, 2);
}

static void test_level_line(void)
{
	struct ioapic io;

	fresh(&io);
	set_reg(&io, LOW(3), 0x33 | LEVEL);
	ioapic_set_line(&io, 3, 1);
	CHECK_EQ(rec.nmsi, 1);
	CHECK_EQ(rec.last_msi.data, 0x33 | 1 << 15 | 1 << 14);
	CHECK_EQ(get_reg(&io, LOW(3)), 0x33 | LEVEL | REMOTE_IRR);
	ioapic_set_line(&io, 3, 1); /* in service: nothing more */
	CHECK_EQ(rec.nmsi, 1);

	ioapic_eoi(&io, 0x34); /* another vector */
	CHECK_EQ(get_reg(&io, LOW(3)), 0x33 | LEVEL | REMOTE_IRR);
	ioapic_eoi(&io, 0x33); /* the line is still up: again */
	CHECK_EQ(rec.nmsi, 2);
	CHECK_EQ(get_reg(&io, LOW(3)), 0x33 | LEVEL | REMOTE_IRR);

	/* The EOI register does the same; with the line down, no resend. */
	ioapic_set_line(&io, 3, 0);
	write32(&io, 0x40, 0x33);
	CHECK_EQ(rec.nmsi, 2);
	CHECK_EQ(get_reg(&io, LOW(3)), 0x33 | LEVEL);

	/* A level pin masked while its line is up interrupts when unmasked. */
	set_reg(&io, LOW(3), 0x33 | LEVEL | MASKED);
	ioapic_set_line(&io, 3, 1);
	CHECK_EQ(rec.nmsi, 2);
	set_reg(&io, LOW(3), 0x33 | LEVEL);
	CHECK_EQ(rec.nmsi, 3);

	/* Switching the pin to edge clears a pending remote IRR. */
	set_reg(&io, LOW(3), 0x33);
	CHECK_EQ(get_reg(&io, LOW(3)), 0x33);
}

static void test_hostile_accesses(void)
{
	struct ioapic io;
	uint64_t wide = ~0ULL;
	uint8_t byte = 0xff;
	uint16_t half = 0xffff;

	fresh(&io);
	/* Only aligned 32-bit accesses mean anything; others read as zero. */
	ioapic_mmio_read(&io, 0x10, &wide, 8);
	CHECK_EQ(wide, 0);
	ioapic_mmio_read(&io, 0x00, &byte, 1);
	CHECK_EQ(byte, 0);
	ioapic_mmio_read(&io, 0x02, &half, 2);
	CHECK_EQ(half, 0);
	write32(&io, 0x00, LOW(1));
	byte = 0;
	ioapic_mmio_write(&io, 0x10, &byte, 1);
	CHECK_EQ(get_reg(&io, LOW(1)), MASKED);
	wide = 0;
	ioapic_mmio_write(&io, 0x10, &wide, 8);
	CHECK_EQ(get_reg(&io, LOW(1)), MASKED);

	/* IOREGSEL keeps 8 bits; registers past the table do nothing. */
	write32(&io, 0x00, 0xffffff10);
	CHECK_EQ(read32(&io, 0x00), 0x10);
	set_reg(&io, 0xff, 0);
	CHECK_EQ(get_reg(&io, 0xff), 0);
	/* Offsets other than the three registers. */
	write32(&io, 0xffc, 0);
	CHECK_EQ(read32(&io, 0x20), 0);
	CHECK_EQ(read32(&io, 0x40), 0);
	for (unsigned int pin = 0; pin < IOAPIC_NUM_PINS; pin++)
		CHECK_EQ(get_reg(&io, LOW(pin)), MASKED);

	/* Lines past the last pin, EOIs nobody waits for. */
	ioapic_set_line(&io, IOAPIC_NUM_PINS, 1);
	ioapic_set_line(&io, 1000, 1);
	ioapic_eoi(&io, 0);
	CHECK_EQ(rec.nmsi, 0);
}

TEST_MAIN("ioapic", log_set_level(0); test_identity(); test_messages(); test_routes();
	  test_refused_routes(); test_read_only_bits(); test_edge_line(); test_level_line();
	  test_hostile_accesses())
