// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the guest init's DHCP reply parser
 * (dhcp_parse_reply() in init/dhcp.c): any bytes, as the packet socket
 * hands them over (an IPv4 packet), since whoever is on the link may send
 * anything. The input is an exact-size copy, so ASan sees any read past its
 * end. The seeds (tests/fuzz/corpus/fuzz_dhcp, from mkseeds-dhcp.py) use
 * the xid and MAC below. A reply that parses must hold what the client
 * relies on, and a REQUEST built from it must fit its buffer.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "net.h"

#define XID 0x12345678u
static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

void say(const char *fmt, ...)
{
	(void)fmt;
}

void note(const char *fmt, ...)
{
	(void)fmt;
}

static void check(const struct dhcp_reply *r)
{
	const struct dhcp_lease *l = &r->lease;
	uint32_t m = ntohl(l->mask);
	uint8_t buf[DHCP_PACKET_MAX];

	if (r->type != DHCP_OFFER && r->type != DHCP_ACK && r->type != DHCP_NAK)
		abort();
	if (r->type == DHCP_NAK)
		return;
	if (!l->addr || !l->mask || (~m & (~m + 1)) || l->ndns > NET_MAX_DNS)
		abort();
	if (l->router == l->addr && l->router)
		abort();
	if (l->mtu && l->mtu < 576)
		abort();
	if (dhcp_build(buf, DHCP_REQUEST, XID, mac, 1, l) > sizeof(buf))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dhcp_reply r;
	const char *why;
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (dhcp_parse_reply(copy, size, XID, mac, &r, &why) == 0)
		check(&r);
	else if (!why || !*why)
		abort(); /* a rejection always says why */
	free(copy);
	return 0;
}
