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
 *
 * Benchmark (bench/net.sh), TCP on [ADDR:]PORT (ADDR: an IPv4 address,
 * 127.0.0.1 if none), one connection each:
 *   net-peer tcp-sink PORT          send one byte (see below), read to
 *                                   EOF; MiB/s from the first byte read
 *   net-peer tcp-source PORT BYTES  send BYTES, then wait for the peer's
 *                                   close; MiB/s from the accept
 *   net-peer tcp-echo PORT          echo; round trips/s from the first byte
 *   net-peer pair A... -- B...      a stream socket pair: A runs with one
 *                                   end, B (this process) with the other,
 *                                   "{fd}" in their arguments is the end's
 *                                   number (passt --fd and a VMM)
 * The sink's one byte: Debian 12's passt (0.0~git20230309) never clears its
 * handshake timer on a guest-initiated connection until the guest ACKs data
 * from the host, and resets the connection 24 s after the connect (the 10 s
 * SYN timeout, then 7 retries of 2 s). One byte from the host is enough.
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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
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

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* [ADDR:]PORT */
static int accept_tcp(const char *spec)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	const char *colon = strchr(spec, ':');
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1, c;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (colon) {
		char ip[INET_ADDRSTRLEN] = "";

		if ((size_t)(colon - spec) >= sizeof(ip))
			die("address");
		memcpy(ip, spec, (size_t)(colon - spec));
		if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
			die("address");
		spec = colon + 1;
	}
	a.sin_port = htons((uint16_t)atoi(spec));
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0)
		die("listen");
	c = accept(s, NULL, NULL);
	if (c < 0)
		die("accept");
	close(s);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return c;
}

static int tcp_bench(const char *mode, const char *port, long long bytes)
{
	static char buf[256 * 1024];
	int c = accept_tcp(port);
	double t0 = now_s(), t1;
	long long total = 0, trips = 0;
	ssize_t n;

	if (!strcmp(mode, "tcp-source")) {
		for (long long left = bytes; left > 0; left -= n) {
			n = write(c, buf,
				  left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf));
			if (n <= 0)
				die("write");
		}
		shutdown(c, SHUT_WR);
		while (read(c, buf, sizeof(buf)) > 0)
			;
		t1 = now_s();
		printf("source: %lld bytes in %.3f s: %.1f MiB/s\n", bytes, t1 - t0,
		       (double)bytes / (t1 - t0) / 1048576);
		return 0;
	}
	if (!strcmp(mode, "tcp-sink") && write(c, "", 1) != 1)
		die("write");
	n = read(c, buf, sizeof(buf));
	t0 = now_s();
	for (; n > 0; n = read(c, buf, sizeof(buf))) {
		total += n;
		if (!strcmp(mode, "tcp-echo")) {
			if (write(c, buf, (size_t)n) != n)
				die("write");
			trips += n;
		}
	}
	t1 = now_s();
	if (!strcmp(mode, "tcp-echo"))
		printf("echo: %lld round trips in %.3f s: %.0f round trips/s\n", trips, t1 - t0,
		       (double)trips / (t1 - t0));
	else
		printf("sink: %lld bytes in %.3f s: %.1f MiB/s\n", total, t1 - t0,
		       (double)total / (t1 - t0) / 1048576);
	return 0;
}

/* Replace "{fd}" in each argument with fd's number (the strings are leaked: exec follows). */
static void put_fd(char **argv, int fd)
{
	for (; *argv; argv++) {
		char *at = strstr(*argv, "{fd}"), *s;

		if (!at || asprintf(&s, "%.*s%d%s", (int)(at - *argv), *argv, fd, at + 4) < 0)
			continue;
		*argv = s;
	}
}

static int pair(int argc, char **argv)
{
	int sv[2], sep = 0;
	pid_t pid;

	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--"))
			sep = i;
	if (!sep || sep + 1 >= argc || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("pair");
	argv[sep] = NULL;
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		close(sv[1]);
		put_fd(argv, sv[0]);
		execvp(argv[0], argv);
		die(argv[0]);
	}
	close(sv[0]);
	put_fd(argv + sep + 1, sv[1]);
	execvp(argv[sep + 1], argv + sep + 1);
	die(argv[sep + 1]);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && (!strcmp(argv[1], "tcp-sink") || !strcmp(argv[1], "tcp-echo")))
		return tcp_bench(argv[1], argv[2], 0);
	if (argc == 4 && !strcmp(argv[1], "tcp-source"))
		return tcp_bench(argv[1], argv[2], atoll(argv[3]));
	if (argc > 4 && !strcmp(argv[1], "pair"))
		return pair(argc - 2, argv + 2);
	if (argc == 4 && !strcmp(argv[1], "gram-tap"))
		return gram_tap(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "stream-hostile"))
		return stream_hostile(argv[2]);
	fprintf(stderr,
		"usage: net-peer gram-tap SOCK TAP | stream-hostile SOCK | tcp-sink PORT | "
		"tcp-source PORT BYTES | tcp-echo PORT (PORT: [ADDR:]PORT) | pair A... -- B...\n");
	return 2;
}
