// SPDX-License-Identifier: Apache-2.0
/*
 * The TSI backend (protocol in tsi.h): a table of proxies, each the host
 * socket of one guest TSI socket, driven by the guest's control datagrams.
 *
 *  - A stream proxy connects without blocking; its CONNECT is answered when
 *    the connect completes. The guest connects its vsock stream to port 620
 *    and the proxy's fd becomes that connection's host end (conn.c: credit,
 *    a host EOF as SHUTDOWN so the guest reads everything first). The proxy
 *    keeps the socket's names for GETNAME. A guest that knows this VMM
 *    (tsi_pipeline on its command line) sends that vsock connect before
 *    CONNECT, without waiting for an answer: it is held, and answered
 *    (RESPONSE, or a reset if the connect failed) with CONNECT, in the same
 *    interrupt: one round trip instead of two.
 *  - A listening proxy binds the host port the port map gives; each
 *    connection it accepts becomes a vsock connection to the guest's listening
 *    port, and once the guest took it (RESPONSE) an ACCEPT is answered, or one
 *    is counted as pending for the next ACCEPT.
 *  - A datagram proxy sends what the guest gives it to the SENDTO_ADDR
 *    destination (or its connected peer) and passes what arrives back as
 *    datagrams to the guest's svm_port.
 *
 * Immediate replies wait in a small ring (transmit stops while it is full);
 * replies that come later (a connect completing, a connection for a blocked
 * accept) are flags on their proxy, on the list of proxies with something for
 * the guest, with the datagram sockets that have data.
 *
 * The guest is hostile: every length and address is checked (tsi_msg.c), a
 * host socket is only ever of a family the features enabled, the table is
 * capped, unix paths are absolute and only sockets are ever unlinked.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/vsock/tsi.h"
#include "vmm/iov.h"
#include "vmm/log.h"
#include "vmm/util.h"

#define ACCEPT_BATCH  16 /* connections a listener takes per event */
#define DGRAM_BATCH   8	 /* datagrams of one socket per turn */
#define TSI_REPLY_MAX (8 + TSI_ADDR_MAX)
/* The source port of datagrams the host sends a UDP proxy's guest socket. */
#define TSI_DGRAM_SRC_PORT TSI_SENDTO_DATA

enum proxy_state {
	P_FREE,
	P_IDLE,	      /* a host socket, not connected */
	P_CONNECTING, /* a non-blocking connect in progress */
	P_CONNECTED,  /* stream: waits for the guest's connect to port 620 */
	P_LISTENING,
	P_STREAM,   /* stream: its fd is a vsock connection's host end now */
	P_ACCEPTED, /* a connection a listener took: the vsock connection has its fd */
	P_DGRAM,    /* datagram socket (bound or connected: data may come back) */
};

enum { DEFER_CONNECT = 1 << 0, DEFER_ACCEPT = 1 << 1 };

enum tsi_warn {
	TW_SHORT,
	TW_ADDR_LEN,
	TW_ADDR,
	TW_FAMILY,
	TW_FULL,
	TW_NO_PROXY,
	TW_STATE,
	TW_REPLY_BUFFER,
};

static const char *const tsi_warn_text[] = {
    [TW_SHORT] = "a control message shorter than its layout",
    [TW_ADDR_LEN] = "an address length beyond its field or message",
    [TW_ADDR] = "an address that is malformed or of the wrong family",
    [TW_FAMILY] = "a socket of a family or type TSI does not proxy here",
    [TW_FULL] = "more proxies than the table holds",
    [TW_NO_PROXY] = "a message for a proxy that does not exist",
    [TW_STATE] = "a message its proxy's state does not allow",
    [TW_REPLY_BUFFER] = "a receive buffer too small for a reply",
};

struct tsi_proxy {
	enum proxy_state state;
	uint32_t svm_port, peer_port; /* the key */
	uint32_t ctrl_port;	      /* the guest's control socket: replies */
	uint16_t family, type;
	struct vsock_watch watch; /* watch.fd: the host socket, -1 once handed over */
	bool watched;
	bool dgram_connected, readable, on_list;
	bool connect_tried; /* stream: a CONNECT came */
	bool stream_held;   /* the guest's vsock connect waits for the connect */
	uint8_t deferred;   /* DEFER_* */
	int32_t connect_result;
	/* Names kept when the fd went to a connection (GETNAME). */
	struct sockaddr_storage name, peer;
	socklen_t name_len, peer_len;
	/* Datagrams: where SENDTO_DATA goes. */
	struct sockaddr_storage dest;
	socklen_t dest_len;
	/* Listening: the guest's vsock port, accepts. */
	uint32_t vm_port, pending, waiting, ready;
	/* Accepted: the listener (its svm_port), whether the guest has it yet. */
	uint32_t listener;
	bool announced;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* listening: to remove */
	struct tsi_proxy *next;
};

