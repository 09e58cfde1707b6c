// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-net device: MAC and link status in config space, mergeable
 * receive buffers, the offloads the interface was given, one thread per
 * interface that serves both queues and the peer's fd from one epoll set.
 *
 * Transmit: chains are taken in batches; each frame is checked (net_tx_check)
 * and handed to the backend as iovecs pointing into guest memory, with a
 * small prefix of ours (stream length, or a copy of the header for a tap);
 * nothing is copied. A peer that is full keeps the batch (and the guest's
 * buffers) until it can take more: the guest is throttled, nothing buffered.
 *
 * Receive: the peer's frames go into one bounded buffer, as a length-prefixed
 * stream (a stream peer's bytes as they come; a datagram or a tap frame with
 * a prefix of ours), then into the guest's buffers. The peer's fd is only
 * read while the buffer has room: a peer faster than the guest fills its
 * socket and is back-pressured. A tap's frames, once the guest has
 * mergeable buffers, skip the buffer: each is read straight into the
 * guest's chains (recv_direct), and waits in the tap while they are short.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "devices/builders.h"
#include "devices/virtio/net/net.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define RX_QUEUE 0
#define TX_QUEUE 1

#define SERVE_ROUNDS 32 /* before the thread looks at its epoll set again */
#define RX_BATCH     64 /* frames to the guest per round, one interrupt */
#define WATCH_NONE   (~0u)

/* ---- peer state */

static void update_watch(struct net_if *nif)
{
	uint32_t want = 0;

	if (nif->watched == WATCH_NONE)
		return;
	if (!nif->rx_readable &&
	    NET_RX_BUF - (nif->rx_tail - nif->rx_head) >= 4 + NET_HDR_LEN + NET_MAX_FRAME)
		want |= EPOLLIN;
	if (!nif->tx_writable)
		want |= EPOLLOUT;
	if (want == nif->watched)
		return;
	/* Nothing wanted: out of the set, or a hang-up would wake us in a loop. */
	if (!want) {
		epoll_ctl(nif->epfd, EPOLL_CTL_DEL, nif->fd, NULL);
	} else {
		struct epoll_event ev = {.events = want, .data.ptr = nif};

		if (epoll_ctl(nif->epfd, nif->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, nif->fd,
			      &ev) < 0)
			pr_debug("virtio-net %s: epoll_ctl: %s", nif->name, strerror(errno));
	}
	nif->watched = want;
}

/* The peer went away: the guest sees the link down; the VM runs on. */
static void peer_gone(struct net_if *nif, int err)
{
	if (!atomic_exchange(&nif->link_up, false))
		return;
	if (!nif->peer_gone_logged) {
		nif->peer_gone_logged = true;
		pr_warn("virtio-net %s: the %s peer went away (%s): link down", nif->name,
			nif->ops->name, err ? strerror(err) : "connection closed");
	}
	if (nif->watched != WATCH_NONE && nif->watched)
		epoll_ctl(nif->epfd, EPOLL_CTL_DEL, nif->fd, NULL);
	nif->watched = WATCH_NONE;
	nif->config[6] = 0; /* status, little-endian */
	nif->config[7] = 0;
	virtio_notify_config(&nif->dev);
}

/* ---- transmit */

static void push_tx(struct net_if *nif, uint16_t head, uint32_t generation)
{
	struct virtio_queue *q = &nif->dev.queues[TX_QUEUE];

	if (generation == q->vq.generation)
		virtq_push(&q->vq, head, 0);
}

/* Give back the frames the backend has sent since the last call. */
static unsigned int complete_sent(struct net_if *nif, unsigned int done)
{
	struct net_tx_batch *b = &nif->tx;
	unsigned int n = 0;

	for (; done < b->next; done++, n++) {
		nif->stats.tx_frames++;
		nif->stats.tx_bytes += b->frames[done].len;
		push_tx(nif, b->frames[done].head, b->generation);
	}
	return n;
}

