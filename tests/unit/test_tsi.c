// SPDX-License-Identifier: Apache-2.0
/*
 * TSI (devices/virtio/vsock/tsi*.c): the pure parts (port map strings,
 * control message parsing, address checks), then the backend on a vsock
 * core against a guest played here and real host sockets on 127.0.0.1:
 * outbound stream (connect, data, host EOF as SHUTDOWN, GETNAME), a listener
 * through the port map (a host connection becomes a guest connection, the
 * ACCEPT replies), an unmapped listen refused, UDP both ways, families not
 * enabled, the table cap, replies of exact length, and no fd leak.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/vsock/tsi.h"
#include "libkrun.h"
#include "test.h"
#include "vmm/config.h"
#include "vmm/util.h"

#define QSIZE	  256
#define DESC_GPA  0x10000
#define AVAIL_GPA 0x20000
#define USED_GPA  0x30000
#define BUF_GPA	  0x100000
#define BUF_SIZE  (4096 + VSOCK_HDR_SIZE)
#define CTRL_PORT 3000

static struct guest_mem mem;
static struct virtq rxq;
static struct vsock_core *vc;
static struct vsock_backend *tsi;
static uint16_t used_seen;

/* ---- pure parts --------------------------------------------------------------- */

static void test_port_map(void)
{
	struct vm_config cfg;
	const char *const good[] = {"8080:80", "1:65535", "65535:1", NULL};
	const char *const bad[][3] = {
	    {"80", NULL},
	    {"0:80", NULL},
	    {"80:0", NULL},
	    {"65536:80", NULL},
	    {"80:65536", NULL},
	    {"a:b", NULL},
	    {"80:80x", NULL},
	    {" 80:80", NULL},
	    {"+80:80", NULL},
	    {"80:-1", NULL},
	    {"", NULL},
	    {"80:", NULL},
	    {"8080:80", "8080:81"},
	    {"8080:80", "8081:80"},
	    {"0000000080:80", NULL},
	};
	const char *const empty[] = {NULL};

	vm_config_init(&cfg);
	CHECK(!cfg.vsock.port_map_set);
	CHECK_EQ(vm_config_set_port_map(&cfg, good), 0);
	CHECK(cfg.vsock.port_map_set);
	CHECK_EQ(cfg.vsock.nport_map, 3);
	CHECK_EQ(cfg.vsock.port_map[0].host, 8080);
	CHECK_EQ(cfg.vsock.port_map[0].guest, 80);
	CHECK_EQ(cfg.vsock.port_map[1].guest, 65535);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_EQ(vm_config_set_port_map(&cfg, bad[i]), -EINVAL);
		CHECK_EQ(cfg.vsock.nport_map, 3); /* unchanged */
	}
	CHECK_EQ(vm_config_set_port_map(&cfg, empty), 0);
	CHECK(cfg.vsock.port_map_set);
	CHECK_EQ(cfg.vsock.nport_map, 0);
	CHECK_EQ(vm_config_set_port_map(&cfg, NULL), 0);
	CHECK(!cfg.vsock.port_map_set);
	vm_config_release(&cfg);

	/* lookups: no map is the same port, a map only its own */
	struct tsi_port_pair map[] = {{8080, 80}, {2222, 22}};

	CHECK_EQ(tsi_port_map_lookup(NULL, 0, 80), 80);
	CHECK_EQ(tsi_port_map_lookup(NULL, 0, 0), 0);
	CHECK_EQ(tsi_port_map_lookup(map, 2, 80), 8080);
	CHECK_EQ(tsi_port_map_lookup(map, 2, 22), 2222);
	CHECK_EQ(tsi_port_map_lookup(map, 2, 8080), -1);
	CHECK_EQ(tsi_port_map_lookup(map, 2, 0), -1);
	CHECK_EQ(tsi_port_map_lookup(map, 0, 80), -1);

	/* and through the API */
	uint32_t c = (uint32_t)krun_create_ctx();
	const char *const dup[] = {"80:80", "80:80", NULL};

	CHECK_EQ(krun_set_port_map(c, good), 0);
	CHECK_EQ(krun_set_port_map(c, dup), -EINVAL);
	CHECK_EQ(krun_set_port_map(c, NULL), 0);
	CHECK_EQ(krun_free_ctx(c), 0);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void test_msg_parse(void)
{
	uint8_t b[TSI_MSG_MAX + 8] = {0};
	struct tsi_msg m;

	put32(b, 77);
	b[4] = AF_INET;
	b[6] = TSI_SOCK_STREAM;
	CHECK_EQ(tsi_msg_parse(TSI_PROXY_CREATE, b, 8, &m), TSI_MSG_OK);
	CHECK_EQ(m.svm_port, 77);
	CHECK_EQ(m.family, AF_INET);
	CHECK_EQ(m.type, TSI_SOCK_STREAM);
	CHECK_EQ(tsi_msg_parse(TSI_PROXY_CREATE, b, 7, &m), TSI_MSG_SHORT);

	/* CONNECT: the address length is bounded by its field and the payload */
	put32(b + 4, 16);
	CHECK_EQ(tsi_msg_parse(TSI_CONNECT, b, 136, &m), TSI_MSG_OK);
	CHECK_EQ(m.addr_len, 16);
	CHECK_EQ(tsi_msg_parse(TSI_CONNECT, b, 24, &m), TSI_MSG_OK);
	CHECK_EQ(tsi_msg_parse(TSI_CONNECT, b, 23, &m), TSI_MSG_BAD_ADDR_LEN);
	CHECK_EQ(tsi_msg_parse(TSI_CONNECT, b, 7, &m), TSI_MSG_SHORT);
	put32(b + 4, 129);
	CHECK_EQ(tsi_msg_parse(TSI_CONNECT, b, sizeof(b), &m), TSI_MSG_BAD_ADDR_LEN);
	put32(b + 4, 0xffffffffu);
	CHECK_EQ(tsi_msg_parse(TSI_SENDTO_ADDR, b, sizeof(b), &m), TSI_MSG_BAD_ADDR_LEN);

	/* LISTEN: svm_port, vm_port, backlog, addr_len, addr */
	put32(b + 4, 5000);
	put32(b + 8, 4096);
	put32(b + 12, 16);
	CHECK_EQ(tsi_msg_parse(TSI_LISTEN, b, 144, &m), TSI_MSG_OK);
	CHECK_EQ(m.vm_port, 5000);
	CHECK_EQ(m.backlog, 4096);
	CHECK_EQ(tsi_msg_parse(TSI_LISTEN, b, 15, &m), TSI_MSG_SHORT);

	put32(b + 4, 9);
	put32(b + 8, 1);
	CHECK_EQ(tsi_msg_parse(TSI_GETNAME, b, 12, &m), TSI_MSG_OK);
	CHECK_EQ(m.peer_port, 9);
	CHECK_EQ(m.peer, 1);
	CHECK_EQ(tsi_msg_parse(TSI_GETNAME, b, 11, &m), TSI_MSG_SHORT);
	put32(b + 4, (uint32_t)-1);
	CHECK_EQ(tsi_msg_parse(TSI_ACCEPT, b, 8, &m), TSI_MSG_OK);
	CHECK_EQ(m.flags, -1);
	CHECK_EQ(tsi_msg_parse(TSI_PROXY_RELEASE, b, 8, &m), TSI_MSG_OK);
	CHECK_EQ(tsi_msg_parse(TSI_PROXY_RELEASE, b, 4, &m), TSI_MSG_SHORT);
	CHECK_EQ(tsi_msg_parse(TSI_SENDTO_DATA, b, 0, &m), TSI_MSG_OK);
	CHECK_EQ(tsi_msg_parse(620, b, 8, &m), TSI_MSG_NOT_CONTROL);
	CHECK_EQ(tsi_msg_parse(1032, b, 8, &m), TSI_MSG_NOT_CONTROL);
}