struct tsi_reply {
	uint32_t src_port, dst_port, len;
	uint8_t data[TSI_REPLY_MAX];
};

struct tsi_backend {
	struct vsock_backend backend;
	struct tsi_config cfg;
	struct tsi_port_pair *map;
	struct tsi_proxy proxies[TSI_MAX_PROXIES];
	unsigned int nproxies;
	struct tsi_proxy *list_head, *list_tail; /* something for the guest */
	struct tsi_reply ring[TSI_REPLY_RING];
	unsigned int ring_head, ring_count;
	uint32_t warned;
	struct tsi_msg msg;
	uint8_t buf[TSI_MSG_MAX];
	struct iovec iov[VIRTQ_MAX_CHAIN];
};

static struct tsi_backend *tsi_of(struct vsock_backend *b)
{
	return (struct tsi_backend *)b;
}

static void tsi_warn(struct tsi_backend *t, enum tsi_warn kind)
{
	if (t->warned & (1u << kind))
		return;
	t->warned |= 1u << kind;
	pr_warn("virtio-vsock: TSI: the guest sent %s (refused; logged once)", tsi_warn_text[kind]);
}

/* ---- the table --------------------------------------------------------------- */

static struct tsi_proxy *proxy_find(struct tsi_backend *t, uint32_t svm_port, uint32_t peer_port)
{
	for (unsigned int i = 0; i < TSI_MAX_PROXIES; i++) {
		struct tsi_proxy *p = &t->proxies[i];

		if (p->state != P_FREE && p->svm_port == svm_port && p->peer_port == peer_port)
			return p;
	}
	return NULL;
}

static struct tsi_proxy *proxy_alloc(struct tsi_backend *t, uint32_t svm_port, uint32_t peer_port)
{
	for (unsigned int i = 0; i < TSI_MAX_PROXIES; i++) {
		struct tsi_proxy *p = &t->proxies[i];

		if (p->state != P_FREE)
			continue;
		memset(p, 0, sizeof(*p));
		p->svm_port = svm_port;
		p->peer_port = peer_port;
		p->state = P_IDLE;
		p->watch = (struct vsock_watch){VSOCK_WATCH_BACKEND, -1, &t->backend};
		t->nproxies++;
		return p;
	}
	tsi_warn(t, TW_FULL);
	return NULL;
}

static void list_unlink(struct tsi_backend *t, struct tsi_proxy *p)
{
	struct tsi_proxy **link = &t->list_head, *prev = NULL;

	if (!p->on_list)
		return;
	while (*link && *link != p) {
		prev = *link;
		link = &(*link)->next;
	}
	if (*link)
		*link = p->next;
	if (t->list_tail == p)
		t->list_tail = prev;
	p->next = NULL;
	p->on_list = false;
}

static void list_add(struct tsi_backend *t, struct tsi_proxy *p)
{
	if (p->on_list)
		return;
	p->next = NULL;
	if (t->list_tail)
		t->list_tail->next = p;
	else
		t->list_head = p;
	t->list_tail = p;
	p->on_list = true;
}

static void proxy_free(struct tsi_backend *t, struct tsi_proxy *p)
{
	if (p->stream_held) {
		p->stream_held = false;
		vsock_core_connect_done(t->backend.core, TSI_PROXY_PORT, p->svm_port, -ECONNRESET);
	}
	list_unlink(t, p);
	if (p->watch.fd >= 0)
		close(p->watch.fd); /* leaves the epoll set with it */
	if (p->unix_path[0])
		unlink(p->unix_path);
	p->state = P_FREE;
	t->nproxies--;
}

static int watch(struct tsi_backend *t, struct tsi_proxy *p, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = &p->watch};
	int op = p->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (epoll_ctl(t->backend.core->epfd, op, p->watch.fd, &ev) < 0)
		return -errno;
	p->watched = true;
	return 0;
}

static void unwatch(struct tsi_backend *t, struct tsi_proxy *p)
{
	if (p->watched)
		epoll_ctl(t->backend.core->epfd, EPOLL_CTL_DEL, p->watch.fd, NULL);
	p->watched = false;
}

/* ---- replies ----------------------------------------------------------------- */

static void reply(struct tsi_backend *t, uint32_t msg, uint32_t ctrl, const void *data,
		  uint32_t len)
{
	struct tsi_reply *r;

	if (t->ring_count == TSI_REPLY_RING)
		return; /* cannot happen: transmit waits while the ring is full */
	r = &t->ring[(t->ring_head + t->ring_count++) % TSI_REPLY_RING];
	r->src_port = msg;
	r->dst_port = ctrl;
	r->len = len;
	memcpy(r->data, data, len);
}

