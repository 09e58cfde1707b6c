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

/* Every frame from b->next on, in as few sendmsg() calls as IOV_MAX allows. */
static int stream_send(struct net_if *nif, struct net_tx_batch *b)
{
	struct iovec iov[NET_TX_IOV];

	while (b->next < b->nframes) {
		unsigned int niov = 0;
		size_t total = 0, got;
		struct msghdr msg = {0};
		ssize_t n;

		for (unsigned int i = b->next; i < b->nframes; i++) {
			const struct net_tx_frame *f = &b->frames[i];
			size_t skip = i == b->next ? b->next_sent : 0;

			if (niov + f->niov > NET_TX_IOV)
				break;
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
	int err = net_unix_peer_open(nif, cfg, SOCK_STREAM);

	if (err)
		return err;
	if (fcntl(nif->fd, F_SETFL, fcntl(nif->fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	nif->ops = &stream_ops;
	return 0;
}