static void test_addr_check(void)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(80)};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_scope_id = 7};
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct sockaddr_storage sa;
	uint8_t raw[TSI_ADDR_MAX];
	socklen_t len;

	CHECK_EQ(tsi_addr_check(AF_INET, (uint8_t *)&in, sizeof(in), &sa, &len), 0);
	CHECK_EQ(len, sizeof(in));
	CHECK_EQ(((struct sockaddr_in *)&sa)->sin_port, htons(80));
	CHECK_EQ(tsi_addr_check(AF_INET, (uint8_t *)&in, 15, &sa, &len), -EINVAL);
	CHECK_EQ(tsi_addr_check(AF_INET, (uint8_t *)&in, 1, &sa, &len), -EINVAL);
	CHECK_EQ(tsi_addr_check(AF_INET6, (uint8_t *)&in, sizeof(in), &sa, &len), -EAFNOSUPPORT);
	CHECK_EQ(tsi_addr_check(AF_INET6, (uint8_t *)&in6, sizeof(in6), &sa, &len), 0);
	CHECK_EQ(((struct sockaddr_in6 *)&sa)->sin6_scope_id, 0); /* no guest interface index */
	CHECK_EQ(tsi_addr_check(AF_INET6, (uint8_t *)&in6, 24, &sa, &len), 0);
	CHECK_EQ(tsi_addr_check(AF_INET6, (uint8_t *)&in6, 23, &sa, &len), -EINVAL);
	/* a family the caller did not ask for is never taken */
	in.sin_family = AF_PACKET;
	CHECK_EQ(tsi_addr_check(AF_PACKET, (uint8_t *)&in, sizeof(in), &sa, &len), -EAFNOSUPPORT);

	strcpy(un.sun_path, "/tmp/x.sock");
	CHECK_EQ(tsi_addr_check(AF_UNIX, (uint8_t *)&un, sizeof(un), &sa, &len), 0);
	CHECK(!strcmp(((struct sockaddr_un *)&sa)->sun_path, "/tmp/x.sock"));
	CHECK_EQ(len, offsetof(struct sockaddr_un, sun_path) + strlen("/tmp/x.sock") + 1);
	/* without the NUL, within the given length */
	CHECK_EQ(tsi_addr_check(AF_UNIX, (uint8_t *)&un, 2 + 6, &sa, &len), 0);
	CHECK(!strcmp(((struct sockaddr_un *)&sa)->sun_path, "/tmp/x"));
	strcpy(un.sun_path, "relative.sock");
	CHECK_EQ(tsi_addr_check(AF_UNIX, (uint8_t *)&un, sizeof(un), &sa, &len), -EINVAL);
	un.sun_path[0] = '\0'; /* abstract */
	CHECK_EQ(tsi_addr_check(AF_UNIX, (uint8_t *)&un, sizeof(un), &sa, &len), -EINVAL);
	CHECK_EQ(tsi_addr_check(AF_UNIX, (uint8_t *)&un, 2, &sa, &len), -EINVAL);
	/* 126 path bytes, no NUL: longer than sun_path */
	memset(raw, '/', sizeof(raw));
	raw[0] = AF_UNIX;
	raw[1] = 0;
	CHECK_EQ(tsi_addr_check(AF_UNIX, raw, sizeof(raw), &sa, &len), -EINVAL);
	CHECK_EQ(tsi_addr_check(AF_UNIX, raw, 2 + 107, &sa, &len), 0);
	CHECK_EQ(tsi_addr_check(AF_UNIX, raw, 2 + 108, &sa, &len), -EINVAL);

	CHECK(tsi_family_allowed(TSI_INET, AF_INET, TSI_SOCK_STREAM));
	CHECK(tsi_family_allowed(TSI_INET, AF_INET6, TSI_SOCK_DGRAM));
	CHECK(!tsi_family_allowed(TSI_INET, AF_UNIX, TSI_SOCK_STREAM));
	CHECK(tsi_family_allowed(TSI_UNIX, AF_UNIX, TSI_SOCK_STREAM));
	CHECK(!tsi_family_allowed(TSI_UNIX, AF_INET, TSI_SOCK_STREAM));
	CHECK(!tsi_family_allowed(TSI_INET | TSI_UNIX, AF_PACKET, TSI_SOCK_DGRAM));
	CHECK(!tsi_family_allowed(TSI_INET, AF_INET, 3 /* SOCK_RAW */));
	CHECK(!tsi_family_allowed(TSI_INET, AF_INET, 5 /* SOCK_SEQPACKET */));
}