static void drop_tx(struct net_if *nif, uint16_t head, enum net_drop why)
{
	nif->stats.tx_drops[why]++;
	if (why != NET_DROP_LINKDOWN)
		pr_warn_guest("virtio-net %s: transmit frame dropped: %s", nif->name,
			      net_drop_names[why]);
	push_tx(nif, head, nif->dev.queues[TX_QUEUE].vq.generation);
}

/* Send what the batch holds; false when the peer is full (the rest waits). */
static bool flush_tx(struct net_if *nif, unsigned int *pushed)
{
	struct net_tx_batch *b = &nif->tx;
	unsigned int done = b->next;
	int ret;

	if (b->next == b->nframes)
		return true;
	if (!atomic_load(&nif->link_up)) {
		ret = -EPIPE;
	} else {
		ret = nif->ops->send(nif, b);
		*pushed += complete_sent(nif, done);
		if (ret == -EAGAIN) {
			nif->tx_writable = false;
			return false;
		}
		if (ret < 0)
			peer_gone(nif, -ret);
	}
	if (ret < 0) {
		for (unsigned int i = b->next; i < b->nframes; i++) {
			nif->stats.tx_drops[NET_DROP_LINKDOWN]++;
			push_tx(nif, b->frames[i].head, b->generation);
			(*pushed)++;
		}
	}
	b->nframes = b->next = b->niov = 0;
	b->next_sent = 0;
	return true;
}

/* One batch: true if anything moved; *notify when the guest wants to know. */
static bool serve_tx(struct net_if *nif, bool *notify)
{
	struct virtio_queue *q = &nif->dev.queues[TX_QUEUE];
	struct net_tx_batch *b = &nif->tx;
	unsigned int pushed = 0;
	bool moved = false;

	pthread_mutex_lock(&q->lock);
	if (b->nframes && !nif->tx_writable)
		goto out;
	if (b->nframes && !flush_tx(nif, &pushed))
		goto out;
	b->generation = q->vq.generation;
	while (b->nframes < NET_TX_BATCH && NET_TX_IOV - b->niov > NET_TX_FRAME_IOV + 2) {
		enum net_drop why;

		if (virtq_pop(&q->vq, &nif->chain) != 1)
			break;
		moved = true;
		why = atomic_load(&nif->link_up)
			  ? net_tx_add_frame(b, nif->ops, nif->features, &nif->chain)
			  : NET_DROP_LINKDOWN;
		if (why != NET_OK) {
			drop_tx(nif, nif->chain.head, why);
			pushed++;
		}
	}
	flush_tx(nif, &pushed);
out:
	if (pushed && virtq_needs_notify(&q->vq))
		*notify = true;
	pthread_mutex_unlock(&q->lock);
	return moved || pushed;
}

/* ---- receive */

/* Read from the peer while the buffer has room for a whole frame (or once). */
static void fill_rx(struct net_if *nif, bool once)
{
	const size_t need = 4 + NET_HDR_LEN + NET_MAX_FRAME;

	while (nif->rx_readable && atomic_load(&nif->link_up)) {
		ssize_t n;

		if (nif->rx_head == nif->rx_tail)
			nif->rx_head = nif->rx_tail = 0;
		/*
		 * No room for a frame at the end: move what is left to the front,
		 * but only once that copies no more than it frees. A guest slower
		 * than the peer keeps the buffer nearly full: moving all of it after
		 * each batch the guest takes would cost more than the frames.
		 */
		if (NET_RX_BUF - nif->rx_tail < need &&
		    nif->rx_tail - nif->rx_head <= nif->rx_head) {
			memcpy(nif->rx_buf, nif->rx_buf + nif->rx_head,
			       nif->rx_tail - nif->rx_head);
			nif->rx_tail -= nif->rx_head;
			nif->rx_head = 0;
		}
		if (NET_RX_BUF - nif->rx_tail < need)
			return; /* full: the guest drains it first */
		if (nif->ops->stream) {
			n = nif->ops->recv(nif, nif->rx_buf + nif->rx_tail,
					   NET_RX_BUF - nif->rx_tail);
		} else {
			n = nif->ops->recv(nif, nif->rx_buf + nif->rx_tail + 4, need - 4);
			if (n > 0) {
				uint32_t be = htobe32((uint32_t)n);

				memcpy(nif->rx_buf + nif->rx_tail, &be, 4);
				n += 4;
			}
		}
		if (n == -EAGAIN) {
			nif->rx_readable = false;
			return;
		}
		if (n == -EMSGSIZE || n == -ENODATA) {
			enum net_drop why = n == -EMSGSIZE ? NET_DROP_LONG : NET_DROP_SHORT;

			nif->stats.rx_drops[why]++;
			pr_warn_guest("virtio-net %s: a frame from the peer dropped: %s", nif->name,
				      net_drop_names[why]);
			continue;
		}
		if (n <= 0) {
			peer_gone(nif, n < 0 ? (int)-n : 0);
			return;
		}
		nif->rx_tail += (size_t)n;
		if (once)
			return;
	}
}

