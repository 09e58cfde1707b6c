// SPDX-License-Identifier: Apache-2.0
/*
 * The pure parts of virtio-net: what a transmit header may say given the
 * negotiated features, the peer's stream framing (both ways), and the
 * Internet checksum for peers that take no offloads. No device state:
 * unit-tested and fuzzed.
 */
#include <endian.h>
#include <string.h>

#include "devices/virtio/net/net.h"
#include "libkrun.h"
#include "vmm/iov.h"

const char *const net_drop_names[NET_DROP_MAX] = {
    [NET_OK] = "ok",
    [NET_DROP_SHORT] = "short",
    [NET_DROP_LONG] = "oversized",
    [NET_DROP_FLAGS] = "bad header flags",
    [NET_DROP_GSO] = "bad GSO",
    [NET_DROP_CSUM] = "bad checksum offsets",
    [NET_DROP_NOROOM] = "no room in the guest's buffers",
    [NET_DROP_LINKDOWN] = "link down",
    [NET_DROP_CHAIN] = "too many pieces",
};

/*
 * Offloads need their prerequisites (section 5.1.3.1): TSO and UFO from the
 * guest need CSUM, to the guest GUEST_CSUM. A request missing them gets the
 * offloads it can have.
 */
uint64_t net_offered_features(uint32_t requested)
{
	uint64_t f =
	    requested & (NET_FEATURE_CSUM | NET_FEATURE_GUEST_CSUM | NET_FEATURE_GUEST_TSO4 |
			 NET_FEATURE_GUEST_TSO6 | NET_FEATURE_GUEST_UFO | NET_FEATURE_HOST_TSO4 |
			 NET_FEATURE_HOST_TSO6 | NET_FEATURE_HOST_UFO);

	if (!(f & VIRTIO_NET_F_CSUM))
		f &= ~(VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_UFO);
	if (!(f & VIRTIO_NET_F_GUEST_CSUM))
		f &= ~(VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_UFO);
	return f | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF;
}

enum net_drop net_tx_check(const struct virtio_net_hdr *hdr, uint64_t features, size_t frame_len)
{
	uint8_t flags = hdr->flags, gso = hdr->gso_type;
	size_t start = le16toh(hdr->csum_start), off = le16toh(hdr->csum_offset);

	if (frame_len < NET_MIN_FRAME)
		return NET_DROP_SHORT;
	if (frame_len > NET_MAX_FRAME)
		return NET_DROP_LONG;
	/* DATA_VALID and RSC_INFO are the device's to set (5.1.6.2.1). */
	if (flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return NET_DROP_FLAGS;
	if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(features & VIRTIO_NET_F_CSUM))
			return NET_DROP_FLAGS;
		if (start > frame_len || off > frame_len - start || frame_len - start - off < 2)
			return NET_DROP_CSUM;
	}
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return NET_OK;
	/* Not offered: ECN; and a GSO frame must ask for its checksum and an MSS. */
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!(features & VIRTIO_NET_F_HOST_TSO4))
			return NET_DROP_GSO;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!(features & VIRTIO_NET_F_HOST_TSO6))
			return NET_DROP_GSO;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		if (!(features & VIRTIO_NET_F_HOST_UFO))
			return NET_DROP_GSO;
		break;
	default:
		return NET_DROP_GSO;
	}
	if (!(flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !le16toh(hdr->gso_size))
		return NET_DROP_GSO;
	return NET_OK;
}

enum net_deframe net_deframe(struct net_deframer *d, const uint8_t *buf, size_t len,
			     size_t *consumed, size_t *frame_off, size_t *frame_len)
{
	uint32_t be;
	size_t n;

	*consumed = 0;
	if (d->skip) {
		size_t drop = d->skip < len ? (size_t)d->skip : len;

		d->skip -= drop;
		*consumed = drop;
		return NET_FRAME_MORE;
	}
	if (len < 4)
		return NET_FRAME_MORE;
	memcpy(&be, buf, 4);
	n = be32toh(be);
	if (n < d->min_len || n > d->max_len) {
		d->skip = n;
		*consumed = 4;
		return NET_FRAME_BAD;
	}
	if (len - 4 < n)
		return NET_FRAME_MORE;
	*frame_off = 4;
	*frame_len = n;
	*consumed = 4 + n;
	return NET_FRAME;
}

