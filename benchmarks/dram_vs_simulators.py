"""archsim's DRAM core beside DRAMsim3 and Ramulator 2 on this machine, same request traces.

``benchmarks/dram_speed.py`` prints the other simulators' speeds as recorded elsewhere; this
script measures them here, when their binaries are given (build them from their repositories:
umd-memsys/DRAMsim3 ``dramsim3main``, CMU-SAFARI/ramulator2 ``ramulator2``; nothing of them is
in this repository). For each pair below and each pattern (random: 70 % reads at uniformly
random addresses; stream: sequential reads), archsim's generator writes one trace (all requests
arriving at cycle 0, as fast as each simulator accepts them) in each simulator's format; each
simulator runs it on one core, and the rate is its completed requests over its CPU time (trace
parsing included for the two C++ simulators, whose traces are text; archsim's numba compile is
excluded by a warm-up run).

The configurations are the nearest each simulator ships: ``hbm2`` is DRAMsim3's
``HBM2_8Gb_x128.ini`` itself (the preset reproduces it) and Ramulator 2's ``HBM2_8Gb`` /
``HBM2_2Gbps`` over 8 channels; ``ddr4`` is DRAMsim3's ``DDR4_8Gb_x8_3200.ini`` and Ramulator 2's
``DDR4_8Gb_x8`` (2 ranks) / ``DDR4_3200AA``, each with its own FR-FCFS controller, refresh and
address mapping. DRAMsim3 runs a fixed number of cycles: archsim's cycle count of the same trace
(at least one per request: its trace front end accepts one a cycle) plus 10 %, longer if it has
not completed every request by then; the requests it completed are counted.

Run: ``python benchmarks/dram_vs_simulators.py --dramsim3 BIN --dramsim3-configs DIR
--ramulator2 BIN [--requests N]`` (either simulator may be left out).
"""
from __future__ import annotations

import argparse
import re
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from archsim.dram import load_spec, simulate
from archsim.dram.cli import random_requests, stream_requests

#: archsim preset -> (DRAMsim3 ini, Ramulator 2 DRAM section)
PAIRS = {
    "hbm2": ("HBM2_8Gb_x128.ini",
             "    impl: HBM2\n    org:\n      preset: HBM2_4Gb\n      channel: 8\n"
             "    timing:\n      preset: HBM2_2Gbps\n"),
    "ddr4": ("DDR4_8Gb_x8_3200.ini",
             "    impl: DDR4\n    org:\n      preset: DDR4_8Gb_x8\n      channel: 1\n"
             "      rank: 2\n    timing:\n      preset: DDR4_3200AA\n"),
}

RAMULATOR2_YAML = """Frontend:
  impl: LoadStoreTrace
  path: {trace}
  clock_ratio: 1
  Translation:
    impl: NoTranslation
    max_addr: {cap}
MemorySystem:
  impl: GenericDRAM
  clock_ratio: 1
  DRAM:
{dram}  Controller:
    impl: Generic
    Scheduler:
      impl: FRFCFS
    RefreshManager:
      impl: AllBank
  AddrMapper:
    impl: RoBaRaCoCh
"""


def _child_cpu(cmd, cwd) -> float:
    """Run ``cmd``; the CPU time (user + system) it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _write_trace(path, addr, wr, line) -> Path:
    """Write ``line(address, is_write)`` for every request to ``path``."""
    with open(path, "w") as f:
        f.writelines(line(a, w) for a, w in zip(addr.tolist(), wr.tolist()))
    return path


def dramsim3_rate(binary, ini, addr, wr, cycles, work) -> tuple:
    trace = _write_trace(work / "dramsim3.trace", addr, wr,
                         lambda a, w: f"{a:#x} {'WRITE' if w else 'READ'} 0\n")
    out = work / "ds3"
    out.mkdir(exist_ok=True)
    cpu = _child_cpu([binary, str(ini), "-c", str(cycles), "-t", str(trace), "-o", str(out)],
                     work)
    text = (out / "dramsim3.txt").read_text()
    done = sum(int(v) for v in re.findall(r"num_(?:reads|writes)_done\s*=\s*(\d+)", text))
    return done / cpu, done


def ramulator2_rate(binary, dram, addr, wr, cap, work) -> float:
    trace = _write_trace(work / "ramulator2.trace", addr, wr,
                         lambda a, w: f"{'ST' if w else 'LD'} {a:#x}\n")
    cfg = work / "ramulator2.yaml"
    cfg.write_text(RAMULATOR2_YAML.format(trace=trace, cap=cap, dram=dram))
    return len(addr) / _child_cpu([binary, "-f", str(cfg)], work)


def archsim_rate(spec, addr, wr, arr) -> tuple:
    arr = np.zeros(len(addr), np.int64) if arr is None else np.asarray(arr, np.int64)
    simulate(spec, addr[:2000], wr[:2000], arr[:2000])        # compile / warm up
    t0 = time.process_time()
    res = simulate(spec, addr, wr, arr)
    return len(addr) / (time.process_time() - t0), res.cycles


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--dramsim3", help="path to DRAMsim3's dramsim3main")
    ap.add_argument("--dramsim3-configs", help="DRAMsim3's configs/ directory")
    ap.add_argument("--ramulator2", help="path to Ramulator 2's ramulator2 binary")
    a = ap.parse_args(argv)
    if a.dramsim3 and not a.dramsim3_configs:
        ap.error("--dramsim3 needs --dramsim3-configs")
    print(f"{a.requests:,} requests per run, one core, CPU time; '-': simulator not given")
    print(f"{'spec':5} {'pattern':7} {'archsim req/s':>14} {'DRAMsim3 req/s':>15} "
          f"{'(done)':>8} {'Ramulator 2 req/s':>18} {'vs DRAMsim3':>12} {'vs Ramulator 2':>15}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, (ini, dram) in PAIRS.items():
            spec = load_spec(name)
            for label, gen in (("random", random_requests), ("stream", stream_requests)):
                addr, wr, arr = gen(spec, a.requests, 0.7 if label == "random" else 1.0, 1)
                addr, wr = np.asarray(addr, np.int64), np.asarray(wr, np.int64)
                ours, cycles = archsim_rate(spec, addr, wr, arr)
                ds = rm = None
                if a.dramsim3:
                    n_cyc = int(1.1 * max(cycles, a.requests))
                    for _ in range(3):      # longer until it has completed the trace
                        ds, done = dramsim3_rate(a.dramsim3, Path(a.dramsim3_configs) / ini,
                                                 addr, wr, n_cyc, work)
                        if done >= a.requests:
                            break
                        n_cyc = int(n_cyc * 1.1 * a.requests / max(done, 1))
                if a.ramulator2:
                    rm = ramulator2_rate(a.ramulator2, dram, addr, wr, spec.capacity_bytes, work)
                cell = (lambda v: f"{v:,.0f}" if v else "-")
                ratio = (lambda v: f"{ours / v:.1f}x" if v else "-")
                print(f"{name:5} {label:7} {ours:14,.0f} {cell(ds):>15} "
                      f"{(f'{done / a.requests:.0%}' if ds else '-'):>8} {cell(rm):>18} "
                      f"{ratio(ds):>12} {ratio(rm):>15}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