/*
 * Take the guest's buffers for "need" bytes: mergeable chains, or one
 * chain. Returns the number of chains (their iovecs in nif->rx_iov, their
 * heads and sizes in heads/caps), 0 when the guest has not enough, -1 when
 * one chain cannot hold the frame (no mergeable buffers).
 */
static int take_rx_buffers(struct net_if *nif, struct virtq *vq, size_t need, uint16_t *heads,
			   uint32_t *caps, unsigned int *niov)
{
	bool mergeable = nif->features & VIRTIO_NET_F_MRG_RXBUF;
	size_t total = 0;
	int nchains = 0;

	*niov = 0;
	while (total < need) {
		struct virtq_chain *c = &nif->chain;
		size_t cap = 0;

		if (nchains == NET_RX_MAX_CHAINS || virtq_pop(vq, c) != 1) {
			virtq_unpop(vq, (uint16_t)nchains);
			return 0;
		}
		for (unsigned int i = 0; i < c->nwritable && *niov < NET_RX_IOV; i++) {
			nif->rx_iov[(*niov)++] = c->writable[i];
			cap += c->writable[i].iov_len;
		}
		heads[nchains] = c->head;
		caps[nchains] = (uint32_t)MIN(cap, UINT32_MAX);
		nchains++;
		total += cap;
		if (!mergeable && total < need) {
			virtq_unpop(vq, 1);
			return -1;
		}
	}
	return nchains;
}

/* One frame into the guest; false when it has no room for it now. */
static bool deliver_frame(struct net_if *nif, struct virtq *vq, const uint8_t *frame, size_t len)
{
	struct virtio_net_hdr hdr = {0};
	uint16_t heads[NET_RX_MAX_CHAINS];
	uint32_t caps[NET_RX_MAX_CHAINS];
	unsigned int niov;
	size_t left;
	int n;

	if (nif->ops->vnet_hdr) {
		/* The tap's header: offloads the guest negotiated (TUNSETOFFLOAD). */
		memcpy(&hdr, frame, NET_HDR_LEN);
		frame += NET_HDR_LEN;
		len -= NET_HDR_LEN;
	}
	n = take_rx_buffers(nif, vq, NET_HDR_LEN + len, heads, caps, &niov);
	if (n == 0)
		return false;
	if (n < 0) {
		nif->stats.rx_drops[NET_DROP_NOROOM]++;
		pr_warn_guest("virtio-net %s: a %zu-byte frame does not fit the guest's receive "
			      "buffer: dropped",
			      nif->name, len);
		return true;
	}
	hdr.num_buffers = htole16((uint16_t)n);
	buf_to_iov(nif->rx_iov, niov, 0, &hdr, NET_HDR_LEN);
	buf_to_iov(nif->rx_iov, niov, NET_HDR_LEN, frame, len);
	left = NET_HDR_LEN + len;
	for (int i = 0; i < n; i++) {
		uint32_t used = (uint32_t)MIN(left, caps[i]);

		virtq_push(vq, heads[i], used);
		left -= used;
	}
	nif->stats.rx_frames++;
	nif->stats.rx_bytes += len;
	return true;
}

/* ---- receive straight into the guest's buffers (recv_iov) */

