// SPDX-License-Identifier: Apache-2.0
/*
 * The stream backend: passt, or anything that speaks QEMU's stream netdev
 * framing (each frame after its 4-byte big-endian length) on a unix stream
 * socket, connected by path or handed over as a connected fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/net/net.h"
#include "vmm/log.h"
#include "vmm/util.h"

/* Several frames in one write up to this many bytes (see stream_send). */
#define STREAM_WRITE_MAX (32 * 1024)

static ssize_t stream_recv(struct net_if *nif, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(nif->fd, buf, len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Advance the batch by "sent" bytes. */
static void consume(struct net_tx_batch *b, size_t sent)
{
	while (sent && b->next < b->nframes) {
		size_t left = b->frames[b->next].len - b->next_sent;

		if (sent < left) {
			b->next_sent += sent;
			return;
		}
		sent -= left;
		b->next++;
		b->next_sent = 0;
	}
}

/*
 * Every frame from b->next on. Each sendmsg() is one frame, or several
 * whole frames that together fit one socket buffer of the kernel's
 * (nif->stream_write_max), so that the peer's reads end only where a frame
 * ends, or inside a frame that was written alone. passt (Debian 12's)
 * needs that: it parses each read from a frame boundary, throws
 * away a length prefix split by the end of a read, and completes a split
 * frame with one more read, which must bring the rest of it; a frame that
 * straddles two of the kernel's buffers behind others breaks its framing
 * (the frames after it are lost, and the guest's TCP waits for a timeout).
 * QEMU writes one frame at a time, which never does.
 */
static int stream_send(struct net_if *nif, struct net_tx_batch *b)
{
	struct iovec iov[NET_TX_IOV];

	while (b->next < b->nframes) {
		unsigned int niov = 0, nframes;
		size_t total = 0, got;
		struct msghdr msg = {0};
		ssize_t n;

		nframes = net_stream_write_frames(b, nif->stream_write_max);
		/* The batch's frames hold at most NET_TX_IOV pieces in all. */
		for (unsigned int i = b->next; i < b->next + nframes; i++) {
			const struct net_tx_frame *f = &b->frames[i];
			size_t skip = i == b->next ? b->next_sent : 0;

			niov += iov_slice(&b->iov[f->first], f->niov, skip, f->len - skip,
					  &iov[niov], NET_TX_IOV - niov, &got);
			total += got;
		}
		msg.msg_iov = iov;
		msg.msg_iovlen = niov;
		do
			n = sendmsg(nif->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -errno;
		consume(b, (size_t)n);
		if ((size_t)n < total)
			return -EAGAIN; /* the socket is full: wait for room */
	}
	return 0;
}

static const struct net_backend_ops stream_ops = {
    .name = "unixstream",
    .stream = true,
    .recv = stream_recv,
    .send = stream_send,
};

int net_unixstream_open(struct net_if *nif, const struct net_config *cfg)
{
	int err = net_unix_peer_open(nif, cfg, SOCK_STREAM), sndbuf = 0;
	socklen_t len = sizeof(sndbuf);

	if (err)
		return err;
	if (fcntl(nif->fd, F_SETFL, fcntl(nif->fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	/*
	 * The kernel queues a stream write in buffers of at most half the
	 * send buffer (and 32 KiB of pages plus a page of head): writes of
	 * up to this size stay in one piece.
	 */
	if (getsockopt(nif->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) < 0 || sndbuf < 4096)
		sndbuf = 4096;
	nif->stream_write_max = MIN((size_t)sndbuf / 2 - 1024, STREAM_WRITE_MAX);
	nif->ops = &stream_ops;
	return 0;
}