/* ---- the backend: a guest played here ---------------------------------------------- */

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

struct rx_pkt {
	struct vsock_hdr h;
	uint8_t data[4096];
	uint32_t total;
};

static struct rx_pkt got[256];
static unsigned int ngot;

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

/* Host events for a while (a loopback connect completes in microseconds). */
static void pump(void)
{
	struct epoll_event ev[64];
	int n;

	for (int round = 0; round < 3; round++)
		while ((n = epoll_wait(vc->epfd, ev, 64, round ? 20 : 0)) > 0)
			for (int i = 0; i < n; i++)
				vsock_core_event(vc, ev[i].data.ptr, ev[i].events);
}

static void send_pkt(uint16_t type, uint16_t op, uint32_t src_port, uint32_t dst_port,
		     const void *data, uint32_t len)
{
	static uint8_t pkt[VSOCK_HDR_SIZE + 65536];
	struct vsock_hdr h = {
	    VSOCK_GUEST_CID, VSOCK_HOST_CID, src_port, dst_port, len, type, op, 0, 256 * 1024, 0};
	struct iovec iov[2] = {{pkt, VSOCK_HDR_SIZE}, {pkt + VSOCK_HDR_SIZE, len}};

	memcpy(pkt, &h, sizeof(h));
	if (len)
		memcpy(pkt + VSOCK_HDR_SIZE, data, len);
	vsock_core_tx(vc, iov, len ? 2 : 1);
}

static void ctrl(uint32_t msg, const void *data, uint32_t len)
{
	send_pkt(VSOCK_TYPE_DGRAM, VSOCK_OP_RW, CTRL_PORT, msg, data, len);
}

static void create(uint32_t svm_port, uint16_t family, uint16_t type)
{
	uint8_t b[8];

	put32(b, svm_port);
	memcpy(b + 4, &family, 2);
	memcpy(b + 6, &type, 2);
	ctrl(TSI_PROXY_CREATE, b, 8);
}

