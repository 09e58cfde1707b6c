// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk below the device: the request parser (layouts a guest may
 * choose, hostile headers and ranges), and the image formats on real files
 * (raw: reads, writes, holes).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/blk/image.h"
#include "devices/virtio/blk/request.h"
#include "libkrun.h"
#include "test.h"
#include "vmm/config.h"
#include "vmm/util.h"

static struct blk_request req;
static const struct blk_limits lim = {.sectors = 2048, .discard = true, .write_zeroes = true};

struct hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

static int parse1(struct hdr *h, size_t hlen, void *data, size_t dlen, uint8_t *status,
		  bool data_writable, const struct blk_limits *l)
{
	struct iovec rd[2] = {{h, hlen}, {data, dlen}}, wr[2] = {{data, dlen}, {status, 1}};

	if (data_writable)
		return blk_request_parse(rd, 1, wr, 2, l, &req);
	return blk_request_parse(rd, dlen ? 2 : 1, wr + 1, 1, l, &req);
}

static void test_parse_rw(void)
{
	static uint8_t buf[4096];
	struct hdr h = {VIRTIO_BLK_T_IN, 0, 8};
	uint8_t status = 0xff;

	CHECK_EQ(parse1(&h, sizeof(h), buf, 4096, &status, true, &lim), VIRTIO_BLK_S_OK);
	CHECK_EQ(req.len, 4096);
	CHECK_EQ(req.offset, 8 * 512);
	CHECK(req.status == &status);
	CHECK_EQ(req.used_len, 4097);

	/* The status byte shares the data's descriptor. */
	struct iovec rd = {&h, sizeof(h)}, wr = {buf, 513};
	CHECK_EQ(blk_request_parse(&rd, 1, &wr, 1, &lim, &req), VIRTIO_BLK_S_OK);
	CHECK_EQ(req.len, 512);
	CHECK(req.status == buf + 512);

	/* A header split over two descriptors, data in the second. */
	uint8_t raw[16 + 512];
	memcpy(raw, &h, 16);
	struct iovec rd2[2] = {{raw, 5}, {raw + 5, 11}};
	h.type = VIRTIO_BLK_T_OUT;
	memcpy(raw, &h, 16);
	struct iovec rd3[2] = {{raw, 5}, {raw + 5, sizeof(raw) - 5}}, st = {&status, 1};
	CHECK_EQ(blk_request_parse(rd3, 2, &st, 1, &lim, &req), VIRTIO_BLK_S_OK);
	CHECK_EQ(req.len, 512);
	CHECK(req.data[0].iov_base == raw + 16);
	(void)rd2;

	/* Not a multiple of 512, past the end, across the end, read-only. */
	h.type = VIRTIO_BLK_T_IN;
	CHECK_EQ(parse1(&h, sizeof(h), buf, 100, &status, true, &lim), VIRTIO_BLK_S_IOERR);
	h.sector = 2048;
	CHECK_EQ(parse1(&h, sizeof(h), buf, 512, &status, true, &lim), VIRTIO_BLK_S_IOERR);
	h.sector = 2047;
	CHECK_EQ(parse1(&h, sizeof(h), buf, 512, &status, true, &lim), VIRTIO_BLK_S_OK);
	CHECK_EQ(parse1(&h, sizeof(h), buf, 1024, &status, true, &lim), VIRTIO_BLK_S_IOERR);
	h.sector = UINT64_MAX;
	CHECK_EQ(parse1(&h, sizeof(h), buf, 512, &status, true, &lim), VIRTIO_BLK_S_IOERR);
	h.sector = 0;
	h.type = VIRTIO_BLK_T_OUT;
	struct blk_limits ro = lim;
	ro.read_only = true;
	CHECK_EQ(parse1(&h, sizeof(h), buf, 512, &status, false, &ro), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(parse1(&h, sizeof(h), buf, 512, &status, false, &lim), VIRTIO_BLK_S_OK);

	/* A short header, no status byte, an unknown type. */
	CHECK_EQ(parse1(&h, 8, NULL, 0, &status, false, &lim), VIRTIO_BLK_S_IOERR);
	struct iovec none = {&status, 0};
	CHECK_EQ(blk_request_parse(&rd, 1, &none, 1, &lim, &req), -1);
	h.type = 77;
	CHECK_EQ(parse1(&h, sizeof(h), NULL, 0, &status, false, &lim), VIRTIO_BLK_S_UNSUPP);
	h.type = VIRTIO_BLK_T_FLUSH;
	CHECK_EQ(parse1(&h, sizeof(h), NULL, 0, &status, false, &lim), VIRTIO_BLK_S_OK);
	h.type = VIRTIO_BLK_T_GET_ID;
	CHECK_EQ(parse1(&h, sizeof(h), buf, 20, &status, true, &lim), VIRTIO_BLK_S_OK);
	CHECK_EQ(req.len, 20);
}

static void test_parse_too_many_segments(void)
{
	enum { N = BLK_SEG_MAX + 40 };
	static uint8_t buf[512 * N];
	static struct iovec wr[N + 1];
	struct hdr h = {VIRTIO_BLK_T_IN, 0, 0};
	struct iovec rd = {&h, sizeof(h)};
	uint8_t status;

	for (int i = 0; i < N; i++)
		wr[i] = (struct iovec){buf + 512 * i, 512};
	wr[N] = (struct iovec){&status, 1};
	CHECK_EQ(blk_request_parse(&rd, 1, wr, N + 1, &lim, &req), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_request_parse(&rd, 1, wr + N - BLK_SEG_MAX, BLK_SEG_MAX + 1, &lim, &req),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(req.ndata, BLK_SEG_MAX);
}

struct seg {
	uint64_t sector;
	uint32_t num, flags;
};

static void test_parse_ranges(void)
{
	struct {
		struct hdr h;
		struct seg s[3];
	} __attribute__((packed))
	d = {{VIRTIO_BLK_T_DISCARD, 0, 0}, {{0, 8, 0}, {100, 16, 0}, {2040, 8, 0}}};
	uint8_t status;
	struct iovec rd = {&d, sizeof(d)}, wr = {&status, 1};

	CHECK_EQ(blk_request_parse(&rd, 1, &wr, 1, &lim, &req), VIRTIO_BLK_S_OK);
	CHECK_EQ(req.nranges, 3);
	CHECK_EQ(req.ranges[1].offset, 100 * 512);
	CHECK_EQ(req.ranges[1].len, 16 * 512);
	d.s[2].sector = 2041; /* runs past the end */
	CHECK_EQ(blk_request_parse(&rd, 1, &wr, 1, &lim, &req), VIRTIO_BLK_S_IOERR);
	d.s[2].sector = 0;
	d.s[0].flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP; /* not for discard */
	CHECK_EQ(blk_request_parse(&rd, 1, &wr, 1, &lim, &req), VIRTIO_BLK_S_UNSUPP);
	d.h.type = VIRTIO_BLK_T_WRITE_ZEROES;
	CHECK_EQ(blk_request_parse(&rd, 1, &wr, 1, &lim, &req), VIRTIO_BLK_S_OK);
	CHECK(req.ranges[0].unmap && !req.ranges[1].unmap);
	d.s[1].num = 0;
	CHECK_EQ(blk_request_parse(&rd, 1, &wr, 1, &lim, &req), VIRTIO_BLK_S_IOERR);
	d.s[1].num = 16;
	rd.iov_len -= 3; /* a partial segment */
	CHECK_EQ(blk_request_parse(&rd, 1, &wr, 1, &lim, &req), VIRTIO_BLK_S_IOERR);
	rd.iov_len = sizeof(d);
	struct blk_limits nodiscard = lim;
	nodiscard.write_zeroes = false;
	CHECK_EQ(blk_request_parse(&rd, 1, &wr, 1, &nodiscard, &req), VIRTIO_BLK_S_UNSUPP);
}

static char dir[] = "/tmp/krun-test-blk.XXXXXX";

/* Four buffers in turn: a call may take a few of them. */
static char *tmp_path(const char *name)
{
	static char paths[4][256];
	static unsigned int next;
	char *path = paths[next++ % 4];

	snprintf(path, 256, "%s/%s", dir, name);
	return path;
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ret = fd >= 0 && write(fd, data, len) == (ssize_t)len ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return ret;
}

static int open_image(struct blk_image *img, const char *path, uint32_t format, bool ro)
{
	struct disk_config d = {(char *)"t", (char *)path, format, ro, false, KRUN_SYNC_FULL};

	return blk_image_open(img, &d);
}

static void test_raw(void)
{
	static uint8_t data[65536 + 100], back[4096];
	struct blk_image img;
	struct iovec v = {back, sizeof(back)};
	struct stat st;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	CHECK_EQ(write_file(tmp_path("a.raw"), data, sizeof(data)), 0);
	CHECK_EQ(open_image(&img, tmp_path("a.raw"), KRUN_DISK_FORMAT_RAW, false), 0);
	CHECK_EQ(img.size, 65536); /* the partial sector is not shown */
	CHECK(img.flat);
	CHECK_EQ(stat(tmp_path("a.raw"), &st), 0);
	CHECK_EQ(img.phys_block, (uint32_t)st.st_blksize); /* TOPOLOGY's physical block */
	CHECK_EQ(img.opt_io, 0);
	CHECK_EQ(img.ops->read(&img, &v, 1, 8192), 0);
	CHECK(!memcmp(back, data + 8192, 4096));
	memset(back, 0xab, sizeof(back));
	CHECK_EQ(img.ops->write(&img, &v, 1, 4096), 0);
	CHECK_EQ(img.ops->flush(&img), 0);
	CHECK_EQ(img.ops->write_zeroes(&img, 32768, 32768, true), 0);
	memset(back, 1, sizeof(back));
	CHECK_EQ(img.ops->read(&img, &v, 1, 32768), 0);
	CHECK(back[0] == 0 && back[4095] == 0);
	CHECK_EQ(img.ops->read(&img, &v, 1, 4096), 0);
	CHECK(back[0] == 0xab && back[4095] == 0xab);
	blk_image_close(&img);
	CHECK_EQ(stat(tmp_path("a.raw"), &st), 0);
	CHECK_EQ(st.st_size, sizeof(data)); /* discard keeps the size */

	CHECK_EQ(open_image(&img, tmp_path("missing.raw"), KRUN_DISK_FORMAT_RAW, false), -ENOENT);
	CHECK_EQ(open_image(&img, "/dev/null", KRUN_DISK_FORMAT_RAW, false), -EINVAL);
	CHECK_EQ(open_image(&img, tmp_path("a.raw"), KRUN_DISK_FORMAT_RAW, true), 0);
	CHECK(img.read_only);
	CHECK_EQ(img.ops->write(&img, &v, 1, 0), -EBADF); /* opened O_RDONLY */
	blk_image_close(&img);
}

/* ---- qcow2, on images qemu-img made */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static bool have_qemu_img(void)
{
	return sh("qemu-img --version >/dev/null 2>&1") == 0;
}

static uint8_t *read_all(const char *path, size_t len)
{
	uint8_t *buf = malloc(len);
	int fd = open(path, O_RDONLY);

	if (!buf || fd < 0 || read(fd, buf, len) != (ssize_t)len) {
		free(buf);
		buf = NULL;
	}
	if (fd >= 0)
		close(fd);
	return buf;
}

/* Every byte of the image, read in odd-sized pieces, equals the raw file. */
static bool same_as_raw(struct blk_image *img, const uint8_t *raw, size_t len)
{
	static uint8_t buf[3 * 65536 + 4096];
	uint64_t off = 0, step = 3 * 65536 + 1536;

	while (off < len) {
		uint64_t n = MIN(step, len - off);
		struct iovec v[2] = {{buf, n / 2 & ~511ULL},
				     {buf + (n / 2 & ~511ULL), n - (n / 2 & ~511ULL)}};

		if (img->ops->read(img, v, 2, off) < 0 || memcmp(buf, raw + off, n))
			return false;
		off += n;
	}
	return true;
}

#define QSIZE (8u << 20)

static void make_pattern(const char *path)
{
	/* Half random, a zero hole, then text: compressible and not. */
	sh("(head -c 3145728 /dev/urandom; head -c 2097152 /dev/zero; yes krun-qcow2 | head -c "
	   "3145728) >%s",
	   path);
}

static void test_qcow2_read(void)
{
	struct blk_image img;
	uint8_t *raw;

	make_pattern(tmp_path("p.raw"));
	raw = read_all(tmp_path("p.raw"), QSIZE);
	CHECK(raw != NULL);
	if (!raw)
		return;
	CHECK_EQ(sh("cd %s && qemu-img convert -O qcow2 p.raw plain.qcow2 && "
		    "qemu-img convert -c -O qcow2 p.raw zlib.qcow2 && "
		    "qemu-img convert -c -O qcow2 -o compression_type=zstd p.raw zstd.qcow2 && "
		    "qemu-img convert -O qcow2 -o compat=0.10,cluster_size=4096 p.raw v2.qcow2 && "
		    "qemu-img convert -O qcow2 -o cluster_size=2M,refcount_bits=1 p.raw big.qcow2",
		    dir),
		 0);
	const char *names[] = {"plain.qcow2", "zlib.qcow2", "zstd.qcow2", "v2.qcow2", "big.qcow2"};
	for (unsigned int i = 0; i < 5; i++) {
		CHECK_EQ(open_image(&img, tmp_path(names[i]), KRUN_DISK_FORMAT_QCOW2, true), 0);
		CHECK_EQ(img.size, QSIZE);
		CHECK(!img.flat);
		/* TOPOLOGY's optimal I/O size: the cluster. */
		CHECK_EQ(img.opt_io, i == 3 ? 4096u : i == 4 ? 2u << 20 : 65536u);
		if (!same_as_raw(&img, raw, QSIZE)) {
			fprintf(stderr, "qcow2 %s reads differ from the raw file\n", names[i]);
			CHECK(!"same bytes");
		}
		blk_image_close(&img);
	}

	/* A backing chain, named relative to the image: base raw <- mid qcow2 <- top. */
	CHECK_EQ(sh("cd %s && mkdir -p sub && qemu-img create -q -f qcow2 -b ../p.raw -F raw "
		    "sub/mid.qcow2 && "
		    "qemu-io -c 'write -P 0x5a 1M 64k' sub/mid.qcow2 >/dev/null && "
		    "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 sub/top.qcow2 && "
		    "qemu-io -c 'write -P 0xa5 2M 4k' sub/top.qcow2 >/dev/null",
		    dir),
		 0);
	memset(raw + (1 << 20), 0x5a, 65536);
	memset(raw + (2 << 20), 0xa5, 4096);
	CHECK_EQ(open_image(&img, tmp_path("sub/top.qcow2"), KRUN_DISK_FORMAT_QCOW2, true), 0);
	CHECK(same_as_raw(&img, raw, QSIZE));
	blk_image_close(&img);
	free(raw);

	/* Refused by name. */
	CHECK_EQ(
	    sh("cd %s && qemu-img create -q -f qcow2 -o extended_l2=on ext.qcow2 1M && "
	       "qemu-img create -q -f qcow2 snap.qcow2 1M && qemu-img snapshot -c s1 snap.qcow2 && "
	       "qemu-img create -q -f qcow2 -b p.raw nofmt.qcow2 2>/dev/null || "
	       "qemu-img create -q -f qcow2 -b p.raw -F raw nofmt.qcow2",
	       dir),
	    0);
	CHECK_EQ(open_image(&img, tmp_path("ext.qcow2"), KRUN_DISK_FORMAT_QCOW2, true), -ENOTSUP);
	CHECK_EQ(open_image(&img, tmp_path("snap.qcow2"), KRUN_DISK_FORMAT_QCOW2, true), -ENOTSUP);
	CHECK_EQ(open_image(&img, tmp_path("p.raw"), KRUN_DISK_FORMAT_QCOW2, true), -EINVAL);
}

/* Writes the way a guest does them, then qemu-img judges the image. */
static void test_qcow2_write(void)
{
	static uint8_t block[65536 * 3];
	struct blk_image img;
	const char *names[] = {"w-plain.qcow2", "w-zlib.qcow2", "w-v2.qcow2", "w-top.qcow2"};
	const uint64_t offs[] = {
	    0, 512, 65536 - 512, 1 << 20, (3 << 20) + 4096, QSIZE - 4096, (5 << 20) + 100 * 512};

	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)(i * 13 + 1);
	CHECK_EQ(
	    sh("cd %s && cp p.raw expect.raw && qemu-img convert -O qcow2 p.raw w-plain.qcow2 && "
	       "qemu-img convert -c -O qcow2 p.raw w-zlib.qcow2 && "
	       "qemu-img convert -O qcow2 -o compat=0.10,cluster_size=4096 p.raw w-v2.qcow2 && "
	       "qemu-img create -q -f qcow2 -o cluster_size=16k -b p.raw -F raw w-top.qcow2",
	       dir),
	    0);
	int efd = open(tmp_path("expect.raw"), O_WRONLY);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		size_t len = i == 3 ? sizeof(block) : (i % 2 ? 4096 : 1024);
		CHECK_EQ(pwrite(efd, block, len, (off_t)offs[i]), (ssize_t)len);
	}
	/* Write-zeroes over 2 whole clusters and a partial one; a discard elsewhere reads zeroes on
	 * plain images. */
	static const uint8_t zero[196608 + 1024];
	CHECK_EQ(pwrite(efd, zero, 196608 + 1024, 6 << 20), (ssize_t)(196608 + 1024));
	close(efd);
	for (unsigned int n = 0; n < 4; n++) {
		CHECK_EQ(open_image(&img, tmp_path(names[n]), KRUN_DISK_FORMAT_QCOW2, false), 0);
		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			size_t len = i == 3 ? sizeof(block) : (i % 2 ? 4096 : 1024);
			struct iovec v[2] = {{block, 512}, {block + 512, len - 512}};

			CHECK_EQ(img.ops->write(&img, v, 2, offs[i]), 0);
		}
		CHECK_EQ(img.ops->write_zeroes(&img, 6 << 20, 196608 + 1024, true), 0);
		CHECK_EQ(img.ops->flush(&img), 0);
		blk_image_close(&img);
		if (sh("qemu-img check -q %s", tmp_path(names[n])) != 0 ||
		    sh("qemu-img compare -q -f qcow2 -F raw %s %s", tmp_path(names[n]),
		       tmp_path("expect.raw")) != 0) {
			fprintf(stderr, "qcow2 write: %s fails qemu-img check/compare\n", names[n]);
			CHECK(!"qemu-img check + compare");
		} else {
			CHECK(1);
		}
	}

	/* Growth: a 4 GiB image with 512-byte clusters needs new L2 tables and refcount blocks. */
	CHECK_EQ(sh("cd %s && qemu-img create -q -f qcow2 -o cluster_size=512 grow.qcow2 4G", dir),
		 0);
	CHECK_EQ(open_image(&img, tmp_path("grow.qcow2"), KRUN_DISK_FORMAT_QCOW2, false), 0);
	for (uint64_t off = 0; off < (4ULL << 30); off += 97ULL << 20) {
		struct iovec v = {block, 4096};

		CHECK_EQ(img.ops->write(&img, &v, 1, off), 0);
	}
	struct iovec big = {block, sizeof(block)};
	for (int i = 0; i < 40; i++)
		CHECK_EQ(img.ops->write(&img, &big, 1, (1ULL << 30) + (uint64_t)i * sizeof(block)),
			 0);
	CHECK_EQ(img.ops->discard(&img, 1ULL << 30, 10 * sizeof(block)), 0);
	blk_image_close(&img);
	CHECK_EQ(sh("qemu-img check -q %s", tmp_path("grow.qcow2")), 0);
	CHECK_EQ(sh("qemu-io -c 'read -P 0 1G 1966080' -c 'read -v 1075707904 16' %s | grep -q '01 "
		    "0e 1b 28'",
		    tmp_path("grow.qcow2")),
		 0);
}

