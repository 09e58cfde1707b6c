// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: TSI's control messages (devices/virtio/vsock/tsi*.c),
 * the parser, the address checks and the backend's state machine behind
 * them, driven through the vsock core by a hostile guest. The input is a
 * list of steps:
 *
 *   0  a control datagram: message 1024 + d[0] % 8 from a control port
 *   1  a data datagram from one of a few svm ports (UDP payload)
 *   2  a stream packet between a few svm ports and port 620 / host ports
 *   3  the device fills receive buffers (the guest posts them again)
 *   4  host fd events are handed to the core
 *   5  krun_set_port_map strings, parsed
 *   6  raw bytes checked as an address of each family
 *
 * Inet addresses are rewritten to the loopback (127.0.0.1, ::1) so that the
 * fuzzer never sends anything off the machine; guest port 80 maps to host
 * port 0 (any free one), every other port is unmapped, and AF_UNIX is off, so
 * no listener binds a fixed port or a path. After each input the device is
 * reset: no proxy may be left, and no fd.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/vsock/tsi.h"
#include "fuzz_fds.h"
#include "vmm/config.h"
#include "vmm/util.h"

#define QSIZE	  64
#define DESC_GPA  0x1000
#define AVAIL_GPA 0x2000
#define USED_GPA  0x3000
#define BUF_GPA	  0x10000
#define BUF_SIZE  (4096 + VSOCK_HDR_SIZE)

static struct guest_mem mem;
static struct virtq rxq;
static struct vsock_core *vc;
static struct vsock_backend *tsi;
static uint8_t pkt[VSOCK_HDR_SIZE + 4096];
static unsigned int base_fds;
static uint16_t used_seen;

static uint32_t buf_size(uint16_t i)
{
	return i % 7 == 3 ? 20u + i : (uint32_t)BUF_SIZE; /* some cannot hold a reply */
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
	static const struct tsi_port_pair map[] = {{0, 80}};
	struct tsi_config cfg = {
	    .features = TSI_INET, .port_map_set = true, .port_map = map, .nport_map = 1};

	if (guest_mem_init(&mem, 2 * MiB) < 0)
		abort();
	vc = calloc(1, sizeof(*vc));
	if (!vc || vsock_core_init(vc, VSOCK_GUEST_CID) < 0 || tsi_create(vc, &cfg, &tsi) < 0)
		abort();
	vc->dgram = true;
	base_fds = fuzz_fds_to("socket:");
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
	used_seen = 0;
	for (uint16_t i = 0; i < QSIZE; i++)
		post(i);
}

