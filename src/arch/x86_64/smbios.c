// SPDX-License-Identifier: Apache-2.0
/*
 * SMBIOS 3.0 tables (DMTF DSP0134): what the guest reads in /sys/firmware/dmi
 * and /sys/class/dmi/id. Without EFI, Linux finds them by scanning
 * 0xf0000..0xfffff on 16-byte boundaries for the "_SM3_" anchor of the 64-bit
 * entry point, which it looks for before any 2.x "_SM_" one
 * (dmi_scan_machine() in drivers/firmware/dmi_scan.c): the 64-bit entry point
 * alone is enough. It sits below the structure table, so whatever bytes the
 * OEM strings hold, the first anchor the scan meets is ours.
 *
 * Structures: BIOS information (type 0), system information (type 1), OEM
 * strings (type 11, only when there are any), end of table (type 127).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "arch/x86_64/smbios.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define SMBIOS_VENDOR  "libkrun-c"
#define SMBIOS_PRODUCT "microVM"

struct smbios3_entry {
	char anchor[5];
	uint8_t checksum;
	uint8_t length;
	uint8_t major, minor, docrev;
	uint8_t revision; /* of the entry point structure: 1 */
	uint8_t reserved;
	uint32_t table_max_size;
	uint64_t table_addr;
} __attribute__((packed));

struct smbios_header {
	uint8_t type;
	uint8_t length; /* of the formatted area; the strings follow it */
	uint16_t handle;
} __attribute__((packed));

/* String fields are 1-based indexes into the strings after the structure; 0 is none. */
struct smbios_bios {
	struct smbios_header hdr;
	uint8_t vendor;
	uint8_t version;
	uint16_t start_segment; /* 0: no legacy BIOS */
	uint8_t release_date;
	uint8_t rom_size;
	uint64_t characteristics;
	uint8_t characteristics_ext[2];
	uint8_t major, minor;	    /* system BIOS release; 0xff: none */
	uint8_t ec_major, ec_minor; /* embedded controller; 0xff: none */
} __attribute__((packed));

struct smbios_system {
	struct smbios_header hdr;
	uint8_t manufacturer;
	uint8_t product;
	uint8_t version;
	uint8_t serial;
	uint8_t uuid[16]; /* all zero: none */
	uint8_t wakeup_type;
	uint8_t sku;
	uint8_t family;
} __attribute__((packed));

struct smbios_oem_strings {
	struct smbios_header hdr;
	uint8_t count;
} __attribute__((packed));

_Static_assert(sizeof(struct smbios3_entry) == SMBIOS_EP3_SIZE, "SMBIOS 3.0 entry point");
_Static_assert(SMBIOS_EP3_SIZE <= SMBIOS_TABLE_OFFSET, "entry point overlaps the table");
_Static_assert(sizeof(struct smbios_bios) == 0x18, "SMBIOS 3.0 type 0");
_Static_assert(sizeof(struct smbios_system) == 0x1b, "SMBIOS type 1");
_Static_assert(MPTABLE_END <= SMBIOS_ADDR && SMBIOS_ADDR % 16 == 0, "SMBIOS region");
/* 512 bytes bound everything but the OEM strings themselves. */
_Static_assert(SMBIOS_TABLE_OFFSET + 512 + VM_MAX_OEM_STRINGS_SIZE <= SMBIOS_END - SMBIOS_ADDR,
	       "the largest OEM string list accepted fits");

#define BIOS_CHARACTERISTICS_UNSUPPORTED (1ULL << 3)
#define BIOS_EXT2_VIRTUAL_MACHINE	 (1 << 4)
#define WAKEUP_POWER_SWITCH		 6

/* Appends to buf, never past len; an append that does not fit sets overflow. */
struct writer {
	uint8_t *buf;
	size_t len, pos;
	bool overflow;
};

static void put(struct writer *w, const void *src, size_t n)
{
	if (w->overflow || n > w->len - w->pos) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->pos, src, n);
	w->pos += n;
}

/* The formatted area, then the string set: each string's bytes and NUL, one more NUL. */
static void put_structure(struct writer *w, const void *s, size_t size, const char *const *strings,
			  size_t n)
{
	static const uint8_t nul[2];

	put(w, s, size);
	for (size_t i = 0; i < n; i++)
		put(w, strings[i], strlen(strings[i]) + 1);
	put(w, nul, n ? 1 : 2);
}

