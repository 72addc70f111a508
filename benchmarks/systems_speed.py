"""Engine wall time on the systems design points: compiled step plans against the Python path.

Runs (issue 10, item 8):

* ``pim``: GPT-2 XL, 1024 tokens on ``pim_gpt`` (target: warm run under 2 s);
* ``lamina``: Llama-3-70B, batch 64, 2,048 decode steps on ``lamina_h100_h20`` (a few seconds);
* ``cent``: Llama-2-70B, 4,096 tokens on ``cent_like_llama2_70b`` (under 60 s).

For each: trace preparation (generation, the design point's transforms, the memory check) is
timed apart; *cold* is a new simulator (op-cost memo empty; numba kernels already compiled by a
tiny run), *warm* the same simulator again; each engine figure is the median of ``--repeat``
runs. ``--python`` also times the Python scheduler path (warm) and prints the ratio; ``--check``
asserts both paths give the same ``RunResult.to_dict()``.

Run: ``python benchmarks/systems_speed.py [pim lamina cent] [--tokens N] [--python] [--check]``
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "pim": ("pim_gpt", "gpt2_xl", ["generate_tokens={n}"], 1024),
    "lamina": ("lamina_h100_h20", "llama3_70b", ["batch_size=64", "generate_tokens={n}"], 2049),
    "cent": ("cent_like_llama2_70b", "llama2_70b_cent", ["generate_tokens={n}"], 4096),
}


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _plain(res) -> dict:
    d = res.to_dict()
    d["run"].pop("simulator_wall_s", None)
    return d


def bench(name, tokens, repeat, python, check) -> None:
    from archsim.api import prepare
    from archsim.engine.simulator import Simulator
    from archsim.hardware import load_hardware
    from archsim.workload import load_workload

    hw_name, wl, over, default = CASES[name]
    n = tokens or default
    hw = load_hardware(ROOT / "hw_configs" / f"{hw_name}.yaml")
    w = load_workload(ROOT / "workloads" / f"{wl}.yaml", [o.format(n=n) for o in over])
    t_prep, (trace, _) = _timed(lambda: prepare(hw, w))
    cold, warm = [], []
    for _ in range(repeat):
        sim = Simulator(hw)
        t, res = _timed(lambda: sim.run(trace))
        cold.append(t)
        warm.append(_timed(lambda: sim.run(trace))[0])
    ops = trace.num_ops
    print(f"{name:<7} {hw_name} / {wl}: {len(trace.steps)} steps, {ops} ops "
          f"({ops / len(trace.steps):.0f} per step); {res.latency_s * 1e3:.2f} ms simulated")
    print(f"  trace preparation        {t_prep:8.2f} s")
    print(f"  engine, cold             {statistics.median(cold):8.2f} s")
    print(f"  engine, warm             {statistics.median(warm):8.2f} s   "
          f"({ops / statistics.median(warm) / 1e6:.1f} M ops/s)")
    if python or check:
        slow = Simulator(hw, fast=False)
        slow.run(trace)                                   # warm its op-cost memo
        t_py, ref = _timed(lambda: slow.run(trace))
        print(f"  Python scheduler, warm   {t_py:8.2f} s   "
              f"(x{t_py / statistics.median(warm):.1f})")
        if check:
            assert _plain(ref) == _plain(res), f"{name}: fast and Python paths differ"
            print("  fast path == Python path (RunResult.to_dict, wall time aside)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--tokens", type=int, default=None, help="override each case's length")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--python", action="store_true", help="also time the Python path")
    ap.add_argument("--check", action="store_true", help="assert both paths agree")
    args = ap.parse_args(argv)
    from archsim.engine.kernel import schedule_step_nb   # noqa: F401  (compile/load once)
    import numpy as np
    z = np.zeros(1, dtype=np.int64)
    e = np.zeros((1, 1), dtype=np.int64)
    schedule_step_nb(z[:0], z[:0], z[:0], z, z[:0], z[:0], z[:0], z[:0], z, z[:0], z, z[:0],
                     z, z[:0], z[:0], z[:0], e, e, e, 0, 1, z, z, z, np.zeros(1), z, z, z, 0)
    for name in args.cases:
        bench(name, args.tokens, args.repeat, args.python, args.check)


if __name__ == "__main__":
    main()
