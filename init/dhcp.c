// SPDX-License-Identifier: Apache-2.0
/*
 * A DHCP client (RFC 2131) for the interfaces the VMM marks with a
 * "net_dhcp" record: DISCOVER, OFFER, REQUEST, ACK (or an ACK straight
 * away when the server does Rapid Commit, RFC 4039, as passt does), then
 * the address, the default route, the MTU and the DNS servers. Bounded in
 * time: retransmits every 0.5, 1, 2, 2... s until the caller's deadline;
 * the lease is not renewed (the VM's life is one workload).
 *
 * It talks through an AF_PACKET socket bound to the interface, with IP and
 * UDP headers of its own: the interface has no address yet, and a reply
 * sent to the offered address would not reach a UDP socket.
 *
 * Every reply is hostile input: dhcp_parse_reply() checks the IP and UDP
 * headers, the BOOTP fields (op, hardware type, xid, chaddr, cookie), every
 * option's length against what is left and against what the option must
 * hold, and the addresses it hands out. Options in the sname/file fields
 * (option 52, overload) are not read.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <net/if_arp.h>
#include <netinet/if_ether.h>
#include <netpacket/packet.h>

#include "net.h"

#define IP_HDR	    20
#define UDP_HDR	    8
#define BOOTP_FIXED 236 /* op .. file */
#define BOOTP_MIN   300 /* what old servers expect, options padded */
#define DHCP_COOKIE 0x63825363u
#define DHCP_OPTS   (BOOTP_FIXED + 4)

#define PORT_SERVER 67
#define PORT_CLIENT 68

/* Offsets in the BOOTP message. */
enum {
	B_OP = 0,
	B_HTYPE = 1,
	B_HLEN = 2,
	B_XID = 4,
	B_SECS = 8,
	B_FLAGS = 10,
	B_YIADDR = 16,
	B_CHADDR = 28,
	B_COOKIE = BOOTP_FIXED,
};

enum {
	OPT_PAD = 0,
	OPT_MASK = 1,
	OPT_ROUTER = 3,
	OPT_DNS = 6,
	OPT_MTU = 26,
	OPT_REQUESTED_IP = 50,
	OPT_LEASE_TIME = 51,
	OPT_MSG_TYPE = 53,
	OPT_SERVER_ID = 54,
	OPT_PARAMS = 55,
	OPT_MAX_SIZE = 57,
	OPT_CLIENT_ID = 61,
	OPT_RAPID_COMMIT = 80,
	OPT_END = 255,
};

