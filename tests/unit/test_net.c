// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net's pure parts: the features offered for a request, what a
 * transmit header may say, the stream de-framer fed a byte at a time and
 * with hostile lengths, the Internet checksum across odd iovec splits, a
 * transmit frame as the backends get it, the frames of each write to a
 * stream peer; and the configuration: checks,
 * MACs, eth names, net_dhcp records, the implicit vsock it replaces.
 */
#include <endian.h>
#include <stdlib.h>

#include "devices/virtio/net/net.h"
#include "libkrun.h"
#include "test.h"
#include "vmm/guest_config.h"
#include "vmm/log.h"
#include "vmm/util.h"

static struct virtio_net_hdr hdr(uint8_t flags, uint8_t gso, uint16_t gso_size, uint16_t start,
				 uint16_t off)
{
	struct virtio_net_hdr h = {0};

	h.flags = flags;
	h.gso_type = gso;
	h.gso_size = htole16(gso_size);
	h.csum_start = htole16(start);
	h.csum_offset = htole16(off);
	return h;
}

static void test_features(void)
{
	uint64_t f = net_offered_features(COMPAT_NET_FEATURES);

	CHECK(f & VIRTIO_NET_F_MAC && f & VIRTIO_NET_F_STATUS && f & VIRTIO_NET_F_MRG_RXBUF);
	CHECK(f & VIRTIO_NET_F_CSUM && f & VIRTIO_NET_F_HOST_TSO4 && f & VIRTIO_NET_F_GUEST_TSO4);
	CHECK(!(f & VIRTIO_NET_F_HOST_TSO6));
	/* Offloads without their checksum prerequisite are not offered. */
	f = net_offered_features(NET_FEATURE_HOST_TSO4 | NET_FEATURE_GUEST_TSO4 |
				 NET_FEATURE_GUEST_CSUM);
	CHECK(!(f & VIRTIO_NET_F_HOST_TSO4) && f & VIRTIO_NET_F_GUEST_TSO4);
	f = net_offered_features(0);
	CHECK_EQ(f, VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF);
}

static void test_tx_check(void)
{
	const uint64_t all = net_offered_features(COMPAT_NET_FEATURES);
	const uint64_t none = net_offered_features(0);
	struct virtio_net_hdr h = hdr(0, 0, 0, 0, 0);

	CHECK_EQ(net_tx_check(&h, none, 60), NET_OK);
	CHECK_EQ(net_tx_check(&h, none, 13), NET_DROP_SHORT);
	CHECK_EQ(net_tx_check(&h, none, NET_MAX_FRAME), NET_OK);
	CHECK_EQ(net_tx_check(&h, none, NET_MAX_FRAME + 1), NET_DROP_LONG);
	h = hdr(VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0);
	CHECK_EQ(net_tx_check(&h, all, 60), NET_DROP_FLAGS);
	h = hdr(0x80, 0, 0, 0, 0);
	CHECK_EQ(net_tx_check(&h, all, 60), NET_DROP_FLAGS);
	/* A checksum asked for: only with CSUM, and inside the frame. */
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 34, 16);
	CHECK_EQ(net_tx_check(&h, none, 60), NET_DROP_FLAGS);
	CHECK_EQ(net_tx_check(&h, all, 60), NET_OK);
	CHECK_EQ(net_tx_check(&h, all, 52), NET_OK); /* field at 50..51 */
	CHECK_EQ(net_tx_check(&h, all, 51), NET_DROP_CSUM);
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0xffff, 0xffff);
	CHECK_EQ(net_tx_check(&h, all, 60), NET_DROP_CSUM);
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 59, 0);
	CHECK_EQ(net_tx_check(&h, all, 60), NET_DROP_CSUM);
	/* GSO: negotiated types only, with a checksum and an MSS; no ECN. */
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 34, 16);
	CHECK_EQ(net_tx_check(&h, all, 65000), NET_OK);
	CHECK_EQ(net_tx_check(&h, all & ~VIRTIO_NET_F_HOST_TSO4, 65000), NET_DROP_GSO);
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 1448, 54, 16);
	CHECK_EQ(net_tx_check(&h, all, 65000), NET_DROP_GSO);
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
		1448, 34, 16);
	CHECK_EQ(net_tx_check(&h, all, 65000), NET_DROP_GSO);
	h = hdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 1448, 34, 16);
	CHECK_EQ(net_tx_check(&h, all, 65000), NET_DROP_GSO);
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 0, 34, 16);
	CHECK_EQ(net_tx_check(&h, all, 65000), NET_DROP_GSO);
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 2, 1448, 34, 16); /* no such type */
	CHECK_EQ(net_tx_check(&h, all, 65000), NET_DROP_GSO);
	h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP, 1400, 34, 6);
	CHECK_EQ(net_tx_check(&h, all, 9000), NET_OK);
}

