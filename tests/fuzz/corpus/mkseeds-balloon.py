#!/usr/bin/env python3
# Writes the seed corpus of fuzz_balloon (tests/fuzz/corpus/fuzz_balloon/):
# rings as Linux fills the reporting queue, with good and hostile ranges,
# direct and indirect. Layout: see the header of tests/fuzz/fuzz_balloon.c.
import os, struct, sys

MiB = 1 << 20
HOLE, HIGH = 0xC0000000, 0x100000000
WRITE, NEXT, INDIRECT = 2, 1, 4
ranges = [(64 * MiB, 2 * MiB), (0xD0000000, 2 * MiB), (66 * MiB, 0),
          (HOLE - MiB, 2 * MiB), (0x9000, 4096), (HIGH, 64 * 1024),
          (68 * MiB + 512, 2 * MiB), (70 * MiB, 4 * MiB)]

def ring(heads, descs, tables=()):
    ram = bytearray(60 * 1024)
    for i, (a, l, f, n) in enumerate(descs):
        struct.pack_into('<QIHH', ram, 0x1000 + 16 * i, a, l, f, n)
    for base, tdescs in tables:
        for i, (a, l, f, n) in enumerate(tdescs):
            struct.pack_into('<QIHH', ram, base + 16 * i, a, l, f, n)
    struct.pack_into('<HH', ram, 0x2800, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into('<H', ram, 0x2804 + 2 * i, h)
    return bytes([6, 1, 2 + 14 * 3, 0]) + bytes(ram)

def chain(rs):
    return [(a, l, WRITE | (NEXT if i + 1 < len(rs) else 0), i + 1) for i, (a, l) in enumerate(rs)]

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'fuzz_balloon')
os.makedirs(out, exist_ok=True)
seeds = {
    'direct-chain': ring([0], chain(ranges)),
    'indirect-chain': ring([0], [(0x4000, 16 * len(ranges), INDIRECT, 0)], [(0x4000, chain(ranges))]),
    'one-per-chain': ring([0, 1, 2], [(a, l, WRITE, 0) for a, l in ranges[:3]]),
    'looping': ring([0], [(64 * MiB, 4096, WRITE | NEXT, 1), (66 * MiB, 4096, WRITE | NEXT, 0)]),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
