"""Sweep throughput: points per minute of a shipped sweep with 1 and 2 local workers and on a
Dask LocalCluster of 2 workers (the target is at least 100 points/min for
``sweeps/batch_tradeoff.yaml`` on 2 cores).

Each executor runs the whole sweep into a fresh store; the first rate includes building the
configs and starting the worker processes (imports, numba compilation), the second is the rate
after the first result.
Points that fail (a batch that does not fit a GPU) count: they are simulated up to the memory
check and recorded.

    python benchmarks/sweep_speed.py                     # sweeps/batch_tradeoff.yaml
    python benchmarks/sweep_speed.py pim_vs_gpu --no-dask
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import archsim.sweep as sw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep", nargs="?", default="batch_tradeoff")
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    sweep = sw.load_sweep(args.sweep)
    print(f"sweep {sweep.name}: {len(sweep)} points, {os.cpu_count()} cores")
    runs = [("1 local worker", {"jobs": 1}), ("2 local workers", {"jobs": 2})]
    if not args.no_dask:
        runs.append(("Dask LocalCluster, 2 workers", {"scheduler": "local:2"}))
    with tempfile.TemporaryDirectory() as d:
        for i, (label, kw) in enumerate(runs):
            t0 = time.perf_counter()
            s = sw.run_sweep(sweep, os.path.join(d, f"{i}.db"), progress=False, yes=True, **kw)
            wall = time.perf_counter() - t0
            print(f"{label:<30} {s.ran:>5} points in {wall:6.1f} s: "
                  f"{s.ran / wall * 60:7.0f} points/min; first result after "
                  f"{s.first_result_s:4.1f} s, then {s.steady_points_per_min:7.0f} points/min "
                  f"({s.failed} recorded as failed)")


if __name__ == "__main__":
    main()