static size_t put_frame(uint8_t *p, uint32_t len, uint8_t fill)
{
	uint32_t be = htobe32(len);

	memcpy(p, &be, 4);
	memset(p + 4, fill, len);
	return 4 + len;
}

/* A stream of frames with hostile ones between, fed in pieces of "step". */
static void deframe_in_steps(size_t step)
{
	static uint8_t stream[300000], buf[300000];
	struct net_deframer d = {.min_len = NET_MIN_FRAME, .max_len = NET_MAX_FRAME};
	size_t n = 0, have = 0, fed = 0;
	unsigned int good = 0, bad = 0;
	uint32_t be;

	n += put_frame(stream + n, 60, 1);
	n += put_frame(stream + n, 0, 0);		    /* empty */
	n += put_frame(stream + n, 5, 2);		    /* too short */
	n += put_frame(stream + n, NET_MAX_FRAME + 100, 3); /* too long: skipped */
	n += put_frame(stream + n, NET_MAX_FRAME, 4);
	n += put_frame(stream + n, 14, 5);
	be = htobe32(0xfffffff0u); /* 4 GiB announced: skipped to the end */
	memcpy(stream + n, &be, 4);
	n += 4;
	memset(stream + n, 9, 1000);
	n += 1000;

	while (fed < n || have) {
		size_t consumed, off, len, take = MIN(step, n - fed);
		enum net_deframe r;

		memcpy(buf + have, stream + fed, take);
		have += take;
		fed += take;
		for (;;) {
			r = net_deframe(&d, buf, have, &consumed, &off, &len);
			if (r == NET_FRAME) {
				CHECK(off + len <= have);
				CHECK(len == 60 || len == NET_MAX_FRAME || len == 14);
				CHECK_EQ(buf[off], len == 60 ? 1 : len == 14 ? 5 : 4);
				CHECK_EQ(buf[off + len - 1], buf[off]);
				good++;
			}
			bad += r == NET_FRAME_BAD;
			CHECK(consumed <= have);
			memmove(buf, buf + consumed, have - consumed);
			have -= consumed;
			if (!consumed)
				break;
		}
		if (fed == n)
			break;
	}
	CHECK_EQ(good, 3);
	CHECK_EQ(bad, 4);
	CHECK(d.skip > 0); /* still throwing the 4 GiB one away */
}

static void test_deframe(void)
{
	struct net_deframer d = {.min_len = NET_MIN_FRAME, .max_len = NET_MAX_FRAME};
	uint8_t b[3] = {0, 0, 0};
	size_t consumed, off, len;

	/* A truncated prefix is only "more". */
	CHECK_EQ(net_deframe(&d, b, 3, &consumed, &off, &len), NET_FRAME_MORE);
	CHECK_EQ(consumed, 0);
	deframe_in_steps(1);
	deframe_in_steps(7);
	deframe_in_steps(4096);
	deframe_in_steps(300000);
}

