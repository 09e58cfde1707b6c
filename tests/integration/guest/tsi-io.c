// SPDX-License-Identifier: Apache-2.0
/*
 * tsi-io: both ends of the TSI tests (tsi-tests.sh), static, so that the same
 * binary runs in the guest (whose AF_INET/AF_UNIX sockets TSI turns into
 * host sockets) and in the test host:
 *
 *   serve-tcp ADDR PORT SIZE COUNT [EXTRA_PORT]
 *                   listen (on EXTRA_PORT first, never accepted, if given),
 *                   then for each of COUNT connections send SIZE pattern bytes
 *                   and close first; prints "served N"
 *   fetch-tcp ADDR PORT SIZE COUNT [RETRY_S]
 *                   COUNT connections, each read to EOF: exactly SIZE pattern
 *                   bytes; prints "fetched N ok" (retries the first connect
 *                   for RETRY_S seconds)
 *   refused ADDR PORT   a connect that must fail: prints "refused: ERRNO"
 *   udp-echo ADDR PORT COUNT   answer COUNT datagrams with "re:" + the datagram
 *   udp-sendto ADDR PORT MSG   unconnected sendto + recvfrom; prints the answer
 *   udp-connect ADDR PORT MSG  connect + send + recv; prints the answer
 *   unix-echo PATH             one connection, echoed back to EOF
 *   unix-client PATH MSG       send MSG, shut down, print the answer
 *   send-tcp ADDR PORT SIZE    send SIZE pattern bytes, then close
 *   sink-tcp ADDR PORT         one connection read to EOF: prints MiB/s
 *
 * serve-tcp also prints its time from the first accept to the last close
 * (MiB/s and connections/s), for bench/tsi.sh.
 *
 * ADDR is IPv4 or IPv6 (with a ':'). Exit status 0 on success.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "inet-addr.h"

static unsigned char pattern(unsigned long i)
{
	return (unsigned char)(i * 131 + (i >> 12) * 7 + 1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
	fprintf(stderr, "tsi-io: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int tcp_listen(const char *host, const char *port)
{
	struct sockaddr_storage sa;
	socklen_t len = parse_addr(host, port, &sa);
	int one = 1, fd = socket(sa.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0)
		die("bind");
	if (listen(fd, 64) < 0)
		die("listen");
	return fd;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int serve_tcp(char **argv, int argc)
{
	unsigned long size = strtoul(argv[4], NULL, 0), count = strtoul(argv[5], NULL, 0);
	static unsigned char buf[65536];
	int extra = -1, fd;
	double start = 0, secs;

	if (argc > 6)
		extra = tcp_listen(argv[2], argv[6]);
	fd = tcp_listen(argv[2], argv[3]);
	printf("listening\n");
	fflush(stdout);
	for (unsigned long c = 0; c < count; c++) {
		int conn = accept(fd, NULL, NULL);
		unsigned long sent = 0;

		if (conn < 0)
			die("accept");
		if (!c)
			start = now_s();
		while (sent < size) {
			size_t n = size - sent < sizeof(buf) ? size - sent : sizeof(buf);

			for (size_t i = 0; i < n; i++)
				buf[i] = pattern(sent + i);
			if (write_all(conn, buf, n) < 0)
				die("write");
			sent += n;
		}
		close(conn); /* the server closes first */
	}
	secs = now_s() - start;
	printf("served %lu\n", count);
	printf("time %.3f s: %.1f MiB/s, %.1f connections/s\n", secs,
	       (double)size * (double)count / 1048576.0 / secs, (double)count / secs);
	if (extra >= 0)
		close(extra);
	return 0;
}

static int connect_to(const char *host, const char *port, int type)
{
	struct sockaddr_storage sa;
	socklen_t len = parse_addr(host, port, &sa);
	int fd = socket(sa.ss_family, type, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static int fetch_tcp(char **argv, int argc)
{
	unsigned long size = strtoul(argv[4], NULL, 0), count = strtoul(argv[5], NULL, 0);
	int retry = argc > 6 ? atoi(argv[6]) * 10 : 0;
	static unsigned char buf[65536];

	for (unsigned long c = 0; c < count; c++) {
		unsigned long got = 0;
		int fd;

		while ((fd = connect_to(argv[2], argv[3], SOCK_STREAM)) < 0 && c == 0 &&
		       retry-- > 0)
			usleep(100000);
		if (fd < 0)
			die("connect");
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("read");
			if (n == 0)
				break;
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] != pattern(got + (unsigned long)i)) {
					fprintf(stderr,
						"tsi-io: connection %lu: byte %lu differs\n", c,
						got + (unsigned long)i);
					return 1;
				}
			}
			got += (unsigned long)n;
		}
		close(fd);
		if (got != size) {
			fprintf(stderr, "tsi-io: connection %lu: %lu bytes, not %lu\n", c, got,
				size);
			return 1;
		}
	}
	printf("fetched %lu ok\n", count);
	return 0;
}

