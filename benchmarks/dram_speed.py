"""Simulator speed of the DRAM controller kernel, in requests per second.

For each standard: 1e6-request stream and random traces through ``archsim.dram.simulate``
(address decoding, per-channel split and the numba FR-FCFS loop, one core), after a warm-up run so
numba compile time is excluded. The pure-Python twin (same algorithm, interpreted) is timed on
fewer requests and the ratio is printed.

Run: ``python benchmarks/dram_speed.py [--requests N] [--twin-requests M]``
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from archsim.dram import load_spec, simulate
from archsim.dram.cli import random_requests, stream_requests


def rate(spec, gen, n, engine="numba", repeat=1):
    addr, wr, arr = gen(spec, n, 0.7 if gen is random_requests else 1.0, 1)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        simulate(spec, addr, wr, arr, engine=engine)
        best = min(best, time.perf_counter() - t0)
    return n / best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--twin-requests", type=int, default=20_000)
    ap.add_argument("--standards", default="hbm2,hbm3,gddr6,lpddr5")
    a = ap.parse_args(argv)
    print("numba compile time excluded (warm-up run first); single core; best of 2 runs")
    print(f"{'spec':8} {'pattern':7} {'numba req/s':>13} {'twin req/s':>11} {'ratio':>7}")
    for name in a.standards.split(","):
        spec = load_spec(name)
        for label, gen in (("stream", stream_requests), ("random", random_requests)):
            rate(spec, gen, 5000)  # warm-up / compile
            nb = rate(spec, gen, a.requests, repeat=2)
            py = rate(spec, gen, a.twin_requests, engine="python")
            print(f"{name:8} {label:7} {nb:13,.0f} {py:11,.0f} {nb / py:7.0f}x", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