/* Ones' complement sum of a byte range; "odd" says the range starts on an odd offset. */
static uint32_t sum_bytes(const uint8_t *p, size_t len, bool odd, uint32_t sum)
{
	uint64_t s = sum;

	if (odd && len) {
		s += *p++;
		len--;
	}
	for (; len >= 2; p += 2, len -= 2)
		s += (uint32_t)p[0] << 8 | p[1];
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

uint16_t net_csum_iov(const struct iovec *iov, unsigned int n, size_t off, size_t len, uint32_t sum)
{
	size_t pos = 0; /* bytes summed so far: their parity decides the byte lane */

	for (unsigned int i = 0; i < n && len; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		p += off;
		l -= off;
		off = 0;
		if (l > len)
			l = len;
		sum = sum_bytes(p, l, pos & 1, sum);
		pos += l;
		len -= l;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * For a peer without the header: fill in the checksum the guest left to us.
 * The field is replaced by an iovec of ours (guest buffers are read-only to
 * us), so the frame's pieces are split around it.
 */
static unsigned int frame_with_csum(const struct virtio_net_hdr *h, const struct iovec *frame,
				    unsigned int n, size_t len, struct iovec *out, unsigned int max,
				    uint16_t *csum)
{
	size_t start = le16toh(h->csum_start), field = start + le16toh(h->csum_offset);
	unsigned int k, k2;
	size_t got;
	uint16_t sum = net_csum_iov(frame, n, start, len - start, 0);

	sum = (uint16_t)~sum;
	if (!sum)
		sum = 0xffff; /* as the kernel does: 0 means "none" for UDP */
	*csum = htobe16(sum);
	/* The field held the pseudo-header sum, which the sum above included. */
	k = iov_slice(frame, n, 0, field, out, max, &got);
	if (got != field || k + 1 >= max)
		return 0;
	out[k++] = (struct iovec){csum, 2};
	k2 = iov_slice(frame, n, field + 2, len - field - 2, out + k, max - k, &got);
	if (got != len - field - 2)
		return 0;
	return k + k2;
}

enum net_drop net_tx_add_frame(struct net_tx_batch *b, const struct net_backend_ops *ops,
			       uint64_t features, const struct virtq_chain *c)
{
	unsigned int i = b->nframes, room = NET_TX_IOV - b->niov, n;
	struct net_tx_frame *f = &b->frames[i];
	struct virtio_net_hdr hdr;
	struct iovec frame[NET_TX_FRAME_IOV];
	struct iovec *out = &b->iov[b->niov];
	size_t len, got;
	enum net_drop why;

	if (c->readable_len < NET_HDR_LEN)
		return NET_DROP_SHORT;
	if (c->readable_len - NET_HDR_LEN > NET_MAX_FRAME)
		return NET_DROP_LONG;
	len = c->readable_len - NET_HDR_LEN;
	iov_to_buf(c->readable, c->nreadable, 0, &hdr, sizeof(hdr));
	why = net_tx_check(&hdr, features, len);
	if (why != NET_OK)
		return why;
	n = iov_slice(c->readable, c->nreadable, NET_HDR_LEN, len, frame, NET_TX_FRAME_IOV, &got);
	if (got != len)
		return NET_DROP_CHAIN;

	/* The backend's prefix: a length, a header, or nothing. */
	if (ops->vnet_hdr) {
		memcpy(b->prefix[i], &hdr, sizeof(hdr));
		out[0] = (struct iovec){b->prefix[i], NET_HDR_LEN};
	} else if (ops->stream) {
		uint32_t be = htobe32((uint32_t)len);

		memcpy(b->prefix[i], &be, 4);
		out[0] = (struct iovec){b->prefix[i], 4};
	} else {
		out[0] = (struct iovec){b->prefix[i], 0};
	}
	if (!ops->vnet_hdr && (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		n = frame_with_csum(&hdr, frame, n, len, out + 1, room - 1, &b->csum[i]);
	else if (n + 1 <= room)
		memcpy(out + 1, frame, n * sizeof(*frame));
	else
		n = 0;
	if (!n)
		return NET_DROP_CHAIN;
	f->head = c->head;
	f->first = b->niov;
	f->niov = n + 1;
	f->len = out[0].iov_len + len;
	b->niov += n + 1;
	b->nframes++;
	return NET_OK;
}

unsigned int net_stream_write_frames(const struct net_tx_batch *b, size_t max)
{
	unsigned int i = b->next;
	size_t total = 0;

	for (; i < b->nframes; i++) {
		size_t len = b->frames[i].len - (i == b->next ? b->next_sent : 0);

		if (i > b->next && total + len > max)
			break;
		total += len;
	}
	return i - b->next;
}