#define RETRANSMIT_FIRST_MS 500
#define RETRANSMIT_MAX_MS   2000

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An address as it is on the wire (network order), unaligned-safe. */
static uint32_t get_addr(const uint8_t *p)
{
	uint32_t a;

	memcpy(&a, p, 4);
	return a;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The Internet checksum's running sum (RFC 1071), folded by csum_fold(). */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A unicast host address a server may hand out (not 0/8, 127/8, class D/E). */
static bool usable_addr(uint32_t addr)
{
	uint8_t first = ((const uint8_t *)&addr)[0];

	return first != 0 && first != 127 && first < 224;
}

/* 1s then 0s: the prefix length is well defined. */
static bool contiguous_mask(uint32_t mask)
{
	uint32_t m = ntohl(mask);

	return m && (~m & (~m + 1)) == 0;
}

static uint32_t class_mask(uint32_t addr)
{
	uint8_t first = ((const uint8_t *)&addr)[0];

	return htonl(first < 128 ? 0xff000000u : first < 192 ? 0xffff0000u : 0xffffff00u);
}

/* The UDP payload of an IPv4 packet from the server port to ours, or NULL. */
static const uint8_t *udp_payload(const uint8_t *pkt, size_t len, size_t *plen, const char **why)
{
	size_t ihl, total, ulen;

	if (len < IP_HDR || pkt[0] >> 4 != 4)
		return *why = "not IPv4", NULL;
	ihl = (size_t)(pkt[0] & 0xf) * 4;
	total = get16(pkt + 2);
	if (ihl < IP_HDR || total < ihl + UDP_HDR || total > len)
		return *why = "bad IP lengths", NULL;
	if (get16(pkt + 6) & 0x3fff)
		return *why = "IP fragment", NULL;
	if (pkt[9] != IPPROTO_UDP)
		return *why = "not UDP", NULL;
	if (csum_fold(csum_add(0, pkt, ihl)) != 0)
		return *why = "bad IP checksum", NULL;
	pkt += ihl;
	ulen = get16(pkt + 4);
	if (get16(pkt) != PORT_SERVER || get16(pkt + 2) != PORT_CLIENT)
		return *why = "not from port 67 to 68", NULL;
	if (ulen < UDP_HDR || ulen > total - ihl)
		return *why = "bad UDP length", NULL;
	*plen = ulen - UDP_HDR;
	return pkt + UDP_HDR;
}

/* Checks one option's length against what it must hold and stores it. */
static int take_option(uint8_t code, const uint8_t *v, uint8_t len, struct dhcp_reply *r,
		       uint8_t seen[32])
{
	struct dhcp_lease *l = &r->lease;

	/* The first of each option counts; a repeat is ignored. */
	if (seen[code / 8] & (1u << (code % 8)))
		return 0;
	seen[code / 8] |= (uint8_t)(1u << (code % 8));
	switch (code) {
	case OPT_MSG_TYPE:
		if (len != 1)
			return -1;
		r->type = v[0];
		return 0;
	case OPT_MASK:
		if (len != 4 || !contiguous_mask(get_addr(v)))
			return -1;
		l->mask = get_addr(v);
		return 0;
	case OPT_ROUTER:
		if (len < 4 || len % 4)
			return -1;
		l->router = get_addr(v);
		return 0;
	case OPT_DNS:
		if (len < 4 || len % 4)
			return -1;
		for (uint8_t i = 0; i < len && l->ndns < NET_MAX_DNS; i += 4)
			if (usable_addr(get_addr(v + i)))
				l->dns[l->ndns++] = get_addr(v + i);
		return 0;
	case OPT_MTU:
		if (len != 2)
			return -1;
		l->mtu = get16(v);
		return 0;
	case OPT_LEASE_TIME:
		if (len != 4)
			return -1;
		l->lease_s = get32(v);
		return 0;
	case OPT_SERVER_ID:
		if (len != 4)
			return -1;
		l->server = get_addr(v);
		return 0;
	case OPT_RAPID_COMMIT:
		if (len != 0)
			return -1;
		r->rapid_commit = true;
		return 0;
	}
	return 0;
}

/* The options area, each option's length checked against what is left. */
static int parse_options(const uint8_t *p, size_t len, struct dhcp_reply *r, const char **why)
{
	uint8_t seen[32] = {0};
	size_t i = 0;

	while (i < len) {
		uint8_t code = p[i++], olen;

		if (code == OPT_PAD)
			continue;
		if (code == OPT_END)
			return 0;
		if (i >= len)
			return *why = "option without a length", -1;
		olen = p[i++];
		if (olen > len - i)
			return *why = "option longer than the message", -1;
		if (take_option(code, p + i, olen, r, seen) < 0)
			return *why = "bad option length or value", -1;
		i += olen;
	}
	return *why = "options without an end", -1;
}

/* The lease's addresses, as a client must find them before it uses them. */
static int check_lease(struct dhcp_reply *r, uint32_t ip_src, const char **why)
{
	struct dhcp_lease *l = &r->lease;

	if (r->type == DHCP_NAK)
		return 0;
	if (!usable_addr(l->addr))
		return *why = "no usable address offered", -1;
	if (!l->server)
		l->server = ip_src;
	if (!l->mask)
		l->mask = class_mask(l->addr);
	/* Network or broadcast address of its own subnet: unusable. */
	if (net_mask_prefix(l->mask) < 31 &&
	    ((l->addr & ~l->mask) == 0 || (l->addr | l->mask) == 0xffffffffu))
		return *why = "offered address is not a host address", -1;
	if (l->router && (!usable_addr(l->router) || l->router == l->addr))
		l->router = 0;
	if (l->mtu && (l->mtu < 576))
		l->mtu = 0;
	return 0;
}

/*
 * Parses @pkt, an IPv4 packet as the packet socket gives it, into @reply:
 * 0 if it is a DHCP OFFER, ACK or NAK for transaction @xid and hardware
 * address @mac, else -1 with the reason in *@why.
 */
int dhcp_parse_reply(const uint8_t *pkt, size_t len, uint32_t xid, const uint8_t mac[6],
		     struct dhcp_reply *reply, const char **why)
{
	const uint8_t *b;
	size_t blen;

	memset(reply, 0, sizeof(*reply));
	*why = "";
	b = udp_payload(pkt, len, &blen, why);
	if (!b)
		return -1;
	if (blen < DHCP_OPTS)
		return *why = "short BOOTP message", -1;
	if (b[B_OP] != 2 || b[B_HTYPE] != ARPHRD_ETHER || b[B_HLEN] != ETH_ALEN)
		return *why = "not a BOOTREPLY for Ethernet", -1;
	if (get32(b + B_XID) != xid)
		return *why = "another transaction", -1;
	if (memcmp(b + B_CHADDR, mac, ETH_ALEN))
		return *why = "another client's address", -1;
	if (get32(b + B_COOKIE) != DHCP_COOKIE)
		return *why = "no DHCP cookie", -1;
	if (parse_options(b + DHCP_OPTS, blen - DHCP_OPTS, reply, why) < 0)
		return -1;
	if (reply->type != DHCP_OFFER && reply->type != DHCP_ACK && reply->type != DHCP_NAK)
		return *why = "not an OFFER, ACK or NAK", -1;
	reply->lease.addr = get_addr(b + B_YIADDR);
	return check_lease(reply, get_addr(pkt + 12), why);
}

static size_t put_option(uint8_t *p, uint8_t code, const void *data, uint8_t len)
{
	p[0] = code;
	p[1] = len;
	if (len)
		memcpy(p + 2, data, len);
	return 2u + len;
}

static size_t build_options(uint8_t *p, uint8_t type, const uint8_t mac[6],
			    const struct dhcp_lease *offer)
{
	static const uint8_t params[] = {OPT_MASK, OPT_ROUTER,	   OPT_DNS,
					 OPT_MTU,  OPT_LEASE_TIME, OPT_SERVER_ID};
	uint8_t client_id[1 + ETH_ALEN] = {ARPHRD_ETHER}, max_size[2];
	size_t n = 0;

	memcpy(client_id + 1, mac, ETH_ALEN);
	put16(max_size, DHCP_PACKET_MAX);
	n += put_option(p + n, OPT_MSG_TYPE, &type, 1);
	n += put_option(p + n, OPT_CLIENT_ID, client_id, sizeof(client_id));
	n += put_option(p + n, OPT_MAX_SIZE, max_size, sizeof(max_size));
	n += put_option(p + n, OPT_PARAMS, params, sizeof(params));
	if (type == DHCP_DISCOVER)
		n += put_option(p + n, OPT_RAPID_COMMIT, NULL, 0);
	if (type == DHCP_REQUEST && offer) {
		n += put_option(p + n, OPT_REQUESTED_IP, &offer->addr, 4);
		n += put_option(p + n, OPT_SERVER_ID, &offer->server, 4);
	}
	p[n++] = OPT_END;
	return n;
}

/* IPv4 and UDP headers, from 0.0.0.0:68 to 255.255.255.255:67, checksummed. */
static void put_headers(uint8_t *pkt, size_t blen)
{
	uint8_t *ip = pkt, *udp = pkt + IP_HDR;
	uint32_t sum;

	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IP_HDR + UDP_HDR + blen));
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memset(ip + 16, 0xff, 4);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP_HDR)));
	put16(udp, PORT_CLIENT);
	put16(udp + 2, PORT_SERVER);
	put16(udp + 4, (uint16_t)(UDP_HDR + blen));
	/* Pseudo-header: addresses, protocol, UDP length. */
	sum = csum_add(0, ip + 12, 8) + IPPROTO_UDP + UDP_HDR + blen;
	sum = csum_add(sum, udp, UDP_HDR + blen);
	put16(udp + 6, csum_fold(sum) ? csum_fold(sum) : 0xffff);
}

