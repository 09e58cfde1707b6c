// SPDX-License-Identifier: Apache-2.0
/*
 * tsi-kernel: the guest-kernel side of TSI where it goes beyond upstream's
 * (tsi-kernel-tests.sh). Static, so the same binary is the guest's program
 * and the test host's peer:
 *
 *   host ADDR PORT     test-host peer: a TCP server that greets each
 *                      connection with "peer IP PORT" (the address it sees
 *                      the guest at) and then echoes to EOF, and a UDP
 *                      server answering "re:" + each datagram; prints
 *                      "listening", runs until killed
 *   guest ADDR PORT    in the guest, against "host": non-blocking connects
 *                      (to a black hole too), SO_ERROR, getsockname (the
 *                      address the host saw), getpeername, FIONREAD on TCP
 *                      and UDP, connected UDP; one "ok NAME" or
 *                      "FAIL NAME: why" line each
 *   domains            in the guest: whether sockets of the families 46, 47
 *                      and 48 can be made ("families 46:ok ..."), and the
 *                      SO_DOMAIN of new TCP, TCP6, AF_UNIX, UDP, AF_UNIX
 *                      datagram and raw ICMP sockets ("domains inet:N ...")
 *   listen             in the guest: bind(port 0) + listen, prints
 *                      "port N" (getsockname); then a blocking accept while
 *                      a child process calls getsockname on the listener
 *                      (must not wait for the accept); greets the accepted
 *                      connection with "guest N" and prints its checks
 *   connect ADDR PORT  test-host side of "listen": connects, prints the
 *                      greeting
 *
 * Exit status 0 when every check passed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inet-addr.h"

static int failures;

__attribute__((format(printf, 3, 4))) static void result(const char *name, int good,
							 const char *fmt, ...)
{
	va_list ap;

	if (good) {
		printf("ok %s\n", name);
	} else {
		failures++;
		printf("FAIL %s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf(" (errno %s)\n", strerror(errno));
	}
	fflush(stdout);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "IP PORT" of an address. */
static void addr_str(const struct sockaddr_storage *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
	}
	snprintf(buf, len, "%s %u", ip, port);
}

static int die(const char *what)
{
	fprintf(stderr, "tsi-kernel: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Waits for @events on @fd; the revents, 0 on timeout. */
static int wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};

	return poll(&p, 1, ms) == 1 ? p.revents : 0;
}

/* Reads one line (up to '\n') with a timeout; its length or -1. */
static int read_line(int fd, char *buf, size_t len, int ms)
{
	size_t n = 0;

	while (n + 1 < len) {
		if (!(wait_fd(fd, POLLIN, ms) & (POLLIN | POLLHUP)))
			return -1;
		if (read(fd, buf + n, 1) != 1)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = 0;
	return (int)n;
}

/*
 * host
 */

static void host_tcp(int lfd)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	char line[160], name[128], buf[4096];
	int fd = accept(lfd, (struct sockaddr *)&peer, &plen);
	ssize_t n;

	if (fd < 0)
		return;
	/* One child per connection: the guest may hold several at once. */
	if (fork() == 0) {
		close(lfd);
		addr_str(&peer, name, sizeof(name));
		snprintf(line, sizeof(line), "peer %s\n", name);
		if (write(fd, line, strlen(line)) < 0)
			_exit(1);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(fd, buf, n) != n)
				break;
		_exit(0);
	}
	close(fd);
}

static void host_udp(int ufd)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	char buf[2048];
	ssize_t n = recvfrom(ufd, buf + 3, sizeof(buf) - 3, 0, (struct sockaddr *)&peer, &plen);

	if (n < 0)
		return;
	memcpy(buf, "re:", 3);
	sendto(ufd, buf, n + 3, 0, (struct sockaddr *)&peer, plen);
}