/* ---- vmdk */

static void test_vmdk(void)
{
	struct blk_image img;
	uint8_t *raw;
	static uint8_t buf[4096];
	struct iovec v = {buf, sizeof(buf)};

	raw = read_all(tmp_path("p.raw"), QSIZE);
	CHECK(raw != NULL);
	if (!raw)
		return;
	CHECK_EQ(sh("cd %s && qemu-img convert -O vmdk -o subformat=monolithicFlat p.raw f.vmdk && "
		    "qemu-img convert -O vmdk p.raw sparse.vmdk && "
		    "qemu-img convert -O vmdk -o subformat=streamOptimized p.raw stream.vmdk",
		    dir),
		 0);
	CHECK_EQ(open_image(&img, tmp_path("f.vmdk"), KRUN_DISK_FORMAT_VMDK, false), 0);
	CHECK_EQ(img.size, QSIZE);
	CHECK(img.flat);
	CHECK(same_as_raw(&img, raw, QSIZE));
	blk_image_close(&img);
	CHECK_EQ(open_image(&img, tmp_path("sparse.vmdk"), KRUN_DISK_FORMAT_VMDK, true), -ENOTSUP);
	CHECK_EQ(open_image(&img, tmp_path("stream.vmdk"), KRUN_DISK_FORMAT_VMDK, true), -ENOTSUP);

	/* Three extents: 1 MiB of p.raw from 2 MiB in, 1 MiB of zeroes, p.raw from the start. */
	const char *desc = "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
			   "createType=\"monolithicFlat\"\n\n# Extent description\n"
			   "RW 2048 FLAT \"p.raw\" 4096\nRW 2048 ZERO\nRW 4096 FLAT \"p.raw\"\n";
	CHECK_EQ(write_file(tmp_path("multi.vmdk"), desc, strlen(desc)), 0);
	CHECK_EQ(open_image(&img, tmp_path("multi.vmdk"), KRUN_DISK_FORMAT_VMDK, false), 0);
	CHECK_EQ(img.size, 8192 * 512);
	CHECK(!img.flat);
	CHECK_EQ(img.ops->read(&img, &v, 1, 4096), 0);
	CHECK(!memcmp(buf, raw + (2 << 20) + 4096, 4096));
	CHECK_EQ(img.ops->read(&img, &v, 1, (1 << 20) + 8192), 0);
	CHECK(buf[0] == 0 && buf[4095] == 0);
	CHECK_EQ(img.ops->read(&img, &v, 1, (2 << 20) + 4096), 0);
	CHECK(!memcmp(buf, raw + 4096, 4096));
	CHECK_EQ(img.ops->write(&img, &v, 1, (1 << 20)), -EIO); /* ZERO has no storage */
	blk_image_close(&img);
	free(raw);

	const char *parent =
	    "# Disk DescriptorFile\nparentCID=1234abcd\ncreateType=\"monolithicFlat\"\n"
	    "RW 2048 FLAT \"p.raw\" 0\n";
	CHECK_EQ(write_file(tmp_path("delta.vmdk"), parent, strlen(parent)), 0);
	CHECK_EQ(open_image(&img, tmp_path("delta.vmdk"), KRUN_DISK_FORMAT_VMDK, true), -ENOTSUP);
	const char *toolong =
	    "# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\nRW 99999999 FLAT \"p.raw\" 0\n";
	CHECK_EQ(write_file(tmp_path("long.vmdk"), toolong, strlen(toolong)), 0);
	CHECK_EQ(open_image(&img, tmp_path("long.vmdk"), KRUN_DISK_FORMAT_VMDK, true), -EINVAL);
	const char *escape =
	    "# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\nRW 8 SPARSE \"p.raw\"\n";
	CHECK_EQ(write_file(tmp_path("sp.vmdk"), escape, strlen(escape)), 0);
	CHECK_EQ(open_image(&img, tmp_path("sp.vmdk"), KRUN_DISK_FORMAT_VMDK, true), -ENOTSUP);
	CHECK_EQ(open_image(&img, tmp_path("p.raw"), KRUN_DISK_FORMAT_VMDK, true), -EINVAL);
}

TEST_MAIN("blk", {
	krun_set_log_level(KRUN_LOG_LEVEL_OFF);
	if (!mkdtemp(dir))
		return 1;
	test_parse_rw();
	test_parse_too_many_segments();
	test_parse_ranges();
	test_raw();
	if (have_qemu_img()) {
		test_qcow2_read();
		test_qcow2_write();
		test_vmdk();
	} else {
		fprintf(stderr, "blk: qemu-img missing (scripts/deps.sh): qcow2 tests not run\n");
		CHECK(!"qemu-img available");
	}
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (!getenv("KEEP") && system(cmd)) {
	}
})