static void put_bios(struct writer *w, uint16_t handle)
{
	/* No firmware runs: the VMM boots the kernel directly. */
	static const char *const strings[] = {SMBIOS_VENDOR, "direct-boot"};
	struct smbios_bios s = {
	    .hdr = {SMBIOS_TYPE_BIOS, sizeof(s), handle},
	    .vendor = 1,
	    .version = 2,
	    .characteristics = BIOS_CHARACTERISTICS_UNSUPPORTED,
	    .characteristics_ext = {0, BIOS_EXT2_VIRTUAL_MACHINE},
	    .major = 0xff,
	    .minor = 0xff,
	    .ec_major = 0xff,
	    .ec_minor = 0xff,
	};

	put_structure(w, &s, sizeof(s), strings, ARRAY_SIZE(strings));
}

static void put_system(struct writer *w, uint16_t handle)
{
	static const char *const strings[] = {SMBIOS_VENDOR, SMBIOS_PRODUCT};
	struct smbios_system s = {
	    .hdr = {SMBIOS_TYPE_SYSTEM, sizeof(s), handle},
	    .manufacturer = 1,
	    .product = 2,
	    .wakeup_type = WAKEUP_POWER_SWITCH,
	};

	put_structure(w, &s, sizeof(s), strings, ARRAY_SIZE(strings));
}

static void put_oem_strings(struct writer *w, uint16_t handle, const char *const *strings, size_t n)
{
	struct smbios_oem_strings s = {
	    .hdr = {SMBIOS_TYPE_OEM_STRINGS, sizeof(s), handle},
	    .count = (uint8_t)n,
	};

	put_structure(w, &s, sizeof(s), strings, n);
}

static void put_end(struct writer *w, uint16_t handle)
{
	struct smbios_header s = {SMBIOS_TYPE_END, sizeof(s), handle};

	put_structure(w, &s, sizeof(s), NULL, 0);
}

/* How many strings; -EINVAL if one is empty or there are more than a byte counts. */
static int count_strings(const char *const *strings)
{
	int n = 0;

	for (; strings && strings[n]; n++) {
		if (n == 255 || !strings[n][0])
			return -EINVAL;
	}
	return n;
}

ssize_t x86_build_smbios(void *buf, size_t len, uint64_t addr, const char *const *oem_strings)
{
	struct writer w = {buf, len, SMBIOS_TABLE_OFFSET, len < SMBIOS_TABLE_OFFSET};
	struct smbios3_entry ep = {
	    .anchor = "_SM3_",
	    .length = sizeof(ep),
	    .major = 3,
	    .revision = 1,
	    .table_addr = addr + SMBIOS_TABLE_OFFSET,
	};
	int n = count_strings(oem_strings);
	uint16_t handle = 0;

	if (n < 0)
		return n;
	put_bios(&w, handle++);
	put_system(&w, handle++);
	if (n)
		put_oem_strings(&w, handle++, oem_strings, (size_t)n);
	put_end(&w, handle);
	if (w.overflow)
		return -ENOSPC;

	ep.table_max_size = (uint32_t)(w.pos - SMBIOS_TABLE_OFFSET);
	ep.checksum = checksum8(&ep, sizeof(ep));
	memcpy(buf, &ep, sizeof(ep));
	memset((uint8_t *)buf + sizeof(ep), 0, SMBIOS_TABLE_OFFSET - sizeof(ep));
	return (ssize_t)w.pos;
}

int x86_setup_smbios(const struct guest_mem *mem, const char *const *oem_strings)
{
	size_t len = SMBIOS_END - SMBIOS_ADDR;
	void *p = guest_ptr(mem, SMBIOS_ADDR, len);
	ssize_t ret;

	if (!p)
		return -ENOMEM;
	memset(p, 0, len);
	ret = x86_build_smbios(p, len, SMBIOS_ADDR, oem_strings);
	if (ret < 0) {
		pr_err("SMBIOS tables: %s", strerror((int)-ret));
		return (int)ret;
	}
	pr_debug("SMBIOS tables: %zd bytes at %#llx", ret, SMBIOS_ADDR);
	return 0;
}
