"""Wall time of Llama-2-7B, 512 prompt + 512 generated tokens, on the FlightLLM-like U280 point.

Phases: trace generation and the engine run (op placement, op costs with every HBM stream
priced through the DRAM core, step scheduling, pricing); within the run, the time spent in HBM
simulations. *Cold*: the HBM memos and the engine's op-cost memo are empty; numba is compiled
beforehand by one tiny stream, so compilation is not counted (``--with-compile`` counts it, and
the imports, as a fresh ``archsim run`` would). *Warm*: the same simulator runs the trace again.

Run: ``python benchmarks/fpga_speed.py [--design flightllm|accllm] [--profile]`` (one core is
enough: the simulation is single-threaded).
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
T0 = time.perf_counter()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", choices=("flightllm", "accllm"), default="flightllm")
    ap.add_argument("--profile", action="store_true", help="cProfile the cold run (top 20)")
    ap.add_argument("--with-compile", action="store_true",
                    help="do not compile numba first: time imports + compile + run")
    args = ap.parse_args(argv)

    from archsim.api import prepare
    from archsim.engine.simulator import Simulator
    from archsim.fpga import hbm
    from archsim.hardware import load_hardware
    from archsim.workload import load_workload

    hw = load_hardware(ROOT / "hw_configs" / f"fpga_u280_{args.design}.yaml")
    w = load_workload(str(ROOT / "workloads" / f"llama2_7b_{args.design}.yaml"),
                      ["prompt_tokens=512", "generate_tokens=512"])
    if not args.with_compile:
        hbm.simulate_stream("hbm2_u280", 1, 64, 0, 0, False)
        hbm.simulate_stream.cache_clear()
        hbm._profile.cache_clear()

    spent = {"s": 0.0, "n": 0}
    orig = hbm.simulate_stream

    def timed(*a, **k):
        t = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            spent["s"] += time.perf_counter() - t
            spent["n"] += 1
    hbm.simulate_stream = timed

    t0 = time.perf_counter()
    prof = cProfile.Profile() if args.profile else None
    if prof:
        prof.enable()
    trace, sim = prepare(hw, w, Simulator(hw))
    t1 = time.perf_counter()
    res = sim.run(trace)
    t2 = time.perf_counter()
    if prof:
        prof.disable()
    sim.run(trace)
    t3 = time.perf_counter()
    hbm.simulate_stream = orig

    print(f"design                {hw.name}")
    print(f"workload              Llama-2-7B, batch 1, 512 prompt + 512 generated tokens")
    if args.with_compile:
        print(f"imports + compile + cold run  {t2 - T0:.2f} s")
    print(f"trace + fit check     {t1 - t0:.2f} s")
    print(f"engine run (cold)     {t2 - t1:.2f} s  (HBM simulations: {spent['n']} streams, "
          f"{spent['s']:.2f} s)")
    print(f"total cold            {t2 - t0:.2f} s")
    print(f"engine run (warm)     {t3 - t2:.2f} s")
    print(f"result                {res.tokens_per_s:.1f} tokens/s, "
          f"TPOT {res.tpot_s['mean'] * 1e3:.2f} ms, {res.average_power_w:.1f} W")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(20)


if __name__ == "__main__":
    main()