static void test_csum(void)
{
	/* RFC 1071's example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2. */
	uint8_t data[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	struct iovec whole = {data, 8};
	struct iovec split[4] = {{data, 1}, {data + 1, 2}, {data + 3, 0}, {data + 3, 5}};

	CHECK_EQ(net_csum_iov(&whole, 1, 0, 8, 0), 0xddf2);
	CHECK_EQ(net_csum_iov(split, 4, 0, 8, 0), 0xddf2);
	/* From an offset, and an odd length: the last byte is a high half. */
	CHECK_EQ(net_csum_iov(split, 4, 2, 6, 0), (0xf203 + 0xf4f5 + 0xf6f7) % 0xffff);
	CHECK_EQ(net_csum_iov(split, 4, 2, 3, 0), (0xf203 + 0xf400) % 0xffff);
	CHECK_EQ(net_csum_iov(split, 4, 7, 100, 0), 0xf700);
}

static const struct net_backend_ops stream_like = {.name = "stream", .stream = true};
static const struct net_backend_ops tap_like = {.name = "tap", .vnet_hdr = true};

/* A UDP/IPv4 frame whose checksum the guest left to the device. */
static void test_tx_frame(void)
{
	static struct virtq_chain c;
	static struct net_tx_batch b;
	static uint8_t pkt[NET_HDR_LEN + 64];
	const uint64_t all = net_offered_features(COMPAT_NET_FEATURES);
	struct virtio_net_hdr h = hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 34, 6);
	uint8_t out[80];
	size_t got;

	memcpy(pkt, &h, sizeof(h));
	for (int i = 0; i < 64; i++)
		pkt[NET_HDR_LEN + i] = (uint8_t)(i * 7 + 3);
	pkt[NET_HDR_LEN + 40] = 0x12; /* the pseudo-header sum in the field */
	pkt[NET_HDR_LEN + 41] = 0x34;
	/* Header split from the frame, the frame split at an odd offset. */
	c.nreadable = 3;
	c.readable[0] = (struct iovec){pkt, 5};
	c.readable[1] = (struct iovec){pkt + 5, NET_HDR_LEN + 35 - 5};
	c.readable[2] = (struct iovec){pkt + NET_HDR_LEN + 35, 29};
	c.readable_len = sizeof(pkt);
	c.head = 7;
	CHECK_EQ(net_tx_add_frame(&b, &stream_like, all, &c), NET_OK);
	CHECK_EQ(b.nframes, 1);
	CHECK_EQ(b.frames[0].head, 7);
	CHECK_EQ(b.frames[0].len, 4 + 64);
	got = iov_to_buf(&b.iov[b.frames[0].first], b.frames[0].niov, 0, out, sizeof(out));
	CHECK_EQ(got, 68);
	CHECK_EQ(be32toh(*(uint32_t *)out), 64);
	/* The UDP part with its checksum, plus the pseudo-header sum, folds to 0xffff. */
	{
		struct iovec udp = {out + 4 + 34, 30};

		CHECK_EQ(net_csum_iov(&udp, 1, 0, 30, 0x1234), 0xffff);
	}
	CHECK(!memcmp(out + 4, pkt + NET_HDR_LEN, 40)); /* the rest as the guest wrote it */
	CHECK(!memcmp(out + 4 + 42, pkt + NET_HDR_LEN + 42, 22));
	/* The guest's buffer itself is never written. */
	CHECK_EQ(pkt[NET_HDR_LEN + 40], 0x12);

	/* A tap gets the header as is, the checksum left to it. */
	memset(&b, 0, sizeof(b));
	CHECK_EQ(net_tx_add_frame(&b, &tap_like, all, &c), NET_OK);
	got = iov_to_buf(&b.iov[b.frames[0].first], b.frames[0].niov, 0, out, sizeof(out));
	CHECK_EQ(got, NET_HDR_LEN + 64);
	CHECK(!memcmp(out, pkt, NET_HDR_LEN + 64));

	/* Bad ones. */
	memset(&b, 0, sizeof(b));
	CHECK_EQ(net_tx_add_frame(&b, &tap_like, net_offered_features(0), &c), NET_DROP_FLAGS);
	c.readable_len = 11;
	c.readable[0].iov_len = 11;
	c.nreadable = 1;
	CHECK_EQ(net_tx_add_frame(&b, &tap_like, all, &c), NET_DROP_SHORT);
	/* A chain that says more than its buffers hold. */
	c.readable_len = 1000;
	CHECK_EQ(net_tx_add_frame(&b, &stream_like, all, &c), NET_DROP_CHAIN);
	CHECK_EQ(b.nframes, 0);
}

