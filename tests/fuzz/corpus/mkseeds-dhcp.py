#!/usr/bin/env python3
# Writes the seed corpus of fuzz_dhcp (tests/fuzz/corpus/fuzz_dhcp/): DHCP
# replies as IPv4 packets (what init's packet socket reads), for the xid and
# MAC in tests/fuzz/fuzz_dhcp.c: good OFFERs and ACKs as passt and udhcpd
# send them, a rapid-commit ACK, a NAK, and broken ones.
import os, struct, sys

XID = 0x12345678
MAC = bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])

def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def opt(code, data=b''):
    return bytes([code, len(data)]) + data

def ip4(*a):
    return bytes(a)

def bootp(opts, yiaddr=ip4(10, 0, 2, 15), xid=XID, mac=MAC, op=2):
    b = struct.pack('!BBBBIHH4s4s4s4s', op, 1, 6, 0, xid, 0, 0x8000,
                    bytes(4), yiaddr, bytes(4), bytes(4))
    b += mac + bytes(10) + bytes(64) + bytes(128) + bytes([99, 130, 83, 99])
    return b + opts

def packet(payload, src=ip4(10, 0, 2, 2), frag=0, proto=17, sport=67, dport=68):
    udp = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, frag, 64, proto, 0,
                      src, b'\xff' * 4)
    hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    return hdr + udp

def lease(kind, extra=b''):
    return (opt(53, bytes([kind])) + opt(54, ip4(10, 0, 2, 2)) + opt(51, b'\0\0\x0e\x10') +
            opt(1, ip4(255, 255, 255, 0)) + opt(3, ip4(10, 0, 2, 2)) +
            opt(6, ip4(10, 0, 2, 3) + ip4(1, 1, 1, 1)) + opt(26, b'\xff\xf0') + extra + b'\xff')

seeds = {
    'offer': packet(bootp(lease(2))),
    'ack': packet(bootp(lease(5))),
    'ack-rapid': packet(bootp(lease(5, opt(80)))),
    'nak': packet(bootp(opt(53, b'\x06') + opt(54, ip4(10, 0, 2, 2)) + b'\xff'), ),
    'padded': packet(bootp(b'\0' * 8 + lease(2)) + bytes(60)),
    'many-dns': packet(bootp(opt(53, b'\x05') + opt(6, bytes(range(1, 25))) + b'\xff')),
    'dns-past-end': packet(bootp(opt(53, b'\x02') + bytes([6, 200, 1, 2, 3, 4]))),
    'bad-mask': packet(bootp(opt(53, b'\x02') + opt(1, ip4(255, 0, 255, 0)) + b'\xff')),
    'no-end': packet(bootp(lease(2)[:-1])),
    'other-xid': packet(bootp(lease(2), xid=XID ^ 1)),
    'fragment': packet(bootp(lease(2)), frag=0x2000),
    'not-udp': packet(bootp(lease(2)), proto=6),
    'wrong-port': packet(bootp(lease(2)), sport=53),
    'short': packet(bootp(lease(2))[:100]),
}

# 'W' + a BOOTP message: the target adds good IP and UDP headers.
for name in ('offer', 'ack-rapid', 'nak', 'many-dns'):
    seeds['w-' + name] = b'W' + seeds[name][28:]

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'fuzz_dhcp')
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
