// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-net device as its builder makes it, on a VM without KVM, with
 * a socket pair as the stream peer: the test is the driver (through the
 * MMIO bus) and the peer. Config space (MAC, link up), transmit frames
 * reaching the peer with their length prefix and the checksum filled in,
 * hostile transmit headers dropped and their buffers still returned,
 * frames and a bad length prefix from the peer, link down when the peer
 * goes away, transmit after that dropped and returned.
 */
#include <endian.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "devices/builders.h"
#include "devices/virtio/net/net.h"
#include "libkrun.h"
#include "test.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define Q_NUM	 8
#define RING_GPA (1 * MiB)
#define DATA_GPA (2 * MiB)
#define RAM	 (4 * MiB)
#define BASE	 VIRTIO_MMIO_BASE

static struct vm_config cfg;
static struct vm *vm;

static void mmio_w(uint32_t off, uint32_t v)
{
	bus_write(&vm->mmio, BASE + off, &v, 4);
}

static uint32_t mmio_r(uint32_t off)
{
	uint32_t v = 0;

	bus_read(&vm->mmio, BASE + off, &v, 4);
	return v;
}

static uint64_t ring(unsigned int q, unsigned int part)
{
	return RING_GPA + q * 0x1000 + part * 0x400;
}

static void *gpa(uint64_t a, uint64_t len)
{
	return guest_ptr(&vm->mem, a, len);
}

