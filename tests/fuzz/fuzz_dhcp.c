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

/*
 * Inputs starting with 'W' are a BOOTP message only: wrapped in good IPv4
 * and UDP headers (checksum included) so that mutations reach the options
 * instead of dying at the IP checksum.
 */
static uint8_t *wrap(const uint8_t *data, size_t size, size_t *len)
{
	uint8_t *p = malloc(28 + size);
	uint32_t sum = 0;

	if (!p)
		return NULL;
	memset(p, 0, 28);
	p[0] = 0x45, p[8] = 64, p[9] = 17;
	p[2] = (uint8_t)((28 + size) >> 8), p[3] = (uint8_t)(28 + size);
	memcpy(p + 12, "\x0a\x00\x02\x02\xff\xff\xff\xff", 8);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	p[10] = (uint8_t)(~sum >> 8), p[11] = (uint8_t)~sum;
	p[21] = 67, p[23] = 68;
	p[24] = (uint8_t)((8 + size) >> 8), p[25] = (uint8_t)(8 + size);
	memcpy(p + 28, data, size);
	*len = 28 + size;
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dhcp_reply r;
	const char *why;
	uint8_t *copy;

	if (size > 0 && data[0] == 'W' && size - 1 <= 0xffff - 28) {
		copy = wrap(data + 1, size - 1, &size);
	} else {
		copy = malloc(size ? size : 1);
		if (copy)
			memcpy(copy, data, size);
	}
	if (!copy)
		return 0;
	if (dhcp_parse_reply(copy, size, XID, mac, &r, &why) == 0)
		check(&r);
	else if (!why || !*why)
		abort(); /* a rejection always says why */
	free(copy);
	return 0;
}