/* CONNECT / SENDTO_ADDR: svm_port, addr_len, addr[128] */
static void addr_msg(uint32_t msg, uint32_t svm_port, const void *sa, uint32_t len)
{
	uint8_t b[136] = {0};

	put32(b, svm_port);
	put32(b + 4, len);
	memcpy(b + 8, sa, len);
	ctrl(msg, b, sizeof(b));
}

static void two_u32(uint32_t msg, uint32_t a, uint32_t b2)
{
	uint8_t b[8];

	put32(b, a);
	put32(b + 4, b2);
	ctrl(msg, b, 8);
}

/* The one reply of a request: its result (and exact length). */
static bool is_result(const struct rx_pkt *p, uint32_t msg, int32_t result)
{
	int32_t r;

	memcpy(&r, p->data, 4);
	return p->h.type == VSOCK_TYPE_DGRAM && p->h.op == VSOCK_OP_RW && p->h.src_port == msg &&
	       p->h.dst_port == CTRL_PORT && p->h.len == 4 && p->total == VSOCK_HDR_SIZE + 4 &&
	       p->h.src_cid == VSOCK_HOST_CID && p->h.dst_cid == VSOCK_GUEST_CID && r == result;
}

static void fresh(uint32_t features, const struct tsi_port_pair *map, unsigned int nmap)
{
	struct tsi_config cfg = {
	    .features = features, .port_map_set = map != NULL, .port_map = map, .nport_map = nmap};

	if (vc) {
		vsock_core_reset(vc);
		tsi_free(tsi);
		vc->backends = NULL;
		vsock_core_release(vc);
		free(vc);
	}
	vc = calloc(1, sizeof(*vc));
	CHECK_EQ(vsock_core_init(vc, VSOCK_GUEST_CID), 0);
	vc->dgram = true;
	CHECK_EQ(tsi_create(vc, &cfg, &tsi), 0);
	memset(mem.regions[0].hva, 0, 4 * MiB);
	virtq_reset(&rxq);
	rxq.size = QSIZE;
	rxq.desc_addr = DESC_GPA;
	rxq.avail_addr = AVAIL_GPA;
	rxq.used_addr = USED_GPA;
	CHECK(virtq_activate(&rxq, &mem));
	rxq.ready = true;
	used_seen = 0;
	for (unsigned int i = 0; i < 128; i++)
		post_buffer((uint16_t)i);
}

static int tcp_listener(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*sa =
	    (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK_EQ(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
	CHECK_EQ(listen(fd, 8), 0);
	CHECK_EQ(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	return fd;
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

static void test_outbound_stream(void)
{
	struct sockaddr_in sa;
	int lfd = tcp_listener(&sa), peer;
	uint8_t b[12];
	char buf[64];

	fresh(TSI_INET, NULL, 0);
	create(100, AF_INET, TSI_SOCK_STREAM);
	CHECK_EQ(drain(), 0); /* no reply to PROXY_CREATE */
	addr_msg(TSI_CONNECT, 100, &sa, sizeof(sa));
	pump();
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_CONNECT, 0));
	/* a second connect on it */
	addr_msg(TSI_CONNECT, 100, &sa, sizeof(sa));
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_CONNECT, -EISCONN));

	/* the guest's stream to port 620 carries the data */
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 100, TSI_PROXY_PORT, NULL, 0);
	CHECK_EQ(drain(), 1);
	CHECK_EQ(got[0].h.op, VSOCK_OP_RESPONSE);
	peer = accept(lfd, NULL, NULL);
	CHECK(peer >= 0);
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_RW, 100, TSI_PROXY_PORT, "hello", 5);
	CHECK_EQ(read(peer, buf, sizeof(buf)), 5);
	CHECK_EQ(write(peer, "world!", 6), 6);
	CHECK_EQ(close(peer), 0);
	pump();
	drain();
	CHECK_EQ(ngot, 2);
	CHECK_EQ(got[0].h.op, VSOCK_OP_RW);
	CHECK(got[0].h.len == 6 && !memcmp(got[0].data, "world!", 6));
	/* host EOF: a SHUTDOWN after the data, not a reset */
	CHECK_EQ(got[1].h.op, VSOCK_OP_SHUTDOWN);
	CHECK_EQ(got[1].h.flags, VSOCK_SHUTDOWN_SEND);

	/* GETNAME of the peer: the listener's address, 136 bytes exactly */
	put32(b, 100);
	put32(b + 4, TSI_PROXY_PORT);
	put32(b + 8, 1);
	ctrl(TSI_GETNAME, b, 12);
	CHECK_EQ(drain(), 1);
	CHECK_EQ(got[0].h.src_port, TSI_GETNAME);
	CHECK_EQ(got[0].h.len, 136);
	{
		int32_t r;
		uint32_t alen;
		struct sockaddr_in back;

		memcpy(&r, got[0].data, 4);
		memcpy(&alen, got[0].data + 4, 4);
		memcpy(&back, got[0].data + 8, sizeof(back));
		CHECK_EQ(r, 0);
		CHECK_EQ(alen, sizeof(struct sockaddr_in));
		CHECK(back.sin_port == sa.sin_port && back.sin_addr.s_addr == sa.sin_addr.s_addr);
	}
	/* the guest closes: RST; the proxy goes with its connection */
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_RST, 100, TSI_PROXY_PORT, NULL, 0);
	two_u32(TSI_PROXY_RELEASE, 100, TSI_PROXY_PORT);
	CHECK_EQ(tsi_nproxies(tsi), 0);

	/* refused: the reply says so */
	create(101, AF_INET, TSI_SOCK_STREAM);
	close(lfd);
	addr_msg(TSI_CONNECT, 101, &sa, sizeof(sa));
	pump();
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_CONNECT, -ECONNREFUSED));
	/* a stream to 620 of a proxy that is not connected: reset */
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 101, TSI_PROXY_PORT, NULL, 0);
	CHECK_EQ(drain(), 1);
	CHECK_EQ(got[0].h.op, VSOCK_OP_RST);
	two_u32(TSI_PROXY_RELEASE, 101, TSI_PROXY_PORT);
	CHECK_EQ(tsi_nproxies(tsi), 0);
}