#define RX_DIRECT_NEED (NET_HDR_LEN + NET_MAX_FRAME)

enum rx_direct { RX_DIRECT_FRAME, RX_DIRECT_DROPPED, RX_DIRECT_EMPTY, RX_DIRECT_NOROOM };

/*
 * The peer's frames go straight into the guest's buffers: one copy, the
 * kernel's, instead of two. Needs mergeable buffers (a frame takes as many
 * chains as it fills) and a backend that reads one frame at a time.
 */
static bool rx_direct(const struct net_if *nif)
{
	return nif->ops->recv_iov && (nif->features & VIRTIO_NET_F_MRG_RXBUF);
}

/* The reserve holds nothing (its buffers given back, or of a ring gone). */
static void reserve_forget(struct net_rx_reserve *r)
{
	r->nchains = r->total_iov = 0;
	r->bytes = 0;
}

/* Give the held buffers back to the ring (the copying path pops them again). */
static void release_reserve(struct net_if *nif, struct virtq *vq)
{
	struct net_rx_reserve *r = &nif->reserve;

	if (r->nchains && r->generation == vq->generation)
		virtq_unpop(vq, (uint16_t)r->nchains);
	reserve_forget(r);
}

/* Pop buffers until the reserve holds the largest frame; false if the guest has too few. */
static bool fill_reserve(struct net_if *nif, struct virtq *vq)
{
	struct net_rx_reserve *r = &nif->reserve;

	if (r->generation != vq->generation) {
		reserve_forget(r); /* the queue was reset: not ours any more */
		r->generation = vq->generation;
	}
	while (r->bytes < RX_DIRECT_NEED && r->nchains < NET_RX_MAX_CHAINS) {
		struct virtq_chain *c = &nif->chain;
		unsigned int n;
		size_t cap = 0;

		if (virtq_pop(vq, c) != 1)
			return false;
		/* A chain that does not fit the iovecs left waits for the next frame. */
		n = MIN(c->nwritable, NET_RX_IOV - r->total_iov);
		if (n < c->nwritable && r->nchains) {
			virtq_unpop(vq, 1);
			return false;
		}
		for (unsigned int i = 0; i < n; i++) {
			r->iov[r->total_iov + i] = c->writable[i];
			cap += c->writable[i].iov_len;
		}
		r->head[r->nchains] = c->head;
		r->cap[r->nchains] = (uint32_t)MIN(cap, UINT32_MAX);
		r->niov[r->nchains] = n;
		r->nchains++;
		r->total_iov += n;
		r->bytes += r->cap[r->nchains - 1];
	}
	return r->bytes >= RX_DIRECT_NEED;
}

/* The first "len" bytes of the reserve are a frame: give its chains to the guest. */
static void use_reserve(struct net_if *nif, struct virtq *vq, size_t len)
{
	struct net_rx_reserve *r = &nif->reserve;
	unsigned int nchains = 0, niov = 0;
	size_t left = len, taken = 0;
	uint16_t num_buffers;

	while (left && nchains < r->nchains) {
		left -= MIN(left, r->cap[nchains]);
		taken += r->cap[nchains];
		niov += r->niov[nchains++];
	}
	/* The peer wrote the rest of the header; the count is ours, before the guest sees it. */
	num_buffers = htole16((uint16_t)nchains);
	buf_to_iov(r->iov, r->total_iov, offsetof(struct virtio_net_hdr, num_buffers), &num_buffers,
		   sizeof(num_buffers));
	left = len;
	for (unsigned int i = 0; i < nchains; i++) {
		uint32_t used = (uint32_t)MIN(left, r->cap[i]);

		virtq_push(vq, r->head[i], used);
		left -= used;
	}
	r->nchains -= nchains;
	r->total_iov -= niov;
	r->bytes -= taken;
	memmove(r->head, r->head + nchains, r->nchains * sizeof(r->head[0]));
	memmove(r->cap, r->cap + nchains, r->nchains * sizeof(r->cap[0]));
	memmove(r->niov, r->niov + nchains, r->nchains * sizeof(r->niov[0]));
	memmove(r->iov, r->iov + niov, r->total_iov * sizeof(r->iov[0]));
}

