"""Simulator wall time for the shipped design points (trace generation + simulation).

Run: python benchmarks/engine_speed.py
"""
from __future__ import annotations

import time
from pathlib import Path

import archsim

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    ("gpu_a100_80gb", "llama2_7b"), ("gpu_h100_sxm", "llama2_7b"),
    ("gpu_a100_80gb", "gpt2_small"), ("gpu_t4", "gpt2_xl"),
    ("gpu_t4_eager", "gpt2_xl"),     # a host clock per device (eager dispatch, run-ahead)
]


def main() -> None:
    print(f"{'hardware':<16} {'workload':<12} {'ops':>9} {'trace s':>8} {'sim s':>7} "
          f"{'ops/s':>10} {'TPOT ms':>8}")
    for hw_name, wl_name in CASES:
        hw = archsim.load_hardware(ROOT / "hw_configs" / f"{hw_name}.yaml")
        w = archsim.load_workload(ROOT / "workloads" / f"{wl_name}.yaml")
        t0 = time.perf_counter()
        trace = archsim.generate_trace(w)
        t1 = time.perf_counter()
        r = archsim.Simulator(hw).run(trace)
        t2 = time.perf_counter()
        print(f"{hw_name:<16} {wl_name:<12} {trace.num_ops:>9} {t1 - t0:>8.2f} {t2 - t1:>7.2f} "
              f"{trace.num_ops / (t2 - t1):>10.0f} {r.tpot_s['mean'] * 1e3:>8.3f}")


if __name__ == "__main__":
    main()
