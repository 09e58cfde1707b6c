// SPDX-License-Identifier: Apache-2.0
/*
 * Compressed kernel formats: bounded gzip/bzip2/zstd decompression, EFI zboot
 * and plain PE images, and the ELF/bzImage recognition after decompression.
 * The inputs are made here with zlib, libbz2 and libzstd.
 */
#define ZLIB_CONST
#include <bzlib.h>
#include <elf.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include "arch/x86_64/layout.h"
#include "arch/x86_64/loader.h"
#include "elf_fixture.h"
#include "libkrun.h"
#include "test.h"
#include "vmm/config.h"
#include "vmm/decompress.h"
#include "vmm/util.h"

#define ELF_SIZE     (256 * 1024)
#define BZIMAGE_SIZE (96 * 1024)

struct buf {
	uint8_t *p;
	size_t n;
};

/* Text-like bytes: compressible, but not trivially. */
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = (uint8_t)('a' + (seed >> 16) % 16);
	}
}

static struct buf make_elf(void)
{
	struct buf b = {calloc(1, ELF_SIZE), ELF_SIZE};

	write_test_elf_header(b.p, 0x1000, ELF_SIZE - 0x1000, ELF_SIZE);
	fill(b.p + 0x1000, ELF_SIZE - 0x1000, 1);
	return b;
}

static struct buf make_bzimage(void)
{
	struct buf b = {calloc(1, BZIMAGE_SIZE), BZIMAGE_SIZE};
	struct setup_header hdr = {0};

	fill(b.p + 0x1000, BZIMAGE_SIZE - 0x1000, 2);
	hdr.setup_sects = 4;
	hdr.boot_flag = 0xaa55;
	hdr.header = 0x53726448; /* "HdrS" */
	hdr.version = 0x020f;
	hdr.loadflags = LOADED_HIGH;
	hdr.xloadflags = XLF_KERNEL_64;
	hdr.init_size = 0x400000;
	memcpy(b.p + 0x1f1, &hdr, sizeof(hdr));
	return b;
}

static struct buf gz_compress(const uint8_t *in, size_t n)
{
	struct buf b = {malloc(n + n / 2 + 1024), 0};
	z_stream z = {0};

	if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	z.next_in = in;
	z.avail_in = (uInt)n;
	z.next_out = b.p;
	z.avail_out = (uInt)(n + n / 2 + 1024);
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	b.n = z.total_out;
	deflateEnd(&z);
	return b;
}

static struct buf bz_compress(const uint8_t *in, size_t n)
{
	unsigned int len = (unsigned int)(n + n / 2 + 1024);
	struct buf b = {malloc(len), 0};

	if (BZ2_bzBuffToBuffCompress((char *)b.p, &len, (char *)in, (unsigned int)n, 9, 0, 0) !=
	    BZ_OK)
		abort();
	b.n = len;
	return b;
}

/* With a content checksum, as the zstd command line writes by default. */
static struct buf zst_compress(const uint8_t *in, size_t n)
{
	size_t cap = ZSTD_compressBound(n);
	struct buf b = {malloc(cap), 0};
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 19);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	b.n = ZSTD_compress2(cctx, b.p, cap, in, n);
	if (ZSTD_isError(b.n))
		abort();
	ZSTD_freeCCtx(cctx);
	return b;
}

static struct buf compress_with(enum compression c, const uint8_t *in, size_t n)
{
	if (c == COMPRESSION_GZIP)
		return gz_compress(in, n);
	if (c == COMPRESSION_BZIP2)
		return bz_compress(in, n);
	return zst_compress(in, n);
}

static const uint32_t image_format[] = {
    [COMPRESSION_GZIP] = KRUN_KERNEL_FORMAT_IMAGE_GZ,
    [COMPRESSION_BZIP2] = KRUN_KERNEL_FORMAT_IMAGE_BZ2,
    [COMPRESSION_ZSTD] = KRUN_KERNEL_FORMAT_IMAGE_ZSTD,
};

/* decompress() of in; 0 and identical to "want", or the error. */
static int roundtrip(enum compression c, const uint8_t *in, size_t n, size_t max,
		     const struct buf *want)
{
	uint8_t *out = NULL;
	size_t out_size = 0;
	int ret = decompress(c, in, n, max, &out, &out_size);

	if (!ret && (out_size != want->n || memcmp(out, want->p, want->n)))
		ret = -EBADMSG;
	free(out);
	return ret;
}

