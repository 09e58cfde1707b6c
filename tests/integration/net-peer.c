// SPDX-License-Identifier: Apache-2.0
/*
 * net-peer: host-side peers of the virtio-net tests.
 *
 *   net-peer gram-tap SOCK TAP   a vfkit-style datagram peer: binds the unix
 *                                datagram socket SOCK, insists on "VFKT" as
 *                                the first datagram (prints "vfkit handshake:
 *                                ok" or fails), then bridges every datagram
 *                                to the tap device TAP (no header) and back
 *   net-peer stream-hostile SOCK a hostile stream peer: accepts one
 *                                connection on SOCK and sends frames with
 *                                bad, huge and zero length prefixes, then a
 *                                truncated one, then closes
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int bind_unix(const char *path, int type)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, type, 0);

	if (fd < 0 || strlen(path) >= sizeof(a.sun_path))
		die("socket");
	strcpy(a.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
	return fd;
}

static int open_tap(const char *name)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR);

	if (fd < 0)
		die("/dev/net/tun");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		die("TUNSETIFF");
	return fd;
}

static int gram_tap(const char *sock, const char *tap)
{
	static uint8_t buf[70000];
	struct sockaddr_un peer;
	socklen_t plen = sizeof(peer);
	int s = bind_unix(sock, SOCK_DGRAM), t = open_tap(tap);
	unsigned long to_tap = 0, to_vm = 0;
	ssize_t n;

	n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
	if (n != 4 || memcmp(buf, "VFKT", 4)) {
		fprintf(stderr, "vfkit handshake: bad (%zd bytes)\n", n);
		return 1;
	}
	fprintf(stderr, "vfkit handshake: ok\n");
	if (connect(s, (struct sockaddr *)&peer, plen) < 0)
		die("connect");
	for (;;) {
		struct pollfd p[2] = {{s, POLLIN, 0}, {t, POLLIN, 0}};

		if (poll(p, 2, -1) < 0)
			die("poll");
		if (p[0].revents & (POLLERR | POLLHUP))
			break;
		if (p[0].revents & POLLIN) {
			n = recv(s, buf, sizeof(buf), 0);
			if (n < 0 && (errno == ECONNREFUSED || errno == ECONNRESET))
				break;
			if (n > 0 && write(t, buf, (size_t)n) == n)
				to_tap++;
		}
		if (p[1].revents & POLLIN) {
			n = read(t, buf, sizeof(buf));
			if (n > 0 && send(s, buf, (size_t)n, 0) == n)
				to_vm++;
			else if (n > 0 && (errno == ECONNREFUSED || errno == ECONNRESET))
				break;
		}
	}
	fprintf(stderr, "gram-tap: %lu frames to the tap, %lu to the VM\n", to_tap, to_vm);
	return 0;
}

static void send_all(int fd, const void *p, size_t len)
{
	if (write(fd, p, len) != (ssize_t)len)
		die("write");
}

static void send_prefix(int fd, uint32_t len)
{
	uint32_t be = htonl(len);

	send_all(fd, &be, 4);
}

static int stream_hostile(const char *sock)
{
	static uint8_t frame[70000];
	int s = bind_unix(sock, SOCK_STREAM), c;

	if (listen(s, 1) < 0)
		die("listen");
	c = accept(s, NULL, NULL);
	if (c < 0)
		die("accept");
	memset(frame, 0xff, 12); /* broadcast destination, junk source */
	frame[12] = 0x88;	 /* an EtherType nobody handles */
	frame[13] = 0xb5;
	for (int round = 0; round < 50; round++) {
		send_prefix(c, 0); /* empty */
		send_prefix(c, 5); /* shorter than an Ethernet header */
		send_all(c, frame, 5);
		send_prefix(c, 65600); /* longer than any frame: skipped */
		for (int i = 0; i < 65600 / 4096; i++)
			send_all(c, frame, 4096);
		send_all(c, frame, 65600 % 4096);
		send_prefix(c, 60); /* a good one */
		send_all(c, frame, 60);
	}
	send_prefix(c, 0xffffffffu); /* 4 GiB announced, then the peer is gone */
	send_all(c, frame, 100);
	send_all(c, frame, 2); /* and a truncated prefix */
	fprintf(stderr, "stream-hostile: sent\n");
	sleep(2);
	close(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "gram-tap"))
		return gram_tap(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "stream-hostile"))
		return stream_hostile(argv[2]);
	fprintf(stderr, "usage: net-peer gram-tap SOCK TAP | stream-hostile SOCK\n");
	return 2;
}
