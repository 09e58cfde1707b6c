// SPDX-License-Identifier: Apache-2.0
/*
 * The connection table and the stream protocol (virtio 1.2, 5.10.6).
 *
 * Credit, guest -> host: we advertise VSOCK_BUF_ALLOC and count in fwd_cnt
 * what the host end took. Data goes straight from the guest's buffers to
 * the host fd; what the fd does not take waits in a per-connection ring of
 * VSOCK_BUF_ALLOC bytes, which a guest that keeps to its credit cannot
 * overflow (one that does not is reset). A slow host reader so holds back
 * fwd_cnt, and with it the guest's writer.
 *
 * Credit, host -> guest: we read from the host fd only as much as the
 * guest's buf_alloc - (tx_cnt - fwd_cnt) allows, straight into its receive
 * buffers. Without credit the fd is not read, its socket buffer fills, and
 * the host writer blocks.
 *
 * Host fds are edge-triggered in the epoll set: "readable" is ours to clear
 * once read() says EAGAIN, so a connection without credit or receive
 * buffers simply waits, without events.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/vsock/vsock.h"
#include "vmm/iov.h"
#include "vmm/log.h"
#include "vmm/util.h"

enum pending_op {
	PEND_REQUEST = 1 << 0,
	PEND_RESPONSE = 1 << 1,
	PEND_CREDIT = 1 << 2,
	PEND_SHUTDOWN = 1 << 3, /* the host end sent its last byte */
	PEND_RST = 1 << 4,
};

#define CONN_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)

static const char *const warn_text[] = {
    [WARN_SHORT] = "a packet shorter than its header",
    [WARN_CID] = "a packet with a wrong CID",
    [WARN_TYPE] = "a packet of an unknown socket type",
    [WARN_OP] = "a packet with an unknown op",
    [WARN_LEN] = "a packet whose len goes beyond its buffers",
    [WARN_OVERSIZED] = "a packet with a payload over 64 KiB",
    [WARN_CREDIT] = "data beyond the credit it was given",
    [WARN_TABLE_FULL] = "more connections than the table holds",
    [WARN_RX_BUFFER] = "a receive buffer too small for a header",
    [WARN_PROTOCOL] = "a packet its connection's state does not allow",
    [WARN_NOMEM] = "data the VMM had no memory to buffer",
    [WARN_HOST_REFUSED] = "a connect the host end refused",
    [WARN_UNMAPPED] = "a connect to a host port nothing is mapped to",
    [WARN_HOST_FULL] = "host connections while the table is full",
    [WARN_DEADLINE] = "a connection that timed out",
};

bool vsock_warn_once(struct vsock_core *vc, enum vsock_warn kind)
{
	uint32_t bit = 1u << kind;

	if (vc->warned & bit)
		return false;
	vc->warned |= bit;
	if (kind == WARN_UNMAPPED || kind == WARN_HOST_REFUSED)
		pr_info("virtio-vsock: the guest sent %s (answered with a reset; logged once)",
			warn_text[kind]);
	else
		pr_warn("virtio-vsock: the guest sent %s (dropped or reset; logged once)",
			warn_text[kind]);
	return true;
}

/* ---- the table ------------------------------------------------------------- */

static unsigned int bucket_of(uint32_t local_port, uint32_t peer_port)
{
	uint32_t h = local_port * 0x9e3779b1u ^ peer_port * 0x85ebca77u;

	return (h ^ (h >> 16)) % VSOCK_MAX_CONNS;
}

static struct vsock_conn *conn_find(struct vsock_core *vc, uint32_t local_port, uint32_t peer_port)
{
	for (int i = vc->buckets[bucket_of(local_port, peer_port)]; i >= 0;
	     i = vc->conns[i].hnext) {
		struct vsock_conn *c = &vc->conns[i];

		if (c->local_port == local_port && c->peer_port == peer_port)
			return c;
	}
	return NULL;
}

static struct vsock_conn *conn_alloc(struct vsock_core *vc, uint32_t local_port, uint32_t peer_port,
				     int fd)
{
	unsigned int b = bucket_of(local_port, peer_port);

	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &vc->conns[i];

		if (c->state != CONN_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->watch = (struct vsock_watch){VSOCK_WATCH_CONN, fd, c};
		c->local_port = local_port;
		c->peer_port = peer_port;
		c->hnext = vc->buckets[b];
		vc->buckets[b] = (int)i;
		vc->nconns++;
		return c;
	}
	return NULL;
}

