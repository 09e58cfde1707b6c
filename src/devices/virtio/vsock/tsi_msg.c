// SPDX-License-Identifier: Apache-2.0
/*
 * TSI control messages (layouts in tsi.h) and the checks on what they carry:
 * pure functions, on a copy of the payload the guest can no longer change.
 * A message may be longer than its layout (the rest is ignored), never
 * shorter; an address length is never trusted beyond its field or the
 * payload.
 */
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "devices/virtio/vsock/tsi.h"

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

/* u32 addr_len then the address, at offset "at" of the payload. */
static enum tsi_verdict take_addr(const uint8_t *p, uint32_t len, uint32_t at, struct tsi_msg *m)
{
	if (len < at + 4)
		return TSI_MSG_SHORT;
	m->addr_len = get32(p + at);
	if (m->addr_len > TSI_ADDR_MAX || m->addr_len > len - at - 4)
		return TSI_MSG_BAD_ADDR_LEN;
	memcpy(m->addr, p + at + 4, m->addr_len);
	return TSI_MSG_OK;
}

enum tsi_verdict tsi_msg_parse(uint32_t dst_port, const uint8_t *p, uint32_t len, struct tsi_msg *m)
{
	static const uint8_t min_len[] = {
	    [TSI_PROXY_CREATE - TSI_PROXY_CREATE] = 8, [TSI_CONNECT - TSI_PROXY_CREATE] = 8,
	    [TSI_GETNAME - TSI_PROXY_CREATE] = 12,     [TSI_SENDTO_ADDR - TSI_PROXY_CREATE] = 8,
	    [TSI_SENDTO_DATA - TSI_PROXY_CREATE] = 0,  [TSI_LISTEN - TSI_PROXY_CREATE] = 16,
	    [TSI_ACCEPT - TSI_PROXY_CREATE] = 8,       [TSI_PROXY_RELEASE - TSI_PROXY_CREATE] = 8,
	};

	memset(m, 0, sizeof(*m) - sizeof(m->addr));
	m->port = dst_port;
	if (dst_port < TSI_PROXY_CREATE || dst_port > TSI_PROXY_RELEASE)
		return TSI_MSG_NOT_CONTROL;
	if (len < min_len[dst_port - TSI_PROXY_CREATE])
		return TSI_MSG_SHORT;
	if (dst_port == TSI_SENDTO_DATA)
		return TSI_MSG_OK; /* the payload is the datagram; svm_port is src_port */
	m->svm_port = get32(p);
	switch (dst_port) {
	case TSI_PROXY_CREATE:
		m->family = get16(p + 4);
		m->type = get16(p + 6);
		return TSI_MSG_OK;
	case TSI_CONNECT:
	case TSI_SENDTO_ADDR:
		return take_addr(p, len, 4, m);
	case TSI_GETNAME:
		m->peer_port = get32(p + 4);
		m->peer = get32(p + 8);
		return TSI_MSG_OK;
	case TSI_LISTEN:
		m->vm_port = get32(p + 4);
		m->backlog = get32(p + 8);
		return take_addr(p, len, 12, m);
	case TSI_ACCEPT:
		m->flags = (int32_t)get32(p + 4);
		return TSI_MSG_OK;
	default: /* TSI_PROXY_RELEASE */
		m->peer_port = get32(p + 4);
		return TSI_MSG_OK;
	}
}

static int check_unix(const uint8_t *addr, uint32_t len, struct sockaddr_storage *sa,
		      socklen_t *sa_len)
{
	struct sockaddr_un *un = (struct sockaddr_un *)sa;
	uint32_t path_len = len - (uint32_t)offsetof(struct sockaddr_un, sun_path);
	const uint8_t *path = addr + offsetof(struct sockaddr_un, sun_path);
	const uint8_t *nul;

	if (len <= offsetof(struct sockaddr_un, sun_path) || path[0] != '/')
		return -EINVAL; /* unnamed, abstract or relative: only absolute paths */
	nul = memchr(path, 0, path_len);
	if (nul)
		path_len = (uint32_t)(nul - path);
	if (path_len >= sizeof(un->sun_path))
		return -EINVAL;
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, path, path_len);
	un->sun_path[path_len] = '\0';
	*sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len + 1);
	return 0;
}

int tsi_addr_check(int family, const uint8_t *addr, uint32_t len, struct sockaddr_storage *sa,
		   socklen_t *sa_len)
{
	uint16_t got;

	memset(sa, 0, sizeof(*sa));
	if (len < 2 || len > TSI_ADDR_MAX)
		return -EINVAL;
	got = get16(addr); /* the guest is little-endian, as its sockaddr */
	if (got != family)
		return -EAFNOSUPPORT;
	switch (family) {
	case AF_INET:
		if (len < sizeof(struct sockaddr_in))
			return -EINVAL;
		memcpy(sa, addr, sizeof(struct sockaddr_in));
		((struct sockaddr_in *)sa)->sin_family = AF_INET;
		*sa_len = sizeof(struct sockaddr_in);
		return 0;
	case AF_INET6:
		/* RFC 2133's 24-byte form (no scope id) too, as Linux takes it. */
		if (len < 24)
			return -EINVAL;
		memcpy(sa, addr,
		       len < sizeof(struct sockaddr_in6) ? 24 : sizeof(struct sockaddr_in6));
		((struct sockaddr_in6 *)sa)->sin6_family = AF_INET6;
		/* A guest interface index means nothing on the host. */
		((struct sockaddr_in6 *)sa)->sin6_scope_id = 0;
		*sa_len = sizeof(struct sockaddr_in6);
		return 0;
	case AF_UNIX:
		return check_unix(addr, len, sa, sa_len);
	default:
		return -EAFNOSUPPORT;
	}
}

bool tsi_family_allowed(uint32_t features, uint16_t family, uint16_t type)
{
	if (type != TSI_SOCK_STREAM && type != TSI_SOCK_DGRAM)
		return false;
	if (family == AF_INET || family == AF_INET6)
		return features & TSI_INET;
	if (family == AF_UNIX)
		return features & TSI_UNIX;
	return false;
}

int tsi_port_map_lookup(const struct tsi_port_pair *map, unsigned int n, uint16_t guest_port)
{
	if (!map)
		return guest_port;
	if (!guest_port)
		return -1;
	for (unsigned int i = 0; i < n; i++)
		if (map[i].guest == guest_port)
			return map[i].host;
	return -1;
}
