"""Speed of ``archsim serve``: 10,000 requests of Llama-2-7B on one H100, Poisson arrivals.

Target: under 30 s on one core. Prints wall time and CPU time of the process (the latter is
what one core spends, whatever else the machine runs), iterations and step-model calls.

Run: python benchmarks/serve_speed.py [--requests N] [--rate R]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from archsim.serving import serve

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=15.0, help="requests per second")
    a = ap.parse_args()
    cfg = {"arrivals": "poisson", "rate_per_s": a.rate, "requests": a.requests, "seed": 0,
           "prompt_tokens": {"dist": "lognormal", "median": 512, "sigma": 0.8, "high": 2048},
           "output_tokens": {"dist": "lognormal", "median": 128, "sigma": 0.8, "high": 1024},
           "slo_ttft": "1 s", "slo_tpot": "50 ms"}
    w0, c0 = time.perf_counter(), time.process_time()
    r = serve(ROOT / "hw_configs" / "gpu_h100_sxm.yaml", ROOT / "workloads" / "llama2_7b.yaml",
              cfg)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    d = r.to_dict()
    print(f"requests {d['requests']}, output tokens {d['output_tokens']}, iterations "
          f"{d['iterations']}, mean batch {d['mean_batch']:.1f}, preemptions {d['preemptions']}")
    print(f"simulated {d['makespan_s']:.1f} s: {d['throughput_tokens_per_s']:.0f} tokens/s, "
          f"p99 TTFT {d['ttft_s']['p99'] * 1e3:.1f} ms, p99 TPOT {d['tpot_s']['p99'] * 1e3:.2f} "
          f"ms, SLO attained {d['slo']['attained']:.1%}")
    print(f"wall {wall:.2f} s, CPU {cpu:.2f} s ({d['requests'] / cpu:.0f} requests per CPU "
          "second)")


if __name__ == "__main__":
    main()
