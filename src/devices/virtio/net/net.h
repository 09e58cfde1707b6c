/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net (virtio 1.2, section 5.1): one receive and one transmit queue
 * per interface, served by the interface's own thread; the backends
 * (unixstream.c, unixgram.c, tap.c) move frames to and from the peer. The
 * pure parts (header checks, the stream de-framer, checksums: frame.c) take
 * no device state, for the unit tests and the fuzzer.
 */
#ifndef KRUN_VIRTIO_NET_H
#define KRUN_VIRTIO_NET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "devices/virtio/virtio.h"
#include "vmm/config.h"

/* Feature bits (section 5.1.3). */
#define VIRTIO_NET_F_CSUM	(1ULL << 0)
#define VIRTIO_NET_F_GUEST_CSUM (1ULL << 1)
#define VIRTIO_NET_F_MAC	(1ULL << 5)
#define VIRTIO_NET_F_GUEST_TSO4 (1ULL << 7)
#define VIRTIO_NET_F_GUEST_TSO6 (1ULL << 8)
#define VIRTIO_NET_F_GUEST_UFO	(1ULL << 10)
#define VIRTIO_NET_F_HOST_TSO4	(1ULL << 11)
#define VIRTIO_NET_F_HOST_TSO6	(1ULL << 12)
#define VIRTIO_NET_F_HOST_UFO	(1ULL << 14)
#define VIRTIO_NET_F_MRG_RXBUF	(1ULL << 15)
#define VIRTIO_NET_F_STATUS	(1ULL << 16)

#define VIRTIO_NET_S_LINK_UP 1

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2

#define VIRTIO_NET_HDR_GSO_NONE	 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP	 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN	 0x80

/* The header before every frame; num_buffers is always there with VERSION_1. */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

#define NET_HDR_LEN   sizeof(struct virtio_net_hdr) /* 12 */
#define NET_ETH_HLEN  14
#define NET_MIN_FRAME NET_ETH_HLEN
/* An Ethernet header, a VLAN tag and the largest IP packet (a GSO super-frame). */
#define NET_MAX_FRAME (NET_ETH_HLEN + 4 + 65535)

/* Why a frame was dropped (counted per reason). */
enum net_drop {
	NET_OK = 0,
	NET_DROP_SHORT,	   /* shorter than an Ethernet header */
	NET_DROP_LONG,	   /* longer than NET_MAX_FRAME */
	NET_DROP_FLAGS,	   /* header flags not allowed / not negotiated */
	NET_DROP_GSO,	   /* GSO type not negotiated, or inconsistent */
	NET_DROP_CSUM,	   /* checksum offsets outside the frame */
	NET_DROP_NOROOM,   /* the guest's buffers cannot hold the frame */
	NET_DROP_LINKDOWN, /* the peer is gone */
	NET_DROP_CHAIN,	   /* a chain with too many pieces */
	NET_DROP_MAX,
};

extern const char *const net_drop_names[NET_DROP_MAX];

/* The features an interface offers for the NET_FEATURE_* bits it was given. */
uint64_t net_offered_features(uint32_t requested);

/*
 * Check a transmit header (little-endian, as the guest wrote it) against
 * the negotiated features and the frame's length (without the header).
 */
enum net_drop net_tx_check(const struct virtio_net_hdr *hdr, uint64_t features, size_t frame_len);

/*
 * The stream de-framer (QEMU's stream netdev framing: a 4-byte big-endian
 * length before each frame). Looks at buf[0, len): returns NET_FRAME with
 * *frame_off and *frame_len when a whole frame is there, NET_FRAME_MORE when more
 * bytes are needed, NET_FRAME_BAD when the length is out of bounds (then
 * *skip is set: the bytes to throw away after the prefix, so that the
 * stream stays in step). *consumed is what the caller may discard.
 */
enum net_deframe { NET_FRAME_MORE, NET_FRAME, NET_FRAME_BAD };

struct net_deframer {
	uint64_t skip; /* bytes of a bad frame still to throw away */
	size_t min_len, max_len;
};

enum net_deframe net_deframe(struct net_deframer *d, const uint8_t *buf, size_t len,
			     size_t *consumed, size_t *frame_off, size_t *frame_len);

/* The Internet checksum of iov bytes [off, off + len), "sum" folded in; not complemented. */
uint16_t net_csum_iov(const struct iovec *iov, unsigned int n, size_t off, size_t len,
		      uint32_t sum);

/* ---- The device side (device.c) and the backends */

#define NET_QUEUE_SIZE	  256
#define NET_TX_BATCH	  64
#define NET_TX_IOV	  1024 /* pieces of the frames in one batch */
#define NET_TX_FRAME_IOV  260  /* pieces of one frame (Linux uses up to 19) */
#define NET_RX_BUF	  (1024 * 1024)
#define NET_RX_IOV	  1024
#define NET_RX_MAX_CHAINS 64

struct net_if;

