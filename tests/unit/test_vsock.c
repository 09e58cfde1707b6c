// SPDX-License-Identifier: Apache-2.0
/*
 * The vsock connection state machine (devices/virtio/vsock/conn.c) against
 * a guest played here: packets go in as the transmit queue would hand them
 * over, replies come out of a real receive virtqueue in guest memory, and
 * the host ends are socketpairs whose other end the test holds. Covers the
 * handshake, data both ways, credit both ways, shutdown and reset from
 * either side, bad packets, the table cap, and that no fd leaks.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/vsock/vsock.h"
#include "test.h"
#include "vmm/util.h"

#define QSIZE	  512
#define DESC_GPA  0x10000
#define AVAIL_GPA 0x20000
#define USED_GPA  0x30000
#define BUF_GPA	  0x100000
#define BUF_SIZE  (4096 + VSOCK_HDR_SIZE) /* what Linux gives */

#define PORT_OK	     1000 /* the backend connects it */
#define PORT_REFUSED 1001
#define GUEST_PORT   50000

static struct guest_mem mem;
static struct virtq rxq;
static struct vsock_core *vc;
static uint16_t used_seen;
static int peers[VSOCK_MAX_CONNS + 64]; /* the test's ends of host connections */
static unsigned int npeers;

/* ---- a backend of socketpairs ---------------------------------------------- */

static int test_connect(struct vsock_backend *b, uint32_t port, uint32_t peer_port)
{
	int sv[2];

	(void)b;
	(void)peer_port;
	if (port == PORT_REFUSED)
		return -ECONNREFUSED;
	if (port != PORT_OK)
		return -ENOENT;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	peers[npeers++] = sv[1];
	return sv[0];
}

static struct vsock_backend backend = {.name = "test", .connect = test_connect};

/* ---- the guest's receive queue --------------------------------------------- */

static struct virtq_desc *desc(void)
{
	return guest_ptr(&mem, DESC_GPA, 16 * QSIZE);
}

static uint16_t *avail(void)
{
	return guest_ptr(&mem, AVAIL_GPA, 6 + 2 * QSIZE);
}

static uint8_t *used(void)
{
	return guest_ptr(&mem, USED_GPA, 6 + 8 * QSIZE);
}

static void post_buffer(uint16_t i)
{
	uint16_t *a = avail();

	desc()[i] =
	    (struct virtq_desc){BUF_GPA + (uint64_t)i * BUF_SIZE, BUF_SIZE, VIRTQ_DESC_F_WRITE, 0};
	a[2 + a[1] % QSIZE] = i;
	a[1]++;
}

static void setup_rx(unsigned int nbuffers)
{
	memset(mem.regions[0].hva, 0, 4 * MiB);
	virtq_reset(&rxq);
	rxq.size = QSIZE;
	rxq.desc_addr = DESC_GPA;
	rxq.avail_addr = AVAIL_GPA;
	rxq.used_addr = USED_GPA;
	CHECK(virtq_activate(&rxq, &mem));
	rxq.ready = true;
	used_seen = 0;
	for (unsigned int i = 0; i < nbuffers; i++)
		post_buffer((uint16_t)i);
}

struct rx_pkt {
	struct vsock_hdr h;
	uint8_t data[4096];
	uint32_t total; /* what the device said it wrote */
};

static struct rx_pkt got[4096];
static unsigned int ngot;

/* Let the core fill receive buffers; collect them and post them again. */
static unsigned int drain(void)
{
	uint16_t idx;

	ngot = 0;
	vsock_core_rx(vc, &rxq);
	idx = *(uint16_t *)(used() + 2);
	while (used_seen != idx && ngot < ARRAY_SIZE(got)) {
		struct virtq_used_elem e;
		struct rx_pkt *p = &got[ngot++];
		uint8_t *buf;

		memcpy(&e, used() + 4 + 8 * (used_seen % QSIZE), sizeof(e));
		used_seen++;
		buf = guest_ptr(&mem, BUF_GPA + (uint64_t)e.id * BUF_SIZE, BUF_SIZE);
		memcpy(&p->h, buf, VSOCK_HDR_SIZE);
		p->total = e.len;
		if (p->h.len <= sizeof(p->data))
			memcpy(p->data, buf + VSOCK_HDR_SIZE, p->h.len);
		post_buffer((uint16_t)e.id);
	}
	return ngot;
}

