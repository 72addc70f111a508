"""Measure the memory constants of archsim.guard with tracemalloc, and compare the estimate.

    python benchmarks/guard_estimates.py

Prints, per model, the trace memory per decode step (measured and estimated) and the memory a
recorded timeline and its Chrome-trace export take per op.
"""
import json
import tracemalloc

from archsim import guard
from archsim.api import run
from archsim.engine.timeline import chrome_trace
from archsim.trace.generate import generate_trace
from archsim.workload import load_workload

HW = "hw_configs/gpu_a100_80gb.yaml"


def main():
    for model, G in (("gpt2_small", 1000), ("llama2_7b", 1000)):
        spec = {"model": model, "prompt_tokens": 8, "generate_tokens": G}
        w = load_workload(spec)
        tracemalloc.start()
        t = generate_trace(w)
        trace_bytes, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        est = guard.estimate_workload(w)
        print(f"{model}: trace {trace_bytes / (G - 1) / 1e3:.1f} kB per decode step measured, "
              f"{est.memory_bytes / (G - 1) / 1e3:.1f} kB estimated; {t.num_ops} ops")
        del t
        short = dict(spec, generate_tokens=100)
        tracemalloc.start()
        r = run(HW, short, timeline=True)
        doc = json.dumps(chrome_trace(r), separators=(",", ":"))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        ops = r.trace.num_ops
        print(f"{model}: timeline run + export peak {peak / ops:.0f} B per op "
              f"({ops} ops, {len(doc) / ops:.0f} B of JSON per op)")


if __name__ == "__main__":
    main()
