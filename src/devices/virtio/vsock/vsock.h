/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock (virtio 1.2, section 5.10), stream sockets, in three parts:
 *
 *   proto.c   the packet header: parsing what the guest sends, building
 *             what it receives
 *   conn.c    the connection table and the stream state machine: credit in
 *             both directions, the host end of each connection an fd
 *   unix.c    a backend: guest ports bridged to host unix sockets
 *   tsi_msg.c TSI's control messages and port map: parsing, checks (pure)
 *   tsi.c     a backend: TSI, the guest's inet/unix sockets proxied on the host
 *   device.c  the virtio device: queues, the device thread, the builder
 *
 * A backend decides what a guest connect to a host port reaches (an fd) and
 * brings host-initiated connections (an fd for a guest port); the core does
 * the rest. Datagrams (only with TSI) go to the backend that takes them.
 *
 * Everything runs on the device thread, under vsock_core's owner's lock;
 * nothing here blocks.
 */
#ifndef KRUN_VSOCK_H
#define KRUN_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/virtqueue.h"

#define VSOCK_HOST_CID	2
#define VSOCK_GUEST_CID 3

/* struct virtio_vsock_hdr, little-endian on the wire. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

#define VSOCK_HDR_SIZE sizeof(struct vsock_hdr) /* 44 */

#define VSOCK_TYPE_STREAM 1
#define VSOCK_TYPE_DGRAM  3 /* VIRTIO_VSOCK_F_DGRAM: op RW only, no credit */

/* Feature bit: datagram sockets (offered only with TSI). */
#define VIRTIO_VSOCK_F_DGRAM 3

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV  1 /* the sender will receive no more */
#define VSOCK_SHUTDOWN_SEND 2 /* the sender will send no more */
#define VSOCK_SHUTDOWN_BOTH 3

/* The largest payload Linux sends in one packet; larger is refused. */
#define VSOCK_MAX_PAYLOAD (64 * 1024)
/* What the VMM buffers per connection for a host end that reads slowly. */
#define VSOCK_BUF_ALLOC (256 * 1024)
/* Connections at once; a REQUEST past it is reset. */
#define VSOCK_MAX_CONNS 256
/* Resets for packets of no connection, waiting for receive buffers. */
#define VSOCK_RST_RING 64
/* Host-initiated connections the guest did not answer, and closed
 * connections whose host end does not take the rest: given up after this. */
#define VSOCK_DEADLINE_MS 10000

/* ---- proto.c --------------------------------------------------------------- */

enum vsock_verdict {
	VSOCK_PKT_OK,
	VSOCK_PKT_SHORT,    /* no whole header: nothing to answer */
	VSOCK_PKT_BAD_CID,  /* not from the guest to the host: dropped */
	VSOCK_PKT_BAD_TYPE, /* not a stream (nor a datagram, where those are on) */
	VSOCK_PKT_BAD_OP,
	VSOCK_PKT_BAD_LEN,   /* len beyond the buffers it came in */
	VSOCK_PKT_OVERSIZED, /* len beyond VSOCK_MAX_PAYLOAD */
};

/* A packet the guest sent: the header in host byte order, the payload in place. */
struct vsock_pkt {
	struct vsock_hdr hdr;
	struct iovec payload[VIRTQ_MAX_CHAIN];
	unsigned int npayload;
};

/*
 * Check the packet in the readable buffers iov[0..n) of a transmit chain.
 * Datagrams (type 3, op RW, at most VSOCK_MAX_PAYLOAD) pass only if dgram.
 */
enum vsock_verdict vsock_parse(const struct iovec *iov, unsigned int n, uint64_t guest_cid,
			       bool dgram, struct vsock_pkt *pkt);
const char *vsock_verdict_name(enum vsock_verdict v);
/* Write h (host byte order) at the start of iov[0..n); false if it does not fit. */
bool vsock_put_hdr(const struct iovec *iov, unsigned int n, const struct vsock_hdr *h);

/* ---- conn.c ---------------------------------------------------------------- */

struct vsock_core;

/* What an epoll event of the core's set belongs to. */
enum vsock_watch_kind { VSOCK_WATCH_CONN, VSOCK_WATCH_BACKEND, VSOCK_WATCH_DEVICE };

