#!/usr/bin/env python3
# Writes the seed corpus of fuzz_legacy (tests/fuzz/corpus/fuzz_legacy/):
# what Linux does to the 8250 UART, the CMOS RTC and the i8042 at boot and
# reboot. Records: op (0 outb, 1 inb, 2 host input, 3 serve), port index,
# value; port indexes: 0-7 UART 0x3f8+n, 8 0x70, 9 0x71, 10 0x60, 11 0x64.
import os, sys

OUT, IN, HOST, SERVE = 0, 1, 2, 3
RTC_IDX, RTC_DATA, KBD_DATA, KBD_CMD = 8, 9, 10, 11

def rec(*ops):
    return bytes(b for op in ops for b in op)

def uart_probe():
    # autoconfig: scratch test, loopback test, divisor latch, 8N1, FIFO
    return [(OUT, 7, 0xa5), (IN, 7, 0), (OUT, 1, 0), (IN, 1, 0), (OUT, 4, 0x1f),
            (IN, 6, 0), (OUT, 4, 0x00), (OUT, 3, 0x80), (OUT, 0, 0x01), (OUT, 1, 0x00),
            (OUT, 3, 0x03), (OUT, 2, 0x07), (IN, 2, 0), (IN, 5, 0)]

def uart_tx(text):
    return [(OUT, 1, 0x02)] + [(OUT, 0, c) for c in text] + [(IN, 2, 0), (IN, 5, 0)]

def uart_rx(text):
    return [(OUT, 1, 0x01)] + [(HOST, 0, c) for c in text] + [(SERVE, 0, 0)] + \
           [(IN, 5, 0), (IN, 2, 0), (IN, 0, 0)] * len(text)

def uart_loopback():
    return [(OUT, 4, 0x10), (OUT, 0, 0x55), (IN, 5, 0), (IN, 0, 0), (IN, 6, 0), (OUT, 4, 0x0b)]

def rtc_read_clock():
    ops = [(OUT, RTC_IDX, 0x0a), (IN, RTC_DATA, 0), (OUT, RTC_IDX, 0x0b), (IN, RTC_DATA, 0)]
    for reg in (0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32, 0x0d):
        ops += [(OUT, RTC_IDX, 0x80 | reg), (IN, RTC_DATA, 0)]
    return ops

def rtc_cmos():
    return [(OUT, RTC_IDX, 0x0e), (OUT, RTC_DATA, 0x5a), (IN, RTC_DATA, 0),
            (OUT, RTC_IDX, 0x7f), (OUT, RTC_DATA, 0xff), (IN, RTC_DATA, 0),
            (OUT, RTC_IDX, 0x0b), (OUT, RTC_DATA, 0x06), (IN, RTC_DATA, 0),
            (OUT, RTC_IDX, 0x00), (OUT, RTC_DATA, 0x99), (IN, RTC_DATA, 0)]

def reboot():
    return [(IN, KBD_CMD, 0), (OUT, KBD_CMD, 0xd1), (OUT, KBD_DATA, 0x00), (OUT, KBD_CMD, 0xfe)]

seeds = {
    'uart-probe': uart_probe(),
    'uart-tx': uart_probe() + uart_tx(b'Linux version 6.12\r\n'),
    'uart-rx': uart_probe() + uart_rx(b'ls\n'),
    'uart-loopback': uart_probe() + uart_loopback() + uart_tx(b'ok'),
    'uart-rx-overflow': [(OUT, 1, 0x01)] + [(HOST, 0, 0x41)] * 80 + [(SERVE, 0, 0)] * 2 +
                        [(IN, 0, 0)] * 70 + [(SERVE, 0, 0)],
    'rtc-clock': rtc_read_clock(),
    'rtc-cmos': rtc_cmos(),
    'i8042-reboot': uart_tx(b'reboot: Restarting system\r\n') + reboot(),
}
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'fuzz_legacy')
os.makedirs(out, exist_ok=True)
for name, ops in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(rec(*ops))