static void reply_result(struct tsi_backend *t, uint32_t msg, uint32_t ctrl, int32_t result)
{
	uint32_t le = htole32((uint32_t)result);

	reply(t, msg, ctrl, &le, sizeof(le));
}

static void reply_getname(struct tsi_backend *t, uint32_t ctrl, int32_t result,
			  const struct sockaddr_storage *sa, socklen_t len)
{
	uint8_t data[TSI_REPLY_MAX] = {0};
	uint32_t v = htole32((uint32_t)result);

	if (result < 0)
		len = 0;
	len = MIN(len, (socklen_t)TSI_ADDR_MAX);
	memcpy(data, &v, 4);
	v = htole32((uint32_t)len);
	memcpy(data + 4, &v, 4);
	if (len)
		memcpy(data + 8, sa, len);
	reply(t, TSI_GETNAME, ctrl, data, sizeof(data));
}

static void defer(struct tsi_backend *t, struct tsi_proxy *p, uint8_t what)
{
	p->deferred |= what;
	list_add(t, p);
}

/* ---- host sockets ------------------------------------------------------------- */

static void keep_names(struct tsi_proxy *p)
{
	p->name_len = sizeof(p->name);
	if (getsockname(p->watch.fd, (struct sockaddr *)&p->name, &p->name_len) < 0)
		p->name_len = 0;
	p->peer_len = sizeof(p->peer);
	if (getpeername(p->watch.fd, (struct sockaddr *)&p->peer, &p->peer_len) < 0)
		p->peer_len = 0;
}

/* Datagrams may come back once the socket has a local address. */
static void dgram_ready(struct tsi_backend *t, struct tsi_proxy *p)
{
	p->state = P_DGRAM;
	if (!p->watched && watch(t, p, EPOLLIN | EPOLLET) == 0) {
		p->readable = true; /* whatever came before the watch */
		list_add(t, p);
	}
}

/* A bound, unconnected datagram socket sends to any destination: bind on first use. */
static int dgram_bind_any(struct tsi_proxy *p)
{
	struct sockaddr_storage sa = {.ss_family = p->family};
	socklen_t len;

	if (p->state == P_DGRAM)
		return 0;
	switch (p->family) {
	case AF_INET:
		len = sizeof(struct sockaddr_in); /* 0.0.0.0:0 */
		break;
	case AF_INET6:
		len = sizeof(struct sockaddr_in6); /* [::]:0 */
		break;
	default:
		len = sizeof(sa_family_t); /* unix: an autobound abstract name */
		break;
	}
	return bind(p->watch.fd, (struct sockaddr *)&sa, len) < 0 ? -errno : 0;
}

/* ---- control messages ----------------------------------------------------------- */

static void msg_create(struct tsi_backend *t, const struct tsi_msg *m)
{
	struct tsi_proxy *p;
	int type = m->type == TSI_SOCK_STREAM ? SOCK_STREAM : SOCK_DGRAM;
	int fd;

	if (!tsi_family_allowed(t->cfg.features, m->family, m->type)) {
		tsi_warn(t, TW_FAMILY);
		return;
	}
	p = proxy_find(t, m->svm_port, TSI_PROXY_PORT);
	if (p)
		proxy_free(t, p); /* the guest reused the port: the old socket is gone */
	p = proxy_alloc(t, m->svm_port, TSI_PROXY_PORT);
	if (!p)
		return;
	fd = socket(m->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pr_debug("virtio-vsock: TSI: socket(%u, %u): %s", m->family, m->type,
			 strerror(errno));
		proxy_free(t, p);
		return;
	}
	p->watch.fd = fd;
	p->family = m->family;
	p->type = m->type;
}

/* The proxy of a guest socket, or NULL (and the error for its reply). */
static struct tsi_proxy *guest_proxy(struct tsi_backend *t, uint32_t svm_port, int32_t *err)
{
	struct tsi_proxy *p = proxy_find(t, svm_port, TSI_PROXY_PORT);

	if (!p) {
		tsi_warn(t, TW_NO_PROXY);
		/* PROXY_CREATE found the table full, or never came */
		*err = t->nproxies == TSI_MAX_PROXIES ? -ENOBUFS : -EINVAL;
	}
	return p;
}

static int32_t take_addr(struct tsi_backend *t, const struct tsi_proxy *p, const struct tsi_msg *m,
			 struct sockaddr_storage *sa, socklen_t *len)
{
	int ret = tsi_addr_check(p->family, m->addr, m->addr_len, sa, len);

	if (ret < 0)
		tsi_warn(t, TW_ADDR);
	return ret;
}

