// SPDX-License-Identifier: Apache-2.0
/*
 * The tap backend: an existing or new tap interface, opened with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR. Frames keep their virtio-net header
 * both ways, so the guest's offloads reach the host kernel as they are, and
 * the kernel gives us the offloads the guest negotiated (TUNSETOFFLOAD).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtio/net/net.h"
#include "vmm/log.h"
#include "vmm/util.h"

static ssize_t tap_recv(struct net_if *nif, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(nif->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n ? n : -ENODATA;
}

static ssize_t tap_recv_iov(struct net_if *nif, const struct iovec *iov, unsigned int n)
{
	ssize_t len;

	do
		len = readv(nif->fd, iov, (int)n);
	while (len < 0 && errno == EINTR);
	if (len < 0)
		return -errno;
	return len ? len : -ENODATA;
}

static int tap_send(struct net_if *nif, struct net_tx_batch *b)
{
	while (b->next < b->nframes) {
		const struct net_tx_frame *f = &b->frames[b->next];
		ssize_t n = writev(nif->fd, &b->iov[f->first], (int)f->niov);

		if (n < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			if (err == EAGAIN)
				return -EAGAIN;
			if (err == EBADFD || err == EBADF)
				return -err;
			/* EIO (interface down), EINVAL (the kernel refused the header): this frame.
			 */
			nif->stats.tx_drops[NET_DROP_GSO]++;
			pr_warn_guest("virtio-net %s: the tap refused a frame: %s", nif->name,
				      strerror(err));
		}
		b->next++;
	}
	return 0;
}

/* The receive offloads the guest took: what the kernel may hand us. */
static int tap_set_offload(struct net_if *nif, uint64_t features)
{
	unsigned int off = 0;

	if (features & VIRTIO_NET_F_GUEST_CSUM)
		off |= TUN_F_CSUM;
	if (features & VIRTIO_NET_F_GUEST_TSO4)
		off |= TUN_F_TSO4;
	if (features & VIRTIO_NET_F_GUEST_TSO6)
		off |= TUN_F_TSO6;
	if (features & VIRTIO_NET_F_GUEST_UFO)
		off |= TUN_F_UFO;
	if (ioctl(nif->fd, TUNSETOFFLOAD, off) == 0)
		return 0;
	/* A kernel without UFO for taps: the rest, the guest copes without. */
	if ((off & TUN_F_UFO) && ioctl(nif->fd, TUNSETOFFLOAD, off & ~TUN_F_UFO) == 0)
		return 0;
	pr_warn("virtio-net %s: TUNSETOFFLOAD 0x%x: %s; receiving without offloads", nif->name, off,
		strerror(errno));
	return ioctl(nif->fd, TUNSETOFFLOAD, 0) == 0 ? 0 : -errno;
}

static const struct net_backend_ops tap_ops = {
    .name = "tap",
    .vnet_hdr = true,
    .recv = tap_recv,
    .recv_iov = tap_recv_iov,
    .send = tap_send,
    .set_offload = tap_set_offload,
};

int net_tap_open(struct net_if *nif, const struct net_config *cfg)
{
	struct ifreq ifr = {0};
	unsigned int features = 0;
	int hdr_len = NET_HDR_LEN, err;

	nif->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (nif->fd < 0) {
		err = errno;
		pr_err("virtio-net %s: /dev/net/tun: %s", nif->name, strerror(err));
		return -err;
	}
	nif->own_fd = true;
	if (ioctl(nif->fd, TUNGETFEATURES, &features) == 0 && !(features & IFF_VNET_HDR)) {
		pr_err("virtio-net %s: this kernel's taps have no IFF_VNET_HDR", nif->name);
		return -ENOTSUP;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strncpy(ifr.ifr_name, cfg->path, IFNAMSIZ - 1);
	if (ioctl(nif->fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		pr_err("virtio-net %s: tap %s: %s", nif->name, cfg->path, strerror(err));
		return -err;
	}
	if (ioctl(nif->fd, TUNSETVNETHDRSZ, &hdr_len) < 0 || ioctl(nif->fd, TUNSETOFFLOAD, 0) < 0) {
		err = errno;
		pr_err("virtio-net %s: tap %s: %s", nif->name, cfg->path, strerror(err));
		return -err;
	}
	nif->ops = &tap_ops;
	return 0;
}