/* A compressed kernel file: decompressed, recognised, parsed. */
static void check_kernel_file(uint32_t format, const struct buf *file, const struct buf *want,
			      int is_bzimage)
{
	struct kernel_image img;
	uint8_t *out = NULL;
	size_t size = 0;

	CHECK_EQ(kernel_decompress(format, file->p, file->n, 64 * MiB, &out, &size), 0);
	CHECK_EQ(size, want->n);
	CHECK(out && !memcmp(out, want->p, want->n));
	CHECK_EQ(kernel_parse(format, out, size, &img), 0);
	CHECK_EQ(img.is_bzimage, is_bzimage);
	CHECK_EQ(img.entry, is_bzimage ? BZIMAGE_LOAD_ADDR + 0x200 : 0x1000000);
	free(out);
}

static void test_roundtrip(enum compression c, const struct buf *elf, const struct buf *bz)
{
	struct buf ce = compress_with(c, elf->p, elf->n), cb = compress_with(c, bz->p, bz->n);

	CHECK(ce.n > 0 && ce.n < elf->n);
	CHECK_EQ(roundtrip(c, ce.p, ce.n, 64 * MiB, elf), 0);
	CHECK_EQ(roundtrip(c, cb.p, cb.n, 64 * MiB, bz), 0);
	/* The limit is inclusive. */
	CHECK_EQ(roundtrip(c, ce.p, ce.n, elf->n, elf), 0);
	CHECK_EQ(roundtrip(c, ce.p, ce.n, elf->n - 1, elf), -EFBIG);
	check_kernel_file(image_format[c], &ce, elf, 0);
	check_kernel_file(image_format[c], &cb, bz, 1);
	free(ce.p);
	free(cb.p);
}

static void test_truncated_and_corrupt(enum compression c, const struct buf *elf)
{
	struct buf ce = compress_with(c, elf->p, elf->n);
	const size_t cuts[] = {0, 1, 2, 3, 10, ce.n / 3, ce.n / 2, ce.n - 5, ce.n - 1};
	uint8_t *bad = malloc(ce.n + 16);

	for (size_t i = 0; i < ARRAY_SIZE(cuts); i++)
		CHECK_EQ(roundtrip(c, ce.p, cuts[i], 64 * MiB, elf), -ENOEXEC);

	/* Bytes flipped in the middle of the data, or in the magic. */
	for (size_t at = ce.n / 4; at < ce.n; at += ce.n / 4) {
		memcpy(bad, ce.p, ce.n);
		bad[at] ^= 0x55;
		CHECK_EQ(roundtrip(c, bad, ce.n, 64 * MiB, elf), -ENOEXEC);
	}
	memcpy(bad, ce.p, ce.n);
	bad[0] ^= 0xff;
	CHECK_EQ(roundtrip(c, bad, ce.n, 64 * MiB, elf), -ENOEXEC);

	/* Something other than another stream after the stream. */
	memcpy(bad, ce.p, ce.n);
	memcpy(bad + ce.n, "not a stream, no", 16);
	CHECK_EQ(roundtrip(c, bad, ce.n + 16, 64 * MiB, elf), -ENOEXEC);

	/* Another decoder's data. */
	CHECK_EQ(roundtrip((c + 1) % 3, ce.p, ce.n, 64 * MiB, elf), -ENOEXEC);
	free(bad);
	free(ce.p);
}

/* Two streams back to back decode to both contents, as the tools do. */
static void test_concatenated(enum compression c)
{
	struct buf a = {(uint8_t *)"first part, ", 12}, b = {(uint8_t *)"second part", 11};
	struct buf ca = compress_with(c, a.p, a.n), cb = compress_with(c, b.p, b.n);
	struct buf both = {malloc(ca.n + cb.n), ca.n + cb.n};
	struct buf want = {(uint8_t *)"first part, second part", 23};

	memcpy(both.p, ca.p, ca.n);
	memcpy(both.p + ca.n, cb.p, cb.n);
	CHECK_EQ(roundtrip(c, both.p, both.n, 64 * MiB, &want), 0);
	free(both.p);
	free(ca.p);
	free(cb.p);
}

