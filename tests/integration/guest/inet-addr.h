/* SPDX-License-Identifier: Apache-2.0 */
/*
 * "HOST" "PORT" as the guest test programs take them: an IPv6 address when
 * HOST has a ':', IPv4 otherwise. A bad address exits with status 2.
 */
#ifndef TESTS_GUEST_INET_ADDR_H
#define TESTS_GUEST_INET_ADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static socklen_t parse_addr(const char *host, const char *port, struct sockaddr_storage *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)atoi(port));
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			exit(2);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((unsigned short)atoi(port));
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		exit(2);
	return sizeof(*s4);
}

#endif