/* Host fd events, as the device thread would hand them over. */
static void pump(void)
{
	struct epoll_event ev[64];
	int n;

	while ((n = epoll_wait(vc->epfd, ev, 64, 0)) > 0)
		for (int i = 0; i < n; i++)
			vsock_core_event(vc, ev[i].data.ptr, ev[i].events);
}

/* ---- packets from the guest ------------------------------------------------ */

static uint32_t guest_buf_alloc = 256 * 1024, guest_fwd_cnt;

static void send_full(uint64_t src_cid, uint16_t type, uint16_t op, uint32_t src_port,
		      uint32_t dst_port, uint32_t flags, const void *data, uint32_t len,
		      uint32_t hdr_len)
{
	static uint8_t pkt[VSOCK_HDR_SIZE + 128 * 1024];
	struct vsock_hdr h = {src_cid, VSOCK_HOST_CID, src_port,	dst_port,     hdr_len, type,
			      op,      flags,	       guest_buf_alloc, guest_fwd_cnt};
	struct iovec iov[2] = {{pkt, VSOCK_HDR_SIZE}, {pkt + VSOCK_HDR_SIZE, len}};

	memcpy(pkt, &h, sizeof(h));
	if (len)
		memcpy(pkt + VSOCK_HDR_SIZE, data, len);
	vsock_core_tx(vc, iov, len ? 2 : 1);
}

static void send_op(uint16_t op, uint32_t src_port, uint32_t dst_port, uint32_t flags)
{
	send_full(VSOCK_GUEST_CID, VSOCK_TYPE_STREAM, op, src_port, dst_port, flags, NULL, 0, 0);
}

static void send_rw(uint32_t src_port, uint32_t dst_port, const void *data, uint32_t len)
{
	send_full(VSOCK_GUEST_CID, VSOCK_TYPE_STREAM, VSOCK_OP_RW, src_port, dst_port, 0, data, len,
		  len);
}

static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static void fresh_core(void)
{
	if (vc) {
		vsock_core_release(vc);
		free(vc);
	}
	for (unsigned int i = 0; i < npeers; i++)
		close(peers[i]);
	npeers = 0;
	vc = calloc(1, sizeof(*vc));
	CHECK_EQ(vsock_core_init(vc, VSOCK_GUEST_CID), 0);
	vsock_core_add_backend(vc, &backend);
	guest_buf_alloc = 256 * 1024;
	guest_fwd_cnt = 0;
	setup_rx(256);
}

static bool is_reply(const struct rx_pkt *p, uint16_t op, uint32_t src_port, uint32_t dst_port)
{
	return p->h.op == op && p->h.src_cid == VSOCK_HOST_CID && p->h.dst_cid == VSOCK_GUEST_CID &&
	       p->h.src_port == src_port && p->h.dst_port == dst_port &&
	       p->h.type == VSOCK_TYPE_STREAM;
}

/* A connection from GUEST_PORT to PORT_OK; returns the test's end of it. */
static int open_conn(uint32_t guest_port)
{
	send_op(VSOCK_OP_REQUEST, guest_port, PORT_OK, 0);
	CHECK_EQ(drain(), 1);
	CHECK(is_reply(&got[0], VSOCK_OP_RESPONSE, PORT_OK, guest_port));
	CHECK_EQ(got[0].h.buf_alloc, VSOCK_BUF_ALLOC);
	return peers[npeers - 1];
}

/* ---- the tests ------------------------------------------------------------- */