struct vsock_watch {
	enum vsock_watch_kind kind;
	int fd;
	void *owner; /* the connection, the backend, the device */
};

struct vsock_backend {
	const char *name;
	/*
	 * The guest's port "peer_port" connects to host port "port": a
	 * connected non-blocking stream fd, -ENOENT when the port is not this
	 * backend's, another -errno when it refuses (the guest gets a reset
	 * either way). The fd is the core's from then on. -EINPROGRESS: the
	 * backend answers later, with vsock_core_connect_done().
	 */
	int (*connect)(struct vsock_backend *b, uint32_t port, uint32_t peer_port);
	/* An event on a VSOCK_WATCH_BACKEND watch of this backend. */
	void (*event)(struct vsock_backend *b, struct vsock_watch *w, uint32_t events);

	/* Optional, all of them: */
	/* A datagram from the guest (checked by vsock_parse); true if taken. */
	bool (*dgram)(struct vsock_backend *b, const struct vsock_pkt *p);
	/* A host-initiated connection was accepted by the guest (its RESPONSE). */
	void (*established)(struct vsock_backend *b, uint32_t local_port, uint32_t peer_port);
	/* A connection left the table (closed, reset, refused by the guest). */
	void (*closed)(struct vsock_backend *b, uint32_t local_port, uint32_t peer_port);
	/* Fill receive buffers with the backend's own packets; how many used. */
	unsigned int (*rx)(struct vsock_backend *b, struct virtq *rxq);
	/* Has packets for rx()? */
	bool (*has_rx)(const struct vsock_backend *b);
	/* Must the transmit queue wait (its replies have no room)? */
	bool (*tx_blocked)(const struct vsock_backend *b);
	struct vsock_core *core;
	struct vsock_backend *next;
};

enum vsock_conn_state {
	CONN_FREE,
	CONN_CONNECTING,  /* host-initiated: REQUEST to the guest, no answer yet */
	CONN_HELD,	  /* guest-initiated: the backend answers it later (no fd yet) */
	CONN_ESTABLISHED, /* data flows (in the directions not shut down) */
	CONN_CLOSING,	  /* the guest shut both ways; the host end takes the rest */
	CONN_RESETTING,	  /* host end closed; a RST for the guest is waiting */
};

struct vsock_conn {
	struct vsock_watch watch; /* watch.fd: the host end */
	uint32_t local_port;	  /* the host side's port */
	uint32_t peer_port;	  /* the guest's */
	enum vsock_conn_state state;
	uint8_t pending;    /* PEND_* packets to send the guest */
	uint8_t guest_shut; /* VSOCK_SHUTDOWN_* the guest sent */
	bool readable;	    /* the host end may have data (edge-triggered) */
	bool hangup;	    /* epoll said the host end hung up (or failed) */
	bool host_eof;	    /* the host end sent its last byte */
	bool want_out;	    /* EPOLLOUT is on: buffered data waits */
	bool on_list;

	/* guest -> host: what we received, wrote to the host end, told the guest */
	uint32_t rx_cnt, fwd_cnt, sent_fwd_cnt;
	uint8_t *buf; /* ring of VSOCK_BUF_ALLOC: received, not yet written */
	uint32_t buf_head;
	/* host -> guest: what we sent, and the guest's latest credit */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;

	int64_t deadline_ms; /* CONNECTING, CLOSING: give up then */
	int hnext;	     /* hash chain, -1 ends it */
	struct vsock_conn *snext, *sprev;
};

/* Log-once bits: each kind of bad guest input is logged the first time. */
enum vsock_warn {
	WARN_SHORT,
	WARN_CID,
	WARN_TYPE,
	WARN_OP,
	WARN_LEN,
	WARN_OVERSIZED,
	WARN_CREDIT,
	WARN_TABLE_FULL,
	WARN_RX_BUFFER,
	WARN_PROTOCOL,
	WARN_NOMEM,
	WARN_HOST_REFUSED,
	WARN_UNMAPPED,
	WARN_HOST_FULL,
	WARN_DEADLINE,
};

struct vsock_rx_slot {
	uint16_t head;
	unsigned int first_iov, niov; /* payload space in core->rx_iov */
	uint32_t cap;
	void *hdr; /* where the header goes: the first descriptor */
};