static void list_remove(struct vsock_core *vc, struct vsock_conn *c)
{
	if (!c->on_list)
		return;
	if (c->sprev)
		c->sprev->snext = c->snext;
	else
		vc->send_head = c->snext;
	if (c->snext)
		c->snext->sprev = c->sprev;
	else
		vc->send_tail = c->sprev;
	c->snext = c->sprev = NULL;
	c->on_list = false;
}

static void list_append(struct vsock_core *vc, struct vsock_conn *c)
{
	c->snext = NULL;
	c->sprev = vc->send_tail;
	if (vc->send_tail)
		vc->send_tail->snext = c;
	else
		vc->send_head = c;
	vc->send_tail = c;
	c->on_list = true;
}

static void list_prepend(struct vsock_core *vc, struct vsock_conn *c)
{
	c->sprev = NULL;
	c->snext = vc->send_head;
	if (vc->send_head)
		vc->send_head->sprev = c;
	else
		vc->send_tail = c;
	vc->send_head = c;
	c->on_list = true;
}

static void close_host_end(struct vsock_conn *c)
{
	if (c->watch.fd >= 0)
		close(c->watch.fd); /* leaves the epoll set with it */
	c->watch.fd = -1;
}

static void set_deadline(struct vsock_core *vc, struct vsock_conn *c, bool on)
{
	if (on && !c->deadline_ms) {
		c->deadline_ms = monotonic_ms() + VSOCK_DEADLINE_MS;
		vc->ndeadlines++;
	} else if (!on && c->deadline_ms) {
		c->deadline_ms = 0;
		vc->ndeadlines--;
	}
}

/* The backends learn of it: TSI forgets the connection's names. */
static void tell_closed(struct vsock_core *vc, const struct vsock_conn *c)
{
	for (struct vsock_backend *b = vc->backends; b; b = b->next)
		if (b->closed)
			b->closed(b, c->local_port, c->peer_port);
}

static void conn_free(struct vsock_core *vc, struct vsock_conn *c)
{
	int *link = &vc->buckets[bucket_of(c->local_port, c->peer_port)];
	int index = (int)(c - vc->conns);

	while (*link >= 0 && *link != index)
		link = &vc->conns[*link].hnext;
	if (*link == index)
		*link = c->hnext;
	list_remove(vc, c);
	set_deadline(vc, c, false);
	close_host_end(c);
	free(c->buf);
	c->buf = NULL;
	c->state = CONN_FREE;
	vc->nconns--;
	tell_closed(vc, c);
}

/* ---- what the guest is to receive ----------------------------------------- */

static uint32_t buffered(const struct vsock_conn *c)
{
	return c->rx_cnt - c->fwd_cnt;
}

/* What the guest lets us send it now. */
static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool can_send_data(const struct vsock_conn *c)
{
	return c->state == CONN_ESTABLISHED && c->readable && !c->host_eof &&
	       !(c->guest_shut & VSOCK_SHUTDOWN_RCV) && peer_credit(c) > 0;
}

static bool wants_rx(const struct vsock_conn *c)
{
	return c->pending || can_send_data(c);
}

static void schedule(struct vsock_core *vc, struct vsock_conn *c)
{
	if (!c->on_list && c->state != CONN_FREE && wants_rx(c))
		list_append(vc, c);
}

static void pend(struct vsock_core *vc, struct vsock_conn *c, uint8_t op)
{
	c->pending |= op;
	schedule(vc, c);
}

/* Close the host end now and tell the guest (the connection goes once it knows). */
static void conn_reset(struct vsock_core *vc, struct vsock_conn *c)
{
	close_host_end(c);
	set_deadline(vc, c, false);
	c->state = CONN_RESETTING;
	c->pending = PEND_RST;
	vc->stat_resets++;
	schedule(vc, c);
}

/* A reset for a packet of no connection: the reply swaps the addresses. */
static void queue_rst(struct vsock_core *vc, const struct vsock_hdr *h)
{
	struct vsock_hdr *r;

	if (h->op == VSOCK_OP_RST)
		return; /* never answer a reset */
	if (vc->rst_count == VSOCK_RST_RING)
		return; /* cannot happen: transmit waits while the ring is full */
	r = &vc->rst_ring[(vc->rst_head + vc->rst_count++) % VSOCK_RST_RING];
	*r = (struct vsock_hdr){
	    .src_cid = VSOCK_HOST_CID,
	    .dst_cid = vc->guest_cid,
	    .src_port = h->dst_port,
	    .dst_port = h->src_port,
	    .type = VSOCK_TYPE_STREAM,
	    .op = VSOCK_OP_RST,
	};
	vc->stat_resets++;
}

