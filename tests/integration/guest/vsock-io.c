// SPDX-License-Identifier: Apache-2.0
/*
 * vsock-io: the guest side of the vsock tests (static, AF_VSOCK).
 *
 *   vsock-io send-recv CID PORT SIZE SEED  connect; send SIZE bytes of stream
 *                                          SEED while copying what arrives to
 *                                          stdout, until the peer's EOF
 *   vsock-io serve PORT COUNT              listen (prints "listening"), echo
 *                                          COUNT connections one after another
 *   vsock-io many CID PORT N               N connections open at once, a line
 *                                          echoed on each, then all closed
 *   vsock-io hold CID PORT                 connect, say "held", stay connected
 *   vsock-io refused CID PORT              the connect must fail at once:
 *                                          prints the errno name
 *   vsock-io rate CID PORT N               N connections one after another,
 *                                          one byte echoed on each (benchmark)
 *   vsock-io flood CID PORT N              N connects, all held open: prints how
 *                                          many connected and how many were reset
 *   vsock-io send CID PORT SIZE            send SIZE bytes, close (benchmark)
 *   vsock-io recv-ack CID PORT             read to EOF, answer one byte (benchmark)
 *
 * The benchmark modes wait up to 60 s for the first connect to succeed (the
 * host's server may not be listening yet).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* <linux/vm_sockets.h>, which musl's headers lack. */
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define VMADDR_CID_ANY 0xffffffffu
struct sockaddr_vm {
	sa_family_t svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port;
	unsigned int svm_cid;
	unsigned char svm_flags;
	unsigned char svm_zero[3];
};

#include "../vsock-pattern.h"

#define CHUNK (64 * 1024)

static unsigned long long number(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (*end || !*s) {
		fprintf(stderr, "vsock-io: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static int vsock_connect(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static int connect_or_die(char **argv)
{
	int fd = vsock_connect((unsigned int)number(argv[0]), (unsigned int)number(argv[1]));

	if (fd < 0) {
		fprintf(stderr, "vsock-io: connect to %s:%s: %s\n", argv[0], argv[1],
			strerror(errno));
		exit(1);
	}
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

/* Send the stream and copy what arrives to stdout, both at once. */
static int send_recv(char **argv)
{
	int fd = connect_or_die(argv);
	unsigned long long size = number(argv[2]), seed = number(argv[3]), sent = 0, got = 0;
	static uint8_t out[CHUNK], in[CHUNK];
	size_t out_len = 0, out_off = 0;
	bool eof = false;

	while (!eof || sent < size) {
		struct pollfd p = {fd, POLLIN | (sent < size ? POLLOUT : 0), 0};

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return 1;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(fd, in, sizeof(in), MSG_DONTWAIT);

			if (n == 0) {
				eof = true;
			} else if (n > 0) {
				got += (unsigned long long)n;
				if (write_all(STDOUT_FILENO, in, (size_t)n) < 0)
					return 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "vsock-io: recv: %s\n", strerror(errno));
				return 1;
			}
			if (eof && sent < size && !(p.revents & POLLOUT))
				continue;
		}
		if (sent < size && (p.revents & POLLOUT)) {
			ssize_t n;

			if (out_off == out_len) {
				out_len = (size_t)(size - sent < CHUNK ? size - sent : CHUNK);
				pattern_fill(seed, sent, out, out_len);
				out_off = 0;
			}
			n = send(fd, out + out_off, out_len - out_off, MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "vsock-io: send: %s\n", strerror(errno));
				return 1;
			}
			if (n > 0) {
				out_off += (size_t)n;
				sent += (unsigned long long)n;
				if (sent == size)
					shutdown(fd, SHUT_WR);
			}
		}
	}
	fprintf(stderr, "vsock-io: sent %llu, received %llu\n", sent, got);
	close(fd);
	return 0;
}

static int listen_on(unsigned int port)
{
	struct sockaddr_vm sa = {
	    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		fprintf(stderr, "vsock-io: listen on port %u: %s\n", port, strerror(errno));
		exit(1);
	}
	return fd;
}

static int serve(char **argv)
{
	int lfd = listen_on((unsigned int)number(argv[0]));
	unsigned long long count = number(argv[1]);
	static char buf[CHUNK];

	printf("listening\n");
	fflush(stdout);
	for (unsigned long long i = 0; i < count; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		unsigned long long total = 0;
		ssize_t n;

		if (fd < 0) {
			perror("vsock-io: accept");
			return 1;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			if (write_all(fd, buf, (size_t)n) < 0)
				break;
			total += (unsigned long long)n;
		}
		printf("echoed %llu\n", total);
		fflush(stdout);
		close(fd);
	}
	return 0;
}

static int read_line(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, 1);

		if (n <= 0)
			return -1;
		if (buf[len++] == '\n')
			break;
	}
	buf[len] = 0;
	return 0;
}

