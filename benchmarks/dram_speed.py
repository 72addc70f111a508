"""Simulator speed of the DRAM controller kernel, in requests per second.

For each standard: 1e6-request stream and random traces through ``archsim.dram.simulate``
(address decoding, per-channel split and the numba FR-FCFS loop, one core), after a warm-up run so
numba compile time is excluded; times are the process's CPU time (one thread), so other load on
a shared machine does not count. The pure-Python twin (same algorithm, interpreted) is timed on
fewer requests and the ratio is printed.

The targets (issue 13) and the other simulators' speeds are printed beside the figures: random
traffic >= 1.5 M requests/s per core, streams >= 2 M; DRAMsim3's and Ramulator 2's speeds on
the same traces for hbm2 and ddr4, as ``benchmarks/dram_vs_simulators.py`` measured them for
docs/dram.md (it measures them on this machine when given their binaries).

Where the time goes: ``--queue-sizes 8,16,32,64`` runs random traffic with each read/write
queue size instead and prints the time per issued command. The FR-FCFS scan visits every queued
request per command, so the slope over queue sizes is the scan's cost per queued request and
what is left at small queues is the per-command bookkeeping (docs/dram.md, "Speed").

Run: ``python benchmarks/dram_speed.py [--requests N] [--twin-requests M] [--standards a,b]
[--queue-sizes 8,16,32,64]``
"""
from __future__ import annotations

import argparse
import time

from archsim.dram import load_spec, simulate
from archsim.dram.cli import random_requests, stream_requests


#: (spec, pattern) -> (DRAMsim3, Ramulator 2) requests/s, measured on the machine that measured
#: the docs' figures with ``benchmarks/dram_vs_simulators.py`` (DRAMsim3 at 2981759, Ramulator 2
#: at b7c7027, same 200,000-request traces; docs/dram.md "Speed"); run that script to measure
#: them on yours. Other specs have no configuration of theirs that matches a preset.
OTHERS_REQ_PER_S = {("hbm2", "random"): (110_363, 294_289), ("hbm2", "stream"): (282_399, 826_460),
                    ("ddr4", "random"): (108_433, 126_133), ("ddr4", "stream"): (96_722, 98_050)}
#: the targets of issue 13, requests per second per core
TARGET_REQ_PER_S = {"random": 1_500_000, "stream": 2_000_000}


def rate(spec, gen, n, engine="numba", repeat=1):
    addr, wr, arr = gen(spec, n, 0.7 if gen is random_requests else 1.0, 1)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        simulate(spec, addr, wr, arr, engine=engine)
        best = min(best, time.process_time() - t0)
    return n / best


def per_command(names, sizes, n):
    """Random traffic per queue size: requests/s, ns per issued command, commands per request;
    and the fitted ns per queued request (least squares over the queue sizes)."""
    print(f"random traffic, {n:,} requests, best of 2; ns per issued command by queue size")
    print(f"{'spec':8} {'queue':>5} {'req/s':>11} {'ns/command':>10} {'commands/req':>12}")
    for name in names:
        xs, ys = [], []
        for q in sizes:
            spec = load_spec(name, queue_size=q)
            rate(spec, random_requests, 5000)
            addr, wr, arr = random_requests(spec, n, 0.7, 1)
            best, res = float("inf"), None
            for _ in range(2):
                t0 = time.process_time()
                res = simulate(spec, addr, wr, arr)
                best = min(best, time.process_time() - t0)
            ncmd = sum(res.commands.values())
            xs.append(q)
            ys.append(best / ncmd * 1e9)
            print(f"{name:8} {q:5d} {n / best:11,.0f} {ys[-1]:10.1f} {ncmd / n:12.2f}", flush=True)
        if len(xs) > 1:
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / \
                sum((x - mx) ** 2 for x in xs)
            print(f"{name:8} slope {slope:.2f} ns per queue entry; "
                  f"{my - slope * mx:.0f} ns per command at queue size 0")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--twin-requests", type=int, default=20_000)
    ap.add_argument("--standards", default="hbm2,hbm3,gddr6,lpddr5,ddr4")
    ap.add_argument("--queue-sizes", default=None,
                    help="e.g. 8,16,32,64: time per command by queue size (random traffic)")
    a = ap.parse_args(argv)
    if a.queue_sizes:
        return per_command(a.standards.split(","), [int(q) for q in a.queue_sizes.split(",")],
                           min(a.requests, 400_000))
    print("numba compile time excluded (warm-up run first); single core, CPU time; best of 2 runs")
    print("target (issue 13): random >= 1,500,000 req/s, stream >= 2,000,000 req/s; Ramulator 2 "
          "and DRAMsim3 as measured by benchmarks/dram_vs_simulators.py (see OTHERS_REQ_PER_S)")
    print(f"{'spec':8} {'pattern':7} {'numba req/s':>13} {'twin req/s':>11} {'ratio':>7} "
          f"{'vs Ramulator2':>13} {'vs DRAMsim3':>11}  target")
    missed = []
    for name in a.standards.split(","):
        spec = load_spec(name)
        for label, gen in (("stream", stream_requests), ("random", random_requests)):
            rate(spec, gen, 5000)  # warm-up / compile
            nb = rate(spec, gen, a.requests, repeat=2)
            py = rate(spec, gen, a.twin_requests, engine="python")
            ds3, ram2 = OTHERS_REQ_PER_S.get((name, label), (None, None))
            goal = TARGET_REQ_PER_S[label]
            met = "met" if nb >= goal else f"NOT met ({nb / goal:.0%} of it)"
            if nb < goal:
                missed.append(f"{name} {label}")
            vs = (lambda v: f"{nb / v:.1f}x" if v else "-")
            print(f"{name:8} {label:7} {nb:13,.0f} {py:11,.0f} {nb / py:7.0f}x "
                  f"{vs(ram2):>13} {vs(ds3):>11}  {met}", flush=True)
    print("all targets met" if not missed else "targets NOT met for: " + ", ".join(missed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