static void conn_hdr(struct vsock_core *vc, struct vsock_conn *c, struct vsock_hdr *h, uint16_t op,
		     uint32_t flags, uint32_t len)
{
	*h = (struct vsock_hdr){
	    .src_cid = VSOCK_HOST_CID,
	    .dst_cid = vc->guest_cid,
	    .src_port = c->local_port,
	    .dst_port = c->peer_port,
	    .len = len,
	    .type = VSOCK_TYPE_STREAM,
	    .op = op,
	    .flags = flags,
	    .buf_alloc = VSOCK_BUF_ALLOC,
	    .fwd_cnt = c->fwd_cnt,
	};
	/* Every header carries our fwd_cnt: no separate credit update needed. */
	c->sent_fwd_cnt = c->fwd_cnt;
	c->pending &= (uint8_t)~PEND_CREDIT;
}

/*
 * Tell the guest what the host end took once the guest is low on credit
 * and there is a worthwhile amount to tell (or nothing is left buffered).
 */
static void maybe_credit_update(struct vsock_core *vc, struct vsock_conn *c)
{
	uint32_t unreported = c->fwd_cnt - c->sent_fwd_cnt;
	uint32_t guest_credit = VSOCK_BUF_ALLOC - (c->rx_cnt - c->sent_fwd_cnt);

	if (c->state != CONN_ESTABLISHED || (c->guest_shut & VSOCK_SHUTDOWN_SEND) || !unreported)
		return;
	if (guest_credit < VSOCK_BUF_ALLOC / 2 &&
	    (unreported >= VSOCK_BUF_ALLOC / 8 || !buffered(c)))
		pend(vc, c, PEND_CREDIT);
}

/* ---- guest -> host data --------------------------------------------------- */

static int set_events(struct vsock_core *vc, struct vsock_conn *c, bool want_out)
{
	struct epoll_event ev = {.events = CONN_EVENTS | (want_out ? EPOLLOUT : 0u),
				 .data.ptr = &c->watch};

	if (c->want_out == want_out || c->watch.fd < 0)
		return 0;
	c->want_out = want_out;
	return epoll_ctl(vc->epfd, EPOLL_CTL_MOD, c->watch.fd, &ev) < 0 ? -errno : 0;
}

/* Both shut ways and nothing left to hand over: the connection is done. */
static void finish_if_closed(struct vsock_core *vc, struct vsock_conn *c)
{
	if (c->state == CONN_CLOSING && !buffered(c))
		conn_reset(vc, c);
}

/* The guest will send no more: pass that on once its data is all out. */
static void shut_host_write(struct vsock_conn *c)
{
	if ((c->guest_shut & VSOCK_SHUTDOWN_SEND) && !buffered(c) && c->watch.fd >= 0)
		shutdown(c->watch.fd, SHUT_WR);
}

/* Host ends are sockets: a peer that hung up is EPIPE here, never SIGPIPE. */
static ssize_t send_iov(int fd, const struct iovec *iov, unsigned int n)
{
	struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n};

	return sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Write what the ring holds; false when the host end is gone. */
static bool flush_buffer(struct vsock_core *vc, struct vsock_conn *c)
{
	while (buffered(c)) {
		uint32_t len = buffered(c), head = c->buf_head;
		uint32_t first = MIN(len, VSOCK_BUF_ALLOC - head);
		struct iovec iov[2] = {{c->buf + head, first}, {c->buf, len - first}};
		ssize_t n = send_iov(c->watch.fd, iov, len > first ? 2 : 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return false;
		c->fwd_cnt += (uint32_t)n;
		c->buf_head = (uint32_t)((head + (uint32_t)n) % VSOCK_BUF_ALLOC);
	}
	if (set_events(vc, c, buffered(c) > 0) < 0)
		return false;
	return true;
}

static void conn_writable(struct vsock_core *vc, struct vsock_conn *c)
{
	if ((c->state != CONN_ESTABLISHED && c->state != CONN_CLOSING) || !buffered(c))
		return;
	if (!flush_buffer(vc, c)) {
		conn_reset(vc, c);
		return;
	}
	shut_host_write(c);
	maybe_credit_update(vc, c);
	finish_if_closed(vc, c);
}

/* Keep bytes [done, len) of the payload in the ring, before rx_cnt counts them. */
static bool buffer_rest(struct vsock_core *vc, struct vsock_conn *c, const struct vsock_pkt *p,
			size_t done)
{
	uint32_t rest = p->hdr.len - (uint32_t)done;
	uint32_t tail = (c->buf_head + buffered(c)) % VSOCK_BUF_ALLOC;
	uint32_t first = MIN(rest, VSOCK_BUF_ALLOC - tail);

	if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC))) {
		vsock_warn_once(vc, WARN_NOMEM);
		return false;
	}
	iov_to_buf(p->payload, p->npayload, done, c->buf + tail, first);
	if (rest > first)
		iov_to_buf(p->payload, p->npayload, done + first, c->buf, rest - first);
	return true;
}