/* The packet of got[] with this op (stream) or from this message (datagram). */
static const struct rx_pkt *find_op(uint16_t op)
{
	for (unsigned int i = 0; i < ngot; i++)
		if (got[i].h.type == VSOCK_TYPE_STREAM && got[i].h.op == op)
			return &got[i];
	return NULL;
}

static const struct rx_pkt *find_result(uint32_t msg, int32_t result)
{
	for (unsigned int i = 0; i < ngot; i++)
		if (is_result(&got[i], msg, result))
			return &got[i];
	return NULL;
}

/* The guest's vsock connect right behind CONNECT: held, answered with it. */
static void test_pipelined_connect(void)
{
	struct sockaddr_in sa;
	int lfd = tcp_listener(&sa), peer;
	char buf[16];

	fresh(TSI_INET, NULL, 0);
	create(300, AF_INET, TSI_SOCK_STREAM);
	addr_msg(TSI_CONNECT, 300, &sa, sizeof(sa));
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 300, TSI_PROXY_PORT, NULL, 0);
	pump();
	CHECK_EQ(drain(), 2);
	CHECK(find_result(TSI_CONNECT, 0) != NULL);
	CHECK(find_op(VSOCK_OP_RESPONSE) != NULL);
	CHECK_EQ(find_op(VSOCK_OP_RESPONSE)->h.src_port, TSI_PROXY_PORT);
	CHECK_EQ(find_op(VSOCK_OP_RESPONSE)->h.dst_port, 300);
	peer = accept(lfd, NULL, NULL);
	CHECK(peer >= 0);
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_RW, 300, TSI_PROXY_PORT, "ping", 4);
	CHECK_EQ(read(peer, buf, sizeof(buf)), 4);
	close(peer);
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_RST, 300, TSI_PROXY_PORT, NULL, 0);
	two_u32(TSI_PROXY_RELEASE, 300, TSI_PROXY_PORT);
	pump();
	drain();
	CHECK_EQ(tsi_nproxies(tsi), 0);

	/* the vsock connect before CONNECT (tsi_pipeline): held for it */
	create(305, AF_INET, TSI_SOCK_STREAM);
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 305, TSI_PROXY_PORT, NULL, 0);
	CHECK_EQ(drain(), 0);
	addr_msg(TSI_CONNECT, 305, &sa, sizeof(sa));
	pump();
	CHECK_EQ(drain(), 2);
	CHECK(find_result(TSI_CONNECT, 0) != NULL);
	CHECK(find_op(VSOCK_OP_RESPONSE) != NULL);
	peer = accept(lfd, NULL, NULL);
	CHECK(peer >= 0);
	CHECK_EQ(write(peer, "pong", 4), 4);
	pump();
	CHECK_EQ(drain(), 1);
	CHECK(got[0].h.op == VSOCK_OP_RW && got[0].h.len == 4 && !memcmp(got[0].data, "pong", 4));
	close(peer);
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_RST, 305, TSI_PROXY_PORT, NULL, 0);
	two_u32(TSI_PROXY_RELEASE, 305, TSI_PROXY_PORT);
	pump();
	drain();
	/* ... and a CONNECT the VMM refuses at once (a bad address): reset too */
	create(306, AF_INET, TSI_SOCK_STREAM);
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 306, TSI_PROXY_PORT, NULL, 0);
	addr_msg(TSI_CONNECT, 306, &sa, 3);
	CHECK_EQ(drain(), 2);
	CHECK(find_result(TSI_CONNECT, -EINVAL) != NULL);
	CHECK(find_op(VSOCK_OP_RST) != NULL);
	two_u32(TSI_PROXY_RELEASE, 306, TSI_PROXY_PORT);
	CHECK_EQ(tsi_nproxies(tsi), 0);
	CHECK_EQ(vc->nconns, 0);

	/* the guest gives up the held stream: CONNECT still answers; a later one works */
	create(301, AF_INET, TSI_SOCK_STREAM);
	addr_msg(TSI_CONNECT, 301, &sa, sizeof(sa));
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 301, TSI_PROXY_PORT, NULL, 0);
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_RST, 301, TSI_PROXY_PORT, NULL, 0);
	pump();
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_CONNECT, 0));
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 301, TSI_PROXY_PORT, NULL, 0);
	CHECK_EQ(drain(), 1);
	CHECK_EQ(got[0].h.op, VSOCK_OP_RESPONSE);
	peer = accept(lfd, NULL, NULL);
	CHECK(peer >= 0);
	close(peer);
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_RST, 301, TSI_PROXY_PORT, NULL, 0);
	two_u32(TSI_PROXY_RELEASE, 301, TSI_PROXY_PORT);

	/* PROXY_RELEASE while held: the stream is reset */
	create(302, AF_INET, TSI_SOCK_STREAM);
	addr_msg(TSI_CONNECT, 302, &sa, sizeof(sa));
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 302, TSI_PROXY_PORT, NULL, 0);
	two_u32(TSI_PROXY_RELEASE, 302, TSI_PROXY_PORT);
	drain();
	CHECK(find_op(VSOCK_OP_RST) != NULL);
	CHECK(find_op(VSOCK_OP_RESPONSE) == NULL);
	pump();
	CHECK_EQ(drain(), 0);
	CHECK_EQ(tsi_nproxies(tsi), 0);
	CHECK_EQ(vc->nconns, 0);
	/* data on a held stream: a protocol error, reset */
	create(303, AF_INET, TSI_SOCK_STREAM);
	addr_msg(TSI_CONNECT, 303, &sa, sizeof(sa));
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 303, TSI_PROXY_PORT, NULL, 0);
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_RW, 303, TSI_PROXY_PORT, "x", 1);
	pump();
	drain();
	CHECK(find_op(VSOCK_OP_RST) != NULL);
	CHECK(find_op(VSOCK_OP_RESPONSE) == NULL);
	two_u32(TSI_PROXY_RELEASE, 303, TSI_PROXY_PORT);
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	while ((peer = accept(lfd, NULL, NULL)) >= 0)
		close(peer);
	close(lfd);

	/* refused: the result says so and the held stream is reset */
	create(304, AF_INET, TSI_SOCK_STREAM);
	addr_msg(TSI_CONNECT, 304, &sa, sizeof(sa));
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_REQUEST, 304, TSI_PROXY_PORT, NULL, 0);
	pump();
	CHECK_EQ(drain(), 2);
	CHECK(find_result(TSI_CONNECT, -ECONNREFUSED) != NULL);
	CHECK(find_op(VSOCK_OP_RST) != NULL);
	two_u32(TSI_PROXY_RELEASE, 304, TSI_PROXY_PORT);
	CHECK_EQ(tsi_nproxies(tsi), 0);
	CHECK_EQ(vc->nconns, 0);
}

