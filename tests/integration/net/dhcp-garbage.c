// SPDX-License-Identifier: Apache-2.0
/*
 * dhcp-garbage IFNAME MODE: a hostile DHCP server for dhcp-tests.sh, on UDP
 * port 67 of interface IFNAME. To each DISCOVER or REQUEST it answers with
 * a burst of broken replies built on a good one (same xid and chaddr, so
 * they get past the first checks): options running past the end, bad
 * lengths, a non-contiguous mask, no end option, a short message, a bad
 * cookie, another xid or chaddr, a zero or broadcast address. With MODE
 * "then-valid", a good OFFER (or ACK) follows each burst; with "only" none
 * does. It prints nothing and runs until killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define OPTS 240

static size_t good_reply(uint8_t *r, const uint8_t *req, uint8_t type)
{
	static const uint8_t opts[] = {
	    53,	 1, 0,				   /* type, set below */
	    54,	 4, 10,	 77,  0,   1,		   /* server id */
	    51,	 4, 0,	 0,   14,  16,		   /* lease 3600 s */
	    1,	 4, 255, 255, 255, 0,		   /* mask */
	    3,	 4, 10,	 77,  0,   1,		   /* router */
	    6,	 8, 10,	 77,  0,   1,  9, 9, 9, 9, /* dns */
	    255,
	};

	memset(r, 0, 548);
	r[0] = 2, r[1] = 1, r[2] = 6;
	memcpy(r + 4, req + 4, 4);   /* xid */
	memcpy(r + 28, req + 28, 6); /* chaddr */
	r[16] = 10, r[17] = 77, r[18] = 0, r[19] = 50;
	r[236] = 99, r[237] = 130, r[238] = 83, r[239] = 99;
	memcpy(r + OPTS, opts, sizeof(opts));
	r[OPTS + 2] = type;
	return OPTS + sizeof(opts);
}

/* Broken variant @n of the good reply in @r (length @len); 0 when done. */
static size_t break_reply(uint8_t *r, size_t len, int n)
{
	switch (n) {
	case 0:
		r[OPTS + 28] = 200;
		return len; /* dns length past the end */
	case 1:
		r[OPTS + 18] = 0;
		r[OPTS + 17] = 0;
		r[OPTS + 19] = 255;
		return len; /* mask 255.0.255.0 */
	case 2:
		r[OPTS + 1] = 2;
		return len; /* type with length 2 */
	case 3:
		return len - 1; /* no end option */
	case 4:
		return 200; /* shorter than BOOTP */
	case 5:
		r[236] = 0;
		return len; /* no cookie */
	case 6:
		r[4] ^= 1;
		return len; /* another xid */
	case 7:
		r[33] ^= 1;
		return len; /* another chaddr */
	case 8:
		r[16] = 0;
		return len; /* yiaddr 0.77.0.50 */
	case 9:
		memset(r + 16, 0xff, 4);
		return len; /* yiaddr broadcast */
	case 10:
		r[OPTS + 28] = 5;
		return len; /* dns length 5 */
	case 11:
		r[OPTS + 16] = 3;
		return len; /* mask length 3 */
	case 12:
		r[0] = 1;
		return len; /* a BOOTREQUEST */
	case 13:
		r[OPTS + 2] = 9;
		return len; /* type 9 */
	case 14:
		r[19] = 255;
		return len; /* the subnet's broadcast */
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(67)};
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(68)};
	uint8_t req[1500], r[548];
	int fd, on = 1, valid = argc > 2 && !strcmp(argv[2], "then-valid");
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: dhcp-garbage IFNAME only|then-valid\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* Broadcasts leave by this interface (there is no route to pick one). */
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, argv[1], (socklen_t)strlen(argv[1])) < 0 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		perror("dhcp-garbage: port 67");
		return 1;
	}
	to.sin_addr.s_addr = INADDR_BROADCAST;
	for (;;) {
		uint8_t type;
		size_t len;

		n = recv(fd, req, sizeof(req), 0);
		if (n < OPTS + 3 || req[0] != 1)
			continue;
		/* Option 53 comes first in the client's messages. */
		type = req[OPTS] == 53 && req[OPTS + 2] == 3 ? 5 : 2;
		for (int i = 0;; i++) {
			len = good_reply(r, req, type);
			len = break_reply(r, len, i);
			if (!len)
				break;
			sendto(fd, r, len, 0, (struct sockaddr *)&to, sizeof(to));
		}
		if (valid) {
			len = good_reply(r, req, type);
			sendto(fd, r, len, 0, (struct sockaddr *)&to, sizeof(to));
		}
	}
}