/* One frame of a transmit batch: iov[first, first + niov) is what the peer gets. */
struct net_tx_frame {
	uint16_t head;
	unsigned int first, niov;
	size_t len;
};

struct net_tx_batch {
	struct net_tx_frame frames[NET_TX_BATCH];
	unsigned int nframes;
	unsigned int next;   /* first frame not fully sent */
	size_t next_sent;    /* bytes of it sent already (stream peers) */
	uint32_t generation; /* of the queue the chains came from */
	struct iovec iov[NET_TX_IOV];
	unsigned int niov;
	uint8_t prefix[NET_TX_BATCH][NET_HDR_LEN]; /* length prefix or header copy */
	uint16_t csum[NET_TX_BATCH];		   /* checksums filled in for the peer */
};

struct net_backend_ops {
	const char *name;
	bool vnet_hdr; /* frames carry the virtio-net header both ways (tap) */
	bool stream;   /* received bytes are a length-prefixed stream */
	/*
	 * Stream: read what is there into buf. Datagram/tap: one frame (for a
	 * tap with its header). Bytes, 0 when the peer is gone, -EAGAIN, or
	 * -EMSGSIZE for a frame longer than len (dropped).
	 */
	ssize_t (*recv)(struct net_if *nif, void *buf, size_t len);
	/*
	 * Optional, for a peer whose frames carry the header (tap): one frame
	 * straight into the guest's buffers, as recv.
	 */
	ssize_t (*recv_iov)(struct net_if *nif, const struct iovec *iov, unsigned int n);
	/* Send batch frames from b->next on; 0 when all went, -EAGAIN, or -errno (peer gone). */
	int (*send)(struct net_if *nif, struct net_tx_batch *b);
	/* The guest's receive offloads were negotiated (tap). Optional. */
	int (*set_offload)(struct net_if *nif, uint64_t features);
};

/*
 * Put the frame of transmit chain "c" into the batch (it must have room for
 * NET_TX_FRAME_IOV + 2 iovecs and a frame): checked against the features,
 * with the backend's prefix, and for a peer without the header the checksum
 * the guest left to the device filled in. NET_OK, or why it is dropped.
 */
enum net_drop net_tx_add_frame(struct net_tx_batch *b, const struct net_backend_ops *ops,
			       uint64_t features, const struct virtq_chain *c);

/*
 * The frames of the next write to a stream peer, from b->next on (the first
 * one from b->next_sent): one frame, or whole frames that together take at
 * most "max" bytes (see unixstream.c). Returns how many.
 */
unsigned int net_stream_write_frames(const struct net_tx_batch *b, size_t max);

/*
 * Receive buffers of the guest popped ahead, for recv_iov: enough for the
 * largest frame, kept from one frame to the next (a frame takes the first
 * chains it fills). They are always the last chains popped, so they can be
 * given back (virtq_unpop) when the copying path takes over.
 */
struct net_rx_reserve {
	uint16_t head[NET_RX_MAX_CHAINS];
	uint32_t cap[NET_RX_MAX_CHAINS];
	unsigned int niov[NET_RX_MAX_CHAINS]; /* iovecs of each chain */
	unsigned int nchains, total_iov;
	size_t bytes;
	uint32_t generation; /* of the queue they came from */
	struct iovec iov[NET_RX_IOV];
};

struct net_stats {
	uint64_t tx_frames, tx_bytes, rx_frames, rx_bytes;
	uint64_t tx_drops[NET_DROP_MAX], rx_drops[NET_DROP_MAX];
};

struct net_if {
	struct virtio_device dev;
	char name[16]; /* eth0... */
	const struct net_backend_ops *ops;
	int fd;
	bool own_fd;
	uint8_t config[8]; /* struct virtio_net_config: mac, status */
	atomic_bool link_up;
	bool peer_gone_logged;
	/* unixstream: at most this many bytes of whole frames in one write */
	size_t stream_write_max;

	pthread_mutex_t lock; /* everything below: the thread, and a driver reset */
	pthread_t thread;
	bool started, ready;
	int epfd;
	uint32_t watched; /* epoll events asked for on fd; ~0u: not in the set */
	bool rx_readable, tx_writable;
	uint64_t features; /* negotiated */

	/* Frames from the peer, as a length-prefixed stream (see net_deframe). */
	uint8_t *rx_buf;
	size_t rx_head, rx_tail;
	struct net_deframer deframer;

	struct virtq_chain chain; /* scratch for pops */
	struct iovec rx_iov[NET_RX_IOV];
	struct net_rx_reserve reserve;
	struct net_tx_batch tx;
	struct net_stats stats;
};

/* The peer's unix socket of @type (unix_peer.c), for the two backends below. */
int net_unix_peer_open(struct net_if *nif, const struct net_config *cfg, int type);
int net_unixstream_open(struct net_if *nif, const struct net_config *cfg);
int net_unixgram_open(struct net_if *nif, const struct net_config *cfg);
int net_tap_open(struct net_if *nif, const struct net_config *cfg);

#endif
