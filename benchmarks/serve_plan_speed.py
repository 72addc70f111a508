"""Speed of ``archsim serve`` on multi-device plans: Llama-2-7B on Lamina's H100 + H20
attention-offload point (default) or a tensor-parallel one, Poisson arrivals, lognormal lengths
(median 512 / 128, as ``serve_speed.py``).

Each distinct iteration composition runs through the engine with the plan applied, on models of
1, 2 and 3 layers, extrapolated to the full model (``archsim/serving/step_model.py``). Prints
the serving figures, wall and CPU time, iterations and how many were extrapolated.

Run: python benchmarks/serve_plan_speed.py [--hw lamina_h100_h20] [--requests N] [--rate R]
"""
from __future__ import annotations

import argparse
import time

from archsim.serving import serve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hw", default="lamina_h100_h20")
    ap.add_argument("--workload", default="llama2_7b")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=10.0, help="requests per second")
    a = ap.parse_args()
    cfg = {"arrivals": "poisson", "rate_per_s": a.rate, "requests": a.requests, "seed": 0,
           "prompt_tokens": {"dist": "lognormal", "median": 512, "sigma": 0.8, "high": 2048},
           "output_tokens": {"dist": "lognormal", "median": 128, "sigma": 0.8, "high": 1024},
           "slo_ttft": "1 s", "slo_tpot": "50 ms"}
    w0, c0 = time.perf_counter(), time.process_time()
    r = serve(a.hw, a.workload, cfg, force=True)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    d = r.to_dict()
    print(f"{a.hw}, {a.workload}: requests {d['requests']}, output tokens {d['output_tokens']}, "
          f"iterations {d['iterations']}, mean batch {d['mean_batch']:.1f}, preemptions "
          f"{d['preemptions']}")
    print(f"simulated {d['makespan_s']:.1f} s: {d['throughput_tokens_per_s']:.0f} tokens/s, "
          f"p50 TTFT {d['ttft_s']['p50'] * 1e3:.1f} ms, p50 TPOT {d['tpot_s']['p50'] * 1e3:.2f} "
          f"ms, p99 TPOT {d['tpot_s']['p99'] * 1e3:.2f} ms, SLO attained "
          f"{d['slo']['attained']:.1%}")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s; step-model calls {r.step_model_calls}")


if __name__ == "__main__":
    main()
