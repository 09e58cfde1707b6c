// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: virtio-net's two parsers of hostile input.
 *  - A transmit chain as a guest writes it (the virtio-net header and the
 *    frame, split into descriptors where the fuzzer says) through
 *    net_tx_add_frame() for each kind of backend and feature set: a frame it
 *    keeps must be exactly its pieces, each inside the chain or the batch's
 *    own prefix and checksum, and never longer than NET_MAX_FRAME.
 *  - The same bytes as the peer's stream, cut into reads where the fuzzer
 *    says, through the de-framer as the device buffers them: every frame
 *    inside what was read, within its bounds, and the stream consumed.
 *
 * Input: byte 0 features (bit 0 all offloads), byte 1 backend (% 3),
 * byte 2 descriptor count, bytes 3..10 split points and read sizes, the
 * rest the data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/net/net.h"
#include "libkrun.h"
#include "vmm/util.h"

static struct virtq_chain chain;
static struct net_tx_batch batch;
static uint8_t rxbuf[4 * (NET_MAX_FRAME + 4)];

static const struct net_backend_ops backends[3] = {
    {.name = "stream", .stream = true},
    {.name = "gram"},
    {.name = "tap", .vnet_hdr = true},
};

static bool inside(const void *p, size_t len, const void *base, size_t blen)
{
	const uint8_t *a = p, *b = base;

	return a >= b && len <= blen && (size_t)(a - b) <= blen - len;
}

static void fuzz_tx(const uint8_t *cut, const uint8_t *data, size_t size, uint64_t features,
		    const struct net_backend_ops *ops, unsigned int ndesc)
{
	size_t off = 0;

	memset(&chain, 0, sizeof(chain));
	for (unsigned int i = 0; i < ndesc && off <= size; i++) {
		size_t len = i + 1 == ndesc ? size - off : MIN((size_t)cut[i % 8] * 3, size - off);

		chain.readable[chain.nreadable++] = (struct iovec){(void *)(data + off), len};
		chain.readable_len += len;
		off += len;
	}
	batch.nframes = batch.niov = batch.next = 0;
	if (net_tx_add_frame(&batch, ops, features, &chain) != NET_OK) {
		if (batch.nframes)
			abort(); /* a dropped frame left in the batch */
		return;
	}
	{
		const struct net_tx_frame *f = &batch.frames[0];
		size_t total = 0;

		if (batch.nframes != 1 || f->len > NET_MAX_FRAME + NET_HDR_LEN ||
		    f->first + f->niov > batch.niov)
			abort();
		for (unsigned int i = f->first; i < f->first + f->niov; i++) {
			const struct iovec *v = &batch.iov[i];

			if (v->iov_len && !inside(v->iov_base, v->iov_len, data, size) &&
			    !inside(v->iov_base, v->iov_len, batch.prefix, sizeof(batch.prefix)) &&
			    !inside(v->iov_base, v->iov_len, batch.csum, sizeof(batch.csum)))
				abort();
			total += v->iov_len;
		}
		if (total != f->len)
			abort();
	}
}

static void fuzz_stream(const uint8_t *cut, const uint8_t *data, size_t size)
{
	struct net_deframer d = {.min_len = NET_MIN_FRAME, .max_len = NET_MAX_FRAME};
	size_t fed = 0, have = 0;
	unsigned int round = 0;

	while (fed < size) {
		size_t step = (size_t)cut[round++ % 8] * 97 + 1;
		size_t take = MIN(size - fed, MIN(step, sizeof(rxbuf) - have));

		memcpy(rxbuf + have, data + fed, take);
		have += take;
		fed += take;
		for (;;) {
			size_t consumed = 0, foff = 0, flen = 0;
			enum net_deframe r = net_deframe(&d, rxbuf, have, &consumed, &foff, &flen);

			if (consumed > have)
				abort();
			if (r == NET_FRAME &&
			    (foff + flen > have || flen < d.min_len || flen > d.max_len))
				abort();
			memmove(rxbuf, rxbuf + consumed, have - consumed);
			have -= consumed;
			if (!consumed)
				break;
		}
		/* What is left is less than one frame and its prefix. */
		if (have > 4 + NET_MAX_FRAME)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t features;
	unsigned int ndesc;

	if (size < 11)
		return 0;
	features = net_offered_features(
	    data[0] & 1 ? COMPAT_NET_FEATURES | NET_FEATURE_HOST_TSO6 | NET_FEATURE_GUEST_TSO6 : 0);
	ndesc = data[2] % 8 + 1;
	fuzz_tx(data + 3, data + 11, size - 11, features, &backends[data[1] % 3], ndesc);
	fuzz_stream(data + 3, data + 11, size - 11);
	return 0;
}