static void listen_msg(uint32_t svm_port, uint32_t vm_port, uint16_t guest_port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(guest_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	uint8_t b[144] = {0};

	put32(b, svm_port);
	put32(b + 4, vm_port);
	put32(b + 8, 16);
	put32(b + 12, sizeof(sa));
	memcpy(b + 16, &sa, sizeof(sa));
	ctrl(TSI_LISTEN, b, sizeof(b));
}

static void test_listen(void)
{
	struct sockaddr_in sa;
	int probe = tcp_listener(&sa), client;
	uint16_t host_port = ntohs(sa.sin_port);
	struct tsi_port_pair map[] = {{host_port, 80}};
	uint32_t local;

	close(probe); /* a free port, most likely still free */
	fresh(TSI_INET, map, 1);
	create(200, AF_INET, TSI_SOCK_STREAM);
	listen_msg(200, 200, 81); /* unmapped */
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_LISTEN, -EPERM));
	listen_msg(200, 200, 80);
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_LISTEN, 0));
	two_u32(TSI_ACCEPT, 200, TSI_O_NONBLOCK);
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_ACCEPT, -EWOULDBLOCK));

	/* a blocked accept is answered once the guest took the connection */
	two_u32(TSI_ACCEPT, 200, 0);
	CHECK_EQ(drain(), 0);
	client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ(connect(client, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pump();
	CHECK_EQ(drain(), 1);
	CHECK_EQ(got[0].h.op, VSOCK_OP_REQUEST);
	CHECK_EQ(got[0].h.dst_port, 200);
	local = got[0].h.src_port;
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_RESPONSE, 200, local, NULL, 0);
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_ACCEPT, 0));
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_RW, 200, local, "ping", 4);
	{
		char buf[8];
		uint8_t b[12];
		struct sockaddr_in cli, back;
		socklen_t clen = sizeof(cli);
		int32_t r;

		CHECK_EQ(read(client, buf, sizeof(buf)), 4);
		/* GETNAME of the accepted connection, keyed (guest port, host port) */
		CHECK_EQ(getsockname(client, (struct sockaddr *)&cli, &clen), 0);
		put32(b, 200);
		put32(b + 4, local);
		put32(b + 8, 1);
		ctrl(TSI_GETNAME, b, 12);
		CHECK_EQ(drain(), 1);
		CHECK_EQ(got[0].h.len, 136);
		memcpy(&r, got[0].data, 4);
		memcpy(&back, got[0].data + 8, sizeof(back));
		CHECK_EQ(r, 0);
		CHECK(back.sin_port == cli.sin_port && back.sin_addr.s_addr == cli.sin_addr.s_addr);
		put32(b + 8, 0); /* our own name: the host port the map gave */
		ctrl(TSI_GETNAME, b, 12);
		CHECK_EQ(drain(), 1);
		memcpy(&back, got[0].data + 8, sizeof(back));
		CHECK_EQ(ntohs(back.sin_port), host_port);
	}
	/* a second connection before any accept: pending, answered at once */
	int client2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK_EQ(connect(client2, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pump();
	CHECK_EQ(drain(), 1);
	send_pkt(VSOCK_TYPE_STREAM, VSOCK_OP_RESPONSE, 200, got[0].h.src_port, NULL, 0);
	CHECK_EQ(drain(), 0);
	two_u32(TSI_ACCEPT, 200, TSI_O_NONBLOCK);
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_ACCEPT, 0));
	CHECK_EQ(tsi_nproxies(tsi), 3); /* the listener and the two accepted */
	close(client);
	close(client2);
	two_u32(TSI_PROXY_RELEASE, 200, TSI_PROXY_PORT);
	/* the listener is gone from the host */
	client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(connect(client, (struct sockaddr *)&sa, sizeof(sa)) < 0);
	close(client);

	/* no map at all: the same port */
	fresh(TSI_INET, NULL, 0);
	create(201, AF_INET, TSI_SOCK_STREAM);
	listen_msg(201, 201, host_port);
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_LISTEN, 0));
}

