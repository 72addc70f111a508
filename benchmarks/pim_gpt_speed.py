"""Wall time of a 1024-token GPT-2 XL generation on the PIM-GPT design point, command-level PIM.

Phases: trace generation, the engine run (op placement, op costs = cycle-accurate GEMV
simulations of every distinct GEMV, one-pass step scheduling), and within the run the time
spent in GEMV simulations. *Cold*: the GEMV memo and the engine's op-cost memo are empty; numba
is compiled beforehand by one tiny GEMV, so compilation is not counted. *Warm*: the same
simulator runs the trace again (every op cost memoized).

Run: ``python benchmarks/pim_gpt_speed.py [--tokens N] [--profile]`` (one core is enough: the
simulation is single-threaded).
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("--profile", action="store_true", help="cProfile the cold run (top 20)")
    args = ap.parse_args(argv)

    from archsim.devices import pim as pim_mod
    from archsim.pim import attention as pim_attention
    from archsim.pim.gemv import clear_memo
    from archsim.engine.simulator import Simulator
    from archsim.hardware import load_hardware
    from archsim.trace.generate import generate_trace
    from archsim.workload import load_workload

    hw = load_hardware(ROOT / "hw_configs" / "pim_gpt.yaml")
    w = load_workload(str(ROOT / "workloads" / "gpt2_xl.yaml"),
                      [f"generate_tokens={args.tokens}"])

    # compile the numba kernel outside the timed region
    sim = Simulator(hw)
    sim.system.devices["pim"].simulate(16, 16, "bf16", memo=False)

    gemv = {"s": 0.0, "n": 0}
    orig = pim_mod.Pim.simulate

    def timed(self, rows, cols, dtype, **kw):
        t = time.perf_counter()
        try:
            return orig(self, rows, cols, dtype, **kw)
        finally:
            gemv["s"] += time.perf_counter() - t
            gemv["n"] += 1

    orig_concat = pim_mod.Pim._concat

    def timed_concat(self, op):
        t = time.perf_counter()
        try:
            return orig_concat(self, op)
        finally:
            gemv["s"] += time.perf_counter() - t
            gemv["n"] += 1

    pim_mod.Pim.simulate = timed
    pim_mod.Pim._concat = timed_concat
    try:
        clear_memo()
        pim_attention.clear_memo()
        t0 = time.perf_counter()
        trace = generate_trace(w)
        t_trace = time.perf_counter() - t0
        prof = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        res = sim.run(trace)
        if prof:
            prof.disable()
        t_cold = time.perf_counter() - t0
        cold_gemv = dict(gemv)
        t0 = time.perf_counter()
        sim.run(trace)
        t_warm = time.perf_counter() - t0
    finally:
        pim_mod.Pim.simulate = orig
        pim_mod.Pim._concat = orig_concat

    print(f"GPT-2 XL, {args.tokens} tokens on pim_gpt ({trace.num_ops} ops, "
          f"{res.latency_s / res.tokens * 1e3:.3f} ms/token simulated)")
    print(f"trace generation          {t_trace:8.2f} s")
    print(f"cold run (memo empty)     {t_cold:8.2f} s   of which PIM kernel simulation "
          f"{cold_gemv['s']:.2f} s ({cold_gemv['n']} GEMV / multi-head calls)")
    print(f"cold total                {t_trace + t_cold:8.2f} s")
    print(f"warm run (memo full)      {t_warm:8.2f} s")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(20)


if __name__ == "__main__":
    main()
