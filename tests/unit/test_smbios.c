// SPDX-License-Identifier: Apache-2.0
/*
 * SMBIOS tables: the entry point as Linux's legacy scan finds and checks it,
 * the structures walked the way dmi_scan.c walks them, OEM strings back
 * byte-exact, the bounds of vm_config_set_oem_strings(), and the place of the
 * tables in guest memory.
 */
#include <stdlib.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/smbios.h"
#include "test.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/memory.h"
#include "vmm/util.h"

#define REGION (SMBIOS_END - SMBIOS_ADDR)

static uint8_t region[REGION];

struct entry_point {
	uint32_t table_len;
	uint64_t table_addr;
};

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* dmi_smbios3_present(): anchor, length 24..32, checksum; version 3.0.0. */
static bool smbios3_present(const uint8_t *p, struct entry_point *ep)
{
	if (memcmp(p, "_SM3_", 5) || p[6] < 24 || p[6] > 32 || sum(p, p[6]))
		return false;
	if (p[7] != 3 || p[8] != 0 || p[9] != 0)
		return false;
	ep->table_len = le32(p + 12);
	ep->table_addr = le32(p + 16) | (uint64_t)le32(p + 20) << 32;
	return true;
}

/* Offset of the first entry point a 16-byte scan of area finds, or -1. */
static long scan(const uint8_t *area, size_t len, struct entry_point *ep)
{
	for (size_t off = 0; off + 32 <= len; off += 16) {
		if (smbios3_present(area + off, ep))
			return (long)off;
	}
	return -1;
}

struct structure {
	uint8_t type, length;
	uint16_t handle;
	const uint8_t *formatted;
	const char *strings[256];
	unsigned int nstrings;
};

/*
 * The next structure at *pos of table[0..len): its formatted area and
 * strings; advances *pos past the double NUL. False if it runs off the end.
 */
static bool next_structure(const uint8_t *table, size_t len, size_t *pos, struct structure *s)
{
	const uint8_t *p = table + *pos;
	size_t i;

	if (*pos + 4 > len || p[1] < 4 || *pos + p[1] + 2 > len)
		return false;
	s->type = p[0];
	s->length = p[1];
	s->handle = (uint16_t)(p[2] | p[3] << 8);
	s->formatted = p;
	s->nstrings = 0;
	i = *pos + p[1];
	if (!table[i] && !table[i + 1]) {
		*pos = i + 2;
		return true;
	}
	while (i < len && table[i]) {
		size_t n = strnlen((const char *)table + i, len - i);

		if (i + n >= len || s->nstrings == 256)
			return false;
		s->strings[s->nstrings++] = (const char *)table + i;
		i += n + 1;
	}
	if (i >= len)
		return false;
	*pos = i + 1;
	return true;
}

/* Builds into region, checks the entry point and walks every structure. */
static unsigned int build_and_walk(const char *const *oem, struct structure *out, unsigned int max)
{
	struct entry_point ep;
	ssize_t size;
	size_t pos = SMBIOS_TABLE_OFFSET;
	unsigned int n = 0;

	memset(region, 0xa5, sizeof(region));
	size = x86_build_smbios(region, sizeof(region), SMBIOS_ADDR, oem);
	CHECK(size > SMBIOS_TABLE_OFFSET);
	if (size <= SMBIOS_TABLE_OFFSET)
		return 0;
	CHECK_EQ(scan(region, sizeof(region), &ep), 0);
	CHECK_EQ(ep.table_addr, SMBIOS_ADDR + SMBIOS_TABLE_OFFSET);
	CHECK_EQ(ep.table_len, (size_t)size - SMBIOS_TABLE_OFFSET);
	CHECK_EQ(region[size], 0xa5); /* nothing written past the end */
	while (n < max && next_structure(region, (size_t)size, &pos, &out[n])) {
		if (out[n++].type == SMBIOS_TYPE_END)
			break;
	}
	CHECK_EQ(pos, (size_t)size); /* the end-of-table structure ends the table */
	return n;
}

static void test_entry_point(void)
{
	struct entry_point ep;
	ssize_t size = x86_build_smbios(region, sizeof(region), SMBIOS_ADDR, NULL);

	CHECK(size > 0);
	CHECK(!memcmp(region, "_SM3_", 5));
	CHECK_EQ(region[6], SMBIOS_EP3_SIZE);
	CHECK_EQ(sum(region, SMBIOS_EP3_SIZE), 0);
	CHECK_EQ(region[10], 1); /* entry point revision */
	CHECK(smbios3_present(region, &ep));

	/* A corrupted byte breaks the checksum. */
	region[12] ^= 1;
	CHECK(!smbios3_present(region, &ep));
}