/* The proxy's socket becomes the host end of the guest's vsock stream. */
static int hand_over(struct tsi_backend *t, struct tsi_proxy *p)
{
	int fd = p->watch.fd;

	keep_names(p);
	unwatch(t, p);
	p->watch.fd = -1;
	p->state = P_STREAM;
	return fd;
}

/* The guest's vsock connect to port 620 waited for this connect: answer it. */
static void answer_held_stream(struct tsi_backend *t, struct tsi_proxy *p)
{
	struct vsock_core *vc = t->backend.core;
	int fd;

	p->stream_held = false;
	if (p->state != P_CONNECTED) {
		vsock_core_connect_done(vc, TSI_PROXY_PORT, p->svm_port, -ECONNREFUSED);
		return;
	}
	fd = hand_over(t, p);
	if (vsock_core_connect_done(vc, TSI_PROXY_PORT, p->svm_port, fd) < 0) {
		p->watch.fd = fd; /* the guest gave up meanwhile: the proxy keeps it */
		p->state = P_CONNECTED;
	}
}

static int32_t stream_connect(struct tsi_backend *t, struct tsi_proxy *p,
			      const struct sockaddr_storage *sa, socklen_t len)
{
	int ret;

	if (p->state == P_CONNECTING)
		return -EALREADY;
	if (p->state != P_IDLE)
		return -EISCONN;
	if (connect(p->watch.fd, (const struct sockaddr *)sa, len) == 0) {
		p->state = P_CONNECTED;
		return 0;
	}
	if (errno != EINPROGRESS)
		return -errno;
	/* The reply comes when it completes (connect_done). */
	ret = watch(t, p, EPOLLOUT | EPOLLET);
	if (ret < 0)
		return ret;
	p->state = P_CONNECTING;
	return 1;
}

static void msg_connect(struct tsi_backend *t, const struct tsi_msg *m, uint32_t ctrl)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int32_t ret = 0;
	struct tsi_proxy *p = guest_proxy(t, m->svm_port, &ret);

	if (p) {
		p->connect_tried = true;
		ret = take_addr(t, p, m, &sa, &len);
	}
	if (p && !ret && p->type == TSI_SOCK_DGRAM) {
		/* A connected datagram socket: send() goes there, replies come back. */
		ret = connect(p->watch.fd, (struct sockaddr *)&sa, len) < 0 ? -errno : 0;
		if (!ret) {
			p->dgram_connected = true;
			p->dest_len = 0;
			dgram_ready(t, p);
		}
	} else if (p && !ret) {
		p->ctrl_port = ctrl;
		ret = stream_connect(t, p, &sa, len);
		if (ret > 0)
			return; /* later */
	}
	reply_result(t, TSI_CONNECT, ctrl, ret);
	if (p && p->stream_held && p->state != P_CONNECTING)
		answer_held_stream(t, p);
}

