// SPDX-License-Identifier: Apache-2.0
/*
 * init/dhcp.c, the guest init's DHCP client: the messages it builds
 * (headers, checksums, options) and its reply parser on good replies,
 * defaults and hostile ones (each rejected, with its reason).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <arpa/inet.h>

#include "net.h"
#include "test.h"

#define XID 0xdeadbeefu
static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};

void say(const char *fmt, ...)
{
	(void)fmt;
}

void note(const char *fmt, ...)
{
	(void)fmt;
}

static uint32_t a4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint8_t x[4] = {a, b, c, d};
	uint32_t v;

	memcpy(&v, x, 4);
	return v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Finds option @code in a built message's options; its length in *len. */
static const uint8_t *find_option(const uint8_t *pkt, size_t total, uint8_t code, uint8_t *len)
{
	for (size_t i = 28 + 240; i + 1 < total && pkt[i] != 255; i += 2u + pkt[i + 1]) {
		if (pkt[i] == code) {
			*len = pkt[i + 1];
			return pkt + i + 2;
		}
	}
	return NULL;
}

static void test_build(void)
{
	struct dhcp_lease offer = {.addr = a4(10, 0, 2, 15), .server = a4(10, 0, 2, 2)};
	uint8_t pkt[DHCP_PACKET_MAX], len;
	const uint8_t *o;
	size_t n = dhcp_build(pkt, DHCP_DISCOVER, XID, mac, 3, NULL);
	uint32_t pseudo;

	CHECK_EQ(n, 20 + 8 + 300); /* padded to BOOTP's 300 bytes */
	CHECK_EQ(pkt[0], 0x45);
	CHECK_EQ(get16(pkt + 2), n);
	CHECK_EQ(pkt[9], 17);
	CHECK_EQ(csum(0, pkt, 20), 0); /* the IP header checksum is right */
	CHECK(!memcmp(pkt + 12, "\0\0\0\0\xff\xff\xff\xff", 8));
	CHECK_EQ(get16(pkt + 20), 68);
	CHECK_EQ(get16(pkt + 22), 67);
	CHECK_EQ(get16(pkt + 24), n - 20);
	/* The UDP checksum, with its pseudo-header, verifies. */
	pseudo = 0xffff + 0xffff + 17 + (uint32_t)(n - 20);
	CHECK_EQ(csum(pseudo, pkt + 20, n - 20), 0);
	CHECK_EQ(pkt[28], 1); /* BOOTREQUEST */
	CHECK(!memcmp(pkt + 28 + 4, "\xde\xad\xbe\xef", 4));
	CHECK_EQ(get16(pkt + 28 + 8), 3);
	CHECK_EQ(get16(pkt + 28 + 10), 0x8000);
	CHECK(!memcmp(pkt + 28 + 28, mac, 6));
	CHECK(!memcmp(pkt + 28 + 236, "\x63\x82\x53\x63", 4));
	o = find_option(pkt, n, 53, &len);
	CHECK(o && len == 1 && o[0] == DHCP_DISCOVER);
	CHECK(find_option(pkt, n, 80, &len) && len == 0); /* rapid commit asked */
	CHECK(!find_option(pkt, n, 50, &len));
	o = find_option(pkt, n, 61, &len);
	CHECK(o && len == 7 && o[0] == 1 && !memcmp(o + 1, mac, 6));

	n = dhcp_build(pkt, DHCP_REQUEST, XID, mac, 0, &offer);
	o = find_option(pkt, n, 53, &len);
	CHECK(o && len == 1 && o[0] == DHCP_REQUEST);
	o = find_option(pkt, n, 50, &len);
	CHECK(o && len == 4 && !memcmp(o, &offer.addr, 4));
	o = find_option(pkt, n, 54, &len);
	CHECK(o && len == 4 && !memcmp(o, &offer.server, 4));
	CHECK(!find_option(pkt, n, 80, &len));
	CHECK_EQ(csum(0, pkt, 20), 0);
}

struct reply {
	uint8_t pkt[DHCP_PACKET_MAX];
	size_t len;
};

/* A BOOTREPLY from 10.0.2.2:67 for XID and mac, yiaddr 10.0.2.15, with @opts. */
static struct reply *make(const uint8_t *opts, size_t olen)
{
	static struct reply r;
	uint8_t *ip = r.pkt, *udp = r.pkt + 20, *b = r.pkt + 28;
	size_t blen = 240 + olen;