/* 64 MiB of zeros in a few KiB: refused past the limit, without storing it. */
static void test_bomb(enum compression c)
{
	size_t n = 64 * MiB;
	uint8_t *zeros = calloc(1, n);
	struct buf cz = compress_with(c, zeros, n);
	struct buf want = {zeros, n};
	uint8_t *out = NULL;
	size_t size = 0;

	CHECK(cz.n < 4 * MiB);
	CHECK_EQ(roundtrip(c, cz.p, cz.n, MiB, &want), -EFBIG);
	CHECK_EQ(roundtrip(c, cz.p, cz.n, n - 1, &want), -EFBIG);
	CHECK_EQ(roundtrip(c, cz.p, cz.n, n, &want), 0);
	CHECK_EQ(kernel_decompress(image_format[c], cz.p, cz.n, 16 * MiB, &out, &size), -EFBIG);
	CHECK(out == NULL);
	free(cz.p);
	free(zeros);
}

/* Neither ELF nor bzImage once decompressed. */
static void test_not_a_kernel(void)
{
	uint8_t text[4096];
	struct buf c;
	struct kernel_image img;
	uint8_t *out = NULL;
	size_t size = 0;

	fill(text, sizeof(text), 3);
	c = gz_compress(text, sizeof(text));
	CHECK_EQ(kernel_decompress(KRUN_KERNEL_FORMAT_IMAGE_GZ, c.p, c.n, MiB, &out, &size), 0);
	CHECK_EQ(kernel_parse(KRUN_KERNEL_FORMAT_IMAGE_GZ, out, size, &img), -ENOEXEC);
	CHECK_EQ(kernel_parse(KRUN_KERNEL_FORMAT_IMAGE_GZ, out, 3, &img), -ENOEXEC);
	CHECK_EQ(kernel_parse(KRUN_KERNEL_FORMAT_IMAGE_GZ, out, 0, &img), -ENOEXEC);
	/* An ELF magic that is not an x86_64 vmlinux. */
	memcpy(out, ELFMAG, SELFMAG);
	CHECK_EQ(kernel_parse(KRUN_KERNEL_FORMAT_IMAGE_GZ, out, size, &img), -ENOEXEC);
	free(out);
	free(c.p);
}

/* A PE image: DOS header, "PE\0\0" at 0x40, payload at 0x80, then more bytes. */
#define PE_PAYLOAD 0x80

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static struct buf make_pe(const struct buf *payload, const char *zboot_comp)
{
	struct buf b = {calloc(1, PE_PAYLOAD + payload->n + 512), PE_PAYLOAD + payload->n + 512};

	memcpy(b.p, "MZ", 2);
	put_le32(b.p + 0x3c, 0x40);
	memcpy(b.p + 0x40, "PE\0\0", 4);
	memcpy(b.p + PE_PAYLOAD, payload->p, payload->n);
	memset(b.p + PE_PAYLOAD + payload->n, 0xcc, 512); /* the rest of the image */
	if (zboot_comp) {
		memcpy(b.p + 4, "zimg", 4);
		put_le32(b.p + 8, PE_PAYLOAD);
		put_le32(b.p + 12, (uint32_t)payload->n);
		memcpy(b.p + 24, zboot_comp, strlen(zboot_comp));
	}
	return b;
}

static int pe_decompress(const struct buf *pe, size_t size)
{
	uint8_t *out = NULL;
	size_t out_size = 0;
	int ret;

	ret = kernel_decompress(KRUN_KERNEL_FORMAT_PE_GZ, pe->p, size, 64 * MiB, &out, &out_size);
	free(out);
	return ret;
}