static int cmd_host(const char *host, const char *port)
{
	struct sockaddr_storage sa;
	socklen_t len = parse_addr(host, port, &sa);
	int one = 1, lfd, ufd;

	signal(SIGCHLD, SIG_IGN);
	lfd = socket(sa.ss_family, SOCK_STREAM, 0);
	ufd = socket(sa.ss_family, SOCK_DGRAM, 0);
	if (lfd < 0 || ufd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, len) < 0 || listen(lfd, 64) < 0)
		die("tcp bind/listen");
	if (bind(ufd, (struct sockaddr *)&sa, len) < 0)
		die("udp bind");
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = ufd, .events = POLLIN}};

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			die("poll");
		if (p[0].revents & POLLIN)
			host_tcp(lfd);
		if (p[1].revents & POLLIN)
			host_udp(ufd);
	}
	return 0;
}

/*
 * guest
 */

/* A non-blocking connect: returns the fd once connected (SO_ERROR 0), or -1. */
static int nb_connect(const struct sockaddr_storage *sa, socklen_t len, long *call_ms)
{
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	socklen_t elen = sizeof(err);
	long t0 = now_ms();
	int r = connect(fd, (const struct sockaddr *)sa, len);

	*call_ms = now_ms() - t0;
	if (r < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	if (!(wait_fd(fd, POLLOUT, 20000) & POLLOUT) ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err) {
		errno = err;
		close(fd);
		return -1;
	}
	return fd;
}

static void check_blackhole(void)
{
	struct sockaddr_storage sa;
	socklen_t len = parse_addr("192.0.2.1", "9", &sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	long t0 = now_ms(), t1, t2;
	int r = connect(fd, (struct sockaddr *)&sa, len);
	int e = errno;

	t1 = now_ms();
	/* Writable only once it failed (no route on the host) or never. */
	int rev = wait_fd(fd, POLLOUT, 200), soerr = 0;
	socklen_t elen = sizeof(soerr);

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen);
	t2 = now_ms();
	close(fd);
	t2 = now_ms() - t2;
	errno = e;
	result("nonblocking-connect-returns-at-once", r < 0 && e == EINPROGRESS && t1 - t0 < 1000,
	       "connect() = %d in %ld ms", r, t1 - t0);
	result("nonblocking-connect-not-connected", !(rev & POLLOUT) || soerr,
	       "revents %#x, SO_ERROR %d", rev, soerr);
	result("close-during-connect-returns", t2 < 3000, "close took %ld ms", t2);
}

static void check_tcp(const struct sockaddr_storage *sa, socklen_t len)
{
	struct sockaddr_storage me, peer;
	socklen_t mlen = sizeof(me), plen = sizeof(peer);
	char line[256], mine[128], want[160];
	long call_ms;
	int fd, avail = -1, n;

	fd = nb_connect(sa, len, &call_ms);
	result("nonblocking-connect-completes", fd >= 0, "connect/poll/SO_ERROR");
	if (fd < 0)
		return;

	/* The greeting, then FIONREAD for it before reading. */
	if (!(wait_fd(fd, POLLIN, 20000) & POLLIN))
		result("greeting-arrives", 0, "no data");
	usleep(200 * 1000);
	n = ioctl(fd, FIONREAD, &avail);
	result("fionread-tcp", n == 0 && avail > 5, "ioctl = %d, avail %d", n, avail);
	n = read_line(fd, line, sizeof(line), 20000);
	result("fionread-tcp-matches-data", n == avail, "FIONREAD %d, line %d bytes", avail, n);

	getsockname(fd, (struct sockaddr *)&me, &mlen);
	addr_str(&me, mine, sizeof(mine));
	snprintf(want, sizeof(want), "peer %s\n", mine);
	result("getsockname-is-what-the-host-sees", n > 0 && !strcmp(line, want),
	       "getsockname \"%s\", host saw \"%.*s\"", mine, n > 0 ? n - 1 : 0, line);

	getpeername(fd, (struct sockaddr *)&peer, &plen);
	addr_str(&peer, mine, sizeof(mine));
	addr_str(sa, want, sizeof(want));
	result("getpeername", !strcmp(mine, want), "\"%s\", want \"%s\"", mine, want);

	/* Echo, blocking again. */
	fcntl(fd, F_SETFL, 0);
	n = write(fd, "echo\n", 5) == 5 ? read_line(fd, line, sizeof(line), 20000) : -1;
	result("echo", n == 5 && !strcmp(line, "echo\n"), "read %d", n);
	close(fd);
}

static void check_udp(const struct sockaddr_storage *sa, socklen_t len)
{
	struct sockaddr_storage from, peer;
	socklen_t flen = sizeof(from), plen = sizeof(peer);
	char buf[256], a[128], b[128];
	int fd = socket(sa->ss_family, SOCK_DGRAM, 0), avail = -1;
	ssize_t n;

	/* Unconnected, with FIONREAD before the read. */
	n = sendto(fd, "one", 3, 0, (const struct sockaddr *)sa, len);
	wait_fd(fd, POLLIN, 20000);
	ioctl(fd, FIONREAD, &avail);
	n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
	result("udp-sendto", n == 6 && !memcmp(buf, "re:one", 6), "recvfrom = %zd", n);
	result("fionread-udp", avail == 6, "FIONREAD %d", avail);
	addr_str(&from, a, sizeof(a));
	addr_str(sa, b, sizeof(b));
	result("udp-source", n > 0 && !strcmp(a, b), "from \"%s\", want \"%s\"", a, b);
	close(fd);

	/* Connected, as glibc's resolver: connect, send, poll, recv. */
	fd = socket(sa->ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	n = connect(fd, (const struct sockaddr *)sa, len);
	result("udp-connect", n == 0, "connect = %zd", n);
	getpeername(fd, (struct sockaddr *)&peer, &plen);
	addr_str(&peer, a, sizeof(a));
	result("udp-getpeername", !strcmp(a, b), "\"%s\"", a);
	n = send(fd, "two", 3, 0);
	n = (wait_fd(fd, POLLIN, 20000) & POLLIN) ? recv(fd, buf, sizeof(buf), 0) : -1;
	result("udp-connected-send-recv", n == 6 && !memcmp(buf, "re:two", 6), "recv = %zd", n);
	close(fd);
}

static int cmd_guest(const char *host, const char *port)
{
	struct sockaddr_storage sa;
	socklen_t len = parse_addr(host, port, &sa);

	check_blackhole();
	check_tcp(&sa, len);
	check_udp(&sa, len);
	printf("%s\n", failures ? "some checks failed" : "all checks passed");
	return failures != 0;
}

/*
 * domains
 */

static int domain_of(int family, int type, int protocol)
{
	int fd = socket(family, type, protocol), d = -1;
	socklen_t len = sizeof(d);

	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &d, &len) < 0)
		d = -errno;
	close(fd);
	return d;
}

