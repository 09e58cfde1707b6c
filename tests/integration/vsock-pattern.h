/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The byte stream the vsock tests send: byte i of stream "seed" depends on
 * nothing else, so both ends make or check it in any chunk sizes.
 */
#ifndef KRUN_VSOCK_PATTERN_H
#define KRUN_VSOCK_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64 of the word index: 8 stream bytes per word. */
static inline uint64_t pattern_word(uint64_t seed, uint64_t i)
{
	uint64_t x = seed + (i + 1) * 0x9e3779b97f4a7c15ull;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Bytes [off, off + len) of stream "seed". */
static inline void pattern_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t pos = off + i;

		buf[i] = (uint8_t)(pattern_word(seed, pos / 8) >> (8 * (pos % 8)));
	}
}

#endif