static int refused(char **argv)
{
	int fd = connect_to(argv[2], argv[3], SOCK_STREAM);

	if (fd >= 0) {
		printf("connected\n");
		return 1;
	}
	printf("refused: %s\n", errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
	return 0;
}

static int udp_echo(char **argv)
{
	struct sockaddr_storage sa, from;
	socklen_t len = parse_addr(argv[2], argv[3], &sa), flen;
	unsigned long count = strtoul(argv[4], NULL, 0);
	char buf[2048];
	int fd = socket(sa.ss_family, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0)
		die("udp bind");
	printf("listening\n");
	fflush(stdout);
	for (unsigned long c = 0; c < count; c++) {
		ssize_t n;

		flen = sizeof(from);
		n = recvfrom(fd, buf + 3, sizeof(buf) - 3, 0, (struct sockaddr *)&from, &flen);
		if (n < 0)
			die("recvfrom");
		memcpy(buf, "re:", 3);
		if (sendto(fd, buf, (size_t)n + 3, 0, (struct sockaddr *)&from, flen) < 0)
			die("sendto");
	}
	printf("answered %lu\n", count);
	return 0;
}

static int wait_readable(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};

	if (poll(&p, 1, 20000) != 1) {
		fprintf(stderr, "tsi-io: no answer in 20 s\n");
		exit(1);
	}
	return 0;
}

static int udp_client(char **argv, int connected)
{
	struct sockaddr_storage sa;
	socklen_t len = parse_addr(argv[2], argv[3], &sa);
	char buf[2048];
	int fd = socket(sa.ss_family, SOCK_DGRAM, 0);
	ssize_t n;

	if (fd < 0)
		die("socket");
	if (connected) {
		if (connect(fd, (struct sockaddr *)&sa, len) < 0)
			die("connect");
		if (send(fd, argv[4], strlen(argv[4]), 0) < 0)
			die("send");
	} else if (sendto(fd, argv[4], strlen(argv[4]), 0, (struct sockaddr *)&sa, len) < 0) {
		die("sendto");
	}
	wait_readable(fd);
	n = connected ? recv(fd, buf, sizeof(buf) - 1, 0)
		      : recvfrom(fd, buf, sizeof(buf) - 1, 0, NULL, NULL);
	if (n < 0)
		die("recv");
	buf[n] = '\0';
	printf("answer: %s\n", buf);
	return 0;
}

static int unix_addr(const char *path, struct sockaddr_un *un)
{
	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(un->sun_path))
		exit(2);
	strcpy(un->sun_path, path);
	return 0;
}

static int unix_echo(char **argv)
{
	struct sockaddr_un un;
	char buf[4096];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), conn;
	ssize_t n;

	unix_addr(argv[2], &un);
	unlink(argv[2]);
	if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0 || listen(fd, 4) < 0)
		die("unix listen");
	printf("listening\n");
	fflush(stdout);
	conn = accept(fd, NULL, NULL);
	if (conn < 0)
		die("accept");
	while ((n = read(conn, buf, sizeof(buf))) > 0)
		if (write_all(conn, (unsigned char *)buf, (size_t)n) < 0)
			die("write");
	close(conn);
	unlink(argv[2]);
	printf("echoed\n");
	return 0;
}

static int unix_client(char **argv)
{
	struct sockaddr_un un;
	char buf[4096];
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ssize_t n;

	unix_addr(argv[2], &un);
	if (fd < 0 || connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0)
		die("unix connect");
	if (write_all(fd, (unsigned char *)argv[3], strlen(argv[3])) < 0)
		die("write");
	shutdown(fd, SHUT_WR);
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	printf("answer: %s\n", buf);
	return 0;
}

static int send_tcp(char **argv)
{
	unsigned long size = strtoul(argv[4], NULL, 0), sent = 0;
	static unsigned char buf[65536];
	int fd = connect_to(argv[2], argv[3], SOCK_STREAM);

	if (fd < 0)
		die("connect");
	while (sent < size) {
		size_t n = size - sent < sizeof(buf) ? size - sent : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(sent + i);
		if (write_all(fd, buf, n) < 0)
			die("write");
		sent += n;
	}
	close(fd);
	printf("sent %lu\n", sent);
	return 0;
}

static int sink_tcp(char **argv)
{
	static unsigned char buf[65536];
	unsigned long got = 0;
	int fd = tcp_listen(argv[2], argv[3]), conn;
	double start, secs;
	ssize_t n;

	printf("listening\n");
	fflush(stdout);
	conn = accept(fd, NULL, NULL);
	if (conn < 0)
		die("accept");
	start = now_s();
	while ((n = read(conn, buf, sizeof(buf))) > 0)
		got += (unsigned long)n;
	secs = now_s() - start;
	printf("sink %lu bytes in %.3f s: %.1f MiB/s\n", got, secs, (double)got / 1048576.0 / secs);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 6 && !strcmp(argv[1], "serve-tcp"))
		return serve_tcp(argv, argc);
	if (argc >= 6 && !strcmp(argv[1], "fetch-tcp"))
		return fetch_tcp(argv, argc);
	if (argc >= 4 && !strcmp(argv[1], "refused"))
		return refused(argv);
	if (argc >= 5 && !strcmp(argv[1], "udp-echo"))
		return udp_echo(argv);
	if (argc >= 5 && !strcmp(argv[1], "udp-sendto"))
		return udp_client(argv, 0);
	if (argc >= 5 && !strcmp(argv[1], "udp-connect"))
		return udp_client(argv, 1);
	if (argc >= 3 && !strcmp(argv[1], "unix-echo"))
		return unix_echo(argv);
	if (argc >= 4 && !strcmp(argv[1], "unix-client"))
		return unix_client(argv);
	if (argc >= 5 && !strcmp(argv[1], "send-tcp"))
		return send_tcp(argv);
	if (argc >= 4 && !strcmp(argv[1], "sink-tcp"))
		return sink_tcp(argv);
	fprintf(stderr, "usage: see tests/integration/guest/tsi-io.c\n");
	return 2;
}