	memset(&r, 0, sizeof(r));
	b[0] = 2, b[1] = 1, b[2] = 6;
	memcpy(b + 4, "\xde\xad\xbe\xef", 4);
	memcpy(b + 16, "\x0a\x00\x02\x0f", 4);
	memcpy(b + 28, mac, 6);
	memcpy(b + 236, "\x63\x82\x53\x63", 4);
	memcpy(b + 240, opts, olen);
	udp[1] = 67, udp[3] = 68;
	udp[4] = (uint8_t)((8 + blen) >> 8), udp[5] = (uint8_t)(8 + blen);
	ip[0] = 0x45, ip[8] = 64, ip[9] = 17;
	ip[2] = (uint8_t)((28 + blen) >> 8), ip[3] = (uint8_t)(28 + blen);
	memcpy(ip + 12, "\x0a\x00\x02\x02\xff\xff\xff\xff", 8);
	r.len = 28 + blen;
	return &r;
}

static void fix_ip_csum(struct reply *r)
{
	uint16_t c;

	r->pkt[10] = r->pkt[11] = 0;
	c = csum(0, r->pkt, 20);
	r->pkt[10] = (uint8_t)(c >> 8), r->pkt[11] = (uint8_t)c;
}

static int parse(struct reply *r, struct dhcp_reply *out, const char **why)
{
	uint8_t *copy = malloc(r->len); /* exact size: ASan sees over-reads */
	int ret;

	fix_ip_csum(r);
	memcpy(copy, r->pkt, r->len);
	ret = dhcp_parse_reply(copy, r->len, XID, mac, out, why);
	free(copy);
	return ret;
}

#define OPTS(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void test_parse_good(void)
{
	struct dhcp_reply d;
	const char *why;

	CHECK_EQ(parse(make(OPTS(53, 1, 2, 54, 4, 10, 0, 2, 2, 51, 4, 0, 0, 14, 16, 1, 4, 255, 255,
				 255, 0, 3, 4, 10, 0, 2, 2, 6, 8, 10, 0, 2, 3, 1, 1, 1, 1, 26, 2,
				 255, 240, 255)),
		       &d, &why),
		 0);
	CHECK_EQ(d.type, DHCP_OFFER);
	CHECK(!d.rapid_commit);
	CHECK_EQ(d.lease.addr, a4(10, 0, 2, 15));
	CHECK_EQ(d.lease.mask, a4(255, 255, 255, 0));
	CHECK_EQ(d.lease.router, a4(10, 0, 2, 2));
	CHECK_EQ(d.lease.server, a4(10, 0, 2, 2));
	CHECK_EQ(d.lease.ndns, 2);
	CHECK_EQ(d.lease.dns[0], a4(10, 0, 2, 3));
	CHECK_EQ(d.lease.dns[1], a4(1, 1, 1, 1));
	CHECK_EQ(d.lease.lease_s, 3600);
	CHECK_EQ(d.lease.mtu, 65520);

	/* Rapid commit; pads; defaults: class mask, server = IP source. */
	CHECK_EQ(parse(make(OPTS(0, 0, 53, 1, 5, 0, 80, 0, 255)), &d, &why), 0);
	CHECK(d.type == DHCP_ACK && d.rapid_commit);
	CHECK_EQ(d.lease.mask, a4(255, 0, 0, 0));
	CHECK_EQ(d.lease.server, a4(10, 0, 2, 2));
	CHECK(!d.lease.router && !d.lease.ndns && !d.lease.mtu);

	/* The first of a repeated option counts; at most 3 DNS, 0.0.0.0 skipped. */
	CHECK_EQ(
	    parse(make(OPTS(53, 1, 5, 53, 1, 2, 1, 4, 255, 255, 0, 0, 1, 4, 255, 0, 0, 0, 6, 20, 0,
			    0, 0, 0, 8, 8, 8, 8, 8, 8, 4, 4, 9, 9, 9, 9, 1, 2, 3, 4, 255)),
		  &d, &why),
	    0);
	CHECK_EQ(d.type, DHCP_ACK);
	CHECK_EQ(d.lease.mask, a4(255, 255, 0, 0));
	CHECK_EQ(d.lease.ndns, 3);
	CHECK_EQ(d.lease.dns[2], a4(9, 9, 9, 9));

	/* A router that is the address itself, a tiny MTU: dropped, not fatal. */
	CHECK_EQ(parse(make(OPTS(53, 1, 5, 3, 4, 10, 0, 2, 15, 26, 2, 0, 100, 255)), &d, &why), 0);
	CHECK(!d.lease.router && !d.lease.mtu);

	/* A NAK needs no address. */
	CHECK_EQ(parse(make(OPTS(53, 1, 6, 255)), &d, &why), 0);
	CHECK_EQ(d.type, DHCP_NAK);
}

/* @r (made by make()) is rejected, with a reason containing @expect. */
static void rejected(struct reply *r, const char *expect)
{
	struct dhcp_reply d;
	const char *why = NULL;

	CHECK_EQ(parse(r, &d, &why), -1);
	CHECK(why && strstr(why, expect));
	if (!why || !strstr(why, expect))
		fprintf(stderr, "  expected \"%s\", got \"%s\"\n", expect, why ? why : "(null)");
}

