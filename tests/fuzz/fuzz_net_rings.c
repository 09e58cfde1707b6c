// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the virtio-net device (devices/virtio/net/device.c) as a
 * hostile guest and a hostile peer drive it. The guest's rings and
 * descriptors are the fuzzer's; so are the peer's bytes (a stream with
 * length prefixes, datagrams, or tap frames read straight into the guest's
 * buffers) and when the peer is full. The device is served by hand, one
 * transmit or receive pass per step, as its thread would.
 *
 * Input: byte 0 the backend (% 3) and the features (bit 2: offloads, bit 3:
 * mergeable buffers, bit 4: EVENT_IDX), then steps of a byte and what it
 * takes:
 *   0  a receive chain: 1-4 descriptors, each a length, WRITE or not, and
 *      sometimes a next that leads elsewhere in the table (every buffer is
 *      in the queue's buffer area: the guest never hands the device its own
 *      rings, so a completion out of place is the device's; indirect tables
 *      are fuzz_virtq's)
 *   1  a transmit chain: the same, then the frame's bytes (header first)
 *   2  the peer sends: up to 255 bytes, or a frame of a length the input
 *      gives (tap, datagram), as it comes
 *   3  a transmit pass;  4  a receive pass
 *   5  the peer is full (sends fail with EAGAIN) or not
 *   6  the driver resets the queues;  7  the peer goes away
 *
 * Checked: a completed chain was in flight on its queue (none completed
 * twice or made up), a receive chain's used length fits the buffers the
 * guest gave it, and no host memory is touched out of bounds (ASan).
 */
#define net_builder fuzz_net_builder /* the device file's, unused here */
#include "devices/virtio/net/device.c"
#include "libkrun.h"

#define QSIZE	   64
#define SLOTS	   (QSIZE / 4) /* chains in flight per queue: 4 descriptors each */
#define SLOT_SIZE  (64 * 1024)
#define RING_GPA   0x1000 /* each queue: descriptors, avail, used in 4 KiB pages */
#define BUF_GPA	   0x100000
#define FUZZ_MEM   (BUF_GPA + 2 * SLOTS * SLOT_SIZE)
#define PEER_BYTES (256 * 1024)

static struct guest_mem mem;
static struct net_if *nif;
static struct virtio_queue queues[2];

static struct {
	bool in_flight[SLOTS];
	uint64_t cap[SLOTS]; /* writable bytes of the chain as posted */
	bool plain[SLOTS];   /* its descriptors are the slot's own: cap is all it has */
	uint16_t seen_used;
} guest[2];

static struct {
	uint8_t bytes[PEER_BYTES];
	size_t head, tail;
	bool full, gone;
} peer;

static uint64_t desc_gpa(int q)
{
	return RING_GPA + (uint64_t)q * 0x3000;
}

static uint64_t avail_gpa(int q)
{
	return desc_gpa(q) + 0x1000;
}

static uint64_t used_gpa(int q)
{
	return desc_gpa(q) + 0x2000;
}

/* ---- the peer: the fuzzer's bytes */

static ssize_t peer_recv(struct net_if *n, void *buf, size_t len)
{
	size_t have = peer.tail - peer.head, take;

	(void)n;
	if (peer.gone)
		return 0;
	if (!have)
		return -EAGAIN;
	if (nif->ops->stream) {
		take = MIN(have, len);
	} else {
		/* A datagram or tap frame: the first two bytes say its length. */
		take = have < 2 ? 0
				: MIN(have - 2, (size_t)peer.bytes[peer.head] << 8 |
						    peer.bytes[peer.head + 1]);
		peer.head += MIN(have, 2);
		if (!take)
			return -ENODATA; /* as a tap says of an empty read */
		if (take > len) {
			peer.head += take;
			return -EMSGSIZE;
		}
	}
	memcpy(buf, peer.bytes + peer.head, take);
	peer.head += take;
	return (ssize_t)take;
}

static ssize_t peer_recv_iov(struct net_if *n, const struct iovec *iov, unsigned int niov)
{
	static uint8_t frame[NET_HDR_LEN + NET_MAX_FRAME];
	ssize_t len = peer_recv(n, frame, sizeof(frame));

	/* As readv() on a tap: what the buffers hold, the rest of the frame lost. */
	if (len > 0)
		len = (ssize_t)buf_to_iov(iov, niov, 0, frame, (size_t)len);
	return len;
}

static int peer_send(struct net_if *n, struct net_tx_batch *b)
{
	(void)n;
	if (peer.gone)
		return -EPIPE;
	if (peer.full)
		return -EAGAIN;
	for (; b->next < b->nframes; b->next++) {
		static uint8_t sink[4 + NET_HDR_LEN + NET_MAX_FRAME];
		const struct net_tx_frame *f = &b->frames[b->next];

		/* The peer reads every byte; no frame is over the largest. */
		if (f->len > sizeof(sink) ||
		    iov_to_buf(b->iov + f->first, f->niov, 0, sink, f->len) != f->len)
			abort();
	}
	b->next_sent = 0;
	return 0;
}

static const struct net_backend_ops backends[3] = {
    {.name = "stream", .stream = true, .recv = peer_recv, .send = peer_send},
    {.name = "gram", .recv = peer_recv, .send = peer_send},
    {.name = "tap",
     .vnet_hdr = true,
     .recv = peer_recv,
     .recv_iov = peer_recv_iov,
     .send = peer_send},
};

/* ---- the guest: rings, chains, completions */

static void activate_queues(void)
{
	for (int q = 0; q < 2; q++) {
		struct virtq *vq = &queues[q].vq;

		memset(guest_ptr(&mem, desc_gpa(q), 0x3000), 0, 0x3000);
		virtq_reset(vq);
		vq->size = QSIZE;
		vq->desc_addr = desc_gpa(q);
		vq->avail_addr = avail_gpa(q);
		vq->used_addr = used_gpa(q);
		vq->event_idx = nif->features & VIRTIO_F_EVENT_IDX;
		if (!virtq_activate(vq, &mem))
			abort();
		vq->ready = true;
		memset(&guest[q], 0, sizeof(guest[q]));
	}
}

/* A chain in a free slot of queue q, described by the input; returns bytes used. */
static size_t post_chain(int q, const uint8_t *d, size_t n)
{
	struct virtq_desc *desc = guest_ptr(&mem, desc_gpa(q), 16 * QSIZE);
	uint16_t *avail = guest_ptr(&mem, avail_gpa(q), 6 + 2 * QSIZE);
	unsigned int slot, ndesc;
	uint64_t buf = BUF_GPA + (uint64_t)q * SLOTS * SLOT_SIZE;
	size_t used = 1, content = 0;

	if (n < 1)
		return n;
	for (slot = 0; slot < SLOTS && guest[q].in_flight[slot]; slot++)
		;
	if (slot == SLOTS)
		return 1;
	ndesc = MIN(d[0] % 4 + 1, (unsigned int)((n - 1) / 3)); /* those the input describes */
	if (!ndesc)
		return n;
	buf += (uint64_t)slot * SLOT_SIZE;
	guest[q].cap[slot] = 0;
	guest[q].plain[slot] = true;
	for (unsigned int i = 0; i < ndesc; i++, used += 3) {
		uint32_t len = ((uint32_t)d[used] << 8 | d[used + 1]) % (SLOT_SIZE / 4 + 1);
		uint8_t f = d[used + 2];
		uint16_t flags =
		    (f & 1 ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < ndesc ? VIRTQ_DESC_F_NEXT : 0);

		desc[slot * 4 + i] = (struct virtq_desc){buf + i * (SLOT_SIZE / 4), len, flags,
							 (uint16_t)(f & 2 ? f : slot * 4 + i + 1)};
		if (flags & VIRTQ_DESC_F_WRITE)
			guest[q].cap[slot] += len;
		if (f & 2)
			guest[q].plain[slot] = false;
		/* A transmit frame: the input's bytes after the descriptors, those there are. */
		if (q == TX_QUEUE) {
			size_t from = 1 + 3 * ndesc + content, take = MIN(len, n - MIN(n, from));

			if (take)
				memcpy(guest_ptr(&mem, buf + i * (SLOT_SIZE / 4), len), d + from,
				       take);
			content += take;
		}
	}
	used += content;
	guest[q].in_flight[slot] = true;
	avail[2 + avail[1] % QSIZE] = (uint16_t)(slot * 4);
	__atomic_store_n(&avail[1], (uint16_t)(avail[1] + 1), __ATOMIC_RELEASE);
	return used;
}

/* The device's completions: each must be a chain in flight, within what it was given. */
static void collect_used(int q)
{
	uint8_t *used = guest_ptr(&mem, used_gpa(q), 6 + 8 * QSIZE);
	uint16_t idx;

	memcpy(&idx, used + 2, 2);
	while (guest[q].seen_used != idx) {
		struct virtq_used_elem e;
		unsigned int slot;

		memcpy(&e, used + 4 + 8 * (guest[q].seen_used++ % QSIZE), sizeof(e));
		slot = e.id / 4;
		if (e.id % 4 || slot >= SLOTS || !guest[q].in_flight[slot])
			abort(); /* completed twice, or never posted */
		if (q == RX_QUEUE && guest[q].plain[slot] && e.len > guest[q].cap[slot])
			abort(); /* more than the guest's buffers hold */
		guest[q].in_flight[slot] = false;
	}
}

/* ---- one input */

static void setup(void)
{
	if (guest_mem_init(&mem, FUZZ_MEM) < 0)
		abort();
	nif = calloc(1, sizeof(*nif));
	if (!nif || !(nif->rx_buf = malloc(NET_RX_BUF)))
		abort();
	for (int q = 0; q < 2; q++)
		pthread_mutex_init(&queues[q].lock, NULL);
	log_set_level(0);
}

static void start(uint8_t choice)
{
	uint8_t *rx_buf = nif->rx_buf;

	memset(nif, 0, sizeof(*nif));
	nif->rx_buf = rx_buf;
	nif->ops = &backends[choice % 3];
	nif->fd = nif->epfd = -1;
	init_peer_state(nif);
	set_frame_bounds(nif);
	nif->dev.ops = &net_ops;
	nif->dev.priv = nif;
	nif->dev.irq_fd = -1;
	nif->dev.queues = queues;
	nif->dev.nqueues = 2;
	nif->features =
	    (choice & 4 ? net_offered_features(COMPAT_NET_FEATURES) & ~VIRTIO_NET_F_MRG_RXBUF : 0) |
	    (choice & 8 ? VIRTIO_NET_F_MRG_RXBUF : 0) | (choice & 16 ? VIRTIO_F_EVENT_IDX : 0);
	nif->ready = true;
	peer.head = peer.tail = 0;
	peer.full = peer.gone = false;
	/* The buffers as new, so that an input does the same each time. */
	memset(guest_ptr(&mem, BUF_GPA, FUZZ_MEM - BUF_GPA), 0, FUZZ_MEM - BUF_GPA);
	activate_queues();
}

static size_t peer_sends(const uint8_t *d, size_t n)
{
	size_t room, len;

	if (peer.head == peer.tail)
		peer.head = peer.tail = 0;
	room = PEER_BYTES - peer.tail;
	nif->rx_readable = true;
	if (!nif->ops->stream && n >= 4 && d[1] == 0xff && room >= 2) {
		/* A frame of a length the input gives, of one repeated byte. */
		len = MIN(((size_t)d[2] << 8 | d[3]) * 2, room - 2);
		peer.bytes[peer.tail] = (uint8_t)(len >> 8);
		peer.bytes[peer.tail + 1] = (uint8_t)len;
		memset(peer.bytes + peer.tail + 2, d[0], len);
		peer.tail += 2 + len;
		return 4;
	}
	/* Bytes as they come: a count, then that many of the input's. */
	len = n ? MIN(MIN((size_t)d[0], n - 1), room) : 0;
	memcpy(peer.bytes + peer.tail, d + 1, len);
	peer.tail += len;
	return 1 + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	size_t i = 1;

	if (!once) {
		setup();
		once = true;
	}
	if (size < 1)
		return 0;
	start(data[0]);
	for (unsigned int steps = 0; i < size && steps < 256; steps++) {
		uint8_t op = data[i++] % 8;
		bool notify = false;

		switch (op) {
		case 0:
		case 1:
			i += post_chain(op == 0 ? RX_QUEUE : TX_QUEUE, data + i, size - i);
			break;
		case 2:
			i += peer_sends(data + i, size - i);
			break;
		case 3:
			nif->tx_writable = nif->tx_writable || !peer.full;
			serve_tx(nif, &notify);
			break;
		case 4:
			serve_rx(nif, &notify);
			break;
		case 5:
			peer.full = !peer.full;
			break;
		case 6:
			net_reset(&nif->dev);
			nif->ready = true;
			activate_queues();
			break;
		case 7:
			peer.gone = true;
			nif->rx_readable = true;
			break;
		}
		collect_used(TX_QUEUE);
		collect_used(RX_QUEUE);
	}
	/* Whatever is left: served until nothing moves. */
	peer.full = false;
	nif->tx_writable = true;
	for (int round = 0; round < 64; round++) {
		bool notify = false, moved = serve_tx(nif, &notify);

		moved |= serve_rx(nif, &notify);
		collect_used(TX_QUEUE);
		collect_used(RX_QUEUE);
		if (!moved)
			break;
	}
	return 0;
}