static void driver_start(uint32_t features_lo)
{
	mmio_w(0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_w(0x024, 0);
	mmio_w(0x020, features_lo);
	mmio_w(0x024, 1);
	mmio_w(0x020, 1);
	mmio_w(0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	CHECK(mmio_r(0x070) & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned int q = 0; q < 2; q++) {
		mmio_w(0x030, q);
		mmio_w(0x038, Q_NUM);
		mmio_w(0x080, (uint32_t)ring(q, 0));
		mmio_w(0x090, (uint32_t)ring(q, 1));
		mmio_w(0x0a0, (uint32_t)ring(q, 2));
		mmio_w(0x044, 1);
	}
	mmio_w(0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			  VIRTIO_STATUS_DRIVER_OK);
}

static void give(unsigned int q, uint16_t id, uint64_t addr, uint32_t len, uint16_t flags)
{
	struct virtq_desc *d = gpa(ring(q, 0), 16 * Q_NUM);
	uint16_t *avail = gpa(ring(q, 1), 6 + 2 * Q_NUM);

	d[id] = (struct virtq_desc){addr, len, flags, 0};
	avail[2 + avail[1] % Q_NUM] = id;
	__atomic_store_n(&avail[1], (uint16_t)(avail[1] + 1), __ATOMIC_RELEASE);
	mmio_w(0x050, q);
}

static uint16_t used_idx(unsigned int q)
{
	uint16_t *used = gpa(ring(q, 2), 4 + 8 * Q_NUM);

	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

static struct virtq_used_elem used_elem(unsigned int q, unsigned int i)
{
	struct virtq_used_elem *e = gpa(ring(q, 2) + 4, 8 * Q_NUM);

	return e[i % Q_NUM];
}

static bool wait_used(unsigned int q, uint16_t want)
{
	for (int i = 0; i < 500 && used_idx(q) != want; i++)
		usleep(10000);
	return used_idx(q) == want;
}

/* A transmit chain at DATA_GPA + slot * 4 KiB: header, then a UDP/IPv4 frame. */
static void tx_frame(uint16_t id, uint8_t flags, uint8_t gso, size_t frame_len)
{
	uint8_t *p = gpa(DATA_GPA + id * 4096u, 4096);
	struct virtio_net_hdr h = {.flags = flags, .gso_type = gso};

	if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		h.csum_start = htole16(34);
		h.csum_offset = htole16(6);
	}
	if (gso)
		h.gso_size = htole16(1400);
	memcpy(p, &h, sizeof(h));
	for (size_t i = 0; i < frame_len; i++)
		p[NET_HDR_LEN + i] = (uint8_t)(i + id);
	p[NET_HDR_LEN + 40] = 0; /* the pseudo-header sum: 0 */
	p[NET_HDR_LEN + 41] = 0;
	give(1, id, DATA_GPA + id * 4096u, (uint32_t)(NET_HDR_LEN + frame_len), 0);
}

static bool read_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t n;

		if (poll(&p, 1, 5000) != 1)
			return false;
		n = read(fd, (uint8_t *)buf + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

static void peer_frame(int fd, uint32_t len, uint8_t fill)
{
	uint8_t buf[256];
	uint32_t be = htobe32(len);

	memset(buf, fill, sizeof(buf));
	CHECK_EQ(write(fd, &be, 4), 4);
	CHECK_EQ(write(fd, buf, len), (ssize_t)len);
}

static void test_device(void)
{
	uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55}, got[4 + 64];
	struct net_config n = {.backend = NET_UNIXSTREAM, .features = COMPAT_NET_FEATURES};
	const uint32_t features = (uint32_t)(VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS |
					     VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_CSUM);
	int sv[2];

	log_set_level(0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	vm_config_init(&cfg);
	n.fd = sv[0];
	memcpy(n.mac, mac, 6);
	CHECK_EQ(vm_config_add_net(&cfg, &n), 0);
	vm = vm_alloc(&cfg);
	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	CHECK_EQ(event_loop_init(&vm->loop), 0);
	CHECK_EQ(guest_mem_init(&vm->mem, RAM), 0);
	CHECK_EQ(net_builder.create(vm), 0);
	CHECK_EQ(mmio_r(0x008), VIRTIO_ID_NET);
	CHECK(mmio_r(0x010) & VIRTIO_NET_F_MRG_RXBUF);
	for (int i = 0; i < 6; i++) {
		uint8_t b = 0;

		bus_read(&vm->mmio, BASE + 0x100 + i, &b, 1);
		CHECK_EQ(b, mac[i]);
	}
	CHECK_EQ(mmio_r(0x104) >> 16 & 0xffff, VIRTIO_NET_S_LINK_UP);
	driver_start(features);

	/* Transmit: two good frames around two hostile headers. */
	tx_frame(0, 0, 0, 60);
	tx_frame(1, VIRTIO_NET_HDR_F_DATA_VALID, 0, 60); /* the device's flag */
	tx_frame(2, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 60); /* not taken */
	tx_frame(3, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 64);
	CHECK(wait_used(1, 4));
	CHECK(read_exact(sv[1], got, 4 + 60));
	CHECK_EQ(be32toh(*(uint32_t *)got), 60);
	CHECK_EQ(got[4], 0);
	CHECK(read_exact(sv[1], got, 4 + 64));
	CHECK_EQ(be32toh(*(uint32_t *)got), 64);
	CHECK_EQ(got[4], 3);
	{
		struct iovec udp = {got + 4 + 34, 30};

		CHECK_EQ(net_csum_iov(&udp, 1, 0, 30, 0), 0xffff);
	}
	{
		struct pollfd p = {sv[1], POLLIN, 0};

		CHECK_EQ(poll(&p, 1, 200), 0); /* nothing else: the bad ones were dropped */
	}

	/* Receive: two frames around a bad length, into two buffers. */
	give(0, 0, DATA_GPA + 0x10000, 2048, VIRTQ_DESC_F_WRITE);
	give(0, 1, DATA_GPA + 0x11000, 2048, VIRTQ_DESC_F_WRITE);
	peer_frame(sv[1], 100, 0xaa);
	peer_frame(sv[1], 3, 0xbb); /* shorter than an Ethernet header: skipped */
	peer_frame(sv[1], 70, 0xcc);
	CHECK(wait_used(0, 2));
	CHECK_EQ(used_elem(0, 0).len, NET_HDR_LEN + 100);
	CHECK_EQ(used_elem(0, 1).len, NET_HDR_LEN + 70);
	{
		const struct virtio_net_hdr *h = gpa(DATA_GPA + 0x10000, NET_HDR_LEN);
		const uint8_t *d0 = gpa(DATA_GPA + 0x10000 + NET_HDR_LEN, 100);
		const uint8_t *d1 = gpa(DATA_GPA + 0x11000 + NET_HDR_LEN, 70);

		CHECK_EQ(le16toh(h->num_buffers), 1);
		CHECK_EQ(h->flags, 0);
		CHECK_EQ(d0[0], 0xaa);
		CHECK_EQ(d0[99], 0xaa);
		CHECK_EQ(d1[0], 0xcc);
		CHECK_EQ(d1[69], 0xcc);
	}

	/* The peer goes away: link down, and transmit is dropped but returned. */
	close(sv[1]);
	for (int i = 0; i < 500 && (mmio_r(0x104) >> 16 & 0xffff); i++)
		usleep(10000);
	CHECK_EQ(mmio_r(0x104) >> 16 & 0xffff, 0);
	CHECK(mmio_r(0x060) & 2); /* a configuration change interrupt */
	tx_frame(4, 0, 0, 60);
	CHECK(wait_used(1, 5));
}

TEST_MAIN("net_device", test_device())