static void fill_rx(void)
{
	uint8_t *used = guest_ptr(&mem, USED_GPA, 6 + 8 * QSIZE);
	uint16_t idx;

	vsock_core_rx(vc, &rxq);
	memcpy(&idx, used + 2, 2);
	while (used_seen != idx) {
		struct virtq_used_elem e;
		struct vsock_hdr h;

		memcpy(&e, used + 4 + 8 * (used_seen++ % QSIZE), sizeof(e));
		if (e.id >= QSIZE || e.len > buf_size((uint16_t)e.id))
			abort(); /* the device wrote past what it was given */
		memcpy(&h, guest_ptr(&mem, BUF_GPA + (uint64_t)e.id * BUF_SIZE, 44), sizeof(h));
		if (e.len >= VSOCK_HDR_SIZE && h.len != e.len - VSOCK_HDR_SIZE)
			abort(); /* a reply's len is exactly what was written */
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

static void send_pkt(uint16_t type, uint16_t op, uint32_t src, uint32_t dst, const uint8_t *d,
		     size_t len)
{
	struct vsock_hdr h = {
	    VSOCK_GUEST_CID, VSOCK_HOST_CID, src, dst, (uint32_t)len, type, op, 0, 256 * 1024, 0};
	struct iovec iov[2] = {{pkt, VSOCK_HDR_SIZE}, {pkt + VSOCK_HDR_SIZE, len}};

	memcpy(pkt, &h, sizeof(h));
	memcpy(pkt + VSOCK_HDR_SIZE, d, len);
	vsock_core_tx(vc, iov, 2);
}

/* Only the loopback: whatever address the input names. */
static void to_loopback(uint8_t *addr, uint32_t len)
{
	uint16_t family;

	if (len < 2)
		return;
	memcpy(&family, addr, 2);
	if (family == AF_INET && len >= 8) {
		uint32_t lo = htonl(INADDR_LOOPBACK);

		memcpy(addr + 4, &lo, 4);
	} else if (family == AF_INET6 && len >= 24) {
		memcpy(addr + 8, &in6addr_loopback, 16);
	} else if (family != AF_INET && family != AF_INET6 && len >= 8) {
		memset(addr + 2, 0, MIN(len, (uint32_t)TSI_ADDR_MAX) - 2);
	}
}

static void control(const uint8_t *d, size_t n)
{
	static uint8_t msg[TSI_MSG_MAX + 16];
	uint32_t port, at = 0, svm;

	if (n < 2)
		return;
	port = TSI_PROXY_CREATE + (d[0] & 7);
	n = MIN(n - 2, sizeof(msg));
	memcpy(msg, d + 2, n);
	/* a few svm ports, so that messages meet the same proxies */
	if (n >= 4) {
		svm = 500 + (msg[0] & 7);
		memcpy(msg, &svm, 4);
	}
	if (port == TSI_CONNECT || port == TSI_SENDTO_ADDR)
		at = 8;
	else if (port == TSI_LISTEN)
		at = 16;
	if (at && n > at)
		to_loopback(msg + at, (uint32_t)(n - at));
	send_pkt(VSOCK_TYPE_DGRAM, VSOCK_OP_RW, 3000 + (d[1] & 1), port, msg, n);
}

static void data(const uint8_t *d, size_t n)
{
	if (n < 1)
		return;
	send_pkt(VSOCK_TYPE_DGRAM, VSOCK_OP_RW, 500 + (d[0] & 7), d[0] & 8 ? 620 : TSI_SENDTO_DATA,
		 d + 1, MIN(n - 1, (size_t)4096));
}

static void stream(const uint8_t *d, size_t n)
{
	uint32_t dst;

	if (n < 3)
		return;
	dst = d[1] & 1 ? TSI_PROXY_PORT : (1u << 30) + (d[1] >> 1 & 3);
	send_pkt(VSOCK_TYPE_STREAM, 1 + d[0] % 7, d[2] & 8 ? 80 : 500 + (d[2] & 7), dst, d + 3,
		 d[0] % 7 == VSOCK_OP_RW - 1 ? MIN(n - 3, (size_t)4096) : 0);
}

static void port_map(const uint8_t *d, size_t n)
{
	static char buf[256];
	const char *strs[9];
	unsigned int k = 0;
	struct vm_config cfg;
	char *s = buf;

	n = MIN(n, sizeof(buf) - 1);
	memcpy(buf, d, n);
	buf[n] = '\0';
	while (k < 8 && s) {
		strs[k++] = s;
		s = strchr(s, ',');
		if (s)
			*s++ = '\0';
	}
	strs[k] = NULL;
	vm_config_init(&cfg);
	if (vm_config_set_port_map(&cfg, strs) == 0 && cfg.vsock.nport_map > 8)
		abort();
	vm_config_release(&cfg);
}

static void addresses(const uint8_t *d, size_t n)
{
	static const int families[] = {AF_INET, AF_INET6, AF_UNIX};
	struct sockaddr_storage sa;
	socklen_t len;

	n = MIN(n, (size_t)TSI_ADDR_MAX);
	for (size_t i = 0; i < ARRAY_SIZE(families); i++)
		if (tsi_addr_check(families[i], d, (uint32_t)n, &sa, &len) == 0 &&
		    (len > sizeof(sa) || len < 2))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
	if (!vc)
		setup();
	reset_rx();
	while (size >= 3) {
		uint8_t kind = input[0] % 7;
		size_t len = MIN((size_t)(input[1] | input[2] << 8), size - 3);
		const uint8_t *d = input + 3;

		switch (kind) {
		case 0:
			control(d, len);
			break;
		case 1:
			data(d, len);
			break;
		case 2:
			stream(d, len);
			break;
		case 3:
			fill_rx();
			break;
		case 4:
			pump();
			break;
		case 5:
			port_map(d, len);
			break;
		default:
			addresses(d, len);
			break;
		}
		/* The device never takes a packet while replies wait for room. */
		if (vsock_core_tx_blocked(vc))
			fill_rx();
		if (vsock_core_tx_blocked(vc))
			reset_rx();
		input += 3 + len;
		size -= 3 + len;
	}
	fill_rx();
	vsock_core_reset(vc);
	tsi_reset(tsi);
	if (vc->nconns || tsi_nproxies(tsi))
		abort();
	if (fuzz_fds_to("socket:") != base_fds)
		abort(); /* a host socket outlived the reset */
	return 0;
}
