// SPDX-License-Identifier: Apache-2.0
/*
 * blkbench DEVICE MODE QD SECONDS: a small block benchmark for the guest
 * (static, musl; fio is not in the guest), the same binary under krun and
 * QEMU. O_DIRECT with Linux AIO (io_submit), QD requests in flight.
 *   randread   4 KiB reads at random 4 KiB-aligned offsets
 *   seqread    1 MiB reads, sequential, wrapping at the end of the device
 *   seqwrite   1 MiB writes, sequential
 *   flush      4 KiB write then fdatasync (a virtio-blk FLUSH), one at a
 *              time: the figure is the mean flush latency
 * Prints one line: "MODE qd=QD: N ops in T s: IOPS, MB/s, mean latency".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_QD 256

/* The Linux AIO ABI (linux/aio_abi.h; musl ships no kernel headers). */
typedef unsigned long aio_context_t;
#define IOCB_CMD_PREAD	0
#define IOCB_CMD_PWRITE 1
struct iocb {
	uint64_t aio_data;
	uint32_t aio_key, aio_rw_flags;
	uint16_t aio_lio_opcode;
	int16_t aio_reqprio;
	uint32_t aio_fildes;
	uint64_t aio_buf, aio_nbytes;
	int64_t aio_offset;
	uint64_t aio_reserved2;
	uint32_t aio_flags, aio_resfd;
};
struct io_event {
	uint64_t data, obj;
	int64_t res, res2;
};
#define BLKGETSIZE64 _IOR(0x12, 114, size_t)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *what)
{
	fprintf(stderr, "blkbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int flush_mode(int fd, double seconds)
{
	void *buf;
	double start = now(), in_flush = 0;
	long n = 0;

	if (posix_memalign(&buf, 4096, 4096))
		die("memory");
	memset(buf, 0x5a, 4096);
	while (now() - start < seconds) {
		double t;

		if (pwrite(fd, buf, 4096, (off_t)(n % 256) * 4096) != 4096)
			die("pwrite");
		t = now();
		if (fdatasync(fd) < 0)
			die("fdatasync");
		in_flush += now() - t;
		n++;
	}
	printf("flush qd=1: %ld flushes in %.2f s: mean flush latency %.1f us (after a 4 KiB "
	       "write each)\n",
	       n, now() - start, n ? in_flush / (double)n * 1e6 : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	static struct iocb cbs[MAX_QD];
	static struct iocb *ptrs[MAX_QD];
	static struct io_event events[MAX_QD];
	aio_context_t ctx = 0;
	uint64_t size, pos = 0, ops = 0;
	unsigned int qd, bs;
	double seconds, start, lat_sum = 0, issued[MAX_QD];
	const char *mode;
	bool rnd, wr;
	int fd;

	if (argc != 5) {
		fprintf(stderr,
			"usage: blkbench DEVICE randread|seqread|seqwrite|flush QD SECONDS\n");
		return 2;
	}
	mode = argv[2];
	qd = (unsigned int)atoi(argv[3]);
	seconds = atof(argv[4]);
	if (!qd || qd > MAX_QD)
		return 2;
	rnd = !strcmp(mode, "randread");
	wr = !strcmp(mode, "seqwrite") || !strcmp(mode, "flush");
	bs = rnd ? 4096 : 1 << 20;
	fd = open(argv[1], (wr ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0)
		die(argv[1]);
	if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		die("BLKGETSIZE64");
	if (!strcmp(mode, "flush"))
		return flush_mode(fd, seconds);
	if (syscall(SYS_io_setup, qd, &ctx) < 0)
		die("io_setup");
	for (unsigned int i = 0; i < qd; i++) {
		void *buf;

		if (posix_memalign(&buf, 4096, bs))
			die("memory");
		memset(buf, (int)i, bs);
		cbs[i].aio_fildes = (uint32_t)fd;
		cbs[i].aio_lio_opcode = wr ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
		cbs[i].aio_buf = (uint64_t)(uintptr_t)buf;
		cbs[i].aio_nbytes = bs;
		cbs[i].aio_data = i;
	}
	start = now();
	/* Fill the queue, then resubmit each request as it completes. */
	for (unsigned int i = 0; i < qd; i++) {
		if (rnd) {
			cbs[i].aio_offset = (int64_t)((next_rand() % (size / 4096)) * 4096);
		} else {
			cbs[i].aio_offset = (int64_t)pos;
			pos = pos + bs + bs > size ? 0 : pos + bs;
		}
		ptrs[i] = &cbs[i];
		issued[i] = now();
	}
	if (syscall(SYS_io_submit, ctx, (long)qd, ptrs) != (long)qd)
		die("io_submit");
	while (now() - start < seconds) {
		long got = syscall(SYS_io_getevents, ctx, 1, (long)qd, events, NULL);
		unsigned int n = 0;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			die("io_getevents");
		for (long e = 0; e < got; e++) {
			unsigned int i = (unsigned int)events[e].data;

			if (events[e].res != (int64_t)bs) {
				fprintf(stderr, "blkbench: request failed: %lld\n",
					(long long)events[e].res);
				return 1;
			}
			lat_sum += now() - issued[i];
			ops++;
			if (rnd) {
				cbs[i].aio_offset = (int64_t)((next_rand() % (size / 4096)) * 4096);
			} else {
				cbs[i].aio_offset = (int64_t)pos;
				pos = pos + bs + bs > size ? 0 : pos + bs;
			}
			issued[i] = now();
			ptrs[n++] = &cbs[i];
		}
		if (n && syscall(SYS_io_submit, ctx, (long)n, ptrs) != (long)n)
			die("io_submit");
	}
	double t = now() - start;

	printf("%s qd=%u bs=%u: %llu ops in %.2f s: %.0f IOPS, %.1f MB/s, mean latency %.1f us\n",
	       mode, qd, bs, (unsigned long long)ops, t, (double)ops / t,
	       (double)ops * bs / t / 1e6, ops ? lat_sum / (double)ops * 1e6 : 0.0);
	return 0;
}
