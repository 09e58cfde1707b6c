// SPDX-License-Identifier: Apache-2.0
/*
 * dhcp-client IFNAME TIMEOUT_MS RESOLV_CONF: the guest init's DHCP client
 * (init/dhcp.c, init/net.c, built for the host) on one interface, for
 * dhcp-tests.sh, which runs it in a network namespace. Brings IFNAME up,
 * configures it by DHCP, and prints the lease on stdout:
 *   lease ADDR/PREFIX router R mtu M dns D1 D2...
 * Exit status 0 with a lease, 1 without (init's one line on stderr).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

void say(const char *fmt, ...)
{
	va_list ap;

	fputs("krun-init: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The kernel log's line, here on stdout: "note: ...". */
void note(const char *fmt, ...)
{
	va_list ap;

	fputs("note: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

int main(int argc, char **argv)
{
	struct dhcp_lease l;
	char a[16];
	int index;

	if (argc != 4) {
		fprintf(stderr, "usage: dhcp-client IFNAME TIMEOUT_MS RESOLV_CONF\n");
		return 2;
	}
	index = net_ifindex(argv[1]);
	if (index < 0 || net_link_up(index) < 0) {
		fprintf(stderr, "dhcp-client: cannot bring up %s\n", argv[1]);
		return 2;
	}
	if (dhcp_configure(argv[1], (unsigned int)atoi(argv[2]), argv[3], &l) < 0)
		return 1;
	printf("lease %s/%u", net_ntoa(l.addr, a), net_mask_prefix(l.mask));
	printf(" router %s mtu %u dns", net_ntoa(l.router, a), l.mtu);
	for (unsigned int i = 0; i < l.ndns; i++)
		printf(" %s", net_ntoa(l.dns[i], a));
	printf("\n");
	return 0;
}