static int cmd_domains(void)
{
	int f;

	printf("families");
	for (f = 46; f <= 48; f++) {
		int s = socket(f, SOCK_STREAM, 0), d = socket(f, SOCK_DGRAM, 0);

		printf(" %d:%s", f, s >= 0 && d >= 0 ? "ok" : strerror(errno));
		close(s);
		close(d);
	}
	printf("\ndomains inet:%d inet6:%d unix:%d udp:%d unixdgram:%d raw:%d\n",
	       domain_of(AF_INET, SOCK_STREAM, 0), domain_of(AF_INET6, SOCK_STREAM, 0),
	       domain_of(AF_UNIX, SOCK_STREAM, 0), domain_of(AF_INET, SOCK_DGRAM, 0),
	       domain_of(AF_UNIX, SOCK_DGRAM, 0), domain_of(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	return 0;
}

/*
 * listen / connect
 */

static unsigned sock_port(int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return 0;
	if (sa.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&sa)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
}

static int cmd_listen(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd, status = 0;
	unsigned port;
	char line[64];
	pid_t pid;

	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0)
		die("bind/listen");
	port = sock_port(lfd);
	printf("port %u\n", port);
	fflush(stdout);

	/* getsockname on the listener while accept() blocks in the parent. */
	pid = fork();
	if (pid == 0) {
		long t0, worst = 0;
		int i, bad = 0;

		usleep(300 * 1000);
		for (i = 0; i < 50; i++) {
			t0 = now_ms();
			if (sock_port(lfd) != port)
				bad++;
			if (now_ms() - t0 > worst)
				worst = now_ms() - t0;
		}
		result("getsockname-during-accept", !bad && worst < 1000,
		       "%d wrong, slowest %ld ms", bad, worst);
		_exit(failures != 0);
	}

	fd = accept(lfd, NULL, NULL);
	result("accept", fd >= 0, "accept");
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		failures++;
	if (fd >= 0) {
		snprintf(line, sizeof(line), "guest %u\n", port);
		result("greet", write(fd, line, strlen(line)) == (ssize_t)strlen(line), "write");
		close(fd);
	}
	close(lfd);
	printf("%s\n", failures ? "some checks failed" : "all checks passed");
	return failures != 0;
}

static int cmd_connect(const char *host, const char *port)
{
	struct sockaddr_storage sa;
	socklen_t len = parse_addr(host, port, &sa);
	char line[64];
	int fd = socket(sa.ss_family, SOCK_STREAM, 0);

	if (connect(fd, (struct sockaddr *)&sa, len) < 0)
		die("connect");
	if (read_line(fd, line, sizeof(line), 20000) <= 0)
		die("read");
	printf("%s", line);
	return 0;
}

/*
 * local: connects to listeners of the guest's own stack on ports the VMM
 * does not expose (the VM runs with a port map that leaves them out), so a
 * connection can only succeed inside the guest.
 */
static void check_local(const char *name, const char *bind_host, const char *to_host,
			const char *port, bool expect_local)
{
	struct sockaddr_storage ba, ca;
	socklen_t blen = parse_addr(bind_host, port, &ba), clen = parse_addr(to_host, port, &ca);
	int one = 1, lfd = socket(ba.ss_family, SOCK_STREAM, 0), cfd, afd;
	char line[64] = "";
	int r;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ba, blen) < 0 || listen(lfd, 4) < 0) {
		result(name, 0, "bind/listen %s %s", bind_host, port);
		close(lfd);
		return;
	}
	cfd = socket(ca.ss_family, SOCK_STREAM, 0);
	r = connect(cfd, (struct sockaddr *)&ca, clen);
	if (!expect_local) {
		result(name, r < 0 && errno == ECONNREFUSED, "connect = %d, want ECONNREFUSED", r);
	} else if (r < 0) {
		result(name, 0, "connect %s %s", to_host, port);
	} else {
		afd = (wait_fd(lfd, POLLIN, 5000) & POLLIN) ? accept(lfd, NULL, NULL) : -1;
		if (afd >= 0 && write(afd, "local\n", 6) != 6)
			afd = -1;
		r = afd >= 0 ? read_line(cfd, line, sizeof(line), 5000) : -1;
		result(name, r == 6 && !strcmp(line, "local\n"), "accept %d, read %d", afd, r);
		close(afd);
	}
	close(cfd);
	close(lfd);
}

