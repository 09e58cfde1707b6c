#!/usr/bin/env python3
# Writes the seed corpus of fuzz_net_rings (tests/fuzz/corpus/fuzz_net_rings/):
# what a Linux guest and its peer do through each backend. Byte 0: backend
# (% 3: stream, datagram, tap) and features (4 offloads, 8 mergeable
# buffers, 16 EVENT_IDX); then steps (see tests/fuzz/fuzz_net_rings.c).
import os, struct, sys

RX, TX, PEER, SERVE_TX, SERVE_RX, FULL, RESET, GONE = range(8)
WRITE = 1


def start(backend, offloads=True, mergeable=True, event_idx=True):
    b = (4 if offloads else 0) | (8 if mergeable else 0) | (16 if event_idx else 0)
    return bytes([b + (backend - b) % 3])  # the backend is b % 3


def chain(q, *descs):
    """A chain of (length, flags) descriptors."""
    out = bytes([q, len(descs) - 1])
    for length, flags in descs:
        out += struct.pack('>HB', length, flags)
    return out


def rx_buffers(n, size=1536):
    return b''.join(chain(RX, (size, WRITE)) for _ in range(n))


def stream_frame(payload):
    # the peer's bytes in pieces of at most 255 (a step's limit)
    data = struct.pack('>I', len(payload)) + payload
    return b''.join(bytes([PEER, len(data[i:i + 255])]) + data[i:i + 255]
                    for i in range(0, len(data), 255))


def datagram(length, fill=0x45):
    return bytes([PEER, fill, 0xff]) + struct.pack('>H', length // 2)


ether = bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + b'\x08\x00' + bytes(46)
tx_hdr_frame = bytes(12) + ether  # a transmit chain's bytes: the header, the frame
seeds = {
    'stream-both-ways': start(0) + rx_buffers(4) + chain(TX, (12, 0), (60, 0)) +
                        tx_hdr_frame + stream_frame(ether) + bytes([SERVE_TX, SERVE_RX]),
    'stream-full-peer': start(0) + chain(TX, (72, 0)) + tx_hdr_frame + bytes([FULL, SERVE_TX]) +
                        bytes([FULL, SERVE_TX]),
    'stream-bad-length': start(0) + rx_buffers(2) + bytes([PEER, 9]) + b'\x00\x00\x00\x05junk!' +
                         stream_frame(ether) + bytes([SERVE_RX]),
    'stream-huge-length': start(0) + rx_buffers(2) + bytes([PEER, 4]) + b'\xff\xff\xff\xff' +
                          stream_frame(ether) + bytes([SERVE_RX]),
    'stream-no-mergeable': start(0, mergeable=False) + rx_buffers(2, 1000) +
                           stream_frame(ether * 30) + bytes([SERVE_RX]),
    'tap-direct': start(2) + b''.join(chain(RX, (16384, WRITE), (16384, WRITE))
                                      for _ in range(3)) +
                  datagram(12 + 1514) + datagram(12 + 60000) + bytes([SERVE_RX, SERVE_RX]),
    'tap-few-buffers': start(2) + rx_buffers(3) + datagram(12 + 1514) + datagram(12 + 4000) +
                       bytes([SERVE_RX]) + rx_buffers(3) + bytes([SERVE_RX]),
    'gram-reset': start(1) + rx_buffers(2) + datagram(1514) + bytes([RESET, SERVE_RX]) +
                  rx_buffers(2) + bytes([SERVE_RX]),
    'gram-peer-gone': start(1, offloads=False, event_idx=False) + chain(TX, (72, 0)) +
                      tx_hdr_frame + bytes([GONE, SERVE_TX, SERVE_RX]),
}
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'fuzz_net_rings')
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