static void test_structures(void)
{
	static const char *const oem[] = {"hello", "with space", "\x01\xff\t=;\"'\\", NULL};
	static struct structure s[8];
	unsigned int n = build_and_walk(oem, s, 8);

	CHECK_EQ(n, 4);
	if (n != 4)
		return;
	CHECK_EQ(s[0].type, SMBIOS_TYPE_BIOS);
	CHECK_EQ(s[0].length, 0x18);
	CHECK_EQ(s[0].formatted[4], 1); /* vendor: string 1 */
	CHECK_EQ(s[0].formatted[5], 2); /* BIOS version: string 2 */
	CHECK_EQ(s[0].nstrings, 2);
	CHECK(!strcmp(s[0].strings[0], "libkrun-c"));
	CHECK(!strcmp(s[0].strings[1], "direct-boot"));
	CHECK_EQ(s[0].formatted[0x13] & 0x10, 0x10); /* a virtual machine */

	CHECK_EQ(s[1].type, SMBIOS_TYPE_SYSTEM);
	CHECK_EQ(s[1].length, 0x1b);
	CHECK_EQ(s[1].nstrings, 2);
	CHECK(s[1].formatted[4] >= 1 && s[1].formatted[4] <= s[1].nstrings);
	CHECK(!strcmp(s[1].strings[s[1].formatted[4] - 1], "libkrun-c"));

	CHECK_EQ(s[2].type, SMBIOS_TYPE_OEM_STRINGS);
	CHECK_EQ(s[2].length, 5);
	CHECK_EQ(s[2].formatted[4], 3); /* count */
	CHECK_EQ(s[2].nstrings, 3);
	for (unsigned int i = 0; i < 3 && i < s[2].nstrings; i++)
		CHECK(!strcmp(s[2].strings[i], oem[i]));

	CHECK_EQ(s[3].type, SMBIOS_TYPE_END);
	CHECK_EQ(s[3].length, 4);
	CHECK_EQ(s[3].nstrings, 0);

	/* Handles are unique. */
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int j = i + 1; j < n; j++)
			CHECK(s[i].handle != s[j].handle);
}

static void test_no_oem_strings(void)
{
	static const char *const empty[] = {NULL};
	static struct structure s[8];
	unsigned int n;

	n = build_and_walk(NULL, s, 8);
	CHECK_EQ(n, 3);
	for (unsigned int i = 0; i < n; i++)
		CHECK(s[i].type != SMBIOS_TYPE_OEM_STRINGS);
	CHECK_EQ(s[n - 1].type, SMBIOS_TYPE_END);

	n = build_and_walk(empty, s, 8);
	CHECK_EQ(n, 3);
	for (unsigned int i = 0; i < n; i++)
		CHECK(s[i].type != SMBIOS_TYPE_OEM_STRINGS);
}

/* A fake anchor in an OEM string never wins: the real one comes first. */
static void test_fake_anchor(void)
{
	static char fake[64];
	const char *oem[] = {fake, fake, fake, NULL};
	struct entry_point ep;

	memcpy(fake, "_SM3_\x01\x18\x03", 8);
	memset(fake + 8, 'x', sizeof(fake) - 9);
	CHECK(x86_build_smbios(region, sizeof(region), SMBIOS_ADDR, oem) > 0);
	CHECK_EQ(scan(region, sizeof(region), &ep), 0);
}

static void test_builder_bounds(void)
{
	static const char *const bad_empty[] = {"a", "", "b", NULL};
	static const char *many[257];
	static uint8_t small[256 + 64];
	ssize_t size;

	CHECK_EQ(x86_build_smbios(region, sizeof(region), SMBIOS_ADDR, bad_empty), -EINVAL);
	for (int i = 0; i < 256; i++)
		many[i] = "s";
	CHECK_EQ(x86_build_smbios(region, sizeof(region), SMBIOS_ADDR, many), -EINVAL);
	many[255] = NULL;
	CHECK(x86_build_smbios(region, sizeof(region), SMBIOS_ADDR, many) > 0);

	/* Every buffer too small is refused, and nothing is written past its end. */
	size = x86_build_smbios(small, 256, SMBIOS_ADDR, bad_empty + 2);
	CHECK(size > 0 && size <= 256);
	for (size_t len = 0; size > 0 && len < (size_t)size; len++) {
		size_t i = len;

		memset(small, 0x5a, sizeof(small));
		CHECK_EQ(x86_build_smbios(small, len, SMBIOS_ADDR, bad_empty + 2), -ENOSPC);
		while (i < sizeof(small) && small[i] == 0x5a)
			i++;
		CHECK_EQ(i, sizeof(small));
	}
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memset(s, c, n);
		s[n] = 0;
	}
	return s;
}

