/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's network setup (net.c: interfaces, addresses and routes by
 * rtnetlink; dhcp.c: the DHCP client and its reply parser). Plain Linux
 * and C, no init state: the host tests (tests/integration/net/) and the
 * fuzz target build these files on their own. Addresses are in network
 * byte order throughout.
 */
#ifndef KRUN_INIT_NET_H
#define KRUN_INIT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAX_DNS 3

/* What a DHCPACK gives, checked (see dhcp_parse_reply()). */
struct dhcp_lease {
	uint32_t addr;	 /* yiaddr */
	uint32_t mask;	 /* option 1, or the address class's */
	uint32_t router; /* option 3's first, 0 if none */
	uint32_t server; /* option 54, or the IP source of the reply */
	uint32_t dns[NET_MAX_DNS];
	unsigned int ndns;
	uint32_t lease_s; /* option 51, 0 if none */
	uint16_t mtu;	  /* option 26, 0 if none */
};

/* DHCP message types (option 53). */
enum {
	DHCP_DISCOVER = 1,
	DHCP_OFFER = 2,
	DHCP_REQUEST = 3,
	DHCP_DECLINE = 4,
	DHCP_ACK = 5,
	DHCP_NAK = 6,
};

struct dhcp_reply {
	uint8_t type;
	bool rapid_commit; /* option 80: an ACK that answers a DISCOVER */
	struct dhcp_lease lease;
};

/* Largest DHCP packet built or accepted, IP header included. */
#define DHCP_PACKET_MAX 1500

/* One line of output (init.c's, or the host test's); note(): the kernel log's. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* dhcp.c */
int dhcp_parse_reply(const uint8_t *pkt, size_t len, uint32_t xid, const uint8_t mac[6],
		     struct dhcp_reply *reply, const char **why);
size_t dhcp_build(uint8_t *buf, uint8_t type, uint32_t xid, const uint8_t mac[6], uint16_t secs,
		  const struct dhcp_lease *offer);
int dhcp_configure(const char *ifname, unsigned int timeout_ms, const char *resolv_conf,
		   struct dhcp_lease *lease);

/* net.c */
int net_ifindex(const char *ifname);
int net_link_up(int ifindex);
int net_set_mtu(int ifindex, unsigned int mtu);
int net_addr_add(int ifindex, uint32_t addr, unsigned int prefix);
int net_route_default(int ifindex, uint32_t gateway, bool onlink);
int net_dummy_create(const char *ifname);
int net_write_resolv_conf(const char *path, const uint32_t *dns, unsigned int n, bool replace);
unsigned int net_mask_prefix(uint32_t mask);
const char *net_ntoa(uint32_t addr, char buf[16]);

#endif
