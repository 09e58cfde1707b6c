// SPDX-License-Identifier: Apache-2.0
/*
 * vsock packet headers. What the guest sends is read once into a local copy
 * and checked there: the guest may change its buffers under us.
 */
#include <endian.h>
#include <string.h>

#include "devices/virtio/vsock/vsock.h"
#include "vmm/iov.h"

static void hdr_to_host(struct vsock_hdr *h)
{
	h->src_cid = le64toh(h->src_cid);
	h->dst_cid = le64toh(h->dst_cid);
	h->src_port = le32toh(h->src_port);
	h->dst_port = le32toh(h->dst_port);
	h->len = le32toh(h->len);
	h->type = le16toh(h->type);
	h->op = le16toh(h->op);
	h->flags = le32toh(h->flags);
	h->buf_alloc = le32toh(h->buf_alloc);
	h->fwd_cnt = le32toh(h->fwd_cnt);
}

/* The payload: len bytes after the header, as iovecs into the guest's buffers. */
static void slice_payload(const struct iovec *iov, unsigned int n, uint32_t len,
			  struct vsock_pkt *pkt)
{
	size_t skip = VSOCK_HDR_SIZE;

	pkt->npayload = 0;
	for (unsigned int i = 0; i < n && len; i++) {
		size_t take;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - skip;
		if (take > len)
			take = len;
		pkt->payload[pkt->npayload++] =
		    (struct iovec){(uint8_t *)iov[i].iov_base + skip, take};
		len -= (uint32_t)take;
		skip = 0;
	}
}

enum vsock_verdict vsock_parse(const struct iovec *iov, unsigned int n, uint64_t guest_cid,
			       bool dgram, struct vsock_pkt *pkt)
{
	struct vsock_hdr *h = &pkt->hdr;
	uint64_t total = 0;

	pkt->npayload = 0;
	if (iov_to_buf(iov, n, 0, h, VSOCK_HDR_SIZE) < VSOCK_HDR_SIZE)
		return VSOCK_PKT_SHORT;
	hdr_to_host(h);
	for (unsigned int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (h->src_cid != guest_cid || h->dst_cid != VSOCK_HOST_CID)
		return VSOCK_PKT_BAD_CID;
	if (h->type != VSOCK_TYPE_STREAM && !(dgram && h->type == VSOCK_TYPE_DGRAM))
		return VSOCK_PKT_BAD_TYPE;
	if (h->op == VSOCK_OP_INVALID || h->op > VSOCK_OP_CREDIT_REQUEST)
		return VSOCK_PKT_BAD_OP;
	if (h->type == VSOCK_TYPE_DGRAM && h->op != VSOCK_OP_RW)
		return VSOCK_PKT_BAD_OP; /* a datagram carries data, nothing else */
	if (h->len > total - VSOCK_HDR_SIZE)
		return VSOCK_PKT_BAD_LEN;
	if (h->op != VSOCK_OP_RW)
		return VSOCK_PKT_OK; /* any payload of another op is ignored */
	if (h->len > VSOCK_MAX_PAYLOAD)
		return VSOCK_PKT_OVERSIZED;
	slice_payload(iov, n, h->len, pkt);
	return VSOCK_PKT_OK;
}

const char *vsock_verdict_name(enum vsock_verdict v)
{
	static const char *const names[] = {
	    [VSOCK_PKT_OK] = "ok",
	    [VSOCK_PKT_SHORT] = "shorter than its header",
	    [VSOCK_PKT_BAD_CID] = "with a wrong CID",
	    [VSOCK_PKT_BAD_TYPE] = "of an unknown socket type",
	    [VSOCK_PKT_BAD_OP] = "with an unknown op",
	    [VSOCK_PKT_BAD_LEN] = "whose len goes beyond its buffers",
	    [VSOCK_PKT_OVERSIZED] = "with a payload over 64 KiB",
	};

	return (unsigned int)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

bool vsock_put_hdr(const struct iovec *iov, unsigned int n, const struct vsock_hdr *h)
{
	struct vsock_hdr le = {
	    .src_cid = htole64(h->src_cid),
	    .dst_cid = htole64(h->dst_cid),
	    .src_port = htole32(h->src_port),
	    .dst_port = htole32(h->dst_port),
	    .len = htole32(h->len),
	    .type = htole16(h->type),
	    .op = htole16(h->op),
	    .flags = htole32(h->flags),
	    .buf_alloc = htole32(h->buf_alloc),
	    .fwd_cnt = htole32(h->fwd_cnt),
	};

	return buf_to_iov(iov, n, 0, &le, sizeof(le)) == sizeof(le);
}
