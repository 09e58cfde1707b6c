// SPDX-License-Identifier: Apache-2.0
/*
 * Bounded decompression with zlib, libbz2 and libzstd, and the layouts of
 * compressed kernel files. The decoders are driven one step at a time into a
 * buffer that grows up to the limit plus one byte, so that output past the
 * limit is seen without ever being stored beyond it. A step that makes no
 * progress ends the stream: truncated when the input is used up.
 */
#define ZLIB_CONST
#include <bzlib.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "libkrun.h"
#include "vmm/decompress.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define SINK_MIN_CAP (64 * KiB)

struct sink {
	uint8_t *buf;
	size_t len, cap, limit; /* limit: the caller's maximum + 1 */
};

struct io {
	const uint8_t *in;
	size_t in_left;
	uint8_t *out;
	size_t out_left;
	const char *why; /* set with -ENOEXEC */
};

union codec_state {
	z_stream z;
	bz_stream bz;
	ZSTD_DStream *zd;
};

struct codec {
	const char *name;
	int (*init)(union codec_state *st);
	/* 0: more to do, 1: end of the stream, < 0: error */
	int (*step)(union codec_state *st, struct io *io);
	void (*end)(union codec_state *st);
	/* Does another stream of this kind start at p? */
	bool (*starts_stream)(const uint8_t *p, size_t n);
};

static int io_fail(struct io *io, const char *why)
{
	io->why = why;
	return -ENOEXEC;
}

static void io_advance(struct io *io, size_t in_used, size_t out_used)
{
	io->in += in_used;
	io->in_left -= in_used;
	io->out += out_used;
	io->out_left -= out_used;
}

static unsigned int clamp_uint(size_t n)
{
	return n > UINT_MAX ? UINT_MAX : (unsigned int)n;
}

/* gzip (zlib) */

static int gz_init(union codec_state *st)
{
	memset(&st->z, 0, sizeof(st->z));
	return inflateInit2(&st->z, 16 + MAX_WBITS) == Z_OK ? 0 : -ENOMEM;
}

static int gz_step(union codec_state *st, struct io *io)
{
	z_stream *z = &st->z;
	int zr;

	z->next_in = io->in;
	z->avail_in = clamp_uint(io->in_left);
	z->next_out = io->out;
	z->avail_out = clamp_uint(io->out_left);
	zr = inflate(z, Z_NO_FLUSH);
	io_advance(io, (size_t)(z->next_in - io->in), (size_t)(z->next_out - io->out));
	if (zr == Z_STREAM_END)
		return 1;
	if (zr == Z_OK || zr == Z_BUF_ERROR)
		return 0;
	if (zr == Z_MEM_ERROR)
		return -ENOMEM;
	return io_fail(io, z->msg ? z->msg : "corrupt data");
}

static void gz_end(union codec_state *st)
{
	inflateEnd(&st->z);
}