/*
 * A DISCOVER or REQUEST (for @offer) into @buf (DHCP_PACKET_MAX bytes),
 * headers included; returns its length.
 */
size_t dhcp_build(uint8_t *buf, uint8_t type, uint32_t xid, const uint8_t mac[6], uint16_t secs,
		  const struct dhcp_lease *offer)
{
	uint8_t *b = buf + IP_HDR + UDP_HDR;
	size_t blen;

	memset(buf, 0, IP_HDR + UDP_HDR + BOOTP_MIN);
	b[B_OP] = 1;
	b[B_HTYPE] = ARPHRD_ETHER;
	b[B_HLEN] = ETH_ALEN;
	put32(b + B_XID, xid);
	put16(b + B_SECS, secs);
	put16(b + B_FLAGS, 0x8000); /* broadcast replies: we have no address yet */
	memcpy(b + B_CHADDR, mac, ETH_ALEN);
	put32(b + B_COOKIE, DHCP_COOKIE);
	blen = DHCP_OPTS + build_options(b + DHCP_OPTS, type, mac, offer);
	if (blen < BOOTP_MIN)
		blen = BOOTP_MIN;
	put_headers(buf, blen);
	return IP_HDR + UDP_HDR + blen;
}

/* --- the exchange --- */

struct dhcp_client {
	const char *ifname;
	int fd, ifindex;
	uint8_t mac[ETH_ALEN];
	uint32_t xid;
	struct timespec start;
	unsigned int sent, rejected;
	const char *last_why;
	uint8_t pkt[DHCP_PACKET_MAX];
};

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint32_t new_xid(void)
{
	uint32_t xid;

	if (getrandom(&xid, sizeof(xid), GRND_NONBLOCK) != sizeof(xid))
		xid = (uint32_t)now_ms() * 2654435761u ^ (uint32_t)getpid();
	return xid;
}