#define VSOCK_RX_BATCH	    32 /* receive buffers one read() fills at most */
#define VSOCK_RX_BATCH_IOV  256
#define VSOCK_RX_BATCH_SIZE (128 * 1024)

struct vsock_core {
	uint64_t guest_cid;
	bool dgram; /* datagrams accepted (TSI on, and the driver took F_DGRAM) */
	int epfd;
	struct vsock_backend *backends;

	struct vsock_conn conns[VSOCK_MAX_CONNS];
	int buckets[VSOCK_MAX_CONNS];
	unsigned int nconns, ndeadlines;
	uint32_t next_local_port;
	struct vsock_conn *send_head, *send_tail; /* connections with something for the guest */

	struct vsock_hdr rst_ring[VSOCK_RST_RING];
	unsigned int rst_head, rst_count;

	uint32_t warned;
	struct vsock_pkt pkt;	  /* the packet being handled */
	struct virtq_chain chain; /* the receive chain being filled */
	struct vsock_rx_slot slots[VSOCK_RX_BATCH];
	struct iovec rx_iov[VSOCK_RX_BATCH_IOV];

	/* Counters, for the debug log and the tests. */
	uint64_t stat_tx_pkts, stat_rx_pkts, stat_credit_updates, stat_resets;
};

int vsock_core_init(struct vsock_core *vc, uint64_t guest_cid);
/* Close every connection (driver reset). Backends stay. */
void vsock_core_reset(struct vsock_core *vc);
/* Close everything, epoll set included. */
void vsock_core_release(struct vsock_core *vc);
void vsock_core_add_backend(struct vsock_core *vc, struct vsock_backend *b);

/* Watch fd in the core's epoll set; events come back through w. */
int vsock_core_watch(struct vsock_core *vc, struct vsock_watch *w, uint32_t events);

/* One packet of the transmit queue (its readable buffers). */
void vsock_core_tx(struct vsock_core *vc, const struct iovec *iov, unsigned int n);
/* Transmit packets must wait for receive buffers (replies would be lost). */
bool vsock_core_tx_blocked(const struct vsock_core *vc);
/* Fill receive buffers of rxq (its lock held); returns how many were used. */
unsigned int vsock_core_rx(struct vsock_core *vc, struct virtq *rxq);
/* Anything waiting for receive buffers? */
bool vsock_core_has_rx(const struct vsock_core *vc);
/* An epoll event of a VSOCK_WATCH_CONN or VSOCK_WATCH_BACKEND watch. */
void vsock_core_event(struct vsock_core *vc, struct vsock_watch *w, uint32_t events);
/*
 * A host connection for guest port "port" (a backend accepted fd, now ours
 * on success); *local_port (if not NULL) is the host side's port it got.
 */
int vsock_core_host_connect(struct vsock_core *vc, uint32_t port, int fd, uint32_t *local_port);
/*
 * The answer to a guest connect the backend held (-EINPROGRESS): fd, the
 * host end (the core's on success), or -errno for a reset. -ENOENT when the
 * guest has given up meanwhile; on any error the fd stays the caller's.
 */
int vsock_core_connect_done(struct vsock_core *vc, uint32_t port, uint32_t peer_port, int fd);
/* The next receive buffer that holds at least a header (in vc->chain); false if none. */
bool vsock_core_pop_rx(struct vsock_core *vc, struct virtq *rxq);
/* Deadlines: handle those passed; returns ms to the next one, -1 for none. */
int vsock_core_expire(struct vsock_core *vc);
/* Log "what" once per core for this kind of trouble. */
bool vsock_warn_once(struct vsock_core *vc, enum vsock_warn kind);

/* ---- unix.c ---------------------------------------------------------------- */

struct vsock_config;

/*
 * The unix-socket backend for cfg's port mappings: listen=true ports are
 * bound and listening when this returns (-EEXIST if the path exists).
 */
int vsock_unix_create(struct vsock_core *vc, const struct vsock_config *cfg,
		      struct vsock_backend **out);
/* Remove the sockets the backend created (the VM stops). */
void vsock_unix_unlink(struct vsock_backend *b);
void vsock_unix_free(struct vsock_backend *b);

#endif
