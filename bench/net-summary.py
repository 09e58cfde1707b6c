#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""net-summary.py LOG...: the virtio-net benchmark's cells, pooled over logs.

Reads the output of one or more bench/net.sh runs (the per-run lines,
"  VMM BACKEND (MTU N): guest->host X MiB/s, host->guest Y MiB/s, Z round
trips/s", and the "... not counted" lines under them) and prints, as
markdown, each cell's median over all completed runs (n; min-max), the
ratio of ours to QEMU's, a 95% bootstrap interval of that ratio, and the
two-sided Mann-Whitney p of "the two VMMs' runs come from one
distribution" (normal approximation). One-byte round trips do not depend
on the MTU, so they are also pooled over both MTUs per backend.
"""
import math
import random
import re
import statistics
import sys

RUN = re.compile(r"  (\w+) (passt|tap) \(MTU (\d+)\): guest->host (\S+) MiB/s, "
                 r"host->guest (\S+) MiB/s, (\S+) round trips/s")
METRICS = (("g2h", "guest->host, MiB/s"), ("h2g", "host->guest, MiB/s"),
           ("rr", "round trips/s"))


def read_runs(paths):
    """{(backend, mtu, metric, vmm): [value, ...]} of the completed runs."""
    runs = {}
    for path in paths:
        lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
        for i, line in enumerate(lines):
            m = RUN.match(line)
            if not m:
                continue
            vmm, backend, mtu, *values = m.groups()
            j = i + 1
            while j < len(lines) and lines[j].startswith("    "):
                for k, (metric, _) in enumerate(METRICS):
                    if metric + " not counted" in lines[j]:
                        values[k] = "?"
                j += 1
            for (metric, _), v in zip(METRICS, values):
                if v != "?" and float(v) > 0:
                    runs.setdefault((backend, mtu, metric, vmm), []).append(float(v))
    return runs


def mann_whitney_p(a, b):
    n1, n2 = len(a), len(b)
    u = sum((x > y) + 0.5 * (x == y) for x in a for y in b)
    sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return math.erfc(abs(u - n1 * n2 / 2) / sd / math.sqrt(2))


def bootstrap_ratio(a, b, rounds=4000):
    rng = random.Random(1)  # the same interval for the same logs
    r = sorted(statistics.median(rng.choices(a, k=len(a))) /
               statistics.median(rng.choices(b, k=len(b))) for _ in range(rounds))
    return r[int(0.025 * rounds)], r[int(0.975 * rounds)]


def cell(values, rr):
    if not values:
        return "-"
    f = (lambda v: "%d" % round(v)) if rr else (lambda v: "%.1f" % v)
    return "%s (%d; %s-%s)" % (f(statistics.median(values)), len(values),
                               f(min(values)), f(max(values)))


def compare(ours, qemu):
    if len(ours) < 2 or len(qemu) < 2:
        return "-", "-", "-"
    lo, hi = bootstrap_ratio(ours, qemu)
    return ("**%.2fx**" % (statistics.median(ours) / statistics.median(qemu)),
            "%.2f-%.2f" % (lo, hi), "%.2f" % mann_whitney_p(ours, qemu))


def main(paths):
    runs = read_runs(paths)
    print("| backend | MTU | metric | krun | qemu | krun/qemu | 95% interval | p | qemu vhost=on |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for backend in ("passt", "tap"):
        for mtu in ("65520", "1500"):
            for metric, label in METRICS:
                get = lambda vmm: runs.get((backend, mtu, metric, vmm), [])
                rr = metric == "rr"
                vhost = cell(get("qemuvhost"), rr) if get("qemuvhost") else ""
                print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" %
                      (backend, mtu, label, cell(get("krun"), rr), cell(get("qemu"), rr),
                       *compare(get("krun"), get("qemu")), vhost))
    print()
    print("| backend | round trips/s, both MTUs | krun | qemu | krun/qemu | 95% interval | p |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for backend in ("passt", "tap"):
        both = lambda vmm: sum((runs.get((backend, m, "rr", vmm), []) for m in ("65520", "1500")), [])
        print("| %s | | %s | %s | %s | %s | %s |" %
              (backend, cell(both("krun"), True), cell(both("qemu"), True),
               *compare(both("krun"), both("qemu"))))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: net-summary.py LOG...")
    main(sys.argv[1:])