static bool gz_starts(const uint8_t *p, size_t n)
{
	return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* bzip2 */

static int bz_init(union codec_state *st)
{
	memset(&st->bz, 0, sizeof(st->bz));
	return BZ2_bzDecompressInit(&st->bz, 0, 0) == BZ_OK ? 0 : -ENOMEM;
}

static int bz_step(union codec_state *st, struct io *io)
{
	bz_stream *bz = &st->bz;
	int r;

	bz->next_in = (char *)io->in;
	bz->avail_in = clamp_uint(io->in_left);
	bz->next_out = (char *)io->out;
	bz->avail_out = clamp_uint(io->out_left);
	r = BZ2_bzDecompress(bz);
	io_advance(io, (size_t)((const uint8_t *)bz->next_in - io->in),
		   (size_t)((uint8_t *)bz->next_out - io->out));
	if (r == BZ_STREAM_END)
		return 1;
	if (r == BZ_OK)
		return 0;
	if (r == BZ_MEM_ERROR)
		return -ENOMEM;
	return io_fail(io, r == BZ_DATA_ERROR_MAGIC ? "not bzip2 data" : "corrupt data");
}

static void bz_end(union codec_state *st)
{
	BZ2_bzDecompressEnd(&st->bz);
}

static bool bz_starts(const uint8_t *p, size_t n)
{
	return n >= 3 && !memcmp(p, "BZh", 3);
}

/* zstd; ZSTD_decompressStream() bounds its window (2^27) by default. */

static int zst_init(union codec_state *st)
{
	st->zd = ZSTD_createDStream();
	return st->zd ? 0 : -ENOMEM;
}

static int zst_step(union codec_state *st, struct io *io)
{
	ZSTD_inBuffer in = {io->in, io->in_left, 0};
	ZSTD_outBuffer out = {io->out, io->out_left, 0};
	size_t r;

	r = ZSTD_decompressStream(st->zd, &out, &in);
	io_advance(io, in.pos, out.pos);
	if (ZSTD_isError(r))
		return io_fail(io, ZSTD_getErrorName(r));
	return r == 0;
}

static void zst_end(union codec_state *st)
{
	ZSTD_freeDStream(st->zd);
}

/* A zstd frame, or a skippable frame (magic 0x184D2A5?, little endian). */
static bool zst_starts(const uint8_t *p, size_t n)
{
	return n >= 4 && (!memcmp(p, "\x28\xb5\x2f\xfd", 4) ||
			  ((p[0] & 0xf0) == 0x50 && !memcmp(p + 1, "\x2a\x4d\x18", 3)));
}

static const struct codec codecs[] = {
    [COMPRESSION_GZIP] = {"gzip", gz_init, gz_step, gz_end, gz_starts},
    [COMPRESSION_BZIP2] = {"bzip2", bz_init, bz_step, bz_end, bz_starts},
    [COMPRESSION_ZSTD] = {"zstd", zst_init, zst_step, zst_end, zst_starts},
};

/* Room for at least one more byte of output, or -EFBIG at the limit. */
static int sink_grow(struct sink *s, size_t hint)
{
	size_t cap;
	uint8_t *p;

	if (s->len < s->cap)
		return 0;
	if (s->cap >= s->limit)
		return -EFBIG;
	if (!s->cap)
		cap = MAX(hint, SINK_MIN_CAP);
	else
		cap = s->cap > s->limit / 2 ? s->limit : s->cap * 2;
	cap = MIN(cap, s->limit);
	p = realloc(s->buf, cap);
	if (!p)
		return -ENOMEM;
	s->buf = p;
	s->cap = cap;
	return 0;
}

static int codec_step(const struct codec *c, union codec_state *st, struct io *io, struct sink *s)
{
	size_t in_left = io->in_left, room = s->cap - s->len;
	int ret;

	io->out = s->buf + s->len;
	io->out_left = room;
	ret = c->step(st, io);
	s->len += room - io->out_left;
	if (ret || io->in_left != in_left || io->out_left != room)
		return ret;
	return io_fail(io, in_left ? "decoder stuck" : "truncated stream");
}

/* Decode one stream to its end. */
static int run_stream(const struct codec *c, union codec_state *st, struct io *io, struct sink *s,
		      size_t hint)
{
	int ret;

	do {
		ret = sink_grow(s, hint);
		if (!ret)
			ret = codec_step(c, st, io, s);
	} while (!ret);
	return ret < 0 ? ret : 0;
}

/*
 * whole: the input is nothing but streams of this kind. Otherwise stop after
 * the first one, whatever follows it.
 */
static int run_codec(const struct codec *c, struct io *io, bool whole, struct sink *s)
{
	size_t hint = io->in_left > s->limit / 4 ? s->limit : io->in_left * 4;
	union codec_state st;
	int ret;

	do {
		ret = c->init(&st);
		if (ret)
			return ret;
		ret = run_stream(c, &st, io, s, hint);
		c->end(&st);
	} while (!ret && whole && io->in_left && c->starts_stream(io->in, io->in_left));
	if (!ret && whole && io->in_left)
		ret = io_fail(io, "unexpected bytes after the stream");
	if (!ret && s->len >= s->limit)
		ret = -EFBIG;
	return ret;
}

static int decompress_some(enum compression comp, const uint8_t *in, size_t in_size, bool whole,
			   size_t max_out, uint8_t **out, size_t *out_size, const char **why)
{
	struct sink s = {.limit = max_out < SIZE_MAX ? max_out + 1 : max_out};
	struct io io = {.in = in, .in_left = in_size, .why = "corrupt data"};
	uint8_t *shrunk;
	int ret;

	ret = run_codec(&codecs[comp], &io, whole, &s);
	*why = io.why;
	if (ret < 0) {
		free(s.buf);
		return ret;
	}
	shrunk = realloc(s.buf, s.len ? s.len : 1);
	*out = shrunk ? shrunk : s.buf;
	*out_size = s.len;
	return 0;
}

static int log_failure(enum compression comp, int ret, size_t max_out, const char *why)
{
	if (ret == -EFBIG)
		pr_err("%s: decompressed data larger than %zu bytes", codecs[comp].name, max_out);
	else if (ret == -ENOEXEC)
		pr_err("%s: %s", codecs[comp].name, why);
	return ret;
}

int decompress(enum compression comp, const uint8_t *in, size_t in_size, size_t max_out,
	       uint8_t **out, size_t *out_size)
{
	const char *why;
	int ret;

	if ((unsigned int)comp >= ARRAY_SIZE(codecs))
		return -EINVAL;
	ret = decompress_some(comp, in, in_size, true, max_out, out, out_size, &why);
	return log_failure(comp, ret, max_out, why);
}

/*
 * PE images. The DOS header is 64 bytes; its last field (0x3c) is the offset
 * of the "PE\0\0" signature. Linux's EFI zboot images put "zimg" at 4, the
 * payload's offset and size at 8 and 12, and the name of its compression at
 * 24 (NUL-terminated, before 0x38).
 */
#define PE_DOS_HEADER_SIZE   0x40
#define PE_SIG_OFFSET_FIELD  0x3c
#define ZBOOT_MAGIC_OFFSET   4
#define ZBOOT_PAYLOAD_OFFSET 8
#define ZBOOT_PAYLOAD_SIZE   12
#define ZBOOT_COMP_OFFSET    24
#define ZBOOT_COMP_LEN	     (0x38 - ZBOOT_COMP_OFFSET)
#define PE_GZIP_MAX_TRIES    16

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int pe_check(const uint8_t *d, size_t n)
{
	uint32_t sig;

	if (n < PE_DOS_HEADER_SIZE || memcmp(d, "MZ", 2)) {
		pr_err("PE image: no MZ header");
		return -ENOEXEC;
	}
	sig = get_le32(d + PE_SIG_OFFSET_FIELD);
	if (sig > n - 4 || memcmp(d + sig, "PE\0\0", 4)) {
		pr_err("PE image: no PE signature at offset 0x%x of a %zu-byte file", sig, n);
		return -ENOEXEC;
	}
	return 0;
}

static int zboot_compression(const uint8_t *d, enum compression *comp)
{
	static const char *const names[] = {
	    [COMPRESSION_GZIP] = "gzip",
	    [COMPRESSION_BZIP2] = "bzip2",
	    [COMPRESSION_ZSTD] = "zstd",
	};
	const char *type = (const char *)d + ZBOOT_COMP_OFFSET;
	size_t len = strnlen(type, ZBOOT_COMP_LEN);

	for (size_t i = 0; i < len; i++) {
		if (!isgraph((unsigned char)type[i]))
			len = 0;
	}
	if (!len || len == ZBOOT_COMP_LEN) {
		pr_err("zboot image: bad compression type field");
		return -ENOEXEC;
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(names); i++) {
		if (strlen(names[i]) == len && !memcmp(type, names[i], len)) {
			*comp = (enum compression)i;
			return 0;
		}
	}
	pr_err("zboot image compressed with %.*s: only gzip, bzip2 and zstd are supported",
	       (int)len, type);
	return -ENOTSUP;
}

static int zboot_decompress(const uint8_t *d, size_t n, size_t max_out, uint8_t **out,
			    size_t *out_size)
{
	uint32_t off = get_le32(d + ZBOOT_PAYLOAD_OFFSET);
	uint32_t len = get_le32(d + ZBOOT_PAYLOAD_SIZE);
	enum compression comp;
	int ret;

	if (off < PE_DOS_HEADER_SIZE || !len || off > n || len > n - off) {
		pr_err("zboot image: payload at 0x%x, %u bytes, is not between the header and "
		       "the end of the %zu-byte file",
		       off, len, n);
		return -ENOEXEC;
	}
	ret = zboot_compression(d, &comp);
	if (!ret)
		ret = decompress(comp, d + off, len, max_out, out, out_size);
	return ret;
}

/* Not zboot: the first gzip member (1f 8b 08) after the DOS header that decodes. */
static int pe_gzip_scan(const uint8_t *d, size_t n, size_t max_out, uint8_t **out, size_t *out_size)
{
	size_t pos = PE_DOS_HEADER_SIZE;
	const uint8_t *hit;
	const char *why;
	int ret;

	for (int tries = 0; tries < PE_GZIP_MAX_TRIES && pos < n; tries++) {
		hit = memmem(d + pos, n - pos, "\x1f\x8b\x08", 3);
		if (!hit)
			break;
		pos = (size_t)(hit - d);
		ret = decompress_some(COMPRESSION_GZIP, hit, n - pos, false, max_out, out, out_size,
				      &why);
		if (ret != -ENOEXEC)
			return log_failure(COMPRESSION_GZIP, ret, max_out, why);
		pr_debug("PE image: gzip magic at 0x%zx is not a good stream: %s", pos, why);
		pos++;
	}
	pr_err("PE image: no gzip-compressed kernel found");
	return -ENOEXEC;
}

static int pe_decompress(const uint8_t *d, size_t n, size_t max_out, uint8_t **out,
			 size_t *out_size)
{
	int ret = pe_check(d, n);

	if (ret)
		return ret;
	if (!memcmp(d + ZBOOT_MAGIC_OFFSET, "zimg", 4))
		return zboot_decompress(d, n, max_out, out, out_size);
	return pe_gzip_scan(d, n, max_out, out, out_size);
}

bool kernel_format_compressed(uint32_t format)
{
	return format == KRUN_KERNEL_FORMAT_PE_GZ || format == KRUN_KERNEL_FORMAT_IMAGE_GZ ||
	       format == KRUN_KERNEL_FORMAT_IMAGE_BZ2 || format == KRUN_KERNEL_FORMAT_IMAGE_ZSTD;
}

int kernel_decompress(uint32_t format, const uint8_t *data, size_t size, size_t max_out,
		      uint8_t **out, size_t *out_size)
{
	switch (format) {
	case KRUN_KERNEL_FORMAT_IMAGE_GZ:
		return decompress(COMPRESSION_GZIP, data, size, max_out, out, out_size);
	case KRUN_KERNEL_FORMAT_IMAGE_BZ2:
		return decompress(COMPRESSION_BZIP2, data, size, max_out, out, out_size);
	case KRUN_KERNEL_FORMAT_IMAGE_ZSTD:
		return decompress(COMPRESSION_ZSTD, data, size, max_out, out, out_size);
	case KRUN_KERNEL_FORMAT_PE_GZ:
		return pe_decompress(data, size, max_out, out, out_size);
	default:
		return -EINVAL;
	}
}