static void test_config(void)
{
	struct vm_config cfg;
	uint8_t mac[6] = {0x02, 1, 2, 3, 4, 5}, got[6];
	struct net_config n = {.backend = NET_UNIXSTREAM, .fd = 3, .features = COMPAT_NET_FEATURES};
	char name[16];
	uint8_t *blob;
	size_t len;

	log_set_level(0);
	vm_config_init(&cfg);
	CHECK(vm_config_has_vsock(&cfg));
	memcpy(n.mac, mac, 6);
	CHECK_EQ(vm_config_add_net(&cfg, &n), 0);
	CHECK(!vm_config_has_vsock(&cfg)); /* as upstream: the interface replaces it */
	n.flags = NET_FLAG_VFKIT;
	CHECK_EQ(vm_config_add_net(&cfg, &n), -EINVAL); /* vfkit: unixgram only */
	n.flags = 0x80;
	CHECK_EQ(vm_config_add_net(&cfg, &n), -EINVAL);
	n.flags = 0;
	n.features = 1u << 20;
	CHECK_EQ(vm_config_add_net(&cfg, &n), -EINVAL);
	n.features = 0;
	n.path = (char *)"/s";
	CHECK_EQ(vm_config_add_net(&cfg, &n), -EINVAL); /* path and fd */
	n.fd = -1;
	n.backend = NET_UNIXGRAM;
	n.flags = NET_FLAG_VFKIT | NET_FLAG_DHCP_CLIENT;
	CHECK_EQ(vm_config_add_net(&cfg, &n), 0);
	n.backend = NET_TAP;
	n.flags = 0;
	n.path = (char *)"a-name-too-long-for-ifnamsiz";
	CHECK_EQ(vm_config_add_net(&cfg, &n), -EINVAL);
	n.path = (char *)"tap0";
	n.legacy = true;
	CHECK_EQ(vm_config_add_net(&cfg, &n), 0);
	for (int i = 3; i < VM_MAX_NETS; i++)
		CHECK_EQ(vm_config_add_net(&cfg, &n), 0);
	CHECK_EQ(vm_config_add_net(&cfg, &n), -ENOSPC);

	vm_config_net_mac(&cfg, 0, got);
	CHECK(!memcmp(got, mac, 6));
	vm_config_net_mac(&cfg, 2, got); /* legacy: upstream's default */
	CHECK_EQ(got[0], 0x5a);
	CHECK_EQ(got[5], 0xee);
	mac[0] = 0x01;
	CHECK_EQ(vm_config_set_net_mac(&cfg, mac), -EINVAL); /* multicast */
	mac[0] = 0x06;
	CHECK_EQ(vm_config_set_net_mac(&cfg, mac), 0);
	vm_config_net_mac(&cfg, 2, got);
	CHECK(!memcmp(got, mac, 6));
	vm_config_net_name(1, name, sizeof(name));
	CHECK(!strcmp(name, "eth1"));

	/* One net_dhcp record, for the DHCP interface only. */
	blob = guest_config_build(&cfg, NULL, &len);
	CHECK(blob != NULL);
	if (blob) {
		int dhcp = 0;

		for (size_t off = 0; off < len; off += strlen((char *)blob + off) + 1) {
			if (!strncmp((char *)blob + off, "net_dhcp=", 9)) {
				dhcp++;
				CHECK(!strcmp((char *)blob + off, "net_dhcp=eth1"));
			}
		}
		CHECK_EQ(dhcp, 1);
		free(blob);
	}
	vm_config_release(&cfg);
}

/* The frames of each write to a stream peer: whole ones within the limit, or one alone. */
static void test_stream_writes(void)
{
	static const size_t lens[] = {104, 204, 40004, 30004, 54, 54, 32000, 32768, 1, 1};
	static struct net_tx_batch b;

	b.nframes = sizeof(lens) / sizeof(lens[0]);
	for (unsigned int i = 0; i < b.nframes; i++)
		b.frames[i].len = lens[i];
	b.next = 0;
	b.next_sent = 0;
	CHECK_EQ(net_stream_write_frames(&b, 32768), 2); /* 104 + 204; 40004 would not fit */
	b.next = 2;
	CHECK_EQ(net_stream_write_frames(&b, 32768), 1); /* larger than the limit: alone */
	b.next = 3;
	CHECK_EQ(net_stream_write_frames(&b, 32768), 3); /* 30004 + 54 + 54 */
	b.next = 6;
	CHECK_EQ(net_stream_write_frames(&b, 32768), 1); /* 32000 + 32768 would not fit */
	b.next = 7;
	/* exactly the limit, then 1 more would not fit */
	CHECK_EQ(net_stream_write_frames(&b, 32768), 1);
	b.next = 8;
	CHECK_EQ(net_stream_write_frames(&b, 32768), 2);
	/* The rest of a frame partly written counts what is left of it. */
	b.next = 2;
	b.next_sent = 36480;
	CHECK_EQ(net_stream_write_frames(&b, 32768), 1); /* 3524 + 30004 > 32768 */
	b.next = 3;
	b.next_sent = 30000;
	CHECK_EQ(net_stream_write_frames(&b, 32768), 4); /* 4 + 54 + 54 + 32000 */
	b.next = b.nframes;
	b.next_sent = 0;
	CHECK_EQ(net_stream_write_frames(&b, 32768), 0);
}

TEST_MAIN("net", test_features(), test_tx_check(), test_deframe(), test_csum(), test_tx_frame(),
	  test_stream_writes(), test_config())