static enum rx_direct recv_direct(struct net_if *nif, struct virtq *vq)
{
	struct net_rx_reserve *r = &nif->reserve;
	ssize_t n;

	if (!nif->rx_readable || !atomic_load(&nif->link_up))
		return RX_DIRECT_EMPTY;
	if (!fill_reserve(nif, vq))
		return RX_DIRECT_NOROOM;
	n = nif->ops->recv_iov(nif, r->iov, r->total_iov);
	if (n == -EAGAIN) {
		nif->rx_readable = false;
		return RX_DIRECT_EMPTY;
	}
	if (n == 0) { /* the peer hung up (a tap says -ENODATA for an empty frame) */
		peer_gone(nif, 0);
		return RX_DIRECT_EMPTY;
	}
	if (n == -ENODATA || n == -EFAULT || (n > 0 && (size_t)n < nif->deframer.min_len)) {
		nif->stats.rx_drops[NET_DROP_SHORT]++;
		pr_warn_guest("virtio-net %s: a frame from the peer dropped: %s", nif->name,
			      net_drop_names[NET_DROP_SHORT]);
		return RX_DIRECT_DROPPED;
	}
	if (n < 0) {
		peer_gone(nif, (int)-n);
		return RX_DIRECT_EMPTY;
	}
	use_reserve(nif, vq, (size_t)n);
	nif->stats.rx_frames++;
	nif->stats.rx_bytes += (size_t)n - NET_HDR_LEN;
	return RX_DIRECT_FRAME;
}

static bool serve_rx(struct net_if *nif, bool *notify)
{
	struct virtio_queue *q = &nif->dev.queues[RX_QUEUE];
	unsigned int delivered = 0;
	bool moved = false;

	pthread_mutex_lock(&q->lock);
	while (delivered < RX_BATCH) {
		size_t consumed, off, len, before;
		enum net_deframe r;

		if (rx_direct(nif) && nif->rx_head == nif->rx_tail) {
			enum rx_direct d = recv_direct(nif, &q->vq);

			if (d == RX_DIRECT_FRAME)
				delivered++;
			if (d == RX_DIRECT_FRAME || d == RX_DIRECT_DROPPED) {
				moved = true;
				continue;
			}
			if (d != RX_DIRECT_NOROOM)
				break;
			/*
			 * Too few buffers for the largest frame: the next frame is
			 * copied, and goes in now if it fits. A guest whose ring never
			 * holds the largest frame still gets those that fit; otherwise
			 * the frames wait in the peer (as with vhost-net).
			 */
			release_reserve(nif, &q->vq);
			fill_rx(nif, true);
			if (nif->rx_head == nif->rx_tail)
				break;
			continue;
		}
		/* Frames read before: copied, in order, with buffers popped after the reserve's. */
		release_reserve(nif, &q->vq);
		r = net_deframe(&nif->deframer, nif->rx_buf + nif->rx_head,
				nif->rx_tail - nif->rx_head, &consumed, &off, &len);
		if (r == NET_FRAME) {
			if (!deliver_frame(nif, &q->vq, nif->rx_buf + nif->rx_head + off, len))
				break; /* the guest's kick brings us back */
			delivered++;
		} else if (r == NET_FRAME_BAD) {
			nif->stats.rx_drops[NET_DROP_LONG]++;
			pr_warn_guest("virtio-net %s: the peer sent a frame of bad length %llu: "
				      "dropped",
				      nif->name, (unsigned long long)nif->deframer.skip);
		}
		nif->rx_head += consumed;
		moved |= consumed != 0;
		if (r != NET_FRAME_MORE || consumed)
			continue;
		/* A partial frame or nothing: read more, if the peer has any. */
		before = nif->rx_tail - nif->rx_head;
		fill_rx(nif, false);
		if (nif->rx_tail - nif->rx_head == before)
			break;
	}
	if (delivered && virtq_needs_notify(&q->vq))
		*notify = true;
	pthread_mutex_unlock(&q->lock);
	/* Room again: read ahead while the guest handles these (not straight into it). */
	if (!rx_direct(nif))
		fill_rx(nif, false);
	return moved;
}

