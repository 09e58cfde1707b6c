// SPDX-License-Identifier: Apache-2.0
/*
 * The datagram backend: gvproxy, vfkit-style peers, one frame per datagram
 * on a unix datagram socket (connected by path, from an address of our own
 * the peer answers to, or handed over as an fd). With NET_FLAG_VFKIT the
 * first datagram is the "VFKT" magic, as gvproxy's vfkit mode expects.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/net/net.h"
#include "libkrun.h"
#include "vmm/log.h"
#include "vmm/util.h"

static const char vfkit_magic[4] = {'V', 'F', 'K', 'T'};

static ssize_t gram_recv(struct net_if *nif, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(nif->fd, buf, len, MSG_DONTWAIT | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n > len)
		return -EMSGSIZE;
	return n ? n : -ENODATA; /* an empty datagram is no hang-up */
}

static int gram_send(struct net_if *nif, struct net_tx_batch *b)
{
	struct mmsghdr msgs[NET_TX_BATCH];

	while (b->next < b->nframes) {
		unsigned int n = b->nframes - b->next;
		int sent;

		memset(msgs, 0, n * sizeof(msgs[0]));
		for (unsigned int i = 0; i < n; i++) {
			const struct net_tx_frame *f = &b->frames[b->next + i];

			/* iov[first] is the empty prefix. */
			msgs[i].msg_hdr.msg_iov = &b->iov[f->first + 1];
			msgs[i].msg_hdr.msg_iovlen = f->niov - 1;
		}
		sent = sendmmsg(nif->fd, msgs, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (sent < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			if (err == EAGAIN || err == ENOBUFS)
				return -EAGAIN;
			if (err == ECONNREFUSED || err == ECONNRESET || err == ENOTCONN ||
			    err == EPIPE || err == EBADF)
				return -err;
			/* This frame only (EMSGSIZE...): dropped, the rest goes on. */
			nif->stats.tx_drops[NET_DROP_LONG]++;
			pr_warn_guest("virtio-net %s: the peer refused a frame: %s", nif->name,
				      strerror(err));
			b->next++;
			continue;
		}
		b->next += (unsigned int)sent;
	}
	return 0;
}

static const struct net_backend_ops gram_ops = {
    .name = "unixgram",
    .recv = gram_recv,
    .send = gram_send,
};

int net_unixgram_open(struct net_if *nif, const struct net_config *cfg)
{
	int err = net_unix_peer_open(nif, cfg, SOCK_DGRAM);

	if (err)
		return err;
	if ((cfg->flags & NET_FLAG_VFKIT) &&
	    send(nif->fd, vfkit_magic, sizeof(vfkit_magic), MSG_NOSIGNAL) < 0) {
		err = errno;
		pr_err("virtio-net %s: sending the vfkit handshake: %s", nif->name, strerror(err));
		return -err;
	}
	if (fcntl(nif->fd, F_SETFL, fcntl(nif->fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	nif->ops = &gram_ops;
	return 0;
}