static void test_parse_hostile(void)
{
	struct reply *r;

	rejected(make(OPTS(53, 1, 2, 6, 200, 1, 2, 3, 4)), "longer than the message");
	rejected(make(OPTS(53, 1, 2, 6)), "without a length");
	rejected(make(OPTS(53, 1, 2, 6, 5, 1, 2, 3, 4, 5, 255)), "bad option");
	rejected(make(OPTS(53, 1, 2, 6, 0, 255)), "bad option");
	rejected(make(OPTS(53, 2, 2, 0, 255)), "bad option");
	rejected(make(OPTS(53, 1, 2, 1, 4, 255, 0, 255, 0, 255)), "bad option");
	rejected(make(OPTS(53, 1, 2, 1, 3, 255, 255, 0, 255)), "bad option");
	rejected(make(OPTS(53, 1, 2, 3, 6, 1, 2, 3, 4, 5, 6, 255)), "bad option");
	rejected(make(OPTS(53, 1, 2, 54, 2, 1, 2, 255)), "bad option");
	rejected(make(OPTS(53, 1, 2, 80, 1, 0, 255)), "bad option");
	rejected(make(OPTS(53, 1, 2)), "without an end");
	rejected(make(OPTS(255)), "not an OFFER");
	rejected(make(OPTS(53, 1, 3, 255)), "not an OFFER");
	rejected(make(OPTS(53, 1, 9, 255)), "not an OFFER");

	r = make(OPTS(53, 1, 2, 255));
	r->pkt[28 + 4] ^= 1;
	rejected(r, "another transaction");
	r = make(OPTS(53, 1, 2, 255));
	r->pkt[28 + 33] ^= 1;
	rejected(r, "another client");
	r = make(OPTS(53, 1, 2, 255));
	r->pkt[28 + 236] = 0;
	rejected(r, "cookie");
	r = make(OPTS(53, 1, 2, 255));
	r->pkt[28] = 1;
	rejected(r, "BOOTREPLY");
	r = make(OPTS(53, 1, 2, 255));
	r->pkt[28 + 2] = 16;
	rejected(r, "BOOTREPLY");

	/* Addresses no client may take. */
	r = make(OPTS(53, 1, 2, 255));
	memset(r->pkt + 28 + 16, 0, 4);
	rejected(r, "no usable address");
	r = make(OPTS(53, 1, 2, 255));
	memcpy(r->pkt + 28 + 16, "\x7f\x00\x00\x01", 4);
	rejected(r, "no usable address");
	r = make(OPTS(53, 1, 2, 255));
	memcpy(r->pkt + 28 + 16, "\xe0\x00\x00\x01", 4);
	rejected(r, "no usable address");
	r = make(OPTS(53, 1, 2, 1, 4, 255, 255, 255, 0, 255));
	memcpy(r->pkt + 28 + 16, "\x0a\x00\x02\xff", 4);
	rejected(r, "not a host address");

	/* IP and UDP headers. */
	r = make(OPTS(53, 1, 2, 255));
	r->pkt[0] = 0x65;
	rejected(r, "not IPv4");
	r = make(OPTS(53, 1, 2, 255));
	r->pkt[0] = 0x44;
	rejected(r, "bad IP lengths");
	r = make(OPTS(53, 1, 2, 255));
	r->pkt[2] = 0x10; /* total length past the packet */
	rejected(r, "bad IP lengths");
	r = make(OPTS(53, 1, 2, 255));
	r->pkt[6] = 0x20; /* more fragments */
	rejected(r, "fragment");
	r = make(OPTS(53, 1, 2, 255));
	r->pkt[9] = 6;
	rejected(r, "not UDP");
	r = make(OPTS(53, 1, 2, 255));
	r->pkt[21] = 53;
	rejected(r, "port");
	r = make(OPTS(53, 1, 2, 255));
	r->pkt[24] = 0x10; /* UDP length past the IP packet */
	rejected(r, "bad UDP length");
	r = make(OPTS(53, 1, 2, 255));
	r->len = 28 + 200;
	r->pkt[2] = 0, r->pkt[3] = 228, r->pkt[24] = 0, r->pkt[25] = 208;
	rejected(r, "short BOOTP");
	r = make(OPTS(53, 1, 2, 255));
	r->len = 10;
	rejected(r, "not IPv4");

	/* A bad IP checksum (parse() fixes it, so bypass it). */
	{
		struct dhcp_reply d;
		const char *why;

		r = make(OPTS(53, 1, 2, 255));
		fix_ip_csum(r);
		r->pkt[11] ^= 1;
		CHECK_EQ(dhcp_parse_reply(r->pkt, r->len, XID, mac, &d, &why), -1);
		CHECK(!strcmp(why, "bad IP checksum"));
	}
}

TEST_MAIN("dhcp", test_build(); test_parse_good(); test_parse_hostile())