static int client_open(struct dhcp_client *c)
{
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_IP),
	    .sll_ifindex = c->ifindex,
	};
	struct ifreq ifr = {0};

	c->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (c->fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, c->ifname, IFNAMSIZ - 1);
	if (bind(c->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    ioctl(c->fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		return -EPFNOSUPPORT;
	memcpy(c->mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	return 0;
}

static int client_send(struct dhcp_client *c, uint8_t type, const struct dhcp_lease *offer)
{
	struct sockaddr_ll to = {
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(ETH_P_IP),
	    .sll_ifindex = c->ifindex,
	    .sll_halen = ETH_ALEN,
	    .sll_addr = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	};
	long long secs =
	    (now_ms() - (c->start.tv_sec * 1000LL + c->start.tv_nsec / 1000000)) / 1000;
	size_t len = dhcp_build(c->pkt, type, c->xid, c->mac, (uint16_t)secs, offer);

	c->sent++;
	if (sendto(c->fd, c->pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

/*
 * Waits until @until_ms for a reply of a type in @want (a bit per type),
 * from @server if not 0. 1 with it in @r, 0 on timeout, negative on error.
 */
static int client_wait(struct dhcp_client *c, long long until_ms, unsigned int want,
		       uint32_t server, struct dhcp_reply *r)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	struct sockaddr_ll from;
	socklen_t flen;
	const char *why;
	ssize_t n;
	long long left;

	while ((left = until_ms - now_ms()) > 0) {
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		if (!(pfd.revents & POLLIN))
			continue;
		flen = sizeof(from);
		n = recvfrom(c->fd, c->pkt, sizeof(c->pkt), MSG_DONTWAIT, (struct sockaddr *)&from,
			     &flen);
		if (n < 0 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (dhcp_parse_reply(c->pkt, (size_t)n, c->xid, c->mac, r, &why) < 0) {
			/* Other IP traffic is no news; say what was wrong with DHCP. */
			if (strcmp(why, "not UDP") && strcmp(why, "not from port 67 to 68")) {
				c->rejected++;
				c->last_why = why;
			}
			continue;
		}
		if (!(want & (1u << r->type)) || (server && r->lease.server != server))
			continue;
		return 1;
	}
	return 0;
}

/*
 * One message and its retransmits until a wanted reply or @deadline:
 * 1 with the reply, 0 on timeout, negative on error.
 */
static int client_exchange(struct dhcp_client *c, uint8_t type, const struct dhcp_lease *offer,
			   unsigned int want, long long deadline, struct dhcp_reply *r)
{
	long long interval = RETRANSMIT_FIRST_MS, until;
	int ret;

	while (now_ms() < deadline) {
		ret = client_send(c, type, offer);
		if (ret < 0 && ret != -ENETDOWN && ret != -ENOBUFS)
			return ret;
		until = now_ms() + interval;
		ret = client_wait(c, until < deadline ? until : deadline, want,
				  offer ? offer->server : 0, r);
		if (ret)
			return ret;
		interval = interval * 2 > RETRANSMIT_MAX_MS ? RETRANSMIT_MAX_MS : interval * 2;
	}
	return 0;
}

/* DISCOVER/OFFER then REQUEST/ACK (a NAK starts over): 1 with the ACK. */
static int client_lease(struct dhcp_client *c, long long deadline, struct dhcp_reply *ack)
{
	struct dhcp_reply offer;
	int ret;

	for (;;) {
		c->xid = new_xid();
		ret = client_exchange(c, DHCP_DISCOVER, NULL, 1u << DHCP_OFFER | 1u << DHCP_ACK,
				      deadline, &offer);
		if (ret <= 0)
			return ret;
		if (offer.type == DHCP_ACK && offer.rapid_commit) {
			*ack = offer;
			return 1;
		}
		if (offer.type != DHCP_OFFER)
			continue;
		ret = client_exchange(c, DHCP_REQUEST, &offer.lease,
				      1u << DHCP_ACK | 1u << DHCP_NAK, deadline, ack);
		if (ret <= 0 || ack->type == DHCP_ACK)
			return ret;
	}
}

static int apply_lease(const struct dhcp_client *c, const struct dhcp_lease *l,
		       const char *resolv_conf)
{
	uint32_t net = l->addr & l->mask;
	int err;

	if (l->mtu) {
		err = net_set_mtu(c->ifindex, l->mtu);
		if (err)
			say("%s: cannot set the MTU %u from DHCP: %s", c->ifname, l->mtu,
			    strerror(-err));
	}
	err = net_addr_add(c->ifindex, l->addr, net_mask_prefix(l->mask));
	if (err)
		return err;
	if (l->router) {
		err = net_route_default(c->ifindex, l->router, (l->router & l->mask) != net);
		if (err == -EEXIST)
			note("%s: a default route exists already: kept", c->ifname);
		else if (err)
			return err;
	}
	if (l->ndns && resolv_conf) {
		err = net_write_resolv_conf(resolv_conf, l->dns, l->ndns, true);
		if (err)
			say("%s: DNS servers from DHCP not written to %s: %s", c->ifname,
			    resolv_conf, strerror(-err));
	}
	return 0;
}

static void say_lease(const struct dhcp_client *c, const struct dhcp_lease *l, long long ms)
{
	char a[16], r[16], d[16];

	note("%s: DHCP lease %s/%u router %s dns %s%s in %lld ms", c->ifname, net_ntoa(l->addr, a),
	     net_mask_prefix(l->mask), l->router ? net_ntoa(l->router, r) : "none",
	     l->ndns ? net_ntoa(l->dns[0], d) : "none", l->ndns > 1 ? " ..." : "", ms);
}

/*
 * Configures @ifname (which must be up) by DHCP within @timeout_ms; DNS
 * servers go to @resolv_conf (NULL: nowhere). 0 with the lease in @lease
 * (noted in the kernel log only: the workload's stderr stays clean);
 * otherwise one line says why and a negative errno comes back.
 */
int dhcp_configure(const char *ifname, unsigned int timeout_ms, const char *resolv_conf,
		   struct dhcp_lease *lease)
{
	static struct dhcp_client c;
	long long start = now_ms(), deadline = start + timeout_ms;
	struct dhcp_reply ack;
	int ret;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.ifname = ifname;
	c.ifindex = net_ifindex(ifname);
	clock_gettime(CLOCK_MONOTONIC, &c.start);
	ret = c.ifindex < 0 ? c.ifindex : client_open(&c);
	if (ret == 0)
		ret = client_lease(&c, deadline, &ack);
	if (c.fd >= 0)
		close(c.fd);
	if (ret == 0) {
		say("%s: no DHCP lease within %u ms (%u requests sent, %u replies rejected%s%s)",
		    ifname, timeout_ms, c.sent, c.rejected, c.rejected ? ", last: " : "",
		    c.rejected ? c.last_why : "");
		return -ETIMEDOUT;
	}
	if (ret > 0)
		ret = apply_lease(&c, &ack.lease, resolv_conf);
	if (ret < 0) {
		say("%s: DHCP failed: %s", ifname, strerror(-ret));
		return ret;
	}
	say_lease(&c, &ack.lease, now_ms() - start);
	*lease = ack.lease;
	return 0;
}
