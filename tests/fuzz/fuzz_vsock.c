// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the vsock transmit packet parser and the connection
 * state machine (devices/virtio/vsock/), driven by a hostile guest and a
 * host that writes, reads and hangs up at the fuzzer's choosing. The input
 * is a list of steps:
 *
 *   0  a packet with a mostly valid header (fields from the input)
 *   1  a packet of raw bytes, in one or two buffers
 *   2  the device fills receive buffers (then the guest posts them again)
 *   3  host fd events are handed to the core
 *   4  the host writes to, reads from or closes one of its ends
 *   5  a host-initiated connection to a guest port
 *
 * After each input every connection is closed: each host end must be shut (the
 * test's end of it sees the hangup), no
 * receive buffer may be written outside its bounds (ASan), nothing may loop.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/vsock/vsock.h"
#include "vmm/util.h"

#define QSIZE	  64
#define DESC_GPA  0x1000
#define AVAIL_GPA 0x2000
#define USED_GPA  0x3000
#define BUF_GPA	  0x10000
#define BUF_SIZE  (4096 + VSOCK_HDR_SIZE)
#define MAX_PEERS 64

static struct guest_mem mem;
static struct virtq rxq;
static struct vsock_core *vc;
static int peers[MAX_PEERS];
static unsigned int npeers;
static uint8_t pkt[VSOCK_HDR_SIZE + VSOCK_MAX_PAYLOAD + 16];

static int fuzz_connect(struct vsock_backend *b, uint32_t port, uint32_t peer_port)
{
	int sv[2];

	(void)b;
	(void)peer_port;
	if (port == 2)
		return -ECONNREFUSED;
	if (port != 1)
		return -ENOENT;
	if (npeers == MAX_PEERS ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -EMFILE;
	peers[npeers++] = sv[1];
	return sv[0];
}

static struct vsock_backend backend = {.name = "fuzz", .connect = fuzz_connect};

static uint32_t buf_size(uint16_t i)
{
	return i % 7 == 3 ? 20u + i : (uint32_t)BUF_SIZE; /* some cannot hold a header */
}

static void post(uint16_t i)
{
	struct virtq_desc *desc = guest_ptr(&mem, DESC_GPA, 16 * QSIZE);
	uint16_t *avail = guest_ptr(&mem, AVAIL_GPA, 6 + 2 * QSIZE);

	desc[i] = (struct virtq_desc){BUF_GPA + (uint64_t)i * BUF_SIZE, buf_size(i),
				      VIRTQ_DESC_F_WRITE, 0};
	avail[2 + avail[1] % QSIZE] = i;
	avail[1]++;
}

static void setup(void)
{
	if (guest_mem_init(&mem, 2 * MiB) < 0)
		abort();
	vc = calloc(1, sizeof(*vc));
	if (!vc || vsock_core_init(vc, VSOCK_GUEST_CID) < 0)
		abort();
	vsock_core_add_backend(vc, &backend);
}

static void reset_rx(void)
{
	memset(mem.regions[0].hva, 0, 0x10000);
	virtq_reset(&rxq);
	rxq.size = QSIZE;
	rxq.desc_addr = DESC_GPA;
	rxq.avail_addr = AVAIL_GPA;
	rxq.used_addr = USED_GPA;
	if (!virtq_activate(&rxq, &mem))
		abort();
	rxq.ready = true;
	for (uint16_t i = 0; i < QSIZE; i++)
		post(i);
}

static uint16_t used_seen;

static void fill_rx(void)
{
	uint8_t *used = guest_ptr(&mem, USED_GPA, 6 + 8 * QSIZE);
	uint16_t idx;

	vsock_core_rx(vc, &rxq);
	memcpy(&idx, used + 2, 2);
	while (used_seen != idx) {
		struct virtq_used_elem e;

		memcpy(&e, used + 4 + 8 * (used_seen++ % QSIZE), sizeof(e));
		if (e.id >= QSIZE || e.len > buf_size((uint16_t)e.id))
			abort(); /* the device wrote past what it was given */
		post((uint16_t)e.id);
	}
}

static void pump(void)
{
	struct epoll_event ev[16];
	int n = epoll_wait(vc->epfd, ev, 16, 0);

	for (int i = 0; i < n; i++)
		vsock_core_event(vc, ev[i].data.ptr, ev[i].events);
}

/* Step 0: a header made of the input's choices, mostly valid. */
static void shaped_packet(const uint8_t *d, size_t n)
{
	static const uint32_t dst_ports[] = {1, 2, 3, 1u << 30, (1u << 30) + 1};
	struct vsock_hdr h = {0};
	uint32_t len;
	struct iovec iov[2];

	if (n < 12)
		return;
	len = (uint32_t)(n - 12);
	h.src_cid = d[0] & 0x80 ? d[1] : VSOCK_GUEST_CID;
	h.dst_cid = d[0] & 0x40 ? d[2] : VSOCK_HOST_CID;
	h.type = d[0] & 0x20 ? d[2] : VSOCK_TYPE_STREAM;
	h.op = d[3] % 9;
	h.src_port = 1000 + (d[4] & 7);
	h.dst_port = dst_ports[(d[4] >> 3) % ARRAY_SIZE(dst_ports)];
	h.len = d[0] & 0x10 ? (uint32_t)d[5] << 12 | d[6] : len;
	h.flags = d[7] & 3;
	h.buf_alloc = d[0] & 8 ? (uint32_t)d[8] << 24 : 256 * 1024;
	h.fwd_cnt = (uint32_t)d[9] << 16 | (uint32_t)d[10] << 8;
	memcpy(pkt, &h, sizeof(h));
	len = MIN(len, (uint32_t)VSOCK_MAX_PAYLOAD);
	memcpy(pkt + VSOCK_HDR_SIZE, d + 12, len);
	/* d[11] splits header from payload anywhere. */
	iov[0] = (struct iovec){pkt, MIN((size_t)d[11], VSOCK_HDR_SIZE + (size_t)len)};
	iov[1] = (struct iovec){pkt + iov[0].iov_len, VSOCK_HDR_SIZE + len - iov[0].iov_len};
	vsock_core_tx(vc, iov, 2);
}

static void raw_packet(const uint8_t *d, size_t n)
{
	struct iovec iov[2];
	size_t cut;

	if (!n)
		return;
	n = MIN(n - 1, sizeof(pkt));
	memcpy(pkt, d + 1, n);
	cut = MIN((size_t)d[0], n);
	iov[0] = (struct iovec){pkt, cut};
	iov[1] = (struct iovec){pkt + cut, n - cut};
	vsock_core_tx(vc, iov, 2);
}

static void host_action(const uint8_t *d, size_t n)
{
	static uint8_t buf[256 * 1024];
	unsigned int i;

	if (n < 2 || !npeers)
		return;
	i = d[0] % npeers;
	if (peers[i] < 0)
		return;
	switch (d[1] % 4) {
	case 0:
		if (send(peers[i], d + 2, n - 2, MSG_NOSIGNAL) < 0)
			break;
		break;
	case 1:
		if (read(peers[i], buf, sizeof(buf)) < 0)
			break;
		break;
	case 2:
		shutdown(peers[i], SHUT_WR);
		break;
	default:
		close(peers[i]);
		peers[i] = -1;
		break;
	}
}

static void host_connect(const uint8_t *d, size_t n)
{
	int sv[2];

	if (n < 1 || npeers == MAX_PEERS ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	peers[npeers++] = sv[1];
	if (vsock_core_host_connect(vc, 1000 + (d[0] & 7), sv[0], NULL) < 0)
		close(sv[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!vc)
		setup();
	reset_rx();
	used_seen = 0;
	while (size >= 3) {
		uint8_t kind = data[0] % 6;
		size_t len = MIN((size_t)(data[1] | data[2] << 8), size - 3);
		const uint8_t *d = data + 3;

		switch (kind) {
		case 0:
			shaped_packet(d, len);
			break;
		case 1:
			raw_packet(d, len);
			break;
		case 2:
			fill_rx();
			break;
		case 3:
			pump();
			break;
		case 4:
			host_action(d, len);
			break;
		default:
			host_connect(d, len);
			break;
		}
		/* The device never takes a packet while the reset ring is full. */
		if (vsock_core_tx_blocked(vc))
			fill_rx();
		data += 3 + len;
		size -= 3 + len;
	}
	fill_rx();
	vsock_core_reset(vc);
	if (vc->nconns)
		abort();
	for (unsigned int i = 0; i < npeers; i++) {
		struct pollfd p = {peers[i], POLLIN, 0};

		if (peers[i] < 0)
			continue;
		/* Our end of every host connection must be closed: a hangup here. */
		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP))
			abort();
		close(peers[i]);
	}
	npeers = 0;
	return 0;
}
