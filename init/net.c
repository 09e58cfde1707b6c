// SPDX-License-Identifier: Apache-2.0
/*
 * Interfaces, addresses and routes, by rtnetlink (no ifconfig, ip or
 * busybox in the guest), and /etc/resolv.conf. Each request opens its own
 * netlink socket, asks for an ACK and waits for it at most a second: there
 * are a handful of requests per boot. No AF_INET socket is used, so this
 * also works when the kernel hijacks AF_INET for TSI.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "net.h"

#define NL_BUF 512

struct nl_msg {
	union {
		struct nlmsghdr nh;
		char buf[NL_BUF];
	};
};

/* A request of @type with fixed header @body; attributes follow. */
static void nl_init(struct nl_msg *m, uint16_t type, uint16_t flags, const void *body, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->nh.nlmsg_len = NLMSG_LENGTH(len);
	m->nh.nlmsg_type = type;
	m->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	m->nh.nlmsg_seq = 1;
	memcpy(NLMSG_DATA(&m->nh), body, len);
}

/* Appends an attribute; returns its offset (for nl_nest_end()). */
static size_t nl_attr(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(m->nh.nlmsg_len);
	struct rtattr *rta = (struct rtattr *)(m->buf + off);

	/* The requests here are small and fixed: overflowing is a bug. */
	if (off + RTA_SPACE(len) > sizeof(m->buf))
		return 0;
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	m->nh.nlmsg_len = off + RTA_SPACE(len);
	return off;
}

static void nl_nest_end(struct nl_msg *m, size_t off)
{
	struct rtattr *rta = (struct rtattr *)(m->buf + off);

	rta->rta_len = m->nh.nlmsg_len - off;
}

/* Sends @m and waits for its ACK: 0, or the kernel's negative errno. */
static int nl_request(struct nl_msg *m)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct timeval tv = {.tv_sec = 1};
	struct nl_msg reply;
	struct nlmsgerr *err;
	ssize_t n;
	int fd, ret = -EIO;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, m, m->nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		n = recv(fd, &reply, sizeof(reply), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		if ((size_t)n < NLMSG_LENGTH(sizeof(*err)) || reply.nh.nlmsg_len > (size_t)n)
			break;
		if (reply.nh.nlmsg_seq != m->nh.nlmsg_seq || reply.nh.nlmsg_type != NLMSG_ERROR)
			continue;
		err = NLMSG_DATA(&reply.nh);
		ret = err->error;
		break;
	}
out:
	close(fd);
	return ret;
}

/* From sysfs: if_nametoindex() would need an AF_UNIX or AF_INET socket. */
int net_ifindex(const char *ifname)
{
	char path[64], text[16];
	ssize_t n;
	int fd, index;

	if (!*ifname || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/') || ifname[0] == '.')
		return -EINVAL;
	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", ifname);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	text[n] = '\0';
	if (sscanf(text, "%d", &index) != 1 || index <= 0)
		return -EIO;
	return index;
}

static int link_change(int ifindex, unsigned int mtu)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
	struct nl_msg m;

	if (!mtu)
		ifi.ifi_flags = ifi.ifi_change = IFF_UP;
	nl_init(&m, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	if (mtu)
		nl_attr(&m, IFLA_MTU, &mtu, sizeof(mtu));
	return nl_request(&m);
}

int net_link_up(int ifindex)
{
	return link_change(ifindex, 0);
}

int net_set_mtu(int ifindex, unsigned int mtu)
{
	return link_change(ifindex, mtu);
}

/* @addr/@prefix on @ifindex, with its broadcast address; replaces an old one. */
int net_addr_add(int ifindex, uint32_t addr, unsigned int prefix)
{
	struct ifaddrmsg ifa = {
	    .ifa_family = AF_INET,
	    .ifa_prefixlen = (uint8_t)prefix,
	    .ifa_scope = RT_SCOPE_UNIVERSE,
	    .ifa_index = (uint32_t)ifindex,
	};
	uint32_t mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
	uint32_t brd = addr | ~mask;
	struct nl_msg m;

	if (prefix > 32)
		return -EINVAL;
	nl_init(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, &ifa, sizeof(ifa));
	nl_attr(&m, IFA_LOCAL, &addr, sizeof(addr));
	nl_attr(&m, IFA_ADDRESS, &addr, sizeof(addr));
	if (prefix < 31)
		nl_attr(&m, IFA_BROADCAST, &brd, sizeof(brd));
	return nl_request(&m);
}

/*
 * The default route through @gateway on @ifindex; -EEXIST if there is one
 * already (the first interface configured keeps it). @onlink when the
 * gateway is outside the interface's subnet (the kernel would refuse it as
 * unreachable otherwise).
 */
int net_route_default(int ifindex, uint32_t gateway, bool onlink)
{
	struct rtmsg rt = {
	    .rtm_family = AF_INET,
	    .rtm_table = RT_TABLE_MAIN,
	    .rtm_protocol = RTPROT_DHCP,
	    .rtm_scope = RT_SCOPE_UNIVERSE,
	    .rtm_type = RTN_UNICAST,
	    .rtm_flags = onlink ? RTNH_F_ONLINK : 0,
	};
	uint32_t oif = (uint32_t)ifindex;
	struct nl_msg m;

	nl_init(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof(rt));
	nl_attr(&m, RTA_GATEWAY, &gateway, sizeof(gateway));
	nl_attr(&m, RTA_OIF, &oif, sizeof(oif));
	return nl_request(&m);
}

/* A new interface of kind "dummy" (CONFIG_DUMMY); -EEXIST if it is there. */
int net_dummy_create(const char *ifname)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
	static const char kind[] = "dummy";
	struct nl_msg m;
	size_t info;

	nl_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	nl_attr(&m, IFLA_IFNAME, ifname, strlen(ifname) + 1);
	info = nl_attr(&m, IFLA_LINKINFO, NULL, 0);
	nl_attr(&m, IFLA_INFO_KIND, kind, sizeof(kind) - 1);
	nl_nest_end(&m, info);
	return nl_request(&m);
}

const char *net_ntoa(uint32_t addr, char buf[16])
{
	const uint8_t *b = (const uint8_t *)&addr;

	snprintf(buf, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	return buf;
}

/* The prefix length of a contiguous @mask (dhcp.c checks that it is). */
unsigned int net_mask_prefix(uint32_t mask)
{
	return (unsigned int)__builtin_popcount(mask);
}

static int write_all(int fd, const char *text, size_t len)
{
	ssize_t n;

	for (size_t done = 0; done < len; done += (size_t)n) {
		n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			n = 0;
		else if (n < 0)
			return -errno;
	}
	return 0;
}

/*
 * "nameserver A" lines for @dns at @path. With @replace, an existing file
 * is replaced (atomically: a new file renamed over it); without, an
 * existing file (or symlink) is left alone and -EEXIST returned. -EROFS on
 * a read-only root.
 */
int net_write_resolv_conf(const char *path, const uint32_t *dns, unsigned int n, bool replace)
{
	char text[NET_MAX_DNS * 32 + 64], tmp[256], a[16];
	size_t len = 0;
	int fd, err;

	len += (size_t)snprintf(text, sizeof(text), "# written by krun-init\n");
	for (unsigned int i = 0; i < n && i < NET_MAX_DNS; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "nameserver %s\n",
					net_ntoa(dns[i], a));
	if (!replace) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		err = write_all(fd, text, len);
		close(fd);
		return err;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.krun-init", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	err = write_all(fd, text, len);
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}
