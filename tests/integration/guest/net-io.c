// SPDX-License-Identifier: Apache-2.0
/*
 * net-io: the guest side of the virtio-net benchmark (static, no libc
 * beyond musl). TCP to the host through the interface:
 *   net-io send IP PORT BYTES   send BYTES, then wait for the host to close
 *   net-io recv IP PORT         read to EOF; prints the byte count
 *   net-io rr IP PORT N         N one-byte round trips (TCP_NODELAY)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[256 * 1024];

static int dial(const char *ip, const char *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0 || inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		perror("socket");
		exit(1);
	}
	/* The host side may not listen yet: try for a while. */
	for (int i = 0; connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0; i++) {
		if (i == 100) {
			perror("connect");
			exit(1);
		}
		close(fd);
		usleep(100000);
		fd = socket(AF_INET, SOCK_STREAM, 0);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc < 4)
		return 2;
	fd = dial(argv[2], argv[3]);
	if (!strcmp(argv[1], "send") && argc == 5) {
		long long left = atoll(argv[4]);

		while (left > 0) {
			ssize_t n = write(
			    fd, buf, left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf));

			if (n <= 0) {
				perror("write");
				return 1;
			}
			left -= n;
		}
		shutdown(fd, SHUT_WR);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		return 0;
	}
	if (!strcmp(argv[1], "recv")) {
		long long got = 0;
		ssize_t n;

		while ((n = read(fd, buf, sizeof(buf))) > 0)
			got += n;
		if (n < 0)
			perror("read");
		printf("recv %lld\n", got);
		return n < 0;
	}
	if (!strcmp(argv[1], "rr") && argc == 5) {
		long n = atol(argv[4]);
		char c = 'x';

		for (long i = 0; i < n; i++) {
			if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) {
				perror("rr");
				return 1;
			}
		}
		return 0;
	}
	return 2;
}