static int many(char **argv)
{
	unsigned long long n = number(argv[2]);
	int *fds = calloc(n, sizeof(int));
	char line[64], reply[64];

	for (unsigned long long i = 0; i < n; i++)
		fds[i] = connect_or_die(argv);
	for (unsigned long long i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "ping %llu\n", i);
		if (write_all(fds[i], line, strlen(line)) < 0 ||
		    read_line(fds[i], reply, sizeof(reply)) < 0 || strcmp(line, reply)) {
			fprintf(stderr, "vsock-io: connection %llu: no echo\n", i);
			return 1;
		}
	}
	for (unsigned long long i = 0; i < n; i++)
		close(fds[i]);
	printf("many ok %llu\n", n);
	return 0;
}

static int flood(char **argv)
{
	unsigned long long n = number(argv[2]), connected = 0, reset = 0, other = 0;

	for (unsigned long long i = 0; i < n; i++) {
		int fd =
		    vsock_connect((unsigned int)number(argv[0]), (unsigned int)number(argv[1]));

		if (fd >= 0)
			connected++; /* held open until the program exits */
		else if (errno == ECONNRESET || errno == ECONNREFUSED)
			reset++;
		else
			other++;
	}
	printf("flood: %llu connected, %llu reset, %llu other\n", connected, reset, other);
	return 0;
}

static int hold(char **argv)
{
	int fd = connect_or_die(argv);

	if (write_all(fd, "held\n", 5) < 0)
		return 1;
	for (;;)
		pause();
}

static long long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000LL + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int refused(char **argv)
{
	struct timespec t0;
	int fd, err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = vsock_connect((unsigned int)number(argv[0]), (unsigned int)number(argv[1]));
	err = errno;
	if (fd >= 0) {
		printf("connected\n");
		return 1;
	}
	printf("refused: %s in %lld ms\n",
	       err == ECONNRESET     ? "ECONNRESET"
	       : err == ECONNREFUSED ? "ECONNREFUSED"
	       : err == ETIMEDOUT    ? "ETIMEDOUT"
				     : strerror(err),
	       ms_since(&t0));
	return err == ECONNRESET || err == ECONNREFUSED ? 0 : 1;
}

/* The first connect of a benchmark: the host's server may come up later. */
static int connect_patiently(char **argv)
{
	struct timespec pause = {0, 100 * 1000 * 1000};

	for (int tries = 0; tries < 600; tries++) {
		int fd =
		    vsock_connect((unsigned int)number(argv[0]), (unsigned int)number(argv[1]));

		if (fd >= 0)
			return fd;
		nanosleep(&pause, NULL);
	}
	return connect_or_die(argv);
}

static int rate(char **argv)
{
	unsigned long long n = number(argv[2]);
	char c = 'x';

	for (unsigned long long i = 0; i < n; i++) {
		int fd = i ? connect_or_die(argv) : connect_patiently(argv);

		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
			fprintf(stderr, "vsock-io: connection %llu: no echo\n", i);
			return 1;
		}
		close(fd);
	}
	return 0;
}

static int send_only(char **argv)
{
	int fd = connect_patiently(argv);
	unsigned long long size = number(argv[2]);
	static char buf[CHUNK];

	memset(buf, 'v', sizeof(buf));
	for (unsigned long long sent = 0; sent < size; sent += CHUNK)
		if (write_all(fd, buf, CHUNK) < 0)
			return 1;
	close(fd);
	return 0;
}

static int recv_ack(char **argv)
{
	int fd = connect_patiently(argv);
	static char buf[CHUNK];
	unsigned long long got = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		got += (unsigned long long)n;
	if (n < 0 || write(fd, "k", 1) != 1)
		return 1;
	fprintf(stderr, "vsock-io: received %llu\n", got);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int nargs;
		int (*fn)(char **);
	} cmds[] = {
	    {"send-recv", 4, send_recv}, {"serve", 2, serve},	    {"many", 3, many},
	    {"hold", 2, hold},		 {"refused", 2, refused},   {"rate", 3, rate},
	    {"send", 3, send_only},	 {"recv-ack", 2, recv_ack}, {"flood", 3, flood},
	};

	for (size_t i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name) && argc == cmds[i].nargs + 2)
			return cmds[i].fn(argv + 2);
	fprintf(
	    stderr,
	    "usage: vsock-io send-recv|serve|many|hold|refused|rate|send|recv-ack|flood ARGS...\n");
	return 2;
}