static void test_config_bounds(void)
{
	static const char *list[300];
	struct vm_config cfg;
	char *max = repeat('m', VM_MAX_OEM_STRING_LEN);
	char *over = repeat('o', VM_MAX_OEM_STRING_LEN + 1);
	char *mid = repeat('k', VM_MAX_OEM_STRINGS_SIZE / VM_MAX_OEM_STRINGS - 1);
	const char *const one[] = {"one", NULL}, *const two[] = {"a", "b c", NULL};
	const char *const empty[] = {NULL}, *const has_empty[] = {"x", "", NULL};
	const char *const too_long[] = {over, NULL}, *const longest[] = {max, NULL};

	vm_config_init(&cfg);
	CHECK_EQ(vm_config_set_oem_strings(&cfg, NULL), -EINVAL);
	CHECK_EQ(vm_config_set_oem_strings(&cfg, has_empty), -EINVAL);
	CHECK_EQ(vm_config_set_oem_strings(&cfg, too_long), -EINVAL);
	CHECK(cfg.oem_strings == NULL);

	CHECK_EQ(vm_config_set_oem_strings(&cfg, longest), 0);
	CHECK_EQ(vm_config_set_oem_strings(&cfg, two), 0);
	CHECK(cfg.oem_strings && !strcmp(cfg.oem_strings[1], "b c") && !cfg.oem_strings[2]);
	/* A refused list leaves the earlier one; a new one replaces it. */
	CHECK_EQ(vm_config_set_oem_strings(&cfg, has_empty), -EINVAL);
	CHECK(cfg.oem_strings && !strcmp(cfg.oem_strings[0], "a"));
	CHECK_EQ(vm_config_set_oem_strings(&cfg, one), 0);
	CHECK(cfg.oem_strings && !strcmp(cfg.oem_strings[0], "one") && !cfg.oem_strings[1]);
	CHECK_EQ(vm_config_set_oem_strings(&cfg, empty), 0);
	CHECK(cfg.oem_strings == NULL);

	/* 255 strings fit, 256 do not. */
	for (int i = 0; i < 256; i++)
		list[i] = "s";
	CHECK_EQ(vm_config_set_oem_strings(&cfg, list), -EINVAL);
	list[255] = NULL;
	CHECK_EQ(vm_config_set_oem_strings(&cfg, list), 0);

	/* The size in all: the largest accepted lists build in the SMBIOS region. */
	for (int i = 0; i < VM_MAX_OEM_STRINGS; i++)
		list[i] = mid;
	CHECK_EQ(vm_config_set_oem_strings(&cfg, list), 0);
	CHECK(x86_build_smbios(region, sizeof(region), SMBIOS_ADDR,
			       (const char *const *)cfg.oem_strings) > 0);
	for (int i = 0; i < VM_MAX_OEM_STRINGS_SIZE / (VM_MAX_OEM_STRING_LEN + 1); i++)
		list[i] = max;
	list[VM_MAX_OEM_STRINGS_SIZE / (VM_MAX_OEM_STRING_LEN + 1)] = NULL;
	CHECK_EQ(vm_config_set_oem_strings(&cfg, list), 0);
	CHECK(x86_build_smbios(region, sizeof(region), SMBIOS_ADDR,
			       (const char *const *)cfg.oem_strings) > 0);
	list[VM_MAX_OEM_STRINGS_SIZE / (VM_MAX_OEM_STRING_LEN + 1)] = max;
	list[VM_MAX_OEM_STRINGS_SIZE / (VM_MAX_OEM_STRING_LEN + 1) + 1] = NULL;
	CHECK_EQ(vm_config_set_oem_strings(&cfg, list), -EINVAL);

	vm_config_release(&cfg);
	free(max);
	free(over);
	free(mid);
}

/* The BIOS area holding the MP table and SMBIOS is never usable RAM. */
static void test_guest_placement(void)
{
	static const char *const oem[] = {"placed", NULL};
	struct boot_e820_entry t[8];
	unsigned int n = x86_build_e820(t, 8, 512 * MiB);
	struct guest_mem mem;
	struct entry_point ep;
	uint8_t *area;

	for (unsigned int i = 0; i < n; i++) {
		if (t[i].type == E820_RAM)
			CHECK(t[i].addr + t[i].size <= MPTABLE_ADDR || t[i].addr >= SMBIOS_END);
	}
	CHECK(MPTABLE_ADDR + x86_mptable_size(254) <= MPTABLE_END);
	CHECK(MPTABLE_END <= SMBIOS_ADDR);

	/* Built in guest memory next to the MP table; the scan finds SMBIOS. */
	CHECK_EQ(guest_mem_init(&mem, 64 * MiB), 0);
	area = guest_ptr(&mem, 0xf0000, 0x10000);
	CHECK(area != NULL);
	if (!area)
		return;
	CHECK_EQ(x86_build_mptable(area, MPTABLE_END - MPTABLE_ADDR, MPTABLE_ADDR, 64, 0), 0);
	CHECK_EQ(x86_setup_smbios(&mem, oem), 0);
	CHECK_EQ(scan(area, 0x10000, &ep), SMBIOS_ADDR - 0xf0000);
	CHECK(!memcmp(area, "_MP_", 4));
	CHECK(ep.table_addr + ep.table_len <= SMBIOS_END);
	guest_mem_release(&mem);
}

TEST_MAIN("smbios", log_set_level(0); test_entry_point(); test_structures(); test_no_oem_strings();
	  test_fake_anchor(); test_builder_bounds(); test_config_bounds(); test_guest_placement())