/* ---- the interface's thread */

static void *net_thread(void *arg)
{
	struct net_if *nif = arg;
	struct epoll_event ev[8];
	bool more = false;

	for (;;) {
		int n = epoll_wait(nif->epfd, ev, 8, more ? 0 : -1);

		if (n < 0 && errno != EINTR) {
			pr_err("virtio-net %s: epoll_wait: %s", nif->name, strerror(errno));
			return NULL;
		}
		pthread_mutex_lock(&nif->lock);
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;

			if (p == &nif->dev.queues[RX_QUEUE] || p == &nif->dev.queues[TX_QUEUE]) {
				virtio_queue_ack_kick(p);
				continue;
			}
			if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				nif->rx_readable = true;
			if (ev[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
				nif->tx_writable = true;
		}
		more = false;
		if (nif->ready) {
			int round;

			/* One interrupt a round for both queues (one line per device). */
			for (round = 0; round < SERVE_ROUNDS; round++) {
				bool notify = false;
				bool moved = serve_tx(nif, &notify);

				moved |= serve_rx(nif, &notify);
				if (notify)
					virtio_notify_used(&nif->dev);
				if (!moved)
					break;
			}
			more = round == SERVE_ROUNDS;
		} else {
			fill_rx(nif, false);
		}
		update_watch(nif);
		pthread_mutex_unlock(&nif->lock);
	}
	return NULL;
}

/* ---- virtio_device_ops */

static void net_config_read(struct virtio_device *dev, uint32_t offset, void *data, uint32_t len)
{
	struct net_if *nif = dev->priv;

	memcpy(data, nif->config + offset, len);
}

static int net_activate(struct virtio_device *dev)
{
	struct net_if *nif = dev->priv;
	uint64_t one = 1;
	int ret = 0;

	pthread_mutex_lock(&nif->lock);
	nif->features = dev->driver_features;
	if (nif->ops->set_offload)
		ret = nif->ops->set_offload(nif, nif->features);
	nif->ready = ret == 0;
	pthread_mutex_unlock(&nif->lock);
	if (ret < 0)
		return ret;
	if (!nif->started) {
		if (vmm_thread_start(&nif->thread, VMM_THREAD_SOCKET, net_thread, nif) != 0)
			return -EAGAIN;
		nif->started = true;
	}
	/* Frames may be waiting since before the driver was ready. */
	if (write(dev->queues[RX_QUEUE].kick_fd, &one, sizeof(one)) < 0)
		pr_debug("virtio-net %s: self-kick: %s", nif->name, strerror(errno));
	return 0;
}

/* The driver reset the device: a held batch belongs to the old rings. */
static void net_reset(struct virtio_device *dev)
{
	struct net_if *nif = dev->priv;

	pthread_mutex_lock(&nif->lock);
	nif->ready = false;
	nif->tx.nframes = nif->tx.next = nif->tx.niov = 0;
	nif->tx.next_sent = 0;
	reserve_forget(&nif->reserve); /* the old ring's */
	pthread_mutex_unlock(&nif->lock);
}

static void net_drain(struct virtio_device *dev)
{
	struct net_if *nif = dev->priv;
	const struct net_stats *s = &nif->stats;
	uint64_t tx_drops = 0, rx_drops = 0;

	for (int i = 0; i < NET_DROP_MAX; i++) {
		tx_drops += s->tx_drops[i];
		rx_drops += s->rx_drops[i];
	}
	pr_debug("virtio-net %s: %llu frames (%llu bytes) from the guest, %llu (%llu bytes) to "
		 "it; dropped %llu from the guest, %llu from the peer",
		 nif->name, (unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
		 (unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
		 (unsigned long long)tx_drops, (unsigned long long)rx_drops);
}

static void net_free(struct net_if *nif)
{
	if (nif->epfd >= 0)
		close(nif->epfd);
	if (nif->own_fd && nif->fd >= 0)
		close(nif->fd);
	pthread_mutex_destroy(&nif->lock);
	free(nif->rx_buf);
	free(nif);
}

/* Only for a VM that never ran: the thread was never started. */
static void net_release(struct virtio_device *dev)
{
	net_free(dev->priv);
}

static const struct virtio_device_ops net_ops = {
    .name = "net",
    .device_id = VIRTIO_ID_NET,
    .config_read = net_config_read,
    .activate = net_activate,
    .reset = net_reset,
    .drain = net_drain,
    .release = net_release,
};

static int open_backend(struct net_if *nif, const struct net_config *cfg)
{
	switch (cfg->backend) {
	case NET_UNIXSTREAM:
		return net_unixstream_open(nif, cfg);
	case NET_UNIXGRAM:
		return net_unixgram_open(nif, cfg);
	case NET_TAP:
		return net_tap_open(nif, cfg);
	}
	return -EINVAL;
}

static int watch_kicks(struct net_if *nif)
{
	for (unsigned int i = 0; i < 2; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &nif->dev.queues[i]};

		if (epoll_ctl(nif->epfd, EPOLL_CTL_ADD, nif->dev.queues[i].kick_fd, &ev) < 0)
			return -errno;
	}
	nif->watched = 0;
	update_watch(nif);
	return 0;
}

/* A new interface's peer: link up, nothing to read yet, writable, not watched. */
static void init_peer_state(struct net_if *nif)
{
	atomic_init(&nif->link_up, true);
	nif->rx_readable = false;
	nif->tx_writable = true;
	nif->watched = WATCH_NONE;
}

/* The lengths a frame from the peer may have; a tap's carry the header. */
static void set_frame_bounds(struct net_if *nif)
{
	size_t hdr = nif->ops->vnet_hdr ? NET_HDR_LEN : 0;

	nif->deframer.min_len = NET_MIN_FRAME + hdr;
	nif->deframer.max_len = NET_MAX_FRAME + hdr;
}

static int create_interface(struct vm *vm, unsigned int index)
{
	const struct net_config *cfg = &vm->cfg->net.nets[index];
	struct net_if *nif = calloc(1, sizeof(*nif));
	int ret;

	if (!nif)
		return -ENOMEM;
	pthread_mutex_init(&nif->lock, NULL);
	nif->fd = nif->epfd = -1;
	vm_config_net_name(index, nif->name, sizeof(nif->name));
	vm_config_net_mac(vm->cfg, index, nif->config);
	nif->config[6] = VIRTIO_NET_S_LINK_UP;
	init_peer_state(nif);
	nif->rx_buf = malloc(NET_RX_BUF);
	nif->epfd = epoll_create1(EPOLL_CLOEXEC);
	ret = !nif->rx_buf ? -ENOMEM : nif->epfd < 0 ? -errno : 0;
	if (!ret)
		ret = open_backend(nif, cfg);
	if (ret < 0)
		goto fail;
	set_frame_bounds(nif);
	nif->dev.ops = &net_ops;
	nif->dev.priv = nif;
	nif->dev.features = net_offered_features(cfg->features) | VIRTIO_F_INDIRECT_DESC;
	nif->dev.config_size = sizeof(nif->config);
	nif->dev.nqueues = 2;
	nif->dev.queue_max = NET_QUEUE_SIZE;
	ret = virtio_mmio_add(vm, &nif->dev);
	if (ret < 0)
		goto fail;
	/* The VM owns the device now: net_release() if it never runs. */
	ret = watch_kicks(nif);
	if (ret < 0)
		pr_err("virtio-net %s: %s", nif->name, strerror(-ret));
	else
		pr_debug("virtio-net %s: %s, features 0x%llx", nif->name, nif->ops->name,
			 (unsigned long long)nif->dev.features);
	return ret;
fail:
	pr_err("virtio-net %s: %s", nif->name, strerror(-ret));
	net_free(nif);
	return ret;
}

static int create_nets(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->cfg->net.nnets; i++) {
		int ret = create_interface(vm, i);

		if (ret < 0)
			return ret;
	}
	return 0;
}

const struct device_builder net_builder = {"virtio-net", create_nets};