static void connect_done(struct tsi_backend *t, struct tsi_proxy *p)
{
	int err = 0;
	socklen_t len = sizeof(err);
	struct sockaddr_storage sa;
	socklen_t sa_len = sizeof(sa);

	if (getsockopt(p->watch.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	/* A stale event (the slot was reused): still in progress. */
	if (!err && getpeername(p->watch.fd, (struct sockaddr *)&sa, &sa_len) < 0 &&
	    errno == ENOTCONN)
		return;
	unwatch(t, p);
	p->state = err ? P_IDLE : P_CONNECTED;
	p->connect_result = -err;
	defer(t, p, DEFER_CONNECT);
	if (p->stream_held)
		answer_held_stream(t, p);
}

static void msg_getname(struct tsi_backend *t, const struct tsi_msg *m, uint32_t ctrl)
{
	struct tsi_proxy *p = proxy_find(t, m->svm_port, m->peer_port);
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	int32_t ret = 0;

	if (!p) {
		reply_getname(t, ctrl, -EINVAL, NULL, 0);
		return;
	}
	if (p->watch.fd >= 0) {
		int r = m->peer ? getpeername(p->watch.fd, (struct sockaddr *)&sa, &len)
				: getsockname(p->watch.fd, (struct sockaddr *)&sa, &len);

		ret = r < 0 ? -errno : 0;
	} else {
		const struct sockaddr_storage *kept = m->peer ? &p->peer : &p->name;

		len = m->peer ? p->peer_len : p->name_len;
		memcpy(&sa, kept, sizeof(sa));
		ret = len ? 0 : -ENOTCONN;
	}
	reply_getname(t, ctrl, ret, &sa, len);
}

static void msg_sendto_addr(struct tsi_backend *t, const struct tsi_msg *m)
{
	int32_t ret = 0;
	struct tsi_proxy *p = guest_proxy(t, m->svm_port, &ret);
	socklen_t len;

	if (!p)
		return;
	if (p->type != TSI_SOCK_DGRAM) {
		tsi_warn(t, TW_STATE);
		return;
	}
	if (take_addr(t, p, m, &p->dest, &len) < 0) {
		p->dest_len = 0;
		return;
	}
	p->dest_len = len;
	if (!p->dgram_connected && dgram_bind_any(p) < 0)
		pr_debug("virtio-vsock: TSI: bind for datagrams: %s", strerror(errno));
	dgram_ready(t, p);
}

/* SENDTO_DATA, or a datagram to a port that is no control message: data. */
static void dgram_send(struct tsi_backend *t, const struct vsock_pkt *pkt)
{
	struct tsi_proxy *p = proxy_find(t, pkt->hdr.src_port, TSI_PROXY_PORT);
	struct msghdr msg = {.msg_iov = (struct iovec *)pkt->payload, .msg_iovlen = pkt->npayload};

	if (!p || p->type != TSI_SOCK_DGRAM || p->state != P_DGRAM)
		return; /* nothing to send it with: a datagram may be lost */
	if (p->dest_len) {
		msg.msg_name = &p->dest;
		msg.msg_namelen = p->dest_len;
	} else if (!p->dgram_connected) {
		return;
	}
	/* The payload is read from guest memory once, by the kernel. */
	if (sendmsg(p->watch.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		pr_debug("virtio-vsock: TSI: datagram send: %s", strerror(errno));
}

/* Nobody listens on the unix socket at sa (a blocking connect is immediate). */
static bool unix_stale(const struct sockaddr_storage *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool stale;

	if (fd < 0)
		return false;
	stale = connect(fd, (const struct sockaddr *)sa, sizeof(struct sockaddr_un)) < 0 &&
		errno == ECONNREFUSED;
	close(fd);
	return stale;
}

static int listen_unix(struct tsi_proxy *p, const struct sockaddr_storage *sa)
{
	const char *path = ((const struct sockaddr_un *)sa)->sun_path;
	struct stat st;

	/*
	 * A stale socket (of an earlier run) goes, as upstream; never a socket
	 * something listens on (the guest would take over another program's
	 * service), never anything else.
	 */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unix_stale(sa))
		unlink(path);
	if (bind(p->watch.fd, (const struct sockaddr *)sa, sizeof(struct sockaddr_un)) < 0)
		return -errno;
	strcpy(p->unix_path, path);
	return 0;
}

static int32_t do_listen(struct tsi_backend *t, struct tsi_proxy *p, const struct tsi_msg *m)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int32_t ret;
	int one = 1;

	if (p->type != TSI_SOCK_STREAM)
		return -EOPNOTSUPP;
	if (p->state == P_LISTENING)
		return 0;
	if (p->state != P_IDLE)
		return -EINVAL;
	ret = take_addr(t, p, m, &sa, &len);
	if (ret < 0)
		return ret;
	if (p->family == AF_UNIX) {
		ret = listen_unix(p, &sa);
	} else {
		in_port_t *port = p->family == AF_INET ? &((struct sockaddr_in *)&sa)->sin_port
						       : &((struct sockaddr_in6 *)&sa)->sin6_port;
		int host = tsi_port_map_lookup(t->cfg.port_map_set ? t->map : NULL,
					       t->cfg.nport_map, ntohs(*port));

		/* Unmapped: the guest keeps its listener to itself. */
		if (host < 0)
			return -EPERM;
		*port = htons((uint16_t)host);
		setsockopt(p->watch.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		ret = bind(p->watch.fd, (struct sockaddr *)&sa, len) < 0 ? -errno : 0;
	}
	if (ret < 0)
		return ret;
	if (listen(p->watch.fd, (int)MIN(m->backlog, (uint32_t)SOMAXCONN)) < 0)
		return -errno;
	ret = watch(t, p, EPOLLIN);
	if (ret < 0)
		return ret;
	p->state = P_LISTENING;
	p->vm_port = m->vm_port;
	return 0;
}

static void msg_listen(struct tsi_backend *t, const struct tsi_msg *m, uint32_t ctrl)
{
	int32_t ret = 0;
	struct tsi_proxy *p = guest_proxy(t, m->svm_port, &ret);

	if (p)
		ret = do_listen(t, p, m);
	reply_result(t, TSI_LISTEN, ctrl, ret);
}

static void msg_accept(struct tsi_backend *t, const struct tsi_msg *m, uint32_t ctrl)
{
	int32_t ret = 0;
	struct tsi_proxy *p = guest_proxy(t, m->svm_port, &ret);

	if (p && p->state != P_LISTENING) {
		tsi_warn(t, TW_STATE);
		ret = -EINVAL;
	} else if (p && p->pending) {
		p->pending--;
	} else if (p && (m->flags & TSI_O_NONBLOCK)) {
		ret = -EWOULDBLOCK;
	} else if (p && p->waiting < TSI_MAX_WAITING_ACCEPTS) {
		p->waiting++; /* answered when a connection comes (host_established) */
		p->ctrl_port = ctrl;
		return;
	} else if (p) {
		ret = -EBUSY;
	}
	reply_result(t, TSI_ACCEPT, ctrl, ret);
}

static void msg_release(struct tsi_backend *t, const struct tsi_msg *m)
{
	struct tsi_proxy *p = proxy_find(t, m->svm_port, m->peer_port);

	/* A stream's host end is its connection's now; that one closes it. */
	if (p)
		proxy_free(t, p);
}

static void control(struct tsi_backend *t, const struct vsock_pkt *pkt, const struct tsi_msg *m)
{
	uint32_t ctrl = pkt->hdr.src_port;

	switch (m->port) {
	case TSI_PROXY_CREATE:
		msg_create(t, m);
		break;
	case TSI_CONNECT:
		msg_connect(t, m, ctrl);
		break;
	case TSI_GETNAME:
		msg_getname(t, m, ctrl);
		break;
	case TSI_SENDTO_ADDR:
		msg_sendto_addr(t, m);
		break;
	case TSI_LISTEN:
		msg_listen(t, m, ctrl);
		break;
	case TSI_ACCEPT:
		msg_accept(t, m, ctrl);
		break;
	case TSI_PROXY_RELEASE:
		msg_release(t, m);
		break;
	}
}

/* Requests that are answered get a reply even when malformed: the guest waits for it. */
static void refuse(struct tsi_backend *t, const struct vsock_pkt *pkt, int32_t err)
{
	switch (pkt->hdr.dst_port) {
	case TSI_CONNECT:
	case TSI_LISTEN:
	case TSI_ACCEPT:
		reply_result(t, pkt->hdr.dst_port, pkt->hdr.src_port, err);
		break;
	case TSI_GETNAME:
		reply_getname(t, pkt->hdr.src_port, err, NULL, 0);
		break;
	}
}

static bool tsi_dgram(struct vsock_backend *b, const struct vsock_pkt *pkt)
{
	struct tsi_backend *t = tsi_of(b);
	uint32_t len = MIN(pkt->hdr.len, (uint32_t)TSI_MSG_MAX);
	enum tsi_verdict v;

	if (pkt->hdr.dst_port == TSI_SENDTO_DATA || pkt->hdr.dst_port < TSI_PROXY_CREATE ||
	    pkt->hdr.dst_port > TSI_PROXY_RELEASE) {
		dgram_send(t, pkt);
		return true;
	}
	/* One copy of the message: the guest cannot change it while we look. */
	iov_to_buf(pkt->payload, pkt->npayload, 0, t->buf, len);
	v = tsi_msg_parse(pkt->hdr.dst_port, t->buf, len, &t->msg);
	if (v == TSI_MSG_OK) {
		control(t, pkt, &t->msg);
		return true;
	}
	tsi_warn(t, v == TSI_MSG_SHORT ? TW_SHORT : TW_ADDR_LEN);
	refuse(t, pkt, -EINVAL);
	return true;
}

/* ---- streams ------------------------------------------------------------------ */

/* The guest's svm_port connects to port 620: the proxy's socket is the host end. */
static int tsi_connect(struct vsock_backend *b, uint32_t port, uint32_t peer_port)
{
	struct tsi_backend *t = tsi_of(b);
	struct tsi_proxy *p;

	if (port != TSI_PROXY_PORT)
		return -ENOENT;
	p = proxy_find(t, peer_port, TSI_PROXY_PORT);
	/*
	 * Sent with CONNECT (before it, or before its answer): held until the
	 * host connect is done, then answered with it (msg_connect, connect_done).
	 */
	if (p && p->type != TSI_SOCK_DGRAM && !p->stream_held &&
	    (p->state == P_CONNECTING || (p->state == P_IDLE && !p->connect_tried))) {
		p->stream_held = true;
		return -EINPROGRESS;
	}
	if (!p || p->state != P_CONNECTED) {
		tsi_warn(t, p ? TW_STATE : TW_NO_PROXY);
		return -ECONNREFUSED;
	}
	return hand_over(t, p);
}

static void accept_connections(struct tsi_backend *t, struct tsi_proxy *l)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(l->watch.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		uint32_t local_port;
		struct tsi_proxy *p;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				pr_debug("virtio-vsock: TSI: accept: %s", strerror(errno));
			return;
		}
		if (vsock_core_host_connect(t->backend.core, l->vm_port, fd, &local_port) < 0) {
			close(fd); /* the connection table is full: the client sees the end */
			continue;
		}
		/* The connection has the fd; the proxy keeps its names for GETNAME. */
		p = proxy_alloc(t, l->vm_port, local_port);
		if (!p)
			continue;
		p->state = P_ACCEPTED;
		p->family = l->family;
		p->type = l->type;
		p->listener = l->svm_port;
		p->watch.fd = fd;
		keep_names(p);
		p->watch.fd = -1;
	}
}

static void host_established(struct vsock_backend *b, uint32_t local_port, uint32_t peer_port)
{
	struct tsi_backend *t = tsi_of(b);
	struct tsi_proxy *p = proxy_find(t, peer_port, local_port), *l;

	if (!p || p->state != P_ACCEPTED || p->announced)
		return;
	p->announced = true;
	l = proxy_find(t, p->listener, TSI_PROXY_PORT);
	if (!l || l->state != P_LISTENING)
		return;
	if (l->waiting) {
		l->waiting--;
		l->ready++;
		defer(t, l, DEFER_ACCEPT);
	} else {
		l->pending++;
	}
}

static void conn_closed(struct vsock_backend *b, uint32_t local_port, uint32_t peer_port)
{
	struct tsi_backend *t = tsi_of(b);
	struct tsi_proxy *p = proxy_find(t, peer_port, local_port);

	/* The names of a closed connection are no longer asked for. */
	if (p && (p->state == P_STREAM || p->state == P_ACCEPTED))
		proxy_free(t, p);
	else if (p)
		p->stream_held = false; /* the guest gave up a held connect */
}

static void tsi_event(struct vsock_backend *b, struct vsock_watch *w, uint32_t events)
{
	struct tsi_backend *t = tsi_of(b);
	struct tsi_proxy *p = (struct tsi_proxy *)((char *)w - offsetof(struct tsi_proxy, watch));

	(void)events;
	switch (p->state) {
	case P_CONNECTING:
		connect_done(t, p);
		break;
	case P_LISTENING:
		accept_connections(t, p);
		break;
	case P_DGRAM:
		p->readable = true;
		list_add(t, p);
		break;
	default: /* an event of this batch for a proxy gone since */
		break;
	}
}

/* ---- to the guest --------------------------------------------------------------- */

static void put_dgram(struct vsock_core *vc, struct virtq *rxq, uint32_t src_port,
		      uint32_t dst_port, uint32_t len)
{
	struct vsock_hdr h = {
	    .src_cid = VSOCK_HOST_CID,
	    .dst_cid = vc->guest_cid,
	    .src_port = src_port,
	    .dst_port = dst_port,
	    .len = len,
	    .type = VSOCK_TYPE_DGRAM,
	    .op = VSOCK_OP_RW,
	};

	vsock_put_hdr(vc->chain.writable, vc->chain.nwritable, &h);
	virtq_push(rxq, vc->chain.head, VSOCK_HDR_SIZE + len);
	vc->stat_rx_pkts++;
}

static bool send_reply(struct tsi_backend *t, struct virtq *rxq, uint32_t src, uint32_t dst,
		       const void *data, uint32_t len)
{
	struct vsock_core *vc = t->backend.core;

	if (!vsock_core_pop_rx(vc, rxq))
		return false;
	if (vc->chain.writable_len < VSOCK_HDR_SIZE + len) {
		tsi_warn(t, TW_REPLY_BUFFER);
		len = (uint32_t)(vc->chain.writable_len - VSOCK_HDR_SIZE);
	}
	buf_to_iov(vc->chain.writable, vc->chain.nwritable, VSOCK_HDR_SIZE, data, len);
	put_dgram(vc, rxq, src, dst, len);
	return true;
}

static bool send_deferred(struct tsi_backend *t, struct tsi_proxy *p, struct virtq *rxq)
{
	while (p->deferred) {
		uint32_t le;

		if (p->deferred & DEFER_CONNECT) {
			le = htole32((uint32_t)p->connect_result);
			if (!send_reply(t, rxq, TSI_CONNECT, p->ctrl_port, &le, 4))
				return false;
			p->deferred &= (uint8_t)~DEFER_CONNECT;
			continue;
		}
		le = 0;
		if (!send_reply(t, rxq, TSI_ACCEPT, p->ctrl_port, &le, 4))
			return false;
		if (--p->ready == 0)
			p->deferred &= (uint8_t)~DEFER_ACCEPT;
	}
	return true;
}

/* Datagrams from the host socket straight into receive buffers. */
static bool send_datagrams(struct tsi_backend *t, struct tsi_proxy *p, struct virtq *rxq)
{
	struct vsock_core *vc = t->backend.core;

	for (int i = 0; i < DGRAM_BATCH && p->readable; i++) {
		struct msghdr msg = {.msg_iov = t->iov};
		size_t cap;
		ssize_t n;

		if (!vsock_core_pop_rx(vc, rxq))
			return false;
		cap = MIN(vc->chain.writable_len - VSOCK_HDR_SIZE, (size_t)VSOCK_MAX_PAYLOAD);
		msg.msg_iovlen = iov_slice(vc->chain.writable, vc->chain.nwritable, VSOCK_HDR_SIZE,
					   cap, t->iov, VIRTQ_MAX_CHAIN, &cap);
		do
			n = recvmsg(p->watch.fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			/* EAGAIN: empty; anything else (an ICMP error): try again next edge */
			virtq_unpop(rxq, 1);
			p->readable = false;
			break;
		}
		/* Larger than the guest's buffer: it gets the start (MSG_TRUNC). */
		put_dgram(vc, rxq, TSI_DGRAM_SRC_PORT, p->svm_port, (uint32_t)MIN((size_t)n, cap));
	}
	return true;
}

static unsigned int tsi_rx(struct vsock_backend *b, struct virtq *rxq)
{
	struct tsi_backend *t = tsi_of(b);
	uint64_t before = b->core->stat_rx_pkts;
	struct tsi_proxy *stop = t->list_tail;

	while (t->ring_count) {
		struct tsi_reply *r = &t->ring[t->ring_head];

		if (!send_reply(t, rxq, r->src_port, r->dst_port, r->data, r->len))
			goto out;
		t->ring_head = (t->ring_head + 1) % TSI_REPLY_RING;
		t->ring_count--;
	}
	/* One turn each, round robin: a busy socket goes back to the end. */
	while (t->list_head) {
		struct tsi_proxy *p = t->list_head;
		bool last = p == stop;

		list_unlink(t, p);
		if (!send_deferred(t, p, rxq) ||
		    (p->state == P_DGRAM && !send_datagrams(t, p, rxq))) {
			/* out of receive buffers: first in line next time */
			p->next = t->list_head;
			t->list_head = p;
			if (!t->list_tail)
				t->list_tail = p;
			p->on_list = true;
			break;
		}
		if (p->state == P_DGRAM && p->readable)
			list_add(t, p);
		if (last)
			break;
	}
out:
	return (unsigned int)(b->core->stat_rx_pkts - before);
}

static bool tsi_has_rx(const struct vsock_backend *b)
{
	const struct tsi_backend *t = (const struct tsi_backend *)b;

	return t->ring_count || t->list_head;
}

static bool tsi_tx_blocked(const struct vsock_backend *b)
{
	return ((const struct tsi_backend *)b)->ring_count == TSI_REPLY_RING;
}

/* ---- lifetime --------------------------------------------------------------------- */

int tsi_create(struct vsock_core *vc, const struct tsi_config *cfg, struct vsock_backend **out)
{
	struct tsi_backend *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	if (cfg->nport_map) {
		t->map = calloc(cfg->nport_map, sizeof(*t->map));
		if (!t->map) {
			free(t);
			return -ENOMEM;
		}
		memcpy(t->map, cfg->port_map, cfg->nport_map * sizeof(*t->map));
	} else if (cfg->port_map_set) {
		static struct tsi_port_pair none;

		t->map = &none; /* an empty map: nothing exposed */
	}
	t->cfg.port_map = NULL;
	t->backend = (struct vsock_backend){
	    .name = "tsi",
	    .connect = tsi_connect,
	    .event = tsi_event,
	    .dgram = tsi_dgram,
	    .established = host_established,
	    .closed = conn_closed,
	    .rx = tsi_rx,
	    .has_rx = tsi_has_rx,
	    .tx_blocked = tsi_tx_blocked,
	};
	vsock_core_add_backend(vc, &t->backend);
	*out = &t->backend;
	return 0;
}

void tsi_reset(struct vsock_backend *b)
{
	struct tsi_backend *t = tsi_of(b);

	if (!t)
		return;
	for (unsigned int i = 0; i < TSI_MAX_PROXIES; i++)
		if (t->proxies[i].state != P_FREE)
			proxy_free(t, &t->proxies[i]);
	t->ring_head = t->ring_count = 0;
}

void tsi_unlink(struct vsock_backend *b)
{
	struct tsi_backend *t = tsi_of(b);

	for (unsigned int i = 0; t && i < TSI_MAX_PROXIES; i++) {
		struct tsi_proxy *p = &t->proxies[i];

		if (p->state != P_FREE && p->unix_path[0]) {
			unlink(p->unix_path);
			p->unix_path[0] = '\0';
		}
	}
}

void tsi_free(struct vsock_backend *b)
{
	struct tsi_backend *t = tsi_of(b);

	if (!t)
		return;
	tsi_reset(b);
	if (t->cfg.nport_map)
		free(t->map);
	free(t);
}

unsigned int tsi_nproxies(const struct vsock_backend *b)
{
	return ((const struct tsi_backend *)b)->nproxies;
}