static void test_udp(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in from;
	socklen_t len = sizeof(sa);
	int srv = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char buf[64];

	CHECK_EQ(bind(srv, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(getsockname(srv, (struct sockaddr *)&sa, &len), 0);
	fresh(TSI_INET, NULL, 0);
	/* unconnected: SENDTO_ADDR, then the data */
	create(300, AF_INET, TSI_SOCK_DGRAM);
	addr_msg(TSI_SENDTO_ADDR, 300, &sa, sizeof(sa));
	send_pkt(VSOCK_TYPE_DGRAM, VSOCK_OP_RW, 300, TSI_SENDTO_DATA, "query", 5);
	CHECK_EQ(drain(), 0);
	len = sizeof(from);
	CHECK_EQ(recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len), 5);
	CHECK_EQ(sendto(srv, "answer", 6, 0, (struct sockaddr *)&from, len), 6);
	pump();
	CHECK_EQ(drain(), 1);
	CHECK(got[0].h.type == VSOCK_TYPE_DGRAM && got[0].h.dst_port == 300 && got[0].h.len == 6);
	CHECK(!memcmp(got[0].data, "answer", 6));

	/* connected: CONNECT answered at once, send() to it */
	create(301, AF_INET, TSI_SOCK_DGRAM);
	addr_msg(TSI_CONNECT, 301, &sa, sizeof(sa));
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_CONNECT, 0));
	send_pkt(VSOCK_TYPE_DGRAM, VSOCK_OP_RW, 301, TSI_SENDTO_DATA, "q2", 2);
	len = sizeof(from);
	CHECK_EQ(recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len), 2);
	CHECK_EQ(sendto(srv, "a2", 2, 0, (struct sockaddr *)&from, len), 2);
	pump();
	CHECK_EQ(drain(), 1);
	CHECK(got[0].h.dst_port == 301 && got[0].h.len == 2);
	two_u32(TSI_PROXY_RELEASE, 300, TSI_PROXY_PORT);
	two_u32(TSI_PROXY_RELEASE, 301, TSI_PROXY_PORT);
	CHECK_EQ(tsi_nproxies(tsi), 0);
	close(srv);
}