static void handle_rw(struct vsock_core *vc, struct vsock_conn *c, const struct vsock_pkt *p)
{
	uint32_t len = p->hdr.len;
	ssize_t n = 0;

	if (c->guest_shut & VSOCK_SHUTDOWN_SEND) {
		vsock_warn_once(vc, WARN_PROTOCOL);
		conn_reset(vc, c);
		return;
	}
	if (!len)
		return;
	/* The guest may have VSOCK_BUF_ALLOC in flight past the fwd_cnt we told it. */
	if ((uint64_t)(c->rx_cnt - c->sent_fwd_cnt) + len > VSOCK_BUF_ALLOC) {
		vsock_warn_once(vc, WARN_CREDIT);
		conn_reset(vc, c);
		return;
	}
	if (!buffered(c)) {
		do
			n = send_iov(c->watch.fd, p->payload, p->npayload);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			conn_reset(vc, c); /* the host end is gone */
			return;
		}
		n = MAX(n, 0);
	}
	if ((uint32_t)n < len && !buffer_rest(vc, c, p, (size_t)n)) {
		conn_reset(vc, c);
		return;
	}
	/* The ring holds exactly buffered(c) = rx_cnt - fwd_cnt. */
	c->rx_cnt += len;
	c->fwd_cnt += (uint32_t)n;
	if (buffered(c) && set_events(vc, c, true) < 0) {
		conn_reset(vc, c);
		return;
	}
	maybe_credit_update(vc, c);
}

/* ---- packets from the guest ----------------------------------------------- */

static int connect_backend(struct vsock_core *vc, uint32_t port, uint32_t peer_port)
{
	int ret = -ENOENT;

	for (struct vsock_backend *b = vc->backends; b && ret == -ENOENT; b = b->next)
		ret = b->connect(b, port, peer_port);
	return ret;
}

static void tell_established(struct vsock_core *vc, const struct vsock_conn *c)
{
	for (struct vsock_backend *b = vc->backends; b; b = b->next)
		if (b->established)
			b->established(b, c->local_port, c->peer_port);
}

/* A datagram goes to the first backend that takes it; the rest are dropped. */
static void guest_dgram(struct vsock_core *vc, const struct vsock_pkt *p)
{
	for (struct vsock_backend *b = vc->backends; b; b = b->next)
		if (b->dgram && b->dgram(b, p))
			return;
	pr_debug("virtio-vsock: a datagram to host port %u nobody takes", p->hdr.dst_port);
}

static void take_peer_credit(struct vsock_conn *c, const struct vsock_hdr *h)
{
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
}