static int cmd_local(void)
{
	check_local("local-127.0.0.1", "127.0.0.1", "127.0.0.1", "18192", true);
	check_local("local-any-via-loopback", "0.0.0.0", "127.0.0.1", "18193", true);
	check_local("local-own-address", "0.0.0.0", "203.0.113.1", "18193", true);
	check_local("local-dual-stack-v4-client", "::", "127.0.0.1", "18194", true);
	check_local("local-dual-stack-v4-mapped", "::", "::ffff:127.0.0.1", "18194", true);
	check_local("local-::1", "::1", "::1", "18195", true);
	check_local("local-other-address-refused", "127.0.0.2", "127.0.0.1", "18196", false);
	printf("%s\n", failures ? "some checks failed" : "all checks passed");
	return failures != 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "host"))
		return cmd_host(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "guest"))
		return cmd_guest(argv[2], argv[3]);
	if (argc == 2 && !strcmp(argv[1], "domains"))
		return cmd_domains();
	if (argc == 2 && !strcmp(argv[1], "listen"))
		return cmd_listen();
	if (argc == 4 && !strcmp(argv[1], "connect"))
		return cmd_connect(argv[2], argv[3]);
	if (argc == 2 && !strcmp(argv[1], "local"))
		return cmd_local();
	fprintf(stderr, "usage: tsi-kernel host|guest ADDR PORT | domains | listen | local | "
			"connect ADDR PORT\n");
	return 2;
}