static void test_handshake_and_data(void)
{
	uint8_t buf[10000], back[10000];
	uint32_t total = 0;
	int peer;

	fresh_core();
	peer = open_conn(GUEST_PORT);
	/* guest -> host */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	send_rw(GUEST_PORT, PORT_OK, buf, 100);
	CHECK_EQ(read(peer, back, sizeof(back)), 100);
	CHECK(!memcmp(back, buf, 100));
	/* host -> guest: 10000 bytes arrive in 4 KiB buffers, in order */
	CHECK_EQ(write(peer, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	pump();
	drain();
	CHECK_EQ(ngot, 3);
	for (unsigned int i = 0; i < ngot; i++) {
		CHECK(is_reply(&got[i], VSOCK_OP_RW, PORT_OK, GUEST_PORT));
		CHECK_EQ(got[i].total, VSOCK_HDR_SIZE + got[i].h.len);
		CHECK(!memcmp(got[i].data, buf + total, got[i].h.len));
		total += got[i].h.len;
	}
	CHECK_EQ(total, sizeof(buf));
	CHECK_EQ(got[0].h.len, 4096);
	/* nothing more to read: the connection is quiet */
	pump();
	CHECK_EQ(drain(), 0);
}

static void test_credit_to_guest(void)
{
	uint8_t buf[3000] = {1};
	int peer;

	fresh_core();
	guest_buf_alloc = 1000;
	peer = open_conn(GUEST_PORT);
	CHECK_EQ(write(peer, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	pump();
	CHECK_EQ(drain(), 1);
	CHECK_EQ(got[0].h.len, 1000); /* exactly the credit */
	pump();
	CHECK_EQ(drain(), 0); /* no credit: the host end is not read */
	guest_fwd_cnt = 1000; /* the guest read it */
	send_op(VSOCK_OP_CREDIT_UPDATE, GUEST_PORT, PORT_OK, 0);
	CHECK_EQ(drain(), 1);
	CHECK_EQ(got[0].h.len, 1000);
	/* a guest claiming it read more than it got: no credit at all */
	guest_fwd_cnt = 5000000;
	send_op(VSOCK_OP_CREDIT_UPDATE, GUEST_PORT, PORT_OK, 0);
	CHECK_EQ(drain(), 0);
	guest_fwd_cnt = 2000;
	send_op(VSOCK_OP_CREDIT_UPDATE, GUEST_PORT, PORT_OK, 0);
	CHECK_EQ(drain(), 1);
	CHECK_EQ(got[0].h.len, 1000);
}

/* The host end does not read: the VMM holds what the credit allows, no more. */
static void test_slow_host_reader(void)
{
	static uint8_t chunk[64 * 1024];
	static uint8_t sink[512 * 1024];
	uint32_t fwd = 0;
	ssize_t n, total = 0, bad = 0;
	int peer;

	fresh_core();
	peer = open_conn(GUEST_PORT);
	for (int i = 0; i < 4; i++) { /* 256 KiB: all the credit */
		for (size_t j = 0; j < sizeof(chunk); j++)
			chunk[j] = (uint8_t)((i * sizeof(chunk) + j) % 251);
		send_rw(GUEST_PORT, PORT_OK, chunk, sizeof(chunk));
	}
	drain();
	for (unsigned int i = 0; i < ngot; i++)
		fwd = got[i].h.fwd_cnt;
	CHECK(fwd < 256 * 1024); /* the socketpair did not take it all */
	CHECK_EQ(vc->nconns, 1);
	/* the host reads: the rest goes out, and the guest hears of it */
	while ((n = read(peer, sink, sizeof(sink))) > 0 || (n < 0 && errno == EAGAIN)) {
		for (ssize_t j = 0; j < n; j++)
			if (sink[j] != (uint8_t)((total + j) % 251))
				bad++;
		if (n > 0)
			total += n;
		if (total == 256 * 1024)
			break;
		pump();
	}
	CHECK_EQ(total, 256 * 1024);
	CHECK_EQ(bad, 0); /* in order, byte for byte, through the ring */
	pump();
	drain();
	send_op(VSOCK_OP_CREDIT_REQUEST, GUEST_PORT, PORT_OK, 0);
	CHECK_EQ(drain(), 1);
	CHECK(is_reply(&got[0], VSOCK_OP_CREDIT_UPDATE, PORT_OK, GUEST_PORT));
	CHECK_EQ(got[0].h.fwd_cnt, 256 * 1024);
}

/* Data beyond the credit: the connection is reset, its host end closed. */
static void test_credit_lie(void)
{
	static uint8_t chunk[64 * 1024];
	char c;
	int peer;

	fresh_core();
	peer = open_conn(GUEST_PORT);
	for (int i = 0; i < 5; i++)
		send_rw(GUEST_PORT, PORT_OK, chunk, sizeof(chunk));
	drain();
	CHECK_EQ(ngot, 1);
	CHECK(is_reply(&got[0], VSOCK_OP_RST, PORT_OK, GUEST_PORT));
	CHECK_EQ(vc->nconns, 0);
	while (read(peer, chunk, sizeof(chunk)) > 0)
		;
	CHECK_EQ(read(peer, &c, 1), 0); /* EOF: our end is closed */
}

static void test_shutdown_both_ways(void)
{
	char buf[16];
	int peer;

	/* The guest shuts its sending side, then closes. */
	fresh_core();
	peer = open_conn(GUEST_PORT);
	send_rw(GUEST_PORT, PORT_OK, "bye", 3);
	send_op(VSOCK_OP_SHUTDOWN, GUEST_PORT, PORT_OK, VSOCK_SHUTDOWN_SEND);
	CHECK_EQ(read(peer, buf, sizeof(buf)), 3);
	CHECK_EQ(read(peer, buf, sizeof(buf)), 0); /* the host end sees EOF */
	CHECK_EQ(write(peer, "answer", 6), 6);	   /* and can still answer */
	pump();
	CHECK_EQ(drain(), 1);
	CHECK_EQ(got[0].h.len, 6);
	send_op(VSOCK_OP_SHUTDOWN, GUEST_PORT, PORT_OK, VSOCK_SHUTDOWN_BOTH);
	CHECK_EQ(drain(), 1);
	CHECK(is_reply(&got[0], VSOCK_OP_RST, PORT_OK, GUEST_PORT));
	CHECK_EQ(vc->nconns, 0);

	/* The host closes: the guest gets SHUTDOWN(SEND) after the data, then closes. */
	peer = open_conn(GUEST_PORT + 1);
	CHECK_EQ(write(peer, "last", 4), 4);
	close(peer);
	peers[--npeers] = -1;
	pump();
	drain();
	CHECK_EQ(ngot, 2);
	CHECK(got[0].h.op == VSOCK_OP_RW && got[0].h.len == 4);
	CHECK(is_reply(&got[1], VSOCK_OP_SHUTDOWN, PORT_OK, GUEST_PORT + 1));
	CHECK_EQ(got[1].h.flags, VSOCK_SHUTDOWN_SEND);
	send_op(VSOCK_OP_SHUTDOWN, GUEST_PORT + 1, PORT_OK, VSOCK_SHUTDOWN_BOTH);
	CHECK_EQ(drain(), 1);
	CHECK(is_reply(&got[0], VSOCK_OP_RST, PORT_OK, GUEST_PORT + 1));

	/* The guest resets: no answer, the host end is closed. */
	peer = open_conn(GUEST_PORT + 2);
	send_op(VSOCK_OP_RST, GUEST_PORT + 2, PORT_OK, 0);
	CHECK_EQ(drain(), 0);
	CHECK_EQ(read(peer, buf, sizeof(buf)), 0);
	CHECK_EQ(vc->nconns, 0);
}

static void test_refused_and_bad_packets(void)
{
	static uint8_t big[VSOCK_MAX_PAYLOAD + 1];

	fresh_core();
	/* Unmapped and refused ports: a reset at once, addresses swapped. */
	send_op(VSOCK_OP_REQUEST, GUEST_PORT, 4242, 0);
	send_op(VSOCK_OP_REQUEST, GUEST_PORT, PORT_REFUSED, 0);
	CHECK_EQ(drain(), 2);
	CHECK(is_reply(&got[0], VSOCK_OP_RST, 4242, GUEST_PORT));
	CHECK(is_reply(&got[1], VSOCK_OP_RST, PORT_REFUSED, GUEST_PORT));
	/* A packet for no connection: reset; a reset for none: nothing. */
	send_rw(GUEST_PORT, PORT_OK, "x", 1);
	send_op(VSOCK_OP_RST, GUEST_PORT, PORT_OK, 0);
	CHECK_EQ(drain(), 1);
	CHECK(is_reply(&got[0], VSOCK_OP_RST, PORT_OK, GUEST_PORT));
	/* Wrong source CID, or not to the host: dropped without a word. */
	send_full(7, VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, GUEST_PORT, PORT_OK, 0, NULL, 0, 0);
	CHECK_EQ(drain(), 0);
	/* Unknown type, unknown op, len beyond the buffers, oversized: reset. */
	send_full(VSOCK_GUEST_CID, 2, VSOCK_OP_REQUEST, GUEST_PORT, PORT_OK, 0, NULL, 0, 0);
	send_full(VSOCK_GUEST_CID, VSOCK_TYPE_STREAM, 99, GUEST_PORT, PORT_OK, 0, NULL, 0, 0);
	send_full(VSOCK_GUEST_CID, VSOCK_TYPE_STREAM, VSOCK_OP_RW, GUEST_PORT, PORT_OK, 0, "ab", 2,
		  3);
	send_full(VSOCK_GUEST_CID, VSOCK_TYPE_STREAM, VSOCK_OP_RW, GUEST_PORT, PORT_OK, 0, big,
		  sizeof(big), sizeof(big));
	CHECK_EQ(drain(), 4);
	for (unsigned int i = 0; i < 4; i++)
		CHECK_EQ(got[i].h.op, VSOCK_OP_RST);
	CHECK_EQ(vc->nconns, 0);
	/* The same on a live connection resets it. */
	open_conn(GUEST_PORT);
	send_full(VSOCK_GUEST_CID, VSOCK_TYPE_STREAM, VSOCK_OP_RW, GUEST_PORT, PORT_OK, 0, "ab", 2,
		  3000);
	CHECK_EQ(drain(), 1);
	CHECK(is_reply(&got[0], VSOCK_OP_RST, PORT_OK, GUEST_PORT));
	CHECK_EQ(vc->nconns, 0);
	/* A second REQUEST on a live connection resets it too. */
	open_conn(GUEST_PORT);
	send_op(VSOCK_OP_REQUEST, GUEST_PORT, PORT_OK, 0);
	CHECK_EQ(drain(), 1);
	CHECK_EQ(got[0].h.op, VSOCK_OP_RST);
	CHECK_EQ(vc->nconns, 0);
	/* A header cut short: nothing to answer. */
	struct iovec shorty = {big, 20};
	vsock_core_tx(vc, &shorty, 1);
	CHECK_EQ(drain(), 0);
}

static void test_table_cap(void)
{
	unsigned int responses = 0, resets = 0;

	fresh_core();
	for (uint32_t i = 0; i < VSOCK_MAX_CONNS + 40; i++) {
		send_op(VSOCK_OP_REQUEST, 20000 + i, PORT_OK, 0);
		drain();
		for (unsigned int j = 0; j < ngot; j++) {
			responses += got[j].h.op == VSOCK_OP_RESPONSE;
			resets += got[j].h.op == VSOCK_OP_RST;
		}
	}
	CHECK_EQ(responses, VSOCK_MAX_CONNS);
	CHECK_EQ(resets, 40);
	CHECK_EQ(vc->nconns, VSOCK_MAX_CONNS);
	/* a driver reset closes them all */
	vsock_core_reset(vc);
	CHECK_EQ(vc->nconns, 0);
}

static void test_host_initiated(void)
{
	int sv[2];
	uint32_t local;
	char buf[8];

	fresh_core();
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	peers[npeers++] = sv[1];
	CHECK_EQ(write(sv[1], "early", 5), 5); /* before the guest even answers */
	CHECK_EQ(vsock_core_host_connect(vc, 7000, sv[0], NULL), 0);
	pump();
	CHECK_EQ(drain(), 1);
	CHECK_EQ(got[0].h.op, VSOCK_OP_REQUEST);
	CHECK_EQ(got[0].h.dst_port, 7000);
	local = got[0].h.src_port;
	send_op(VSOCK_OP_RESPONSE, 7000, local, 0);
	CHECK_EQ(drain(), 1);
	CHECK(is_reply(&got[0], VSOCK_OP_RW, local, 7000));
	CHECK_EQ(got[0].h.len, 5);
	send_rw(7000, local, "hi", 2);
	CHECK_EQ(read(sv[1], buf, sizeof(buf)), 2);
	/* a guest that refuses: the host end is closed */
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	peers[npeers++] = sv[1];
	CHECK_EQ(vsock_core_host_connect(vc, 7001, sv[0], NULL), 0);
	CHECK_EQ(drain(), 1);
	send_op(VSOCK_OP_RST, 7001, got[0].h.src_port, 0);
	CHECK_EQ(read(sv[1], buf, sizeof(buf)), 0);
	CHECK_EQ(vc->nconns, 1);
}

static void test_no_fd_leak(unsigned int before)
{
	fresh_core();
	vsock_core_release(vc);
	free(vc);
	vc = NULL;
	for (unsigned int i = 0; i < npeers; i++)
		close(peers[i]);
	npeers = 0;
	CHECK_EQ(count_fds(), before);
}

TEST_MAIN("test_vsock", unsigned int fds = count_fds(); CHECK_EQ(guest_mem_init(&mem, 64 * MiB), 0);
	  test_handshake_and_data(); test_credit_to_guest(); test_slow_host_reader();
	  test_credit_lie(); test_shutdown_both_ways(); test_refused_and_bad_packets();
	  test_table_cap(); test_host_initiated(); test_no_fd_leak(fds))