/* The guest's connect has its host end: RESPONSE. */
static int guest_connected(struct vsock_core *vc, struct vsock_conn *c, int fd)
{
	struct epoll_event ev = {.events = CONN_EVENTS, .data.ptr = &c->watch};

	if (epoll_ctl(vc->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	c->watch.fd = fd;
	c->state = CONN_ESTABLISHED;
	/*
	 * Read at once, not at the next event: what a server that speaks first
	 * has sent (a greeting, a TSI peer's whole answer) goes out with the
	 * RESPONSE, in one interrupt. Nothing there costs one EAGAIN.
	 */
	c->readable = true;
	pend(vc, c, PEND_RESPONSE);
	return 0;
}

static void guest_connect(struct vsock_core *vc, const struct vsock_hdr *h)
{
	struct vsock_conn *c;
	int fd;

	if (vc->nconns == VSOCK_MAX_CONNS) {
		vsock_warn_once(vc, WARN_TABLE_FULL);
		queue_rst(vc, h);
		return;
	}
	fd = connect_backend(vc, h->dst_port, h->src_port);
	if (fd < 0 && fd != -EINPROGRESS) {
		pr_debug("virtio-vsock: guest connect to host port %u: %s", h->dst_port,
			 strerror(-fd));
		vsock_warn_once(vc, fd == -ENOENT ? WARN_UNMAPPED : WARN_HOST_REFUSED);
		queue_rst(vc, h);
		return;
	}
	c = conn_alloc(vc, h->dst_port, h->src_port, -1);
	take_peer_credit(c, h);
	if (fd == -EINPROGRESS) {
		c->state = CONN_HELD; /* vsock_core_connect_done() answers it */
		return;
	}
	if (guest_connected(vc, c, fd) < 0) {
		close(fd);
		conn_free(vc, c);
		queue_rst(vc, h);
	}
}

int vsock_core_connect_done(struct vsock_core *vc, uint32_t port, uint32_t peer_port, int fd)
{
	struct vsock_conn *c = conn_find(vc, port, peer_port);
	int err = fd;

	if (!c || c->state != CONN_HELD)
		return -ENOENT;
	if (fd >= 0)
		err = guest_connected(vc, c, fd);
	if (err < 0)
		conn_reset(vc, c);
	return err < 0 && fd >= 0 ? err : 0;
}

static void guest_shutdown(struct vsock_core *vc, struct vsock_conn *c, uint32_t flags)
{
	c->guest_shut |= (uint8_t)(flags & VSOCK_SHUTDOWN_BOTH);
	shut_host_write(c);
	if (c->guest_shut == VSOCK_SHUTDOWN_BOTH) {
		/* The guest closed: a reset ends it once the host end has all. */
		c->state = CONN_CLOSING;
		set_deadline(vc, c, true);
		finish_if_closed(vc, c);
	}
}

static void established_packet(struct vsock_core *vc, struct vsock_conn *c,
			       const struct vsock_pkt *p)
{
	switch (p->hdr.op) {
	case VSOCK_OP_RW:
		handle_rw(vc, c, p);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break; /* taken already */
	case VSOCK_OP_CREDIT_REQUEST:
		pend(vc, c, PEND_CREDIT);
		break;
	case VSOCK_OP_SHUTDOWN:
		guest_shutdown(vc, c, p->hdr.flags);
		break;
	default: /* REQUEST or RESPONSE on a live connection */
		vsock_warn_once(vc, WARN_PROTOCOL);
		conn_reset(vc, c);
		break;
	}
}

static void conn_packet(struct vsock_core *vc, struct vsock_conn *c, const struct vsock_pkt *p)
{
	if (p->hdr.op == VSOCK_OP_RST) {
		conn_free(vc, c); /* the guest closed it: nothing to answer */
		return;
	}
	switch (c->state) {
	case CONN_HELD: /* nothing but a reset may come before our RESPONSE */
		vsock_warn_once(vc, WARN_PROTOCOL);
		conn_reset(vc, c);
		return;
	case CONN_CONNECTING:
		if (p->hdr.op != VSOCK_OP_RESPONSE) {
			vsock_warn_once(vc, WARN_PROTOCOL);
			conn_reset(vc, c);
			return;
		}
		c->state = CONN_ESTABLISHED;
		set_deadline(vc, c, false);
		take_peer_credit(c, &p->hdr);
		tell_established(vc, c);
		break;
	case CONN_ESTABLISHED:
		take_peer_credit(c, &p->hdr);
		established_packet(vc, c, p);
		break;
	case CONN_CLOSING:
		/* Only what keeps data flowing to the host end still counts. */
		take_peer_credit(c, &p->hdr);
		if (p->hdr.op != VSOCK_OP_CREDIT_UPDATE && p->hdr.op != VSOCK_OP_SHUTDOWN) {
			vsock_warn_once(vc, WARN_PROTOCOL);
			conn_reset(vc, c);
		}
		return;
	default: /* RESETTING: the guest learns soon */
		return;
	}
	schedule(vc, c);
}

static enum vsock_warn verdict_warning(enum vsock_verdict v)
{
	switch (v) {
	case VSOCK_PKT_SHORT:
		return WARN_SHORT;
	case VSOCK_PKT_BAD_CID:
		return WARN_CID;
	case VSOCK_PKT_BAD_TYPE:
		return WARN_TYPE;
	case VSOCK_PKT_BAD_OP:
		return WARN_OP;
	case VSOCK_PKT_BAD_LEN:
		return WARN_LEN;
	default:
		return WARN_OVERSIZED;
	}
}

void vsock_core_tx(struct vsock_core *vc, const struct iovec *iov, unsigned int n)
{
	struct vsock_pkt *p = &vc->pkt;
	enum vsock_verdict v = vsock_parse(iov, n, vc->guest_cid, vc->dgram, p);
	struct vsock_conn *c;

	vc->stat_tx_pkts++;
	if (v == VSOCK_PKT_SHORT || v == VSOCK_PKT_BAD_CID) {
		vsock_warn_once(vc, verdict_warning(v)); /* nobody to answer */
		return;
	}
	if (p->hdr.type == VSOCK_TYPE_DGRAM) {
		/* Datagrams are never answered with a reset: dropped when bad. */
		if (v == VSOCK_PKT_OK)
			guest_dgram(vc, p);
		else
			vsock_warn_once(vc, verdict_warning(v));
		return;
	}
	c = conn_find(vc, p->hdr.dst_port, p->hdr.src_port);
	if (v != VSOCK_PKT_OK) {
		vsock_warn_once(vc, verdict_warning(v));
		if (c && c->state != CONN_RESETTING)
			conn_reset(vc, c);
		else if (!c)
			queue_rst(vc, &p->hdr);
		return;
	}
	if (c)
		conn_packet(vc, c, p);
	else if (p->hdr.op == VSOCK_OP_REQUEST)
		guest_connect(vc, &p->hdr);
	else
		queue_rst(vc, &p->hdr);
}

bool vsock_core_tx_blocked(const struct vsock_core *vc)
{
	if (vc->rst_count == VSOCK_RST_RING)
		return true;
	for (const struct vsock_backend *b = vc->backends; b; b = b->next)
		if (b->tx_blocked && b->tx_blocked(b))
			return true;
	return false;
}

/* ---- host connections ------------------------------------------------------ */

/* A port of ours that no connection to the guest's "port" uses. */
static uint32_t pick_local_port(struct vsock_core *vc, uint32_t port)
{
	for (;;) {
		uint32_t p = vc->next_local_port++;

		if (vc->next_local_port == 0)
			vc->next_local_port = 1u << 30;
		if (!conn_find(vc, p, port))
			return p;
	}
}

int vsock_core_host_connect(struct vsock_core *vc, uint32_t port, int fd, uint32_t *local_port)
{
	struct epoll_event ev = {.events = CONN_EVENTS};
	struct vsock_conn *c;

	if (vc->nconns == VSOCK_MAX_CONNS) {
		vsock_warn_once(vc, WARN_HOST_FULL);
		return -ENOSPC;
	}
	c = conn_alloc(vc, pick_local_port(vc, port), port, fd);
	ev.data.ptr = &c->watch;
	if (epoll_ctl(vc->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		c->watch.fd = -1; /* the caller still owns it */
		conn_free(vc, c);
		return err;
	}
	c->state = CONN_CONNECTING;
	set_deadline(vc, c, true);
	pend(vc, c, PEND_REQUEST);
	if (local_port)
		*local_port = c->local_port;
	return 0;
}

void vsock_core_event(struct vsock_core *vc, struct vsock_watch *w, uint32_t events)
{
	struct vsock_conn *c = w->owner;

	/* A backend's watch: owner is the backend. */
	if (w->kind == VSOCK_WATCH_BACKEND) {
		struct vsock_backend *b = w->owner;

		b->event(b, w, events);
		return;
	}
	/*
	 * An event of this epoll_wait() batch may be for an fd closed since:
	 * all it does here is a read or write attempt, which then says EAGAIN.
	 */
	if (c->state == CONN_FREE || c->state == CONN_RESETTING)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		c->readable = true;
		c->hangup |= !!(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
		schedule(vc, c);
	}
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		conn_writable(vc, c);
}

int vsock_core_expire(struct vsock_core *vc)
{
	int64_t now, next = -1;

	if (!vc->ndeadlines)
		return -1;
	now = monotonic_ms();
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &vc->conns[i];

		if (c->state == CONN_FREE || !c->deadline_ms)
			continue;
		if (c->deadline_ms <= now) {
			if (c->state == CONN_CONNECTING)
				pr_debug("virtio-vsock: guest port %u did not answer a connection",
					 c->peer_port);
			vsock_warn_once(vc, WARN_DEADLINE);
			conn_reset(vc, c);
		} else if (next < 0 || c->deadline_ms - now < next) {
			next = c->deadline_ms - now;
		}
	}
	return (int)next;
}

/* ---- host -> guest --------------------------------------------------------- */

bool vsock_core_pop_rx(struct vsock_core *vc, struct virtq *rxq)
{
	for (;;) {
		int got = virtq_pop(rxq, &vc->chain);

		if (got != 1)
			return false;
		if (vc->chain.writable_len >= VSOCK_HDR_SIZE)
			return true;
		vsock_warn_once(vc, WARN_RX_BUFFER);
		virtq_push(rxq, vc->chain.head, 0);
	}
}

static bool send_hdr(struct vsock_core *vc, struct virtq *rxq, const struct vsock_hdr *h)
{
	if (!vsock_core_pop_rx(vc, rxq))
		return false;
	vsock_put_hdr(vc->chain.writable, vc->chain.nwritable, h);
	virtq_push(rxq, vc->chain.head, VSOCK_HDR_SIZE);
	vc->stat_rx_pkts++;
	return true;
}

/* One control packet of c; false when no receive buffer was left. */
static bool send_control(struct vsock_core *vc, struct vsock_conn *c, struct virtq *rxq)
{
	struct vsock_hdr h;
	uint8_t op = c->pending & (uint8_t)-c->pending; /* lowest bit first */

	if (c->pending & PEND_RST)
		op = PEND_RST;
	switch (op) {
	case PEND_REQUEST:
		conn_hdr(vc, c, &h, VSOCK_OP_REQUEST, 0, 0);
		break;
	case PEND_RESPONSE:
		conn_hdr(vc, c, &h, VSOCK_OP_RESPONSE, 0, 0);
		break;
	case PEND_CREDIT:
		conn_hdr(vc, c, &h, VSOCK_OP_CREDIT_UPDATE, 0, 0);
		vc->stat_credit_updates++;
		break;
	case PEND_SHUTDOWN:
		conn_hdr(vc, c, &h, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND, 0);
		break;
	default:
		conn_hdr(vc, c, &h, VSOCK_OP_RST, 0, 0);
		break;
	}
	if (!send_hdr(vc, rxq, &h))
		return false;
	c->pending &= (uint8_t)~op;
	if (op == PEND_RST)
		conn_free(vc, c);
	return true;
}

/* A receive buffer for data: the header fits its first descriptor, and more. */
static bool carries_data(const struct virtq_chain *ch)
{
	return ch->nwritable && ch->writable[0].iov_len >= VSOCK_HDR_SIZE &&
	       ch->writable_len > VSOCK_HDR_SIZE;
}

/*
 * Take up to VSOCK_RX_BATCH receive buffers for at most "max" payload bytes.
 * A buffer that cannot carry data is used up (empty) when it comes first;
 * later, it ends the batch, given back, so that the buffers taken stay
 * consecutive in the ring and the unused ones can be given back too.
 */
static unsigned int collect_rx(struct vsock_core *vc, struct virtq *rxq, uint32_t max,
			       unsigned int *niov_out)
{
	struct virtq_chain *ch = &vc->chain;
	unsigned int nslots = 0, niov = 0;
	uint32_t cap = 0;

	while (cap < max && nslots < VSOCK_RX_BATCH && niov < VSOCK_RX_BATCH_IOV) {
		struct vsock_rx_slot *s = &vc->slots[nslots];

		if (virtq_pop(rxq, ch) != 1)
			break;
		if (!carries_data(ch)) {
			if (nslots) {
				virtq_unpop(rxq, 1);
				break;
			}
			vsock_warn_once(vc, WARN_RX_BUFFER);
			virtq_push(rxq, ch->head, 0);
			continue;
		}
		s->head = ch->head;
		s->hdr = ch->writable[0].iov_base;
		s->first_iov = niov;
		s->cap = 0;
		for (unsigned int i = 0; i < ch->nwritable && niov < VSOCK_RX_BATCH_IOV; i++) {
			size_t skip = i ? 0 : VSOCK_HDR_SIZE;
			size_t len =
			    MIN(ch->writable[i].iov_len - skip, (size_t)(max - cap - s->cap));

			if (!len)
				continue;
			vc->rx_iov[niov++] =
			    (struct iovec){(uint8_t *)ch->writable[i].iov_base + skip, len};
			s->cap += (uint32_t)len;
		}
		s->niov = niov - s->first_iov;
		cap += s->cap;
		nslots++;
	}
	*niov_out = niov;
	return nslots;
}

enum send_result { SENT, NO_BUFFERS, NOTHING };

static size_t rx_space(const struct vsock_core *vc, unsigned int niov)
{
	size_t space = 0;

	for (unsigned int i = 0; i < niov; i++)
		space += vc->rx_iov[i].iov_len;
	return space;
}

/* Read from the host end straight into receive buffers. */
static enum send_result send_data(struct vsock_core *vc, struct vsock_conn *c, struct virtq *rxq)
{
	uint32_t max = MIN(peer_credit(c), (uint32_t)VSOCK_RX_BATCH_SIZE);
	unsigned int niov, nslots = collect_rx(vc, rxq, max, &niov);
	ssize_t n;
	unsigned int used = 0;

	if (!nslots)
		return NO_BUFFERS;
	do
		n = readv(c->watch.fd, vc->rx_iov, (int)niov);
	while (n < 0 && errno == EINTR);
	for (uint32_t left = n > 0 ? (uint32_t)n : 0; left && used < nslots; used++) {
		struct vsock_rx_slot *s = &vc->slots[used];
		uint32_t take = MIN(left, s->cap);
		struct iovec hdr = {s->hdr, VSOCK_HDR_SIZE};
		struct vsock_hdr h;

		conn_hdr(vc, c, &h, VSOCK_OP_RW, 0, take);
		vsock_put_hdr(&hdr, 1, &h);
		virtq_push(rxq, s->head, VSOCK_HDR_SIZE + take);
		c->tx_cnt += take;
		left -= take;
		vc->stat_rx_pkts++;
	}
	virtq_unpop(rxq, (uint16_t)(nslots - used));
	if (n == 0) {
		c->host_eof = true;
		pend(vc, c, PEND_SHUTDOWN);
	} else if (n < 0 && errno == EAGAIN) {
		c->readable = false;
	} else if (n < 0) {
		conn_reset(vc, c);
	} else if ((size_t)n < rx_space(vc, niov) && !c->hangup) {
		/*
		 * A short read emptied the socket. Whatever arrives from now
		 * on is a new edge of the epoll set: no read() to see EAGAIN.
		 * (A hangup already seen is no new edge: read on to the EOF.)
		 */
		c->readable = false;
	}
	return used ? SENT : NOTHING;
}

unsigned int vsock_core_rx(struct vsock_core *vc, struct virtq *rxq)
{
	uint64_t before = vc->stat_rx_pkts;

	while (vc->rst_count) {
		if (!send_hdr(vc, rxq, &vc->rst_ring[vc->rst_head]))
			goto out;
		vc->rst_head = (vc->rst_head + 1) % VSOCK_RST_RING;
		vc->rst_count--;
	}
	/* Backends' own packets (TSI replies, datagrams) count in stat_rx_pkts. */
	for (struct vsock_backend *b = vc->backends; b; b = b->next)
		if (b->rx && b->has_rx(b))
			b->rx(b, rxq);
	while (vc->send_head) {
		struct vsock_conn *c = vc->send_head;
		bool stalled = false;

		list_remove(vc, c);
		/* A data header carries the credit update too. */
		if (c->pending && (c->pending != PEND_CREDIT || !can_send_data(c)))
			stalled = !send_control(vc, c, rxq);
		else if (can_send_data(c))
			stalled = send_data(vc, c, rxq) == NO_BUFFERS;
		if (c->state == CONN_FREE)
			continue;
		if (stalled) {
			list_prepend(vc, c);
			break;
		}
		schedule(vc, c);
	}
out:
	return (unsigned int)(vc->stat_rx_pkts - before);
}

bool vsock_core_has_rx(const struct vsock_core *vc)
{
	if (vc->rst_count || vc->send_head)
		return true;
	for (const struct vsock_backend *b = vc->backends; b; b = b->next)
		if (b->has_rx && b->has_rx(b))
			return true;
	return false;
}

/* ---- lifetime -------------------------------------------------------------- */

int vsock_core_init(struct vsock_core *vc, uint64_t guest_cid)
{
	memset(vc, 0, sizeof(*vc));
	vc->guest_cid = guest_cid;
	vc->next_local_port = 1u << 30;
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		vc->buckets[i] = -1;
		vc->conns[i].watch.fd = -1;
	}
	vc->epfd = epoll_create1(EPOLL_CLOEXEC);
	return vc->epfd < 0 ? -errno : 0;
}

void vsock_core_add_backend(struct vsock_core *vc, struct vsock_backend *b)
{
	b->core = vc;
	b->next = vc->backends;
	vc->backends = b;
}

int vsock_core_watch(struct vsock_core *vc, struct vsock_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	return epoll_ctl(vc->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

void vsock_core_reset(struct vsock_core *vc)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (vc->conns[i].state != CONN_FREE)
			conn_free(vc, &vc->conns[i]);
	vc->rst_head = vc->rst_count = 0;
}

void vsock_core_release(struct vsock_core *vc)
{
	vsock_core_reset(vc);
	if (vc->epfd >= 0)
		close(vc->epfd);
	vc->epfd = -1;
}
