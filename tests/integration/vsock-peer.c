// SPDX-License-Identifier: Apache-2.0
/*
 * vsock-peer: the host side of the vsock tests and benchmark. ADDR is a unix
 * socket path, or vsock:PORT for AF_VSOCK (QEMU's vhost-vsock in the
 * benchmark). Servers create ADDR (a stale path is removed first).
 *
 *   vsock-peer gen SIZE SEED              stream SEED's first SIZE bytes, to stdout
 *   vsock-peer exchange ADDR SIZE SEED [SLOW]
 *                                         accept one connection; send SIZE bytes
 *                                         of stream SEED while copying what
 *                                         arrives to stdout; SLOW: read 16 KiB
 *                                         at a time, pausing 20 ms per 256 KiB
 *   vsock-peer echo ADDR N                echo every connection, all at once;
 *                                         exit after N have ended ("served N,
 *                                         at most M at once", and the rate from
 *                                         the first accept)
 *   vsock-peer connect PATH SIZE SEED     connect to PATH (waits for it); send
 *                                         stream SEED and check the echo byte
 *                                         for byte ("echo ok SIZE")
 *   vsock-peer sink ADDR                  benchmark: accept one connection,
 *                                         read to EOF, print MiB/s
 *   vsock-peer source ADDR SIZE           benchmark: accept one connection,
 *                                         send SIZE bytes, print MiB/s
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "vsock-pattern.h"

#define CHUNK	  (64 * 1024)
#define MAX_CONNS 1024

static unsigned long long number(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (*end || !*s) {
		fprintf(stderr, "vsock-peer: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static void die(const char *what)
{
	fprintf(stderr, "vsock-peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int listen_on(const char *addr)
{
	int fd;

	if (!strncmp(addr, "vsock:", 6)) {
		struct sockaddr_vm sa = {.svm_family = AF_VSOCK,
					 .svm_cid = VMADDR_CID_ANY,
					 .svm_port = (unsigned int)number(addr + 6)};

		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die("vsock listen");
	} else {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", addr);
		unlink(addr);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die(addr);
	}
	if (listen(fd, 1024) < 0)
		die("listen");
	return fd;
}

static int accept_one(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		die("accept");
	return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int gen(char **argv)
{
	unsigned long long size = number(argv[0]), seed = number(argv[1]);
	static uint8_t buf[CHUNK];

	for (unsigned long long off = 0; off < size; off += CHUNK) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		pattern_fill(seed, off, buf, n);
		if (write_all(STDOUT_FILENO, buf, n) < 0)
			return 1;
	}
	return 0;
}

static void slow_pause(unsigned long long before, unsigned long long after)
{
	struct timespec pause = {0, 20 * 1000 * 1000};

	if (before / (256 * 1024) != after / (256 * 1024))
		nanosleep(&pause, NULL);
}

static int exchange(int argc, char **argv)
{
	int lfd = listen_on(argv[0]), fd;
	unsigned long long size = number(argv[1]), seed = number(argv[2]), sent = 0, got = 0;
	bool slow = argc > 3, eof = false;
	static uint8_t out[CHUNK], in[CHUNK];
	size_t out_len = 0, out_off = 0;
	double t0;

	fd = accept_one(lfd);
	t0 = now_s();
	while (!eof || sent < size) {
		struct pollfd p = {fd, POLLIN | (sent < size ? POLLOUT : 0), 0};

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			die("poll");
		if (!eof && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = recv(fd, in, slow ? 16 * 1024 : sizeof(in), MSG_DONTWAIT);

			if (n == 0) {
				eof = true;
			} else if (n > 0) {
				if (write_all(STDOUT_FILENO, in, (size_t)n) < 0)
					die("stdout");
				if (slow)
					slow_pause(got, got + (unsigned long long)n);
				got += (unsigned long long)n;
			} else if (errno != EAGAIN && errno != EINTR) {
				die("recv");
			}
		}
		if (sent < size && (p.revents & POLLOUT)) {
			ssize_t n;

			if (out_off == out_len) {
				out_len = (size_t)(size - sent < CHUNK ? size - sent : CHUNK);
				pattern_fill(seed, sent, out, out_len);
				out_off = 0;
			}
			n = send(fd, out + out_off, out_len - out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				die("send");
			if (n > 0) {
				out_off += (size_t)n;
				sent += (unsigned long long)n;
				if (sent == size)
					shutdown(fd, SHUT_WR);
			}
		} else if (eof && sent < size && !(p.revents & POLLOUT)) {
			continue;
		}
	}
	fprintf(stderr, "vsock-peer: sent %llu, received %llu in %.2f s\n", sent, got,
		now_s() - t0);
	return 0;
}

static int echo(char **argv)
{
	struct pollfd p[MAX_CONNS + 1];
	unsigned long long want = number(argv[1]), done = 0;
	unsigned int n = 1, most = 0;
	static char buf[CHUNK];
	double t0 = 0;

	p[0] = (struct pollfd){listen_on(argv[0]), POLLIN, 0};
	while (done < want) {
		if (poll(p, n, -1) < 0 && errno != EINTR)
			die("poll");
		for (unsigned int i = 1; i < n; i++) {
			ssize_t r;

			if (!p[i].revents)
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r > 0 && write_all(p[i].fd, buf, (size_t)r) == 0)
				continue;
			close(p[i].fd);
			p[i--] = p[--n];
			done++;
		}
		if ((p[0].revents & POLLIN) && n <= MAX_CONNS) {
			if (!t0)
				t0 = now_s();
			p[n++] = (struct pollfd){accept_one(p[0].fd), POLLIN, 0};
			most = n - 1 > most ? n - 1 : most;
		}
	}
	printf("served %llu, at most %u at once, in %.3f s: %.1f connections/s\n", done, most,
	       now_s() - t0, (double)done / (now_s() - t0));
	return 0;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int tries = 0; tries < 600; tries++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct timespec pause = {0, 100 * 1000 * 1000};

		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		nanosleep(&pause, NULL);
	}
	die(path);
	return -1;
}

static int connect_check(char **argv)
{
	int fd = connect_unix(argv[0]);
	unsigned long long size = number(argv[1]), seed = number(argv[2]), sent = 0, got = 0;
	static uint8_t out[CHUNK], in[CHUNK], want[CHUNK];

	while (got < size) {
		struct pollfd p = {fd, POLLIN | (sent < size ? POLLOUT : 0), 0};

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			die("poll");
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(fd, in, sizeof(in), MSG_DONTWAIT);

			if (n == 0) {
				printf("echo ended after %llu of %llu bytes\n", got, size);
				return 1;
			}
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				die("recv");
			if (n > 0) {
				pattern_fill(seed, got, want, (size_t)n);
				if (memcmp(in, want, (size_t)n)) {
					printf("echo differs after byte %llu\n", got);
					return 1;
				}
				got += (unsigned long long)n;
			}
		}
		if (sent < size && (p.revents & POLLOUT)) {
			size_t len = size - sent < CHUNK ? (size_t)(size - sent) : CHUNK;
			ssize_t n;

			pattern_fill(seed, sent, out, len);
			n = send(fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				die("send");
			if (n > 0) {
				sent += (unsigned long long)n;
				if (sent == size)
					shutdown(fd, SHUT_WR);
			}
		}
	}
	printf("echo ok %llu\n", got);
	return 0;
}

static void report(const char *what, unsigned long long bytes, double t)
{
	printf("%s %llu bytes in %.3f s: %.1f MiB/s\n", what, bytes, t,
	       t > 0 ? (double)bytes / t / (1024 * 1024) : 0.0);
}

static int sink(char **argv)
{
	int fd = accept_one(listen_on(argv[0]));
	static char buf[CHUNK];
	unsigned long long got = 0;
	double t0 = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (!got)
			t0 = now_s(); /* from the first byte: connection setup is not data */
		got += (unsigned long long)n;
	}
	report("sink: received", got, now_s() - t0);
	return 0;
}

static int source(char **argv)
{
	int fd = accept_one(listen_on(argv[0]));
	unsigned long long size = number(argv[1]);
	static char buf[CHUNK];
	double t0 = now_s();
	char c;

	memset(buf, 'v', sizeof(buf));
	for (unsigned long long sent = 0; sent < size; sent += CHUNK)
		if (write_all(fd, buf, CHUNK) < 0)
			die("write");
	shutdown(fd, SHUT_WR);
	/* The guest answers once it has read everything: the time is the transfer's. */
	if (read(fd, &c, 1) != 1)
		die("no answer");
	report("source: sent", size, now_s() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN); /* a peer that resets is an error to report, not a death */
	if (argc == 4 && !strcmp(argv[1], "gen"))
		return gen(argv + 2);
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "exchange"))
		return exchange(argc - 2, argv + 2);
	if (argc == 4 && !strcmp(argv[1], "echo"))
		return echo(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "connect"))
		return connect_check(argv + 2);
	if (argc == 3 && !strcmp(argv[1], "sink"))
		return sink(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "source"))
		return source(argv + 2);
	fprintf(stderr, "usage: vsock-peer gen|exchange|echo|connect|sink|source ARGS...\n");
	return 2;
}