static void test_zboot(const struct buf *elf, const struct buf *bz)
{
	struct buf gz = gz_compress(bz->p, bz->n), zst = zst_compress(elf->p, elf->n);
	struct buf pe = make_pe(&gz, "gzip"), pz = make_pe(&zst, "zstd");

	check_kernel_file(KRUN_KERNEL_FORMAT_PE_GZ, &pe, bz, 1);
	check_kernel_file(KRUN_KERNEL_FORMAT_PE_GZ, &pz, elf, 0);

	/* Payload offset or size outside the file, or overflowing. */
	put_le32(pe.p + 8, (uint32_t)pe.n);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	put_le32(pe.p + 8, 0xffffff00);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	put_le32(pe.p + 8, 0x10); /* inside the DOS header */
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	put_le32(pe.p + 8, PE_PAYLOAD);
	put_le32(pe.p + 12, 0xffffffff);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	put_le32(pe.p + 12, (uint32_t)(pe.n - PE_PAYLOAD + 1));
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	put_le32(pe.p + 12, 0);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	/* A size that cuts the stream short; one that takes in the padding. */
	put_le32(pe.p + 12, (uint32_t)gz.n - 1);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	put_le32(pe.p + 12, (uint32_t)gz.n + 1);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	put_le32(pe.p + 12, (uint32_t)gz.n);
	CHECK_EQ(pe_decompress(&pe, pe.n), 0);
	/* A file cut before the end of the payload. */
	CHECK_EQ(pe_decompress(&pe, PE_PAYLOAD + gz.n - 1), -ENOEXEC);

	/* Compression types: unknown, unterminated, empty. */
	memcpy(pe.p + 24, "xz\0\0", 4);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOTSUP);
	memset(pe.p + 24, 'g', 32);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	memset(pe.p + 24, 0, 32);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	memcpy(pe.p + 24, "gzip", 4);
	CHECK_EQ(pe_decompress(&pe, pe.n), 0);

	/* The PE signature's offset outside the file, or no signature. */
	put_le32(pe.p + 0x3c, 0xfffffffe);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	put_le32(pe.p + 0x3c, (uint32_t)pe.n - 3);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	put_le32(pe.p + 0x3c, 0x44);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	put_le32(pe.p + 0x3c, 0x40);
	/* Too short for a DOS header; not MZ. */
	CHECK_EQ(pe_decompress(&pe, 0x3f), -ENOEXEC);
	pe.p[0] = 'X';
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	free(pe.p);
	free(pz.p);
	free(gz.p);
	free(zst.p);
}

/* Not zboot: the first gzip member in the file that decodes, whatever follows. */
static void test_pe_gzip_scan(const struct buf *elf)
{
	struct buf gz = gz_compress(elf->p, elf->n);
	struct buf pe = make_pe(&gz, NULL);

	/* A stray gzip magic before the real member is passed over. */
	memcpy(pe.p + 0x50, "\x1f\x8b\x08\x00garbage", 11);
	check_kernel_file(KRUN_KERNEL_FORMAT_PE_GZ, &pe, elf, 0);
	/* Only a cut-off member: nothing to boot. */
	CHECK_EQ(pe_decompress(&pe, PE_PAYLOAD + gz.n / 2), -ENOEXEC);
	/* No member at all. */
	memset(pe.p + PE_PAYLOAD, 0xcc, gz.n);
	CHECK_EQ(pe_decompress(&pe, pe.n), -ENOEXEC);
	free(pe.p);
	free(gz.p);
}

static void test_formats(void)
{
	const uint8_t one[1] = {'x'};
	struct vm_config cfg;
	uint8_t *out = NULL;
	size_t size = 0;

	vm_config_init(&cfg);
	for (uint32_t f = 0; f <= KRUN_KERNEL_FORMAT_IMAGE_ZSTD; f++)
		CHECK_EQ(vm_config_set_kernel(&cfg, "/proc/self/exe", f, NULL, NULL), 0);
	CHECK_EQ(vm_config_set_kernel(&cfg, "/proc/self/exe", KRUN_KERNEL_FORMAT_IMAGE_ZSTD + 1,
				      NULL, NULL),
		 -EINVAL);
	vm_config_release(&cfg);

	CHECK(!kernel_format_compressed(KRUN_KERNEL_FORMAT_ELF));
	CHECK(!kernel_format_compressed(KRUN_KERNEL_FORMAT_RAW));
	CHECK(kernel_format_compressed(KRUN_KERNEL_FORMAT_PE_GZ));
	CHECK(kernel_format_compressed(KRUN_KERNEL_FORMAT_IMAGE_ZSTD));
	CHECK_EQ(kernel_decompress(KRUN_KERNEL_FORMAT_ELF, one, 1, MiB, &out, &size), -EINVAL);
	CHECK_EQ(decompress((enum compression)7, one, 1, MiB, &out, &size), -EINVAL);
}

static void test_all(void)
{
	struct buf elf = make_elf(), bz = make_bzimage();

	for (int c = COMPRESSION_GZIP; c <= COMPRESSION_ZSTD; c++) {
		test_roundtrip((enum compression)c, &elf, &bz);
		test_truncated_and_corrupt((enum compression)c, &elf);
		test_concatenated((enum compression)c);
		test_bomb((enum compression)c);
	}
	test_not_a_kernel();
	test_zboot(&elf, &bz);
	test_pe_gzip_scan(&elf);
	test_formats();
	free(elf.p);
	free(bz.p);
}

TEST_MAIN("kernel_formats", test_all())