static void test_hostile(void)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/tmp/x"};
	struct sockaddr_in in = {.sin_family = AF_INET};
	uint8_t junk[200];

	fresh(TSI_INET, NULL, 0);
	/* AF_UNIX not enabled: no proxy; its CONNECT still gets an answer */
	create(400, AF_UNIX, TSI_SOCK_STREAM);
	CHECK_EQ(tsi_nproxies(tsi), 0);
	addr_msg(TSI_CONNECT, 400, &un, sizeof(un));
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_CONNECT, -EINVAL));
	create(401, AF_PACKET, TSI_SOCK_DGRAM);
	create(401, AF_INET, 3);
	CHECK_EQ(tsi_nproxies(tsi), 0);
	/* an address of another family than the socket's */
	create(402, AF_INET6, TSI_SOCK_STREAM);
	addr_msg(TSI_CONNECT, 402, &in, sizeof(in));
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_CONNECT, -EAFNOSUPPORT));
	/* a bad address length */
	memset(junk, 0xff, sizeof(junk));
	put32(junk, 402);
	ctrl(TSI_CONNECT, junk, sizeof(junk));
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_CONNECT, -EINVAL));
	ctrl(TSI_LISTEN, junk, 3);
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_LISTEN, -EINVAL));
	/* the table's cap */
	for (uint32_t i = 0; i < TSI_MAX_PROXIES + 50; i++)
		create(10000 + i, AF_INET, TSI_SOCK_DGRAM);
	CHECK_EQ(tsi_nproxies(tsi), TSI_MAX_PROXIES);
	addr_msg(TSI_CONNECT, 10000 + TSI_MAX_PROXIES + 10, &in, sizeof(in));
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_CONNECT, -ENOBUFS));
	/* a datagram of the wrong op is dropped without a word */
	send_pkt(VSOCK_TYPE_DGRAM, VSOCK_OP_REQUEST, CTRL_PORT, TSI_CONNECT, NULL, 0);
	CHECK_EQ(drain(), 0);
	/* more requests than receive buffers: transmit waits, nothing is lost */
	fresh(TSI_INET, NULL, 0);
	for (int i = 0; i < TSI_REPLY_RING; i++)
		addr_msg(TSI_CONNECT, 1, &in, sizeof(in));
	CHECK(vsock_core_tx_blocked(vc));
	CHECK_EQ(drain(), TSI_REPLY_RING);
	CHECK(!vsock_core_tx_blocked(vc));
}

static void unix_listen_msg(uint32_t svm_port, const char *path)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	uint8_t b[144] = {0};

	strcpy(un.sun_path, path);
	put32(b, svm_port);
	put32(b + 4, svm_port);
	put32(b + 8, 16);
	put32(b + 12, sizeof(un));
	memcpy(b + 16, &un, sizeof(un));
	ctrl(TSI_LISTEN, b, sizeof(b));
}

/* A guest listener on a host path: never over a live socket, a stale one goes. */
static void test_unix_listen(void)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct stat st;
	int live = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), c;

	snprintf(un.sun_path, sizeof(un.sun_path), "/tmp/krun-test-tsi-%d.sock", (int)getpid());
	unlink(un.sun_path);
	CHECK_EQ(bind(live, (struct sockaddr *)&un, sizeof(un)), 0);
	CHECK_EQ(listen(live, 4), 0);
	fresh(TSI_INET | TSI_UNIX, NULL, 0);
	create(600, AF_UNIX, TSI_SOCK_STREAM);
	unix_listen_msg(600, un.sun_path);
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_LISTEN, -EADDRINUSE));
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ(connect(c, (struct sockaddr *)&un, sizeof(un)), 0); /* still the host's */
	close(c);
	close(live); /* now stale: the file stays, nobody listens */
	CHECK_EQ(stat(un.sun_path, &st), 0);
	create(601, AF_UNIX, TSI_SOCK_STREAM);
	unix_listen_msg(601, un.sun_path);
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_LISTEN, 0));
	two_u32(TSI_PROXY_RELEASE, 601, TSI_PROXY_PORT);
	CHECK(stat(un.sun_path, &st) < 0); /* removed with its proxy */
	/* a relative path is refused */
	create(602, AF_UNIX, TSI_SOCK_STREAM);
	unix_listen_msg(602, "rel.sock");
	CHECK_EQ(drain(), 1);
	CHECK(is_result(&got[0], TSI_LISTEN, -EINVAL));
}

TEST_MAIN("test_tsi", unsigned int fds = count_fds(); CHECK_EQ(guest_mem_init(&mem, 8 * MiB), 0);
	  test_port_map(); test_msg_parse(); test_addr_check(); test_outbound_stream();
	  test_pipelined_connect(); test_listen(); test_udp(); test_hostile(); test_unix_listen();
	  vsock_core_reset(vc); tsi_free(tsi); vc->backends = NULL; vsock_core_release(vc);
	  free(vc); vc = NULL; CHECK_EQ(count_fds(), fds))
